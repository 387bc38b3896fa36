//! `--log-format json` (and `FEMSCALE_LOG_FORMAT`): one JSON object per stderr line, with
//! span context.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn quickstart() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/configs/quickstart_1d.toml")
        .display()
        .to_string()
}

/// Runs `femscale` with `env` set and `FEMSCALE_LOG_FORMAT`/`RUST_LOG` otherwise unset.
fn femscale(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_femscale"));
    cmd.args(args)
        .env_remove("FEMSCALE_LOG_FORMAT")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

/// Every stderr line parsed as JSON (failing on any line that is not).
fn json_lines(o: &Output) -> Vec<Value> {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "failed: {stderr}");
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "no log lines");
    lines
}

/// Names of the spans enclosing an event (`spans`, outermost first).
fn span_names(event: &Value) -> Vec<&str> {
    event["spans"]
        .as_array()
        .map(|spans| spans.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn json_logs_are_one_object_per_line_with_span_context() {
    let config = quickstart();
    let o = femscale(
        &[
            "--log-format",
            "json",
            "--log",
            "info",
            "solve",
            "--config",
            &config,
        ],
        &[],
    );
    let lines = json_lines(&o);
    let solved = lines
        .iter()
        .find(|l| l["fields"]["message"] == "solved")
        .expect("a `solved` event");
    assert_eq!(solved["level"], "INFO");
    assert!(solved["fields"]["dofs"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(solved["span"]["name"], "fem.solve", "{solved}");
    assert!(
        lines.iter().any(|l| span_names(l)
            .iter()
            .any(|n| *n == "fem.solve" || *n == "fem.phase")),
        "a span named fem.solve or fem.phase"
    );
    // The summary still goes to stdout, untouched.
    assert!(String::from_utf8_lossy(&o.stdout).contains("dofs"));
}

#[test]
fn json_span_lists_carry_the_phase_fields() {
    let config = quickstart();
    let o = femscale(
        &["--log", "debug", "solve", "--config", &config],
        &[("FEMSCALE_LOG_FORMAT", "json")],
    );
    let lines = json_lines(&o);
    let phase = lines
        .iter()
        .flat_map(|l| l["spans"].as_array().cloned().unwrap_or_default())
        .find(|s| s["name"] == "fem.phase")
        .expect("an event inside a fem.phase span");
    assert!(phase["phase"].is_string(), "{phase}");
}

#[test]
fn text_is_the_default_and_a_bad_format_is_a_usage_error() {
    let config = quickstart();
    let o = femscale(&["--log", "info", "solve", "--config", &config], &[]);
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("solved"), "{stderr}");
    assert!(!stderr.trim_start().starts_with('{'), "{stderr}");

    // The option wins over the environment.
    let o = femscale(
        &[
            "--log-format",
            "text",
            "--log",
            "info",
            "solve",
            "--config",
            &config,
        ],
        &[("FEMSCALE_LOG_FORMAT", "json")],
    );
    assert!(
        !String::from_utf8_lossy(&o.stderr)
            .trim_start()
            .starts_with('{')
    );

    let o = femscale(&["--log-format", "xml", "solve"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = femscale(
        &["solve", "--config", &config],
        &[("FEMSCALE_LOG_FORMAT", "xml")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("FEMSCALE_LOG_FORMAT"));
}

/// A plan's warning (here: `auto` picks the direct solver, which leaves the configured AMG
/// unused) is logged once per solve, also by the adaptive loop, which plans every step
/// (review A: once per plan, 12 times in an adaptive run; twice in a plain solve).
#[test]
fn a_plan_warning_is_logged_once() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs");
    let count = |config: &str, extra: &[&str]| {
        let config = examples.join(config).display().to_string();
        let mut args = vec![
            "solve",
            "--config",
            &config,
            "--set",
            "solver.kind=\"auto\"",
            "--set",
            "solver.preconditioner=\"amg\"",
        ];
        args.extend_from_slice(extra);
        let o = femscale(&args, &[]);
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "{stderr}");
        stderr.matches("solver.preconditioner = amg unused").count()
    };
    assert_eq!(count("quickstart_1d.toml", &[]), 1);
    let budget = ["--set", "adaptivity.max_dofs=3000"];
    assert_eq!(count("lshape_adaptive.toml", &budget), 1);
}
