//! The C interface, version 2 and version 1: budgets reach the plugin, memory is reported and
//! checked, option errors name `plugins.options.<name>`, a real version 1 library still loads
//! and solves, and a monitor call from another thread is refused and reported.

use std::path::Path;

use femscale_core::{Error, NoMonitor, SolveError, SolverOptions};
use femscale_plugin_fixture_c_interface::{FOREIGN_THREAD, MUTATING, V1};
use femscale_runtime::FemSolver;
use femscale_runtime::plugins::{self, PluginError};

use crate::common::{c_cg, config};

fn laplace(n: usize) -> std::sync::Arc<femscale_core::CsrMatrix> {
    let mut t = Vec::new();
    for i in 0..n {
        t.push((i, i, 2.0));
        if i > 0 {
            t.push((i, i - 1, -1.0));
            t.push((i - 1, i, -1.0));
        }
    }
    std::sync::Arc::new(femscale_core::CsrMatrix::try_from_triplets(n, n, &t).unwrap())
}

#[test]
fn a_version_1_library_still_loads_and_solves() {
    let v1 = plugins::load(Path::new(V1)).unwrap();
    assert_eq!(v1.name(), "c-jacobi-cg-v1");
    assert_eq!(v1.interface(), "C interface 1");
    let solution = FemSolver::from_config(config(
        8,
        "plugin:c-jacobi-cg-v1",
        "none",
        &[Path::new(V1)],
        "",
    ))
    .and_then(|s| s.solve_configured())
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(solution.metrics.linear_solve.converged);
    // Version 1 reports no memory: only the copies the adapter lends it are counted (row
    // pointers, widened columns, values, the right-hand side and the solution: 8 bytes
    // each); version 2
    // reports its own on top.
    let a = laplace(50);
    let b = vec![1.0; 50];
    let options = SolverOptions::default();
    let mut x = vec![0.0; 50];
    let mut prepared = v1
        .solver("c-jacobi-cg-v1", "{}")
        .unwrap()
        .prepare(a.clone(), &options)
        .unwrap();
    let report = prepared.solve(&b, &mut x, &mut NoMonitor).unwrap();
    assert_eq!(report.memory_bytes, 8 * (51 + 2 * a.nnz() + 2 * 50));
    let v2 = plugins::load(&c_cg()).unwrap();
    let mut prepared = v2
        .solver("c-jacobi-cg", "{}")
        .unwrap()
        .prepare(a, &options)
        .unwrap();
    let mut y = vec![0.0; 50];
    let report = prepared.solve(&b, &mut y, &mut NoMonitor).unwrap();
    assert!(report.memory_bytes >= 5 * 50 * 8, "{}", report.memory_bytes);
    assert_eq!(prepared.memory_bytes(), report.memory_bytes);
    let diff = x
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-8, "{diff}");
}

#[test]
fn the_memory_budget_reaches_a_version_2_plugin() {
    let v2 = plugins::load(&c_cg()).unwrap();
    let mut options = SolverOptions::default();
    // 20000 unknowns: five vectors are 0.8 MB, more than 0.5 MB.
    options.memory_limit_mb = Some(0.5);
    let n = 20_000;
    let mut prepared = v2
        .solver("c-jacobi-cg", "{}")
        .unwrap()
        .prepare(laplace(n), &options)
        .unwrap();
    let mut x = vec![0.0; n];
    let e = prepared
        .solve(&vec![1.0; n], &mut x, &mut NoMonitor)
        .unwrap_err();
    // The plugin saw the budget and refused; the memory it reported is checked by the host.
    assert!(
        matches!(&e, SolveError::MemoryBudget { what, needed_mb, limit_mb }
            if what == "plugin:c-jacobi-cg" && *needed_mb > 0.7 && *limit_mb == 0.5),
        "{e:?}"
    );
    assert!(
        x.iter().all(|v| *v == 0.0),
        "the plugin iterated past its budget"
    );
}

#[test]
fn c_option_errors_name_the_options_key() {
    let path = c_cg();
    let extra = "[plugins.options.c-jacobi-cg]\nsweeps = 3\n";
    match FemSolver::from_config(config(4, "plugin:c-jacobi-cg", "none", &[&path], extra)) {
        Err(Error::InvalidInput { field, reason }) => {
            assert_eq!(field, "plugins.options.c-jacobi-cg");
            assert!(reason.contains("takes no options"), "{reason}");
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    // A version 1 library checks its options only with the matrix; the error still names the
    // key.
    let v1 = Path::new(V1);
    let extra = "[plugins.options.c-jacobi-cg-v1]\nsweeps = 3\n";
    let e = FemSolver::from_config(config(4, "plugin:c-jacobi-cg-v1", "none", &[v1], extra))
        .and_then(|s| s.solve_configured())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("`plugins.options.c-jacobi-cg-v1`: c-jacobi-cg-v1 takes no options"),
        "{e}"
    );
}

#[test]
fn a_monitor_call_from_another_thread_is_refused_and_reported() {
    let plugin = plugins::load(Path::new(FOREIGN_THREAD)).unwrap();
    let mut prepared = plugin
        .solver("c-foreign-thread", "{}")
        .unwrap()
        .prepare(laplace(4), &SolverOptions::default())
        .unwrap();
    let mut x = vec![0.0; 4];
    // Counts calls; one from the plugin's thread would be a data race on `calls`.
    let mut calls = 0;
    let mut monitor = |_: usize, _: f64| {
        calls += 1;
        femscale_core::ControlFlow::Continue(())
    };
    let e = prepared.solve(&[1.0; 4], &mut x, &mut monitor).unwrap_err();
    assert_eq!(calls, 0, "the foreign call reached the host monitor");
    match &e {
        SolveError::Backend(inner) => match inner.downcast_ref::<PluginError>() {
            Some(PluginError::Returned {
                plugin, message, ..
            }) => {
                assert_eq!(plugin, "c-foreign-thread");
                assert!(message.contains("from a thread other than"), "{message}");
            }
            other => panic!("expected Returned, got {other:?}"),
        },
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[test]
fn a_plugin_that_writes_into_what_it_is_lent_changes_only_its_copies() {
    // The plugin doubles the values and triples the right-hand side it is lent, then solves
    // that system exactly: 1.5 times the solution.
    let plugin = plugins::load(Path::new(MUTATING)).unwrap();
    let a = laplace(30);
    let values = a.values().to_vec();
    let b = vec![1.0; 30];
    let mut prepared = plugin
        .solver("c-mutating-cg", "{}")
        .unwrap()
        .prepare(a.clone(), &SolverOptions::default())
        .unwrap();
    let mut x = vec![0.0; 30];
    prepared.solve(&b, &mut x, &mut NoMonitor).unwrap();
    assert_eq!(a.values(), &values[..], "the caller's matrix was written");
    assert!(
        b.iter().all(|&v| v == 1.0),
        "the caller's right-hand side was written"
    );
    // SIZE_MAX bytes reported: counted as that, not wrapped round by the adapter's own.
    assert_eq!(prepared.memory_bytes(), usize::MAX);
    // Destroying the solver writes into the last solution buffer it was given: not `x`.
    let solved = x.clone();
    drop(prepared);
    assert_eq!(
        x, solved,
        "the caller's solution was written after the solve"
    );
    let mut limited = SolverOptions::default();
    limited.memory_limit_mb = Some(1.0);
    let mut over = plugin
        .solver("c-mutating-cg", "{}")
        .unwrap()
        .prepare(a.clone(), &limited)
        .unwrap();
    let e = over
        .solve(&b, &mut vec![0.0; 30], &mut NoMonitor)
        .unwrap_err();
    assert!(matches!(e, SolveError::MemoryBudget { .. }), "{e:?}");
    let options = SolverOptions::default();
    let report = femscale_core::SolveReport::default();
    let e = femscale_core::verify_solution(&a, &b, &x, &report, &options).unwrap_err();
    assert!(matches!(e, SolveError::Unverified { .. }), "{e:?}");

    // Through the pipeline, with the assembled operator cached: refused, and the built-in CG
    // on the same cache then reuses an operator the plugin did not damage.
    let extra = "[cache]\nlevels = [\"memory\"]\n";
    let cfg = |kind: &str| {
        let mut c = config(8, kind, "none", &[Path::new(MUTATING)], extra);
        c.scaling.enable_caching = Some(true);
        c
    };
    let first = FemSolver::from_config(cfg("plugin:c-mutating-cg")).unwrap();
    let err = first.solve_configured().unwrap_err();
    assert!(
        matches!(err, Error::Solve(SolveError::Unverified { .. })),
        "{err:?}"
    );
    let cache = first.shared_cache().unwrap();
    let right = FemSolver::from_config(cfg("cg"))
        .unwrap()
        .with_cache(cache)
        .solve_configured()
        .unwrap();
    assert!(
        right
            .metrics
            .cache_reused
            .iter()
            .any(|r| r.artefact == femscale_core::Artefact::System),
        "{:?}",
        right.metrics.cache_reused
    );
    let alone = FemSolver::from_config(config(8, "cg", "none", &[], ""))
        .and_then(|s| s.solve_configured())
        .unwrap();
    let (l2, alone) = (
        right.metrics.l2_error.unwrap(),
        alone.metrics.l2_error.unwrap(),
    );
    assert!((l2 - alone).abs() <= 1e-12 * alone, "{l2} against {alone}");
}
