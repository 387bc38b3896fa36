//! Distributed BiCGStab with right preconditioning, for nonsymmetric systems: [`bicgstab`].

use femscale_core::{Result, SolveMonitor, SolveReport};

use super::ops::{Ops, breakdown, stopped};
use super::{DistKrylovOptions, DistMatrix, DistPreconditioner, DistSolveReport};
use crate::comm::Communicator;

/// Solves `A x = b` by BiCGStab (van der Vorst) with right preconditioning over the ranks of
/// `comm`, starting from `x`; vectors are this rank's entries. Collective; three reductions
/// per iteration (`r̂·v`; `s·s`, `t·s`, `t·t` fused; `r·r`, `r̂·r` fused), so for a fixed number
/// of ranks the iterates are reproducible. The residual it tracks is the unpreconditioned one.
///
/// # Errors
/// [`femscale_core::SolveError::Breakdown`] when `r̂·r` or `r̂·v` vanishes or `t = 0` (with
/// the report), [`femscale_core::SolveError::Stopped`] when a rank's `monitor` asked to stop,
/// [`femscale_core::SolveError::NotConverged`], non-finite or unverified solutions; a failing
/// transport.
pub fn bicgstab(
    comm: &dyn Communicator,
    a: &DistMatrix,
    precond: &dyn DistPreconditioner,
    b: &[f64],
    x: &mut [f64],
    options: &DistKrylovOptions,
    monitor: &mut dyn SolveMonitor,
) -> Result<DistSolveReport> {
    const METHOD: &str = "distributed-bicgstab";
    let mut ops = Ops::new(comm, a, precond, b, x)?;
    let n = a.owned_rows();
    let mut report = SolveReport::new(METHOD, ops.precond_name());
    report.tolerance = options.tolerance;
    let mut r = vec![0.0; n];
    ops.residual(b, x, &mut r)?;
    let r_hat = r.clone();
    let [bb, rr] = ops.dots([(b, b), (&r, &r)])?;
    let b_norm = bb.sqrt();
    let scale = if b_norm > 0.0 { b_norm } else { 1.0 };
    let target = options.target(scale);
    let mut r_norm = rr.sqrt();
    report.initial_residual = r_norm;
    report.residual_history.push(r_norm / scale);
    let (mut rho, mut alpha, mut omega) = (1.0, 1.0, 1.0);
    let mut rho_next = rr;
    let (mut p, mut v) = (vec![0.0; n], vec![0.0; n]);
    let (mut p_hat, mut s, mut s_hat, mut t) =
        (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut iterations = 0;
    let mut stop_here = false;
    while r_norm > target && iterations < options.max_iterations {
        let tiny = f64::EPSILON * f64::EPSILON * r_norm * r_norm;
        if rho_next.is_nan() || rho_next.abs() <= tiny {
            report.iterations = iterations;
            return Err(breakdown(METHOD, report, "r̂·r vanished"));
        }
        let beta = (rho_next / rho) * (alpha / omega);
        rho = rho_next;
        for i in 0..n {
            p[i] = r[i] + beta * (p[i] - omega * v[i]);
        }
        ops.precondition(&p, &mut p_hat)?;
        ops.product(&p_hat, &mut v)?;
        let [rv, stop] = {
            let mut sums = [
                femscale_solvers::kernels::dot(&r_hat, &v),
                f64::from(u8::from(stop_here)),
            ];
            ops.reduce(&mut sums)?;
            sums
        };
        if stop > 0.0 {
            report.iterations = iterations;
            report.final_relative_residual = r_norm / scale;
            return Err(stopped(report));
        }
        if rv.is_nan() || rv == 0.0 {
            report.iterations = iterations;
            return Err(breakdown(METHOD, report, "r̂·v vanished"));
        }
        alpha = rho / rv;
        for i in 0..n {
            s[i] = r[i] - alpha * v[i];
        }
        ops.precondition(&s, &mut s_hat)?;
        ops.product(&s_hat, &mut t)?;
        let [ss, ts, tt] = ops.dots([(&s, &s), (&t, &s), (&t, &t)])?;
        if ss.sqrt() <= target {
            // Converged half-way: x += α p̂.
            for i in 0..n {
                x[i] += alpha * p_hat[i];
            }
            r_norm = ss.sqrt();
            iterations += 1;
            report.residual_history.push(r_norm / scale);
            break;
        }
        if tt.is_nan() || tt == 0.0 {
            report.iterations = iterations;
            return Err(breakdown(METHOD, report, "t = A M⁻¹ s vanished"));
        }
        omega = ts / tt;
        for i in 0..n {
            x[i] += alpha * p_hat[i] + omega * s_hat[i];
            r[i] = s[i] - omega * t[i];
        }
        let [rr, rhat_r] = ops.dots([(&r, &r), (&r_hat, &r)])?;
        r_norm = rr.sqrt();
        rho_next = rhat_r;
        iterations += 1;
        report.residual_history.push(r_norm / scale);
        stop_here = monitor.on_iteration(iterations, r_norm / scale).is_break();
        if omega == 0.0 {
            report.iterations = iterations;
            return Err(breakdown(METHOD, report, "ω vanished"));
        }
    }
    report.iterations = iterations;
    report.final_residual = r_norm;
    report.final_relative_residual = r_norm / scale;
    report.converged = r_norm <= target;
    ops.finish(report, b, x, options)
}
