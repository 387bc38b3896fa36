//! Process-wide performance counters: what the scaling machinery did, for
//! `FemSolver::scaling_metrics()` and the solve report.
//!
//! They live in core so that every component (expressions, assembly, caches, worker pools,
//! scalers) counts its own events without depending on `femscale-scaling`, which re-exports them.
//!
//! The components that do the work increment them ([`Counters::record`]); a
//! [`CounterSnapshot`] is a serialisable copy, and the difference of two snapshots
//! ([`CounterSnapshot::since`]) is what happened in between (e.g. during one solve). The
//! process-wide instance is [`counters`]; [`scaling_metrics`] snapshots it together with the
//! reuse counts of the global [`VectorPool`].
//!
//! Components record events with [`record`]: into the process-wide counters and into the
//! counters of the [`ExecutionContext`](crate::ExecutionContext) entered on the calling thread,
//! if any, so that a solve reports its own events even while other solves run concurrently.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::pool::VectorPool;
use serde::{Deserialize, Serialize};

/// One kind of event counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Counter {
    /// An expression was compiled (JIT or bytecode).
    ExpressionCompilations,
    /// A cache lookup found its entry.
    CacheHits,
    /// A cache lookup found nothing.
    CacheMisses,
    /// An assembly ran on several threads.
    ParallelAssemblies,
    /// A mesh refinement step ran.
    MeshRefinements,
    /// A buffer was reused from a pool other than the global vector pool (e.g. assembly
    /// buffers); the global vector pool's reuses are added by [`scaling_metrics`].
    PoolReuses,
    /// The worker pool added a worker.
    WorkerScaleUps,
    /// The worker pool retired a worker.
    WorkerScaleDowns,
    /// A job finished on the worker pool (successfully or not).
    WorkerJobs,
    /// A job on the worker pool panicked.
    WorkerJobPanics,
    /// An execution plan was made by a scaler.
    Plans,
}

impl Counter {
    /// Every counter, in the order of [`CounterSnapshot`]'s fields.
    pub const ALL: [Counter; 11] = [
        Counter::ExpressionCompilations,
        Counter::CacheHits,
        Counter::CacheMisses,
        Counter::ParallelAssemblies,
        Counter::MeshRefinements,
        Counter::PoolReuses,
        Counter::WorkerScaleUps,
        Counter::WorkerScaleDowns,
        Counter::WorkerJobs,
        Counter::WorkerJobPanics,
        Counter::Plans,
    ];

    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|&c| c == self)
            .unwrap_or_default()
    }
}

/// A set of atomic counters; cheap to increment from any thread.
#[derive(Debug, Default)]
pub struct Counters {
    values: [AtomicU64; Counter::ALL.len()],
    /// Bytes of pool reuses counted by [`Counters::add_pool_reuse`] (scoped counters only: the
    /// process-wide snapshot takes them from the global pool's own statistics).
    pool_bytes_reused: AtomicU64,
}

impl Counters {
    /// All counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one to `counter`.
    pub fn record(&self, counter: Counter) {
        self.add(counter, 1);
    }

    /// Adds `n` to `counter`.
    pub fn add(&self, counter: Counter, n: u64) {
        self.values[counter.index()].fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one buffer of `bytes` reused from a pool.
    pub fn add_pool_reuse(&self, bytes: u64) {
        self.add(Counter::PoolReuses, 1);
        self.pool_bytes_reused.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The current value of `counter`.
    pub fn get(&self, counter: Counter) -> u64 {
        self.values[counter.index()].load(Ordering::Relaxed)
    }

    /// Sets every counter to zero.
    pub fn reset(&self) {
        for v in &self.values {
            v.store(0, Ordering::Relaxed);
        }
        self.pool_bytes_reused.store(0, Ordering::Relaxed);
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> CounterSnapshot {
        let g = |c| self.get(c);
        CounterSnapshot {
            expression_compilations: g(Counter::ExpressionCompilations),
            cache_hits: g(Counter::CacheHits),
            cache_misses: g(Counter::CacheMisses),
            parallel_assemblies: g(Counter::ParallelAssemblies),
            mesh_refinements: g(Counter::MeshRefinements),
            pool_reuses: g(Counter::PoolReuses),
            pool_bytes_reused: self.pool_bytes_reused.load(Ordering::Relaxed),
            worker_scale_ups: g(Counter::WorkerScaleUps),
            worker_scale_downs: g(Counter::WorkerScaleDowns),
            worker_jobs: g(Counter::WorkerJobs),
            worker_job_panics: g(Counter::WorkerJobPanics),
            plans: g(Counter::Plans),
        }
    }
}

/// A serialisable copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CounterSnapshot {
    /// Expressions compiled.
    pub expression_compilations: u64,
    /// Cache lookups that hit.
    pub cache_hits: u64,
    /// Cache lookups that missed.
    pub cache_misses: u64,
    /// Assemblies run in parallel.
    pub parallel_assemblies: u64,
    /// Mesh refinement steps.
    pub mesh_refinements: u64,
    /// Buffers reused from memory pools instead of allocated.
    pub pool_reuses: u64,
    /// Bytes of allocations avoided by those reuses (global vector pool only).
    pub pool_bytes_reused: u64,
    /// Workers added by worker pools.
    pub worker_scale_ups: u64,
    /// Workers retired by worker pools.
    pub worker_scale_downs: u64,
    /// Jobs finished on worker pools.
    pub worker_jobs: u64,
    /// Jobs that panicked on worker pools.
    pub worker_job_panics: u64,
    /// Execution plans made.
    pub plans: u64,
}

impl CounterSnapshot {
    /// What happened between `earlier` and this snapshot (saturating at zero if a reset came in
    /// between).
    pub fn since(&self, earlier: &CounterSnapshot) -> CounterSnapshot {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        CounterSnapshot {
            expression_compilations: d(
                self.expression_compilations,
                earlier.expression_compilations,
            ),
            cache_hits: d(self.cache_hits, earlier.cache_hits),
            cache_misses: d(self.cache_misses, earlier.cache_misses),
            parallel_assemblies: d(self.parallel_assemblies, earlier.parallel_assemblies),
            mesh_refinements: d(self.mesh_refinements, earlier.mesh_refinements),
            pool_reuses: d(self.pool_reuses, earlier.pool_reuses),
            pool_bytes_reused: d(self.pool_bytes_reused, earlier.pool_bytes_reused),
            worker_scale_ups: d(self.worker_scale_ups, earlier.worker_scale_ups),
            worker_scale_downs: d(self.worker_scale_downs, earlier.worker_scale_downs),
            worker_jobs: d(self.worker_jobs, earlier.worker_jobs),
            worker_job_panics: d(self.worker_job_panics, earlier.worker_job_panics),
            plans: d(self.plans, earlier.plans),
        }
    }

    /// Worker-pool decisions: scale-ups plus scale-downs.
    pub fn worker_decisions(&self) -> u64 {
        self.worker_scale_ups + self.worker_scale_downs
    }
}

/// The process-wide counters.
pub fn counters() -> &'static Counters {
    static GLOBAL: OnceLock<Counters> = OnceLock::new();
    GLOBAL.get_or_init(Counters::new)
}

thread_local! {
    /// The counters of the execution context entered on this thread (innermost first).
    static SCOPE: RefCell<Vec<Arc<Counters>>> = const { RefCell::new(Vec::new()) };
}

/// Records one `counter` event: process-wide, and in the counters of the execution context
/// entered on this thread.
pub fn record(counter: Counter) {
    counters().record(counter);
    with_scope(|c| c.record(counter));
}

/// Counts a pool reuse of `bytes` in the scoped counters of this thread (the process-wide
/// snapshot folds in the global pool's statistics instead, see [`scaling_metrics`]).
pub(crate) fn record_pool_reuse(bytes: u64) {
    with_scope(|c| c.add_pool_reuse(bytes));
}

fn with_scope(f: impl FnOnce(&Counters)) {
    // `try_with`: a thread being torn down records nothing rather than panicking.
    let _ = SCOPE.try_with(|s| {
        if let Some(c) = s.borrow().last() {
            f(c);
        }
    });
}

/// While alive, [`record`] on this thread also counts into the counters it was made with.
/// Made by [`ExecutionContext::enter`](crate::ExecutionContext::enter); not `Send`: it ends on
/// the thread that entered.
#[must_use = "the scope ends when the guard is dropped"]
pub struct CounterScope {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl CounterScope {
    pub(crate) fn enter(counters: Arc<Counters>) -> Self {
        SCOPE.with(|s| s.borrow_mut().push(counters));
        Self {
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Drop for CounterScope {
    fn drop(&mut self) {
        let _ = SCOPE.try_with(|s| s.borrow_mut().pop());
    }
}

/// The process-wide counters with the reuses of the global [`VectorPool`] folded into
/// `pool_reuses` and `pool_bytes_reused`.
pub fn scaling_metrics() -> CounterSnapshot {
    metrics_with_pool(counters(), VectorPool::global())
}

/// A snapshot of `counters` with the reuses of `pool` folded into `pool_reuses` and
/// `pool_bytes_reused`.
fn metrics_with_pool(counters: &Counters, pool: &VectorPool) -> CounterSnapshot {
    let mut s = counters.snapshot();
    let pool = pool.stats();
    s.pool_reuses += pool.reuses;
    s.pool_bytes_reused += pool.reused_bytes;
    s
}

/// Sets the process-wide counters and the global vector pool's counters to zero.
pub fn reset_scaling_metrics() {
    counters().reset();
    VectorPool::global().reset_stats();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_count_what_was_recorded() {
        let c = Counters::new();
        c.record(Counter::CacheHits);
        c.record(Counter::CacheHits);
        c.add(Counter::ExpressionCompilations, 5);
        c.record(Counter::WorkerScaleUps);
        c.record(Counter::WorkerScaleDowns);
        let before = c.snapshot();
        assert_eq!(before.cache_hits, 2);
        assert_eq!(before.expression_compilations, 5);
        assert_eq!(before.cache_misses, 0);
        assert_eq!(before.worker_decisions(), 2);
        c.record(Counter::ParallelAssemblies);
        c.record(Counter::CacheHits);
        let delta = c.snapshot().since(&before);
        assert_eq!((delta.parallel_assemblies, delta.cache_hits), (1, 1));
        assert_eq!(delta.expression_compilations, 0);
        c.reset();
        assert_eq!(c.snapshot(), CounterSnapshot::default());
        assert_eq!(c.snapshot().since(&before).cache_hits, 0);
    }

    #[test]
    fn every_counter_has_its_own_slot() {
        let c = Counters::new();
        for (i, &counter) in Counter::ALL.iter().enumerate() {
            c.add(counter, i as u64 + 1);
        }
        for (i, &counter) in Counter::ALL.iter().enumerate() {
            assert_eq!(c.get(counter), i as u64 + 1);
        }
        let json = serde_json::to_value(c.snapshot()).unwrap();
        assert_eq!(json["expression_compilations"], 1);
        assert_eq!(json["plans"], 11);
    }

    #[test]
    fn the_metrics_add_the_vector_pool_reuses_to_the_counted_ones() {
        // Private instances: exact values, whatever other tests do to the global ones.
        let c = Counters::new();
        c.add(Counter::PoolReuses, 3);
        c.record(Counter::MeshRefinements);
        let pool = std::sync::Arc::new(VectorPool::new(1 << 20));
        pool.set_enabled(true);
        for _ in 0..3 {
            drop(pool.take(100)); // allocated once, then reused twice (800 bytes each)
        }
        let m = metrics_with_pool(&c, &pool);
        assert_eq!((m.pool_reuses, m.pool_bytes_reused), (3 + 2, 1600));
        assert_eq!(m.mesh_refinements, 1);
        let without_pool = CounterSnapshot {
            pool_reuses: m.pool_reuses - 2,
            pool_bytes_reused: 0,
            ..m
        };
        assert_eq!(without_pool, c.snapshot(), "nothing else changes");
    }

    #[test]
    fn a_scope_counts_only_the_events_of_its_thread() {
        let mine = Arc::new(Counters::new());
        let other = Arc::new(Counters::new());
        std::thread::scope(|s| {
            s.spawn(|| {
                let _scope = CounterScope::enter(other.clone());
                for _ in 0..5 {
                    record(Counter::ParallelAssemblies);
                }
            });
            let _scope = CounterScope::enter(mine.clone());
            record(Counter::ParallelAssemblies);
            record(Counter::CacheHits);
            {
                // Nested scopes: the innermost one counts.
                let inner = Arc::new(Counters::new());
                let _inner = CounterScope::enter(inner.clone());
                record(Counter::CacheMisses);
                assert_eq!(inner.get(Counter::CacheMisses), 1);
            }
            record_pool_reuse(800);
        });
        let m = mine.snapshot();
        assert_eq!(
            (m.parallel_assemblies, m.cache_hits, m.cache_misses),
            (1, 1, 0)
        );
        assert_eq!((m.pool_reuses, m.pool_bytes_reused), (1, 800));
        assert_eq!(other.get(Counter::ParallelAssemblies), 5);
        // Without a scope, only the process-wide counters see an event.
        let before = mine.snapshot();
        record(Counter::CacheHits);
        assert_eq!(mine.snapshot(), before);
    }

    #[test]
    fn the_global_metrics_include_the_global_vector_pool() {
        // Without the pool, `pool_bytes_reused` is 0 whatever happens: reuse 8 KiB from the
        // global pool (other tests of this binary may reuse more, never reset the counters).
        let pool = VectorPool::global();
        let was_enabled = pool.is_enabled();
        pool.set_enabled(true);
        drop(pool.take(1024));
        drop(pool.take(1024));
        let m = scaling_metrics();
        pool.set_enabled(was_enabled);
        assert!(m.pool_bytes_reused >= 8192, "{m:?}");
        assert!(m.pool_reuses >= 1, "{m:?}");
    }
}
