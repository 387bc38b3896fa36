//! Each solve runs in its own execution context (threads, memory pool, counters): two solvers
//! with different toggles solving at the same time do not see each other's settings, and each
//! report counts only its own solve.
//!
//! One test in its own binary: the pooled solver shares the process-wide vector pool, and its
//! exact reuse counts assume no other test takes buffers of its sizes from that pool.

use std::sync::Barrier;

use femscale_core::Feature;
use femscale_runtime::{Config, FemSolver, FieldSpec, Laplace2d, Problem, ScalingLevel, Solution};

/// CG + Jacobi without caching, so every solve assembles, prepares and solves.
fn solver(pooling: bool, threads: usize) -> FemSolver {
    let mut c = Config::default();
    c.scaling.level = ScalingLevel::Standard;
    c.scaling.enable_caching = Some(false);
    c.scaling.enable_memory_pooling = Some(pooling);
    c.scaling.threads = threads;
    c.assembly.parallel = Some(threads > 1);
    c.solver.kind = "cg".into();
    c.solver.preconditioner = "jacobi".into();
    FemSolver::from_config(c).unwrap()
}

fn problem(n: usize) -> Problem {
    Laplace2d {
        nx: n,
        ny: n,
        source: Some(FieldSpec::Constant(1.0)),
        ..Default::default()
    }
    .to_problem()
}

#[test]
fn concurrent_solves_with_different_toggles_do_not_interfere() {
    const ROUNDS: usize = 12;
    let pooled = solver(true, 2);
    let plain = solver(false, 1);
    // Different sizes, so the pooled solver's buffers are its own.
    let (pooled_problem, plain_problem) = (problem(40), problem(31));
    let reference_pooled = pooled.solve(&pooled_problem).unwrap();
    let reference_plain = plain.solve(&plain_problem).unwrap();

    let barrier = Barrier::new(2);
    let run = |s: &FemSolver, p: &Problem| -> Vec<Solution> {
        barrier.wait();
        (0..ROUNDS).map(|_| s.solve(p).unwrap()).collect()
    };
    let (pooled_runs, plain_runs) = std::thread::scope(|scope| {
        let a = scope.spawn(|| run(&pooled, &pooled_problem));
        let b = scope.spawn(|| run(&plain, &plain_problem));
        (a.join().unwrap(), b.join().unwrap())
    });

    let n_pooled = 41 * 41 * 8;
    for (i, s) in pooled_runs.iter().enumerate() {
        let m = &s.metrics;
        assert_eq!(s.values, reference_pooled.values, "pooled round {i}");
        assert_eq!(m.threads, 2);
        assert!(m.parallel_assembly_used, "round {i}");
        assert!(m.features_used.contains(&Feature::MemoryPooling));
        // The load vector and CG's three work vectors, each returned by the solve before:
        // exactly this solve's reuses, whatever the other solver did meanwhile.
        let c = &m.counters;
        assert_eq!(
            (c.pool_reuses, c.pool_bytes_reused),
            (4, 4 * n_pooled),
            "{c:?}"
        );
        assert_eq!(c.parallel_assemblies, 1, "round {i}: {c:?}");
    }
    for (i, s) in plain_runs.iter().enumerate() {
        let m = &s.metrics;
        assert_eq!(s.values, reference_plain.values, "plain round {i}");
        assert_eq!(m.threads, 1);
        assert!(!m.parallel_assembly_used, "round {i}");
        assert!(!m.features_used.contains(&Feature::MemoryPooling));
        // Never a pooled buffer, never a parallel assembly, even while the other solver had
        // both going.
        let c = &m.counters;
        assert_eq!(
            (c.pool_reuses, c.pool_bytes_reused),
            (0, 0),
            "round {i}: {c:?}"
        );
        assert_eq!(c.parallel_assemblies, 0, "round {i}: {c:?}");
    }
}
