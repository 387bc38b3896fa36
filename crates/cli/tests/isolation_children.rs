//! The life of plugin-host children, seen from a host process (this test binary, using the
//! library): a prepared solver keeps one child across right-hand sides and value updates, a
//! crash leaves no zombie, and dropping the prepared solver kills and reaps its child.
//!
//! One test function only: it counts this process's children, which parallel tests would
//! disturb.

use std::path::PathBuf;
use std::sync::Arc;

use femscale::core::{CsrMatrix, NoMonitor, SolveError, SolverOptions};
use femscale::runtime::plugins::isolation::IsolationError;
use femscale::runtime::{Config, Registry};
use femscale::solvers::MethodOptions;

/// Pids of this process's children (any state, zombies included), from /proc.
fn children() -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may contain spaces, so split after the `)`.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(me) {
            found.push(pid);
        }
    }
    found
}

/// The 1D Laplacian (tridiagonal 2, -1) of size `n`.
fn laplacian(n: usize) -> Arc<CsrMatrix> {
    let mut t = Vec::new();
    for i in 0..n {
        t.push((i, i, 2.0));
        if i > 0 {
            t.push((i, i - 1, -1.0));
            t.push((i - 1, i, -1.0));
        }
    }
    Arc::new(CsrMatrix::try_from_triplets(n, n, &t).unwrap())
}

fn registry() -> Registry {
    let paths = [
        PathBuf::from(femscale_plugin_c_cg::LIBRARY_PATH),
        PathBuf::from(femscale_plugin_fixture_c_segfault::LIBRARY_PATH),
    ];
    let list: Vec<String> = paths.iter().map(|p| format!("'{}'", p.display())).collect();
    let text = format!(
        "[plugins]\npaths = [{}]\nisolation = \"process\"\nhost_executable = '{}'\n",
        list.join(", "),
        env!("CARGO_BIN_EXE_femscale")
    );
    Registry::from_config(&Config::from_toml_str(&text).unwrap()).unwrap()
}

fn residual(a: &CsrMatrix, b: &[f64], x: &[f64]) -> f64 {
    let mut ax = vec![0.0; b.len()];
    a.mul_vec_into(x, &mut ax);
    let r: f64 = b.iter().zip(&ax).map(|(b, ax)| (b - ax).powi(2)).sum();
    r.sqrt() / b.iter().map(|b| b * b).sum::<f64>().sqrt()
}

#[test]
fn children_live_as_long_as_their_prepared_solver_and_leave_no_zombie() {
    let registry = registry();
    let options = SolverOptions::default();
    let a = laplacian(200);
    assert!(children().is_empty(), "no child before: {:?}", children());

    let solver = registry
        .solver("plugin:c-jacobi-cg", "none", &MethodOptions::default())
        .unwrap();
    let mut prepared = solver.prepare(a.clone(), &options).unwrap();
    let pids = children();
    assert_eq!(pids.len(), 1, "one child per prepared solver: {pids:?}");

    // Many right-hand sides, one child; the solutions are right.
    for k in 1..=3 {
        let b: Vec<f64> = (0..200).map(|i| ((i * k) as f64).sin() + 1.0).collect();
        let mut x = vec![0.0; 200];
        let report = prepared.solve(&b, &mut x, &mut NoMonitor).unwrap();
        assert!(report.converged && report.iterations > 1, "{report:?}");
        assert!(residual(&a, &b, &x) < 1e-7, "solve {k}");
        assert_eq!(children(), pids, "the same child serves solve {k}");
    }
    // New values with the same pattern: refreshed in the same child.
    let scaled = Arc::new(
        CsrMatrix::try_from_pattern_and_values(
            a.pattern().clone(),
            a.values().iter().map(|v| 3.0 * v).collect(),
        )
        .unwrap(),
    );
    prepared.update_values(scaled.clone()).unwrap();
    let b = vec![1.0; 200];
    let mut x = vec![0.0; 200];
    prepared.solve(&b, &mut x, &mut NoMonitor).unwrap();
    assert!(residual(&scaled, &b, &x) < 1e-7);
    assert_eq!(children(), pids);

    drop(prepared);
    assert!(
        children().is_empty(),
        "dropped: killed and reaped: {:?}",
        children()
    );

    // A crash: typed error, the child is reaped at once (no zombie), and the host goes on.
    let crashing = registry
        .solver("plugin:c-segfault", "none", &MethodOptions::default())
        .unwrap();
    let mut prepared = crashing.prepare(a.clone(), &options).unwrap();
    let mut x = vec![0.0; 200];
    let e = prepared.solve(&b, &mut x, &mut NoMonitor).unwrap_err();
    let SolveError::Backend(inner) = &e else {
        panic!("expected an isolation error, got {e}");
    };
    let isolation = inner
        .downcast_ref::<IsolationError>()
        .unwrap_or_else(|| panic!("expected an isolation error, got {e}"));
    assert!(
        matches!(isolation, IsolationError::Crashed { signal: 11, plugin, .. } if plugin == "c-segfault"),
        "{isolation}"
    );
    assert!(
        children().is_empty(),
        "no zombie after a crash: {:?}",
        children()
    );
    // A second solve on the dead child says so instead of hanging.
    let again = prepared.solve(&b, &mut x, &mut NoMonitor).unwrap_err();
    assert!(
        again.to_string().contains("prepare the solver again"),
        "{again}"
    );
    drop(prepared);

    // The host is fine: a fresh prepared solver works.
    let mut prepared = solver.prepare(a.clone(), &options).unwrap();
    prepared.solve(&b, &mut x, &mut NoMonitor).unwrap();
    drop(prepared);
    assert!(children().is_empty());
}
