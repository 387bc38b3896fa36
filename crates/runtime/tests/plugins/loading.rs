//! Loading: what a plugin provides, and the typed error of every way a library can be wrong.

use std::path::{Path, PathBuf};

use femscale_core::Error;
use femscale_runtime::plugins::{self, PluginError, PluginKind, PluginsConfig};
use femscale_runtime::{FemSolver, Registry};

use crate::common::{c_cg, chebyshev, config, rust_plugin};

#[test]
fn loading_reports_what_each_plugin_provides() {
    let rust = plugins::load(&chebyshev()).unwrap();
    assert_eq!(rust.name(), "chebyshev");
    assert_eq!(rust.kind(), PluginKind::Rust);
    assert_eq!(
        rust.interface(),
        format!(
            "femscale-plugin-api {}",
            femscale_plugin_api::INTERFACE_VERSION
        )
    );
    let names =
        |list: &[plugins::Component]| list.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(rust.solvers()), ["chebyshev-cg"]);
    assert_eq!(names(rust.preconditioners()), ["chebyshev"]);
    assert!(!rust.solvers()[0].description.is_empty());
    // Loading again gives the same plugin: one load per library and process.
    assert!(std::sync::Arc::ptr_eq(
        &rust,
        &plugins::load(&chebyshev()).unwrap()
    ));

    let c = plugins::load(&c_cg()).unwrap();
    assert_eq!((c.name(), c.kind()), ("c-jacobi-cg", PluginKind::C));
    assert_eq!(c.interface(), "C interface 2");
    assert_eq!(names(c.solvers()), ["c-jacobi-cg"]);
    assert!(c.preconditioners().is_empty());
    assert!(c.solver("other", "{}").is_err());
}

fn load_err(path: &Path) -> PluginError {
    match plugins::load(path) {
        Ok(p) => panic!("{} loaded as {}", path.display(), p.name()),
        Err(e) => e,
    }
}

#[test]
fn a_missing_file_and_files_that_are_no_plugin_are_refused() {
    let missing = Path::new("/nonexistent/libnothing.so");
    let e = load_err(missing);
    assert!(
        matches!(&e, PluginError::FileMissing { path } if path == missing),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "/nonexistent/libnothing.so: plugin file does not exist"
    );

    let not_a_plugin = Path::new(femscale_plugin_fixture_c_broken::NOT_A_PLUGIN);
    let e = load_err(not_a_plugin);
    assert!(matches!(e, PluginError::NotAPlugin { .. }), "{e:?}");
    assert!(e.to_string().contains("not a femscale plugin"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("libtext.so");
    std::fs::write(&text, "not a library").unwrap();
    let e = load_err(&text);
    assert!(
        matches!(&e, PluginError::NotAPlugin { reason, .. } if reason.contains("cannot open")),
        "{e:?}"
    );
}

#[test]
fn a_plugin_built_against_another_interface_version_is_refused_naming_both() {
    let old = rust_plugin("femscale_plugin_fixture_old_interface");
    let e = load_err(&old);
    match &e {
        PluginError::VersionMismatch {
            interface,
            plugin,
            host,
            ..
        } => {
            assert_eq!(*interface, "femscale-plugin-api");
            assert_eq!(plugin, "0.9.0");
            assert_eq!(host, femscale_plugin_api::INTERFACE_VERSION);
        }
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("0.9.0") && text.contains(femscale_plugin_api::INTERFACE_VERSION),
        "{text}"
    );

    let future = Path::new(femscale_plugin_fixture_c_broken::FUTURE_ABI);
    assert!(
        matches!(load_err(future), PluginError::VersionMismatch { interface: "C interface", plugin, host, .. }
            if plugin == "99" && host == "2")
    );
}

#[test]
fn a_layout_mismatch_is_reported_in_a_few_lines() {
    let bad = rust_plugin("femscale_plugin_fixture_bad_layout");
    let e = load_err(&bad);
    let PluginError::LayoutMismatch { details, .. } = &e else {
        panic!("expected LayoutMismatch, got {e:?}");
    };
    assert!(details.contains("Error:"), "{details}");
    let lines = e.to_string().lines().count();
    assert!((2..=26).contains(&lines), "{lines} lines:\n{e}");
}

#[test]
fn a_c_plugin_missing_a_required_function_names_it() {
    let half = Path::new(femscale_plugin_fixture_c_broken::MISSING_SYMBOLS);
    let e = load_err(half);
    assert!(
        matches!(&e, PluginError::SymbolMissing { symbol, .. } if symbol == "femscale_solver_create"),
        "{e:?}"
    );
}

/// A copy of `file` in `dir` (a second library file with the same plugin).
fn copy_into(dir: &Path, file: &Path) -> PathBuf {
    let to = dir.join(file.file_name().unwrap());
    std::fs::copy(file, &to).unwrap();
    to
}

#[test]
fn scanned_directories_skip_bad_libraries_and_named_paths_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let cheb_copy = copy_into(dir.path(), &chebyshev());
    copy_into(
        dir.path(),
        Path::new(femscale_plugin_fixture_c_broken::NOT_A_PLUGIN),
    );
    copy_into(
        dir.path(),
        &rust_plugin("femscale_plugin_fixture_old_interface"),
    );
    std::fs::write(dir.path().join("notes.txt"), "ignored: not a library").unwrap();

    let mut scan = PluginsConfig::default();
    scan.dirs = vec![dir.path().to_path_buf(), dir.path().join("missing")];
    let found = plugins::load_configured(&scan).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].path(), cheb_copy.canonicalize().unwrap());

    // The same components from two named files: a clash, which stops the run.
    let mut named = PluginsConfig::default();
    named.paths = vec![chebyshev(), cheb_copy.clone()];
    let e = plugins::load_configured(&named).unwrap_err();
    assert!(
        matches!(&e, Error::Plugin { message, .. } if *message == format!(
            "solver `chebyshev-cg` is already provided by {}",
            chebyshev().canonicalize().unwrap().display()
        )),
        "{e:?}"
    );
    // ... while a scanned copy of a named plugin is skipped.
    named.paths = vec![chebyshev()];
    named.dirs = vec![dir.path().to_path_buf()];
    let found = plugins::load_configured(&named).unwrap();
    assert_eq!(found.len(), 1);

    // Through the configuration: a named file that fails is an error naming the file.
    let old = rust_plugin("femscale_plugin_fixture_old_interface");
    for path in [old.as_path(), Path::new("/nonexistent/libnothing.so")] {
        match FemSolver::from_config(config(4, "direct", "none", &[path], "")) {
            Err(Error::Plugin { plugin, message }) => {
                assert!(
                    plugin.contains("libnothing.so") || plugin.contains("old_interface"),
                    "{plugin}"
                );
                assert!(!message.is_empty());
            }
            other => panic!("expected Error::Plugin, got {other:?}"),
        }
    }
    // Without plugins the registry holds the built-ins only.
    let builtins = Registry::from_config(&config(4, "direct", "none", &[], "")).unwrap();
    assert!(
        builtins
            .solver_names()
            .iter()
            .all(|n| !n.starts_with("plugin:"))
    );
}

#[test]
fn an_unknown_plugin_solver_lists_the_known_ones() {
    let cheb = chebyshev();
    match FemSolver::from_config(config(4, "plugin:chebyshev", "none", &[&cheb], "")) {
        Err(Error::UnknownName { name, known, .. }) => {
            assert_eq!(name, "plugin:chebyshev");
            assert!(
                known.contains(&"plugin:chebyshev-cg".to_string()),
                "{known:?}"
            );
        }
        other => panic!("expected UnknownName, got {other:?}"),
    }
}

#[test]
fn docs_show_the_template_plugin_verbatim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/plugins.md")).unwrap();
    let template = std::fs::read_to_string(root.join("plugins/template/src/lib.rs")).unwrap();
    assert!(
        doc.contains(&format!("```rust\n{template}```")),
        "docs/plugins.md must show plugins/template/src/lib.rs verbatim"
    );
}
