//! TieredCache: promotion, write policy, failing levels.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use femscale_cache::{
    Cache, CacheKey, CacheStats, DiskCache, MemoryCache, TieredCache, WritePolicy,
};
use femscale_core::error::{Error, Result};

fn k(n: u32) -> CacheKey {
    CacheKey::new("solution", format!("{n:04}"))
}

/// A level that always fails and counts how often it was asked.
#[derive(Debug, Default)]
struct Broken {
    calls: AtomicU64,
}

impl Broken {
    fn fail<T>(&self) -> Result<T> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Err(Error::Cache {
            message: "broken level".into(),
        })
    }
}

impl Cache for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn get(&self, _: &CacheKey) -> Result<Option<Vec<u8>>> {
        self.fail()
    }
    fn put(&self, _: &CacheKey, _: &[u8]) -> Result<()> {
        self.fail()
    }
    fn remove(&self, _: &CacheKey) -> Result<bool> {
        self.fail()
    }
    fn invalidate(&self, _: &str) -> Result<usize> {
        self.fail()
    }
    fn stats(&self) -> CacheStats {
        let mut s = CacheStats::default();
        s.level = "broken".into();
        s
    }
}

#[test]
fn disk_hit_is_promoted_to_memory() {
    let dir = tempfile::tempdir().unwrap();
    let memory = Arc::new(MemoryCache::new(1 << 20));
    let disk = Arc::new(DiskCache::open(dir.path(), 1 << 20).unwrap());
    disk.put(&k(1), b"from disk").unwrap();
    let t = TieredCache::new(vec![memory.clone(), disk.clone()]);
    assert_eq!(memory.get(&k(1)).unwrap(), None);
    assert_eq!(t.get(&k(1)).unwrap(), Some(b"from disk".to_vec()));
    assert_eq!(memory.get(&k(1)).unwrap(), Some(b"from disk".to_vec()));
    // The second lookup is served by memory; disk sees no new lookup.
    let disk_lookups = disk.stats().hits + disk.stats().misses;
    assert_eq!(t.get(&k(1)).unwrap(), Some(b"from disk".to_vec()));
    assert_eq!(disk.stats().hits + disk.stats().misses, disk_lookups);
    let levels = t.level_stats();
    assert_eq!(levels.len(), 2);
    assert_eq!(levels[0].level, "memory");
    assert_eq!(levels[1].level, "disk");
    assert_eq!(levels[0].writes, 1);
    assert_eq!(levels[1].hits, 1);
    let s = t.stats();
    assert_eq!((s.level.as_str(), s.hits, s.misses), ("tiered", 2, 0));
    assert_eq!(t.get(&k(2)).unwrap(), None);
    assert_eq!(t.stats().misses, 1);
}

#[test]
fn write_policy_all_and_first_only() {
    let fast = Arc::new(MemoryCache::new(1024));
    let slow = Arc::new(MemoryCache::new(1024));
    let all = TieredCache::new(vec![fast.clone(), slow.clone()]);
    assert_eq!(all.write_policy(), WritePolicy::All);
    all.put(&k(1), b"a").unwrap();
    assert_eq!(fast.get(&k(1)).unwrap(), Some(b"a".to_vec()));
    assert_eq!(slow.get(&k(1)).unwrap(), Some(b"a".to_vec()));

    let first = TieredCache::new(vec![fast.clone(), slow.clone()])
        .with_write_policy(WritePolicy::FirstOnly);
    first.put(&k(2), b"b").unwrap();
    assert_eq!(fast.get(&k(2)).unwrap(), Some(b"b".to_vec()));
    assert_eq!(slow.get(&k(2)).unwrap(), None);
    assert_eq!(first.stats().writes, 1);

    // remove and invalidate act on every level.
    assert!(all.remove(&k(1)).unwrap());
    assert_eq!(fast.get(&k(1)).unwrap(), None);
    assert_eq!(slow.get(&k(1)).unwrap(), None);
    all.put(&k(3), b"c").unwrap();
    all.put(&k(4), b"d").unwrap();
    assert_eq!(all.invalidate("solution_000[34]").unwrap(), 0);
    assert_eq!(all.invalidate("solution_000?").unwrap(), 3);
    assert!(fast.is_empty());
    assert!(slow.is_empty());
}

#[test]
fn failing_level_is_skipped() {
    let broken = Arc::new(Broken::default());
    let memory = Arc::new(MemoryCache::new(1024));
    let t = TieredCache::new(vec![broken.clone(), memory.clone()]);
    t.put(&k(1), b"v").unwrap();
    assert_eq!(memory.get(&k(1)).unwrap(), Some(b"v".to_vec()));
    // get: the broken level errors, memory answers; promotion to the broken level fails too.
    assert_eq!(t.get(&k(1)).unwrap(), Some(b"v".to_vec()));
    assert_eq!(t.get(&k(9)).unwrap(), None);
    assert!(t.remove(&k(1)).unwrap());
    assert_eq!(t.invalidate("*").unwrap(), 0);
    assert!(broken.calls.load(Ordering::Relaxed) >= 6);

    // FirstOnly falls through to the next level when the first fails.
    let t2 = TieredCache::new(vec![broken.clone(), memory.clone()])
        .with_write_policy(WritePolicy::FirstOnly);
    t2.put(&k(2), b"w").unwrap();
    assert_eq!(memory.get(&k(2)).unwrap(), Some(b"w".to_vec()));

    // Broken last: still works.
    let t3 = TieredCache::new(vec![memory.clone(), broken.clone()]);
    t3.put(&k(3), b"x").unwrap();
    assert_eq!(t3.get(&k(3)).unwrap(), Some(b"x".to_vec()));
    assert_eq!(t3.get(&k(4)).unwrap(), None);
}

#[test]
fn all_levels_failing_is_an_error() {
    let t = TieredCache::new(vec![
        Arc::new(Broken::default()),
        Arc::new(Broken::default()),
    ]);
    assert!(matches!(t.get(&k(1)), Err(Error::Cache { .. })));
    assert!(t.put(&k(1), b"v").is_err());
    assert!(t.remove(&k(1)).is_err());
    assert!(t.invalidate("*").is_err());
    let first = TieredCache::new(vec![Arc::new(Broken::default())])
        .with_write_policy(WritePolicy::FirstOnly);
    assert!(first.put(&k(1), b"v").is_err());
    // No levels: a cache that stores nothing.
    let empty = TieredCache::new(Vec::new());
    empty.put(&k(1), b"v").unwrap();
    assert_eq!(empty.get(&k(1)).unwrap(), None);
}
