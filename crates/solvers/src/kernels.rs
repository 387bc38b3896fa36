//! Vector and matrix kernels for iterative solvers: CSR SpMV, dot products, norms, `axpy`.
//!
//! Every kernel runs serially below [`PARALLEL_MIN_LEN`] entries and with rayon above it, in
//! fixed chunks of [`CHUNK`] rows/entries. None of them allocates on the heap.
//!
//! Reductions ([`dot`], [`norm2`]) are **deterministic**: the partial sums are formed over a
//! chunking that depends only on the vector length (never on the thread count or on work
//! stealing) and are added up in order, so a solve gives bit-identical results on 1 or N threads.
//!
//! The free functions run on the *current* rayon pool; [`Kernels`] binds them to a dedicated
//! pool when a solver is configured with an explicit thread count.

use std::sync::Arc;

use femscale_core::{CsrMatrix, SolveError};
use rayon::prelude::*;

/// Rows (or vector entries) per parallel work item.
pub const CHUNK: usize = 4096;

/// Vectors shorter than this are processed serially: below it rayon's fork/join overhead
/// outweighs the memory-bandwidth gain.
pub const PARALLEL_MIN_LEN: usize = 20_000;

/// Upper bound on the number of partial sums of a parallel reduction (kept on the stack).
pub(crate) const MAX_PARTIALS: usize = 256;

/// Whether a vector of length `n` is processed in parallel.
#[inline]
pub fn is_parallel(n: usize) -> bool {
    n >= PARALLEL_MIN_LEN
}

// ---------------------------------------------------------------------------------------------
// serial building blocks

#[inline]
pub(crate) fn spmv_rows(
    row_ptr: &[usize],
    col_idx: &[u32],
    values: &[f64],
    x: &[f64],
    first_row: usize,
    y: &mut [f64],
) {
    for (k, yi) in y.iter_mut().enumerate() {
        let i = first_row + k;
        let (start, end) = (row_ptr[i], row_ptr[i + 1]);
        let mut acc = 0.0;
        for (&j, &v) in col_idx[start..end].iter().zip(&values[start..end]) {
            acc += v * x[j as usize];
        }
        *yi = acc;
    }
}

/// Serial dot product with four independent accumulators (better pipelining and slightly
/// better rounding than a single running sum).
#[inline]
pub(crate) fn dot_serial(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let xc = x.chunks_exact(4);
    let yc = y.chunks_exact(4);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        acc[0] += a[0] * b[0];
        acc[1] += a[1] * b[1];
        acc[2] += a[2] * b[2];
        acc[3] += a[3] * b[3];
    }
    let mut tail = 0.0;
    for (a, b) in xr.iter().zip(yr) {
        tail += a * b;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Chunk length for a deterministic parallel reduction over `n` entries.
#[inline]
pub(crate) fn reduction_chunk(n: usize) -> usize {
    CHUNK.max(n.div_ceil(MAX_PARTIALS))
}

#[track_caller]
pub(crate) fn check_spmv(a: &CsrMatrix, x: &[f64], y: &[f64]) {
    assert_eq!(
        x.len(),
        a.ncols(),
        "spmv: x has {} entries, matrix has {} columns",
        x.len(),
        a.ncols()
    );
    assert_eq!(
        y.len(),
        a.nrows(),
        "spmv: y has {} entries, matrix has {} rows",
        y.len(),
        a.nrows()
    );
}

// ---------------------------------------------------------------------------------------------
// free functions on the current rayon pool

/// `y = A x`, parallel over row chunks for large matrices.
///
/// # Panics
/// If `x.len() != a.ncols()` or `y.len() != a.nrows()`.
#[track_caller]
pub fn spmv(a: &CsrMatrix, x: &[f64], y: &mut [f64]) {
    check_spmv(a, x, y);
    if is_parallel(y.len()) {
        spmv_parallel_unchecked(a, x, y);
    } else {
        let p = a.pattern();
        spmv_rows(p.row_ptr(), p.col_idx(), a.values(), x, 0, y);
    }
}

/// `y = A x` always on the parallel path, whatever the size (for tests and benchmarks).
///
/// # Panics
/// If `x.len() != a.ncols()` or `y.len() != a.nrows()`.
#[track_caller]
pub fn spmv_parallel(a: &CsrMatrix, x: &[f64], y: &mut [f64]) {
    check_spmv(a, x, y);
    spmv_parallel_unchecked(a, x, y);
}

fn spmv_parallel_unchecked(a: &CsrMatrix, x: &[f64], y: &mut [f64]) {
    let p = a.pattern();
    let (rp, ci, v) = (p.row_ptr(), p.col_idx(), a.values());
    y.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, yc)| spmv_rows(rp, ci, v, x, c * CHUNK, yc));
}

/// `x · y`; deterministic for a given length (see the module docs).
///
/// # Panics
/// If the lengths differ.
#[track_caller]
pub fn dot(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "dot: lengths differ");
    reduce_chunks(x.len(), |range| dot_serial(&x[range.clone()], &y[range]))
}

/// Sums of squares below this may have lost entries to underflow (`x_i² < f64::MIN_POSITIVE`
/// for `|x_i| < 1.5e-154`): [`norm2`] then recomputes with scaling.
pub(crate) const SQUARES_UNDERFLOW: f64 = 1e-280;

/// `||x||_2`, without overflow or underflow: the sum of squares when it is safely in range (one
/// pass, the common case), otherwise recomputed as `m ||x / m||` with `m = max |x_i|` (two more
/// passes), so that `1e-200 · 1` has norm `1e-200 · sqrt(n)` rather than 0 and `1e200 · 1`
/// not infinity.
pub fn norm2(x: &[f64]) -> f64 {
    let squares = dot(x, x);
    if squares.is_finite() && squares > SQUARES_UNDERFLOW {
        return squares.sqrt();
    }
    scaled_norm2(x)
}

/// `||b - A x||_2` without forming the residual vector: one pass over `A` (the cost of an
/// SpMV, no work vector), deterministic as [`dot`]. Out of the safe range of the sum of squares
/// (see [`norm2`]) it makes two more passes with scaling.
///
/// # Panics
/// If `x.len() != a.ncols()` or `b.len() != a.nrows()`.
#[track_caller]
pub fn residual_norm(a: &CsrMatrix, b: &[f64], x: &[f64]) -> f64 {
    check_spmv(a, x, b);
    let squares = reduce_chunks(b.len(), |rows| {
        residual_rows(a, b, x, rows).map(|r| r * r).sum::<f64>()
    });
    if squares.is_finite() && squares > SQUARES_UNDERFLOW {
        return squares.sqrt();
    }
    // The rare path, as `scaled_norm2`: the largest |r_i| first, then the scaled squares.
    let m = reduce_chunks_with(b.len(), f64::max, |rows| {
        residual_rows(a, b, x, rows).fold(0.0, |m: f64, r| {
            if m.is_nan() || r.is_nan() {
                f64::NAN
            } else {
                m.max(r.abs())
            }
        })
    });
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    let inv = 1.0 / m;
    let scaled = reduce_chunks(b.len(), |rows| {
        residual_rows(a, b, x, rows)
            .map(|r| (r * inv) * (r * inv))
            .sum::<f64>()
    });
    m * scaled.sqrt()
}

/// `b_i - (A x)_i` for the rows in `rows`.
#[inline]
fn residual_rows<'a>(
    a: &'a CsrMatrix,
    b: &'a [f64],
    x: &'a [f64],
    rows: std::ops::Range<usize>,
) -> impl Iterator<Item = f64> + 'a {
    let p = a.pattern();
    let (rp, ci, v) = (p.row_ptr(), p.col_idx(), a.values());
    rows.map(move |i| {
        let (start, end) = (rp[i], rp[i + 1]);
        let mut ax = 0.0;
        for (&j, &value) in ci[start..end].iter().zip(&v[start..end]) {
            ax += value * x[j as usize];
        }
        b[i] - ax
    })
}

/// `Σ part(chunk)` over the chunks of `0..n` of [`reduction_chunk`], in order (deterministic).
fn reduce_chunks(n: usize, part: impl Fn(std::ops::Range<usize>) -> f64 + Sync) -> f64 {
    reduce_chunks_with(n, |s, p| s + p, part)
}

/// `combine` folded in order over `part(chunk)` for the chunks of `0..n` of
/// [`reduction_chunk`]: the partial results are formed in parallel for long ranges and combined
/// serially, so the result does not depend on the thread count.
fn reduce_chunks_with(
    n: usize,
    combine: impl Fn(f64, f64) -> f64,
    part: impl Fn(std::ops::Range<usize>) -> f64 + Sync,
) -> f64 {
    if !is_parallel(n) {
        return part(0..n);
    }
    let chunk = reduction_chunk(n);
    let nparts = n.div_ceil(chunk);
    let mut partials = [0.0f64; MAX_PARTIALS];
    partials[..nparts]
        .par_iter_mut()
        .enumerate()
        .for_each(|(c, s)| *s = part(c * chunk..((c + 1) * chunk).min(n)));
    let mut parts = partials[..nparts].iter().copied();
    let first = parts.next().unwrap_or(0.0);
    parts.fold(first, combine)
}

/// `m ||x / m||` with `m = max |x_i|` (NaN if an entry is NaN, infinity if one is infinite).
/// Serial: the rare path of vectors near the ends of the floating-point range.
pub(crate) fn scaled_norm2(x: &[f64]) -> f64 {
    if x.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let m = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    let inv = 1.0 / m;
    let scaled: f64 = x.iter().map(|v| (v * inv) * (v * inv)).sum();
    m * scaled.sqrt()
}

/// `f(y_i, x_i)` for every pair of entries, in parallel over chunks of [`CHUNK`] for long
/// vectors. `f` is monomorphised and inlined into the loop: no allocation, no dynamic dispatch.
/// The callers check the lengths.
#[inline]
fn zip_update<F>(x: &[f64], y: &mut [f64], f: F)
where
    F: Fn(&mut f64, f64) + Sync,
{
    let kernel = |x: &[f64], y: &mut [f64]| {
        for (yi, &xi) in y.iter_mut().zip(x) {
            f(yi, xi);
        }
    };
    if is_parallel(y.len()) {
        y.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(|(yc, xc)| kernel(xc, yc));
    } else {
        kernel(x, y);
    }
}

/// `y += alpha * x`.
///
/// # Panics
/// If the lengths differ.
#[track_caller]
pub fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    assert_eq!(x.len(), y.len(), "axpy: lengths differ");
    zip_update(x, y, |yi, xi| *yi += alpha * xi);
}

/// `y = x + beta * y` (the CG search-direction update).
///
/// # Panics
/// If the lengths differ.
#[track_caller]
pub fn xpay(x: &[f64], beta: f64, y: &mut [f64]) {
    assert_eq!(x.len(), y.len(), "xpay: lengths differ");
    zip_update(x, y, |yi, xi| *yi = xi + beta * *yi);
}

/// `r = b - r` in place: turns `r = A x` into the residual `b - A x`.
///
/// # Panics
/// If the lengths differ.
#[track_caller]
pub fn residual_from_product(b: &[f64], r: &mut [f64]) {
    assert_eq!(b.len(), r.len(), "residual_from_product: lengths differ");
    zip_update(b, r, |ri, bi| *ri = bi - *ri);
}

/// `z = d .* r` (entry-wise product; Jacobi's apply).
///
/// # Panics
/// If the lengths differ.
#[track_caller]
pub fn pointwise_mul(d: &[f64], r: &[f64], z: &mut [f64]) {
    assert!(
        d.len() == r.len() && r.len() == z.len(),
        "pointwise_mul: lengths differ"
    );
    let kernel = |d: &[f64], r: &[f64], z: &mut [f64]| {
        for ((zi, di), ri) in z.iter_mut().zip(d).zip(r) {
            *zi = di * ri;
        }
    };
    if is_parallel(z.len()) {
        z.par_chunks_mut(CHUNK)
            .zip(d.par_chunks(CHUNK).zip(r.par_chunks(CHUNK)))
            .for_each(|(zc, (dc, rc))| kernel(dc, rc, zc));
    } else {
        kernel(d, r, z);
    }
}

// ---------------------------------------------------------------------------------------------
// kernels bound to a thread pool

/// The kernels above bound to a thread count: either the current rayon pool or a dedicated one.
///
/// Built once per prepared solver ([`Kernels::with_threads`]); each call then runs inside the
/// chosen pool. Calls on small vectors stay serial and never enter the pool.
#[derive(Debug, Clone, Default)]
pub struct Kernels {
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl Kernels {
    /// Kernels on the current rayon pool (what `threads = 0` means).
    pub fn current() -> Self {
        Self { pool: None }
    }

    /// Kernels on `threads` threads: 0 (or the current pool's size) uses the current rayon
    /// pool, anything else gets a dedicated pool of that size (1 gives serial execution).
    ///
    /// # Errors
    /// [`SolveError::Backend`] if the thread pool cannot be created.
    pub fn with_threads(threads: usize) -> Result<Self, SolveError> {
        if threads == 0 || threads == rayon::current_num_threads() {
            return Ok(Self::current());
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("femscale-solver-{i}"))
            .build()
            .map_err(|e| SolveError::Backend(Box::new(e)))?;
        Ok(Self {
            pool: Some(Arc::new(pool)),
        })
    }

    /// Threads the kernels use.
    pub fn threads(&self) -> usize {
        self.pool
            .as_ref()
            .map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
    }

    /// Runs `op` inside this pool (directly when there is no dedicated pool or `n` is small).
    #[inline]
    pub fn install<R: Send>(&self, n: usize, op: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) if is_parallel(n) => pool.install(op),
            _ => op(),
        }
    }

    /// [`spmv`] in this pool.
    ///
    /// # Panics
    /// On dimension mismatch.
    #[track_caller]
    pub fn spmv(&self, a: &CsrMatrix, x: &[f64], y: &mut [f64]) {
        check_spmv(a, x, y);
        self.install(y.len(), || spmv(a, x, y));
    }

    /// [`dot`] in this pool.
    ///
    /// # Panics
    /// If the lengths differ.
    #[track_caller]
    pub fn dot(&self, x: &[f64], y: &[f64]) -> f64 {
        assert_eq!(x.len(), y.len(), "dot: lengths differ");
        self.install(x.len(), || dot(x, y))
    }

    /// [`norm2`] in this pool.
    pub fn norm2(&self, x: &[f64]) -> f64 {
        self.install(x.len(), || norm2(x))
    }

    /// [`residual_norm`] in this pool.
    ///
    /// # Panics
    /// On dimension mismatch.
    #[track_caller]
    pub fn residual_norm(&self, a: &CsrMatrix, b: &[f64], x: &[f64]) -> f64 {
        check_spmv(a, x, b);
        self.install(b.len(), || residual_norm(a, b, x))
    }

    /// [`axpy`] in this pool.
    ///
    /// # Panics
    /// If the lengths differ.
    #[track_caller]
    pub fn axpy(&self, alpha: f64, x: &[f64], y: &mut [f64]) {
        assert_eq!(x.len(), y.len(), "axpy: lengths differ");
        self.install(y.len(), || axpy(alpha, x, y));
    }

    /// [`xpay`] in this pool.
    ///
    /// # Panics
    /// If the lengths differ.
    #[track_caller]
    pub fn xpay(&self, x: &[f64], beta: f64, y: &mut [f64]) {
        assert_eq!(x.len(), y.len(), "xpay: lengths differ");
        self.install(y.len(), || xpay(x, beta, y));
    }

    /// [`residual_from_product`] in this pool.
    ///
    /// # Panics
    /// If the lengths differ.
    #[track_caller]
    pub fn residual_from_product(&self, b: &[f64], r: &mut [f64]) {
        assert_eq!(b.len(), r.len(), "residual_from_product: lengths differ");
        self.install(r.len(), || residual_from_product(b, r));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn residual_norm_equals_the_norm_of_the_formed_residual() {
        let n = 3 * PARALLEL_MIN_LEN + 7;
        let a = laplacian_1d(n);
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.013).sin()).collect();
        for scale in [1e-200, 1e-160, 1.0, 1e160, 1e200] {
            let b: Vec<f64> = (0..n).map(|i| scale * (i as f64 * 0.7).cos()).collect();
            let xs: Vec<f64> = x.iter().map(|v| v * scale).collect();
            let mut r = vec![0.0; n];
            spmv(&a, &xs, &mut r);
            residual_from_product(&b, &mut r);
            let (formed, fused) = (norm2(&r), residual_norm(&a, &b, &xs));
            assert!(
                (formed - fused).abs() <= 1e-12 * formed,
                "{scale:e}: {formed:e} vs {fused:e}"
            );
            // The same bits on one thread as on the pool's.
            let one = Kernels::with_threads(1).unwrap();
            assert_eq!(one.residual_norm(&a, &b, &xs).to_bits(), fused.to_bits());
        }
        let mut b = vec![0.0; n];
        assert_eq!(residual_norm(&a, &b, &vec![0.0; n]), 0.0);
        b[n - 1] = f64::NAN;
        assert!(residual_norm(&a, &b, &x).is_nan());
        b[n - 1] = f64::INFINITY;
        assert_eq!(residual_norm(&a, &b, &x), f64::INFINITY);
    }

    #[test]
    fn norm2_neither_underflows_nor_overflows() {
        for scale in [1e-200, 1e-160, 1.0, 1e160, 1e200] {
            let x = vec![scale; 20_000];
            let expected = scale * (20_000f64).sqrt();
            let got = norm2(&x);
            assert!(
                (got - expected).abs() <= 1e-12 * expected,
                "{scale:e}: {got:e}"
            );
        }
        assert_eq!(norm2(&[0.0; 10]), 0.0);
        assert!(norm2(&[1.0, f64::NAN]).is_nan());
        assert_eq!(norm2(&[1.0, f64::INFINITY]), f64::INFINITY);
    }
    use proptest::prelude::*;

    /// The 1D Laplacian `tridiag(-1, 2, -1)` of `n` rows (also the AMG parts' test matrix).
    pub(crate) fn laplacian_1d(n: usize) -> CsrMatrix {
        let mut t = Vec::new();
        for i in 0..n {
            t.push((i, i, 2.0));
            if i > 0 {
                t.push((i, i - 1, -1.0));
            }
            if i + 1 < n {
                t.push((i, i + 1, -1.0));
            }
        }
        CsrMatrix::try_from_triplets(n, n, &t).unwrap()
    }

    #[test]
    fn parallel_reductions_are_thread_count_independent() {
        let n: usize = 100_003;
        let x: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f64 * 1e-3 - 0.4)
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| ((i * 104_729) % 997) as f64 * 1e-2)
            .collect();
        let d0 = dot(&x, &y);
        let one = Kernels::with_threads(1).unwrap();
        let three = Kernels::with_threads(3).unwrap();
        assert_eq!(one.threads(), 1);
        assert_eq!(three.threads(), 3);
        assert_eq!(one.dot(&x, &y).to_bits(), d0.to_bits());
        assert_eq!(three.dot(&x, &y).to_bits(), d0.to_bits());
        let naive: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert!(
            (d0 - naive).abs() <= 1e-10 * naive.abs().max(1.0),
            "{d0} vs {naive}"
        );
    }

    #[test]
    fn vector_updates_match_definitions_on_both_paths() {
        for n in [7usize, 50_001] {
            let x: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
            let mut y: Vec<f64> = (0..n).map(|i| 1.0 - i as f64).collect();
            let y0 = y.clone();
            axpy(2.0, &x, &mut y);
            assert!(
                y.iter()
                    .zip(&x)
                    .zip(&y0)
                    .all(|((y, x), y0)| *y == y0 + 2.0 * x)
            );
            let mut w = y0.clone();
            xpay(&x, -3.0, &mut w);
            assert!(
                w.iter()
                    .zip(&x)
                    .zip(&y0)
                    .all(|((w, x), y0)| *w == x - 3.0 * y0)
            );
            let mut r = y0.clone();
            residual_from_product(&x, &mut r);
            assert!(r.iter().zip(&x).zip(&y0).all(|((r, x), y0)| *r == x - y0));
            let mut z = vec![0.0; n];
            pointwise_mul(&x, &y0, &mut z);
            assert!(z.iter().zip(&x).zip(&y0).all(|((z, x), y0)| *z == x * y0));
            assert!((norm2(&x) - dot(&x, &x).sqrt()).abs() == 0.0);
        }
    }

    #[test]
    fn spmv_small_matches_core() {
        let a = laplacian_1d(37);
        let x: Vec<f64> = (0..37).map(|i| (i as f64).sin()).collect();
        let (mut y1, mut y2, mut y3) = (vec![0.0; 37], vec![0.0; 37], vec![1.0; 37]);
        a.mul_vec_into(&x, &mut y1);
        spmv(&a, &x, &mut y2);
        spmv_parallel(&a, &x, &mut y3);
        assert_eq!(y1, y2);
        assert_eq!(y1, y3);
    }

    #[test]
    #[should_panic(expected = "spmv: x has")]
    fn spmv_checks_dimensions() {
        let a = laplacian_1d(4);
        let mut y = vec![0.0; 4];
        spmv(&a, &[1.0; 3], &mut y);
    }

    proptest! {
        #[test]
        fn dot_matches_naive_sum(v in proptest::collection::vec(-1e3f64..1e3, 0..300)) {
            let w: Vec<f64> = v.iter().map(|x| x * 0.5 + 1.0).collect();
            let naive: f64 = v.iter().zip(&w).map(|(a, b)| a * b).sum();
            let scale: f64 = v.iter().zip(&w).map(|(a, b)| (a * b).abs()).sum::<f64>().max(1.0);
            prop_assert!((dot(&v, &w) - naive).abs() <= 1e-12 * scale);
        }
    }
}
