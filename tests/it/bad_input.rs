//! Bad input yields typed errors naming the field; nothing panics.

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
    assert_eq!(
        field_of(s.solve_1d_laplace(&Laplace1d {
            num_elements: 0,
            ..Default::default()
        })),
        "problem.mesh.nx"
    );
    assert_eq!(
        field_of(s.solve_2d_laplace(&Laplace2d {
            ny: 0,
            ..Default::default()
        })),
        "problem.mesh.ny"
    );
}

#[test]
fn negative_element_counts_in_config_are_rejected_naming_the_key() {
    let e =
        Config::from_toml_str("[problem]\nmesh = { kind = \"rectangle\", nx = -4 }").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("problem.mesh.nx"), "{text}");
}

#[test]
fn empty_or_reversed_ranges_are_rejected() {
    let s = FemSolver::new();
    assert_eq!(
        field_of(s.solve_1d_laplace(&Laplace1d {
            x_range: [1.0, 1.0],
            ..Default::default()
        })),
        "problem.mesh.x"
    );
    assert_eq!(
        field_of(s.solve_2d_laplace(&Laplace2d {
            y_range: [1.0, 0.0],
            ..Default::default()
        })),
        "problem.mesh.y"
    );
}

#[test]
fn non_finite_coefficients_are_rejected() {
    let s = FemSolver::new();
    let nan = Laplace1d {
        diffusion: f64::NAN.into(),
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_1d_laplace(&nan)), "problem.diffusion");
    let inf = Laplace2d {
        source: Some(f64::INFINITY.into()),
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_2d_laplace(&inf)), "problem.source");
    // Finite text, non-finite values inside the domain.
    let log = Laplace2d {
        diffusion: Source::expr("log(x - 0.5)"),
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_2d_laplace(&log)), "problem.diffusion");
    let neg = Laplace2d {
        diffusion: Source::expr("x - 0.5"),
        ..Default::default()
    };
    assert_eq!(field_of(s.solve_2d_laplace(&neg)), "problem.diffusion");
}

#[test]
fn unparsable_expressions_point_at_field_and_column() {
    let p = Laplace2d {
        source: Some(Source::expr("2*sin(pi*x")),
        ..Default::default()
    };
    match FemSolver::new().solve_2d_laplace(&p) {
        Err(Error::Expression { field, column, .. }) => {
            assert_eq!(field, "problem.source");
            assert!(column >= 6, "column {column}");
        }
        other => panic!("expected an expression error, got {other:?}"),
    }
    let p = Laplace1d {
        exact: Some(Source::expr("q + 1")),
        ..Default::default()
    };
    assert_eq!(
        field_of(FemSolver::new().solve_1d_laplace(&p)),
        "problem.exact"
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
    std::fs::write(
        &path,
        "[problem]\ndim = 2\nmesh = { kind = \"rectangle\", nx = \"many\" }\n",
    )
    .unwrap();
    let e = Config::load(&ConfigSources {
        file: Some(path.clone()),
        overrides: vec![],
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("bad.toml:3"), "{e}");
    assert!(e.contains("problem.mesh.nx"), "{e}");
}

#[test]
fn missing_config_files_are_errors() {
    let e = Config::load(&ConfigSources {
        file: Some("/nonexistent/femscale.toml".into()),
        overrides: vec![],
    })
    .unwrap_err();
    assert!(matches!(e, Error::Config { .. }));
    assert!(e.to_string().contains("/nonexistent/femscale.toml"), "{e}");
}

#[test]
fn malformed_overrides_and_unknown_components_are_errors() {
    let bad = |o: &str| {
        Config::load(&ConfigSources {
            file: None,
            overrides: vec![o.into()],
        })
    };
    assert!(bad("problem.mesh.nx").is_err());
    assert!(bad("=3").is_err());
    let e = bad("problem.mesh.nx=abc").unwrap_err().to_string();
    assert!(e.contains("--set problem.mesh.nx=abc"), "{e}");
    let config = Config::load(&ConfigSources {
        file: None,
        overrides: vec!["solver.kind=multigrid".into()],
    })
    .unwrap();
    match FemSolver::from_config(config) {
        Err(Error::UnknownName { field, known, .. }) => {
            assert_eq!(field, "solver.kind");
            assert!(known.contains(&"cg".to_string()));
        }
        other => panic!("expected UnknownName, got {other:?}"),
    }
    let config = Config::load(&ConfigSources {
        file: None,
        overrides: vec!["solver.tolerance=-1.0".into()],
    })
    .unwrap();
    assert_eq!(
        FemSolver::from_config(config).unwrap_err().field(),
        Some("solver.tolerance")
    );
}

#[test]
fn robin_without_alpha_and_dimension_mismatch_are_errors() {
    let c = Config::from_toml_str(
        "[problem]\nboundary = [{ where = \"left\", kind = \"robin\", value = 1.0 }]",
    )
    .unwrap();
    assert_eq!(
        FemSolver::from_config(c)
            .unwrap()
            .solve_configured()
            .unwrap_err()
            .field(),
        Some("problem.boundary[0].alpha")
    );
    let c = Config::from_toml_str("[problem]\ndim = 1\n").unwrap();
    assert_eq!(
        FemSolver::from_config(c)
            .unwrap()
            .solve_configured()
            .unwrap_err()
            .field(),
        Some("problem.dim")
    );
}

#[test]
fn non_convergence_is_a_typed_error_with_the_report() {
    let mut config = Config::default();
    config.solver.kind = "cg".into();
    config.solver.max_iterations = 3;
    let e = FemSolver::from_config(config)
        .unwrap()
        .solve_2d_laplace(&Laplace2d {
            source: Some(1.0.into()),
            ..Default::default()
        })
        .unwrap_err();
    match e {
        Error::Solve(SolveError::NotConverged { report }) => {
            assert_eq!(report.iterations, 3);
            assert_eq!(report.residual_history.len(), 3);
        }
        other => panic!("expected NotConverged, got {other:?}"),
    }
}
