//! Internal CSR storage of the AMG hierarchy and its parallel kernels.
//!
//! Every level operator, prolongator and restrictor is a [`Mat`] with `u32` column indices,
//! like [`CsrMatrix`]: 12 bytes per stored entry, which matters because the cycle is
//! memory-bandwidth bound. Rows are processed in chunks of [`CHUNK`] rows with rayon above
//! [`is_parallel`]'s threshold and serially below it, like [`crate::kernels`].

use std::sync::Arc;

use femscale_core::{CsrMatrix, SolveError, SparsityPattern, few_stored_zeros};
use rayon::prelude::*;

use crate::kernels::{CHUNK, is_parallel};

/// A CSR matrix with `u32` column indices (sorted within each row).
#[derive(Debug, Clone, Default)]
pub(crate) struct Mat {
    pub nrows: usize,
    pub ncols: usize,
    pub rp: RowPtr,
    pub ci: Cols,
    pub v: Values,
}

/// One array of a [`Mat`]: its own, or that of the assembled matrix the finest level shares
/// (same entries in the same order when that matrix stores few zeros), which the solver keeps
/// alive anyway.
#[derive(Debug, Clone)]
pub(crate) enum Part<T> {
    Owned(Vec<T>),
    Shared(Arc<CsrMatrix>),
}

/// Row pointers of a [`Mat`].
pub(crate) type RowPtr = Part<usize>;
/// Column indices of a [`Mat`].
pub(crate) type Cols = Part<u32>;
/// Values of a [`Mat`].
pub(crate) type Values = Part<f64>;

/// Which array of an assembled matrix a [`Part`] of that type shares.
pub(crate) trait SharedArray: Sized + Clone {
    fn of(a: &CsrMatrix) -> &[Self];
}

impl SharedArray for usize {
    fn of(a: &CsrMatrix) -> &[usize] {
        a.pattern().row_ptr()
    }
}

impl SharedArray for u32 {
    fn of(a: &CsrMatrix) -> &[u32] {
        a.pattern().col_idx()
    }
}

impl SharedArray for f64 {
    fn of(a: &CsrMatrix) -> &[f64] {
        a.values()
    }
}

impl<T> Default for Part<T> {
    fn default() -> Self {
        Self::Owned(Vec::new())
    }
}

impl<T> From<Vec<T>> for Part<T> {
    fn from(v: Vec<T>) -> Self {
        Self::Owned(v)
    }
}

impl<T: SharedArray> std::ops::Deref for Part<T> {
    type Target = [T];

    #[inline(always)]
    fn deref(&self) -> &[T] {
        match self {
            Self::Owned(v) => v,
            Self::Shared(a) => T::of(a),
        }
    }
}

impl<T: SharedArray> std::ops::DerefMut for Part<T> {
    /// A shared array is copied before the first write (the assembled matrix is never changed).
    fn deref_mut(&mut self) -> &mut [T] {
        if let Self::Shared(a) = self {
            *self = Self::Owned(T::of(a).to_vec());
        }
        match self {
            Self::Owned(v) => v,
            Self::Shared(_) => unreachable!("copied above"),
        }
    }
}

impl<T: SharedArray> Part<T> {
    /// Heap bytes this matrix holds itself (shared arrays belong to the assembled matrix).
    fn owned_bytes(&self) -> usize {
        match self {
            Self::Owned(v) => v.capacity() * std::mem::size_of::<T>(),
            Self::Shared(_) => 0,
        }
    }

    /// The array as a vector of its own (copied when shared).
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Self::Owned(v) => v,
            Self::Shared(a) => T::of(&a).to_vec(),
        }
    }
}

impl Mat {
    /// The finest level of `a`: its values shared, not copied, when it stores few zeros off
    /// the diagonal ([`few_stored_zeros`], counting every zero off the diagonal: the pipeline
    /// drops more after assembly; the few that stay are no coupling to the strength graph and
    /// add nothing to a product), its row pointers and column indices too; otherwise
    /// [`Mat::from_csr`]'s filtered copy.
    pub fn from_shared(a: &Arc<CsrMatrix>) -> Self {
        let p = a.pattern();
        let (rp, ci, v) = (p.row_ptr(), p.col_idx(), a.values());
        let n = a.nrows();
        let zeros: usize = (0..n)
            .into_par_iter()
            .with_min_len(CHUNK)
            .map(|i| {
                (rp[i]..rp[i + 1])
                    .filter(|&k| v[k] == 0.0 && ci[k] as usize != i)
                    .count()
            })
            .sum();
        if !few_stored_zeros(zeros, a.nnz()) {
            return Self::from_csr(a);
        }
        Self {
            nrows: n,
            ncols: a.ncols(),
            rp: Part::Shared(Arc::clone(a)),
            ci: Part::Shared(Arc::clone(a)),
            v: Part::Shared(Arc::clone(a)),
        }
    }

    /// Copies `a` into `u32`-indexed storage, dropping stored zeros (off the diagonal).
    ///
    /// Assembled FEM matrices store exact zeros: P1 couplings across the diagonal of right
    /// triangles and the entries cleared by Dirichlet elimination (about 30% of a 2D P1 matrix).
    /// Dropping them changes no product and cuts the cycle's memory traffic accordingly.
    pub fn from_csr(a: &CsrMatrix) -> Self {
        let p = a.pattern();
        let (rp_in, ci_in, v_in) = (p.row_ptr(), p.col_idx(), a.values());
        let keep = |i: usize, k: usize| v_in[k] != 0.0 || ci_in[k] as usize == i;
        // Rows in parallel chunks: count kept entries, then copy them.
        let n = a.nrows();
        let mut counts = vec![0usize; n + 1];
        for_chunks1_usize(&mut counts[1..], |start, out| {
            for (r, c) in out.iter_mut().enumerate() {
                let i = start + r;
                *c = (rp_in[i]..rp_in[i + 1]).filter(|&k| keep(i, k)).count();
            }
        });
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let rp = counts;
        let nnz = rp[n];
        let mut ci = vec![0u32; nnz];
        let mut v = vec![0.0; nnz];
        for i in 0..n {
            let mut out = rp[i];
            for k in rp_in[i]..rp_in[i + 1] {
                if keep(i, k) {
                    ci[out] = ci_in[k];
                    v[out] = v_in[k];
                    out += 1;
                }
            }
        }
        Self {
            nrows: n,
            ncols: a.ncols(),
            rp: rp.into(),
            ci: ci.into(),
            v: v.into(),
        }
    }

    /// Converts to a [`CsrMatrix`] (for the coarse direct solver).
    pub fn to_csr(&self) -> Result<CsrMatrix, SolveError> {
        let pattern =
            SparsityPattern::try_new(self.nrows, self.ncols, self.rp.to_vec(), self.ci.to_vec())
                .map_err(|e| SolveError::Backend(Box::new(e)))?;
        CsrMatrix::try_from_pattern_and_values(Arc::new(pattern), self.v.to_vec())
            .map_err(|e| SolveError::Backend(Box::new(e)))
    }

    /// Stored entries.
    pub fn nnz(&self) -> usize {
        self.v.len()
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.rp.owned_bytes() + self.ci.owned_bytes() + self.v.owned_bytes()
    }

    /// Column indices and values of row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let (s, e) = (self.rp[i], self.rp[i + 1]);
        (&self.ci[s..e], &self.v[s..e])
    }

    /// The diagonal (zero where none is stored).
    pub fn diagonal(&self) -> Vec<f64> {
        (0..self.nrows)
            .map(|i| {
                let (c, v) = self.row(i);
                c.binary_search(&(i as u32)).map_or(0.0, |k| v[k])
            })
            .collect()
    }

    /// Row pointers, column indices and values, for loops that take them once (each may be
    /// shared, and reaching it is then one indirection more than a field).
    #[inline(always)]
    pub fn parts(&self) -> (&[usize], &[u32], &[f64]) {
        (&self.rp, &self.ci, &self.v)
    }

    /// `(A x)_i`.
    #[inline(always)]
    pub fn row_dot(&self, i: usize, x: &[f64]) -> f64 {
        row_dot(self.parts(), i, x)
    }

    /// `y = A x`.
    #[cfg(test)]
    pub fn spmv(&self, x: &[f64], y: &mut [f64]) {
        debug_assert!(x.len() == self.ncols && y.len() == self.nrows);
        let parts = self.parts();
        for_chunks1(y, |first, yc| {
            for (k, yi) in yc.iter_mut().enumerate() {
                *yi = row_dot(parts, first + k, x);
            }
        });
    }

    /// `r = b - A x`.
    pub fn residual(&self, b: &[f64], x: &[f64], r: &mut [f64]) {
        debug_assert!(x.len() == self.ncols && r.len() == self.nrows);
        let parts = self.parts();
        for_chunks1(r, |first, rc| {
            for (k, ri) in rc.iter_mut().enumerate() {
                let i = first + k;
                *ri = b[i] - row_dot(parts, i, x);
            }
        });
    }
}

/// `(A x)_i` of the matrix with `parts` ([`Mat::parts`]).
#[inline(always)]
pub(crate) fn row_dot((rp, ci, v): (&[usize], &[u32], &[f64]), i: usize, x: &[f64]) -> f64 {
    let (s, e) = (rp[i], rp[i + 1]);
    let mut acc = 0.0;
    for (&j, &a) in ci[s..e].iter().zip(&v[s..e]) {
        acc += a * x[j as usize];
    }
    acc
}

/// Runs `f(first_row, chunk)` over [`CHUNK`]-sized chunks of `y`, in parallel for long vectors.
#[inline]
pub(crate) fn for_chunks1<F>(y: &mut [f64], f: F)
where
    F: Fn(usize, &mut [f64]) + Sync + Send,
{
    if is_parallel(y.len()) {
        y.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, yc)| f(c * CHUNK, yc));
    } else {
        f(0, y);
    }
}

/// Like [`for_chunks1`] over two vectors of equal length, chunked alike.
#[inline]
pub(crate) fn for_chunks2<F>(y: &mut [f64], z: &mut [f64], f: F)
where
    F: Fn(usize, &mut [f64], &mut [f64]) + Sync + Send,
{
    debug_assert_eq!(y.len(), z.len());
    if is_parallel(y.len()) {
        y.par_chunks_mut(CHUNK)
            .zip(z.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, (yc, zc))| f(c * CHUNK, yc, zc));
    } else {
        f(0, y, z);
    }
}

/// Like [`for_chunks1`] over three vectors of equal length, chunked alike.
#[inline]
pub(crate) fn for_chunks3<F>(x: &mut [f64], y: &mut [f64], z: &mut [f64], f: F)
where
    F: Fn(usize, &mut [f64], &mut [f64], &mut [f64]) + Sync + Send,
{
    debug_assert!(x.len() == y.len() && y.len() == z.len());
    if is_parallel(y.len()) {
        x.par_chunks_mut(CHUNK)
            .zip(y.par_chunks_mut(CHUNK))
            .zip(z.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, ((xc, yc), zc))| f(c * CHUNK, xc, yc, zc));
    } else {
        f(0, x, y, z);
    }
}

/// Runs `f(first_row, chunk)` over chunks of a per-row `usize` array, in parallel when large.
fn for_chunks1_usize<F>(y: &mut [usize], f: F)
where
    F: Fn(usize, &mut [usize]) + Sync,
{
    if is_parallel(y.len()) {
        y.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(t, c)| f(t * CHUNK, c));
    } else {
        f(0, y);
    }
}
