//! Manufactured solutions with variable diffusion, reaction and mixed Dirichlet, Neumann and
//! Robin conditions: L2 and H1 rates 2 and 1 for P1/Q1, 3 and 2 for P2/Q2, in 1D, 2D and 3D.

use std::sync::Arc;

use femscale_core::{BoundaryKind, CellKind, Constant, EllipticForm, Order};

use super::{ELEMENTS, Exact, Shape, assemble_with_dirichlet, bc, field, grid, solve};
use crate::error_norms;

const A: [f64; 3] = [1.3, 0.7, 0.9];
const ALPHA: f64 = 2.0;

fn arg(p: [f64; 3]) -> f64 {
    A[0] * p[0] + A[1] * p[1] + A[2] * p[2] + 0.4
}

fn k(p: [f64; 3]) -> f64 {
    1.0 + 0.5 * p[0] * p[0] + 0.3 * p[1]
}

/// `u = sin(a . x + 0.4)` (the mesh's coordinates beyond its dimension are 0), `k = 1 + x^2/2 +
/// 0.3 y`, `c = 1`: Dirichlet on `left`, `bottom`, `front`, `back`, Neumann on `right` (2D,
/// 3D), Robin on `top` (in 1D on `right`).
fn problem(dim: usize) -> (EllipticForm, Exact) {
    let a2: f64 = A[..dim].iter().map(|a| a * a).sum();
    let source = move |p: [f64; 3]| {
        let grad_k = [p[0], 0.3, 0.0];
        let dot: f64 = (0..dim).map(|d| grad_k[d] * A[d]).sum();
        k(p) * a2 * arg(p).sin() - dot * arg(p).cos() + arg(p).sin()
    };
    let u = |p: [f64; 3]| arg(p).sin();
    let flux = |d: usize| move |p: [f64; 3]| k(p) * A[d] * arg(p).cos();
    let robin = |d: usize| move |p: [f64; 3]| k(p) * A[d] * arg(p).cos() + ALPHA * u(p);
    let robin_part = if dim == 1 { ("right", 0) } else { ("top", 1) };
    let mut boundary = vec![
        bc("left", BoundaryKind::Dirichlet { value: field(u) }),
        bc(
            robin_part.0,
            BoundaryKind::Robin {
                alpha: Arc::new(Constant(ALPHA)),
                value: field(robin(robin_part.1)),
            },
        ),
    ];
    if dim > 1 {
        boundary.push(bc("bottom", BoundaryKind::Dirichlet { value: field(u) }));
        boundary.push(bc(
            "right",
            BoundaryKind::Neumann {
                flux: field(flux(0)),
            },
        ));
    }
    if dim > 2 {
        boundary.push(bc("front", BoundaryKind::Dirichlet { value: field(u) }));
        boundary.push(bc("back", BoundaryKind::Dirichlet { value: field(u) }));
    }
    let form = EllipticForm {
        diffusion: field(k),
        reaction: Some(Arc::new(Constant(1.0))),
        source: Some(field(source)),
        boundary,
    };
    let exact = Exact {
        u: Box::new(u),
        grad: Box::new(move |p| {
            std::array::from_fn(|d| if d < dim { A[d] * arg(p).cos() } else { 0.0 })
        }),
    };
    (form, exact)
}

/// The mesh sizes (cells per side) of each refinement.
fn sizes(kind: CellKind, order: Order) -> &'static [usize] {
    match (kind.dim(), order) {
        (1, _) => &[4, 8, 16],
        (2, _) => &[4, 8, 16],
        (_, Order::Linear) => &[2, 4, 8],
        (_, Order::Quadratic) => &[2, 4, 6],
    }
}

#[test]
fn manufactured_solutions_converge_at_optimal_rates_for_every_element() {
    let mut report = Vec::new();
    for (kind, order) in ELEMENTS {
        let (form, exact) = problem(kind.dim());
        let ns = sizes(kind, order);
        let errors: Vec<(f64, f64)> = ns
            .iter()
            .map(|&n| {
                let mesh = grid(kind, order, n, Shape::Uniform);
                let system = assemble_with_dirichlet(&mesh, &form);
                let uh = solve(&system);
                let e = error_norms(&mesh.view(), &uh, &exact).unwrap();
                (e.l2, e.h1_seminorm)
            })
            .collect();
        let last = ns.len() - 1;
        let ratio = (ns[last] as f64 / ns[last - 1] as f64).ln();
        let rate =
            |e: fn(&(f64, f64)) -> f64| (e(&errors[last - 1]) / e(&errors[last])).ln() / ratio;
        let (l2, h1) = (rate(|e| e.0), rate(|e| e.1));
        let p = order.get() as f64;
        report.push(format!(
            "{kind:?} {order:?}: L2 {l2:.2}, H1 {h1:.2} {errors:?}"
        ));
        assert!(
            (l2 - (p + 1.0)).abs() < 0.2 && (h1 - p).abs() < 0.2,
            "{kind:?} {order:?}: rates L2 {l2:.3}, H1 {h1:.3}; errors {errors:?}"
        );
    }
    println!("{}", report.join("\n"));
}
