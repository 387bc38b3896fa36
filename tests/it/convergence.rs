//! Manufactured-solution convergence: P1 (1D, triangles) and Q1 (quadrilaterals) with a
//! variable diffusion coefficient and mixed Dirichlet/Neumann/Robin boundaries must show
//! L2 rates in [1.9, 2.1] and H1-seminorm rates in [0.9, 1.1].

use femscale::prelude::*;
use femscale_tests::rates;

const EXACT_1D: &str = "sin(pi*x) + x";
const K_1D: &str = "1 + x";
const F_1D: &str = "-(pi*cos(pi*x) + 1) + (1 + x)*pi^2*sin(pi*x)";

fn study(label: &str, levels: &[usize], solve: impl Fn(usize) -> Solution) {
    let mut h = Vec::new();
    let (mut l2, mut h1) = (Vec::new(), Vec::new());
    for &n in levels {
        let s = solve(n);
        h.push(s.mesh.max_cell_diameter());
        l2.push(s.metrics.l2_error.expect("exact solution given"));
        h1.push(s.metrics.h1_error.expect("exact solution given"));
    }
    let (rl2, rh1) = (rates(&h, &l2), rates(&h, &h1));
    eprintln!("{label}: L2 {l2:?} rates {rl2:.3?}; H1 {h1:?} rates {rh1:.3?}");
    assert!(rl2.len() >= 4, "need at least 4 refinements");
    for r in &rl2 {
        assert!((1.9..=2.1).contains(r), "{label}: L2 rates {rl2:?}");
    }
    for r in &rh1 {
        assert!((0.9..=1.1).contains(r), "{label}: H1 rates {rh1:?}");
    }
}

fn problem_1d(n: usize, left: BoundarySpec, right: BoundarySpec) -> Problem {
    let mut p = Problem::new(MeshSpec::Interval { x: [0.0, 1.0], n });
    p.diffusion = K_1D.into();
    p.source = Some(F_1D.into());
    p.exact = Some(EXACT_1D.into());
    p.boundary = vec![left, right];
    p
}

#[test]
fn p1_interval_dirichlet_robin_converges_at_optimal_rates() {
    // Right end x = 1: k u' = 2 (1 - pi), u = 1, so with alpha = 3: g = 2 (1 - pi) + 3.
    let solver = FemSolver::new();
    study("P1 1D dirichlet+robin", &[8, 16, 32, 64, 128], |n| {
        let right = BoundarySpec::robin("right", 3.0, "2*(1 - pi) + 3");
        solver
            .solve(&problem_1d(n, BoundarySpec::dirichlet("left", 0.0), right))
            .unwrap()
    });
}

#[test]
fn p1_interval_neumann_dirichlet_converges_at_optimal_rates() {
    // Left end x = 0, outward normal -x: k du/dn = -(pi + 1).
    let solver = FemSolver::new();
    study("P1 1D neumann+dirichlet", &[8, 16, 32, 64, 128], |n| {
        let left = BoundarySpec::neumann("left", "-(pi + 1)");
        solver
            .solve(&problem_1d(n, left, BoundarySpec::dirichlet("right", 1.0)))
            .unwrap()
    });
}

/// u = exp(x) cos(y) + x y, k = 1 + x^2 + y on the unit square; Dirichlet left and top,
/// Neumann right, Robin (alpha = 2) bottom. Same data as `examples/configs/mixed_bc_2d.toml`.
fn problem_2d(n: usize, cells: RectangleCells) -> Problem {
    let k = "1 + x^2 + y";
    let mut p = Problem::new(MeshSpec::Rectangle(RectangleSpec {
        nx: n,
        ny: n,
        cells,
        diagonal: Diagonal::Alternating,
        ..Default::default()
    }));
    p.diffusion = k.into();
    p.source = Some("-(2*x*(exp(x)*cos(y) + y) + (-exp(x)*sin(y) + x))".into());
    p.exact = Some("exp(x)*cos(y) + x*y".into());
    p.boundary = vec![
        BoundarySpec::dirichlet("left", "cos(y)"),
        BoundarySpec::dirichlet("top", "exp(x)*cos(1) + x"),
        BoundarySpec::neumann("right", "(1 + x^2 + y)*(exp(x)*cos(y) + y)"),
        BoundarySpec::robin(
            "bottom",
            2.0,
            "-(1 + x^2 + y)*(-exp(x)*sin(y) + x) + 2*(exp(x)*cos(y) + x*y)",
        ),
    ];
    p
}

#[test]
fn p1_triangles_with_mixed_boundaries_converge_at_optimal_rates() {
    let solver = FemSolver::new();
    study("P1 triangles", &[4, 8, 16, 32, 64], |n| {
        solver
            .solve(&problem_2d(n, RectangleCells::Triangle))
            .unwrap()
    });
}

#[test]
fn q1_quadrilaterals_with_mixed_boundaries_converge_at_optimal_rates() {
    let solver = FemSolver::new();
    study("Q1 quadrilaterals", &[4, 8, 16, 32, 64], |n| {
        solver
            .solve(&problem_2d(n, RectangleCells::Quadrilateral))
            .unwrap()
    });
}

#[test]
fn linear_exact_solutions_are_reproduced_to_round_off_in_1d() {
    let solver = FemSolver::new();
    let sol = solver
        .solve_1d_laplace(&Laplace1d {
            num_elements: 100,
            left_bc: 0.0,
            right_bc: 1.0,
            exact: Some("x".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(
        sol.metrics.max_nodal_error.unwrap() < 1e-13,
        "{:?}",
        sol.metrics.max_nodal_error
    );
    assert!(sol.metrics.l2_error.unwrap() < 1e-13);
    assert!(sol.metrics.h1_error.unwrap() < 1e-12);

    // Graded nodes, constant diffusion 3 and a Neumann end: u = 2 x - 1 with k u'(1) = 6.
    let nodes: Vec<f64> = (0..=40).map(|i| (i as f64 / 40.0).powi(3) * 2.0).collect();
    let mut p = Problem::new(MeshSpec::IntervalNodes(nodes));
    p.diffusion = 3.0.into();
    p.exact = Some("2*x - 1".into());
    p.boundary = vec![
        BoundarySpec::dirichlet("left", -1.0),
        BoundarySpec::neumann("right", 6.0),
    ];
    let sol = solver.solve(&p).unwrap();
    assert!(
        sol.metrics.max_nodal_error.unwrap() < 1e-12,
        "{:?}",
        sol.metrics.max_nodal_error
    );
}
