//! Reuse through the in-process cache, 2D P1 Poisson with the direct solver:
//! (1) the same problem solved twice — the second solve is served from the cache;
//! (2) a sweep over 10 source functions on one mesh, with and without caching (the
//! factorization is reused across sources).
//!
//! ```text
//! cargo run --release -p femscale-benches --example cache_speedup -- 512
//! ```

use std::time::Instant;

use femscale::prelude::*;

fn solver(caching: bool) -> anyhow::Result<FemSolver> {
    let mut config = Config::default();
    config.scaling.enable_caching = Some(caching);
    config.solver.kind = "direct".into();
    Ok(FemSolver::from_config(config)?)
}

fn problem(n: usize, k: usize) -> Laplace2d {
    Laplace2d {
        nx: n,
        ny: n,
        source: Some(Source::expr(format!("{k}*sin({k}*pi*x)*sin(pi*y) + 1"))),
        ..Default::default()
    }
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map_or(Ok(512), |s| s.parse())?;

    // 1. The same problem twice.
    let cached = solver(true)?;
    let t = Instant::now();
    cached.solve_2d_laplace(&problem(n, 1))?;
    let first = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = cached.solve_2d_laplace(&problem(n, 1))?;
    let second = t.elapsed().as_secs_f64();
    assert!(
        again
            .metrics
            .features_used
            .iter()
            .any(|f| f == "solution_cache_hit")
    );
    println!(
        "n = {n}: first solve {first:.4} s, repeated solve {second:.6} s, speed-up {:.0}x",
        first / second
    );

    // 2. Ten sources on one mesh, with and without caching.
    let mut totals = Vec::new();
    for caching in [false, true] {
        let s = solver(caching)?;
        let t = Instant::now();
        for k in 1..=10 {
            let sol = s.solve_2d_laplace(&problem(n, k))?;
            if k == 10 {
                eprintln!(
                    "caching {caching}: last solve phases {:?}",
                    sol.metrics.phases
                );
            }
        }
        totals.push(t.elapsed().as_secs_f64());
    }
    println!(
        "n = {n}: 10 sources without caching {:.3} s, with caching {:.3} s, speed-up {:.1}x",
        totals[0],
        totals[1],
        totals[0] / totals[1]
    );
    Ok(())
}
