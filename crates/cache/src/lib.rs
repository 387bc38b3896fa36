//! # femscale-cache
//!
//! The cache levels behind [`femscale_core::cache::Cache`]:
//!
//! | item | what it is |
//! |---|---|
//! | [`Clock`] | where TTLs and disk recency read the time: [`SystemClock`], or a [`ManualClock`] in tests |
//! | [`KeyBuilder`] | content-hash (SHA-256) keys over everything that determines an artefact |
//! | [`glob_match`] | the `*`/`?` glob used by [`Cache::invalidate`] |
//! | [`MemoryCache`] | thread-safe in-memory LRU bounded by bytes, optional TTL |
//! | [`ObjectStore`] | the same for live, type-erased objects (prepared solvers) |
//! | [`DiskCache`] | self-verifying, atomically written entries in a directory shared by processes |
//! | [`TieredCache`] | read-through stack of levels with promotion and a [`WritePolicy`] |
//! | `RedisCache` | entries in a Redis server shared between machines (cargo feature `redis`, on by default) |
//! | `testing` | a throwaway `redis-server` for tests (cargo feature `redis`) |
//!
//! ```
//! use std::sync::Arc;
//! use femscale_cache::{DiskCache, KeyBuilder, MemoryCache, TieredCache, FORMAT_VERSION};
//! use femscale_core::cache::Cache;
//!
//! let dir = std::env::temp_dir().join(format!("femscale-cache-doc-{}", std::process::id()));
//! let cache = TieredCache::new(vec![
//!     Arc::new(MemoryCache::new(64 << 20)),
//!     Arc::new(DiskCache::open(&dir, 1 << 30).unwrap()),
//! ]);
//! let key = KeyBuilder::new("solution")
//!     .with_format_version(FORMAT_VERSION)
//!     .f64s("load", &[1.0, 2.0, 3.0])
//!     .u64("dofs", 3)
//!     .finish();
//! assert_eq!(cache.get(&key).unwrap(), None);
//! cache.put(&key, b"solution bytes").unwrap();
//! assert_eq!(cache.get(&key).unwrap().as_deref(), Some(&b"solution bytes"[..]));
//! assert_eq!(cache.invalidate("solution_*").unwrap(), 1);
//! assert_eq!(cache.get(&key).unwrap(), None);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
#![warn(rustdoc::broken_intra_doc_links)]

pub mod clock;
pub mod disk;
pub mod glob;
pub mod key;
pub mod memory;
#[cfg(feature = "redis")]
mod redis_cache;
mod redis_keys;
pub mod tiered;

#[cfg(feature = "redis")]
pub mod testing;

pub use clock::{Clock, ManualClock, SystemClock};
pub use disk::{DISK_FORMAT_VERSION, DiskCache};
pub use femscale_core::cache::{Cache, CacheKey, CacheStats};
pub use glob::glob_match;
pub use key::{FORMAT_VERSION, KeyBuilder};
pub use memory::{MemoryCache, ObjectStore};
#[cfg(feature = "redis")]
pub use redis_cache::{MAX_REDIS_TTL, RedisCache, RedisOptions, validate_redis_url};
pub use redis_keys::{MAX_PREFIX_LEN, redact as redact_url, validate_redis_prefix};
pub use tiered::{TieredCache, WritePolicy};
