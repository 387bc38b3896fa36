//! Checking a computed solution independently of the solver that produced it.
//!
//! A solver's report is a claim; [`verify_solution`] checks it with one pass over the matrix
//! (the cost of one SpMV): every entry of `x` must be finite, and the true residual
//! `r = b − A x` must meet the tolerance the solve was asked for, up to a documented slack:
//!
//! ```text
//! ‖r‖₂ ≤ min(VERIFY_FACTOR · t, max(t, SLACK_CAP · ‖b‖₂)),
//!         t = max(tolerance · ‖b‖₂, absolute_tolerance)                  (normwise), or
//! ω = maxᵢ |rᵢ| / (Σⱼ |aᵢⱼ| |xⱼ| + |bᵢ|) ≤ BACKWARD_ERROR_FLOOR            (componentwise)
//! ```
//!
//! The slack [`VERIFY_FACTOR`] allows for Krylov methods whose stopping test uses a recursively
//! updated or preconditioned residual that drifts from the true one. The componentwise
//! backward error ω (Oettli–Prager) accepts solutions that are exact for a problem whose data
//! were perturbed by at most [`BACKWARD_ERROR_FLOOR`] relative to each entry: a stable direct
//! solve of an ill-conditioned system (a 1D mesh with 10⁷ cells) has a large relative residual
//! but a backward error of a few ulps, and no solver can do better than rounding allows.

use crate::error::SolveError;
use crate::report::SolveReport;
use crate::solver::{RowShare, SolverOptions};
use crate::sparse::CsrMatrix;

/// Slack of the normwise check: the true residual may exceed the requested one by this factor.
pub const VERIFY_FACTOR: f64 = 100.0;

/// The slack of the normwise check stops at this fraction of `‖b‖` (or at the requested
/// residual, if that is larger): a loose tolerance must not accept `x = 0`.
pub const SLACK_CAP: f64 = 0.5;

/// Componentwise backward error below which a solution is accepted whatever its normwise
/// residual (about 4.5 × 10⁵ units of rounding).
pub const BACKWARD_ERROR_FLOOR: f64 = 1e-10;

mod confirm;
mod refine;
pub use confirm::{CORRECTION_LIMIT, confirm_solution, confirm_solution_shared};
pub use refine::{MAX_REFINEMENTS, Refinement, refine_componentwise};

/// What [`verify_solution`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verification {
    /// `‖b − A x‖₂`.
    pub residual: f64,
    /// `‖b − A x‖₂ / ‖b‖₂` (`‖b‖ = 0` counts as 1, as in [`SolveReport`]).
    pub relative_residual: f64,
    /// The componentwise backward error `maxᵢ |rᵢ| / (Σⱼ |aᵢⱼ| |xⱼ| + |bᵢ|)` (rows whose
    /// denominator is 0 count only when their residual is not 0, then as infinity).
    pub backward_error: f64,
    /// The largest `‖r‖₂` the normwise check accepted.
    pub accepted_residual: f64,
}

/// Checks that `x` is finite and solves `A x = b` to the tolerance of `options` (see the
/// module documentation), independently of what `report` claims.
///
/// # Errors
/// [`SolveError::DimensionMismatch`] when the lengths do not fit the matrix,
/// [`SolveError::NonFiniteSolution`] when an entry of `x` is NaN or infinite,
/// [`SolveError::Unverified`] when the true residual fails both checks; both name the solver
/// from `report` and carry the reported and the verified residuals.
pub fn verify_solution(
    a: &CsrMatrix,
    b: &[f64],
    x: &[f64],
    report: &SolveReport,
    options: &SolverOptions,
) -> Result<Verification, SolveError> {
    crate::checks::check_system(a, b, x)?;
    let n = a.nrows();
    let bad = x.iter().filter(|v| !v.is_finite()).count();
    if bad > 0 {
        let first = x.iter().position(|v| !v.is_finite()).unwrap_or(0);
        return Err(SolveError::NonFiniteSolution {
            solver: report.solver.clone(),
            count: bad,
            first_index: first,
            reported_relative_residual: report.final_relative_residual,
        });
    }
    let (residual, bnorm, omega) = row_residuals(a, b, x, 0..n).norms();
    judge(residual, bnorm, omega, report, options)
}

/// [`verify_solution`] for a system whose rows are shared between processes
/// ([`RowShare`]): each checks its own rows of `a` (the others may be incomplete) and `x`
/// (whole on every process), and the norms, the backward error and the count of non-finite
/// entries are combined across the processes, so every process reaches the same verdict.
/// Collective.
///
/// # Errors
/// As [`verify_solution`]; the transport's.
pub fn verify_solution_shared(
    a: &CsrMatrix,
    b: &[f64],
    x: &[f64],
    report: &SolveReport,
    options: &SolverOptions,
    share: &RowShare,
) -> Result<Verification, SolveError> {
    crate::checks::check_system(a, b, x)?;
    let rows = share.rows.start.min(a.nrows())..share.rows.end.min(a.nrows());
    let bad = x[rows.clone()].iter().filter(|v| !v.is_finite()).count();
    let mut counts = [bad as f64];
    (share.sum)(&mut counts)?;
    if counts[0] > 0.0 {
        return Err(SolveError::NonFiniteSolution {
            solver: report.solver.clone(),
            count: counts[0] as usize,
            first_index: x.iter().position(|v| !v.is_finite()).unwrap_or(0),
            reported_relative_residual: report.final_relative_residual,
        });
    }
    let local = row_residuals(a, b, x, rows);
    let (residual, bnorm, omega) = local.across(share)?;
    judge(residual, bnorm, omega, report, options)
}

/// The largest of each of `values` over the processes of `share` (a NaN on any process stays
/// NaN). Collective.
fn max_across<const N: usize>(values: [f64; N], share: &RowShare) -> Result<[f64; N], SolveError> {
    let (p, rank) = (share.ranks, share.rank);
    let mut slots = vec![0.0; N * p];
    for (k, v) in values.into_iter().enumerate() {
        slots[k * p + rank] = v;
    }
    (share.sum)(&mut slots)?;
    // A NaN (an overflow in A x on some process) must not vanish in the maximum.
    Ok(std::array::from_fn(|k| {
        slots[k * p..(k + 1) * p]
            .iter()
            .copied()
            .fold(0.0, |m: f64, x: f64| {
                if m.is_nan() || x.is_nan() {
                    f64::NAN
                } else {
                    m.max(x)
                }
            })
    }))
}

/// Sums of squares of the residual and of `b` and the backward error over some rows.
struct RowResiduals {
    r2: ScaledSquares,
    b2: ScaledSquares,
    omega: f64,
}

impl RowResiduals {
    /// No rows (the identity of [`RowResiduals::join`]).
    const NONE: Self = Self {
        r2: ScaledSquares::ZERO,
        b2: ScaledSquares::ZERO,
        omega: 0.0,
    };

    /// Both sets of rows.
    fn join(self, other: Self) -> Self {
        Self {
            r2: self.r2.join(other.r2),
            b2: self.b2.join(other.b2),
            omega: nan_max(self.omega, other.omega),
        }
    }

    /// `(‖r‖₂, ‖b‖₂, ω)` over these rows.
    fn norms(&self) -> (f64, f64, f64) {
        (self.r2.norm(), self.b2.norm(), self.omega)
    }

    /// `(‖r‖₂, ‖b‖₂, ω)` over the rows of every process of `share`, each process holding its
    /// own rows' part. Collective.
    fn across(&self, share: &RowShare) -> Result<(f64, f64, f64), SolveError> {
        // Scaled sums of squares: the largest scale first, then each process's sum rescaled
        // to it.
        let [r_scale, b_scale, omega] =
            max_across([self.r2.scale, self.b2.scale, self.omega], share)?;
        let rescaled = |part: &ScaledSquares, scale: f64| {
            if part.scale == 0.0 {
                0.0
            } else {
                part.ssq * (part.scale / scale).powi(2)
            }
        };
        let mut sums = [rescaled(&self.r2, r_scale), rescaled(&self.b2, b_scale)];
        (share.sum)(&mut sums)?;
        let norm = |scale: f64, ssq: f64| {
            if scale == 0.0 {
                0.0
            } else {
                scale * ssq.sqrt()
            }
        };
        Ok((norm(r_scale, sums[0]), norm(b_scale, sums[1]), omega))
    }
}

/// One row's residual `r_i = b_i − Σ_j a_ij x_j` and componentwise backward error
/// `|r_i| / (Σ_j |a_ij x_j| + |b_i|)` from its `terms` `a_ij x_j` (a row whose denominator is 0
/// counts only when its residual is not, then as infinity): what [`verify_solution`] and the
/// distributed solvers' own check compute per row.
pub fn row_residual(b_i: f64, terms: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut ax, mut scale) = (0.0, b_i.abs());
    for term in terms {
        ax += term;
        scale += term.abs();
    }
    let r = b_i - ax;
    let w = if scale > 0.0 {
        r.abs() / scale
    } else if r == 0.0 {
        0.0
    } else {
        f64::INFINITY
    };
    (r, w)
}

/// The larger of `a` and `b`, NaN if either is: a row whose residual overflowed (`A x` beyond
/// the floating-point range) has a NaN backward error, which must fail the check rather than
/// vanish in `f64::max`.
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Rows per work item of the residual pass.
const ROW_CHUNK: usize = 16_384;

/// [`chunk_residuals`] over fixed chunks of `rows`, in parallel, combined in chunk order: the
/// result does not depend on the thread count.
fn row_residuals(
    a: &CsrMatrix,
    b: &[f64],
    x: &[f64],
    rows: std::ops::Range<usize>,
) -> RowResiduals {
    use rayon::prelude::*;
    let chunks = rows.len().div_ceil(ROW_CHUNK);
    if chunks <= 1 {
        return chunk_residuals(a, b, x, rows);
    }
    let parts: Vec<RowResiduals> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let start = rows.start + c * ROW_CHUNK;
            chunk_residuals(a, b, x, start..(start + ROW_CHUNK).min(rows.end))
        })
        .collect();
    parts
        .into_iter()
        .fold(RowResiduals::NONE, RowResiduals::join)
}

/// Residual rows whose largest entry lies in this range have sums of squares that neither
/// overflow nor lose anything that matters to underflow (an entry `1e-100` below the largest
/// contributes less than `1e-200` of the sum).
const PLAIN_SQUARES: std::ops::RangeInclusive<f64> = 1e-100..=1e100;

fn chunk_residuals(
    a: &CsrMatrix,
    b: &[f64],
    x: &[f64],
    rows: std::ops::Range<usize>,
) -> RowResiduals {
    let (row_ptr, cols, values) = (a.pattern().row_ptr(), a.pattern().col_idx(), a.values());
    let row = |i: usize| {
        let terms = (row_ptr[i]..row_ptr[i + 1]).map(|k| values[k] * x[cols[k] as usize]);
        row_residual(b[i], terms)
    };
    // Plain sums of squares first (no division per row); out of their safe range, the chunk
    // again with LAPACK's dnrm2 scaling, updated per entry: squares of entries below 1e-154
    // would underflow, and a residual of 1e-200 · 1 must not read as 0.
    let (mut r2, mut b2, mut r_max, mut b_max, mut omega) = (0.0, 0.0, 0.0f64, 0.0f64, 0.0f64);
    for i in rows.clone() {
        let (r, w) = row(i);
        r2 += r * r;
        b2 += b[i] * b[i];
        r_max = r_max.max(r.abs());
        b_max = b_max.max(b[i].abs());
        omega = nan_max(omega, w);
    }
    let plain = |sum: f64, max: f64| {
        (sum.is_finite() && (max == 0.0 || PLAIN_SQUARES.contains(&max))).then(|| {
            if max == 0.0 {
                ScaledSquares::default()
            } else {
                ScaledSquares {
                    scale: max,
                    ssq: sum / (max * max),
                }
            }
        })
    };
    if let (Some(r2), Some(b2)) = (plain(r2, r_max), plain(b2, b_max)) {
        return RowResiduals { r2, b2, omega };
    }
    let (mut r2, mut b2) = (ScaledSquares::default(), ScaledSquares::default());
    for i in rows {
        r2.add(row(i).0);
        b2.add(b[i]);
    }
    RowResiduals { r2, b2, omega }
}

/// The verdict on a residual norm, `‖b‖` and the backward error.
fn judge(
    residual: f64,
    bnorm: f64,
    omega: f64,
    report: &SolveReport,
    options: &SolverOptions,
) -> Result<Verification, SolveError> {
    judge_residual(
        residual,
        bnorm,
        omega,
        report,
        options.tolerance,
        options.absolute_tolerance,
    )
}

/// The verdict of [`verify_solution`] on what it measures — `‖b − A x‖₂`, `‖b‖₂` and the
/// componentwise backward error — for solvers that measure them themselves (the distributed
/// Krylov methods, across their ranks), so that every solver is held to one rule.
///
/// # Errors
/// [`SolveError::Unverified`] when both checks fail.
pub fn judge_residual(
    residual: f64,
    bnorm: f64,
    omega: f64,
    report: &SolveReport,
    tolerance: f64,
    absolute_tolerance: f64,
) -> Result<Verification, SolveError> {
    let relative_residual = if bnorm > 0.0 {
        residual / bnorm
    } else {
        residual
    };
    let asked = (tolerance * bnorm).max(absolute_tolerance);
    // The slack never reaches ‖b‖ unless the tolerance itself does: with a tolerance of 0.01,
    // 100× would accept `x = 0`, whose residual is `b`.
    let accepted_residual = (VERIFY_FACTOR * asked).min(asked.max(SLACK_CAP * bnorm));
    let verification = Verification {
        residual,
        relative_residual,
        backward_error: omega,
        accepted_residual,
    };
    // A NaN residual (overflow in A x) fails both comparisons.
    if residual <= accepted_residual || omega <= BACKWARD_ERROR_FLOOR {
        Ok(verification)
    } else {
        Err(SolveError::Unverified {
            solver: report.solver.clone(),
            reported_relative_residual: report.final_relative_residual,
            verified_relative_residual: relative_residual,
            backward_error: omega,
            tolerance,
            factor: VERIFY_FACTOR,
        })
    }
}

/// A sum of squares kept as `scale² · ssq` so that it neither underflows nor overflows.
#[derive(Debug, Clone, Copy)]
struct ScaledSquares {
    scale: f64,
    ssq: f64,
}

impl ScaledSquares {
    /// The empty sum.
    const ZERO: Self = Self {
        scale: 0.0,
        ssq: 1.0,
    };
}

impl Default for ScaledSquares {
    fn default() -> Self {
        Self::ZERO
    }
}

impl ScaledSquares {
    fn add(&mut self, v: f64) {
        let a = v.abs();
        if a == 0.0 {
            return;
        }
        if a > self.scale || a.is_nan() {
            self.ssq = 1.0 + self.ssq * (self.scale / a).powi(2);
            self.scale = a;
        } else {
            self.ssq += (a / self.scale).powi(2);
        }
    }

    /// The sum over both sets of values (NaN if either holds a NaN).
    fn join(self, other: Self) -> Self {
        if self.scale.is_nan() || other.scale.is_nan() {
            return Self {
                scale: f64::NAN,
                ssq: f64::NAN,
            };
        }
        if self.scale == 0.0 {
            return other;
        }
        if other.scale == 0.0 {
            return self;
        }
        let scale = self.scale.max(other.scale);
        Self {
            scale,
            ssq: self.ssq * (self.scale / scale).powi(2)
                + other.ssq * (other.scale / scale).powi(2),
        }
    }

    /// `sqrt(Σ v²)`; NaN if a NaN was added.
    fn norm(&self) -> f64 {
        self.scale * self.ssq.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparse::SparsityPattern;
    use std::sync::Arc;

    fn matrix(n: usize, triplets: &[(usize, usize, f64)]) -> CsrMatrix {
        let entries: Vec<(usize, usize)> = triplets.iter().map(|&(i, j, _)| (i, j)).collect();
        let pattern = Arc::new(SparsityPattern::try_from_entries(n, n, &entries).unwrap());
        let mut values = vec![0.0; pattern.col_idx().len()];
        for &(i, j, v) in triplets {
            values[pattern.find(i, j).unwrap()] = v;
        }
        CsrMatrix::try_from_pattern_and_values(pattern, values).unwrap()
    }

    /// Two in-thread "processes" sharing rows 0..2 and 2..5, summing through a barrier.
    fn shared_pair() -> [RowShare; 2] {
        use std::sync::{Barrier, Mutex};
        let state = Arc::new((Barrier::new(2), Mutex::new(Vec::<f64>::new())));
        let share = |rank: usize, rows: std::ops::Range<usize>| {
            let state = state.clone();
            RowShare {
                rows,
                rank,
                ranks: 2,
                counts: vec![2, 3],
                sum: Arc::new(move |values: &mut [f64]| {
                    let (barrier, acc) = &*state;
                    {
                        let mut acc = acc.lock().unwrap();
                        acc.resize(values.len(), 0.0);
                        acc.iter_mut().zip(values.iter()).for_each(|(a, v)| *a += v);
                    }
                    barrier.wait();
                    values.copy_from_slice(&acc.lock().unwrap());
                    if barrier.wait().is_leader() {
                        acc.lock().unwrap().clear();
                    }
                    barrier.wait();
                    Ok(())
                }),
            }
        };
        [share(0, 0..2), share(1, 2..5)]
    }

    #[test]
    fn a_share_takes_new_counts_only_when_they_split_the_same_rows() {
        let [_, second] = shared_pair();
        let moved = second.clone().with_counts(vec![4, 1]).unwrap();
        assert_eq!((moved.rows, moved.counts), (4..5, vec![4, 1]));
        for bad in [vec![5], vec![3, 3], vec![5, 0], vec![usize::MAX, 2]] {
            assert!(second.clone().with_counts(bad).is_err());
        }
    }

    #[test]
    fn shared_rows_reach_the_serial_verdict_on_every_process() {
        let a = laplacian(5);
        let opts = SolverOptions::default();
        let b = vec![1.0, 0.0, 1e-3, 0.0, 1.0];
        for x in [vec![0.0; 5], vec![1.0, 1.0, 1.0005, 1.0, 1.0], vec![0.5; 5]] {
            let serial = verify_solution(&a, &b, &x, &report(0.0), &opts);
            let verdicts: Vec<_> = std::thread::scope(|s| {
                shared_pair()
                    .map(|share| {
                        let (a, b, x, opts) = (&a, &b, &x, &opts);
                        s.spawn(move || verify_solution_shared(a, b, x, &report(0.0), opts, &share))
                    })
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .collect()
            });
            for v in verdicts {
                match (&serial, &v) {
                    (Ok(s), Ok(v)) => {
                        assert!((s.residual - v.residual).abs() <= 1e-15 * s.residual.max(1e-300));
                        assert_eq!(s.backward_error, v.backward_error);
                    }
                    (Err(_), Err(_)) => {}
                    other => panic!("{other:?}"),
                }
            }
        }
        let mut nan = vec![0.0; 5];
        nan[4] = f64::NAN;
        let errs: Vec<_> = std::thread::scope(|s| {
            shared_pair()
                .map(|share| {
                    let (a, b, nan, opts) = (&a, &b, &nan, &opts);
                    s.spawn(move || verify_solution_shared(a, b, nan, &report(0.0), opts, &share))
                })
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect()
        });
        assert!(
            errs.iter()
                .all(|e| matches!(e, Err(SolveError::NonFiniteSolution { count: 1, .. })))
        );
    }

    #[test]
    fn chunks_of_different_scales_combine_to_the_whole_norm() {
        // Several chunks of the parallel pass: one of residuals near 1e-200 (beyond the plain
        // sum of squares), one near 1e200, the rest of order 1; the norms must be those of
        // the whole vectors, as one scaled pass over all rows gives them (to the rounding of
        // summing 50,000 squares in a different order).
        let n = 3 * ROW_CHUNK + 11;
        let a = laplacian(n);
        let x = vec![0.0; n];
        for (tiny, huge) in [(1e-200, 1.0), (1.0, 1e200), (1e-200, 1e200), (1.0, 1.0)] {
            let b: Vec<f64> = (0..n)
                .map(|i| match i / ROW_CHUNK {
                    0 => tiny * (1.0 + (i % 7) as f64),
                    2 => huge * (1.0 + (i % 5) as f64),
                    _ => 0.5,
                })
                .collect();
            let mut expected = ScaledSquares::default();
            b.iter().for_each(|&v| expected.add(v));
            let whole = row_residuals(&a, &b, &x, 0..n);
            for got in [whole.r2.norm(), whole.b2.norm()] {
                assert!(
                    (got - expected.norm()).abs() <= 1e-11 * expected.norm(),
                    "{tiny:e} {huge:e}: {got:e} vs {:e}",
                    expected.norm()
                );
            }
        }
    }

    #[test]
    fn tiny_and_huge_systems_are_judged_by_their_own_scale() {
        let a = laplacian(5);
        let opts = SolverOptions::default();
        for scale in [1e-200, 1e200] {
            let b: Vec<f64> = vec![scale; 5];
            // x = 0 leaves r = b: a relative residual of 1, however small b is.
            let err = verify_solution(&a, &b, &[0.0; 5], &report(0.0), &opts).unwrap_err();
            assert!(
                matches!(err, SolveError::Unverified { verified_relative_residual, .. }
                    if (verified_relative_residual - 1.0).abs() < 1e-12),
                "{scale:e}: {err:?}"
            );
            // The exact solution passes: x = scale * [2.5, 4, 4.5, 4, 2.5].
            let x: Vec<f64> = [2.5, 4.0, 4.5, 4.0, 2.5]
                .iter()
                .map(|v| v * scale)
                .collect();
            let v = verify_solution(&a, &b, &x, &report(0.0), &opts).unwrap();
            assert!(v.relative_residual < 1e-14, "{scale:e}: {v:?}");
        }
    }

    /// The 1D Laplacian tridiag(-1, 2, -1) on `n` unknowns.
    fn laplacian(n: usize) -> CsrMatrix {
        let mut triplets = Vec::new();
        for i in 0..n {
            triplets.push((i, i, 2.0));
            if i > 0 {
                triplets.push((i, i - 1, -1.0));
            }
            if i + 1 < n {
                triplets.push((i, i + 1, -1.0));
            }
        }
        matrix(n, &triplets)
    }

    fn report(residual: f64) -> SolveReport {
        let mut r = SolveReport::new("test-solver", "none");
        r.final_relative_residual = residual;
        r
    }

    #[test]
    fn an_exact_solution_passes_with_its_residuals() {
        let a = laplacian(5);
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let mut b = vec![0.0; 5];
        a.mul_vec_into(&x, &mut b);
        let v = verify_solution(&a, &b, &x, &report(0.0), &SolverOptions::default()).unwrap();
        assert_eq!(v.residual, 0.0);
        assert_eq!(v.backward_error, 0.0);
    }

    #[test]
    fn a_wrong_solution_that_claims_convergence_is_refused_naming_both_residuals() {
        let a = laplacian(5);
        let b = vec![1.0; 5];
        let x = vec![42.0; 5];
        let e = verify_solution(&a, &b, &x, &report(0.0), &SolverOptions::default()).unwrap_err();
        match &e {
            SolveError::Unverified {
                solver,
                reported_relative_residual,
                verified_relative_residual,
                ..
            } => {
                assert_eq!(solver, "test-solver");
                assert_eq!(*reported_relative_residual, 0.0);
                // r = b - A x = 1 - [42, 0, 0, 0, 42]: ‖r‖ = sqrt(2·41² + 3), ‖b‖ = sqrt(5).
                let expected = (2.0 * 41.0f64.powi(2) + 3.0).sqrt() / 5f64.sqrt();
                assert!((verified_relative_residual - expected).abs() < 1e-12);
            }
            other => panic!("expected Unverified, got {other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.contains("test-solver") && text.contains("0.000e0"),
            "{text}"
        );
    }

    #[test]
    fn non_finite_entries_are_counted_and_located() {
        let a = laplacian(4);
        let x = [0.0, f64::NAN, 1.0, f64::INFINITY];
        let e = verify_solution(&a, &[1.0; 4], &x, &report(0.0), &SolverOptions::default())
            .unwrap_err();
        assert!(matches!(
            e,
            SolveError::NonFiniteSolution {
                count: 2,
                first_index: 1,
                ..
            }
        ));
    }

    #[test]
    fn a_finite_solution_whose_residual_overflows_is_refused() {
        // Review Q: `A x` overflows (1e308 · 1e308 and inf − inf), the rows' backward errors
        // are NaN, and `f64::max` dropped them: ω = 0 accepted the solution. Large enough
        // (several chunks, and the parallel path) that the NaN must survive the combination.
        for n in [3, 40_000] {
            let triplets: Vec<(usize, usize, f64)> = (0..n).map(|i| (i, i, 1e308)).collect();
            let a = matrix(n, &triplets);
            let mut x = vec![1.0; n];
            x[n / 2] = 1e308;
            let e = verify_solution(
                &a,
                &vec![1.0; n],
                &x,
                &report(0.0),
                &SolverOptions::default(),
            )
            .unwrap_err();
            match e {
                SolveError::Unverified {
                    verified_relative_residual: r,
                    backward_error: w,
                    ..
                } => assert!(!r.is_finite() && w.is_nan(), "{r} {w}"),
                other => panic!("{n}: {other}"),
            }
        }
    }

    #[test]
    fn the_slack_is_the_documented_factor() {
        let a = laplacian(3);
        let x = [1.0, 1.0, 1.0];
        let mut b = vec![0.0; 3];
        a.mul_vec_into(&x, &mut b); // b = [1, 0, 1], ‖b‖ = sqrt(2)
        let options = SolverOptions {
            tolerance: 1e-3,
            ..Default::default()
        };
        let bnorm = 2f64.sqrt();
        // Perturb x[1] by d: r = [d, -2d, d], ‖r‖ = sqrt(6) d; componentwise ω ≈ d/1 ≫ floor.
        let at = |ratio: f64| {
            let d = ratio * VERIFY_FACTOR * 1e-3 * bnorm / 6f64.sqrt();
            verify_solution(&a, &b, &[1.0, 1.0 + d, 1.0], &report(0.0), &options)
        };
        assert!(at(0.9).is_ok());
        assert!(matches!(at(1.1), Err(SolveError::Unverified { .. })));
    }

    /// A loose tolerance does not make the slack accept `x = 0` (residual `b`): it stops at
    /// half of `‖b‖`, unless the tolerance asked for more.
    #[test]
    fn the_slack_stops_below_the_right_hand_side() {
        let a = laplacian(3);
        let b = [1.0, 0.0, 1.0];
        let zero = [0.0; 3];
        for tolerance in [0.01, 0.1, 0.4] {
            let options = SolverOptions {
                tolerance,
                ..Default::default()
            };
            let e = verify_solution(&a, &b, &zero, &report(1e-14), &options).unwrap_err();
            assert!(
                matches!(e, SolveError::Unverified { .. }),
                "{tolerance}: {e:?}"
            );
        }
        // Asked for: a tolerance of 1 (or an absolute one of ‖b‖) accepts it.
        let options = SolverOptions {
            tolerance: 1.0,
            ..Default::default()
        };
        verify_solution(&a, &b, &zero, &report(1e-14), &options).unwrap();
        // Below the cap the factor still applies: 0.004 × 100 = 0.4 ‖b‖.
        let options = SolverOptions {
            tolerance: 0.004,
            ..Default::default()
        };
        let v = verify_solution(&a, &b, &[1.0; 3], &report(0.0), &options).unwrap();
        assert!(
            (v.accepted_residual - 0.4 * 2f64.sqrt()).abs() < 1e-12,
            "{v:?}"
        );
    }

    #[test]
    fn rounding_level_backward_error_is_accepted_at_any_tolerance() {
        // cond ≈ 4e10: a perturbation of x far below rounding of A x gives a relative residual
        // above any tolerance, but a componentwise backward error of ~5e-13.
        let a = matrix(
            2,
            &[(0, 0, 1.0), (0, 1, -1.0), (1, 0, -1.0), (1, 1, 1.0 + 1e-10)],
        );
        let x = [1e10, 1e10];
        let mut b = vec![0.0; 2];
        a.mul_vec_into(&x, &mut b);
        let y = [1e10, 1e10 + 1e-2];
        let options = SolverOptions {
            tolerance: 1e-8,
            ..Default::default()
        };
        let v = verify_solution(&a, &b, &y, &report(0.0), &options).unwrap();
        assert!(v.relative_residual > 1e-3, "{v:?}");
        assert!(v.backward_error < BACKWARD_ERROR_FLOOR, "{v:?}");
    }

    #[test]
    fn mismatched_lengths_are_refused() {
        let a = laplacian(3);
        let e = verify_solution(
            &a,
            &[1.0; 2],
            &[1.0; 3],
            &report(0.0),
            &SolverOptions::default(),
        );
        assert!(matches!(
            e,
            Err(SolveError::DimensionMismatch { len: 2, .. })
        ));
    }
}
