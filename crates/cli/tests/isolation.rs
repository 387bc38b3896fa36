//! `plugins.isolation = "process"` end to end through the `femscale` binary: plugins that
//! segfault, abort, loop or exhaust memory become typed errors naming the plugin and the cause,
//! the host exits normally (status 1), a sweep over such plugins completes and records the good
//! runs, and good plugins give the same results as in-process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The cdylib of the workspace plugin crate `crate_name`, built next to this test binary
/// because it is a dev-dependency.
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

/// Every plugin these tests load.
fn all_plugins() -> Vec<PathBuf> {
    vec![
        PathBuf::from(femscale_plugin_fixture_c_segfault::LIBRARY_PATH),
        PathBuf::from(femscale_plugin_fixture_c_loop::LIBRARY_PATH),
        PathBuf::from(femscale_plugin_fixture_c_abort::LIBRARY_PATH),
        rust_plugin("femscale_plugin_fixture_aborts"),
        PathBuf::from(femscale_plugin_c_cg::LIBRARY_PATH),
        rust_plugin("femscale_plugin_chebyshev"),
    ]
}

/// A 2D Poisson problem on an `n` x `n` mesh solved by `kind`, loading every plugin, with
/// `isolation` and `extra` solver keys.
fn config(n: usize, kind: &str, isolation: &str, solver_extra: &str) -> String {
    let paths: Vec<String> = all_plugins()
        .iter()
        .map(|p| format!("'{}'", p.display()))
        .collect();
    format!(
        r#"
[problem]
mesh = {{ kind = "rectangle", nx = {n}, ny = {n} }}
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"

[solver]
kind = "{kind}"
tolerance = 1e-10
{solver_extra}

[plugins]
paths = [{}]
isolation = "{isolation}"
host_executable = '{}'
"#,
        paths.join(", "),
        env!("CARGO_BIN_EXE_femscale")
    )
}

fn femscale(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_femscale"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `femscale solve --json` of `config_text`; returns the output and the wall time.
fn solve(config_text: &str) -> (Output, Duration) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), config_text).unwrap();
    let start = Instant::now();
    let o = femscale(dir.path(), &["solve", "--config", "c.toml", "--json"]);
    (o, start.elapsed())
}

/// Asserts a normal exit with status 1 (not a signal, not a panic) and every needle in stderr.
fn assert_typed_failure(o: &Output, needles: &[&str]) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "status {:?}: {err}", o.status);
    assert!(!err.contains("panicked"), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks `{needle}`: {err}");
    }
}

#[test]
fn a_segfaulting_c_plugin_is_a_typed_error_and_the_host_exits_normally() {
    let (o, _) = solve(&config(8, "plugin:c-segfault", "process", ""));
    assert_typed_failure(&o, &["c-segfault", "signal 11", "SIGSEGV", "solve"]);
}

#[test]
fn in_process_the_same_segfault_kills_the_host() {
    use std::os::unix::process::ExitStatusExt;
    let (o, _) = solve(&config(8, "plugin:c-segfault", "in-process", ""));
    assert_eq!(o.status.signal(), Some(11), "{:?}", o.status);
}

#[test]
fn an_aborting_c_plugin_is_a_typed_error() {
    let (o, _) = solve(&config(8, "plugin:c-abort", "process", ""));
    assert_typed_failure(&o, &["c-abort", "signal 6", "SIGABRT"]);
}

#[test]
fn an_aborting_rust_plugin_is_a_typed_error_with_its_last_words() {
    let (o, _) = solve(&config(8, "plugin:rust-abort", "process", ""));
    assert_typed_failure(
        &o,
        &["fixture-aborts", "SIGABRT", "this plugin aborts on panic"],
    );
}

#[test]
fn a_looping_c_plugin_is_killed_at_the_timeout() {
    let (o, elapsed) = solve(&config(
        8,
        "plugin:c-loop",
        "process",
        "timeout_seconds = 1",
    ));
    assert_typed_failure(
        &o,
        &["c-loop", "solver.timeout_seconds = 1", "was killed after"],
    );
    // One second plus the grace of 0.5 s, plus start-up; far from forever.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn a_plugin_beyond_the_memory_limit_is_a_typed_error_naming_the_limit() {
    let (o, _) = solve(&config(
        8,
        "plugin:memory-hog",
        "process",
        "memory_limit_mb = 64",
    ));
    assert_typed_failure(
        &o,
        &[
            "fixture-aborts",
            "solver.memory_limit_mb = 64",
            "address space limited to",
            "memory allocation of",
        ],
    );
}

#[test]
fn an_unknown_isolation_value_names_the_key() {
    let (o, _) = solve(&config(8, "plugin:c-jacobi-cg", "sandbox", ""));
    let err = text(&o.stderr);
    assert!(
        !o.status.success() && err.contains("isolation") && err.contains("in-process"),
        "{err}"
    );
}

#[test]
fn a_missing_host_executable_names_the_key() {
    let text_config = config(8, "plugin:c-jacobi-cg", "process", "")
        .replace(env!("CARGO_BIN_EXE_femscale"), "/nonexistent/femscale");
    let (o, _) = solve(&text_config);
    assert_typed_failure(&o, &["plugins.host_executable", "/nonexistent/femscale"]);
}

/// `(iterations, final residual, L2 error)` of a successful `solve --json`.
fn numbers(o: &Output) -> (u64, f64, f64) {
    assert!(o.status.success(), "{}", text(&o.stderr));
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    let residual = [
        "final_residual",
        "final_relative_residual",
        "verified_relative_residual",
    ]
    .iter()
    .find_map(|k| m[*k].as_f64())
    .expect("a residual in the metrics");
    (
        m["iterations"].as_u64().expect("iterations"),
        residual,
        m["l2_error"].as_f64().expect("l2_error"),
    )
}

#[test]
fn good_plugins_give_the_same_results_isolated_and_in_process() {
    for kind in ["plugin:c-jacobi-cg", "plugin:chebyshev-cg"] {
        let (inside, _) = solve(&config(24, kind, "in-process", ""));
        let (isolated, _) = solve(&config(24, kind, "process", ""));
        let (a, b) = (numbers(&inside), numbers(&isolated));
        assert_eq!(a.0, b.0, "{kind}: iterations");
        assert!(a.0 > 1, "{kind}: an iterative solve");
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1e-300);
        assert!(close(a.1, b.1), "{kind}: residual {} vs {}", a.1, b.1);
        assert!(close(a.2, b.2), "{kind}: L2 error {} vs {}", a.2, b.2);
    }
}

#[test]
fn a_sweep_over_crashing_and_good_plugins_completes_and_records_both() {
    let dir = tempfile::tempdir().unwrap();
    let kinds = [
        "plugin:c-segfault",
        "plugin:c-loop",
        "plugin:c-abort",
        "plugin:rust-abort",
        "plugin:c-jacobi-cg",
        "plugin:chebyshev-cg",
    ];
    let list: Vec<String> = kinds.iter().map(|k| format!("\"{k}\"")).collect();
    let experiment = format!(
        "{}\n[experiment]\nname = \"crashes\"\n\n[sweep]\n\"solver.kind\" = [{}]\n",
        config(8, "cg", "process", "timeout_seconds = 1"),
        list.join(", ")
    );
    std::fs::write(dir.path().join("crashes.toml"), experiment).unwrap();
    let o = femscale(dir.path(), &["run", "crashes.toml", "--parallel-runs", "1"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "some runs failed: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let results = std::fs::read_to_string(dir.path().join("results/crashes/results.jsonl"))
        .expect("results written");
    let records: Vec<serde_json::Value> = results
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(records.len(), kinds.len(), "{results}");
    for record in &records {
        let text = record.to_string();
        let kind = kinds
            .iter()
            .find(|k| text.contains(*k))
            .unwrap_or_else(|| panic!("which point? {text}"));
        let good = matches!(*kind, "plugin:c-jacobi-cg" | "plugin:chebyshev-cg");
        assert_eq!(record["ok"] == true, good, "{kind}: {text}");
        if good {
            assert!(
                record["metrics"]["iterations"].as_u64().unwrap_or(0) > 1,
                "{text}"
            );
        } else {
            let cause = match *kind {
                "plugin:c-segfault" => "SIGSEGV",
                "plugin:c-loop" => "solver.timeout_seconds",
                _ => "SIGABRT",
            };
            assert!(text.contains(cause), "{kind}: {text}");
        }
    }
}

/// A solve in the child is bounded by what the caller's monitor says remains, not by a fresh
/// `timeout_seconds` per call: a second solve on the same set-up (the correction that confirms
/// a solution, another right-hand side) gets what is left of the budget.
#[test]
fn an_isolated_solve_gets_what_remains_of_the_budget() {
    use std::ops::ControlFlow;

    use femscale::core::SolveMonitor;
    use femscale::runtime::{Config, FemSolver};

    struct Remaining(f64);
    impl SolveMonitor for Remaining {
        fn on_iteration(&mut self, _: usize, _: f64) -> ControlFlow<()> {
            ControlFlow::Continue(())
        }
        fn remaining_seconds(&self) -> Option<f64> {
            Some(self.0)
        }
    }

    let config = Config::from_toml_str(&config(
        8,
        "plugin:c-loop",
        "process",
        "timeout_seconds = 30",
    ))
    .unwrap();
    let fem = FemSolver::from_config(config).unwrap();
    let op = fem.assemble(&fem.config().problem).unwrap();
    let mut prepared = fem.prepare(&op).unwrap();
    let mut u = vec![0.0; op.rhs.len()];
    let start = Instant::now();
    // The plugin loops forever; 0.2 s remain, plus the grace of a 30 s limit (3 s).
    let e = prepared
        .solve(&op.rhs, &mut u, &mut Remaining(0.2))
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "killed after {took:?}, not near 3.2 s: {e}"
    );
    assert!(e.to_string().contains("c-loop"), "{e}");
}
