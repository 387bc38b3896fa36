//! `femscale-mpi-cg`: distributed CG on the ranks of an MPI job, for tests and the strong-scaling
//! table of docs/scaling-out.md.
//!
//! ```text
//! mpirun -n 4 femscale-mpi-cg [m] [amg|ic0|block-amg|jacobi] [rcb|strips]
//! ```
//!
//! Every rank builds the 5-point Laplacian of an `m × m` grid (default 200) with a known
//! solution, keeps its rows — the grid points of its part: recursive coordinate bisection
//! (`rcb`, default: compact blocks) or whole grid lines (`strips`) — and solves by CG to 1e-10
//! with the distributed AMG (`amg`) or block-Jacobi on a local preconditioner (`ic0`, the
//! default, `block-amg`, `jacobi`). Rank 0 prints one JSON line: ranks, unknowns, iterations,
//! verified residual, max error, halo volume per product, AMG levels and seconds.

use std::process::ExitCode;
use std::time::Instant;

use std::sync::Arc;

use femscale_core::{NoMonitor, PreconditionerFactory};
use femscale_distributed::linalg::{
    DistAmg, DistAmgOptions, DistKrylovOptions, DistMatrix, DistPreconditioner, Renumbering,
    RowPartition, block_jacobi, cg, grid_laplacian, recursive_bisection,
};
use femscale_distributed::{Communicator, MpiWorld};
use femscale_solvers::{AmgFactory, Ic0Factory, JacobiFactory};

fn run(
    world: &MpiWorld,
    m: usize,
    preconditioner: &str,
    layout: &str,
) -> femscale_core::Result<String> {
    let factory: Option<Box<dyn PreconditionerFactory>> = match preconditioner {
        "amg" => None,
        "ic0" => Some(Box::new(Ic0Factory)),
        "block-amg" => Some(Box::new(AmgFactory::default())),
        "jacobi" => Some(Box::new(JacobiFactory)),
        other => {
            return Err(femscale_core::Error::invalid(
                "preconditioner",
                format!("`{other}`: amg, ic0, block-amg or jacobi"),
            ));
        }
    };
    let a = grid_laplacian(m)?;
    let n = a.nrows();
    let exact: Vec<f64> = (0..n)
        .map(|i| ((i % m) as f64 / m as f64 * 3.0).sin())
        .collect();
    let (a, exact, partition) = match layout {
        "strips" => (a, exact, RowPartition::balanced(n, world.size())?),
        "rcb" => {
            let points: Vec<[f64; 3]> = (0..n)
                .map(|k| [(k % m) as f64, (k / m) as f64, 0.0])
                .collect();
            let part = recursive_bisection(&points, world.size())?;
            let numbering = Renumbering::by_part(&part, world.size())?;
            let a = numbering.permute_matrix(&a)?;
            let exact = numbering.permute_vector(&exact);
            (a, exact, numbering.partition)
        }
        other => {
            return Err(femscale_core::Error::invalid(
                "layout",
                format!("`{other}`: rcb or strips"),
            ));
        }
    };
    let mut b = vec![0.0; n];
    a.mul_vec_into(&exact, &mut b);
    let own = partition.range(world.rank());
    let setup = Instant::now();
    let d = Arc::new(DistMatrix::from_global(world, partition, &a)?);
    let mut levels = Vec::new();
    let precond: Box<dyn DistPreconditioner> = match factory {
        Some(factory) => Box::new(block_jacobi(&d, factory.as_ref())?),
        None => {
            let amg = DistAmg::build(world, d.clone(), &DistAmgOptions::default())?;
            levels = amg.levels().iter().map(|l| l.rows).collect();
            Box::new(amg)
        }
    };
    let setup_seconds = setup.elapsed().as_secs_f64();
    let mut x = vec![0.0; own.len()];
    let options = DistKrylovOptions {
        tolerance: 1e-10,
        max_iterations: 20_000,
        ..DistKrylovOptions::default()
    };
    let report = cg(
        world,
        &d,
        precond.as_ref(),
        &b[own.clone()],
        &mut x,
        &options,
        &mut NoMonitor,
    )?;
    let local_error = x
        .iter()
        .zip(&exact[own])
        .map(|(u, e)| (u - e).abs())
        .fold(0.0, f64::max);
    // The largest over the ranks: each rank fills its slot, the sum gathers them.
    let mut maxima = vec![0.0; world.size()];
    maxima[world.rank()] = local_error;
    world.all_reduce_sum(&mut maxima)?;
    let max_error = maxima.iter().copied().fold(0.0, f64::max);
    // Gathered by the solve already.
    let slowest = report
        .report
        .ranks
        .as_ref()
        .map_or(0.0, |r| r.solve_seconds_max);
    Ok(format!(
        "{{\"ranks\": {}, \"unknowns\": {n}, \"preconditioner\": \"{preconditioner}\", \"layout\": \"{layout}\", \"iterations\": {}, \
         \"verified_relative_residual\": {:e}, \"max_error\": {:e}, \"halo_messages_per_product\": {}, \
         \"halo_bytes_per_product\": {}, \"threads_per_rank\": {}, \"amg_level_rows\": {levels:?}, \"setup_seconds_rank0\": {setup_seconds:.4}, \
         \"solve_seconds_max\": {:.4}, \"communication_seconds_rank0\": {:.4}}}",
        world.size(),
        report.report.iterations,
        report.verified_relative_residual,
        max_error,
        report.halo_per_product.messages,
        report.halo_per_product.bytes,
        report.report.threads,
        slowest,
        report.communication_seconds,
    ))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let m = match args.next().map(|s| s.parse::<usize>()) {
        None => 200,
        Some(Ok(m)) if (1..=20_000).contains(&m) => m,
        Some(_) => {
            eprintln!(
                "usage: femscale-mpi-cg [m in 1..=20000] [amg|ic0|block-amg|jacobi] [rcb|strips]"
            );
            return ExitCode::from(2);
        }
    };
    let preconditioner = args.next().unwrap_or_else(|| "ic0".into());
    let layout = args.next().unwrap_or_else(|| "rcb".into());
    let world = match MpiWorld::initialize() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // The node's cores shared between its ranks (every rank sees all of them when the
    // launcher does not bind ranks to cores).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / world.ranks_on_node().max(1)).max(1);
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
    {
        eprintln!("warning: could not size the thread pool: {e}");
    }
    match run(&world, m, &preconditioner, &layout) {
        Ok(line) => {
            if world.rank() == 0 {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error (rank {}): {e}", world.rank());
            ExitCode::FAILURE
        }
    }
}
