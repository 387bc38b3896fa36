//! Rank-parallel sweeps: the runs of one experiment handed out over a [`Communicator`]
//! (`mpirun -n P femscale run sweep.toml`).
//!
//! **Protocol.** Every rank loads the same experiment. Rank 0 owns the output directory: it
//! locks it, reads `results.jsonl`, lists the pending runs and hands them out one at a time, to
//! itself (a thread beside the one that talks to the other ranks) and to whichever rank asks
//! next, so a rank that finishes early takes the next run. A rank says hello (with a digest of
//! every run id, so that a rank that read another configuration is told to stop instead of
//! computing other runs), then receives orders (`Run` a run by index, or `Stop`) and answers
//! each run with its record and its output files. Other ranks write nothing into the output
//! directory: they stage a run's files in a private temporary directory and send them, and
//! rank 0 writes them, appends the record and updates the summary, so `results.jsonl`, resume,
//! the summary, the plots and VTU output are those of a sweep in one process.
//!
//! **A rank that dies.** While runs are out, rank 0 keeps `in_flight.json`: every run handed
//! to a rank and not yet reported, as the failed record it becomes. A rank that dies takes the
//! MPI job down with it (MPI's default error handling); the next `femscale run` of the
//! experiment (with or without MPI) appends those records, naming the rank, node and process,
//! so the run is reported failed rather than lost, `--retry-failed` runs it again, and every
//! other pending run resumes.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use femscale_core::{Error, Result};
use femscale_distributed::Communicator;
use femscale_runtime::Registry;
use femscale_scaling::{ResourceMonitor, WorkerPoolStats};
use sha2::{Digest, Sha256};
use tracing::{info, instrument, warn};

mod files;
mod wire;

use files::{Stage, write_files};
use wire::{
    HELLO, Hello, ORDER, Order, RESULT, ReceivedFile, decode, decode_outcome, encode,
    encode_outcome, protocol,
};

use super::{
    Executed, ExperimentReport, ProgressEvent, RankReport, RunContext, RunOptions, log_event,
    record, repetition_caches,
};
use crate::Experiment;
use crate::store::RunRecord;

/// What [`Experiment::run_ranks`] did on this rank.
#[derive(Debug)]
#[non_exhaustive]
pub enum RankOutcome {
    /// Rank 0 (or the only rank): the experiment's report.
    Coordinator(Box<ExperimentReport>),
    /// Any other rank: how many runs it executed.
    Worker {
        /// This rank.
        rank: usize,
        /// Runs it executed.
        runs: usize,
    },
}

impl Experiment {
    /// Runs the experiment's pending runs on the ranks of `comm`, handed out one at a time by
    /// rank 0, which alone writes the output directory (see the module documentation of
    /// `runner::ranks`). Every rank calls it with the same experiment. Each run gets the
    /// cores of its node divided by the ranks on the node as threads (unless its configuration
    /// sets `scaling.threads`); `experiment.parallel_runs` does not apply (one run per rank at
    /// a time). With one rank this is [`Experiment::run`].
    ///
    /// # Errors
    /// On rank 0, those of [`Experiment::run`] and a failing transport; on other ranks, a
    /// failing transport or orders rank 0 would not send.
    #[instrument(skip_all, fields(experiment = %self.settings.name, rank = comm.rank()))]
    pub fn run_ranks(&self, options: &RunOptions, comm: &dyn Communicator) -> Result<RankOutcome> {
        if comm.size() <= 1 {
            return self
                .run(options)
                .map(|r| RankOutcome::Coordinator(Box::new(r)));
        }
        let threads = comm.threads_per_rank();
        if comm.rank() == 0 {
            let mut stopped = vec![false; comm.size()];
            stopped[0] = true;
            let result = self.coordinate(options, comm, threads, &mut stopped);
            // Whatever happened, no rank is left waiting for an order.
            for rank in (1..comm.size()).filter(|&r| !stopped[r]) {
                if let Err(e) = comm.send(rank, ORDER, &encode(&Order::Stop)) {
                    warn!(rank, error = %e, "could not tell a rank to stop");
                }
            }
            result.map(|r| RankOutcome::Coordinator(Box::new(r)))
        } else {
            self.work(comm, threads)
        }
    }

    /// SHA-256 of the experiment's run ids: ranks with the same digest run the same runs.
    fn runs_digest(run_ids: &[String]) -> String {
        let mut hash = Sha256::new();
        for id in run_ids {
            hash.update(id.as_bytes());
            hash.update(b"\n");
        }
        format!("{:x}", hash.finalize())
    }

    fn all_run_ids(&self) -> Vec<String> {
        (0..self.total_runs())
            .map(|i| {
                let job = self.job(i);
                job.point.run_id(job.repetition)
            })
            .collect()
    }

    /// A rank other than 0: hello, then runs until told to stop.
    fn work(&self, comm: &dyn Communicator, threads: usize) -> Result<RankOutcome> {
        let run_ids = self.all_run_ids();
        let setup = (|| -> Result<_> {
            let registry = Registry::from_config(&self.base)?;
            let caches = repetition_caches(&self.base.cache, &registry, self.settings.repetitions)?;
            let stage = Stage::create(comm.rank(), &comm.node_name())?;
            Ok((caches, stage))
        })();
        let hello = Hello {
            experiment: Self::runs_digest(&run_ids),
            node: comm.node_name(),
            pid: std::process::id(),
            error: setup.as_ref().err().map(ToString::to_string),
        };
        comm.send(0, HELLO, &encode(&hello))?;
        let mut runs = 0;
        loop {
            let message = comm.receive(ORDER)?;
            let (index, run_id) = match decode::<Order>(&message.bytes, "an order")? {
                Order::Stop => break,
                Order::Run { index, run_id } => (index, run_id),
            };
            let Ok((caches, stage)) = &setup else {
                return Err(protocol(format!(
                    "rank 0 sent run {index} to rank {} after its setup failed",
                    comm.rank()
                )));
            };
            if run_ids.get(index) != Some(&run_id) {
                return Err(protocol(format!(
                    "rank 0 sent run {index} ({run_id}), which rank {} does not have",
                    comm.rank()
                )));
            }
            let job = self.job(index);
            let context = RunContext {
                threads_per_run: threads,
                dir: stage.path(),
                caches,
            };
            let mut record = self.run_one(&job, &context);
            let files = stage.take_files();
            let message = match files {
                Ok(files) => encode_outcome(index, &record, &files),
                Err(e) => Err(e),
            };
            let message = message.or_else(|e| {
                record.ok = false;
                record.metrics = None;
                record.error = Some(format!(
                    "rank {} could not send its outputs: {e}",
                    comm.rank()
                ));
                encode_outcome(index, &record, &[])
            })?;
            comm.send(0, RESULT, &message)?;
            runs += 1;
        }
        Ok(RankOutcome::Worker {
            rank: comm.rank(),
            runs,
        })
    }

    /// Rank 0: hands out the runs, runs its share, records every result.
    fn coordinate(
        &self,
        options: &RunOptions,
        comm: &dyn Communicator,
        threads: usize,
        stopped: &mut [bool],
    ) -> Result<ExperimentReport> {
        let mut pending = self.prepare(options)?;
        let digest = Self::runs_digest(&pending.run_ids);
        let report = |e: &ProgressEvent<'_>| match &options.progress {
            Some(f) => f(e),
            None => log_event(e),
        };
        info!(
            pending = pending.jobs.len(),
            ranks = comm.size(),
            threads_per_run = threads,
            "handing out the runs over the ranks"
        );
        report(&pending.started_event(comm.size(), threads));
        let registry = Registry::from_config(&self.base)?;
        let caches = repetition_caches(&self.base.cache, &registry, self.settings.repetitions)?;
        let mut ranks: Vec<RankReport> = (0..comm.size())
            .map(|rank| RankReport {
                rank,
                node: String::new(),
                pid: 0,
                runs: 0,
                busy_seconds: 0.0,
                error: None,
            })
            .collect();
        ranks[0].node = comm.node_name();
        ranks[0].pid = std::process::id();
        let mut monitor = ResourceMonitor::new(Duration::from_millis(200));
        if let Err(e) = monitor.start() {
            warn!(error = %e, "the resource monitor did not start; the report has no resources");
        }
        let context = RunContext {
            threads_per_run: threads,
            dir: &pending.dir,
            caches: &caches,
        };
        let (to_local, local_jobs) = mpsc::channel::<usize>();
        let (local_done, from_local) = mpsc::channel::<RunRecord>();
        let records = std::thread::scope(|scope| {
            let context = &context;
            std::thread::Builder::new()
                .name("femscale-rank0-run".into())
                .spawn_scoped(scope, move || {
                    for index in local_jobs {
                        let record = self.run_one(&self.job(index), context);
                        if local_done.send(record).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| {
                    Error::invalid("experiment", format!("cannot start a run thread: {e}"))
                })?;
            let mut state = Coordinator {
                experiment: self,
                comm,
                digest: &digest,
                dir: &pending.dir,
                queue: pending.jobs.iter().map(|j| j.index).collect(),
                jobs: pending.jobs.len(),
                in_flight: BTreeMap::new(),
                records: Vec::new(),
                failure: None,
                to_local,
                ranks: &mut ranks,
                stopped,
                report: &report,
            };
            let result = state.serve(&mut pending.store, &from_local);
            let Coordinator {
                records, failure, ..
            } = state;
            result?;
            failure.map_or(Ok(records), Err)
        });
        let resources = monitor.is_running().then(|| monitor.stop());
        let records = records?;
        let busy: Vec<f64> = ranks.iter().map(|r| r.busy_seconds).collect();
        info!(ranks = comm.size(), busy_seconds = ?busy, "every rank has stopped");
        self.finish(
            pending,
            Executed {
                records,
                parallel_runs: comm.size(),
                threads_per_run: threads,
                autoscaling: false,
                rationale: format!(
                    "{} ranks, one run each at a time, {threads} thread(s) per run ({} rank(s) on \
                     rank 0's node)",
                    comm.size(),
                    comm.ranks_on_node()
                ),
                worker_pool: WorkerPoolStats::default(),
                scale_events: Vec::new(),
                resources,
                ranks,
            },
        )
    }
}

/// Rank 0's state while the runs are out.
struct Coordinator<'a, 'e> {
    experiment: &'e Experiment,
    comm: &'a dyn Communicator,
    digest: &'a str,
    dir: &'a Path,
    /// Runs not handed out yet (indices, point-major).
    queue: VecDeque<usize>,
    /// Runs to execute in this invocation.
    jobs: usize,
    /// Rank → the run it executes, as the failed record it becomes if the rank dies.
    in_flight: BTreeMap<usize, (usize, RunRecord)>,
    records: Vec<RunRecord>,
    /// The log could not be appended to: nothing more is handed out.
    failure: Option<Error>,
    to_local: mpsc::Sender<usize>,
    ranks: &'a mut [RankReport],
    stopped: &'a mut [bool],
    report: &'a dyn Fn(&ProgressEvent<'_>),
}

impl Coordinator<'_, '_> {
    /// Serves hellos and results until every run is recorded and every rank stopped.
    fn serve(
        &mut self,
        store: &mut crate::store::Store,
        from_local: &mpsc::Receiver<RunRecord>,
    ) -> Result<()> {
        self.assign(0, store)?;
        let mut idle = Duration::from_micros(50);
        while !(self.in_flight.is_empty() && self.stopped.iter().all(|&s| s)) {
            let mut progressed = false;
            if let Some(message) = self.comm.try_receive(HELLO)? {
                progressed = true;
                let hello: Hello = decode(&message.bytes, "a hello")?;
                self.greet(message.source, hello, store)?;
            }
            if let Some(message) = self.comm.try_receive(RESULT)? {
                progressed = true;
                let (outcome, files) = decode_outcome(&message.bytes)?;
                self.finished(message.source, outcome.index, outcome.record, &files, store)?;
            }
            match from_local.try_recv() {
                Ok(record) => {
                    progressed = true;
                    let index = self.in_flight.get(&0).map(|(i, _)| *i);
                    let index = index
                        .ok_or_else(|| protocol("rank 0 finished a run it was not given".into()))?;
                    self.finished(0, index, record, &[], store)?;
                }
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) if self.in_flight.contains_key(&0) => {
                    return Err(protocol(
                        "rank 0's run thread ended with a run in flight".into(),
                    ));
                }
                Err(mpsc::TryRecvError::Disconnected) => {}
            }
            // Poll quickly while messages flow, back off to 5 ms when idle.
            if progressed {
                idle = Duration::from_micros(50);
            } else {
                std::thread::sleep(idle);
                idle = (idle * 2).min(Duration::from_millis(5));
            }
        }
        Ok(())
    }

    fn greet(&mut self, rank: usize, hello: Hello, store: &mut crate::store::Store) -> Result<()> {
        let entry = &mut self.ranks[rank];
        entry.node = hello.node;
        entry.pid = hello.pid;
        let refusal = match hello.error {
            Some(error) => Some(format!("its setup failed: {error}")),
            None if hello.experiment != self.digest => Some(
                "it loaded another experiment than rank 0 (other configuration, plugins or \
                 femscale version): give every rank the same files"
                    .to_string(),
            ),
            None => None,
        };
        if let Some(reason) = refusal {
            warn!(rank, node = %entry.node, %reason, "a rank takes no runs");
            entry.error = Some(reason);
            return self.stop(rank);
        }
        self.assign(rank, store)
    }

    /// Gives `rank` the next run, or tells it to stop.
    fn assign(&mut self, rank: usize, store: &mut crate::store::Store) -> Result<()> {
        let next = if self.failure.is_none() {
            self.queue.pop_front()
        } else {
            None
        };
        let Some(index) = next else {
            // The journal loses the run `rank` just finished, if any.
            self.write_journal(store)?;
            return if rank == 0 { Ok(()) } else { self.stop(rank) };
        };
        let job = self.experiment.job(index);
        let run_id = job.point.run_id(job.repetition);
        let entry = &self.ranks[rank];
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let journal = record(
            &job,
            None,
            Some(format!(
                "interrupted: the run was in flight on rank {rank} (node {}, pid {}) since unix \
                 time {unix} when the sweep stopped (the rank or the whole job died); `femscale \
                 run --retry-failed` runs it again",
                entry.node, entry.pid
            )),
            0.0,
        );
        self.in_flight.insert(rank, (index, journal));
        self.write_journal(store)?;
        (self.report)(&ProgressEvent::RunStarted {
            point: job.point,
            repetition: job.repetition,
        });
        if rank == 0 {
            self.to_local
                .send(index)
                .map_err(|_| protocol("rank 0's run thread has ended".into()))
        } else {
            self.comm
                .send(rank, ORDER, &encode(&Order::Run { index, run_id }))
        }
    }

    fn stop(&mut self, rank: usize) -> Result<()> {
        self.stopped[rank] = true;
        self.comm.send(rank, ORDER, &encode(&Order::Stop))
    }

    fn write_journal(&mut self, store: &crate::store::Store) -> Result<()> {
        let runs: Vec<RunRecord> = self.in_flight.values().map(|(_, r)| r.clone()).collect();
        store.write_in_flight(&runs)
    }

    /// Records a finished run of `rank` (writing its files first), then gives the rank its
    /// next run.
    fn finished(
        &mut self,
        rank: usize,
        index: usize,
        mut record: RunRecord,
        files: &[ReceivedFile<'_>],
        store: &mut crate::store::Store,
    ) -> Result<()> {
        match self.in_flight.get(&rank) {
            Some((expected, _)) if *expected == index => {}
            _ => {
                return Err(protocol(format!(
                    "rank {rank} reported run {index}, which it was not given"
                )));
            }
        }
        if let Err(e) = write_files(self.dir, files) {
            record.ok = false;
            record.metrics = None;
            record.error = Some(format!("rank 0 could not write the run's outputs: {e}"));
        }
        self.in_flight.remove(&rank);
        self.ranks[rank].runs += 1;
        self.ranks[rank].busy_seconds += record.seconds;
        if self.failure.is_none() {
            match store.append(&record) {
                Ok(()) => {
                    self.records.push(record);
                    let job = self.experiment.job(index);
                    (self.report)(&ProgressEvent::RunFinished {
                        point: job.point,
                        record: self.records.last().expect("just pushed"),
                        done: self.records.len(),
                        pending: self.jobs,
                    });
                }
                // The runs still out finish unrecorded; nothing more is handed out.
                Err(e) => self.failure = Some(e),
            }
        }
        // One journal write per event: `assign` records the next run (or the lack of one).
        self.assign(rank, store)
    }
}

#[cfg(test)]
mod tests;
