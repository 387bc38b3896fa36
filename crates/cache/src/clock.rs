//! [`Clock`]: where the cache levels read the time.
//!
//! Time is part of what two levels do: [`MemoryCache`](crate::MemoryCache) and
//! [`ObjectStore`](crate::ObjectStore) expire entries after a time-to-live, and
//! [`DiskCache`](crate::DiskCache) orders entries for eviction by the time they were last used.
//! Both read it through a [`Clock`], [`SystemClock`] by default. A [`ManualClock`] stands
//! still until it is advanced, so that tests (and simulations) can state "an hour later"
//! exactly instead of sleeping and hoping the machine was not too busy.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use femscale_cache::{Cache, CacheKey, ManualClock, MemoryCache};
//!
//! let clock = Arc::new(ManualClock::new());
//! let cache = MemoryCache::with_ttl(1 << 10, Duration::from_secs(60)).with_clock(clock.clone());
//! let key = CacheKey::new("system", "ab");
//! cache.put(&key, b"value").unwrap();
//! clock.advance(Duration::from_secs(59));
//! assert!(cache.get(&key).unwrap().is_some());
//! clock.advance(Duration::from_secs(1));
//! assert!(cache.get(&key).unwrap().is_none()); // 60 s old: expired
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// A source of time for the cache levels.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Monotonic time, for ages measured within this process (time-to-live).
    fn now(&self) -> Instant;

    /// Wall-clock time, for stamps that other processes compare (the disk cache's recency,
    /// kept in each entry file's modification time).
    fn wall(&self) -> SystemTime;
}

/// The real clocks: [`Instant::now`] and [`SystemTime::now`]. The default of every level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that stands still until [`ManualClock::advance`] moves it; shared through an
/// `Arc` between the test and the caches it drives.
///
/// It starts at the time it was created (both readings), so stamps it writes into files look
/// like ordinary recent times to other processes.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    start_wall: SystemTime,
    /// Nanoseconds advanced since `start`.
    offset_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock standing at the current time.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            start_wall: SystemTime::now(),
            offset_nanos: AtomicU64::new(0),
        }
    }

    /// Moves both readings forward by `by`. The total advance saturates at `u64::MAX`
    /// nanoseconds (about 584 years) and at the largest time the platform can represent.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
                let new = old.saturating_add(by);
                let d = Duration::from_nanos(new);
                let representable =
                    self.start.checked_add(d).is_some() && self.start_wall.checked_add(d).is_some();
                (representable && new != old).then_some(new)
            });
    }

    /// How far the clock has been advanced since it was created.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        // Representable: `advance` only stores offsets that are.
        self.start.checked_add(self.elapsed()).unwrap_or(self.start)
    }

    fn wall(&self) -> SystemTime {
        self.start_wall
            .checked_add(self.elapsed())
            .unwrap_or(self.start_wall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new();
        let (t0, w0) = (clock.now(), clock.wall());
        assert_eq!((clock.now(), clock.wall()), (t0, w0));
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now() - t0, Duration::from_millis(1500));
        assert_eq!(
            clock.wall().duration_since(w0).unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(clock.elapsed(), Duration::from_millis(1500));
        // Huge advances saturate instead of overflowing.
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert!(clock.now() >= t0 + Duration::from_millis(1500));
        assert!(clock.wall() >= w0);
    }

    #[test]
    fn the_system_clock_reads_the_real_clocks() {
        let before = SystemTime::now();
        let wall = SystemClock.wall();
        assert!(wall >= before);
        let t = Instant::now();
        assert!(SystemClock.now() >= t);
    }
}
