//! The documented low-level path — pattern, `Assembler::assemble_into` (volume, Neumann and
//! Robin terms), `DirichletConditions::apply`, a prepared solver — gives the pipeline's
//! solution on a problem with all three kinds of boundary condition (`mixed_bc_2d.toml`).
//! Issue 16: docs that presented a separate "add the boundary terms" step after
//! `assemble_into` doubled the Neumann and Robin terms without any error.

use std::sync::Arc;

use femscale::assembly::{DirichletConditions, ParallelAssembler, SerialAssembler};
use femscale::core::{
    Assembler, EllipticForm, LinearSolver, LinearSystem, NoMonitor, SolverOptions,
};
use femscale::mesh::Mesh;
use femscale::runtime::{Config, ConfigSources, FemSolver, Problem};
use femscale::solvers::{DirectMethod, DirectSolver};

/// The problem of `examples/configs/mixed_bc_2d.toml` (Dirichlet left and top, Neumann right,
/// Robin bottom, variable diffusion, Q1) on a 16 x 12 mesh.
fn mixed_bc_config() -> Config {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/configs/mixed_bc_2d.toml"
    );
    Config::load(&ConfigSources {
        file: Some(file.into()),
        overrides: vec![
            "problem.mesh.nx=16".into(),
            "problem.mesh.ny=12".into(),
            "solver.kind=direct".into(),
        ],
    })
    .unwrap()
}

/// The documented path: pattern, `assemble_into`, Dirichlet elimination, direct solve.
fn solve_by_hand(assembler: &dyn Assembler, mesh: &Mesh, form: &EllipticForm) -> Vec<f64> {
    let pattern = Arc::new(assembler.pattern(&mesh.view()).unwrap());
    let mut system = LinearSystem::zeros(pattern);
    assembler
        .assemble_into(&mesh.view(), form, &mut system)
        .unwrap();
    DirichletConditions::from_form(&mesh.view(), form)
        .unwrap()
        .apply(&mut system)
        .unwrap();
    let mut prepared = DirectSolver::new(DirectMethod::Auto)
        .prepare(Arc::new(system.matrix), &SolverOptions::default())
        .unwrap();
    let mut x = vec![0.0; system.rhs.len()];
    prepared.solve(&system.rhs, &mut x, &mut NoMonitor).unwrap();
    x
}

fn max_deviation(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn assemble_into_then_dirichlet_gives_the_pipelines_solution() {
    let config = mixed_bc_config();
    let problem: Problem = config.problem.clone();
    let kinds: Vec<&str> = problem.boundary.iter().map(|b| b.kind.name()).collect();
    assert_eq!(kinds, ["dirichlet", "dirichlet", "neumann", "robin"]);

    let pipeline = FemSolver::from_config(config)
        .unwrap()
        .solve(&problem)
        .unwrap();
    let scale = pipeline.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 1.0, "{scale}");

    let mesh = problem.mesh.build().unwrap();
    let form = problem.form().unwrap();
    let assemblers: [&dyn Assembler; 2] =
        [&SerialAssembler::default(), &ParallelAssembler::default()];
    for assembler in assemblers {
        let by_hand = solve_by_hand(assembler, &mesh, &form);
        let dev = max_deviation(&by_hand, &pipeline.values);
        assert!(
            dev <= 1e-12 * scale,
            "{}: the documented path deviates from the pipeline by {dev:e}",
            assembler.name()
        );
    }

    // The trap the documentation used to set: the Neumann and Robin terms a second time
    // (here: the natural conditions listed twice) give a visibly wrong solution, so the
    // comparison above would catch a path that adds them again.
    let mut doubled = form.clone();
    doubled.boundary.extend(
        (form.boundary.iter())
            .filter(|bc| !bc.kind.is_essential())
            .cloned(),
    );
    let wrong = solve_by_hand(&SerialAssembler::default(), &mesh, &doubled);
    assert!(max_deviation(&wrong, &pipeline.values) > 1e-2);
}
