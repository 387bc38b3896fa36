//! Bad input yields typed errors naming the field; nothing panics.
//!
//! The convenience APIs (`solve_1d_laplace`, `solve_2d_laplace`) name their struct fields
//! (`num_elements`, `left_bc`); the general API and config files name config keys
//! (`problem.mesh.nx`).

use femscale::core::SolveError;
use femscale::prelude::*;
use femscale::runtime::ConfigSources;

fn field_of(r: Result<Solution, Error>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e
            .field()
            .unwrap_or_else(|| panic!("error names no field: {e}"))
            .to_string(),
    }
}

#[test]
fn zero_element_counts_are_rejected_naming_the_field() {
    let s = FemSolver::new();
    let p = Laplace1d {
        num_elements: 0,
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_1d_laplace(&p)), "num_elements");
    let p = Laplace2d {
        ny: 0,
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_2d_laplace(&p)), "ny");
    let mut p = Laplace2d::default().to_problem();
    p.mesh = MeshSpec::Rectangle(RectangleSpec {
        nx: 0,
        ..Default::default()
    });
    assert_eq!(field_of(s.solve(&p)), "problem.mesh.nx");
}

#[test]
fn negative_element_counts_in_config_are_rejected_naming_the_key() {
    let e =
        Config::from_toml_str("[problem]\nmesh = { kind = \"rectangle\", nx = -4 }").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("problem.mesh.nx"), "{text}");
}

#[test]
fn empty_reversed_or_overflowing_ranges_are_rejected() {
    let s = FemSolver::new();
    let p = Laplace1d {
        x_range: [1.0, 1.0],
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_1d_laplace(&p)), "x_range");
    let p = Laplace2d {
        y_range: [1.0, 0.0],
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_2d_laplace(&p)), "y_range");
    let p = Laplace2d {
        x_range: [-1e308, 1e308],
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_2d_laplace(&p)), "x_range");
}

#[test]
fn non_finite_coefficients_and_boundary_values_are_rejected() {
    let s = FemSolver::new();
    let nan = Laplace1d {
        diffusion: f64::NAN.into(),
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_1d_laplace(&nan)), "diffusion");
    let inf = Laplace2d {
        source: Some(f64::INFINITY.into()),
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_2d_laplace(&inf)), "source");
    // Finite text, non-finite or non-positive values inside the domain.
    let log = Laplace2d {
        diffusion: Source::expr("log(x - 0.5)"),
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_2d_laplace(&log)), "diffusion");
    let neg = Laplace2d {
        diffusion: Source::expr("x - 0.5"),
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_2d_laplace(&neg)), "diffusion");
    let nan_bc = Laplace1d {
        left_bc: f64::NAN,
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_1d_laplace(&nan_bc)), "left_bc");
    let inf_bc = Laplace2d {
        top_bc: f64::INFINITY,
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_2d_laplace(&inf_bc)), "top_bc");
    let mut p = Laplace2d::default().to_problem();
    p.diffusion = f64::NAN.into();
    assert_eq!(field_of(s.solve(&p)), "problem.diffusion");
}

#[test]
fn unparsable_expressions_point_at_field_and_column() {
    let p = Laplace2d {
        source: Some(Source::expr("2*sin(pi*x")),
        ..Default::default()
    };
    match FemSolver::new().solve_2d_laplace(&p) {
        Err(Error::Expression { field, column, .. }) => {
            assert_eq!(field, "source");
            assert!(column >= 6, "column {column}");
        }
        other => panic!("expected an expression error, got {other:?}"),
    }
    let p = Laplace1d {
        exact: Some(Source::expr("q + 1")),
        ..Default::default()
    };
    assert_eq!(field_of(FemSolver::new().solve_1d_laplace(&p)), "exact");
    let mut p = Laplace2d::default().to_problem();
    p.source = Some(Source::expr("sin(x"));
    assert_eq!(field_of(FemSolver::new().solve(&p)), "problem.source");
}

#[test]
fn unknown_solver_names_in_the_convenience_api_name_the_field() {
    let p = Laplace1d {
        linear_solver: Some("gauss-seidel".into()),
        ..Default::default()
    };
    assert_eq!(
        field_of(FemSolver::new().solve_1d_laplace(&p)),
        "linear_solver"
    );
}

#[test]
fn unknown_boundary_names_list_the_known_ones() {
    let mut p = Laplace2d::default().to_problem();
    p.boundary.push(BoundarySpec::neumann("north", 1.0));
    match FemSolver::new().solve(&p) {
        Err(Error::UnknownName {
            field, name, known, ..
        }) => {
            assert_eq!(field, "problem.boundary[4].where");
            assert_eq!(name, "north");
            assert_eq!(known, ["left", "right", "bottom", "top", "all"]);
        }
        other => panic!("expected UnknownName, got {other:?}"),
    }
}

#[test]
fn unknown_config_keys_are_named_with_a_suggestion() {
    let e = Config::from_toml_str("[solver]\ntolerence = 1e-6\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("solver.tolerence"), "{e}");
    assert!(e.contains("did you mean `tolerance`"), "{e}");
}

#[test]
fn config_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = "[problem]\ndim = 2\nmesh = { kind = \"rectangle\", nx = \"many\" }\n";
    std::fs::write(&path, text).unwrap();
    let sources = ConfigSources {
        file: Some(path.clone()),
        overrides: vec![],
    };
    let e = Config::load(&sources).unwrap_err().to_string();
    assert!(e.contains("bad.toml:3"), "{e}");
    assert!(e.contains("problem.mesh.nx"), "{e}");
}

#[test]
fn missing_config_files_are_errors() {
    let file = Some("/nonexistent/femscale.toml".into());
    let e = Config::load(&ConfigSources {
        file,
        overrides: vec![],
    })
    .unwrap_err();
    // An I/O error with the path and the kind, not a configuration message.
    assert!(
        matches!(&e, Error::Io { path, source }
            if path.ends_with("femscale.toml") && source.kind() == std::io::ErrorKind::NotFound),
        "{e:?}"
    );
    assert!(e.to_string().contains("/nonexistent/femscale.toml"), "{e}");
}

#[test]
fn malformed_overrides_and_unknown_components_are_errors() {
    let load = |o: &str| {
        Config::load(&ConfigSources {
            file: None,
            overrides: vec![o.into()],
        })
    };
    assert!(load("problem.mesh.nx").is_err());
    assert!(load("=3").is_err());
    let e = load("problem.mesh.nx=abc").unwrap_err().to_string();
    assert!(e.contains("--set problem.mesh.nx=abc"), "{e}");
    match FemSolver::from_config(load("solver.kind=multigrid").unwrap()) {
        Err(Error::UnknownName { field, known, .. }) => {
            assert_eq!(field, "solver.kind");
            assert!(known.contains(&"cg".to_string()));
        }
        other => panic!("expected UnknownName, got {other:?}"),
    }
    let e = FemSolver::from_config(load("solver.tolerance=-1.0").unwrap()).unwrap_err();
    assert_eq!(e.field_name().as_deref(), Some("solver.tolerance"));
    // Out of every cell kind's quadrature range: refused when the configuration is loaded.
    let e = load("assembly.quadrature_degree=9")
        .unwrap_err()
        .to_string();
    assert!(e.contains("assembly.quadrature_degree"), "{e}");
    let mut c = Config::default();
    c.assembly.quadrature_degree = 9;
    let e = FemSolver::from_config(c).unwrap_err();
    assert_eq!(
        e.field_name().as_deref(),
        Some("assembly.quadrature_degree")
    );
}

#[test]
fn robin_without_alpha_and_dimension_mismatch_are_errors() {
    let solve = |toml: &str| {
        let c = Config::from_toml_str(toml).unwrap();
        FemSolver::from_config(c)
            .unwrap()
            .solve_configured()
            .unwrap_err()
    };
    // A Robin condition cannot be read without its `alpha`.
    let toml = "[problem]\nboundary = [{ where = \"left\", kind = \"robin\", value = 1.0 }]";
    let e = Config::from_toml_str(toml).unwrap_err().to_string();
    assert!(
        e.contains("problem.boundary[0]") && e.contains("`alpha` is required"),
        "{e}"
    );
    assert_eq!(
        solve("[problem]\ndim = 1\n").field_name().as_deref(),
        Some("problem.dim")
    );
}

#[test]
fn non_convergence_is_a_typed_error_with_the_report() {
    let mut config = Config::default();
    config.solver.kind = "cg".into();
    config.solver.preconditioner = "jacobi".into();
    config.solver.max_iterations = 3;
    let p = Laplace2d {
        source: Some(1.0.into()),
        ..Default::default()
    };
    match FemSolver::from_config(config)
        .unwrap()
        .solve_2d_laplace(&p)
        .unwrap_err()
    {
        Error::Solve(SolveError::NotConverged { report }) => {
            assert_eq!(report.iterations, 3);
            assert_eq!(report.residual_history.len(), 3);
        }
        other => panic!("expected NotConverged, got {other:?}"),
    }
}

#[test]
fn meshes_too_large_for_memory_are_refused_before_allocating() {
    let huge = Laplace2d {
        nx: 1_000_000,
        ny: 1_000_000,
        ..Default::default()
    };
    match FemSolver::new().solve_2d_laplace(&huge) {
        Err(Error::InvalidInput { field, reason }) => {
            assert_eq!(field, "nx");
            assert!(reason.contains("MiB"), "{reason}");
        }
        other => panic!("expected a memory error, got {other:?}"),
    }
}
