//! A manufactured solution on the unit square, refined four times: `u = sin(pi x) sin(pi y)`,
//! `f = 2 pi^2 sin(pi x) sin(pi y)`, `u = 0` on the boundary. Prints the L2 and H1 errors and
//! their observed rates (P1: 2 and 1).
//!
//! ```text
//! cargo run --release -p femscale-examples --example ex01_poisson_2d_convergence
//! ```

use femscale::prelude::*;

fn main() -> anyhow::Result<()> {
    // 1. One solver for all refinements.
    let solver = FemSolver::new();
    println!(
        "{:>6} {:>9} {:>12} {:>6} {:>12} {:>6} {:>9}",
        "n", "dofs", "L2 error", "rate", "H1 error", "rate", "time [s]"
    );

    // 2. Solve on n x n meshes, n = 16 .. 256.
    let mut previous: Option<(f64, f64)> = None;
    for n in [16, 32, 64, 128, 256] {
        let sol = solver.solve_2d_laplace(&Laplace2d {
            nx: n,
            ny: n,
            source: Some(Source::expr("2*pi^2*sin(pi*x)*sin(pi*y)")),
            exact: Some(Source::expr("sin(pi*x)*sin(pi*y)")),
            ..Default::default()
        })?;
        let (l2, h1) = (
            sol.metrics.l2_error.unwrap_or(f64::NAN),
            sol.metrics.h1_error.unwrap_or(f64::NAN),
        );
        // 3. Rates against the previous (twice coarser) mesh.
        let (rl2, rh1) = previous.map_or((f64::NAN, f64::NAN), |(pl2, ph1)| {
            ((pl2 / l2).log2(), (ph1 / h1).log2())
        });
        println!(
            "{n:>6} {:>9} {l2:>12.4e} {rl2:>6.2} {h1:>12.4e} {rh1:>6.2} {:>9.4}",
            sol.metrics.dofs, sol.metrics.total_solve_time
        );
        if previous.is_some() {
            assert!((1.9..=2.1).contains(&rl2), "L2 rate {rl2}");
            assert!((0.9..=1.1).contains(&rh1), "H1 rate {rh1}");
        }
        previous = Some((l2, h1));
    }
    Ok(())
}
