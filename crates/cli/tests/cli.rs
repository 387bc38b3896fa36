//! The `femscale` binary end to end: help, JSON output, accuracy, and error reporting.

use std::path::PathBuf;
use std::process::{Command, Output};

fn femscale(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_femscale"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn config(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/configs")
        .join(name)
        .display()
        .to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "failed: {}", stderr(o));
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(
        text.trim().lines().count(),
        1,
        "exactly one JSON line expected: {text}"
    );
    serde_json::from_str(text.trim()).expect("valid JSON")
}

/// Runs a failing command and returns its stderr after checking the exit code and stdout.
fn failure(args: &[&str]) -> String {
    let o = femscale(args);
    assert!(!o.status.success(), "expected failure for {args:?}");
    assert!(o.stdout.is_empty(), "nothing on stdout on failure");
    let e = stderr(&o);
    assert!(e.starts_with("error: "), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

#[test]
fn help_is_complete() {
    let top = femscale(&["--help"]);
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(top.status.success());
    assert!(text.contains("solve") && text.contains("--log"), "{text}");
    let solve = String::from_utf8_lossy(&femscale(&["solve", "--help"]).stdout).into_owned();
    for flag in ["--config", "--set", "--json", "KEY=VALUE"] {
        assert!(solve.contains(flag), "solve --help lacks {flag}: {solve}");
    }
}

#[test]
fn json_report_has_the_documented_fields() {
    let v = json(&femscale(&[
        "solve",
        "--config",
        &config("quickstart_1d.toml"),
        "--json",
    ]));
    for key in [
        "dofs",
        "num_elements",
        "solver",
        "iterations",
        "final_relative_residual",
        "verified_relative_residual",
        "total_solve_time",
        "phases",
        "parallel_assembly_used",
        "l2_error",
        "h1_error",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["dofs"], 101);
    assert_eq!(v["num_elements"], 100);
    assert!(
        v["l2_error"].as_f64().unwrap() < 1e-13,
        "linear solution reproduced"
    );
    for phase in [
        "mesh",
        "pattern",
        "assembly",
        "boundary_conditions",
        "setup",
        "solve",
        "post",
    ] {
        assert!(
            v["phases"][phase].as_f64().is_some(),
            "missing phase {phase}"
        );
    }
}

#[test]
fn a_preconditioner_the_direct_solver_would_ignore_is_refused() {
    let mms = config("poisson_2d_mms.toml");
    let err = failure(&["solve", "--config", &mms, "--set", "solver.kind=direct"]);
    for says in [
        "solver.preconditioner",
        "solver.kind",
        "amg",
        "poisson_2d_mms.toml",
    ] {
        assert!(err.contains(says), "{says}: {err}");
    }
}

#[test]
fn mms_l2_error_is_second_order() {
    let mms = config("poisson_2d_mms.toml");
    let l2 = |n: usize| {
        let nx = format!("problem.mesh.nx={n}");
        let ny = format!("problem.mesh.ny={n}");
        let v = json(&femscale(&[
            "solve",
            "--config",
            &mms,
            "--set",
            &nx,
            "--set",
            &ny,
            "--set",
            "solver.kind=direct",
            // The file's `jacobi` (for its CG) would be ignored by the direct solver: refused.
            "--set",
            "solver.preconditioner=none",
            "--json",
        ]));
        assert_eq!(v["solver"], "direct-cholesky");
        v["l2_error"].as_f64().unwrap()
    };
    let (coarse, fine) = (l2(128), l2(256));
    let ratio = coarse / fine;
    assert!(
        (3.6..=4.4).contains(&ratio),
        "L2 {coarse:e} -> {fine:e}, ratio {ratio}"
    );
    assert!(fine < 3e-5, "{fine}");
}

#[test]
fn human_summary_names_solver_and_errors() {
    let o = femscale(&[
        "solve",
        "--config",
        &config("mixed_bc_2d.toml"),
        "--set",
        "problem.mesh.nx=16",
        "--set",
        "problem.mesh.ny=16",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Q1") && text.contains("direct-cholesky") && text.contains("L2"),
        "{text}"
    );
    assert!(
        text.contains("mesh        256 quadrilateral cells, 289 nodes, quality 1.000 to 1.000"),
        "{text}"
    );
}

#[test]
fn missing_config_file_is_reported() {
    let e = failure(&["solve", "--config", "/nonexistent/x.toml"]);
    assert!(e.contains("/nonexistent/x.toml"), "{e}");
}

#[test]
fn unknown_keys_name_key_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(
        &path,
        "[problem]\ndim = 2\n\n[solver]\nkind = \"cg\"\ntolerence = 1e-6\n",
    )
    .unwrap();
    let e = failure(&["solve", "--config", path.to_str().unwrap()]);
    assert!(
        e.contains("solver.tolerence") && e.contains("typo.toml:6") && e.contains("tolerance"),
        "{e}"
    );
}

#[test]
fn bad_values_name_the_field() {
    let mms = config("poisson_2d_mms.toml");
    let e = failure(&["solve", "--config", &mms, "--set", "problem.mesh.nx=0"]);
    assert!(e.contains("problem.mesh.nx"), "{e}");
    let e = failure(&["solve", "--config", &mms, "--set", "problem.mesh.nx=-3"]);
    assert!(e.contains("problem.mesh.nx"), "{e}");
    let e = failure(&[
        "solve",
        "--config",
        &mms,
        "--set",
        "problem.mesh.x=[1.0, 0.0]",
    ]);
    assert!(
        e.contains("problem.mesh.x") && e.contains("reversed"),
        "{e}"
    );
    let e = failure(&[
        "solve",
        "--config",
        &mms,
        "--set",
        "problem.source=2*sin(pi*x",
    ]);
    assert!(e.contains("problem.source") && e.contains("column"), "{e}");
    let e = failure(&["solve", "--config", &mms, "--set", "problem.diffusion=nan"]);
    assert!(e.contains("problem.diffusion"), "{e}");
    let e = failure(&["solve", "--config", &mms, "--set", "solver.kind=multigrid"]);
    assert!(e.contains("solver.kind") && e.contains("multigrid"), "{e}");
}

#[test]
fn unknown_boundary_parts_point_at_the_config_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("north.toml");
    std::fs::write(&path, "[problem]\nmesh = { kind = \"rectangle\", nx = 4, ny = 4 }\nboundary = [\n  { where = \"north\", kind = \"dirichlet\", value = 0.0 },\n]\n").unwrap();
    let e = failure(&["solve", "--config", path.to_str().unwrap()]);
    assert!(
        e.contains("north") && e.contains("bottom") && e.contains("problem.boundary[0].where"),
        "{e}"
    );
    assert!(e.contains("north.toml:4"), "{e}");
}

#[test]
fn overrides_are_named_even_without_a_config_file() {
    let e = failure(&["solve", "--set", "problem.mesh.nx=0"]);
    assert!(e.contains("--set problem.mesh.nx=0"), "{e}");
}

#[test]
fn config_show_reports_each_value_and_its_layer() {
    let mms = config("poisson_2d_mms.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_femscale"))
        .args([
            "config",
            "show",
            "--config",
            &mms,
            "--set",
            "problem.mesh.nx=8",
        ])
        .env("FEMSCALE_SOLVER__MAX_ITERATIONS", "77")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} missing: {text}"))
            .to_string()
    };
    assert!(
        line("problem.mesh.nx").ends_with("# --set problem.mesh.nx=8"),
        "{text}"
    );
    assert!(
        line("problem.source").contains("poisson_2d_mms.toml:12"),
        "{text}"
    );
    assert!(
        line("solver.max_iterations").contains("77")
            && line("solver.max_iterations").ends_with("FEMSCALE_SOLVER__MAX_ITERATIONS"),
        "{text}"
    );
    assert!(
        line("solver.gmres.restart").ends_with("# default"),
        "{text}"
    );
}

/// `femscale solve --json` of a 10-element interval with `args` after the mesh.
fn solve_interval(args: &[&str]) -> Output {
    let mut all = vec![
        "solve",
        "--json",
        "--set",
        "problem.mesh={ kind = \"interval\", nx = 10 }",
    ];
    all.extend_from_slice(args);
    femscale(&all)
}

/// Two natural conditions on the same facets add up (Neumann 5 on `all` and 1 on `right`:
/// the flux at the right end is 6), as the weak form says; the run says so, naming both, since
/// a later condition on a narrower part reads like an override. Disjoint parts stay quiet.
#[test]
fn overlapping_natural_conditions_add_up_and_are_named() {
    let overlapping = r#"problem.boundary=[{ where = "left", value = 0.0 }, { where = "all", kind = "neumann", value = 5.0 }, { where = "right", kind = "neumann", value = 1.0 }]"#;
    let run = |boundary: &str| {
        solve_interval(&[
            "--set",
            "problem.source=\"0\"",
            "--set",
            "problem.exact=\"6*x\"",
            "--set",
            boundary,
            "--set",
            "scaling.enable_caching=false",
        ])
    };
    let o = run(overlapping);
    // -u'' = 0, u(0) = 0, u'(1) = 5 + 1: u = 6x.
    let max = json(&o)["max_nodal_error"].as_f64().unwrap();
    assert!(max < 1e-9, "{max}");
    let e = stderr(&o);
    assert!(
        e.contains("problem.boundary[1] (neumann on `all`) and problem.boundary[2] (neumann on `right`) both apply to 1 boundary facet(s)"),
        "{e}"
    );
    let o = run(
        r#"problem.boundary=[{ where = "left", value = 0.0 }, { where = "right", kind = "neumann", value = 1.0 }]"#,
    );
    json(&o);
    assert!(!stderr(&o).contains("both apply"), "{}", stderr(&o));
    // A solution served by the disk cache is warned about as the solve was.
    let dir = tempfile::tempdir().unwrap();
    let disk_dir = format!("cache.disk_dir={:?}", dir.path().display().to_string());
    for served in [false, true] {
        let o = solve_interval(&[
            "--set",
            overlapping,
            "--set",
            "cache.levels=[\"disk\"]",
            "--set",
            "scaling.enable_caching=true",
            "--set",
            &disk_dir,
        ]);
        let reused = json(&o)["cache_reused"].as_array().unwrap().len();
        assert_eq!(reused > 0, served, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("both apply to 1 boundary facet(s)"),
            "{}",
            stderr(&o)
        );
    }
}

/// A `--vtu` path that cannot be written is refused before the solve (a missing directory, a
/// directory, a link, a socket); a write that fails after it still prints the report, then
/// fails.
#[test]
fn a_vtu_path_that_cannot_be_written_loses_no_result() {
    let dir = tempfile::tempdir().unwrap();
    let solve = |path: &std::path::Path| {
        solve_interval(&[
            "--set",
            "scaling.enable_caching=false",
            "--vtu",
            path.to_str().unwrap(),
        ])
    };
    let mut cases = vec![
        (dir.path().join("missing/u.vtu"), "not a directory"),
        (dir.path().to_path_buf(), "names a directory"),
    ];
    // What the writer would refuse after the solve is refused before it.
    #[cfg(unix)]
    let _listener = {
        let socket = dir.path().join("u.vtu");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let link = dir.path().join("link.vtu");
        std::os::unix::fs::symlink(dir.path().join("nowhere.vtu"), &link).unwrap();
        cases.push((socket, "not a regular file"));
        cases.push((link, "not a regular file"));
        listener
    };
    for (path, words) in cases {
        let o = solve(&path);
        assert!(!o.status.success());
        assert!(
            o.stdout.is_empty(),
            "solved before refusing {}",
            path.display()
        );
        let e = stderr(&o);
        assert!(e.contains("--vtu") && e.contains(words), "{e}");
    }
    #[cfg(unix)]
    {
        // A write that fails after the solve (a directory where the one-process `.pvtu`'s
        // piece goes, as a full disk would) prints the report, then fails.
        std::fs::create_dir(dir.path().join("p_0.vtu")).unwrap();
        let o = solve(&dir.path().join("p.pvtu"));
        assert!(!o.status.success());
        let text = String::from_utf8(o.stdout.clone()).unwrap();
        let report: serde_json::Value = serde_json::from_str(text.trim()).expect("the report");
        assert_eq!(report["dofs"], 11);
    }
}
