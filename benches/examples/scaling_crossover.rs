//! The measurements behind `femscale-scaling`'s `AdaptiveScaler` thresholds and memory model:
//! whole Poisson solves (mesh to solution, through `FemSolver`) with the direct solver and with
//! AMG-CG, on 1 and 2 threads, for a range of sizes; plus the memory each prepared solver holds
//! (factor or AMG hierarchy plus work vectors), from which the fill model is calibrated.
//!
//! ```text
//! cargo run --release -p femscale-benches --example scaling_crossover -- 32,64,96,128,192,256,512 5
//! cargo run --release -p femscale-benches --example scaling_crossover -- 8,12,16,20 3 tet-p1
//! ```
//!
//! Arguments: comma-separated cells per side (default `32,64,128,256`), repetitions (default 5),
//! the element (default `tri-p1`; also `quad-q1`, `tri-p2`, `quad-q2` on the unit square and
//! `tet-p1`, `hex-q1`, `tet-p2`, `hex-q2` on the unit cube) and `1` to time one thread only.
//! Prints a markdown table: per size, the median whole-solve time of each solver on 1 and 2
//! threads (after one untimed warm-up solve each), the memory each prepared solver holds and
//! the peak resident memory of the first direct solve; `fill/unknown` is
//! `solver_memory / 8 / dofs` for the direct solver (stored factor values per unknown, the
//! quantity `MemoryModel::factor_entries` estimates), `fill/nnz(A)` the same over the matrix
//! entries.

use std::time::Instant;

use femscale::prelude::*;
use femscale_benches::stats::median;
use femscale_benches::table::{MarkdownTable, count, example_command, provenance};

/// Milliseconds with two significant decimals for small solves.
fn ms(seconds: f64) -> String {
    format!("{:.2} ms", seconds * 1e3)
}

/// The `[problem]` section of a Poisson problem with a manufactured solution on `n` cells per
/// side of the element `case` names.
fn problem_toml(case: &str, n: usize) -> anyhow::Result<String> {
    let (cell, order) = match case.split_once('-') {
        Some((cell, "p1" | "q1")) => (cell, 1),
        Some((cell, "p2" | "q2")) => (cell, 2),
        _ => anyhow::bail!("unknown element {case}"),
    };
    let (mesh, source, exact) = match cell {
        "tri" | "quad" => (
            format!(
                "{{ kind = \"rectangle\", nx = {n}, ny = {n}, cell = \"{}\" }}",
                if cell == "tri" {
                    "triangle"
                } else {
                    "quadrilateral"
                }
            ),
            "2*pi^2*sin(pi*x)*sin(pi*y)",
            "sin(pi*x)*sin(pi*y)",
        ),
        "tet" | "hex" => (
            format!(
                "{{ kind = \"box\", nx = {n}, ny = {n}, nz = {n}, cell = \"{}\" }}",
                if cell == "tet" {
                    "tetrahedron"
                } else {
                    "hexahedron"
                }
            ),
            "3*pi^2*sin(pi*x)*sin(pi*y)*sin(pi*z)",
            "sin(pi*x)*sin(pi*y)*sin(pi*z)",
        ),
        _ => anyhow::bail!("unknown cell {cell}"),
    };
    Ok(format!(
        "[problem]\norder = {order}\nmesh = {mesh}\nsource = \"{source}\"\nexact = \"{exact}\"\n\
         boundary = [{{ where = \"all\", kind = \"dirichlet\", value = 0.0 }}]\n"
    ))
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
    let case = args.get(2).map_or("tri-p1", String::as_str);
    let thread_counts: &[usize] = match args.get(3).map(String::as_str) {
        Some("1") => &[1],
        _ => &[1, 2],
    };
    let mut header = vec!["n".to_string(), "unknowns".into(), "nnz(A)/row".into()];
    for solver in ["direct", "AMG-CG"] {
        for t in thread_counts {
            header.push(format!("{solver}, {t} thr"));
        }
    }
    header.extend(
        [
            "direct memory",
            "fill/unknown",
            "fill/nnz(A)",
            "direct peak RSS",
            "AMG-CG memory",
        ]
        .map(String::from),
    );
    let mut table = MarkdownTable::new(&header);
    for &n in &sizes {
        let base = FemSolver::from_config(Config::from_toml_str(&problem_toml(case, n)?)?)?;
        let (mut cells, mut memory, mut dofs, mut nnz, mut peak) =
            (Vec::new(), Vec::new(), 0, 0, 0.0);
        for (kind, pc) in [("direct", "none"), ("cg", "amg")] {
            for &threads in thread_counts {
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
                // Warm-up: thread pool, page faults of the allocator.
                let warm = solver.solve_configured()?;
                let mut times = Vec::with_capacity(reps);
                for _ in 0..reps {
                    let t = Instant::now();
                    let sol = solver.solve_configured()?;
                    times.push(t.elapsed().as_secs_f64());
                    std::hint::black_box(&sol.values);
                }
                (dofs, nnz) = (warm.metrics.dofs, warm.metrics.nnz);
                cells.push(ms(median(&times)));
                if threads == 1 {
                    memory.push(warm.metrics.linear_solve.memory_bytes as f64);
                    if kind == "direct" {
                        peak = warm.metrics.peak_rss_mb.unwrap_or(f64::NAN);
                    }
                }
            }
        }
        let mb = |bytes: f64| format!("{:.1} MB", bytes / 1048576.0);
        let mut row = vec![
            n.to_string(),
            count(dofs),
            format!("{:.1}", nnz as f64 / dofs as f64),
        ];
        row.extend(cells);
        row.push(mb(memory[0]));
        row.push(format!("{:.1}", memory[0] / 8.0 / dofs as f64));
        row.push(format!("{:.2}", memory[0] / 8.0 / nnz as f64));
        row.push(format!("{peak:.0} MB"));
        row.push(mb(memory[1]));
        table.row(row);
    }
    println!(
        "{}\n",
        provenance(
            &example_command("scaling_crossover"),
            &format!("{case}: whole solves, relative residual 1e-8; medians of {reps} solves")
        )
    );
    print!("{table}");
    Ok(())
}
