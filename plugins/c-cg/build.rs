//! Compiles `src/cg.c` into the shared library `libfemscale_c_cg.so` (`.dylib` on macOS) with
//! the C compiler `cc` finds (gcc or clang; `CC` overrides it), in `OUT_DIR`, and copies it next
//! to the other build outputs (`target/<profile>/`) so that `[plugins] dirs = ["target/debug"]`
//! finds it. The library's path is compiled into this crate as `LIBRARY_PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let include = manifest.join("../../crates/plugin-api/include");
    let source = manifest.join("src/cg.c");
    println!("cargo:rerun-if-changed=src/cg.c");
    println!("cargo:rerun-if-changed=../../crates/plugin-api/include/femscale_plugin.h");
    let suffix = match std::env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos") => "dylib",
        Ok("windows") => "dll",
        _ => "so",
    };
    let file = format!("libfemscale_c_cg.{suffix}");
    let library = out.join(&file);
    let compiler = cc::Build::new().opt_level(2).get_compiler();
    let mut cmd: Command = compiler.to_command();
    cmd.args([
        "-shared", "-fPIC", "-std=c99", "-Wall", "-Wextra", "-Werror",
    ])
    .arg("-I")
    .arg(&include)
    .arg(&source)
    .arg("-o")
    .arg(&library)
    .arg("-lm");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cmd:?}: {e}"));
    assert!(
        status.success(),
        "compiling {} failed: {cmd:?}",
        source.display()
    );
    println!(
        "cargo:rustc-env=FEMSCALE_C_CG_LIBRARY={}",
        library.display()
    );
    if let Some(profile_dir) = profile_dir(&out) {
        // Best effort: a copy where `cargo build` puts the Rust plugins.
        let _ = std::fs::copy(&library, profile_dir.join(&file));
    }
}

/// `target/<profile>` from `target/<profile>/build/<package>-<hash>/out`.
fn profile_dir(out: &Path) -> Option<&Path> {
    let build = out.parent()?.parent()?;
    (build.file_name()? == "build").then_some(build.parent()?)
}
