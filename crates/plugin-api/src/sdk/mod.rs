//! What a plugin author uses: implement [`Solver`] + [`PreparedSolver`] or
//! [`PreconditionerBuilder`] + [`Preconditioner`] for normal Rust structs, list them in a
//! [`Plugin`], and export it with [`export_plugin!`](crate::export_plugin).
//!
//! The SDK turns each struct into the FFI-safe objects of [`objects`](crate::objects) and wraps
//! every method the host can call in `catch_unwind`: a panic in plugin code becomes a
//! [`PluginError`] of kind [`ErrorKind::PANICKED`], the object is marked poisoned (later calls
//! fail instead of running on inconsistent state), and the host goes on. Log lines sent with
//! [`log`] or [`plugin_log!`](crate::plugin_log) reach the host's tracing output.

mod adapters;

use std::fmt;
use std::sync::{OnceLock, RwLock};

use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RVec};

use crate::objects::{RMonitor, RMonitor_TO};
use crate::types::{ComponentInfo, CsrRef, HostLogger, PluginInfo};
pub use crate::types::{ErrorKind, LogLevel, PluginError, SolveOutcome, SolveParams};
use crate::{MonitorMut, PluginMod, PluginModRef, PreconditionerBuilderBox, SolverBox};
use adapters::guard;

/// The symbol under which [`export_plugin!`](crate::export_plugin) exports the library header
/// (abi_stable's root-module loader name).
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

/// A borrowed CSR matrix with plain slices: the SDK's view of [`CsrRef`].
#[derive(Debug, Clone, Copy)]
pub struct Csr<'a> {
    /// Number of rows.
    pub nrows: usize,
    /// Number of columns.
    pub ncols: usize,
    /// Row offsets, `nrows + 1` entries.
    pub row_ptr: &'a [usize],
    /// Column index of each stored entry.
    pub col_idx: &'a [usize],
    /// Value of each stored entry.
    pub values: &'a [f64],
}

impl<'a> Csr<'a> {
    /// Checks the array lengths of `a` (row offsets, entries) and views it with plain slices.
    ///
    /// # Errors
    /// [`ErrorKind::DIMENSION_MISMATCH`] if the lengths do not fit together.
    pub fn try_from_abi(a: CsrRef<'a>) -> Result<Self, PluginError> {
        let csr = Self {
            nrows: a.nrows,
            ncols: a.ncols,
            row_ptr: a.row_ptr.as_slice(),
            col_idx: a.col_idx.as_slice(),
            values: a.values.as_slice(),
        };
        let nnz = csr.values.len();
        if csr.row_ptr.len() != csr.nrows + 1
            || csr.col_idx.len() != nnz
            || csr.row_ptr.first() != Some(&0)
            || csr.row_ptr.last() != Some(&nnz)
        {
            return Err(PluginError::new(
                ErrorKind::DIMENSION_MISMATCH,
                format!(
                    "malformed CSR matrix: {} rows, {} row offsets, {} column indices, {} values",
                    csr.nrows,
                    csr.row_ptr.len(),
                    csr.col_idx.len(),
                    nnz
                ),
            ));
        }
        Ok(csr)
    }

    /// The ABI view of this matrix.
    pub fn to_abi(self) -> CsrRef<'a> {
        CsrRef {
            nrows: self.nrows,
            ncols: self.ncols,
            row_ptr: self.row_ptr.into(),
            col_idx: self.col_idx.into(),
            values: self.values.into(),
        }
    }

    /// Stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// `y = A x` (serial).
    ///
    /// # Panics
    /// If `x` or `y` is shorter than the matrix needs.
    pub fn mul_vec_into(&self, x: &[f64], y: &mut [f64]) {
        for (i, yi) in y.iter_mut().enumerate().take(self.nrows) {
            let (s, e) = (self.row_ptr[i], self.row_ptr[i + 1]);
            *yi = self.col_idx[s..e]
                .iter()
                .zip(&self.values[s..e])
                .map(|(&j, &v)| v * x[j])
                .sum();
        }
    }

    /// The diagonal entries (0 where none is stored).
    pub fn diagonal(&self) -> Vec<f64> {
        (0..self.nrows.min(self.ncols))
            .map(|i| {
                let (s, e) = (self.row_ptr[i], self.row_ptr[i + 1]);
                self.col_idx[s..e]
                    .iter()
                    .position(|&j| j == i)
                    .map_or(0.0, |k| self.values[s + k])
            })
            .collect()
    }
}

/// The host's monitor for one solve: report every iteration to it, and stop when it says so.
pub struct Monitor<'m>(MonitorMut<'m>);

impl fmt::Debug for Monitor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Monitor")
    }
}

impl<'m> Monitor<'m> {
    /// Wraps the host's monitor.
    pub fn from_abi(monitor: MonitorMut<'m>) -> Self {
        Self(monitor)
    }

    /// A monitor calling `f(iteration, relative_residual)`; `f` returns `false` to stop. For
    /// tests and for calling a plugin's types in-process.
    pub fn from_fn<F: FnMut(usize, f64) -> bool>(f: &'m mut FnMonitor<F>) -> Self {
        Self(RMonitor_TO::from_ptr(f, TD_Opaque))
    }

    /// Reports the relative residual after `iteration`; `false` means stop now and return
    /// [`ErrorKind::STOPPED`] with the outcome so far.
    pub fn on_iteration(&mut self, iteration: usize, relative_residual: f64) -> bool {
        self.0.on_iteration(iteration, relative_residual)
    }
}

/// A closure as a monitor; see [`Monitor::from_fn`].
#[derive(Debug)]
pub struct FnMonitor<F>(pub F);

impl<F: FnMut(usize, f64) -> bool> RMonitor for FnMonitor<F> {
    fn on_iteration(&mut self, iteration: usize, relative_residual: f64) -> bool {
        (self.0)(iteration, relative_residual)
    }
}

/// A solver configured by its options (implement this for a normal struct).
pub trait Solver: Send + Sync + 'static {
    /// What [`Solver::prepare`] returns.
    type Prepared: PreparedSolver;

    /// Does the set-up for `a` (factorisation, preconditioner, eigenvalue estimates). The host
    /// passes the same matrix again to every solve, so there is no need to copy it.
    ///
    /// # Errors
    /// An unsuitable matrix, a memory budget exceeded, ...
    fn prepare(&self, a: Csr<'_>, params: &SolveParams) -> Result<Self::Prepared, PluginError>;
}

/// A solver set up for one matrix.
pub trait PreparedSolver: Send + Sync + 'static {
    /// Solves `A x = b` for the matrix of the set-up; `x` holds the initial guess on entry.
    /// Report each iteration to `monitor` and stop with [`ErrorKind::STOPPED`] when it says so.
    ///
    /// # Errors
    /// [`ErrorKind::NOT_CONVERGED`], [`ErrorKind::BREAKDOWN`] or [`ErrorKind::STOPPED`] with the
    /// outcome ([`PluginError::with_outcome`]), or any other kind.
    fn solve(
        &mut self,
        a: Csr<'_>,
        b: &[f64],
        x: &mut [f64],
        params: &SolveParams,
        monitor: &mut Monitor<'_>,
    ) -> Result<SolveOutcome, PluginError>;

    /// Refreshes the numeric set-up for `a`, which has the pattern of the set-up's matrix and
    /// new values.
    ///
    /// # Errors
    /// As [`Solver::prepare`].
    fn update_values(&mut self, a: Csr<'_>) -> Result<(), PluginError>;

    /// Heap memory held by the set-up, bytes.
    fn memory_bytes(&self) -> usize {
        0
    }
}

/// A preconditioner configured by its options (implement this for a normal struct).
pub trait PreconditionerBuilder: Send + Sync + 'static {
    /// What [`PreconditionerBuilder::build`] returns.
    type Preconditioner: Preconditioner;

    /// Sets the preconditioner up for `a`.
    ///
    /// # Errors
    /// An unsuitable matrix (e.g. a zero diagonal entry).
    fn build(&self, a: Csr<'_>) -> Result<Self::Preconditioner, PluginError>;
}

/// A preconditioner set up for one matrix.
pub trait Preconditioner: Send + Sync + 'static {
    /// `z = M^{-1} r`; must not allocate per call. Both slices have one entry per row.
    fn apply(&self, r: &[f64], z: &mut [f64]);

    /// Heap memory held, bytes.
    fn memory_bytes(&self) -> usize {
        0
    }
}

type SolverMaker = Box<dyn Fn(&str) -> Result<SolverBox, PluginError> + Send + Sync>;
type PreconditionerMaker =
    Box<dyn Fn(&str) -> Result<PreconditionerBuilderBox, PluginError> + Send + Sync>;

/// A plugin: its name, version, description, and the components it provides, each with a
/// constructor that reads the component's options from a JSON object (`{}` for defaults).
pub struct Plugin {
    name: String,
    version: String,
    description: String,
    solvers: Vec<(ComponentInfo, SolverMaker)>,
    preconditioners: Vec<(ComponentInfo, PreconditionerMaker)>,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("info", &self.info())
            .finish()
    }
}

impl Plugin {
    /// A plugin providing nothing yet. `version` is the plugin's own version (usually
    /// `env!("CARGO_PKG_VERSION")`).
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            solvers: Vec::new(),
            preconditioners: Vec::new(),
        }
    }

    /// Adds the solver `name`; `make` builds it from the options JSON.
    pub fn solver<S: Solver>(
        mut self,
        name: &str,
        description: &str,
        make: impl Fn(&str) -> Result<S, PluginError> + Send + Sync + 'static,
    ) -> Self {
        let maker: SolverMaker = Box::new(move |json| make(json).map(adapters::solver_box));
        self.solvers.push((component(name, description), maker));
        self
    }

    /// Adds the preconditioner `name`; `make` builds it from the options JSON.
    pub fn preconditioner<P: PreconditionerBuilder>(
        mut self,
        name: &str,
        description: &str,
        make: impl Fn(&str) -> Result<P, PluginError> + Send + Sync + 'static,
    ) -> Self {
        let maker: PreconditionerMaker =
            Box::new(move |json| make(json).map(adapters::preconditioner_builder_box));
        self.preconditioners
            .push((component(name, description), maker));
        self
    }

    /// What the plugin is and provides.
    pub fn info(&self) -> PluginInfo {
        fn list<T>(items: &[(ComponentInfo, T)]) -> RVec<ComponentInfo> {
            items.iter().map(|(c, _)| c.clone()).collect()
        }
        PluginInfo {
            name: self.name.as_str().into(),
            version: self.version.as_str().into(),
            description: self.description.as_str().into(),
            interface_version: crate::INTERFACE_VERSION.into(),
            solvers: list(&self.solvers),
            preconditioners: list(&self.preconditioners),
        }
    }

    /// Creates the solver `name` from `options_json`; panics in the constructor are caught.
    ///
    /// # Errors
    /// [`ErrorKind::UNKNOWN_COMPONENT`], or whatever the constructor returns.
    pub fn new_solver(&self, name: &str, options_json: &str) -> Result<SolverBox, PluginError> {
        let (_, make) = self
            .solvers
            .iter()
            .find(|(c, _)| c.name.as_str() == name)
            .ok_or_else(|| self.unknown("solver", name, &self.solvers))?;
        guard(|| make(options_json)).into_result()
    }

    /// Creates the preconditioner `name` from `options_json`; panics are caught.
    ///
    /// # Errors
    /// [`ErrorKind::UNKNOWN_COMPONENT`], or whatever the constructor returns.
    pub fn new_preconditioner(
        &self,
        name: &str,
        options_json: &str,
    ) -> Result<PreconditionerBuilderBox, PluginError> {
        let (_, make) = self
            .preconditioners
            .iter()
            .find(|(c, _)| c.name.as_str() == name)
            .ok_or_else(|| self.unknown("preconditioner", name, &self.preconditioners))?;
        guard(|| make(options_json)).into_result()
    }

    fn unknown<T>(&self, what: &str, name: &str, known: &[(ComponentInfo, T)]) -> PluginError {
        let known: Vec<&str> = known.iter().map(|(c, _)| c.name.as_str()).collect();
        PluginError::new(
            ErrorKind::UNKNOWN_COMPONENT,
            format!(
                "plugin `{}` has no {what} `{name}`; it provides: {}",
                self.name,
                known.join(", ")
            ),
        )
    }
}

fn component(name: &str, description: &str) -> ComponentInfo {
    ComponentInfo {
        name: name.into(),
        description: description.into(),
    }
}

/// The plugin of this library, built on first use by the function given to
/// [`export_plugin!`](crate::export_plugin).
static PLUGIN: OnceLock<Plugin> = OnceLock::new();

/// The host's log sink, once the host has handed it over.
static LOGGER: RwLock<Option<HostLogger>> = RwLock::new(None);

/// Whether a host logger is installed (so formatting a message is worth it).
pub fn log_enabled() -> bool {
    LOGGER.read().map(|l| l.is_some()).unwrap_or(false)
}

/// Sends one log line to the host (a no-op before the host installed its logger, e.g. in
/// in-process tests).
pub fn log(level: LogLevel, message: &str) {
    let logger = LOGGER.read().ok().and_then(|l| *l);
    if let Some(logger) = logger {
        let name = PLUGIN.get().map_or("", |p| p.name.as_str());
        (logger.log)(level, RStr::from_str(name), RStr::from_str(message));
    }
}

/// Formats and sends a log line to the host: `plugin_log!(LogLevel::INFO, "x = {}", x)`.
/// Nothing is formatted when no host logger is installed.
#[macro_export]
macro_rules! plugin_log {
    ($level:expr, $($arg:tt)+) => {
        if $crate::sdk::log_enabled() {
            $crate::sdk::log($level, &::std::format!($($arg)+));
        }
    };
}

extern "C" fn info_entry() -> PluginInfo {
    match std::panic::catch_unwind(|| PLUGIN.get().map(Plugin::info)) {
        Ok(Some(info)) => info,
        _ => Plugin::new("", "", "the plugin failed to describe itself").info(),
    }
}

extern "C" fn set_logger_entry(logger: HostLogger) {
    if let Ok(mut slot) = LOGGER.write() {
        *slot = Some(logger);
    }
    route_panic_messages_to_the_host();
}

/// Installs, once, a panic hook in this library's own copy of the standard library that sends
/// a panic's message and location to the host's log (debug level) instead of printing
/// `thread '…' panicked at …` on the host's stderr: every entry point catches the panic and
/// the host reports it as a typed error naming the plugin, so the default message would only
/// look like a crash of femscale itself.
fn route_panic_messages_to_the_host() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let message = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("a panic without a message");
            log(
                LogLevel::DEBUG,
                &format!("panic at {location}: {message} (caught; femscale reports it)"),
            );
        }));
    });
}

extern "C" fn new_solver_entry(
    name: RStr<'_>,
    options_json: RStr<'_>,
) -> RResult<SolverBox, PluginError> {
    guard(|| plugin()?.new_solver(name.as_str(), options_json.as_str()))
}

extern "C" fn new_preconditioner_entry(
    name: RStr<'_>,
    options_json: RStr<'_>,
) -> RResult<PreconditionerBuilderBox, PluginError> {
    guard(|| plugin()?.new_preconditioner(name.as_str(), options_json.as_str()))
}

fn plugin() -> Result<&'static Plugin, PluginError> {
    PLUGIN
        .get()
        .ok_or_else(|| PluginError::other("the plugin was not initialised by its root module"))
}

/// Builds this library's root module around the plugin made by `build` (called once). Used by
/// [`export_plugin!`](crate::export_plugin); the loader catches a panic in `build`.
#[doc(hidden)]
pub fn __root_module(build: fn() -> Plugin) -> PluginModRef {
    PLUGIN.get_or_init(build);
    PluginMod {
        info: info_entry,
        set_logger: set_logger_entry,
        new_solver: new_solver_entry,
        new_preconditioner: new_preconditioner_entry,
    }
    .leak_into_prefix()
}

/// Exports the plugin made by a function `fn() -> Plugin` as this library's root module:
/// `femscale_plugin_api::export_plugin!(plugin);` once, at the root of a
/// `crate-type = ["cdylib"]` crate (see the example at the top of the crate's documentation).
#[macro_export]
macro_rules! export_plugin {
    ($build:path) => {
        /// The library header femscale reads when it loads this plugin.
        #[doc(hidden)]
        #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
        pub static FEMSCALE_PLUGIN_LIB_HEADER: $crate::__private::LibHeader = {
            extern "C" fn femscale_root_module_loader() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader(|| $crate::sdk::__root_module($build))
            }
            // SAFETY: the loader returns the root module of type `PluginModRef` given here.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::PluginModRef>(
                    femscale_root_module_loader,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };
    };
}
