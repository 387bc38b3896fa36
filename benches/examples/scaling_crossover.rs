//! The measurements behind `femscale-scaling`'s `AdaptiveScaler` thresholds: whole 2D P1
//! Poisson solves (mesh to solution, through `FemSolver`) with the direct solver and with
//! AMG-CG, on 1 and 2 threads, for a range of sizes; plus the memory each prepared solver holds
//! (factor or AMG hierarchy plus work vectors), from which the fill model is calibrated.
//!
//! ```text
//! cargo run --release -p femscale-benches --example scaling_crossover -- 32,64,96,128,192,256,512 5
//! ```
//!
//! Arguments: comma-separated cells per side (default `32,64,128,256`), repetitions (default 5).
//! Output: one tab-separated line per (n, solver, threads):
//! `n dofs solver threads median_s min_s max_s solver_memory_mb bytes_per_dof fill_entries_per_dof`
//! where `fill_entries_per_dof` is `solver_memory / 8 / dofs` (for the direct solver: stored
//! factor values per unknown).

use std::time::Instant;

use femscale::prelude::*;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = args
        .first()
        .map_or("32,64,128,256", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let reps: usize = args.get(1).map_or(Ok(5), |s| s.parse())?;
    println!(
        "n\tdofs\tsolver\tthreads\tmedian_s\tmin_s\tmax_s\tsolver_memory_mb\tbytes_per_dof\tfill_entries_per_dof"
    );
    for &n in &sizes {
        for (kind, pc) in [("direct", "none"), ("cg", "amg")] {
            for threads in [1usize, 2] {
                let base = FemSolver::new();
                let overrides = [
                    format!("solver.kind={kind}"),
                    format!("solver.preconditioner={pc}"),
                    format!("scaling.threads={threads}"),
                    "scaling.level=standard".to_string(),
                    "scaling.enable_caching=false".to_string(),
                    "solver.tolerance=1e-8".to_string(),
                ];
                let refs: Vec<&str> = overrides.iter().map(String::as_str).collect();
                let solver = base.with_overrides(&refs)?;
                let problem = Laplace2d {
                    nx: n,
                    ny: n,
                    source: Some(Source::expr("2*pi^2*sin(pi*x)*sin(pi*y)")),
                    ..Default::default()
                };
                // Warm-up: thread pool, page faults of the allocator.
                let warm = solver.solve_2d_laplace(&problem)?;
                let mut times = Vec::with_capacity(reps);
                for _ in 0..reps {
                    let t = Instant::now();
                    let sol = solver.solve_2d_laplace(&problem)?;
                    times.push(t.elapsed().as_secs_f64());
                    std::hint::black_box(&sol.values);
                }
                let (lo, hi) = times
                    .iter()
                    .fold((f64::INFINITY, 0.0f64), |(a, b), &t| (a.min(t), b.max(t)));
                let med = median(&mut times);
                let dofs = warm.metrics.dofs;
                let bytes = warm.metrics.linear_solve.memory_bytes as f64;
                println!(
                    "{n}\t{dofs}\t{kind}\t{threads}\t{med:.5}\t{lo:.5}\t{hi:.5}\t{:.2}\t{:.1}\t{:.1}",
                    bytes / 1048576.0,
                    bytes / dofs as f64,
                    bytes / 8.0 / dofs as f64
                );
            }
        }
    }
    Ok(())
}
