//! Incomplete factorisations with zero fill: [`Ilu0`] (registry name `ilu0`) and [`Ic0`]
//! (registry name `ic0`).
//!
//! * **ILU(0)** computes `A ≈ L U` with `L` unit lower and `U` upper triangular, both restricted
//!   to the pattern of `A`: `(L U)_ij = a_ij` for every stored `(i, j)`. The factors live in one
//!   value array on the matrix's own (shared) pattern. Row-oriented IKJ elimination with a
//!   column → position marker, `O(Σ_i Σ_{k ∈ row i, k < i} |row k|)` work.
//! * **IC(0)** computes `A ≈ L Lᵀ` for symmetric positive definite `A` with `L` on the lower
//!   triangle of the pattern of `A`. Row-oriented up-looking variant with the same marker
//!   technique. IC(0) can break down (a non-positive pivot) even for SPD matrices; it is then
//!   retried on `A + α diag(A)` (Manteuffel's shift) with `α = 10⁻³, 2·10⁻³, …` for up to
//!   [`IC0_MAX_SHIFT_TRIES`] values; the shift used is reported by [`Ic0::shift`].
//!
//! Both applications are serial (two triangular solves) and allocation-free.

use std::sync::Arc;

use femscale_core::{
    CsrMatrix, Preconditioner, PreconditionerFactory, SolveError, SparsityPattern,
};

use crate::options::MethodOptions;
use crate::ssor::diagonal_positions;

/// First diagonal shift `α` tried by [`Ic0`] after a breakdown.
pub const IC0_INITIAL_SHIFT: f64 = 1e-3;

/// Shifted attempts of [`Ic0`] after a breakdown (the shift doubles each time, so the last
/// one is `IC0_INITIAL_SHIFT · 2^(IC0_MAX_SHIFT_TRIES - 1)`).
pub const IC0_MAX_SHIFT_TRIES: u32 = 10;

/// Marker value for "column not in the current row".
const NONE: usize = usize::MAX;

/// Registry constructor for `ilu0`.
pub fn new_ilu0(_: &MethodOptions) -> Arc<dyn PreconditionerFactory> {
    Arc::new(Ilu0Factory)
}

/// Registry constructor for `ic0`.
pub fn new_ic0(_: &MethodOptions) -> Arc<dyn PreconditionerFactory> {
    Arc::new(Ic0Factory)
}

// ---------------------------------------------------------------------------------------------
// ILU(0)

/// Factory for [`Ilu0`], registered as `ilu0`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ilu0Factory;

impl PreconditionerFactory for Ilu0Factory {
    fn name(&self) -> &'static str {
        "ilu0"
    }

    fn build(&self, a: &CsrMatrix) -> Result<Box<dyn Preconditioner>, SolveError> {
        Ok(Box::new(Ilu0::try_new(a)?))
    }
}

/// Incomplete LU factorisation with zero fill, `A ≈ L U`.
#[derive(Debug, Clone)]
pub struct Ilu0 {
    /// `L` strictly below the diagonal (unit diagonal implied), `U` on and above it.
    factors: CsrMatrix,
    /// Position of each row's diagonal entry in the value array.
    diag: Vec<usize>,
    /// `1 / u_ii`.
    inv_pivot: Vec<f64>,
}

impl Ilu0 {
    /// Factorises `a` on its own pattern.
    ///
    /// # Errors
    /// [`SolveError::DimensionMismatch`] if `a` is not square; [`SolveError::Factorization`]
    /// (method `ilu0`) naming the first row without a stored diagonal entry, with a zero or
    /// non-finite pivot, or with a non-finite factor entry.
    pub fn try_new(a: &CsrMatrix) -> Result<Self, SolveError> {
        let diag = diagonal_positions(a, "ilu0")?;
        let n = a.nrows();
        let pattern = a.pattern();
        let (rp, ci) = (pattern.row_ptr(), pattern.col_idx());
        let mut lu = a.values().to_vec();
        let mut inv_pivot = Vec::with_capacity(n);
        let mut marker = vec![NONE; n];
        let fail = |detail: String| SolveError::Factorization {
            method: "ilu0".into(),
            detail,
        };
        for i in 0..n {
            let (start, end) = (rp[i], rp[i + 1]);
            for p in start..end {
                marker[ci[p] as usize] = p;
            }
            // Eliminate with every earlier row k stored in row i, in increasing order of k.
            for p in start..diag[i] {
                let k = ci[p] as usize;
                let l_ik = lu[p] * inv_pivot[k];
                lu[p] = l_ik;
                for q in diag[k] + 1..rp[k + 1] {
                    let m = marker[ci[q] as usize];
                    if m != NONE {
                        lu[m] -= l_ik * lu[q];
                    }
                }
            }
            for p in start..end {
                marker[ci[p] as usize] = NONE;
            }
            let pivot = lu[diag[i]];
            let inv = 1.0 / pivot;
            if pivot == 0.0 || !pivot.is_finite() || !inv.is_finite() {
                return Err(fail(format!(
                    "pivot of row {i} is {pivot}; ILU(0) needs non-zero, finite pivots"
                )));
            }
            if let Some(p) = (start..end).find(|&p| !lu[p].is_finite()) {
                return Err(fail(format!(
                    "entry ({i}, {}) of the factors is {}",
                    ci[p], lu[p]
                )));
            }
            inv_pivot.push(inv);
        }
        let factors = CsrMatrix::try_from_pattern_and_values(Arc::clone(pattern), lu)
            .map_err(|e| SolveError::Backend(Box::new(e)))?;
        Ok(Self {
            factors,
            diag,
            inv_pivot,
        })
    }

    /// The factors on the pattern of `A` (the same `Arc`): `L` strictly below the diagonal
    /// (its unit diagonal is not stored), `U` on and above it.
    pub fn factors(&self) -> &CsrMatrix {
        &self.factors
    }
}

impl Preconditioner for Ilu0 {
    fn name(&self) -> &str {
        "ilu0"
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        let n = self.diag.len();
        assert_eq!(r.len(), n, "ilu0: r has the wrong length");
        assert_eq!(z.len(), n, "ilu0: z has the wrong length");
        let pattern = self.factors.pattern();
        let (rp, ci, v) = (pattern.row_ptr(), pattern.col_idx(), self.factors.values());
        // L y = r (unit lower), y stored in z.
        for i in 0..n {
            let mut s = r[i];
            for p in rp[i]..self.diag[i] {
                s -= v[p] * z[ci[p] as usize];
            }
            z[i] = s;
        }
        // U z = y, in place.
        for i in (0..n).rev() {
            let mut s = z[i];
            for p in self.diag[i] + 1..rp[i + 1] {
                s -= v[p] * z[ci[p] as usize];
            }
            z[i] = s * self.inv_pivot[i];
        }
    }

    /// The factor values and the per-row arrays; the pattern is shared with `A`.
    fn memory_bytes(&self) -> usize {
        (self.factors.nnz() + self.inv_pivot.capacity()) * std::mem::size_of::<f64>()
            + self.diag.capacity() * std::mem::size_of::<usize>()
    }
}

// ---------------------------------------------------------------------------------------------
// IC(0)

/// Factory for [`Ic0`], registered as `ic0`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ic0Factory;

impl PreconditionerFactory for Ic0Factory {
    fn name(&self) -> &'static str {
        "ic0"
    }

    fn build(&self, a: &CsrMatrix) -> Result<Box<dyn Preconditioner>, SolveError> {
        Ok(Box::new(Ic0::try_new(a)?))
    }
}

/// Incomplete Cholesky factorisation with zero fill, `A + α diag(A) ≈ L Lᵀ`.
#[derive(Debug, Clone)]
pub struct Ic0 {
    /// `L` on the lower triangle of the pattern of `A`; each row ends with its diagonal.
    factor: CsrMatrix,
    /// `1 / l_ii`.
    inv_diag: Vec<f64>,
    /// The diagonal shift `α` used (0 when no shift was needed).
    shift: f64,
}

/// Why one IC(0) attempt failed: the row and its pivot.
struct Breakdown {
    row: usize,
    pivot: f64,
}

impl Ic0 {
    /// Factorises `a`, which must be symmetric positive definite. Only the lower triangle
    /// (including the diagonal) is read; symmetry is assumed, not checked.
    ///
    /// # Errors
    /// [`SolveError::DimensionMismatch`] if `a` is not square; [`SolveError::Factorization`]
    /// (method `ic0`) naming the first row whose diagonal entry is missing, not positive or not
    /// finite, or the row where the factorisation still breaks down with the largest shift.
    pub fn try_new(a: &CsrMatrix) -> Result<Self, SolveError> {
        let diag = diagonal_positions(a, "ic0")?;
        let n = a.nrows();
        let fail = |detail: String| SolveError::Factorization {
            method: "ic0".into(),
            detail,
        };
        // Lower triangle of the pattern; the diagonal closes each row.
        let (rp, ci, av) = (a.pattern().row_ptr(), a.pattern().col_idx(), a.values());
        let lower_nnz: usize = (0..n).map(|i| diag[i] + 1 - rp[i]).sum();
        let mut row_ptr = Vec::with_capacity(n + 1);
        let mut col_idx = Vec::with_capacity(lower_nnz);
        let mut lower = Vec::with_capacity(lower_nnz);
        row_ptr.push(0);
        for i in 0..n {
            let d = av[diag[i]];
            if !(d > 0.0 && d.is_finite()) {
                return Err(fail(format!(
                    "diagonal entry of row {i} is {d}; IC(0) needs a positive, finite diagonal"
                )));
            }
            for p in rp[i]..=diag[i] {
                if !av[p].is_finite() {
                    return Err(fail(format!("entry ({i}, {}) of A is {}", ci[p], av[p])));
                }
            }
            col_idx.extend_from_slice(&ci[rp[i]..=diag[i]]);
            lower.extend_from_slice(&av[rp[i]..=diag[i]]);
            row_ptr.push(col_idx.len());
        }
        let pattern = SparsityPattern::try_new(n, n, row_ptr, col_idx)
            .map_err(|e| SolveError::Backend(Box::new(e)))?;

        let mut l = vec![0.0; lower.len()];
        let mut marker = vec![NONE; n];
        let mut shift = 0.0;
        let mut tries = 0;
        loop {
            match ic0_factorize(&pattern, &lower, shift, &mut l, &mut marker) {
                Ok(()) => break,
                Err(Breakdown { row, pivot }) => {
                    if tries == IC0_MAX_SHIFT_TRIES {
                        return Err(fail(format!(
                            "pivot of row {row} is {pivot} even with the diagonal shift \
                             A + {shift} diag(A) (matrix not positive definite?)"
                        )));
                    }
                    tracing::debug!(
                        row,
                        pivot,
                        shift,
                        "ic0 breakdown, retrying with a larger shift"
                    );
                    shift = if tries == 0 {
                        IC0_INITIAL_SHIFT
                    } else {
                        2.0 * shift
                    };
                    tries += 1;
                }
            }
        }
        if shift > 0.0 {
            tracing::debug!(shift, tries, "ic0 factorised with a diagonal shift");
        }
        let rp = pattern.row_ptr();
        let inv_diag = (0..n).map(|i| 1.0 / l[rp[i + 1] - 1]).collect();
        let factor = CsrMatrix::try_from_pattern_and_values(Arc::new(pattern), l)
            .map_err(|e| SolveError::Backend(Box::new(e)))?;
        Ok(Self {
            factor,
            inv_diag,
            shift,
        })
    }

    /// The diagonal shift `α` of the factorised matrix `A + α diag(A)`; 0 when IC(0) of `A`
    /// itself succeeded.
    pub fn shift(&self) -> f64 {
        self.shift
    }

    /// The factor `L` on the lower triangle of the pattern of `A` (diagonal included).
    pub fn factor(&self) -> &CsrMatrix {
        &self.factor
    }
}

/// One IC(0) attempt on the lower triangle `lower` (values on `pattern`) of `A + shift diag(A)`,
/// writing `L` into `l`. `marker` must be all [`NONE`] on entry and is so again on return.
fn ic0_factorize(
    pattern: &SparsityPattern,
    lower: &[f64],
    shift: f64,
    l: &mut [f64],
    marker: &mut [usize],
) -> Result<(), Breakdown> {
    let (rp, ci) = (pattern.row_ptr(), pattern.col_idx());
    l.copy_from_slice(lower);
    for i in 0..pattern.nrows() {
        let (start, dpos) = (rp[i], rp[i + 1] - 1);
        for p in start..dpos {
            marker[ci[p] as usize] = p;
        }
        // l_ij = (a_ij - Σ_{k<j} l_ik l_jk) / l_jj for the stored j < i, in increasing order,
        // so that every l_ik with k < j is final when row j is merged in.
        let mut sum_sq = 0.0;
        for p in start..dpos {
            let j = ci[p] as usize;
            let jd = rp[j + 1] - 1;
            let mut s = l[p];
            for q in rp[j]..jd {
                let m = marker[ci[q] as usize];
                if m != NONE {
                    s -= l[m] * l[q];
                }
            }
            let l_ij = s / l[jd];
            l[p] = l_ij;
            sum_sq += l_ij * l_ij;
        }
        for p in start..dpos {
            marker[ci[p] as usize] = NONE;
        }
        let a_ii = l[dpos] * (1.0 + shift);
        let pivot = a_ii - sum_sq;
        // A pivot at round-off level relative to a_ii counts as a breakdown too: its root
        // would blow the next rows up.
        if !(pivot > f64::EPSILON * a_ii && pivot.is_finite()) {
            return Err(Breakdown { row: i, pivot });
        }
        l[dpos] = pivot.sqrt();
    }
    Ok(())
}

impl Preconditioner for Ic0 {
    fn name(&self) -> &str {
        "ic0"
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        let n = self.inv_diag.len();
        assert_eq!(r.len(), n, "ic0: r has the wrong length");
        assert_eq!(z.len(), n, "ic0: z has the wrong length");
        let pattern = self.factor.pattern();
        let (rp, ci, v) = (pattern.row_ptr(), pattern.col_idx(), self.factor.values());
        // L y = r, y stored in z.
        for i in 0..n {
            let mut s = r[i];
            for p in rp[i]..rp[i + 1] - 1 {
                s -= v[p] * z[ci[p] as usize];
            }
            z[i] = s * self.inv_diag[i];
        }
        // Lᵀ z = y, in place, column-oriented on the rows of L.
        for i in (0..n).rev() {
            let zi = z[i] * self.inv_diag[i];
            z[i] = zi;
            for p in rp[i]..rp[i + 1] - 1 {
                z[ci[p] as usize] -= v[p] * zi;
            }
        }
    }

    /// The factor (pattern and values) and the inverse diagonal.
    fn memory_bytes(&self) -> usize {
        self.factor.memory_bytes() + self.inv_diag.capacity() * std::mem::size_of::<f64>()
    }
}
