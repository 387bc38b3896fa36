//! The runner's own tests: store failures and the pool's size.

use std::cell::Cell;

use super::*;

/// An experiment of `points` small MMS points (`nx` from 16 on) with VTU output, so that
/// `out/vtu` counts the runs that executed.
fn experiment(dir: &Path, points: usize, extra: &str) -> Experiment {
    let nx: Vec<String> = (0..points).map(|i| (16 + i).to_string()).collect();
    let text = format!(
        r#"
[problem]
mesh = {{ kind = "rectangle", nx = 16, ny = 16, cell = "triangle" }}
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"
[solver]
kind = "direct"
{extra}
[sweep]
"problem.mesh.nx" = [{}]
[output]
dir = {:?}
formats = ["jsonl", "vtu"]
"#,
        nx.join(", "),
        dir.join("out").display().to_string()
    );
    let path = dir.join("exp.toml");
    std::fs::write(&path, text).unwrap();
    Experiment::load(&path, &[]).unwrap()
}

fn jobs(exp: &Experiment) -> Vec<Job<'_>> {
    (0..exp.points.len()).map(|i| exp.job(i)).collect()
}

#[test]
fn a_store_failure_stops_the_remaining_runs() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), 24, "");
    let out = dir.path().join("out");
    // The log is never opened: the first append fails.
    let mut store = Store::prepare(&out).unwrap();
    let jobs = jobs(&exp);
    let plan = exp.plan_runs(Some(2), &jobs);
    let context = RunContext {
        threads_per_run: 1,
        dir: &out,
        caches: &[],
    };
    let (started, finished) = (Cell::new(0), Cell::new(0));
    let report = |e: &ProgressEvent<'_>| match e {
        ProgressEvent::RunStarted { .. } => started.set(started.get() + 1),
        ProgressEvent::RunFinished { .. } => finished.set(finished.get() + 1),
        _ => {}
    };
    let Err(e) = exp.execute(&jobs, &plan, &context, &mut store, &report) else {
        panic!("the store failure is returned");
    };
    assert!(e.to_string().contains("not open"), "{e}");
    assert_eq!(finished.get(), 0, "no run is reported as recorded");
    let executed = std::fs::read_dir(out.join(crate::VTU_DIR)).map_or(0, |d| d.count());
    assert!(
        (1..jobs.len()).contains(&executed),
        "the runs not yet started were skipped: {executed} of {} ran",
        jobs.len()
    );
    assert!(started.get() <= executed);
}

#[test]
fn runs_in_flight_never_oversubscribe_and_autoscaling_follows_the_toggle() {
    let dir = tempfile::tempdir().unwrap();
    let cores = cores();
    let exp = experiment(dir.path(), 6, "");
    let pending = jobs(&exp);

    // Automatic: min(cores, runs) runs of small points, no autoscaling below 10k unknowns.
    let plan = exp.plan_runs(None, &pending);
    assert_eq!(plan.pool.max_workers, cores.min(pending.len()));
    assert_eq!(plan.pool.min_workers, plan.pool.max_workers);
    assert!(!plan.autoscaling);
    assert!(plan.pool.max_workers * plan.pool.resolved_threads_per_job() <= cores);
    plan.pool.validate().unwrap();

    // Explicit: wins, but never beyond the cores.
    let plan = exp.plan_runs(Some(64), &pending);
    assert_eq!(plan.pool.max_workers, cores.min(pending.len()));
    assert!(plan.pool.max_workers * plan.pool.resolved_threads_per_job() <= cores);
    let plan = exp.plan_runs(Some(1), &pending);
    assert_eq!(
        (plan.pool.max_workers, plan.pool.resolved_threads_per_job()),
        (1, cores)
    );

    // The aggressive level lets the pool shrink to one worker and grow back.
    let exp = experiment(dir.path(), 6, "[scaling]\nlevel = \"aggressive\"");
    let plan = exp.plan_runs(None, &jobs(&exp));
    assert!(plan.autoscaling);
    assert_eq!(plan.pool.min_workers, 1);
    assert_eq!(plan.pool.resolved_initial_workers(), plan.pool.max_workers);
    assert!(plan.rationale.contains("autoscaling"), "{}", plan.rationale);
}
