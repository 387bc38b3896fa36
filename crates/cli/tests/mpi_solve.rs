//! `mpirun -n P femscale solve --set solver.kind="distributed-cg"` under a real `mpirun`: the
//! same solution as one process (L2 and H1 errors equal to 6 digits) on 2 and 4 ranks for 2D
//! and 3D, P1 and P2, generated and Gmsh meshes; other solvers are refused on several ranks.
//! Skips like `mpi_sweep.rs` without MPI (fails under FEMSCALE_REQUIRE_MPI=1).

use std::path::Path;

use mpi_common::{femscale, mpi_available, text};

mod mpi_common;

fn configs() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs")
}

/// `femscale solve --json` of `config` with `sets`, on `ranks` ranks (0: no mpirun).
fn solve(ranks: usize, config: &str, sets: &[&str]) -> serde_json::Value {
    let path = configs().join(config);
    let mut args = vec!["solve", "--json", "--config", path.to_str().unwrap()];
    for s in sets {
        args.extend(["--set", s]);
    }
    let o = femscale(Path::new(env!("CARGO_MANIFEST_DIR")), ranks, &args);
    assert!(
        o.status.success(),
        "{config} on {ranks} ranks: {}",
        text(&o)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    // Rank 0 alone prints the report.
    assert_eq!(stdout.matches("\"dofs\"").count(), 1, "{stdout}");
    serde_json::from_str(&stdout).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs()
}

#[test]
fn distributed_cg_gives_the_serial_solution_on_2_and_4_ranks() {
    if !mpi_available("distributed_cg_gives_the_serial_solution_on_2_and_4_ranks") {
        return;
    }
    let cases: [(&str, &[&str]); 4] = [
        (
            "poisson_2d_mms.toml",
            &["problem.mesh.nx=32", "problem.mesh.ny=32"],
        ),
        (
            "poisson_3d.toml",
            &[
                "problem.mesh.nx=8",
                "problem.mesh.ny=8",
                "problem.mesh.nz=8",
            ],
        ),
        (
            "poisson_2d_p2.toml",
            &["problem.mesh.nx=12", "problem.mesh.ny=12"],
        ),
        ("two_materials_gmsh.toml", &["problem.mesh.refinements=1"]),
    ];
    for (config, sets) in cases {
        let mut sets: Vec<&str> = sets.to_vec();
        sets.push("solver.tolerance=1e-11");
        let serial = solve(0, config, &[&sets[..], &["solver.kind=\"cg\""]].concat());
        for ranks in [1, 2, 4] {
            let d = solve(
                ranks,
                config,
                &[&sets[..], &["solver.kind=\"distributed-cg\""]].concat(),
            );
            assert!(
                d["solver"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("({ranks} ranks)")),
                "{d}"
            );
            assert_eq!(d["dofs"], serial["dofs"], "{config}");
            // Each rank assembles its rows' cells only; their rows together are the matrix.
            assert_eq!(d["nnz"], serial["nnz"], "{config} on {ranks} ranks");
            assert_eq!(d["dirichlet_dofs"], serial["dirichlet_dofs"], "{config}");
            for norm in ["l2_error", "h1_error"] {
                let (a, b) = (d[norm].as_f64().unwrap(), serial[norm].as_f64().unwrap());
                assert!(close(a, b), "{config} on {ranks} ranks: {norm} {a} vs {b}");
            }
            assert!(
                d["verified_relative_residual"].as_f64().unwrap() < 1e-9,
                "{d}"
            );
            // The ranks' report, gathered on rank 0.
            let r = &d["linear_solve"]["ranks"];
            assert_eq!(r["ranks"], ranks, "{r}");
            let (min, max) = (
                r["rows_min"].as_u64().unwrap(),
                r["rows_max"].as_u64().unwrap(),
            );
            assert!(max - min <= 1, "balanced rows: {r}");
            let messages = r["halo_messages_per_product"].as_u64().unwrap();
            assert_eq!(messages == 0, ranks == 1, "{r}");
            // The mesh is partitioned by coordinate bisection whatever its own numbering (the
            // refined Gmsh mesh numbers new nodes last): the halo is an interface, O(√n)
            // values in 2D, not a scatter of O(n).
            if !config.contains("3d") {
                let values = r["halo_bytes_per_product"].as_f64().unwrap() / 8.0;
                let dofs = d["dofs"].as_f64().unwrap();
                let bound = 6.0 * dofs.sqrt() * (ranks - 1) as f64;
                assert!(
                    values <= bound,
                    "{config} on {ranks} ranks: {values} halo values"
                );
            }
            assert_eq!(r["products"], d["iterations"].as_u64().unwrap() + 2, "{r}");
        }
    }
}

#[test]
fn metis_parts_give_the_serial_solution_with_rows_of_their_sizes() {
    if !mpi_available("metis_parts_give_the_serial_solution_with_rows_of_their_sizes") {
        return;
    }
    let cases: [(&str, &[&str]); 3] = [
        (
            "poisson_2d_mms.toml",
            &["problem.mesh.nx=40", "problem.mesh.ny=40"],
        ),
        ("two_materials_gmsh.toml", &["problem.mesh.refinements=2"]),
        (
            "poisson_3d.toml",
            &[
                "problem.mesh.nx=8",
                "problem.mesh.ny=8",
                "problem.mesh.nz=8",
            ],
        ),
    ];
    for (config, sets) in cases {
        let mut sets: Vec<&str> = sets.to_vec();
        sets.push("solver.tolerance=1e-11");
        let serial = solve(0, config, &[&sets[..], &["solver.kind=\"cg\""]].concat());
        for ranks in [2, 4] {
            let d = solve(
                ranks,
                config,
                &[
                    &sets[..],
                    &[
                        "solver.kind=\"distributed-cg\"",
                        "solver.partition=\"metis\"",
                    ],
                ]
                .concat(),
            );
            assert_eq!(d["nnz"], serial["nnz"], "{config} on {ranks} ranks");
            for norm in ["l2_error", "h1_error"] {
                let (a, b) = (d[norm].as_f64().unwrap(), serial[norm].as_f64().unwrap());
                assert!(close(a, b), "{config} on {ranks} ranks: {norm} {a} vs {b}");
            }
            // The ranks own METIS's parts: their sizes add up to the unknowns, balanced
            // within METIS's 3 % (plus rounding on small meshes).
            let r = &d["linear_solve"]["ranks"];
            let rows: Vec<u64> = r["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            let dofs = d["dofs"].as_u64().unwrap();
            assert_eq!(rows.len(), ranks, "{r}");
            assert_eq!(rows.iter().sum::<u64>(), dofs, "{r}");
            let mean = dofs as f64 / ranks as f64;
            assert!(
                rows.iter().all(|&n| n as f64 <= 1.03 * mean + 2.0),
                "{config} on {ranks} ranks: rows {rows:?}"
            );
            if !config.contains("3d") {
                let values = r["halo_bytes_per_product"].as_f64().unwrap() / 8.0;
                let bound = 6.0 * (dofs as f64).sqrt() * (ranks - 1) as f64;
                assert!(
                    values <= bound,
                    "{config} on {ranks} ranks: {values} halo values"
                );
            }
        }
    }
}

#[test]
fn distributed_gmres_and_bicgstab_give_the_serial_solution_with_a_robin_boundary() {
    if !mpi_available(
        "distributed_gmres_and_bicgstab_give_the_serial_solution_with_a_robin_boundary",
    ) {
        return;
    }
    let sets = [
        "problem.mesh.nx=24",
        "problem.mesh.ny=24",
        "solver.tolerance=1e-11",
    ];
    let serial = solve(
        0,
        "mixed_bc_2d.toml",
        &[&sets[..], &["solver.kind=\"cg\""]].concat(),
    );
    for kind in ["distributed-gmres", "distributed-bicgstab"] {
        for ranks in [2, 4] {
            let kind_set = format!("solver.kind=\"{kind}\"");
            let d = solve(
                ranks,
                "mixed_bc_2d.toml",
                &[&sets[..], &[kind_set.as_str()]].concat(),
            );
            let solver = d["solver"].as_str().unwrap();
            assert!(solver.contains(&format!("{kind} ({ranks} ranks)")), "{d}");
            assert!(
                d["preconditioner"]
                    .as_str()
                    .unwrap()
                    .contains("distributed"),
                "{d}"
            );
            for norm in ["l2_error", "h1_error"] {
                let (a, b) = (d[norm].as_f64().unwrap(), serial[norm].as_f64().unwrap());
                assert!(close(a, b), "{kind} on {ranks} ranks: {norm} {a} vs {b}");
            }
            assert!(
                d["verified_relative_residual"].as_f64().unwrap() < 1e-9,
                "{d}"
            );
        }
    }
}

#[test]
fn a_distributed_solve_writes_a_pvtu_with_one_piece_per_rank() {
    if !mpi_available("a_distributed_solve_writes_a_pvtu_with_one_piece_per_rank") {
        return;
    }
    use vtkio::model::{Attribute, DataSet};
    let dir = tempfile::tempdir().unwrap();
    let path = configs().join("poisson_2d_mms.toml");
    let out = dir.path().join("u.vtu");
    let o = femscale(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        2,
        &[
            "solve",
            "--config",
            path.to_str().unwrap(),
            "--set",
            "problem.mesh.nx=16",
            "--set",
            "problem.mesh.ny=16",
            "--set",
            "solver.kind=\"distributed-cg\"",
            "--vtu",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let pvtu = dir.path().join("u.pvtu");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("u.pvtu"),
        "{}",
        text(&o)
    );
    let vtk = vtkio::Vtk::import(&pvtu).unwrap_or_else(|e| panic!("vtkio: {e}"));
    let DataSet::UnstructuredGrid { pieces, .. } = vtk.data else {
        panic!("not an UnstructuredGrid");
    };
    assert_eq!(pieces.len(), 2);
    let (mut cells, mut facets, mut max_u) = (0, 0, 0.0f64);
    for (rank, piece) in pieces.into_iter().enumerate() {
        let piece = piece.into_loaded_piece_data(Some(&pvtu)).unwrap();
        cells += piece.cells.types.len();
        for a in piece.data.point {
            if let Attribute::DataArray(d) = a {
                let u = d.data.into_vec::<f64>().unwrap();
                max_u = u.iter().copied().fold(max_u, f64::max);
            }
        }
        for a in piece.data.cell {
            // `rank` on every cell (and facet cell) of the piece; `boundary` on the facet
            // cells of the marked boundary parts (-1 on the triangles).
            if let Attribute::DataArray(d) = a {
                if d.name == "rank" {
                    let ranks = d.data.into_vec::<f64>().unwrap();
                    assert!(ranks.iter().all(|&r| r == rank as f64));
                } else {
                    assert_eq!(d.name, "boundary");
                    let ids = d.data.into_vec::<i32>().unwrap();
                    facets += ids.iter().filter(|&&id| id >= 0).count();
                }
            }
        }
    }
    // 16 x 16 squares, two triangles each, every cell in one piece, and the 64 boundary
    // edges of the marked parts, each in one piece; u = sin(πx) sin(πy).
    assert_eq!(cells, 2 * 16 * 16 + facets);
    assert_eq!(facets, 4 * 16);
    assert!((max_u - 1.0).abs() < 0.01, "{max_u}");
}

#[test]
fn an_error_on_one_rank_ends_the_job_instead_of_leaving_the_others_waiting() {
    if !mpi_available("an_error_on_one_rank_ends_the_job_instead_of_leaving_the_others_waiting") {
        return;
    }
    // The boundary value is NaN for x < 0.2: only the rank that owns the left part of the
    // square (coordinate bisection splits at x = 0.5) meets it, in assembly; the other would
    // wait for it in the solver's first collective.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nan.toml");
    std::fs::write(
        &config,
        r#"[problem]
mesh = { kind = "rectangle", x = [0.0, 1.0], y = [0.0, 1.0], nx = 32, ny = 32, cell = "triangle" }
source = "1"
boundary = [{ where = "all", kind = "dirichlet", value = "sqrt(x - 0.2)" }]
[solver]
kind = "distributed-cg"
"#,
    )
    .unwrap();
    let child = std::process::Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "2"])
        .arg(env!("CARGO_BIN_EXE_femscale"))
        .args(["solve", "--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (ok, stderr) = within_a_minute(child, "after one failed");
    assert!(!ok);
    assert!(
        stderr.contains("error on rank") && stderr.contains("problem.boundary[0].value"),
        "{stderr}"
    );
}

#[test]
fn other_solvers_are_refused_on_several_ranks() {
    if !mpi_available("other_solvers_are_refused_on_several_ranks") {
        return;
    }
    let path = configs().join("poisson_2d_mms.toml");
    let o = femscale(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        2,
        &[
            "solve",
            "--config",
            path.to_str().unwrap(),
            "--set",
            "solver.kind=\"cg\"",
        ],
    );
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("solver.kind") && err.contains("distributed-cg"),
        "{err}"
    );
}

#[cfg(not(feature = "mpi"))]
#[test]
fn a_launch_on_several_ranks_without_the_mpi_feature_is_refused() {
    let path = configs().join("poisson_2d_mms.toml");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_femscale"))
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .args(["solve", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`mpi` feature") && err.contains("OMPI_COMM_WORLD_SIZE"),
        "{err}"
    );
}

#[test]
fn distributed_cg_runs_on_one_rank_without_a_launcher() {
    let d = solve(
        0,
        "poisson_2d_mms.toml",
        &[
            "problem.mesh.nx=16",
            "problem.mesh.ny=16",
            "solver.kind=\"distributed-cg\"",
        ],
    );
    assert!(d["solver"].as_str().unwrap().contains("(1 ranks)"), "{d}");
    assert!(d["l2_error"].as_f64().unwrap() < 1e-2, "{d}");
    // One process writes one `.vtu` file where it was asked to.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("u.vtu");
    let config = configs().join("poisson_2d_mms.toml");
    let o = femscale(
        dir.path(),
        0,
        &[
            "solve",
            "--config",
            config.to_str().unwrap(),
            "--vtu",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let vtk = vtkio::Vtk::import(&out).unwrap_or_else(|e| panic!("vtkio: {e}"));
    assert!(matches!(
        vtk.data,
        vtkio::model::DataSet::UnstructuredGrid { .. }
    ));
    assert!(!dir.path().join("u.pvtu").exists());
}

/// `mpirun -n 1 femscale solve ... : -n 1 <the same with a difference>` within a minute:
/// whether it succeeded, and its standard error.
fn mpmd(dir: &Path, config: &Path, second: &[&str], env: Option<(&str, &str)>) -> (bool, String) {
    let exe = env!("CARGO_BIN_EXE_femscale");
    let base = ["solve", "--config", config.to_str().unwrap()];
    let mut cmd = std::process::Command::new("mpirun");
    cmd.current_dir(dir)
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "1", exe])
        .args(base)
        .args([":", "-n", "1"]);
    if let Some((k, v)) = env {
        cmd.args(["-x", &format!("{k}={v}")]);
    }
    let child = cmd
        .arg(exe)
        .args(base)
        .args(second)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    within_a_minute(child, "later")
}

/// Whether `child` (an `mpirun` job) succeeded, and its standard error; a job still running a
/// minute later is killed and the test fails (`when` says after what).
fn within_a_minute(mut child: std::process::Child, when: &str) -> (bool, String) {
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the ranks still wait a minute {when}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let output = child.wait_with_output().unwrap();
    (
        status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn ranks_given_different_problems_or_outputs_fail_instead_of_mixing_or_waiting() {
    if !mpi_available("ranks_given_different_problems_or_outputs_fail_instead_of_mixing_or_waiting")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        r#"[problem]
mesh = { kind = "rectangle", nx = 16, ny = 16 }
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"
[solver]
kind = "distributed-cg"
"#,
    )
    .unwrap();
    // The source from an environment variable on the second rank only.
    let (ok, stderr) = mpmd(
        dir.path(),
        &config,
        &[],
        Some(("FEMSCALE_PROBLEM__SOURCE", "4*pi^2*sin(pi*x)*sin(pi*y)")),
    );
    assert!(!ok);
    assert!(stderr.contains("has another configuration"), "{stderr}");
    // `--vtu` on the second rank only.
    let (ok, stderr) = mpmd(dir.path(), &config, &["--vtu", "u.vtu"], None);
    assert!(!ok);
    assert!(stderr.contains("--vtu on some ranks only"), "{stderr}");
}
