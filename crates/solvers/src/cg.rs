//! Preconditioned conjugate gradients for symmetric positive definite systems.

use std::sync::Arc;
use std::time::Instant;

use femscale_core::{
    ControlFlow, CsrMatrix, LinearSolver, Preconditioner, PreconditionerFactory, PreparedSolver,
    SolveError, SolveMonitor, SolveReport, SolverOptions,
};

use crate::kernels::Kernels;
use crate::precond::JacobiFactory;

/// The timeout is checked on the first iteration and then every this many iterations, so
/// the clock is read rarely.
const TIMEOUT_CHECK_INTERVAL: usize = 16;

/// Preconditioned conjugate gradients (registry name `cg`).
///
/// The preconditioner is built in [`LinearSolver::prepare`] by the factory given here. The
/// stopping criterion is `||r|| <= max(tolerance * ||b||, absolute_tolerance)` on the
/// recursively updated residual; `x` on input is the initial guess.
#[derive(Debug, Clone)]
pub struct ConjugateGradient {
    preconditioner: Arc<dyn PreconditionerFactory>,
}

impl ConjugateGradient {
    /// CG with the preconditioner built by `preconditioner`.
    pub fn new(preconditioner: Arc<dyn PreconditionerFactory>) -> Self {
        Self { preconditioner }
    }

    /// The preconditioner factory.
    pub fn preconditioner(&self) -> &Arc<dyn PreconditionerFactory> {
        &self.preconditioner
    }
}

impl Default for ConjugateGradient {
    /// CG with Jacobi preconditioning.
    fn default() -> Self {
        Self::new(Arc::new(JacobiFactory))
    }
}

impl LinearSolver for ConjugateGradient {
    fn name(&self) -> &str {
        "cg"
    }

    #[tracing::instrument(
        skip_all,
        name = "fem.solver.prepare",
        fields(solver = "cg", preconditioner = self.preconditioner.name(), n = a.nrows(), nnz = a.nnz())
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
        let workspace_bytes = 4 * n * std::mem::size_of::<f64>();
        if let Some(limit_mb) = options.memory_limit_mb {
            let needed_mb = workspace_bytes as f64 / MIB;
            if needed_mb > limit_mb {
                return Err(SolveError::MemoryBudget {
                    what: "cg work vectors".into(),
                    needed_mb,
                    limit_mb,
                });
            }
        }
        let precond = build_preconditioner(&*self.preconditioner, &a, &kernels)?;
        let mut prepared = PreparedCg {
            factory: Arc::clone(&self.preconditioner),
            matrix: a,
            precond,
            options: options.clone(),
            kernels,
            r: vec![0.0; n],
            z: vec![0.0; n],
            p: vec![0.0; n],
            q: vec![0.0; n],
            setup_seconds: 0.0,
        };
        prepared.check_memory()?;
        prepared.setup_seconds = start.elapsed().as_secs_f64();
        tracing::debug!(setup_seconds = prepared.setup_seconds, "cg prepared");
        Ok(Box::new(prepared))
    }
}

const MIB: f64 = 1024.0 * 1024.0;

fn build_preconditioner(
    factory: &dyn PreconditionerFactory,
    a: &CsrMatrix,
    kernels: &Kernels,
) -> Result<Box<dyn Preconditioner>, SolveError> {
    kernels.install(a.nrows(), || factory.build(a))
}

/// CG set up for one matrix: preconditioner plus work vectors reused by every solve.
#[derive(Debug)]
struct PreparedCg {
    factory: Arc<dyn PreconditionerFactory>,
    matrix: Arc<CsrMatrix>,
    precond: Box<dyn Preconditioner>,
    options: SolverOptions,
    kernels: Kernels,
    r: Vec<f64>,
    z: Vec<f64>,
    p: Vec<f64>,
    q: Vec<f64>,
    setup_seconds: f64,
}

impl PreparedCg {
    fn workspace_bytes(&self) -> usize {
        (self.r.capacity() + self.z.capacity() + self.p.capacity() + self.q.capacity())
            * std::mem::size_of::<f64>()
    }

    fn check_memory(&self) -> Result<(), SolveError> {
        if let Some(limit_mb) = self.options.memory_limit_mb {
            let needed_mb = self.memory_bytes() as f64 / MIB;
            if needed_mb > limit_mb {
                return Err(SolveError::MemoryBudget {
                    what: format!("cg with the `{}` preconditioner", self.precond.name()),
                    needed_mb,
                    limit_mb,
                });
            }
        }
        Ok(())
    }
}

impl PreparedSolver for PreparedCg {
    #[tracing::instrument(
        skip_all,
        name = "fem.solver.solve",
        fields(solver = "cg", preconditioner = self.precond.name(), n = b.len(), iterations = tracing::field::Empty)
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
            z,
            p,
            q,
            setup_seconds,
            ..
        } = self;
        let (precond, setup_seconds) = (&**precond, *setup_seconds);
        let mut report = SolveReport::new("cg", precond.name());
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

        // r = b - A x0
        k.spmv(&a, x, r);
        k.residual_from_product(b, r);
        let mut rnorm = k.norm2(r);
        report.initial_residual = rnorm;
        if !rnorm.is_finite() {
            return Err(SolveError::Breakdown {
                method: "cg".into(),
                detail: format!("initial residual norm is {rnorm} (non-finite initial guess?)"),
                report: Box::new(finish(report, rnorm, bnorm)),
            });
        }
        if rnorm <= target {
            report.converged = true;
            return Ok(finish(report, rnorm, bnorm));
        }

        apply_preconditioner(r, z);
        let mut rz = k.dot(r, z);
        if !(rz.is_finite() && rz > 0.0) {
            return Err(SolveError::Breakdown {
                method: "cg".into(),
                detail: format!("r·z = {rz} at the start (preconditioner not positive definite?)"),
                report: Box::new(finish(report, rnorm, bnorm)),
            });
        }
        p.copy_from_slice(z);
        report
            .residual_history
            .reserve(opts.max_iterations.min(100_000));

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

            k.spmv(&a, p, q);
            let pq = k.dot(p, q);
            if !(pq.is_finite() && pq > 0.0) {
                return Err(SolveError::Breakdown {
                    method: "cg".into(),
                    detail: format!(
                        "p·Ap = {pq} at iteration {it} (matrix not positive definite?)"
                    ),
                    report: Box::new(finish(report, rnorm, bnorm)),
                });
            }
            let alpha = rz / pq;
            k.axpy(alpha, p, x);
            k.axpy(-alpha, q, r);
            rnorm = k.norm2(r);
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
            if it == opts.max_iterations {
                break;
            }

            apply_preconditioner(r, z);
            let rz_new = k.dot(r, z);
            if !(rz_new.is_finite() && rz_new > 0.0) {
                return Err(SolveError::Breakdown {
                    method: "cg".into(),
                    detail: format!(
                        "r·z = {rz_new} at iteration {it} (preconditioner not positive definite?)"
                    ),
                    report: Box::new(finish(report, rnorm, bnorm)),
                });
            }
            let beta = rz_new / rz;
            rz = rz_new;
            k.xpay(z, beta, p);
        }
        Err(SolveError::NotConverged {
            report: Box::new(finish(report, rnorm, bnorm)),
        })
    }

    /// Rebuilds the preconditioner for `a`. CG has no symbolic work, so any matrix of the same
    /// size is accepted, not only one with the same pattern.
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
