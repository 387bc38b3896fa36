//! Bounded pools of reusable `f64` work vectors.
//!
//! Repeated solves of the same size (a sweep over sources, a time loop, a batch) allocate the
//! same work vectors again and again; for large vectors every allocation is fresh pages from the
//! kernel, touched (and page-faulted) on first use. A [`VectorPool`] keeps returned buffers,
//! keyed by their length, and hands them out again, zero-filled, so a repeated
//! prepare-and-solve of the same size allocates nothing.
//!
//! * Buffers are taken with [`VectorPool::take`] and come back automatically when the
//!   [`PooledVec`] guard is dropped.
//! * The pool holds at most [`VectorPool::max_bytes`] of idle buffers; returning a buffer past
//!   the bound evicts the least recently returned ones (and a buffer larger than the bound is
//!   dropped).
//! * A disabled pool allocates every buffer and keeps nothing, so pooling never changes results.
//!   New pools start disabled; [`VectorPool::global`] starts enabled, and only code that asks
//!   for it takes from it: a solve whose [`ExecutionContext`](crate::ExecutionContext) pools
//!   (`scaling.enable_memory_pooling`), or a caller that passes it in [`SolverOptions`](crate::SolverOptions).
//! * [`PoolStats`] counts allocations, reuses, evictions and the bytes involved.
//!
//! The Krylov solvers of `femscale-solvers` take their work vectors from the pool of their
//! [`SolverOptions`](crate::SolverOptions) (none: plain allocations).
//!
//! ```
//! use std::sync::Arc;
//! use femscale_core::pool::VectorPool;
//!
//! let pool = Arc::new(VectorPool::new(1 << 20));
//! pool.set_enabled(true);
//! drop(pool.take(1000)); // allocated, then kept
//! let v = pool.take(1000); // reused, zero-filled
//! assert!(v.iter().all(|&x| x == 0.0));
//! let stats = pool.stats();
//! assert_eq!((stats.allocations, stats.reuses, stats.reused_bytes), (1, 1, 8000));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde::{Deserialize, Serialize};

const F64_BYTES: usize = std::mem::size_of::<f64>();

/// Default bound of [`VectorPool::global`]: 256 MiB of idle buffers.
pub const DEFAULT_GLOBAL_POOL_BYTES: usize = 256 << 20;

/// Counters of a [`VectorPool`] since it was created or [`VectorPool::reset_stats`] was called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PoolStats {
    /// Buffers allocated because none of the length was idle (or pooling was off).
    pub allocations: u64,
    /// Bytes of those allocations.
    pub allocated_bytes: u64,
    /// Buffers handed out again instead of allocated.
    pub reuses: u64,
    /// Bytes of allocations avoided by reuse.
    pub reused_bytes: u64,
    /// Buffers given back and kept.
    pub returns: u64,
    /// Idle buffers dropped to stay within the bound (or too large to keep at all).
    pub evictions: u64,
    /// Bytes of those evictions.
    pub evicted_bytes: u64,
    /// Idle buffers held now.
    pub held_buffers: u64,
    /// Bytes of idle buffers held now.
    pub held_bytes: u64,
    /// The bound on idle bytes.
    pub max_bytes: u64,
}

/// Idle buffers by length, with a global order of return for least-recently-used eviction.
#[derive(Default)]
struct Idle {
    /// Length → buffers of that length with their return stamp, oldest first.
    by_len: HashMap<usize, Vec<(u64, Vec<f64>)>>,
    /// Return stamp → length, oldest first.
    order: BTreeMap<u64, usize>,
    next_stamp: u64,
    held_bytes: usize,
    max_bytes: usize,
}

impl Idle {
    fn take(&mut self, len: usize) -> Option<Vec<f64>> {
        let list = self.by_len.get_mut(&len)?;
        let (stamp, buf) = list.pop()?;
        if list.is_empty() {
            self.by_len.remove(&len);
        }
        self.order.remove(&stamp);
        self.held_bytes -= len * F64_BYTES;
        Some(buf)
    }

    /// Drops the least recently returned buffer; returns its bytes.
    fn evict_oldest(&mut self) -> Option<usize> {
        let (stamp, len) = self.order.pop_first()?;
        let list = self.by_len.get_mut(&len)?;
        let at = list.iter().position(|(s, _)| *s == stamp)?;
        list.remove(at);
        if list.is_empty() {
            self.by_len.remove(&len);
        }
        let bytes = len * F64_BYTES;
        self.held_bytes -= bytes;
        Some(bytes)
    }

    fn held_buffers(&self) -> usize {
        self.order.len()
    }
}

/// A bounded pool of `f64` buffers keyed by length. Thread-safe; share it in an [`Arc`].
pub struct VectorPool {
    idle: Mutex<Idle>,
    enabled: AtomicBool,
    allocations: AtomicU64,
    allocated_bytes: AtomicU64,
    reuses: AtomicU64,
    reused_bytes: AtomicU64,
    returns: AtomicU64,
    evictions: AtomicU64,
    evicted_bytes: AtomicU64,
}

impl fmt::Debug for VectorPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VectorPool")
            .field("enabled", &self.is_enabled())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Pools are equal when they are the same pool.
impl PartialEq for VectorPool {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl VectorPool {
    /// An empty, disabled pool keeping at most `max_bytes` of idle buffers.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            idle: Mutex::new(Idle {
                max_bytes,
                ..Idle::default()
            }),
            enabled: AtomicBool::new(false),
            allocations: AtomicU64::new(0),
            allocated_bytes: AtomicU64::new(0),
            reuses: AtomicU64::new(0),
            reused_bytes: AtomicU64::new(0),
            returns: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            evicted_bytes: AtomicU64::new(0),
        }
    }

    /// The process-wide pool that execution contexts with pooling share (enabled, bound
    /// [`DEFAULT_GLOBAL_POOL_BYTES`]). Nothing takes from it implicitly.
    pub fn global() -> &'static Arc<VectorPool> {
        static GLOBAL: OnceLock<Arc<VectorPool>> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            let pool = VectorPool::new(DEFAULT_GLOBAL_POOL_BYTES);
            pool.set_enabled(true);
            Arc::new(pool)
        })
    }

    fn idle(&self) -> MutexGuard<'_, Idle> {
        // The idle lists stay consistent even if a holder panicked: every mutation completes
        // before any call that could panic.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether buffers are reused; a disabled pool allocates every buffer and keeps none.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Turns reuse on or off; turning it off drops the idle buffers.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
        if !enabled {
            self.clear();
        }
    }

    /// The bound on idle bytes.
    pub fn max_bytes(&self) -> usize {
        self.idle().max_bytes
    }

    /// Changes the bound, evicting the oldest idle buffers that no longer fit.
    pub fn set_max_bytes(&self, max_bytes: usize) {
        let mut idle = self.idle();
        idle.max_bytes = max_bytes;
        while idle.held_bytes > idle.max_bytes {
            match idle.evict_oldest() {
                Some(bytes) => self.count_eviction(bytes),
                None => break,
            }
        }
    }

    /// Drops every idle buffer (not counted as evictions).
    pub fn clear(&self) {
        let mut idle = self.idle();
        let max_bytes = idle.max_bytes;
        *idle = Idle {
            max_bytes,
            ..Idle::default()
        };
    }

    /// A zero-filled buffer of `len` values: an idle one of that length if pooling is on and
    /// one is idle, else a new allocation. It returns to the pool when the guard is dropped.
    pub fn take(self: &Arc<Self>, len: usize) -> PooledVec {
        let reused = if self.is_enabled() && len > 0 {
            self.idle().take(len)
        } else {
            None
        };
        let bytes = (len * F64_BYTES) as u64;
        let buf = match reused {
            Some(mut buf) => {
                buf.fill(0.0);
                self.reuses.fetch_add(1, Ordering::Relaxed);
                self.reused_bytes.fetch_add(bytes, Ordering::Relaxed);
                crate::counters::record_pool_reuse(bytes);
                buf
            }
            None => {
                self.allocations.fetch_add(1, Ordering::Relaxed);
                self.allocated_bytes.fetch_add(bytes, Ordering::Relaxed);
                vec![0.0; len]
            }
        };
        PooledVec {
            buf,
            pool: Some(Arc::clone(self)),
        }
    }

    /// A zero-filled buffer of `len` values from `pool`, or allocated (and belonging to no
    /// pool) without one: how execution contexts and solver options take their buffers.
    pub fn take_from(pool: Option<&Arc<Self>>, len: usize) -> PooledVec {
        match pool {
            Some(pool) => pool.take(len),
            None => PooledVec::detached(len),
        }
    }

    /// Takes back `buf` (any length and contents); it is kept only while pooling is on and it
    /// fits within the bound, after evicting older idle buffers.
    pub fn give_back(&self, mut buf: Vec<f64>) {
        let len = buf.len();
        if !self.is_enabled() || len == 0 {
            return;
        }
        buf.shrink_to_fit();
        let bytes = len * F64_BYTES;
        let mut idle = self.idle();
        if bytes > idle.max_bytes {
            drop(idle);
            self.count_eviction(bytes);
            return;
        }
        while idle.held_bytes + bytes > idle.max_bytes {
            match idle.evict_oldest() {
                Some(evicted) => self.count_eviction(evicted),
                None => break,
            }
        }
        let stamp = idle.next_stamp;
        idle.next_stamp += 1;
        idle.order.insert(stamp, len);
        idle.by_len.entry(len).or_default().push((stamp, buf));
        idle.held_bytes += bytes;
        self.returns.fetch_add(1, Ordering::Relaxed);
    }

    fn count_eviction(&self, bytes: usize) {
        self.evictions.fetch_add(1, Ordering::Relaxed);
        self.evicted_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The counters and what is held now.
    pub fn stats(&self) -> PoolStats {
        let (held_buffers, held_bytes, max_bytes) = {
            let idle = self.idle();
            (idle.held_buffers(), idle.held_bytes, idle.max_bytes)
        };
        PoolStats {
            allocations: self.allocations.load(Ordering::Relaxed),
            allocated_bytes: self.allocated_bytes.load(Ordering::Relaxed),
            reuses: self.reuses.load(Ordering::Relaxed),
            reused_bytes: self.reused_bytes.load(Ordering::Relaxed),
            returns: self.returns.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            evicted_bytes: self.evicted_bytes.load(Ordering::Relaxed),
            held_buffers: held_buffers as u64,
            held_bytes: held_bytes as u64,
            max_bytes: max_bytes as u64,
        }
    }

    /// Sets the counters to zero (idle buffers stay).
    pub fn reset_stats(&self) {
        for c in [
            &self.allocations,
            &self.allocated_bytes,
            &self.reuses,
            &self.reused_bytes,
            &self.returns,
            &self.evictions,
            &self.evicted_bytes,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// A buffer from a [`VectorPool`]; dereferences to `[f64]` and goes back to its pool on drop.
pub struct PooledVec {
    buf: Vec<f64>,
    pool: Option<Arc<VectorPool>>,
}

impl PooledVec {
    /// A zero-filled buffer of `len` values that belongs to no pool.
    pub fn detached(len: usize) -> Self {
        Self {
            buf: vec![0.0; len],
            pool: None,
        }
    }

    /// The buffer, taken out of the pool for good.
    pub fn into_vec(mut self) -> Vec<f64> {
        self.pool = None;
        std::mem::take(&mut self.buf)
    }

    /// Bytes of the buffer.
    pub fn bytes(&self) -> usize {
        self.buf.len() * F64_BYTES
    }
}

impl Deref for PooledVec {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        &self.buf
    }
}

impl DerefMut for PooledVec {
    fn deref_mut(&mut self) -> &mut [f64] {
        &mut self.buf
    }
}

impl fmt::Debug for PooledVec {
    /// The length and whether it is pooled, not the values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledVec")
            .field("len", &self.buf.len())
            .field("pooled", &self.pool.is_some())
            .finish()
    }
}

impl Drop for PooledVec {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.give_back(std::mem::take(&mut self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(max_bytes: usize) -> Arc<VectorPool> {
        let p = Arc::new(VectorPool::new(max_bytes));
        p.set_enabled(true);
        p
    }

    #[test]
    fn reuses_buffers_of_the_same_length_zero_filled() {
        let p = pool(1 << 20);
        let mut a = p.take(100);
        a[3] = 7.0;
        drop(a);
        let b = p.take(100);
        assert!(b.iter().all(|&x| x == 0.0));
        let c = p.take(50); // other length: allocated
        let s = p.stats();
        assert_eq!((s.allocations, s.reuses, s.returns), (2, 1, 1));
        assert_eq!((s.allocated_bytes, s.reused_bytes), (1200, 800));
        drop((b, c));
        assert_eq!(p.stats().held_buffers, 2);
        assert_eq!(p.stats().held_bytes, 1200);
    }

    #[test]
    fn stays_within_its_bound_evicting_the_oldest() {
        let p = pool(2000); // room for two buffers of 100 values
        let bufs = Vec::from([100, 100, 100].map(|n| p.take(n)));
        drop(bufs);
        let s = p.stats();
        assert_eq!((s.held_buffers, s.held_bytes, s.evictions), (2, 1600, 1));
        assert!(s.held_bytes <= s.max_bytes);
        drop(p.take(1000)); // 8000 bytes: larger than the bound, never kept
        assert_eq!(p.stats().evictions, 2);
        assert_eq!(p.stats().held_buffers, 2);
        drop(p.take(10)); // 80 more bytes still fit
        let s = p.stats();
        assert_eq!((s.held_buffers, s.held_bytes), (3, 1680));
        p.set_max_bytes(100);
        let s = p.stats();
        assert_eq!((s.held_buffers, s.held_bytes), (1, 80));
    }

    #[test]
    fn a_disabled_pool_allocates_and_keeps_nothing() {
        let p = Arc::new(VectorPool::new(1 << 20));
        drop(p.take(10));
        drop(p.take(10));
        let s = p.stats();
        assert_eq!((s.allocations, s.reuses, s.held_buffers), (2, 0, 0));
        p.set_enabled(true);
        drop(p.take(10));
        assert_eq!(p.stats().held_buffers, 1);
        p.set_enabled(false);
        assert_eq!(p.stats().held_buffers, 0);
        p.reset_stats();
        assert_eq!(p.stats().allocations, 0);
    }

    #[test]
    fn detached_and_extracted_buffers_leave_the_pool() {
        let p = pool(1 << 20);
        let v = p.take(4).into_vec();
        assert_eq!(v.len(), 4);
        assert_eq!(p.stats().held_buffers, 0);
        let d = PooledVec::detached(3);
        assert_eq!((d.len(), d.bytes()), (3, 24));
        assert!(format!("{d:?}").contains("pooled: false"));
        drop(p.take(0));
        assert_eq!(p.stats().held_buffers, 0);
    }
}
