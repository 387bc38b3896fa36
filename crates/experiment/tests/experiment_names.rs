//! `experiment.name` is a plain file name: the default output directory `results/<name>` can
//! never leave `results`; and `[experiment]` counts are bounded.

use std::path::Path;

use femscale_experiment::Experiment;

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
        "/abs",
        "../..",
        "..",
        ".",
        "",
        "a/b",
        "a\\\\b",
        "a\\u0000b",
        "a\\nb",
        " x",
        "x ",
    ] {
        let e = load(dir.path(), &format!("name = \"{name}\"\n"), &[]).unwrap_err();
        assert!(
            e.contains("experiment.name")
                && e.contains("e.toml:5")
                && e.contains("plain file name"),
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
    let path = dir.path().join("...toml");
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
    assert!(
        e.contains("experiment.repetitions") && e.contains("e.toml:5"),
        "{e}"
    );
    let e = load(dir.path(), "", &["experiment.parallel_runs=5000"]).unwrap_err();
    assert!(
        e.contains("experiment.parallel_runs") && e.contains("--set"),
        "{e}"
    );
    let e = load(dir.path(), "repetitions = 0\n", &[]).unwrap_err();
    assert!(e.contains("experiment.repetitions"), "{e}");
    load(
        dir.path(),
        "repetitions = 1000\nparallel_runs = 1024\n",
        &[],
    )
    .unwrap();
}

#[test]
fn failed_points_name_the_sweep_value_or_the_parent_override() {
    use femscale_experiment::{RESULTS_FILE, RunOptions, read_results};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.toml");
    std::fs::write(
        &path,
        "[problem]\nmesh = { kind = \"interval\", nx = 4 }\nboundary = [{ where = \"left\" }]\n\
         [solver]\nkind = \"direct\"\n[experiment]\nname = \"x\"\n\
         [sweep]\n\"solver.timeout_seconds\" = [1, 1e300]\n",
    )
    .unwrap();
    // A swept value out of bounds fails its point only, naming the sweep value.
    let exp = Experiment::load(&path, &[]).unwrap();
    assert!(exp.points()[0].config().is_some());
    let e = exp.points()[1].config_error().unwrap();
    assert!(
        e.contains("sweep value solver.timeout_seconds") && e.contains("1e9"),
        "{e}"
    );
    // A bad entry in a `--set` of the parent key `problem.boundary` names that `--set`.
    let exp = Experiment::load(
        &path,
        &["problem.boundary=[{ where = \"north\" }]".to_string()],
    )
    .unwrap();
    let out = dir.path().join("out");
    let options = RunOptions {
        output_dir: Some(out.clone()),
        ..RunOptions::default()
    };
    exp.run(&options).unwrap();
    let records = read_results(&out.join(RESULTS_FILE)).unwrap();
    let first = records
        .iter()
        .find(|r| r.point_id == exp.points()[0].id())
        .unwrap();
    let e = first.error.as_deref().unwrap();
    assert!(
        e.contains("problem.boundary[0].where") && e.contains("from --set problem.boundary="),
        "{e}"
    );
}
