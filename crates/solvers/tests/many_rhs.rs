//! Many right-hand sides on one prepared solver: `solve_many` (a block) equals single solves,
//! and threads sharing one factorization get the single-threaded results.

use std::sync::Arc;

use femscale_core::{CsrMatrix, LinearSolver, NoMonitor, SharedSolver, SolveError, SolverOptions};
use femscale_solvers::{ConjugateGradient, DirectMethod, DirectSolver, JacobiFactory};

/// The 5-point Laplacian on an `m × m` grid plus `shift` on the diagonal, with a convection
/// term `c` that makes it nonsymmetric when nonzero.
fn grid(m: usize, c: f64) -> Arc<CsrMatrix> {
    let mut t = Vec::new();
    let id = |i: usize, j: usize| i * m + j;
    for i in 0..m {
        for j in 0..m {
            t.push((id(i, j), id(i, j), 4.0 + 1e-3));
            if i > 0 {
                t.push((id(i, j), id(i - 1, j), -1.0 - c));
            }
            if i + 1 < m {
                t.push((id(i, j), id(i + 1, j), -1.0 + c));
            }
            if j > 0 {
                t.push((id(i, j), id(i, j - 1), -1.0));
            }
            if j + 1 < m {
                t.push((id(i, j), id(i, j + 1), -1.0));
            }
        }
    }
    Arc::new(CsrMatrix::try_from_triplets(m * m, m * m, &t).unwrap())
}

/// `k` right-hand sides, column-major.
fn block(n: usize, k: usize) -> Vec<f64> {
    (0..n * k)
        .map(|i| ((i * 7919) % 1009) as f64 / 1009.0 - 0.3 + (i / n) as f64)
        .collect()
}

fn single_solves(solver: &dyn LinearSolver, a: &Arc<CsrMatrix>, b: &[f64]) -> Vec<f64> {
    let n = a.nrows();
    let mut prepared = solver
        .prepare(a.clone(), &SolverOptions::default())
        .unwrap();
    let mut x = vec![0.0; b.len()];
    for (b, x) in b.chunks(n).zip(x.chunks_mut(n)) {
        prepared.solve(b, x, &mut NoMonitor).unwrap();
    }
    x
}

#[test]
fn twenty_right_hand_sides_in_a_block_equal_twenty_single_solves() {
    for (m, c, method, name) in [
        (60, 0.0, DirectMethod::Auto, "direct-cholesky"),
        (12, 0.0, DirectMethod::Auto, "direct-cholesky"),
        (2, 0.0, DirectMethod::Auto, "direct-banded"),
        (40, 0.3, DirectMethod::Auto, "direct-lu"),
    ] {
        let a = grid(m, c);
        let n = a.nrows();
        let b = block(n, 20);
        let solver = DirectSolver::new(method);
        let expected = single_solves(&solver, &a, &b);
        let mut prepared = solver
            .prepare(a.clone(), &SolverOptions::default())
            .unwrap();
        let mut x = vec![f64::NAN; b.len()];
        let reports = prepared.solve_many(&b, &mut x, &mut NoMonitor).unwrap();
        assert_eq!(reports.len(), 20);
        assert!(reports.iter().all(|r| r.solver == name && r.converged));
        assert_eq!(x, expected, "{name}, n = {n}");
    }
    // The default (one solve after another) of an iterative solver.
    let a = grid(20, 0.0);
    let b = block(a.nrows(), 20);
    let cg = ConjugateGradient::new(Arc::new(JacobiFactory));
    let expected = single_solves(&cg, &a, &b);
    let mut prepared = cg.prepare(a, &SolverOptions::default()).unwrap();
    let mut x = vec![0.0; b.len()];
    let reports = prepared.solve_many(&b, &mut x, &mut NoMonitor).unwrap();
    assert_eq!((reports.len(), x), (20, expected));
}

#[test]
fn blocks_of_the_wrong_shape_are_dimension_errors() {
    let a = grid(4, 0.0);
    let mut prepared = DirectSolver::default()
        .prepare(a, &SolverOptions::default())
        .unwrap();
    let mut x = vec![0.0; 32];
    let e = prepared.solve_many(&[1.0; 33], &mut x, &mut NoMonitor);
    assert!(matches!(
        e,
        Err(SolveError::DimensionMismatch { len: 33, .. })
    ));
    let e = prepared.solve_many(&[1.0; 16], &mut x, &mut NoMonitor);
    assert!(matches!(
        e,
        Err(SolveError::DimensionMismatch { len: 32, .. })
    ));
    assert!(
        prepared
            .solve_many(&[], &mut [], &mut NoMonitor)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn two_threads_sharing_one_factorization_get_the_single_threaded_results() {
    for c in [0.0, 0.3] {
        let a = grid(40, c);
        let n = a.nrows();
        let b = block(n, 16);
        let solver = DirectSolver::default();
        let expected = single_solves(&solver, &a, &b);
        let shared = SharedSolver::new(solver.prepare(a, &SolverOptions::default()).unwrap());
        assert!(shared.is_concurrent());
        let results: Vec<Vec<f64>> = std::thread::scope(|s| {
            let handles: Vec<_> = [0, 1]
                .map(|t| {
                    let (shared, b) = (shared.clone(), &b);
                    s.spawn(move || {
                        let mut x = vec![0.0; b.len()];
                        // Interleaved with the other thread: every column, many times.
                        for round in 0..3 {
                            for (k, (b, x)) in b.chunks(n).zip(x.chunks_mut(n)).enumerate() {
                                if (k + round + t) % 2 == 0 {
                                    shared.solve(b, x, &mut NoMonitor).unwrap();
                                }
                            }
                        }
                        if t == 1 {
                            let mut y = vec![0.0; b.len()];
                            shared.solve_many(b, &mut y, &mut NoMonitor).unwrap();
                            assert_eq!(y, x);
                        }
                        x
                    })
                })
                .into_iter()
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for x in results {
            assert_eq!(x, expected);
        }
    }
    // A solver without a concurrent path is serialised, with the same results.
    let a = grid(20, 0.0);
    let b = block(a.nrows(), 4);
    let cg = ConjugateGradient::new(Arc::new(JacobiFactory));
    let expected = single_solves(&cg, &a, &b);
    let shared = SharedSolver::new(cg.prepare(a, &SolverOptions::default()).unwrap());
    assert!(!shared.is_concurrent());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut x = vec![0.0; b.len()];
                shared.solve_many(&b, &mut x, &mut NoMonitor).unwrap();
                assert_eq!(x, expected);
            });
        }
    });
}
