//! In-process levels: [`MemoryCache`] (byte blobs) and [`ObjectStore`] (live objects).
//!
//! Both are least-recently-used caches bounded by bytes, not entries: the value bytes (for
//! [`ObjectStore`] the declared bytes) of all entries never exceed the bound, an entry larger
//! than the bound is not stored at all, and storing evicts the least recently used entries
//! until the new one fits. An optional time-to-live turns entries older than it into misses
//! (they are evicted when found). Lookups, insertions and removals are `O(log n)`: a hash map
//! from key to entry plus an ordered map from access stamp to key.
//!
//! Recency is a logical access counter, so the eviction order is exact whatever the clock's
//! resolution; only the time-to-live reads a [`Clock`] ([`SystemClock`] unless one is given
//! with `with_clock`).

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use femscale_core::cache::{Cache, CacheKey, CacheStats};
use femscale_core::error::Result;

use crate::clock::{Clock, SystemClock};
use crate::glob::glob_match;

/// One stored value with its accounting data.
struct Slot<V> {
    value: V,
    bytes: usize,
    stamp: u64,
    stored_at: Instant,
}

/// The shared LRU core; not synchronised (callers hold a mutex).
struct Lru<V> {
    map: HashMap<CacheKey, Slot<V>>,
    order: BTreeMap<u64, CacheKey>,
    next_stamp: u64,
    bytes: usize,
    max_bytes: usize,
    ttl: Option<Duration>,
    clock: Arc<dyn Clock>,
    hits: u64,
    misses: u64,
    writes: u64,
    evictions: u64,
}

impl<V: Clone> Lru<V> {
    fn new(max_bytes: usize, ttl: Option<Duration>) -> Self {
        Self {
            map: HashMap::new(),
            order: BTreeMap::new(),
            next_stamp: 0,
            bytes: 0,
            max_bytes,
            ttl,
            clock: Arc::new(SystemClock),
            hits: 0,
            misses: 0,
            writes: 0,
            evictions: 0,
        }
    }

    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    /// Whether `slot` has outlived the time-to-live at `now` (an entry exactly `ttl` old has).
    fn expired(&self, slot: &Slot<V>, now: Instant) -> bool {
        self.ttl
            .is_some_and(|ttl| now.saturating_duration_since(slot.stored_at) >= ttl)
    }

    /// Looks `key` up; `accept` decides whether the stored value counts (a wrong type in the
    /// object store is a miss). Refreshes the access stamp on a hit.
    fn get_with<R>(&mut self, key: &CacheKey, accept: impl FnOnce(&V) -> Option<R>) -> Option<R> {
        let Some(slot) = self.map.get(key) else {
            self.misses += 1;
            return None;
        };
        if self.expired(slot, self.clock.now()) {
            self.take(key);
            self.evictions += 1;
            self.misses += 1;
            return None;
        }
        let Some(out) = accept(&slot.value) else {
            self.misses += 1;
            return None;
        };
        let new_stamp = self.stamp();
        let slot = self.map.get_mut(key).expect("present: checked above");
        let old_stamp = std::mem::replace(&mut slot.stamp, new_stamp);
        self.order.remove(&old_stamp);
        self.order.insert(new_stamp, key.clone());
        self.hits += 1;
        Some(out)
    }

    /// Removes `key` without counting anything; returns whether it was present.
    fn take(&mut self, key: &CacheKey) -> bool {
        match self.map.remove(key) {
            Some(slot) => {
                self.order.remove(&slot.stamp);
                self.bytes -= slot.bytes;
                true
            }
            None => false,
        }
    }

    /// Stores `value` of `bytes` under `key`, replacing any previous entry; returns whether it
    /// was stored (false when it is larger than the bound).
    fn insert(&mut self, key: &CacheKey, value: V, bytes: usize) -> bool {
        self.take(key);
        if bytes > self.max_bytes {
            return false;
        }
        while self.bytes + bytes > self.max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(slot) = self.map.remove(&oldest) {
                self.bytes -= slot.bytes;
                self.evictions += 1;
            }
        }
        let stamp = self.stamp();
        self.order.insert(stamp, key.clone());
        self.map.insert(
            key.clone(),
            Slot {
                value,
                bytes,
                stamp,
                stored_at: self.clock.now(),
            },
        );
        self.bytes += bytes;
        self.writes += 1;
        true
    }

    fn invalidate(&mut self, pattern: &str) -> usize {
        let doomed: Vec<CacheKey> = self
            .map
            .keys()
            .filter(|k| glob_match(pattern, &k.to_string()))
            .cloned()
            .collect();
        for k in &doomed {
            self.take(k);
        }
        doomed.len()
    }

    /// Evicts every expired entry; returns how many.
    fn purge_expired(&mut self) -> usize {
        let now = self.clock.now();
        let doomed: Vec<CacheKey> = self
            .map
            .iter()
            .filter(|(_, s)| self.expired(s, now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &doomed {
            self.take(k);
        }
        self.evictions += doomed.len() as u64;
        doomed.len()
    }

    fn stats(&self, level: &str) -> CacheStats {
        let mut s = CacheStats::default();
        s.level = level.to_string();
        s.hits = self.hits;
        s.misses = self.misses;
        s.writes = self.writes;
        s.evictions = self.evictions;
        s.bytes = self.bytes as u64;
        s
    }
}

/// Locks `m`, recovering from poisoning: every mutation of [`Lru`] leaves it consistent
/// before anything that could panic.
fn lock<V>(m: &Mutex<Lru<V>>) -> MutexGuard<'_, Lru<V>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The [`Lru`] in `m`, without locking (the caller owns it).
fn owned<V>(m: &mut Mutex<Lru<V>>) -> &mut Lru<V> {
    m.get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A thread-safe in-memory [`Cache`] of byte blobs, LRU-bounded by the total value bytes.
///
/// ```
/// use femscale_cache::MemoryCache;
/// use femscale_core::cache::{Cache, CacheKey};
/// let cache = MemoryCache::new(8);
/// cache.put(&CacheKey::new("a", "1"), b"12345").unwrap();
/// cache.put(&CacheKey::new("b", "2"), b"6789").unwrap(); // evicts `a`
/// assert_eq!(cache.get(&CacheKey::new("a", "1")).unwrap(), None);
/// assert_eq!(cache.stats().bytes, 4);
/// ```
pub struct MemoryCache {
    inner: Mutex<Lru<Arc<[u8]>>>,
}

impl MemoryCache {
    /// An empty cache holding at most `max_bytes` value bytes, without expiry.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Lru::new(max_bytes, None)),
        }
    }

    /// An empty cache holding at most `max_bytes` value bytes whose entries expire `ttl`
    /// after they were stored.
    pub fn with_ttl(max_bytes: usize, ttl: Duration) -> Self {
        Self {
            inner: Mutex::new(Lru::new(max_bytes, Some(ttl))),
        }
    }

    /// This cache reading the time from `clock` instead of the [`SystemClock`]; only the
    /// time-to-live depends on it. Entries already stored keep their storage times.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use femscale_cache::{Cache, CacheKey, ManualClock, MemoryCache};
    /// let clock = Arc::new(ManualClock::new());
    /// let cache = MemoryCache::with_ttl(64, Duration::from_secs(10)).with_clock(clock.clone());
    /// cache.put(&CacheKey::new("a", "1"), b"x").unwrap();
    /// clock.advance(Duration::from_secs(10));
    /// assert_eq!(cache.purge_expired(), 1);
    /// ```
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        owned(&mut self.inner).clock = clock;
        self
    }

    /// The byte bound.
    pub fn max_bytes(&self) -> usize {
        lock(&self.inner).max_bytes
    }

    /// Number of entries stored (including expired ones not yet found).
    pub fn len(&self) -> usize {
        lock(&self.inner).map.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Evicts every expired entry now (they are otherwise evicted when looked up or when
    /// space is needed); returns how many.
    pub fn purge_expired(&self) -> usize {
        lock(&self.inner).purge_expired()
    }
}

impl fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = lock(&self.inner);
        f.debug_struct("MemoryCache")
            .field("entries", &g.map.len())
            .field("bytes", &g.bytes)
            .field("max_bytes", &g.max_bytes)
            .field("ttl", &g.ttl)
            .finish()
    }
}

impl Cache for MemoryCache {
    fn name(&self) -> &str {
        "memory"
    }

    fn get(&self, key: &CacheKey) -> Result<Option<Vec<u8>>> {
        // Copy outside the lock: only the `Arc` is cloned while it is held.
        let found = lock(&self.inner).get_with(key, |v| Some(Arc::clone(v)));
        Ok(found.map(|v| v.to_vec()))
    }

    fn put(&self, key: &CacheKey, value: &[u8]) -> Result<()> {
        let value: Arc<[u8]> = Arc::from(value);
        let bytes = value.len();
        lock(&self.inner).insert(key, value, bytes);
        Ok(())
    }

    fn remove(&self, key: &CacheKey) -> Result<bool> {
        Ok(lock(&self.inner).take(key))
    }

    fn invalidate(&self, pattern: &str) -> Result<usize> {
        Ok(lock(&self.inner).invalidate(pattern))
    }

    fn stats(&self) -> CacheStats {
        lock(&self.inner).stats("memory")
    }
}

/// A shared, type-erased live object.
type AnyArc = Arc<dyn Any + Send + Sync>;

/// A thread-safe in-process store of live objects that cannot be serialised cheaply (prepared
/// solvers, factorisations), LRU-bounded by the bytes declared at insertion.
///
/// ```
/// use std::sync::Arc;
/// use femscale_cache::ObjectStore;
/// use femscale_core::cache::CacheKey;
/// let store = ObjectStore::new(1 << 20);
/// let key = CacheKey::new("factor", "ab");
/// store.insert(key.clone(), Arc::new(vec![1.0_f64, 2.0]), 16);
/// assert_eq!(*store.get::<Vec<f64>>(&key).unwrap(), vec![1.0, 2.0]);
/// assert!(store.get::<String>(&key).is_none()); // wrong type: a miss
/// ```
pub struct ObjectStore {
    inner: Mutex<Lru<AnyArc>>,
}

impl ObjectStore {
    /// An empty store holding at most `max_bytes` declared bytes, without expiry.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Lru::new(max_bytes, None)),
        }
    }

    /// An empty store holding at most `max_bytes` declared bytes whose entries expire `ttl`
    /// after they were stored.
    pub fn with_ttl(max_bytes: usize, ttl: Duration) -> Self {
        Self {
            inner: Mutex::new(Lru::new(max_bytes, Some(ttl))),
        }
    }

    /// This store reading the time from `clock` instead of the [`SystemClock`]; only the
    /// time-to-live depends on it (see [`MemoryCache::with_clock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        owned(&mut self.inner).clock = clock;
        self
    }

    /// Stores `value` under `key`, declaring that it occupies `bytes`; replaces any previous
    /// entry. Returns whether it was stored (false when `bytes` exceeds the bound; the
    /// previous entry is removed nevertheless).
    pub fn insert(&self, key: CacheKey, value: Arc<dyn Any + Send + Sync>, bytes: usize) -> bool {
        lock(&self.inner).insert(&key, value, bytes)
    }

    /// The object stored under `key` if there is one of type `T`; an entry of another type is
    /// a miss (and is kept).
    pub fn get<T: Any + Send + Sync>(&self, key: &CacheKey) -> Option<Arc<T>> {
        lock(&self.inner).get_with(key, |v| Arc::clone(v).downcast::<T>().ok())
    }

    /// Removes the entry for `key`; returns whether there was one.
    pub fn remove(&self, key: &CacheKey) -> bool {
        lock(&self.inner).take(key)
    }

    /// Removes every entry whose rendered key matches the glob `pattern`; returns how many.
    pub fn invalidate(&self, pattern: &str) -> usize {
        lock(&self.inner).invalidate(pattern)
    }

    /// Number of entries stored.
    pub fn len(&self) -> usize {
        lock(&self.inner).map.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Current counters (`bytes` are the declared bytes); the level is named `objects`.
    pub fn stats(&self) -> CacheStats {
        lock(&self.inner).stats("objects")
    }
}

impl fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = lock(&self.inner);
        f.debug_struct("ObjectStore")
            .field("entries", &g.map.len())
            .field("bytes", &g.bytes)
            .field("max_bytes", &g.max_bytes)
            .field("ttl", &g.ttl)
            .finish()
    }
}
