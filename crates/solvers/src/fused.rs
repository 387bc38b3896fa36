//! Fused kernels of the CG iteration: one pass over the vectors where the textbook loop makes
//! two or three.
//!
//! CG is bandwidth-bound: per iteration it streams the matrix once and the vectors about
//! sixteen times. [`Kernels::spmv_dot`] forms `q = A p` and `p · q` in one pass (the chunk of
//! `q` just written is still in cache when it is read back), and [`Kernels::cg_update`] updates
//! `x` and `r` and returns `||r||` in one pass: three vector passes fewer per iteration.
//!
//! Both are **bit for bit** the unfused kernels ([`spmv`](crate::kernels::spmv) then
//! [`dot`](crate::kernels::dot); two [`axpy`](crate::kernels::axpy) then
//! [`norm2`](crate::kernels::norm2)): the reductions use the same chunking, the same serial
//! partial sums and the same order of combination, so a solve gives the same iterates as
//! before, and the same on 1 or N threads.

use femscale_core::CsrMatrix;
use rayon::prelude::*;

use crate::kernels::{
    Kernels, MAX_PARTIALS, SQUARES_UNDERFLOW, check_spmv, dot_serial, is_parallel, reduction_chunk,
    scaled_norm2, spmv_rows,
};

/// `Σ part(first, chunk)` over the chunks of [`reduction_chunk`] of `a`, in order; the whole
/// range in one call below the parallel threshold (as the unfused reductions).
fn reduce_chunks_mut(a: &mut [f64], part: impl Fn(usize, &mut [f64]) -> f64 + Sync) -> f64 {
    let n = a.len();
    if !is_parallel(n) {
        return part(0, a);
    }
    let chunk = reduction_chunk(n);
    let mut partials = [0.0f64; MAX_PARTIALS];
    partials[..n.div_ceil(chunk)]
        .par_iter_mut()
        .zip(a.par_chunks_mut(chunk))
        .enumerate()
        .for_each(|(c, (s, ac))| *s = part(c * chunk, ac));
    sum_in_order(&partials[..n.div_ceil(chunk)])
}

/// [`reduce_chunks_mut`] over two slices of the same length, chunked alike.
fn reduce_chunks_mut2(
    a: &mut [f64],
    b: &mut [f64],
    part: impl Fn(usize, &mut [f64], &mut [f64]) -> f64 + Sync,
) -> f64 {
    let n = a.len();
    debug_assert_eq!(n, b.len());
    if !is_parallel(n) {
        return part(0, a, b);
    }
    let chunk = reduction_chunk(n);
    let mut partials = [0.0f64; MAX_PARTIALS];
    partials[..n.div_ceil(chunk)]
        .par_iter_mut()
        .zip(a.par_chunks_mut(chunk).zip(b.par_chunks_mut(chunk)))
        .enumerate()
        .for_each(|(c, (s, (ac, bc)))| *s = part(c * chunk, ac, bc));
    sum_in_order(&partials[..n.div_ceil(chunk)])
}

/// The partial sums added from the first, as the unfused reductions add them.
fn sum_in_order(partials: &[f64]) -> f64 {
    let mut parts = partials.iter().copied();
    let first = parts.next().unwrap_or(0.0);
    parts.fold(first, |s, p| s + p)
}

/// `y = A x` and `x · y` in one pass: bit for bit `spmv(a, x, y)` then `dot(x, y)`.
///
/// # Panics
/// If `x.len() != a.ncols()`, `y.len() != a.nrows()` or the matrix is not square.
#[track_caller]
pub fn spmv_dot(a: &CsrMatrix, x: &[f64], y: &mut [f64]) -> f64 {
    check_spmv(a, x, y);
    assert_eq!(x.len(), y.len(), "spmv_dot: the matrix is not square");
    let p = a.pattern();
    let (rp, ci, v) = (p.row_ptr(), p.col_idx(), a.values());
    reduce_chunks_mut(y, |first, yc| {
        spmv_rows(rp, ci, v, x, first, yc);
        dot_serial(&x[first..first + yc.len()], yc)
    })
}

/// `x += alpha p`, `r -= alpha q` and `||r||` in one pass: bit for bit two
/// [`axpy`](crate::kernels::axpy) then [`norm2`](crate::kernels::norm2) (with its scaled
/// recomputation near the ends of the floating-point range).
///
/// # Panics
/// If the lengths differ.
#[track_caller]
pub fn cg_update(alpha: f64, p: &[f64], q: &[f64], x: &mut [f64], r: &mut [f64]) -> f64 {
    let n = x.len();
    assert!(
        p.len() == n && q.len() == n && r.len() == n,
        "cg_update: lengths differ"
    );
    let squares = reduce_chunks_mut2(x, r, |first, xc, rc| {
        let (pc, qc) = (&p[first..first + xc.len()], &q[first..first + xc.len()]);
        for (xi, pi) in xc.iter_mut().zip(pc) {
            *xi += alpha * pi;
        }
        for (ri, qi) in rc.iter_mut().zip(qc) {
            *ri += -alpha * qi;
        }
        dot_serial(rc, rc)
    });
    if squares.is_finite() && squares > SQUARES_UNDERFLOW {
        return squares.sqrt();
    }
    scaled_norm2(r)
}

impl Kernels {
    /// [`spmv_dot`] in this pool.
    ///
    /// # Panics
    /// On dimension mismatch.
    #[track_caller]
    pub fn spmv_dot(&self, a: &CsrMatrix, x: &[f64], y: &mut [f64]) -> f64 {
        check_spmv(a, x, y);
        self.install(y.len(), || spmv_dot(a, x, y))
    }

    /// [`cg_update`] in this pool.
    ///
    /// # Panics
    /// If the lengths differ.
    #[track_caller]
    pub fn cg_update(&self, alpha: f64, p: &[f64], q: &[f64], x: &mut [f64], r: &mut [f64]) -> f64 {
        self.install(x.len(), || cg_update(alpha, p, q, x, r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{PARALLEL_MIN_LEN, axpy, dot, norm2, spmv, tests::laplacian_1d};

    /// Lengths on the serial path, at the threshold and on the parallel path with a ragged last
    /// chunk (and more rows than `MAX_PARTIALS` chunks of the minimum size).
    const LENGTHS: [usize; 5] = [1, 7, PARALLEL_MIN_LEN - 1, PARALLEL_MIN_LEN, 1_100_003];

    fn wavy(n: usize, f: f64, scale: f64) -> Vec<f64> {
        (0..n).map(|i| scale * (i as f64 * f).sin()).collect()
    }

    #[test]
    fn spmv_dot_is_spmv_then_dot_bit_for_bit() {
        for n in LENGTHS {
            let a = laplacian_1d(n);
            let x = wavy(n, 0.37, 1.0);
            let (mut y1, mut y2) = (vec![f64::NAN; n], vec![0.0; n]);
            spmv(&a, &x, &mut y1);
            let d1 = dot(&x, &y1);
            let d2 = spmv_dot(&a, &x, &mut y2);
            assert_eq!(d1.to_bits(), d2.to_bits(), "n = {n}");
            assert!(y1.iter().zip(&y2).all(|(u, v)| u.to_bits() == v.to_bits()));
            for threads in [1, 2, 3] {
                let k = Kernels::with_threads(threads).unwrap();
                let mut y3 = vec![0.0; n];
                assert_eq!(k.spmv_dot(&a, &x, &mut y3).to_bits(), d1.to_bits());
                assert_eq!(y3, y1);
            }
        }
    }

    #[test]
    fn cg_update_is_two_axpys_then_norm2_bit_for_bit() {
        // 1e-200 and 1e200 take norm2's scaled path (underflowing and overflowing squares).
        for n in LENGTHS {
            for scale in [1e-200, 1.0, 1e200] {
                let p = wavy(n, 0.11, scale);
                let q = wavy(n, 0.53, scale);
                let (x0, r0) = (wavy(n, 0.29, scale), wavy(n, 0.71, scale));
                let alpha = 0.3711;
                let (mut x1, mut r1) = (x0.clone(), r0.clone());
                axpy(alpha, &p, &mut x1);
                axpy(-alpha, &q, &mut r1);
                let n1 = norm2(&r1);
                for threads in [1, 2, 3] {
                    let k = Kernels::with_threads(threads).unwrap();
                    let (mut x2, mut r2) = (x0.clone(), r0.clone());
                    let n2 = k.cg_update(alpha, &p, &q, &mut x2, &mut r2);
                    assert_eq!(n1.to_bits(), n2.to_bits(), "n = {n}, scale = {scale}");
                    assert_eq!(x1, x2);
                    assert_eq!(r1, r2);
                }
            }
        }
    }

    #[test]
    fn cg_update_reports_a_nan_residual() {
        let n = PARALLEL_MIN_LEN + 3;
        let (p, mut q) = (vec![1.0; n], vec![1.0; n]);
        q[n - 2] = f64::NAN;
        let (mut x, mut r) = (vec![0.0; n], vec![1.0; n]);
        assert!(cg_update(0.5, &p, &q, &mut x, &mut r).is_nan());
    }

    #[test]
    #[should_panic(expected = "lengths differ")]
    fn cg_update_refuses_mismatched_lengths() {
        let (mut x, mut r) = (vec![0.0; 3], vec![0.0; 3]);
        cg_update(1.0, &[1.0; 3], &[1.0; 2], &mut x, &mut r);
    }
}
