//! `FemSolver::assemble`: the pipeline's operator for programs that solve it themselves.

use std::sync::Arc;

use femscale_core::{Error, LinearSolver, NoMonitor};
use femscale_runtime::{Config, FemSolver, FieldSpec, Laplace2d, MeshSpec, Problem};
use femscale_solvers::DirectSolver;

fn problem(nx: usize) -> Problem {
    Laplace2d {
        nx,
        ny: 13,
        diffusion: FieldSpec::Expr("1 + x*y".into()),
        source: Some(FieldSpec::Expr("sin(3*x) + y".into())),
        left_bc: 0.5,
        top_bc: -2.0,
        ..Default::default()
    }
    .to_problem()
}

fn fem(caching: bool) -> FemSolver {
    let mut c = Config::default();
    c.solver.kind = "direct".into();
    c.scaling.enable_caching = Some(caching);
    FemSolver::from_config(c).unwrap()
}

#[test]
fn solving_the_assembled_operator_gives_the_pipelines_solution_bit_for_bit() {
    for caching in [false, true] {
        let fem = fem(caching);
        let p = problem(17);
        let op = fem.assemble(&p).unwrap();
        assert_eq!(op.matrix.nrows(), op.mesh.num_nodes());
        assert_eq!(op.rhs.len(), op.mesh.num_nodes());
        assert_eq!(op.lift.fixed_nodes(), op.dirichlet.nodes());
        assert!(op.phases.assembly > 0.0);

        let options = fem.config().solver.options(1);
        let mut prepared = DirectSolver::default()
            .prepare(Arc::clone(&op.matrix), &options)
            .unwrap();
        let mut u = vec![0.0; op.rhs.len()];
        prepared.solve(&op.rhs, &mut u, &mut NoMonitor).unwrap();
        // With caching, the second assembly reuses the stored operator: the same values.
        let again = fem.assemble(&p).unwrap();
        assert_eq!((&*again.matrix, &again.rhs), (&*op.matrix, &op.rhs));

        let solution = fem.solve(&p).unwrap();
        assert_eq!(solution.values, u, "caching = {caching}");
        for &i in op.dirichlet.nodes() {
            assert_eq!(u[i], solution.values[i]);
        }
    }
}

#[test]
fn the_lift_takes_new_boundary_values_on_the_same_nodes() {
    let fem = fem(false);
    let p = problem(9);
    let op = fem.assemble(&p).unwrap();
    let mut other = problem(9);
    other.boundary[0].kind = femscale_core::BoundaryKindOf::Dirichlet {
        value: FieldSpec::Constant(4.0),
    };
    let expected = fem.assemble(&other).unwrap();
    // The new load vector: the source is unchanged, so re-lift the assembled one.
    let form = other.form().unwrap();
    let conditions =
        femscale_assembly::DirichletConditions::from_form(&op.mesh.view(), &form).unwrap();
    let assembler = femscale_assembly::SerialAssembler::default();
    let mut rhs = vec![0.0; op.rhs.len()];
    use femscale_core::Assembler;
    (assembler.assemble_rhs(&op.mesh.view(), &form, op.matrix.pattern(), &mut rhs)).unwrap();
    op.lift.apply_rhs(&conditions, &mut rhs).unwrap();
    assert_eq!(rhs, expected.rhs);
    assert_eq!(*op.matrix, *expected.matrix);
}

#[test]
fn errors_name_the_problem_fields() {
    let fem = fem(false);
    let field = |p: &Problem| match fem.assemble(p).unwrap_err() {
        Error::InvalidInput { field, .. } | Error::UnknownName { field, .. } => field.to_string(),
        other => panic!("{other}"),
    };
    let mut p = problem(5);
    if let MeshSpec::Rectangle(r) = &mut p.mesh {
        r.nx = 0;
    }
    assert_eq!(field(&p), "problem.mesh.nx");
    let mut p = problem(5);
    p.boundary[1].part = "nowhere".into();
    assert_eq!(field(&p), "problem.boundary[1].where");
}
