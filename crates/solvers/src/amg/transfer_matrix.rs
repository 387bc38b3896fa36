//! Prolongators and restrictors stored in single precision: [`TransferMatrix`].
//!
//! `P` and `R = Pᵀ` are the largest objects of a hierarchy after the level operators (about 3
//! entries per fine row each in 2D, more in 3D) and every cycle reads both. Their entries are
//! interpolation weights, needed to far fewer digits than `f32` keeps: stored as `f32` they take
//! 8 bytes per entry instead of 12. The products still compute in `f64`, and the Galerkin
//! operator is formed from the rounded `P̃` and `R̃ = P̃ᵀ`, so `A_c = P̃ᵀ A P̃` is exactly the
//! coarse operator of the prolongator the cycle applies and the preconditioner stays symmetric
//! positive definite.

use std::sync::Arc;

use femscale_core::{CsrMatrix, SolveError, SparsityPattern};
use rayon::prelude::*;

use super::csr::{Mat, for_chunks1};
use super::spgemm::{Rows, transpose_parts};
use crate::kernels::CHUNK;

/// A CSR matrix with `u32` column indices and `f32` values (rows sorted).
#[derive(Debug, Clone, Default)]
pub(crate) struct TransferMatrix {
    pub nrows: usize,
    pub ncols: usize,
    rp: Vec<usize>,
    ci: Vec<u32>,
    v: Vec<f32>,
}

impl TransferMatrix {
    /// `m` with its values rounded to `f32` (`m` is consumed: its `f64` values are freed).
    ///
    /// # Errors
    /// [`SolveError::InvalidOption`] naming `option` when an entry is not finite or beyond
    /// single precision's range (`|p| > 3.4e38`): interpolation weights are of order one (a
    /// smoothed prolongator's are, whatever the matrix's scale), so such an entry means a
    /// broken given coarse space or matrix, not a need for more range.
    pub fn from_mat(m: Mat, option: &str) -> Result<Self, SolveError> {
        let v: Vec<f32> = (m.v.par_iter().with_min_len(CHUNK))
            .map(|&x| x as f32)
            .collect();
        if let Some(k) = v.iter().position(|x| !x.is_finite()) {
            return Err(SolveError::InvalidOption {
                option: option.into(),
                reason: format!(
                    "prolongator entry {} (row {}) is not finite in single precision, in \
                     which femscale stores interpolation weights",
                    m.v[k],
                    m.rp.partition_point(|&start| start <= k) - 1
                ),
            });
        }
        Ok(Self {
            nrows: m.nrows,
            ncols: m.ncols,
            rp: m.rp.into_vec(),
            ci: m.ci.into_vec(),
            v,
        })
    }

    /// The matrix in double precision (its values widened exactly).
    ///
    /// # Errors
    /// None for a matrix built by this module; the checked constructors' errors otherwise.
    pub fn to_csr(&self) -> Result<CsrMatrix, femscale_core::Error> {
        let pattern =
            SparsityPattern::try_new(self.nrows, self.ncols, self.rp.clone(), self.ci.clone())?;
        let values = self.v.iter().map(|&x| f64::from(x)).collect();
        CsrMatrix::try_from_pattern_and_values(Arc::new(pattern), values)
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.rp.capacity() * 8 + self.ci.capacity() * 4 + self.v.capacity() * 4
    }

    fn row_dot(&self, i: usize, x: &[f64]) -> f64 {
        let (s, e) = (self.rp[i], self.rp[i + 1]);
        let mut acc = 0.0;
        for (&j, &a) in self.ci[s..e].iter().zip(&self.v[s..e]) {
            acc += f64::from(a) * x[j as usize];
        }
        acc
    }

    /// `y = T x`.
    pub fn spmv(&self, x: &[f64], y: &mut [f64]) {
        debug_assert!(x.len() == self.ncols && y.len() == self.nrows);
        for_chunks1(y, |first, yc| {
            for (k, yi) in yc.iter_mut().enumerate() {
                *yi = self.row_dot(first + k, x);
            }
        });
    }

    /// `y += T x`.
    pub fn spmv_add(&self, x: &[f64], y: &mut [f64]) {
        debug_assert!(x.len() == self.ncols && y.len() == self.nrows);
        for_chunks1(y, |first, yc| {
            for (k, yi) in yc.iter_mut().enumerate() {
                *yi += self.row_dot(first + k, x);
            }
        });
    }

    /// `Tᵀ` (rows sorted by construction; the values are copied, not rounded again).
    pub fn transpose(&self) -> Self {
        let (rp, ci, v) = transpose_parts(self);
        Self {
            nrows: self.ncols,
            ncols: self.nrows,
            rp,
            ci,
            v,
        }
    }
}

impl Rows for TransferMatrix {
    type Value = f32;

    fn nrows(&self) -> usize {
        self.nrows
    }
    fn ncols(&self) -> usize {
        self.ncols
    }
    fn nnz(&self) -> usize {
        self.ci.len()
    }
    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (s, e) = (self.rp[i], self.rp[i + 1]);
        (&self.ci[s..e], &self.v[s..e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amg::spgemm::{galerkin, transpose};

    fn mat(nrows: usize, ncols: usize, rows: &[&[(u32, f64)]]) -> Mat {
        let mut rp = vec![0];
        let (mut ci, mut v) = (Vec::new(), Vec::new());
        for row in rows {
            for &(c, x) in *row {
                ci.push(c);
                v.push(x);
            }
            rp.push(ci.len());
        }
        Mat {
            nrows,
            ncols,
            rp: rp.into(),
            ci: ci.into(),
            v: v.into(),
        }
    }

    #[test]
    fn products_use_the_rounded_weights_and_the_galerkin_operator_is_theirs() {
        let w = 0.1; // not representable in binary: rounds differently in f32
        let p = mat(3, 2, &[&[(0, 1.0)], &[(0, w), (1, 1.0 - w)], &[(1, 1.0)]]);
        let a = mat(
            3,
            3,
            &[
                &[(0, 2.0), (1, -1.0)],
                &[(0, -1.0), (1, 2.0), (2, -1.0)],
                &[(1, -1.0), (2, 2.0)],
            ],
        );
        let rounded = mat(
            3,
            2,
            &[
                &[(0, 1.0)],
                &[(0, f64::from(w as f32)), (1, f64::from((1.0 - w) as f32))],
                &[(1, 1.0)],
            ],
        );
        let t = TransferMatrix::from_mat(p.clone(), "p").unwrap();
        let x = [3.0, -2.0];
        let (mut y, mut z) = (vec![0.0; 3], vec![0.0; 3]);
        t.spmv(&x, &mut y);
        rounded.spmv(&x, &mut z);
        assert_eq!(y, z);
        let r = t.transpose();
        let (mut yr, mut zr) = (vec![0.0; 2], vec![0.0; 2]);
        r.spmv(&[1.0, 2.0, 3.0], &mut yr);
        transpose(&rounded).spmv(&[1.0, 2.0, 3.0], &mut zr);
        assert_eq!(yr, zr);
        // The coarse operator is the Galerkin product of the rounded prolongator, bit for bit.
        let coarse = galerkin(&a, &t, &r);
        let exact = galerkin(&a, &rounded, &transpose(&rounded));
        assert_eq!(
            (coarse.rp.to_vec(), coarse.ci.to_vec()),
            (exact.rp.to_vec(), exact.ci.to_vec())
        );
        assert_eq!(&coarse.v[..], &exact.v[..]);
        assert!(t.bytes() < 12 * 4 + 8 * 4);
        // Beyond f32's range: a typed error naming the option and the row, not infinities.
        let huge = mat(2, 1, &[&[(0, 1.0)], &[(0, 1e39)]]);
        let err = TransferMatrix::from_mat(huge, "coarse_space").unwrap_err();
        assert!(err.to_string().contains("coarse_space") && err.to_string().contains("row 1"));
    }
}
