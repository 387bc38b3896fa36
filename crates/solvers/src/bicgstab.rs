//! Right-preconditioned BiCGStab (van der Vorst, 1992) for general nonsymmetric systems.
//!
//! With right preconditioning the recursively updated residual is the unpreconditioned
//! residual `b - A x`, so the stopping criterion `||r|| <= max(tolerance * ||b||,
//! absolute_tolerance)` is checked on the quantity the user asked about, both after the
//! half step (`s`) and after the full step.

use std::sync::Arc;
use std::time::Instant;

use femscale_core::checks::check_system;
use femscale_core::{
    CsrMatrix, LinearSolver, PooledVec, PreconditionerFactory, PreparedSolver, SolveError,
    SolveMonitor, SolveReport, SolverOptions,
};

use crate::iterative::{Preconditioned, not_positive};
use crate::options::MethodOptions;
use crate::precond::JacobiFactory;

/// An inner product `(u, v)` the method divides by counts as zero (breakdown) when
/// `|(u, v)| <= BREAKDOWN_RATIO * ||u|| ||v||`: its value is then rounding noise.
const BREAKDOWN_RATIO: f64 = 64.0 * f64::EPSILON;

/// Restarts with a new shadow residual allowed in one solve before a breakdown is reported.
const MAX_RESTARTS: usize = 20;

/// Work vectors: `r`, `r̂0`, `p`, `v`, `t` and one for `M^{-1} p` / `M^{-1} s`.
const WORK_VECTORS: usize = 6;

/// Right-preconditioned BiCGStab (registry name `bicgstab`).
///
/// The preconditioner is built in [`LinearSolver::prepare`] by the factory given here; `x` on
/// input is the initial guess. One iteration is one full BiCGStab step (two SpMVs and two
/// preconditioner applications); when the half-step residual `s` already meets the tolerance
/// the iteration ends there and counts as one. The shadow residual is `r̂0 = r0`. When
/// `(r̂0, r)` or `(r̂0, v)` vanishes after progress was made, the method restarts with
/// `r̂0 = r` (up to 20 times); vanishing right after a (re)start, or `(t, s)` or `(t, t)`
/// vanishing, ends the solve with [`SolveError::Breakdown`].
#[derive(Debug, Clone)]
pub struct BiCgStab {
    preconditioner: Arc<dyn PreconditionerFactory>,
}

impl BiCgStab {
    /// BiCGStab with the preconditioner built by `preconditioner`.
    pub fn new(preconditioner: Arc<dyn PreconditionerFactory>) -> Self {
        Self { preconditioner }
    }

    /// The preconditioner factory.
    pub fn preconditioner(&self) -> &Arc<dyn PreconditionerFactory> {
        &self.preconditioner
    }
}

impl Default for BiCgStab {
    /// BiCGStab with Jacobi preconditioning.
    fn default() -> Self {
        Self::new(Arc::new(JacobiFactory))
    }
}

/// Registry constructor for `bicgstab` (BiCGStab has no options of its own).
pub fn new_bicgstab(
    preconditioner: Arc<dyn PreconditionerFactory>,
    _options: &MethodOptions,
) -> Box<dyn LinearSolver> {
    Box::new(BiCgStab::new(preconditioner))
}

impl LinearSolver for BiCgStab {
    fn name(&self) -> &str {
        "bicgstab"
    }

    #[tracing::instrument(
        skip_all,
        name = "fem.solver.prepare",
        fields(solver = "bicgstab", preconditioner = self.preconditioner.name(), n = a.nrows(), nnz = a.nnz())
    )]
    fn prepare(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> Result<Box<dyn PreparedSolver>, SolveError> {
        options.validate()?;
        let n = a.nrows();
        let (base, start) = Preconditioned::prepare(
            &self.preconditioner,
            a,
            options,
            WORK_VECTORS * n * std::mem::size_of::<f64>(),
            || "bicgstab work vectors".into(),
        )?;
        let mut prepared = PreparedBiCgStab {
            base,
            r: options.work_vector(n),
            r_hat: options.work_vector(n),
            p: options.work_vector(n),
            v: options.work_vector(n),
            t: options.work_vector(n),
            z: options.work_vector(n),
        };
        prepared.check_memory()?;
        prepared.base.setup_seconds = start.elapsed().as_secs_f64();
        tracing::debug!(
            setup_seconds = prepared.base.setup_seconds,
            "bicgstab prepared"
        );
        Ok(Box::new(prepared))
    }
}

/// BiCGStab set up for one matrix: preconditioner plus work vectors reused by every solve
/// (from the process-wide vector pool, to which they return on drop).
#[derive(Debug)]
struct PreparedBiCgStab {
    base: Preconditioned,
    /// Residual; holds `s = r - alpha v` between the half and the full step.
    r: PooledVec,
    /// Shadow residual `r̂0`.
    r_hat: PooledVec,
    p: PooledVec,
    v: PooledVec,
    t: PooledVec,
    /// `M^{-1} p`, then `M^{-1} s`.
    z: PooledVec,
}

impl PreparedBiCgStab {
    fn workspace_bytes(&self) -> usize {
        self.r.bytes()
            + self.r_hat.bytes()
            + self.p.bytes()
            + self.v.bytes()
            + self.t.bytes()
            + self.z.bytes()
    }

    fn check_memory(&self) -> Result<(), SolveError> {
        self.base.check_memory(self.memory_bytes(), || {
            format!(
                "bicgstab with the `{}` preconditioner",
                self.base.precond.name()
            )
        })
    }
}

/// Whether `uv = (u, v)` is zero up to rounding relative to `||u|| ||v||` (or not finite).
fn vanishes(uv: f64, unorm: f64, vnorm: f64) -> bool {
    !uv.is_finite() || uv.abs() <= BREAKDOWN_RATIO * unorm * vnorm
}

impl PreparedSolver for PreparedBiCgStab {
    #[tracing::instrument(
        skip_all,
        name = "fem.solver.solve",
        fields(solver = "bicgstab", preconditioner = self.base.precond.name(), n = b.len(), iterations = tracing::field::Empty)
    )]
    fn solve(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError> {
        let start = Instant::now();
        let a = Arc::clone(&self.base.matrix);
        check_system(&a, b, x)?;
        let memory_bytes = self.memory_bytes();
        let Self {
            base,
            r,
            r_hat,
            p,
            v,
            t,
            z,
        } = self;
        let (k, opts) = (&base.kernels, &base.options);
        let mut run = base.run("bicgstab", start, memory_bytes, b)?;
        if run.bnorm() == 0.0 {
            return Ok(run.zero_rhs(x));
        }
        let target = run.target();

        // r = b - A x0, r̂0 = r0
        k.spmv(&a, x, r);
        k.residual_from_product(b, r);
        let mut rnorm = k.norm2(r);
        if let Some(done) = run.initial_residual(rnorm) {
            return done;
        }
        r_hat.copy_from_slice(r);
        let r_hat_norm = rnorm;
        run.reserve_history();

        let (mut rho_old, mut alpha, mut omega) = (1.0, 1.0, 1.0);
        let mut r_hat_norm = r_hat_norm;
        // A restart replaces the shadow residual by the current residual and p by r; it cures
        // near-orthogonality that builds up with round-off, and is pointless (so a breakdown is
        // reported) when the shadow residual was just set.
        let mut fresh_shadow = true;
        let mut restarts = 0usize;
        for it in 1..=opts.max_iterations {
            if let Some(overrun) = run.timeout_due(it) {
                return Err(run.timeout(overrun, rnorm));
            }

            // Here r does not meet the tolerance (checked at the end of the previous step).
            let mut rho = k.dot(r_hat, r);
            let mut restart = it == 1;
            if vanishes(rho, r_hat_norm, rnorm) {
                if fresh_shadow || restarts == MAX_RESTARTS {
                    return Err(run.breakdown(
                        format!(
                            "rho = (r̂0, r) = {rho:e} vanishes (||r̂0|| = {r_hat_norm:e}, ||r|| = \
                             {rnorm:e}) at iteration {it}: r is orthogonal to the shadow residual"
                        ),
                        rnorm,
                    ));
                }
                r_hat.copy_from_slice(r);
                (r_hat_norm, rho, restart, fresh_shadow) = (rnorm, rnorm * rnorm, true, true);
                restarts += 1;
            }
            if restart {
                p.copy_from_slice(r);
            } else {
                // p = r + beta (p - omega v)
                let beta = (rho / rho_old) * (alpha / omega);
                k.axpy(-omega, v, p);
                k.xpay(r, beta, p);
            }
            base.apply(p, z);
            k.spmv(&a, z, v);
            let mut rv = k.dot(r_hat, v);
            let mut vnorm = k.norm2(v);
            if vanishes(rv, r_hat_norm, vnorm) && !fresh_shadow && restarts < MAX_RESTARTS {
                r_hat.copy_from_slice(r);
                (r_hat_norm, rho) = (rnorm, rnorm * rnorm);
                restarts += 1;
                p.copy_from_slice(r);
                base.apply(p, z);
                k.spmv(&a, z, v);
                rv = k.dot(r_hat, v);
                vnorm = k.norm2(v);
            }
            if vanishes(rv, r_hat_norm, vnorm) {
                return Err(run.breakdown(
                    format!(
                        "(r̂0, v) = {rv:e} with v = A M^-1 p vanishes (||r̂0|| = {r_hat_norm:e}, \
                         ||v|| = {vnorm:e}) at iteration {it}"
                    ),
                    rnorm,
                ));
            }
            alpha = rho / rv;
            // Half step: x += alpha M^{-1} p, s = r - alpha v (in r).
            k.axpy(alpha, z, x);
            k.axpy(-alpha, v, r);
            let snorm = k.norm2(r);
            if !snorm.is_finite() {
                return Err(run.breakdown(
                    format!("half-step residual norm ||s|| = {snorm} at iteration {it}"),
                    rnorm,
                ));
            }
            if snorm <= target {
                rnorm = snorm;
                let relative = run.record(it, rnorm);
                // The solve has converged: the monitor observes but cannot stop it.
                let _ = monitor.on_iteration(it, relative);
                return Ok(run.converged(rnorm));
            }

            // Full step: t = A M^{-1} s, omega = (t, s) / (t, t).
            base.apply(r, z);
            k.spmv(&a, z, t);
            let tt = k.dot(t, t);
            if !(tt.is_finite() && tt > 0.0) {
                let when = format!("with t = A M^-1 s at iteration {it} (||s|| = {snorm:e})");
                let suspect = "singular matrix or preconditioner?";
                return Err(run.breakdown(not_positive("(t, t)", tt, &when, t, t, suspect), snorm));
            }
            let ts = k.dot(t, r);
            if vanishes(ts, tt.sqrt(), snorm) {
                return Err(run.breakdown(
                    format!(
                        "omega = (t, s) / (t, t) vanishes ((t, s) = {ts:e}, ||t|| = {:e}, ||s|| = \
                         {snorm:e}) at iteration {it}: the stabilising step stagnates",
                        tt.sqrt()
                    ),
                    snorm,
                ));
            }
            omega = ts / tt;
            k.axpy(omega, z, x);
            k.axpy(-omega, t, r);
            rnorm = k.norm2(r);
            if !rnorm.is_finite() {
                return Err(
                    run.breakdown(format!("residual norm is {rnorm} at iteration {it}"), snorm)
                );
            }
            rho_old = rho;
            fresh_shadow = false;

            if let Some(done) = run.iteration(monitor, it, rnorm) {
                return done;
            }
        }
        Err(run.not_converged(rnorm))
    }

    /// Rebuilds the preconditioner for `a`. BiCGStab has no symbolic work, so any matrix of the
    /// same size is accepted, not only one with the same pattern.
    fn update_values(&mut self, a: Arc<CsrMatrix>) -> Result<(), SolveError> {
        self.base.update_values(a)?;
        self.check_memory()
    }

    fn matrix(&self) -> &Arc<CsrMatrix> {
        &self.base.matrix
    }

    fn memory_bytes(&self) -> usize {
        self.base.precond.memory_bytes() + self.workspace_bytes()
    }
}
