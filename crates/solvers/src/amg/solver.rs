//! The standalone AMG solver: the stationary iteration `x += M⁻¹ (b - A x)` with one V-cycle
//! as `M⁻¹`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use femscale_core::{
    ControlFlow, CsrMatrix, LinearSolver, PreparedSolver, SolveError, SolveMonitor, SolveReport,
    SolverOptions,
};

use super::{AmgFactory, AmgHierarchy, validate_options};
use crate::kernels::Kernels;
use crate::options::AmgOptions;

const MIB: f64 = 1024.0 * 1024.0;

/// Smoothed-aggregation AMG as a solver (registry name `amg`): V-cycles until
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
        if a.nrows() != a.ncols() {
            return Err(SolveError::DimensionMismatch {
                rows: a.nrows(),
                cols: a.ncols(),
                len: a.ncols(),
            });
        }
        let start = Instant::now();
        let n = a.nrows();
        let kernels = Kernels::with_threads(options.threads)?;
        let vectors = 2 * n * 8;
        let limit = options.memory_limit_mb.map(|l| l - vectors as f64 / MIB);
        let deadline = options
            .timeout_seconds
            .map(|t| start + Duration::from_secs_f64(t));
        let factory = AmgFactory::new(self.options.clone());
        let hierarchy = kernels
            .install(usize::MAX, || {
                factory.build_with_budget(&a, limit, deadline)
            })
            .map_err(|e| retime(e, start, options))?;
        let prepared = PreparedAmg {
            matrix: a,
            hierarchy,
            options: options.clone(),
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
        for len in [b.len(), x.len()] {
            if len != n {
                return Err(SolveError::DimensionMismatch {
                    rows: n,
                    cols: n,
                    len,
                });
            }
        }
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
        let setup_seconds = *setup_seconds;
        let mut report = SolveReport::new("amg", "amg");
        report.tolerance = opts.tolerance;
        report.setup_seconds = setup_seconds;
        report.threads = k.threads();
        report.memory_bytes = memory_bytes;
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
        report
            .residual_history
            .reserve(opts.max_iterations.min(100_000));
        let mut it = 0;
        loop {
            k.install(n, || hierarchy.fine().residual(b, x, r));
            let rnorm = k.norm2(r);
            let relative = rnorm / bnorm;
            if it == 0 {
                report.initial_residual = rnorm;
            } else {
                report.iterations = it;
                report.residual_history.push(relative);
            }
            if !rnorm.is_finite() {
                return Err(SolveError::Breakdown {
                    method: "amg".into(),
                    detail: format!("residual norm is {rnorm} at iteration {it}"),
                    report: Box::new(finish(report, rnorm, bnorm)),
                });
            }
            let converged = rnorm <= target;
            let flow = if it > 0 {
                monitor.on_iteration(it, relative)
            } else {
                ControlFlow::Continue(())
            };
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
                return Err(SolveError::NotConverged {
                    report: Box::new(finish(report, rnorm, bnorm)),
                });
            }
            if let Some(limit) = opts.timeout_seconds {
                let elapsed = setup_seconds + start.elapsed().as_secs_f64();
                if elapsed > limit {
                    return Err(SolveError::Timeout {
                        elapsed_seconds: elapsed,
                        limit_seconds: limit,
                        report: Box::new(finish(report, rnorm, bnorm)),
                    });
                }
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
        let n = self.matrix.nrows();
        if a.nrows() != n || a.ncols() != n {
            return Err(SolveError::DimensionMismatch {
                rows: a.nrows(),
                cols: a.ncols(),
                len: n,
            });
        }
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

    fn setup_seconds(&self) -> f64 {
        self.setup_seconds
    }

    fn memory_bytes(&self) -> usize {
        self.hierarchy.memory_bytes() + (self.r.capacity() + self.z.capacity()) * 8
    }
}
