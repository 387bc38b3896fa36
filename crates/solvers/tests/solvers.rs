//! End-to-end behaviour of the direct and CG solvers through the core traits.

mod common;

use std::ops::ControlFlow;
use std::sync::Arc;

use common::*;
use femscale_core::{CsrMatrix, LinearSolver, NoMonitor, SolveError, SolveReport, SolverOptions};
use femscale_solvers::{
    ConjugateGradient, DirectMethod, DirectSolver, IdentityFactory, JacobiFactory,
    builtin_preconditioners, builtin_solvers, kernels,
};
use proptest::prelude::*;

fn options(tol: f64) -> SolverOptions {
    let mut o = SolverOptions::default();
    o.tolerance = tol;
    o
}

fn cg_jacobi() -> ConjugateGradient {
    ConjugateGradient::new(Arc::new(JacobiFactory))
}

fn cg_none() -> ConjugateGradient {
    ConjugateGradient::new(Arc::new(IdentityFactory))
}

fn solve_with(
    solver: &dyn LinearSolver,
    a: &Arc<CsrMatrix>,
    b: &[f64],
    o: &SolverOptions,
) -> (Vec<f64>, SolveReport) {
    let mut prepared = solver.prepare(Arc::clone(a), o).unwrap();
    let mut x = vec![0.0; b.len()];
    let report = prepared.solve(b, &mut x, &mut NoMonitor).unwrap();
    (x, report)
}

#[test]
fn poisson_2d_direct_and_cg_agree() {
    let a = Arc::new(poisson_2d(30));
    let n = a.nrows();
    let b = smooth_vector(n);
    let bnorm = norm(&b);
    let tol = 1e-10;
    let o = options(tol);

    let (xd, rd) = solve_with(&DirectSolver::default(), &a, &b, &o);
    assert_eq!(rd.solver, "direct-cholesky");
    assert_eq!(rd.iterations, 1);
    assert!(rd.converged);
    assert!(rd.residual_history.is_empty());
    let res = true_residual(&a, &xd, &b);
    assert!(res <= 1e-12 * bnorm, "direct residual {res}");
    assert!((rd.final_residual - res).abs() <= 1e-12 * bnorm);
    assert!(rd.memory_bytes > 0);

    for (solver, pc) in [(cg_jacobi(), "jacobi"), (cg_none(), "none")] {
        let (x, r) = solve_with(&solver, &a, &b, &o);
        assert_eq!(r.solver, "cg");
        assert_eq!(r.preconditioner, pc);
        assert!(r.converged);
        assert!(
            r.iterations > 10 && r.iterations < n,
            "{pc}: {} iterations",
            r.iterations
        );
        assert_eq!(r.residual_history.len(), r.iterations);
        assert!(
            r.final_residual <= tol * bnorm,
            "{pc}: {}",
            r.final_residual
        );
        assert_eq!(
            r.final_relative_residual,
            *r.residual_history.last().unwrap()
        );
        let res = true_residual(&a, &x, &b);
        assert!(res <= 10.0 * tol * bnorm, "{pc}: true residual {res}");
        let d = rel_max_diff(&x, &xd);
        assert!(d < 1e-7, "{pc} differs from direct by {d}");
    }
}

#[test]
fn poisson_1d_direct_and_cg_agree_with_the_exact_solution() {
    // -u'' = 1 on (0,1) with u(0)=u(1)=0: u = x(1-x)/2, reproduced exactly by the 3-point stencil.
    let n = 199;
    let h = 1.0 / (n as f64 + 1.0);
    let a = Arc::new(poisson_1d(n));
    let b = vec![h * h; n];
    let exact: Vec<f64> = (1..=n)
        .map(|i| i as f64 * h * (1.0 - i as f64 * h) / 2.0)
        .collect();
    let o = options(1e-12);
    let (xd, _) = solve_with(&DirectSolver::new(DirectMethod::Cholesky), &a, &b, &o);
    assert!(rel_max_diff(&xd, &exact) < 1e-10);
    let (xc, rc) = solve_with(&cg_jacobi(), &a, &b, &o);
    assert!(rel_max_diff(&xc, &exact) < 1e-8);
    // CG on an n x n SPD matrix converges in at most n steps in exact arithmetic; 1D Poisson
    // with a constant diagonal needs about n/2.
    assert!(rc.iterations <= n, "{}", rc.iterations);
    let (xl, rl) = solve_with(&DirectSolver::new(DirectMethod::Lu), &a, &b, &o);
    assert_eq!(rl.solver, "direct-lu");
    assert!(rel_max_diff(&xl, &exact) < 1e-10);
}

#[test]
fn nonsymmetric_matrix_is_solved_by_lu() {
    let a = Arc::new(convection_diffusion_1d(300, 150.0));
    assert!(!a.is_symmetric(1e-12));
    let x_true = smooth_vector(300);
    let b = mul(&a, &x_true);
    let (x, r) = solve_with(&DirectSolver::default(), &a, &b, &options(1e-10));
    assert_eq!(r.solver, "direct-lu");
    assert!(r.converged);
    assert!(true_residual(&a, &x, &b) <= 1e-12 * norm(&b));
    assert!(rel_max_diff(&x, &x_true) < 1e-9);
}

#[test]
fn structurally_nonsymmetric_matrix_is_solved_by_lu() {
    // Rows of a well-conditioned, structurally nonsymmetric M cyclically shifted by one: most
    // diagonal entries of A are not even stored, so LU must pivot.
    let n = 60;
    let mut t = Vec::new();
    for r in 0..n {
        let row_of_m = (r + 1) % n;
        t.push((r, row_of_m, 4.0 + 0.1 * row_of_m as f64));
        if row_of_m > 0 {
            t.push((r, row_of_m - 1, -1.0));
        }
        if row_of_m + 3 < n {
            t.push((r, row_of_m + 3, 0.5));
        }
    }
    let a = Arc::new(CsrMatrix::try_from_triplets(n, n, &t).unwrap());
    assert!(!a.pattern().is_structurally_symmetric());
    let x_true = smooth_vector(n);
    let b = mul(&a, &x_true);
    for method in [DirectMethod::Auto, DirectMethod::Lu] {
        let (x, r) = solve_with(&DirectSolver::new(method), &a, &b, &options(1e-10));
        assert_eq!(r.solver, "direct-lu");
        assert!(true_residual(&a, &x, &b) <= 1e-12 * norm(&b), "{method:?}");
        let d = rel_max_diff(&x, &x_true);
        assert!(d < 1e-12, "{method:?}: {d}");
    }
    let err = DirectSolver::new(DirectMethod::Cholesky)
        .prepare(a, &options(1e-8))
        .unwrap_err();
    assert!(
        matches!(&err, SolveError::Factorization { method, .. } if method == "cholesky"),
        "{err}"
    );
}

#[test]
fn symmetric_indefinite_matrix_falls_back_to_lu() {
    // Eigenvalues of the shifted Laplacian straddle 0, the diagonal stays positive (4 - 2 = 2).
    let a = Arc::new(poisson_2d_shifted(12, -2.0));
    assert!(a.is_symmetric(0.0) && a.diagonal().iter().all(|&d| d > 0.0));
    let x_true = smooth_vector(a.nrows());
    let b = mul(&a, &x_true);
    let (x, r) = solve_with(&DirectSolver::default(), &a, &b, &options(1e-10));
    assert_eq!(r.solver, "direct-lu");
    assert!(true_residual(&a, &x, &b) <= 1e-10 * norm(&b));
    assert!(rel_max_diff(&x, &x_true) < 1e-8);

    let err = DirectSolver::new(DirectMethod::Cholesky)
        .prepare(a, &options(1e-8))
        .unwrap_err();
    match err {
        SolveError::Factorization { method, detail } => {
            assert_eq!(method, "cholesky");
            assert!(detail.contains("not positive definite"), "{detail}");
        }
        other => panic!("expected a factorisation error, got {other}"),
    }
}

#[test]
fn cholesky_refuses_nonsymmetric_matrices_banded_or_not() {
    // A tridiagonal matrix (the banded path, which checks symmetry in its own pass) and a
    // 2D one (the general path), each with one entry above the diagonal bent; `auto` solves
    // both with LU.
    let bend = |a: CsrMatrix, i: usize| {
        let mut a = a;
        let k = a.pattern().find(i, i + 1).unwrap();
        a.values_mut()[k] *= 1.0 + 1e-6;
        Arc::new(a)
    };
    let tridiagonal = {
        let n = 50;
        let t: Vec<(usize, usize, f64)> = (0..n)
            .flat_map(|i| {
                let mut row = vec![(i, i, 2.0)];
                if i > 0 {
                    row.push((i, i - 1, -1.0));
                }
                if i + 1 < n {
                    row.push((i, i + 1, -1.0));
                }
                row
            })
            .collect();
        CsrMatrix::try_from_triplets(n, n, &t).unwrap()
    };
    for a in [bend(tridiagonal, 20), bend(poisson_2d_shifted(12, 0.0), 30)] {
        let err = DirectSolver::new(DirectMethod::Cholesky)
            .prepare(a.clone(), &options(1e-8))
            .unwrap_err();
        assert!(
            matches!(&err, SolveError::Factorization { method, detail }
                if method == "cholesky" && detail.contains("not symmetric")),
            "{err}"
        );
        let x_true = smooth_vector(a.nrows());
        let b = mul(&a, &x_true);
        let (x, r) = solve_with(&DirectSolver::default(), &a, &b, &options(1e-10));
        assert_eq!(r.solver, "direct-lu");
        assert!(rel_max_diff(&x, &x_true) < 1e-8);
    }
}

#[test]
fn singular_matrix_is_reported() {
    let a = Arc::new(
        CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 1.0), (0, 1, 1.0), (1, 0, 1.0), (1, 1, 1.0)])
            .unwrap(),
    );
    let result = DirectSolver::default()
        .prepare(a, &options(1e-8))
        .and_then(|mut p| p.solve(&[1.0, 2.0], &mut [0.0; 2], &mut NoMonitor));
    assert!(
        matches!(result, Err(SolveError::Factorization { .. })),
        "{result:?}"
    );
}

#[test]
fn update_values_refactorises_with_the_same_pattern() {
    let a = Arc::new(poisson_2d(20));
    let b = smooth_vector(a.nrows());
    let o = options(1e-11);
    for solver in [
        Box::new(DirectSolver::default()) as Box<dyn LinearSolver>,
        Box::new(DirectSolver::new(DirectMethod::Lu)),
        Box::new(cg_jacobi()),
    ] {
        let mut p = solver.prepare(Arc::clone(&a), &o).unwrap();
        let mut x1 = vec![0.0; b.len()];
        p.solve(&b, &mut x1, &mut NoMonitor).unwrap();

        let a3 = scaled(&a, 3.0);
        p.update_values(Arc::clone(&a3)).unwrap();
        assert!(Arc::ptr_eq(p.matrix(), &a3));
        let mut x3 = vec![0.0; b.len()];
        let r = p.solve(&b, &mut x3, &mut NoMonitor).unwrap();
        assert!(r.converged);
        let expected: Vec<f64> = x1.iter().map(|v| v / 3.0).collect();
        assert!(
            rel_max_diff(&x3, &expected) < 1e-8,
            "{}: {}",
            solver.name(),
            rel_max_diff(&x3, &expected)
        );

        // An equal pattern in a different Arc is accepted too.
        let copy = CsrMatrix::try_from_pattern_and_values(
            Arc::new((**a.pattern()).clone()),
            a.values().iter().map(|v| v * 0.5).collect(),
        )
        .unwrap();
        p.update_values(Arc::new(copy)).unwrap();
        let mut xh = vec![0.0; b.len()];
        p.solve(&b, &mut xh, &mut NoMonitor).unwrap();
        assert!(rel_max_diff(&xh, &x1.iter().map(|v| v * 2.0).collect::<Vec<_>>()) < 1e-8);
    }
}

#[test]
fn direct_update_rejects_a_different_pattern() {
    let a = Arc::new(poisson_2d(10));
    let mut p = DirectSolver::default().prepare(a, &options(1e-8)).unwrap();
    let other = Arc::new(poisson_1d(100));
    let err = p.update_values(other).unwrap_err();
    assert!(
        matches!(&err, SolveError::Factorization { detail, .. } if detail.contains("pattern")),
        "{err}"
    );
    // The solver still works with its old matrix.
    let mut x = vec![0.0; 100];
    p.solve(&[1.0; 100], &mut x, &mut NoMonitor).unwrap();

    let mut cg = cg_jacobi()
        .prepare(Arc::new(poisson_1d(10)), &options(1e-8))
        .unwrap();
    assert!(matches!(
        cg.update_values(Arc::new(poisson_1d(11))),
        Err(SolveError::DimensionMismatch { .. })
    ));
}

#[test]
fn auto_update_switches_between_cholesky_and_lu() {
    let spd = poisson_2d(8);
    let a = Arc::new(spd.clone());
    let mut p = DirectSolver::default()
        .prepare(Arc::clone(&a), &options(1e-10))
        .unwrap();
    let b = smooth_vector(a.nrows());
    let mut x = vec![0.0; b.len()];
    assert_eq!(
        p.solve(&b, &mut x, &mut NoMonitor).unwrap().solver,
        "direct-cholesky"
    );

    // Same pattern, values shifted to make it indefinite: the refactorisation falls back to LU.
    let mut vals = spd.values().to_vec();
    for k in spd.pattern().diagonal_positions().into_iter().flatten() {
        vals[k] -= 2.3;
    }
    let indefinite =
        Arc::new(CsrMatrix::try_from_pattern_and_values(Arc::clone(spd.pattern()), vals).unwrap());
    p.update_values(Arc::clone(&indefinite)).unwrap();
    let r = p.solve(&b, &mut x, &mut NoMonitor).unwrap();
    assert_eq!(r.solver, "direct-lu");
    assert!(true_residual(&indefinite, &x, &b) <= 1e-10 * norm(&b));

    // And back to Cholesky.
    p.update_values(a).unwrap();
    assert_eq!(
        p.solve(&b, &mut x, &mut NoMonitor).unwrap().solver,
        "direct-cholesky"
    );

    // An explicit Cholesky solver cannot take the indefinite values and then refuses to solve.
    let mut c = DirectSolver::new(DirectMethod::Cholesky)
        .prepare(Arc::new(spd), &options(1e-10))
        .unwrap();
    assert!(c.update_values(indefinite).is_err());
    assert!(matches!(
        c.solve(&b, &mut x, &mut NoMonitor),
        Err(SolveError::Factorization { .. })
    ));
}

#[test]
fn cg_reports_non_convergence() {
    let a = Arc::new(poisson_2d(20));
    let b = smooth_vector(a.nrows());
    let mut o = options(1e-10);
    o.max_iterations = 3;
    let mut p = cg_jacobi().prepare(a, &o).unwrap();
    let mut x = vec![0.0; b.len()];
    match p.solve(&b, &mut x, &mut NoMonitor) {
        Err(SolveError::NotConverged { report }) => {
            assert_eq!(report.iterations, 3);
            assert_eq!(report.residual_history.len(), 3);
            assert!(!report.converged);
            assert!(report.final_relative_residual > 1e-10);
            assert_eq!(report.final_relative_residual, report.residual_history[2]);
            assert!((report.initial_residual - norm(&b)).abs() < 1e-12 * norm(&b));
        }
        other => panic!("expected NotConverged, got {other:?}"),
    }
}

#[test]
fn cg_monitor_sees_every_iteration_and_can_stop() {
    let a = Arc::new(poisson_2d(20));
    let b = smooth_vector(a.nrows());
    let mut p = cg_jacobi().prepare(a, &options(1e-10)).unwrap();
    let mut seen = Vec::new();
    let mut monitor = |it: usize, rel: f64| {
        seen.push((it, rel));
        if it == 5 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let mut x = vec![0.0; b.len()];
    match p.solve(&b, &mut x, &mut monitor) {
        Err(SolveError::Stopped { report }) => {
            assert_eq!(report.iterations, 5);
            let history: Vec<f64> = seen.iter().map(|s| s.1).collect();
            assert_eq!(report.residual_history, history);
        }
        other => panic!("expected Stopped, got {other:?}"),
    }
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
}

#[test]
fn cg_zero_rhs_and_exact_initial_guess() {
    let a = Arc::new(poisson_2d(10));
    let n = a.nrows();
    let mut p = cg_jacobi().prepare(Arc::clone(&a), &options(1e-8)).unwrap();
    let mut x = vec![1.0; n];
    let r = p.solve(&vec![0.0; n], &mut x, &mut NoMonitor).unwrap();
    assert!(r.converged && r.iterations == 0);
    assert!(x.iter().all(|&v| v == 0.0));

    let x_true = smooth_vector(n);
    let b = mul(&a, &x_true);
    let mut x = x_true.clone();
    let r = p.solve(&b, &mut x, &mut NoMonitor).unwrap();
    assert!(r.converged && r.iterations == 0 && r.residual_history.is_empty());
    assert_eq!(x, x_true);

    // A good initial guess saves iterations.
    let mut cold = vec![0.0; n];
    let cold_its = p.solve(&b, &mut cold, &mut NoMonitor).unwrap().iterations;
    let mut warm: Vec<f64> = x_true.iter().map(|v| v * (1.0 + 1e-6)).collect();
    let warm_its = p.solve(&b, &mut warm, &mut NoMonitor).unwrap().iterations;
    assert!(warm_its < cold_its, "warm {warm_its} vs cold {cold_its}");
}

#[test]
fn cg_absolute_tolerance_is_honoured() {
    let a = Arc::new(poisson_2d(15));
    let b = smooth_vector(a.nrows());
    let mut o = options(1e-14);
    o.absolute_tolerance = 1e-3 * norm(&b);
    let (_, r) = solve_with(&cg_jacobi(), &a, &b, &o);
    assert!(r.final_residual <= o.absolute_tolerance);
    assert!(
        r.final_relative_residual > 1e-6,
        "stopped on the absolute tolerance, not the relative one"
    );
}

#[test]
fn cg_breaks_down_on_an_indefinite_matrix() {
    // Negative definite: p·Ap < 0 on the first step (no preconditioner, so r·z = |r|² > 0).
    let a = scaled(&poisson_1d(20), -1.0);
    let mut p = cg_none().prepare(a, &options(1e-8)).unwrap();
    let mut x = vec![0.0; 20];
    let err = p.solve(&[1.0; 20], &mut x, &mut NoMonitor).unwrap_err();
    assert!(
        matches!(&err, SolveError::Breakdown { method, report, .. } if method == "cg" && report.iterations == 0),
        "{err}"
    );
}

/// An inner product that is 0 because its vectors' entries are below the range of f64 is
/// said to be that, not blamed on the matrix or preconditioner; a negative one still is.
#[test]
fn cg_tells_an_underflow_from_an_indefinite_matrix() {
    let a = Arc::new(poisson_1d(20));
    let mut p = cg_none().prepare(a, &options(1e-8)).unwrap();
    let mut x = vec![0.0; 20];
    let err = p.solve(&[1e-160; 20], &mut x, &mut NoMonitor).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("range of f64") && !text.contains("positive definite"),
        "{text}"
    );
    let a = scaled(&poisson_1d(20), -1.0);
    let mut p = cg_none().prepare(a, &options(1e-8)).unwrap();
    let err = p.solve(&[1.0; 20], &mut x, &mut NoMonitor).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("matrix not positive definite"), "{text}");
}

#[test]
fn memory_budget_stops_the_direct_solver() {
    let mut o = options(1e-8);
    o.memory_limit_mb = Some(1e-6);
    for (a, method) in [
        (poisson_2d(20), DirectMethod::Auto),
        (poisson_2d(20), DirectMethod::Lu),
        (convection_diffusion_1d(100, 50.0), DirectMethod::Auto),
    ] {
        let err = DirectSolver::new(method)
            .prepare(Arc::new(a), &o)
            .unwrap_err();
        match err {
            SolveError::MemoryBudget {
                needed_mb,
                limit_mb,
                what,
            } => {
                assert_eq!(limit_mb, 1e-6);
                assert!(needed_mb > limit_mb, "{what}: {needed_mb}");
            }
            other => panic!("{method:?}: expected MemoryBudget, got {other}"),
        }
    }
    // A generous budget passes and the reported memory stays under it.
    o.memory_limit_mb = Some(64.0);
    let p = DirectSolver::default()
        .prepare(Arc::new(poisson_2d(20)), &o)
        .unwrap();
    assert!(p.memory_bytes() > 0 && (p.memory_bytes() as f64) < 64.0 * 1024.0 * 1024.0);
}

#[test]
fn jacobi_with_a_zero_diagonal_is_a_typed_error() {
    let mut t = vec![];
    for i in 0..5 {
        t.push((i, i, if i == 3 { 0.0 } else { 2.0 }));
    }
    let a = Arc::new(CsrMatrix::try_from_triplets(5, 5, &t).unwrap());
    let err = cg_jacobi().prepare(a, &options(1e-8)).unwrap_err();
    match err {
        SolveError::Factorization { method, detail } => {
            assert_eq!(method, "jacobi");
            assert!(detail.contains("row 3"), "{detail}");
        }
        other => panic!("expected a Jacobi set-up error, got {other}"),
    }
}

#[test]
fn dimension_mismatches_are_reported() {
    let a = Arc::new(poisson_1d(10));
    for solver in [
        Box::new(DirectSolver::default()) as Box<dyn LinearSolver>,
        Box::new(cg_jacobi()),
    ] {
        let mut p = solver.prepare(Arc::clone(&a), &options(1e-8)).unwrap();
        let mut x = vec![0.0; 10];
        let err = p.solve(&[1.0; 9], &mut x, &mut NoMonitor).unwrap_err();
        assert!(
            matches!(
                err,
                SolveError::DimensionMismatch {
                    rows: 10,
                    cols: 10,
                    len: 9
                }
            ),
            "{err}"
        );
        let mut short = vec![0.0; 11];
        let err = p.solve(&[1.0; 10], &mut short, &mut NoMonitor).unwrap_err();
        assert!(
            matches!(err, SolveError::DimensionMismatch { len: 11, .. }),
            "{err}"
        );

        let rect =
            Arc::new(CsrMatrix::try_from_triplets(2, 3, &[(0, 0, 1.0), (1, 1, 1.0)]).unwrap());
        let err = solver.prepare(rect, &options(1e-8)).unwrap_err();
        assert!(
            matches!(
                err,
                SolveError::DimensionMismatch {
                    rows: 2,
                    cols: 3,
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn invalid_options_are_rejected() {
    let a = Arc::new(poisson_1d(10));
    let mut nan = options(1e-8);
    nan.tolerance = f64::NAN;
    let mut no_iterations = options(1e-8);
    no_iterations.max_iterations = 0;
    for solver in [
        Box::new(DirectSolver::default()) as Box<dyn LinearSolver>,
        Box::new(cg_none()),
    ] {
        let err = solver.prepare(Arc::clone(&a), &nan).unwrap_err();
        assert!(
            matches!(&err, SolveError::InvalidOption { option, .. } if option == "tolerance"),
            "{err}"
        );
        let err = solver.prepare(Arc::clone(&a), &no_iterations).unwrap_err();
        assert!(
            matches!(&err, SolveError::InvalidOption { option, .. } if option == "max_iterations"),
            "{err}"
        );
    }
}

#[test]
fn tiny_timeouts_stop_both_solvers() {
    let a = Arc::new(poisson_2d(60));
    let b = smooth_vector(a.nrows());
    let mut o = options(1e-10);
    o.timeout_seconds = Some(1e-9);
    for method in [DirectMethod::Auto, DirectMethod::Lu] {
        match DirectSolver::new(method).prepare(Arc::clone(&a), &o) {
            Err(SolveError::Timeout {
                limit_seconds,
                elapsed_seconds,
                report,
            }) => {
                assert_eq!(limit_seconds, 1e-9);
                assert!(elapsed_seconds > limit_seconds);
                assert!(report.solver.starts_with("direct-"), "{}", report.solver);
            }
            other => panic!("{method:?}: expected Timeout, got {other:?}"),
        }
    }
    let mut p = cg_jacobi().prepare(a, &o).unwrap();
    let mut x = vec![0.0; b.len()];
    match p.solve(&b, &mut x, &mut NoMonitor) {
        Err(SolveError::Timeout { report, .. }) => {
            assert_eq!(report.solver, "cg");
            assert_eq!(report.iterations, 0);
            assert!(report.initial_residual > 0.0);
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
}

#[test]
fn cg_timeout_is_checked_during_the_iteration() {
    let a = Arc::new(poisson_2d(30));
    let b = smooth_vector(a.nrows());
    let mut o = options(1e-12);
    o.timeout_seconds = Some(0.05);
    let mut p = cg_none().prepare(a, &o).unwrap();
    let mut x = vec![0.0; b.len()];
    let mut slow = |_: usize, _: f64| {
        std::thread::sleep(std::time::Duration::from_millis(5));
        ControlFlow::Continue(())
    };
    match p.solve(&b, &mut x, &mut slow) {
        Err(SolveError::Timeout {
            report,
            elapsed_seconds,
            ..
        }) => {
            assert!(elapsed_seconds > 0.05);
            assert!(report.iterations >= 10, "{}", report.iterations);
            assert_eq!(
                report.iterations % 16,
                15,
                "checked every 16 iterations: {}",
                report.iterations
            );
            assert_eq!(report.residual_history.len(), report.iterations);
            // The partial solution is the CG iterate, not garbage.
            assert!(true_residual(p.matrix(), &x, &b) < norm(&b));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
}

#[test]
fn parallel_spmv_matches_serial_on_a_large_grid() {
    let a = poisson_2d(300);
    let n = a.nrows();
    assert!(kernels::is_parallel(n));
    let x = smooth_vector(n);
    let serial = mul(&a, &x);
    let mut y = vec![f64::NAN; n];
    kernels::spmv(&a, &x, &mut y);
    assert_eq!(y, serial);
    let mut y2 = vec![0.0; n];
    femscale_solvers::Kernels::with_threads(2)
        .unwrap()
        .spmv(&a, &x, &mut y2);
    assert_eq!(y2, serial);
    let mut y3 = vec![0.0; n];
    kernels::spmv_parallel(&a, &x, &mut y3);
    assert_eq!(y3, serial);
}

#[test]
fn cg_is_bitwise_reproducible_across_thread_counts() {
    let a = Arc::new(poisson_2d(150)); // 22 500 unknowns: above the parallel threshold
    assert!(kernels::is_parallel(a.nrows()));
    let b = smooth_vector(a.nrows());
    let mut histories = Vec::new();
    for threads in [1, 2, 3] {
        let mut o = options(1e-10);
        o.max_iterations = 25;
        o.threads = threads;
        let mut p = cg_jacobi().prepare(Arc::clone(&a), &o).unwrap();
        let mut x = vec![0.0; b.len()];
        match p.solve(&b, &mut x, &mut NoMonitor) {
            Err(SolveError::NotConverged { report }) => {
                assert_eq!(report.threads, threads);
                histories.push((report.residual_history, x));
            }
            other => panic!("expected NotConverged, got {other:?}"),
        }
    }
    assert_eq!(histories[0], histories[1]);
    assert_eq!(histories[0], histories[2]);
}

#[test]
fn registry_entries_solve() {
    let a = Arc::new(poisson_2d(10));
    let b = smooth_vector(a.nrows());
    let (_, reference) = solve_with(&DirectSolver::default(), &a, &b, &options(1e-12));
    let method_options = femscale_solvers::MethodOptions::default();
    for (pc_name, pc) in builtin_preconditioners() {
        let pc = pc(&method_options);
        for (name, build, _) in builtin_solvers() {
            let solver = build(Arc::clone(&pc), &method_options);
            let (x, r) = solve_with(solver.as_ref(), &a, &b, &options(1e-10));
            assert!(r.converged, "{name}+{pc_name}");
            if name == "cg" {
                assert_eq!(r.preconditioner, pc_name);
            }
            assert!(
                true_residual(&a, &x, &b) <= 1e-9 * norm(&b),
                "{name}+{pc_name}"
            );
        }
    }
    assert_eq!(reference.iterations, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random diagonally dominant matrices: symmetric ones go through Cholesky and agree with
    /// CG; nonsymmetric ones go through LU.
    #[test]
    fn random_diagonally_dominant_systems(
        n in 2usize..40,
        offdiag in proptest::collection::vec((0usize..40, 0usize..40, -1.0f64..1.0), 0..120),
        symmetric in any::<bool>(),
    ) {
        let mut t: Vec<(usize, usize, f64)> = Vec::new();
        let mut row_sums = vec![0.0; n];
        for &(i, j, v) in &offdiag {
            let (i, j) = (i % n, j % n);
            if i == j { continue; }
            t.push((i, j, v));
            row_sums[i] += v.abs();
            if symmetric {
                t.push((j, i, v));
                row_sums[j] += v.abs();
            }
        }
        for (i, s) in row_sums.iter().enumerate() {
            t.push((i, i, 1.0 + s));
        }
        let a = Arc::new(CsrMatrix::try_from_triplets(n, n, &t).unwrap());
        let b = smooth_vector(n);
        let (x, r) = solve_with(&DirectSolver::default(), &a, &b, &options(1e-12));
        let expected = if symmetric { "direct-cholesky" } else { "direct-lu" };
        // A nonsymmetric draw can still be symmetric (e.g. no off-diagonal entries).
        prop_assert!(r.solver == expected || a.is_symmetric(1e-12), "{} for symmetric = {}", r.solver, symmetric);
        prop_assert!(true_residual(&a, &x, &b) <= 1e-12 * norm(&b));
        if symmetric {
            let (xc, _) = solve_with(&cg_jacobi(), &a, &b, &options(1e-12));
            prop_assert!(rel_max_diff(&xc, &x) < 1e-9);
        }
    }
}

#[test]
fn tiny_systems() {
    let one = Arc::new(CsrMatrix::try_from_triplets(1, 1, &[(0, 0, 4.0)]).unwrap());
    for solver in [
        Box::new(DirectSolver::default()) as Box<dyn LinearSolver>,
        Box::new(DirectSolver::new(DirectMethod::Lu)),
        Box::new(cg_jacobi()),
    ] {
        let (x, r) = solve_with(solver.as_ref(), &one, &[2.0], &options(1e-12));
        assert_eq!(x, [0.5], "{}", solver.name());
        assert!(r.converged);
    }
    let empty = Arc::new(CsrMatrix::try_from_triplets(0, 0, &[]).unwrap());
    for solver in [
        Box::new(DirectSolver::default()) as Box<dyn LinearSolver>,
        Box::new(cg_none()),
    ] {
        let (x, r) = solve_with(solver.as_ref(), &empty, &[], &options(1e-12));
        assert!(x.is_empty() && r.converged, "{}", solver.name());
    }
}
