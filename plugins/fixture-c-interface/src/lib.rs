//! Test fixtures for the C plugin interface, compiled by the build script.

/// The example C plugin (`plugins/c-cg`, current interface) registered as `plugin:c-marker-cg`,
/// with a constructor that appends a line to a marker file when the library is opened: the file
/// named by the environment variable [`MARKER_ENV`], else [`marker_of`] the library's real
/// path. A test that finds no marker after a refused load proves the library never ran.
pub const MARKER: &str = env!("FEMSCALE_FIXTURE_MARKER");

/// The environment variable [`MARKER`]'s constructor reads.
pub const MARKER_ENV: &str = "FEMSCALE_FIXTURE_MARKER";

/// Where a copy of [`MARKER`] at `library` writes its marker when [`MARKER_ENV`] is unset:
/// `<library>.marker`.
pub fn marker_of(library: &std::path::Path) -> std::path::PathBuf {
    let mut name = library.as_os_str().to_owned();
    name.push(".marker");
    std::path::PathBuf::from(name)
}

/// A real version 1 C plugin (`plugin:c-jacobi-cg-v1`), built against the frozen version 1
/// header in `include/v1`.
pub const V1: &str = env!("FEMSCALE_FIXTURE_V1");

/// The example C plugin registered as `plugin:c-mutating-cg`, whose solve doubles the matrix
/// values and triples the right-hand side it is lent (casting away `const`) before solving,
/// reports `SIZE_MAX` bytes of memory, and writes into the last solution buffer it was given
/// when the solver is destroyed.
pub const MUTATING: &str = env!("FEMSCALE_FIXTURE_MUTATING");

/// A version 2 C plugin (`plugin:c-foreign-thread`) that calls the monitor from a thread of
/// its own, against the header's threading rule.
pub const FOREIGN_THREAD: &str = env!("FEMSCALE_FIXTURE_FOREIGN_THREAD");

#[cfg(test)]
mod tests {
    #[test]
    fn the_fixtures_were_built() {
        for path in [
            super::MARKER,
            super::V1,
            super::MUTATING,
            super::FOREIGN_THREAD,
        ] {
            assert!(std::path::Path::new(path).is_file(), "{path}");
        }
    }
}
