//! [`TieredCache`]: several levels (fastest first) behind one [`Cache`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use femscale_core::cache::{Cache, CacheKey, CacheStats};
use femscale_core::error::{Error, Result};

/// Which levels [`TieredCache::put`](Cache::put) writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WritePolicy {
    /// Every level (write-through).
    #[default]
    All,
    /// Only the first (fastest) level that accepts the write; slower levels are filled by
    /// nothing but their own puts.
    FirstOnly,
}

/// A read-through stack of cache levels, fastest first (e.g. memory → disk).
///
/// * `get` asks the levels in order; a hit in a slower level is promoted (written) to every
///   faster level.
/// * `put` follows the [`WritePolicy`].
/// * `remove` and `invalidate` act on every level.
/// * A level that returns an error is skipped: the failure is logged once per level with
///   `tracing::warn!` and the other levels carry on. Only when every level fails does an
///   operation return the error.
///
/// ```
/// use std::sync::Arc;
/// use femscale_cache::{MemoryCache, TieredCache};
/// use femscale_core::cache::{Cache, CacheKey};
/// let slow = Arc::new(MemoryCache::new(1024));
/// let fast = Arc::new(MemoryCache::new(1024));
/// let key = CacheKey::new("system", "ab");
/// slow.put(&key, b"v").unwrap();
/// let tiered = TieredCache::new(vec![fast.clone(), slow]);
/// assert_eq!(tiered.get(&key).unwrap().as_deref(), Some(&b"v"[..]));
/// assert_eq!(fast.get(&key).unwrap().as_deref(), Some(&b"v"[..])); // promoted
/// ```
#[derive(Debug)]
pub struct TieredCache {
    levels: Vec<Arc<dyn Cache>>,
    warned: Vec<AtomicBool>,
    policy: WritePolicy,
    hits: AtomicU64,
    misses: AtomicU64,
    writes: AtomicU64,
}

impl TieredCache {
    /// A tiered cache over `levels` (fastest first) with [`WritePolicy::All`].
    pub fn new(levels: Vec<Arc<dyn Cache>>) -> Self {
        let warned = levels.iter().map(|_| AtomicBool::new(false)).collect();
        Self {
            levels,
            warned,
            policy: WritePolicy::All,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }

    /// Sets the write policy.
    #[must_use]
    pub fn with_write_policy(mut self, policy: WritePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The write policy.
    pub fn write_policy(&self) -> WritePolicy {
        self.policy
    }

    /// The levels, fastest first.
    pub fn levels(&self) -> &[Arc<dyn Cache>] {
        &self.levels
    }

    /// The counters of every level, in level order.
    pub fn level_stats(&self) -> Vec<CacheStats> {
        self.levels.iter().map(|l| l.stats()).collect()
    }

    /// Like [`Cache::get`], also saying which level (index into [`TieredCache::levels`])
    /// served the entry — for reports of what was reused from where.
    ///
    /// # Errors
    /// Only when every level failed.
    pub fn get_with_level(&self, key: &CacheKey) -> Result<Option<(Vec<u8>, usize)>> {
        let mut failures = 0;
        let mut last_err = None;
        for (i, level) in self.levels.iter().enumerate() {
            match level.get(key) {
                Ok(Some(value)) => {
                    for (j, faster) in self.levels[..i].iter().enumerate() {
                        if let Err(e) = faster.put(key, &value) {
                            self.report(j, "promote", &e);
                        }
                    }
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Some((value, i)));
                }
                Ok(None) => {}
                Err(e) => {
                    self.report(i, "get", &e);
                    failures += 1;
                    last_err = Some(e);
                }
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        match last_err {
            Some(e) if failures == self.levels.len() => Err(e),
            _ => Ok(None),
        }
    }

    /// Logs the first failure of level `i`; later ones only at debug level.
    fn report(&self, i: usize, op: &str, err: &Error) {
        let level = self.levels[i].name();
        if !self.warned[i].swap(true, Ordering::Relaxed) {
            tracing::warn!(level, op, error = %err, "cache level failed; skipping it");
        } else {
            tracing::debug!(level, op, error = %err, "cache level failed again; skipping it");
        }
    }

    /// Runs `f` on every level; returns the successful results, or the last error when every
    /// level failed.
    fn on_all<T>(&self, op: &str, f: impl Fn(&dyn Cache) -> Result<T>) -> Result<Vec<T>> {
        let mut ok = Vec::with_capacity(self.levels.len());
        let mut last_err = None;
        for (i, level) in self.levels.iter().enumerate() {
            match f(level.as_ref()) {
                Ok(v) => ok.push(v),
                Err(e) => {
                    self.report(i, op, &e);
                    last_err = Some(e);
                }
            }
        }
        match last_err {
            Some(e) if ok.is_empty() => Err(e),
            _ => Ok(ok),
        }
    }
}

impl Cache for TieredCache {
    fn name(&self) -> &str {
        "tiered"
    }

    fn get(&self, key: &CacheKey) -> Result<Option<Vec<u8>>> {
        Ok(self.get_with_level(key)?.map(|(value, _)| value))
    }

    fn put(&self, key: &CacheKey, value: &[u8]) -> Result<()> {
        match self.policy {
            WritePolicy::All => {
                self.on_all("put", |l| l.put(key, value))?;
            }
            WritePolicy::FirstOnly => {
                let mut last_err = None;
                let mut stored = self.levels.is_empty();
                for (i, level) in self.levels.iter().enumerate() {
                    match level.put(key, value) {
                        Ok(()) => {
                            stored = true;
                            break;
                        }
                        Err(e) => {
                            self.report(i, "put", &e);
                            last_err = Some(e);
                        }
                    }
                }
                if let (false, Some(e)) = (stored, last_err) {
                    return Err(e);
                }
            }
        }
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn remove(&self, key: &CacheKey) -> Result<bool> {
        Ok(self
            .on_all("remove", |l| l.remove(key))?
            .into_iter()
            .any(|r| r))
    }

    /// Invalidates on every level; returns the largest count removed from any one level (the
    /// same entry usually lives in several levels).
    fn invalidate(&self, pattern: &str) -> Result<usize> {
        Ok(self
            .on_all("invalidate", |l| l.invalidate(pattern))?
            .into_iter()
            .max()
            .unwrap_or(0))
    }

    /// Lookups through the stack (`hits`, `misses`), puts (`writes`), and the sums of the
    /// levels' `evictions` and `bytes`; per-level counters are in
    /// [`level_stats`](TieredCache::level_stats).
    fn stats(&self) -> CacheStats {
        let levels = self.level_stats();
        let mut s = CacheStats::default();
        s.level = "tiered".into();
        s.hits = self.hits.load(Ordering::Relaxed);
        s.misses = self.misses.load(Ordering::Relaxed);
        s.writes = self.writes.load(Ordering::Relaxed);
        s.evictions = levels.iter().map(|s| s.evictions).sum();
        s.bytes = levels.iter().map(|s| s.bytes).sum();
        s
    }
}
