//! The worker pool's configuration and its scaling rule, a pure function of what it observes so
//! that it can be tested sample by sample.

use std::time::Duration;

use femscale_core::ExecutionPlan;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ScalingError};

/// What the machine looks like to the pool at one sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoadSample {
    /// Fraction (0–1) of all cores busy with other processes, when known.
    pub other_cpu_load: Option<f64>,
    /// Memory available, MB, when known.
    pub available_memory_mb: Option<f64>,
}

impl LoadSample {
    /// A sample with these values.
    pub fn new(other_cpu_load: Option<f64>, available_memory_mb: Option<f64>) -> Self {
        Self {
            other_cpu_load,
            available_memory_mb,
        }
    }
}

/// Where the pool reads the machine's load from; inject a fake one in tests.
pub trait LoadSource: Send + Sync {
    /// The load now.
    fn sample(&self) -> LoadSample;
}

/// A load source that always reports the same sample.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedLoad(pub LoadSample);

impl LoadSource for FixedLoad {
    fn sample(&self) -> LoadSample {
        self.0
    }
}

impl<F: Fn() -> LoadSample + Send + Sync> LoadSource for F {
    fn sample(&self) -> LoadSample {
        self()
    }
}

/// How a [`crate::WorkerPool`] sizes itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkerPoolConfig {
    /// Workers kept even when idle (>= 1).
    pub min_workers: usize,
    /// Workers to start with; `None` starts with `min_workers`.
    pub initial_workers: Option<usize>,
    /// Workers at most.
    pub max_workers: usize,
    /// Threads of the rayon pool each job runs in; 0 means `cores / max_workers`. Always
    /// `max_workers × threads_per_job <= cores`.
    pub threads_per_job: usize,
    /// Cores the pool may keep busy (default: all of this process's).
    pub cores: usize,
    /// How often the controller samples queue and load.
    pub sample_interval: Duration,
    /// Consecutive samples asking for a worker more before one is added (hysteresis).
    pub scale_up_after: usize,
    /// Consecutive samples asking for a worker less before one is retired (hysteresis).
    pub scale_down_after: usize,
    /// Jobs waiting (with every worker busy) that count as a deep queue.
    pub scale_up_queue_depth: usize,
    /// Above this fraction of the cores busy with other processes no worker is added, and
    /// workers are retired down to `min_workers`.
    pub max_other_cpu_load: f64,
    /// Memory to leave free, MB: no worker is added when available memory minus
    /// `job_memory_mb` would fall below it, and workers are retired when it is already below.
    pub min_free_memory_mb: f64,
    /// Estimated memory of one job, MB.
    pub job_memory_mb: f64,
    /// Prefix of the worker threads' names.
    pub name: String,
}

impl Default for WorkerPoolConfig {
    fn default() -> Self {
        let cores = crate::num_cores();
        Self {
            min_workers: 1,
            initial_workers: None,
            max_workers: cores,
            threads_per_job: 0,
            cores,
            sample_interval: Duration::from_millis(20),
            scale_up_after: 2,
            scale_down_after: 25,
            scale_up_queue_depth: 1,
            max_other_cpu_load: 0.75,
            min_free_memory_mb: 256.0,
            job_memory_mb: 0.0,
            name: "femscale-worker".into(),
        }
    }
}

impl WorkerPoolConfig {
    /// A pool for `plan` on this machine: starting with and at most `plan.runs_in_flight`
    /// workers of `plan.threads` threads each (both reduced if the plan asks for more than the
    /// cores), shrinking to one when idle or when other processes load the CPU, with the plan's
    /// per-run memory estimate.
    pub fn from_plan(plan: &ExecutionPlan) -> Self {
        let cores = crate::num_cores();
        let threads = plan.threads.clamp(1, cores);
        let max = plan.runs_in_flight.clamp(1, (cores / threads).max(1));
        Self {
            initial_workers: Some(max),
            max_workers: max,
            threads_per_job: threads,
            cores,
            job_memory_mb: plan.estimated_memory_mb.unwrap_or(0.0),
            ..Self::default()
        }
    }

    /// This configuration with `min..=max` workers.
    pub fn with_workers(mut self, min: usize, max: usize) -> Self {
        self.min_workers = min;
        self.max_workers = max;
        self
    }

    /// Workers to start with after resolving `None`.
    pub fn resolved_initial_workers(&self) -> usize {
        self.initial_workers.unwrap_or(self.min_workers)
    }

    /// Threads per job after resolving 0.
    pub fn resolved_threads_per_job(&self) -> usize {
        if self.threads_per_job == 0 {
            (self.cores / self.max_workers.max(1)).max(1)
        } else {
            self.threads_per_job
        }
    }

    /// Checks ranges and that `max_workers × threads_per_job` does not exceed `cores`.
    ///
    /// # Errors
    /// [`ScalingError::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, reason: String| Err(ScalingError::invalid(field, reason));
        if self.cores == 0 {
            return bad("cores", "must be at least 1".into());
        }
        if self.min_workers == 0 {
            return bad("min_workers", "must be at least 1".into());
        }
        if self.max_workers < self.min_workers {
            return bad(
                "max_workers",
                format!(
                    "must be at least min_workers ({}), got {}",
                    self.min_workers, self.max_workers
                ),
            );
        }
        let initial = self.resolved_initial_workers();
        if !(self.min_workers..=self.max_workers).contains(&initial) {
            return bad(
                "initial_workers",
                format!(
                    "must be between min_workers ({}) and max_workers ({}), got {initial}",
                    self.min_workers, self.max_workers
                ),
            );
        }
        let threads = self.resolved_threads_per_job();
        if self.max_workers.saturating_mul(threads) > self.cores {
            return bad(
                "max_workers",
                format!(
                    "{} workers × {threads} threads per job would oversubscribe {} cores",
                    self.max_workers, self.cores
                ),
            );
        }
        if self.sample_interval.is_zero() {
            return bad("sample_interval", "must be positive".into());
        }
        if self.scale_up_after == 0 || self.scale_down_after == 0 {
            return bad(
                "scale_up_after",
                "scale_up_after and scale_down_after must be at least 1".into(),
            );
        }
        if !(self.max_other_cpu_load > 0.0 && self.max_other_cpu_load <= 1.0) {
            return bad(
                "max_other_cpu_load",
                format!("must be in (0, 1], got {}", self.max_other_cpu_load),
            );
        }
        for (field, v) in [
            ("min_free_memory_mb", self.min_free_memory_mb),
            ("job_memory_mb", self.job_memory_mb),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(field, format!("must be finite and >= 0, got {v}"));
            }
        }
        Ok(())
    }
}

/// What the controller sees at one sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Observation {
    /// Jobs waiting in the queue.
    pub queued: usize,
    /// Workers running a job.
    pub busy: usize,
    /// Workers (the target count: retiring workers no longer count).
    pub workers: usize,
    /// The machine's load.
    pub load: LoadSample,
}

/// Why the pool changed size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ScaleReason {
    /// Jobs waited while every worker was busy.
    DeepQueue,
    /// Workers were idle with nothing queued.
    Idle,
    /// Other processes kept the CPU busy.
    CpuLoad,
    /// Available memory fell below the reserve.
    MemoryPressure,
}

/// What the controller decided at one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Keep the size.
    Hold,
    /// Add a worker.
    ScaleUp(ScaleReason),
    /// Retire a worker.
    ScaleDown(ScaleReason),
}

/// The scaling rule with its hysteresis state: a change needs several consecutive samples that
/// ask for it (`scale_up_after`, `scale_down_after`); any sample that does not resets the count.
#[derive(Debug, Clone)]
pub struct Autoscaler {
    config: WorkerPoolConfig,
    up_streak: usize,
    down_streak: usize,
}

impl Autoscaler {
    /// The rule for `config` (assumed valid).
    pub fn new(config: &WorkerPoolConfig) -> Self {
        Self {
            config: config.clone(),
            up_streak: 0,
            down_streak: 0,
        }
    }

    /// Feeds one sample and returns the decision.
    pub fn observe(&mut self, o: &Observation) -> Decision {
        let c = &self.config;
        let cpu_busy = o
            .load
            .other_cpu_load
            .is_some_and(|l| l > c.max_other_cpu_load);
        let memory_tight = o
            .load
            .available_memory_mb
            .is_some_and(|a| a < c.min_free_memory_mb);
        let memory_for_one_more = o
            .load
            .available_memory_mb
            .is_none_or(|a| a - c.job_memory_mb >= c.min_free_memory_mb);
        let idle = o.workers.saturating_sub(o.busy);
        let deep_queue = o.queued >= c.scale_up_queue_depth.max(1) && idle == 0;

        let want_up = o.workers < c.max_workers && deep_queue && !cpu_busy && memory_for_one_more;
        let down_reason = if o.workers <= c.min_workers {
            None
        } else if memory_tight {
            Some(ScaleReason::MemoryPressure)
        } else if cpu_busy {
            Some(ScaleReason::CpuLoad)
        } else if o.queued == 0 && idle > 0 {
            Some(ScaleReason::Idle)
        } else {
            None
        };

        self.up_streak = if want_up { self.up_streak + 1 } else { 0 };
        self.down_streak = if down_reason.is_some() {
            self.down_streak + 1
        } else {
            0
        };
        if self.up_streak >= c.scale_up_after {
            self.up_streak = 0;
            self.down_streak = 0;
            return Decision::ScaleUp(ScaleReason::DeepQueue);
        }
        if let Some(reason) = down_reason
            && self.down_streak >= c.scale_down_after
        {
            self.up_streak = 0;
            self.down_streak = 0;
            return Decision::ScaleDown(reason);
        }
        Decision::Hold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> WorkerPoolConfig {
        WorkerPoolConfig {
            min_workers: 1,
            max_workers: 4,
            cores: 4,
            scale_up_after: 3,
            scale_down_after: 2,
            min_free_memory_mb: 100.0,
            job_memory_mb: 50.0,
            ..WorkerPoolConfig::default()
        }
    }

    fn obs(queued: usize, busy: usize, workers: usize) -> Observation {
        Observation {
            queued,
            busy,
            workers,
            load: LoadSample::new(Some(0.0), Some(10_000.0)),
        }
    }

    #[test]
    fn scales_up_only_after_consecutive_deep_queue_samples() {
        let mut a = Autoscaler::new(&config());
        let deep = obs(10, 1, 1);
        assert_eq!(a.observe(&deep), Decision::Hold);
        assert_eq!(a.observe(&deep), Decision::Hold);
        // One calm sample resets the streak.
        assert_eq!(a.observe(&obs(0, 1, 1)), Decision::Hold);
        assert_eq!(a.observe(&deep), Decision::Hold);
        assert_eq!(a.observe(&deep), Decision::Hold);
        assert_eq!(a.observe(&deep), Decision::ScaleUp(ScaleReason::DeepQueue));
        // At the maximum nothing more is added.
        for _ in 0..10 {
            assert_eq!(a.observe(&obs(10, 4, 4)), Decision::Hold);
        }
        // A queue while a worker is idle is not deep.
        for _ in 0..10 {
            assert_eq!(a.observe(&obs(3, 1, 2)), Decision::Hold);
        }
    }

    #[test]
    fn scales_down_when_idle_but_not_below_the_minimum() {
        let mut a = Autoscaler::new(&config());
        assert_eq!(a.observe(&obs(0, 0, 3)), Decision::Hold);
        assert_eq!(
            a.observe(&obs(0, 0, 3)),
            Decision::ScaleDown(ScaleReason::Idle)
        );
        assert_eq!(a.observe(&obs(0, 0, 2)), Decision::Hold);
        assert_eq!(
            a.observe(&obs(0, 0, 2)),
            Decision::ScaleDown(ScaleReason::Idle)
        );
        for _ in 0..10 {
            assert_eq!(a.observe(&obs(0, 0, 1)), Decision::Hold);
        }
    }

    #[test]
    fn cpu_load_and_memory_block_growth_and_shrink_the_pool() {
        let mut a = Autoscaler::new(&config());
        let mut busy = obs(10, 2, 2);
        busy.load.other_cpu_load = Some(0.9);
        for _ in 0..5 {
            assert_ne!(a.observe(&busy), Decision::ScaleUp(ScaleReason::DeepQueue));
        }
        let mut a = Autoscaler::new(&config());
        assert_eq!(a.observe(&busy), Decision::Hold);
        assert_eq!(a.observe(&busy), Decision::ScaleDown(ScaleReason::CpuLoad));

        // 140 MB available: one more 50 MB job would leave 90 < 100 MB free.
        let mut a = Autoscaler::new(&config());
        let mut tight = obs(10, 1, 1);
        tight.load.available_memory_mb = Some(140.0);
        for _ in 0..10 {
            assert_eq!(a.observe(&tight), Decision::Hold);
        }
        let mut a = Autoscaler::new(&config());
        let mut below = obs(10, 2, 2);
        below.load.available_memory_mb = Some(80.0);
        assert_eq!(a.observe(&below), Decision::Hold);
        assert_eq!(
            a.observe(&below),
            Decision::ScaleDown(ScaleReason::MemoryPressure)
        );
        // Unknown load never blocks.
        let mut a = Autoscaler::new(&config());
        let mut unknown = obs(10, 1, 1);
        unknown.load = LoadSample::default();
        a.observe(&unknown);
        a.observe(&unknown);
        assert_eq!(
            a.observe(&unknown),
            Decision::ScaleUp(ScaleReason::DeepQueue)
        );
    }

    #[test]
    fn configurations_that_would_oversubscribe_are_refused() {
        let ok = WorkerPoolConfig {
            cores: 2,
            ..WorkerPoolConfig::default()
        }
        .with_workers(1, 2);
        ok.validate().unwrap();
        assert_eq!(ok.resolved_threads_per_job(), 1);
        let mut over = ok.clone();
        over.threads_per_job = 2;
        let err = over.validate().unwrap_err().to_string();
        assert!(err.contains("oversubscribe"), "{err}");
        let mut zero = ok.clone();
        zero.min_workers = 0;
        assert!(zero.validate().is_err());
        let mut inverted = ok.clone().with_workers(2, 1);
        inverted.cores = 4;
        assert!(inverted.validate().is_err());
        let mut nan = ok;
        nan.job_memory_mb = f64::NAN;
        assert!(nan.validate().is_err());

        let mut plan = ExecutionPlan::single(64, true, None);
        plan.runs_in_flight = 64;
        plan.estimated_memory_mb = Some(300.0);
        let from_plan = WorkerPoolConfig::from_plan(&plan);
        assert!(from_plan.max_workers * from_plan.threads_per_job <= from_plan.cores);
        assert_eq!(from_plan.job_memory_mb, 300.0);
        from_plan.validate().unwrap();
        assert_eq!(from_plan.resolved_initial_workers(), from_plan.max_workers);
        let mut bad_initial = from_plan.clone();
        bad_initial.initial_workers = Some(from_plan.max_workers + 1);
        assert!(bad_initial.validate().is_err());
    }
}
