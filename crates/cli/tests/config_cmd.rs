//! `femscale config show` on experiment files, the thread count a solve reports, and errors in
//! values set through a parent key naming the `--set`.

use std::path::Path;
use std::process::{Command, Output};

fn femscale(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_femscale"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const EXPERIMENT: &str = r#"[problem]
mesh = { kind = "interval", nx = 4 }

[solver]
kind = "cg"

[experiment]
name = "shown"
repetitions = 3

[sweep]
"problem.mesh.nx" = [4, 8]
"solver.kind" = ["cg", "direct"]

[output]
dir = "out"
"#;

#[test]
fn config_show_accepts_an_experiment_file_and_shows_its_base_point() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.toml"), EXPERIMENT).unwrap();
    let o = femscale(
        dir.path(),
        &[
            "config",
            "show",
            "--config",
            "e.toml",
            "--set",
            "solver.tolerance=1e-9",
        ],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    let first = out.lines().next().unwrap();
    assert!(
        first.contains("base point of experiment `shown` with 4 points x 3 repetitions")
            && first.contains("problem.mesh.nx")
            && first.contains("solver.kind"),
        "{out}"
    );
    // The base values and their layers, no sweep values.
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("{key} missing: {out}"))
            .to_string()
    };
    assert!(line("solver.kind").contains("\"cg\"") && line("solver.kind").contains("e.toml:5"));
    assert!(
        line("problem.mesh.nx").contains("= 4") && line("problem.mesh.nx").contains("e.toml:2")
    );
    assert!(line("solver.tolerance").contains("--set solver.tolerance=1e-9"));
    assert!(
        !out.lines().any(|l| ["experiment.", "sweep.", "output."]
            .iter()
            .any(|p| l.starts_with(p))),
        "{out}"
    );

    // --json: stdout stays one JSON array, the note goes to stderr.
    let o = femscale(
        dir.path(),
        &["config", "show", "--config", "e.toml", "--json"],
    );
    let entries: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(entries.as_array().is_some_and(|a| a.len() > 20));
    assert!(text(&o.stderr).contains("base point of experiment `shown`"));

    // An experiment whose base is invalid is reported as for `femscale run`.
    std::fs::write(
        dir.path().join("bad.toml"),
        EXPERIMENT.replace(
            "kind = \"cg\"\n",
            "kind = \"cg\"\ntimeout_seconds = 1e300\n",
        ),
    )
    .unwrap();
    let o = femscale(dir.path(), &["config", "show", "--config", "bad.toml"]);
    let err = text(&o.stderr);
    assert!(
        !o.status.success() && err.contains("solver.timeout_seconds") && err.contains("bad.toml:6"),
        "{err}"
    );
}

#[test]
fn a_solve_reports_exactly_the_configured_threads() {
    let dir = tempfile::tempdir().unwrap();
    let o = femscale(
        dir.path(),
        &[
            "solve",
            "--json",
            "--set",
            "problem.mesh.nx=8",
            "--set",
            "problem.mesh.ny=8",
            "--set",
            "scaling.threads=2",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let metrics: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(metrics["threads"], 2, "{metrics}");
}

#[test]
fn errors_inside_a_parent_key_override_name_the_override() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[problem]\nmesh = { nx = 4, ny = 4 }\nboundary = [{ where = \"left\" }]\n",
    )
    .unwrap();
    let o = femscale(
        dir.path(),
        &[
            "solve",
            "--config",
            "c.toml",
            "--set",
            "problem.boundary=[{ where = \"left\" }, { where = \"north\" }]",
        ],
    );
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("problem.boundary[1].where")
            && err.contains("from --set problem.boundary=")
            && !err.contains("c.toml:3"),
        "{err}"
    );
}

#[test]
fn config_show_prints_values_longer_than_any_column() {
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<String> = (0..=10_000)
        .map(|i| format!("{}", f64::from(i) / 1e4))
        .collect();
    let long = format!(
        "problem.mesh={{kind=\"interval\",nodes=[{}]}}",
        nodes.join(",")
    );
    let o = femscale(dir.path(), &["config", "show", "--set", &long]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    let is_nodes = |l: &str| l.starts_with("problem.mesh.nodes");
    let source = out.lines().find(|l| is_nodes(l)).unwrap();
    assert!(
        source.contains("]  # --set problem.mesh="),
        "{}",
        &source[..80]
    );
    // The other lines keep their sources in one column.
    let columns: Vec<usize> = (out.lines())
        .filter(|l| !l.starts_with('#') && !is_nodes(l))
        .filter_map(|l| l.find("  # "))
        .collect();
    assert!(
        columns.len() > 5 && columns.iter().all(|&c| c == columns[0]),
        "{columns:?}"
    );
}

#[test]
fn a_pvtu_path_gives_a_pvtu_file_and_its_piece_on_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let o = femscale(
        dir.path(),
        &[
            "solve",
            "--set",
            "problem.mesh.nx=4",
            "--set",
            "problem.mesh.ny=4",
            "--vtu",
            "u.pvtu",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let pvtu = std::fs::read_to_string(dir.path().join("u.pvtu")).unwrap();
    assert!(
        pvtu.contains("<PUnstructuredGrid") && pvtu.contains("u_0.vtu"),
        "{pvtu}"
    );
    let piece = std::fs::read_to_string(dir.path().join("u_0.vtu")).unwrap();
    assert!(piece.contains("<UnstructuredGrid"), "{}", &piece[..200]);
    // A path that names a directory is refused, on one process as on several.
    let o = femscale(
        dir.path(),
        &["solve", "--set", "problem.mesh.nx=4", "--vtu", "out.pvtu/"],
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("names a directory"),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.path().join("out.pvtu").exists());
}

/// `FEMSCALE_PROBLEM__PARAMS__K` sets the file's parameter `K` (variable names are read in
/// lower case: it made a new, unused parameter `k`), and names that differ only in case are
/// an error naming the variable.
#[test]
fn an_environment_variable_sets_a_parameter_in_the_files_case() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "[problem]\nmesh = { kind = \"interval\", nx = 4 }\nparams = { K = 1.0 }\nsource = \"K\"\n",
    )
    .unwrap();
    let show = |var: &str, value: &str| {
        Command::new(env!("CARGO_BIN_EXE_femscale"))
            .args(["config", "show", "--config", "p.toml"])
            .current_dir(dir.path())
            .env(var, value)
            .output()
            .unwrap()
    };
    let o = show("FEMSCALE_PROBLEM__PARAMS__K", "2");
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(out.contains("problem.params.K = 2"), "{out}");
    assert!(!out.contains("problem.params.k"), "{out}");
    // A subdomain's name in a coefficient table, as the file writes it.
    std::fs::write(
        dir.path().join("p.toml"),
        "[problem]\nmesh = { kind = \"interval\", nx = 4 }\ndiffusion = { Copper = 1.0 }\n",
    )
    .unwrap();
    let o = show("FEMSCALE_PROBLEM__DIFFUSION__COPPER", "5");
    let out = text(&o.stdout);
    assert!(out.contains("problem.diffusion.Copper = 5"), "{out}");
    std::fs::write(
        dir.path().join("p.toml"),
        "[problem]\nmesh = { kind = \"interval\", nx = 4 }\nparams = { K = 1.0, k = 3.0 }\n",
    )
    .unwrap();
    let o = show("FEMSCALE_PROBLEM__PARAMS__K", "2");
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("FEMSCALE_PROBLEM__PARAMS__K") && err.contains("differ only in case"),
        "{err}"
    );
}
