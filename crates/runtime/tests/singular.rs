//! Singular systems are refused, not solved: a solution fixed only up to a constant passes the
//! componentwise backward-error test with any (huge) values, so the pipeline confirms such a
//! solution with one correction step and reports `SolveError::Undetermined`.

use femscale_core::{Error, SolveError};
use femscale_runtime::{Config, FemSolver};

fn solve(text: &str, overrides: &[&str]) -> femscale_core::Result<femscale_runtime::Solution> {
    let config = Config::from_toml_str(text)?;
    let solver = FemSolver::from_config(config)?;
    solver.with_overrides(overrides)?.solve_configured()
}

fn assert_undetermined(result: femscale_core::Result<femscale_runtime::Solution>, what: &str) {
    match result {
        Err(Error::Solve(SolveError::Undetermined {
            relative_correction,
            limit,
            ..
        })) => assert!(relative_correction > limit, "{what}: {relative_correction}"),
        Err(other) => panic!("{what}: expected Undetermined, got {other}"),
        Ok(s) => panic!(
            "{what}: a singular system was solved (max |u| = {:e})",
            s.values.iter().fold(0.0f64, |m, v| m.max(v.abs()))
        ),
    }
}

/// Pure Neumann with a reaction that is zero without being the constant 0 (so the problem
/// check cannot see it): the direct factorisation and BiCGStab both return garbage that the
/// backward error alone would accept.
#[test]
fn a_pure_neumann_problem_with_a_vanishing_reaction_is_undetermined() {
    let text = r#"
        [problem]
        mesh = { kind = "rectangle", nx = 8, ny = 8, cell = "triangle" }
        reaction = "0*x"
        source = "2*pi^2*cos(pi*x)*cos(pi*y)"
        boundary = [{ where = "all", kind = "neumann", value = 0.0 }]
        [scaling]
        enable_caching = false
    "#;
    for kind in ["direct", "bicgstab"] {
        let overrides = [format!("solver.kind={kind}")];
        let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
        assert_undetermined(solve(text, &overrides), kind);
    }
}

/// A Gmsh mesh of two squares, the Dirichlet condition on one only: the other floats. Refused
/// before assembly, whatever the load (a zero-mean one would let a solver return any constant
/// there with a small residual); a reaction fixes it.
#[test]
fn a_mesh_part_without_a_condition_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two_squares.msh");
    std::fs::write(
        &path,
        "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$PhysicalNames\n2\n1 1 \"wall\"\n2 2 \"dom\"\n\
         $EndPhysicalNames\n$Nodes\n9\n1 0 0 0\n2 1 0 0\n3 1 1 0\n4 0 1 0\n5 3 0 0\n6 4 0 0\n\
         7 4 1 0\n8 3 1 0\n9 3.5 0.5 0\n$EndNodes\n$Elements\n10\n10 1 2 1 1 1 2\n\
         11 1 2 1 1 2 3\n12 1 2 1 1 3 4\n13 1 2 1 1 4 1\n1 2 2 2 2 1 2 3\n2 2 2 2 2 1 3 4\n\
         3 2 2 2 2 5 6 9\n4 2 2 2 2 6 7 9\n5 2 2 2 2 7 8 9\n6 2 2 2 2 8 5 9\n$EndElements\n",
    )
    .unwrap();
    let text = |source: &str, reaction: &str| {
        format!(
            r#"
            [problem]
            mesh = {{ kind = "gmsh", path = {path:?} }}
            source = "{source}"
            {reaction}
            boundary = [{{ where = "wall", kind = "dirichlet", value = 0.0 }}]
            [scaling]
            enable_caching = false
            "#,
            path = path.to_str().unwrap()
        )
    };
    for source in ["1", "x - 3.5"] {
        for kind in ["auto", "direct", "cg"] {
            let overrides = [format!("solver.kind={kind}")];
            let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
            match solve(&text(source, ""), &overrides) {
                Err(Error::InvalidInput { field, reason }) => {
                    assert_eq!(field.to_string(), "problem.boundary");
                    assert!(reason.contains("(x, y, z) = (3"), "{reason}");
                }
                other => panic!("{source}, {kind}: {other:?}"),
            }
        }
    }
    let fixed = solve(&text("1", "reaction = 1.0"), &[]).unwrap();
    // -Δu + u = 1 with natural conditions: u = 1 on the floating square, below on the other.
    assert!(
        fixed
            .values
            .iter()
            .all(|v| v.is_finite() && v.abs() <= 1.0 + 1e-9)
    );
}

/// Data that overflow make a right-hand side that is not finite: the error names the problem
/// and the node, not a solver option.
#[test]
fn a_right_hand_side_that_overflows_names_the_problem_and_the_node() {
    let text = r#"
        [problem]
        mesh = { kind = "rectangle", nx = 4, ny = 4, cell = "triangle" }
        source = "0"
        boundary = [{ where = "left", value = 1e308 }, { where = "right", value = 0 }]
    "#;
    for kind in ["direct", "cg", "amg", "gmres"] {
        let e = solve(text, &[&format!("solver.kind={kind}")]).unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("problem"), "{kind}: {e}");
        let message = e.to_string();
        assert!(
            message.contains("is inf in the row of node") && message.contains("(x, y, z) = (0"),
            "{message}"
        );
    }
}

/// Data near the end of the floating-point range (review Q): a diffusion whose matrix entries
/// overflow, a source whose solution makes `A x` overflow, a source whose squared error
/// indicators overflow are each refused naming the problem and what overflowed, not a
/// singular matrix, a solver option or an `estimate` key.
#[test]
fn data_that_overflow_name_the_problem_and_what_overflowed() {
    let text = r#"
        [problem]
        mesh = { kind = "interval", x = [0.0, 1.0], nx = 4 }
        diffusion = "1 + x"
        reaction = 2.0
        source = 1.0
        boundary = [
            { where = "left", kind = "robin", alpha = 3.0, value = 1.0 },
            { where = "right", kind = "robin", alpha = 3.0, value = 2.0 },
        ]
    "#;
    let cases: [(&[&str], &str); 4] = [
        (
            &["problem.diffusion=1e308", "solver.kind=direct"],
            "the assembled matrix is inf in the row of node",
        ),
        (
            &["problem.diffusion=1e308", "solver.kind=cg"],
            "the assembled matrix is inf in the row of node",
        ),
        (
            &["problem.source=1e308", "solver.kind=direct"],
            "the right-hand side reaches",
        ),
        (
            &[
                "problem.source=1e200",
                "solver.kind=direct",
                "adaptivity.enabled=true",
            ],
            "the squared error indicator of cell",
        ),
    ];
    for (overrides, shown) in cases {
        assert_problem_error(text, overrides, shown);
    }
}

/// `text` with `overrides` fails with an error for the field `problem` that says `shown`.
fn assert_problem_error(text: &str, overrides: &[&str], shown: &str) {
    let e = solve(text, overrides).unwrap_err();
    assert_eq!(
        e.field_name().as_deref(),
        Some("problem"),
        "{overrides:?}: {e}"
    );
    assert!(e.to_string().contains(shown), "{overrides:?}: {e}");
}

/// Review R: the direct solver returned zeros for a matrix with infinite entries (then blamed
/// as the source's overflow), and finite data whose solution overflows were "singular" or a
/// CG breakdown naming a preconditioner; a subnormal source was "too large".
#[test]
fn data_at_the_ends_of_the_range_are_named_whatever_the_solver() {
    let text = r#"
        [problem]
        mesh = { kind = "rectangle", nx = 8, ny = 8, cell = "triangle" }
        source = 1.0
        boundary = [{ where = "all", kind = "dirichlet", value = 0.0 }]
    "#;
    for kind in ["auto", "direct", "cg", "gmres", "bicgstab"] {
        let solver = format!("solver.kind={kind}");
        for (overrides, shown) in [
            (
                vec!["problem.diffusion=1e308"],
                "the assembled matrix is inf in the row of node",
            ),
            (
                vec!["problem.source=1e308", "problem.diffusion=0.01"],
                "the right-hand side reaches",
            ),
            (vec!["problem.source=1e-308"], "too small"),
        ] {
            let overrides: Vec<&str> = overrides.into_iter().chain([solver.as_str()]).collect();
            assert_problem_error(text, &overrides, shown);
        }
    }
}

/// A reaction given per subdomain fixes the constant only on the parts of the mesh with a
/// cell where its piece is not the constant zero: zero on every subdomain of a connected mesh
/// is refused like `reaction = 0`, and zero on a separate body with natural conditions alone
/// leaves that body floating (both were solved, to a different constant by each solver).
#[test]
fn a_reaction_by_subdomain_fixes_only_the_parts_where_it_is_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two_bodies.msh");
    // Square `a` = [0,1]² (marker 2) and square `b` = [3,4]×[0,1] (marker 3), sharing no
    // node; `wall` is the boundary of `a`.
    std::fs::write(
        &path,
        "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$PhysicalNames\n3\n1 1 \"wall\"\n2 2 \"a\"\n\
         2 3 \"b\"\n$EndPhysicalNames\n$Nodes\n9\n1 0 0 0\n2 1 0 0\n3 1 1 0\n4 0 1 0\n5 3 0 0\n\
         6 4 0 0\n7 4 1 0\n8 3 1 0\n9 3.5 0.5 0\n$EndNodes\n$Elements\n10\n10 1 2 1 1 1 2\n\
         11 1 2 1 1 2 3\n12 1 2 1 1 3 4\n13 1 2 1 1 4 1\n1 2 2 2 2 1 2 3\n2 2 2 2 2 1 3 4\n\
         3 2 2 3 3 5 6 9\n4 2 2 3 3 6 7 9\n5 2 2 3 3 7 8 9\n6 2 2 3 3 8 5 9\n$EndElements\n",
    )
    .unwrap();
    let text = |reaction: &str, boundary: &str| {
        format!(
            r#"
            [problem]
            mesh = {{ kind = "gmsh", path = {path:?} }}
            source = {{ a = 1.0, b = "x - 3.5" }}
            reaction = {reaction}
            boundary = [{boundary}]
            [scaling]
            enable_caching = false
            "#,
            path = path.to_str().unwrap()
        )
    };
    let neumann = r#"{ where = "wall", kind = "neumann", value = 0.0 }"#;
    let dirichlet = r#"{ where = "wall", kind = "dirichlet", value = 0.0 }"#;
    for kind in ["direct", "cg"] {
        let overrides = [format!("solver.kind={kind}")];
        let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
        // Zero everywhere: the problem check refuses it, naming the reaction.
        let e = solve(&text("{ a = 0.0, b = 0.0 }", neumann), &overrides).unwrap_err();
        assert_eq!(
            e.field_name().as_deref(),
            Some("problem.reaction"),
            "{kind}: {e}"
        );
        assert!(e.to_string().contains("the reaction is zero"), "{e}");
        // Zero on `b` alone, which no condition reaches: `b` floats.
        for boundary in [neumann, dirichlet] {
            match solve(&text("{ a = 1.0, b = 0.0 }", boundary), &overrides) {
                Err(Error::InvalidInput { field, reason }) => {
                    assert_eq!(field.to_string(), "problem.boundary");
                    assert!(reason.contains("(x, y, z) = (3"), "{reason}");
                    assert!(reason.contains("no reaction on its cells"), "{reason}");
                }
                other => panic!("{kind}, {boundary}: {other:?}"),
            }
        }
        // Zero on `a` alone, which the Dirichlet condition fixes: determined.
        let fixed = solve(&text("{ a = 0.0, b = 2.0 }", dirichlet), &overrides).unwrap();
        assert!(fixed.values.iter().all(|v| v.is_finite()), "{kind}");
        // A subdomain found by its number counts as its name does.
        let by_number = solve(&text(r#"{ a = 0.0, "3" = 2.0 }"#, dirichlet), &overrides);
        assert!(by_number.is_ok(), "{kind}: {by_number:?}");
        // A table the assembly refuses is refused naming its key, not as a floating part.
        for (table, key) in [
            ("{ a = 1.0, bb = 0.0 }", "problem.reaction.bb"),
            (r#"{ a = 1.0, b = 0.0, "3" = 1.0 }"#, "problem.reaction"),
        ] {
            let e = solve(&text(table, neumann), &overrides).unwrap_err();
            assert!(
                e.field_name().is_some_and(|f| f.starts_with(key))
                    && !e.to_string().contains("floats"),
                "{kind}, {table}: {e}"
            );
            assert!(
                !e.to_string().contains("determined up to a constant"),
                "{table}: {e}"
            );
        }
    }
}

/// An exact solution whose chain-rule gradient is not finite at a quadrature point, though its
/// value is (sqrt(x^4) at 0, a point of 11 elements on [-1, 1]), is refused saying so — the
/// gradient, the value there and how to write it instead — not as a non-finite solution.
#[test]
fn a_gradient_the_chain_rule_cannot_evaluate_is_named_as_such() {
    let text = |n: usize| {
        format!(
            r#"
            [problem]
            mesh = {{ kind = "interval", x = [-1.0, 1.0], nx = {n} }}
            exact = "sqrt(x^4)"
            source = "-2"
            boundary = [{{ where = "all", value = 1.0 }}]
            [scaling]
            enable_caching = false
            "#
        )
    };
    let e = solve(&text(11), &[]).unwrap_err();
    assert_eq!(e.field_name().as_deref(), Some("problem.exact"), "{e}");
    let message = e.to_string();
    assert!(
        message.contains("gradient of the exact solution (derived by the chain rule)")
            && message.contains("where the solution is 0"),
        "{message}"
    );
    // With no quadrature point at 0 the H1 error is that of 2x.
    let s = solve(&text(10), &[]).unwrap();
    assert!(s.metrics.h1_error.is_some_and(f64::is_finite));
}
