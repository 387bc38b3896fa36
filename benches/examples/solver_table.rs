//! One linear-solver measurement per process on the 2D P1 Poisson benchmark problem: set-up,
//! first solve, second right-hand side on the prepared solver, iterations, and the process's
//! peak RSS (so run one configuration per process).
//!
//! ```text
//! for n in 128 256 512 1024; do
//!   cargo run --release -p femscale-benches --example solver_table -- cg amg $n 2
//! done
//! cargo run --release -p femscale-benches --example solver_table -- direct none 1024 1
//! ```
//!
//! Arguments: solver, preconditioner, n (cells per side), threads (default 2).
//! Output: one tab-separated line
//! `solver preconditioner n unknowns threads iterations setup_s solve_s second_solve_s rel_residual peak_rss_mb`.

use std::sync::Arc;
use std::time::Instant;

use femscale::core::NoMonitor;
use femscale::prelude::*;
use femscale::runtime::Registry;
use femscale::solvers::MethodOptions;
use femscale_benches::pipeline_until_solve;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let solver_name = args.first().map_or("cg", String::as_str).to_string();
    let pc_name = args.get(1).map_or("amg", String::as_str).to_string();
    let n: usize = args.get(2).map_or(Ok(1024), |s| s.parse())?;
    let threads: usize = args.get(3).map_or(Ok(2), |s| s.parse())?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    femscale::solvers::set_faer_threads(threads);

    // 1. The assembled, Dirichlet-eliminated system (parallel assembly).
    let system = pipeline_until_solve(n, true)?;
    let a = Arc::new(system.matrix);
    let b = system.rhs;

    // 2. Set-up and first solve.
    let solver =
        Registry::with_builtins().solver(&solver_name, &pc_name, &MethodOptions::default())?;
    let mut options = SolverOptions::default();
    options.tolerance = 1e-8;
    options.threads = threads;
    let t = Instant::now();
    let mut prepared = solver.prepare(a.clone(), &options)?;
    let setup = t.elapsed().as_secs_f64();
    let mut x = vec![0.0; b.len()];
    let t = Instant::now();
    let report = prepared.solve(&b, &mut x, &mut NoMonitor)?;
    let solve = t.elapsed().as_secs_f64();

    // 3. A second right-hand side on the prepared solver.
    let b2: Vec<f64> = b
        .iter()
        .enumerate()
        .map(|(i, v)| v * (1.0 + (i % 7) as f64 / 7.0))
        .collect();
    let mut x2 = vec![0.0; b.len()];
    let t = Instant::now();
    prepared.solve(&b2, &mut x2, &mut NoMonitor)?;
    let second = t.elapsed().as_secs_f64();

    println!(
        "{solver_name}\t{pc_name}\t{n}\t{}\t{threads}\t{}\t{setup:.4}\t{solve:.4}\t{second:.4}\t{:.2e}\t{:.0}",
        b.len(),
        report.iterations,
        report.final_relative_residual,
        peak_rss_mb()
    );
    Ok(())
}
