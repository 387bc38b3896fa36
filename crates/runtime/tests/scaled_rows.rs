//! Rows of very different size: `‖b − Ax‖ ≤ tol ‖b‖` is met on the largest rows while the
//! others are not solved. Review T saw GMRES and BiCGStab return errors of 100 % on a Robin
//! "penalty" boundary (`alpha = 1e12`) and of 1 % across a diffusion jumping by 10⁶, with
//! relative residuals of 1e-9 to 1e-12; the pipeline now refines such a solution row by row
//! (its componentwise backward error must come within 100 times the tolerance).

use femscale_runtime::{Config, FemSolver};

fn solve(text: &str, kind: &str) -> femscale_runtime::Solution {
    let config = Config::from_toml_str(text).unwrap();
    let solver = FemSolver::from_config(config).unwrap();
    let kind = format!("solver.kind=\"{kind}\"");
    (solver
        .with_overrides(&[kind.as_str()])
        .unwrap()
        .solve_configured())
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The largest nodal error of each Krylov method against the direct solver's, and the
/// backward error.
fn check(text: &str, slack: f64) {
    let direct = solve(text, "direct").metrics;
    let reference = direct.max_nodal_error.unwrap();
    for kind in ["gmres", "bicgstab", "cg"] {
        let m = solve(text, kind).metrics;
        let error = m.max_nodal_error.unwrap();
        assert!(
            error <= reference + slack,
            "{kind}: max nodal error {error:e} against {reference:e} (backward error {:e})",
            m.verified_backward_error
        );
        assert!(m.verified_backward_error <= 1e-6, "{kind}: {m:?}");
    }
}

#[test]
fn a_robin_penalty_boundary_is_solved_on_every_row() {
    // u = 1 + x + y + 16 x(1-x) y(1-y) imposed by Robin conditions with alpha = 1e12.
    let text = r#"
[problem]
mesh = { kind = "rectangle", nx = 20, ny = 20, cell = "triangle" }
params = { a = 1e12 }
source = "32*(y*(1-y)+x*(1-x))"
exact = "1 + x + y + 16*x*(1-x)*y*(1-y)"
boundary = [
 { where = "left",   kind = "robin", alpha = "a", value = "-1-16*y*(1-y) + a*(1+y)" },
 { where = "right",  kind = "robin", alpha = "a", value = "1-16*y*(1-y) + a*(2+y)" },
 { where = "bottom", kind = "robin", alpha = "a", value = "-1-16*x*(1-x) + a*(1+x)" },
 { where = "top",    kind = "robin", alpha = "a", value = "1-16*x*(1-x) + a*(2+x)" }]
"#;
    // Before: GMRES 2.96 and BiCGStab 2.84 where the discretisation's error is 2e-3.
    check(text, 1e-6);
}

#[test]
fn a_diffusion_contrast_of_a_million_is_solved_on_every_row() {
    // -(k u')' = 0 with k = 1 | 1e6: Q1 reproduces the piecewise linear solution.
    let text = r#"
[problem]
mesh = { kind = "rectangle", x = [0.0, 1.0], y = [0.0, 0.25], nx = 16, ny = 4, cell = "quadrilateral" }
diffusion = "if(x < 0.5, 1, 1e6)"
source = 0
exact = "(x <= 0.5)*2*x/(1+1e-6) + (x > 0.5)*(1/(1+1e-6) + 2e-6*(x-0.5)/(1+1e-6))"
boundary = [
 { where = "left", kind = "dirichlet", value = 0.0 },
 { where = "right", kind = "dirichlet", value = 1.0 }]
"#;
    // Before: GMRES 1.0e-2 and BiCGStab 1.2e-3 where the direct solver's error is 4e-15.
    check(text, 1e-9);
}

/// A solution that decays to 1e-44 and below (review U): its last rows' backward error is 1
/// however accurate the solution, and the refinement refused these good solutions.
#[test]
fn a_solution_decayed_below_the_systems_scale_is_accepted() {
    let text = r#"
[problem]
dim = 1
mesh = { kind = "interval", x = [0.0, 1.0], nx = 2000 }
diffusion = 1e-4
reaction = 1.0
source = 0.0
boundary = [
 { where = "left", kind = "dirichlet", value = 1.0 },
 { where = "right", kind = "dirichlet", value = 0.0 }]
[solver]
preconditioner = "jacobi"
"#;
    let direct = solve(&text.replace("preconditioner = \"jacobi\"", ""), "direct");
    for kind in ["cg", "gmres", "bicgstab"] {
        let s = solve(text, kind);
        let gap = (s.values.iter().zip(&direct.values))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f64, f64::max);
        assert!(gap < 1e-6, "{kind}: {gap:e}");
    }
}
