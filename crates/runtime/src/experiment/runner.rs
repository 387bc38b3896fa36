//! Running an experiment: pending runs on a pool of worker threads, one appended record per
//! finished run, then the summary.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use femscale_core::{Error, Result};
use tracing::{info, instrument, warn};

use super::Experiment;
use super::spec::{OutputFormat, OutputSpec};
use super::store::{RunRecord, SUMMARY_FILE, Store, write_atomic};
use super::summary::{SummaryRow, summarize, to_csv};
use super::sweep::Point;
use crate::locate_key;
use crate::pipeline::{FemSolver, Solution};
use crate::registry::Registry;

/// Unknowns above which `parallel_runs = 0` runs one point at a time.
pub const BIG_PROBLEM_DOFS: f64 = 200_000.0;

/// A progress callback; called on the thread that called [`Experiment::run`].
pub type ProgressFn = Arc<dyn Fn(&ProgressEvent<'_>) + Send + Sync>;

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
    /// Progress reports; `None` logs each finished run at `info` level.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("output_dir", &self.output_dir)
            .field("parallel_runs", &self.parallel_runs)
            .field("retry_failed", &self.retry_failed)
            .field("progress", &self.progress.as_ref().map(|_| "callback"))
            .finish()
    }
}

/// What a call of [`Experiment::run`] did.
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
    /// Runs skipped because they were already recorded.
    pub skipped: usize,
    /// Runs executed now that failed.
    pub failed: usize,
    /// Runs of the experiment whose latest record is a failure (now or earlier).
    pub failed_total: usize,
    /// Runs in flight at once.
    pub parallel_runs: usize,
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

/// What [`write_extra_outputs`] is called with.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExtraOutput<'a> {
    /// A successful run of repetition 0 of a point, with its solution (called on the worker
    /// thread that ran it).
    Run {
        /// The point.
        point: &'a Point,
        /// The solution.
        solution: &'a Solution,
    },
    /// The end of the experiment, after `summary.csv`.
    Finished {
        /// One row per point.
        rows: &'a [SummaryRow],
        /// The latest record of every run of the experiment.
        records: &'a [RunRecord],
    },
}

/// Writes the outputs beyond `results.jsonl` and `summary.csv`: VTU files of solutions
/// (`vtu`, in `vtu/<point id>.vtu`, called once per successful point with repetition 0) and SVG
/// plots (`svg`: `error_vs_h.svg` with fitted rates and `time_vs_dofs.svg`, called once at the
/// end). An error for a run makes that run fail (it is recorded with the error); an error at
/// the end is returned by [`Experiment::run`].
///
/// # Errors
/// Failures to write the files.
pub fn write_extra_outputs(dir: &Path, output: &OutputSpec, event: ExtraOutput<'_>) -> Result<()> {
    match event {
        ExtraOutput::Run { point, solution } => {
            super::outputs::write_point_outputs(dir, output, point, solution)
        }
        ExtraOutput::Finished { rows, .. } => {
            super::outputs::write_summary_outputs(dir, output, rows)
        }
    }
}

/// What every run of one [`Experiment::run`] shares.
struct RunContext<'a> {
    /// Threads of each run's pool.
    threads_per_run: usize,
    /// The output directory.
    dir: &'a Path,
    /// The cache shared by runs whose `[cache]` equals the base configuration's.
    cache: Option<&'a Arc<crate::SolveCache>>,
}

struct Job<'a> {
    point: &'a Point,
    repetition: usize,
}

enum Message {
    Started(usize),
    Finished(usize, Box<RunRecord>),
}

/// Cores available to this process.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Experiment {
    /// Runs every run (point × repetition) not yet in `results.jsonl`, appending one record
    /// per finished run, then writes `summary.csv`. Failed runs are recorded and the sweep
    /// goes on: check [`ExperimentReport::all_ok`].
    ///
    /// # Errors
    /// An output directory that cannot be created or written (before anything runs), a
    /// failure to append to the log (the runs stop), a failure to write the summary.
    #[instrument(skip_all, fields(experiment = %self.settings.name))]
    pub fn run(&self, options: &RunOptions) -> Result<ExperimentReport> {
        let dir = options
            .output_dir
            .clone()
            .unwrap_or_else(|| self.output.dir.clone());
        let mut store = Store::prepare(&dir)?;
        let latest = super::store::latest_by_id(&store.previous);
        let mut jobs = Vec::new();
        for point in &self.points {
            for repetition in 0..self.settings.repetitions {
                let id = point.run_id(repetition);
                let done = latest
                    .get(id.as_str())
                    .is_some_and(|r| r.ok || !options.retry_failed);
                if !done {
                    jobs.push(Job { point, repetition });
                }
            }
        }
        let total = self.points.len() * self.settings.repetitions;
        let skipped = total - jobs.len();
        let parallel_runs = self.parallel_runs(options.parallel_runs, jobs.len());
        let threads_per_run = (cores() / parallel_runs).max(1);
        store.open_log()?;
        let report = |e: &ProgressEvent<'_>| match &options.progress {
            Some(f) => f(e),
            None => log_event(e),
        };
        report(&ProgressEvent::Started {
            pending: jobs.len(),
            skipped,
            parallel_runs,
            threads_per_run,
            output_dir: &dir,
        });

        // One cache for the whole run, so points that share an operator (a sweep over sources
        // or boundary values) reuse its assembly and factorization. A cache that cannot be
        // opened is reported by each run that needs it.
        // A plugin named in the base configuration that does not load stops the run here,
        // before any point runs (plugins are loaded once per process, so this costs nothing).
        let registry = Registry::from_config(&self.base)?;
        let cache = crate::SolveCache::from_config(&self.base.cache, &registry)
            .ok()
            .map(Arc::new);
        let context = RunContext {
            threads_per_run,
            dir: &dir,
            cache: cache.as_ref(),
        };
        let records = self.execute(&jobs, parallel_runs, &context, &mut store, &report)?;

        let mut all: Vec<RunRecord> = store.previous.clone();
        all.extend(records.iter().cloned());
        let latest = super::store::latest_by_id(&all);
        let current: Vec<RunRecord> = self
            .points
            .iter()
            .flat_map(|p| (0..self.settings.repetitions).map(move |r| p.run_id(r)))
            .filter_map(|id| latest.get(id.as_str()).map(|r| (*r).clone()))
            .collect();
        let summary = summarize(&self.points, self.settings.repetitions, &current);
        let summary_path = self.write_summary(&dir, &summary)?;
        write_extra_outputs(
            &dir,
            &self.output,
            ExtraOutput::Finished {
                rows: &summary,
                records: &current,
            },
        )?;
        Ok(ExperimentReport {
            name: self.settings.name.clone(),
            output_dir: dir,
            results_path: store.results_path.clone(),
            summary_path,
            total,
            ran: records.len(),
            skipped,
            failed: records.iter().filter(|r| !r.ok).count(),
            failed_total: current.iter().filter(|r| !r.ok).count(),
            parallel_runs,
            records,
            summary,
        })
    }

    /// Runs in flight: the option, else `experiment.parallel_runs`, else automatic; at most
    /// one per pending run.
    fn parallel_runs(&self, option: Option<usize>, pending: usize) -> usize {
        let asked = option.unwrap_or(self.settings.parallel_runs);
        let n = if asked > 0 {
            asked
        } else {
            let biggest = self
                .points
                .iter()
                .filter_map(Point::estimated_dofs)
                .fold(0.0, f64::max);
            if biggest > BIG_PROBLEM_DOFS {
                1
            } else {
                cores().min(2)
            }
        };
        n.clamp(1, pending.max(1))
    }

    #[instrument(skip_all, fields(runs = jobs.len(), parallel_runs = parallel_runs))]
    fn execute(
        &self,
        jobs: &[Job<'_>],
        parallel_runs: usize,
        context: &RunContext<'_>,
        store: &mut Store,
        report: &dyn Fn(&ProgressEvent<'_>),
    ) -> Result<Vec<RunRecord>> {
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel::<Message>();
        let mut records = Vec::with_capacity(jobs.len());
        let mut failure = None;
        std::thread::scope(|scope| {
            for w in 0..parallel_runs {
                let tx = tx.clone();
                let (next, stop) = (&next, &stop);
                std::thread::Builder::new()
                    .name(format!("femscale-run-{w}"))
                    .spawn_scoped(scope, move || {
                        while !stop.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(job) = jobs.get(i) else { break };
                            if tx.send(Message::Started(i)).is_err() {
                                break;
                            }
                            let record = Box::new(self.run_one(job, context));
                            if tx.send(Message::Finished(i, record)).is_err() {
                                break;
                            }
                        }
                    })
                    .expect("spawning a worker thread");
            }
            drop(tx);
            for message in rx {
                match message {
                    Message::Started(i) => report(&ProgressEvent::RunStarted {
                        point: jobs[i].point,
                        repetition: jobs[i].repetition,
                    }),
                    Message::Finished(i, record) => {
                        if failure.is_some() {
                            continue;
                        }
                        if let Err(e) = store.append(&record) {
                            stop.store(true, Ordering::Relaxed);
                            failure = Some(e);
                            continue;
                        }
                        records.push(*record);
                        report(&ProgressEvent::RunFinished {
                            point: jobs[i].point,
                            record: records.last().expect("just pushed"),
                            done: records.len(),
                            pending: jobs.len(),
                        });
                    }
                }
            }
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(records),
        }
    }

    /// Runs one repetition of one point; every failure (configuration, solver, panic,
    /// outputs) becomes a failed record.
    #[instrument(skip_all, fields(point = %job.point.id(), repetition = job.repetition))]
    fn run_one(&self, job: &Job<'_>, context: &RunContext<'_>) -> RunRecord {
        let (threads, dir, cache) = (context.threads_per_run, context.dir, context.cache);
        let start = Instant::now();
        let point = job.point;
        let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<_> {
            let mut config = match &point.config {
                Ok(c) => c.clone(),
                Err(message) => {
                    return Err(Error::Config {
                        message: message.clone(),
                    });
                }
            };
            if config.scaling.threads == 0 {
                config.scaling.threads = threads;
            }
            let shares_cache = config.cache == self.base.cache;
            let mut solver = FemSolver::from_config(config)?;
            if let (true, Some(cache)) = (shares_cache, cache) {
                solver = solver.with_cache(cache.clone());
            }
            let solution = solver.solve_configured()?;
            if job.repetition == 0 {
                write_extra_outputs(
                    dir,
                    &self.output,
                    ExtraOutput::Run {
                        point,
                        solution: &solution,
                    },
                )?;
            }
            Ok(solution.metrics)
        }));
        let (metrics, error) = match outcome {
            Ok(Ok(m)) => (Some(m), None),
            Ok(Err(e)) => (None, Some(self.explain(point, &e))),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown panic");
                (None, Some(format!("the run panicked: {msg}")))
            }
        };
        RunRecord {
            id: point.run_id(job.repetition),
            point_id: point.id().to_string(),
            point: point.as_map(),
            repetition: job.repetition,
            ok: error.is_none(),
            metrics,
            error,
            seconds: start.elapsed().as_secs_f64(),
        }
    }

    /// The error's message with where the offending key's value came from: the point's sweep
    /// value, a `--set` override, or the file's line.
    fn explain(&self, point: &Point, e: &Error) -> String {
        let text = e.to_string();
        let Some(field) = e.field() else {
            return text;
        };
        if let Some(v) = point.value(field) {
            return format!(
                "{text} (from sweep value {field} = {})",
                super::sweep::canonical_json(v)
            );
        }
        let set_key = |o: &&String| o.split('=').next().map(str::trim) == Some(field);
        if let Some(item) = self.overrides.iter().rev().find(set_key) {
            return format!("{text} (from --set {item})");
        }
        match std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| locate_key(&t, field))
        {
            Some(line) => format!("{text} (in {}:{line})", self.path.display()),
            None => text,
        }
    }

    #[instrument(skip_all)]
    fn write_summary(&self, dir: &Path, rows: &[SummaryRow]) -> Result<Option<PathBuf>> {
        if !self.output.wants(OutputFormat::Csv) {
            return Ok(None);
        }
        let path = dir.join(SUMMARY_FILE);
        write_atomic(&path, to_csv(&self.keys, rows).as_bytes())?;
        Ok(Some(path))
    }
}

/// The default progress report: one `info` line per event.
fn log_event(e: &ProgressEvent<'_>) {
    match e {
        ProgressEvent::Started {
            pending,
            skipped,
            parallel_runs,
            threads_per_run,
            output_dir,
        } => info!(
            pending,
            skipped,
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
