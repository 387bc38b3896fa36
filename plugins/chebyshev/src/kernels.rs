//! Vector kernels on the current rayon pool: CSR SpMV, deterministic dot products, and the
//! fused updates of CG and of the Chebyshev recurrence. Serial below [`PARALLEL_MIN_LEN`].

use femscale_plugin_api::sdk::Csr;
use rayon::prelude::*;

/// Rows (or entries) per parallel work item.
const CHUNK: usize = 8192;

/// Vectors shorter than this are processed serially.
pub const PARALLEL_MIN_LEN: usize = 20_000;

/// Partial sums of a reduction (fixed, so the result does not depend on the thread count).
const PARTIALS: usize = 128;

fn spmv_rows(a: &Csr<'_>, x: &[f64], first_row: usize, y: &mut [f64]) {
    for (k, yi) in y.iter_mut().enumerate() {
        let i = first_row + k;
        let (s, e) = (a.row_ptr[i], a.row_ptr[i + 1]);
        let mut acc = 0.0;
        for (&j, &v) in a.col_idx[s..e].iter().zip(&a.values[s..e]) {
            acc += v * x[j];
        }
        *yi = acc;
    }
}

/// `y = A x`.
pub fn spmv(a: &Csr<'_>, x: &[f64], y: &mut [f64]) {
    if y.len() < PARALLEL_MIN_LEN {
        spmv_rows(a, x, 0, y);
    } else {
        y.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, ys)| spmv_rows(a, x, c * CHUNK, ys));
    }
}

fn dot_serial(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: f64 = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in xc.zip(yc) {
        for k in 0..4 {
            acc[k] += a[k] * b[k];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `x . y`, summed over a chunking that depends only on the length (bit-identical results on
/// any number of threads).
pub fn dot(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    if n < PARALLEL_MIN_LEN {
        return dot_serial(x, y);
    }
    let chunk = n.div_ceil(PARTIALS);
    let mut partials = [0.0f64; PARTIALS];
    partials.par_iter_mut().enumerate().for_each(|(c, p)| {
        let (s, e) = ((c * chunk).min(n), ((c + 1) * chunk).min(n));
        *p = dot_serial(&x[s..e], &y[s..e]);
    });
    partials.iter().sum()
}

/// Matching chunks of two output and two input vectors, as zipped by rayon.
type TwoOutTwoIn<'a> = (((&'a mut [f64], &'a mut [f64]), &'a [f64]), &'a [f64]);

/// CG update: `x += alpha p`, `r -= alpha q`.
pub fn cg_update(alpha: f64, p: &[f64], q: &[f64], x: &mut [f64], r: &mut [f64]) {
    let f = |(((x, r), p), q): TwoOutTwoIn<'_>| {
        for k in 0..x.len() {
            x[k] += alpha * p[k];
            r[k] -= alpha * q[k];
        }
    };
    if p.len() < PARALLEL_MIN_LEN {
        f((((x, r), p), q));
    } else {
        x.par_chunks_mut(CHUNK)
            .zip(r.par_chunks_mut(CHUNK))
            .zip(p.par_chunks(CHUNK))
            .zip(q.par_chunks(CHUNK))
            .for_each(f);
    }
}

/// `p = z + beta p`.
pub fn xpay(z: &[f64], beta: f64, p: &mut [f64]) {
    let f = |(p, z): (&mut [f64], &[f64])| {
        for (p, z) in p.iter_mut().zip(z) {
            *p = z + beta * *p;
        }
    };
    if z.len() < PARALLEL_MIN_LEN {
        f((p, z));
    } else {
        p.par_chunks_mut(CHUNK).zip(z.par_chunks(CHUNK)).for_each(f);
    }
}

/// First Chebyshev step: `d = scale * w .* r`, `z = d`.
pub fn cheb_start(scale: f64, w: &[f64], r: &[f64], d: &mut [f64], z: &mut [f64]) {
    let f = |(((d, z), w), r): TwoOutTwoIn<'_>| {
        for k in 0..d.len() {
            d[k] = scale * w[k] * r[k];
            z[k] = d[k];
        }
    };
    if r.len() < PARALLEL_MIN_LEN {
        f((((d, z), w), r));
    } else {
        d.par_chunks_mut(CHUNK)
            .zip(z.par_chunks_mut(CHUNK))
            .zip(w.par_chunks(CHUNK))
            .zip(r.par_chunks(CHUNK))
            .for_each(f);
    }
}

/// Chebyshev step: `d = c1 d + c2 w .* (r - az)`, `z += d`.
pub fn cheb_step(
    (c1, c2): (f64, f64),
    w: &[f64],
    r: &[f64],
    az: &[f64],
    d: &mut [f64],
    z: &mut [f64],
) {
    type Chunks<'a> = (
        (((&'a mut [f64], &'a mut [f64]), &'a [f64]), &'a [f64]),
        &'a [f64],
    );
    let f = |((((d, z), w), r), az): Chunks<'_>| {
        for k in 0..d.len() {
            d[k] = c1 * d[k] + c2 * w[k] * (r[k] - az[k]);
            z[k] += d[k];
        }
    };
    if r.len() < PARALLEL_MIN_LEN {
        f(((((d, z), w), r), az));
    } else {
        d.par_chunks_mut(CHUNK)
            .zip(z.par_chunks_mut(CHUNK))
            .zip(w.par_chunks(CHUNK))
            .zip(r.par_chunks(CHUNK))
            .zip(az.par_chunks(CHUNK))
            .for_each(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_kernels_match_serial_arithmetic() {
        let n = 3 * PARALLEL_MIN_LEN + 17;
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let y: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
        let expect: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert!((dot(&x, &y) - expect).abs() < 1e-9 * n as f64);
        let (mut xx, mut r) = (vec![1.0; n], vec![2.0; n]);
        cg_update(0.5, &x, &y, &mut xx, &mut r);
        assert_eq!(xx[n - 1], 1.0 + 0.5 * x[n - 1]);
        assert_eq!(r[12345], 2.0 - 0.5 * y[12345]);
        let mut p = y.clone();
        xpay(&x, 2.0, &mut p);
        assert_eq!(p[n / 2], x[n / 2] + 2.0 * y[n / 2]);
    }
}
