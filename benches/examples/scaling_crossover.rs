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
//! Prints a markdown table: per size, the median whole-solve time of each solver on 1 and 2
//! threads (after one untimed warm-up solve each) and the memory each prepared solver holds;
//! `direct fill` is `solver_memory / 8 / dofs` for the direct solver (stored factor values per
//! unknown).

use std::time::Instant;

use femscale::prelude::*;
use femscale_benches::stats::median;
use femscale_benches::table::{MarkdownTable, count, example_command, provenance};

/// Milliseconds with two significant decimals for small solves.
fn ms(seconds: f64) -> String {
    format!("{:.2} ms", seconds * 1e3)
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
    let mut table = MarkdownTable::new(&[
        "n",
        "unknowns",
        "direct, 1 thr",
        "direct, 2 thr",
        "AMG-CG, 1 thr",
        "AMG-CG, 2 thr",
        "direct memory",
        "direct fill (entries/unknown)",
        "AMG-CG memory",
    ]);
    for &n in &sizes {
        let (mut cells, mut memory, mut dofs) = (Vec::new(), Vec::new(), 0);
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
                dofs = warm.metrics.dofs;
                cells.push(ms(median(&times)));
                if threads == 1 {
                    memory.push(warm.metrics.linear_solve.memory_bytes as f64);
                }
            }
        }
        let mb = |bytes: f64| format!("{:.1} MB", bytes / 1048576.0);
        let mut row = vec![n.to_string(), count(dofs)];
        row.extend(cells);
        row.push(mb(memory[0]));
        row.push(format!("{:.1}", memory[0] / 8.0 / dofs as f64));
        row.push(mb(memory[1]));
        table.row(row);
    }
    println!(
        "{}\n",
        provenance(
            &example_command("scaling_crossover"),
            &format!("whole solves, relative residual 1e-8; medians of {reps} solves")
        )
    );
    print!("{table}");
    Ok(())
}
