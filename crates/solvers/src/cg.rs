//! Preconditioned conjugate gradients for symmetric positive definite systems.

use std::sync::Arc;
use std::time::Instant;

use femscale_core::checks::check_system;
use femscale_core::{
    CsrMatrix, LinearSolver, PooledVec, PreconditionerFactory, PreparedSolver, SolveError,
    SolveMonitor, SolveReport, SolverOptions,
};

use crate::iterative::{Preconditioned, not_positive};
use crate::precond::JacobiFactory;

/// The suspect of an `r·z` that is not positive (within the range of `f64`).
const PRECONDITIONER_NOT_SPD: &str = "preconditioner not positive definite?";
/// What `p·Ap <= 0` suggests, and what solves such a system.
const NOT_SPD: &str = "matrix not positive definite? an indefinite one needs solver.kind = \"gmres\" with \
     solver.preconditioner = \"amg\" (ILU(0), GMRES's default, is slow there), or \"direct\"";

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
        let n = a.nrows();
        let (base, start) = Preconditioned::prepare(
            &self.preconditioner,
            a,
            options,
            3 * n * std::mem::size_of::<f64>(),
            || "cg work vectors".into(),
        )?;
        let mut prepared = PreparedCg {
            base,
            r: options.work_vector(n),
            p: options.work_vector(n),
            qz: options.work_vector(n),
        };
        prepared.check_memory()?;
        prepared.base.setup_seconds = start.elapsed().as_secs_f64();
        tracing::debug!(setup_seconds = prepared.base.setup_seconds, "cg prepared");
        Ok(Box::new(prepared))
    }
}

/// CG set up for one matrix: preconditioner plus work vectors reused by every solve (taken
/// from the process-wide vector pool, to which they return when the prepared solver is dropped).
/// `A p` and `z = M⁻¹ r` share one vector: `A p` is dead once `r` is updated, `z` once `p`
/// is, before the next `A p` is formed.
#[derive(Debug)]
struct PreparedCg {
    base: Preconditioned,
    r: PooledVec,
    p: PooledVec,
    qz: PooledVec,
}

impl PreparedCg {
    fn workspace_bytes(&self) -> usize {
        self.r.bytes() + self.p.bytes() + self.qz.bytes()
    }

    fn check_memory(&self) -> Result<(), SolveError> {
        self.base.check_memory(self.memory_bytes(), || {
            format!("cg with the `{}` preconditioner", self.base.precond.name())
        })
    }
}

impl PreparedSolver for PreparedCg {
    #[tracing::instrument(
        skip_all,
        name = "fem.solver.solve",
        fields(solver = "cg", preconditioner = self.base.precond.name(), n = b.len(), iterations = tracing::field::Empty)
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
        let Self { base, r, p, qz } = self;
        let (k, opts) = (&base.kernels, &base.options);
        let mut run = base.run("cg", start, memory_bytes, b)?;
        if run.bnorm() == 0.0 {
            return Ok(run.zero_rhs(x));
        }

        // r = b - A x0
        k.spmv(&a, x, r);
        k.residual_from_product(b, r);
        let mut rnorm = k.norm2(r);
        if let Some(done) = run.initial_residual(rnorm) {
            return done;
        }

        let z = &mut **qz;
        base.apply(r, z);
        let mut rz = k.dot(r, z);
        if !(rz.is_finite() && rz > 0.0) {
            let why = not_positive("r·z", rz, "at the start", r, z, PRECONDITIONER_NOT_SPD);
            return Err(run.breakdown(why, rnorm));
        }
        p.copy_from_slice(z);
        run.reserve_history();

        for it in 1..=opts.max_iterations {
            if let Some(overrun) = run.timeout_due(it) {
                return Err(run.timeout(overrun, rnorm));
            }

            let q = &mut **qz;
            let pq = k.spmv_dot(&a, p, q);
            if !(pq.is_finite() && pq > 0.0) {
                let when = format!("at iteration {it}");
                let why = not_positive("p·Ap", pq, &when, p, q, NOT_SPD);
                return Err(run.breakdown(why, rnorm));
            }
            let alpha = rz / pq;
            rnorm = k.cg_update(alpha, p, q, x, r);
            if let Some(done) = run.iteration(monitor, it, rnorm) {
                return done;
            }
            if it == opts.max_iterations {
                break;
            }

            let z = &mut **qz;
            base.apply(r, z);
            let rz_new = k.dot(r, z);
            if !(rz_new.is_finite() && rz_new > 0.0) {
                let when = format!("at iteration {it}");
                let why = not_positive("r·z", rz_new, &when, r, z, PRECONDITIONER_NOT_SPD);
                return Err(run.breakdown(why, rnorm));
            }
            let beta = rz_new / rz;
            rz = rz_new;
            k.xpay(z, beta, p);
        }
        Err(run.not_converged(rnorm))
    }

    /// Rebuilds the preconditioner for `a`. CG has no symbolic work, so any matrix of the same
    /// size is accepted, not only one with the same pattern.
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
