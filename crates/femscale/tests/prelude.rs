//! What an embedding program writes, with `use femscale::prelude::*` and nothing else from
//! femscale: its own mesh, a form with each kind of boundary condition, both assemblers,
//! every solver of `femscale-solvers` with options built through the `with_*` methods (the
//! option types are `#[non_exhaustive]`, so struct-update syntax is not available here, as in
//! any crate outside femscale), `NoMonitor`, closures through `FieldSpec::func`, and typed
//! errors through `Result`. Issue 16: these names used to end in E0425/E0433, the options in
//! E0639.

use std::sync::Arc;

use femscale::prelude::*;

/// The unit square as two triangles per cell of an `n` x `n` grid, built by hand, with the
/// boundary parts `west` (x = 0) and `rest` (the other three sides).
fn own_mesh(n: usize) -> Result<Mesh> {
    let h = 1.0 / n as f64;
    let node = |i: usize, j: usize| j * (n + 1) + i;
    let mut coords = Vec::new();
    for j in 0..=n {
        for i in 0..=n {
            coords.extend([i as f64 * h, j as f64 * h]);
        }
    }
    let mut cells = Vec::new();
    for j in 0..n {
        for i in 0..n {
            let (a, b, c, d) = (
                node(i, j),
                node(i + 1, j),
                node(i + 1, j + 1),
                node(i, j + 1),
            );
            cells.extend([a, b, c, a, c, d]);
        }
    }
    let mut west = Vec::new();
    let mut rest = Vec::new();
    for k in 0..n {
        west.extend([node(0, k + 1), node(0, k)]);
        rest.extend([node(k, 0), node(k + 1, 0)]);
        rest.extend([node(n, k), node(n, k + 1)]);
        rest.extend([node(k + 1, n), node(k, n)]);
    }
    let part = BoundaryPart::from_facets;
    Mesh::try_new(
        2,
        coords,
        CellKind::Triangle,
        cells,
        vec![part("west", west), part("rest", rest)],
    )
}

/// `-div(k grad u) = f` with `u = 0` on `west`, a flux on part of the rest and a Robin
/// condition on it too, coefficients given as closures.
fn form() -> Result<EllipticForm> {
    let params = Default::default();
    let closure =
        |label: &str, f: fn([f64; 3]) -> f64| FieldSpec::func(label, f).build(label, &params);
    let flux: SharedField = Arc::new(Constant(0.5));
    Ok(EllipticForm {
        diffusion: closure("k", |p| 1.0 + p[0] * p[1])?,
        reaction: None,
        source: Some(closure("f", |p| (3.0 * p[0]).sin() + 1.0)?),
        boundary: vec![
            BoundaryCondition::dirichlet("west", Arc::new(Constant(0.0)) as SharedField),
            BoundaryCondition {
                part: "rest".into(),
                kind: BoundaryKind::Neumann { flux },
            },
            BoundaryCondition::robin(
                "rest",
                Arc::new(Constant(1.0)) as SharedField,
                closure("g", |p| p[1])?,
            ),
        ],
    })
}

/// The eliminated system of [`form`] on [`own_mesh`] with `assembler`.
fn system(assembler: &dyn Assembler, mesh: &Mesh) -> Result<LinearSystem> {
    let form = form()?;
    let mut system = LinearSystem::zeros(Arc::new(assembler.pattern(&mesh.view())?));
    assembler.assemble_into(&mesh.view(), &form, &mut system)?;
    DirichletConditions::from_form(&mesh.view(), &form)?.apply(&mut system)?;
    Ok(system)
}

fn solve(
    solver: &dyn LinearSolver,
    system: &LinearSystem,
    options: &SolverOptions,
) -> Result<Vec<f64>> {
    let mut prepared = solver.prepare(Arc::new(system.matrix.clone()), options)?;
    let mut x = vec![0.0; system.rhs.len()];
    let report: SolveReport = prepared.solve(&system.rhs, &mut x, &mut NoMonitor)?;
    assert!(report.converged, "{report:?}");
    Ok(x)
}

#[test]
fn an_embedding_program_needs_only_the_prelude() -> Result<()> {
    let mesh = own_mesh(12)?;
    assert_eq!(mesh.cell_kind(), CellKind::Triangle);
    let serial = system(&SerialAssembler::default(), &mesh)?;
    let parallel = system(&ParallelAssembler::default(), &mesh)?;
    assert_eq!(serial.matrix.pattern(), parallel.matrix.pattern());

    let options = SolverOptions::default()
        .with_tolerance(1e-11)
        .with_max_iterations(2_000)
        .with_timeout_seconds(60.0)
        .with_memory_limit_mb(None)
        .with_threads(1);
    let reference = solve(
        &DirectSolver::new(
            DirectOptions::default()
                .with_method(DirectMethod::Lu)
                .method,
        ),
        &serial,
        &SolverOptions::default(),
    )?;
    let amg = AmgOptions::default()
        .with_smoother(AmgSmoother::SymmetricGaussSeidel)
        .with_sweeps(2)
        .with_strength_threshold(0.1)
        .with_jacobi_weight(0.6)
        .with_chebyshev_degree(3)
        .with_prolongation_weight(1.2)
        .with_coarse_size(20)
        .with_max_levels(4);
    let ssor = SsorOptions::default().with_omega(1.2);
    let gmres = GmresOptions::default().with_restart(40);
    let solvers: Vec<(&str, Box<dyn LinearSolver>)> = vec![
        ("direct", Box::new(DirectSolver::new(DirectMethod::Auto))),
        (
            "cg + jacobi",
            Box::new(ConjugateGradient::new(Arc::new(JacobiFactory))),
        ),
        (
            "cg + none",
            Box::new(ConjugateGradient::new(Arc::new(IdentityFactory))),
        ),
        (
            "cg + ssor",
            Box::new(ConjugateGradient::new(Arc::new(SsorFactory::new(
                ssor.omega,
            )))),
        ),
        (
            "cg + ic0",
            Box::new(ConjugateGradient::new(Arc::new(Ic0Factory))),
        ),
        (
            "cg + amg",
            Box::new(ConjugateGradient::new(Arc::new(AmgFactory::new(
                amg.clone(),
            )))),
        ),
        (
            "gmres + ilu0",
            Box::new(Gmres::new(Arc::new(Ilu0Factory), gmres.clone())),
        ),
        (
            "bicgstab + ilu0",
            Box::new(BiCgStab::new(Arc::new(Ilu0Factory))),
        ),
        ("amg", Box::new(AmgSolver::new(amg.clone()))),
    ];
    for (name, solver) in &solvers {
        for system in [&serial, &parallel] {
            let x = solve(solver.as_ref(), system, &options)?;
            let dev = x
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(dev < 1e-8, "{name}: {dev:e}");
        }
    }

    // The per-method options as the runtime's registry takes them, with the same convention.
    let methods = MethodOptions::default()
        .with_amg(amg)
        .with_gmres(gmres)
        .with_ssor(ssor)
        .with_direct(DirectOptions::default());
    assert_eq!(methods.amg.max_levels, 4);
    assert_eq!(methods.gmres.restart, 40);
    Ok(())
}

#[test]
fn invalid_options_set_through_the_builders_are_typed_errors() {
    let mesh = own_mesh(4).unwrap();
    let system = system(&SerialAssembler::default(), &mesh).unwrap();
    let options = SolverOptions::default().with_max_iterations(0);
    let e = solve(&ConjugateGradient::default(), &system, &options).unwrap_err();
    assert!(
        matches!(&e, Error::Solve(SolveError::InvalidOption { option, .. }) if option == "max_iterations"),
        "{e:?}"
    );
    // Too few iterations: the solve fails, with the report, instead of returning a flag.
    let options = SolverOptions::default()
        .with_max_iterations(2)
        .with_tolerance(1e-12);
    let e = solve(&ConjugateGradient::default(), &system, &options).unwrap_err();
    assert!(matches!(e, Error::Solve(_)), "{e:?}");
}

#[test]
fn closures_go_through_field_spec_in_the_high_level_path_too() -> Result<()> {
    let exact = |p: [f64; 3]| p[0] * (1.0 - p[0]) / 2.0;
    let shared: SharedField = Arc::new(Constant(1.0));
    let mut problem = Problem::new(MeshSpec::Interval {
        x: [0.0, 1.0],
        n: 16,
    });
    problem.source = Some(shared.into()); // `From<SharedField>`, like `FieldSpec::field`
    problem.diffusion = FieldSpec::func("one", |_| 1.0);
    problem.exact = Some(FieldSpec::func("x (1 - x) / 2", exact));
    problem.boundary = vec![BoundarySpec::dirichlet("all", 0.0)];
    let solution: Solution = FemSolver::new().solve(&problem)?;
    assert!(solution.metrics.l2_error.unwrap() < 1e-3);
    let metrics: &Metrics = &solution.metrics;
    assert!(metrics.dofs == 17);
    Ok(())
}
