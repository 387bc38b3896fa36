//! Manufactured solutions for the reaction term and a variable Robin coefficient:
//! `-div(k grad u) + c u = f` with variable `k`, `c` and `alpha` (`k du/dn + alpha u = g`).
//!
//! Two kinds of checks, for P1 intervals, P1 triangles and Q1 quadrilaterals:
//!
//! * Refinement studies with smooth non-polynomial data must show L2 rates in [1.9, 2.1] and
//!   H1-seminorm rates in [0.9, 1.1]. `c` or `alpha` sampled at a cell or facet vertex instead of
//!   the quadrature points is an O(h) perturbation and pulls the L2 rate towards 1.
//! * Exactness: with `u` in the finite element space and `k` linear, every integral the
//!   assembler computes is exact except those with `c` and `alpha`, and those cancel exactly
//!   *when `c` is sampled where `f` is and `alpha` where `g` is* (`f` contains `c u`, `g`
//!   contains `alpha u`). The discrete solution is then the exact one to round-off. `c` or
//!   `alpha` taken anywhere else — a cell centroid, a facet midpoint, another facet — leaves an
//!   O(h^2) error that no rate window sees but this check does. (In 1D a facet is a point: only
//!   alpha taken at the other end can be wrong there.)
//!
//! Each test was checked against injected bugs in the assembler: c at the cell centroid or first
//! vertex, alpha at the facet midpoint, first vertex or the part's first facet.

use femscale::prelude::*;
use femscale_tests::rates;

/// Runs `solve` on each resolution and checks optimal L2 and H1-seminorm rates.
fn study(label: &str, levels: &[usize], solve: impl Fn(usize) -> Solution) {
    let (mut h, mut l2, mut h1) = (Vec::new(), Vec::new(), Vec::new());
    for &n in levels {
        let s = solve(n);
        h.push(s.mesh.max_cell_diameter());
        l2.push(s.metrics.l2_error.expect("exact solution given"));
        h1.push(s.metrics.h1_error.expect("exact solution given"));
    }
    let (rl2, rh1) = (rates(&h, &l2), rates(&h, &h1));
    let sci = |v: &[f64]| v.iter().map(|e| format!("{e:.3e}")).collect::<Vec<_>>();
    eprintln!(
        "{label}: L2 {:?} rates {rl2:.3?}; H1 {:?} rates {rh1:.3?}",
        sci(&l2),
        sci(&h1)
    );
    assert!(rl2.len() >= 4, "need at least 4 refinements");
    for r in &rl2 {
        assert!((1.9..=2.1).contains(r), "{label}: L2 rates {rl2:.3?}");
    }
    for r in &rh1 {
        assert!((0.9..=1.1).contains(r), "{label}: H1 rates {rh1:.3?}");
    }
}

/// Checks that `solution` reproduces its exact solution to round-off.
fn assert_exact(label: &str, solution: &Solution) {
    let m = &solution.metrics;
    let (nodal, l2) = (m.max_nodal_error.unwrap(), m.l2_error.unwrap());
    eprintln!("{label}: max nodal error {nodal:.2e}, L2 error {l2:.2e}");
    assert!(nodal < 1e-11, "{label}: max nodal error {nodal:e}");
    assert!(l2 < 1e-11, "{label}: L2 error {l2:e}");
}

/// The Robin data `g = k du/dn + alpha u` from the normal flux `k du/dn` as an expression.
fn robin(part: &str, alpha: &str, normal_flux: &str, exact: &str) -> BoundarySpec {
    BoundarySpec::robin(
        part,
        alpha,
        format!("{normal_flux} + ({alpha})*({exact})").as_str(),
    )
}

// 1D on [0, 1]: Robin at both ends through one condition on `all`, whose outward normal is
// -1 at x = 0 and +1 at x = 1, i.e. 2x - 1 at the two ends. Alpha differs at the two ends
// (2 and 1.04), so alpha taken from the wrong end changes the solution.

const C_1D: &str = "5 + 4*sin(6*x)";
const ALPHA_1D: &str = "2 + sin(5*x)";
const K_1D: &str = "1 + x";

fn problem_1d(n: usize, exact: &str, minus_div_flux: &str, flux: &str) -> Problem {
    let mut p = Problem::new(MeshSpec::Interval { x: [0.0, 1.0], n });
    p.diffusion = K_1D.into();
    p.reaction = Some(C_1D.into());
    p.source = Some(
        format!("{minus_div_flux} + ({C_1D})*({exact})")
            .as_str()
            .into(),
    );
    p.exact = Some(exact.into());
    p.boundary = vec![robin(
        "all",
        ALPHA_1D,
        &format!("(2*x - 1)*({flux})"),
        exact,
    )];
    p
}

/// u = sin(pi x) + x + 1, k = 1 + x: k u' = (1 + x)(pi cos(pi x) + 1) and
/// -(k u')' = -(pi cos(pi x) + 1) + (1 + x) pi^2 sin(pi x).
fn smooth_1d(n: usize) -> Problem {
    problem_1d(
        n,
        "sin(pi*x) + x + 1",
        "-(pi*cos(pi*x) + 1) + (1 + x)*pi^2*sin(pi*x)",
        "(1 + x)*(pi*cos(pi*x) + 1)",
    )
}

#[test]
fn p1_interval_with_variable_reaction_and_robin_alpha_converges_and_reproduces_linears() {
    let solver = FemSolver::new();
    study("P1 1D reaction+robin", &[8, 16, 32, 64, 128], |n| {
        solver.solve(&smooth_1d(n)).unwrap()
    });
    // u = 1 + 2x: k u' = 2 (1 + x), -(k u')' = -2.
    let p = problem_1d(7, "1 + 2*x", "-2", "2*(1 + x)");
    assert_exact("P1 1D linear", &solver.solve(&p).unwrap());
}

// 2D on the unit square: Dirichlet on the left, Robin with one variable alpha on the bottom,
// right and top (so alpha also differs from facet to facet and between the parts).

const C_2D: &str = "3 + 2*sin(4*x + 3*y)";
const ALPHA_2D: &str = "2 + sin(5*x + 3*y)";

/// An exact solution with its data: `k`, `-div(k grad u)` and the flux components `k du/dx`,
/// `k du/dy`.
struct Manufactured2d {
    exact: &'static str,
    k: &'static str,
    minus_div_flux: &'static str,
    flux: [&'static str; 2],
}

/// u = exp(x) cos(y) + x y (harmonic part plus x y), k = 1 + x^2 + y.
const SMOOTH_2D: Manufactured2d = Manufactured2d {
    exact: "exp(x)*cos(y) + x*y",
    k: "1 + x^2 + y",
    minus_div_flux: "-(2*x*(exp(x)*cos(y) + y) + (-exp(x)*sin(y) + x))",
    flux: [
        "(1 + x^2 + y)*(exp(x)*cos(y) + y)",
        "(1 + x^2 + y)*(-exp(x)*sin(y) + x)",
    ],
};

/// u = 1 + 2x + 3y + 4xy (in the Q1 space; linear part in the P1 space), k = 1 + x + 2y:
/// grad u = (2 + 4y, 3 + 4x), div(k grad u) = (2 + 4y) + 2 (3 + 4x).
const BILINEAR_2D: Manufactured2d = Manufactured2d {
    exact: "1 + 2*x + 3*y + 4*x*y",
    k: "1 + x + 2*y",
    minus_div_flux: "-(8 + 8*x + 4*y)",
    flux: ["(1 + x + 2*y)*(2 + 4*y)", "(1 + x + 2*y)*(3 + 4*x)"],
};

/// u = 1 + 2x + 3y, k = 1 + x + 2y: div(k grad u) = 2 + 2 * 3.
const LINEAR_2D: Manufactured2d = Manufactured2d {
    exact: "1 + 2*x + 3*y",
    k: "1 + x + 2*y",
    minus_div_flux: "-8",
    flux: ["(1 + x + 2*y)*2", "(1 + x + 2*y)*3"],
};

impl Manufactured2d {
    fn problem(&self, n: usize, cells: RectangleCells, diagonal: Diagonal) -> Problem {
        let mut p = Problem::new(MeshSpec::Rectangle(RectangleSpec {
            nx: n,
            ny: n,
            cells,
            diagonal,
            ..Default::default()
        }));
        let u = self.exact;
        let [fx, fy] = self.flux;
        p.diffusion = self.k.into();
        p.reaction = Some(C_2D.into());
        p.source = Some(
            format!("{} + ({C_2D})*({u})", self.minus_div_flux)
                .as_str()
                .into(),
        );
        p.exact = Some(u.into());
        p.boundary = vec![
            BoundarySpec::dirichlet("left", u),
            robin("bottom", ALPHA_2D, &format!("-({fy})"), u),
            robin("right", ALPHA_2D, fx, u),
            robin("top", ALPHA_2D, fy, u),
        ];
        p
    }
}

#[test]
fn p1_triangles_with_variable_reaction_and_robin_alpha_converge_and_reproduce_linears() {
    let solver = FemSolver::new();
    study("P1 triangles reaction+robin", &[4, 8, 16, 32, 64], |n| {
        let p = SMOOTH_2D.problem(n, RectangleCells::Triangle, Diagonal::Alternating);
        solver.solve(&p).unwrap()
    });
    for diagonal in [Diagonal::Right, Diagonal::Left, Diagonal::Alternating] {
        let p = LINEAR_2D.problem(6, RectangleCells::Triangle, diagonal);
        let label = format!("P1 linear, {diagonal:?} diagonals");
        assert_exact(&label, &solver.solve(&p).unwrap());
    }
}

#[test]
fn q1_quadrilaterals_with_variable_reaction_and_robin_alpha_converge_and_reproduce_bilinears() {
    let solver = FemSolver::new();
    study(
        "Q1 quadrilaterals reaction+robin",
        &[4, 8, 16, 32, 64],
        |n| {
            let p = SMOOTH_2D.problem(n, RectangleCells::Quadrilateral, Diagonal::Right);
            solver.solve(&p).unwrap()
        },
    );
    let p = BILINEAR_2D.problem(6, RectangleCells::Quadrilateral, Diagonal::Right);
    assert_exact("Q1 bilinear", &solver.solve(&p).unwrap());
}

/// The same smooth problem as a configuration file: `reaction` and `alpha` given as expressions
/// with parameters, read, built and solved by the runtime like `femscale run` does.
fn configured_2d(n: usize, cell: &str, exact_only: bool) -> Config {
    let m = if exact_only { &BILINEAR_2D } else { &SMOOTH_2D };
    let (u, k, [fx, fy]) = (m.exact, m.k, m.flux);
    let (c, alpha) = ("c0 + c1*sin(4*x + 3*y)", "a0 + sin(5*x + 3*y)");
    let robin = |part: &str, flux: &str| {
        format!(
            r#"{{ where = "{part}", kind = "robin", alpha = "{alpha}", value = "{flux} + ({alpha})*({u})" }}"#
        )
    };
    let toml = format!(
        r#"
        [problem]
        dim = 2
        mesh = {{ kind = "rectangle", nx = {n}, ny = {n}, cell = "{cell}", diagonal = "right" }}
        diffusion = "{k}"
        reaction = "{c}"
        source = "{f} + ({c})*({u})"
        exact = "{u}"
        params = {{ c0 = 3.0, c1 = 2.0, a0 = 2.0 }}
        boundary = [
            {{ where = "left", kind = "dirichlet", value = "{u}" }},
            {bottom},
            {right},
            {top},
        ]
        "#,
        f = m.minus_div_flux,
        bottom = robin("bottom", &format!("-({fy})")),
        right = robin("right", fx),
        top = robin("top", fy),
    );
    Config::from_toml_str(&toml).unwrap_or_else(|e| panic!("{e}\n{toml}"))
}

#[test]
fn configured_reaction_and_robin_alpha_expressions_converge_and_reproduce_bilinears() {
    study("P1 triangles from a config", &[4, 8, 16, 32, 64], |n| {
        FemSolver::from_config(configured_2d(n, "triangle", false))
            .unwrap()
            .solve_configured()
            .unwrap()
    });
    // The bytecode interpreter and serial assembler (what `auto` picks at this size), then the
    // JIT-compiled expressions in the parallel assembler.
    let solver = FemSolver::from_config(configured_2d(5, "quad", true)).unwrap();
    let s = solver.solve_configured().unwrap();
    assert_eq!(
        (s.metrics.element.as_str(), s.metrics.assembler.as_str()),
        ("Q1", "serial")
    );
    assert!(!s.metrics.features_used.contains(&Feature::JitExpressions));
    assert_exact("Q1 bilinear from a config", &s);
    let s = solver
        .with_overrides(&["assembly.parallel=true", "scaling.enable_jit=true"])
        .unwrap()
        .solve_configured()
        .unwrap();
    assert_eq!(s.metrics.assembler, "parallel");
    assert!(
        s.metrics.features_used.contains(&Feature::JitExpressions),
        "{:?}",
        s.metrics.features_used
    );
    assert_exact("Q1 bilinear from a config, JIT and parallel assembly", &s);
}
