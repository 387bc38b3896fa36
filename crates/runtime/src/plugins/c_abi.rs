//! C plugins (`include/femscale_plugin.h`, loaded with libloading): version check before any
//! other call (versions 1 and 2 are spoken), required symbols, and the adapter to
//! femscale-core's solver traits, which enforces the header's threading rule for the monitor.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::fmt;
use std::path::Path;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::ThreadId;
use std::time::Instant;

use femscale_core::checks::{check_memory_bytes, check_square, check_system};
use femscale_core::{
    CsrMatrix, LinearSolver, PreparedSolver, SolveError, SolveMonitor, SolveReport, SolverOptions,
};
use femscale_plugin_api::c_abi::{
    self as c, AbiVersionFn, CCsr, CSolveParams, CSolveResult, CheckOptionsFn, CreateFn, DestroyFn,
    SetLoggerFn, SolveFn, StringFn,
};
use femscale_plugin_api::{ErrorKind, LogLevel, RMonitor, SolveOutcome};
use tracing::instrument;

use super::PluginError;
use super::convert::{HostMonitor, ReportContext, check_same_pattern, emit_log, returned};

/// What a C plugin says about itself.
pub(crate) struct CInfo {
    pub abi_version: u32,
    pub name: String,
    pub version: String,
    pub description: String,
}

/// A loaded C plugin: its library (kept loaded for the life of the process) and entry points.
pub(crate) struct CBackend {
    library: libloading::Library,
    /// The C interface version the library speaks (1 or 2).
    abi_version: u32,
    check_options: Option<CheckOptionsFn>,
    create: CreateFn,
    solve: SolveFn,
    destroy: DestroyFn,
}

/// Resolves `symbol` in `lib` as a `T`.
///
/// # Safety
/// `T` must be the type the C interface gives the symbol.
unsafe fn symbol<T: Copy>(
    lib: &libloading::Library,
    path: &Path,
    symbol: &str,
) -> Result<T, PluginError> {
    // SAFETY: the caller names the symbol's type from the C interface.
    unsafe { lib.get::<T>(symbol.as_bytes()) }
        .map(|s| *s)
        .map_err(|_| PluginError::SymbolMissing {
            path: path.to_path_buf(),
            symbol: symbol.to_string(),
        })
}

/// A static string returned by the plugin.
///
/// # Safety
/// `f` must return null or a NUL-terminated string that lives as long as the library.
unsafe fn string(f: StringFn, path: &Path, what: &str) -> Result<String, PluginError> {
    // SAFETY: `f` takes no arguments, as the header declares.
    let p = unsafe { f() };
    if p.is_null() {
        return Err(PluginError::Invalid {
            path: path.to_path_buf(),
            reason: format!("femscale_plugin_{what} returned NULL"),
        });
    }
    // SAFETY: non-null and NUL-terminated per the header's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map(str::to_string)
        .map_err(|_| PluginError::Invalid {
            path: path.to_path_buf(),
            reason: format!("femscale_plugin_{what} is not UTF-8"),
        })
}

unsafe extern "C" fn c_log(ctx: *mut c_void, level: c_int, message: *const c_char) {
    if ctx.is_null() || message.is_null() {
        return;
    }
    // SAFETY: `ctx` is the leaked name given to set_logger; `message` is NUL-terminated per
    // the header's contract.
    let (plugin, message) = unsafe {
        (
            CStr::from_ptr(ctx as *const c_char).to_string_lossy(),
            CStr::from_ptr(message).to_string_lossy(),
        )
    };
    let level = LogLevel(u8::try_from(level.clamp(0, 4)).unwrap_or(4));
    emit_log(level, &plugin, &message);
}

/// Loads a C plugin from `lib`, which exports `femscale_plugin_abi_version`: checks the version
/// (1 or 2) before calling anything else, then resolves the other entry points.
pub(crate) fn load(
    lib: libloading::Library,
    path: &Path,
) -> Result<(CInfo, CBackend), PluginError> {
    // SAFETY: every symbol is resolved with its type from femscale_plugin.h.
    unsafe {
        let version: AbiVersionFn = symbol(&lib, path, c::SYM_ABI_VERSION)?;
        let abi = version();
        if !(c::C_ABI_OLDEST_VERSION..=c::C_ABI_VERSION).contains(&abi) {
            return Err(PluginError::VersionMismatch {
                path: path.to_path_buf(),
                interface: "C interface",
                plugin: abi.to_string(),
                host: c::C_ABI_VERSION.to_string(),
            });
        }
        let name_fn: StringFn = symbol(&lib, path, c::SYM_NAME)?;
        let version_fn: StringFn = symbol(&lib, path, c::SYM_VERSION)?;
        let check_options = if abi >= 2 {
            symbol::<CheckOptionsFn>(&lib, path, c::SYM_CHECK_OPTIONS).ok()
        } else {
            None
        };
        let backend = CBackend {
            abi_version: abi,
            check_options,
            create: symbol(&lib, path, c::SYM_CREATE)?,
            solve: symbol(&lib, path, c::SYM_SOLVE)?,
            destroy: symbol(&lib, path, c::SYM_DESTROY)?,
            library: lib,
        };
        let name = string(name_fn, path, "name")?;
        let version = string(version_fn, path, "version")?;
        let description = match symbol::<StringFn>(&backend.library, path, c::SYM_DESCRIPTION) {
            Ok(f) => string(f, path, "description")?,
            Err(_) => String::new(),
        };
        if let Ok(set_logger) = symbol::<SetLoggerFn>(&backend.library, path, c::SYM_SET_LOGGER) {
            // The name outlives the library, which is never unloaded.
            let ctx = CString::new(name.clone()).unwrap_or_default().into_raw();
            set_logger(c_log, ctx.cast());
        }
        let info = CInfo {
            abi_version: abi,
            name,
            version,
            description,
        };
        Ok((info, backend))
    }
}

impl CBackend {
    /// The library's solver with `options_json`. The options are checked now when the library
    /// exports `femscale_plugin_check_options` (version 2), else by the first set-up.
    pub(crate) fn solver(
        self: &Arc<Self>,
        plugin: &str,
        options_json: &str,
    ) -> Result<Arc<dyn LinearSolver>, PluginError> {
        let options = CString::new(options_json).map_err(|_| PluginError::Returned {
            plugin: plugin.to_string(),
            kind: ErrorKind::INVALID_OPTIONS.name().into(),
            message: "the options contain a NUL character".into(),
        })?;
        if let Some(check) = self.check_options {
            let mut message = [0 as c_char; 512];
            // SAFETY: a NUL-terminated string and a buffer of the given length, per the header.
            let status = unsafe { check(options.as_ptr(), message.as_mut_ptr(), message.len()) };
            if status != c::STATUS_OK {
                return Err(returned(plugin, status_error(plugin, status, &message)));
            }
        }
        Ok(Arc::new(CSolver {
            registry_name: format!("plugin:{plugin}"),
            plugin: plugin.to_string(),
            options,
            backend: self.clone(),
        }))
    }

    /// Calls `femscale_solver_create` for the matrix `lent`.
    fn create(
        &self,
        plugin: &str,
        options: &CString,
        lent: &LentMatrix,
    ) -> Result<*mut c_void, PluginError> {
        let csr = lent.ccsr();
        let mut handle = ptr::null_mut();
        let mut message = [0 as c_char; 512];
        // SAFETY: every pointer is valid for the call; the header's contract for the rest.
        let status = unsafe {
            (self.create)(
                options.as_ptr(),
                &csr,
                &mut handle,
                message.as_mut_ptr(),
                message.len(),
            )
        };
        if status == c::STATUS_INVALID_OPTIONS {
            // Found only now, with the matrix: name the key the options came from.
            let mut e = status_error(plugin, status, &message);
            e.message = format!("`plugins.options.{plugin}`: {}", e.message).into();
            return Err(returned(plugin, e));
        }
        if status != c::STATUS_OK {
            return Err(returned(plugin, status_error(plugin, status, &message)));
        }
        if handle.is_null() {
            return Err(PluginError::Returned {
                plugin: plugin.to_string(),
                kind: ErrorKind::OTHER.name().into(),
                message: "femscale_solver_create succeeded without creating a solver".into(),
            });
        }
        Ok(handle)
    }
}

/// The copy of a matrix a C plugin is lent, in the layout of the C interface (columns as
/// `size_t`). The header declares the arrays `const`, but C lets a plugin cast that away, and
/// a plugin that scales the matrix in place (a common trick of solvers that equilibrate) would
/// otherwise change the matrix the solution is verified against and the cache keeps: its own
/// copy is what it can damage. It lives as long as the solver object created with it, which
/// may keep pointers into it (the header allows that).
struct LentMatrix {
    nrows: usize,
    ncols: usize,
    row_ptr: Vec<usize>,
    cols: Vec<usize>,
    values: Vec<f64>,
}

impl LentMatrix {
    fn of(a: &CsrMatrix) -> Self {
        Self {
            nrows: a.nrows(),
            ncols: a.ncols(),
            row_ptr: a.pattern().row_ptr().to_vec(),
            cols: a.pattern().wide_col_idx(),
            values: a.values().to_vec(),
        }
    }

    /// The C view of the copy.
    fn ccsr(&self) -> CCsr {
        CCsr {
            nrows: self.nrows,
            ncols: self.ncols,
            nnz: self.values.len(),
            row_ptr: self.row_ptr.as_ptr(),
            col_idx: self.cols.as_ptr(),
            values: self.values.as_ptr(),
        }
    }

    fn bytes(&self) -> usize {
        (self.row_ptr.capacity() + self.cols.capacity()) * std::mem::size_of::<usize>()
            + self.values.capacity() * std::mem::size_of::<f64>()
    }
}

/// A C status and message as the plugin interface's error.
fn status_error(
    plugin: &str,
    status: c_int,
    message: &[c_char],
) -> femscale_plugin_api::PluginError {
    let kind = match status {
        c::STATUS_NOT_CONVERGED => ErrorKind::NOT_CONVERGED,
        c::STATUS_BREAKDOWN => ErrorKind::BREAKDOWN,
        c::STATUS_STOPPED | c::STATUS_TIMED_OUT => ErrorKind::STOPPED,
        c::STATUS_INVALID_OPTIONS => ErrorKind::INVALID_OPTIONS,
        c::STATUS_UNSUITABLE_MATRIX => ErrorKind::UNSUITABLE_MATRIX,
        c::STATUS_OUT_OF_MEMORY => ErrorKind::MEMORY_BUDGET,
        _ => ErrorKind::OTHER,
    };
    let end = message
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(message.len());
    let bytes: Vec<u8> = message[..end].iter().map(|&b| b as u8).collect();
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if text.is_empty() {
        text = format!("{plugin} returned status {status}");
    }
    femscale_plugin_api::PluginError::new(kind, text)
}

/// The C plugin's solver as a [`LinearSolver`].
struct CSolver {
    registry_name: String,
    plugin: String,
    options: CString,
    backend: Arc<CBackend>,
}

impl fmt::Debug for CSolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CSolver")
            .field("name", &self.registry_name)
            .finish()
    }
}

impl LinearSolver for CSolver {
    fn name(&self) -> &str {
        &self.registry_name
    }

    #[instrument(skip_all, name = "fem.plugin.prepare", fields(plugin = %self.plugin, n = a.nrows(), nnz = a.nnz()))]
    fn prepare(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> Result<Box<dyn PreparedSolver>, SolveError> {
        options.validate()?;
        check_square(&a)?;
        let start = Instant::now();
        let lent = LentMatrix::of(&a);
        let handle = self.backend.create(&self.plugin, &self.options, &lent)?;
        Ok(Box::new(CPrepared {
            registry_name: self.registry_name.clone(),
            plugin: self.plugin.clone(),
            solver_options: self.options.clone(),
            backend: self.backend.clone(),
            handle,
            rhs: Vec::with_capacity(a.nrows()),
            x: Vec::with_capacity(a.nrows()),
            matrix: a,
            lent,
            options: options.clone(),
            setup_seconds: start.elapsed().as_secs_f64(),
            memory_bytes: 0,
        }))
    }
}

/// A solver object of a C plugin, destroyed on drop.
struct CPrepared {
    registry_name: String,
    plugin: String,
    solver_options: CString,
    backend: Arc<CBackend>,
    handle: *mut c_void,
    matrix: Arc<CsrMatrix>,
    /// The copy of `matrix` the plugin is lent (`handle` may point into it).
    lent: LentMatrix,
    /// The copy of each solve's right-hand side the plugin is lent, for the same reason.
    rhs: Vec<f64>,
    /// The buffer the plugin writes its solution into, copied out when the solve returns: a
    /// plugin that kept the pointer and wrote later (an asynchronous copy-back finishing in
    /// `destroy`) would otherwise change a solution after it was verified.
    x: Vec<f64>,
    options: SolverOptions,
    setup_seconds: f64,
    /// What the last solve reported in `memory_bytes` (version 2; 0 before or when unreported).
    memory_bytes: usize,
}

// SAFETY: the C interface allows calls from any thread, never concurrent for one solver object;
// `&mut self` methods are the only ones that use `handle`, so shared references never touch it.
unsafe impl Send for CPrepared {}
// SAFETY: see above: `&self` methods do not call into the plugin.
unsafe impl Sync for CPrepared {}

impl Drop for CPrepared {
    fn drop(&mut self) {
        // SAFETY: `handle` came from femscale_solver_create and is destroyed once.
        unsafe { (self.backend.destroy)(self.handle) };
    }
}

impl fmt::Debug for CPrepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CPrepared")
            .field("name", &self.registry_name)
            .field("n", &self.matrix.nrows())
            .finish()
    }
}

/// The monitor context handed to a C solve: the host monitor, usable only on the thread that
/// called `femscale_solver_solve` (the header's threading rule), and a count of calls from other
/// threads, which are refused without touching the host monitor.
struct MonitorContext<'h, 'm> {
    owner: ThreadId,
    host: &'h mut HostMonitor<'m>,
    foreign_calls: AtomicUsize,
}

unsafe extern "C" fn c_monitor(
    ctx: *mut c_void,
    iteration: usize,
    relative_residual: f64,
) -> c_int {
    if ctx.is_null() {
        return 0;
    }
    let ctx = ctx.cast::<MonitorContext<'_, '_>>();
    // SAFETY: `ctx` is the `MonitorContext` of the solve in progress, alive until the solve
    // returns. `owner` and `foreign_calls` are only read or atomically updated here, on any
    // thread, through a shared reference to those fields alone.
    let (owner, foreign_calls) = unsafe { (&(*ctx).owner, &(*ctx).foreign_calls) };
    if std::thread::current().id() != *owner {
        foreign_calls.fetch_add(1, Ordering::Relaxed);
        return 0;
    }
    // SAFETY: on the thread that called the solve, which is blocked in that call: nothing else
    // uses the host monitor while the plugin runs, and calls on one thread do not overlap.
    let host = unsafe { &mut *(*ctx).host };
    c_int::from(host.on_iteration(iteration, relative_residual))
}

impl PreparedSolver for CPrepared {
    #[instrument(skip_all, name = "fem.plugin.solve", fields(plugin = %self.plugin, n = b.len()))]
    fn solve(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError> {
        check_system(&self.matrix, b, x)?;
        let start = Instant::now();
        let mut host = HostMonitor::new(monitor, &self.options, self.setup_seconds);
        let params = CSolveParams {
            tolerance: self.options.tolerance,
            absolute_tolerance: self.options.absolute_tolerance,
            max_iterations: self.options.max_iterations,
            threads: self.options.threads,
            // What is left after the set-up; a tiny positive value when nothing is, since 0
            // means no limit.
            timeout_seconds: self
                .options
                .timeout_seconds
                .map_or(0.0, |t| (t - self.setup_seconds).max(1e-9)),
            memory_limit_mb: self.options.memory_limit_mb.unwrap_or(0.0),
        };
        let mut ctx = MonitorContext {
            owner: std::thread::current().id(),
            host: &mut host,
            foreign_calls: AtomicUsize::new(0),
        };
        let csr = self.lent.ccsr();
        self.rhs.clear();
        self.rhs.extend_from_slice(b);
        self.x.clear();
        self.x.extend_from_slice(x);
        let mut result = CSolveResult::default();
        let mut message = [0 as c_char; 512];
        // SAFETY: all pointers are valid for the call, `self.x` is exclusively borrowed, `ctx` lives
        // until the call returns; the structs have the layout of the header's version 2, whose
        // leading fields are version 1's; the rest is the header's contract.
        let status = unsafe {
            (self.backend.solve)(
                self.handle,
                &csr,
                self.rhs.as_ptr(),
                self.x.as_mut_ptr(),
                &params,
                c_monitor,
                ptr::from_mut(&mut ctx).cast(),
                &mut result,
                message.as_mut_ptr(),
                message.len(),
            )
        };
        x.copy_from_slice(&self.x);
        let foreign_calls = ctx.foreign_calls.into_inner();
        host.rethrow();
        let seconds = start.elapsed().as_secs_f64();
        if foreign_calls > 0 {
            return Err(PluginError::Returned {
                plugin: self.plugin.clone(),
                kind: "interface violation".into(),
                message: format!(
                    "it called the monitor {foreign_calls} time(s) from a thread other than the \
                     one that called femscale_solver_solve; those calls were refused (see the \
                     threading rule in femscale_plugin.h)"
                ),
            }
            .into());
        }
        if self.backend.abi_version >= 2 {
            self.memory_bytes = result.memory_bytes;
            check_memory_bytes(self.options.memory_limit_mb, self.memory_bytes(), || {
                self.registry_name.clone()
            })?;
        }
        if status == c::STATUS_TIMED_OUT {
            host.timed_out = true;
        }
        let outcome = SolveOutcome {
            iterations: result.iterations,
            converged: status == c::STATUS_OK,
            initial_residual: result.initial_residual,
            final_residual: result.final_residual,
            final_relative_residual: result.final_relative_residual,
            ..SolveOutcome::default()
        };
        let ctx = ReportContext {
            solver: &self.registry_name,
            plugin: &self.plugin,
            options: &self.options,
            setup_seconds: self.setup_seconds,
            memory_bytes: self.memory_bytes(),
        };
        if status == c::STATUS_OK {
            return ctx.success_report(&outcome, &host, seconds);
        }
        let mut e = status_error(&self.plugin, status, &message);
        if matches!(
            e.kind,
            ErrorKind::NOT_CONVERGED | ErrorKind::BREAKDOWN | ErrorKind::STOPPED
        ) {
            e.outcome = Some(abi_stable::std_types::RBox::new(outcome)).into();
        }
        Err(ctx.error(e, &host, seconds))
    }

    fn update_values(&mut self, a: Arc<CsrMatrix>) -> Result<(), SolveError> {
        check_same_pattern(&self.matrix, &a)?;
        let start = Instant::now();
        let lent = LentMatrix::of(&a);
        let handle = self
            .backend
            .create(&self.plugin, &self.solver_options, &lent)?;
        // SAFETY: the old handle is replaced and destroyed once, before the copy it was
        // created with is dropped.
        unsafe { (self.backend.destroy)(std::mem::replace(&mut self.handle, handle)) };
        self.lent = lent;
        self.matrix = a;
        self.setup_seconds = start.elapsed().as_secs_f64();
        Ok(())
    }

    fn matrix(&self) -> &Arc<CsrMatrix> {
        &self.matrix
    }

    /// What the plugin last reported and the copies this adapter lends it.
    fn memory_bytes(&self) -> usize {
        let vectors = self.rhs.capacity() + self.x.capacity();
        let lent = self.lent.bytes() + vectors * std::mem::size_of::<f64>();
        // A plugin may report anything, up to `usize::MAX`.
        self.memory_bytes.saturating_add(lent)
    }
}
