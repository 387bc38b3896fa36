//! Planning decisions for small, medium and large work on fixed machines.

use proptest::prelude::*;

use super::*;

fn two_cores() -> SystemLoad {
    SystemLoad::fixed(2, Some(20_000.0))
}

#[test]
fn small_single_solves_run_serially() {
    let s = AdaptiveScaler::default();
    let tiny = s.plan(&WorkEstimate::p1(961, 2), &two_cores());
    assert_eq!(tiny.solver, Some(SolverChoice::Direct));
    let plan = s.plan(&WorkEstimate::p1(4_225, 2), &two_cores());
    assert_eq!(plan.threads, 1);
    assert!(!plan.parallel_assembly);
    assert_eq!(plan.solver, Some(SolverChoice::AmgCg));
    assert_eq!(plan.runs_in_flight, 1);
    assert!(plan.estimated_memory_mb.unwrap() < 10.0);
    assert!(plan.check_memory().is_ok());
}

#[test]
fn a_medium_single_solve_uses_every_core_and_amg_cg() {
    let plan = AdaptiveScaler::default().plan(&WorkEstimate::p1(66_049, 2), &two_cores());
    assert_eq!(plan.threads, 2);
    assert!(plan.parallel_assembly);
    assert_eq!(plan.solver, Some(SolverChoice::AmgCg));
    assert_eq!(plan.runs_in_flight, 1);
}

#[test]
fn a_large_solve_plans_amg_cg_on_all_cores_with_a_realistic_estimate() {
    let scaler = AdaptiveScaler::default();
    let work = WorkEstimate::p1(1_050_625, 2);
    let plan = scaler.plan(&work, &SystemLoad::fixed(8, Some(20_000.0)));
    assert_eq!((plan.threads, plan.runs_in_flight), (8, 1));
    assert_eq!(plan.solver, Some(SolverChoice::AmgCg));
    // Measured on this project's machine: ~446 MB peak RSS for AMG-CG, ~895 MB direct.
    let amg = plan.estimated_memory_mb.unwrap();
    assert!((250.0..600.0).contains(&amg), "{amg}");
    let direct = scaler.model.direct_mb(&work);
    assert!((600.0..1200.0).contains(&direct), "{direct}");
}

#[test]
fn sweeps_run_as_many_runs_at_once_as_cores_and_memory_allow() {
    let s = AdaptiveScaler::default();
    let small = s.plan(
        &WorkEstimate::p1(9_409, 2).with_queued_runs(40),
        &two_cores(),
    );
    assert_eq!((small.runs_in_flight, small.threads), (2, 1));
    assert_eq!(small.cpu_threads(), 2);
    let few = s.plan(
        &WorkEstimate::p1(9_409, 2).with_queued_runs(3),
        &SystemLoad::fixed(8, None),
    );
    assert_eq!((few.runs_in_flight, few.threads), (3, 2));
    let large_work = WorkEstimate::p1(263_169, 2).with_queued_runs(8);
    let large = s.plan(&large_work, &two_cores());
    assert_eq!((large.runs_in_flight, large.threads), (2, 1));
    // Without room for two, one at a time on both cores.
    let per_run = large.estimated_memory_mb.unwrap();
    let tight = SystemLoad::fixed(2, Some(1.5 * per_run / s.memory_headroom));
    let one = s.plan(&large_work, &tight);
    assert_eq!((one.runs_in_flight, one.threads), (1, 2));
}

#[test]
fn other_processes_load_reduces_the_cores_used() {
    let s = AdaptiveScaler::default();
    let busy = SystemLoad::fixed(4, None).with_cpu_load(0.5);
    let plan = s.plan(&WorkEstimate::p1(500_000, 2), &busy);
    assert_eq!(plan.threads, 2);
    let saturated = SystemLoad::fixed(4, None).with_cpu_load(1.0);
    assert_eq!(s.plan(&WorkEstimate::p1(500_000, 2), &saturated).threads, 1);
    let sweep = s.plan(&WorkEstimate::p1(1_000, 2).with_queued_runs(10), &busy);
    assert_eq!((sweep.runs_in_flight, sweep.threads), (2, 1));
}

#[test]
fn auto_picks_amg_cg_when_the_factorisation_would_not_fit() {
    let work = WorkEstimate::p1(15_000, 2);
    // A scaler that prefers the direct solver at this size.
    let s = AdaptiveScaler {
        direct_max_dofs_2d: 20_000,
        ..AdaptiveScaler::default()
    };
    assert_eq!(
        s.plan(&work, &two_cores()).solver,
        Some(SolverChoice::Direct)
    );
    let direct = s.model.direct_mb(&work);
    let amg = s.model.amg_cg_mb(&work);
    assert!(amg < direct);
    // A limit between the two estimates: direct refused in favour of AMG-CG.
    let limited = AdaptiveScaler {
        memory_limit_mb: Some(0.5 * (amg + direct)),
        ..s.clone()
    };
    let plan = limited.plan(&work, &two_cores());
    assert_eq!(plan.solver, Some(SolverChoice::AmgCg));
    assert!(
        plan.rationale().contains("would not fit"),
        "{}",
        plan.rationale()
    );
    assert!(plan.check_memory().is_ok());
    // Low available memory has the same effect as a configured limit.
    let tight = SystemLoad::fixed(2, Some(0.5 * (amg + direct) / s.memory_headroom));
    assert_eq!(s.plan(&work, &tight).solver, Some(SolverChoice::AmgCg));
}

#[test]
fn a_solve_that_fits_nowhere_is_refused_up_front() {
    let s = AdaptiveScaler::with_limits(Some(100.0), 0);
    let plan = s.plan(&WorkEstimate::p1(4_000_000, 2), &two_cores());
    assert_eq!(plan.solver, Some(SolverChoice::AmgCg));
    match plan.check_memory() {
        Err(femscale_core::SolveError::MemoryBudget {
            needed_mb,
            limit_mb,
            ..
        }) => {
            assert_eq!(limit_mb, 100.0);
            assert!(needed_mb > 1000.0, "{needed_mb}");
        }
        other => panic!("expected a memory budget error, got {other:?}"),
    }
}

#[test]
fn a_configured_solver_is_checked_against_the_limit() {
    let s = AdaptiveScaler::with_limits(Some(500.0), 0);
    let work = WorkEstimate::p1(1_050_625, 2);
    // ~513 MB for AMG-CG, ~897 MB direct: both over 500 MB; AMG-CG under 600.
    assert!(matches!(
        s.check_memory(&work, SolverChoice::Direct),
        Err(femscale_core::SolveError::MemoryBudget { .. })
    ));
    let s = AdaptiveScaler::with_limits(Some(600.0), 0);
    let amg = s.check_memory(&work, SolverChoice::AmgCg).unwrap();
    assert!(amg < 600.0);
    assert!(s.check_memory(&work, SolverChoice::Direct).is_err());
    assert!(
        AdaptiveScaler::default()
            .check_memory(&work, SolverChoice::Direct)
            .is_ok()
    );
}

#[test]
fn memory_caps_the_runs_in_flight() {
    let s = AdaptiveScaler::default();
    let work = WorkEstimate::p1(100_000, 2).with_queued_runs(16);
    let per_run = s.model.amg_cg_mb(&work);
    // Room for 1.5 runs: only one in flight.
    let load = SystemLoad::fixed(8, Some(1.5 * per_run / s.memory_headroom));
    let plan = s.plan(&work, &load);
    assert_eq!(plan.runs_in_flight, 1);
    assert_eq!(plan.threads, 8);
}

#[test]
fn dimension_and_known_fill_change_the_estimates() {
    let m = MemoryModel::default();
    let n = 50_000;
    let w2 = WorkEstimate::p1(n, 2);
    let w3 = WorkEstimate::p1(n, 3);
    let w1 = WorkEstimate::p1(n, 1);
    assert!(m.factor_entries(&w3) > m.factor_entries(&w2));
    assert!(m.factor_entries(&w2) > m.factor_entries(&w1));
    assert_eq!(m.factor_entries(&w1), 2.0 * n as f64);
    let known = w2.with_factor_fill(2.0);
    assert_eq!(m.factor_entries(&known), 2.0 * w2.nnz as f64);
    let s = AdaptiveScaler::default();
    assert_eq!(s.plan(&w1, &two_cores()).solver, Some(SolverChoice::Direct));
    assert_eq!(
        s.plan(&WorkEstimate::p1(10_000, 3), &two_cores()).solver,
        Some(SolverChoice::AmgCg)
    );
    assert_eq!(
        s.plan_for_dofs(400, 3, &two_cores()).solver,
        Some(SolverChoice::Direct)
    );
}

/// Factor values per unknown the direct solver reported (`scaling_crossover`, see the module
/// documentation): `(dim, unknowns, [measurements of the elements])`.
const MEASURED_FILL: [(usize, usize, &[f64]); 9] = [
    (2, 16_641, &[65.2, 54.7, 58.7, 57.6]),
    (2, 66_049, &[58.2, 62.3, 71.6, 73.9]),
    (3, 343, &[68.7, 85.7, 76.2, 85.4]),
    (3, 1_331, &[117.9, 135.6, 123.5, 119.5]),
    (3, 4_913, &[203.3, 266.0, 246.4, 258.8]),
    (3, 12_167, &[354.1, 431.5, 403.9, 428.4]),
    (3, 29_791, &[523.7, 650.9, 670.2]),
    (3, 59_319, &[797.1]),
    // Q2 hexahedra: 64 matrix entries per row, the same fill per unknown as P1's 15.
    (3, 12_167, &[428.4]),
];

#[test]
fn the_factor_model_matches_the_measured_fill_of_every_element() {
    let m = MemoryModel::default();
    for (dim, n, measured) in MEASURED_FILL {
        let per_unknown = m.factor_entries(&WorkEstimate::p1(n, dim)) / n as f64;
        // 2D: a fit through the middle; 3D: above the factor alone (it covers the workspace),
        // never by more than 60 %.
        let (lo, hi) = if dim == 2 { (0.8, 1.25) } else { (0.95, 1.6) };
        for &f in measured {
            let ratio = per_unknown / f;
            assert!(
                (lo..=hi).contains(&ratio),
                "{dim}D, {n} unknowns: model {per_unknown:.0} vs measured {f}"
            );
        }
    }
}

#[test]
fn a_3d_factor_that_does_not_fit_makes_way_for_amg_cg() {
    // 20,000 unknowns of Q2 hexahedra: ~119 MB for a direct solve, ~53 MB for AMG-CG.
    let work = WorkEstimate::single(20_000, 2_500, 20_000 * 64).with_dim(3);
    let mut s = AdaptiveScaler::with_limits(Some(80.0), 0);
    s.direct_max_dofs_3d = 100_000;
    let roomy = SystemLoad::fixed(2, Some(20_000.0));
    let (choice, why) = s.choose_solver(&work, &roomy);
    assert_eq!(choice, SolverChoice::AmgCg);
    assert!(
        why.contains("would not fit in 80 MB") && why.contains("3D"),
        "{why}"
    );
    let plan = s.plan(&work, &roomy);
    assert!(plan.estimated_memory_mb.unwrap() < 80.0, "{plan:?}");
    assert!(plan.check_memory().is_ok());
    // The configured direct solver is refused up front, naming its estimate.
    match s.check_memory(&work, SolverChoice::Direct) {
        Err(SolveError::MemoryBudget {
            needed_mb,
            limit_mb,
            ..
        }) => assert!(needed_mb > 100.0 && limit_mb == 80.0, "{needed_mb}"),
        other => panic!("expected a memory budget error, got {other:?}"),
    }
    // Without a limit, the available memory is the budget.
    s.memory_limit_mb = None;
    let tight = SystemLoad::fixed(2, Some(100.0));
    assert_eq!(s.choose_solver(&work, &tight).0, SolverChoice::AmgCg);
    let (choice, why) = s.choose_solver(&work, &roomy);
    assert_eq!(choice, SolverChoice::Direct);
    assert!(why.contains("20000 unknowns in 3D, factor fits"), "{why}");
}

#[test]
fn solver_reasons_name_the_dimension_and_the_threshold() {
    let s = AdaptiveScaler::default();
    let (choice, why) = s.choose_solver(&WorkEstimate::p1(10_000, 3), &two_cores());
    assert_eq!(choice, SolverChoice::AmgCg);
    assert_eq!(
        why,
        "amg-cg: 10000 unknowns in 3D, above the direct solver's 500"
    );
    let (_, why) = s.choose_solver(&WorkEstimate::p1(5_000, 0), &two_cores());
    assert!(
        why.contains("in 2D, above the direct solver's 1000"),
        "{why}"
    );
}

proptest! {
    #[test]
    fn plans_never_oversubscribe_and_are_deterministic(
        dofs in 0usize..5_000_000,
        queued in 0usize..100,
        cores in 1usize..64,
        mem in proptest::option::of(0.0f64..100_000.0),
        load in proptest::option::of(0.0f64..1.0),
        limit in proptest::option::of(1.0f64..10_000.0),
        dim in 0usize..4,
    ) {
        let s = AdaptiveScaler::with_limits(limit, 0);
        let mut system = SystemLoad::fixed(cores, mem);
        if let Some(l) = load {
            system = system.with_cpu_load(l);
        }
        let work = WorkEstimate::p1(dofs, dim).with_queued_runs(queued);
        let plan = s.plan(&work, &system);
        prop_assert!(plan.threads >= 1 && plan.runs_in_flight >= 1);
        prop_assert!(plan.cpu_threads() <= cores, "{:?}", plan);
        prop_assert!(plan.runs_in_flight <= queued.max(1));
        prop_assert!(!plan.parallel_assembly || plan.threads > 1);
        prop_assert_eq!(&plan, &s.plan(&work, &system));
    }
}
