//! Experiments on the worker pool: automatic runs in flight, results independent of them, the
//! pool's statistics in the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use femscale_experiment::{Experiment, ExperimentReport, RunOptions};

/// A sweep of `points` small MMS points (direct solver) writing to `dir/<out>`.
fn experiment(dir: &Path, points: usize, extra: &str) -> PathBuf {
    let nx: Vec<String> = (0..points).map(|i| (4 + 2 * i).to_string()).collect();
    let text = format!(
        r#"
[problem]
mesh = {{ kind = "rectangle", nx = 8, ny = 8, cell = "triangle" }}
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"

[solver]
kind = "direct"
{extra}
[sweep]
"problem.mesh.nx" = [{}]
"#,
        nx.join(", ")
    );
    let path = dir.join("exp.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(path: &Path, overrides: &[&str], out: &Path, parallel_runs: usize) -> ExperimentReport {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let exp = Experiment::load(path, &overrides).unwrap_or_else(|e| panic!("load: {e}"));
    exp.run(&RunOptions {
        output_dir: Some(out.to_path_buf()),
        parallel_runs: Some(parallel_runs),
        progress: Some(std::sync::Arc::new(|_: &_| {})),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("run: {e}"))
}

/// L2 error of every run, by run id.
fn l2_errors(report: &ExperimentReport) -> BTreeMap<String, f64> {
    report
        .records
        .iter()
        .map(|r| {
            let m = r.metrics.as_ref().expect("the run succeeded");
            (
                r.id.clone(),
                m.l2_error.expect("an exact solution is given"),
            )
        })
        .collect()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The pool ran exactly the runs of the report, never above the planned workers or the cores.
fn assert_consistent(r: &ExperimentReport) {
    let pool = &r.worker_pool;
    assert_eq!(pool.jobs_submitted, r.ran as u64, "{pool:?}");
    assert_eq!(pool.jobs_completed, r.ran as u64, "{pool:?}");
    assert_eq!(pool.jobs_panicked, 0);
    assert!(pool.peak_workers >= 1 && pool.peak_workers <= r.parallel_runs);
    assert_eq!(pool.threads_per_job, r.threads_per_run);
    assert!(r.parallel_runs * r.threads_per_run <= cores());
    assert!(pool.peak_cpu_threads <= cores());
    let ups = r.scale_events.iter().filter(|e| e.up).count() as u64;
    let downs = r.scale_events.len() as u64 - ups;
    assert_eq!((ups, downs), (pool.scale_ups, pool.scale_downs));
    // The resource monitor watched the sweep: this process holds at least its test binary.
    let res = r.resources.as_ref().expect("the monitor ran");
    assert!(
        res.peak_rss_mb > 1.0 && res.duration_seconds > 0.0,
        "{res:?}"
    );
    assert!(res.mean_process_cpu_percent >= 0.0, "{res:?}");
}

#[test]
fn an_automatic_sweep_runs_on_every_core_with_the_same_results_as_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let runs = 8;
    let path = experiment(dir.path(), runs, "");

    let auto = run(&path, &[], &dir.path().join("auto"), 0);
    assert_eq!((auto.ran, auto.failed), (runs, 0));
    // Small points on a quiet machine: one run per core, one thread each, a fixed pool.
    assert_eq!(
        auto.parallel_runs,
        cores().min(runs),
        "{}",
        auto.plan_rationale
    );
    assert_eq!(auto.threads_per_run, cores() / auto.parallel_runs);
    assert!(!auto.autoscaling);
    assert_eq!(auto.worker_pool.peak_workers, auto.parallel_runs);
    assert_eq!(
        (auto.worker_pool.scale_ups, auto.worker_pool.scale_downs),
        (0, 0)
    );
    assert_consistent(&auto);

    let serial = run(&path, &[], &dir.path().join("serial"), 1);
    assert_eq!(
        (serial.parallel_runs, serial.worker_pool.peak_workers),
        (1, 1)
    );
    assert_consistent(&serial);

    let (a, s) = (l2_errors(&auto), l2_errors(&serial));
    assert_eq!(a.len(), runs);
    assert_eq!(a.keys().collect::<Vec<_>>(), s.keys().collect::<Vec<_>>());
    for (id, e) in &a {
        let reference = s[id];
        assert!(
            (e - reference).abs() <= 1e-12 * reference.abs(),
            "run {id}: {e} vs {reference}"
        );
    }
    // Records follow completion order but every run is there once.
    assert_eq!(auto.summary.len(), runs);
    assert!(auto.summary.iter().all(|row| row.runs_ok == 1));
}

#[test]
fn with_autoscaling_the_pool_floats_and_reports_its_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let runs = 6;
    let path = experiment(dir.path(), runs, "");
    let report = run(
        &path,
        &["scaling.enable_autoscaling=true"],
        &dir.path().join("out"),
        0,
    );
    assert!(report.autoscaling);
    assert!(
        report.plan_rationale.contains("autoscaling"),
        "{}",
        report.plan_rationale
    );
    assert_eq!((report.ran, report.failed), (runs, 0));
    assert_consistent(&report);

    // Nothing left to run: no job, the report still consistent.
    let again = run(
        &path,
        &["scaling.enable_autoscaling=true"],
        &dir.path().join("out"),
        0,
    );
    assert_eq!((again.ran, again.skipped), (0, runs));
    assert_consistent(&again);
}
