//! Solves through plugins: agreement with the built-in solvers, plugins side by side, plugin
//! preconditioners, options, monitors and timeouts, panics and log lines. (Sweeps over plugins
//! are tested with the experiment runner, in `crates/experiment/tests/plugin_sweeps.rs`.)

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Mutex};

use femscale_core::{CsrMatrix, Error, SolveError, SolverOptions};
use femscale_runtime::plugins::{self, PluginError};
use femscale_runtime::{Config, FemSolver, Solution};

use crate::common::{c_cg, chebyshev, config, rust_plugin, template, toml_paths};

fn solve(config: Config) -> Solution {
    FemSolver::from_config(config)
        .and_then(|s| s.solve_configured())
        .unwrap_or_else(|e| panic!("solve failed: {e}"))
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn plugin_solvers_match_the_built_in_solvers() {
    let plugins = [chebyshev(), c_cg()];
    let paths: Vec<&Path> = plugins.iter().map(|p| p.as_path()).collect();
    let direct = solve(config(32, "direct", "none", &[], ""));
    let jacobi_cg = solve(config(32, "cg", "jacobi", &[], ""));
    let degree_1 = "[plugins.options.chebyshev-cg]\ndegree = 1";
    for (kind, extra) in [
        ("plugin:chebyshev-cg", ""),
        ("plugin:chebyshev-cg", degree_1),
        ("plugin:c-jacobi-cg", ""),
    ] {
        let sol = solve(config(32, kind, "none", &paths, extra));
        let m = &sol.metrics;
        assert_eq!(m.solver, kind);
        assert!(m.linear_solve.converged, "{kind}");
        assert_eq!(
            m.linear_solve.residual_history.len(),
            m.iterations,
            "{kind}"
        );
        assert!(
            max_diff(&sol.values, &direct.values) < 1e-7,
            "{kind} {extra}: differs from the direct solve by {}",
            max_diff(&sol.values, &direct.values)
        );
        assert!((m.l2_error.unwrap() - direct.metrics.l2_error.unwrap()).abs() < 1e-8);
        if kind == "plugin:c-jacobi-cg" || !extra.is_empty() {
            // The same algorithm as the built-in Jacobi-CG: the same iterations, up to rounding.
            assert!(
                m.iterations.abs_diff(jacobi_cg.metrics.iterations) <= 1,
                "{kind} {extra}: {} iterations, built-in Jacobi-CG {}",
                m.iterations,
                jacobi_cg.metrics.iterations
            );
        } else {
            assert!(
                2 * m.iterations < jacobi_cg.metrics.iterations,
                "degree 4: {} iterations, Jacobi-CG {}",
                m.iterations,
                jacobi_cg.metrics.iterations
            );
            assert!(
                m.preconditioner.starts_with("chebyshev-jacobi"),
                "{}",
                m.preconditioner
            );
        }
    }
}

#[test]
fn plugins_side_by_side_and_a_plugin_preconditioner_with_built_in_cg() {
    let plugins = [chebyshev(), c_cg(), template()];
    let paths: Vec<&Path> = plugins.iter().map(|p| p.as_path()).collect();
    let base = FemSolver::from_config(config(16, "plugin:chebyshev-cg", "none", &paths, ""))
        .expect("three plugins load together");
    let names = base.registry().solver_names();
    for name in [
        "plugin:chebyshev-cg",
        "plugin:c-jacobi-cg",
        "plugin:richardson",
        "cg",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }
    assert!(
        base.registry()
            .preconditioner_names()
            .contains(&"plugin:chebyshev".to_string())
    );
    let reference = base.solve_configured().unwrap();
    for overrides in [
        [
            "solver.kind=plugin:c-jacobi-cg",
            "solver.preconditioner=none",
        ],
        [
            "solver.kind=plugin:richardson",
            "solver.preconditioner=none",
        ],
        ["solver.kind=cg", "solver.preconditioner=plugin:chebyshev"],
    ] {
        let sol = base
            .scoped(&overrides, |s| s.solve_configured())
            .unwrap_or_else(|e| panic!("{overrides:?}: {e}"));
        assert!(
            max_diff(&sol.values, &reference.values) < 1e-6,
            "{overrides:?}"
        );
        if overrides[0] == "solver.kind=cg" {
            assert_eq!(sol.metrics.preconditioner, "plugin:chebyshev");
        }
    }
    let loaded = plugins::loaded_plugins();
    for name in ["chebyshev", "c-jacobi-cg", "template"] {
        assert!(loaded.iter().any(|p| p.name() == name), "{name} not loaded");
    }
}

#[test]
fn plugin_options_are_checked_and_named() {
    let cheb = chebyshev();
    let bad = [
        ("[plugins.options.chebyshev-cg]\ndegree = 0", "degree"),
        ("[plugins.options.chebyshev-cg]\ncolour = 1", "colour"),
        (
            "[plugins.options.cheby-cg]\ndegree = 2",
            "no loaded plugin provides",
        ),
    ];
    for (extra, what) in bad {
        match FemSolver::from_config(config(8, "plugin:chebyshev-cg", "none", &[&cheb], extra)) {
            Err(Error::InvalidInput { field, reason }) => {
                assert!(
                    field.starts_with(&"plugins.options".into()) && field.len() == 3,
                    "{field}"
                );
                assert!(reason.contains(what), "{extra}: {reason}");
            }
            other => panic!("{extra}: expected InvalidInput, got {other:?}"),
        }
    }
}

/// A 1D Laplacian with `n` unknowns.
fn laplace_1d(n: usize) -> Arc<CsrMatrix> {
    let mut triplets = Vec::new();
    for i in 0..n {
        triplets.push((i, i, 2.0));
        if i > 0 {
            triplets.push((i, i - 1, -1.0));
            triplets.push((i - 1, i, -1.0));
        }
    }
    Arc::new(CsrMatrix::try_from_triplets(n, n, &triplets).unwrap())
}

#[test]
fn monitors_stop_plugin_solves_and_timeouts_are_enforced() {
    let plugin = plugins::load(&chebyshev()).unwrap();
    let c_plugin = plugins::load(&c_cg()).unwrap();
    let a = laplace_1d(400);
    let b = vec![1.0; 400];
    for solver in [
        plugin.solver("chebyshev-cg", r#"{"degree": 2}"#).unwrap(),
        c_plugin.solver("c-jacobi-cg", "{}").unwrap(),
    ] {
        let mut prepared = solver
            .prepare(a.clone(), &SolverOptions::default())
            .unwrap();
        let mut x = vec![0.0; 400];
        let mut stop_at_3 = |it: usize, _: f64| {
            if it >= 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        match prepared.solve(&b, &mut x, &mut stop_at_3) {
            Err(SolveError::Stopped { report }) => {
                assert_eq!(report.iterations, 3, "{}", solver.name());
                assert_eq!(report.residual_history.len(), 3);
            }
            other => panic!("{}: expected Stopped, got {other:?}", solver.name()),
        }
        let mut options = SolverOptions::default();
        options.timeout_seconds = Some(1e-9);
        let mut prepared = solver.prepare(a.clone(), &options).unwrap();
        let mut x = vec![0.0; 400];
        match prepared.solve(&b, &mut x, &mut femscale_core::NoMonitor) {
            Err(SolveError::Timeout {
                limit_seconds,
                report,
                ..
            }) => {
                assert_eq!(limit_seconds, 1e-9);
                assert_eq!(report.solver, solver.name());
            }
            other => panic!("{}: expected Timeout, got {other:?}", solver.name()),
        }
        let mut options = SolverOptions::default();
        options.max_iterations = 2;
        let mut prepared = solver.prepare(a.clone(), &options).unwrap();
        assert!(matches!(
            prepared.solve(&b, &mut x, &mut femscale_core::NoMonitor),
            Err(SolveError::NotConverged { report }) if report.iterations == 2
        ));
        assert!(matches!(
            prepared.solve(&b[..10], &mut x, &mut femscale_core::NoMonitor),
            Err(SolveError::DimensionMismatch { len: 10, .. })
        ));
        // New values, same pattern: the set-up is refreshed and the solve converges.
        let scaled = Arc::new(
            CsrMatrix::try_from_pattern_and_values(
                a.pattern().clone(),
                a.values().iter().map(|v| 2.0 * v).collect(),
            )
            .unwrap(),
        );
        let mut prepared = solver
            .prepare(a.clone(), &SolverOptions::default())
            .unwrap();
        prepared.update_values(scaled.clone()).unwrap();
        let mut x = vec![0.0; 400];
        prepared
            .solve(&b, &mut x, &mut femscale_core::NoMonitor)
            .unwrap();
        let mut ax = vec![0.0; 400];
        scaled.mul_vec_into(&x, &mut ax);
        assert!(max_diff(&ax, &b) < 1e-6, "{}", solver.name());
    }
}

/// Whether `e` is a solve error wrapping the runtime's `PluginError`, matching `check`.
fn plugin_error(e: &Error, check: impl Fn(&PluginError) -> bool) -> bool {
    match e {
        Error::Solve(SolveError::Backend(inner)) => {
            inner.downcast_ref::<PluginError>().is_some_and(check)
        }
        Error::Plugin { .. } => true,
        _ => false,
    }
}

#[test]
fn a_panicking_plugin_returns_an_error_and_the_host_goes_on() {
    let fixture = rust_plugin("femscale_plugin_fixture_panics");
    let cheb = chebyshev();
    let with = |stage: &str, kind: &str, pc: &str| {
        let extra = format!(
            "[plugins.options.panicky]\nstage = \"{stage}\"\n[plugins.options.panicky-pc]\nstage = \"{stage}\""
        );
        FemSolver::from_config(config(8, kind, pc, &[&fixture, &cheb], &extra))
            .and_then(|s| s.solve_configured())
    };
    for stage in ["prepare", "solve"] {
        let err = with(stage, "plugin:panicky", "none").unwrap_err();
        assert!(
            plugin_error(
                &err,
                |p| matches!(p, PluginError::Panicked { plugin, message }
                if plugin == "fixture-panics" && message.contains(&format!("fixture panic in {stage}")))
            ),
            "{stage}: {err:?}"
        );
    }
    // A panic while the plugin builds its solver from the options.
    match with("create", "plugin:panicky", "none") {
        Err(Error::Plugin { plugin, message }) => {
            assert_eq!(plugin, "fixture-panics");
            assert!(
                message.contains("panic in the plugin: fixture panic in create"),
                "{message}"
            );
        }
        other => panic!("expected Error::Plugin, got {other:?}"),
    }
    // A plugin preconditioner that panics in `apply`: each built-in Krylov solver reports the
    // panic, naming the plugin and the preconditioner, not the breakdown its NaN caused.
    for kind in ["cg", "gmres", "bicgstab"] {
        let err = with("apply", kind, "plugin:panicky-pc").unwrap_err();
        assert!(
            plugin_error(
                &err,
                |p| matches!(p, PluginError::Panicked { plugin, message }
                if plugin == "fixture-panics"
                    && message.contains("fixture panic in apply")
                    && message.contains("preconditioner `plugin:panicky-pc`"))
            ) && !matches!(err, Error::Plugin { .. }),
            "{kind}: {err:?}"
        );
        assert!(!err.to_string().contains("positive definite"), "{err}");
    }
    // A plugin that returns an error.
    let err = with("error", "plugin:panicky", "none").unwrap_err();
    assert!(
        plugin_error(&err, |p| matches!(p, PluginError::Returned { message, .. }
            if message == "the fixture fails on purpose")),
        "{err:?}"
    );
    // The host goes on: the same process solves with the other plugin and the fixture.
    let ok = with("nothing", "plugin:chebyshev-cg", "none").unwrap();
    assert!(ok.metrics.linear_solve.converged);
    // The fixture's `x = b` claims convergence: the host's check of the true residual
    // refuses it.
    let err = with("nothing", "plugin:panicky", "none").unwrap_err();
    assert!(
        matches!(err, Error::Solve(SolveError::Unverified { .. })),
        "{err:?}"
    );
}

/// Collects formatted tracing output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn plugin_log_lines_reach_the_hosts_tracing_output() {
    let plugin = plugins::load(&rust_plugin("femscale_plugin_fixture_panics")).unwrap();
    let solver = plugin.solver("panicky", "{}").unwrap();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        solver
            .prepare(laplace_1d(7), &SolverOptions::default())
            .unwrap();
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("panicky prepared for 7 unknowns"))
        .unwrap_or_else(|| panic!("no plugin log line in:\n{text}"));
    assert!(line.contains("femscale::plugin"), "{line}");
    assert!(line.contains("fixture-panics"), "{line}");
    assert!(line.contains("INFO"), "{line}");
}

#[test]
fn overrides_load_and_reconfigure_plugins() {
    let base = FemSolver::from_config(config(24, "cg", "jacobi", &[], "")).unwrap();
    assert!(base.solve_configured().is_ok());
    let path = chebyshev();
    let paths = toml_paths(&[path.as_path()]);
    let with_plugin = base
        .with_overrides(&[
            &format!("plugins.paths={paths}"),
            "solver.kind=plugin:chebyshev-cg",
            "solver.preconditioner=none",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    let sol = with_plugin.solve_configured().unwrap();
    assert_eq!(sol.metrics.solver, "plugin:chebyshev-cg");
    // Reconfiguring the plugin's options through another override takes effect: degree 1 is
    // Jacobi-CG, degree 8 needs far fewer iterations.
    let degree = |d: usize| {
        with_plugin
            .with_overrides(&[&format!("plugins.options.chebyshev-cg.degree={d}")])
            .unwrap_or_else(|e| panic!("{e}"))
            .solve_configured()
            .unwrap()
            .metrics
            .iterations
    };
    let (one, eight) = (degree(1), degree(8));
    assert!(
        eight * 2 < one,
        "degree 8: {eight} iterations, degree 1: {one}"
    );
    // The original solver is unchanged and knows no plugin.
    assert!(
        base.with_overrides(&["solver.kind=plugin:chebyshev-cg"])
            .is_err()
    );
}

#[test]
fn a_preconditioner_for_a_plugin_solver_is_refused_naming_the_key() {
    let cheb = chebyshev();
    for pc in ["jacobi", "amg", "plugin:chebyshev"] {
        match FemSolver::from_config(config(4, "plugin:chebyshev-cg", pc, &[&cheb], "")) {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, "solver.preconditioner");
                assert!(
                    reason.contains(pc) && reason.contains("plugin:chebyshev-cg"),
                    "{reason}"
                );
            }
            other => panic!("{pc}: expected InvalidInput, got {other:?}"),
        }
    }
    for pc in ["none", "auto"] {
        let solution = FemSolver::from_config(config(8, "plugin:chebyshev-cg", pc, &[&cheb], ""))
            .and_then(|s| s.solve_configured())
            .unwrap_or_else(|e| panic!("{pc}: {e}"));
        assert!(solution.metrics.linear_solve.converged);
    }
}
