//! Three dimensions and quadratic elements: a manufactured solution on the unit cube,
//! `u = sin(pi x) sin(pi y) sin(pi z)` with `k = 1 + x` (a Rust closure), `u = 0` on five faces
//! and the flux `k du/dn` on the top face. The cube is built with `Mesh::cuboid` (six
//! tetrahedra per cube) and solved with P1 and P2 on two sizes; prints the errors and the
//! observed rates (P1: L2 2, H1 1; P2: L2 3, H1 2) and checks them.
//!
//! ```text
//! cargo run --release -p femscale-examples --example ex05_3d_and_quadratic
//! ```

use std::sync::Arc;

use femscale::prelude::*;

const EXACT: &str = "sin(pi*x)*sin(pi*y)*sin(pi*z)";
/// -div((1 + x) grad u) for the `u` above.
const SOURCE: &str =
    "3*pi^2*(1 + x)*sin(pi*x)*sin(pi*y)*sin(pi*z) - pi*cos(pi*x)*sin(pi*y)*sin(pi*z)";
/// `k du/dz` at z = 1 (the outward normal of the top face is +z).
const TOP_FLUX: &str = "-pi*(1 + x)*sin(pi*x)*sin(pi*y)";

fn main() -> anyhow::Result<()> {
    let solver = FemSolver::new();
    println!(
        "{:>5} {:>4} {:>8} {:>12} {:>6} {:>12} {:>6} {:>9}",
        "elem", "n", "dofs", "L2 error", "rate", "H1 error", "rate", "time [s]"
    );
    for order in [Order::Linear, Order::Quadratic] {
        let mut previous: Option<(f64, f64)> = None;
        for n in [6, 12] {
            // 1. The mesh: n x n x n cubes of six tetrahedra, faces named left ... top.
            let mesh = Mesh::cuboid(&BoxSpec {
                nx: n,
                ny: n,
                nz: n,
                cells: BoxCells::Tetrahedron,
                ..Default::default()
            })?;

            // 2. The problem on it; the pipeline lifts the mesh to P2 for order 2.
            let mut problem = Problem::new(MeshSpec::Mesh(Arc::new(mesh)));
            problem.order = order;
            problem.diffusion = FieldSpec::func("1 + x", |p: [f64; 3]| 1.0 + p[0]);
            problem.source = Some(FieldSpec::expr(SOURCE));
            problem.exact = Some(FieldSpec::expr(EXACT));
            problem.boundary = ["left", "right", "front", "back", "bottom"]
                .into_iter()
                .map(|face| BoundarySpec::dirichlet(face, 0.0))
                .chain([BoundarySpec::neumann("top", FieldSpec::expr(TOP_FLUX))])
                .collect();

            // 3. Solve, and compare with the twice coarser mesh.
            let sol = solver.solve(&problem)?;
            let m = &sol.metrics;
            let (l2, h1) = (
                m.l2_error.unwrap_or(f64::NAN),
                m.h1_error.unwrap_or(f64::NAN),
            );
            let (rl2, rh1) = previous.map_or((f64::NAN, f64::NAN), |(pl2, ph1)| {
                ((pl2 / l2).log2(), (ph1 / h1).log2())
            });
            println!(
                "{:>5} {n:>4} {:>8} {l2:>12.4e} {rl2:>6.2} {h1:>12.4e} {rh1:>6.2} {:>9.4}",
                m.element, m.dofs, m.total_solve_time
            );
            if previous.is_some() {
                let p = order.get() as f64;
                assert!((rl2 - (p + 1.0)).abs() < 0.2, "{} L2 rate {rl2}", m.element);
                assert!((rh1 - p).abs() < 0.2, "{} H1 rate {rh1}", m.element);
            }
            previous = Some((l2, h1));
        }
    }
    Ok(())
}
