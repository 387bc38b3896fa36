//! End-to-end behaviour of the pipeline: solver agreement, assembler agreement, reports.

use femscale::prelude::*;
use femscale::runtime::SolverConfig;

fn mms(nx: usize) -> Laplace2d {
    Laplace2d {
        nx,
        ny: nx,
        source: Some(Source::expr("2*pi^2*sin(pi*x)*sin(pi*y)")),
        exact: Some(Source::expr("sin(pi*x)*sin(pi*y)")),
        ..Default::default()
    }
}

fn solver_with(edit: impl FnOnce(&mut Config)) -> FemSolver {
    let mut config = Config::default();
    edit(&mut config);
    FemSolver::from_config(config).unwrap()
}

#[test]
fn direct_and_cg_agree_to_the_solver_tolerance() {
    let direct = FemSolver::new().solve_2d_laplace(&mms(40)).unwrap();
    let cg = solver_with(|c| {
        c.solver.kind = "cg".into();
        c.solver.preconditioner = "jacobi".into();
        c.solver.tolerance = 1e-10;
    })
    .solve_2d_laplace(&mms(40))
    .unwrap();
    assert_eq!(
        direct.metrics.solver, "direct-cholesky",
        "auto picks direct for small problems"
    );
    assert_eq!(cg.metrics.solver, "cg");
    assert!(cg.metrics.iterations > 1 && cg.metrics.linear_solve.converged);
    assert_eq!(
        cg.metrics.linear_solve.residual_history.len(),
        cg.metrics.iterations
    );
    let scale = direct.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = direct
        .values
        .iter()
        .zip(&cg.values)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    // CG stops at ||r|| <= 1e-10 ||b||; the error is bounded by the condition number (~1e3) times that.
    assert!(diff <= 1e-6 * scale, "max difference {diff}");
    assert!((direct.metrics.l2_error.unwrap() - cg.metrics.l2_error.unwrap()).abs() < 1e-8);
}

#[test]
fn parallel_and_serial_assembly_agree_through_the_pipeline() {
    let serial = solver_with(|c| c.assembly.parallel = Some(false))
        .solve_2d_laplace(&mms(64))
        .unwrap();
    let parallel = solver_with(|c| c.assembly.parallel = Some(true))
        .solve_2d_laplace(&mms(64))
        .unwrap();
    assert!(!serial.metrics.parallel_assembly_used && serial.metrics.assembler == "serial");
    assert!(parallel.metrics.parallel_assembly_used && parallel.metrics.assembler == "parallel");
    assert!(
        parallel
            .metrics
            .features_used
            .contains(&Feature::ParallelAssembly)
    );
    let scale = serial.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (a, b) in serial.values.iter().zip(&parallel.values) {
        assert!((a - b).abs() <= 1e-12 * scale);
    }
}

#[test]
fn the_size_heuristic_picks_the_assembler() {
    let solver = solver_with(|c| {
        c.assembly.parallel_threshold_cells = 1000;
        // `auto` would pick the single-threaded `minimal` level for these small problems.
        c.scaling.level = femscale::runtime::ScalingLevel::Standard;
    });
    let small = solver.solve_2d_laplace(&mms(10)).unwrap(); // 200 cells
    let large = solver.solve_2d_laplace(&mms(30)).unwrap(); // 1800 cells
    assert!(!small.metrics.parallel_assembly_used);
    let multi_core = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
    assert_eq!(large.metrics.parallel_assembly_used, multi_core);
}

#[test]
fn report_carries_sizes_timings_and_errors() {
    let s = FemSolver::new().solve_2d_laplace(&mms(16)).unwrap();
    let m = &s.metrics;
    assert_eq!(m.dofs, 17 * 17);
    assert_eq!(m.num_elements, 2 * 16 * 16);
    assert_eq!(m.dirichlet_dofs, 4 * 16);
    assert_eq!(m.element, "P1");
    assert!(m.nnz > m.dofs);
    assert!((m.total_solve_time - m.phases.total()).abs() < 1e-12);
    assert!(m.phases.assembly > 0.0 && m.phases.setup > 0.0);
    assert!(
        m.l2_error.unwrap() < 1e-2 && m.h1_error.unwrap() < 0.3,
        "{:?} {:?}",
        m.l2_error,
        m.h1_error
    );
    assert!(m.final_relative_residual < 1e-12);
    assert!(m.verified_relative_residual < 1e-12);
    assert_eq!(s.values.len(), s.nodes().len() / 2);
    let json = serde_json::to_value(m).unwrap();
    for key in [
        "dofs",
        "num_elements",
        "solver",
        "iterations",
        "final_relative_residual",
        "verified_relative_residual",
        "total_solve_time",
        "phases",
        "parallel_assembly_used",
        "l2_error",
        "h1_error",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn config_files_drive_the_same_pipeline() {
    let config = Config::from_toml_str(
        r#"
        [problem]
        dim = 2
        mesh = { kind = "rectangle", nx = 12, ny = 12, cell = "quad" }
        source = "a*2*pi^2*sin(pi*x)*sin(pi*y)"
        exact = "a*sin(pi*x)*sin(pi*y)"
        params = { a = 3.0 }
        [solver]
        kind = "cg"
        preconditioner = "none"
        tolerance = 1e-12
        "#,
    )
    .unwrap();
    let mut expected = SolverConfig::default();
    expected.kind = "cg".into();
    expected.preconditioner = "none".into();
    expected.tolerance = 1e-12;
    assert_eq!(config.solver, expected);
    let s = FemSolver::from_config(config)
        .unwrap()
        .solve_configured()
        .unwrap();
    assert_eq!(s.metrics.element, "Q1");
    assert_eq!(s.metrics.preconditioner, "none");
    assert!(s.metrics.l2_error.unwrap() < 3.0 * 0.01);
}

#[test]
fn solution_of_the_seed_quick_start_is_linear() {
    let s = FemSolver::new()
        .solve_1d_laplace(&Laplace1d {
            num_elements: 100,
            left_bc: 0.0,
            right_bc: 1.0,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(s.values.len(), 101);
    for (i, v) in s.values.iter().enumerate() {
        assert!((v - s.nodes()[i]).abs() < 1e-13);
    }
}

#[test]
fn one_dimensional_problems_take_the_banded_direct_path() {
    // -(k u')' = f with k = 1 + x, u = sin(3x) on [0, 2]: tridiagonal, linear-time Cholesky.
    let p = Laplace1d {
        x_range: [0.0, 2.0],
        num_elements: 20_000,
        diffusion: Source::expr("1 + x"),
        source: Some(Source::expr("9*(1 + x)*sin(3*x) - 3*cos(3*x)")),
        left_bc: 0.0,
        right_bc: (6.0f64).sin(),
        exact: Some(Source::expr("sin(3*x)")),
        ..Default::default()
    };
    let banded = FemSolver::new().solve_1d_laplace(&p).unwrap();
    assert_eq!(banded.metrics.solver, "direct-banded");
    assert!(banded.metrics.verified_relative_residual < 1e-12);
    // The same system through CG to a tight tolerance: the same nodal values.
    let cg = solver_with(|c| {
        c.solver.kind = "cg".into();
        c.solver.preconditioner = "amg".into();
        c.solver.tolerance = 1e-13;
    })
    .solve_1d_laplace(&p)
    .unwrap();
    let diff = (banded.values.iter().zip(&cg.values))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-9, "banded and CG differ by {diff:e}");
    // P1 in 1D is nodally exact up to the quadrature of f and k.
    assert!(banded.metrics.max_nodal_error.unwrap() < 1e-8);
}

#[test]
fn auto_picks_direct_for_small_and_amg_preconditioned_cg_for_large_problems() {
    let solver = solver_with(|c| c.solver.auto_direct_max_dofs = 1000);
    let small = solver.solve_2d_laplace(&mms(20)).unwrap(); // 441 unknowns
    assert_eq!(
        (
            small.metrics.solver.as_str(),
            small.metrics.preconditioner.as_str()
        ),
        ("direct-cholesky", "none")
    );
    let large = solver.solve_2d_laplace(&mms(80)).unwrap(); // 6561 unknowns
    assert_eq!(
        (
            large.metrics.solver.as_str(),
            large.metrics.preconditioner.as_str()
        ),
        ("cg", "amg")
    );
    assert!(
        large.metrics.iterations <= 15,
        "{}",
        large.metrics.iterations
    );
    // Both solves are accurate: h is 4 times smaller, so the L2 error is ~16 times smaller.
    let (coarse, fine) = (
        small.metrics.l2_error.unwrap(),
        large.metrics.l2_error.unwrap(),
    );
    let rate = (coarse / fine).ln() / 4f64.ln();
    assert!(
        (1.95..=2.05).contains(&rate),
        "L2 {coarse:e} -> {fine:e}: rate {rate}"
    );
}

#[test]
fn every_registered_solver_solves_the_poisson_problem() {
    let reference = FemSolver::new().solve_2d_laplace(&mms(24)).unwrap();
    for (kind, pc) in [
        ("cg", "jacobi"),
        ("cg", "ssor"),
        ("cg", "ic0"),
        ("cg", "amg"),
        ("gmres", "ilu0"),
        ("gmres", "auto"),
        ("bicgstab", "ilu0"),
        ("amg", "auto"),
        ("direct", "auto"),
    ] {
        let s = solver_with(|c| {
            c.solver.kind = kind.into();
            c.solver.preconditioner = pc.into();
            c.solver.tolerance = 1e-10;
        })
        .solve_2d_laplace(&mms(24))
        .unwrap_or_else(|e| panic!("{kind}+{pc}: {e}"));
        assert!(s.metrics.linear_solve.converged, "{kind}+{pc}");
        let diff = s
            .values
            .iter()
            .zip(&reference.values)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff < 1e-7, "{kind}+{pc}: {diff}");
    }
}

#[test]
fn scaling_levels_choose_threads_and_assembly_and_overrides_are_scoped() {
    use femscale::runtime::{ScalingLevel, ScalingToggles};
    let minimal = FemSolver::with_scaling(ScalingLevel::Minimal);
    let s = minimal.solve_2d_laplace(&mms(200)).unwrap(); // 80 000 cells: parallel by size otherwise
    assert_eq!(s.metrics.scaling_level, ScalingLevel::Minimal);
    assert_eq!(s.metrics.threads, 1);
    assert!(!s.metrics.parallel_assembly_used);
    let t: ScalingToggles = minimal.optimize_for_problem_size(1 << 20).toggles;
    assert!(!t.parallel && !t.jit && t.threads == 1);

    let auto = FemSolver::new();
    assert_eq!(
        auto.optimize_for_problem_size(100).toggles.level,
        ScalingLevel::Minimal
    );
    assert_eq!(
        auto.optimize_for_problem_size(100_000).toggles.level,
        ScalingLevel::Standard
    );
    assert_eq!(
        auto.optimize_for_problem_size(5_000_000).toggles.level,
        ScalingLevel::Aggressive
    );
    let big = auto.solve_2d_laplace(&mms(200)).unwrap();
    assert_eq!(big.metrics.scaling_level, ScalingLevel::Standard);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(big.metrics.threads, cores);
    assert_eq!(big.metrics.parallel_assembly_used, cores > 1);

    // A scoped override changes the returned solver only.
    let serial = auto
        .with_overrides(&["scaling.enable_parallel=false", "solver.kind=cg"])
        .unwrap();
    let decision = serial.optimize_for_problem_size(1 << 20);
    assert!(!decision.toggles.parallel);
    assert_eq!(decision.plan.threads, 1);
    assert_eq!(decision.solver, "cg");
    assert_eq!(serial.config().solver.kind, "cg");
    assert_eq!(auto.config().solver.kind, "auto");
    let iterations = auto
        .scoped(&["solver.kind=cg", "solver.preconditioner=jacobi"], |s| {
            Ok(s.solve_2d_laplace(&mms(16))?.metrics.iterations)
        })
        .unwrap();
    assert!(iterations > 1);
    assert!(auto.with_overrides(&["scaling.level=turbo"]).is_err());
}

/// BiCGStab + ILU(0) used to report a `(r̂0, v)` breakdown on this problem at a residual of
/// ~1e-6 (round-off orthogonality); it now restarts with a fresh shadow residual.
#[test]
fn bicgstab_restarts_instead_of_breaking_down_near_convergence() {
    let s = solver_with(|c| {
        c.solver.kind = "bicgstab".into();
        c.solver.preconditioner = "ilu0".into();
        c.solver.tolerance = 1e-10;
    })
    .solve_2d_laplace(&mms(256))
    .unwrap();
    assert!(s.metrics.linear_solve.converged && s.metrics.final_relative_residual <= 1e-10);
}

fn caching_solver() -> FemSolver {
    solver_with(|c| {
        c.scaling.enable_caching = Some(true);
        c.solver.kind = "direct".into();
    })
}

#[test]
fn a_repeated_solve_is_served_from_the_cache() {
    let solver = caching_solver();
    let first = solver.solve_2d_laplace(&mms(60)).unwrap();
    let second = solver.solve_2d_laplace(&mms(60)).unwrap();
    assert!(!first.metrics.features_used.iter().any(|f| f.is_cache_hit()));
    assert!(
        second
            .metrics
            .features_used
            .contains(&Feature::SolutionCacheHit)
    );
    assert_eq!(first.values, second.values);
    assert_eq!(first.metrics.l2_error, second.metrics.l2_error);
    assert!(solver.cache_stats()[0].hits >= 1);
    // Caching off: no reuse.
    let off = solver_with(|c| c.scaling.enable_caching = Some(false));
    off.solve_2d_laplace(&mms(20)).unwrap();
    let again = off.solve_2d_laplace(&mms(20)).unwrap();
    assert!(!again.metrics.features_used.iter().any(|f| f.is_cache_hit()));
}

#[test]
fn a_new_source_reuses_the_factorization_and_a_new_coefficient_does_not() {
    let solver = caching_solver();
    let base = Laplace2d {
        nx: 40,
        ny: 40,
        source: Some(Source::expr("1")),
        ..Default::default()
    };
    solver.solve_2d_laplace(&base).unwrap();

    // Another source: same operator, new solution; equal to a solve without any cache.
    let other = Laplace2d {
        source: Some(Source::expr("x*y")),
        top_bc: 1.0,
        ..base.clone()
    };
    let reused = solver.solve_2d_laplace(&other).unwrap();
    assert!(
        reused
            .metrics
            .features_used
            .contains(&Feature::OperatorCacheHit)
    );
    assert!(
        !reused
            .metrics
            .features_used
            .contains(&Feature::SolutionCacheHit)
    );
    let fresh = FemSolver::new().solve_2d_laplace(&other).unwrap();
    let diff = reused
        .values
        .iter()
        .zip(&fresh.values)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff < 1e-12, "{diff}");

    // A changed coefficient value changes the operator key: nothing is reused.
    let stiffer = Laplace2d {
        diffusion: 2.0.into(),
        ..base.clone()
    };
    let s = solver.solve_2d_laplace(&stiffer).unwrap();
    assert!(
        !s.metrics.features_used.iter().any(|f| f.is_cache_hit()),
        "{:?}",
        s.metrics.features_used
    );
    let base_again = solver.solve_2d_laplace(&base).unwrap();
    let scaled = base_again
        .values
        .iter()
        .zip(&s.values)
        .fold(0.0f64, |m, (a, b)| m.max((a / 2.0 - b).abs()));
    assert!(scaled < 1e-12, "k = 2 halves the solution: {scaled}");

    // Rust closures cannot be hashed: never cached.
    let closure = Laplace2d {
        source: Some(Source::func("f", |p| p[0])),
        ..base.clone()
    };
    solver.solve_2d_laplace(&closure).unwrap();
    let again = solver.solve_2d_laplace(&closure).unwrap();
    assert!(!again.metrics.features_used.iter().any(|f| f.is_cache_hit()));
}
