//! `experiment.name` is a plain file name: the default output directory `results/<name>` can
//! never leave `results`; and `[experiment]` counts are bounded.

use std::path::Path;

use femscale_runtime::experiment::Experiment;

const BASE: &str = "[problem]\nmesh = { kind = \"interval\", nx = 4 }\n\n[experiment]\n";

fn load(dir: &Path, experiment: &str, overrides: &[&str]) -> Result<Experiment, String> {
    let path = dir.join("e.toml");
    std::fs::write(&path, format!("{BASE}{experiment}")).unwrap();
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Experiment::load(&path, &overrides).map_err(|e| e.to_string())
}

#[test]
fn names_that_are_not_plain_file_names_are_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "/abs", "../..", "..", ".", "", "a/b", "a\\\\b", "a\\u0000b", "a\\nb", " x", "x ",
    ] {
        let e = load(dir.path(), &format!("name = \"{name}\"\n"), &[]).unwrap_err();
        assert!(
            e.contains("experiment.name") && e.contains("e.toml:5") && e.contains("plain file name"),
            "{name:?}: {e}"
        );
    }
    let long = "x".repeat(256);
    let e = load(dir.path(), &format!("name = \"{long}\"\n"), &[]).unwrap_err();
    assert!(e.contains("255 bytes"), "{e}");
    // Given by --set: the error says so.
    let e = load(dir.path(), "name = \"ok\"\n", &["experiment.name=../../x"]).unwrap_err();
    assert!(e.contains("--set experiment.name"), "{e}");
    // Plain names stay inside `results`.
    for name in ["convergence", "run 1", "a.b", "ünïcode", "..x", "x.."] {
        let exp = load(dir.path(), &format!("name = \"{name}\"\n"), &[]).unwrap();
        assert_eq!(exp.output().dir, Path::new("results").join(name));
    }
}

#[test]
fn a_default_name_from_an_odd_file_name_is_checked_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("....toml");
    std::fs::write(&path, BASE).unwrap();
    let e = Experiment::load(&path, &[]).unwrap_err().to_string();
    assert!(
        e.contains("experiment.name") && e.contains("set `experiment.name`"),
        "{e}"
    );
}

#[test]
fn repetitions_and_parallel_runs_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(dir.path(), "repetitions = 100000\n", &[]).unwrap_err();
    assert!(e.contains("experiment.repetitions") && e.contains("e.toml:5"), "{e}");
    let e = load(dir.path(), "", &["experiment.parallel_runs=5000"]).unwrap_err();
    assert!(
        e.contains("experiment.parallel_runs") && e.contains("--set"),
        "{e}"
    );
    let e = load(dir.path(), "repetitions = 0\n", &[]).unwrap_err();
    assert!(e.contains("experiment.repetitions"), "{e}");
    load(dir.path(), "repetitions = 10000\nparallel_runs = 1024\n", &[]).unwrap();
}
