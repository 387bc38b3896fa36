//! Compiles the fixture libraries into `OUT_DIR` and passes their paths to the crate as
//! `FEMSCALE_FIXTURE_<NAME>`: `marker` (the example C plugin plus a constructor that writes a
//! marker file, current header), `v1` (a library built against the frozen version 1 header in
//! `include/v1`), `mutating` (the example CG writing into the matrix and right-hand side it
//! is lent) and `foreign_thread` (current header, needs pthreads).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let current = manifest.join("../../crates/plugin-api/include");
    let v1 = manifest.join("include/v1");
    let cg = manifest.join("../c-cg/src/cg.c");
    let suffix = match std::env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos") => "dylib",
        Ok("windows") => "dll",
        _ => "so",
    };
    println!("cargo:rerun-if-changed=../../crates/plugin-api/include/femscale_plugin.h");
    println!("cargo:rerun-if-changed=../c-cg/src/cg.c");
    println!("cargo:rerun-if-changed=include/v1/femscale_plugin.h");
    let libraries: [(&str, &PathBuf, Vec<PathBuf>, &[&str]); 4] = [
        (
            "marker",
            &current,
            vec![cg, manifest.join("src/marker.c")],
            &["-DFEMSCALE_CG_NAME=\"c-marker-cg\"", "-lm", "-ldl"],
        ),
        ("v1", &v1, vec![manifest.join("src/v1_cg.c")], &["-lm"]),
        (
            "mutating",
            &current,
            vec![manifest.join("src/mutating.c")],
            &["-lm"],
        ),
        (
            "foreign_thread",
            &current,
            vec![manifest.join("src/foreign_thread.c")],
            &["-pthread"],
        ),
    ];
    for (name, include, sources, extra) in libraries {
        let library = out.join(format!("libfemscale_fixture_{name}.{suffix}"));
        for source in &sources {
            println!("cargo:rerun-if-changed={}", source.display());
        }
        let mut cmd = cc::Build::new().opt_level(1).get_compiler().to_command();
        cmd.args(["-shared", "-fPIC", "-std=c99", "-Wall", "-Werror", "-I"])
            .arg(include)
            .args(&sources)
            .arg("-o")
            .arg(&library)
            .args(extra);
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("cannot run the C compiler {cmd:?}: {e}"));
        assert!(status.success(), "compiling {name} failed: {cmd:?}");
        println!(
            "cargo:rustc-env=FEMSCALE_FIXTURE_{}={}",
            name.to_uppercase(),
            library.display()
        );
    }
}
