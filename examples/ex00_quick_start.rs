//! The quick start: `-u'' = 0` on `[0, 1]` with 100 elements, `u(0) = 0`, `u(1) = 1`.
//!
//! P1 elements reproduce the exact solution `u = x` to round-off.
//!
//! ```text
//! cargo run --release -p femscale-examples --example ex00_quick_start
//! ```

use femscale::prelude::*;

fn main() -> anyhow::Result<()> {
    // 1. A solver with the embedded defaults: no configuration file, no server.
    let solver = FemSolver::new();

    // 2. The problem: 100 elements, Dirichlet values at both ends.
    let problem = Laplace1d {
        num_elements: 100,
        left_bc: 0.0,
        right_bc: 1.0,
        ..Default::default()
    };

    // 3. Solve; the result carries the nodes, the values and the report.
    let sol = solver.solve_1d_laplace(&problem)?;
    println!(
        "{} dofs in {:.3} ms with {}",
        sol.metrics.dofs,
        sol.metrics.total_solve_time * 1e3,
        sol.metrics.solver
    );

    // 4. Check: u(x_i) = x_i at every node.
    let worst = sol
        .values
        .iter()
        .zip(sol.nodes())
        .map(|(u, x)| (u - x).abs())
        .fold(0.0, f64::max);
    println!("max |u_h - x| = {worst:.2e}");
    assert!(worst < 1e-13);
    Ok(())
}
