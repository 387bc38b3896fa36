//! Real experiments (`Experiment::run`, what `femscale run` does) with the runs in flight
//! planned automatically (the adaptive scaler and the worker pool) against one run at a time.
//!
//! ```text
//! cargo run --release -p femscale-benches --example experiment_sweep -- [ROUNDS SMALL_RUNS LARGE_N LARGE_RUNS]
//! ```
//!
//! Defaults: 3 rounds; a sweep of 40 small 2D Poisson points (`[sweep.zip]` nx = ny = 48, 50,
//! …, 62 × 5 diffusion coefficients: 2,401–3,969 unknowns, `solver.kind = "auto"`, i.e. the
//! direct solver), then 4 large points of 512 × 512 (263,169 unknowns, AMG-CG). Caching is off
//! so that every run computes, and every experiment writes to a fresh directory (nothing is
//! resumed). Each round runs both variants, alternating which goes first; the medians over the
//! rounds and the median of the per-round ratios are printed, with the plan, the pool's
//! statistics and the load average before and after (the machine may be shared), and at the end
//! the markdown table of `docs/performance.md`.
//!
//! * `one at a time` — `parallel_runs = 1`: each run gets every core;
//! * `automatic` — `parallel_runs = 0`: the adaptive scaler's plan on the worker pool.

use std::path::Path;
use std::time::Instant;

use femscale::experiment::{Experiment, ExperimentReport, RunOptions};
use femscale_benches::stats::{median, median_ratio};
use femscale_benches::table::{
    MarkdownTable, count, example_command, load_average, provenance, secs, times,
};

/// An experiment file in `dir` with `sweep` as its sweep tables.
fn experiment_file(dir: &Path, name: &str, sweep: &str) -> anyhow::Result<std::path::PathBuf> {
    let text = format!(
        r#"
[problem]
mesh = {{ kind = "rectangle", nx = 48, ny = 48, cell = "triangle" }}
source = "2*pi^2*sin(pi*x)*sin(pi*y)"

[solver]
kind = "auto"
tolerance = 1e-8

[scaling]
enable_caching = false

[experiment]
name = "{name}"

[output]
formats = ["jsonl"]

{sweep}
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Runs the experiment into a fresh directory with `parallel_runs` (0: automatic).
fn run(
    exp: &Experiment,
    dir: &Path,
    parallel_runs: usize,
    round: usize,
) -> anyhow::Result<(f64, ExperimentReport)> {
    let out = dir.join(format!("out-{parallel_runs}-{round}"));
    let t = Instant::now();
    let report = exp.run(&RunOptions {
        output_dir: Some(out),
        parallel_runs: Some(parallel_runs),
        progress: Some(std::sync::Arc::new(|_: &_| {})),
        ..Default::default()
    })?;
    let seconds = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.all_ok() && report.ran == exp.total_runs(),
        "{} of {} runs failed: {:?}",
        report.failed,
        report.total,
        report.records.iter().find_map(|r| r.error.as_deref())
    );
    Ok((seconds, report))
}

/// One row of the table: the sweep, both medians, the ratio and the plan.
type Row = [String; 4];

fn compare(label: &str, exp: &Experiment, dir: &Path, rounds: usize) -> anyhow::Result<Row> {
    println!(
        "{label}: {} runs; load average before: {}",
        exp.total_runs(),
        load_average()
    );
    // Warm-up: page faults, thread pools, expression compilation.
    run(exp, dir, 0, usize::MAX)?;
    let (mut one, mut auto) = (Vec::new(), Vec::new());
    // Mean wall time of one run inside the runner (`RunRecord::seconds`) and of its solve
    // (`total_solve_time`), per variant: how much runs in flight slow each other down.
    let (mut per_run_one, mut per_run_auto) = (Vec::new(), Vec::new());
    let mut last = None;
    for round in 0..rounds {
        // Alternate the order so that neither variant always runs on a warmer machine.
        for first in [round % 2 == 0, round % 2 != 0] {
            if first {
                let (t, report) = run(exp, dir, 1, round)?;
                one.push(t);
                per_run_one.push(per_run(&report));
            } else {
                let (t, report) = run(exp, dir, 0, round)?;
                auto.push(t);
                per_run_auto.push(per_run(&report));
                last = Some(report);
            }
        }
    }
    let report = last.expect("at least one round");
    let means = |v: &[(f64, f64)]| {
        let n = v.len() as f64;
        (
            1e3 * v.iter().map(|p| p.0).sum::<f64>() / n,
            1e3 * v.iter().map(|p| p.1).sum::<f64>() / n,
        )
    };
    let ((r1, s1), (ra, sa)) = (means(&per_run_one), means(&per_run_auto));
    let pool = &report.worker_pool;
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|t| format!("{t:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (m1, ma, ratio) = (median(&one), median(&auto), median_ratio(&one, &auto));
    println!(
        "  one at a time (parallel_runs = 1)  median {m1:8.3} s   [{}]",
        fmt(&one)
    );
    println!(
        "  automatic     (parallel_runs = 0)  median {ma:8.3} s   [{}]   {ratio:.2}x (median of per-round ratios)",
        fmt(&auto),
    );
    println!(
        "  plan: {} run(s) x {} thread(s) [{}]",
        report.parallel_runs, report.threads_per_run, report.plan_rationale
    );
    println!(
        "  pool: peak {} workers, {} scale-ups, {} scale-downs, {} jobs, peak CPU threads {} of {} cores",
        pool.peak_workers,
        pool.scale_ups,
        pool.scale_downs,
        pool.jobs_completed,
        pool.peak_cpu_threads,
        pool.cores
    );
    println!(
        "  one run: {r1:.2} ms (solve {s1:.2} ms) one at a time, {ra:.2} ms (solve {sa:.2} ms) automatic"
    );
    println!("  load average after: {}", load_average());
    let metrics: Vec<_> = report
        .records
        .iter()
        .filter_map(|r| r.metrics.as_ref())
        .collect();
    let dofs =
        |pick: fn(usize, usize) -> usize| metrics.iter().map(|m| m.dofs).reduce(pick).unwrap_or(0);
    let (lo, hi) = (dofs(usize::min), dofs(usize::max));
    let mut solvers: Vec<String> = metrics
        .iter()
        .map(|m| format!("{} + {}", m.solver, m.preconditioner))
        .collect();
    solvers.dedup();
    let unknowns = if lo == hi {
        count(lo)
    } else {
        format!("{}–{}", count(lo), count(hi))
    };
    Ok([
        format!(
            "{} points, {unknowns} unknowns, {}",
            exp.total_runs(),
            solvers.join(", ")
        ),
        secs(m1),
        format!(
            "{} ({} runs × {} thread(s))",
            secs(ma),
            report.parallel_runs,
            report.threads_per_run
        ),
        times(ratio),
    ])
}

/// Mean seconds of one run in the runner and of its solve.
fn per_run(report: &ExperimentReport) -> (f64, f64) {
    let n = report.records.len().max(1) as f64;
    let run: f64 = report.records.iter().map(|r| r.seconds).sum();
    let solve: f64 = report
        .records
        .iter()
        .filter_map(|r| r.metrics.as_ref())
        .map(|m| m.total_solve_time)
        .sum();
    (run / n, solve / n)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let arg = |i: usize, default: usize| args.get(i).copied().unwrap_or(default);
    let (rounds, small_runs, large_n, large_runs) =
        (arg(0, 3).max(1), arg(1, 40), arg(2, 512), arg(3, 4));
    let dir = tempfile::tempdir()?;
    let mut table = MarkdownTable::new(&["sweep", "one at a time", "automatic (plan)", "speed-up"]);

    if small_runs > 0 {
        // Meshes 48, 50, ... (as many as needed) × 5 diffusion coefficients.
        let meshes = small_runs.div_ceil(5);
        let sizes: Vec<String> = (0..meshes).map(|i| (48 + 2 * i).to_string()).collect();
        let diffusions: Vec<String> = (0..small_runs.min(5))
            .map(|i| format!("{:.1}", 1.0 + 0.5 * i as f64))
            .collect();
        let sweep = format!(
            "[sweep]\n\"problem.diffusion\" = [{}]\n[sweep.zip]\n\"problem.mesh.nx\" = [{s}]\n\"problem.mesh.ny\" = [{s}]\n",
            diffusions.join(", "),
            s = sizes.join(", ")
        );
        let path = experiment_file(dir.path(), "small", &sweep)?;
        let exp = Experiment::load(&path, &[])?;
        table.row(compare("small sweep", &exp, dir.path(), rounds)?);
    }
    if large_runs > 0 {
        let diffusions: Vec<String> = (0..large_runs)
            .map(|i| format!("{:.1}", 1.0 + 0.5 * i as f64))
            .collect();
        let sweep = format!(
            "[sweep]\n\"problem.diffusion\" = [{}]\n",
            diffusions.join(", ")
        );
        let path = experiment_file(dir.path(), "large", &sweep)?;
        let set = [
            format!("problem.mesh.nx={large_n}"),
            format!("problem.mesh.ny={large_n}"),
        ];
        let exp = Experiment::load(&path, &set)?;
        table.row(compare("large sweep", &exp, dir.path(), rounds)?);
    }
    println!(
        "\n{}\n",
        provenance(
            &example_command("experiment_sweep"),
            &format!(
                "caching off; medians of {rounds} rounds, speed-up the median of the per-round ratios"
            )
        )
    );
    print!("{table}");
    Ok(())
}
