//! Reuse through the solve cache, 2D P1 Poisson with the direct solver, for the caching tables
//! of `docs/performance.md`:
//! (1) the same problem solved twice — the second solve is served from the cache;
//! (2) a sweep over 10 source functions on one mesh, with and without caching (the assembled
//!     operator and its factorization are reused; only the load vector is assembled), and the
//!     phases of the cached solves;
//! (3) hit latency of the assembled operator from the disk and Redis levels (fetch, checksum,
//!     decode and mesh), against assembling it.
//!
//! ```text
//! cargo run --release -p femscale-benches --example cache_speedup -- [SIZES = 512] [REPS = 3]
//! ```
//!
//! SIZES: comma-separated cells per side. Every repetition starts from fresh solvers and fresh
//! cache levels and runs (1), (2) and (3) in turn, so that each speed-up compares variants
//! measured in the same repetition; the tables hold medians over the repetitions (speed-ups:
//! medians of the per-repetition ratios). Part (3) needs `redis-server` on `PATH` for the Redis
//! column ("skipped" otherwise).

use std::time::Instant;

use femscale::prelude::*;
use femscale_benches::stats::{median, median_ratio};
use femscale_benches::table::{MarkdownTable, count, example_command, provenance, secs, times};
use femscale_cache::testing::RedisServer;

/// Sources in the sweep of part (2).
const SOURCES: usize = 10;
/// Fresh solvers reading the operator from a byte level per repetition, part (3).
const READERS: usize = 3;

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

/// Samples of one size, over all repetitions.
#[derive(Default)]
struct Samples {
    unknowns: usize,
    entries: usize,
    first: Vec<f64>,
    again: Vec<f64>,
    sweep_uncached: Vec<f64>,
    sweep_cached: Vec<f64>,
    /// Load-vector assembly and solve of each cached source after the first.
    cached_assembly: Vec<f64>,
    cached_solve: Vec<f64>,
    disk: Vec<f64>,
    redis: Vec<f64>,
    assemble: Vec<f64>,
}

/// A warm byte level, then `READERS` fresh solvers on it solving new sources: the operator
/// comes from the level. Pushes the fetch times and the assembly time of the writer's miss.
fn operator_hit(
    n: usize,
    levels: &[&str],
    tweak: impl Fn(&mut Config),
    fetch: &mut Vec<f64>,
    assemble: &mut Vec<f64>,
) -> anyhow::Result<()> {
    let writer = solver(true, levels, &tweak)?;
    let miss = writer.solve_2d_laplace(&problem(n, 1))?;
    let p = &miss.metrics.phases;
    assemble.push(p.mesh + p.pattern + p.assembly + p.boundary_conditions);
    for k in 2..2 + READERS {
        let reader = solver(true, levels, &tweak)?;
        let hit = reader.solve_2d_laplace(&problem(n, k))?;
        anyhow::ensure!(
            hit.metrics
                .cache_reused
                .iter()
                .any(|r| r.artefact == Artefact::System),
            "expected an operator hit, got {:?}",
            hit.metrics.cache_reused
        );
        // The operator hit is reported as the mesh phase (fetch, checksum, decode, mesh).
        fetch.push(hit.metrics.phases.mesh);
    }
    Ok(())
}

fn repetition(n: usize, s: &mut Samples) -> anyhow::Result<()> {
    // 1. The same problem twice.
    let cached = solver(true, &["memory"], |_| {})?;
    let t = Instant::now();
    let first = cached.solve_2d_laplace(&problem(n, 1))?;
    s.first.push(t.elapsed().as_secs_f64());
    anyhow::ensure!(
        first.metrics.cache_reused.is_empty(),
        "a fresh solver reused {:?}",
        first.metrics.cache_reused
    );
    s.unknowns = first.metrics.dofs;
    s.entries = first.metrics.nnz;
    let t = Instant::now();
    let again = cached.solve_2d_laplace(&problem(n, 1))?;
    s.again.push(t.elapsed().as_secs_f64());
    anyhow::ensure!(
        again.metrics.cache_reused == [CacheReuse::new(Artefact::Solution, "memory")],
        "expected a solution hit, got {:?}",
        again.metrics.cache_reused
    );

    // 2. Ten sources on one mesh, without and with caching.
    for caching in [false, true] {
        let solver = solver(caching, &["memory"], |_| {})?;
        let t = Instant::now();
        for k in 1..=SOURCES {
            let sol = solver.solve_2d_laplace(&problem(n, k))?;
            if caching && k > 1 {
                s.cached_assembly.push(sol.metrics.phases.assembly);
                s.cached_solve.push(sol.metrics.phases.solve);
            }
        }
        let total = t.elapsed().as_secs_f64();
        if caching {
            s.sweep_cached.push(total);
        } else {
            s.sweep_uncached.push(total);
        }
    }

    // 3. Operator hit latency from disk and Redis.
    let dir = tempfile::tempdir()?;
    operator_hit(
        n,
        &["disk"],
        |c| c.cache.disk_dir = dir.path().to_path_buf(),
        &mut s.disk,
        &mut s.assemble,
    )?;
    // A fresh server per repetition: the previous repetition's entries would be hits.
    if let Some(server) = RedisServer::start() {
        operator_hit(
            n,
            &["redis"],
            |c| c.cache.redis_url = server.url(),
            &mut s.redis,
            &mut s.assemble,
        )?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = args
        .first()
        .map_or("512", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let reps: usize = args.get(1).map_or(Ok(3), |s| s.parse())?;
    anyhow::ensure!(reps > 0, "need at least one repetition");
    let all = sizes
        .iter()
        .map(|&n| {
            let mut s = Samples::default();
            for _ in 0..reps {
                repetition(n, &mut s)?;
            }
            Ok(s)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    let command = example_command("cache_speedup");
    println!(
        "{}\n",
        provenance(
            &command,
            &format!(
                "direct solver; medians of {reps} repetitions, speed-ups medians of the per-repetition ratios"
            )
        )
    );
    let mut reuse = MarkdownTable::new(&[
        "n (unknowns)",
        "first solve",
        "same problem again (`solution@memory`)",
        "speed-up",
        "10 sources, no cache",
        "10 sources, cache",
        "speed-up",
    ]);
    for (&n, s) in sizes.iter().zip(&all) {
        reuse.row([
            format!("{n} ({})", count(s.unknowns)),
            secs(median(&s.first)),
            format!("{:.4} s", median(&s.again)),
            format!("{:.0}×", median_ratio(&s.first, &s.again)),
            secs(median(&s.sweep_uncached)),
            secs(median(&s.sweep_cached)),
            times(median_ratio(&s.sweep_uncached, &s.sweep_cached)),
        ]);
    }
    print!("{reuse}");

    println!(
        "\nCached sources 2–{SOURCES} of the sweep (median of {} solves):\n",
        reps * (SOURCES - 1)
    );
    let mut cached =
        MarkdownTable::new(&["n", "load-vector assembly", "solve (triangular solves)"]);
    for (&n, s) in sizes.iter().zip(&all) {
        cached.row([
            n.to_string(),
            secs(median(&s.cached_assembly)),
            secs(median(&s.cached_solve)),
        ]);
    }
    print!("{cached}");

    println!(
        "\nOperator from a byte level (medians of {} hits per level; assembling it: median of the writers' misses):\n",
        reps * READERS,
    );
    let mut levels = MarkdownTable::new(&[
        "n",
        "entries",
        "disk hit",
        "Redis hit (loopback)",
        "assembling it",
    ]);
    for (&n, s) in sizes.iter().zip(&all) {
        levels.row([
            n.to_string(),
            format!("{:.2} M", s.entries as f64 / 1e6),
            secs(median(&s.disk)),
            if !s.redis.is_empty() {
                secs(median(&s.redis))
            } else {
                "skipped (no redis-server)".into()
            },
            secs(median(&s.assemble)),
        ]);
    }
    print!("{levels}");
    Ok(())
}
