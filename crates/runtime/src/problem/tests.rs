//! The configuration form of the problem model: defaults, tags, round trips, refusals.

use std::sync::Arc;

use femscale_mesh::{Mesh, RectangleCells, RectangleSpec};

use super::*;

fn problem(toml: &str) -> std::result::Result<Problem, String> {
    crate::Config::from_toml_str(toml)
        .map(|c| c.problem)
        .map_err(|e| e.to_string())
}

#[test]
fn an_empty_file_gives_the_default_problem() {
    let p = problem("").unwrap();
    assert_eq!(p, Problem::default());
    assert_eq!(p.boundary, vec![BoundarySpec::dirichlet("all", 0.0)]);
    assert!(matches!(&p.mesh, MeshSpec::Rectangle(r) if r.nx == 32 && r.ny == 32));
}

#[test]
fn fields_are_numbers_or_expressions_and_numeric_strings_are_constants() {
    let p =
        problem("[problem]\ndiffusion = \"2.5\"\nsource = \"sin(pi*x)\"\nreaction = 3").unwrap();
    assert_eq!(p.diffusion, FieldSpec::Constant(2.5));
    assert_eq!(p.source, Some(FieldSpec::Expr("sin(pi*x)".into())));
    assert_eq!(p.reaction, Some(FieldSpec::Constant(3.0)));
    let e = problem("[problem]\ndiffusion = true").unwrap_err();
    assert!(
        e.contains("problem.diffusion") && e.contains("expression"),
        "{e}"
    );
}

#[test]
fn a_box_takes_its_own_keys_and_refuses_2d_cells() {
    use femscale_mesh::{BoxCells, BoxSpec};
    let p = problem(
        "[problem]\norder = 2\n[problem.mesh]\nkind = \"box\"\nnx = 3\nny = 2\nnz = 5\nz = [0, 2]\ncell = \"hex\"",
    )
    .unwrap();
    let expected = MeshSpec::Box(BoxSpec {
        nx: 3,
        ny: 2,
        nz: 5,
        z: [0.0, 2.0],
        cells: BoxCells::Hexahedron,
        ..BoxSpec::default()
    });
    assert_eq!(
        (&p.mesh, p.order),
        (&expected, femscale_core::Order::Quadratic)
    );
    assert_eq!((p.mesh.dim(), p.mesh.kind_name()), (Some(3), "box"));
    assert_eq!(p.mesh.estimated_nodes(), Some(4.0 * 3.0 * 6.0));
    // Defaults: 16^3 cubes of tetrahedra; the table round-trips.
    let p = problem("[problem.mesh]\nkind = \"box\"").unwrap();
    let MeshSpec::Box(b) = &p.mesh else {
        panic!("{:?}", p.mesh)
    };
    assert_eq!(
        (b.nx, b.ny, b.nz, b.cells),
        (16, 16, 16, BoxCells::Tetrahedron)
    );
    let back: Problem = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    for (kind, cell, needle) in [
        (
            "box",
            "triangle",
            "a box takes \"tetrahedron\" or \"hexahedron\"",
        ),
        ("rectangle", "tet", "use kind = \"box\""),
    ] {
        let e = problem(&format!(
            "[problem.mesh]\nkind = \"{kind}\"\ncell = \"{cell}\""
        ))
        .unwrap_err();
        assert!(e.contains(needle), "{e}");
    }
    let e = problem("[problem.mesh]\nnz = 4").unwrap_err();
    assert!(e.contains("`nz` is for boxes"), "{e}");
    // `diagonal` on a box (it was ignored, silently); with quadrilaterals it is accepted (a
    // template or a sweep over `cell` gives it to both kinds of rectangle).
    let e = problem("[problem.mesh]\nkind = \"box\"\ndiagonal = \"left\"").unwrap_err();
    assert!(
        e.contains("`diagonal`") && e.contains("the six of each cube around its main diagonal"),
        "{e}"
    );
    problem("[problem.mesh]\ncell = \"quadrilateral\"\ndiagonal = \"left\"").unwrap();
    let p = problem("[problem.mesh]\ncell = \"quadrilateral\"").unwrap();
    let back: Problem = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    let e = problem("[problem]\norder = 3").unwrap_err();
    assert!(
        e.contains("problem.order") && e.contains("use 1 (P1/Q1) or 2"),
        "{e}"
    );
}

#[test]
fn the_mesh_kind_picks_its_keys() {
    let p = problem("[problem.mesh]\nkind = \"interval\"\nnx = 7\nrefinements = 2").unwrap();
    let expected = MeshSpec::Interval {
        x: [0.0, 1.0],
        n: 7,
    }
    .refined(2);
    assert_eq!(p.mesh, expected);
    let p = problem("[problem.mesh]\nkind = \"interval\"\nnx = 4\nnodes = [0, 0.5, 2]").unwrap();
    assert_eq!(p.mesh, MeshSpec::IntervalNodes(vec![0.0, 0.5, 2.0]));
    // A layer that makes the mesh an interval inherits the rectangle's keys: ignored.
    let p = problem("[problem.mesh]\nkind = \"interval\"\nny = 3\ncell = \"quad\"").unwrap();
    assert_eq!(
        p.mesh,
        MeshSpec::Interval {
            x: [0.0, 1.0],
            n: 32
        }
    );
    let p = problem("[problem.mesh]\nnx = 4\ncell = \"quad\"").unwrap();
    let MeshSpec::Rectangle(r) = &p.mesh else {
        panic!("{:?}", p.mesh)
    };
    assert_eq!(
        (r.nx, r.ny, r.cells),
        (4, 32, RectangleCells::Quadrilateral)
    );
    for (toml, key) in [
        ("nodes = [0, 1]", "`nodes`"),
        ("kind = \"cube\"", "cube"),
        ("nxx = 3", "nxx"),
    ] {
        let e = problem(&format!("[problem.mesh]\n{toml}")).unwrap_err();
        assert!(e.contains("problem.mesh") && e.contains(key), "{toml}: {e}");
    }
}

#[test]
fn meshes_and_problems_round_trip_through_their_configuration_form() {
    let meshes = [
        MeshSpec::default(),
        MeshSpec::Interval {
            x: [-1.0, 2.0],
            n: 9,
        },
        MeshSpec::IntervalNodes(vec![0.0, 0.25, 1.0]),
        MeshSpec::Rectangle(RectangleSpec::default()).refined(3),
        MeshSpec::Rectangle(RectangleSpec::default())
            .refined(2)
            .with_parts([("inlet", "(x < 1e-9) * (y > 0.5)"), ("top", "y > 1 - 1e-9")])
            .unwrap(),
    ];
    for mesh in meshes {
        let json = serde_json::to_string(&mesh).unwrap();
        let back: MeshSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, mesh, "{json}");
    }
    let mut p = Problem::new(MeshSpec::Interval {
        x: [0.0, 1.0],
        n: 4,
    });
    p.boundary = vec![
        BoundarySpec::dirichlet("left", "x + 1"),
        BoundarySpec::neumann("right", 0.5),
        BoundarySpec::robin("all", 2.0, "a*x"),
    ];
    p.params.insert("a".into(), 1.5);
    let back: Problem = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}

#[test]
fn what_has_no_configuration_form_is_refused_when_serialised() {
    let mesh = Arc::new(Mesh::interval(0.0, 1.0, 2).unwrap());
    assert!(serde_json::to_string(&MeshSpec::Mesh(mesh)).is_err());
    let field = FieldSpec::func("one", |_| 1.0);
    let e = serde_json::to_string(&field).unwrap_err().to_string();
    assert!(e.contains("no configuration form"), "{e}");
}

#[test]
fn boundary_conditions_default_their_kind_and_check_their_keys() {
    let p = problem("[[problem.boundary]]\nwhere = \"left\"\nvalue = 2").unwrap();
    assert_eq!(p.boundary, vec![BoundarySpec::dirichlet("left", 2.0)]);
    let p = problem("[[problem.boundary]]\nkind = \"robin\"\nalpha = 1\nvalue = \"x\"").unwrap();
    assert_eq!(p.boundary, vec![BoundarySpec::robin("all", 1.0, "x")]);
    for (toml, words) in [
        (
            "kind = \"robin\"",
            &["problem.boundary[0]", "`alpha`", "robin"][..],
        ),
        (
            "alpha = 1",
            &["problem.boundary[0]", "`alpha`", "only for robin"],
        ),
        (
            "kind = \"periodic\"",
            &["problem.boundary[0].kind", "periodic"],
        ),
        (
            "side = \"left\"",
            &["problem.boundary[0].side", "unknown field", "`where`"],
        ),
    ] {
        let e = problem(&format!("[[problem.boundary]]\n{toml}")).unwrap_err();
        for w in words {
            assert!(e.contains(w), "{toml}: `{w}` not in {e}");
        }
    }
}

#[test]
fn checks_name_the_field_under_the_prefix() {
    let p = Problem {
        dim: Some(1),
        ..Problem::default()
    };
    let e = p.check().unwrap_err();
    assert_eq!(e.field_name().as_deref(), Some("dim"));
    let mut p = Problem {
        boundary: vec![BoundarySpec::neumann("all", 1.0)],
        ..Problem::default()
    };
    assert_eq!(
        p.check().unwrap_err().field_name().as_deref(),
        Some("boundary")
    );
    p.reaction = Some(1.0.into());
    p.check().unwrap();
    // A parameter's name is checked on its own key (it was reported on the first expression
    // compiled with it, `source` at column 1).
    for (name, words) in [
        ("x", "would shadow the built-in `x`"),
        ("sin", "would shadow the function `sin`"),
        ("2a", "is not a valid name"),
        ("nan", "is read as the number NaN"),
        ("Infinity", "is read as the number inf"),
    ] {
        let mut q = p.clone();
        q.params.insert(name.into(), 1.0);
        let e = q.check().unwrap_err();
        assert_eq!(e.field_name(), Some(format!("params.{name}")), "{e}");
        assert!(e.to_string().contains(words), "{e}");
    }
}

/// Given but zero everywhere, a reaction or a Robin alpha does not fix the constant either.
#[test]
fn zero_reactions_and_zero_robin_coefficients_are_refused_as_singular() {
    let field = |p: &Problem| p.form().unwrap_err().field_name();
    let mut p = Problem {
        boundary: vec![BoundarySpec::neumann("all", 1.0)],
        reaction: Some(0.0.into()),
        ..Problem::default()
    };
    p.check().unwrap();
    assert_eq!(field(&p).as_deref(), Some("reaction"));
    p.reaction = Some(FieldSpec::expr("0"));
    assert_eq!(field(&p).as_deref(), Some("reaction"));
    p.reaction = None;
    p.boundary = vec![
        BoundarySpec::neumann("left", 1.0),
        BoundarySpec::robin("right", 0.0, 1.0),
    ];
    assert_eq!(field(&p).as_deref(), Some("boundary[1].alpha"));
    // Any one of them nonzero determines the solution.
    p.boundary.push(BoundarySpec::robin("top", 0.5, 0.0));
    p.form().unwrap();
    p.boundary = vec![BoundarySpec::neumann("all", 1.0)];
    p.reaction = Some(FieldSpec::expr("x"));
    p.form().unwrap();
    p.reaction = Some(0.0.into());
    p.boundary.push(BoundarySpec::dirichlet("left", 0.0));
    p.form().unwrap();
}

#[test]
fn an_override_of_the_mesh_kind_keeps_the_keys_the_new_kind_takes() {
    let solver = crate::FemSolver::from_config(
        crate::Config::from_toml_str("[problem.mesh]\nnx = 8\nny = 4").unwrap(),
    )
    .unwrap();
    let interval = solver
        .with_overrides(&["problem.mesh.kind=interval"])
        .unwrap();
    let expected = MeshSpec::Interval {
        x: [0.0, 1.0],
        n: 8,
    };
    assert_eq!(interval.config().problem.mesh, expected);
}

#[test]
fn boundary_parts_by_predicate_are_read_checked_and_built() {
    let p = problem(
        "[problem.mesh]\nnx = 4\nny = 2\nrefinements = 1\nparts = { inlet = \"(x < 1e-9) * (y > 0.49)\" }",
    )
    .unwrap();
    assert_eq!(p.mesh.refinements(), 1);
    assert_eq!((p.mesh.dim(), p.mesh.kind_name()), (Some(2), "rectangle"));
    let mesh = p.mesh.build().unwrap();
    // Refined first: 8 x 4 squares, the upper half of x = 0 has 2 facets.
    assert_eq!(mesh.boundary_part("inlet").unwrap().facets.len(), 2 * 2);
    assert_eq!(
        MeshSpec::default()
            .with_parts(Vec::<(String, String)>::new())
            .unwrap(),
        MeshSpec::default()
    );
    let e = problem("[problem.mesh]\nparts = { inlet = \"x < a\" }").unwrap_err();
    assert!(e.contains("parts.inlet") && e.contains("`a`"), "{e}");
    let e = problem("[problem.mesh]\nparts = { inlet = 1 }").unwrap_err();
    assert!(e.contains("problem.mesh"), "{e}");
    let e = problem("[problem.mesh]\nparts = { inlet = \"x < t + 1e-9\" }").unwrap_err();
    assert!(e.contains("parts.inlet") && e.contains("uses `t`"), "{e}");
    // A coordinate the mesh lacks would be 0 on every facet.
    let p = problem("[problem.mesh]\nparts = { lid = \"z > -1\" }").unwrap();
    let e = p.mesh.build().unwrap_err().to_string();
    assert!(e.contains("parts.lid") && e.contains("uses `z`"), "{e}");
}

#[test]
fn an_exact_solution_by_subdomain_is_refused_with_the_alternative() {
    let p = problem("[problem]\nexact = { copper = \"1\", steel = \"x\" }").unwrap();
    let e = p.check().unwrap_err().to_string();
    assert!(e.contains("exact") && e.contains("comparisons"), "{e}");
}

/// A coordinate the mesh does not have is refused, naming the field: `y` in 1D and `z` in 2D
/// would be 0 everywhere (the exact solution `sin(pi*y)` of a 1D problem gave zero errors).
#[test]
fn expressions_in_coordinates_the_mesh_lacks_are_refused() {
    let refused = |text: &str| problem(text).and_then(|p| p.check().map_err(|e| e.to_string()));
    let e =
        refused("[problem]\nmesh = { kind = \"interval\" }\nexact = \"sin(pi*y)\"").unwrap_err();
    assert!(
        e.contains("exact") && e.contains("uses `y`") && e.contains("1D"),
        "{e}"
    );
    let e = refused(
        "[problem]\nmesh = { kind = \"rectangle\" }\nboundary = [{ where = \"left\", value = \"z + x\" }]",
    )
    .unwrap_err();
    assert!(
        e.contains("boundary[0].value") && e.contains("uses `z`"),
        "{e}"
    );
    // What the mesh has, `t`, and parameters are fine.
    refused("[problem]\nmesh = { kind = \"rectangle\" }\nsource = \"x*y + t\"").unwrap();
    refused("[problem]\nmesh = { kind = \"box\" }\nsource = \"z\"").unwrap();
    refused("[problem]\nmesh = { kind = \"interval\" }\nparams = { a = 2 }\nsource = \"a*x\"")
        .unwrap();
}

/// Boundary data given per subdomain (`alpha = { a = 1, b = 2 }`) are refused naming the key;
/// they were accepted and failed later as "evaluates to NaN".
#[test]
fn boundary_data_by_subdomain_are_refused() {
    for bc in [
        "{ where = \"left\", kind = \"robin\", alpha = { a = 1.0 }, value = 0.0 }",
        "{ where = \"left\", value = { a = 1.0 } }",
    ] {
        let p = problem(&format!("[problem]\nboundary = [{bc}]")).unwrap();
        let e = p.check().unwrap_err();
        let field = e.field_name().unwrap();
        assert!(field.starts_with("boundary[0]."), "{e}");
        assert!(e.to_string().contains("per subdomain"), "{e}");
    }
}
