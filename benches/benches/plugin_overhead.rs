//! Plugin overhead: the same algorithm (`chebyshev-cg` of `plugins/chebyshev`) compiled into
//! this binary and called directly (the baseline), against the same crate loaded at run time as
//! a plugin (dynamic library, FFI-safe trait objects, the runtime's adapter to
//! `LinearSolver`/`PreparedSolver`, the host monitor on every iteration). Two intermediate paths
//! split the difference: the crate's own code through the plugin ABI without loading a library
//! (the cost of the ABI calls), and the loaded library through the ABI without the runtime's
//! adapter (the cost of the adapter; the rest is the same source compiled into another binary).
//!
//! Each repetition times set-up plus one solve of the 5-point Laplacian on an `m x m` grid
//! (default 1000: 10^6 unknowns), built-in and plugin in alternating order after one untimed
//! warm-up each; prints every time, the medians and the ratios plugin / built-in of wall-clock
//! time and of process CPU time (user + system, from `/proc/self/stat` on Linux). On a busy
//! machine wall-clock times mostly measure the other processes; with one thread the CPU time
//! measures the work itself.
//!
//! ```text
//! cargo bench -p femscale-benches --bench plugin_overhead              # m = 1000, 5 reps, all cores
//! cargo bench -p femscale-benches --bench plugin_overhead -- 1000 7 1  # m, repetitions, threads
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use abi_stable::library::lib_header_from_path;
use abi_stable::sabi_trait::TD_Opaque;
use anyhow::Context;
use femscale::core::{CsrMatrix, NoMonitor, SolverOptions, SparsityPattern};
use femscale::runtime::plugins;
use femscale_benches::stats::{median, median_confidence_interval};
use femscale_plugin_api::objects::RMonitor_TO;
use femscale_plugin_api::sdk::{Csr, FnMonitor, Monitor, PreparedSolver, Solver};
use femscale_plugin_api::{PluginModRef, SolveParams, SolverBox};
use femscale_plugin_chebyshev::ChebyshevCg;

const OPTIONS: &str = r#"{"degree": 4}"#;
const TOLERANCE: f64 = 1e-6;

/// The 5-point Laplacian on an `m x m` grid of interior nodes.
fn laplace(m: usize) -> anyhow::Result<CsrMatrix> {
    let n = m * m;
    let (mut row_ptr, mut col_idx, mut values) = (
        Vec::with_capacity(n + 1),
        Vec::with_capacity(5 * n),
        Vec::with_capacity(5 * n),
    );
    row_ptr.push(0);
    for i in 0..m {
        for j in 0..m {
            let k = i * m + j;
            let neighbours = [
                (i > 0).then(|| k - m),
                (j > 0).then(|| k - 1),
                Some(k),
                (j + 1 < m).then(|| k + 1),
                (i + 1 < m).then(|| k + m),
            ];
            for c in neighbours.into_iter().flatten() {
                col_idx.push(u32::try_from(c)?);
                values.push(if c == k { 4.0 } else { -1.0 });
            }
            row_ptr.push(col_idx.len());
        }
    }
    let pattern = SparsityPattern::try_new(n, n, row_ptr, col_idx)?;
    Ok(CsrMatrix::try_from_pattern_and_values(
        Arc::new(pattern),
        values,
    )?)
}

/// The plugin library: next to this binary (it is built there as a dependency), or the path
/// in `FEMSCALE_PLUGIN`.
fn plugin_path() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("FEMSCALE_PLUGIN") {
        return Ok(p.into());
    }
    let file = format!(
        "{}femscale_plugin_chebyshev{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("the binary's directory")?;
    [dir.join(&file), dir.join("..").join(&file)]
        .into_iter()
        .find(|p| p.is_file())
        .with_context(|| format!("{file} not found next to {}", dir.display()))
}

/// CPU seconds (user + system, all threads) of this process so far, where the system says.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel's USER_HZ, 100 on every Linux platform femscale runs on.
    Some(ticks / 100.0)
}

/// Wall-clock and CPU seconds of `f`.
fn timed<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(f64, f64, T)> {
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let value = f()?;
    let cpu = match (cpu, cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    Ok((start.elapsed().as_secs_f64(), cpu, value))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.parse())
        .collect::<Result<_, _>>()
        .context("arguments: [grid side m] [repetitions]")?;
    let m = args.first().copied().unwrap_or(1000);
    let reps = args.get(1).copied().unwrap_or(5).max(1);
    let threads = args
        .get(2)
        .copied()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let a = Arc::new(laplace(m)?);
    let n = a.nrows();
    let b: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64 / 7.0).collect();

    let mut options = SolverOptions::default();
    options.tolerance = TOLERANCE;
    options.max_iterations = 100_000;
    options.threads = threads;
    let params = SolveParams {
        tolerance: TOLERANCE,
        max_iterations: 100_000,
        threads,
        ..SolveParams::default()
    };

    let path = plugin_path()?;
    let plugin = plugins::load(&path)?;
    let as_plugin = plugin.solver("chebyshev-cg", OPTIONS)?;
    let built_in = ChebyshevCg::from_json(OPTIONS)?;
    // The same crate behind the plugin interface, without loading a library...
    let in_process = femscale_plugin_chebyshev::plugin().new_solver("chebyshev-cg", OPTIONS)?;
    // ... and the loaded library's root module, called without the runtime's adapter.
    let module = lib_header_from_path(&path)?.init_root_module::<PluginModRef>()?;
    let raw_plugin = (module.new_solver())("chebyshev-cg".into(), OPTIONS.into())
        .into_result()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // The plugin interface takes `usize` columns; femscale stores `u32`.
    let cols = a.pattern().wide_col_idx();
    let csr = Csr {
        nrows: n,
        ncols: n,
        row_ptr: a.pattern().row_ptr(),
        col_idx: &cols,
        values: a.values(),
    };
    let through_abi = |solver: &SolverBox| -> anyhow::Result<usize> {
        let mut prepared = solver
            .prepare(csr.to_abi(), params)
            .into_result()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut x = vec![0.0; n];
        let mut go_on = FnMonitor(|_, _| true);
        let monitor = RMonitor_TO::from_ptr(&mut go_on, TD_Opaque);
        let out = prepared
            .solve(
                csr.to_abi(),
                b.as_slice().into(),
                x.as_mut_slice().into(),
                params,
                monitor,
            )
            .into_result()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(out.iterations)
    };

    // Each path: set-up plus one solve.
    type Path<'a> = (&'a str, Box<dyn Fn() -> anyhow::Result<usize> + 'a>);
    let paths: Vec<Path<'_>> = vec![
        (
            "built-in (the crate called directly)",
            Box::new(|| {
                let mut prepared = built_in.prepare(csr, &params)?;
                let mut x = vec![0.0; n];
                let mut go_on = FnMonitor(|_, _| true);
                let mut monitor = Monitor::from_fn(&mut go_on);
                Ok(prepared
                    .solve(csr, &b, &mut x, &params, &mut monitor)?
                    .iterations)
            }),
        ),
        (
            "the crate through the plugin ABI, in-process",
            Box::new(|| through_abi(&in_process)),
        ),
        (
            "the loaded library through the plugin ABI",
            Box::new(|| through_abi(&raw_plugin)),
        ),
        (
            "plugin: loaded library + runtime adapter",
            Box::new(|| {
                let mut prepared = as_plugin.prepare(a.clone(), &options)?;
                let mut x = vec![0.0; n];
                Ok(prepared.solve(&b, &mut x, &mut NoMonitor)?.iterations)
            }),
        ),
    ];

    println!(
        "plugin overhead: chebyshev-cg (degree 4, tolerance {TOLERANCE:e}) on the 5-point \
         Laplacian, {m} x {m} = {n} unknowns, {threads} threads, {reps} repetitions"
    );
    println!("plugin library: {}", plugin.path().display());
    let mut iterations = Vec::new();
    for (_, run) in &paths {
        iterations.push(run()?); // warm-up, untimed
    }
    anyhow::ensure!(
        iterations.iter().all(|&it| it == iterations[0]),
        "the paths differ in iterations: {iterations:?}"
    );
    let mut wall = vec![Vec::new(); paths.len()];
    let mut cpu = vec![Vec::new(); paths.len()];
    for rep in 0..reps {
        // Rotate the order so that no path always runs first.
        for k in 0..paths.len() {
            let i = (k + rep) % paths.len();
            let (w, c, _) = timed(|| (paths[i].1)())?;
            wall[i].push(w);
            cpu[i].push(c);
        }
        let line: Vec<String> = (0..paths.len())
            .map(|i| format!("{:.2}/{:.2}", wall[i][rep], cpu[i][rep]))
            .collect();
        println!("  repetition {rep} (wall/CPU s): {}", line.join("  "));
    }
    let (wall0, cpu0) = (median(&wall[0]), median(&cpu[0]));
    println!(
        "{:<46} {:>12} {:>8} {:>12} {:>8}",
        "path", "median wall", "ratio", "median CPU", "ratio"
    );
    for (i, (name, _)) in paths.iter().enumerate() {
        let (w, c) = (median(&wall[i]), median(&cpu[i]));
        println!(
            "{name:<46} {w:>10.3} s {:>8.4} {c:>10.3} s {:>8.4}",
            w / wall0,
            c / cpu0
        );
    }
    // Each round times every path once, so the per-round ratio against the built-in path
    // cancels what the machine did in that round; its median gets a distribution-free interval.
    println!("per-round ratios to the built-in path: median [95 % interval of the median]");
    for (i, (name, _)) in paths.iter().enumerate().skip(1) {
        let ratios =
            |t: &[Vec<f64>]| -> Vec<f64> { t[i].iter().zip(&t[0]).map(|(a, b)| a / b).collect() };
        let describe = |r: &[f64]| {
            let (low, high, coverage) = median_confidence_interval(r, 0.95);
            format!(
                "{:.4} [{low:.4}, {high:.4}] ({:.1} %)",
                median(r),
                100.0 * coverage
            )
        };
        println!(
            "{name:<46} wall {}  CPU {}",
            describe(&ratios(&wall)),
            describe(&ratios(&cpu))
        );
    }
    Ok(())
}
