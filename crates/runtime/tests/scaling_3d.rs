//! The planner on 3D problems: `auto` gives AMG-CG a problem whose factor would not fit the
//! configured memory limit, a configured direct solver is refused up front naming its estimate,
//! a small 3D direct solve runs, and the plan names the element and the dimension.

use femscale_core::{Error, SolveError};
use femscale_runtime::{Config, FemSolver};

/// A Poisson problem on the unit cube with `n` cells per side of `cell` and `order`, plus
/// `solver` settings.
fn cube(n: usize, cell: &str, order: usize, solver: &str) -> FemSolver {
    let text = format!(
        "[problem]\norder = {order}\n\
         mesh = {{ kind = \"box\", nx = {n}, ny = {n}, nz = {n}, cell = \"{cell}\" }}\n\
         source = \"3*pi^2*sin(pi*x)*sin(pi*y)*sin(pi*z)\"\n\
         exact = \"sin(pi*x)*sin(pi*y)*sin(pi*z)\"\n\
         boundary = [{{ where = \"all\", kind = \"dirichlet\", value = 0.0 }}]\n\
         [solver]\ntolerance = 1e-10\n{solver}\n\
         [scaling]\nenable_caching = false\n"
    );
    FemSolver::from_config(Config::from_toml_str(&text).unwrap()).unwrap()
}

#[test]
fn auto_gives_amg_cg_a_3d_problem_whose_factor_would_not_fit() {
    // 343 unknowns (P1, 6 cubes per side): below the 3D direct threshold of 500, so only the
    // memory decides. The model estimates ~0.32 MB for a direct solve and less for AMG-CG.
    let roomy = cube(6, "tetrahedron", 1, "").solve_configured().unwrap();
    assert_eq!(roomy.metrics.dofs, 343);
    assert!(
        roomy.metrics.solver.starts_with("direct"),
        "{}",
        roomy.metrics.solver
    );
    let tight = cube(6, "tetrahedron", 1, "memory_limit_mb = 0.3");
    let s = tight.solve_configured().unwrap();
    assert_eq!(
        (s.metrics.solver.as_str(), s.metrics.preconditioner.as_str()),
        ("cg", "amg")
    );
    let plan = &s.metrics.plan_rationale;
    assert!(
        plan.contains("343 unknowns in 3D (~0.32 MB) would not fit in 0.30 MB (P1 tetrahedra)"),
        "{plan}"
    );
    let (a, b) = (roomy.metrics.l2_error.unwrap(), s.metrics.l2_error.unwrap());
    assert!((a - b).abs() < 1e-6 * a, "{a} vs {b}");
}

#[test]
fn a_configured_direct_solver_is_refused_a_3d_problem_too_big_for_its_budget() {
    // 21³ = 9,261 P1 unknowns: the model puts the direct solve at ~34 MB.
    let s = cube(
        20,
        "tetrahedron",
        1,
        "kind = \"direct\"\nmemory_limit_mb = 20",
    );
    match s.solve_configured() {
        Err(Error::Solve(SolveError::MemoryBudget {
            what,
            needed_mb,
            limit_mb,
        })) => {
            assert!(
                what.contains("direct solve of 9261 unknowns in 3D (estimated before meshing"),
                "{what}"
            );
            assert!(
                (30.0..40.0).contains(&needed_mb) && limit_mb == 20.0,
                "{needed_mb}"
            );
        }
        other => panic!("expected a memory budget error, got {other:?}"),
    }
    // `auto` solves it with AMG-CG within the same budget.
    let auto = cube(20, "tetrahedron", 1, "memory_limit_mb = 20");
    let s = auto.solve_configured().unwrap();
    assert_eq!(s.metrics.solver, "cg");
    assert!(
        (s.metrics.plan_rationale).contains("9261 unknowns in 3D, above the direct solver's 500"),
        "{}",
        s.metrics.plan_rationale
    );
}

#[test]
fn a_small_3d_direct_solve_runs_within_its_budget() {
    for (cell, order, element) in [
        ("hexahedron", 1, "Q1 hexahedra"),
        ("tetrahedron", 2, "P2 tetrahedra"),
    ] {
        let s = cube(4, cell, order, "kind = \"direct\"\nmemory_limit_mb = 20");
        let s = s.solve_configured().unwrap();
        assert!(
            s.metrics.solver.starts_with("direct"),
            "{}",
            s.metrics.solver
        );
        assert!(s.metrics.l2_error.unwrap() < 0.05, "{element}");
        let plan = &s.metrics.plan_rationale;
        assert!(
            plan.contains(&format!("direct as configured ({element})")),
            "{plan}"
        );
    }
}
