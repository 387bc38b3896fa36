//! Compiles the three fixture libraries of `src/*.c` into `OUT_DIR` and passes their paths to
//! the crate as `FEMSCALE_FIXTURE_<NAME>`.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let include = manifest.join("../../crates/plugin-api/include");
    let suffix = match std::env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos") => "dylib",
        Ok("windows") => "dll",
        _ => "so",
    };
    println!("cargo:rerun-if-changed=../../crates/plugin-api/include/femscale_plugin.h");
    for name in ["not_a_plugin", "missing_symbols", "future_abi"] {
        let source = manifest.join(format!("src/{name}.c"));
        let library = out.join(format!("libfemscale_fixture_{name}.{suffix}"));
        println!("cargo:rerun-if-changed=src/{name}.c");
        let mut cmd = cc::Build::new().opt_level(1).get_compiler().to_command();
        cmd.args(["-shared", "-fPIC", "-std=c99", "-Wall", "-Werror", "-I"])
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
            "cargo:rustc-env=FEMSCALE_FIXTURE_{}={}",
            name.to_uppercase(),
            library.display()
        );
    }
}
