//! A rank that fails alone before the distributed set-up (its mesh file missing) tells the
//! others: every rank returns an error, none waits for the failed one — for a solve and for an
//! adaptive loop, on in-process ranks (the MPI runs are in `crates/python/tests/test_mpi.py`).

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use femscale::distributed::ThreadRanks;
use femscale::prelude::*;

/// A distributed-CG solve of `-Δu = 1` on `mesh` with `threads` per rank; `adaptivity` lines
/// go into the `[adaptivity]` table.
fn config(mesh: &str, threads: usize, adaptivity: &str) -> Config {
    Config::from_toml_str(&format!(
        r#"
[problem]
dim = 2
mesh = {{ kind = "gmsh", path = "{mesh}" }}
source = "1"
boundary = [{{ where = "all", kind = "dirichlet", value = "0" }}]
[solver]
kind = "distributed-cg"
[scaling]
threads = {threads}
[adaptivity]
{adaptivity}
"#
    ))
    .unwrap()
}

/// Each rank's outcome (the number of unknowns or the error), rank 0 reading `mesh_of(0)`.
fn solve_on_two_ranks(adaptive: bool, mesh_of: fn(usize) -> String) -> Vec<Result<usize, String>> {
    let (tx, rx) = mpsc::channel();
    for (i, rank) in ThreadRanks::group(2).into_iter().enumerate() {
        let tx = tx.clone();
        // Detached: a rank stuck in a collective step must not hang the test itself.
        std::thread::spawn(move || {
            let rank = Arc::new(rank);
            let adaptivity = format!("enabled = {adaptive}\nmax_steps = 2");
            let config = config(&mesh_of(i), 1, &adaptivity);
            let solver = femscale::ranks::solver_on(config, rank).unwrap();
            let outcome = solver.solve_configured().map(|s| s.metrics.dofs);
            let _ = tx.send((i, outcome.map_err(|e| e.to_string())));
        });
    }
    let mut outcomes = vec![Err(String::new()), Err(String::new())];
    for _ in 0..2 {
        let (i, outcome) = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("a rank is still waiting for the failed one");
        outcomes[i] = outcome;
    }
    outcomes
}

fn disk() -> String {
    format!(
        "{}/../mesh/tests/data/gmsh/disk_v41_ascii.msh",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn a_rank_whose_mesh_file_is_missing_fails_and_the_others_are_told() {
    for adaptive in [false, true] {
        let both = solve_on_two_ranks(adaptive, |_| disk());
        assert!(
            both.iter().all(Result::is_ok),
            "adaptive {adaptive}: {both:?}"
        );
        let outcomes = solve_on_two_ranks(adaptive, |i| match i {
            0 => "/nonexistent/missing.msh".into(),
            _ => disk(),
        });
        let own = outcomes[0].as_ref().unwrap_err();
        assert!(own.contains("missing.msh"), "adaptive {adaptive}: {own}");
        let told = outcomes[1].as_ref().unwrap_err();
        assert!(
            told.contains("rank 0 failed"),
            "adaptive {adaptive}: {told}"
        );
    }
}

/// `adaptivity.solve_reduction` is not applied on ranks: each would derive its tolerance from
/// its own, rounding-different data (here assembled with 1 and 2 threads), and the ranks must
/// agree on it. Every step keeps `solver.tolerance` and the loop finishes on both ranks.
#[test]
fn nested_iteration_is_not_applied_on_ranks() {
    let (tx, rx) = mpsc::channel();
    for (i, rank) in ThreadRanks::group(2).into_iter().enumerate() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let adaptivity = "enabled = true\nmax_steps = 3\nsolve_reduction = 1e-3";
            let config = config(&disk(), i + 1, adaptivity);
            let tolerance = config.solver.tolerance;
            let solver = femscale::ranks::solver_on(config, Arc::new(rank)).unwrap();
            let outcome = solver.solve_configured().map(|s| {
                let steps = s.metrics.adaptivity.unwrap().steps;
                let loosened = steps.iter().filter(|s| s.tolerance != tolerance).count();
                (steps.len(), loosened)
            });
            let _ = tx.send((i, outcome.map_err(|e| e.to_string())));
        });
    }
    for _ in 0..2 {
        let (i, outcome) = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("a rank is still waiting");
        let (steps, loosened) = outcome.unwrap_or_else(|e| panic!("rank {i}: {e}"));
        assert_eq!((steps, loosened), (3, 0), "rank {i}");
    }
}

/// Ranks given different problems (an environment variable set on one node only) are told so
/// before the solve, on every rank: each would assemble its rows of another problem, and the
/// solution would be verified against that mixture.
#[test]
fn ranks_with_different_problems_are_refused_before_the_solve() {
    let (tx, rx) = mpsc::channel();
    for (i, rank) in ThreadRanks::group(2).into_iter().enumerate() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut config = config(&disk(), 1, "");
            if i == 1 {
                config.problem.params.insert("k".into(), 2.0);
            }
            let outcome = femscale::ranks::solver_on(config, Arc::new(rank))
                .and_then(|s| s.solve_configured())
                .map(|s| s.metrics.dofs);
            let _ = tx.send((i, outcome.map_err(|e| e.to_string())));
        });
    }
    for _ in 0..2 {
        let (i, outcome) = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("a rank is still waiting");
        let e = outcome.expect_err("different problems were solved together");
        assert!(
            e.contains("rank 1 has another configuration"),
            "rank {i}: {e}"
        );
    }
}
