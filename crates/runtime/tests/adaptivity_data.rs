//! Data the adaptive loop must not misread (review A): a negative reaction, whose energy
//! "error" with `c` itself is no norm, and data whose true error overflows; and the memory
//! check naming the count that makes a mesh too big.

use femscale_runtime::{Config, FemSolver, Solution};

const SMOOTH: &str = r#"
[problem]
mesh = { kind = "rectangle", nx = 4, ny = 4, cell = "triangle" }
source = "(2*pi^2 - 1000)*sin(pi*x)*sin(pi*y) - 1000*(x + 1)"
reaction = -1000.0
exact = "sin(pi*x)*sin(pi*y) + x + 1"
boundary = [{ where = "all", kind = "dirichlet", value = "sin(pi*x)*sin(pi*y) + x + 1" }]
[solver]
kind = "direct"
[adaptivity]
enabled = true
max_steps = 3
"#;

fn solve(text: &str, overrides: &[&str]) -> femscale_core::Result<Solution> {
    let solver = FemSolver::from_config(Config::from_toml_str(text)?)?;
    solver.with_overrides(overrides)?.solve_configured()
}

/// With `c = -1000` every step's true error is `sqrt(sum k |grad e|^2 + |c| e^2)`: finite and at
/// least the gradient's part (with `c` itself it was the square root of a negative number on
/// the coarse steps, and 0.199 against a gradient error of 0.504 later, which met a target of
/// 0.25). A reference energy, which is no norm's square for such an operator, is refused.
#[test]
fn a_negative_reaction_is_measured_in_a_norm() {
    let solution = solve(SMOOTH, &[]).unwrap();
    let m = &solution.metrics;
    let steps = &m.adaptivity.as_ref().unwrap().steps;
    assert_eq!(steps.len(), 3);
    for step in steps {
        let error = step.error.unwrap();
        assert!(error.is_finite() && error > 0.0, "{step:?}");
    }
    let last = steps.last().unwrap();
    let (h1, l2) = (m.h1_error.unwrap(), m.l2_error.unwrap());
    let expected = (h1 * h1 + 1000.0 * l2 * l2).sqrt();
    let error = last.error.unwrap();
    assert!(
        (error - expected).abs() <= 1e-6 * expected,
        "{error} vs {expected}"
    );

    let without_exact = SMOOTH.replace("exact = ", "# exact = ");
    let e = solve(&without_exact, &["adaptivity.reference_energy=1.0"]).unwrap_err();
    assert_eq!(
        e.field_name().as_deref(),
        Some("adaptivity.reference_energy"),
        "{e}"
    );
    assert!(e.to_string().contains("reaction = -1000"), "{e}");
}

/// A true error whose square overflows (`k = 1e-160` scales the load by 1e160) is a typed
/// error naming `problem`, not a step without an error that `target = "error"` never meets.
#[test]
fn a_true_error_that_overflows_is_a_typed_error() {
    let positive = SMOOTH.replace("reaction = -1000.0", "reaction = 0.0");
    let e = solve(
        &positive,
        &[
            "problem.diffusion=1e-160",
            "adaptivity.target=\"error\"",
            "adaptivity.target_error=1e-3",
        ],
    )
    .unwrap_err();
    assert_eq!(e.field_name().as_deref(), Some("problem"), "{e}");
    assert!(e.to_string().contains("true error"), "{e}");
}

/// A box too big for memory is refused naming the count that makes it so (review B: `nz` and
/// `ny` were blamed on `nx`).
#[test]
fn a_mesh_too_big_names_its_largest_count() {
    let text = r#"
        [problem]
        mesh = { kind = "box", nx = 4, ny = 4, nz = 4, cell = "tetrahedron" }
        source = 1.0
        boundary = [{ where = "all", kind = "dirichlet", value = 0.0 }]
    "#;
    for key in ["nx", "ny", "nz"] {
        let set = format!("problem.mesh.{key}=100000000");
        let e = solve(text, &[&set]).unwrap_err();
        if !e.to_string().contains("available") {
            // No memory figure on this system (the check is skipped): nothing to name.
            eprintln!("SKIPPED: no available-memory figure here: {e}");
            return;
        }
        let field = format!("problem.mesh.{key}");
        assert_eq!(e.field_name().as_deref(), Some(field.as_str()), "{e}");
    }
}

/// A solution the elements reproduce stops the loop as round-off with a negative reaction as
/// with a positive one (review C: `a(u_h, u_h)` is negative there, the round-off scale was 0,
/// and the loop marked cells by errors of 1e-14 with effectivities of their ratios).
#[test]
fn round_off_is_seen_with_a_negative_reaction() {
    let text = r#"
        [problem]
        mesh = { kind = "rectangle", nx = 8, ny = 8, cell = "triangle" }
        reaction = -1.0
        source = "-(x + y + 1)"
        exact = "x + y + 1"
        boundary = [{ where = "all", kind = "dirichlet", value = "x + y + 1" }]
        [solver]
        kind = "direct"
        [adaptivity]
        enabled = true
        estimator = "residual"
        max_steps = 4
    "#;
    let solution = solve(text, &[]).unwrap();
    let report = solution.metrics.adaptivity.unwrap();
    assert_eq!(
        report.stopped_by,
        femscale_core::AdaptiveStop::RoundOff,
        "{report:?}"
    );
    assert_eq!(report.steps.len(), 1);
    assert!(report.steps[0].effectivity.is_none(), "{report:?}");
}
