//! What the scaling machinery costs: `femscale_scaling::measure` around an empty closure, one
//! `ResourceMonitor` snapshot (sysinfo), creating and shutting down a `WorkerPool`, and pushing
//! trivial jobs through it; medians of many.
//!
//! ```text
//! cargo run --release -p femscale-benches --example scaling_monitor_overhead
//! ```

use std::sync::Arc;
use std::time::Instant;

use femscale_scaling::{
    FixedLoad, LoadSample, ResourceMonitor, WorkerPool, WorkerPoolConfig, measure,
};

fn median_us(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2] * 1e6
}

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
    let jobs = 10_000;
    let t = Instant::now();
    let out = pool.map(0..jobs, |i| i + 1);
    let per_job_us = t.elapsed().as_secs_f64() * 1e6 / jobs as f64;
    std::hint::black_box(out);
    println!("measure(empty closure)            {measure_us:8.0} us");
    println!("one ResourceMonitor snapshot      {snapshot_us:8.0} us");
    println!("worker pool start+shutdown        {pool_sysinfo_us:8.0} us (sysinfo load source)");
    println!("worker pool start+shutdown        {pool_fixed_us:8.0} us (fixed load source)");
    println!("trivial job through the pool      {per_job_us:8.1} us each ({jobs} jobs, map)");
    Ok(())
}
