//! The tridiagonal case (`b = 1`, P1 in 1D), over the pairs `(A[i][i−1], A[i][i])` that
//! [`super::load_band`] leaves (the first row's first slot zero).
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
//! Storage: row `i` holds its pivot in the second slot (`D[i]` above `m`, `γ` at `m`, `E[i]`
//! below) and in the first the multiplier that eliminates it from the neighbouring row on the
//! way to `m`: `A[i][i−1] / D[i−1]` for `i ≤ m`, `A[i][i−1] / E[i]` for `i > m`.

/// Orders from which the factorisation and the solves are twisted (two threads).
pub const TWIST_MIN_ROWS: usize = 1 << 16;

/// The row at which a matrix of order `n` is twisted, if it is.
pub(super) fn twist_row(n: usize) -> Option<usize> {
    (n >= TWIST_MIN_ROWS).then_some(n / 2)
}

/// Eliminates the pairs `l` in place (twisted at `twist`, if given); `Err(i)` names a row
/// whose pivot is not positive or not finite: the first such row above the twist, else the
/// last such row below it, else the twist.
pub(super) fn eliminate(l: &mut [f64], twist: Option<usize>) -> Result<(), usize> {
    let Some(m) = twist else {
        let pivots = downwards(l);
        return if pivots.hold() {
            Ok(())
        } else {
            first_bad(l).map_or(Ok(()), Err)
        };
    };
    // `A[m+1][m]`, before the upward sweep turns it into its multiplier.
    let coupling_below = l[2 * (m + 1)];
    let (top, rest) = l.split_at_mut(2 * m);
    let (row, bottom) = rest.split_at_mut(2);
    let (above, below) = rayon::join(|| downwards(top), || upwards(bottom));
    let (d, e) = (top[2 * m - 1], bottom[1]);
    let s = row[0];
    let gamma = row[1] - (s * s) / d - (coupling_below * coupling_below) / e;
    row[0] = s / d;
    row[1] = gamma;
    if above.hold() && below.hold() && good(gamma) {
        return Ok(());
    }
    if let Some(i) = first_bad(top) {
        return Err(i);
    }
    // A NaN below reaches every pivot above it, the twist's too: the bottom is judged first.
    if let Some(i) = bottom.chunks_exact(2).rposition(|r| !good(r[1])) {
        return Err(m + 1 + i);
    }
    if good(gamma) { Ok(()) } else { Err(m) }
}

/// Solves `A x = rhs` in place on the pairs of [`eliminate`] with the same `twist`.
pub(super) fn solve(l: &[f64], twist: Option<usize>, x: &mut [f64]) {
    let Some(m) = twist else {
        forward_downwards(l, x);
        backward_upwards(l, 0.0, 0.0, x);
        return;
    };
    let (top, rest) = x.split_at_mut(m);
    let (row, bottom) = rest.split_at_mut(1);
    let (l_top, l_rest) = l.split_at(2 * m);
    let (l_row, l_bottom) = l_rest.split_at(2);
    rayon::join(
        || forward_downwards(l_top, top),
        || forward_upwards(l_bottom, bottom),
    );
    let xm = (row[0] - l_row[0] * top[m - 1] - l_bottom[0] * bottom[0]) / l_row[1];
    row[0] = xm;
    rayon::join(
        || backward_upwards(l_top, l_row[0], xm, top),
        || backward_downwards(l_bottom, xm, bottom),
    );
}

/// The smallest pivot and the sum of all (finite only if every pivot is, barring overflow).
#[derive(Clone, Copy)]
struct Pivots {
    lowest: f64,
    total: f64,
}

impl Pivots {
    fn hold(self) -> bool {
        self.lowest > 0.0 && self.total.is_finite()
    }
}

fn good(pivot: f64) -> bool {
    pivot > 0.0 && pivot.is_finite()
}

fn first_bad(l: &[f64]) -> Option<usize> {
    l.chunks_exact(2).position(|row| !good(row[1]))
}

/// `D[i] = A[i][i] − A[i][i−1]² / D[i−1]` from the first row down, and `L[i][i−1] =
/// A[i][i−1] / D[i−1]`. The loop has no branch (a test of each pivot in it nearly doubles its
/// time): it keeps the smallest pivot and their sum for the caller to judge afterwards.
fn downwards(l: &mut [f64]) -> Pivots {
    let (mut previous, mut lowest, mut total) = (1.0, f64::INFINITY, 0.0);
    for row in l.chunks_exact_mut(2) {
        let u = row[0];
        let d = row[1] - (u * u) / previous;
        row[0] = u / previous;
        row[1] = d;
        previous = d;
        // Off the recurrence.
        lowest = if d < lowest { d } else { lowest };
        total += d;
    }
    Pivots { lowest, total }
}

/// `E[i] = A[i][i] − A[i+1][i]² / E[i+1]` from the last row up, and each row's first slot
/// `A[i][i−1] / E[i]`, like [`downwards`].
fn upwards(l: &mut [f64]) -> Pivots {
    let (mut coupling, mut next, mut lowest, mut total) = (0.0, 1.0, f64::INFINITY, 0.0);
    for row in l.chunks_exact_mut(2).rev() {
        let e = row[1] - (coupling * coupling) / next;
        coupling = row[0];
        row[0] = coupling / e;
        row[1] = e;
        next = e;
        lowest = if e < lowest { e } else { lowest };
        total += e;
    }
    Pivots { lowest, total }
}

/// `y[i] = rhs[i] − L[i][i−1] y[i−1]`, from the first row down.
fn forward_downwards(l: &[f64], x: &mut [f64]) {
    let Some(&first) = x.first() else { return };
    let mut previous = first;
    for (xi, row) in x.iter_mut().zip(l.chunks_exact(2)).skip(1) {
        *xi -= row[0] * previous;
        previous = *xi;
    }
}

/// `z[i−1] = rhs[i−1] − (A[i][i−1] / E[i]) z[i]`, from the last row up.
fn forward_upwards(l: &[f64], x: &mut [f64]) {
    let Some(&last) = x.last() else { return };
    let mut next = last;
    let rows = l.chunks_exact(2).skip(1).rev();
    for (xi, row) in x.iter_mut().rev().skip(1).zip(rows) {
        *xi -= row[0] * next;
        next = *xi;
    }
}

/// `x[i] = y[i] / D[i] − L[i+1][i] x[i+1]`, from the last row up; the row after the last is
/// `x_below` with multiplier `l_below` (zero for the plain factorisation).
fn backward_upwards(l: &[f64], l_below: f64, x_below: f64, x: &mut [f64]) {
    let (mut next, mut below) = (x_below, l_below);
    for (xi, row) in x.iter_mut().zip(l.chunks_exact(2)).rev() {
        *xi = *xi / row[1] - below * next;
        next = *xi;
        below = row[0];
    }
}

/// `x[i] = z[i] / E[i] − (A[i][i−1] / E[i]) x[i−1]`, from the first row down, the row before
/// the first being `x_above`.
fn backward_downwards(l: &[f64], x_above: f64, x: &mut [f64]) {
    let mut previous = x_above;
    for (xi, row) in x.iter_mut().zip(l.chunks_exact(2)) {
        *xi = *xi / row[1] - row[0] * previous;
        previous = *xi;
    }
}
