//! `mpirun -n P femscale run sweep.toml` under a real `mpirun` (Open MPI): the runs are
//! handed out over the ranks and rank 0 alone writes the output directory, with the records
//! and files of a run in one process; a rank that dies is reported and its run recorded
//! failed on the next invocation; ranks share operators through a real Redis server.
//!
//! Needs the `mpi` feature (`cargo test -p femscale-cli --features mpi --test mpi_sweep`) and
//! `mpirun` on `PATH`. Without either each test prints `SKIPPED: ...` and passes, unless
//! `FEMSCALE_REQUIRE_MPI=1` (as in CI) makes that a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use femscale::experiment::{RunRecord, read_results};
use mpi_common::{mpi_available, text};

mod mpi_common;

/// `femscale run <args>` on `ranks` ranks under `mpirun` (0: without `mpirun`).
fn run(dir: &Path, ranks: usize, args: &[&str]) -> Output {
    let args: Vec<&str> = std::iter::once("run").chain(args.iter().copied()).collect();
    mpi_common::femscale(dir, ranks, &args)
}

/// A sweep of small MMS problems over `nx`, one thread per run (so that results do not depend
/// on how many ranks share the cores), with `extra` sections.
fn write_sweep(dir: &Path, sweep: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"
[problem]
mesh = {{ kind = "rectangle", nx = 8, ny = 8, cell = "triangle" }}
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"
[solver]
kind = "direct"
[scaling]
threads = 1
{extra}
{sweep}
[output]
dir = "out"
formats = ["jsonl", "csv", "vtu"]
"#
    );
    let path = dir.join("sweep.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn records(out: &Path) -> BTreeMap<String, RunRecord> {
    read_results(&out.join("results.jsonl"))
        .unwrap()
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect()
}

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.insert(path.clone(), std::fs::read(&path).unwrap());
    }
    out.into_iter()
        .map(|(p, b)| (p.strip_prefix(dir).unwrap().to_path_buf(), b))
        .collect()
}

#[test]
fn a_sweep_on_2_and_4_ranks_records_what_one_process_records() {
    if !mpi_available("a_sweep_on_2_and_4_ranks_records_what_one_process_records") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_sweep(
        dir.path(),
        "[sweep]\n\"problem.mesh.nx\" = [8, 12, 16, 20, 24, 28, 32]",
        "",
    );
    let one = run(dir.path(), 0, &["sweep.toml", "-o", "one", "-q"]);
    assert!(one.status.success(), "{}", text(&one));
    let serial = records(&dir.path().join("one"));
    assert_eq!(serial.len(), 7);
    for ranks in [2, 4] {
        let out = format!("ranks{ranks}");
        let o = run(dir.path(), ranks, &["sweep.toml", "-o", &out]);
        assert!(o.status.success(), "{}", text(&o));
        let stdout = String::from_utf8_lossy(&o.stdout);
        // Only rank 0 prints the report, with one line per rank.
        assert_eq!(
            stdout.matches("experiment `sweep`: 7 runs").count(),
            1,
            "{stdout}"
        );
        assert!(stdout.contains(&format!("ranks: {ranks}")), "{stdout}");
        for rank in 0..ranks {
            assert!(stdout.contains(&format!("rank {rank:>3} ")), "{stdout}");
        }
        let out = dir.path().join(&out);
        let recorded = records(&out);
        assert_eq!(recorded.len(), 7, "one record per run: {}", text(&o));
        for (id, r) in &recorded {
            let s = &serial[id];
            assert!(r.ok, "{r:?}");
            let (a, b) = (r.metrics.as_ref().unwrap(), s.metrics.as_ref().unwrap());
            assert_eq!(
                (a.dofs, a.l2_error, a.h1_error),
                (b.dofs, b.l2_error, b.h1_error)
            );
        }
        assert_eq!(files(&out.join("vtu")), files(&dir.path().join("one/vtu")));
        assert!(out.join("summary.csv").is_file());
        assert!(!out.join("in_flight.json").exists());
        // Rerunning on another number of ranks resumes: nothing is left to run.
        let again = run(
            dir.path(),
            3,
            &["sweep.toml", "-o", out.to_str().unwrap(), "-q"],
        );
        assert!(again.status.success(), "{}", text(&again));
        assert!(
            String::from_utf8_lossy(&again.stdout).contains("(0 ran now, 7 already done)"),
            "{}",
            text(&again)
        );
    }
}

#[test]
fn a_rank_that_dies_is_reported_and_its_run_recorded_failed() {
    if !mpi_available("a_rank_that_dies_is_reported_and_its_run_recorded_failed") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plugin = femscale_plugin_fixture_c_abort::LIBRARY_PATH;
    // The third point's solver aborts its process (in-process plugins share the rank's fate).
    write_sweep(
        dir.path(),
        "[sweep.zip]\n\"problem.mesh.nx\" = [8, 10, 12, 14, 16]\n\
         \"solver.kind\" = [\"direct\", \"direct\", \"plugin:c-abort\", \"direct\", \"direct\"]",
        &format!("[plugins]\npaths = ['{plugin}']"),
    );
    let crashed = run(dir.path(), 2, &["sweep.toml", "-q"]);
    assert!(!crashed.status.success(), "{}", text(&crashed));
    let out = dir.path().join("out");
    assert!(out.join("in_flight.json").is_file(), "{}", text(&crashed));

    // The next invocation (here without mpirun) reports the run that never came back as failed,
    // naming the rank, and runs the rest; the aborting point is not run again by default.
    let resumed = run(dir.path(), 0, &["sweep.toml", "-q"]);
    assert_eq!(resumed.status.code(), Some(1), "{}", text(&resumed));
    let recorded = records(&out);
    assert_eq!(
        recorded.len(),
        5,
        "every run is recorded: {}",
        text(&resumed)
    );
    let aborting: Vec<&RunRecord> = recorded
        .values()
        .filter(|r| r.point.get("solver.kind").and_then(|v| v.as_str()) == Some("plugin:c-abort"))
        .collect();
    assert_eq!(aborting.len(), 1);
    let error = aborting[0].error.as_deref().unwrap_or("");
    assert!(
        !aborting[0].ok && error.contains("interrupted") && error.contains("on rank"),
        "{error}"
    );
    // Every other run either succeeded or was in flight beside it when the job went down.
    for r in recorded.values().filter(|r| !std::ptr::eq(*r, aborting[0])) {
        assert!(
            r.ok || r.error.as_deref().unwrap_or("").contains("interrupted"),
            "{r:?}"
        );
    }
    assert!(!out.join("in_flight.json").exists());
}

#[test]
fn ranks_share_operators_through_redis() {
    if !mpi_available("ranks_share_operators_through_redis") {
        return;
    }
    let Some(server) = femscale::cache::testing::RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Four sources on one operator: the second sweep finds every operator in Redis, whichever
    // rank runs the point.
    let path = write_sweep(
        dir.path(),
        "[sweep]\n\"problem.source\" = [\"1\", \"x\", \"y\", \"x*y\"]",
        &format!(
            "[cache]\nlevels = [\"redis\"]\nredis_url = {:?}\n",
            server.url()
        ),
    );
    let text_with_caching = std::fs::read_to_string(&path)
        .unwrap()
        .replace("threads = 1", "threads = 1\nenable_caching = true");
    std::fs::write(&path, text_with_caching).unwrap();
    let first = run(dir.path(), 2, &["sweep.toml", "-o", "first", "-q"]);
    assert!(first.status.success(), "{}", text(&first));
    let second = run(dir.path(), 2, &["sweep.toml", "-o", "second", "-q"]);
    assert!(second.status.success(), "{}", text(&second));
    let recorded = records(&dir.path().join("second"));
    assert_eq!(recorded.len(), 4);
    for r in recorded.values() {
        let reused = &r.metrics.as_ref().unwrap().cache_reused;
        assert!(
            reused.iter().any(|c| c.level == "redis"),
            "every run of the second sweep reuses from Redis: {reused:?}"
        );
    }
}

#[cfg(not(feature = "mpi"))]
#[test]
fn a_launch_on_several_ranks_without_the_mpi_feature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_sweep(dir.path(), "[sweep]\n\"problem.mesh.nx\" = [8]", "");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_femscale"))
        .current_dir(dir.path())
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .args(["run", "sweep.toml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`mpi` feature") && err.contains("OMPI_COMM_WORLD_SIZE"),
        "{err}"
    );
    assert!(!dir.path().join("out/results.jsonl").exists());
}
