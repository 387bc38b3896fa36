//! Greedy (standard) aggregation on the strength graph and the tentative prolongator.
//!
//! * Phase 1: every node whose strong neighbourhood is entirely unaggregated becomes the root of
//!   a new aggregate made of itself and its strong neighbours.
//! * Phase 2: every node still unaggregated joins the aggregate of a strong neighbour that was
//!   aggregated in phase 1 (never one joined in phase 2, which would let aggregates snake).
//! * Phase 3: the remaining nodes and their unaggregated strong neighbours form new aggregates.
//!
//! Isolated nodes (no strong neighbour, e.g. eliminated Dirichlet rows) join no aggregate: their
//! row of the prolongator holds only what prolongator smoothing puts there, and the smoother
//! handles them. The near-nullspace is the constant vector, so the tentative prolongator has one
//! entry `1/sqrt(|aggregate|)` per aggregated row (orthonormal columns); it is stored implicitly
//! as the aggregate index per node plus the aggregate sizes.

use super::strength::Strength;

/// Aggregate index of nodes that belong to no aggregate.
pub(crate) const NO_AGGREGATE: u32 = u32::MAX;
const ISOLATED: u32 = u32::MAX - 1;
const PHASE2: u32 = 1 << 31;

/// The aggregation of one level: the tentative prolongator in implicit form.
#[derive(Debug, Clone)]
pub(crate) struct Aggregation {
    /// Aggregate of each fine node, or [`NO_AGGREGATE`].
    pub agg: Vec<u32>,
    /// Number of aggregates (coarse unknowns).
    pub count: usize,
    /// Tentative prolongator entry of each aggregate: `1/sqrt(size)`.
    pub weight: Vec<f64>,
}

impl Aggregation {
    /// Tentative prolongator value of fine node `j` (zero when it is not aggregated).
    #[inline]
    pub fn tentative(&self, j: usize) -> Option<(u32, f64)> {
        let k = self.agg[j];
        (k != NO_AGGREGATE).then(|| (k, self.weight[k as usize]))
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.agg.capacity() * 4 + self.weight.capacity() * 8
    }
}

/// Aggregates the nodes of the strength graph `s` (`n` nodes, `n < 2^31`).
pub(crate) fn aggregate(s: &Strength, n: usize) -> Aggregation {
    debug_assert!(n < PHASE2 as usize);
    let mut agg = vec![NO_AGGREGATE; n];
    let mut count: u32 = 0;

    // Phase 1: roots with a free neighbourhood.
    for i in 0..n {
        if agg[i] != NO_AGGREGATE {
            continue;
        }
        let nbrs = s.row(i);
        if nbrs.is_empty() {
            agg[i] = ISOLATED;
            continue;
        }
        if nbrs.iter().all(|&j| agg[j as usize] == NO_AGGREGATE) {
            agg[i] = count;
            for &j in nbrs {
                agg[j as usize] = count;
            }
            count += 1;
        }
    }

    // Phase 2: attach leftovers to a phase-1 aggregate (marked so they are not attached to).
    for i in 0..n {
        if agg[i] != NO_AGGREGATE {
            continue;
        }
        if let Some(&j) = s.row(i).iter().find(|&&j| agg[j as usize] < PHASE2) {
            agg[i] = agg[j as usize] | PHASE2;
        }
    }
    for a in agg.iter_mut() {
        if *a != NO_AGGREGATE && *a != ISOLATED {
            *a &= !PHASE2;
        }
    }

    // Phase 3: new aggregates from what is left.
    for i in 0..n {
        if agg[i] != NO_AGGREGATE {
            continue;
        }
        agg[i] = count;
        for &j in s.row(i) {
            if agg[j as usize] == NO_AGGREGATE {
                agg[j as usize] = count;
            }
        }
        count += 1;
    }

    let mut size = vec![0u32; count as usize];
    for a in agg.iter_mut() {
        if *a == ISOLATED {
            *a = NO_AGGREGATE;
        } else {
            size[*a as usize] += 1;
        }
    }
    let weight = size.iter().map(|&s| 1.0 / f64::from(s).sqrt()).collect();
    Aggregation {
        agg,
        count: count as usize,
        weight,
    }
}
