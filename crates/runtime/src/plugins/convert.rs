//! Conversions between the plugin interface and femscale-core shared by the Rust and C
//! adapters: parameters, the host monitor, reports, errors and log lines.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use femscale_core::{ControlFlow, CsrMatrix, SolveError, SolveMonitor, SolveReport, SolverOptions};
use femscale_plugin_api::{CsrRef, ErrorKind, LogLevel, RMonitor, SolveOutcome, SolveParams};

use super::PluginError;

/// The ABI view of `a` with its columns widened (`cols`, from
/// [`femscale_core::SparsityPattern::wide_col_idx`]: the ABIs take `usize` indices, femscale
/// stores `u32`; an adapter keeps them as long as it passes the matrix); nothing else is copied.
pub(crate) fn csr_ref<'a>(a: &'a CsrMatrix, cols: &'a [usize]) -> CsrRef<'a> {
    debug_assert_eq!(cols.len(), a.nnz());
    CsrRef {
        nrows: a.nrows(),
        ncols: a.ncols(),
        row_ptr: a.pattern().row_ptr().into(),
        col_idx: cols.into(),
        values: a.values().into(),
    }
}

/// The plugin's view of the solver options.
pub(crate) fn params(o: &SolverOptions) -> SolveParams {
    SolveParams {
        tolerance: o.tolerance,
        absolute_tolerance: o.absolute_tolerance,
        max_iterations: o.max_iterations,
        threads: o.threads,
        timeout_seconds: o.timeout_seconds.into(),
        memory_limit_mb: o.memory_limit_mb.into(),
    }
}

/// [`SolveError::DimensionMismatch`] unless `new` has the pattern of `old` (the contract of
/// `update_values`).
pub(crate) fn check_same_pattern(old: &CsrMatrix, new: &CsrMatrix) -> Result<(), SolveError> {
    femscale_core::checks::check_size(old.nrows(), new)?;
    let same = std::sync::Arc::ptr_eq(old.pattern(), new.pattern())
        || (old.pattern().row_ptr() == new.pattern().row_ptr()
            && old.pattern().col_idx() == new.pattern().col_idx());
    if same {
        Ok(())
    } else {
        Err(SolveError::DimensionMismatch {
            rows: new.nrows(),
            cols: new.ncols(),
            len: old.nrows(),
        })
    }
}

/// The host's monitor as the plugin sees it: forwards each iteration to the
/// [`SolveMonitor`], enforces `timeout_seconds` (set-up plus solve), records the residual
/// history, and keeps a panic of the host's monitor on the host's side.
pub(crate) struct HostMonitor<'a> {
    monitor: &'a mut dyn SolveMonitor,
    start: Instant,
    limit_seconds: Option<f64>,
    setup_seconds: f64,
    /// Whether the timeout stopped the solve.
    pub(crate) timed_out: bool,
    /// A panic of the host's monitor, re-raised once the plugin has returned.
    pub(crate) panic: Option<Box<dyn std::any::Any + Send>>,
    /// Relative residuals reported so far.
    pub(crate) history: Vec<f64>,
}

impl<'a> HostMonitor<'a> {
    pub(crate) fn new(
        monitor: &'a mut dyn SolveMonitor,
        options: &SolverOptions,
        setup_seconds: f64,
    ) -> Self {
        Self {
            monitor,
            start: Instant::now(),
            limit_seconds: options.timeout_seconds,
            setup_seconds,
            timed_out: false,
            panic: None,
            history: Vec::new(),
        }
    }

    /// Seconds of set-up plus this solve so far.
    pub(crate) fn elapsed(&self) -> f64 {
        self.setup_seconds + self.start.elapsed().as_secs_f64()
    }

    /// Re-raises a panic of the host's monitor.
    pub(crate) fn rethrow(&mut self) {
        if let Some(payload) = self.panic.take() {
            std::panic::resume_unwind(payload);
        }
    }
}

impl RMonitor for HostMonitor<'_> {
    fn on_iteration(&mut self, iteration: usize, relative_residual: f64) -> bool {
        if self.panic.is_some() {
            return false;
        }
        self.history.push(relative_residual);
        if let Some(limit) = self.limit_seconds
            && self.elapsed() > limit
        {
            self.timed_out = true;
            return false;
        }
        let monitor = &mut *self.monitor;
        match catch_unwind(AssertUnwindSafe(|| {
            monitor.on_iteration(iteration, relative_residual)
        })) {
            Ok(ControlFlow::Continue(())) => true,
            Ok(ControlFlow::Break(())) => false,
            Err(payload) => {
                self.panic = Some(payload);
                false
            }
        }
    }
}

/// What a prepared plugin solver knows about itself, for reports and errors.
pub(crate) struct ReportContext<'a> {
    /// Registry name (`plugin:chebyshev-cg`).
    pub solver: &'a str,
    /// The plugin's name.
    pub plugin: &'a str,
    /// The options of the solve.
    pub options: &'a SolverOptions,
    /// Seconds of the set-up.
    pub setup_seconds: f64,
    /// Memory held by the prepared solver.
    pub memory_bytes: usize,
}

impl ReportContext<'_> {
    /// The core report of a plugin's outcome; the host's history fills in when the plugin
    /// reports none.
    pub(crate) fn report(
        &self,
        outcome: &SolveOutcome,
        host: &HostMonitor<'_>,
        solve_seconds: f64,
    ) -> SolveReport {
        let preconditioner = match outcome.preconditioner.as_str() {
            "" => "none",
            p => p,
        };
        let mut r = SolveReport::new(self.solver, preconditioner);
        r.iterations = outcome.iterations;
        r.converged = outcome.converged;
        r.initial_residual = outcome.initial_residual;
        r.final_residual = outcome.final_residual;
        r.final_relative_residual = outcome.final_relative_residual;
        r.tolerance = self.options.tolerance;
        r.residual_history = if outcome.residual_history.is_empty() {
            host.history.clone()
        } else {
            outcome.residual_history.to_vec()
        };
        r.setup_seconds = self.setup_seconds;
        r.solve_seconds = solve_seconds;
        r.threads = self.options.threads;
        r.memory_bytes = self.memory_bytes;
        r
    }

    /// [`ReportContext::report`] of a solve the plugin says succeeded, whose figures must be
    /// possible: a relative residual that is a number ≥ 0 and at most the `max_iterations` it
    /// was given (the solution itself is verified afterwards, as every solution is).
    ///
    /// # Errors
    /// [`PluginError::Returned`] (an interface violation) naming the figure.
    pub(crate) fn success_report(
        &self,
        outcome: &SolveOutcome,
        host: &HostMonitor<'_>,
        solve_seconds: f64,
    ) -> Result<SolveReport, SolveError> {
        let residual = outcome.final_relative_residual;
        let wrong = if residual.is_nan() || residual < 0.0 {
            Some(format!(
                "it reported success with a relative residual of {residual:e} (a norm ratio is a \
                 number ≥ 0)"
            ))
        } else if outcome.iterations > self.options.max_iterations {
            Some(format!(
                "it reported success after {} iterations, more than the max_iterations = {} it \
                 was given",
                outcome.iterations, self.options.max_iterations
            ))
        } else {
            None
        };
        match wrong {
            Some(message) => Err(PluginError::Returned {
                plugin: self.plugin.to_string(),
                kind: "interface violation".into(),
                message,
            }
            .into()),
            None => Ok(self.report(outcome, host, solve_seconds)),
        }
    }

    /// The core error for an error a plugin returned at the end of a solve.
    pub(crate) fn error(
        &self,
        e: femscale_plugin_api::PluginError,
        host: &HostMonitor<'_>,
        solve_seconds: f64,
    ) -> SolveError {
        let outcome = e
            .outcome
            .clone()
            .into_option()
            .map(abi_stable::std_types::RBox::into_inner)
            .unwrap_or_else(|| SolveOutcome {
                iterations: host.history.len(),
                final_relative_residual: host.history.last().copied().unwrap_or(f64::NAN),
                ..SolveOutcome::default()
            });
        let report = || Box::new(self.report(&outcome, host, solve_seconds));
        match e.kind {
            ErrorKind::STOPPED if host.timed_out => SolveError::Timeout {
                elapsed_seconds: host.elapsed(),
                limit_seconds: self.options.timeout_seconds.unwrap_or(f64::NAN),
                report: report(),
            },
            ErrorKind::STOPPED => SolveError::Stopped { report: report() },
            ErrorKind::NOT_CONVERGED => SolveError::NotConverged { report: report() },
            ErrorKind::BREAKDOWN => SolveError::Breakdown {
                method: self.solver.to_string(),
                detail: e.message.to_string(),
                report: report(),
            },
            _ => returned(self.plugin, e).into(),
        }
    }
}

/// The runtime's error for an error a plugin returned outside a solve.
pub(crate) fn returned(plugin: &str, e: femscale_plugin_api::PluginError) -> PluginError {
    if e.kind == ErrorKind::PANICKED {
        PluginError::Panicked {
            plugin: plugin.to_string(),
            message: e.message.into(),
        }
    } else {
        PluginError::Returned {
            plugin: plugin.to_string(),
            kind: e.kind.name().to_string(),
            message: e.message.into(),
        }
    }
}

/// Emits a plugin's log line as a tracing event with target `femscale::plugin`.
pub(crate) fn emit_log(level: LogLevel, plugin: &str, message: &str) {
    let _ = catch_unwind(|| match level {
        LogLevel::TRACE => tracing::trace!(target: "femscale::plugin", plugin, "{message}"),
        LogLevel::DEBUG => tracing::debug!(target: "femscale::plugin", plugin, "{message}"),
        LogLevel::INFO => tracing::info!(target: "femscale::plugin", plugin, "{message}"),
        LogLevel::WARN => tracing::warn!(target: "femscale::plugin", plugin, "{message}"),
        _ => tracing::error!(target: "femscale::plugin", plugin, "{message}"),
    });
}
