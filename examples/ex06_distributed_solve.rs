//! A distributed solve from a program: ranks share the rows of the problem, each assembles the
//! cells of its rows, and CG with the distributed smoothed-aggregation AMG runs across them.
//!
//! Here the ranks are threads of this process (`ThreadRanks`), so the example runs anywhere;
//! built with the `mpi` feature of `femscale`, `MpiWorld::initialize()` gives the ranks of an
//! MPI job instead (`mpirun -n 4 my-program`), and nothing else changes.
//!
//! ```text
//! cargo run --release -p femscale-examples --example ex06_distributed_solve
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use femscale::distributed::ThreadRanks;
use femscale::distributed::linalg::SharedCommunicator;
use femscale::prelude::*;

/// The configuration's problem (2D P1, manufactured solution) at `n × n` squares.
fn config(kind: &str, n: usize) -> anyhow::Result<Config> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs/poisson_2d_mms.toml");
    let overrides = vec![
        format!("problem.mesh.nx={n}"),
        format!("problem.mesh.ny={n}"),
        format!("solver.kind=\"{kind}\""),
        "solver.tolerance=1e-10".into(),
        // Threads as ranks: one kernel thread each.
        "scaling.threads=1".into(),
    ];
    let sources = ConfigSources {
        file: Some(file),
        overrides,
    };
    Ok(Config::load(&sources)?)
}

/// Solves on one rank of `comm`: `femscale::ranks::solver_on` registers `distributed-cg` (and
/// GMRES, BiCGStab) on that communicator. (By hand: `DistributedKrylov::new(comm, DistMethod::Cg,
/// DistPreconditionerChoice::Amg(..))` registered as a solver in a `Registry`.)
fn solve_on(comm: SharedCommunicator, config: Config) -> femscale::Result<Solution> {
    femscale::ranks::solver_on(config, comm)?.solve_configured()
}

fn main() -> anyhow::Result<()> {
    let n = 96;
    let serial = FemSolver::from_config(config("cg", n)?)?.solve_configured()?;
    let serial_l2 = serial.metrics.l2_error.expect("an exact solution");

    let ranks = 3;
    let config = config("distributed-cg", n)?;
    let solutions: Vec<femscale::Result<Solution>> = std::thread::scope(|s| {
        let handles: Vec<_> = ThreadRanks::group(ranks)
            .into_iter()
            .map(|rank| {
                let config = config.clone();
                s.spawn(move || solve_on(Arc::new(rank), config))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a rank"))
            .collect()
    });
    for (rank, solution) in solutions.into_iter().enumerate() {
        let m = solution?.metrics;
        let r = m.linear_solve.ranks.as_ref().expect("a distributed report");
        if rank == 0 {
            println!(
                "{} on {} ranks: {} dofs, {} iterations, {} nonzeros in all, halo {} messages / {} bytes per product, L2 error {:.6e} (one process: {serial_l2:.6e})",
                m.solver,
                r.ranks,
                m.dofs,
                m.iterations,
                m.nnz,
                r.halo_messages_per_product,
                r.halo_bytes_per_product,
                m.l2_error.unwrap_or(f64::NAN),
            );
        }
        // Every rank has the whole solution and the same error norms as one process.
        let l2 = m.l2_error.expect("an exact solution");
        assert!(
            (l2 - serial_l2).abs() <= 1e-6 * serial_l2,
            "rank {rank}: {l2} vs {serial_l2}"
        );
        assert_eq!(m.nnz, serial.metrics.nnz);
        assert!(m.iterations <= 15, "{}", m.iterations);
    }
    Ok(())
}
