//! Plain data that crosses the plugin boundary: the borrowed CSR matrix, solve parameters, solve
//! outcomes, errors, log levels and the plugin's self-description.
//!
//! Every type is `#[repr(C)]` and derives [`abi_stable::StableAbi`], so its layout is checked when a plugin is
//! loaded. None of these types may change within a major version of this crate (see
//! `docs/plugins.md`, "Versioning rules").

use std::fmt;

use abi_stable::StableAbi;
use abi_stable::std_types::{RBox, ROption, RSlice, RStr, RString, RVec};

/// A borrowed square or rectangular matrix in compressed sparse row form. The host lends its
/// own values and row pointers, and a `usize` copy of its (`u32`) column indices that it keeps
/// for as long as it passes the matrix.
///
/// Row `i` holds the entries `values[row_ptr[i]..row_ptr[i + 1]]` in the columns
/// `col_idx[row_ptr[i]..row_ptr[i + 1]]`. The host guarantees `row_ptr.len() == nrows + 1`,
/// `row_ptr` non-decreasing from 0 to `values.len() == col_idx.len()`, and every column index
/// below `ncols`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct CsrRef<'a> {
    /// Number of rows.
    pub nrows: usize,
    /// Number of columns.
    pub ncols: usize,
    /// Row offsets, `nrows + 1` entries.
    pub row_ptr: RSlice<'a, usize>,
    /// Column index of each stored entry.
    pub col_idx: RSlice<'a, usize>,
    /// Value of each stored entry.
    pub values: RSlice<'a, f64>,
}

/// Stopping criteria and budgets of one set-up or solve, as the host configured them.
///
/// An iterative solve should stop when `||b - A x|| <= max(tolerance * ||b||,
/// absolute_tolerance)` or after `max_iterations` iterations.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq)]
pub struct SolveParams {
    /// Relative residual tolerance.
    pub tolerance: f64,
    /// Absolute residual tolerance.
    pub absolute_tolerance: f64,
    /// Iteration limit.
    pub max_iterations: usize,
    /// Threads the plugin may use for its kernels (0: its own choice).
    pub threads: usize,
    /// Wall-clock limit in seconds; the host also enforces it through the monitor.
    pub timeout_seconds: ROption<f64>,
    /// Memory limit in MB for what the plugin allocates in set-up.
    pub memory_limit_mb: ROption<f64>,
}

impl Default for SolveParams {
    fn default() -> Self {
        Self {
            tolerance: 1e-8,
            absolute_tolerance: 0.0,
            max_iterations: 10_000,
            threads: 0,
            timeout_seconds: ROption::RNone,
            memory_limit_mb: ROption::RNone,
        }
    }
}

/// What a solve did. Also carried by [`PluginError`] when a solve ends without converging.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default, PartialEq)]
pub struct SolveOutcome {
    /// Iterations performed.
    pub iterations: usize,
    /// Whether the stopping criterion was met.
    pub converged: bool,
    /// `||b - A x0||`.
    pub initial_residual: f64,
    /// `||b - A x||` at the end.
    pub final_residual: f64,
    /// `||b - A x|| / ||b||` at the end (`||b|| = 0` counts as 1).
    pub final_relative_residual: f64,
    /// Relative residual after each iteration.
    pub residual_history: RVec<f64>,
    /// Name of the preconditioning the plugin used, for reports (empty: none).
    pub preconditioner: RString,
}

/// The kind of a [`PluginError`]: an open set of codes, so later versions may add kinds.
///
/// A host that meets a code it does not know treats it as [`ErrorKind::OTHER`].
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorKind(pub u32);

impl ErrorKind {
    /// Anything else; the message says what.
    pub const OTHER: Self = Self(0);
    /// The options JSON was malformed or a value out of range.
    pub const INVALID_OPTIONS: Self = Self(1);
    /// No component of that name in this plugin.
    pub const UNKNOWN_COMPONENT: Self = Self(2);
    /// Matrix and vectors do not fit together.
    pub const DIMENSION_MISMATCH: Self = Self(3);
    /// The iteration limit was reached; the error carries the outcome.
    pub const NOT_CONVERGED: Self = Self(4);
    /// The method broke down (zero or non-finite divisor); the error carries the outcome.
    pub const BREAKDOWN: Self = Self(5);
    /// The host's monitor asked the solve to stop; the error carries the outcome.
    pub const STOPPED: Self = Self(6);
    /// The matrix is unsuitable (e.g. singular or not positive definite).
    pub const UNSUITABLE_MATRIX: Self = Self(7);
    /// The set-up would exceed `memory_limit_mb`.
    pub const MEMORY_BUDGET: Self = Self(8);
    /// Code in the plugin panicked; the panic was caught at the boundary.
    pub const PANICKED: Self = Self(9);

    /// A short lowercase name (`invalid options`, `panicked`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::INVALID_OPTIONS => "invalid options",
            Self::UNKNOWN_COMPONENT => "unknown component",
            Self::DIMENSION_MISMATCH => "dimension mismatch",
            Self::NOT_CONVERGED => "not converged",
            Self::BREAKDOWN => "breakdown",
            Self::STOPPED => "stopped",
            Self::UNSUITABLE_MATRIX => "unsuitable matrix",
            Self::MEMORY_BUDGET => "memory budget exceeded",
            Self::PANICKED => "panicked",
            _ => "error",
        }
    }
}

impl fmt::Debug for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorKind({}: {})", self.0, self.name())
    }
}

/// An error returned by a plugin: its kind, a message, and the outcome of the solve when the
/// error ends one (not converged, breakdown, stopped).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct PluginError {
    /// What went wrong, as a code.
    pub kind: ErrorKind,
    /// What went wrong, for people.
    pub message: RString,
    /// The state of the solve when it ended, if the error ends a solve (boxed: errors stay
    /// small).
    pub outcome: ROption<RBox<SolveOutcome>>,
}

impl PluginError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: RString::from(message.into()),
            outcome: ROption::RNone,
        }
    }

    /// [`ErrorKind::INVALID_OPTIONS`] with `message`.
    pub fn invalid_options(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::INVALID_OPTIONS, message)
    }

    /// [`ErrorKind::OTHER`] with `message`.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::OTHER, message)
    }

    /// An error of `kind` that ends a solve in the state `outcome`.
    pub fn with_outcome(
        kind: ErrorKind,
        message: impl Into<String>,
        outcome: SolveOutcome,
    ) -> Self {
        Self {
            outcome: ROption::RSome(RBox::new(outcome)),
            ..Self::new(kind, message)
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for PluginError {}

/// Severity of a log line sent to the host; an open set like [`ErrorKind`].
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogLevel(pub u8);

impl LogLevel {
    /// Very detailed diagnostics.
    pub const TRACE: Self = Self(0);
    /// Diagnostics for developers.
    pub const DEBUG: Self = Self(1);
    /// Normal progress.
    pub const INFO: Self = Self(2);
    /// Something unexpected that did not stop the work.
    pub const WARN: Self = Self(3);
    /// Something failed.
    pub const ERROR: Self = Self(4);
}

/// The host's log sink, handed to the plugin once after loading.
///
/// `log` receives the level, the plugin's name and the message; it must not unwind.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct HostLogger {
    /// Receives one log line.
    pub log: extern "C" fn(level: LogLevel, plugin: RStr<'_>, message: RStr<'_>),
}

/// One solver or preconditioner a plugin provides.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct ComponentInfo {
    /// The name it is registered under (as `plugin:<name>`).
    pub name: RString,
    /// One line saying what it is and its options.
    pub description: RString,
}

/// What a plugin is and what it provides.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct PluginInfo {
    /// The plugin's name.
    pub name: RString,
    /// The plugin's own version (not the interface version).
    pub version: RString,
    /// One line about the plugin.
    pub description: RString,
    /// The interface version the plugin was built against.
    pub interface_version: RString,
    /// Solvers, created by the root module's `new_solver`.
    pub solvers: RVec<ComponentInfo>,
    /// Preconditioners, created by the root module's `new_preconditioner`.
    pub preconditioners: RVec<ComponentInfo>,
}
