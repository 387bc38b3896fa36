//! What a build without some of the facade's cargo features does when a configuration asks for
//! what they provide: a typed refusal naming the key and the feature, never a silent ignore
//! (`cargo test -p femscale --no-default-features` runs the refusals; with the default
//! features the same configurations are accepted or fail for other reasons).

use femscale::prelude::*;

/// A small 2D problem with an expression source (so the expression backend is exercised).
fn problem() -> Laplace2d {
    Laplace2d {
        nx: 8,
        ny: 8,
        source: Some(Source::expr("2*pi^2*sin(pi*x)*sin(pi*y)")),
        ..Default::default()
    }
}

/// Asserts that `e` is the refusal of `feature` naming `field`, and that its message says so.
#[cfg(any(
    not(feature = "redis"),
    not(feature = "plugins"),
    not(feature = "metis")
))]
fn assert_refused(e: &Error, field: &str, feature: &str) {
    match e {
        Error::FeatureDisabled {
            field: f,
            feature: got,
            ..
        } => {
            assert_eq!(f.to_string(), field, "{e}");
            assert_eq!(got, feature, "{e}");
        }
        other => panic!("expected FeatureDisabled for {field}, got {other:?}"),
    }
    let message = e.to_string();
    assert!(message.contains(field), "{message}");
    assert!(
        message.contains(&format!("`{feature}` feature")),
        "{message}"
    );
}

#[test]
fn the_minimal_set_solves_with_memory_and_disk_caches() {
    let dir = std::env::temp_dir().join(format!("femscale-features-{}", std::process::id()));
    let mut config = Config::default();
    config.scaling.enable_caching = Some(true);
    config.cache.levels = vec!["memory".into(), "disk".into()];
    config.cache.disk_dir = dir.clone();
    let solver = FemSolver::from_config(config).unwrap();
    let sol = solver.solve_2d_laplace(&problem()).unwrap();
    assert_eq!(sol.metrics.dofs, 81);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[cfg(not(feature = "metis"))]
fn metis_partitioning_is_refused_without_the_metis_feature() {
    let mut config = Config::default();
    config.solver.partition = femscale::runtime::Partitioner::Metis;
    let e = FemSolver::from_config(config).unwrap_err();
    assert_refused(&e, "solver.partition", "metis");
}

#[test]
#[cfg(not(feature = "redis"))]
fn the_redis_level_is_refused_without_the_redis_feature() {
    let mut config = Config::default();
    config.scaling.enable_caching = Some(true);
    config.cache.levels = vec!["memory".into(), "redis".into()];
    let e = FemSolver::from_config(config.clone()).unwrap_err();
    assert_refused(&e, "cache.levels", "redis");
    // The inspection path of `femscale cache` refuses it the same way.
    let registry = femscale::runtime::Registry::with_builtins();
    let e = femscale::runtime::open_persistent_levels(&config.cache, &registry).unwrap_err();
    assert_refused(&e, "cache.levels", "redis");
}

#[test]
#[cfg(not(feature = "plugins"))]
fn plugin_keys_are_refused_without_the_plugins_feature() {
    let mut config = Config::default();
    config.plugins.paths = vec!["libmy_solver.so".into()];
    let e = FemSolver::from_config(config).unwrap_err();
    assert_refused(&e, "plugins.paths", "plugins");

    let mut config = Config::default();
    config.plugins.dirs = vec!["plugins".into()];
    let e = FemSolver::from_config(config).unwrap_err();
    assert_refused(&e, "plugins.dirs", "plugins");

    let mut config = Config::default();
    config
        .plugins
        .options
        .insert("chebyshev-cg".into(), serde_json::json!({ "degree": 6 }));
    let e = FemSolver::from_config(config).unwrap_err();
    assert_refused(&e, "plugins.options.chebyshev-cg", "plugins");

    // Keys that only govern loaded libraries are accepted.
    let mut config = Config::default();
    config.plugins.require_pinned = true;
    FemSolver::from_config(config).unwrap();
}

#[test]
#[cfg(not(feature = "jit"))]
fn jit_requested_without_the_jit_feature_runs_on_the_bytecode_interpreter() {
    // As on a host cranelift does not support: the same values, and the metrics do not claim
    // compiled expressions.
    assert!(!femscale::expr::jit_available());
    let mut config = Config::default();
    config.scaling.enable_jit = Some(true);
    let solver = FemSolver::from_config(config).unwrap();
    let sol = solver.solve_2d_laplace(&problem()).unwrap();
    assert!(
        !sol.metrics
            .features_used
            .contains(&femscale::core::Feature::JitExpressions)
    );
    let mut config = Config::default();
    config.scaling.enable_jit = Some(false);
    let reference = FemSolver::from_config(config)
        .unwrap()
        .solve_2d_laplace(&problem())
        .unwrap();
    assert_eq!(sol.values, reference.values);
}

#[test]
#[cfg(feature = "redis")]
fn with_the_redis_feature_the_level_is_known() {
    let registry = femscale::runtime::Registry::with_builtins();
    assert!(registry.cache_names().contains(&"redis".to_string()));
}
