//! `femscale run` started by `mpirun`/`srun` as one of several ranks: the runs are handed out
//! over MPI (`Experiment::run_ranks`); rank 0 writes the output directory and prints the
//! report, the other ranks exit when told to stop.

use std::io::Write;

use femscale::distributed::LaunchedRanks;
use femscale::experiment::{Experiment, ExperimentReport, RunOptions};

/// Runs the experiment on the launched ranks: rank 0's report; other ranks exit here (status 0,
/// or 2 with the error when they cannot take part).
#[cfg(feature = "mpi")]
pub(super) fn run(
    experiment: &Experiment,
    options: &RunOptions,
    _launched: &LaunchedRanks,
) -> femscale::Result<ExperimentReport> {
    use femscale::distributed::{Communicator, MpiWorld};
    use femscale::experiment::RankOutcome;

    let world = MpiWorld::initialize()?;
    let outcome = experiment.run_ranks(options, &world);
    let rank = world.rank();
    // MPI is finalised before the process exits, on every path.
    drop(world);
    match outcome {
        Ok(RankOutcome::Coordinator(report)) => Ok(*report),
        Ok(_) => std::process::exit(0),
        Err(e) if rank == 0 => Err(e),
        Err(e) => {
            eprintln!("error (rank {rank}): {e}");
            std::process::exit(super::EXIT_BAD_EXPERIMENT)
        }
    }
}

/// Without the `mpi` feature a multi-rank launch is refused: every rank would run the whole
/// experiment into the same directory.
#[cfg(not(feature = "mpi"))]
pub(super) fn run(
    _experiment: &Experiment,
    _options: &RunOptions,
    launched: &LaunchedRanks,
) -> femscale::Result<ExperimentReport> {
    Err(femscale::Error::feature_disabled(
        "experiment",
        format!(
            "running as one of {} ranks ({} is set by the launcher)",
            launched.size, launched.variable
        ),
        "mpi",
    ))
}

/// The ranks' share of the work: one line per rank and the load imbalance (the busiest rank's
/// time over the mean).
pub(super) fn print(out: &mut impl Write, r: &ExperimentReport) -> std::io::Result<()> {
    let busy: Vec<f64> = r.ranks.iter().map(|k| k.busy_seconds).collect();
    let mean = busy.iter().sum::<f64>() / busy.len().max(1) as f64;
    let max = busy.iter().copied().fold(0.0, f64::max);
    writeln!(
        out,
        "  ranks: {} ({} thread(s) per run), load imbalance {}",
        r.ranks.len(),
        r.threads_per_run,
        if mean > 0.0 {
            format!("{:.2} (busiest rank / mean)", max / mean)
        } else {
            "-".into()
        }
    )?;
    for k in &r.ranks {
        write!(
            out,
            "    rank {:>3} {} pid {}: {} run(s), {:.3} s busy",
            k.rank, k.node, k.pid, k.runs, k.busy_seconds
        )?;
        match &k.error {
            Some(e) => writeln!(out, "; took no runs: {e}")?,
            None => writeln!(out)?,
        }
    }
    Ok(())
}
