//! Built-in preconditioners: [`Identity`] (`none`) and [`Jacobi`] (`jacobi`).

use femscale_core::{CsrMatrix, Preconditioner, PreconditionerFactory, SolveError};

use crate::kernels;

/// Factory for [`Identity`], registered as `none`.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityFactory;

/// No preconditioning: `z = r`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl Preconditioner for Identity {
    fn name(&self) -> &str {
        "none"
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        z.copy_from_slice(r);
    }
}

impl PreconditionerFactory for IdentityFactory {
    fn name(&self) -> &'static str {
        "none"
    }

    fn build(&self, _a: &CsrMatrix) -> Result<Box<dyn Preconditioner>, SolveError> {
        Ok(Box::new(Identity))
    }
}

/// Factory for [`Jacobi`], registered as `jacobi`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JacobiFactory;

/// Diagonal scaling: `z_i = r_i / a_ii`.
#[derive(Debug, Clone)]
pub struct Jacobi {
    inv_diag: Vec<f64>,
}

impl Jacobi {
    /// Builds the inverse diagonal of `a`.
    ///
    /// # Errors
    /// [`SolveError::Factorization`] (method `jacobi`) naming the first row whose diagonal entry
    /// is missing, zero or not finite, or whose inverse is not finite; and
    /// [`SolveError::DimensionMismatch`] if `a` is not square.
    pub fn try_new(a: &CsrMatrix) -> Result<Self, SolveError> {
        femscale_core::checks::check_square(a)?;
        let positions = a.pattern().diagonal_positions();
        let mut inv_diag = Vec::with_capacity(a.nrows());
        for (row, pos) in positions.into_iter().enumerate() {
            let Some(k) = pos else {
                return Err(SolveError::Factorization {
                    method: "jacobi".into(),
                    detail: format!("row {row} has no stored diagonal entry"),
                });
            };
            let d = a.values()[k];
            let inv = 1.0 / d;
            if d == 0.0 || !d.is_finite() || !inv.is_finite() {
                return Err(SolveError::Factorization {
                    method: "jacobi".into(),
                    detail: format!(
                        "diagonal entry of row {row} is {d}; Jacobi needs a non-zero, finite diagonal"
                    ),
                });
            }
            inv_diag.push(inv);
        }
        Ok(Self { inv_diag })
    }

    /// The inverse diagonal.
    pub fn inverse_diagonal(&self) -> &[f64] {
        &self.inv_diag
    }
}

impl Preconditioner for Jacobi {
    fn name(&self) -> &str {
        "jacobi"
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        kernels::pointwise_mul(&self.inv_diag, r, z);
    }

    fn memory_bytes(&self) -> usize {
        self.inv_diag.capacity() * std::mem::size_of::<f64>()
    }
}

impl PreconditionerFactory for JacobiFactory {
    fn name(&self) -> &'static str {
        "jacobi"
    }

    fn build(&self, a: &CsrMatrix) -> Result<Box<dyn Preconditioner>, SolveError> {
        Ok(Box::new(Jacobi::try_new(a)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_inverts_the_diagonal_and_names_bad_rows() {
        let a = CsrMatrix::try_from_triplets(
            3,
            3,
            &[(0, 0, 2.0), (1, 1, -4.0), (2, 2, 0.5), (0, 2, 1.0)],
        )
        .unwrap();
        let pc = JacobiFactory.build(&a).unwrap();
        let mut z = [0.0; 3];
        pc.apply(&[1.0, 1.0, 1.0], &mut z);
        assert_eq!(z, [0.5, -0.25, 2.0]);
        assert_eq!(pc.name(), "jacobi");
        assert!(pc.memory_bytes() >= 24);

        let zero =
            CsrMatrix::try_from_triplets(3, 3, &[(0, 0, 1.0), (1, 1, 0.0), (2, 2, 1.0)]).unwrap();
        let err = JacobiFactory.build(&zero).unwrap_err();
        assert!(
            matches!(&err, SolveError::Factorization { method, detail } if method == "jacobi" && detail.contains("row 1")),
            "{err}"
        );
        let missing = CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 1.0), (1, 0, 1.0)]).unwrap();
        let err = JacobiFactory.build(&missing).unwrap_err();
        assert!(err.to_string().contains("row 1"), "{err}");
        let nan = CsrMatrix::try_from_triplets(1, 1, &[(0, 0, f64::NAN)]).unwrap();
        assert!(JacobiFactory.build(&nan).is_err());
    }

    #[test]
    fn identity_copies() {
        let a = CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 1.0)]).unwrap();
        let pc = IdentityFactory.build(&a).unwrap();
        let mut z = [0.0; 2];
        pc.apply(&[3.0, -1.0], &mut z);
        assert_eq!(z, [3.0, -1.0]);
        assert_eq!(pc.name(), IdentityFactory.name());
    }
}
