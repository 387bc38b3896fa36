//! AMG with a given first coarse level (`SolverOptions::coarse_space`): linear interpolation
//! on a 1D Laplacian, through CG and `AmgFactory::build_on`.

use std::sync::Arc;

use femscale_core::{CoarseSpace, CsrMatrix, LinearSolver, NoMonitor, SolveError, SolverOptions};
use femscale_solvers::ConjugateGradient;
use femscale_solvers::amg::AmgFactory;
use femscale_solvers::options::AmgOptions;

/// The 1D Laplacian (`2, -1`) on `n` interior nodes.
fn laplacian(n: usize) -> CsrMatrix {
    let mut t = Vec::new();
    for i in 0..n {
        t.push((i, i, 2.0));
        if i > 0 {
            t.push((i, i - 1, -1.0));
        }
        if i + 1 < n {
            t.push((i, i + 1, -1.0));
        }
    }
    CsrMatrix::try_from_triplets(n, n, &t).unwrap()
}

/// Linear interpolation from the `m` odd nodes of `2 m + 1` nodes.
fn interpolation(m: usize) -> CoarseSpace {
    let mut t = Vec::new();
    for c in 0..m {
        t.push((2 * c + 1, c, 1.0));
        t.push((2 * c, c, 0.5));
        t.push((2 * c + 2, c, 0.5));
    }
    let p = CsrMatrix::try_from_triplets(2 * m + 1, m, &t).unwrap();
    CoarseSpace::new(Arc::new(p))
}

fn options() -> AmgOptions {
    AmgOptions::default().with_coarse_size(20)
}

#[test]
fn the_given_space_is_the_second_level_and_cg_converges() {
    let m = 400;
    let a = laplacian(2 * m + 1);
    let space = interpolation(m);
    let factory = AmgFactory::new(options());
    let given = factory.build_on(&a, Some(&space), None, None).unwrap();
    let plain = factory.build_with_budget(&a, None, None).unwrap();
    assert_eq!(given.levels()[1].rows, m);
    assert_ne!(plain.levels()[1].rows, m);
    // P^T A P of linear interpolation is the coarse Laplacian / 2: three entries per row.
    assert_eq!(given.levels()[1].nnz, 3 * m - 2);

    let cg = ConjugateGradient::new(Arc::new(AmgFactory::new(options())));
    let solver_options = SolverOptions::default()
        .with_tolerance(1e-10)
        .with_coarse_space(space);
    let a = Arc::new(a);
    let mut prepared = cg.prepare(Arc::clone(&a), &solver_options).unwrap();
    let b = vec![1.0; a.nrows()];
    let mut x = vec![0.0; a.nrows()];
    let report = prepared.solve(&b, &mut x, &mut NoMonitor).unwrap();
    assert!(report.iterations < 15, "{report:?}");
    // New values on the same pattern keep the given level: x scales with 1 / 3.
    let scaled: Vec<f64> = a.values().iter().map(|v| 3.0 * v).collect();
    let a3 = CsrMatrix::try_from_pattern_and_values(Arc::clone(a.pattern()), scaled).unwrap();
    prepared.update_values(Arc::new(a3)).unwrap();
    let mut y = vec![0.0; a.nrows()];
    prepared.solve(&b, &mut y, &mut NoMonitor).unwrap();
    let err = x.iter().zip(&y).map(|(x, y)| (x - 3.0 * y).abs());
    assert!(err.fold(0.0, f64::max) < 1e-6);
}

#[test]
fn a_prolongator_of_the_wrong_shape_is_refused_and_small_matrices_ignore_it() {
    let a = laplacian(101);
    let factory = AmgFactory::new(options());
    for space in [
        interpolation(20),
        CoarseSpace::new(Arc::new(laplacian(101))),
    ] {
        let err = factory.build_on(&a, Some(&space), None, None).unwrap_err();
        assert!(
            matches!(&err, SolveError::InvalidOption { option, .. } if option == "coarse_space"),
            "{err}"
        );
    }
    let small = laplacian(11);
    let levels = factory.build_on(&small, Some(&interpolation(5)), None, None);
    assert_eq!(levels.unwrap().num_levels(), 1);
}

/// Linear interpolation with weights `f32` cannot hold exactly (AMG stores them rounded).
fn uneven_interpolation(m: usize) -> CoarseSpace {
    let mut t = Vec::new();
    for c in 0..m {
        let w = 0.5 + 0.1 / (c as f64 + 3.0);
        t.push((2 * c + 1, c, 1.0));
        t.push((2 * c, c, w));
        t.push((2 * c + 2, c, 1.0 - w));
    }
    let p = CsrMatrix::try_from_triplets(2 * m + 1, m, &t).unwrap();
    CoarseSpace::new(Arc::new(p))
}

#[test]
fn prepared_solvers_do_not_keep_the_coarse_space_and_rebuild_the_same_preconditioner() {
    let m = 400;
    let a = Arc::new(laplacian(2 * m + 1));
    let space = uneven_interpolation(m);
    let solver_options = SolverOptions::default()
        .with_tolerance(1e-10)
        .with_coarse_space(space.clone());
    // The test holds the space twice (`space` and the options).
    let held = || Arc::strong_count(space.prolongator());
    assert_eq!(held(), 2);
    // New values on the same pattern: a reaction term.
    let shifted: Vec<f64> = (a.pattern().row_ptr().windows(2).enumerate())
        .flat_map(|(i, w)| {
            let cols = &a.pattern().col_idx()[w[0]..w[1]];
            cols.iter()
                .zip(&a.values()[w[0]..w[1]])
                .map(move |(&j, &v)| if j as usize == i { v + 0.01 } else { v })
                .collect::<Vec<_>>()
        })
        .collect();
    let a2 =
        Arc::new(CsrMatrix::try_from_pattern_and_values(Arc::clone(a.pattern()), shifted).unwrap());
    let b: Vec<f64> = (0..a.nrows()).map(|i| (i as f64 * 0.37).sin()).collect();
    let solvers: [Box<dyn LinearSolver>; 2] = [
        Box::new(ConjugateGradient::new(Arc::new(AmgFactory::new(options())))),
        Box::new(femscale_solvers::amg::AmgSolver::new(options())),
    ];
    for solver in solvers {
        let mut prepared = solver.prepare(Arc::clone(&a), &solver_options).unwrap();
        assert_eq!(
            held(),
            2,
            "{}: the prepared solver keeps the coarse space",
            solver.name()
        );
        prepared.update_values(Arc::clone(&a2)).unwrap();
        assert_eq!(held(), 2);
        let mut updated = vec![0.0; a.nrows()];
        let r1 = prepared.solve(&b, &mut updated, &mut NoMonitor).unwrap();
        // A solver prepared afresh on the new values with the original (f64) space.
        let mut fresh = solver.prepare(Arc::clone(&a2), &solver_options).unwrap();
        let mut expected = vec![0.0; a.nrows()];
        let r2 = fresh.solve(&b, &mut expected, &mut NoMonitor).unwrap();
        assert_eq!(r1.iterations, r2.iterations, "{}", solver.name());
        assert!(r1.iterations < 15, "{}: {r1:?}", solver.name());
        assert_eq!(updated, expected, "{}", solver.name());
    }
}

#[test]
fn a_matrix_of_huge_or_tiny_scale_coarsens_like_its_unscaled_self() {
    let a = laplacian(2001);
    let factory = AmgFactory::new(options());
    let plain = factory.build_with_budget(&a, None, None).unwrap();
    assert!(plain.num_levels() > 2);
    for scale in [1e200, 1e-200, 2f64.powi(1000)] {
        let values = a.values().iter().map(|v| v * scale).collect();
        let scaled =
            CsrMatrix::try_from_pattern_and_values(Arc::clone(a.pattern()), values).unwrap();
        let built = factory.build_with_budget(&scaled, None, None).unwrap();
        assert_eq!(built.levels(), plain.levels(), "scale {scale}");
    }
}
