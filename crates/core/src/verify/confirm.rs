//! Confirming a solution that only the componentwise backward error accepted.
//!
//! A backward-stable solve of a numerically singular system (a pure Neumann problem without a
//! reaction, whose solution is fixed only up to a constant) returns an arbitrary, often huge
//! `x`: its normwise residual is far above the tolerance, yet its componentwise backward error
//! is a few ulps, because `|A| |x|` grows with `x`. [`verify_solution`](super::verify_solution)
//! alone would accept it. One step of iterative refinement tells the two cases apart: for an
//! ill-conditioned but regular system the correction `δ = A⁻¹ (b − A x)` is small against `x`
//! (it estimates the forward error), for a singular one it is as large as `x` itself.

#[cfg(doc)]
use super::BACKWARD_ERROR_FLOOR;
use super::Verification;
use crate::error::SolveError;
use crate::report::SolveReport;
use crate::solver::{RowShare, SolverOptions};
use crate::sparse::CsrMatrix;

/// The largest `‖δ‖∞ / ‖x‖∞` [`confirm_solution`] accepts: the solution must be determined to
/// about three digits.
pub const CORRECTION_LIMIT: f64 = 1e-3;

impl Verification {
    /// Whether only the componentwise backward error accepted the solution (its normwise
    /// residual is above what the tolerance allows), so that [`confirm_solution`] must
    /// confirm it.
    pub fn needs_confirmation(&self) -> bool {
        self.residual.is_nan() || self.residual > self.accepted_residual
    }
}

/// Confirms a solution `x` of `A x = b` that [`verify_solution`](super::verify_solution)
/// accepted (`verification`) on its backward error alone: `solve` (the solver that produced
/// `x`, prepared on `A`) solves `A δ = b − A x` from `δ = 0`, and `‖δ‖∞` must be at most
/// [`CORRECTION_LIMIT`] times `‖x‖∞`. Does nothing for a solution the normwise test accepted.
///
/// # Errors
/// [`SolveError::Undetermined`] when the correction is larger, not finite, or its solve
/// fails or does not solve the correction system by the rule of
/// [`verify_solution`](super::verify_solution) with `options` (the normwise residual within
/// the slack of the tolerance, or a backward error at [`BACKWARD_ERROR_FLOOR`]).
pub fn confirm_solution(
    a: &CsrMatrix,
    b: &[f64],
    x: &[f64],
    verification: &Verification,
    report: &SolveReport,
    options: &SolverOptions,
    solve: impl FnMut(&[f64], &mut [f64]) -> Result<SolveReport, SolveError>,
) -> Result<(), SolveError> {
    let problem = System { a, b, x };
    confirm(problem, verification, report, options, None, solve)
}

/// [`confirm_solution`] for a system whose rows are shared between processes, after
/// [`verify_solution_shared`](super::verify_solution_shared): each process forms the residual
/// of its own rows, `solve` (the distributed solver, collective) returns `δ` whole on every
/// process, and the correction's residual and size are combined across the processes, so
/// every process reaches the same verdict. Collective.
///
/// # Errors
/// As [`confirm_solution`]; the transport's.
#[allow(clippy::too_many_arguments)] // those of `confirm_solution` and the share
pub fn confirm_solution_shared(
    a: &CsrMatrix,
    b: &[f64],
    x: &[f64],
    verification: &Verification,
    report: &SolveReport,
    options: &SolverOptions,
    share: &RowShare,
    solve: impl FnMut(&[f64], &mut [f64]) -> Result<SolveReport, SolveError>,
) -> Result<(), SolveError> {
    let problem = System { a, b, x };
    confirm(problem, verification, report, options, Some(share), solve)
}

/// The system a confirmation checks.
#[derive(Clone, Copy)]
struct System<'a> {
    a: &'a CsrMatrix,
    b: &'a [f64],
    x: &'a [f64],
}

fn confirm(
    System { a, b, x }: System<'_>,
    verification: &Verification,
    report: &SolveReport,
    options: &SolverOptions,
    share: Option<&RowShare>,
    mut solve: impl FnMut(&[f64], &mut [f64]) -> Result<SolveReport, SolveError>,
) -> Result<(), SolveError> {
    if !verification.needs_confirmation() {
        return Ok(());
    }
    crate::checks::check_system(a, b, x)?;
    let n = b.len();
    let rows = match share {
        Some(share) => share.rows.start.min(n)..share.rows.end.min(n),
        None => 0..n,
    };
    // The residual of this process's rows (another process's rows of `a` may be incomplete;
    // a distributed solver reads only its own).
    let mut r = vec![0.0; n];
    a.mul_vec_into(x, &mut r);
    for (i, (r, b)) in r.iter_mut().zip(b).enumerate() {
        *r = if rows.contains(&i) { b - *r } else { 0.0 };
    }
    let mut delta = vec![0.0; n];
    let undetermined = |relative_correction: f64, detail: String| SolveError::Undetermined {
        solver: report.solver.clone(),
        verified_relative_residual: verification.relative_residual,
        backward_error: verification.backward_error,
        relative_correction,
        limit: CORRECTION_LIMIT,
        detail,
    };
    match solve(&r, &mut delta) {
        Ok(_) => {}
        // Out of time: the budget's error, not a verdict on the system.
        Err(e @ (SolveError::Timeout { .. } | SolveError::Stopped { .. })) => return Err(e),
        Err(e) => {
            let detail = format!("its correction solve failed ({e})");
            return Err(undetermined(f64::INFINITY, detail));
        }
    }
    // The correction must itself solve `A δ = r` by the rule every solution is held to (the
    // requested tolerance with its slack, or a backward error at the floor): the solver is
    // the one under test, and a `δ` that solves nothing (0), or removes only an easy part of
    // `r`, would confirm anything.
    let check = super::row_residuals(a, &r, &delta, rows.clone());
    let (left, before, omega) = match share {
        Some(share) => check.across(share)?,
        None => check.norms(),
    };
    let solved = super::judge_residual(
        left,
        before,
        omega,
        report,
        options.tolerance,
        options.absolute_tolerance,
    )
    .is_ok();
    if !solved {
        let shown = if before > 0.0 { left / before } else { left };
        let detail = format!(
            "its correction solve did not solve the correction system (it left {shown:.3e} \
             of the residual, componentwise backward error {omega:.3e})"
        );
        return Err(undetermined(f64::INFINITY, detail));
    }
    let sizes = [max_abs(&delta[rows.clone()]), max_abs(&x[rows])];
    let [correction, size] = match share {
        Some(share) => super::max_across(sizes, share)?,
        None => sizes,
    };
    let relative_correction = correction / size;
    // NaN (a NaN correction, or 0/0) fails too.
    if relative_correction <= CORRECTION_LIMIT {
        return Ok(());
    }
    let shown = if relative_correction.is_nan() {
        f64::INFINITY
    } else {
        relative_correction
    };
    let detail = format!(
        "one correction step changes it by {shown:.3e} of its size (at most \
         {CORRECTION_LIMIT:.0e} accepted)"
    );
    Err(undetermined(shown, detail))
}

/// `maxᵢ |vᵢ|`, NaN if any entry is NaN.
fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m: f64, &e| {
        if e.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            m.max(e.abs())
        }
    })
}

#[cfg(test)]
#[path = "confirm_shared_tests.rs"]
mod shared_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::verify_solution;

    pub(super) fn report() -> SolveReport {
        SolveReport {
            solver: "test".into(),
            ..SolveReport::default()
        }
    }

    /// The 1D Laplacian with natural conditions at both ends: singular (constants).
    pub(super) fn neumann_1d(n: usize) -> CsrMatrix {
        let mut t = Vec::new();
        for i in 0..n {
            let d = if i == 0 || i == n - 1 { 1.0 } else { 2.0 };
            t.push((i, i, d));
            if i + 1 < n {
                t.push((i, i + 1, -1.0));
                t.push((i + 1, i, -1.0));
            }
        }
        CsrMatrix::try_from_triplets(n, n, &t).unwrap()
    }

    /// An `x` built as a huge multiple of the null vector plus rounding-size noise: the
    /// backward error accepts it, the correction (here the exact pseudo-solve of a
    /// perturbed system, as a factorisation with a tiny last pivot computes it) does not.
    #[test]
    fn a_singular_system_is_not_confirmed() {
        let (a, b, x) = singular_case();
        let options = SolverOptions::default();
        let v = verify_solution(&a, &b, &x, &report(), &options).unwrap();
        assert!(v.needs_confirmation(), "{v:?}");
        // A solver that answers like a factorisation of a singular matrix: a correction as
        // large as the solution.
        let err = confirm_solution(
            &a,
            &b,
            &x,
            &v,
            &report(),
            &SolverOptions::default(),
            |_, d| {
                d.fill(3e11);
                Ok(report())
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, SolveError::Undetermined { relative_correction, .. }
                if (relative_correction - 0.3).abs() < 1e-9),
            "{err:?}"
        );
        // A failing or NaN correction solve is no confirmation either.
        // Out of time during the correction: the timeout itself.
        let err = confirm_solution(
            &a,
            &b,
            &x,
            &v,
            &report(),
            &SolverOptions::default(),
            |_, _| {
                Err(SolveError::Timeout {
                    elapsed_seconds: 2.0,
                    limit_seconds: 1.0,
                    report: Box::new(report()),
                })
            },
        )
        .unwrap_err();
        assert!(matches!(err, SolveError::Timeout { .. }), "{err:?}");
        for fails in [true, false] {
            let err = confirm_solution(
                &a,
                &b,
                &x,
                &v,
                &report(),
                &SolverOptions::default(),
                |_, d| {
                    d.fill(f64::NAN);
                    match fails {
                        true => Err(SolveError::DimensionMismatch {
                            rows: 1,
                            cols: 1,
                            len: 2,
                        }),
                        false => Ok(report()),
                    }
                },
            )
            .unwrap_err();
            assert!(
                matches!(err, SolveError::Undetermined { relative_correction, .. }
                    if relative_correction == f64::INFINITY),
                "{err:?}"
            );
        }
    }

    /// `neumann_1d(n)` plus `shift` on the diagonal, and a solve of it (Thomas' algorithm).
    pub(super) fn shifted(n: usize, shift: f64) -> (CsrMatrix, impl Fn(&[f64]) -> Vec<f64>) {
        let mut a = neumann_1d(n);
        let diagonal: Vec<usize> = (0..n).map(|i| a.pattern().find(i, i).unwrap()).collect();
        for &k in &diagonal {
            a.values_mut()[k] += shift;
        }
        let d: Vec<f64> = diagonal.iter().map(|&k| a.values()[k]).collect();
        let solve = move |rhs: &[f64]| {
            // Off-diagonals are -1.
            let (mut c, mut y) = (vec![0.0; n], vec![0.0; n]);
            c[0] = -1.0 / d[0];
            y[0] = rhs[0] / d[0];
            for i in 1..n {
                let m = d[i] + c[i - 1];
                c[i] = -1.0 / m;
                y[i] = (rhs[i] + y[i - 1]) / m;
            }
            for i in (0..n - 1).rev() {
                y[i] -= c[i] * y[i + 1];
            }
            y
        };
        (a, solve)
    }

    /// A singular system (the Neumann Laplacian) and `x` a huge multiple of its null vector
    /// plus rounding-size noise: the backward error accepts it.
    pub(super) fn singular_case() -> (CsrMatrix, Vec<f64>, Vec<f64>) {
        let n = 50;
        let b = (0..n).map(|i| (i as f64 / n as f64 - 0.5) * 1e-3).collect();
        let x = (0..n).map(|i| 1e12 + (i as f64).sin()).collect();
        (neumann_1d(n), b, x)
    }

    /// A stiff, nearly singular system (the 1D Laplacian over h = 0.01 with a reaction of
    /// 1e-14) and `x = 1e10 + e_k`, `k` returned: `δ = −e_k` takes most of `r` out.
    pub(super) fn stiff_case() -> (CsrMatrix, Vec<f64>, Vec<f64>, usize) {
        let n = 50;
        let (mut a, _) = shifted(n, 1e-14);
        a.values_mut().iter_mut().for_each(|v| *v *= 100.0);
        let b = (0..n).map(|i| ((i as f64) * 0.3).cos()).collect();
        let k = n / 2;
        let mut x = vec![1e10; n];
        x[k] += 1.0;
        (a, b, x, k)
    }

    /// An ill-conditioned regular system (solution about 1e9 in size), its solve, and its
    /// solution with an error of 1e-12 of it.
    #[allow(clippy::type_complexity)]
    pub(super) fn ill_conditioned_case()
    -> (CsrMatrix, Vec<f64>, Vec<f64>, impl Fn(&[f64]) -> Vec<f64>) {
        let n = 50;
        let (a, solve) = shifted(n, 1e-9);
        let b: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.3).cos() + 0.2).collect();
        let x = (solve(&b).iter().enumerate())
            .map(|(i, v)| v + 1e-12 * v.abs() * (7.0 * i as f64).sin())
            .collect();
        (a, b, x, solve)
    }

    /// A correction that solves its system confirms nothing.
    #[test]
    fn a_correction_that_does_not_solve_confirms_nothing() {
        // Regular but nearly singular: a tiny reaction on the Neumann Laplacian, and an `x`
        // far from its solution that only the backward error accepts.
        let n = 50;
        let (a, _) = shifted(n, 1e-11);
        let b: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.3).cos()).collect();
        let x = vec![1e12; n];
        let v = verify_solution(&a, &b, &x, &report(), &SolverOptions::default()).unwrap();
        assert!(v.needs_confirmation(), "{v:?}");
        for fill in [0.0, 1e-3] {
            let err = confirm_solution(
                &a,
                &b,
                &x,
                &v,
                &report(),
                &SolverOptions::default(),
                |_, d| {
                    d.fill(fill);
                    Ok(report())
                },
            )
            .unwrap_err();
            match &err {
                SolveError::Undetermined { detail, .. } => {
                    assert!(detail.contains("did not solve"), "{detail}")
                }
                other => panic!("expected Undetermined, got {other:?}"),
            }
        }
    }

    /// Removing an easy part of `r` is no solve either: on a stiff, nearly singular system
    /// (the 1D Laplacian over h = 0.01 with a reaction of 1e-14), `x = 1e10 + e_k` is accepted
    /// by its backward error, and `δ = −e_k` takes the `A e_k` part — almost all of `r` — out
    /// while the error, `x` itself, stays: refused.
    #[test]
    fn a_correction_that_removes_an_easy_part_of_the_residual_confirms_nothing() {
        let (a, b, x, k) = stiff_case();
        let n = b.len();
        let v = verify_solution(&a, &b, &x, &report(), &SolverOptions::default()).unwrap();
        assert!(v.needs_confirmation(), "{v:?}");
        let mut r = vec![0.0; n];
        a.mul_vec_into(&x, &mut r);
        r.iter_mut().zip(&b).for_each(|(r, b)| *r = b - *r);
        let mut easy = vec![0.0; n];
        easy[k] = -1.0;
        let mut left = vec![0.0; n];
        a.mul_vec_into(&easy, &mut left);
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let removed: Vec<f64> = r.iter().zip(&left).map(|(r, l)| r - l).collect();
        assert!(
            norm(&removed) < 0.1 * norm(&r),
            "the attack removes most of r"
        );
        let err = confirm_solution(
            &a,
            &b,
            &x,
            &v,
            &report(),
            &SolverOptions::default(),
            |_, d| {
                d.copy_from_slice(&easy);
                Ok(report())
            },
        )
        .unwrap_err();
        assert!(
            matches!(&err, SolveError::Undetermined { detail, .. } if detail.contains("did not solve")),
            "{err:?}"
        );
    }

    #[test]
    fn a_small_correction_confirms_and_a_normwise_pass_needs_none() {
        // The normwise residual fails, the backward error accepts, and the exact correction
        // (the error itself) is small.
        let (a, b, x, solve) = ill_conditioned_case();
        let n = b.len();
        let v = verify_solution(&a, &b, &x, &report(), &SolverOptions::default()).unwrap();
        assert!(v.needs_confirmation(), "{v:?}");
        confirm_solution(
            &a,
            &b,
            &x,
            &v,
            &report(),
            &SolverOptions::default(),
            |r, d| {
                d.copy_from_slice(&solve(r));
                Ok(report())
            },
        )
        .unwrap();
        // x = 0 solves A x = 0: accepted normwise, the correction solve is never called.
        let zero = vec![0.0; n];
        let v = verify_solution(&a, &zero, &zero, &report(), &SolverOptions::default()).unwrap();
        assert!(!v.needs_confirmation());
        confirm_solution(
            &a,
            &zero,
            &zero,
            &v,
            &report(),
            &SolverOptions::default(),
            |_, _| panic!("no correction solve for a normwise pass"),
        )
        .unwrap();
    }
}
