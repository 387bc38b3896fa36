//! Process-wide counters of parsing, caching and compilation, for `scaling_metrics()` and solve
//! reports.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

static PARSES: AtomicU64 = AtomicU64::new(0);
static CACHE_HITS: AtomicU64 = AtomicU64::new(0);
static CACHE_MISSES: AtomicU64 = AtomicU64::new(0);
static CACHE_EVICTIONS: AtomicU64 = AtomicU64::new(0);
static JIT_COMPILATIONS: AtomicU64 = AtomicU64::new(0);
static JIT_COMPILE_NANOS: AtomicU64 = AtomicU64::new(0);
static JIT_FALLBACKS: AtomicU64 = AtomicU64::new(0);
static BYTECODE_COMPILATIONS: AtomicU64 = AtomicU64::new(0);

/// Counters of the expression subsystem since the process started (see [`stats`]); use
/// [`since`](ExprStats::since) for the activity of one solve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExprStats {
    /// Texts parsed (every cache miss and every uncached parse).
    pub parses: u64,
    /// Parses answered from the compile cache: same text, parameters and backend.
    pub cache_hits: u64,
    /// Parses that were not in the compile cache (and were compiled).
    pub cache_misses: u64,
    /// Compiled expressions dropped from the cache to keep it within its capacity.
    pub cache_evictions: u64,
    /// Expressions currently held by the compile cache.
    pub cached_expressions: u64,
    /// Native functions compiled by the JIT (an expression's value is one, its gradient
    /// another — compiled on first use —, an [`ExpressionSet`](crate::ExpressionSet) one).
    pub jit_compilations: u64,
    /// Seconds spent in JIT compilation.
    pub jit_compile_seconds: f64,
    /// JIT compilations requested but not possible (JIT unavailable on this machine or left
    /// out of the build, expression too large): these run on the bytecode instead.
    pub jit_fallbacks: u64,
    /// Functions compiled to bytecode: the fallback backend, used when JIT is off or failed.
    pub bytecode_compilations: u64,
    /// Whether this process can JIT-compile expressions.
    pub jit_available: bool,
}

impl ExprStats {
    /// The counters accumulated between `earlier` and `self` (`cached_expressions` and
    /// `jit_available` are those of `self`).
    pub fn since(&self, earlier: &ExprStats) -> ExprStats {
        ExprStats {
            parses: self.parses.saturating_sub(earlier.parses),
            cache_hits: self.cache_hits.saturating_sub(earlier.cache_hits),
            cache_misses: self.cache_misses.saturating_sub(earlier.cache_misses),
            cache_evictions: self.cache_evictions.saturating_sub(earlier.cache_evictions),
            cached_expressions: self.cached_expressions,
            jit_compilations: self
                .jit_compilations
                .saturating_sub(earlier.jit_compilations),
            jit_compile_seconds: (self.jit_compile_seconds - earlier.jit_compile_seconds).max(0.0),
            jit_fallbacks: self.jit_fallbacks.saturating_sub(earlier.jit_fallbacks),
            bytecode_compilations: self
                .bytecode_compilations
                .saturating_sub(earlier.bytecode_compilations),
            jit_available: self.jit_available,
        }
    }
}

/// The current counters. Cheap (a few atomic loads and a lock of the cache to count it).
pub fn stats() -> ExprStats {
    ExprStats {
        parses: PARSES.load(Relaxed),
        cache_hits: CACHE_HITS.load(Relaxed),
        cache_misses: CACHE_MISSES.load(Relaxed),
        cache_evictions: CACHE_EVICTIONS.load(Relaxed),
        cached_expressions: crate::cache::len() as u64,
        jit_compilations: JIT_COMPILATIONS.load(Relaxed),
        jit_compile_seconds: JIT_COMPILE_NANOS.load(Relaxed) as f64 * 1e-9,
        jit_fallbacks: JIT_FALLBACKS.load(Relaxed),
        bytecode_compilations: BYTECODE_COMPILATIONS.load(Relaxed),
        jit_available: crate::jit_available(),
    }
}

pub(crate) fn parse() {
    PARSES.fetch_add(1, Relaxed);
}

pub(crate) fn cache_hit() {
    CACHE_HITS.fetch_add(1, Relaxed);
}

pub(crate) fn cache_miss() {
    CACHE_MISSES.fetch_add(1, Relaxed);
}

pub(crate) fn cache_eviction() {
    CACHE_EVICTIONS.fetch_add(1, Relaxed);
}

#[cfg(feature = "jit")]
pub(crate) fn jit_compilation(took: std::time::Duration) {
    JIT_COMPILATIONS.fetch_add(1, Relaxed);
    femscale_core::record(femscale_core::Counter::ExpressionCompilations);
    let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
    JIT_COMPILE_NANOS.fetch_add(nanos, Relaxed);
}

pub(crate) fn jit_fallback() {
    JIT_FALLBACKS.fetch_add(1, Relaxed);
}

pub(crate) fn bytecode_compilation() {
    BYTECODE_COMPILATIONS.fetch_add(1, Relaxed);
    femscale_core::record(femscale_core::Counter::ExpressionCompilations);
}
