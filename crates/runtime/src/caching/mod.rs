//! The solve cache: reuse of solutions, assembled operators and prepared solvers
//! (factorizations, AMG hierarchies) across solves, runs and processes.
//!
//! Levels, fastest first, chosen by `[cache] levels`:
//!
//! * `memory` — live objects in this process (solutions, assembled operators with their meshes,
//!   prepared solvers), LRU-bounded by `memory_mb`, with optional TTL. Factorizations and AMG
//!   hierarchies only ever live here: they are not serialisable cheaply.
//! * `disk` — serialised solutions and assembled systems in `disk_dir` (atomic writes,
//!   checksums, LRU size cap, safe for concurrent processes).
//! * `redis` — the same in a Redis server at `redis_url`, shared between machines; if it is
//!   unreachable or dies, the cache warns once and carries on with the other levels. Needs the
//!   cargo feature `redis` (of `femscale`, or of this crate); without it, listing the level is
//!   an [`Error::FeatureDisabled`] naming `cache.levels`.
//! * any other name — a level registered with [`crate::Registry::register_cache`].
//!
//! Byte levels are read through in order; a hit is promoted to the faster byte levels and
//! decoded into the memory level. Entries that fail to decode are removed and recomputed.
//! Keys are content hashes ([`keys`]): any change of an input is a different key.

mod codec;
mod keys;
mod levels;
mod session;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use femscale_assembly::DirichletLift;
use femscale_cache::{ObjectStore, TieredCache, WritePolicy};
use femscale_core::shown::Shown;
use femscale_core::{
    Cache, CacheKey, CacheStats, CsrMatrix, Error, Metrics, PreparedSolver, Result,
};
use femscale_mesh::Mesh;
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

pub(crate) use codec::StoredSystem;
pub(crate) use keys::{ProblemKeys, problem_keys};
pub use levels::{DISK_LEVEL, PersistentLevel, REDIS_LEVEL, open_persistent_levels};
pub(crate) use session::{CacheSession, StoredOperator};

use crate::registry::Registry;

/// The name of the in-process level of live objects.
pub const MEMORY_LEVEL: &str = "memory";

/// `[cache]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Levels, fastest first: `memory`, `disk`, `redis` or a registered level (default
    /// `["memory"]`). Used when the scaling level enables caching (`scaling.enable_caching`).
    pub levels: Vec<String>,
    /// Memory for live solutions, operators and prepared solvers, MB (default 1024).
    pub memory_mb: f64,
    /// Entries older than this many seconds are dropped (default: never); applies to the
    /// memory and Redis levels.
    pub ttl_seconds: Option<f64>,
    /// Directory of the disk level (default `.femscale-cache`); must not be empty.
    pub disk_dir: PathBuf,
    /// Size cap of the disk level, MB (default 4096); least recently used entries go first.
    pub disk_max_mb: f64,
    /// Server of the Redis level (default `redis://127.0.0.1:6379/`).
    pub redis_url: String,
    /// Prefix of every Redis key (default `femscale:`): 1 to 64 ASCII letters, digits and
    /// `_ - . : /` (see [`femscale_cache::validate_redis_prefix`]).
    pub redis_prefix: String,
    /// Connect timeout of the Redis level in seconds (default 2); reads and writes get five
    /// times as long.
    pub redis_timeout_seconds: f64,
    /// Which byte levels a new entry is written to: `all` (default) or `first`.
    pub write_policy: WritePolicyConfig,
}

/// `cache.write_policy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WritePolicyConfig {
    /// Write through to every byte level.
    #[default]
    All,
    /// Write to the first byte level that accepts the entry.
    First,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            levels: vec![MEMORY_LEVEL.into()],
            memory_mb: 1024.0,
            ttl_seconds: None,
            disk_dir: PathBuf::from(".femscale-cache"),
            disk_max_mb: 4096.0,
            redis_url: "redis://127.0.0.1:6379/".into(),
            redis_prefix: "femscale:".into(),
            redis_timeout_seconds: 2.0,
            write_policy: WritePolicyConfig::All,
        }
    }
}

impl CacheConfig {
    /// Checks ranges, level names, `disk_dir` and `redis_prefix`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the `cache.*` key.
    pub fn validate(&self) -> Result<()> {
        levels::validate_storage_keys(self)?;
        let positive = |key: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(
                    format!("cache.{key}"),
                    format!("must be a finite number >= 0, got {}", Shown(v)),
                ))
            }
        };
        positive("memory_mb", self.memory_mb)?;
        positive("disk_max_mb", self.disk_max_mb)?;
        if let Some(t) = self.ttl_seconds
            && !(t.is_finite() && t > 0.0)
        {
            return Err(Error::invalid(
                "cache.ttl_seconds",
                format!("must be a positive number, got {}", Shown(t)),
            ));
        }
        if !(self.redis_timeout_seconds.is_finite() && self.redis_timeout_seconds > 0.0) {
            return Err(Error::invalid(
                "cache.redis_timeout_seconds",
                format!(
                    "must be positive, got {}",
                    Shown(self.redis_timeout_seconds)
                ),
            ));
        }
        for (i, name) in self.levels.iter().enumerate() {
            if self.levels[..i].contains(name) {
                return Err(Error::invalid(
                    "cache.levels",
                    format!("level `{name}` is listed twice"),
                ));
            }
        }
        Ok(())
    }

    fn ttl(&self) -> Option<std::time::Duration> {
        self.ttl_seconds
            .and_then(crate::config::duration_from_seconds)
    }
}

/// How often each kind of artefact was reused, and how many stored entries were damaged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CacheReuse {
    /// Solutions returned without solving.
    pub solutions: u64,
    /// Assembled operators reused (only the right-hand side was assembled).
    pub systems: u64,
    /// Prepared solvers (factorizations, AMG hierarchies) reused.
    pub prepared_solvers: u64,
    /// Stored entries that failed to decode and were removed and recomputed.
    pub corrupt_entries: u64,
}

/// A live assembled operator: its mesh, the eliminated matrix and the elimination record.
pub(crate) struct LiveSystem {
    pub mesh: Arc<Mesh>,
    pub system: StoredSystem,
}

/// A prepared solver shared between solves with the same operator.
pub(crate) type SharedPrepared = Mutex<Box<dyn PreparedSolver>>;

/// The solve cache of one or several [`crate::FemSolver`]s (they share it through an `Arc`;
/// see [`crate::FemSolver::with_cache`]).
#[derive(Debug)]
pub struct SolveCache {
    objects: Option<ObjectStore>,
    bytes: Option<TieredCache>,
    unavailable: Vec<(String, String)>,
    solutions: AtomicU64,
    systems: AtomicU64,
    prepared: AtomicU64,
    corrupt: AtomicU64,
}

/// Where a stored solution came from.
pub(crate) enum SolutionHit {
    /// The live object.
    Memory(Arc<crate::Solution>),
    /// Decoded from the byte level called `.2`.
    Bytes(Vec<f64>, Box<Metrics>, String),
}

impl SolveCache {
    /// A cache with the levels of `config`, byte levels built by `registry`. A level that
    /// cannot be opened (Redis server down) is left out with one warning; its reason is kept
    /// for [`SolveCache::unavailable_levels`].
    ///
    /// # Errors
    /// Invalid `[cache]` values, unknown level names, and a disk level whose `disk_dir`
    /// cannot be created or written (a file in the way, no permission): an
    /// [`Error::InvalidInput`] naming `cache.disk_dir` and the path.
    pub fn from_config(config: &CacheConfig, registry: &Registry) -> Result<Self> {
        config.validate()?;
        let mut objects = None;
        let mut levels: Vec<Arc<dyn Cache>> = Vec::new();
        let mut unavailable = Vec::new();
        for name in &config.levels {
            if name == MEMORY_LEVEL {
                let bytes = usize::try_from(femscale_core::checks::mb_to_bytes(config.memory_mb))
                    .unwrap_or(usize::MAX);
                objects = Some(match config.ttl() {
                    Some(ttl) => ObjectStore::with_ttl(bytes, ttl),
                    None => ObjectStore::new(bytes),
                });
                continue;
            }
            match registry.cache(name, config) {
                Ok(level) => levels.push(level),
                Err(
                    e @ (Error::UnknownName { .. }
                    | Error::InvalidInput { .. }
                    | Error::FeatureDisabled { .. }),
                ) => return Err(e),
                Err(e) if name == DISK_LEVEL => return Err(levels::disk_dir_error(config, e)),
                Err(e) => {
                    warn!(level = %name, error = %e, "cache level unavailable; continuing without it");
                    unavailable.push((name.clone(), e.to_string()));
                }
            }
        }
        let bytes = (!levels.is_empty()).then(|| {
            TieredCache::new(levels).with_write_policy(match config.write_policy {
                WritePolicyConfig::All => WritePolicy::All,
                WritePolicyConfig::First => WritePolicy::FirstOnly,
            })
        });
        Ok(Self {
            objects,
            bytes,
            unavailable,
            solutions: AtomicU64::new(0),
            systems: AtomicU64::new(0),
            prepared: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
        })
    }

    /// A cache that stores nothing.
    pub fn disabled() -> Self {
        Self {
            objects: None,
            bytes: None,
            unavailable: Vec::new(),
            solutions: AtomicU64::new(0),
            systems: AtomicU64::new(0),
            prepared: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
        }
    }

    /// Whether any level is active.
    pub fn is_enabled(&self) -> bool {
        self.objects.is_some() || self.bytes.is_some()
    }

    /// Counters of every active level, fastest first (`memory` counts live objects).
    pub fn level_stats(&self) -> Vec<CacheStats> {
        let mut stats = Vec::new();
        if let Some(o) = &self.objects {
            let mut s = o.stats();
            s.level = MEMORY_LEVEL.into();
            stats.push(s);
        }
        if let Some(b) = &self.bytes {
            stats.extend(b.level_stats());
        }
        stats
    }

    /// The byte levels (disk, Redis, registered ones), fastest first.
    pub fn byte_levels(&self) -> &[Arc<dyn Cache>] {
        self.bytes.as_ref().map_or(&[], |b| b.levels())
    }

    /// Configured levels that could not be opened, with the reason.
    pub fn unavailable_levels(&self) -> &[(String, String)] {
        &self.unavailable
    }

    /// What has been reused so far.
    pub fn reuse(&self) -> CacheReuse {
        CacheReuse {
            solutions: self.solutions.load(Ordering::Relaxed),
            systems: self.systems.load(Ordering::Relaxed),
            prepared_solvers: self.prepared.load(Ordering::Relaxed),
            corrupt_entries: self.corrupt.load(Ordering::Relaxed),
        }
    }

    /// Removes every entry whose key (`solution_<digest>`, `system_<digest>`,
    /// `prepared_<digest>`) matches the glob `pattern` from every level; returns the largest
    /// number removed from one level.
    ///
    /// # Errors
    /// If every byte level failed.
    pub fn invalidate(&self, pattern: &str) -> Result<usize> {
        let memory = self.objects.as_ref().map_or(0, |o| o.invalidate(pattern));
        let bytes = match &self.bytes {
            Some(b) => b.invalidate(pattern)?,
            None => 0,
        };
        Ok(memory.max(bytes))
    }

    /// Removes every entry from every level.
    ///
    /// # Errors
    /// If every byte level failed.
    pub fn clear(&self) -> Result<usize> {
        self.invalidate("*")
    }

    pub(crate) fn solution(&self, key: &CacheKey) -> Option<SolutionHit> {
        if let Some(hit) = self.objects.as_ref().and_then(|o| o.get(key)) {
            self.solutions.fetch_add(1, Ordering::Relaxed);
            return Some(SolutionHit::Memory(hit));
        }
        let (bytes, level) = self.get_bytes(key)?;
        match codec::decode_solution(&bytes) {
            Ok((values, metrics)) => {
                self.solutions.fetch_add(1, Ordering::Relaxed);
                Some(SolutionHit::Bytes(values, Box::new(metrics), level))
            }
            Err(e) => {
                self.discard(key, &e);
                None
            }
        }
    }

    pub(crate) fn store_solution(&self, key: &CacheKey, solution: &crate::Solution) {
        if let Some(b) = &self.bytes
            && let Err(e) = b.put(
                key,
                &codec::encode_solution(&solution.values, &solution.metrics),
            )
        {
            debug!(key = %key, error = %e, "could not store the solution");
        }
        self.keep_live_solution(key, solution);
    }

    /// Keeps `solution` in the memory level only (it came from a byte level).
    pub(crate) fn keep_live_solution(&self, key: &CacheKey, solution: &crate::Solution) {
        if let Some(o) = &self.objects {
            let bytes = solution.values.len() * 8
                + solution.mesh.coords().len() * 8
                + solution.mesh.cells().len() * 8;
            o.insert(key.clone(), Arc::new(solution.clone()), bytes);
        }
    }

    /// The live operator for `key`, or the stored one decoded (its mesh built by `mesh`).
    pub(crate) fn system(
        &self,
        key: &CacheKey,
        mesh: impl FnOnce() -> Result<Arc<Mesh>>,
    ) -> Result<Option<(Arc<LiveSystem>, String)>> {
        if let Some(hit) = self.objects.as_ref().and_then(|o| o.get::<LiveSystem>(key)) {
            self.systems.fetch_add(1, Ordering::Relaxed);
            return Ok(Some((hit, MEMORY_LEVEL.into())));
        }
        let Some((bytes, level)) = self.get_bytes(key) else {
            return Ok(None);
        };
        let system = match codec::decode_system(&bytes) {
            Ok(s) => s,
            Err(e) => {
                self.discard(key, &e);
                return Ok(None);
            }
        };
        let mesh = mesh()?;
        if system.matrix.nrows() != mesh.num_nodes() {
            self.discard(
                key,
                &codec::Corrupt("system size does not match the mesh".into()),
            );
            return Ok(None);
        }
        self.systems.fetch_add(1, Ordering::Relaxed);
        let live = Arc::new(LiveSystem { mesh, system });
        self.insert_live_system(key, live.clone());
        Ok(Some((live, level)))
    }

    /// The mesh of the live operator for `key`, if the memory level has it (not counted as
    /// a reuse of the operator).
    pub(crate) fn live_mesh(&self, key: &CacheKey) -> Option<Arc<Mesh>> {
        let live = self.objects.as_ref()?.get::<LiveSystem>(key)?;
        Some(live.mesh.clone())
    }

    pub(crate) fn store_system(
        &self,
        key: &CacheKey,
        mesh: Arc<Mesh>,
        matrix: Arc<CsrMatrix>,
        lift: Arc<DirichletLift>,
    ) -> Arc<LiveSystem> {
        if let Some(b) = &self.bytes
            && matrix.nrows() < u32::MAX as usize
            && let Err(e) = b.put(key, &codec::encode_system(&matrix, &lift))
        {
            debug!(key = %key, error = %e, "could not store the assembled system");
        }
        let live = Arc::new(LiveSystem {
            mesh,
            system: StoredSystem { matrix, lift },
        });
        self.insert_live_system(key, live.clone());
        live
    }

    fn insert_live_system(&self, key: &CacheKey, live: Arc<LiveSystem>) {
        if let Some(o) = &self.objects {
            let bytes = live.system.matrix.memory_bytes()
                + live.system.lift.memory_bytes()
                + live.mesh.coords().len() * 8
                + live.mesh.cells().len() * 8;
            o.insert(key.clone(), live, bytes);
        }
    }

    pub(crate) fn prepared(&self, key: &CacheKey) -> Option<Arc<SharedPrepared>> {
        let hit = self.objects.as_ref()?.get::<SharedPrepared>(key)?;
        self.prepared.fetch_add(1, Ordering::Relaxed);
        Some(hit)
    }

    pub(crate) fn store_prepared(
        &self,
        key: &CacheKey,
        prepared: Arc<SharedPrepared>,
        bytes: usize,
    ) {
        if let Some(o) = &self.objects {
            o.insert(key.clone(), prepared, bytes);
        }
    }

    fn get_bytes(&self, key: &CacheKey) -> Option<(Vec<u8>, String)> {
        let b = self.bytes.as_ref()?;
        match b.get_with_level(key) {
            Ok(Some((bytes, i))) => Some((bytes, b.levels()[i].name().to_string())),
            Ok(None) => None,
            Err(e) => {
                debug!(key = %key, error = %e, "every byte cache level failed; recomputing");
                None
            }
        }
    }

    fn discard(&self, key: &CacheKey, e: &codec::Corrupt) {
        self.corrupt.fetch_add(1, Ordering::Relaxed);
        warn!(key = %key, error = %e, "damaged cache entry removed; recomputing");
        if let Some(b) = &self.bytes {
            let _ = b.remove(key);
        }
    }
}
