//! Right-preconditioned BiCGStab (van der Vorst, 1992) for general nonsymmetric systems.
//!
//! With right preconditioning the recursively updated residual is the unpreconditioned
//! residual `b - A x`, so the stopping criterion `||r|| <= max(tolerance * ||b||,
//! absolute_tolerance)` is checked on the quantity the user asked about, both after the
//! half step (`s`) and after the full step.

use std::sync::Arc;
use std::time::Instant;

use femscale_core::{
    ControlFlow, CsrMatrix, LinearSolver, Preconditioner, PreconditionerFactory, PreparedSolver,
    SolveError, SolveMonitor, SolveReport, SolverOptions,
};

use crate::kernels::Kernels;
use crate::options::MethodOptions;
use crate::precond::JacobiFactory;

/// The timeout is checked on the first iteration and then every this many iterations, so
/// the clock is read rarely.
const TIMEOUT_CHECK_INTERVAL: usize = 16;

/// An inner product `(u, v)` the method divides by counts as zero (breakdown) when
/// `|(u, v)| <= BREAKDOWN_RATIO * ||u|| ||v||`: its value is then rounding noise.
const BREAKDOWN_RATIO: f64 = 64.0 * f64::EPSILON;

const MIB: f64 = 1024.0 * 1024.0;

/// Work vectors: `r`, `r̂0`, `p`, `v`, `t` and one for `M^{-1} p` / `M^{-1} s`.
const WORK_VECTORS: usize = 6;

/// Right-preconditioned BiCGStab (registry name `bicgstab`).
///
/// The preconditioner is built in [`LinearSolver::prepare`] by the factory given here; `x` on
/// input is the initial guess. One iteration is one full BiCGStab step (two SpMVs and two
/// preconditioner applications); when the half-step residual `s` already meets the tolerance
/// the iteration ends there and counts as one. The shadow residual is `r̂0 = r0`. Vanishing
/// `(r̂0, r)`, `(r̂0, v)`, `(t, s)` or `(t, t)` ends the solve with [`SolveError::Breakdown`].
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
        if a.nrows() != a.ncols() {
            return Err(SolveError::DimensionMismatch {
                rows: a.nrows(),
                cols: a.ncols(),
                len: a.ncols(),
            });
        }
        let start = Instant::now();
        let kernels = Kernels::with_threads(options.threads)?;
        let n = a.nrows();
        let workspace_bytes = WORK_VECTORS * n * std::mem::size_of::<f64>();
        if let Some(limit_mb) = options.memory_limit_mb {
            let needed_mb = workspace_bytes as f64 / MIB;
            if needed_mb > limit_mb {
                return Err(SolveError::MemoryBudget {
                    what: "bicgstab work vectors".into(),
                    needed_mb,
                    limit_mb,
                });
            }
        }
        let precond = build_preconditioner(&*self.preconditioner, &a, &kernels)?;
        let mut prepared = PreparedBiCgStab {
            factory: Arc::clone(&self.preconditioner),
            matrix: a,
            precond,
            options: options.clone(),
            kernels,
            r: vec![0.0; n],
            r_hat: vec![0.0; n],
            p: vec![0.0; n],
            v: vec![0.0; n],
            t: vec![0.0; n],
            z: vec![0.0; n],
            setup_seconds: 0.0,
        };
        prepared.check_memory()?;
        prepared.setup_seconds = start.elapsed().as_secs_f64();
        tracing::debug!(setup_seconds = prepared.setup_seconds, "bicgstab prepared");
        Ok(Box::new(prepared))
    }
}

fn build_preconditioner(
    factory: &dyn PreconditionerFactory,
    a: &CsrMatrix,
    kernels: &Kernels,
) -> Result<Box<dyn Preconditioner>, SolveError> {
    kernels.install(a.nrows(), || factory.build(a))
}

/// BiCGStab set up for one matrix: preconditioner plus work vectors reused by every solve.
#[derive(Debug)]
struct PreparedBiCgStab {
    factory: Arc<dyn PreconditionerFactory>,
    matrix: Arc<CsrMatrix>,
    precond: Box<dyn Preconditioner>,
    options: SolverOptions,
    kernels: Kernels,
    /// Residual; holds `s = r - alpha v` between the half and the full step.
    r: Vec<f64>,
    /// Shadow residual `r̂0`.
    r_hat: Vec<f64>,
    p: Vec<f64>,
    v: Vec<f64>,
    t: Vec<f64>,
    /// `M^{-1} p`, then `M^{-1} s`.
    z: Vec<f64>,
    setup_seconds: f64,
}

impl PreparedBiCgStab {
    fn workspace_bytes(&self) -> usize {
        (self.r.capacity()
            + self.r_hat.capacity()
            + self.p.capacity()
            + self.v.capacity()
            + self.t.capacity()
            + self.z.capacity())
            * std::mem::size_of::<f64>()
    }

    fn check_memory(&self) -> Result<(), SolveError> {
        if let Some(limit_mb) = self.options.memory_limit_mb {
            let needed_mb = self.memory_bytes() as f64 / MIB;
            if needed_mb > limit_mb {
                return Err(SolveError::MemoryBudget {
                    what: format!("bicgstab with the `{}` preconditioner", self.precond.name()),
                    needed_mb,
                    limit_mb,
                });
            }
        }
        Ok(())
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
        fields(solver = "bicgstab", preconditioner = self.precond.name(), n = b.len(), iterations = tracing::field::Empty)
    )]
    fn solve(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError> {
        let start = Instant::now();
        let a = Arc::clone(&self.matrix);
        let n = a.nrows();
        for len in [b.len(), x.len()] {
            if len != n {
                return Err(SolveError::DimensionMismatch {
                    rows: n,
                    cols: a.ncols(),
                    len,
                });
            }
        }
        let memory_bytes = self.memory_bytes();
        let Self {
            precond,
            options: opts,
            kernels: k,
            r,
            r_hat,
            p,
            v,
            t,
            z,
            setup_seconds,
            ..
        } = self;
        let (precond, setup_seconds) = (&**precond, *setup_seconds);
        let mut report = SolveReport::new("bicgstab", precond.name());
        report.tolerance = opts.tolerance;
        report.setup_seconds = setup_seconds;
        report.threads = k.threads();
        report.memory_bytes = memory_bytes;
        let apply_preconditioner =
            |r: &[f64], z: &mut [f64]| k.install(r.len(), || precond.apply(r, z));
        let finish = |mut report: SolveReport, rnorm: f64, bnorm: f64| {
            report.final_residual = rnorm;
            report.final_relative_residual = rnorm / if bnorm > 0.0 { bnorm } else { 1.0 };
            report.solve_seconds = start.elapsed().as_secs_f64();
            tracing::Span::current().record("iterations", report.iterations);
            report
        };
        let breakdown =
            |report: SolveReport, detail: String, rnorm: f64, bnorm: f64| SolveError::Breakdown {
                method: "bicgstab".into(),
                detail,
                report: Box::new(finish(report, rnorm, bnorm)),
            };

        let bnorm = k.norm2(b);
        if !bnorm.is_finite() {
            return Err(SolveError::InvalidOption {
                option: "rhs".into(),
                reason: format!("right-hand side has non-finite norm {bnorm}"),
            });
        }
        if bnorm == 0.0 {
            x.fill(0.0);
            report.converged = true;
            return Ok(finish(report, 0.0, 0.0));
        }
        let target = (opts.tolerance * bnorm).max(opts.absolute_tolerance);

        // r = b - A x0, r̂0 = r0
        k.spmv(&a, x, r);
        k.residual_from_product(b, r);
        let mut rnorm = k.norm2(r);
        report.initial_residual = rnorm;
        if !rnorm.is_finite() {
            return Err(breakdown(
                report,
                format!("initial residual norm is {rnorm} (non-finite initial guess?)"),
                rnorm,
                bnorm,
            ));
        }
        if rnorm <= target {
            report.converged = true;
            return Ok(finish(report, rnorm, bnorm));
        }
        r_hat.copy_from_slice(r);
        let r_hat_norm = rnorm;
        report
            .residual_history
            .reserve(opts.max_iterations.min(100_000));

        let (mut rho_old, mut alpha, mut omega) = (1.0, 1.0, 1.0);
        for it in 1..=opts.max_iterations {
            if let Some(limit) = opts.timeout_seconds
                && (it == 1 || it % TIMEOUT_CHECK_INTERVAL == 0)
            {
                let elapsed = setup_seconds + start.elapsed().as_secs_f64();
                if elapsed > limit {
                    return Err(SolveError::Timeout {
                        elapsed_seconds: elapsed,
                        limit_seconds: limit,
                        report: Box::new(finish(report, rnorm, bnorm)),
                    });
                }
            }

            // Here r does not meet the tolerance (checked at the end of the previous step).
            let rho = k.dot(r_hat, r);
            if vanishes(rho, r_hat_norm, rnorm) {
                return Err(breakdown(
                    report,
                    format!(
                        "rho = (r̂0, r) = {rho:e} vanishes (||r̂0|| = {r_hat_norm:e}, ||r|| = \
                         {rnorm:e}) at iteration {it}: r is orthogonal to the shadow residual"
                    ),
                    rnorm,
                    bnorm,
                ));
            }
            if it == 1 {
                p.copy_from_slice(r);
            } else {
                // p = r + beta (p - omega v)
                let beta = (rho / rho_old) * (alpha / omega);
                k.axpy(-omega, v, p);
                k.xpay(r, beta, p);
            }
            apply_preconditioner(p, z);
            k.spmv(&a, z, v);
            let rv = k.dot(r_hat, v);
            let vnorm = k.norm2(v);
            if vanishes(rv, r_hat_norm, vnorm) {
                return Err(breakdown(
                    report,
                    format!(
                        "(r̂0, v) = {rv:e} with v = A M^-1 p vanishes (||r̂0|| = {r_hat_norm:e}, \
                         ||v|| = {vnorm:e}) at iteration {it}"
                    ),
                    rnorm,
                    bnorm,
                ));
            }
            alpha = rho / rv;
            // Half step: x += alpha M^{-1} p, s = r - alpha v (in r).
            k.axpy(alpha, z, x);
            k.axpy(-alpha, v, r);
            let snorm = k.norm2(r);
            if !snorm.is_finite() {
                return Err(breakdown(
                    report,
                    format!("half-step residual norm ||s|| = {snorm} at iteration {it}"),
                    rnorm,
                    bnorm,
                ));
            }
            if snorm <= target {
                rnorm = snorm;
                let relative = rnorm / bnorm;
                report.iterations = it;
                report.residual_history.push(relative);
                // The solve has converged: the monitor observes but cannot stop it.
                let _ = monitor.on_iteration(it, relative);
                report.converged = true;
                return Ok(finish(report, rnorm, bnorm));
            }

            // Full step: t = A M^{-1} s, omega = (t, s) / (t, t).
            apply_preconditioner(r, z);
            k.spmv(&a, z, t);
            let tt = k.dot(t, t);
            if !(tt.is_finite() && tt > 0.0) {
                return Err(breakdown(
                    report,
                    format!(
                        "(t, t) = {tt:e} with t = A M^-1 s at iteration {it} (||s|| = {snorm:e}; \
                         singular matrix or preconditioner?)"
                    ),
                    snorm,
                    bnorm,
                ));
            }
            let ts = k.dot(t, r);
            if vanishes(ts, tt.sqrt(), snorm) {
                return Err(breakdown(
                    report,
                    format!(
                        "omega = (t, s) / (t, t) vanishes ((t, s) = {ts:e}, ||t|| = {:e}, ||s|| = \
                         {snorm:e}) at iteration {it}: the stabilising step stagnates",
                        tt.sqrt()
                    ),
                    snorm,
                    bnorm,
                ));
            }
            omega = ts / tt;
            k.axpy(omega, z, x);
            k.axpy(-omega, t, r);
            rnorm = k.norm2(r);
            if !rnorm.is_finite() {
                return Err(breakdown(
                    report,
                    format!("residual norm is {rnorm} at iteration {it}"),
                    snorm,
                    bnorm,
                ));
            }
            rho_old = rho;

            let relative = rnorm / bnorm;
            report.iterations = it;
            report.residual_history.push(relative);
            let converged = rnorm <= target;
            let flow = monitor.on_iteration(it, relative);
            if converged {
                report.converged = true;
                return Ok(finish(report, rnorm, bnorm));
            }
            if flow == ControlFlow::Break(()) {
                return Err(SolveError::Stopped {
                    report: Box::new(finish(report, rnorm, bnorm)),
                });
            }
        }
        Err(SolveError::NotConverged {
            report: Box::new(finish(report, rnorm, bnorm)),
        })
    }

    /// Rebuilds the preconditioner for `a`. BiCGStab has no symbolic work, so any matrix of the
    /// same size is accepted, not only one with the same pattern.
    fn update_values(&mut self, a: Arc<CsrMatrix>) -> Result<(), SolveError> {
        let n = self.matrix.nrows();
        if a.nrows() != n || a.ncols() != n {
            return Err(SolveError::DimensionMismatch {
                rows: a.nrows(),
                cols: a.ncols(),
                len: n,
            });
        }
        let start = Instant::now();
        self.precond = build_preconditioner(&*self.factory, &a, &self.kernels)?;
        self.matrix = a;
        self.setup_seconds = start.elapsed().as_secs_f64();
        self.check_memory()
    }

    fn matrix(&self) -> &Arc<CsrMatrix> {
        &self.matrix
    }

    fn setup_seconds(&self) -> f64 {
        self.setup_seconds
    }

    fn memory_bytes(&self) -> usize {
        self.precond.memory_bytes() + self.workspace_bytes()
    }
}
