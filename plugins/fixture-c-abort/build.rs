//! Compiles `src/abort.c` into `libfemscale_fixture_c_abort.so` (`.dylib` on macOS) in
//! `OUT_DIR`, exactly as plugins/c-cg does; its path is compiled into this crate as
//! `LIBRARY_PATH`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let include = manifest.join("../../crates/plugin-api/include");
    let source = manifest.join("src/abort.c");
    println!("cargo:rerun-if-changed=src/abort.c");
    println!("cargo:rerun-if-changed=../../crates/plugin-api/include/femscale_plugin.h");
    let suffix = match std::env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos") => "dylib",
        Ok("windows") => "dll",
        _ => "so",
    };
    let library = out.join(format!("libfemscale_fixture_c_abort.{suffix}"));
    let compiler = cc::Build::new().opt_level(1).get_compiler();
    let mut cmd: Command = compiler.to_command();
    cmd.args([
        "-shared", "-fPIC", "-std=c99", "-Wall", "-Wextra", "-Werror",
    ])
    .arg("-I")
    .arg(&include)
    .arg(&source)
    .arg("-o")
    .arg(&library);
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cmd:?}: {e}"));
    assert!(
        status.success(),
        "compiling {} failed: {cmd:?}",
        source.display()
    );
    println!(
        "cargo:rustc-env=FEMSCALE_FIXTURE_C_ABORT_LIBRARY={}",
        library.display()
    );
}
