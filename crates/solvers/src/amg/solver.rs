//! The standalone AMG solver: the stationary iteration `x += M⁻¹ (b - A x)` with one cycle
//! as `M⁻¹`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use femscale_core::checks::{bytes_to_mb, check_size, check_square, check_system};
use femscale_core::{
    ControlFlow, CsrMatrix, LinearSolver, PreparedSolver, SolveError, SolveMonitor, SolveReport,
    SolverOptions,
};

use super::{AmgFactory, AmgHierarchy, validate_options};
use crate::iterative::Run;
use crate::kernels::Kernels;
use crate::options::AmgOptions;

/// Smoothed-aggregation AMG as a solver (registry name `amg`): cycles (V or W) until
/// `||b - A x|| <= max(tolerance ||b||, absolute_tolerance)` (the true residual, computed every
/// iteration). `x` on input is the initial guess. Budgets of [`SolverOptions`] apply to the
/// set-up (memory estimated before each level is built, timeout between levels) and the
/// timeout to set-up plus solve.
#[derive(Debug, Clone, Default)]
pub struct AmgSolver {
    options: AmgOptions,
}

impl AmgSolver {
    /// An AMG solver with `options`.
    pub fn new(options: AmgOptions) -> Self {
        Self { options }
    }
}

impl LinearSolver for AmgSolver {
    fn name(&self) -> &str {
        "amg"
    }

    #[tracing::instrument(
        skip_all,
        name = "fem.solver.prepare",
        fields(solver = "amg", n = a.nrows(), nnz = a.nnz())
    )]
    fn prepare(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> Result<Box<dyn PreparedSolver>, SolveError> {
        options.validate()?;
        validate_options(&self.options)?;
        check_square(&a)?;
        let start = Instant::now();
        let n = a.nrows();
        let kernels = Kernels::with_threads(options.threads)?;
        let vectors = 2 * n * 8;
        let limit = options.memory_limit_mb.map(|l| l - bytes_to_mb(vectors));
        let deadline = options
            .timeout_seconds
            // A limit too large for an `Instant` is no deadline (never a panic).
            .and_then(|t| Duration::try_from_secs_f64(t).ok())
            .and_then(|d| start.checked_add(d));
        let factory = AmgFactory::new(self.options.clone());
        let hierarchy = kernels
            .install(usize::MAX, || {
                factory.build_on_shared(&a, options.coarse_space.as_ref(), limit, deadline)
            })
            .map_err(|e| retime(e, start, options))?;
        // The hierarchy keeps its given prolongator through `update_values`: the options'
        // copy of the coarse space is not needed again.
        let mut options = options.clone();
        options.coarse_space = None;
        let prepared = PreparedAmg {
            matrix: a,
            hierarchy,
            options,
            kernels,
            r: vec![0.0; n],
            z: vec![0.0; n],
            setup_seconds: start.elapsed().as_secs_f64(),
        };
        Ok(Box::new(prepared))
    }
}

/// Restates a set-up timeout in the solver's terms (`timeout_seconds` from `start`).
fn retime(e: SolveError, start: Instant, options: &SolverOptions) -> SolveError {
    match e {
        SolveError::Timeout { mut report, .. } => {
            let elapsed = start.elapsed().as_secs_f64();
            report.tolerance = options.tolerance;
            report.setup_seconds = elapsed;
            SolveError::Timeout {
                elapsed_seconds: elapsed,
                limit_seconds: options.timeout_seconds.unwrap_or(0.0),
                report,
            }
        }
        e => e,
    }
}

/// The AMG solver set up for one matrix.
#[derive(Debug)]
struct PreparedAmg {
    matrix: Arc<CsrMatrix>,
    hierarchy: AmgHierarchy,
    options: SolverOptions,
    kernels: Kernels,
    r: Vec<f64>,
    z: Vec<f64>,
    setup_seconds: f64,
}

impl PreparedSolver for PreparedAmg {
    #[tracing::instrument(
        skip_all,
        name = "fem.solver.solve",
        fields(solver = "amg", n = b.len(), iterations = tracing::field::Empty)
    )]
    fn solve(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError> {
        let start = Instant::now();
        let n = self.matrix.nrows();
        check_system(&self.matrix, b, x)?;
        let memory_bytes = self.memory_bytes();
        let Self {
            hierarchy,
            options: opts,
            kernels: k,
            r,
            z,
            setup_seconds,
            ..
        } = self;
        let mut run = Run::new(
            "amg",
            "amg",
            start,
            opts,
            *setup_seconds,
            k,
            memory_bytes,
            b,
        )?;
        let bnorm = run.bnorm();
        if bnorm == 0.0 {
            return Ok(run.zero_rhs(x));
        }
        run.reserve_history();
        let mut it = 0;
        loop {
            k.install(n, || hierarchy.fine().residual(b, x, r));
            let rnorm = k.norm2(r);
            let relative = if it == 0 {
                run.report.initial_residual = rnorm;
                rnorm / bnorm
            } else {
                run.record(it, rnorm)
            };
            if !rnorm.is_finite() {
                return Err(
                    run.breakdown(format!("residual norm is {rnorm} at iteration {it}"), rnorm)
                );
            }
            let flow = if it > 0 {
                monitor.on_iteration(it, relative)
            } else {
                ControlFlow::Continue(())
            };
            if let Some(done) = run.conclude(rnorm, flow) {
                return done;
            }
            if it == opts.max_iterations {
                return Err(run.not_converged(rnorm));
            }
            if let Some(overrun) = run.overrun() {
                return Err(run.timeout(overrun, rnorm));
            }
            k.install(n, || hierarchy.apply_mut(r, z));
            k.axpy(1.0, z, x);
            it += 1;
        }
    }

    /// Refreshes the hierarchy for new values with the same pattern, reusing the aggregation
    /// (tentative prolongators) and redoing prolongator smoothing, Galerkin products and the
    /// coarse factorisation (see [`AmgHierarchy::update_values`]).
    fn update_values(&mut self, a: Arc<CsrMatrix>) -> Result<(), SolveError> {
        check_size(self.matrix.nrows(), &a)?;
        let start = Instant::now();
        let hierarchy = &mut self.hierarchy;
        self.kernels
            .install(usize::MAX, || hierarchy.update_values(&a))?;
        self.matrix = a;
        self.setup_seconds = start.elapsed().as_secs_f64();
        Ok(())
    }

    fn matrix(&self) -> &Arc<CsrMatrix> {
        &self.matrix
    }

    fn memory_bytes(&self) -> usize {
        self.hierarchy.memory_bytes() + (self.r.capacity() + self.z.capacity()) * 8
    }
}
