//! Prolongator smoothing `P = (I - ω/ρ D⁻¹A) P_tent` and spectral-radius estimates of `D⁻¹A`.

use rayon::prelude::*;

use super::aggregate::Aggregation;
use super::csr::{Mat, for_chunks2, row_dot};
use super::spgemm::{RowBlock, assemble_blocks, row_blocks, sort_row};
use crate::kernels::CHUNK;

/// `P = (I - scale D⁻¹A) P_tent` with `scale = ω/ρ`; rows sorted, parallel over row blocks.
///
/// Row `i` of `P` collects, per aggregate `k` of a neighbour `j`, the sum of
/// `(δ_ij - scale a_ij / a_ii) / sqrt(|k|)`; its length is at most that of row `i` of `A`.
pub(crate) fn smoothed_prolongator(a: &Mat, dinv: &[f64], aggs: &Aggregation, scale: f64) -> Mat {
    let blocks: Vec<RowBlock> = row_blocks(a.nrows)
        .into_par_iter()
        .map(|rows| {
            let guess = a.rp[rows.end] - a.rp[rows.start];
            let mut block = RowBlock::new(rows.start, rows.len(), guess, true);
            for i in rows {
                let start = block.ci.len();
                let (cols, vals) = a.row(i);
                let s = scale * dinv[i];
                for (&j, &aij) in cols.iter().zip(vals) {
                    let ju = j as usize;
                    let Some((k, t)) = aggs.tentative(ju) else {
                        continue;
                    };
                    let mut x = -s * aij * t;
                    if ju == i {
                        x += t;
                    }
                    match block.ci[start..].iter().position(|&c| c == k) {
                        Some(p) => block.v[start + p] += x,
                        None => {
                            block.ci.push(k);
                            block.v.push(x);
                        }
                    }
                }
                sort_row(&mut block.ci[start..], &mut block.v[start..]);
                block.ends.push(block.ci.len());
            }
            block
        })
        .collect();
    assemble_blocks(a.nrows, aggs.count, blocks)
}

/// Gershgorin's bound on the spectral radius of `D⁻¹A`, and how far `A` is from an M-matrix.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gershgorin {
    /// `max_i Σ_j |a_ij| / a_ii`.
    pub bound: f64,
    /// `max_i Σ_{j ≠ i, a_ij > 0} a_ij / a_ii`: 0 for an M-matrix.
    pub positive: f64,
}

impl Gershgorin {
    fn max(self, other: Self) -> Self {
        Self {
            bound: self.bound.max(other.bound),
            positive: self.positive.max(other.positive),
        }
    }
}

/// [`Gershgorin`] of `a` (in parallel over rows for large matrices).
pub(crate) fn gershgorin(a: &Mat, dinv: &[f64]) -> Gershgorin {
    let row = |i: usize| {
        let (cols, vals) = a.row(i);
        let (mut all, mut positive) = (0.0, 0.0);
        for (&j, &v) in cols.iter().zip(vals) {
            all += v.abs();
            if j as usize != i && v > 0.0 {
                positive += v;
            }
        }
        let d = dinv[i].abs();
        Gershgorin {
            bound: all * d,
            positive: positive * d,
        }
    };
    let zero = Gershgorin {
        bound: 0.0,
        positive: 0.0,
    };
    if crate::kernels::is_parallel(a.nrows) {
        (0..a.nrows)
            .into_par_iter()
            .with_min_len(4096)
            .map(row)
            .reduce(|| zero, Gershgorin::max)
    } else {
        (0..a.nrows).map(row).fold(zero, Gershgorin::max)
    }
}

/// Largest eigenvalue of `D⁻¹A` (SPD `A`, positive diagonal) estimated by `steps` Lanczos
/// steps on `S A S`, `S = D^-1/2`. The Ritz value approaches it from below.
///
/// Each step makes three parallel passes: `w = S A S v - β v_prev` with `α = w·v`, then
/// `w -= α v` with `β² = w·w`, then `v = w / β` with `u = S v` (the next product's input).
/// The sums are formed per chunk of rows and added in order, so the estimate does not depend
/// on the thread count.
pub(crate) fn lanczos_max_eigenvalue(a: &Mat, dinv: &[f64], steps: usize) -> f64 {
    let n = a.nrows;
    if n == 0 {
        return 0.0;
    }
    let steps = steps.min(n).max(1);
    let parts = a.parts();
    let sq: Vec<f64> = dinv.par_iter().map(|d| d.sqrt()).collect();
    // Deterministic pseudo-random start vector (a constant one is nearly an eigenvector).
    let mut v: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let h = (i as u64 ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            ((h >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        })
        .collect();
    let nv = crate::kernels::norm2(&v);
    let mut u = vec![0.0; n];
    for_chunks2(&mut v, &mut u, |first, vc, uc| {
        for (k, (vi, ui)) in vc.iter_mut().zip(uc).enumerate() {
            *vi /= nv;
            *ui = *vi * sq[first + k];
        }
    });
    let mut v_prev = vec![0.0; n];
    let mut w = vec![0.0; n];
    let (mut alphas, mut betas) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    let mut beta = 0.0;
    loop {
        let alpha = chunked_sum(&mut w, |first, wc| {
            let mut dot = 0.0;
            for (k, wi) in wc.iter_mut().enumerate() {
                let i = first + k;
                *wi = row_dot(parts, i, &u) * sq[i] - beta * v_prev[i];
                dot += *wi * v[i];
            }
            dot
        });
        let squares = chunked_sum(&mut w, |first, wc| {
            let mut sum = 0.0;
            for (wi, vi) in wc.iter_mut().zip(&v[first..]) {
                *wi -= alpha * vi;
                sum += *wi * *wi;
            }
            sum
        });
        alphas.push(alpha);
        beta = squares.sqrt();
        if beta.is_nan() || beta <= 1e-12 * alpha.abs() || alphas.len() == steps {
            break;
        }
        betas.push(beta);
        std::mem::swap(&mut v_prev, &mut v);
        for_chunks2(&mut v, &mut u, |first, vc, uc| {
            for (k, (vi, ui)) in vc.iter_mut().zip(uc).enumerate() {
                let i = first + k;
                *vi = w[i] / beta;
                *ui = *vi * sq[i];
            }
        });
    }
    tridiagonal_max_eigenvalue(&alphas, &betas)
}

/// `Σ f(first, chunk)` over the [`CHUNK`]-sized chunks of `y` (in parallel for long vectors),
/// the partial sums added in chunk order whatever the thread count.
fn chunked_sum(y: &mut [f64], f: impl Fn(usize, &mut [f64]) -> f64 + Sync + Send) -> f64 {
    let partials: Vec<f64> = if crate::kernels::is_parallel(y.len()) {
        let chunks = y.par_chunks_mut(CHUNK).enumerate();
        chunks.map(|(c, yc)| f(c * CHUNK, yc)).collect()
    } else {
        let chunks = y.chunks_mut(CHUNK).enumerate();
        chunks.map(|(c, yc)| f(c * CHUNK, yc)).collect()
    };
    partials.iter().sum()
}

/// Largest eigenvalue of the symmetric tridiagonal matrix with diagonal `a` and off-diagonal
/// `b` (`b.len() == a.len() - 1`), by bisection on the Sturm sequence.
pub(crate) fn tridiagonal_max_eigenvalue(a: &[f64], b: &[f64]) -> f64 {
    let m = a.len();
    let radius = |k: usize| {
        let left = if k > 0 { b[k - 1].abs() } else { 0.0 };
        let right = if k + 1 < m { b[k].abs() } else { 0.0 };
        left + right
    };
    let mut lo = (0..m)
        .map(|k| a[k] - radius(k))
        .fold(f64::INFINITY, f64::min);
    let mut hi = (0..m)
        .map(|k| a[k] + radius(k))
        .fold(f64::NEG_INFINITY, f64::max);
    // Number of eigenvalues below x.
    let count_below = |x: f64| {
        let mut count = 0;
        let mut q = 1.0;
        for k in 0..m {
            let off = if k > 0 { b[k - 1] * b[k - 1] } else { 0.0 };
            q = a[k] - x - if k > 0 { off / q } else { 0.0 };
            if q == 0.0 {
                q = -1e-300;
            }
            if q < 0.0 {
                count += 1;
            }
        }
        count
    };
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if count_below(mid) == m {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tridiagonal_eigenvalue_of_1d_laplacian() {
        let m = 10;
        let a = vec![2.0; m];
        let b = vec![-1.0; m - 1];
        let exact = 2.0 - 2.0 * (std::f64::consts::PI * m as f64 / (m as f64 + 1.0)).cos();
        assert!((tridiagonal_max_eigenvalue(&a, &b) - exact).abs() < 1e-10);
    }
    /// On the 5-point Laplacian of a 200 x 200 grid (`D⁻¹A` has the largest eigenvalue
    /// `1 + cos(π / 201)`), 10 steps come from below within the smoother's safety factor, and
    /// the estimate has the same bits on one thread as on two (the vector is long enough for
    /// the parallel passes).
    #[test]
    fn lanczos_estimates_from_below_and_whatever_the_thread_count() {
        use femscale_core::CsrMatrix;
        let m = 200;
        let mut t = Vec::new();
        for y in 0..m {
            for x in 0..m {
                let i = y * m + x;
                t.push((i, i, 4.0));
                if x + 1 < m {
                    t.extend([(i, i + 1, -1.0), (i + 1, i, -1.0)]);
                }
                if y + 1 < m {
                    t.extend([(i, i + m, -1.0), (i + m, i, -1.0)]);
                }
            }
        }
        let a = Mat::from_csr(&CsrMatrix::try_from_triplets(m * m, m * m, &t).unwrap());
        assert!(crate::kernels::is_parallel(a.nrows));
        let dinv = vec![0.25; a.nrows];
        let exact = 1.0 + (std::f64::consts::PI / (m as f64 + 1.0)).cos();
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| lanczos_max_eigenvalue(&a, &dinv, 10))
        };
        let l = on(2);
        assert!(l <= exact * (1.0 + 1e-12), "{l} above {exact}");
        assert!(
            super::super::smoother::CHEBYSHEV_SAFETY * l >= exact,
            "{l}: 10 steps too far below {exact}"
        );
        assert_eq!(on(1).to_bits(), l.to_bits());
        // More steps come closer.
        assert!(lanczos_max_eigenvalue(&a, &dinv, 30) > l);
    }
}
