//! Scaffolding shared by the solvers of this crate: argument and budget checks, the set-up
//! common to the preconditioned Krylov methods, and the bookkeeping of an iterative solve
//! (stopping test, monitor, timeout, the final report).
//!
//! Only the checks and the bookkeeping live here; every method keeps its own numerics.

use std::sync::Arc;
use std::time::Instant;

use femscale_core::checks::{check_memory_bytes, check_size, check_square, check_work_space};
use femscale_core::{
    ControlFlow, CsrMatrix, Preconditioner, PreconditionerFactory, SolveError, SolveMonitor,
    SolveReport, SolverOptions,
};

use crate::kernels::Kernels;

/// The timeout of an iterative solve is checked on the first iteration and then every this many
/// iterations, so the clock is read rarely.
pub(crate) const TIMEOUT_CHECK_INTERVAL: usize = 16;

/// At most this many entries are reserved up front for the residual history.
const HISTORY_RESERVE_MAX: usize = 100_000;

/// `||b||`, or [`SolveError::InvalidOption`] (option `rhs`) if it is not finite.
pub(crate) fn rhs_norm(k: &Kernels, b: &[f64]) -> Result<f64, SolveError> {
    let bnorm = k.norm2(b);
    if !bnorm.is_finite() {
        return Err(SolveError::InvalidOption {
            option: "rhs".into(),
            reason: format!("right-hand side has non-finite norm {bnorm}"),
        });
    }
    Ok(bnorm)
}

/// The stopping target `max(tolerance * ||b||, absolute_tolerance)`.
pub(crate) fn residual_target(options: &SolverOptions, bnorm: f64) -> f64 {
    (options.tolerance * bnorm).max(options.absolute_tolerance)
}

/// `rnorm / ||b||`, with `||b|| = 0` counting as 1.
pub(crate) fn relative_residual(rnorm: f64, bnorm: f64) -> f64 {
    rnorm / if bnorm > 0.0 { bnorm } else { 1.0 }
}

/// Why `what` — an inner product `u·v` that must be positive (`r·z`, `p·Ap`, `(t, t)`) — is
/// `value` (`when`: "at the start", "at iteration 12"). Zero or infinity from vectors whose
/// entries' products are themselves below about 1e-290 or above 1e290 is the range of `f64`
/// running out — a tolerance near 1e-300, a preconditioner that scales by that much (an SSOR
/// `omega` of 1e-300), a right-hand side far from 1 — not the operator; anything else is the
/// method's `suspect`.
pub(crate) fn not_positive(
    what: &str,
    value: f64,
    when: &str,
    u: &[f64],
    v: &[f64],
    suspect: &str,
) -> String {
    let amax = |w: &[f64]| w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let (mu, mv) = (amax(u), amax(v));
    // The largest product `mu · mv` compared without forming it (it may underflow itself).
    let n = u.len().max(1) as f64;
    let out_of_range = (value == 0.0 && mu > 0.0 && mv > 0.0 && mu < 1e-290 / mv)
        || (value.is_infinite() && mu.is_finite() && mv.is_finite() && mu > 1e290 / mv / n);
    if out_of_range {
        format!(
            "{what} = {value:e} {when}: the products of the vectors' entries (largest entries \
             {mu:.3e} and {mv:.3e}) leave the range of f64 — a tolerance near 1e-300, a \
             preconditioner scaling by about that much (a tiny ssor omega) or a right-hand side \
             far from 1; loosen the tolerance or scale the problem towards 1"
        )
    } else {
        format!("{what} = {value:e} {when} ({suspect})")
    }
}

// ---------------------------------------------------------------------------------------------
// preconditioned Krylov set-up

/// What every preconditioned Krylov solver keeps besides its work vectors: the matrix, the
/// preconditioner and the factory that rebuilds it, the options and the kernels.
#[derive(Debug)]
pub(crate) struct Preconditioned {
    pub(crate) factory: Arc<dyn PreconditionerFactory>,
    pub(crate) matrix: Arc<CsrMatrix>,
    pub(crate) precond: Arc<dyn Preconditioner>,
    /// The options, without their coarse space when the preconditioner gives it back for a
    /// rebuild (`space_in_precond`): a P2 -> P1 prolongator in `f64` is three vectors' worth
    /// that the solve would otherwise keep alive beside the preconditioner's own copy.
    pub(crate) options: SolverOptions,
    pub(crate) space_in_precond: bool,
    pub(crate) kernels: Kernels,
    pub(crate) setup_seconds: f64,
}

impl Preconditioned {
    /// The common part of `prepare` (after the options were validated): checks that `a` is
    /// square, sets up the kernels, checks `workspace_bytes` (the method's work space, named
    /// `what` in the error) against the memory budget and builds the preconditioner.
    ///
    /// Returns the set-up with `setup_seconds = 0` and the instant the set-up started; the
    /// caller adds its work vectors, checks the total memory and sets `setup_seconds`.
    pub(crate) fn prepare(
        factory: &Arc<dyn PreconditionerFactory>,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
        workspace_bytes: usize,
        what: impl FnOnce() -> String,
    ) -> Result<(Self, Instant), SolveError> {
        check_square(&a)?;
        let start = Instant::now();
        let kernels = Kernels::with_threads(options.threads)?;
        check_work_space(options.memory_limit_mb, workspace_bytes, what)?;
        let precond = build_preconditioner(&**factory, &a, options, &kernels)?;
        let mut options = options.clone();
        let space_in_precond = options.coarse_space.is_some() && precond.recovers_coarse_space();
        if space_in_precond {
            options.coarse_space = None;
        }
        let setup = Self {
            factory: Arc::clone(factory),
            matrix: a,
            precond,
            options,
            space_in_precond,
            kernels,
            setup_seconds: 0.0,
        };
        Ok((setup, start))
    }

    /// The common part of `update_values`: rebuilds the preconditioner for `a`, which must be
    /// of the same size (the methods have no symbolic work, so any pattern is accepted). The
    /// caller then checks the memory budget again.
    pub(crate) fn update_values(&mut self, a: Arc<CsrMatrix>) -> Result<(), SolveError> {
        check_size(self.matrix.nrows(), &a)?;
        let start = Instant::now();
        let recovered;
        let options = if self.space_in_precond {
            let mut options = self.options.clone();
            options.coarse_space = self.precond.coarse_space()?;
            recovered = options;
            &recovered
        } else {
            &self.options
        };
        self.precond = build_preconditioner(&*self.factory, &a, options, &self.kernels)?;
        self.matrix = a;
        self.setup_seconds = start.elapsed().as_secs_f64();
        Ok(())
    }

    /// [`femscale_core::checks::check_memory_bytes`] against the configured limit.
    pub(crate) fn check_memory(
        &self,
        bytes: usize,
        what: impl FnOnce() -> String,
    ) -> Result<(), SolveError> {
        check_memory_bytes(self.options.memory_limit_mb, bytes, what)
    }

    /// Starts the [`Run`] of a solve of `method` with this preconditioner (see [`Run::new`]);
    /// a breakdown or failure to converge that the preconditioner caused by failing in `apply`
    /// is reported as its failure ([`Preconditioner::take_failure`]).
    pub(crate) fn run(
        &self,
        method: &'static str,
        start: Instant,
        memory_bytes: usize,
        b: &[f64],
    ) -> Result<Run, SolveError> {
        let mut run = Run::new(
            method,
            self.precond.name(),
            start,
            &self.options,
            self.setup_seconds,
            &self.kernels,
            memory_bytes,
            b,
        )?;
        run.preconditioner = Some(Arc::clone(&self.precond));
        Ok(run)
    }

    /// Applies the preconditioner, `z = M^{-1} r`, in the kernels' pool.
    #[inline]
    pub(crate) fn apply(&self, r: &[f64], z: &mut [f64]) {
        self.kernels.install(r.len(), || self.precond.apply(r, z));
    }
}

fn build_preconditioner(
    factory: &dyn PreconditionerFactory,
    a: &Arc<CsrMatrix>,
    options: &SolverOptions,
    kernels: &Kernels,
) -> Result<Arc<dyn Preconditioner>, SolveError> {
    kernels
        .install(a.nrows(), || factory.build_shared(a, options))
        .map(Arc::from)
}

// ---------------------------------------------------------------------------------------------
// the bookkeeping of one solve

/// The time budget was exceeded: seconds elapsed (set-up plus solve) and the limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Overrun {
    elapsed_seconds: f64,
    limit_seconds: f64,
}

/// One iterative solve in progress: the report being filled in, the clock and the stopping
/// target.
///
/// The methods that end the solve consume the run and return the finished report (final
/// residuals, solve time, the `iterations` field of the tracing span) or the error carrying it.
/// [`Run::iteration`] and [`Run::conclude`] return `Some(outcome)` when the solve ends; the
/// report then moved into `outcome`, which the caller returns.
#[derive(Debug)]
pub(crate) struct Run {
    /// The report; solvers fill in `initial_residual` and may edit the history.
    pub(crate) report: SolveReport,
    method: &'static str,
    start: Instant,
    setup_seconds: f64,
    timeout_seconds: Option<f64>,
    max_iterations: usize,
    bnorm: f64,
    target: f64,
    /// The preconditioner, asked for its own failure when the solve breaks down.
    preconditioner: Option<Arc<dyn Preconditioner>>,
}

impl Run {
    /// Starts the run of `method` (also the report's solver name) with `preconditioner`:
    /// `start` is when `solve` was entered, `setup_seconds` counts against the timeout.
    /// Fails if `||b||` is not finite.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        method: &'static str,
        preconditioner: &str,
        start: Instant,
        options: &SolverOptions,
        setup_seconds: f64,
        kernels: &Kernels,
        memory_bytes: usize,
        b: &[f64],
    ) -> Result<Self, SolveError> {
        let mut report = SolveReport::new(method, preconditioner);
        report.tolerance = options.tolerance;
        report.setup_seconds = setup_seconds;
        report.threads = kernels.threads();
        report.memory_bytes = memory_bytes;
        let bnorm = rhs_norm(kernels, b)?;
        Ok(Self {
            report,
            method,
            start,
            setup_seconds,
            timeout_seconds: options.timeout_seconds,
            max_iterations: options.max_iterations,
            bnorm,
            target: residual_target(options, bnorm),
            preconditioner: None,
        })
    }

    /// `||b||`.
    pub(crate) fn bnorm(&self) -> f64 {
        self.bnorm
    }

    /// The stopping target `max(tolerance * ||b||, absolute_tolerance)`.
    pub(crate) fn target(&self) -> f64 {
        self.target
    }

    /// For `b = 0`: `x = 0` is the exact solution.
    pub(crate) fn zero_rhs(self, x: &mut [f64]) -> SolveReport {
        x.fill(0.0);
        self.converged(0.0)
    }

    /// Records the initial residual `rnorm`; ends the solve with a breakdown if it is not
    /// finite or as converged if it meets the target.
    pub(crate) fn initial_residual(
        &mut self,
        rnorm: f64,
    ) -> Option<Result<SolveReport, SolveError>> {
        self.report.initial_residual = rnorm;
        if !rnorm.is_finite() {
            return Some(Err(self.take().breakdown(
                format!("initial residual norm is {rnorm} (non-finite initial guess?)"),
                rnorm,
            )));
        }
        if rnorm <= self.target {
            return Some(Ok(self.take().converged(rnorm)));
        }
        None
    }

    /// Reserves room for the residual history before the first iteration.
    pub(crate) fn reserve_history(&mut self) {
        self.report
            .residual_history
            .reserve(self.max_iterations.min(HISTORY_RESERVE_MAX));
    }

    /// Records iteration `it` with the residual (or residual estimate) `rnorm`: sets
    /// `iterations` and appends the relative residual to the history, which it returns.
    pub(crate) fn record(&mut self, it: usize, rnorm: f64) -> f64 {
        let relative = rnorm / self.bnorm;
        self.report.iterations = it;
        self.report.residual_history.push(relative);
        relative
    }

    /// Ends iteration `it` with residual `rnorm`: records it, calls the monitor and ends the
    /// solve if `rnorm` meets the target (converged, even if the monitor asked to stop) or the
    /// monitor asked to stop ([`SolveError::Stopped`]).
    pub(crate) fn iteration(
        &mut self,
        monitor: &mut dyn SolveMonitor,
        it: usize,
        rnorm: f64,
    ) -> Option<Result<SolveReport, SolveError>> {
        let relative = self.record(it, rnorm);
        let flow = monitor.on_iteration(it, relative);
        self.conclude(rnorm, flow)
    }

    /// Ends the solve as converged if `rnorm` meets the target, or as stopped if `flow` (the
    /// monitor's answer) is `Break`.
    pub(crate) fn conclude(
        &mut self,
        rnorm: f64,
        flow: ControlFlow<()>,
    ) -> Option<Result<SolveReport, SolveError>> {
        if rnorm <= self.target {
            return Some(Ok(self.take().converged(rnorm)));
        }
        if flow == ControlFlow::Break(()) {
            return Some(Err(self.take().stopped(rnorm)));
        }
        None
    }

    /// The time budget, if exceeded, checked on iteration `it` only when it is the first one or
    /// a multiple of [`TIMEOUT_CHECK_INTERVAL`].
    pub(crate) fn timeout_due(&self, it: usize) -> Option<Overrun> {
        if it == 1 || it.is_multiple_of(TIMEOUT_CHECK_INTERVAL) {
            self.overrun()
        } else {
            None
        }
    }

    /// The time budget (set-up plus this solve so far), if exceeded.
    pub(crate) fn overrun(&self) -> Option<Overrun> {
        let limit = self.timeout_seconds?;
        let elapsed = self.setup_seconds + self.start.elapsed().as_secs_f64();
        (elapsed > limit).then_some(Overrun {
            elapsed_seconds: elapsed,
            limit_seconds: limit,
        })
    }

    /// The finished report with final residual `rnorm`.
    pub(crate) fn finish(self, rnorm: f64) -> SolveReport {
        let mut report = self.report;
        report.final_residual = rnorm;
        report.final_relative_residual = relative_residual(rnorm, self.bnorm);
        report.solve_seconds = self.start.elapsed().as_secs_f64();
        tracing::Span::current().record("iterations", report.iterations);
        report
    }

    /// The finished report, marked converged.
    pub(crate) fn converged(mut self, rnorm: f64) -> SolveReport {
        self.report.converged = true;
        self.finish(rnorm)
    }

    /// The preconditioner's failure in `apply`, if it had one.
    fn preconditioner_failure(&self) -> Option<SolveError> {
        self.preconditioner.as_ref()?.take_failure()
    }

    /// [`SolveError::Breakdown`] of this method with `detail`, or the preconditioner's own
    /// failure that caused it.
    pub(crate) fn breakdown(self, detail: String, rnorm: f64) -> SolveError {
        if let Some(failure) = self.preconditioner_failure() {
            return failure;
        }
        SolveError::Breakdown {
            method: self.method.into(),
            detail,
            report: Box::new(self.finish(rnorm)),
        }
    }

    /// [`SolveError::Stopped`].
    pub(crate) fn stopped(self, rnorm: f64) -> SolveError {
        SolveError::Stopped {
            report: Box::new(self.finish(rnorm)),
        }
    }

    /// [`SolveError::NotConverged`], or the preconditioner's own failure that caused it.
    pub(crate) fn not_converged(self, rnorm: f64) -> SolveError {
        if let Some(failure) = self.preconditioner_failure() {
            return failure;
        }
        SolveError::NotConverged {
            report: Box::new(self.finish(rnorm)),
        }
    }

    /// [`SolveError::Timeout`] for `overrun`.
    pub(crate) fn timeout(self, overrun: Overrun, rnorm: f64) -> SolveError {
        SolveError::Timeout {
            elapsed_seconds: overrun.elapsed_seconds,
            limit_seconds: overrun.limit_seconds,
            report: Box::new(self.finish(rnorm)),
        }
    }

    /// Moves the run out, leaving an empty report behind (the caller ends the solve).
    fn take(&mut self) -> Self {
        Self {
            report: std::mem::take(&mut self.report),
            preconditioner: self.preconditioner.clone(),
            ..*self
        }
    }
}
