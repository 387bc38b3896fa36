//! Test matrices and helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use femscale_core::CsrMatrix;

/// `tridiag(-1, 2, -1)` of size `n`.
pub fn poisson_1d(n: usize) -> CsrMatrix {
    let mut t = Vec::with_capacity(3 * n);
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

/// The 5-point Laplacian on an `m x m` interior grid (Dirichlet boundary), plus `shift` on the
/// diagonal.
pub fn poisson_2d_shifted(m: usize, shift: f64) -> CsrMatrix {
    let n = m * m;
    let id = |i: usize, j: usize| i * m + j;
    let mut t = Vec::with_capacity(5 * n);
    for i in 0..m {
        for j in 0..m {
            let k = id(i, j);
            t.push((k, k, 4.0 + shift));
            if i > 0 {
                t.push((k, id(i - 1, j), -1.0));
            }
            if i + 1 < m {
                t.push((k, id(i + 1, j), -1.0));
            }
            if j > 0 {
                t.push((k, id(i, j - 1), -1.0));
            }
            if j + 1 < m {
                t.push((k, id(i, j + 1), -1.0));
            }
        }
    }
    CsrMatrix::try_from_triplets(n, n, &t).unwrap()
}

/// The 5-point Laplacian on an `m x m` grid.
pub fn poisson_2d(m: usize) -> CsrMatrix {
    poisson_2d_shifted(m, 0.0)
}

/// `-u'' + c u'` with central differences on `n` interior points of (0, 1), scaled by `h²`:
/// nonsymmetric for `c != 0`.
pub fn convection_diffusion_1d(n: usize, c: f64) -> CsrMatrix {
    let h = 1.0 / (n as f64 + 1.0);
    let mut t = Vec::with_capacity(3 * n);
    for i in 0..n {
        t.push((i, i, 2.0));
        if i > 0 {
            t.push((i, i - 1, -1.0 - c * h / 2.0));
        }
        if i + 1 < n {
            t.push((i, i + 1, -1.0 + c * h / 2.0));
        }
    }
    CsrMatrix::try_from_triplets(n, n, &t).unwrap()
}

/// A smooth, non-trivial vector.
pub fn smooth_vector(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 1.0 + (0.37 * i as f64).sin() + 0.01 * i as f64)
        .collect()
}

/// `A x` with core's serial product.
pub fn mul(a: &CsrMatrix, x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; a.nrows()];
    a.mul_vec_into(x, &mut y);
    y
}

/// `||b - A x||`, computed independently of the solvers' kernels.
pub fn true_residual(a: &CsrMatrix, x: &[f64], b: &[f64]) -> f64 {
    mul(a, x)
        .iter()
        .zip(b)
        .map(|(ax, b)| (b - ax) * (b - ax))
        .sum::<f64>()
        .sqrt()
}

/// `||v||_2`.
pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `max |u - v| / max |v|`.
pub fn rel_max_diff(u: &[f64], v: &[f64]) -> f64 {
    let diff = u
        .iter()
        .zip(v)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    let scale = v.iter().fold(0.0f64, |m, b| m.max(b.abs()));
    diff / scale
}

/// `a` with all values multiplied by `s`, sharing `a`'s pattern `Arc`.
pub fn scaled(a: &CsrMatrix, s: f64) -> Arc<CsrMatrix> {
    let values = a.values().iter().map(|v| v * s).collect();
    Arc::new(CsrMatrix::try_from_pattern_and_values(Arc::clone(a.pattern()), values).unwrap())
}
