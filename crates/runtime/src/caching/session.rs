//! The solve cache as one solve sees it: the cache with the keys of its problem, and one
//! lookup-or-compute step per artefact (solution, assembled operator, prepared solver), each
//! lookup counted as a hit or a miss.

use std::sync::Arc;
use std::time::Instant;

use femscale_assembly::DirichletLift;
use femscale_core::{Artefact, CacheReuse, Counter, CsrMatrix, Feature, Result};
use femscale_mesh::Mesh;
use tracing::info;

use super::{LiveSystem, MEMORY_LEVEL, ProblemKeys, SharedPrepared, SolutionHit, SolveCache};
use crate::Solution;

/// The cache and the keys of one problem.
pub(crate) struct CacheSession {
    cache: Arc<SolveCache>,
    keys: ProblemKeys,
}

/// A stored operator and the level that served it.
pub(crate) type StoredOperator = (Arc<LiveSystem>, String);

impl CacheSession {
    pub(crate) fn new(cache: Arc<SolveCache>, keys: ProblemKeys) -> Self {
        Self { cache, keys }
    }

    /// The stored solution, if any level has it (a byte-level hit also needs the mesh: from a
    /// live operator, or built by `mesh`). Its report says it was served, from where, and
    /// how long serving took since `started`.
    pub(crate) fn solution(
        &self,
        mesh: impl FnOnce() -> Result<Arc<Mesh>>,
        started: Instant,
    ) -> Result<Option<Solution>> {
        let (found, usage) = femscale_scaling::measure(|| self.find_solution(mesh));
        let found = found?;
        count_lookup(found.is_some());
        let Some((mut solution, level)) = found else {
            return Ok(None);
        };
        let m = &mut solution.metrics;
        m.phases = Default::default();
        m.total_solve_time = started.elapsed().as_secs_f64();
        // What serving it took now, not what the stored solve used.
        m.peak_rss_mb = Some(usage.peak_rss_mb);
        m.mean_cpu_percent = Some(usage.mean_cpu_percent);
        m.features_used.push(Feature::SolutionCacheHit);
        m.cache_reused = vec![CacheReuse::new(Artefact::Solution, level.as_str())];
        m.cache_levels = self.cache.level_stats();
        if m.mesh.cells != solution.mesh.num_cells() {
            // Stored before reports carried mesh statistics.
            m.mesh = solution.mesh.stats();
        }
        info!(dofs = m.dofs, level = %level, "solution served from cache");
        Ok(Some(solution))
    }

    fn find_solution(
        &self,
        mesh: impl FnOnce() -> Result<Arc<Mesh>>,
    ) -> Result<Option<(Solution, String)>> {
        let keys = &self.keys;
        match self.cache.solution(&keys.solution) {
            None => Ok(None),
            Some(SolutionHit::Memory(hit)) => Ok(Some(((*hit).clone(), MEMORY_LEVEL.into()))),
            Some(SolutionHit::Bytes(values, metrics, level)) => {
                let mesh = match self.cache.live_mesh(&keys.system) {
                    Some(mesh) => mesh,
                    None => mesh()?,
                };
                if values.len() != mesh.num_nodes() {
                    return Ok(None);
                }
                let solution = Solution {
                    mesh,
                    values,
                    metrics: *metrics,
                };
                self.cache.keep_live_solution(&keys.solution, &solution);
                Ok(Some((solution, level)))
            }
        }
    }

    /// Stores a computed solution and adds the levels' counters to its report.
    pub(crate) fn store_solution(&self, solution: &mut Solution) {
        self.cache.store_solution(&self.keys.solution, solution);
        solution.metrics.cache_levels = self.cache.level_stats();
    }

    /// The stored assembled operator (a byte-level hit is decoded on the mesh `mesh` builds).
    pub(crate) fn operator(
        &self,
        mesh: impl FnOnce() -> Result<Arc<Mesh>>,
    ) -> Result<Option<StoredOperator>> {
        let stored = self.cache.system(&self.keys.system, mesh)?;
        count_lookup(stored.is_some());
        Ok(stored)
    }

    /// Stores an assembled, constrained operator.
    pub(crate) fn store_operator(
        &self,
        mesh: Arc<Mesh>,
        matrix: Arc<CsrMatrix>,
        lift: Arc<DirichletLift>,
    ) {
        self.cache
            .store_system(&self.keys.system, mesh, matrix, lift);
    }

    /// The prepared solver of this operator and solver configuration, if one is live.
    pub(crate) fn prepared(&self) -> Option<Arc<SharedPrepared>> {
        let hit = self.cache.prepared(&self.keys.prepared);
        count_lookup(hit.is_some());
        hit
    }

    /// Keeps a prepared solver of `bytes` live for later solves.
    pub(crate) fn store_prepared(&self, prepared: Arc<SharedPrepared>, bytes: usize) {
        self.cache
            .store_prepared(&self.keys.prepared, prepared, bytes);
    }
}

/// Counts one cache lookup as a hit or a miss.
fn count_lookup(hit: bool) {
    femscale_core::record(if hit {
        Counter::CacheHits
    } else {
        Counter::CacheMisses
    });
}
