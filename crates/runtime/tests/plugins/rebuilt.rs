//! A plugin library rebuilt at the same path never gets the old library's cached results: the
//! cache keys include the library's content hash. Needs fresh processes (a process loads a
//! library once), so the test runs itself as a child with `FEMSCALE_TEST_CHILD_SOLVE` set.

use std::path::Path;
use std::process::Command;

use femscale_runtime::{Config, FemSolver};

use crate::common::chebyshev;

const CHILD: &str = "FEMSCALE_TEST_CHILD_SOLVE";

/// In a child process: solves the configuration file named by `FEMSCALE_TEST_CHILD_SOLVE` and
/// prints `cache_reused`; in the test process: does nothing.
#[test]
fn child_solve() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let config = Config::from_toml_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let s = FemSolver::from_config(config)
        .and_then(|s| s.solve_configured())
        .unwrap();
    let reused: Vec<String> = s
        .metrics
        .cache_reused
        .iter()
        .map(|r| r.to_string())
        .collect();
    println!("\nREUSED={}", reused.join(","));
}

fn solve_in_child(config: &Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "rebuilt::child_solve",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("REUSED=").map(|(_, v)| v.trim()))
        .unwrap_or_else(|| panic!("no REUSED line in {stdout}"))
        .to_string()
}

#[test]
fn a_rebuilt_plugin_at_the_same_path_misses_the_disk_cache() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join(chebyshev().file_name().unwrap());
    std::fs::copy(chebyshev(), &lib).unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[problem]
mesh = {{ kind = "rectangle", nx = 8, ny = 8 }}
source = 1.0
[solver]
kind = "plugin:chebyshev-cg"
tolerance = 1e-10
[scaling]
level = "minimal"
enable_caching = true
[cache]
levels = ["memory", "disk"]
disk_dir = {:?}
[plugins]
paths = [{:?}]
"#,
            dir.path().join("cache").display().to_string(),
            lib.display().to_string()
        ),
    )
    .unwrap();
    assert_eq!(solve_in_child(&config), "", "first solve computes");
    assert_eq!(
        solve_in_child(&config),
        "solution@disk",
        "the same library in a new process: served from the disk level"
    );
    // "Rebuild" the library: same path, same name and version, other bytes (trailing bytes
    // after the ELF image do not change what loads).
    let mut bytes = std::fs::read(&lib).unwrap();
    bytes.extend_from_slice(b"rebuilt");
    std::fs::write(&lib, bytes).unwrap();
    // The assembled operator does not depend on the solver and is still reused; the
    // solution must be computed by the new library.
    assert_eq!(
        solve_in_child(&config),
        "system@disk",
        "a rebuilt library must not get the old library's solution"
    );
}
