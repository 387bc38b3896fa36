//! What an experiment is told and tells: its options, its progress events (and the default
//! progress log), and its report.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use femscale_scaling::{MonitorSummary, ScaleEvent, WorkerPoolStats};
use tracing::{info, warn};

use crate::store::RunRecord;
use crate::summary::SummaryRow;
use crate::sweep::Point;

/// A progress callback; called on the thread that called [`Experiment::run`](crate::Experiment::run).
pub type ProgressFn = Arc<dyn Fn(&ProgressEvent<'_>) + Send + Sync>;

/// What one rank of a rank-parallel sweep ([`Experiment::run_ranks`](crate::Experiment::run_ranks)) did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct RankReport {
    /// The rank.
    pub rank: usize,
    /// Its node (host name).
    pub node: String,
    /// Its process id.
    pub pid: u32,
    /// Runs it executed.
    pub runs: usize,
    /// Seconds it spent in runs (the sum of their records' `seconds`).
    pub busy_seconds: f64,
    /// Why it ran nothing, when it could not take part (its setup failed, or it runs another
    /// experiment than rank 0).
    pub error: Option<String>,
}

/// What the runner reports while it works.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProgressEvent<'a> {
    /// Before the first run.
    Started {
        /// Runs to execute now.
        pending: usize,
        /// Runs skipped because `results.jsonl` already has them.
        skipped: usize,
        /// Runs recorded in `results.jsonl` under an identity no run of this invocation has
        /// (another configuration, plugin build or femscale version): not skipped, not counted.
        set_aside: usize,
        /// Runs in flight at once.
        parallel_runs: usize,
        /// Threads given to each run (`scaling.threads` when it is 0 in the config).
        threads_per_run: usize,
        /// The output directory.
        output_dir: &'a Path,
    },
    /// A run was picked up by a worker.
    RunStarted {
        /// The point.
        point: &'a Point,
        /// Which repetition.
        repetition: usize,
    },
    /// A run finished and its record was appended.
    RunFinished {
        /// The point.
        point: &'a Point,
        /// The record written.
        record: &'a RunRecord,
        /// Runs finished so far in this invocation.
        done: usize,
        /// Runs to execute in this invocation.
        pending: usize,
    },
}

/// How to run an experiment.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Overrides `output.dir`.
    pub output_dir: Option<PathBuf>,
    /// Overrides `experiment.parallel_runs` (`Some(0)` chooses automatically).
    pub parallel_runs: Option<usize>,
    /// Runs again the runs whose latest record failed (by default every recorded run is
    /// skipped).
    pub retry_failed: bool,
    /// Starts a new `results.jsonl`: the existing one is kept beside it as
    /// `results.jsonl.<unix seconds>.old` and no earlier run is skipped.
    pub fresh: bool,
    /// Progress reports; `None` logs each finished run at `info` level.
    pub progress: Option<ProgressFn>,
    /// When another run holds the output directory's lock, wait for it instead of failing.
    pub wait_for_lock: bool,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("output_dir", &self.output_dir)
            .field("parallel_runs", &self.parallel_runs)
            .field("retry_failed", &self.retry_failed)
            .field("fresh", &self.fresh)
            .field("progress", &self.progress.as_ref().map(|_| "callback"))
            .field("wait_for_lock", &self.wait_for_lock)
            .finish()
    }
}

/// What a call of [`Experiment::run`](crate::Experiment::run) did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExperimentReport {
    /// The experiment's name.
    pub name: String,
    /// The output directory.
    pub output_dir: PathBuf,
    /// `results.jsonl`.
    pub results_path: PathBuf,
    /// `summary.csv`, when written.
    pub summary_path: Option<PathBuf>,
    /// Runs of the experiment (points × repetitions).
    pub total: usize,
    /// Runs executed now.
    pub ran: usize,
    /// Runs skipped because they were already recorded under the same identity.
    pub skipped: usize,
    /// Distinct runs recorded in `results.jsonl` under an identity that no run of this
    /// experiment has now (the configuration, a plugin library or the femscale version
    /// changed): they are neither skipped nor counted in the summary.
    pub set_aside: usize,
    /// Where the previous `results.jsonl` was moved by [`RunOptions::fresh`].
    pub previous_log: Option<PathBuf>,
    /// Runs executed now that failed.
    pub failed: usize,
    /// Runs of the experiment whose latest record is a failure (now or earlier).
    pub failed_total: usize,
    /// Runs in flight at once (at most; the pool's largest size).
    pub parallel_runs: usize,
    /// Threads given to each run (unless its configuration sets `scaling.threads`).
    pub threads_per_run: usize,
    /// Whether the worker pool could grow and shrink (the `autoscaling` toggle).
    pub autoscaling: bool,
    /// Why this many runs in flight and threads (the scaler's rationale).
    pub plan_rationale: String,
    /// The worker pool's counters at the end: workers at most (`peak_workers`), scale-ups and
    /// -downs, jobs (one per run executed now, plus runs skipped after a failure).
    pub worker_pool: WorkerPoolStats,
    /// The pool's changes of size, oldest first (none for a fixed pool).
    pub scale_events: Vec<ScaleEvent>,
    /// What the process used while the runs executed (sampled every 200 ms: peak RSS, mean
    /// process and system CPU, peak GPU use when NVML is present); `None` if the monitor
    /// could not start.
    pub resources: Option<MonitorSummary>,
    /// One entry per rank of a rank-parallel sweep ([`Experiment::run_ranks`](crate::Experiment::run_ranks)); empty for a
    /// sweep in one process.
    pub ranks: Vec<RankReport>,
    /// Records of the runs executed now, in completion order.
    pub records: Vec<RunRecord>,
    /// One row per point, as in `summary.csv`.
    pub summary: Vec<SummaryRow>,
}

impl ExperimentReport {
    /// Whether every run of the experiment has succeeded.
    pub fn all_ok(&self) -> bool {
        self.failed_total == 0
    }
}

/// The default progress report: one `info` line per event.
pub(crate) fn log_event(e: &ProgressEvent<'_>) {
    match e {
        ProgressEvent::Started {
            pending,
            skipped,
            set_aside,
            parallel_runs,
            threads_per_run,
            output_dir,
        } => info!(
            pending,
            skipped,
            set_aside,
            parallel_runs,
            threads_per_run,
            dir = %output_dir.display(),
            "experiment started"
        ),
        ProgressEvent::RunStarted { .. } => {}
        ProgressEvent::RunFinished {
            point,
            record,
            done,
            pending,
        } => {
            if record.ok {
                info!(done, pending, point = %point.label(), seconds = record.seconds, "run finished");
            } else {
                warn!(done, pending, point = %point.label(), error = record.error.as_deref().unwrap_or(""), "run failed");
            }
        }
    }
}
