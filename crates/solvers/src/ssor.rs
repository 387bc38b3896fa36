//! Symmetric successive over-relaxation ([`Ssor`], registry name `ssor`).
//!
//! With `A = L + D + U` (strictly lower, diagonal, strictly upper) and relaxation factor
//! `0 < ω < 2`, the preconditioner is
//!
//! ```text
//! M = 1/(ω(2-ω)) · (D + ωL) D⁻¹ (D + ωU)
//! ```
//!
//! so that `z = M⁻¹ r` is exactly one SSOR iteration (a forward sweep followed by a backward
//! sweep) started from `z = 0`. For symmetric positive definite `A`, `M` is symmetric positive
//! definite and may be used with CG. `ω = 1` is symmetric Gauss–Seidel, `M = (D + L) D⁻¹ (D + U)`.
//! (The scale factor of `M` does not affect CG or GMRES iterates.)
//!
//! The application is serial (each sweep is a triangular solve) and allocation-free: the
//! forward sweep writes into `z`, the backward sweep updates `z` in place.

use std::sync::Arc;

use femscale_core::{
    CsrMatrix, Preconditioner, PreconditionerFactory, SolveError, SparsityPattern,
};

use crate::options::{MethodOptions, SsorOptions};

/// Registry constructor for `ssor`: an [`SsorFactory`] with `options.ssor.omega`.
///
/// The relaxation factor is validated when the preconditioner is built.
pub fn new_ssor(options: &MethodOptions) -> Arc<dyn PreconditionerFactory> {
    Arc::new(SsorFactory::from(&options.ssor))
}

/// Factory for [`Ssor`], registered as `ssor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SsorFactory {
    omega: f64,
}

impl SsorFactory {
    /// A factory with relaxation factor `omega` (checked to lie in `(0, 2)` on
    /// [`PreconditionerFactory::build`]).
    pub fn new(omega: f64) -> Self {
        Self { omega }
    }

    /// The relaxation factor ω.
    pub fn omega(&self) -> f64 {
        self.omega
    }
}

impl Default for SsorFactory {
    /// Symmetric Gauss–Seidel (`ω = 1`).
    fn default() -> Self {
        Self::new(1.0)
    }
}

impl From<&SsorOptions> for SsorFactory {
    fn from(options: &SsorOptions) -> Self {
        Self::new(options.omega)
    }
}

impl PreconditionerFactory for SsorFactory {
    fn name(&self) -> &'static str {
        "ssor"
    }

    fn build(&self, a: &CsrMatrix) -> Result<Box<dyn Preconditioner>, SolveError> {
        Ok(Box::new(Ssor::try_new(a, self.omega)?))
    }
}

/// The SSOR preconditioner of one matrix: a copy of its values plus the diagonal positions.
#[derive(Debug, Clone)]
pub struct Ssor {
    pattern: Arc<SparsityPattern>,
    values: Vec<f64>,
    diag: Vec<usize>,
    inv_diag: Vec<f64>,
    omega: f64,
}

impl Ssor {
    /// Sets SSOR up for `a` with relaxation factor `omega`.
    ///
    /// # Errors
    /// [`SolveError::InvalidOption`] (`ssor.omega`) unless `0 < omega < 2`;
    /// [`SolveError::DimensionMismatch`] if `a` is not square; [`SolveError::Factorization`]
    /// (method `ssor`) naming the first row whose diagonal entry is missing, zero or not finite.
    pub fn try_new(a: &CsrMatrix, omega: f64) -> Result<Self, SolveError> {
        if !(omega > 0.0 && omega < 2.0) {
            return Err(SolveError::InvalidOption {
                option: "ssor.omega".into(),
                reason: format!("the relaxation factor must lie in (0, 2), got {omega}"),
            });
        }
        let diag = diagonal_positions(a, "ssor")?;
        let values = a.values().to_vec();
        let mut inv_diag = Vec::with_capacity(diag.len());
        for (row, &k) in diag.iter().enumerate() {
            let d = values[k];
            let inv = 1.0 / d;
            if d == 0.0 || !d.is_finite() || !inv.is_finite() {
                return Err(SolveError::Factorization {
                    method: "ssor".into(),
                    detail: format!(
                        "diagonal entry of row {row} is {d}; SSOR needs a non-zero, finite diagonal"
                    ),
                });
            }
            inv_diag.push(inv);
        }
        Ok(Self {
            pattern: Arc::clone(a.pattern()),
            values,
            diag,
            inv_diag,
            omega,
        })
    }

    /// The relaxation factor ω.
    pub fn omega(&self) -> f64 {
        self.omega
    }
}

impl Preconditioner for Ssor {
    fn name(&self) -> &str {
        "ssor"
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        let n = self.diag.len();
        assert_eq!(r.len(), n, "ssor: r has the wrong length");
        assert_eq!(z.len(), n, "ssor: z has the wrong length");
        let (rp, ci, v) = (self.pattern.row_ptr(), self.pattern.col_idx(), &self.values);
        let omega = self.omega;
        // Forward sweep: (D + ωL) y = r, y stored in z.
        for i in 0..n {
            let mut s = 0.0;
            for p in rp[i]..self.diag[i] {
                s += v[p] * z[ci[p] as usize];
            }
            z[i] = (r[i] - omega * s) * self.inv_diag[i];
        }
        // Backward sweep: (D + ωU) z = ω(2-ω) D y, in place (z_i still holds y_i when row i
        // is reached, z_j for j > i already holds the result).
        let c = omega * (2.0 - omega);
        for i in (0..n).rev() {
            let mut s = 0.0;
            for p in self.diag[i] + 1..rp[i + 1] {
                s += v[p] * z[ci[p] as usize];
            }
            z[i] = c * z[i] - omega * self.inv_diag[i] * s;
        }
    }

    fn memory_bytes(&self) -> usize {
        (self.values.capacity() + self.inv_diag.capacity()) * std::mem::size_of::<f64>()
            + self.diag.capacity() * std::mem::size_of::<usize>()
    }
}

/// Checks that `a` is square and returns the position of every row's diagonal entry.
///
/// # Errors
/// [`SolveError::DimensionMismatch`] if `a` is not square; [`SolveError::Factorization`]
/// (method `method`) naming the first row without a stored diagonal entry.
pub(crate) fn diagonal_positions(a: &CsrMatrix, method: &str) -> Result<Vec<usize>, SolveError> {
    femscale_core::checks::check_square(a)?;
    a.pattern()
        .diagonal_positions()
        .into_iter()
        .enumerate()
        .map(|(row, pos)| {
            pos.ok_or_else(|| SolveError::Factorization {
                method: method.into(),
                detail: format!("row {row} has no stored diagonal entry"),
            })
        })
        .collect()
}
