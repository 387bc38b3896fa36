//! The strength-of-connection graph: `j` is a strong neighbour of `i` when
//! `|a_ij| >= θ sqrt(|a_ii a_jj|)`.
//!
//! A coupling of rounding size, `|a_ij| <= 1e-12 sqrt(|a_ii a_jj|)`, is no coupling at all,
//! whatever θ (also θ = 0, where every other entry is strong): a matrix entry that is zero in
//! exact arithmetic comes out exactly zero or as noise depending on the order of the sums, and
//! the aggregates must not depend on which (2D P2 at n = 512: 10 or 14 CG iterations).
//!
//! The test is symmetric in `i` and `j` for a symmetric matrix, so the graph is symmetric. It is
//! built in parallel over row blocks and holds no diagonal entries.

use rayon::prelude::*;

use super::csr::Mat;
use super::spgemm::{RowBlock, assemble_blocks, row_blocks};

/// The strong neighbours of every row (CSR structure without values).
#[derive(Debug)]
pub(crate) struct Strength {
    pub rp: Vec<usize>,
    pub ci: Vec<u32>,
}

impl Strength {
    /// Strong neighbours of node `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &[u32] {
        &self.ci[self.rp[i]..self.rp[i + 1]]
    }
}

/// Couplings at most this size relative to `sqrt(|a_ii a_jj|)` are rounding noise (see the
/// module's docs).
const ROUNDING: f64 = 1e-12;

/// Builds the strength graph of `a` with threshold `theta`, given `diag = |a_ii|`.
pub(crate) fn strength_graph(a: &Mat, diag: &[f64], theta: f64) -> Strength {
    // The tests compare squares of entries: scaled by a power of two (exactly) so that the
    // largest diagonal is about 1, they neither overflow for a matrix of scale 1e200 (which
    // would make every coupling look like noise) nor change for matrices of ordinary scale.
    let largest = (diag.par_iter().with_min_len(4096))
        .copied()
        .reduce(|| 0.0, f64::max);
    let scale = power_of_two_scale(largest);
    let t2 = theta * theta;
    // Squared: `v^2 <= ROUNDING^2 |a_ii a_jj|`.
    let noise2 = ROUNDING * ROUNDING;
    let blocks: Vec<RowBlock> = row_blocks(a.nrows)
        .into_par_iter()
        .map(|rows| {
            let mut block = RowBlock::new(rows.start, rows.len(), rows.len() * 4, false);
            for i in rows {
                let (cols, vals) = a.row(i);
                let d = |k: usize| diag[k] * scale;
                let (di, noise) = (t2 * d(i), noise2 * d(i));
                let start = block.ci.len();
                // The strongest coupling, relative to the diagonals, in case no coupling passes.
                let mut strongest: Option<(f64, u32)> = None;
                for (&j, &v) in cols.iter().zip(vals) {
                    let (ju, v) = (j as usize, v * scale);
                    if ju == i || v * v <= noise * d(ju) {
                        continue;
                    }
                    if v * v >= di * d(ju) {
                        block.ci.push(j);
                    }
                    let s = v * v / d(ju);
                    if strongest.is_none_or(|(best, _)| s > best) {
                        strongest = Some((s, j));
                    }
                }
                // A coupled node without a strong neighbour keeps its strongest one, so that it
                // joins an aggregate instead of leaving the coarse space (rows of 3D coarse
                // levels spread their weight over 26 or more couplings, each below θ).
                if block.ci.len() == start
                    && let Some((_, j)) = strongest
                {
                    block.ci.push(j);
                }
                block.ends.push(block.ci.len());
            }
            block
        })
        .collect();
    let m = assemble_blocks(a.nrows, a.ncols, blocks);
    Strength {
        rp: m.rp.into_vec(),
        ci: m.ci.into_vec(),
    }
}

/// `2^-e` for the binary exponent `e` of `largest` (1 for zero, non-finite or subnormal
/// values): multiplying by it is exact and brings `largest` into `[1, 2)`.
fn power_of_two_scale(largest: f64) -> f64 {
    if !largest.is_normal() {
        return 1.0;
    }
    let exponent = ((largest.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    // 2^-exponent is normal for every normal `largest` but the very largest (2^1023 -> 2^-1023,
    // subnormal and still exact as a power of two).
    f64::from_bits((((1023 - exponent).clamp(1, 2046)) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_is_an_exact_power_of_two_bringing_the_largest_into_one_two() {
        for x in [
            1.0,
            3.0,
            0.75,
            1e200,
            1e-200,
            4.0,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            let s = power_of_two_scale(x);
            let y = x * s;
            assert!((1.0..2.0).contains(&y) || x == f64::MAX, "{x}: {y}");
            assert_eq!(s.to_bits() & ((1 << 52) - 1), 0, "{x}: mantissa of {s}");
        }
        assert_eq!(power_of_two_scale(0.0), 1.0);
        assert_eq!(power_of_two_scale(f64::INFINITY), 1.0);
    }
}
