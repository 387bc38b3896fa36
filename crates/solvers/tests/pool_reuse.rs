//! The Krylov solvers take their work vectors from the pool of their `SolverOptions`: with
//! pooling on, a repeated prepare + solve of the same size allocates no work vector, and the
//! results are the same as without pooling. Without a pool nothing is kept, and the
//! process-wide pool is never touched behind the caller's back.

mod common;

use std::sync::Arc;

use common::*;
use femscale_core::{CsrMatrix, LinearSolver, NoMonitor, PoolStats, SolverOptions, VectorPool};
use femscale_solvers::{BiCgStab, ConjugateGradient, Gmres, GmresOptions, JacobiFactory};

/// Prepares `solver` for `a`, solves once and drops the prepared solver; returns the solution.
fn prepare_and_solve(
    solver: &dyn LinearSolver,
    a: &Arc<CsrMatrix>,
    b: &[f64],
    pool: Option<&Arc<VectorPool>>,
) -> Vec<f64> {
    let mut options = SolverOptions::default();
    options.tolerance = 1e-10;
    options.threads = 1;
    options.pool = pool.cloned();
    let mut prepared = solver.prepare(Arc::clone(a), &options).unwrap();
    let mut x = vec![0.0; b.len()];
    if let Err(e) = prepared.solve(b, &mut x, &mut NoMonitor) {
        panic!("{}: {e}", solver.name());
    }
    x
}

/// The counters of `pool` accumulated by `f`, from zero.
fn counted(pool: &VectorPool, f: impl FnOnce()) -> PoolStats {
    pool.reset_stats();
    f();
    pool.stats()
}

#[test]
fn repeated_krylov_solves_reuse_their_work_vectors() {
    let m = 40;
    let n = m * m;
    // A shifted 2D Laplacian: well conditioned, so every method converges quickly.
    let a = Arc::new(poisson_2d_shifted(m, 1.0));
    let b = smooth_vector(n);
    let pc = Arc::new(JacobiFactory);
    let restart = 20;
    let mut gmres_options = GmresOptions::default();
    gmres_options.restart = restart;
    // (solver, work vectors of length n it takes)
    let solvers: Vec<(Box<dyn LinearSolver>, u64)> = vec![
        (Box::new(ConjugateGradient::new(pc.clone())), 3),
        (Box::new(BiCgStab::new(pc.clone())), 6),
        (Box::new(Gmres::new(pc, gmres_options)), restart as u64 + 2),
    ];
    let pool = &Arc::new(VectorPool::new(64 << 20));
    let global_before = VectorPool::global().stats();
    let bytes = (n * std::mem::size_of::<f64>()) as u64;

    for (solver, vectors) in &solvers {
        let name = solver.name();
        // Pooling off: every repetition allocates every work vector.
        pool.set_enabled(false);
        let mut reference = Vec::new();
        let off = counted(pool, || {
            for _ in 0..3 {
                reference = prepare_and_solve(solver.as_ref(), &a, &b, Some(pool));
            }
        });
        assert_eq!(off.allocations, 3 * vectors, "{name}: {off:?}");
        assert_eq!((off.reuses, off.held_buffers), (0, 0), "{name}: {off:?}");

        // Pooling on: the first repetition allocates, the next two reuse everything.
        pool.set_enabled(true);
        let on = counted(pool, || {
            for _ in 0..3 {
                let x = prepare_and_solve(solver.as_ref(), &a, &b, Some(pool));
                assert_eq!(x, reference, "{name}: pooling changed the solution");
            }
        });
        assert_eq!(on.allocations, *vectors, "{name}: {on:?}");
        assert_eq!(on.reuses, 2 * vectors, "{name}: {on:?}");
        assert_eq!(on.reused_bytes, 2 * vectors * bytes, "{name}: {on:?}");
        assert_eq!(
            off.allocated_bytes - on.allocated_bytes,
            on.reused_bytes,
            "{name}: allocated bytes avoided"
        );
        assert_eq!(on.held_buffers, *vectors, "{name}: {on:?}");
        assert!(on.held_bytes <= on.max_bytes);
        println!(
            "{name}: 3 prepare+solve of n = {n}: {} bytes allocated without the pool, {} with it ({} avoided)",
            off.allocated_bytes, on.allocated_bytes, on.reused_bytes
        );
    }
    pool.set_enabled(false);
    assert_eq!(pool.stats().held_buffers, 0);

    // No pool in the options: plain allocations, the same solutions, and the process-wide
    // pool untouched.
    for (solver, _) in &solvers {
        let x = prepare_and_solve(solver.as_ref(), &a, &b, None);
        assert_eq!(x.len(), n);
    }
    let global = VectorPool::global().stats();
    assert_eq!(
        (global.allocations, global.reuses, global.returns),
        (
            global_before.allocations,
            global_before.reuses,
            global_before.returns
        ),
        "a solve without a pool used the global one"
    );
}
