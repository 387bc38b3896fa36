//! Scaling of AMG-preconditioned CG on the 2D P1 Poisson matrix (the 5-point Laplacian on the
//! `(n-1)^2` interior nodes of an `n x n`-cell unit square), relative residual `1e-8`,
//! right-hand side `f = 2π² sin(πx) sin(πy)` sampled (times `h²`).
//!
//! Run with `cargo run --release -p femscale-solvers --example amg_scaling [n ...] [ones]`
//! (`ones`: right-hand side of all ones instead).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use femscale_core::{
    CsrMatrix, LinearSolver, NoMonitor, Preconditioner, PreconditionerFactory, SolveError,
    SolverOptions, SparsityPattern,
};
use femscale_solvers::ConjugateGradient;
use femscale_solvers::amg::{AmgFactory, AmgSolver};
use femscale_solvers::options::AmgOptions;

/// The 5-point Laplacian on the `m x m` interior grid (`m = n - 1`).
fn poisson(n: usize) -> CsrMatrix {
    let m = n - 1;
    let size = m * m;
    let mut rp = Vec::with_capacity(size + 1);
    let mut ci = Vec::with_capacity(5 * size);
    let mut v = Vec::with_capacity(5 * size);
    rp.push(0);
    for y in 0..m {
        for x in 0..m {
            let i = y * m + x;
            if y > 0 {
                ci.push(i - m);
                v.push(-1.0);
            }
            if x > 0 {
                ci.push(i - 1);
                v.push(-1.0);
            }
            ci.push(i);
            v.push(4.0);
            if x + 1 < m {
                ci.push(i + 1);
                v.push(-1.0);
            }
            if y + 1 < m {
                ci.push(i + m);
                v.push(-1.0);
            }
            rp.push(ci.len());
        }
    }
    let ci = femscale_core::narrow_indices(&ci, "col_idx").expect("columns fit u32");
    let pattern = SparsityPattern::try_new(size, size, rp, ci).expect("valid pattern");
    CsrMatrix::try_from_pattern_and_values(Arc::new(pattern), v).expect("valid values")
}

fn rhs(n: usize) -> Vec<f64> {
    let m = n - 1;
    let h = 1.0 / n as f64;
    let pi = std::f64::consts::PI;
    (0..m * m)
        .map(|i| {
            let (x, y) = ((i % m + 1) as f64 * h, (i / m + 1) as f64 * h);
            2.0 * pi * pi * (pi * x).sin() * (pi * y).sin() * h * h
        })
        .collect()
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// An [`AmgFactory`] that records the shape of the hierarchies it builds.
#[derive(Debug, Default)]
struct Recording {
    inner: AmgFactory,
    last: Mutex<(usize, f64, Vec<usize>)>,
}

impl PreconditionerFactory for Recording {
    fn name(&self) -> &'static str {
        "amg"
    }

    fn build(&self, a: &CsrMatrix) -> Result<Box<dyn Preconditioner>, SolveError> {
        let h = self.inner.build_with_budget(a, None, None)?;
        *self.last.lock().unwrap() = (
            h.num_levels(),
            h.operator_complexity(),
            h.levels().iter().map(|l| l.rows).collect(),
        );
        Ok(Box::new(h))
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    let ones = std::env::args().any(|s| s == "ones");
    let sizes = if sizes.is_empty() {
        vec![128, 256, 512, 1024]
    } else {
        sizes
    };
    println!(
        "threads = {}, smoother = {:?}",
        rayon::current_num_threads(),
        AmgOptions::default().smoother
    );
    println!(
        "{:>5} {:>9} {:>6} {:>6} {:>8} {:>8} {:>8} {:>5} {:>10} {:>8} {:>8} {:>5} {:>8}  level sizes",
        "n",
        "unknowns",
        "levels",
        "opcx",
        "setup s",
        "solve s",
        "total s",
        "its",
        "rel.res",
        "2nd s",
        "amg s",
        "its",
        "RSS MB"
    );
    let options = SolverOptions::default();
    for n in sizes {
        let a = Arc::new(poisson(n));
        let b = if ones { vec![1.0; a.nrows()] } else { rhs(n) };
        let factory = Arc::new(Recording::default());
        let cg = ConjugateGradient::new(factory.clone());
        let t0 = Instant::now();
        let mut prepared = cg.prepare(Arc::clone(&a), &options).expect("amg set-up");
        let setup = t0.elapsed().as_secs_f64();
        let mut x = vec![0.0; b.len()];
        let t1 = Instant::now();
        let report = prepared.solve(&b, &mut x, &mut NoMonitor).expect("amg-cg");
        let solve = t1.elapsed().as_secs_f64();
        let mut x2 = vec![0.0; b.len()];
        let t2 = Instant::now();
        prepared
            .solve(&b, &mut x2, &mut NoMonitor)
            .expect("second solve");
        let second = t2.elapsed().as_secs_f64();
        drop(prepared);

        let t3 = Instant::now();
        let mut standalone = AmgSolver::default()
            .prepare(Arc::clone(&a), &options)
            .expect("amg solver set-up");
        let mut x3 = vec![0.0; b.len()];
        let amg_report = standalone
            .solve(&b, &mut x3, &mut NoMonitor)
            .expect("amg solve");
        let amg_total = t3.elapsed().as_secs_f64();
        drop(standalone);

        let (levels, complexity, rows) = factory.last.lock().unwrap().clone();
        println!(
            "{n:>5} {:>9} {levels:>6} {complexity:>6.3} {setup:>8.3} {solve:>8.3} {:>8.3} {:>5} {:>10.3e} {second:>8.3} {amg_total:>8.3} {:>5} {:>8.1}  {rows:?}",
            a.nrows(),
            setup + solve,
            report.iterations,
            report.final_relative_residual,
            amg_report.iterations,
            peak_rss_mb(),
        );
    }
}
