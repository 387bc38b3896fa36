//! Test fixture for process isolation (`plugins.isolation = "process"`): a C plugin whose solve calls abort() (SIGABRT).
//! It registers as `plugin:c-abort`; its set-up succeeds, its solve misbehaves. In-process it
//! takes the host down with it, which is the point of the fixture.

/// Absolute path of the compiled plugin library.
pub const LIBRARY_PATH: &str = env!("FEMSCALE_FIXTURE_C_ABORT_LIBRARY");

#[cfg(test)]
mod tests {
    #[test]
    fn the_library_was_built() {
        let path = std::path::Path::new(super::LIBRARY_PATH);
        assert!(path.is_file(), "{}", path.display());
    }
}
