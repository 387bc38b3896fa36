//! An auto-scaling pool of worker threads for sweeps and batch solves.
//!
//! Jobs go into a crossbeam channel; workers take them one at a time and run each inside their
//! own rayon pool of [`WorkerPoolConfig::threads_per_job`] threads, so that
//! `workers × threads per job <= cores` always holds and nested rayon parallelism never
//! oversubscribes the machine. A controller thread samples the queue depth, the busy workers and
//! the machine's load (a [`LoadSource`]) every `sample_interval` and grows or shrinks the pool
//! between `min_workers` and `max_workers` with hysteresis ([`Autoscaler`]). Every decision is
//! logged (`tracing`, target `femscale_scaling::worker_pool`), counted in the pool's
//! [`WorkerPoolStats`] and the process-wide [`crate::counters()`], and kept in
//! [`WorkerPool::events`].
//!
//! Jobs are `'static` closures ([`WorkerPool::submit`], [`WorkerPool::map`],
//! [`WorkerPool::map_unordered`]) or borrow from the caller ([`WorkerPool::scoped_for_each`],
//! which reports starts and results on the calling thread — what a sweep runner needs). A panic
//! in a job becomes [`JobError::Panicked`] for that job; the pool goes on. Dropping the
//! pool (or [`WorkerPool::shutdown`]) runs the jobs still queued, then joins the threads.
//!
//! ```
//! use std::sync::Arc;
//! use femscale_scaling::{FixedLoad, LoadSample, WorkerPool, WorkerPoolConfig};
//! // `WorkerPool::new` samples the machine's load (cargo feature `monitor`); here it is fixed.
//! let idle = Arc::new(FixedLoad(LoadSample::new(Some(0.0), None)));
//! let pool = WorkerPool::with_load_source(WorkerPoolConfig::default(), idle).unwrap();
//! let squares = pool.map(0..10u64, |i| i * i);
//! assert_eq!(squares[3].as_ref().unwrap(), &9);
//! let stats = pool.shutdown();
//! assert_eq!(stats.jobs_completed, 10);
//! ```

mod control;
mod scoped;

pub use control::{
    Autoscaler, Decision, FixedLoad, LoadSample, LoadSource, Observation, ScaleReason,
    WorkerPoolConfig,
};
pub use scoped::ScopedEvent;

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, select, unbounded};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::error::{Result, ScalingError};
use femscale_core::counters::Counter;

/// Scale events kept by [`WorkerPool::events`].
const MAX_EVENTS: usize = 256;

/// Why a job produced no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The job panicked; the pool goes on.
    #[error("the job panicked: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },
    /// The job was dropped without running (its pool went away).
    #[error("the job was dropped without running")]
    Lost,
}

/// The result of one submitted job, for [`JobHandle::join`].
#[derive(Debug)]
pub struct JobHandle<T> {
    rx: Receiver<std::result::Result<T, JobError>>,
}

impl<T> JobHandle<T> {
    /// Waits for the job and returns its value.
    ///
    /// # Errors
    /// [`JobError::Panicked`] if it panicked, [`JobError::Lost`] if it never ran.
    pub fn join(self) -> std::result::Result<T, JobError> {
        self.rx.recv().unwrap_or(Err(JobError::Lost))
    }
}

/// Counters and state of a pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkerPoolStats {
    /// Workers now (retiring ones excluded).
    pub current_workers: usize,
    /// Most workers at once.
    pub peak_workers: usize,
    /// Workers added by the controller.
    pub scale_ups: u64,
    /// Workers retired by the controller.
    pub scale_downs: u64,
    /// Jobs submitted.
    pub jobs_submitted: u64,
    /// Jobs finished (including panicked ones).
    pub jobs_completed: u64,
    /// Jobs that panicked.
    pub jobs_panicked: u64,
    /// Jobs waiting now.
    pub queued: usize,
    /// Workers running a job now.
    pub busy: usize,
    /// Threads of each job's rayon pool.
    pub threads_per_job: usize,
    /// Most CPU threads running jobs at once (busy workers × threads per job).
    pub peak_cpu_threads: usize,
    /// The cores the pool may use.
    pub cores: usize,
    /// Controller samples taken.
    pub samples: u64,
}

/// One change of the pool's size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScaleEvent {
    /// Seconds since the pool started.
    pub at_seconds: f64,
    /// `true` for a worker added, `false` for one retired.
    pub up: bool,
    /// Why.
    pub reason: ScaleReason,
    /// Workers after the change.
    pub workers: usize,
    /// Jobs waiting when it was decided.
    pub queued: usize,
    /// Busy workers when it was decided.
    pub busy: usize,
}

/// A job as the workers see it: runs the user's closure, delivers its result and returns
/// whether it panicked.
type Job = Box<dyn FnOnce() -> bool + Send>;

struct Shared {
    config: WorkerPoolConfig,
    threads_per_job: usize,
    jobs_rx: Receiver<Job>,
    retire_tx: Sender<()>,
    retire_rx: Receiver<()>,
    workers: AtomicUsize,
    busy: AtomicUsize,
    peak_workers: AtomicUsize,
    peak_cpu_threads: AtomicUsize,
    scale_ups: AtomicU64,
    scale_downs: AtomicU64,
    submitted: AtomicU64,
    completed: AtomicU64,
    panicked: AtomicU64,
    samples: AtomicU64,
    next_id: AtomicUsize,
    /// One receiver per worker started; each disconnects when its worker has exited.
    exits: Mutex<Vec<Receiver<()>>>,
    events: Mutex<VecDeque<ScaleEvent>>,
    started: Instant,
}

impl Shared {
    /// Starts one worker: a rayon pool of `threads_per_job` threads, one of which runs the
    /// worker's loop, so that jobs run on a thread of that pool and their rayon calls use it
    /// (no hand-off between a worker thread and its pool per job).
    fn spawn_worker(self: &Arc<Self>) -> Result<()> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let threads = self.threads_per_job;
        let prefix = self.config.name.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("{prefix}-{id}-{i}"))
            .build()
            .map_err(|e| ScalingError::ThreadPool {
                threads,
                message: e.to_string(),
            })?;
        let pool = Arc::new(pool);
        let (exit_tx, exit_rx) = bounded::<()>(0);
        let shared = Arc::clone(self);
        let keep = Arc::clone(&pool);
        pool.spawn(move || {
            shared.work();
            // The pool's handle goes with the loop (its threads then end), then the exit signal.
            drop(keep);
            drop(exit_tx);
        });
        self.exits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(exit_rx);
        Ok(())
    }

    /// A worker's loop: run jobs until retired or until the queue is closed and empty.
    fn work(&self) {
        loop {
            select! {
                recv(self.jobs_rx) -> job => match job {
                    Ok(job) => self.run(job),
                    Err(_) => break,
                },
                recv(self.retire_rx) -> _ => break,
            }
        }
    }

    fn run(&self, job: Job) {
        let busy = self.busy.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_cpu_threads
            .fetch_max(busy * self.threads_per_job, Ordering::Relaxed);
        let panicked = job();
        self.busy.fetch_sub(1, Ordering::SeqCst);
        self.completed.fetch_add(1, Ordering::Relaxed);
        femscale_core::record(Counter::WorkerJobs);
        if panicked {
            self.panicked.fetch_add(1, Ordering::Relaxed);
            femscale_core::record(Counter::WorkerJobPanics);
        }
    }

    fn record_event(&self, event: ScaleEvent) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if events.len() == MAX_EVENTS {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// The controller's loop: sample, decide, act, until `stop` says so.
    fn control(self: &Arc<Self>, stop: &Receiver<()>, load: &dyn LoadSource) {
        let mut autoscaler = Autoscaler::new(&self.config);
        while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(self.config.sample_interval) {
            let o = Observation {
                queued: self.jobs_rx.len(),
                busy: self.busy.load(Ordering::SeqCst),
                workers: self.workers.load(Ordering::SeqCst),
                load: load.sample(),
            };
            self.samples.fetch_add(1, Ordering::Relaxed);
            match autoscaler.observe(&o) {
                Decision::Hold => {}
                Decision::ScaleUp(reason) => {
                    // Taking back a retirement no worker has picked up yet is a scale-up
                    // without a new thread (and keeps live workers <= max_workers).
                    let revived = self.retire_rx.try_recv().is_ok();
                    if !revived && let Err(e) = self.spawn_worker() {
                        warn!(target: "femscale_scaling::worker_pool", error = %e, "cannot add a worker");
                        continue;
                    }
                    let workers = self.workers.fetch_add(1, Ordering::SeqCst) + 1;
                    self.peak_workers.fetch_max(workers, Ordering::Relaxed);
                    self.scale_ups.fetch_add(1, Ordering::Relaxed);
                    femscale_core::record(Counter::WorkerScaleUps);
                    info!(target: "femscale_scaling::worker_pool", workers, queued = o.queued, busy = o.busy, ?reason, "worker pool scaled up");
                    self.record_event(self.event(true, reason, workers, &o));
                }
                Decision::ScaleDown(reason) => {
                    if self.retire_tx.send(()).is_err() {
                        continue;
                    }
                    let workers = self.workers.fetch_sub(1, Ordering::SeqCst) - 1;
                    self.scale_downs.fetch_add(1, Ordering::Relaxed);
                    femscale_core::record(Counter::WorkerScaleDowns);
                    info!(target: "femscale_scaling::worker_pool", workers, queued = o.queued, busy = o.busy, ?reason, "worker pool scaled down");
                    self.record_event(self.event(false, reason, workers, &o));
                }
            }
        }
    }

    fn event(&self, up: bool, reason: ScaleReason, workers: usize, o: &Observation) -> ScaleEvent {
        ScaleEvent {
            at_seconds: self.started.elapsed().as_secs_f64(),
            up,
            reason,
            workers,
            queued: o.queued,
            busy: o.busy,
        }
    }
}

/// An auto-scaling pool of worker threads (see the [module documentation](self)).
pub struct WorkerPool {
    shared: Arc<Shared>,
    jobs_tx: Option<Sender<Job>>,
    stop_tx: Option<Sender<()>>,
    controller: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl WorkerPool {
    /// A pool sized by `config`, reading the machine's load with sysinfo
    /// ([`crate::SystemLoadSource`]; cargo feature `monitor`).
    ///
    /// # Errors
    /// An invalid configuration (naming the field), or threads that cannot be started.
    #[cfg(feature = "monitor")]
    pub fn new(config: WorkerPoolConfig) -> Result<Self> {
        Self::with_load_source(config, Arc::new(crate::load::SystemLoadSource::new()))
    }

    /// A pool sized by `config`, reading the machine's load from `load`.
    ///
    /// # Errors
    /// An invalid configuration (naming the field), or threads that cannot be started.
    pub fn with_load_source(config: WorkerPoolConfig, load: Arc<dyn LoadSource>) -> Result<Self> {
        config.validate()?;
        let (jobs_tx, jobs_rx) = unbounded::<Job>();
        let (retire_tx, retire_rx) = unbounded();
        let shared = Arc::new(Shared {
            threads_per_job: config.resolved_threads_per_job(),
            config,
            jobs_rx,
            retire_tx,
            retire_rx,
            workers: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            peak_workers: AtomicUsize::new(0),
            peak_cpu_threads: AtomicUsize::new(0),
            scale_ups: AtomicU64::new(0),
            scale_downs: AtomicU64::new(0),
            submitted: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            samples: AtomicU64::new(0),
            next_id: AtomicUsize::new(0),
            exits: Mutex::new(Vec::new()),
            events: Mutex::new(VecDeque::new()),
            started: Instant::now(),
        });
        let mut pool = Self {
            shared: Arc::clone(&shared),
            jobs_tx: Some(jobs_tx),
            stop_tx: None,
            controller: None,
        };
        for _ in 0..shared.config.resolved_initial_workers() {
            shared.spawn_worker()?;
            let n = shared.workers.fetch_add(1, Ordering::SeqCst) + 1;
            shared.peak_workers.fetch_max(n, Ordering::Relaxed);
        }
        if shared.config.max_workers > shared.config.min_workers {
            // The controller only runs when the size can change.
            let (stop_tx, stop_rx) = bounded::<()>(1);
            let name = format!("{}-control", shared.config.name);
            let controller = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || shared.control(&stop_rx, load.as_ref()))
                .map_err(|source| ScalingError::Spawn { name, source })?;
            pool.stop_tx = Some(stop_tx);
            pool.controller = Some(controller);
        }
        info!(target: "femscale_scaling::worker_pool",
            min = pool.shared.config.min_workers,
            max = pool.shared.config.max_workers,
            threads_per_job = pool.shared.threads_per_job,
            "worker pool started");
        Ok(pool)
    }

    /// Threads of the rayon pool each job runs in (`rayon::current_num_threads()` inside a job).
    pub fn threads_per_job(&self) -> usize {
        self.shared.threads_per_job
    }

    /// The configuration.
    pub fn config(&self) -> &WorkerPoolConfig {
        &self.shared.config
    }

    /// Queues `f`; its result comes back through the handle.
    pub fn submit<T, F>(&self, f: F) -> JobHandle<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = bounded(1);
        self.enqueue(Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(f)).map_err(panic_error);
            let panicked = result.is_err();
            // The handle may have been dropped: nobody wants the result then.
            let _ = tx.send(result);
            panicked
        }));
        JobHandle { rx }
    }

    fn enqueue(&self, job: Job) {
        if let Some(tx) = &self.jobs_tx {
            self.shared.submitted.fetch_add(1, Ordering::Relaxed);
            // The pool holds a receiver, so sending cannot fail; a failed send drops the job
            // and its handle reports `Lost`.
            let _ = tx.send(job);
        }
    }

    /// Runs `f` on every item and returns the results in the order of the items.
    pub fn map<I, T, F>(
        &self,
        items: impl IntoIterator<Item = I>,
        f: F,
    ) -> Vec<std::result::Result<T, JobError>>
    where
        I: Send + 'static,
        T: Send + 'static,
        F: Fn(I) -> T + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| {
                let f = Arc::clone(&f);
                self.submit(move || f(item))
            })
            .collect();
        handles.into_iter().map(JobHandle::join).collect()
    }

    /// Runs `f` on every item; the iterator yields `(index, result)` as jobs finish.
    pub fn map_unordered<I, T, F>(
        &self,
        items: impl IntoIterator<Item = I>,
        f: F,
    ) -> Completions<'_, T>
    where
        I: Send + 'static,
        T: Send + 'static,
        F: Fn(I) -> T + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let (tx, rx) = unbounded();
        let mut expected = 0;
        for (index, item) in items.into_iter().enumerate() {
            let (f, tx) = (Arc::clone(&f), tx.clone());
            self.enqueue(Box::new(move || {
                let result = catch_unwind(AssertUnwindSafe(|| f(item))).map_err(panic_error);
                let panicked = result.is_err();
                let _ = tx.send((index, result));
                panicked
            }));
            expected += 1;
        }
        Completions {
            rx,
            remaining: expected,
            _pool: std::marker::PhantomData,
        }
    }

    /// The pool's counters and state now.
    pub fn stats(&self) -> WorkerPoolStats {
        let s = &self.shared;
        WorkerPoolStats {
            current_workers: s.workers.load(Ordering::SeqCst),
            peak_workers: s.peak_workers.load(Ordering::Relaxed),
            scale_ups: s.scale_ups.load(Ordering::Relaxed),
            scale_downs: s.scale_downs.load(Ordering::Relaxed),
            jobs_submitted: s.submitted.load(Ordering::Relaxed),
            jobs_completed: s.completed.load(Ordering::Relaxed),
            jobs_panicked: s.panicked.load(Ordering::Relaxed),
            queued: s.jobs_rx.len(),
            busy: s.busy.load(Ordering::SeqCst),
            threads_per_job: s.threads_per_job,
            peak_cpu_threads: s.peak_cpu_threads.load(Ordering::Relaxed),
            cores: s.config.cores,
            samples: s.samples.load(Ordering::Relaxed),
        }
    }

    /// The latest scale events (at most 256), oldest first.
    pub fn events(&self) -> Vec<ScaleEvent> {
        let events = self.shared.events.lock().unwrap_or_else(|e| e.into_inner());
        events.iter().copied().collect()
    }

    /// Runs the jobs still queued, stops every thread and returns the final statistics.
    pub fn shutdown(mut self) -> WorkerPoolStats {
        self.close();
        self.stats()
    }

    fn close(&mut self) {
        if let Some(stop) = self.stop_tx.take() {
            let _ = stop.send(());
        }
        if let Some(controller) = self.controller.take()
            && controller.join().is_err()
        {
            warn!(target: "femscale_scaling::worker_pool", "the controller thread panicked");
        }
        // Closing the queue lets the workers drain it and exit.
        self.jobs_tx = None;
        let exits =
            std::mem::take(&mut *self.shared.exits.lock().unwrap_or_else(|e| e.into_inner()));
        for exit in exits {
            // Disconnects (an error) when the worker's loop has ended.
            let _ = exit.recv();
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.close();
    }
}

/// Results of [`WorkerPool::map_unordered`] as they finish: `(index, result)`.
#[derive(Debug)]
pub struct Completions<'a, T> {
    rx: Receiver<(usize, std::result::Result<T, JobError>)>,
    remaining: usize,
    _pool: std::marker::PhantomData<&'a WorkerPool>,
}

impl<T> Iterator for Completions<'_, T> {
    type Item = (usize, std::result::Result<T, JobError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        self.rx.recv().ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

fn panic_error(payload: Box<dyn std::any::Any + Send>) -> JobError {
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    JobError::Panicked { message }
}

#[cfg(test)]
mod tests;
