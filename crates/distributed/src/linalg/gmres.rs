//! Distributed restarted GMRES(m) with right preconditioning: [`gmres`].
//!
//! The Arnoldi basis is orthogonalised by classical Gram–Schmidt run twice (CGS2): each pass
//! is one reduction of all the projections at once, where modified Gram–Schmidt needs one per
//! basis vector — what matters across ranks — and two passes are as stable as modified
//! Gram–Schmidt. The Hessenberg matrix (replicated, `m × m`) is reduced by Givens rotations.

use femscale_core::{Error, Result, SolveMonitor, SolveReport};
use femscale_solvers::kernels::dot;

use super::ops::{Ops, breakdown, stopped};
use super::{DistKrylovOptions, DistMatrix, DistPreconditioner, DistSolveReport};
use crate::comm::Communicator;

/// Solves `A x = b` by GMRES(`restart`) with right preconditioning over the ranks of `comm`,
/// starting from `x`; vectors are this rank's entries. Collective: three reductions per
/// Arnoldi step (two Gram–Schmidt passes and the norm). Iterations count Arnoldi steps; the
/// true residual is recomputed at every restart and at the end.
///
/// # Errors
/// [`Error::InvalidInput`] for `restart = 0`; [`femscale_core::SolveError::Stopped`],
/// [`femscale_core::SolveError::NotConverged`], a breakdown (a singular least-squares problem),
/// non-finite or unverified solutions; a failing transport.
#[allow(clippy::too_many_arguments)]
pub fn gmres(
    comm: &dyn Communicator,
    a: &DistMatrix,
    precond: &dyn DistPreconditioner,
    b: &[f64],
    x: &mut [f64],
    options: &DistKrylovOptions,
    restart: usize,
    monitor: &mut dyn SolveMonitor,
) -> Result<DistSolveReport> {
    const METHOD: &str = "distributed-gmres";
    if restart == 0 {
        return Err(Error::invalid("gmres.restart", "must be at least 1"));
    }
    let mut ops = Ops::new(comm, a, precond, b, x)?;
    let n = a.owned_rows();
    let global = a.partition().rows();
    let m = restart.min(global.max(1));
    let mut report = SolveReport::new(METHOD, ops.precond_name());
    report.tolerance = options.tolerance;
    let mut r = vec![0.0; n];
    ops.residual(b, x, &mut r)?;
    let [bb, rr] = ops.dots([(b, b), (&r, &r)])?;
    let b_norm = bb.sqrt();
    let scale = if b_norm > 0.0 { b_norm } else { 1.0 };
    let target = options.target(scale);
    let mut r_norm = rr.sqrt();
    report.initial_residual = r_norm;
    report.residual_history.push(r_norm / scale);

    let mut basis: Vec<Vec<f64>> = (0..=m).map(|_| vec![0.0; n]).collect();
    let mut h = vec![vec![0.0; m]; m + 1];
    let (mut cs, mut sn, mut g) = (vec![0.0; m], vec![0.0; m], vec![0.0; m + 1]);
    let (mut z, mut w) = (vec![0.0; n], vec![0.0; n]);
    let mut iterations = 0;
    let mut stop_here = false;
    while r_norm > target && iterations < options.max_iterations {
        for (vi, ri) in basis[0].iter_mut().zip(&r) {
            *vi = ri / r_norm;
        }
        g.fill(0.0);
        g[0] = r_norm;
        let mut steps = 0;
        let mut estimate = r_norm;
        while steps < m && iterations < options.max_iterations {
            let j = steps;
            ops.precondition(&basis[j], &mut z)?;
            ops.product(&z, &mut w)?;
            // Two classical Gram–Schmidt passes; the stop flag rides on the first reduction.
            let mut projections: Vec<f64> = basis[..=j].iter().map(|v| dot(v, &w)).collect();
            projections.push(f64::from(u8::from(stop_here)));
            ops.reduce(&mut projections)?;
            if projections[j + 1] > 0.0 {
                report.iterations = iterations;
                report.final_relative_residual = estimate / scale;
                return Err(stopped(report));
            }
            projections.truncate(j + 1);
            subtract(&basis[..=j], &projections, &mut w);
            let mut second: Vec<f64> = basis[..=j].iter().map(|v| dot(v, &w)).collect();
            ops.reduce(&mut second)?;
            subtract(&basis[..=j], &second, &mut w);
            for (i, (p1, p2)) in projections.iter().zip(&second).enumerate() {
                h[i][j] = p1 + p2;
            }
            let [ww] = ops.dots([(&w, &w)])?;
            let norm = ww.sqrt();
            h[j + 1][j] = norm;
            if norm > 0.0 {
                for (vi, wi) in basis[j + 1].iter_mut().zip(&w) {
                    *vi = wi / norm;
                }
            }
            // Apply the earlier rotations to the new column, then a new one to zero h[j+1][j].
            for i in 0..j {
                let t = cs[i] * h[i][j] + sn[i] * h[i + 1][j];
                h[i + 1][j] = -sn[i] * h[i][j] + cs[i] * h[i + 1][j];
                h[i][j] = t;
            }
            let d = h[j][j].hypot(h[j + 1][j]);
            if d == 0.0 || d.is_nan() {
                report.iterations = iterations;
                return Err(breakdown(METHOD, report, "the Hessenberg column vanished"));
            }
            cs[j] = h[j][j] / d;
            sn[j] = h[j + 1][j] / d;
            h[j][j] = d;
            h[j + 1][j] = 0.0;
            g[j + 1] = -sn[j] * g[j];
            g[j] *= cs[j];
            estimate = g[j + 1].abs();
            steps += 1;
            iterations += 1;
            report.residual_history.push(estimate / scale);
            stop_here = monitor
                .on_iteration(iterations, estimate / scale)
                .is_break();
            if estimate <= target || norm == 0.0 {
                break;
            }
        }
        // x += M⁻¹ V y with H y = g (upper triangular after the rotations).
        let mut y = vec![0.0; steps];
        for i in (0..steps).rev() {
            let tail: f64 = (i + 1..steps).map(|k| h[i][k] * y[k]).sum();
            y[i] = (g[i] - tail) / h[i][i];
        }
        w.fill(0.0);
        for (v, yi) in basis.iter().zip(&y) {
            for (wi, vi) in w.iter_mut().zip(v) {
                *wi += yi * vi;
            }
        }
        ops.precondition(&w, &mut z)?;
        for (xi, zi) in x.iter_mut().zip(&z) {
            *xi += zi;
        }
        // The true residual, for the restart and the stopping test.
        ops.residual(b, x, &mut r)?;
        let [rr] = ops.dots([(&r, &r)])?;
        r_norm = rr.sqrt();
        if let Some(last) = report.residual_history.last_mut() {
            *last = r_norm / scale;
        }
    }
    report.iterations = iterations;
    report.final_residual = r_norm;
    report.final_relative_residual = r_norm / scale;
    report.converged = r_norm <= target;
    ops.finish(report, b, x, options)
}

/// `w −= Σ_i c_i v_i`.
fn subtract(basis: &[Vec<f64>], coefficients: &[f64], w: &mut [f64]) {
    for (v, c) in basis.iter().zip(coefficients) {
        for (wi, vi) in w.iter_mut().zip(v) {
            *wi -= c * vi;
        }
    }
}
