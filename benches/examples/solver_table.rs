//! The linear-solver table of `docs/performance.md`: on the 2D P1 Poisson benchmark matrix
//! (parallel assembly, relative residual 1e-8), set-up, first solve, a second right-hand side on
//! the prepared solver, iterations and peak RSS, for a list of sizes and thread counts.
//!
//! ```text
//! cargo run --release -p femscale-benches --example solver_table -- cg amg 128,256,512,1024 3 2,1
//! cargo run --release -p femscale-benches --example solver_table -- direct none 1024 3 2,1
//! ```
//!
//! Arguments: solver, preconditioner, comma-separated sizes (cells per side), repetitions, and
//! comma-separated thread counts (the first is the one the detailed columns are for). Every
//! measurement runs in a fresh child process (this example with `--one`), so that the peak RSS
//! is that of one configuration (assembly included) and no run inherits another's warm pages;
//! the repetitions of one size alternate the thread counts. The table holds medians over the
//! repetitions; the ratio column is the median of the per-run ratios (set-up + solve) / second
//! solve.
//!
//! `--one SOLVER PC N THREADS` prints one tab-separated line
//! `unknowns iterations setup_s solve_s second_solve_s rel_residual peak_rss_mb`.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use femscale::core::NoMonitor;
use femscale::prelude::*;
use femscale::runtime::Registry;
use femscale::solvers::MethodOptions;
use femscale_benches::pipeline_until_solve;
use femscale_benches::stats::{median, median_ratio};
use femscale_benches::table::{
    MarkdownTable, count, example_command, peak_rss_mb, provenance, secs, times,
};

/// One measurement, as the child prints it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    unknowns: usize,
    iterations: usize,
    setup: f64,
    solve: f64,
    second: f64,
    peak_rss_mb: f64,
}

/// Measures one configuration in this process and prints its line.
fn measure_one(solver_name: &str, pc_name: &str, n: usize, threads: usize) -> anyhow::Result<()> {
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
        Registry::with_builtins().solver(solver_name, pc_name, &MethodOptions::default())?;
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
        "{}\t{}\t{setup:.6}\t{solve:.6}\t{second:.6}\t{:.2e}\t{:.1}",
        b.len(),
        report.iterations,
        report.final_relative_residual,
        peak_rss_mb()
    );
    Ok(())
}

/// Runs `--one` in a child process and parses its line.
fn child(solver: &str, pc: &str, n: usize, threads: usize) -> anyhow::Result<Sample> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--one", solver, pc, &n.to_string(), &threads.to_string()])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{solver} + {pc} at n = {n} on {threads} threads failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)?;
    let f: Vec<&str> = text.trim().split('\t').collect();
    anyhow::ensure!(f.len() == 7, "unexpected child output {text:?}");
    Ok(Sample {
        unknowns: f[0].parse()?,
        iterations: f[1].parse()?,
        setup: f[2].parse()?,
        solve: f[3].parse()?,
        second: f[4].parse()?,
        peak_rss_mb: f[6].parse()?,
    })
}

fn list(arg: Option<&String>, default: &str) -> anyhow::Result<Vec<usize>> {
    arg.map_or(default, String::as_str)
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .with_context(|| format!("not a number: {s:?}"))
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        anyhow::ensure!(args.len() == 5, "--one SOLVER PC N THREADS");
        return measure_one(&args[1], &args[2], args[3].parse()?, args[4].parse()?);
    }
    let solver = args.first().map_or("cg", String::as_str);
    let pc = args.get(1).map_or("amg", String::as_str);
    let sizes = list(args.get(2), "128,256,512,1024")?;
    let reps: usize = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let threads = list(args.get(4), "2,1")?;
    anyhow::ensure!(
        reps > 0 && !threads.is_empty(),
        "need repetitions and threads"
    );
    let main_threads = threads[0];

    let mut header = vec![
        "n".to_string(),
        "unknowns".into(),
        "iterations".into(),
        format!("set-up {main_threads} thr"),
        format!("solve {main_threads} thr"),
        format!("total {main_threads} thr"),
        format!("2nd RHS {main_threads} thr"),
        "total / 2nd RHS".into(),
    ];
    header.extend(threads[1..].iter().map(|t| format!("total {t} thr")));
    header.push(format!("peak RSS {main_threads} thr"));
    let mut table = MarkdownTable::new(&header);
    for &n in &sizes {
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); threads.len()];
        for _ in 0..reps {
            for (k, &t) in threads.iter().enumerate() {
                samples[k].push(child(solver, pc, n, t)?);
            }
        }
        let pick =
            |k: usize, f: fn(&Sample) -> f64| -> Vec<f64> { samples[k].iter().map(f).collect() };
        let totals = |k: usize| pick(k, |s| s.setup + s.solve);
        let iterations: Vec<f64> = pick(0, |s| s.iterations as f64);
        let mut row = vec![
            n.to_string(),
            count(samples[0][0].unknowns),
            format!("{}", median(&iterations)),
            secs(median(&pick(0, |s| s.setup))),
            secs(median(&pick(0, |s| s.solve))),
            secs(median(&totals(0))),
            secs(median(&pick(0, |s| s.second))),
            times(median_ratio(&totals(0), &pick(0, |s| s.second))),
        ];
        row.extend((1..threads.len()).map(|k| secs(median(&totals(k)))));
        row.push(format!("{:.0} MB", median(&pick(0, |s| s.peak_rss_mb))));
        table.row(row);
    }
    println!(
        "{}\n",
        provenance(
            &example_command("solver_table"),
            &format!(
                "{solver} + {pc}, relative residual 1e-8; medians of {reps} runs, each in its own process"
            )
        )
    );
    print!("{table}");
    Ok(())
}
