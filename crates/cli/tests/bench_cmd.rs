//! `femscale bench` end to end on tiny problems: table, outputs, errors.

use std::process::Command;

#[test]
fn bench_prints_a_table_and_writes_its_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("bench");
    let o = Command::new(env!("CARGO_BIN_EXE_femscale"))
        .args(["bench", "--sizes", "4,8", "--levels", "minimal,auto"])
        .args(["--repetitions", "2", "--min-seconds", "0", "--output"])
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("best configuration per size"), "{stdout}");
    assert!(stdout.contains("auto"), "{stdout}");
    for file in ["bench.json", "bench.csv", "bench_time_vs_dofs.svg"] {
        assert!(out_dir.join(file).is_file(), "{file} missing");
    }
    let csv = std::fs::read_to_string(out_dir.join("bench.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 2, "{csv}");

    let bad = Command::new(env!("CARGO_BIN_EXE_femscale"))
        .args(["bench", "--levels", "fastest", "--output"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("fastest") && err.contains("minimal"), "{err}");
}

/// A solver named by the configuration is reported on `solver.kind`, not on `--solvers`; and
/// under a launcher of several ranks the benchmark refuses to run once per rank.
#[test]
fn bench_names_where_a_solver_came_from_and_refuses_several_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_femscale"))
        .args(["bench", "--sizes", "4", "--set", "solver.kind=\"no-such\""])
        .arg("--output")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("solver.kind") && !err.contains("--solvers"),
        "{err}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_femscale"))
        .args(["bench", "--sizes", "4", "--output"])
        .arg(dir.path())
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("measures in one process"), "{err}");
    assert!(!dir.path().join("bench.json").exists());
}
