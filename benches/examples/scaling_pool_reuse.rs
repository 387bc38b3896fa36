//! Memory pooling of Krylov work vectors: repeated prepare + solve of the same system with the
//! solver options' `VectorPool` off and on — allocated bytes, bytes reused, and the time of the repeated
//! prepares (first touch of fresh pages vs reuse).
//!
//! ```text
//! cargo run --release -p femscale-benches --example scaling_pool_reuse -- [N REPS]
//! ```
//!
//! Defaults: the 2D benchmark system on 512 × 512 squares (263,169 unknowns), 10 repetitions of
//! CG + Jacobi prepare and a 50-iteration solve, 1 thread. Prints a markdown table: the pool's
//! byte counts over all repetitions (deterministic) and the median times of one repetition.

use std::sync::Arc;
use std::time::Instant;

use femscale::core::{NoMonitor, VectorPool};
use femscale::prelude::*;
use femscale::solvers::{ConjugateGradient, JacobiFactory};
use femscale_benches::pipeline_until_solve;
use femscale_benches::stats::median;
use femscale_benches::table::{MarkdownTable, count, example_command, millis, provenance};

/// Median seconds of one prepare and of one prepare + solve over `reps` repetitions.
fn run(
    a: &Arc<CsrMatrix>,
    b: &[f64],
    reps: usize,
    pool: &Arc<VectorPool>,
) -> anyhow::Result<(f64, f64)> {
    let cg = ConjugateGradient::new(Arc::new(JacobiFactory));
    let mut options = SolverOptions::default();
    options.pool = Some(pool.clone());
    options.threads = 1;
    options.max_iterations = 50;
    options.tolerance = 1e-14;
    let (mut prepare, mut total) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = Instant::now();
        let mut p = cg.prepare(Arc::clone(a), &options)?;
        prepare.push(t.elapsed().as_secs_f64());
        let mut x = vec![0.0; b.len()];
        // 50 iterations do not reach 1e-14: the error is expected.
        std::hint::black_box(p.solve(b, &mut x, &mut NoMonitor).ok());
        total.push(t.elapsed().as_secs_f64());
    }
    Ok((median(&prepare), median(&total)))
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
    let pool = &Arc::new(VectorPool::new(
        femscale::core::pool::DEFAULT_GLOBAL_POOL_BYTES,
    ));
    let mut table = MarkdownTable::new(&[
        "pooling",
        "allocated",
        "reused",
        "prepare (median)",
        "prepare + solve (median)",
    ]);
    for enabled in [false, true] {
        pool.set_enabled(enabled);
        pool.reset_stats();
        let (prepare, total) = run(&a, &b, reps, pool)?;
        let s = pool.stats();
        table.row([
            if enabled { "on" } else { "off" }.to_string(),
            format!(
                "{:.1} MB in {} buffers",
                s.allocated_bytes as f64 / 1e6,
                s.allocations
            ),
            format!(
                "{:.1} MB in {} buffers",
                s.reused_bytes as f64 / 1e6,
                s.reuses
            ),
            millis(prepare),
            millis(total),
        ]);
    }
    println!(
        "{}\n",
        provenance(
            &example_command("scaling_pool_reuse"),
            &format!(
                "{reps} × CG + Jacobi prepare and a 50-iteration solve of {} unknowns, 1 thread; times are medians of the {reps}, bytes totals",
                count(b.len())
            )
        )
    );
    print!("{table}");
    Ok(())
}
