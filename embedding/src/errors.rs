//! Part 5: Bad input gives typed errors: match on the variant and check the fields it names.

use std::fmt::Debug;

use femscale::prelude::*;

use crate::Res;

/// The error for an outcome that is not the expected variant.
fn unexpected(expected: &str, got: &dyn Debug) -> Box<dyn std::error::Error> {
    format!("expected {expected}, got {got:?}").into()
}

pub fn run(fem: &FemSolver) -> Res {
    // A boundary part the mesh does not have: the problem field, the name and the known ones.
    let problem = Problem {
        boundary: vec![BoundarySpec::dirichlet("north", 0.0)],
        ..Problem::default()
    };
    match fem.solve(&problem) {
        Err(Error::UnknownName {
            field, name, known, ..
        }) => {
            assert!(field == "problem.boundary[0].where", "{field}");
            assert_eq!(name, "north");
            assert!(known.iter().any(|k| k == "top"), "{known:?}");
        }
        other => return Err(unexpected("UnknownName", &other)),
    }

    // No cells: the convenience API names its own argument.
    match fem.solve_2d_laplace(&Laplace2d {
        nx: 0,
        ..Default::default()
    }) {
        Err(Error::InvalidInput { field, .. }) => assert!(field == "nx", "{field}"),
        other => return Err(unexpected("InvalidInput", &other)),
    }

    // A negative size through an override, as `--set` would give it.
    match fem.with_overrides(&["problem.mesh.nx=-4"]) {
        Err(e @ Error::Config { .. }) => {
            assert!(e.to_string().contains("problem.mesh.nx"), "{e}")
        }
        other => return Err(unexpected("Config", &other)),
    }

    // A misspelt key: refused, with the closest valid key suggested.
    match fem.with_overrides(&["solver.tolerence=1e-9"]) {
        Err(Error::Config { message, key }) => {
            assert!(message.contains("did you mean `tolerance`"), "{message}");
            // The key as data too, for a program that reacts to it.
            let key = key.map(|k| k.to_string());
            assert_eq!(key.as_deref(), Some("solver.tolerence"), "{message}");
        }
        other => return Err(unexpected("Config", &other)),
    }

    // What this build (no default features) lacks: refused, naming the key and the feature.
    for (set, key, feature) in [
        (
            r#"cache.levels=["memory", "redis"]"#,
            "cache.levels",
            "redis",
        ),
        (
            r#"plugins.paths=["libmy_solver.so"]"#,
            "plugins.paths",
            "plugins",
        ),
    ] {
        match fem.with_overrides(&[set]) {
            Err(Error::FeatureDisabled {
                field, feature: f, ..
            }) => {
                assert!(field == key, "{field}");
                assert_eq!(f, feature);
            }
            other => return Err(unexpected("FeatureDisabled", &other)),
        }
    }
    println!(
        "5. typed errors: UnknownName (problem.boundary[0].where), InvalidInput (nx), Config \
         (negative nx, misspelt key), FeatureDisabled (redis, plugins)"
    );
    Ok(())
}
