//! Pinning: a library whose bytes differ from its `[plugins] sha256` pin, or that no pin names
//! under `require_pinned`, is refused before it is opened — the marker fixture's constructor
//! proves it never ran — and directory scans load only what passes, listing the rest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use femscale_core::Error;
use femscale_plugin_fixture_c_interface::{MARKER, marker_of};
use femscale_runtime::FemSolver;
use femscale_runtime::plugins::{self, PinPolicy, PluginError, PluginsConfig};

use crate::common::{chebyshev, config};

/// A fresh copy of `library` as `dir/name` (a file no test loaded before: its own inode).
fn copy_as(dir: &Path, library: &str, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(library, &to).unwrap();
    to
}

fn pins(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const WRONG: &str = "00000000000000000000000000000000000000000000000000000000000000ff";

#[test]
fn a_mismatched_pin_refuses_the_library_before_its_initialiser_runs() {
    let dir = tempfile::tempdir().unwrap();
    let library = copy_as(dir.path(), MARKER, "libc_marker_cg.so");
    let marker = marker_of(&library.canonicalize().unwrap());
    let hash = plugins::file_sha256(&library).unwrap();

    // By file name and by plugin name (the file stem, `-` and `_` alike): refused, not run.
    for key in ["libc_marker_cg.so", "c-marker-cg"] {
        let pinned = pins(&[(key, WRONG)]);
        let policy = PinPolicy::new(&pinned, false).unwrap();
        match plugins::load_pinned(&library, &policy) {
            Err(PluginError::PinMismatch {
                entry,
                expected,
                found,
                after_loading: false,
                ..
            }) => {
                assert_eq!((entry.as_str(), expected.as_str()), (key, WRONG));
                assert_eq!(found, hash);
            }
            other => panic!("{key}: expected PinMismatch, got {other:?}"),
        }
        assert!(
            !marker.exists(),
            "{key}: the refused library's initialiser ran"
        );
    }
    // Unpinned under require_pinned: refused, not run; the message gives the line to pin it.
    let none = BTreeMap::new();
    let strict = PinPolicy::new(&none, true).unwrap();
    let e = plugins::load_pinned(&library, &strict).unwrap_err();
    assert!(matches!(e, PluginError::Unpinned { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains(&format!("\"libc_marker_cg.so\" = \"{hash}\"")),
        "{e}"
    );
    assert!(!marker.exists());
    // Through the configuration: the error names the pin and the file.
    let text = format!(
        "[plugins.sha256]\n\"libc_marker_cg.so\" = \"{}\"\n",
        WRONG.to_uppercase()
    );
    match FemSolver::from_config(config(4, "direct", "none", &[&library], &text)) {
        Err(Error::Plugin { plugin, message }) => {
            assert!(plugin.ends_with("libc_marker_cg.so"), "{plugin}");
            assert!(
                message.contains("refused before opening")
                    && message.contains("plugins.sha256.\"libc_marker_cg.so\""),
                "{message}"
            );
        }
        other => panic!("expected Error::Plugin, got {other:?}"),
    }
    assert!(!marker.exists());

    // The matching pin (upper-case hex is the same hash): loads, runs its initialiser once,
    // solves.
    let text = format!(
        "[plugins.sha256]\nc-marker-cg = \"{}\"\n",
        hash.to_uppercase()
    );
    let solver =
        FemSolver::from_config(config(8, "plugin:c-marker-cg", "none", &[&library], &text))
            .unwrap_or_else(|e| panic!("{e}"));
    let solution = solver.solve_configured().unwrap();
    assert!(solution.metrics.linear_solve.converged);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "initialiser ran\n"
    );
    let loaded = plugins::load(&library).unwrap();
    assert_eq!(loaded.sha256(), hash);
    // Loaded already: pins are checked against the bytes it was loaded from.
    let pinned = pins(&[("libc_marker_cg.so", WRONG)]);
    assert!(matches!(
        plugins::load_pinned(&library, &PinPolicy::new(&pinned, false).unwrap()),
        Err(PluginError::PinMismatch { .. })
    ));
}

#[test]
fn a_name_pin_is_also_checked_against_the_name_a_library_reports() {
    // The Chebyshev plugin in a file whose name says nothing: the pin on its plugin name
    // cannot select the file before opening, but the reported name is checked after.
    let dir = tempfile::tempdir().unwrap();
    let library = copy_as(dir.path(), chebyshev().to_str().unwrap(), "libsomething.so");
    let pinned = pins(&[("chebyshev", WRONG)]);
    let e = plugins::load_pinned(&library, &PinPolicy::new(&pinned, false).unwrap()).unwrap_err();
    assert!(
        matches!(
            e,
            PluginError::PinMismatch {
                after_loading: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("pin its file name instead"), "{e}");
}

#[test]
fn malformed_pins_are_refused_naming_the_entry() {
    let not_hex = format!("\"{}\"", "g".repeat(64));
    let wrong = format!("\"{WRONG}\"");
    for (entry, value) in [
        ("\"libx.so\"", "\"abc\""),
        ("x", not_hex.as_str()),
        ("\"dir/libx.so\"", wrong.as_str()),
    ] {
        let text = format!("[plugins.sha256]\n{entry} = {value}\n");
        let e = FemSolver::from_config(config(4, "direct", "none", &[], &text)).unwrap_err();
        let field = e.field().unwrap_or_default().to_string();
        assert!(
            field.starts_with("plugins.sha256.") && field.contains(entry.trim_matches('"')),
            "{entry}: {e}"
        );
    }
}

#[test]
fn scanned_directories_load_only_what_passes_the_pins_and_list_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let good = copy_as(dir.path(), chebyshev().to_str().unwrap(), "libcheb.so");
    let mismatched = copy_as(dir.path(), MARKER, "libmismatched.so");
    let unpinned = copy_as(dir.path(), MARKER, "libunpinned.so");
    let not_a_plugin = copy_as(
        dir.path(),
        femscale_plugin_fixture_c_broken::NOT_A_PLUGIN,
        "libnot_a_plugin.so",
    );
    let hash = |p: &Path| plugins::file_sha256(p).unwrap();
    let mut scan = PluginsConfig::default();
    scan.dirs = vec![dir.path().to_path_buf()];
    scan.require_pinned = true;
    scan.sha256 = pins(&[
        ("libcheb.so", &hash(&good)),
        ("libmismatched.so", WRONG),
        ("libnot_a_plugin.so", &hash(&not_a_plugin)),
    ]);
    let result = plugins::scan_configured(&scan).unwrap();
    let names: Vec<&str> = result.loaded.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["chebyshev"]);
    let skipped: Vec<(String, bool, String)> = result
        .skipped
        .iter()
        .map(|s| {
            (
                s.path.file_name().unwrap().to_string_lossy().into_owned(),
                s.refused_before_opening,
                s.reason.clone(),
            )
        })
        .collect();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert_eq!(skipped[0].0, "libmismatched.so");
    assert!(skipped[0].1 && skipped[0].2.contains("pins"), "{skipped:?}");
    assert_eq!(skipped[1].0, "libnot_a_plugin.so");
    assert!(
        !skipped[1].1 && skipped[1].2.contains("not a femscale plugin"),
        "{skipped:?}"
    );
    assert_eq!(skipped[2].0, "libunpinned.so");
    assert!(
        skipped[2].1 && skipped[2].2.contains("require_pinned"),
        "{skipped:?}"
    );
    for refused in [&mismatched, &unpinned] {
        assert!(
            !marker_of(&refused.canonicalize().unwrap()).exists(),
            "{} ran its initialiser",
            refused.display()
        );
    }
    // A named path is stricter than a scan: the same refusal stops the run.
    let mut named = scan.clone();
    named.dirs.clear();
    named.paths = vec![unpinned.clone()];
    assert!(matches!(
        plugins::load_configured(&named),
        Err(Error::Plugin { .. })
    ));
}
