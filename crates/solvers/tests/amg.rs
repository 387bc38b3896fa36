//! Smoothed-aggregation AMG: as a CG preconditioner, standalone, and its hierarchy.

use std::sync::Arc;
use std::time::Instant;

use femscale_core::{
    CsrMatrix, FEW_STORED_ZEROS, LinearSolver, NoMonitor, Preconditioner, PreconditionerFactory,
    SolveError, SolverOptions,
};
use femscale_solvers::amg::{AmgFactory, AmgSolver, new_amg_preconditioner, new_amg_solver};
use femscale_solvers::options::{AmgCycle, AmgOptions, AmgSmoother, MethodOptions};
use femscale_solvers::{ConjugateGradient, DirectSolver, JacobiFactory};

/// The 5-point Laplacian on the `m x m` interior grid (P1 Poisson on `(m+1)^2` cells).
fn poisson(m: usize) -> CsrMatrix {
    let id = |i: usize, j: usize| i * m + j;
    let mut t = Vec::with_capacity(5 * m * m);
    for i in 0..m {
        for j in 0..m {
            let k = id(i, j);
            t.push((k, k, 4.0));
            if i > 0 {
                t.push((k, id(i - 1, j), -1.0));
            }
            if i + 1 < m {
                t.push((k, id(i + 1, j), -1.0));
            }
            if j > 0 {
                t.push((k, id(i, j - 1), -1.0));
            }
            if j + 1 < m {
                t.push((k, id(i, j + 1), -1.0));
            }
        }
    }
    CsrMatrix::try_from_triplets(m * m, m * m, &t).unwrap()
}

fn pseudo_random(n: usize, seed: u64) -> Vec<f64> {
    (0..n as u64)
        .map(|i| {
            let h = (i ^ seed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(17);
            (h >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

fn options_with(f: impl FnOnce(&mut AmgOptions)) -> AmgOptions {
    let mut o = AmgOptions::default();
    f(&mut o);
    o
}

fn amg_cg(options: AmgOptions) -> ConjugateGradient {
    ConjugateGradient::new(Arc::new(AmgFactory::new(options)))
}

fn cg_iterations(a: &Arc<CsrMatrix>, options: AmgOptions) -> (usize, Vec<f64>) {
    let b = vec![1.0; a.nrows()];
    let mut x = vec![0.0; a.nrows()];
    let report = amg_cg(options)
        .prepare(Arc::clone(a), &SolverOptions::default())
        .unwrap()
        .solve(&b, &mut x, &mut NoMonitor)
        .unwrap();
    assert!(report.converged && report.final_relative_residual <= 1e-8);
    (report.iterations, x)
}

fn max_diff(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).fold(0.0, |m, (a, b)| m.max((a - b).abs()))
}

/// Small coarse size so that the debug-sized test grids get several levels.
fn multilevel() -> AmgOptions {
    options_with(|o| o.coarse_size = 40)
}

#[test]
fn amg_cg_converges_and_agrees_with_direct() {
    let a = Arc::new(poisson(48));
    let (iterations, x) = cg_iterations(&a, multilevel());
    assert!(iterations <= 20, "{iterations} iterations");
    let b = vec![1.0; a.nrows()];
    let mut xd = vec![0.0; a.nrows()];
    DirectSolver::default()
        .prepare(Arc::clone(&a), &SolverOptions::default())
        .unwrap()
        .solve(&b, &mut xd, &mut NoMonitor)
        .unwrap();
    let scale = xd.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(max_diff(&x, &xd) <= 1e-6 * scale);
}

#[test]
fn iteration_counts_grow_little() {
    let its: Vec<usize> = [32, 64, 96]
        .iter()
        .map(|&m| cg_iterations(&Arc::new(poisson(m)), multilevel()).0)
        .collect();
    // The real 128..1024 check (<= 1.3x) is the `amg_scaling` example's output.
    assert!(
        its[2] as f64 <= 1.3 * its[0] as f64,
        "iterations at m = 32, 64, 96: {its:?}"
    );
    // Far fewer than Jacobi-preconditioned CG.
    let a = Arc::new(poisson(96));
    let b = vec![1.0; a.nrows()];
    let mut x = vec![0.0; a.nrows()];
    let jacobi = ConjugateGradient::new(Arc::new(JacobiFactory))
        .prepare(a, &SolverOptions::default())
        .unwrap()
        .solve(&b, &mut x, &mut NoMonitor)
        .unwrap();
    assert!(
        jacobi.iterations > 5 * its[2],
        "{} vs {its:?}",
        jacobi.iterations
    );
}

#[test]
fn standalone_solver_converges() {
    let a = Arc::new(poisson(40));
    let b = pseudo_random(a.nrows(), 3);
    let mut x = vec![0.0; a.nrows()];
    let solver = new_amg_solver(Arc::new(JacobiFactory), &MethodOptions::default());
    assert_eq!(solver.name(), "amg");
    let mut prepared = solver
        .prepare(Arc::clone(&a), &SolverOptions::default())
        .unwrap();
    let mut calls = 0;
    let report = prepared
        .solve(&b, &mut x, &mut |_: usize, _: f64| {
            calls += 1;
            femscale_core::ControlFlow::Continue(())
        })
        .unwrap();
    assert!(report.converged && report.final_relative_residual <= 1e-8);
    assert_eq!(report.residual_history.len(), report.iterations);
    assert_eq!(calls, report.iterations);
    let mut r = vec![0.0; a.nrows()];
    a.mul_vec_into(&x, &mut r);
    let res: f64 = r
        .iter()
        .zip(&b)
        .map(|(ax, b)| (b - ax).powi(2))
        .sum::<f64>()
        .sqrt();
    let bn: f64 = b.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!(res <= 1e-8 * bn * 1.0001);

    // Multi-level standalone too.
    let solver = AmgSolver::new(multilevel());
    let mut x = vec![0.0; a.nrows()];
    let report = solver
        .prepare(Arc::clone(&a), &SolverOptions::default())
        .unwrap()
        .solve(&b, &mut x, &mut NoMonitor)
        .unwrap();
    assert!(report.converged && report.iterations < 60, "{report:?}");
}

#[test]
fn every_smoother_works_with_cg() {
    let a = Arc::new(poisson(40));
    for smoother in [
        AmgSmoother::Chebyshev,
        AmgSmoother::Jacobi,
        AmgSmoother::SymmetricGaussSeidel,
    ] {
        for sweeps in [1, 2] {
            let o = options_with(|o| {
                o.coarse_size = 40;
                o.smoother = smoother;
                o.sweeps = sweeps;
                o.chebyshev_degree = 3;
            });
            let (its, _) = cg_iterations(&a, o);
            assert!(its <= 30, "{smoother:?} x{sweeps}: {its} iterations");
        }
    }
}

#[test]
fn v_and_w_cycles_are_symmetric_and_positive() {
    let a = poisson(30);
    let n = a.nrows();
    let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
    for cycle in [AmgCycle::V, AmgCycle::W] {
        for smoother in [
            AmgSmoother::Chebyshev,
            AmgSmoother::Jacobi,
            AmgSmoother::SymmetricGaussSeidel,
        ] {
            let o = options_with(|o| {
                o.coarse_size = 20;
                o.smoother = smoother;
                o.sweeps = 2;
                o.cycle = cycle;
            });
            let m = AmgFactory::new(o)
                .build_with_budget(&a, None, None)
                .unwrap();
            assert!(
                m.num_levels() >= 3,
                "the W-cycle needs an intermediate level"
            );
            let (x, y) = (pseudo_random(n, 1), pseudo_random(n, 2));
            let (mut mx, mut my) = (vec![0.0; n], vec![0.0; n]);
            m.apply(&x, &mut mx);
            m.apply(&y, &mut my);
            let (mxy, xmy) = (dot(&mx, &y), dot(&x, &my));
            assert!(
                (mxy - xmy).abs() <= 1e-10 * mxy.abs().max(xmy.abs()),
                "{cycle:?} {smoother:?}: {mxy} vs {xmy}"
            );
            assert!(dot(&mx, &x) > 0.0, "{cycle:?} {smoother:?}: not positive");
        }
    }
}

/// The W-cycle visits the intermediate levels twice: a different, stronger preconditioner.
#[test]
fn w_cycle_differs_from_v_and_needs_no_more_iterations() {
    let a = Arc::new(poisson(120));
    let n = a.nrows();
    let with = |cycle| {
        options_with(|o| {
            o.coarse_size = 30;
            o.cycle = cycle;
        })
    };
    let x = pseudo_random(n, 3);
    let apply = |cycle| {
        let m = AmgFactory::new(with(cycle)).build(&a).unwrap();
        let mut z = vec![0.0; n];
        m.apply(&x, &mut z);
        z
    };
    let (zv, zw) = (apply(AmgCycle::V), apply(AmgCycle::W));
    assert!(max_diff(&zv, &zw) > 1e-6 * zv.iter().fold(0.0f64, |m, v| m.max(v.abs())));
    let (v_its, xv) = cg_iterations(&a, with(AmgCycle::V));
    let (w_its, xw) = cg_iterations(&a, with(AmgCycle::W));
    assert!(w_its <= v_its, "W {w_its} vs V {v_its} iterations");
    let scale = xv.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        max_diff(&xv, &xw) < 1e-6 * scale,
        "both solve the same system"
    );
}

#[test]
fn a_shared_finest_level_gives_the_same_hierarchy_without_copying_the_matrix() {
    let a = Arc::new(poisson(48));
    let factory = AmgFactory::new(options_with(|o| o.coarse_size = 30));
    let mut copied = factory.build_with_budget(&a, None, None).unwrap();
    let mut shared = factory.build_on_shared(&a, None, None, None).unwrap();
    assert_eq!(copied.levels(), shared.levels());
    // The values (8 bytes per entry), column indices (4 per entry) and row pointers (8 per row
    // and one) of the finest level belong to `a`.
    assert_eq!(
        copied.memory_bytes() - shared.memory_bytes(),
        12 * a.nnz() + 8 * (a.nrows() + 1)
    );
    let r = pseudo_random(a.nrows(), 3);
    let (mut zc, mut zs) = (vec![0.0; a.nrows()], vec![0.0; a.nrows()]);
    copied.apply_mut(&r, &mut zc);
    shared.apply_mut(&r, &mut zs);
    assert_eq!(zc, zs);
    // New values: the hierarchy takes its own copy, and `a` is never written.
    let doubled = Arc::new(
        CsrMatrix::try_from_pattern_and_values(
            a.pattern().clone(),
            a.values().iter().map(|v| 2.0 * v).collect(),
        )
        .unwrap(),
    );
    shared.update_values(&doubled).unwrap();
    assert_eq!(a.get(0, 0), 4.0);
    shared.apply_mut(&r, &mut zs);
    assert!(max_diff(&zs, &zc.iter().map(|z| z / 2.0).collect::<Vec<_>>()) < 1e-12);
    // With zeros stored off the diagonal between rows i and i + 2 for i < `rows`.
    let with_zeros = |rows: usize| {
        let mut t: Vec<(usize, usize, f64)> = (0..rows)
            .flat_map(|i| [(i, i + 2, 0.0), (i + 2, i, 0.0)])
            .collect();
        for i in 0..a.nrows() {
            for (k, &j) in a.pattern().row(i).iter().enumerate() {
                t.push((i, j as usize, a.values()[a.pattern().row_ptr()[i] + k]));
            }
        }
        Arc::new(CsrMatrix::try_from_triplets(a.nrows(), a.nrows(), &t).unwrap())
    };
    // A few zeros (at most one entry in FEW_STORED_ZEROS) are shared with the values: the
    // same aggregates (zeros are no coupling) and the same cycle; the zeros' positions add
    // entries of value zero to the products, a few to each level.
    let few = 2 * (a.nnz() / FEW_STORED_ZEROS / 2);
    let mut kept = factory
        .build_on_shared(&with_zeros(few / 2), None, None, None)
        .unwrap();
    for (k, c) in kept.levels().iter().zip(copied.levels()) {
        assert_eq!(k.rows, c.rows);
        assert!(
            (c.nnz..=c.nnz + few).contains(&k.nnz),
            "{k:?} against {c:?}"
        );
    }
    assert!(kept.memory_bytes() < copied.memory_bytes() - 12 * a.nnz());
    let mut zk = vec![0.0; a.nrows()];
    kept.apply_mut(&r, &mut zk);
    assert_eq!(zk, zc);
    // More are copied (and filtered) as before.
    let zeros = with_zeros(few / 2 + 1);
    let mut filtered = factory.build_on_shared(&zeros, None, None, None).unwrap();
    assert_eq!(filtered.memory_bytes(), copied.memory_bytes());
    // New values on the pattern with its zeros, twice: the hierarchy knows the pattern it was
    // built for, not its filtered finest level's.
    for factor in [2.0, 3.0] {
        let scaled = CsrMatrix::try_from_pattern_and_values(
            zeros.pattern().clone(),
            zeros.values().iter().map(|v| factor * v).collect(),
        )
        .unwrap();
        filtered.update_values(&scaled).unwrap();
        let mut zf = vec![0.0; a.nrows()];
        filtered.apply_mut(&r, &mut zf);
        let expected: Vec<f64> = zc.iter().map(|z| z / factor).collect();
        assert!(max_diff(&zf, &expected) < 1e-12, "values x {factor}");
    }
    assert!(filtered.update_values(&a).is_err(), "another pattern");
    // CG with AMG shares through `build_shared`: the same iterations and solution as with
    // a factory that only knows `build_with` (and so copies).
    #[derive(Debug)]
    struct Copying(AmgFactory);
    impl PreconditionerFactory for Copying {
        fn name(&self) -> &'static str {
            "amg"
        }
        fn build(&self, a: &CsrMatrix) -> Result<Box<dyn Preconditioner>, SolveError> {
            self.0.build(a)
        }
    }
    let (iterations, x) = cg_iterations(&a, multilevel());
    let b = vec![1.0; a.nrows()];
    let mut y = vec![0.0; a.nrows()];
    let report = ConjugateGradient::new(Arc::new(Copying(AmgFactory::new(multilevel()))))
        .prepare(Arc::clone(&a), &SolverOptions::default())
        .unwrap()
        .solve(&b, &mut y, &mut NoMonitor)
        .unwrap();
    assert_eq!(report.iterations, iterations);
    assert_eq!(x, y);
}

#[test]
fn hierarchy_levels_shrink_and_complexity_is_bounded() {
    let a = poisson(64);
    let h = AmgFactory::new(options_with(|o| o.coarse_size = 30))
        .build_with_budget(&a, None, None)
        .unwrap();
    let levels = h.levels();
    assert!(levels.len() >= 3, "{levels:?}");
    assert_eq!(levels[0].rows, a.nrows());
    assert_eq!(levels[0].nnz, a.nnz());
    for w in levels.windows(2) {
        assert!(w[1].rows * 2 < w[0].rows, "{levels:?}");
    }
    assert!(levels.last().unwrap().rows <= 30 || levels.len() == 20);
    let c = h.operator_complexity();
    assert!(c > 1.0 && c < 2.0, "operator complexity {c}");
    assert!(h.grid_complexity() < 1.5);
    assert!(h.memory_bytes() > a.nnz() * 12);
    assert_eq!(h.num_levels(), levels.len());
    let h = AmgFactory::new(options_with(|o| {
        o.coarse_size = 30;
        o.max_levels = 2;
    }))
    .build_with_budget(&a, None, None)
    .unwrap();
    assert_eq!(h.num_levels(), 2);
}

#[test]
fn memory_budget_is_enforced() {
    let a = Arc::new(poisson(40));
    let mut options = SolverOptions::default();
    options.memory_limit_mb = Some(0.01);
    let err = AmgSolver::default()
        .prepare(Arc::clone(&a), &options)
        .unwrap_err();
    assert!(matches!(err, SolveError::MemoryBudget { .. }), "{err}");
    // Enough for the fine level, not for the hierarchy below it.
    let err = AmgFactory::new(multilevel())
        .build_with_budget(&a, Some(0.1), None)
        .unwrap_err();
    let SolveError::MemoryBudget {
        what,
        needed_mb,
        limit_mb,
    } = err
    else {
        panic!("{err}")
    };
    assert!(needed_mb > limit_mb && what.contains("amg"), "{what}");
    let err = amg_cg(AmgOptions::default())
        .prepare(a, &options)
        .unwrap_err();
    assert!(matches!(err, SolveError::MemoryBudget { .. }), "{err}");
}

#[test]
fn timeout_is_enforced() {
    let a = Arc::new(poisson(40));
    let mut options = SolverOptions::default();
    options.timeout_seconds = Some(1e-9);
    let err = AmgSolver::new(multilevel())
        .prepare(Arc::clone(&a), &options)
        .unwrap_err();
    let SolveError::Timeout { limit_seconds, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(limit_seconds, 1e-9);
    let err = AmgFactory::new(multilevel())
        .build_with_budget(&a, None, Some(Instant::now()))
        .unwrap_err();
    assert!(matches!(err, SolveError::Timeout { .. }), "{err}");
}

#[test]
fn one_prepared_solver_serves_many_right_hand_sides() {
    let a = Arc::new(poisson(30));
    let n = a.nrows();
    for solver in [
        Box::new(amg_cg(multilevel())) as Box<dyn LinearSolver>,
        Box::new(AmgSolver::new(multilevel())),
    ] {
        let mut shared = solver
            .prepare(Arc::clone(&a), &SolverOptions::default())
            .unwrap();
        for seed in 0..4 {
            let b = pseudo_random(n, seed);
            let mut x1 = vec![0.0; n];
            shared.solve(&b, &mut x1, &mut NoMonitor).unwrap();
            let mut x2 = vec![0.0; n];
            solver
                .prepare(Arc::clone(&a), &SolverOptions::default())
                .unwrap()
                .solve(&b, &mut x2, &mut NoMonitor)
                .unwrap();
            assert!(max_diff(&x1, &x2) <= 1e-14, "{}", solver.name());
        }
    }
}

#[test]
fn update_values_with_scaled_matrix_scales_the_solution() {
    let a = Arc::new(poisson(32));
    let n = a.nrows();
    let b = pseudo_random(n, 9);
    for solver in [
        Box::new(amg_cg(multilevel())) as Box<dyn LinearSolver>,
        Box::new(AmgSolver::new(multilevel())),
    ] {
        let mut prepared = solver
            .prepare(Arc::clone(&a), &SolverOptions::default())
            .unwrap();
        let mut x1 = vec![0.0; n];
        prepared.solve(&b, &mut x1, &mut NoMonitor).unwrap();
        let (pattern, values) = (*a).clone().into_parts();
        let scaled = CsrMatrix::try_from_pattern_and_values(
            pattern,
            values.iter().map(|v| 2.5 * v).collect(),
        )
        .unwrap();
        prepared.update_values(Arc::new(scaled)).unwrap();
        let mut x2 = vec![0.0; n];
        let report = prepared.solve(&b, &mut x2, &mut NoMonitor).unwrap();
        assert!(report.converged);
        let scale = x1.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (u, v) in x1.iter().zip(&x2) {
            assert!((u - 2.5 * v).abs() <= 1e-6 * scale, "{}", solver.name());
        }
    }
    // A different pattern is rejected.
    let mut prepared = AmgSolver::default()
        .prepare(Arc::clone(&a), &SolverOptions::default())
        .unwrap();
    let mut other = poisson(32);
    other = CsrMatrix::try_from_triplets(n, n, &(0..n).map(|i| (i, i, 1.0)).collect::<Vec<_>>())
        .unwrap_or(other);
    assert!(prepared.update_values(Arc::new(other)).is_err());
}

#[test]
fn invalid_options_are_rejected_by_name() {
    let a = Arc::new(poisson(10));
    let cases: Vec<(&str, AmgOptions)> = vec![
        (
            "amg.strength_threshold",
            options_with(|o| o.strength_threshold = -0.1),
        ),
        (
            "amg.strength_threshold",
            options_with(|o| o.strength_threshold = f64::NAN),
        ),
        ("amg.sweeps", options_with(|o| o.sweeps = 0)),
        ("amg.coarse_size", options_with(|o| o.coarse_size = 0)),
        ("amg.max_levels", options_with(|o| o.max_levels = 1)),
        ("amg.jacobi_weight", options_with(|o| o.jacobi_weight = 0.0)),
        ("amg.jacobi_weight", options_with(|o| o.jacobi_weight = 1.5)),
        (
            "amg.chebyshev_degree",
            options_with(|o| o.chebyshev_degree = 0),
        ),
        (
            "amg.prolongation_weight",
            options_with(|o| o.prolongation_weight = f64::NAN),
        ),
    ];
    for (name, o) in cases {
        for result in [
            AmgSolver::new(o.clone())
                .prepare(Arc::clone(&a), &SolverOptions::default())
                .map(|_| ()),
            amg_cg(o.clone())
                .prepare(Arc::clone(&a), &SolverOptions::default())
                .map(|_| ()),
        ] {
            match result {
                Err(SolveError::InvalidOption { option, .. }) => assert_eq!(option, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

#[test]
fn tiny_matrices_use_a_single_direct_level() {
    let one = CsrMatrix::try_from_triplets(1, 1, &[(0, 0, 4.0)]).unwrap();
    let h = AmgFactory::default()
        .build_with_budget(&one, None, None)
        .unwrap();
    assert_eq!(h.num_levels(), 1);
    let mut z = [0.0];
    h.apply(&[2.0], &mut z);
    assert!((z[0] - 0.5).abs() < 1e-15);

    let a = Arc::new(poisson(12));
    let pc = new_amg_preconditioner(&MethodOptions::default());
    assert_eq!(pc.name(), "amg");
    let cg = ConjugateGradient::new(pc);
    let b = pseudo_random(a.nrows(), 5);
    let mut x = vec![0.0; a.nrows()];
    let report = cg
        .prepare(Arc::clone(&a), &SolverOptions::default())
        .unwrap()
        .solve(&b, &mut x, &mut NoMonitor)
        .unwrap();
    // A single level is an exact solve: CG converges in one iteration.
    assert!(report.converged && report.iterations <= 2, "{report:?}");
    let mut x = vec![0.0; a.nrows()];
    let report = AmgSolver::default()
        .prepare(a, &SolverOptions::default())
        .unwrap()
        .solve(&b, &mut x, &mut NoMonitor)
        .unwrap();
    assert!(report.converged && report.iterations <= 2, "{report:?}");
}

#[test]
fn all_isolated_nodes_fall_back_to_a_direct_level() {
    // A diagonal matrix has no strong connections: no aggregates, so one (direct) level.
    let n = 100;
    let d = CsrMatrix::try_from_triplets(
        n,
        n,
        &(0..n).map(|i| (i, i, 1.0 + i as f64)).collect::<Vec<_>>(),
    )
    .unwrap();
    let h = AmgFactory::new(options_with(|o| o.coarse_size = 10))
        .build_with_budget(&d, None, None)
        .unwrap();
    assert_eq!(h.num_levels(), 1);
    let r = vec![1.0; n];
    let mut z = vec![0.0; n];
    h.apply(&r, &mut z);
    for (i, zi) in z.iter().enumerate() {
        assert!((zi * (1.0 + i as f64) - 1.0).abs() < 1e-12);
    }
}
