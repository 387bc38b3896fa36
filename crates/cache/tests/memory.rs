//! MemoryCache and ObjectStore.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use femscale_cache::{Cache, CacheKey, ManualClock, MemoryCache, ObjectStore};

fn k(n: u32) -> CacheKey {
    CacheKey::new("t", format!("{n:04}"))
}

#[test]
fn lru_by_bytes_evicts_least_recently_used() {
    let c = MemoryCache::new(10);
    c.put(&k(1), &[1; 4]).unwrap();
    c.put(&k(2), &[2; 4]).unwrap();
    assert_eq!(c.stats().bytes, 8);
    // Touch 1 so that 2 becomes the least recently used.
    assert_eq!(c.get(&k(1)).unwrap(), Some(vec![1; 4]));
    c.put(&k(3), &[3; 4]).unwrap();
    assert_eq!(c.get(&k(2)).unwrap(), None);
    assert_eq!(c.get(&k(1)).unwrap(), Some(vec![1; 4]));
    assert_eq!(c.get(&k(3)).unwrap(), Some(vec![3; 4]));
    let s = c.stats();
    assert_eq!(s.level, "memory");
    assert_eq!(s.bytes, 8);
    assert_eq!(s.evictions, 1);
    assert_eq!(s.writes, 3);
    assert_eq!(s.hits, 3);
    assert_eq!(s.misses, 1);
    // A large entry evicts several small ones.
    c.put(&k(4), &[4; 9]).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c.stats().bytes, 9);
    assert_eq!(c.stats().evictions, 3);
}

#[test]
fn oversize_entries_are_rejected() {
    let c = MemoryCache::new(10);
    c.put(&k(1), &[1; 5]).unwrap();
    c.put(&k(2), &[2; 11]).unwrap();
    assert_eq!(c.get(&k(2)).unwrap(), None);
    assert_eq!(c.get(&k(1)).unwrap(), Some(vec![1; 5]));
    assert_eq!(c.stats().writes, 1);
    assert_eq!(c.stats().bytes, 5);
    // An oversize replacement removes the stale value.
    c.put(&k(1), &[9; 11]).unwrap();
    assert_eq!(c.get(&k(1)).unwrap(), None);
    assert_eq!(c.stats().bytes, 0);
    // Exactly the bound fits.
    c.put(&k(3), &[3; 10]).unwrap();
    assert_eq!(c.stats().bytes, 10);
}

#[test]
fn byte_accounting_is_exact() {
    let c = MemoryCache::new(1000);
    let mut expected = 0u64;
    for n in 0..20u32 {
        c.put(&k(n), &vec![0; n as usize]).unwrap();
        expected += u64::from(n);
    }
    assert_eq!(c.stats().bytes, expected);
    c.put(&k(5), &[0; 50]).unwrap(); // replace 5 bytes by 50
    expected += 45;
    assert_eq!(c.stats().bytes, expected);
    assert!(c.remove(&k(7)).unwrap());
    assert!(!c.remove(&k(7)).unwrap());
    expected -= 7;
    assert_eq!(c.stats().bytes, expected);
    assert_eq!(c.invalidate("t_001?").unwrap(), 10);
    let rest: u64 = (0..10u64).filter(|&n| n != 7 && n != 5).sum::<u64>() + 50;
    assert_eq!(c.stats().bytes, rest);
    assert_eq!(c.invalidate("*").unwrap(), 9);
    assert_eq!(c.stats().bytes, 0);
    assert!(c.is_empty());
}

#[test]
fn ttl_expires_entries() {
    let clock = Arc::new(ManualClock::new());
    let ttl = Duration::from_secs(30);
    let c = MemoryCache::with_ttl(100, ttl).with_clock(clock.clone());
    c.put(&k(1), b"abc").unwrap();
    clock.advance(ttl - Duration::from_nanos(1));
    assert_eq!(c.get(&k(1)).unwrap(), Some(b"abc".to_vec()));
    // Exactly `ttl` old: expired and evicted when found.
    clock.advance(Duration::from_nanos(1));
    assert_eq!(c.get(&k(1)).unwrap(), None);
    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.evictions, s.bytes), (1, 1, 1, 0));
    assert!(c.is_empty());

    c.put(&k(2), b"x").unwrap();
    c.put(&k(3), b"y").unwrap();
    clock.advance(ttl / 2);
    c.put(&k(4), b"z").unwrap();
    // A hit does not extend the life of an entry; a new value does.
    assert!(c.get(&k(2)).unwrap().is_some());
    c.put(&k(3), b"y2").unwrap();
    clock.advance(ttl / 2);
    assert_eq!(c.purge_expired(), 1, "only 2 is a full ttl old");
    assert_eq!(c.get(&k(2)).unwrap(), None);
    assert_eq!(c.get(&k(3)).unwrap(), Some(b"y2".to_vec()));
    assert_eq!(c.get(&k(4)).unwrap(), Some(b"z".to_vec()));
    clock.advance(ttl);
    assert_eq!(c.purge_expired(), 2);
    assert!(c.is_empty());
    assert_eq!(c.stats().bytes, 0);
}

#[test]
fn without_ttl_nothing_expires() {
    let clock = Arc::new(ManualClock::new());
    let c = MemoryCache::new(100).with_clock(clock.clone());
    c.put(&k(1), b"abc").unwrap();
    clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
    assert_eq!(c.purge_expired(), 0);
    assert_eq!(c.get(&k(1)).unwrap(), Some(b"abc".to_vec()));
}

#[test]
fn the_default_clock_is_the_system_clock() {
    // An hour-long TTL with the real clock: nothing expires during a test.
    let c = MemoryCache::with_ttl(100, Duration::from_secs(3600));
    c.put(&k(1), b"abc").unwrap();
    assert_eq!(c.purge_expired(), 0);
    assert_eq!(c.get(&k(1)).unwrap(), Some(b"abc".to_vec()));
    // A zero TTL expires everything at once, whatever the clock reads.
    let c = MemoryCache::with_ttl(100, Duration::ZERO);
    c.put(&k(1), b"abc").unwrap();
    assert_eq!(c.get(&k(1)).unwrap(), None);
}

#[test]
fn concurrent_use_from_four_threads() {
    let c = Arc::new(MemoryCache::new(4 * 100 * 16));
    let handles: Vec<_> = (0..4u32)
        .map(|t| {
            let c = Arc::clone(&c);
            thread::spawn(move || {
                for i in 0..100u32 {
                    let key = k(t * 1000 + i);
                    let value = vec![(t * 7 + i) as u8; 16];
                    c.put(&key, &value).unwrap();
                    assert_eq!(c.get(&key).unwrap(), Some(value));
                    let _ = c.get(&k(((t + 1) % 4) * 1000 + i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = c.stats();
    assert_eq!(s.writes, 400);
    assert_eq!(s.bytes, 400 * 16);
    assert_eq!(s.hits + s.misses, 800);
    assert!(s.hits >= 400);
    assert_eq!(c.len(), 400);

    // Under pressure the bound holds.
    let small = Arc::new(MemoryCache::new(1000));
    let handles: Vec<_> = (0..4u32)
        .map(|t| {
            let c = Arc::clone(&small);
            thread::spawn(move || {
                for i in 0..200u32 {
                    c.put(&k(t * 1000 + i), &[0; 33]).unwrap();
                    assert!(c.stats().bytes <= 1000);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = small.stats();
    assert_eq!(s.bytes, small.len() as u64 * 33);
    assert_eq!(s.evictions, 800 - small.len() as u64);
}

#[test]
fn object_store_downcasts() {
    let store = ObjectStore::new(100);
    let key = k(1);
    assert!(store.insert(key.clone(), Arc::new(String::from("solver")), 10));
    assert_eq!(
        store.get::<String>(&key).as_deref().map(String::as_str),
        Some("solver")
    );
    assert!(store.get::<Vec<f64>>(&key).is_none());
    assert!(store.get::<String>(&k(2)).is_none());
    let s = store.stats();
    assert_eq!((s.hits, s.misses, s.writes, s.bytes), (1, 2, 1, 10));
    assert_eq!(s.level, "objects");
    // The same Arc is handed out.
    let a = store.get::<String>(&key).unwrap();
    let b = store.get::<String>(&key).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn object_store_is_lru_by_declared_bytes() {
    let store = ObjectStore::new(100);
    assert!(store.insert(k(1), Arc::new(1u32), 40));
    assert!(store.insert(k(2), Arc::new(2u32), 40));
    assert_eq!(store.get::<u32>(&k(1)).as_deref(), Some(&1));
    assert!(store.insert(k(3), Arc::new(3u32), 40)); // evicts 2
    assert!(store.get::<u32>(&k(2)).is_none());
    assert_eq!(store.get::<u32>(&k(1)).as_deref(), Some(&1));
    assert_eq!(store.get::<u32>(&k(3)).as_deref(), Some(&3));
    assert!(!store.insert(k(4), Arc::new(4u32), 101));
    assert!(store.get::<u32>(&k(4)).is_none());
    let s = store.stats();
    assert_eq!((s.bytes, s.evictions, s.writes), (80, 1, 3));
    assert_eq!(store.invalidate("t_000[13]"), 0);
    assert_eq!(store.invalidate("t_*"), 2);
    assert!(store.is_empty());
    assert!(!store.remove(&k(1)));
    assert_eq!(store.stats().bytes, 0);
}

#[test]
fn object_store_ttl() {
    let clock = Arc::new(ManualClock::new());
    let store = ObjectStore::with_ttl(100, Duration::from_secs(20)).with_clock(clock.clone());
    store.insert(k(1), Arc::new(5i64), 8);
    clock.advance(Duration::from_secs(19));
    assert_eq!(store.get::<i64>(&k(1)).as_deref(), Some(&5));
    clock.advance(Duration::from_secs(1));
    assert!(store.get::<i64>(&k(1)).is_none());
    assert_eq!(store.stats().evictions, 1);
    assert_eq!(store.stats().bytes, 0);
    assert!(store.is_empty());
}
