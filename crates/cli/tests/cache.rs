//! `femscale cache` against a disk level filled by `femscale solve` in separate processes.

use std::process::{Command, Output};

fn femscale(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_femscale"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn solves_fill_the_disk_level_and_cache_commands_inspect_and_clear_it() {
    let dir = tempfile::tempdir().unwrap();
    let disk = format!("cache.disk_dir={:?}", dir.path().display().to_string());
    let base = [
        "--set",
        "cache.levels=[\"disk\"]",
        "--set",
        &disk,
        "--set",
        "scaling.enable_caching=true",
        "--set",
        "problem.mesh.nx=8",
    ];
    let solve = |source: &str| {
        let mut args = vec!["solve", "--json", "--set"];
        let s = format!("problem.source={source:?}");
        args.push(&s);
        args.extend(base);
        let v: serde_json::Value = serde_json::from_str(&stdout(&femscale(&args))).unwrap();
        v["cache_reused"].clone()
    };
    assert_eq!(solve("1"), serde_json::json!([]));
    // A second process finds the solution, a third the operator.
    assert_eq!(solve("1"), serde_json::json!(["solution@disk"]));
    assert_eq!(solve("x"), serde_json::json!(["system@disk"]));

    let stats = stdout(&femscale(&[&["cache", "stats"][..], &base].concat()));
    assert!(stats.contains("disk: 3 entries"), "{stats}");
    assert!(
        stats.contains("solution") && stats.contains("system"),
        "{stats}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&femscale(
        &[&["cache", "stats", "--json"][..], &base].concat(),
    )))
    .unwrap();
    assert_eq!(json[0]["level"], "disk");
    assert_eq!(json[0]["kinds"]["solution"][0], 2);

    let out = stdout(&femscale(
        &[&["cache", "invalidate", "solution_*"][..], &base].concat(),
    ));
    assert!(out.contains("removed 2 entries"), "{out}");
    assert_eq!(solve("1"), serde_json::json!(["system@disk"]));
    let out = stdout(&femscale(&[&["cache", "clear"][..], &base].concat()));
    assert!(out.contains("removed 2 entries"), "{out}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // An unknown level is a typed error naming the key.
    let o = femscale(&["cache", "stats", "--set", "cache.levels=[\"s3\"]"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cache.levels") && err.contains("s3"), "{err}");
}
