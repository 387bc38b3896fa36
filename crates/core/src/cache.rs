//! The byte-level cache interface. The memory, disk and Redis levels of `femscale-cache`
//! implement it and the runtime composes the levels `cache.levels` names; [`NoCache`] is the
//! level that stores nothing (`none`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A cache key: the kind of artefact plus a content digest over everything that produced it.
///
/// Keys render as `kind_digest`, which is what [`Cache::invalidate`] patterns match against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CacheKey {
    /// Artefact kind (`system`, `solution`, ...).
    pub kind: String,
    /// Hex digest of the inputs, including the format version.
    pub digest: String,
}

impl CacheKey {
    /// A key for `kind` with `digest`.
    pub fn new(kind: impl Into<String>, digest: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            digest: digest.into(),
        }
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.kind, self.digest)
    }
}

/// Hit, miss and size counters of a cache level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CacheStats {
    /// Level name.
    pub level: String,
    /// Lookups that found an entry.
    pub hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Entries written.
    pub writes: u64,
    /// Entries evicted to respect the size bound.
    pub evictions: u64,
    /// Bytes currently stored.
    pub bytes: u64,
}

/// A synchronous, thread-safe store of byte blobs.
pub trait Cache: Send + Sync + fmt::Debug {
    /// Level name (`none`, `memory`, `disk`, `redis`).
    fn name(&self) -> &str;

    /// The entry for `key`, if present and intact.
    ///
    /// # Errors
    /// If the level failed (not for a missing entry).
    fn get(&self, key: &CacheKey) -> Result<Option<Vec<u8>>>;

    /// Stores `value` under `key`, replacing any previous entry.
    ///
    /// # Errors
    /// If the level failed.
    fn put(&self, key: &CacheKey, value: &[u8]) -> Result<()>;

    /// Removes the entry for `key`; returns whether there was one.
    ///
    /// # Errors
    /// If the level failed.
    fn remove(&self, key: &CacheKey) -> Result<bool>;

    /// Removes every entry whose rendered key matches the glob `pattern` (`*` and `?`);
    /// returns how many were removed.
    ///
    /// # Errors
    /// If the level failed.
    fn invalidate(&self, pattern: &str) -> Result<usize>;

    /// Current counters.
    fn stats(&self) -> CacheStats;

    /// The stored entries whose rendered key matches the glob `pattern`, as `(key, bytes)`;
    /// `None` when the level cannot enumerate its entries (the default).
    ///
    /// # Errors
    /// If the level failed.
    fn list(&self, pattern: &str) -> Result<Option<Vec<(String, u64)>>> {
        let _ = pattern;
        Ok(None)
    }
}

/// The cache that stores nothing: every lookup misses.
#[derive(Debug, Default)]
pub struct NoCache {
    misses: std::sync::atomic::AtomicU64,
}

impl Cache for NoCache {
    fn name(&self) -> &str {
        "none"
    }

    fn get(&self, _: &CacheKey) -> Result<Option<Vec<u8>>> {
        self.misses
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(None)
    }

    fn put(&self, _: &CacheKey, _: &[u8]) -> Result<()> {
        Ok(())
    }

    fn remove(&self, _: &CacheKey) -> Result<bool> {
        Ok(false)
    }

    fn invalidate(&self, _: &str) -> Result<usize> {
        Ok(0)
    }

    fn stats(&self) -> CacheStats {
        CacheStats {
            level: "none".into(),
            misses: self.misses.load(std::sync::atomic::Ordering::Relaxed),
            ..CacheStats::default()
        }
    }
}
