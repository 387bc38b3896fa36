//! Every solution is checked after the solve, whatever the solver claims: a plugin that
//! returns NaN, or a wrong vector with "converged, residual 0", fails with a typed error that
//! names the solver and both residuals; a correct one reports its verified residual. (A sweep
//! that records such a run as failed and goes on: `crates/experiment/tests/plugin_sweeps.rs`.)

use femscale_core::{Error, SolveError};
use femscale_runtime::FemSolver;

use crate::common::{chebyshev, config, rust_plugin};

fn fixture_solve(stage: &str) -> Result<femscale_runtime::Solution, Error> {
    let fixture = rust_plugin("femscale_plugin_fixture_panics");
    let extra = format!("[plugins.options.panicky]\nstage = \"{stage}\"");
    FemSolver::from_config(config(8, "plugin:panicky", "none", &[&fixture], &extra))
        .and_then(|s| s.solve_configured())
}

#[test]
fn a_plugin_that_returns_nan_while_claiming_convergence_is_refused() {
    let err = fixture_solve("nan").unwrap_err();
    match &err {
        Error::Solve(SolveError::NonFiniteSolution {
            solver,
            count,
            first_index,
            reported_relative_residual,
        }) => {
            assert_eq!(solver, "plugin:panicky");
            assert_eq!(*count, 81, "every entry of the 9x9-node solution");
            assert_eq!(*first_index, 0);
            assert_eq!(*reported_relative_residual, 0.0);
        }
        other => panic!("expected NonFiniteSolution, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("plugin:panicky") && text.contains("non-finite"),
        "{text}"
    );
}

#[test]
fn a_plugin_that_returns_a_wrong_vector_with_zero_residual_is_refused() {
    let err = fixture_solve("forty-two").unwrap_err();
    match &err {
        Error::Solve(SolveError::Unverified {
            solver,
            reported_relative_residual,
            verified_relative_residual,
            tolerance,
            ..
        }) => {
            assert_eq!(solver, "plugin:panicky");
            assert_eq!(*reported_relative_residual, 0.0);
            assert!(
                *verified_relative_residual > 1.0,
                "{verified_relative_residual}"
            );
            assert_eq!(*tolerance, 1e-10);
        }
        other => panic!("expected Unverified, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("0.000e0") && text.contains("recomputed"),
        "{text}"
    );
}

#[test]
fn a_correct_plugin_solution_reports_its_verified_residual() {
    let cheb = chebyshev();
    let s = FemSolver::from_config(config(16, "plugin:chebyshev-cg", "none", &[&cheb], ""))
        .and_then(|s| s.solve_configured())
        .unwrap();
    let m = &s.metrics;
    assert!(m.verified_relative_residual > 0.0);
    assert!(
        m.verified_relative_residual <= 100.0 * 1e-10,
        "{}",
        m.verified_relative_residual
    );
    // The plugin's own claim and the recomputed value agree to a few digits.
    let ratio = m.verified_relative_residual / m.final_relative_residual;
    assert!((0.1..10.0).contains(&ratio), "{ratio}");
}

#[test]
fn a_plugin_reporting_impossible_figures_is_refused() {
    for (stage, says) in [
        ("negative-residual", "relative residual of -1e0"),
        ("too-many-iterations", "more than the max_iterations"),
    ] {
        let err = fixture_solve(stage).unwrap_err().to_string();
        assert!(
            err.contains("interface violation") && err.contains(says),
            "{stage}: {err}"
        );
    }
}
