//! Banded Cholesky for symmetric positive definite matrices of small bandwidth: the linear-time
//! direct path of 1D problems (tridiagonal for P1) and of any matrix whose entries lie within
//! a few diagonals of the main one.
//!
//! The factors of `A = L D Lᵀ` (the square-root-free Cholesky: `L` unit lower triangular, `D`
//! diagonal) have the lower half-bandwidth `b` of `A` (no fill outside the band), stored row
//! by row: row `i` holds `L[i][i-b..i]` and `D[i]` (the first `b - i` slots of the first rows
//! unused). Factorisation costs `n (b+1)(b+2)/2` multiply-adds, a solve
//! `2 n (b+1)`, memory `n (b+1)` values. Tridiagonal matrices (`b = 1`) keep only their `n`
//! reciprocal pivots and share the matrix for the couplings (see the `tridiagonal` module) —
//! for 10⁷ unknowns 80 MB and a few tens of milliseconds, where the general sparse Cholesky
//! spends seconds in the analysis alone; from [`TWIST_MIN_ROWS`] rows they are factorised
//! *twisted*, from both ends towards the middle row.

use std::mem::MaybeUninit;
use std::sync::Arc;

use femscale_core::{CsrMatrix, SparsityPattern};
use rayon::prelude::*;

mod tridiagonal;

pub use tridiagonal::TWIST_MIN_ROWS;

/// The widest half-bandwidth the banded path takes: up to it, factorisation is linear in `n`
/// with a small constant (`n (b+1)(b+2)/2` multiply-adds). Matrices of 1D problems have `b = 1`
/// (P1) or 2 (P2); 2D and 3D meshes numbered row by row have `b` of the order of a grid line,
/// where the band's `n b²/2` work loses to the fill-reducing (AMD) sparse factorisation.
pub const MAX_HALF_BANDWIDTH: usize = 4;

/// `max |i - j|` over the stored entries of `p` (0 for a diagonal or empty pattern); parallel
/// over rows for large patterns.
pub fn half_bandwidth(p: &SparsityPattern) -> usize {
    (0..p.nrows())
        .into_par_iter()
        .with_min_len(8192)
        .map(|i| match p.row(i) {
            [] => 0,
            row => (i.abs_diff(row[0] as usize)).max(i.abs_diff(row[row.len() - 1] as usize)),
        })
        .max()
        .unwrap_or(0)
}

/// `L` and `D` of a banded, square-root-free Cholesky factorisation `A = L D Lᵀ` (`L` unit
/// lower triangular; `A` is positive definite exactly when every `D[i] > 0`), or for large
/// tridiagonal matrices its twisted counterpart (every pivot positive likewise).
#[derive(Debug, Clone)]
pub struct BandCholesky {
    n: usize,
    b: usize,
    factor: Factor,
}

#[derive(Debug, Clone)]
enum Factor {
    /// Row-major lower band: the unit lower triangular `L[i][j]` at `i (b+1) + (j + b - i)` for
    /// `i - b <= j < i`, and `D[i]` at `i (b+1) + b`.
    Band(Vec<f64>),
    /// `b = 1`: the reciprocal pivots, with the matrix for its couplings.
    Tridiagonal(tridiagonal::Tridiagonal),
}

/// A half-bandwidth known when compiling ([`Fixed`], for the widths of 1D problems: loops of
/// constant length) or only when running (`usize`).
trait Width: Copy + Send + Sync {
    fn get(self) -> usize;
}

/// The half-bandwidth `B`.
#[derive(Clone, Copy)]
struct Fixed<const B: usize>;

impl<const B: usize> Width for Fixed<B> {
    #[inline(always)]
    fn get(self) -> usize {
        B
    }
}

impl Width for usize {
    #[inline(always)]
    fn get(self) -> usize {
        self
    }
}

/// Rows per parallel work item of [`load_band`].
const ROW_CHUNK: usize = 8192;

/// What [`load_band`] saw of `A`'s symmetry.
#[derive(Clone, Copy)]
struct Symmetry {
    /// `max |a_ij|`.
    scale: f64,
    /// `max |a_ij − a_ji|` over the pairs within the band (absent entries are zeros).
    worst: f64,
    /// Some difference was NaN.
    nan: bool,
}

impl Symmetry {
    const EXACT: Self = Self {
        scale: 0.0,
        worst: 0.0,
        nan: false,
    };

    fn join(self, other: Self) -> Self {
        Self {
            scale: self.scale.max(other.scale),
            worst: self.worst.max(other.worst),
            nan: self.nan || other.nan,
        }
    }

    fn holds(&self, tol: f64) -> bool {
        !self.nan && self.worst <= tol * self.scale
    }
}

/// Copies the lower band of the rows `rows` of `a` into `out` (`b + 1` slots per row, `A[i][j]`
/// at `j + b − i`, zeros where nothing is stored, every slot written) and compares each
/// `A[i][i−o]` with `A[i−o][i]`.
fn load_band<W: Width>(
    a: &CsrMatrix,
    width: W,
    rows: std::ops::Range<usize>,
    out: &mut [MaybeUninit<f64>],
) -> Symmetry {
    let b = width.get();
    let w = b + 1;
    let pattern = a.pattern();
    let (row_ptr, cols, values) = (pattern.row_ptr(), pattern.col_idx(), a.values());
    let mut seen = Symmetry::EXACT;
    for (i, band) in rows.zip(out.chunks_exact_mut(w)) {
        let band = {
            for slot in band.iter_mut() {
                slot.write(0.0);
            }
            // SAFETY: every slot of `band` was just initialised, and `MaybeUninit<f64>` has
            // the layout of `f64`.
            unsafe { &mut *(std::ptr::from_mut::<[MaybeUninit<f64>]>(band) as *mut [f64]) }
        };
        for k in row_ptr[i]..row_ptr[i + 1] {
            let (j, v) = (cols[k] as usize, values[k]);
            seen.scale = seen.scale.max(v.abs());
            if j <= i {
                assert!(
                    i - j <= b,
                    "entry ({i}, {j}) outside the half-bandwidth {b}"
                );
                band[j + b - i] = v;
            } else {
                assert!(
                    j - i <= b,
                    "entry ({i}, {j}) outside the half-bandwidth {b}"
                );
            }
        }
        for o in 1..=b.min(i) {
            let difference = (band[b - o] - a.get(i - o, i)).abs();
            seen.nan |= difference.is_nan();
            seen.worst = seen.worst.max(difference);
        }
    }
    seen
}

/// The in-place elimination of the band rows `l` (as [`load_band`] leaves them) into `L` and
/// `D`; `Err(i)` at the first pivot that is not positive.
///
/// Row `i` first forms `u_ij = A[i][j] − Σ_k u_ik L[j][k]` (`= L[i][j] D[j]`) in place, then
/// `L[i][j] = u_ij / D[j]` and `D[i] = A[i][i] − Σ_j u_ij² / D[j]`. Only one division lies on
/// the recurrence from row to row (no square root): for `b = 1`,
/// `D[i] = A[i][i] − A[i][i−1]² / D[i−1]`.
fn eliminate<W: Width>(l: &mut [f64], width: W) -> Result<(), usize> {
    let b = width.get();
    let w = b + 1;
    for i in 0..l.len() / w {
        let base = i * w;
        let first = i.saturating_sub(b);
        for j in first..i {
            let lo = first.max(j.saturating_sub(b));
            let mut u = l[base + (j + b - i)];
            for k in lo..j {
                u -= l[base + (k + b - i)] * l[j * w + (k + b - j)];
            }
            l[base + (j + b - i)] = u;
        }
        let mut d = l[base + b];
        for j in first..i {
            let (u, dj) = (l[base + (j + b - i)], l[j * w + b]);
            // `u² / D[j]` rather than `u · L[i][j]`: the square is formed before `D[j]` is
            // known, leaving the division and the subtraction on the row-to-row recurrence.
            d -= (u * u) / dj;
            l[base + (j + b - i)] = u / dj;
        }
        if d <= 0.0 || !d.is_finite() {
            return Err(i);
        }
        l[base + b] = d;
    }
    Ok(())
}

/// [`load_band`] over all rows of `a` (in parallel over chunks of rows, into `storage`'s
/// spare capacity), then [`eliminate`]: the pass over the whole matrix runs on every thread,
/// the sequential recurrence on the compact band only.
fn factorize_band<W: Width>(
    a: &CsrMatrix,
    width: W,
    tol: f64,
    storage: &mut Vec<f64>,
) -> Result<(), BandFailure> {
    let (n, w) = (a.nrows(), width.get() + 1);
    let len = n * w;
    storage.clear();
    storage.reserve_exact(len);
    let seen = storage.spare_capacity_mut()[..len]
        .par_chunks_mut(ROW_CHUNK * w)
        .enumerate()
        .map(|(c, out)| {
            let start = c * ROW_CHUNK;
            load_band(a, width, start..(start + ROW_CHUNK).min(n), out)
        })
        .reduce(|| Symmetry::EXACT, Symmetry::join);
    // SAFETY: the chunks cover `0..len` and `load_band` writes every slot of its chunk (`w`
    // per row, the chunk's rows matching its slots), so the first `len` values are
    // initialised; the capacity is at least `len`.
    unsafe { storage.set_len(len) };
    if !seen.holds(tol) {
        return Err(BandFailure::NotSymmetric);
    }
    eliminate(storage, width).map_err(BandFailure::NonPositivePivot)
}

/// `L D Lᵀ x = rhs` in place on the factor rows `l` of half-bandwidth `width`. Both sweeps are row-oriented: each step's recurrence is one
/// multiply-add per band entry, the division by `D[i]` off the critical path.
fn solve_rows<W: Width>(l: &[f64], width: W, x: &mut [f64]) {
    let b = width.get();
    let (w, n) = (b + 1, x.len());
    // L y = rhs
    for i in 0..n {
        let mut s = x[i];
        for k in i.saturating_sub(b)..i {
            s -= l[i * w + (k + b - i)] * x[k];
        }
        x[i] = s;
    }
    // Lᵀ x = D⁻¹ y: x[i] = y[i] / D[i] − Σ_{k = i+1..=i+b} L[k][i] x[k].
    for i in (0..n).rev() {
        let mut s = x[i] / l[i * w + b];
        for k in i + 1..(i + w).min(n) {
            s -= l[k * w + (i + b - k)] * x[k];
        }
        x[i] = s;
    }
}

/// Why a banded factorisation gave no factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandFailure {
    /// `max |a_ij − a_ji|` exceeds the tolerance times `max |a_ij|`.
    NotSymmetric,
    /// The pivot of this row was not positive: the (symmetric) matrix is not positive definite
    /// to rounding. The row is the first such one, except for twisted tridiagonal factors
    /// (from [`TWIST_MIN_ROWS`] rows): the first above the middle row, else the
    /// last below it, else the middle row. Tridiagonal factors keep reciprocal pivots, so a
    /// positive pivot below `1 / f64::MAX` (≈ 5.6e-309, whose reciprocal overflows) counts as
    /// not positive too.
    NonPositivePivot(usize),
}

impl BandCholesky {
    /// Bytes of the factor of an `n × n` matrix of half-bandwidth `b` (`n` values for `b = 1`,
    /// whose factor shares the matrix).
    pub fn bytes(n: usize, b: usize) -> usize {
        let per_row = if b == 1 { 1 } else { b + 1 };
        n.saturating_mul(per_row)
            .saturating_mul(std::mem::size_of::<f64>())
    }

    /// Factorises the square `a` of half-bandwidth at most `b`, reusing `storage`'s
    /// allocation, and checks in the same pass that `a` is symmetric: `|a_ij − a_ji| ≤
    /// symmetry_tolerance · max |a_ij|` for every pair (an entry not stored counts as zero).
    ///
    /// One parallel pass over `a` copies its band into the factor's storage (each slot written
    /// once, no zero-fill first) and compares the mirrors; the elimination then works on the
    /// band alone. The bandwidths of 1D problems (`b` ≤ [`MAX_HALF_BANDWIDTH`]) get loops
    /// specialised to their constant width. A tridiagonal `a` (`b = 1`) is instead eliminated
    /// straight from its rows, the mirrors compared on the way, and the factor keeps `a`.
    ///
    /// # Errors
    /// [`BandFailure::NotSymmetric`] when `a` is not symmetric to the tolerance (NaN entries
    /// included), else [`BandFailure::NonPositivePivot`] when it is not positive definite to
    /// rounding.
    ///
    /// # Panics
    /// If an entry of `a` lies outside the band (the caller measures `b` with
    /// [`half_bandwidth`]).
    pub fn factorize(
        a: &Arc<CsrMatrix>,
        b: usize,
        symmetry_tolerance: f64,
        mut storage: Vec<f64>,
    ) -> Result<Self, BandFailure> {
        let tol = symmetry_tolerance;
        let n = a.nrows();
        if b == 1 {
            let twist = tridiagonal::twist_row(n);
            let factor = tridiagonal::Tridiagonal::factorize(a, twist, tol, storage)?;
            return Ok(Self {
                n,
                b,
                factor: Factor::Tridiagonal(factor),
            });
        }
        // The widths of 1D problems get code of their own, loops of constant length.
        match b {
            0 => factorize_band(a, Fixed::<0>, tol, &mut storage),
            2 => factorize_band(a, Fixed::<2>, tol, &mut storage),
            3 => factorize_band(a, Fixed::<3>, tol, &mut storage),
            4 => factorize_band(a, Fixed::<4>, tol, &mut storage),
            _ => factorize_band(a, b, tol, &mut storage),
        }?;
        Ok(Self {
            n,
            b,
            factor: Factor::Band(storage),
        })
    }

    /// Solves `L D Lᵀ x = rhs` in place (`x` holds the right-hand side on entry).
    ///
    /// # Panics
    /// If `x.len()` differs from the order of the matrix.
    pub fn solve_in_place(&self, x: &mut [f64]) {
        assert_eq!(x.len(), self.n, "right-hand side length");
        let l = match &self.factor {
            Factor::Tridiagonal(factor) => return factor.solve(x),
            Factor::Band(l) => l,
        };
        match self.b {
            0 => solve_rows(l, Fixed::<0>, x),
            2 => solve_rows(l, Fixed::<2>, x),
            3 => solve_rows(l, Fixed::<3>, x),
            4 => solve_rows(l, Fixed::<4>, x),
            b => solve_rows(l, b, x),
        }
    }

    /// The storage, for reuse by the next factorisation.
    pub fn into_storage(self) -> Vec<f64> {
        match self.factor {
            Factor::Band(l) => l,
            Factor::Tridiagonal(factor) => factor.into_storage(),
        }
    }

    /// Half-bandwidth of the factor.
    pub fn half_bandwidth(&self) -> usize {
        self.b
    }

    /// Heap bytes held (not counting the matrix a tridiagonal factor shares).
    pub fn memory_bytes(&self) -> usize {
        match &self.factor {
            Factor::Band(l) => l.capacity() * std::mem::size_of::<f64>(),
            Factor::Tridiagonal(factor) => factor.memory_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factorize(a: &CsrMatrix, b: usize, tol: f64) -> Result<BandCholesky, BandFailure> {
        BandCholesky::factorize(&Arc::new(a.clone()), b, tol, Vec::new())
    }

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
        // 50 rows: one chunk of the parallel load; 2.5 chunks for the widths of 1D problems.
        let sizes = [0, 1, 2, 3, 4, 5, 7]
            .map(|b| (50, b))
            .into_iter()
            .chain([(5 * ROW_CHUNK / 2, 1), (5 * ROW_CHUNK / 2, 2)]);
        for (n, b) in sizes {
            let a = banded_spd(n, b);
            assert_eq!(half_bandwidth(a.pattern()), b);
            let f = factorize(&a, b, 1e-12).unwrap();
            let x_true: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let mut x = vec![0.0; n];
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
    fn the_twisted_tridiagonal_solves_like_the_plain_one_and_names_bad_rows() {
        let n = tridiagonal::TWIST_MIN_ROWS + 3;
        let m = tridiagonal::twist_row(n).unwrap();
        let a = banded_spd(n, 1);
        let x_true: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut rhs = vec![0.0; n];
        a.mul_vec_into(&x_true, &mut rhs);
        let twisted = factorize(&a, 1, 1e-12).unwrap();
        let mut x = rhs.clone();
        twisted.solve_in_place(&mut x);
        // The plain elimination of the same matrix.
        let plain =
            tridiagonal::Tridiagonal::factorize(&Arc::new(a.clone()), None, 1e-12, Vec::new())
                .unwrap();
        let mut y = rhs;
        plain.solve(&mut y);
        for (i, (xi, yi)) in x.iter().zip(&y).enumerate() {
            assert!((xi - x_true[i]).abs() < 1e-13, "row {i}: {xi}");
            assert!((xi - yi).abs() < 1e-14, "row {i}: {xi} against {yi}");
        }
        // Every row's pivot: the same as the plain ones above the twist.
        let Factor::Tridiagonal(twisted) = &twisted.factor else {
            panic!("b = 1 is factorised as tridiagonal")
        };
        assert_eq!(twisted.reciprocals()[..m], plain.reciprocals()[..m]);
        // A bad pivot above the twist, at it, below it.
        for (bad, row, named) in [
            (-3.0, 11, 11),
            (f64::NAN, 11, 11),
            (-30.0, m, m),
            (-3.0, n - 5, n - 5),
            (f64::NAN, m + 7, m + 7),
            (f64::INFINITY, n - 1, n - 1),
        ] {
            let mut b = a.clone();
            let k = b.pattern().find(row, row).unwrap();
            b.values_mut()[k] = bad;
            assert_eq!(
                factorize(&b, 1, 1e-12).unwrap_err(),
                BandFailure::NonPositivePivot(named),
                "{bad} at row {row}"
            );
        }
    }

    #[test]
    fn tridiagonal_couplings_not_stored_read_as_stored_zeros() {
        // Blocks of 7 rows, decoupled: every other block boundary stores its couplings as
        // zeros, the others (the twist's among them: m + 1 = 32,774 = 14 · 2341) store
        // nothing; the same matrix with every zero stored is read from its values alone.
        for n in [50, tridiagonal::TWIST_MIN_ROWS + 11] {
            let mut sparse = Vec::new();
            let mut full = Vec::new();
            for i in 0..n {
                let d = (i, i, 3.0 + 0.1 * (i % 5) as f64);
                sparse.push(d);
                full.push(d);
                if i + 1 < n {
                    let v = if (i + 1) % 7 == 0 {
                        0.0
                    } else {
                        -1.0 + 0.01 * (i % 3) as f64
                    };
                    full.extend([(i, i + 1, v), (i + 1, i, v)]);
                    if v != 0.0 || (i + 1) % 14 == 7 {
                        sparse.extend([(i, i + 1, v), (i + 1, i, v)]);
                    }
                }
            }
            let sparse = Arc::new(CsrMatrix::try_from_triplets(n, n, &sparse).unwrap());
            let full = Arc::new(CsrMatrix::try_from_triplets(n, n, &full).unwrap());
            assert!(sparse.nnz() < 3 * n - 2);
            assert_eq!(full.nnz(), 3 * n - 2);
            let x_true: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let mut rhs = vec![0.0; n];
            full.mul_vec_into(&x_true, &mut rhs);
            if let Some(m) = tridiagonal::twist_row(n) {
                assert!(sparse.pattern().find(m + 1, m).is_none());
            }
            let solve = |a: &Arc<CsrMatrix>| {
                let f = BandCholesky::factorize(a, 1, 1e-12, Vec::new()).unwrap();
                assert_eq!(f.memory_bytes(), n * 8, "the reciprocal pivots alone");
                let Factor::Tridiagonal(t) = &f.factor else {
                    panic!("b = 1 is factorised as tridiagonal")
                };
                assert_eq!(t.reads_values_alone(), a.nnz() == 3 * n - 2);
                let mut x = rhs.clone();
                f.solve_in_place(&mut x);
                x
            };
            let (x, y) = (solve(&sparse), solve(&full));
            for (i, (xi, yi)) in x.iter().zip(&y).enumerate() {
                assert!((xi - x_true[i]).abs() < 1e-13, "n = {n}, row {i}: {xi}");
                assert_eq!(xi.to_bits(), yi.to_bits(), "n = {n}, row {i}");
            }
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
            factorize(&a, 1, 1e-12).unwrap_err(),
            BandFailure::NonPositivePivot(1)
        );
        // The tridiagonal loop tests its pivots after the fact: the first bad one is named,
        // whatever follows it.
        for (bad, b) in [
            (f64::NAN, 1),
            (f64::INFINITY, 1),
            (0.0, 1),
            (-3.0, 2),
            (f64::NAN, 2),
        ] {
            let mut a = banded_spd(30, b);
            let k = a.pattern().find(11, 11).unwrap();
            a.values_mut()[k] = bad;
            let k = a.pattern().find(20, 20).unwrap();
            a.values_mut()[k] = -1.0;
            assert_eq!(
                factorize(&a, b, 1e-12).unwrap_err(),
                BandFailure::NonPositivePivot(11),
                "{bad} on the diagonal, b = {b}"
            );
        }
    }

    fn with_entry(a: &CsrMatrix, i: usize, j: usize, v: f64) -> CsrMatrix {
        let mut entries: Vec<(usize, usize, f64)> = (0..a.nrows())
            .flat_map(|r| {
                let start = a.pattern().row_ptr()[r];
                a.pattern()
                    .row(r)
                    .iter()
                    .enumerate()
                    .map(move |(k, &c)| (r, c as usize, start + k))
            })
            .map(|(r, c, k)| (r, c, a.values()[k]))
            .filter(|&(r, c, _)| (r, c) != (i, j))
            .collect();
        entries.push((i, j, v));
        CsrMatrix::try_from_triplets(a.nrows(), a.ncols(), &entries).unwrap()
    }

    #[test]
    fn asymmetry_is_found_in_the_same_pass_above_and_below_the_diagonal() {
        for b in [1, 2, 4] {
            let a = banded_spd(40, b);
            let f = |m: &CsrMatrix, tol: f64| factorize(m, b, tol);
            assert!(f(&a, 0.0).is_ok(), "b = {b}: symmetric to the last bit");
            let (i, j) = (17, 17 - b);
            let v = a.get(i, j);
            for (r, c) in [(i, j), (j, i)] {
                let bent = with_entry(&a, r, c, v * (1.0 + 1e-9));
                assert_eq!(f(&bent, 1e-12).unwrap_err(), BandFailure::NotSymmetric);
                assert!(f(&bent, 1e-6).is_ok(), "b = {b}: within a looser tolerance");
                let nan = with_entry(&a, r, c, f64::NAN);
                assert_eq!(f(&nan, 1e-12).unwrap_err(), BandFailure::NotSymmetric);
            }
            // An entry whose mirror is not stored: a zero is symmetric, anything else is not.
            let lone = |v: f64| {
                let entries: Vec<_> = (0..3)
                    .map(|i| (i, i, 4.0))
                    .chain([(0, 1, v), (1, 2, -1.0), (2, 1, -1.0)])
                    .collect();
                CsrMatrix::try_from_triplets(3, 3, &entries).unwrap()
            };
            assert!(factorize(&lone(0.0), 1, 1e-12).is_ok());
            assert_eq!(
                factorize(&lone(1.0), 1, 1e-12).unwrap_err(),
                BandFailure::NotSymmetric
            );
        }
        // Asymmetric and indefinite: the asymmetry is reported, not the pivot.
        let a = CsrMatrix::try_from_triplets(
            2,
            2,
            &[(0, 0, 1.0), (0, 1, 0.0), (1, 0, 5.0), (1, 1, 1.0)],
        )
        .unwrap();
        assert_eq!(
            factorize(&a, 1, 1e-12).unwrap_err(),
            BandFailure::NotSymmetric
        );
    }

    #[test]
    fn twisted_factors_compare_every_mirror_and_refuse_strays() {
        let n = tridiagonal::TWIST_MIN_ROWS + 3;
        let m = tridiagonal::twist_row(n).unwrap();
        let a = banded_spd(n, 1);
        assert!(factorize(&a, 1, 0.0).is_ok());
        // The pairs within each half, and the twist's with the rows on either side.
        for i in [5, m - 1, m, m + 1, n - 2] {
            for (r, c) in [(i, i + 1), (i + 1, i)] {
                let bent = with_entry(&a, r, c, a.get(r, c) * (1.0 + 1e-9));
                assert_eq!(
                    factorize(&bent, 1, 1e-12).unwrap_err(),
                    BandFailure::NotSymmetric,
                    "({r}, {c})"
                );
            }
        }
        // An entry two diagonals off, above and below the twist, on either side of the
        // diagonal.
        for (r, c) in [(7, 9), (9, 7), (m - 1, m + 1), (n - 1, n - 3)] {
            let stray = with_entry(&a, r, c, 0.5);
            let panic = std::panic::catch_unwind(|| factorize(&stray, 1, 1e-12))
                .expect_err("an entry outside the band is refused");
            let message = (panic.downcast_ref::<&str>().copied())
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or_default();
            assert!(
                message.contains("outside the half-bandwidth 1"),
                "({r}, {c}): {message}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "outside the half-bandwidth 1")]
    fn an_entry_above_the_band_is_a_caller_error() {
        let a = CsrMatrix::try_from_triplets(
            3,
            3,
            &[(0, 0, 1.0), (0, 2, 0.5), (1, 1, 1.0), (2, 2, 1.0)],
        )
        .unwrap();
        let _ = factorize(&a, 1, 1e-12);
    }

    #[test]
    fn empty_and_one_by_one() {
        let a = CsrMatrix::try_from_triplets(0, 0, &[]).unwrap();
        let f = factorize(&a, 0, 1e-12).unwrap();
        f.solve_in_place(&mut []);
        let a = CsrMatrix::try_from_triplets(1, 1, &[(0, 0, 4.0)]).unwrap();
        let f = factorize(&a, 0, 1e-12).unwrap();
        let mut x = [2.0];
        f.solve_in_place(&mut x);
        assert_eq!(x, [0.5]);
    }
}
