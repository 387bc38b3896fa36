//! Memory pooling of Krylov work vectors: repeated prepare + solve of the same system with the
//! global `VectorPool` off and on — allocated bytes, bytes reused, and the time of the repeated
//! prepares (first touch of fresh pages vs reuse).
//!
//! ```text
//! cargo run --release -p femscale-benches --example scaling_pool_reuse -- [N REPS]
//! ```
//!
//! Defaults: the 2D benchmark system on 512 × 512 squares (263,169 unknowns), 10 repetitions of
//! CG + Jacobi prepare and a 50-iteration solve, 1 thread.

use std::sync::Arc;
use std::time::Instant;

use femscale::core::{NoMonitor, VectorPool};
use femscale::prelude::*;
use femscale::solvers::{ConjugateGradient, JacobiFactory};
use femscale_benches::pipeline_until_solve;

fn run(a: &Arc<CsrMatrix>, b: &[f64], reps: usize) -> anyhow::Result<(f64, f64)> {
    let cg = ConjugateGradient::new(Arc::new(JacobiFactory));
    let mut options = SolverOptions::default();
    options.threads = 1;
    options.max_iterations = 50;
    options.tolerance = 1e-14;
    let (mut prepare, mut total) = (0.0, 0.0);
    for _ in 0..reps {
        let t = Instant::now();
        let mut p = cg.prepare(Arc::clone(a), &options)?;
        prepare += t.elapsed().as_secs_f64();
        let mut x = vec![0.0; b.len()];
        // 50 iterations do not reach 1e-14: the error is expected.
        std::hint::black_box(p.solve(b, &mut x, &mut NoMonitor).ok());
        total += t.elapsed().as_secs_f64();
    }
    Ok((prepare / reps as f64, total / reps as f64))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let n = args.first().copied().unwrap_or(512);
    let reps = args.get(1).copied().unwrap_or(10).max(1);
    let system = pipeline_until_solve(n, true)?;
    let a = Arc::new(system.matrix);
    let b = system.rhs;
    let pool = VectorPool::global();
    for enabled in [false, true] {
        pool.set_enabled(enabled);
        pool.reset_stats();
        let (prepare, total) = run(&a, &b, reps)?;
        let s = pool.stats();
        println!(
            "pooling {:<3}: {reps} x prepare+solve of {} unknowns: allocated {:.1} MB in {} buffers, reused {:.1} MB in {} buffers; prepare {:.2} ms, prepare+solve {:.2} ms (means)",
            if enabled { "on" } else { "off" },
            b.len(),
            s.allocated_bytes as f64 / 1e6,
            s.allocations,
            s.reused_bytes as f64 / 1e6,
            s.reuses,
            prepare * 1e3,
            total * 1e3
        );
    }
    Ok(())
}
