//! Orders 1 and 2 in 1D, 2D and 3D through the pipeline (`FemSolver` with a configuration):
//! manufactured solutions with variable `k`, a reaction term and mixed Dirichlet, Neumann and
//! Robin conditions on generated meshes converge at the optimal rates (P1/Q1: L2 2, H1 1;
//! P2/Q2: L2 3, H1 2), and P2/Q2 reproduce a quadratic solution to round-off (patch tests).
//!
//! The sources and boundary data are `f = -div(k grad u) + c u`, `k du/dn` and
//! `k du/dn + alpha u` of the stated `u`, `k` and `c`, derived with sympy.

mod amg;
mod generated;
mod gmsh;
mod problems;

use femscale_runtime::{Config, FemSolver, Solution};

/// The configuration of the problem `body` (the `[problem]` keys after `mesh` and `order`) on
/// `mesh` (an inline table) with elements of `order`, solved by the direct solver.
fn config_of(mesh: &str, order: u8, body: &str) -> Config {
    let text =
        format!("[problem]\nmesh = {mesh}\norder = {order}\n{body}\n[solver]\nkind = \"direct\"\n");
    Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Solves the problem of [`config_of`].
fn solve(mesh: &str, order: u8, body: &str) -> Solution {
    solve_config(config_of(mesh, order, body))
}

fn solve_config(config: Config) -> Solution {
    let text = format!("{:?}", config.problem.mesh);
    FemSolver::from_config(config)
        .unwrap()
        .solve_configured()
        .unwrap_or_else(|e| panic!("{e} ({text})"))
}

/// `e` as `[1.234e-5, ...]`.
fn sci(e: &[f64]) -> String {
    let items: Vec<String> = e.iter().map(|v| format!("{v:.3e}")).collect();
    format!("[{}]", items.join(", "))
}

fn rates(e: &[f64]) -> Vec<f64> {
    e.windows(2).map(|w| (w[0] / w[1]).log2()).collect()
}

/// L2 and H1 errors of the solutions on `meshes`.
struct Errors {
    l2: Vec<f64>,
    h1: Vec<f64>,
}

impl Errors {
    /// Collects and prints the errors and rates of `solutions` under `label`.
    fn of(label: &str, solutions: &[Solution]) -> Self {
        let l2: Vec<f64> = solutions
            .iter()
            .map(|s| s.metrics.l2_error.unwrap())
            .collect();
        let h1: Vec<f64> = solutions
            .iter()
            .map(|s| s.metrics.h1_error.unwrap())
            .collect();
        let dofs: Vec<usize> = solutions.iter().map(|s| s.metrics.dofs).collect();
        eprintln!(
            "{label}: dofs {dofs:?}\n  L2 {} rates {:.3?}\n  H1 {} rates {:.3?}",
            sci(&l2),
            rates(&l2),
            sci(&h1),
            rates(&h1)
        );
        Self { l2, h1 }
    }

    /// The last L2 and H1 rates are `order + 1` and `order` within 0.15, and no earlier one is
    /// more than 0.15 below.
    fn assert_optimal(&self, label: &str, order: u8) {
        let (rl2, rh1) = (rates(&self.l2), rates(&self.h1));
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
    }
}

/// Solves on the meshes `meshes` (each twice finer than the last) with elements of `order`
/// and checks the optimal rates ([`Errors::assert_optimal`]) and the element's name.
fn assert_rates(label: &str, meshes: &[String], order: u8, body: &str) -> Errors {
    let solutions: Vec<Solution> = meshes.iter().map(|m| solve(m, order, body)).collect();
    for s in &solutions {
        assert_eq!(s.metrics.element, element_name(s, order), "{label}");
    }
    let errors = Errors::of(label, &solutions);
    errors.assert_optimal(label, order);
    errors
}

/// The element name the report gives for the mesh's cells at `order`.
fn element_name(s: &Solution, order: u8) -> String {
    let simplex = matches!(
        s.metrics.mesh.cell_kind.as_str(),
        "interval" | "triangle" | "tetrahedron"
    );
    format!("{}{order}", if simplex { "P" } else { "Q" })
}

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
