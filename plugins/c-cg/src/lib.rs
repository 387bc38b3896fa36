//! A femscale solver plugin written in C: Jacobi-preconditioned conjugate gradients in
//! `src/cg.c`, against the C interface `crates/plugin-api/include/femscale_plugin.h`. It is
//! registered as `plugin:c-jacobi-cg` and takes no options.
//!
//! The build script compiles the C file into a shared library; this crate only tells where it
//! is, for tests and benchmarks. Outside cargo, build it with
//! `cc -O2 -shared -fPIC -I crates/plugin-api/include plugins/c-cg/src/cg.c -o libfemscale_c_cg.so -lm`.

/// Absolute path of the compiled plugin library.
pub const LIBRARY_PATH: &str = env!("FEMSCALE_C_CG_LIBRARY");

#[cfg(test)]
mod tests {
    #[test]
    fn the_library_was_built() {
        let path = std::path::Path::new(super::LIBRARY_PATH);
        assert!(path.is_file(), "{}", path.display());
    }
}
