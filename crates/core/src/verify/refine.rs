//! Iterative refinement of a solution that meets the tolerance in norm but not row by row.
//!
//! `‖b − A x‖₂ ≤ tol ‖b‖₂` bounds the residual against the largest rows of `b`. When rows differ
//! in size by many orders (a Robin coefficient of 10¹² imposing a boundary value, a diffusion
//! jumping by 10⁶), that test passes while the small rows are not solved at all: review T saw
//! CG with AMG, GMRES and BiCGStab return errors of 1 % to 100 % with relative residuals of
//! 10⁻⁹ to 10⁻¹¹. Their componentwise backward error ω (a row's residual against its own
//! `|A| |x| + |b|`) shows it: 10⁻⁴ to 1, where solutions of ordinary problems have ω at or
//! below the tolerance. [`refine_componentwise`] then solves for the correction,
//! `A δ = b − A x`, with the same prepared solver: the correction's right-hand side is the
//! unsolved part, on its own scale, so the solver's relative tolerance now applies to it.

use super::{VERIFY_FACTOR, Verification, verify_solution};
use crate::error::SolveError;
use crate::report::SolveReport;
use crate::solver::SolverOptions;
use crate::sparse::CsrMatrix;

/// Refinement steps at most: each multiplies the unsolved part by about the tolerance.
pub const MAX_REFINEMENTS: usize = 3;

/// The share of the largest row's `|A| |x| + |b|` below which a row's own scale is not trusted
/// (review U: where a solution decays to 1e-44, the residual of a row is its `|A| |x|` term,
/// a backward error of 1 however accurate the solution; no correction changes that).
const ROW_SCALE_FLOOR: f64 = 1e-12;

/// The backward error with every row's scale at least [`ROW_SCALE_FLOOR`] of the largest:
/// `maxᵢ |rᵢ| / max(Σⱼ |aᵢⱼ| |xⱼ| + |bᵢ|, floor)`, and `‖r‖₂`.
fn floored_backward_error(a: &CsrMatrix, b: &[f64], x: &[f64], r: &mut [f64]) -> (f64, f64) {
    let (rp, ci, v) = (a.pattern().row_ptr(), a.pattern().col_idx(), a.values());
    let mut scale = vec![0.0; b.len()];
    for (i, (ri, si)) in r.iter_mut().zip(&mut scale).enumerate() {
        let (mut ax, mut abs) = (0.0, 0.0);
        for k in rp[i]..rp[i + 1] {
            let t = v[k] * x[ci[k] as usize];
            ax += t;
            abs += t.abs();
        }
        *ri = b[i] - ax;
        *si = abs + b[i].abs();
    }
    let floor = ROW_SCALE_FLOOR * scale.iter().fold(0.0f64, |m, s| m.max(*s));
    let omega = (r.iter().zip(&scale))
        .map(|(r, s)| {
            if *r == 0.0 {
                0.0
            } else {
                r.abs() / s.max(floor)
            }
        })
        .fold(0.0f64, super::nan_max);
    let norm = r.iter().map(|r| r * r).sum::<f64>().sqrt();
    (omega, norm)
}

/// What [`refine_componentwise`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refinement {
    /// The check of the refined solution (the given one when no step was taken).
    pub verification: Verification,
    /// Correction solves done.
    pub steps: usize,
    /// Iterations of the correction solves.
    pub iterations: usize,
}

/// Refines `x`, which [`verify_solution`] accepted (`verification`) by its normwise residual,
/// while its componentwise backward error is above [`VERIFY_FACTOR`] times the tolerance of
/// `options`: each step solves `A δ = b − A x` from `δ = 0` with `solve` (the solver that
/// produced `x`, prepared on `A`), adds `δ` and checks the result again, at most
/// [`MAX_REFINEMENTS`] times and while each step at least halves the backward error. Does
/// nothing for a solution accepted by its backward error alone (see
/// [`confirm_solution`](super::confirm_solution)), with a backward error within the limit, or
/// when `options.absolute_tolerance` is what the solve was asked to meet (it bounds the
/// residual, as asked).
///
/// # Errors
/// [`SolveError::Inaccurate`] when the backward error stays above the limit or a correction
/// solve fails (saying which); a correction solve's [`SolveError::Timeout`] or
/// [`SolveError::Stopped`]; the errors of [`verify_solution`] on a refined `x`.
pub fn refine_componentwise(
    a: &CsrMatrix,
    b: &[f64],
    x: &mut [f64],
    verification: Verification,
    report: &SolveReport,
    options: &SolverOptions,
    mut solve: impl FnMut(&[f64], &mut [f64]) -> Result<SolveReport, SolveError>,
) -> Result<Refinement, SolveError> {
    let limit = VERIFY_FACTOR * options.tolerance;
    let bnorm = verification.residual / verification.relative_residual;
    let absolute = bnorm.is_finite() && options.absolute_tolerance > options.tolerance * bnorm;
    let mut done = Refinement {
        verification,
        steps: 0,
        iterations: 0,
    };
    let omega = verification.backward_error;
    if verification.needs_confirmation() || absolute || omega.is_nan() || omega <= limit {
        return Ok(done);
    }
    let n = b.len();
    let (mut r, mut delta) = (vec![0.0; n], vec![0.0; n]);
    let mut detail = format!("{MAX_REFINEMENTS} steps done");
    let (mut floored, mut norm) = floored_backward_error(a, b, x, &mut r);
    while floored > limit {
        if done.steps == MAX_REFINEMENTS {
            break;
        }
        // The residual meets what the solve was asked for absolutely: the solver stops there
        // (its correction would be zero), and the solution is what was asked.
        if norm <= options.absolute_tolerance {
            return Ok(done);
        }
        delta.fill(0.0);
        let step = match solve(&r, &mut delta) {
            Ok(step) => step,
            // The deadline's or a monitor's stop is theirs to report.
            Err(e @ (SolveError::Timeout { .. } | SolveError::Stopped { .. })) => return Err(e),
            Err(e) => {
                detail = format!("the correction solve failed: {e}");
                break;
            }
        };
        for (x, d) in x.iter_mut().zip(&delta) {
            *x += d;
        }
        let before = floored;
        done.steps += 1;
        done.iterations += step.iterations;
        done.verification = verify_solution(a, b, x, report, options)?;
        (floored, norm) = floored_backward_error(a, b, x, &mut r);
        if floored <= limit {
            return Ok(done);
        }
        if floored.is_nan() || floored > 0.5 * before {
            detail = format!("the last step took it from {before:.3e} only");
            break;
        }
    }
    if floored <= limit {
        // Only rows below the floor's scale (a decayed solution's) were above the limit.
        return Ok(done);
    }
    let v = done.verification;
    Err(SolveError::Inaccurate {
        solver: report.solver.clone(),
        verified_relative_residual: v.relative_residual,
        backward_error: floored,
        limit,
        refinements: done.steps,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `diag(1e12, 1, 1)` with couplings: the first row dominates `‖b‖`.
    fn scaled() -> (CsrMatrix, Vec<f64>) {
        let t = [
            (0, 0, 1e12),
            (0, 1, -1.0),
            (1, 0, -1.0),
            (1, 1, 2.0),
            (1, 2, -1.0),
            (2, 1, -1.0),
            (2, 2, 2.0),
        ];
        let a = CsrMatrix::try_from_triplets(3, 3, &t).unwrap();
        (a, vec![1e12, 1.0, 1.0])
    }

    fn report() -> SolveReport {
        SolveReport {
            solver: "test".into(),
            ..Default::default()
        }
    }

    /// An exact solve by Gaussian elimination of the 3 x 3 system (dense).
    fn exact(a: &CsrMatrix, r: &[f64], d: &mut [f64]) -> Result<SolveReport, SolveError> {
        let mut m = [[0.0; 4]; 3];
        for (i, row) in m.iter_mut().enumerate() {
            for j in 0..3 {
                row[j] = a.get(i, j);
            }
            row[3] = r[i];
        }
        for k in 0..3 {
            for i in k + 1..3 {
                let f = m[i][k] / m[k][k];
                for j in k..4 {
                    m[i][j] -= f * m[k][j];
                }
            }
        }
        for k in (0..3).rev() {
            let s: f64 = (k + 1..3).map(|j| m[k][j] * d[j]).sum();
            d[k] = (m[k][3] - s) / m[k][k];
        }
        Ok(SolveReport {
            iterations: 1,
            ..report()
        })
    }

    #[test]
    fn an_unsolved_small_row_is_refined_until_it_is_solved() {
        let (a, b) = scaled();
        let options = SolverOptions::default();
        // The large row solved, the small ones not: relative residual about 1e-12.
        let mut x = vec![1.0, 0.0, 0.0];
        let v = verify_solution(&a, &b, &x, &report(), &options).unwrap();
        assert!(
            v.relative_residual < 1e-8 && v.backward_error > 0.1,
            "{v:?}"
        );
        let solve = |r: &[f64], d: &mut [f64]| exact(&a, r, d);
        let done = refine_componentwise(&a, &b, &mut x, v, &report(), &options, solve).unwrap();
        assert_eq!((done.steps, done.iterations), (1, 1));
        assert!(done.verification.backward_error <= 100.0 * options.tolerance);
        let mut reference = vec![0.0; 3];
        exact(&a, &b, &mut reference).unwrap();
        for (x, r) in x.iter().zip(&reference) {
            assert!((x - r).abs() < 1e-12, "{x} against {r}");
        }
    }

    #[test]
    fn a_correction_that_solves_nothing_is_inaccurate() {
        let (a, b) = scaled();
        let options = SolverOptions::default();
        let mut x = vec![1.0, 0.0, 0.0];
        let v = verify_solution(&a, &b, &x, &report(), &options).unwrap();
        let nothing = |_: &[f64], _: &mut [f64]| Ok(report());
        let e = refine_componentwise(&a, &b, &mut x, v, &report(), &options, nothing);
        match e {
            Err(SolveError::Inaccurate {
                refinements,
                backward_error,
                detail,
                ..
            }) => assert!(refinements == 1 && backward_error > 0.1, "{detail}"),
            other => panic!("{other:?}"),
        }
        // A correction solve that fails: named in the error, which is still `Inaccurate`.
        let failing = |_: &[f64], _: &mut [f64]| {
            Err(SolveError::NotConverged {
                report: Box::new(report()),
            })
        };
        let e = refine_componentwise(&a, &b, &mut x, v, &report(), &options, failing);
        match e {
            Err(e @ SolveError::Inaccurate { refinements: 0, .. }) => {
                assert!(e.to_string().contains("the correction solve failed"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rows_far_below_the_systems_scale_do_not_count() {
        // Review U: a solution decayed to 1e-44 has a backward error of 1 in its last rows,
        // however accurate; refining cannot change it, and good solutions were refused.
        let t = [(0, 0, 1.0), (1, 1, 1.0), (2, 2, 1.0)];
        let a = CsrMatrix::try_from_triplets(3, 3, &t).unwrap();
        let b = vec![1.0, 0.0, 0.0];
        let mut x = vec![1.0, 0.0, 1e-44];
        let options = SolverOptions::default();
        let v = verify_solution(&a, &b, &x, &report(), &options).unwrap();
        assert!(v.backward_error > 0.5, "{v:?}");
        let never = |_: &[f64], _: &mut [f64]| -> Result<SolveReport, SolveError> {
            panic!("no correction solve expected")
        };
        let done = refine_componentwise(&a, &b, &mut x, v, &report(), &options, never).unwrap();
        assert_eq!(done.steps, 0);
    }

    #[test]
    fn solutions_within_the_limit_or_an_absolute_tolerance_are_left_alone() {
        let (a, b) = scaled();
        let never = |_: &[f64], _: &mut [f64]| -> Result<SolveReport, SolveError> {
            panic!("no correction solve expected")
        };
        let mut x = vec![0.0; 3];
        exact(&a, &b, &mut x).unwrap();
        let options = SolverOptions::default();
        let v = verify_solution(&a, &b, &x, &report(), &options).unwrap();
        let done = refine_componentwise(&a, &b, &mut x, v, &report(), &options, never).unwrap();
        assert_eq!(done.steps, 0);
        // Asked for an absolute residual of 1e5 (above 1e-8 ‖b‖ = 1e4): met, and left as it is.
        let mut x = vec![1.0, 0.0, 0.0];
        let loose = SolverOptions {
            absolute_tolerance: 1e5,
            ..SolverOptions::default()
        };
        let v = verify_solution(&a, &b, &x, &report(), &loose).unwrap();
        let done = refine_componentwise(&a, &b, &mut x, v, &report(), &loose, never).unwrap();
        assert_eq!(done.steps, 0);
    }
}
