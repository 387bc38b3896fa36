//! The tridiagonal case (`b = 1`, P1 in 1D). Its `L D Lᵀ` factors have `L[i][i−1] =
//! A[i][i−1] / D[i−1]`, so the factor keeps only the reciprocal pivots `1 / D[i]` (`n` values,
//! half of a stored band) and reads the couplings `A[i][i−1]` from the matrix it shares.
//!
//! Below [`TWIST_MIN_ROWS`] rows this is `A = L D Lᵀ`, eliminated from the first row down.
//! From it on, the factorisation is *twisted* at the middle row `m` (the "burn at both ends"
//! of tridiagonal solvers): rows `..m` are eliminated downwards from the first and rows
//! `m+1..` upwards from the last, on two threads, and row `m` takes both (pivot
//! `γ = A[m][m] − A[m][m−1]² / D[m−1] − A[m+1][m]² / E[m+1]`, which is `1 / (A⁻¹)[m][m]`).
//! Each half is a recurrence with a division on it, so the two halves halve its length; the
//! solves likewise sweep both halves towards row `m` and back out. For a positive definite
//! matrix every pivot of either direction is positive (ratios of leading, respectively
//! trailing, principal minors), so the twisted factorisation is as stable as the plain one.
//! Whether to twist depends on the order alone, so results do not depend on the thread count.
//!
//! The elimination reads the matrix row by row and compares each `A[i][i−1]` with its mirror
//! on the way (its recurrence has a division on it, so these loads cost no time); the solves
//! read the couplings alone, straight from the values when every row stores its whole band.

use std::mem::MaybeUninit;
use std::sync::Arc;

use femscale_core::CsrMatrix;

use super::{BandFailure, Symmetry};

/// Orders from which the factorisation and the solves are twisted (two threads).
pub const TWIST_MIN_ROWS: usize = 1 << 16;

/// The row at which a matrix of order `n` is twisted, if it is.
pub(super) fn twist_row(n: usize) -> Option<usize> {
    (n >= TWIST_MIN_ROWS).then_some(n / 2)
}

/// A factorised tridiagonal matrix: the matrix itself (shared) and its reciprocal pivots.
#[derive(Debug, Clone)]
pub(super) struct Tridiagonal {
    matrix: Arc<CsrMatrix>,
    twist: Option<usize>,
    /// `1 / D[i]` above the twist (every row if there is none), `1 / γ` at it, `1 / E[i]`
    /// below it.
    reciprocals: Vec<f64>,
    /// Every row stores its whole band (`3n − 2` entries), so `A[i][i−1]` is `values[3i − 1]`.
    full: bool,
}

impl Tridiagonal {
    /// Factorises `a`, whose entries all lie within one diagonal of the main one, twisted at
    /// `twist` if given, into `storage`'s allocation.
    ///
    /// # Errors
    /// As [`super::BandCholesky::factorize`]; a non-positive pivot is named as documented at
    /// [`BandFailure::NonPositivePivot`].
    ///
    /// # Panics
    /// If `a` stores an entry outside the half-bandwidth 1.
    pub(super) fn factorize(
        a: &Arc<CsrMatrix>,
        twist: Option<usize>,
        symmetry_tolerance: f64,
        mut storage: Vec<f64>,
    ) -> Result<Self, BandFailure> {
        let n = a.nrows();
        storage.clear();
        storage.reserve_exact(n);
        let rows = Rows::of(a);
        let out = &mut storage.spare_capacity_mut()[..n];
        let (sweep, gamma) = match twist {
            None => (downwards(&rows, out), None),
            Some(m) => {
                let (top, rest) = out.split_at_mut(m);
                let (middle, bottom) = rest.split_at_mut(1);
                let (above, below) =
                    rayon::join(|| downwards(&rows, top), || upwards(&rows, m + 1, bottom));
                let row = rows.row(m);
                let mut sweep = above.join(below);
                sweep.observe(&row, row.sub, above.coupling);
                sweep.observe(&row, row.sup, below.coupling);
                let gamma = row.diag
                    - (row.sub * row.sub) * above.reciprocal
                    - (below.coupling * below.coupling) * below.reciprocal;
                middle[0].write(1.0 / gamma);
                (sweep, Some(m))
            }
        };
        // SAFETY: `downwards` and `upwards` write every slot of their parts and the twist's
        // slot is written above, so the first `n` values are initialised; the capacity is at
        // least `n`.
        unsafe { storage.set_len(n) };
        assert!(
            !sweep.stray,
            "an entry outside the half-bandwidth 1 (measure it with `half_bandwidth`)"
        );
        if !sweep.symmetry.holds(symmetry_tolerance) {
            return Err(BandFailure::NotSymmetric);
        }
        if !(sweep.pivots.hold() && gamma.is_none_or(|m| good(storage[m])))
            && let Some(row) = first_bad(&storage, gamma)
        {
            return Err(BandFailure::NonPositivePivot(row));
        }
        Ok(Self {
            matrix: Arc::clone(a),
            twist,
            reciprocals: storage,
            full: n > 0 && a.nnz() == 3 * n - 2,
        })
    }

    /// Solves `A x = rhs` in place (`x` holds the right-hand side on entry).
    pub(super) fn solve(&self, x: &mut [f64]) {
        if self.full {
            solve(
                &Full(self.matrix.values()),
                &self.reciprocals,
                self.twist,
                x,
            );
        } else {
            solve(&Rows::of(&self.matrix), &self.reciprocals, self.twist, x);
        }
    }

    /// The storage, for reuse by the next factorisation.
    pub(super) fn into_storage(self) -> Vec<f64> {
        self.reciprocals
    }

    /// Heap bytes held (the shared matrix is the caller's).
    pub(super) fn memory_bytes(&self) -> usize {
        self.reciprocals.capacity() * std::mem::size_of::<f64>()
    }

    #[cfg(test)]
    pub(super) fn reciprocals(&self) -> &[f64] {
        &self.reciprocals
    }

    /// Whether the solves read the couplings from the values alone.
    #[cfg(test)]
    pub(super) fn reads_values_alone(&self) -> bool {
        self.full
    }
}

/// Whether a reciprocal pivot belongs to a positive, finite pivot (`1 / +∞ = 0` does not).
fn good(reciprocal: f64) -> bool {
    reciprocal > 0.0 && reciprocal.is_finite()
}

/// The row to name for the bad pivots of `r` twisted at `twist`: the first bad row above
/// it, else the last bad row below it, else the twist (a NaN below reaches every pivot above
/// it, the twist's too, so the bottom is judged before the twist). `None` if every pivot is
/// good (their sum overflowed).
fn first_bad(r: &[f64], twist: Option<usize>) -> Option<usize> {
    let m = twist.unwrap_or(r.len());
    if let Some(i) = r[..m].iter().position(|&v| !good(v)) {
        return Some(i);
    }
    let bottom = r.get(m + 1..).unwrap_or_default();
    if let Some(i) = bottom.iter().rposition(|&v| !good(v)) {
        return Some(m + 1 + i);
    }
    twist.filter(|&m| !good(r[m]))
}

/// Row `i` of a matrix of half-bandwidth at most 1, zeros where nothing is stored.
#[derive(Clone, Copy)]
struct Row {
    /// `A[i][i−1]`.
    sub: f64,
    diag: f64,
    /// `A[i][i+1]`.
    sup: f64,
    /// The row stores an entry farther from the diagonal.
    stray: bool,
}

/// The couplings `A[i][i−1]` the solves read.
trait Couplings: Sync {
    fn sub(&self, i: usize) -> f64;
}

/// A matrix's CSR arrays, read row by row.
struct Rows<'a> {
    row_ptr: &'a [usize],
    cols: &'a [u32],
    values: &'a [f64],
}

impl<'a> Rows<'a> {
    fn of(a: &'a CsrMatrix) -> Self {
        let p = a.pattern();
        Self {
            row_ptr: p.row_ptr(),
            cols: p.col_idx(),
            values: a.values(),
        }
    }

    #[inline(always)]
    fn row(&self, i: usize) -> Row {
        let (start, end) = (self.row_ptr[i], self.row_ptr[i + 1]);
        let mut row = Row {
            sub: 0.0,
            diag: 0.0,
            sup: 0.0,
            stray: false,
        };
        for (&j, &v) in self.cols[start..end].iter().zip(&self.values[start..end]) {
            match (j as usize).wrapping_sub(i) {
                usize::MAX => row.sub = v,
                0 => row.diag = v,
                1 => row.sup = v,
                _ => row.stray = true,
            }
        }
        row
    }
}

impl Couplings for Rows<'_> {
    #[inline(always)]
    fn sub(&self, i: usize) -> f64 {
        let start = self.row_ptr[i];
        if start < self.row_ptr[i + 1] && self.cols[start] as usize + 1 == i {
            self.values[start]
        } else {
            0.0
        }
    }
}

/// The values of a tridiagonal matrix that stores every entry of its band: row `i` at
/// `3i − 1 ..= 3i + 1` (the first and last rows one short).
struct Full<'a>(&'a [f64]);

impl Couplings for Full<'_> {
    #[inline(always)]
    fn sub(&self, i: usize) -> f64 {
        if i == 0 { 0.0 } else { self.0[3 * i - 1] }
    }
}

/// The smallest reciprocal pivot and the sum of all (finite only if every one is, barring
/// overflow).
#[derive(Clone, Copy)]
struct Pivots {
    lowest: f64,
    total: f64,
}

impl Pivots {
    fn hold(self) -> bool {
        self.lowest > 0.0 && self.total.is_finite()
    }

    /// Off the recurrence, without a branch (a test of each pivot in the loop nearly
    /// doubles its time; the bad row is found afterwards).
    #[inline(always)]
    fn add(&mut self, r: f64) {
        self.lowest = if r < self.lowest { r } else { self.lowest };
        self.total += r;
    }
}

/// What one elimination sweep saw.
#[derive(Clone, Copy)]
struct Sweep {
    pivots: Pivots,
    symmetry: Symmetry,
    stray: bool,
    /// The reciprocal pivot of the sweep's last row.
    reciprocal: f64,
    /// Its coupling towards the row the sweep would take next: `A[i][i+1]` going down,
    /// `A[i][i−1]` going up.
    coupling: f64,
}

impl Sweep {
    fn new() -> Self {
        Self {
            pivots: Pivots {
                lowest: f64::INFINITY,
                total: 0.0,
            },
            symmetry: Symmetry::EXACT,
            stray: false,
            reciprocal: 0.0,
            coupling: 0.0,
        }
    }

    /// Notes `row`'s entries and the difference between its entry `entry` and that entry's
    /// mirror.
    #[inline(always)]
    fn observe(&mut self, row: &Row, entry: f64, mirror: f64) {
        let s = &mut self.symmetry;
        s.scale = s
            .scale
            .max(row.sub.abs())
            .max(row.diag.abs())
            .max(row.sup.abs());
        let difference = (entry - mirror).abs();
        s.nan |= difference.is_nan();
        s.worst = s.worst.max(difference);
        self.stray |= row.stray;
    }

    /// Eliminates one row: `lower` is the coupling (in the lower triangle) with the row the
    /// sweep came from, `upper` its mirror, `next` the row's coupling with the row the sweep
    /// takes next. Returns the row's reciprocal pivot.
    #[inline(always)]
    fn step(&mut self, row: &Row, lower: f64, upper: f64, next: f64) -> f64 {
        self.observe(row, lower, upper);
        let r = 1.0 / (row.diag - (lower * lower) * self.reciprocal);
        self.pivots.add(r);
        self.reciprocal = r;
        self.coupling = next;
        r
    }

    fn join(self, other: Self) -> Self {
        Self {
            pivots: Pivots {
                lowest: self.pivots.lowest.min(other.pivots.lowest),
                total: self.pivots.total + other.pivots.total,
            },
            symmetry: self.symmetry.join(other.symmetry),
            stray: self.stray || other.stray,
            ..Self::new()
        }
    }
}

/// `D[i] = A[i][i] − A[i][i−1]² / D[i−1]` for the rows `..out.len()`, from the first down,
/// each `1 / D[i]` written to `out[i]`; every `A[i][i−1]` compared with `A[i−1][i]`.
fn downwards(rows: &Rows, out: &mut [MaybeUninit<f64>]) -> Sweep {
    let mut sweep = Sweep::new();
    for (i, slot) in out.iter_mut().enumerate() {
        let row = rows.row(i);
        slot.write(sweep.step(&row, row.sub, sweep.coupling, row.sup));
    }
    sweep
}

/// `E[i] = A[i][i] − A[i+1][i]² / E[i+1]` for the rows `first..first + out.len()` (the last
/// rows of the matrix), from the last up, each `1 / E[i]` written to `out[i − first]`; every
/// `A[i][i+1]` compared with `A[i+1][i]`.
fn upwards(rows: &Rows, first: usize, out: &mut [MaybeUninit<f64>]) -> Sweep {
    let mut sweep = Sweep::new();
    for (k, slot) in out.iter_mut().enumerate().rev() {
        let row = rows.row(first + k);
        slot.write(sweep.step(&row, sweep.coupling, row.sup, row.sub));
    }
    sweep
}

/// `A x = rhs` in place from the reciprocal pivots `r` of the factorisation twisted at `twist`.
fn solve<C: Couplings>(c: &C, r: &[f64], twist: Option<usize>, x: &mut [f64]) {
    let Some(m) = twist else {
        forward_downwards(c, r, x);
        backward_upwards(c, r, 0.0, 0.0, x);
        return;
    };
    let (top, rest) = x.split_at_mut(m);
    let (row, bottom) = rest.split_at_mut(1);
    let (r_top, r_rest) = r.split_at(m);
    let (r_m, r_bottom) = r_rest.split_at(1);
    rayon::join(
        || forward_downwards(c, r_top, top),
        || forward_upwards(c, m + 1, r_bottom, bottom),
    );
    let (a_m, a_below) = (c.sub(m), c.sub(m + 1));
    let xm =
        r_m[0] * (row[0] - (a_m * r_top[m - 1]) * top[m - 1] - (a_below * r_bottom[0]) * bottom[0]);
    row[0] = xm;
    rayon::join(
        || backward_upwards(c, r_top, a_m, xm, top),
        || backward_downwards(c, m + 1, r_bottom, xm, bottom),
    );
}

/// `y[i] = rhs[i] − (A[i][i−1] / D[i−1]) y[i−1]` for the first rows, from the first down.
fn forward_downwards<C: Couplings>(c: &C, r: &[f64], x: &mut [f64]) {
    let (mut previous, mut reciprocal) = (0.0, 0.0);
    for (i, (xi, &ri)) in x.iter_mut().zip(r).enumerate() {
        *xi -= (c.sub(i) * reciprocal) * previous;
        previous = *xi;
        reciprocal = ri;
    }
}

/// `z[i] = rhs[i] − (A[i+1][i] / E[i+1]) z[i+1]` for the rows `first..` (the last rows of
/// the matrix), from the last up.
fn forward_upwards<C: Couplings>(c: &C, first: usize, r: &[f64], x: &mut [f64]) {
    let (mut next, mut multiplier) = (0.0, 0.0);
    for (k, (xi, &rk)) in x.iter_mut().zip(r).enumerate().rev() {
        *xi -= multiplier * next;
        next = *xi;
        multiplier = c.sub(first + k) * rk;
    }
}

/// `x[i] = (y[i] − A[i+1][i] x[i+1]) / D[i]` for the first rows, from the last of them up;
/// the row after the last has coupling `a_below` and solution `x_below` (zeros at the end of
/// the matrix).
fn backward_upwards<C: Couplings>(c: &C, r: &[f64], a_below: f64, x_below: f64, x: &mut [f64]) {
    let (mut next, mut coupling) = (x_below, a_below);
    for (i, (xi, &ri)) in x.iter_mut().zip(r).enumerate().rev() {
        *xi = ri * *xi - (ri * coupling) * next;
        next = *xi;
        coupling = c.sub(i);
    }
}

/// `x[i] = (z[i] − A[i][i−1] x[i−1]) / E[i]` for the rows `first..`, from the first of them
/// down, the row before the first having solution `x_above`.
fn backward_downwards<C: Couplings>(c: &C, first: usize, r: &[f64], x_above: f64, x: &mut [f64]) {
    let mut previous = x_above;
    for (k, (xi, &rk)) in x.iter_mut().zip(r).enumerate() {
        *xi = rk * *xi - (rk * c.sub(first + k)) * previous;
        previous = *xi;
    }
}
