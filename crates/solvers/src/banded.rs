//! Banded Cholesky for symmetric positive definite matrices of small bandwidth: the linear-time
//! direct path of 1D problems (tridiagonal for P1) and of any matrix whose entries lie within
//! a few diagonals of the main one.
//!
//! The factor `L` of `A = L Lᵀ` has the lower half-bandwidth `b` of `A` (no fill outside the
//! band), stored row by row: row `i` holds `L[i][i-b..=i]` (the first `b - i` slots of the
//! first rows unused). Factorisation costs `n (b+1)(b+2)/2` multiply-adds, a solve
//! `2 n (b+1)`, memory `n (b+1)` values — for `b = 1` and 10⁷ unknowns 160 MB and a few tens of
//! milliseconds, where the general sparse Cholesky spends seconds in the analysis alone.

use femscale_core::{CsrMatrix, SparsityPattern};

/// The widest half-bandwidth the banded path takes: up to it, factorisation is linear in `n`
/// with a small constant (`n (b+1)(b+2)/2` multiply-adds). Matrices of 1D problems have `b = 1`
/// (P1) or 2 (P2); 2D and 3D meshes numbered row by row have `b` of the order of a grid line,
/// where the band's `n b²/2` work loses to the fill-reducing (AMD) sparse factorisation.
pub const MAX_HALF_BANDWIDTH: usize = 4;

/// `max |i - j|` over the stored entries of `p` (0 for a diagonal or empty pattern).
pub fn half_bandwidth(p: &SparsityPattern) -> usize {
    (0..p.nrows())
        .map(|i| match p.row(i) {
            [] => 0,
            row => i.abs_diff(row[0]).max(i.abs_diff(row[row.len() - 1])),
        })
        .max()
        .unwrap_or(0)
}

/// `L` of a banded Cholesky factorisation.
#[derive(Debug, Clone)]
pub struct BandCholesky {
    n: usize,
    b: usize,
    /// Row-major lower band: `L[i][j]` at `i (b+1) + (j + b - i)` for `i - b <= j <= i`.
    l: Vec<f64>,
}

/// Where a banded factorisation stopped: the row whose pivot was not positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonPositivePivot(pub usize);

impl BandCholesky {
    /// Bytes of the factor of an `n × n` matrix of half-bandwidth `b`.
    pub fn bytes(n: usize, b: usize) -> usize {
        n.saturating_mul(b + 1)
            .saturating_mul(std::mem::size_of::<f64>())
    }

    /// Factorises `a` (square and symmetric, read from its lower triangle) with half-bandwidth
    /// at most `b`, reusing `storage`'s allocation.
    ///
    /// # Errors
    /// [`NonPositivePivot`] when `a` is not positive definite (to rounding).
    ///
    /// # Panics
    /// If an entry of `a` lies outside the band (the caller measures `b` with
    /// [`half_bandwidth`]).
    pub fn factorize(
        a: &CsrMatrix,
        b: usize,
        mut storage: Vec<f64>,
    ) -> Result<Self, NonPositivePivot> {
        let n = a.nrows();
        let w = b + 1;
        storage.clear();
        storage.resize(n * w, 0.0);
        let l = &mut storage;
        let pattern = a.pattern();
        let values = a.values();
        for i in 0..n {
            let start = pattern.row_ptr()[i];
            // Row i of A's lower triangle into the band row (strictly upper entries ignored).
            for (k, &j) in pattern.row(i).iter().enumerate() {
                if j > i {
                    break;
                }
                assert!(
                    i - j <= b,
                    "entry ({i}, {j}) outside the half-bandwidth {b}"
                );
                l[i * w + (j + b - i)] = values[start + k];
            }
            let first = i.saturating_sub(b);
            for j in first..=i {
                // s = A[i][j] - Σ_{k < j, k within both bands} L[i][k] L[j][k]
                let lo = first.max(j.saturating_sub(b));
                let mut s = l[i * w + (j + b - i)];
                for k in lo..j {
                    s -= l[i * w + (k + b - i)] * l[j * w + (k + b - j)];
                }
                if j == i {
                    if s <= 0.0 || !s.is_finite() {
                        return Err(NonPositivePivot(i));
                    }
                    l[i * w + b] = s.sqrt();
                } else {
                    l[i * w + (j + b - i)] = s / l[j * w + b];
                }
            }
        }
        Ok(Self { n, b, l: storage })
    }

    /// Solves `L Lᵀ x = rhs` in place (`x` holds the right-hand side on entry).
    ///
    /// # Panics
    /// If `x.len()` differs from the order of the matrix.
    pub fn solve_in_place(&self, x: &mut [f64]) {
        let (n, b, w, l) = (self.n, self.b, self.b + 1, &self.l);
        assert_eq!(x.len(), n, "right-hand side length");
        // L y = rhs
        for i in 0..n {
            let first = i.saturating_sub(b);
            let mut s = x[i];
            for k in first..i {
                s -= l[i * w + (k + b - i)] * x[k];
            }
            x[i] = s / l[i * w + b];
        }
        // Lᵀ x = y, column-oriented: once x[i] is known, remove it from the rows above.
        for i in (0..n).rev() {
            x[i] /= l[i * w + b];
            let xi = x[i];
            for k in i.saturating_sub(b)..i {
                x[k] -= l[i * w + (k + b - i)] * xi;
            }
        }
    }

    /// The storage, for reuse by the next factorisation.
    pub fn into_storage(self) -> Vec<f64> {
        self.l
    }

    /// Half-bandwidth of the factor.
    pub fn half_bandwidth(&self) -> usize {
        self.b
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.l.capacity() * std::mem::size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn banded_spd(n: usize, b: usize) -> CsrMatrix {
        // Diagonally dominant: 2(b+1) on the diagonal, -1 + small asymmetric-looking but
        // symmetric values within the band.
        let mut entries = Vec::new();
        for i in 0..n {
            for j in i.saturating_sub(b)..(i + b + 1).min(n) {
                let v = if i == j {
                    2.0 * (b as f64 + 1.0)
                } else {
                    -1.0 + 0.01 * ((i + j) % 7) as f64
                };
                entries.push((i, j, v));
            }
        }
        CsrMatrix::try_from_triplets(n, n, &entries).unwrap()
    }

    #[test]
    fn solves_to_round_off_for_several_bandwidths() {
        for b in [0, 1, 2, 5] {
            let a = banded_spd(50, b);
            assert_eq!(half_bandwidth(a.pattern()), b);
            let f = BandCholesky::factorize(&a, b, Vec::new()).unwrap();
            let x_true: Vec<f64> = (0..50).map(|i| (i as f64 * 0.37).sin()).collect();
            let mut x = vec![0.0; 50];
            a.mul_vec_into(&x_true, &mut x);
            f.solve_in_place(&mut x);
            let err = x
                .iter()
                .zip(&x_true)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-13, "b = {b}: {err}");
        }
    }

    #[test]
    fn refuses_indefinite_matrices_with_the_row() {
        let a = CsrMatrix::try_from_triplets(
            3,
            3,
            &[
                (0, 0, 1.0),
                (0, 1, 2.0),
                (1, 0, 2.0),
                (1, 1, 1.0),
                (2, 2, 1.0),
            ],
        )
        .unwrap();
        assert_eq!(
            BandCholesky::factorize(&a, 1, Vec::new()).unwrap_err(),
            NonPositivePivot(1)
        );
    }

    #[test]
    fn empty_and_one_by_one() {
        let a = CsrMatrix::try_from_triplets(0, 0, &[]).unwrap();
        let f = BandCholesky::factorize(&a, 0, Vec::new()).unwrap();
        f.solve_in_place(&mut []);
        let a = CsrMatrix::try_from_triplets(1, 1, &[(0, 0, 4.0)]).unwrap();
        let f = BandCholesky::factorize(&a, 0, Vec::new()).unwrap();
        let mut x = [2.0];
        f.solve_in_place(&mut x);
        assert_eq!(x, [0.5]);
    }
}
