//! # femscale-scaling
//!
//! How femscale uses the machine: planning, running, watching and reusing.
//!
//! | module | what it holds |
//! |---|---|
//! | [`adaptive`] | [`AdaptiveScaler`]: threads, parallel assembly, direct vs AMG-CG, runs in flight and the memory check, from a work estimate and the machine's load ([`MemoryModel`]) |
//! | [`worker_pool`] | [`WorkerPool`]: crossbeam-channel jobs on workers that grow and shrink with queue depth, CPU load and memory headroom, never oversubscribing cores |
//! | `monitor` | `ResourceMonitor`: sampled process/system CPU and memory (GPU via NVML), peak RSS, mean CPU (feature `monitor`) |
//! | [`usage`] | [`measure`]: wall and CPU time and exact peak RSS of one closure (one solve), ~30 µs |
//! | `load` | `SystemLoadSource`: other processes' CPU load and available memory, for the pool (feature `monitor`) |
//! | `gpu` | `Nvml`: GPU utilisation through NVML loaded at run time, absent-safe (feature `monitor`) |
//!
//! The cargo feature `monitor` (on by default) brings the modules that sample the machine
//! (sysinfo, and libloading for NVML) and `WorkerPool::new`, which samples the load with
//! them; without it a pool takes its [`LoadSource`] explicitly
//! ([`WorkerPool::with_load_source`]).
//!
//! Memory pools and the performance counters live in `femscale-core` (so that the solvers,
//! assemblers, expressions and caches use them without depending on this crate) and are
//! re-exported here: [`VectorPool`], [`PooledVec`], [`PoolStats`]; [`Counters`], [`counters()`],
//! [`scaling_metrics`].
//!
//! This crate depends only on `femscale-core` among femscale's crates.
//!
//! ```
//! use femscale_core::{Scaler, SolverChoice, SystemLoad, WorkEstimate};
//! use femscale_scaling::AdaptiveScaler;
//!
//! let scaler = AdaptiveScaler::default();
//! let load = SystemLoad::fixed(2, Some(16_000.0));
//! // One large 2D solve: all cores, parallel assembly, AMG-CG.
//! let plan = scaler.plan(&WorkEstimate::p1(1_000_000, 2), &load);
//! assert_eq!((plan.threads, plan.parallel_assembly), (2, true));
//! assert_eq!(plan.solver, Some(SolverChoice::AmgCg));
//! // A sweep of 40 small solves: two runs at once, one thread each.
//! let plan = scaler.plan(&WorkEstimate::p1(4_225, 2).with_queued_runs(40), &load);
//! assert_eq!((plan.runs_in_flight, plan.threads), (2, 1));
//! // Below 1,000 unknowns the direct solver.
//! let plan = scaler.plan(&WorkEstimate::p1(961, 2), &load);
//! assert_eq!((plan.threads, plan.solver), (1, Some(SolverChoice::Direct)));
//! ```
#![warn(rustdoc::broken_intra_doc_links)]

pub mod adaptive;
pub mod error;
#[cfg(feature = "monitor")]
pub mod gpu;
#[cfg(feature = "monitor")]
pub mod load;
#[cfg(feature = "monitor")]
pub mod monitor;
pub mod usage;
pub mod worker_pool;

pub use adaptive::{AdaptiveScaler, MemoryModel};
pub use error::{Result, ScalingError};
pub use femscale_core::counters::{
    Counter, CounterSnapshot, Counters, counters, reset_scaling_metrics, scaling_metrics,
};
pub use femscale_core::pool::{DEFAULT_GLOBAL_POOL_BYTES, PoolStats, PooledVec, VectorPool};
#[cfg(feature = "monitor")]
pub use gpu::{GpuDevice, GpuSnapshot, Nvml};
#[cfg(feature = "monitor")]
pub use load::{LOAD_WINDOW, SystemLoadSource};
#[cfg(feature = "monitor")]
pub use monitor::{CPU_WINDOW, MonitorSummary, ResourceMonitor, ResourceSnapshot};
pub use usage::{UsageSummary, measure};
pub use worker_pool::{
    Autoscaler, Completions, Decision, FixedLoad, JobError, JobHandle, LoadSample, LoadSource,
    Observation, ScaleEvent, ScaleReason, ScopedEvent, WorkerPool, WorkerPoolConfig,
    WorkerPoolStats,
};

/// Logical cores available to this process.
pub fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
