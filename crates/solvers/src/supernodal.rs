//! Triangular solves with faer's supernodal Cholesky factor `P A Pᵀ = L Lᵀ` in plain loops.
//!
//! faer solves supernode by supernode through its dense triangular-solve and matrix-product
//! kernels, set up once per supernode; with one right-hand side a solve is two passes over the
//! factor's values that should run at the speed of memory. These loops read each supernode's
//! values once per pass, column by column: the diagonal block and the rows below it in one
//! sweep (measured against faer's solve in `docs/performance.md`, "Caching").

use faer::perm::PermRef;
use faer::sparse::linalg::cholesky::supernodal::SymbolicSupernodalCholesky;

/// Solves `A x = b` in place (`x` holds `b` on entry) with the supernodal factor `values` of
/// `s` and the fill-reducing permutation `perm`, using `work` (`2 * x.len()` values: the
/// permuted vector and a supernode's rows below its diagonal block).
///
/// # Panics
/// If `values`, `x` or `work` do not match the factor's sizes.
pub(crate) fn solve_llt_in_place(
    s: &SymbolicSupernodalCholesky<usize>,
    perm: Option<PermRef<'_, usize>>,
    values: &[f64],
    x: &mut [f64],
    work: &mut [f64],
) {
    let n = x.len();
    assert!(n == s.nrows() && work.len() == 2 * n && values.len() == s.len_val());
    let (y, below) = work.split_at_mut(n);
    match perm {
        Some(p) => {
            for (yi, &f) in y.iter_mut().zip(p.arrays().0) {
                *yi = x[f];
            }
        }
        None => y.copy_from_slice(x),
    }
    let (begin, end, val_ptr) = (s.supernode_begin(), s.supernode_end(), s.col_ptr_for_val());
    let supernode = |k: usize| {
        let pattern = s.supernode(k).pattern();
        let m = end[k] - begin[k];
        (begin[k], m, pattern, &values[val_ptr[k]..val_ptr[k + 1]])
    };
    // L y = P b. In each supernode (columns `start..start + m`, then the rows `pattern` below
    // them, column-major), a column's value is final once the columns before it are
    // subtracted; the products for the rows below are summed in `below` (contiguous, so the
    // loop vectorises) and subtracted from those rows once per supernode.
    for k in 0..s.n_supernodes() {
        let (start, m, pattern, l) = supernode(k);
        let rows = m + pattern.len();
        let below = &mut below[..pattern.len()];
        below.fill(0.0);
        for j in 0..m {
            let col = &l[j * rows..(j + 1) * rows];
            let v = y[start + j] / col[j];
            y[start + j] = v;
            for (yi, &lij) in y[start + j + 1..start + m].iter_mut().zip(&col[j + 1..m]) {
                *yi -= lij * v;
            }
            for (bi, &lij) in below.iter_mut().zip(&col[m..]) {
                *bi += lij * v;
            }
        }
        for (&r, &bi) in pattern.iter().zip(below.iter()) {
            y[r] -= bi;
        }
    }
    // Lᵀ z = y, from the last supernode: the final values of the rows below are gathered
    // once, then each column (from the last) is its dot product with them and with the
    // columns after it.
    for k in (0..s.n_supernodes()).rev() {
        let (start, m, pattern, l) = supernode(k);
        let rows = m + pattern.len();
        let below = &mut below[..pattern.len()];
        for (bi, &r) in below.iter_mut().zip(pattern) {
            *bi = y[r];
        }
        for j in (0..m).rev() {
            let col = &l[j * rows..(j + 1) * rows];
            let acc = dot(below, &col[m..]) + dot(&y[start + j + 1..start + m], &col[j + 1..m]);
            y[start + j] = (y[start + j] - acc) / col[j];
        }
    }
    match perm {
        Some(p) => {
            for (xi, &i) in x.iter_mut().zip(p.arrays().1) {
                *xi = y[i];
            }
        }
        None => x.copy_from_slice(y),
    }
}

/// `a · b` in four interleaved partial sums (a single sum is one long chain of dependent
/// additions), added in a fixed order.
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = (a4.remainder().iter().zip(b4.remainder()))
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a4.zip(b4) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}
