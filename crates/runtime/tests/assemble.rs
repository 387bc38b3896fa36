//! `FemSolver::assemble`: the pipeline's operator for programs that solve it themselves.

use std::sync::Arc;

use femscale_core::{BoundaryKindOf, Error, LinearSolver, NoMonitor};
use femscale_runtime::{BoundarySpec, Config, FemSolver, FieldSpec, Laplace2d, MeshSpec, Problem};
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
fn assemble_rhs_lifts_new_sources_and_boundary_data_onto_the_same_matrix() {
    let fem = fem(false);
    let p = problem(9);
    let op = fem.assemble(&p).unwrap();
    let bump = FieldSpec::func("bump", |x: [f64; 3]| (-(x[0] - 0.3).powi(2)).exp());
    let mut variants = Vec::new();
    let mut other = problem(9);
    other.boundary[0].kind = BoundaryKindOf::Dirichlet {
        value: FieldSpec::Constant(4.0),
    };
    variants.push(other.clone());
    other.source = Some(bump.clone());
    variants.push(other.clone());
    // A Neumann flux and a Robin g are data; the Robin alpha is the operator's and stays.
    let mut natural = p.clone();
    natural.boundary[1] = BoundarySpec::neumann("right", "x*y");
    natural.boundary[3] = BoundarySpec::robin("top", 2.0, "y");
    let op_natural = fem.assemble(&natural).unwrap();
    let mut natural2 = natural.clone();
    natural2.boundary[1] = BoundarySpec::neumann("right", bump.clone());
    natural2.boundary[3] = BoundarySpec::robin("top", 2.0, 7.0);
    for (op, q) in [
        (&op, &variants[0]),
        (&op, &variants[1]),
        (&op_natural, &natural2),
    ] {
        let expected = fem.assemble(q).unwrap();
        assert_eq!(*op.matrix, *expected.matrix);
        let rhs = fem.assemble_rhs(op, q).unwrap();
        assert_eq!(rhs, expected.rhs);
        // Solved with the operator's factorization: the pipeline's solution, bit for bit.
        let options = fem.config().solver.options(1);
        let mut prepared = DirectSolver::default()
            .prepare(Arc::clone(&op.matrix), &options)
            .unwrap();
        let mut u = vec![0.0; rhs.len()];
        prepared.solve(&rhs, &mut u, &mut NoMonitor).unwrap();
        assert_eq!(u, fem.solve(q).unwrap().values);
    }
}

#[test]
fn assemble_rhs_refuses_a_problem_with_another_matrix_naming_the_field() {
    let fem = fem(false);
    let mut p = problem(6);
    p.boundary[1] = BoundarySpec::robin("right", "a", 0.0);
    p.params.insert("a".into(), 1.0);
    let op = fem.assemble(&p).unwrap();
    let refused = |change: &dyn Fn(&mut Problem)| {
        let mut q = p.clone();
        change(&mut q);
        match fem.assemble_rhs(&op, &q).unwrap_err() {
            Error::InvalidInput { field, .. } => field.to_string(),
            other => panic!("{other}"),
        }
    };
    assert_eq!(refused(&|q| q.mesh = problem(7).mesh), "problem.mesh");
    assert_eq!(refused(&|q| q.diffusion = 1.0.into()), "problem.diffusion");
    assert_eq!(
        refused(&|q| q.reaction = Some(1.0.into())),
        "problem.reaction"
    );
    assert_eq!(refused(&|q| q.boundary.truncate(2)), "problem.boundary");
    let where_ = |q: &mut Problem| q.boundary[2].part = "top".into();
    assert_eq!(refused(&where_), "problem.boundary[2].where");
    let kind = |q: &mut Problem| q.boundary[1] = BoundarySpec::neumann("right", 0.0);
    assert_eq!(refused(&kind), "problem.boundary[1].kind");
    let alpha = |q: &mut Problem| q.boundary[1] = BoundarySpec::robin("right", 2.0, 0.0);
    assert_eq!(refused(&alpha), "problem.boundary[1].alpha");
    // `a` is read by the Robin alpha's expression: it may change the matrix.
    let changed = |q: &mut Problem| {
        q.params.insert("a".into(), 2.0);
    };
    assert_eq!(refused(&changed), "problem.params.a");
    let added = |q: &mut Problem| {
        q.params.insert("b".into(), 2.0);
    };
    assert_eq!(refused(&added), "problem.params.b");
    // A closure is the same field when it is the same Arc.
    let k = FieldSpec::func("k", |x: [f64; 3]| 1.0 + x[0]);
    let mut with_k = problem(6);
    with_k.diffusion = k.clone();
    let op = fem.assemble(&with_k).unwrap();
    let mut same = with_k.clone();
    same.source = Some(2.0.into());
    assert!(fem.assemble_rhs(&op, &same).is_ok());
    same.diffusion = FieldSpec::func("k", |x: [f64; 3]| 1.0 + x[0]);
    let err = fem.assemble_rhs(&op, &same).unwrap_err();
    assert_eq!(err.field_name().as_deref(), Some("problem.diffusion"));
}

#[test]
fn parameters_only_the_data_reads_may_change_when_the_operator_has_no_expression() {
    let fem = fem(false);
    let mut p = problem(6);
    p.diffusion = 1.5.into();
    p.source = Some(FieldSpec::Expr("s * x".into()));
    p.params.insert("s".into(), 1.0);
    let op = fem.assemble(&p).unwrap();
    let mut q = p.clone();
    q.params.insert("s".into(), 3.0);
    assert_eq!(
        fem.assemble_rhs(&op, &q).unwrap(),
        fem.assemble(&q).unwrap().rhs
    );
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

#[test]
fn prepare_gives_the_solver_a_solve_uses() {
    for (kind, preconditioner) in [("direct", "none"), ("cg", "amg"), ("auto", "auto")] {
        let mut c = Config::default();
        c.solver.kind = kind.into();
        c.solver.preconditioner = preconditioner.into();
        c.solver.tolerance = 1e-10;
        let fem = FemSolver::from_config(c).unwrap();
        let p = problem(19);
        let op = fem.assemble(&p).unwrap();
        let mut solver = fem.prepare(&op).unwrap();
        // A solve's initial guess: zero with the boundary values.
        let mut u = vec![0.0; op.rhs.len()];
        op.dirichlet.impose_on(&mut u);
        let report = solver.solve(&op.rhs, &mut u, &mut NoMonitor).unwrap();
        let solution = fem.solve(&p).unwrap();
        assert_eq!(report.solver, solution.metrics.solver, "{kind}");
        assert_eq!(u, solution.values, "{kind}");
    }
}

#[test]
fn assemble_rhs_refuses_another_quadrature_or_replaced_parts() {
    let fem = fem(false);
    let p = problem(6);
    let mut op = fem.assemble(&p).unwrap();
    let mut c = fem.config().clone();
    c.assembly.quadrature_degree = 4;
    let other = FemSolver::from_config(c).unwrap();
    let e = other.assemble_rhs(&op, &p).unwrap_err();
    assert_eq!(
        e.field_name().as_deref(),
        Some("assembly.quadrature_degree")
    );
    assert!(fem.assemble_rhs(&op, &p).is_ok());
    // A scaled copy of the matrix in the public field: the lift no longer fits it.
    op.matrix = Arc::new((*op.matrix).clone());
    let e = fem.assemble_rhs(&op, &p).unwrap_err();
    assert_eq!(e.field_name().as_deref(), Some("operator.matrix"));
}
