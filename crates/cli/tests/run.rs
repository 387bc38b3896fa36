//! `femscale run` end to end: outputs, resume, exit statuses and error messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BASE: &str = r#"
[problem]
mesh = { kind = "rectangle", nx = 4, ny = 4, cell = "triangle" }
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"

[solver]
kind = "direct"
"#;

/// Runs `femscale` in `dir`.
fn femscale(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_femscale"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn help_describes_the_command_and_the_file_format() {
    let dir = tempfile::tempdir().unwrap();
    let o = femscale(dir.path(), &["run", "--help"]);
    assert!(o.status.success());
    let help = text(&o.stdout);
    for needle in [
        "FILE",
        "--set",
        "KEY=VALUE",
        "--output",
        "--parallel-runs",
        "--quiet",
        "--retry-failed",
        "[sweep.zip]",
        "results.jsonl",
        "summary.csv",
        "Exit status",
    ] {
        assert!(help.contains(needle), "run --help lacks {needle}: {help}");
    }
    let top = text(&femscale(dir.path(), &["--help"]).stdout);
    assert!(top.contains("run"), "{top}");
}

#[test]
fn a_tiny_experiment_runs_end_to_end_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "tiny.toml",
        &format!(
            "{BASE}\n[experiment]\nrepetitions = 2\n[sweep]\n\"solver.kind\" = [\"direct\", \"cg\"]\n[sweep.zip]\n\"problem.mesh.nx\" = [4, 8]\n\"problem.mesh.ny\" = [4, 8]\n"
        ),
    );
    let o = femscale(dir.path(), &["run", file.to_str().unwrap()]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "stdout: {out}\nstderr: {err}");
    assert!(out.contains("experiment `tiny`: 8 runs"), "{out}");
    assert!(
        err.contains("[8/8]"),
        "one log line per run on stderr: {err}"
    );
    // One rate line per family (each solver over the two mesh sizes).
    assert!(
        out.contains(
            "convergence rates per family (points differing only in nx, ny, nz, refinements, nodes):"
        ),
        "{out}"
    );
    for solver in ["direct", "cg"] {
        let line = out
            .lines()
            .find(|l| {
                l.trim_start()
                    .starts_with(&format!("solver.kind={solver}: L2 "))
            })
            .unwrap_or_else(|| panic!("no rate line for {solver}: {out}"));
        assert!(line.ends_with("over 2 point(s), 2 mesh size(s)"), "{line}");
    }

    let results = dir.path().join("results/tiny/results.jsonl");
    let summary = dir.path().join("results/tiny/summary.csv");
    let records = lines(&results);
    assert_eq!(records.len(), 8);
    assert!(
        records
            .iter()
            .all(|r| r["ok"] == true && r["metrics"]["dofs"].as_u64().is_some())
    );
    let csv = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(
        csv.lines().count(),
        5,
        "a header and one row per point: {csv}"
    );
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .starts_with("point_id,solver.kind,problem.mesh.nx,problem.mesh.ny,runs_ok")
    );

    // Rerunning resumes: nothing left to run, nothing appended.
    let o = femscale(dir.path(), &["run", file.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("0 ran now, 8 already done"),
        "{}",
        text(&o.stdout)
    );
    assert!(o.stderr.is_empty(), "--quiet: {}", text(&o.stderr));
    assert_eq!(lines(&results).len(), 8);

    // --set reaches the experiment sections; --output moves the results.
    let o = femscale(
        dir.path(),
        &[
            "run",
            file.to_str().unwrap(),
            "--set",
            "experiment.repetitions=1",
            "--set",
            "solver.tolerance=1e-12",
            "--output",
            "elsewhere",
            "--parallel-runs",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(lines(&dir.path().join("elsewhere/results.jsonl")).len(), 4);
}

#[test]
fn a_toml_syntax_error_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "broken.toml",
        "[problem]\nmesh = { nx = 4 }\n[sweep\n\"solver.kind\" = [\"cg\"]\n",
    );
    let o = femscale(dir.path(), &["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("broken.toml") && err.contains("line 3"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!dir.path().join("results").exists(), "nothing written");
}

#[test]
fn an_unknown_sweep_key_is_a_bad_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "typo.toml",
        &format!("{BASE}\n[sweep]\n\"problem.mesh.nz\" = [4, 8]\n"),
    );
    let o = femscale(dir.path(), &["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("sweep.\"problem.mesh.nz\""), "{err}");
    assert!(!dir.path().join("results").exists(), "nothing written");
}

#[test]
fn a_failed_point_exits_1_with_every_result_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "fails.toml",
        &format!("{BASE}\n[sweep]\n\"problem.mesh.nx\" = [4, 0]\n[output]\ndir = \"out\"\n"),
    );
    let o = femscale(dir.path(), &["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(out.contains("1 ok, 1 failed"), "{out}");
    assert!(err.contains("error: 1 of 2 runs failed"), "{err}");
    assert!(err.contains("problem.mesh.nx"), "{err}");
    let records = lines(&dir.path().join("out/results.jsonl"));
    assert_eq!(records.len(), 2);
    let bad = records
        .iter()
        .find(|r| r["point"]["problem.mesh.nx"] == 0)
        .unwrap();
    assert_eq!(bad["ok"], false);
    assert!(bad["metrics"].is_null());
    assert!(bad["error"].as_str().unwrap().contains("problem.mesh.nx"));
    assert!(dir.path().join("out/summary.csv").is_file());
}

#[test]
fn an_unwritable_output_directory_fails_before_running() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "plain-file", "x");
    let file = write(
        dir.path(),
        "exp.toml",
        &format!("{BASE}\n[output]\ndir = \"plain-file/results\"\n"),
    );
    let o = femscale(dir.path(), &["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("plain-file/results"), "{err}");
    assert!(o.stdout.is_empty(), "nothing ran: {}", text(&o.stdout));
}

#[test]
fn an_adaptive_point_says_what_stopped_it() {
    // Review Q: every point printed "ok" and "L2 error -", so one that ran out of max_dofs
    // before its target looked like one that reached it.
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "a.toml",
        r#"
[problem]
mesh = { kind = "rectangle", nx = 4, ny = 4, cell = "triangle" }
source = 1.0
boundary = [{ where = "all", kind = "dirichlet", value = 0.0 }]
[solver]
kind = "direct"
[adaptivity]
enabled = true
target_error = 1e-6
max_dofs = 200
[sweep]
"adaptivity.theta" = [0.5]
"#,
    );
    let out = femscale(dir.path(), &["run", path.to_str().unwrap(), "-o", "out"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("adaptive: ") && stdout.contains("stopped by max_dofs (estimate "),
        "{stdout}"
    );
    let summary = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    assert!(
        summary
            .lines()
            .next()
            .unwrap()
            .contains(",adaptive_stopped_by,")
    );
    assert!(summary.contains(",max_dofs,"), "{summary}");
}
