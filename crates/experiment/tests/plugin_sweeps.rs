//! Sweeps over plugin solvers, with the plugins loaded as real dynamic libraries (the Rust
//! plugins built as cdylibs next to this test binary because they are dev-dependencies, the C
//! plugin by its build script). (Moved here from `crates/runtime/tests/plugins/` with the
//! experiment runner.)

use std::path::{Path, PathBuf};

use femscale_experiment::{Experiment, RunOptions, read_results};

/// The cdylib of the workspace plugin crate `crate_name` (`femscale_plugin_chebyshev`), built
/// next to this test binary because it is a dev-dependency (as in
/// `crates/runtime/tests/plugins/common.rs`).
fn rust_plugin(crate_name: &str) -> PathBuf {
    let file = format!(
        "{}{crate_name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("target/<profile>/deps");
    [deps.join(&file), deps.join("..").join(&file)]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{file} was not built next to {}", deps.display()))
}

/// The Chebyshev plugin.
fn chebyshev() -> PathBuf {
    rust_plugin("femscale_plugin_chebyshev")
}

/// The C plugin.
fn c_cg() -> PathBuf {
    PathBuf::from(femscale_plugin_c_cg::LIBRARY_PATH)
}

/// TOML for a list of paths.
fn toml_paths(paths: &[&Path]) -> String {
    let items: Vec<String> = paths.iter().map(|p| format!("'{}'", p.display())).collect();
    format!("[{}]", items.join(", "))
}

#[test]
fn the_example_sweep_compares_plugin_and_built_in_solvers() {
    let dir = tempfile::tempdir().unwrap();
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs/plugin_sweep.toml");
    let plugins = [chebyshev(), c_cg()];
    let paths: Vec<&Path> = plugins.iter().map(|p| p.as_path()).collect();
    let overrides = [
        format!("plugins.paths={}", toml_paths(&paths)),
        "problem.mesh.nx=16".to_string(),
        "problem.mesh.ny=16".to_string(),
        "experiment.repetitions=1".to_string(),
    ];
    let exp = Experiment::load(&file, &overrides).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exp.points().len(), 5);
    let options = RunOptions {
        output_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let report = exp.run(&options).unwrap();
    assert_eq!((report.ran, report.failed), (5, 0), "{report:?}");
    let records = read_results(&dir.path().join("results.jsonl")).unwrap();
    let errors: Vec<f64> = records
        .iter()
        .map(|r| r.metrics.as_ref().unwrap().l2_error.unwrap())
        .collect();
    let solvers: Vec<&str> = records
        .iter()
        .map(|r| r.metrics.as_ref().unwrap().solver.as_str())
        .collect();
    assert!(solvers.contains(&"plugin:chebyshev-cg") && solvers.contains(&"plugin:c-jacobi-cg"));
    for e in &errors {
        assert!(
            (e - errors[0]).abs() < 1e-8 * errors[0].max(1.0),
            "{errors:?}"
        );
    }
}

#[test]
fn plugin_options_are_swept_like_any_key() {
    let dir = tempfile::tempdir().unwrap();
    let cheb = chebyshev();
    let file = dir.path().join("sweep.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[plugins]
paths = {}
[problem]
mesh = {{ kind = "rectangle", nx = 24, ny = 24 }}
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"
[solver]
kind = "plugin:chebyshev-cg"
preconditioner = "none"
tolerance = 1e-10
[experiment]
name = "degrees"
[sweep]
plugins.options.chebyshev-cg.degree = [1, 8]
"#,
            toml_paths(&[cheb.as_path()])
        ),
    )
    .unwrap();
    let exp = Experiment::load(&file, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exp.points().len(), 2);
    let options = RunOptions {
        output_dir: Some(dir.path().join("out")),
        ..Default::default()
    };
    let report = exp.run(&options).unwrap();
    assert_eq!((report.ran, report.failed), (2, 0), "{report:?}");
    let records = read_results(&dir.path().join("out/results.jsonl")).unwrap();
    let iterations = |degree: u64| {
        records
            .iter()
            .find(|r| {
                r.point
                    .get("plugins.options.chebyshev-cg.degree")
                    .and_then(serde_json::Value::as_u64)
                    == Some(degree)
            })
            .and_then(|r| r.metrics.as_ref())
            .unwrap_or_else(|| panic!("no record of degree {degree}: {records:?}"))
            .iterations
    };
    // Degree 8 needs far fewer iterations than degree 1: each point ran with its own options,
    // not a cached solution of the other.
    assert!(iterations(8) * 2 < iterations(1));
    // A swept option the plugin rejects fails that point, naming the key.
    let bad = std::fs::read_to_string(&file)
        .unwrap()
        .replace("degree = [1, 8]", "degree = [1, -3]");
    std::fs::write(&file, bad).unwrap();
    let exp = Experiment::load(&file, &[]).unwrap_or_else(|e| panic!("{e}"));
    let options = RunOptions {
        output_dir: Some(dir.path().join("bad")),
        ..Default::default()
    };
    let outcome = exp.run(&options);
    let text = match outcome {
        Ok(report) => {
            assert_eq!(report.failed, 1, "{report:?}");
            std::fs::read_to_string(dir.path().join("bad/results.jsonl")).unwrap()
        }
        Err(e) => e.to_string(),
    };
    assert!(text.contains("plugins.options.chebyshev-cg"), "{text}");
}

#[test]
fn a_sweep_records_the_wrong_plugin_solution_as_a_failed_run_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = rust_plugin("femscale_plugin_fixture_panics");
    let text = format!(
        r#"
[problem]
mesh = {{ kind = "rectangle", nx = 8, ny = 8 }}
source = 1.0
[solver]
tolerance = 1e-10
[plugins]
paths = {}
[plugins.options.panicky]
stage = "forty-two"
[sweep]
"solver.kind" = ["plugin:panicky", "direct"]
[output]
dir = {:?}
"#,
        toml_paths(&[&fixture]),
        dir.path().join("out").display().to_string()
    );
    let path = dir.path().join("exp.toml");
    std::fs::write(&path, text).unwrap();
    let report = Experiment::load(&path, &[])
        .unwrap()
        .run(&RunOptions::default())
        .unwrap();
    assert_eq!((report.ran, report.failed), (2, 1));
    let records = read_results(&report.results_path).unwrap();
    let bad = records.iter().find(|r| !r.ok).unwrap();
    let error = bad.error.as_deref().unwrap();
    assert!(
        error.contains("plugin:panicky") && error.contains("recomputed"),
        "{error}"
    );
    let good = records.iter().find(|r| r.ok).unwrap();
    assert!(good.metrics.as_ref().unwrap().verified_relative_residual < 1e-12);
}
