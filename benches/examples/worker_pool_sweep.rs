//! Sweeps of real femscale solves through `femscale-scaling`'s auto-scaling `WorkerPool`,
//! against running them one at a time.
//!
//! ```text
//! cargo run --release -p femscale-benches --example worker_pool_sweep -- [--ignore-load] [--set=KEY=VALUE ...] [SMALL_N RUNS LARGE_N LARGE_RUNS REPS]
//! ```
//!
//! Defaults: 40 small runs of 96 × 96 squares (9,409 unknowns), 4 large runs of 512 × 512
//! (263,169 unknowns), 3 repetitions of every variant (medians printed, speed-ups as medians of
//! the per-repetition ratios; a markdown table at the end). Each run solves a 2D
//! Poisson problem with its own diffusion coefficient (a sweep), caching off.
//!
//! The pool is sized by the `AdaptiveScaler`'s plan for the sweep on this machine's cores and
//! memory (small runs: as many runs in flight as cores, one thread each; large runs: one at a
//! time on all cores), starts with one worker and grows by queue depth while the CPU load of
//! other processes (sampled by `SystemLoadSource`) stays below 75%; `--ignore-load` makes the
//! pool ignore that load (for measuring on a shared machine); `--set=KEY=VALUE` adds a
//! configuration override to every run. The variants:
//!
//! * `sequential` — one run at a time, each with every core (what a plain loop does);
//! * `sequential-1t` — one run at a time, one thread each;
//! * `pool` — the worker pool as planned;
//! * `plain` — the plan's runs in flight on plain threads, without the pool (its overhead);
//! * `oversubscribed` (large runs only) — what the pool avoids: as many runs at once as cores,
//!   each with every core.

use std::sync::Arc;
use std::time::Instant;

use femscale::core::{Scaler, SolverChoice, SystemLoad, WorkEstimate};
use femscale::prelude::*;
use femscale_benches::stats::{median, median_ratio};
use femscale_benches::table::{MarkdownTable, count, example_command, provenance, secs, times};
use femscale_scaling::{
    AdaptiveScaler, FixedLoad, LoadSample, LoadSource, SystemLoadSource, WorkerPool,
    WorkerPoolConfig, WorkerPoolStats,
};

/// Extra `--set=KEY=VALUE` overrides of the command line.
static EXTRA: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// A solver at `threads` threads (0: all cores) with `choice`, caching off.
fn solver(threads: usize, choice: SolverChoice) -> anyhow::Result<FemSolver> {
    // The solver the planner gives `choice`, with the preconditioner its registry entry names.
    let kind = femscale::runtime::solver_for(choice);
    let mut overrides = vec![
        format!("scaling.threads={threads}"),
        "scaling.level=standard".to_string(),
        "scaling.enable_caching=false".to_string(),
        format!("solver.kind={kind}"),
        "solver.preconditioner=auto".to_string(),
    ];
    overrides.extend(EXTRA.get().into_iter().flatten().cloned());
    let refs: Vec<&str> = overrides.iter().map(String::as_str).collect();
    Ok(FemSolver::new().with_overrides(&refs)?)
}

/// Run `i` of a sweep on `n × n` squares: diffusion `1 + i/10`.
fn problem(n: usize, i: usize) -> Laplace2d {
    Laplace2d {
        nx: n,
        ny: n,
        diffusion: FieldSpec::Constant(1.0 + i as f64 / 10.0),
        source: Some(Source::expr("2*pi^2*sin(pi*x)*sin(pi*y)")),
        ..Default::default()
    }
}

fn run_one(n: usize, i: usize, threads: usize, choice: SolverChoice) -> anyhow::Result<f64> {
    let sol = solver(threads, choice)?.solve_2d_laplace(&problem(n, i))?;
    Ok(sol.values.iter().sum())
}

fn sequential(n: usize, runs: usize, threads: usize, choice: SolverChoice) -> anyhow::Result<f64> {
    let t = Instant::now();
    for i in 0..runs {
        std::hint::black_box(run_one(n, i, threads, choice)?);
    }
    Ok(t.elapsed().as_secs_f64())
}

fn pooled(
    n: usize,
    runs: usize,
    config: &WorkerPoolConfig,
    choice: SolverChoice,
    ignore_load: bool,
) -> anyhow::Result<(f64, WorkerPoolStats)> {
    let t = Instant::now();
    let load: Arc<dyn LoadSource> = if ignore_load {
        Arc::new(FixedLoad(LoadSample::default()))
    } else {
        Arc::new(SystemLoadSource::new())
    };
    let pool = WorkerPool::with_load_source(config.clone(), load)?;
    let threads = pool.threads_per_job();
    let results = pool.map(0..runs, move |i| {
        run_one(n, i, threads, choice).map_err(|e| e.to_string())
    });
    for r in results {
        std::hint::black_box(r.map_err(anyhow::Error::msg)?.map_err(anyhow::Error::msg)?);
    }
    let stats = pool.shutdown();
    Ok((t.elapsed().as_secs_f64(), stats))
}

/// `runs` runs, `workers` at a time on plain threads, each with `threads` threads (0: all
/// cores).
fn plain_threads(
    n: usize,
    runs: usize,
    workers: usize,
    threads: usize,
    choice: SolverChoice,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let next = Arc::clone(&next);
                s.spawn(move || -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= runs {
                            return Ok(());
                        }
                        std::hint::black_box(run_one(n, i, threads, choice)?);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("a run panicked"))??;
        }
        Ok(())
    })?;
    Ok(t.elapsed().as_secs_f64())
}

fn sweep(
    n: usize,
    runs: usize,
    reps: usize,
    large: bool,
    ignore_load: bool,
) -> anyhow::Result<Vec<String>> {
    let dofs = (n + 1) * (n + 1);
    let measured = SystemLoadSource::new().system_load();
    // Size the pool for the machine's capacity; the pool itself reacts to other processes' load.
    let load = SystemLoad::fixed(measured.cores, measured.available_memory_mb);
    let plan =
        AdaptiveScaler::default().plan(&WorkEstimate::p1(dofs, 2).with_queued_runs(runs), &load);
    let choice = plan.solver.unwrap_or(SolverChoice::AmgCg);
    let config = WorkerPoolConfig::from_plan(&plan);
    println!(
        "{runs} runs of {n}x{n} ({dofs} unknowns), {choice}; plan: {} run(s) x {} thread(s) [{}]; \
         other processes' CPU load now {:.0}%{}",
        plan.runs_in_flight,
        plan.threads,
        plan.rationale(),
        100.0 * measured.cpu_load.unwrap_or(0.0),
        if ignore_load { " (ignored)" } else { "" }
    );
    // Warm-up: page faults, thread pools, expression compilation.
    run_one(n, 0, 0, choice)?;
    let (mut seq, mut seq1, mut pool, mut plain, mut over) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut last_stats = WorkerPoolStats::default();
    for _ in 0..reps {
        seq.push(sequential(n, runs, 0, choice)?);
        seq1.push(sequential(n, runs, 1, choice)?);
        let (t, stats) = pooled(n, runs, &config, choice, ignore_load)?;
        pool.push(t);
        last_stats = stats;
        plain.push(plain_threads(
            n,
            runs,
            config.max_workers,
            config.resolved_threads_per_job(),
            choice,
        )?);
        if large {
            over.push(plain_threads(n, runs, load.cores, 0, choice)?);
        }
    }
    let speedup = median_ratio(&seq, &pool);
    let speedup_1t = median_ratio(&seq1, &pool);
    let (seq, seq1, pool) = (median(&seq), median(&seq1), median(&pool));
    println!("  sequential (all cores per run)  {seq:8.3} s");
    println!("  sequential (1 thread per run)   {seq1:8.3} s");
    println!(
        "  worker pool                     {pool:8.3} s   {speedup:.2}x vs sequential, {speedup_1t:.2}x vs sequential-1t"
    );
    let plain = median(&plain);
    println!(
        "  same plan on plain threads      {plain:8.3} s   (no pool: {} runs x {} thread(s))",
        config.max_workers,
        config.resolved_threads_per_job()
    );
    let over = if large {
        let over = median(&over);
        println!(
            "  oversubscribed ({} runs x all cores) {over:8.3} s   pool is {:.2}x of it",
            load.cores,
            over / pool
        );
        secs(over)
    } else {
        "—".into()
    };
    println!(
        "  pool: workers {}..{} (peak {}), scale-ups {}, scale-downs {}, threads/job {}, peak CPU threads {} of {} cores",
        config.min_workers,
        config.max_workers,
        last_stats.peak_workers,
        last_stats.scale_ups,
        last_stats.scale_downs,
        last_stats.threads_per_job,
        last_stats.peak_cpu_threads,
        last_stats.cores
    );
    Ok(vec![
        format!("{runs} runs of {} unknowns, {choice}", count(dofs)),
        secs(seq),
        secs(seq1),
        format!(
            "{} ({} × {} thread(s))",
            secs(pool),
            config.max_workers,
            config.resolved_threads_per_job()
        ),
        times(speedup),
        secs(plain),
        over,
    ])
}

fn main() -> anyhow::Result<()> {
    let mut ignore_load = false;
    let mut extra = Vec::new();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| {
            if let Some(o) = a.strip_prefix("--set=") {
                extra.push(o.to_string());
                return false;
            }
            let flag = a == "--ignore-load";
            ignore_load |= flag;
            !flag
        })
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    EXTRA.get_or_init(|| extra);
    let arg = |i: usize, default: usize| args.get(i).copied().unwrap_or(default);
    let (small_n, runs, large_n, large_runs, reps) = (
        arg(0, 96),
        arg(1, 40),
        arg(2, 512),
        arg(3, 4),
        arg(4, 3).max(1),
    );
    let mut table = MarkdownTable::new(&[
        "sweep",
        "one at a time, all cores",
        "one at a time, 1 thread",
        "worker pool (plan)",
        "speed-up vs all cores",
        "same plan, plain threads",
        "oversubscribed",
    ]);
    table.row(sweep(small_n, runs, reps, false, ignore_load)?);
    if large_runs > 0 {
        table.row(sweep(large_n, large_runs, reps, true, ignore_load)?);
    }
    println!(
        "\n{}\n",
        provenance(
            &example_command("worker_pool_sweep"),
            &format!(
                "caching off; medians of {reps} repetitions, speed-up the median of the per-repetition ratios"
            )
        )
    );
    print!("{table}");
    Ok(())
}
