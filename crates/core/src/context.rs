//! The execution context of one solve: how many threads it may use, where its work vectors come
//! from and which counters record what it did.
//!
//! Nothing process-global is switched per solve: two solves with different contexts (one with
//! pooling and four threads, one without and serial) can run at the same time without seeing
//! each other's settings. Components receive what they need of it explicitly — the thread count
//! and the pool through [`SolverOptions`], buffers through [`ExecutionContext::take`] — and
//! deep components count their events with [`crate::counters::record`], which reaches the
//! context entered on the calling thread ([`ExecutionContext::enter`]).
//!
//! ```
//! use std::sync::Arc;
//! use femscale_core::{Counter, ExecutionContext, SolverOptions, VectorPool};
//!
//! let pool = Arc::new(VectorPool::new(1 << 20));
//! pool.set_enabled(true);
//! let ctx = ExecutionContext::new(2).with_pool(pool);
//! drop(ctx.take(100)); // allocated, then kept by the pool
//! {
//!     let _entered = ctx.enter();
//!     drop(ctx.take(100)); // reused: counted for this context
//!     femscale_core::counters::record(Counter::ParallelAssemblies);
//! }
//! let options = ctx.solver_options(SolverOptions::default());
//! assert_eq!(options.threads, 2);
//! assert!(options.pool.is_some());
//! let counted = ctx.counters();
//! assert_eq!((counted.pool_reuses, counted.parallel_assemblies), (1, 1));
//! ```

use std::sync::Arc;

use crate::counters::{CounterScope, CounterSnapshot, Counters};
use crate::pool::{PooledVec, VectorPool};
use crate::solver::SolverOptions;

/// Threads, memory pool and counters of one solve (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct ExecutionContext {
    threads: usize,
    pool: Option<Arc<VectorPool>>,
    counters: Arc<Counters>,
}

impl ExecutionContext {
    /// A context of `threads` threads (at least one) without a pool and with fresh counters.
    pub fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            pool: None,
            counters: Arc::new(Counters::new()),
        }
    }

    /// One thread, no pool.
    pub fn serial() -> Self {
        Self::new(1)
    }

    /// This context with `threads` threads (at least one), the same pool and counters.
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// This context with work vectors taken from (and returned to) `pool`.
    #[must_use]
    pub fn with_pool(mut self, pool: Arc<VectorPool>) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The thread count.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The pool work vectors come from, if any.
    pub fn pool(&self) -> Option<&Arc<VectorPool>> {
        self.pool.as_ref()
    }

    /// A zero-filled buffer of `len` values: from the pool when there is one, allocated
    /// otherwise.
    pub fn take(&self, len: usize) -> PooledVec {
        VectorPool::take_from(self.pool.as_ref(), len)
    }

    /// Returns a buffer to the pool (dropped without one).
    pub fn give_back(&self, buf: Vec<f64>) {
        if let Some(pool) = &self.pool {
            pool.give_back(buf);
        }
    }

    /// `options` with this context's thread count and pool.
    pub fn solver_options(&self, mut options: SolverOptions) -> SolverOptions {
        options.threads = self.threads;
        options.pool = self.pool.clone();
        options
    }

    /// Until the guard drops, events recorded on this thread ([`crate::counters::record`], pool
    /// reuses) are also counted for this context. Enter it on every thread that does the
    /// context's work (a rayon pool's `install` closure runs on another thread).
    pub fn enter(&self) -> CounterScope {
        CounterScope::enter(self.counters.clone())
    }

    /// What was counted for this context so far.
    pub fn counters(&self) -> CounterSnapshot {
        self.counters.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::{Counter, record};

    #[test]
    fn contexts_with_and_without_a_pool_do_not_affect_each_other() {
        let pool = Arc::new(VectorPool::new(1 << 20));
        pool.set_enabled(true);
        let pooled = ExecutionContext::new(4).with_pool(pool.clone());
        let plain = ExecutionContext::serial();
        drop(pooled.take(64));
        // The plain context never takes from (nor returns to) the pool.
        let v = plain.take(64);
        plain.give_back(v.into_vec());
        assert_eq!(pool.stats().held_buffers, 1);
        {
            let _e = pooled.enter();
            drop(pooled.take(64));
            record(Counter::CacheHits);
        }
        assert_eq!(pooled.counters().pool_reuses, 1);
        assert_eq!(pooled.counters().cache_hits, 1);
        assert_eq!(plain.counters(), CounterSnapshot::default());
        assert_eq!((pooled.threads(), plain.threads()), (4, 1));
        assert_eq!(ExecutionContext::new(0).threads(), 1);
        let options = plain.solver_options(SolverOptions::default());
        assert_eq!((options.threads, options.pool.is_none()), (1, true));
    }
}
