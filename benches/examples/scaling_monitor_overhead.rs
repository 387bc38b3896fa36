//! What the scaling machinery costs: `femscale_scaling::measure` around an empty closure, one
//! `ResourceMonitor` snapshot (sysinfo), creating and shutting down a `WorkerPool`, and pushing
//! trivial jobs through it; medians of many (the count is in the table). Prints a markdown
//! table.
//!
//! ```text
//! cargo run --release -p femscale-benches --example scaling_monitor_overhead
//! ```

use std::sync::Arc;
use std::time::Instant;

use femscale_scaling::{
    FixedLoad, LoadSample, ResourceMonitor, WorkerPool, WorkerPoolConfig, measure,
};

use femscale_benches::stats::median;
use femscale_benches::table::{MarkdownTable, example_command, provenance};

/// Rounds of `JOBS` trivial jobs through the pool; the per-job cost is the median of the rounds'
/// means.
const JOB_ROUNDS: usize = 7;
const JOBS: usize = 10_000;

fn median_us(v: Vec<f64>) -> f64 {
    median(&v) * 1e6
}

/// Median microseconds of `reps` calls of `f`.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        f();
        t.push(start.elapsed().as_secs_f64());
    }
    median_us(t)
}

fn main() -> anyhow::Result<()> {
    let measure_us = time(200, || {
        std::hint::black_box(measure(|| 1 + 1));
    });
    let snapshot_us = time(200, || {
        std::hint::black_box(ResourceMonitor::sample_now());
    });
    let config = WorkerPoolConfig::default();
    let pool_sysinfo_us = time(20, || {
        std::hint::black_box(
            WorkerPool::new(config.clone())
                .map(WorkerPool::shutdown)
                .ok(),
        );
    });
    let fixed = || Arc::new(FixedLoad(LoadSample::default()));
    let pool_fixed_us = time(20, || {
        std::hint::black_box(
            WorkerPool::with_load_source(config.clone(), fixed())
                .map(WorkerPool::shutdown)
                .ok(),
        );
    });
    let pool = WorkerPool::with_load_source(config.clone(), fixed())?;
    let mut per_job = Vec::with_capacity(JOB_ROUNDS);
    for _ in 0..JOB_ROUNDS {
        let t = Instant::now();
        let out = pool.map(0..JOBS, |i| i + 1);
        per_job.push(t.elapsed().as_secs_f64() / JOBS as f64);
        std::hint::black_box(out);
    }
    let per_job_us = median_us(per_job);
    let mut table = MarkdownTable::new(&["what", "cost", "median of"]);
    table
        .row([
            "`measure()` around an empty closure".to_string(),
            format!("{measure_us:.0} µs"),
            "200 calls".into(),
        ])
        .row([
            "one `ResourceMonitor` snapshot".to_string(),
            format!("{snapshot_us:.0} µs"),
            "200 calls".into(),
        ])
        .row([
            "worker pool start + shutdown, sysinfo load source".to_string(),
            format!("{pool_sysinfo_us:.0} µs"),
            "20 pools".into(),
        ])
        .row([
            "worker pool start + shutdown, fixed load source".to_string(),
            format!("{pool_fixed_us:.0} µs"),
            "20 pools".into(),
        ])
        .row([
            "a trivial job through the pool (`map`)".to_string(),
            format!("{per_job_us:.2} µs"),
            format!("{JOB_ROUNDS} rounds of {JOBS} jobs (mean per job within a round)"),
        ]);
    println!(
        "{}\n",
        provenance(
            &example_command("scaling_monitor_overhead"),
            "medians as the last column says"
        )
    );
    print!("{table}");
    Ok(())
}
