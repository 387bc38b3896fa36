//! An experiment's runs share the solve cache: a Redis level that dies in the middle of a sweep
//! degrades to the other levels, and reuse never changes a result. (Moved here from
//! `crates/runtime/tests/caching.rs` with the experiment runner.)

use std::sync::{Arc, Mutex};

use femscale_cache::testing::RedisServer;
use femscale_experiment::{Experiment, ProgressEvent, RunOptions, RunRecord};

#[test]
fn redis_killed_mid_sweep_the_sweep_completes_with_correct_results() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let exp = |name: &str, levels: &str| {
        let text = format!(
            r#"
[problem]
mesh = {{ kind = "rectangle", nx = 16, ny = 16, cell = "triangle" }}
source = "a*sin(pi*x)*sin(pi*y)"
exact = "a*sin(pi*x)*sin(pi*y)/(2*pi^2)"
params = {{ a = 1.0 }}

[solver]
kind = "direct"

[scaling]
enable_caching = true

[cache]
levels = {levels}
redis_url = "{}"

[sweep]
"problem.source" = ["1", "x", "y", "x*y", "sin(x)", "cos(y)", "exp(x)", "x^2", "y^3", "2+x"]

[output]
dir = "{}"
"#,
            url,
            dir.path().join(name).display()
        );
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        Experiment::load(&path, &[]).unwrap()
    };
    let reference = exp("reference", "[]")
        .run(&RunOptions {
            parallel_runs: Some(1),
            ..Default::default()
        })
        .unwrap();
    let server = Mutex::new(Some(server));
    let options = RunOptions {
        parallel_runs: Some(1),
        progress: Some(Arc::new(move |e: &ProgressEvent<'_>| {
            if let ProgressEvent::RunFinished { done: 3, .. } = e {
                // The server dies after the third run.
                server.lock().unwrap().take();
            }
        })),
        ..Default::default()
    };
    let report = exp("cached", r#"["memory", "redis"]"#)
        .run(&options)
        .unwrap();
    assert!(
        report.all_ok(),
        "{:?}",
        report.records.iter().map(|r| &r.error).collect::<Vec<_>>()
    );
    assert_eq!(report.records.len(), 10);
    for (a, b) in report.records.iter().zip(&reference.records) {
        let (a, b) = (a.metrics.as_ref().unwrap(), b.metrics.as_ref().unwrap());
        assert_eq!(a.l2_error, b.l2_error, "results changed by the cache");
    }
    let reused = |r: &RunRecord| {
        let m = r.metrics.as_ref().unwrap();
        m.cache_reused
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    // After the first run every run reuses the operator held in memory.
    assert!(
        report.records[1..]
            .iter()
            .all(|r| reused(r).contains(&"system@memory".to_string()))
    );
}
