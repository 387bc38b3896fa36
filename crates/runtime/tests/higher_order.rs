//! Orders 1 and 2 in 1D, 2D and 3D through the pipeline (`FemSolver` with a configuration):
//! manufactured solutions with variable `k`, a reaction term and mixed Dirichlet, Neumann and
//! Robin conditions on generated meshes converge at the optimal rates (P1/Q1: L2 2, H1 1;
//! P2/Q2: L2 3, H1 2), and P2/Q2 reproduce a quadratic solution to round-off (patch tests).
//!
//! The sources and boundary data are `f = -div(k grad u) + c u`, `k du/dn` and
//! `k du/dn + alpha u` of the stated `u`, `k` and `c`, derived with sympy.

use femscale_runtime::{Config, FemSolver, Solution};

/// Solves the problem `body` (the `[problem]` keys after `mesh` and `order`) on `mesh`
/// (an inline table) with elements of `order`, by the direct solver.
fn solve(mesh: &str, order: u8, body: &str) -> Solution {
    let text =
        format!("[problem]\nmesh = {mesh}\norder = {order}\n{body}\n[solver]\nkind = \"direct\"\n");
    let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    FemSolver::from_config(config)
        .unwrap()
        .solve_configured()
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn rates(e: &[f64]) -> Vec<f64> {
    e.windows(2).map(|w| (w[0] / w[1]).log2()).collect()
}

/// Solves on the meshes `meshes` (each twice finer than the last) and checks that the last
/// L2 and H1 rates are `order + 1` and `order` within 0.15 (and no earlier one is below).
fn assert_rates(label: &str, meshes: &[String], order: u8, body: &str) {
    let solutions: Vec<Solution> = meshes.iter().map(|m| solve(m, order, body)).collect();
    let l2: Vec<f64> = solutions
        .iter()
        .map(|s| s.metrics.l2_error.unwrap())
        .collect();
    let h1: Vec<f64> = solutions
        .iter()
        .map(|s| s.metrics.h1_error.unwrap())
        .collect();
    let dofs: Vec<usize> = solutions.iter().map(|s| s.metrics.dofs).collect();
    let (rl2, rh1) = (rates(&l2), rates(&h1));
    eprintln!("{label}: dofs {dofs:?}\n  L2 {l2:?} rates {rl2:.3?}\n  H1 {h1:?} rates {rh1:.3?}");
    let expect = f64::from(order);
    let last = |r: &[f64]| r[r.len() - 1];
    assert!(
        (last(&rl2) - (expect + 1.0)).abs() <= 0.15,
        "{label}: L2 rates {rl2:?}"
    );
    assert!(
        (last(&rh1) - expect).abs() <= 0.15,
        "{label}: H1 rates {rh1:?}"
    );
    assert!(
        rl2.iter().all(|&r| r > expect + 0.85) && rh1.iter().all(|&r| r > expect - 0.15),
        "{label}: rates {rl2:?} {rh1:?}"
    );
    for s in &solutions {
        assert_eq!(s.metrics.element, element_name(s, order), "{label}");
    }
}

/// The element name the report gives for the mesh's cells at `order`.
fn element_name(s: &Solution, order: u8) -> String {
    let simplex = matches!(
        s.metrics.mesh.cell_kind.as_str(),
        "interval" | "triangle" | "tetrahedron"
    );
    format!("{}{order}", if simplex { "P" } else { "Q" })
}

/// 1D: `u = e^x sin 2x`, `k = 1 + x²`, `c = 2`; `u(0) = 0`, Robin `k u' + 3u` at x = 1.
const PROBLEM_1D: &str = r#"
    diffusion = "1 + x^2"
    reaction = 2.0
    source = "(-2*x*(sin(2*x) + 2*cos(2*x)) + (x^2 + 1)*(3*sin(2*x) - 4*cos(2*x)) + 2*sin(2*x))*exp(x)"
    exact = "exp(x)*sin(2*x)"
    [[problem.boundary]]
    where = "left"
    kind = "dirichlet"
    value = 0.0
    [[problem.boundary]]
    where = "right"
    kind = "robin"
    alpha = 3.0
    value = "exp(1)*(4*cos(2) + 5*sin(2))"
"#;

/// 2D: `u = e^(x/2) sin(2y + 1) + xy`, `k = 1 + x²/2 + y/4`, `c = 2`; Dirichlet on the left
/// and bottom, Neumann on the right, Robin (`alpha = 2`) on the top.
const PROBLEM_2D: &str = r#"
    diffusion = "1 + x^2/2 + y/4"
    reaction = 2.0
    source = "2*x*y - x*(2*y + exp(x/2)*sin(2*y + 1))/2 - x/4 + 15*(2*x^2 + y + 4)*exp(x/2)*sin(2*y + 1)/16 + 2*exp(x/2)*sin(2*y + 1) - exp(x/2)*cos(2*y + 1)/2"
    exact = "exp(x/2)*sin(2*y + 1) + x*y"
    [[problem.boundary]]
    where = "left"
    kind = "dirichlet"
    value = "exp(x/2)*sin(2*y + 1) + x*y"
    [[problem.boundary]]
    where = "bottom"
    kind = "dirichlet"
    value = "exp(x/2)*sin(2*y + 1) + x*y"
    [[problem.boundary]]
    where = "right"
    kind = "neumann"
    value = "(2*y + exp(x/2)*sin(2*y + 1))*(2*x^2 + y + 4)/8"
    [[problem.boundary]]
    where = "top"
    kind = "robin"
    alpha = 2.0
    value = "2*x*y + (x + 2*exp(x/2)*cos(2*y + 1))*(2*x^2 + y + 4)/4 + 2*exp(x/2)*sin(2*y + 1)"
"#;

/// 3D: `u = e^(x/2) sin(2y + 1) cos z + xyz`, `k = 1 + x²/2 + yz/4`, `c = 2`; the faces by
/// name, so that a Gmsh cube (xmin, ...) can substitute its own ([`named`]).
const PROBLEM_3D: &str = r#"
    diffusion = "1 + x^2/2 + y*z/4"
    reaction = 2.0
    source = "2*x*y*z - x*(2*y*z + exp(x/2)*sin(2*y + 1)*cos(z))/2 - y*(x*y - exp(x/2)*sin(z)*sin(2*y + 1))/4 - z*(x*z + 2*exp(x/2)*cos(z)*cos(2*y + 1))/4 + 19*(2*x^2 + y*z + 4)*exp(x/2)*sin(2*y + 1)*cos(z)/16 + 2*exp(x/2)*sin(2*y + 1)*cos(z)"
    exact = "exp(x/2)*sin(2*y + 1)*cos(z) + x*y*z"
    [[problem.boundary]]
    where = "LEFT"
    kind = "dirichlet"
    value = "exp(x/2)*sin(2*y + 1)*cos(z) + x*y*z"
    [[problem.boundary]]
    where = "FRONT"
    kind = "dirichlet"
    value = "exp(x/2)*sin(2*y + 1)*cos(z) + x*y*z"
    [[problem.boundary]]
    where = "BOTTOM"
    kind = "dirichlet"
    value = "exp(x/2)*sin(2*y + 1)*cos(z) + x*y*z"
    [[problem.boundary]]
    where = "RIGHT"
    kind = "neumann"
    value = "(2*y*z + exp(x/2)*sin(2*y + 1)*cos(z))*(2*x^2 + y*z + 4)/8"
    [[problem.boundary]]
    where = "BACK"
    kind = "neumann"
    value = "(x*z + 2*exp(x/2)*cos(z)*cos(2*y + 1))*(x^2/2 + y*z/4 + 1)"
    [[problem.boundary]]
    where = "TOP"
    kind = "robin"
    alpha = 2.0
    value = "2*x*y*z + (x*y - exp(x/2)*sin(z)*sin(2*y + 1))*(2*x^2 + y*z + 4)/4 + 2*exp(x/2)*sin(2*y + 1)*cos(z)"
"#;

/// `problem` (a 3D body with faces `"LEFT"`, ...) with the faces named `names` (left, right,
/// front, back, bottom, top).
fn named(problem: &str, names: [&str; 6]) -> String {
    let mut text = problem.to_string();
    for (key, name) in ["LEFT", "RIGHT", "FRONT", "BACK", "BOTTOM", "TOP"]
        .iter()
        .zip(names)
    {
        text = text.replace(&format!("\"{key}\""), &format!("\"{name}\""));
    }
    text
}

const BOX_FACES: [&str; 6] = ["left", "right", "front", "back", "bottom", "top"];

fn boxes(cell: &str, sizes: &[usize]) -> Vec<String> {
    sizes
        .iter()
        .map(|n| format!("{{ kind = \"box\", nx = {n}, ny = {n}, nz = {n}, cell = \"{cell}\" }}"))
        .collect()
}

fn rectangles(cell: &str, sizes: &[usize]) -> Vec<String> {
    sizes
        .iter()
        .map(|n| format!("{{ kind = \"rectangle\", nx = {n}, ny = {n}, cell = \"{cell}\" }}"))
        .collect()
}

#[test]
fn intervals_converge_at_optimal_rates() {
    let meshes: Vec<String> = [4, 8, 16, 32]
        .iter()
        .map(|n| format!("{{ kind = \"interval\", nx = {n} }}"))
        .collect();
    assert_rates("1D P1", &meshes, 1, PROBLEM_1D);
    assert_rates("1D P2", &meshes, 2, PROBLEM_1D);
}

#[test]
fn quadratic_triangles_and_quadrilaterals_converge_at_optimal_rates() {
    let sizes = [4, 8, 16];
    assert_rates("2D P2", &rectangles("triangle", &sizes), 2, PROBLEM_2D);
    assert_rates("2D Q2", &rectangles("quadrilateral", &sizes), 2, PROBLEM_2D);
}

#[test]
fn tetrahedra_converge_at_optimal_rates() {
    let problem = named(PROBLEM_3D, BOX_FACES);
    assert_rates("3D P1", &boxes("tetrahedron", &[4, 8, 16]), 1, &problem);
    assert_rates("3D P2", &boxes("tetrahedron", &[2, 4, 8]), 2, &problem);
}

#[test]
fn hexahedra_converge_at_optimal_rates() {
    let problem = named(PROBLEM_3D, BOX_FACES);
    assert_rates("3D Q1", &boxes("hexahedron", &[4, 8, 16]), 1, &problem);
    assert_rates("3D Q2", &boxes("hexahedron", &[2, 4, 8]), 2, &problem);
}

/// Patch test in 2D: `u = 1 + x - 2y + x² + xy - y²/2` (quadratic), `k = 1 + x/2 + y/4`,
/// `c = 1`, the conditions of [`PROBLEM_2D`].
const PATCH_2D: &str = r#"
    diffusion = "1 + x/2 + y/4"
    reaction = 1.0
    source = "x^2 + x*y - 3*x/4 - y^2/2 - 5*y/2"
    exact = "1 + x - 2*y + x^2 + x*y - y^2/2"
    [[problem.boundary]]
    where = "left"
    kind = "dirichlet"
    value = "1 + x - 2*y + x^2 + x*y - y^2/2"
    [[problem.boundary]]
    where = "bottom"
    kind = "dirichlet"
    value = "1 + x - 2*y + x^2 + x*y - y^2/2"
    [[problem.boundary]]
    where = "right"
    kind = "neumann"
    value = "x^2 + x*y + 5*x/2 + y^2/4 + 5*y/4 + 1"
    [[problem.boundary]]
    where = "top"
    kind = "robin"
    alpha = 2.0
    value = "5*x^2/2 + 7*x*y/4 + 2*x - 5*y^2/4 - 11*y/2"
"#;

/// Patch test in 3D: `u = 1 + x - 2y + z/2 + x² + xy + xz - y²/2 + yz - z²/3`,
/// `k = 1 + x/2 + y/4 + z/8`, `c = 1`, the conditions of [`PROBLEM_3D`]; faces named as there.
const PATCH_3D: &str = r#"
    diffusion = "1 + x/2 + y/4 + z/8"
    reaction = 1.0
    source = "x^2 + x*y + x*z - 13*x/24 - y^2/2 + y*z - 59*y/24 - z^2/3 - 5*z/24 + 29/48"
    exact = "1 + x - 2*y + z/2 + x^2 + x*y - y^2/2 + y*z - z^2/3 + x*z"
    [[problem.boundary]]
    where = "LEFT"
    kind = "dirichlet"
    value = "1 + x - 2*y + z/2 + x^2 + x*y - y^2/2 + y*z - z^2/3 + x*z"
    [[problem.boundary]]
    where = "FRONT"
    kind = "dirichlet"
    value = "1 + x - 2*y + z/2 + x^2 + x*y - y^2/2 + y*z - z^2/3 + x*z"
    [[problem.boundary]]
    where = "BOTTOM"
    kind = "dirichlet"
    value = "1 + x - 2*y + z/2 + x^2 + x*y - y^2/2 + y*z - z^2/3 + x*z"
    [[problem.boundary]]
    where = "RIGHT"
    kind = "neumann"
    value = "x^2 + x*y + 3*x*z/4 + 5*x/2 + y^2/4 + 3*y*z/8 + 5*y/4 + z^2/8 + 9*z/8 + 1"
    [[problem.boundary]]
    where = "BACK"
    kind = "neumann"
    value = "x^2/2 - x*y/4 + 5*x*z/8 - y^2/4 + y*z/8 - 3*y/2 + z^2/8 + 3*z/4 - 2"
    [[problem.boundary]]
    where = "TOP"
    kind = "robin"
    alpha = 2.0
    value = "5*x^2/2 + 11*x*y/4 + 43*x*z/24 + 13*x/4 - 3*y^2/4 + 47*y*z/24 - 23*y/8 - 3*z^2/4 + 19*z/48 + 5/2"
"#;

/// The L2, H1 and nodal errors of `s` are round-off.
fn assert_reproduced(label: &str, s: &Solution) {
    let m = &s.metrics;
    let (l2, h1, nodal) = (
        m.l2_error.unwrap(),
        m.h1_error.unwrap(),
        m.max_nodal_error.unwrap(),
    );
    eprintln!(
        "{label}: {} dofs, L2 {l2:.2e}, H1 {h1:.2e}, nodal {nodal:.2e}",
        m.dofs
    );
    assert!(l2 < 1e-10 && h1 < 1e-10 && nodal < 1e-10, "{label}: {m:?}");
}

#[test]
fn quadratic_elements_reproduce_a_quadratic_solution() {
    for (cell, n) in [("triangle", 3), ("quadrilateral", 3)] {
        let s = solve(&rectangles(cell, &[n])[0], 2, PATCH_2D);
        assert_reproduced(&format!("patch {cell}"), &s);
    }
    // Rectangles of unequal sides, with the other diagonal: still exact.
    let mesh = "{ kind = \"rectangle\", nx = 3, ny = 5, cell = \"triangle\", diagonal = \"left\" }";
    assert_reproduced("patch triangles, left diagonal", &solve(mesh, 2, PATCH_2D));
    let patch_3d = named(PATCH_3D, BOX_FACES);
    for cell in ["tetrahedron", "hexahedron"] {
        let mesh =
            "{ kind = \"box\", nx = 2, ny = 3, nz = 2, cell = \"CELL\" }".replace("CELL", cell);
        assert_reproduced(&format!("patch {cell}"), &solve(&mesh, 2, &patch_3d));
    }
    // P1 does not reproduce it (the test can fail).
    let s = solve(&rectangles("triangle", &[3])[0], 1, PATCH_2D);
    assert!(s.metrics.l2_error.unwrap() > 1e-4);
}
