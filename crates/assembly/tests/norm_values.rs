//! Absolute values of the reported error norms, not just their rates.
//!
//! With `u_h = 0` the "error" is the exact solution itself, so `error_norms` must return
//! integrals known in closed form; a constant factor (a lost Jacobian, a squared weight, a
//! missing square root) would pass every rate test but fail here. Polynomial exact solutions
//! whose squares (and squared gradients) have degree <= 4 are integrated exactly by the rules
//! (degree 4 on triangles, 5 on intervals and quadrilaterals), so they are checked to
//! round-off; so is `sin(pi x) sin(pi y)` over whole periods of a uniform grid, and off the
//! period or on a graded grid to the measured quadrature error with a margin.

use std::f64::consts::PI;

use femscale_assembly::{ErrorNorms, error_norms};
use femscale_core::ScalarField;
use femscale_mesh::{Diagonal, Mesh, RectangleCells, RectangleSpec};

/// An exact solution with an exact gradient (the trait's default uses finite differences,
/// whose 1e-10 error would blur the round-off checks).
struct Exact {
    name: &'static str,
    u: fn([f64; 3]) -> f64,
    grad: fn([f64; 3]) -> [f64; 3],
}

impl std::fmt::Debug for Exact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl ScalarField for Exact {
    fn eval(&self, p: [f64; 3]) -> f64 {
        (self.u)(p)
    }

    fn gradient(&self, p: [f64; 3]) -> [f64; 3] {
        (self.grad)(p)
    }
}

fn sin_sin() -> Exact {
    Exact {
        name: "sin(pi x) sin(pi y)",
        u: |p| (PI * p[0]).sin() * (PI * p[1]).sin(),
        grad: |p| {
            [
                PI * (PI * p[0]).cos() * (PI * p[1]).sin(),
                PI * (PI * p[0]).sin() * (PI * p[1]).cos(),
                0.0,
            ]
        },
    }
}

fn x() -> Exact {
    Exact {
        name: "x",
        u: |p| p[0],
        grad: |_| [1.0, 0.0, 0.0],
    }
}

fn xy() -> Exact {
    Exact {
        name: "x*y",
        u: |p| p[0] * p[1],
        grad: |p| [p[1], p[0], 0.0],
    }
}

fn sin_1d() -> Exact {
    Exact {
        name: "sin(pi x)",
        u: |p| (PI * p[0]).sin(),
        grad: |p| [PI * (PI * p[0]).cos(), 0.0, 0.0],
    }
}

fn unit_square(n: usize, cells: RectangleCells, diagonal: Diagonal) -> Mesh {
    Mesh::rectangle(&RectangleSpec {
        x: [0.0, 1.0],
        y: [0.0, 1.0],
        nx: n,
        ny: n,
        cells,
        diagonal,
    })
    .unwrap()
}

/// Every cell family of the rectangle generator.
fn families() -> [(RectangleCells, Diagonal); 4] {
    [
        (RectangleCells::Triangle, Diagonal::Right),
        (RectangleCells::Triangle, Diagonal::Left),
        (RectangleCells::Triangle, Diagonal::Alternating),
        (RectangleCells::Quadrilateral, Diagonal::Right),
    ]
}

fn norms_of_zero(mesh: &Mesh, exact: &Exact) -> ErrorNorms {
    let n = error_norms(&mesh.view(), &vec![0.0; mesh.num_nodes()], exact).unwrap();
    // The error of zero is the exact solution: its own norm, to the bit.
    assert_eq!(n.exact_l2, n.l2, "{n:?}");
    n
}

fn assert_close(what: &str, actual: f64, expected: f64, rel_tol: f64) {
    let rel = (actual - expected).abs() / expected.abs();
    assert!(
        rel <= rel_tol,
        "{what}: {actual} vs the closed form {expected} (relative error {rel:e} > {rel_tol:e})"
    );
}

/// Polynomials: `∫ x² = 1/3`, `∫ |∇x|² = 1`, `∫ x²y² = 1/9`, `∫ x² + y² = 2/3` on the unit
/// square. The integrands have degree <= 4, exact under both rules, so only round-off remains
/// (1e-12 relative on a few hundred cells).
#[test]
fn polynomial_exact_solutions_have_their_closed_form_norms_on_the_unit_square() {
    for (cells, diagonal) in families() {
        let mesh = unit_square(8, cells, diagonal);
        let what = format!("{cells:?}/{diagonal:?}");
        let n = norms_of_zero(&mesh, &x());
        assert_close(&format!("{what} ‖x‖"), n.l2, (1.0f64 / 3.0).sqrt(), 1e-12);
        assert_close(&format!("{what} |x|_H1"), n.h1_seminorm, 1.0, 1e-12);
        assert_close(&format!("{what} max nodal |x|"), n.max_nodal, 1.0, 1e-15);
        let n = norms_of_zero(&mesh, &xy());
        assert_close(&format!("{what} ‖xy‖"), n.l2, 1.0 / 3.0, 1e-12);
        assert_close(
            &format!("{what} |xy|_H1"),
            n.h1_seminorm,
            (2.0f64 / 3.0).sqrt(),
            1e-12,
        );
    }
}

/// `∫ sin²(πx) sin²(πy) = 1/4`, `∫ |∇u|² = π²/2` on the unit square. The integrands are
/// trigonometric polynomials of frequency <= 2 per direction, and a uniform grid of n >= 2
/// cells over whole periods integrates those exactly with any rule (the translated quadrature
/// points sum the non-constant modes to zero), so only round-off remains: 1e-12.
#[test]
fn sine_product_has_norms_one_half_and_pi_over_root_two_on_the_unit_square() {
    for (cells, diagonal) in families() {
        let mesh = unit_square(16, cells, diagonal);
        let what = format!("{cells:?}/{diagonal:?}");
        let n = norms_of_zero(&mesh, &sin_sin());
        assert_close(&format!("{what} ‖u‖"), n.l2, 0.5, 1e-12);
        assert_close(
            &format!("{what} |u|_H1"),
            n.h1_seminorm,
            PI / 2.0f64.sqrt(),
            1e-12,
        );
        // The grid has a node at (1/2, 1/2), where |u| = 1.
        assert_close(&format!("{what} max nodal"), n.max_nodal, 1.0, 1e-15);
    }
}

/// Off the period the quadrature error is real: on `[0, 1/3] × [0, 1]` (no symmetry that
/// cancels it), `∫ u² = 1/12 - √3/(16π)` and `∫ |∇u|² = π²/6`. The composite rules converge
/// like `h^5` (triangles, degree 4) or `h^6` (quadrilaterals); on 16 × 48 cells the measured
/// relative error is at most 9e-13, so 1e-10 is asserted: tight enough to catch any wrong
/// weight or Jacobian, loose enough for round-off and libm differences.
#[test]
fn sine_product_off_the_period_matches_up_to_the_quadrature_error() {
    let l2 = (1.0 / 12.0 - 3.0f64.sqrt() / (16.0 * PI)).sqrt();
    for (cells, diagonal) in families() {
        let mesh = Mesh::rectangle(&RectangleSpec {
            x: [0.0, 1.0 / 3.0],
            y: [0.0, 1.0],
            nx: 16,
            ny: 48,
            cells,
            diagonal,
        })
        .unwrap();
        let what = format!("{cells:?}/{diagonal:?}");
        let n = norms_of_zero(&mesh, &sin_sin());
        assert_close(&format!("{what} ‖u‖"), n.l2, l2, 1e-10);
        assert_close(
            &format!("{what} |u|_H1"),
            n.h1_seminorm,
            PI / 6.0f64.sqrt(),
            1e-10,
        );
    }
}

/// `∫₀¹ sin²(πx) = 1/2`, `∫₀¹ π² cos²(πx) = π²/2`: exact up to round-off on a uniform grid
/// (as on the unit square), 1e-12. `x` on [0, 1] is integrated exactly: `‖x‖ = 1/√3`, `|x|_H1 = 1`.
#[test]
fn interval_norms_match_their_closed_forms() {
    let mesh = Mesh::interval(0.0, 1.0, 64).unwrap();
    let n = norms_of_zero(&mesh, &sin_1d());
    assert_close("1D ‖sin(πx)‖", n.l2, 0.5f64.sqrt(), 1e-12);
    assert_close("1D |sin(πx)|_H1", n.h1_seminorm, PI / 2.0f64.sqrt(), 1e-12);
    let n = norms_of_zero(&mesh, &x());
    assert_close("1D ‖x‖", n.l2, (1.0f64 / 3.0).sqrt(), 1e-12);
    assert_close("1D |x|_H1", n.h1_seminorm, 1.0, 1e-12);
    // A non-uniform grid must weigh each cell by its own length.
    let graded: Vec<f64> = (0..=40).map(|i| (f64::from(i) / 40.0).powi(2)).collect();
    let mesh = Mesh::interval_from_nodes(graded).unwrap();
    let n = norms_of_zero(&mesh, &x());
    assert_close("graded 1D ‖x‖", n.l2, (1.0f64 / 3.0).sqrt(), 1e-12);
    assert_close("graded 1D |x|_H1", n.h1_seminorm, 1.0, 1e-12);
    // Graded cells break the periodic exactness: 5th-degree rule, largest cell 0.05, a
    // measured relative error of 1.8e-11; 1e-9 asserted.
    let n = norms_of_zero(&mesh, &sin_1d());
    assert_close("graded 1D ‖sin(πx)‖", n.l2, 0.5f64.sqrt(), 1e-9);
    assert_close(
        "graded 1D |sin(πx)|_H1",
        n.h1_seminorm,
        PI / 2.0f64.sqrt(),
        1e-9,
    );
}

/// On a rectangle that is not the unit square the cell measure is not `1/n²`: the constant 1
/// has `‖1‖ = √area`, and `x` on `[0, 2] × [-1, 0.5]` has `∫ x² = 8/3 · 1.5 = 4`,
/// `∫ |∇x|² = 3`.
#[test]
fn norms_scale_with_the_area_of_a_non_unit_rectangle() {
    let one = Exact {
        name: "1",
        u: |_| 1.0,
        grad: |_| [0.0; 3],
    };
    for cells in [RectangleCells::Triangle, RectangleCells::Quadrilateral] {
        let mesh = Mesh::rectangle(&RectangleSpec {
            x: [0.0, 2.0],
            y: [-1.0, 0.5],
            nx: 7,
            ny: 5,
            cells,
            diagonal: Diagonal::Alternating,
        })
        .unwrap();
        let n = norms_of_zero(&mesh, &one);
        assert_close(&format!("{cells:?} ‖1‖"), n.l2, 3.0f64.sqrt(), 1e-12);
        assert_eq!(n.h1_seminorm, 0.0, "{cells:?}");
        let n = norms_of_zero(&mesh, &x());
        assert_close(&format!("{cells:?} ‖x‖"), n.l2, 2.0, 1e-12);
        assert_close(
            &format!("{cells:?} |x|_H1"),
            n.h1_seminorm,
            3.0f64.sqrt(),
            1e-12,
        );
    }
}

/// A non-zero `u_h`: the nodal interpolant of a linear function is the function itself on P1
/// and Q1 (and of the bilinear `x*y` on Q1), so every norm is zero up to round-off; a sign or
/// basis-ordering error in the `u_h` part would not be.
#[test]
fn the_interpolant_of_a_linear_function_has_zero_error() {
    let linear = Exact {
        name: "1 + 2x - 3y",
        u: |p| 1.0 + 2.0 * p[0] - 3.0 * p[1],
        grad: |_| [2.0, -3.0, 0.0],
    };
    let interpolate = |mesh: &Mesh, f: &Exact| -> Vec<f64> {
        mesh.points().into_iter().map(|p| f.eval(p)).collect()
    };
    for (cells, diagonal) in families() {
        let mesh = unit_square(9, cells, diagonal);
        let n = error_norms(&mesh.view(), &interpolate(&mesh, &linear), &linear).unwrap();
        let what = format!("{cells:?}/{diagonal:?}");
        assert!(n.l2 < 1e-13, "{what}: {n:?}");
        assert!(n.h1_seminorm < 1e-12, "{what}: {n:?}");
        assert!(n.max_nodal < 1e-14, "{what}: {n:?}");
        // And the norm of the error is not blind to u_h: a shifted interpolant has error 1/2.
        let shifted: Vec<f64> = interpolate(&mesh, &linear)
            .iter()
            .map(|v| v + 0.5)
            .collect();
        let n = error_norms(&mesh.view(), &shifted, &linear).unwrap();
        assert_close(&format!("{what} shifted L2"), n.l2, 0.5, 1e-12);
        assert!(n.h1_seminorm < 1e-12, "{what}: {n:?}");
    }
    let quads = unit_square(9, RectangleCells::Quadrilateral, Diagonal::Right);
    let n = error_norms(&quads.view(), &interpolate(&quads, &xy()), &xy()).unwrap();
    assert!(n.l2 < 1e-13 && n.h1_seminorm < 1e-12, "Q1 x*y: {n:?}");
    let line = Mesh::interval(0.0, 1.0, 13).unwrap();
    let n = error_norms(&line.view(), &interpolate(&line, &x()), &x()).unwrap();
    assert!(n.l2 < 1e-14 && n.h1_seminorm < 1e-13, "1D x: {n:?}");
}
