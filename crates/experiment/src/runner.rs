//! Running an experiment: pending runs on an auto-scaling [`WorkerPool`], one appended record
//! per finished run, then the summary.
//!
//! **Runs in flight.** An explicit `parallel_runs` (option or `experiment.parallel_runs`) is
//! the number of runs at once, each with `cores / parallel_runs` threads. Automatic (0): the
//! [`AdaptiveScaler`](femscale_scaling::AdaptiveScaler) plans them from the biggest pending
//! point (unknowns and dimension of its mesh), the number of pending runs and the machine (cores, available memory): on a quiet
//! machine `min(cores, pending)` runs of `cores / runs` threads, fewer when their estimated
//! memory does not fit (see `femscale_scaling::adaptive`). Never more than the cores: `runs ×
//! threads per run ≤ cores`.
//!
//! **The pool.** The runs go through [`WorkerPool::scoped_for_each`]: progress events and
//! appending to `results.jsonl` happen on the calling thread, in completion order. With the
//! `autoscaling` toggle of the base configuration (`scaling.level = "aggressive"`, `auto` above
//! 500 000 unknowns, or `scaling.enable_autoscaling = true`) the pool starts with the planned
//! runs in flight and may retire workers while they are idle, other processes load the CPU or
//! memory runs short, and add them back (up to the plan) when runs queue up; otherwise its size
//! is fixed. [`ExperimentReport::worker_pool`] and [`ExperimentReport::scale_events`] tell what
//! it did.

use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use femscale_core::{Error, ExecutionPlan, PlanTopic, Result, Scaler, SystemLoad, WorkEstimate};
use femscale_scaling::{
    FixedLoad, JobError, LoadSample, MonitorSummary, ResourceMonitor, ScaleEvent, ScopedEvent,
    WorkerPool, WorkerPoolConfig, WorkerPoolStats,
};
use tracing::{info, instrument, warn};

use super::Experiment;
use super::spec::{OutputFormat, OutputSpec};
use super::store::{RunRecord, SUMMARY_FILE, Store, write_atomic};
use super::summary::{SummaryRow, summarize, to_csv};
use super::sweep::Point;
use femscale_runtime::Registry;
use femscale_runtime::config::MAX_THREADS;
use femscale_runtime::{FemSolver, Solution};

/// What [`write_extra_outputs`] is called with.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum ExtraOutput<'a> {
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
pub(crate) fn write_extra_outputs(
    dir: &Path,
    output: &OutputSpec,
    event: ExtraOutput<'_>,
) -> Result<()> {
    match event {
        ExtraOutput::Run { point, solution } => {
            super::outputs::write_point_outputs(dir, output, point, solution)
        }
        ExtraOutput::Finished { rows } => super::outputs::write_summary_outputs(dir, output, rows),
    }
}

/// What every run of one [`Experiment::run`] shares.
pub(crate) struct RunContext<'a> {
    /// Threads of each run's pool.
    pub(crate) threads_per_run: usize,
    /// The output directory.
    pub(crate) dir: &'a Path,
    /// The caches shared by runs whose `[cache]` equals the base configuration's, one per
    /// repetition (see [`repetition_caches`]).
    pub(crate) caches: &'a [Option<Arc<femscale_runtime::SolveCache>>],
}

/// One run: a repetition of a point.
pub(crate) struct Job<'a> {
    /// Its place among the experiment's runs, point-major.
    pub(crate) index: usize,
    pub(crate) point: &'a Point,
    pub(crate) repetition: usize,
}

/// What [`Experiment::prepare`] found: the locked store and the runs to execute now.
pub(crate) struct Pending<'a> {
    pub(crate) dir: PathBuf,
    pub(crate) store: Store,
    previous_log: Option<PathBuf>,
    /// Every run's id, point-major.
    pub(crate) run_ids: Vec<String>,
    pub(crate) jobs: Vec<Job<'a>>,
    total: usize,
    skipped: usize,
    set_aside: usize,
}

impl Pending<'_> {
    /// The [`ProgressEvent::Started`] of these runs.
    pub(crate) fn started_event(
        &self,
        parallel_runs: usize,
        threads_per_run: usize,
    ) -> ProgressEvent<'_> {
        ProgressEvent::Started {
            pending: self.jobs.len(),
            skipped: self.skipped,
            set_aside: self.set_aside,
            parallel_runs,
            threads_per_run,
            output_dir: &self.dir,
        }
    }
}

/// How the runs executed: their records and what ran them.
pub(crate) struct Executed {
    pub(crate) records: Vec<RunRecord>,
    pub(crate) parallel_runs: usize,
    pub(crate) threads_per_run: usize,
    pub(crate) autoscaling: bool,
    pub(crate) rationale: String,
    pub(crate) worker_pool: WorkerPoolStats,
    pub(crate) scale_events: Vec<ScaleEvent>,
    pub(crate) resources: Option<MonitorSummary>,
    pub(crate) ranks: Vec<RankReport>,
}

/// How the pending runs of one invocation run.
struct RunPlan {
    /// The pool's sizing: workers (runs in flight), threads per run, memory per run.
    pool: WorkerPoolConfig,
    /// Whether the pool grows and shrinks.
    autoscaling: bool,
    /// Why.
    rationale: String,
}

/// What the worker pool did.
struct PoolOutcome {
    records: Vec<RunRecord>,
    stats: WorkerPoolStats,
    events: Vec<ScaleEvent>,
}

/// Cores available to this process.
pub(crate) fn cores() -> usize {
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
        let mut pending = self.prepare(options)?;
        let jobs = &pending.jobs;
        let plan = self.plan_runs(options.parallel_runs, jobs);
        let parallel_runs = plan.pool.max_workers;
        let threads_per_run = plan.pool.resolved_threads_per_job();
        info!(
            pending = jobs.len(),
            parallel_runs,
            threads_per_run,
            autoscaling = plan.autoscaling,
            rationale = %plan.rationale,
            "planned the runs"
        );
        let report = |e: &ProgressEvent<'_>| match &options.progress {
            Some(f) => f(e),
            None => log_event(e),
        };
        report(&pending.started_event(parallel_runs, threads_per_run));

        // A plugin named in the base configuration that does not load stops the run here,
        // before any point runs (plugins are loaded once per process, so this costs nothing).
        let registry = Registry::from_config(&self.base)?;
        // A cache that cannot be opened (a `disk_dir` that is a file) stops the experiment
        // before any run, like a bad plugin; an unreachable server is left out with a warning.
        let caches = repetition_caches(&self.base.cache, &registry, self.settings.repetitions)?;
        let context = RunContext {
            threads_per_run,
            dir: &pending.dir,
            caches: &caches,
        };
        // Sampled while the runs execute: peak RSS and CPU use of the whole sweep.
        let mut monitor = ResourceMonitor::new(Duration::from_millis(200));
        if let Err(e) = monitor.start() {
            warn!(error = %e, "the resource monitor did not start; the report has no resources");
        }
        let outcome = self.execute(jobs, &plan, &context, &mut pending.store, &report);
        let resources = monitor.is_running().then(|| monitor.stop());
        let PoolOutcome {
            records,
            stats,
            events,
        } = outcome?;
        self.finish(
            pending,
            Executed {
                records,
                parallel_runs,
                threads_per_run,
                autoscaling: plan.autoscaling,
                rationale: plan.rationale,
                worker_pool: stats,
                scale_events: events,
                resources,
                ranks: Vec::new(),
            },
        )
    }

    /// Opens the output directory (locked for this invocation), records the runs an earlier
    /// sweep left in flight, and lists the runs to execute now.
    pub(crate) fn prepare(&self, options: &RunOptions) -> Result<Pending<'_>> {
        if let Some(runs) = options.parallel_runs {
            // The bound of `experiment.parallel_runs`, for the option that overrides it.
            femscale_runtime::config::check_count("parallel_runs", runs, 0, MAX_THREADS)?;
        }
        let dir = options
            .output_dir
            .clone()
            .unwrap_or_else(|| self.output.dir.clone());
        let mut store = Store::prepare_waiting(&dir, options.wait_for_lock)?;
        // What this invocation will write is judged before it moves or removes anything.
        super::outputs::check_output_paths(&dir, &self.output, &self.points)?;
        let previous_log = if options.fresh {
            store.start_fresh()?
        } else {
            None
        };
        store.open_log()?;
        store.recover_interrupted()?;
        let latest = super::store::latest_by_id(&store.previous);
        let repeated = super::store::repeated_successes(&store.previous);
        if repeated > 0 {
            warn!(
                runs = repeated,
                "the results log records runs as successful twice (edited by hand?); the later \
                 record of each is used"
            );
        }
        // Every run's id, point-major (one SHA-256 each, computed once per invocation).
        let run_ids: Vec<String> = self
            .points
            .iter()
            .flat_map(|p| (0..self.settings.repetitions).map(move |r| p.run_id(r)))
            .collect();
        let current_ids: std::collections::HashSet<&str> =
            run_ids.iter().map(String::as_str).collect();
        // Records of a current point's identity are not of another configuration: those of
        // repetitions beyond `experiment.repetitions` (lowered since) are kept, not counted.
        let identities: std::collections::HashSet<&str> =
            self.points.iter().map(Point::identity).collect();
        let (mut set_aside, mut beyond) = (0, 0);
        for (id, record) in &latest {
            if current_ids.contains(*id) {
                continue;
            }
            match identities.contains(record.identity.as_str()) {
                true => beyond += 1,
                false => set_aside += 1,
            }
        }
        if beyond > 0 {
            info!(
                runs = beyond,
                repetitions = self.settings.repetitions,
                "runs recorded for repetitions beyond experiment.repetitions are kept, not counted"
            );
        }
        if set_aside > 0 {
            warn!(
                set_aside,
                log = %store.results_path.display(),
                "runs recorded under another configuration, plugin build or femscale version are set \
                 aside (not counted); `femscale run --fresh` starts a new results file"
            );
        }
        let mut jobs = Vec::new();
        for (index, id) in run_ids.iter().enumerate() {
            let done = latest
                .get(id.as_str())
                .is_some_and(|r| r.ok || !options.retry_failed);
            if !done {
                jobs.push(self.job(index));
            }
        }
        let repetitions = self.settings.repetitions.max(1);
        let finished =
            |p: usize| (latest.get(run_ids[p * repetitions].as_str())).is_some_and(|r| r.ok);
        if !jobs.is_empty() {
            // The summary and its plots describe the runs of the last complete invocation:
            // removed while these runs change the results, so that an interrupted invocation
            // leaves none that the log does not back (the end of one writes them again). First
            // of the removals, so that a kill during the others leaves no stale summary
            // (review S). Whatever formats wrote them.
            super::outputs::remove_summary_outputs(&dir, |_| false)?;
        }
        if self.output.wants(OutputFormat::Vtu) || self.output.wants(OutputFormat::Svg) {
            let foreign = super::outputs::remove_foreign_outputs(&dir, &self.points)?;
            if foreign > 0 {
                warn!(
                    points = foreign,
                    "points had VTU files or plots written by another configuration's run (or \
                     an interrupted one); they were removed: `femscale run --fresh` writes them \
                     again"
                );
            }
        }
        if self.output.wants(OutputFormat::Vtu) {
            // Finished before `vtu` was asked for: their files are not written by a resume.
            let missing = (self.points.iter().enumerate())
                .filter(|(p, point)| finished(*p) && !super::outputs::has_point_vtu(&dir, point))
                .count();
            if missing > 0 {
                warn!(
                    points = missing,
                    "finished points have no VTU file (they ran before `vtu` output was asked \
                     for, or it was removed); `femscale run --fresh` runs them again"
                );
            }
        }
        super::outputs::remove_abandoned_temps(&dir, &self.points);
        let total = run_ids.len();
        let skipped = total - jobs.len();
        drop(latest);
        Ok(Pending {
            dir,
            store,
            previous_log,
            run_ids,
            jobs,
            total,
            skipped,
            set_aside,
        })
    }

    /// Run `index` of the experiment, point-major: point `index / repetitions`.
    pub(crate) fn job(&self, index: usize) -> Job<'_> {
        let repetitions = self.settings.repetitions.max(1);
        Job {
            index,
            point: &self.points[index / repetitions],
            repetition: index % repetitions,
        }
    }

    /// The summary (`summary.csv`, plots) and the report, once the runs have executed.
    pub(crate) fn finish(
        &self,
        pending: Pending<'_>,
        executed: Executed,
    ) -> Result<ExperimentReport> {
        let Pending {
            dir,
            store,
            previous_log,
            run_ids,
            total,
            skipped,
            set_aside,
            ..
        } = pending;
        let records = executed.records;
        let mut all: Vec<RunRecord> = store.previous.clone();
        all.extend(records.iter().cloned());
        let latest = super::store::latest_by_id(&all);
        let current: Vec<RunRecord> = run_ids
            .iter()
            .filter_map(|id| latest.get(id.as_str()).map(|r| (*r).clone()))
            .collect();
        let summary = summarize(&self.points, self.settings.repetitions, &current);
        // The summary is replaced atomically; the plots, written only when they have a point
        // to show, and what formats no longer asked for wrote, go first.
        let csv = self.output.wants(OutputFormat::Csv);
        super::outputs::remove_summary_outputs(&dir, |name| csv && name == SUMMARY_FILE)?;
        let summary_path = self.write_summary(&dir, &summary)?;
        write_extra_outputs(&dir, &self.output, ExtraOutput::Finished { rows: &summary })?;
        Ok(ExperimentReport {
            name: self.settings.name.clone(),
            output_dir: dir,
            results_path: store.results_path.clone(),
            summary_path,
            total,
            ran: records.len(),
            skipped,
            set_aside,
            previous_log,
            failed: records.iter().filter(|r| !r.ok).count(),
            failed_total: current.iter().filter(|r| !r.ok).count(),
            parallel_runs: executed.parallel_runs,
            threads_per_run: executed.threads_per_run,
            autoscaling: executed.autoscaling,
            plan_rationale: executed.rationale,
            worker_pool: executed.worker_pool,
            scale_events: executed.scale_events,
            resources: executed.resources,
            ranks: executed.ranks,
            records,
            summary,
        })
    }

    /// Runs in flight and threads per run: the option, else `experiment.parallel_runs`, else
    /// the adaptive scaler's plan for the biggest pending point; at most one per pending run
    /// and never more CPU threads than cores.
    fn plan_runs(&self, option: Option<usize>, jobs: &[Job<'_>]) -> RunPlan {
        let cores = cores();
        let pending = jobs.len().max(1);
        let (dofs, dim) = biggest_point(jobs);
        let asked = option.unwrap_or(self.settings.parallel_runs);
        let plan = if asked > 0 {
            let runs = asked.min(pending);
            let mut plan = ExecutionPlan::single((cores / runs).max(1), false, None);
            plan.runs_in_flight = runs;
            plan.add_reason(
                PlanTopic::Runs,
                format!("{runs} run(s) in flight as configured"),
            );
            plan
        } else {
            // The same scaler as each run's: its estimate follows the solver `auto` picks.
            let scaler = self.base.adaptive_scaler();
            let work = WorkEstimate::p1(dofs, dim).with_queued_runs(pending);
            let mut plan = scaler.plan(&work, &SystemLoad::detect());
            plan.runs_in_flight = plan.runs_in_flight.clamp(1, pending);
            plan
        };
        let autoscaling = self.base.scaling.toggles(dofs, cores).autoscaling;
        let mut pool = WorkerPoolConfig::from_plan(&plan);
        pool.name = "femscale-run".into();
        let planned = pool.max_workers;
        // Autoscaling: start with the plan, retire workers down to one when they idle or the
        // machine is busy, add them back (up to the plan) on a deep queue.
        let pool = pool.with_workers(if autoscaling { 1 } else { planned }, planned);
        let mut rationale = plan.rationale();
        if planned < plan.runs_in_flight {
            rationale.push_str(&format!("; {planned} run(s) fit the {cores} core(s)"));
        }
        if autoscaling {
            rationale.push_str(&format!("; autoscaling between 1 and {planned} worker(s)"));
        }
        RunPlan {
            pool,
            autoscaling,
            rationale,
        }
    }

    #[instrument(skip_all, fields(runs = jobs.len(), parallel_runs = plan.pool.max_workers))]
    fn execute(
        &self,
        jobs: &[Job<'_>],
        plan: &RunPlan,
        context: &RunContext<'_>,
        store: &mut Store,
        report: &dyn Fn(&ProgressEvent<'_>),
    ) -> Result<PoolOutcome> {
        let pool = if plan.autoscaling {
            WorkerPool::new(plan.pool.clone())
        } else {
            // A fixed pool never samples the machine's load.
            WorkerPool::with_load_source(
                plan.pool.clone(),
                Arc::new(FixedLoad(LoadSample::default())),
            )
        }
        .map_err(|e| {
            Error::invalid(
                "experiment.parallel_runs",
                format!("cannot start the worker pool: {e}"),
            )
        })?;
        let mut records = Vec::with_capacity(jobs.len());
        let mut failure = None;
        // The runs' spans nest in the experiment's, also on the pool's threads.
        let span = tracing::Span::current();
        pool.scoped_for_each(
            jobs.iter(),
            |job| span.in_scope(|| self.run_one(job, context)),
            |event| match event {
                ScopedEvent::Started(i) => {
                    report(&ProgressEvent::RunStarted {
                        point: jobs[i].point,
                        repetition: jobs[i].repetition,
                    });
                    ControlFlow::Continue(())
                }
                ScopedEvent::Finished(i, result) => {
                    // `run_one` catches panics itself; this is the pool's last resort.
                    let record = result.unwrap_or_else(|e: JobError| {
                        record(&jobs[i], None, Some(format!("the run failed: {e}")), 0.0)
                    });
                    if let Err(e) = store.append(&record) {
                        // The remaining runs are skipped; those running finish unrecorded.
                        failure = Some(e);
                        return ControlFlow::Break(());
                    }
                    records.push(record);
                    report(&ProgressEvent::RunFinished {
                        point: jobs[i].point,
                        record: records.last().expect("just pushed"),
                        done: records.len(),
                        pending: jobs.len(),
                    });
                    ControlFlow::Continue(())
                }
            },
        );
        let events = pool.events();
        let stats = pool.shutdown();
        info!(
            workers_max = stats.peak_workers,
            scale_ups = stats.scale_ups,
            scale_downs = stats.scale_downs,
            jobs = stats.jobs_completed,
            "worker pool finished"
        );
        match failure {
            Some(e) => Err(e),
            None => Ok(PoolOutcome {
                records,
                stats,
                events,
            }),
        }
    }

    /// Runs one repetition of one point; every failure (configuration, solver, panic,
    /// outputs) becomes a failed record.
    #[instrument(skip_all, fields(point = %job.point.id(), repetition = job.repetition))]
    pub(crate) fn run_one(&self, job: &Job<'_>, context: &RunContext<'_>) -> RunRecord {
        let (threads, dir) = (context.threads_per_run, context.dir);
        let shared = context.caches.get(job.repetition).and_then(Option::as_ref);
        let start = Instant::now();
        let point = job.point;
        let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<_> {
            // Whatever happens to this run, what an earlier run of the point wrote is not its.
            let writes_outputs =
                self.output.wants(OutputFormat::Vtu) || self.output.wants(OutputFormat::Svg);
            if job.repetition == 0 {
                super::outputs::clear_point_outputs(dir, point)?;
                if writes_outputs {
                    // Until its outputs are complete, the point's are this run's, unfinished.
                    super::outputs::stamp_point_outputs(dir, point, false)?;
                }
            }
            let mut config = match &point.config {
                Ok(c) => c.clone(),
                Err(message) => {
                    return Err(Error::Config {
                        key: None,
                        message: message.clone(),
                    });
                }
            };
            if config.scaling.threads == 0 {
                config.scaling.threads = threads;
            }
            let shares_cache = config.cache == self.base.cache;
            // Repeated runs use memory levels only, repetition 0 too (see `repetition_caches`).
            let repeated = self.settings.repetitions > 1;
            let private_cache = (!shares_cache && (repeated || job.repetition > 0))
                .then(|| memory_only(&config.cache, 1));
            // A run computes its solution: stored solutions never stand in for it.
            let mut solver = FemSolver::from_config(config)?.with_solution_hits(false);
            if shares_cache && let Some(cache) = shared {
                solver = solver.with_cache(cache.clone());
            } else if let Some(cache_config) = private_cache {
                // Not the levels repetition 0 wrote to: a repetition repeats the work.
                solver = solver.with_cache(Arc::new(femscale_runtime::SolveCache::from_config(
                    &cache_config,
                    &Registry::with_builtins(),
                )?));
            }
            // Adaptive runs show every step: repetition 0 writes one VTU file per step.
            let write_steps = job.repetition == 0;
            let mut steps = 0;
            let solution = solver.solve_observed(&solver.config().problem, &mut |snapshot| {
                steps += 1;
                if !write_steps {
                    return Ok(());
                }
                super::outputs::write_step_output(dir, &self.output, point, snapshot)
            })?;
            if write_steps {
                super::outputs::write_step_collection(dir, &self.output, point, steps)?;
            }
            if job.repetition == 0 {
                write_extra_outputs(
                    dir,
                    &self.output,
                    ExtraOutput::Run {
                        point,
                        solution: &solution,
                    },
                )?;
                if writes_outputs {
                    super::outputs::stamp_point_outputs(dir, point, true)?;
                }
            }
            // A mesh file's size is known only from its cells.
            let size = (point.mesh_size().is_none() && solution.metrics.adaptivity.is_none())
                .then(|| solution.mesh.max_cell_diameter())
                .filter(|h| h.is_finite() && *h > 0.0);
            Ok((solution.metrics, size))
        }));
        if job.repetition == 0 && !matches!(outcome, Ok(Ok(_))) {
            // A failed run leaves none of its outputs (an adaptive run's first steps, say).
            if let Err(e) = super::outputs::clear_point_outputs(dir, point) {
                warn!(point = %point.id(), error = %e, "could not remove a failed run's outputs");
            }
        }
        let (metrics, error, size) = match outcome {
            Ok(Ok((m, size))) => (Some(m), None, size),
            Ok(Err(e)) => (None, Some(self.explain(point, &e)), None),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown panic");
                (None, Some(format!("the run panicked: {msg}")), None)
            }
        };
        let mut record = record(job, metrics, error, start.elapsed().as_secs_f64());
        record.mesh_size = size;
        record
    }

    /// The error's message with where the offending key's value came from: the point's sweep
    /// value, a `--set` override, or the file's line.
    fn explain(&self, point: &Point, e: &Error) -> String {
        let text = e.to_string();
        let origin = e.unlocated_field().and_then(|field| {
            super::layers::point_origin(
                &self.file.source,
                &self.overrides,
                point.overrides(),
                &field,
            )
        });
        match origin {
            Some(origin) => format!("{text} ({origin})"),
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

/// The record of one run.
pub(crate) fn record(
    job: &Job<'_>,
    metrics: Option<femscale_core::Metrics>,
    error: Option<String>,
    seconds: f64,
) -> RunRecord {
    let point = job.point;
    RunRecord {
        id: point.run_id(job.repetition),
        point_id: point.id().to_string(),
        identity: point.identity().to_string(),
        point: point.as_map(),
        repetition: job.repetition,
        ok: error.is_none(),
        metrics,
        error,
        seconds,
        mesh_size: None,
    }
}

/// The caches of an experiment's runs, one per repetition, so that repetition `r` of a point
/// reuses operators only from repetition `r` of other points and never from an earlier
/// repetition of itself: every repetition does (and times) the same work. With one
/// repetition it gets the configured levels (a disk or Redis level may serve operators of an
/// earlier invocation, reported in `cache_reused`); with several, each gets an in-memory
/// level, with the configured memory split between them, and no disk or Redis level (review
/// S: repetition 0 alone loaded operators an earlier invocation had stored, so its times were
/// not the others'), which a warning says.
///
/// # Errors
/// A cache configuration that cannot be opened (see [`femscale_runtime::SolveCache::from_config`]).
pub(crate) fn repetition_caches(
    config: &femscale_runtime::CacheConfig,
    registry: &Registry,
    repetitions: usize,
) -> Result<Vec<Option<Arc<femscale_runtime::SolveCache>>>> {
    let persistent: Vec<&String> = (config.levels.iter())
        .filter(|l| *l != femscale_runtime::MEMORY_LEVEL)
        .collect();
    if repetitions > 1 && !persistent.is_empty() {
        tracing::warn!(
            levels = ?persistent,
            repetitions,
            "cache levels not used by repeated runs: every repetition keeps its operators in \
             memory, so that each does and times the same work (an operator stored by an \
             earlier invocation would serve one repetition only); run with \
             experiment.repetitions = 1 to share them"
        );
    }
    (0..repetitions)
        .map(|r| {
            let config = if r == 0 && repetitions == 1 {
                let mut c = config.clone();
                c.memory_mb /= repetitions.max(1) as f64;
                c
            } else {
                memory_only(config, repetitions)
            };
            femscale_runtime::SolveCache::from_config(&config, registry).map(|c| Some(Arc::new(c)))
        })
        .collect()
}

/// `config` with only its memory level (if it has one), given `1 / shares` of its memory.
fn memory_only(
    config: &femscale_runtime::CacheConfig,
    shares: usize,
) -> femscale_runtime::CacheConfig {
    let mut c = config.clone();
    c.levels.retain(|l| l == femscale_runtime::MEMORY_LEVEL);
    c.memory_mb /= shares.max(1) as f64;
    c
}

/// Unknowns and dimension of the biggest pending point (0 unknowns in 2D when no point has a
/// valid configuration).
fn biggest_point(jobs: &[Job<'_>]) -> (usize, usize) {
    jobs.iter()
        .filter_map(|job| {
            let config = job.point.config()?;
            let dofs = job.point.estimated_dofs()?;
            let dim = (config.problem.dim)
                .or(config.problem.mesh.dim())
                .unwrap_or(2);
            Some((dofs, dim))
        })
        .fold((0, 2), |best, (dofs, dim)| {
            // Saturating: an absurd mesh plans as the biggest possible problem.
            let dofs = dofs as usize;
            if dofs > best.0 { (dofs, dim) } else { best }
        })
}

pub(crate) mod ranks;
mod report;

pub(crate) use report::log_event;
pub use report::{ExperimentReport, ProgressEvent, ProgressFn, RankReport, RunOptions};
#[cfg(test)]
mod tests;
