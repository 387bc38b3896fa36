//! Reuse through the solve cache, 2D P1 Poisson with the direct solver:
//! (1) the same problem solved twice — the second solve is served from the cache;
//! (2) a sweep over 10 source functions on one mesh, with and without caching (the assembled
//!     operator and its factorization are reused; only the load vector is assembled);
//! (3) hit latency of the assembled operator from the disk and Redis levels (fetch, checksum,
//!     decode and mesh), against assembling it.
//!
//! ```text
//! cargo run --release -p femscale-benches --example cache_speedup -- 512
//! ```
//!
//! Part (3) needs `redis-server` on `PATH` for the Redis line (skipped otherwise).

use std::time::Instant;

use femscale::prelude::*;
use femscale_cache::testing::RedisServer;

fn solver(
    caching: bool,
    levels: &[&str],
    tweak: impl FnOnce(&mut Config),
) -> anyhow::Result<FemSolver> {
    let mut config = Config::default();
    config.scaling.enable_caching = Some(caching);
    config.solver.kind = "direct".into();
    config.cache.levels = levels.iter().map(|s| s.to_string()).collect();
    tweak(&mut config);
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median over 3 repetitions of: a fresh solver on a warm byte level solves a new source; the
/// operator comes from the level. Returns (fetch seconds, assembly seconds of a miss).
fn operator_hit(
    n: usize,
    levels: &[&str],
    tweak: impl Fn(&mut Config),
) -> anyhow::Result<(f64, f64)> {
    let writer = solver(true, levels, &tweak)?;
    let miss = writer.solve_2d_laplace(&problem(n, 1))?;
    let p = &miss.metrics.phases;
    let assemble = p.mesh + p.pattern + p.assembly + p.boundary_conditions;
    let mut fetch = Vec::new();
    for k in 2..5 {
        let reader = solver(true, levels, &tweak)?;
        let hit = reader.solve_2d_laplace(&problem(n, k))?;
        anyhow::ensure!(
            hit.metrics
                .cache_reused
                .iter()
                .any(|r| r.starts_with("system@")),
            "expected an operator hit, got {:?}",
            hit.metrics.cache_reused
        );
        fetch.push(hit.metrics.phases.mesh);
    }
    Ok((median(fetch), assemble))
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map_or(Ok(512), |s| s.parse())?;
    let unknowns = (n + 1) * (n + 1);

    // 1. The same problem twice.
    let cached = solver(true, &["memory"], |_| {})?;
    let t = Instant::now();
    cached.solve_2d_laplace(&problem(n, 1))?;
    let first = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = cached.solve_2d_laplace(&problem(n, 1))?;
    let second = t.elapsed().as_secs_f64();
    anyhow::ensure!(again.metrics.cache_reused == ["solution@memory"]);
    println!(
        "n = {n} ({unknowns} unknowns): first solve {first:.4} s, repeated solve {second:.6} s, speed-up {:.0}x",
        first / second
    );

    // 2. Ten sources on one mesh, with and without caching.
    let mut totals = Vec::new();
    for caching in [false, true] {
        let s = solver(caching, &["memory"], |_| {})?;
        let t = Instant::now();
        for k in 1..=10 {
            let sol = s.solve_2d_laplace(&problem(n, k))?;
            if k == 10 {
                eprintln!(
                    "caching {caching}: last solve reused {:?}, phases {:?}",
                    sol.metrics.cache_reused, sol.metrics.phases
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

    // 3. Operator hit latency from disk and Redis.
    let dir = tempfile::tempdir()?;
    let (disk, assemble) = operator_hit(n, &["disk"], |c| {
        c.cache.disk_dir = dir.path().to_path_buf()
    })?;
    println!(
        "n = {n}: operator from disk {disk:.3} s (median of 3) vs assembling it {assemble:.3} s"
    );
    match RedisServer::start() {
        Some(server) => {
            let (redis, assemble) =
                operator_hit(n, &["redis"], |c| c.cache.redis_url = server.url())?;
            println!(
                "n = {n}: operator from Redis {redis:.3} s (median of 3) vs assembling it {assemble:.3} s"
            );
        }
        None => println!("n = {n}: Redis skipped (no redis-server)"),
    }
    Ok(())
}
