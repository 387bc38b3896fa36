//! Test fixtures for femscale's C plugin loader, compiled by the build script.

/// A shared library that exports nothing femscale knows.
pub const NOT_A_PLUGIN: &str = env!("FEMSCALE_FIXTURE_NOT_A_PLUGIN");

/// A C plugin that declares interface version 1 but lacks `femscale_solver_solve`.
pub const MISSING_SYMBOLS: &str = env!("FEMSCALE_FIXTURE_MISSING_SYMBOLS");

/// A C plugin built for C interface version 99 (newer than any this femscale speaks).
pub const FUTURE_ABI: &str = env!("FEMSCALE_FIXTURE_FUTURE_ABI");

#[cfg(test)]
mod tests {
    #[test]
    fn the_fixtures_were_built() {
        for path in [
            super::NOT_A_PLUGIN,
            super::MISSING_SYMBOLS,
            super::FUTURE_ABI,
        ] {
            assert!(std::path::Path::new(path).is_file(), "{path}");
        }
    }
}
