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
