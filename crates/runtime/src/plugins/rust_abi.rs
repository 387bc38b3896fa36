//! Rust plugins (abi_stable): loading with version and layout checks, and adapters from the
//! plugin's trait objects to femscale-core's solver traits.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use abi_stable::library::{
    AbiHeaderRef, LibraryError, ROOT_MODULE_LOADER_NAME_WITH_NUL, RootModuleError,
};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, ROk, RStr};
use femscale_core::checks::{check_memory_bytes, check_square, check_system};
use femscale_core::{
    CsrMatrix, LinearSolver, Preconditioner, PreconditionerFactory, PreparedSolver, SolveError,
    SolveMonitor, SolveReport, SolverOptions,
};
use femscale_plugin_api::objects::RMonitor_TO;
use femscale_plugin_api::{
    HostLogger, LogLevel, PluginInfo, PluginModRef, PreconditionerBox, PreconditionerBuilderBox,
    PreparedBox, SolverBox,
};
use tracing::instrument;

use super::PluginError;
use super::convert::{
    HostMonitor, ReportContext, check_same_pattern, csr_ref, emit_log, params, returned,
};
use super::error::{chain, layout_summary};

/// A loaded Rust plugin's root module.
#[derive(Clone, Copy)]
pub(crate) struct RustBackend {
    module: PluginModRef,
}

extern "C" fn host_log(level: LogLevel, plugin: RStr<'_>, message: RStr<'_>) {
    emit_log(level, plugin.as_str(), message.as_str());
}

/// Loads the root module of `library` (opened from `path`): interface version first, then the
/// layout of every type it exchanges, then the plugin's self-description. Installs the host
/// logger. What abi_stable's `lib_header_from_path` does, on the library already opened (the
/// inode whose hash was checked) instead of opening the path again.
pub(crate) fn load(
    library: &libloading::Library,
    path: &Path,
) -> Result<(PluginInfo, RustBackend), PluginError> {
    // SAFETY: abi_stable exports its root module header under this name with this type; the
    // header refers into `library`, which the caller keeps loaded for the life of the process.
    let header: AbiHeaderRef =
        unsafe { library.get::<AbiHeaderRef>(ROOT_MODULE_LOADER_NAME_WITH_NUL.as_bytes()) }
            .map(|symbol| *symbol)
            .map_err(|_| PluginError::NotAPlugin {
                path: path.to_path_buf(),
                reason: "it exports neither a femscale root module (Rust plugins) nor \
                 `femscale_plugin_abi_version` (C plugins)"
                    .into(),
            })?;
    let header = header.upgrade().map_err(|e| library_error(path, e))?;
    let module = header
        .init_root_module::<PluginModRef>()
        .map_err(|e| library_error(path, e))?;
    (module.set_logger())(HostLogger { log: host_log });
    let info = (module.info())();
    Ok((info, RustBackend { module }))
}

/// abi_stable's loading errors as short, typed ones.
fn library_error(path: &Path, e: LibraryError) -> PluginError {
    let path = path.to_path_buf();
    match e {
        LibraryError::OpenError { err, .. } => PluginError::NotAPlugin {
            path,
            reason: format!("cannot open it as a dynamic library: {}", chain(&*err)),
        },
        LibraryError::GetSymbolError { .. } => PluginError::NotAPlugin {
            path,
            reason: "it exports neither a femscale root module (Rust plugins) nor \
                     `femscale_plugin_abi_version` (C plugins)"
                .into(),
        },
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => PluginError::VersionMismatch {
            path,
            interface: "femscale-plugin-api",
            plugin: actual_version.to_string(),
            host: expected_version.to_string(),
        },
        LibraryError::AbiInstability(report) => PluginError::LayoutMismatch {
            path,
            details: layout_summary(&report.to_string()),
        },
        LibraryError::RootModule { err, .. } => match err {
            RootModuleError::Unwound => PluginError::Panicked {
                plugin: path.display().to_string(),
                message: "panic in the plugin's root module constructor".into(),
            },
            RootModuleError::Returned(e) => PluginError::Invalid {
                path,
                reason: format!("its root module constructor failed: {e}"),
            },
        },
        LibraryError::ParseVersionError(e) => PluginError::Invalid {
            path,
            reason: format!("unreadable interface version: {e}"),
        },
        LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => {
            PluginError::Invalid {
                path,
                reason: format!(
                    "built with an abi_stable or compiler ABI incompatible with this femscale \
                     (femscale-plugin-api {}, abi_stable 0.11)",
                    femscale_plugin_api::INTERFACE_VERSION
                ),
            }
        }
        LibraryError::Many(errors) => match errors.into_iter().next() {
            Some(first) => library_error(&path, first),
            None => PluginError::Invalid {
                path,
                reason: "the loader reported an empty list of errors".into(),
            },
        },
    }
}

impl RustBackend {
    /// The solver `name` configured by `options_json`.
    pub(crate) fn solver(
        &self,
        plugin: &str,
        name: &str,
        options_json: &str,
    ) -> Result<Arc<dyn LinearSolver>, PluginError> {
        let factory = (self.module.new_solver())(name.into(), options_json.into())
            .into_result()
            .map_err(|e| returned(plugin, e))?;
        Ok(Arc::new(RustSolver {
            registry_name: format!("plugin:{name}"),
            plugin: plugin.to_string(),
            factory,
        }))
    }

    /// The preconditioner `name` configured by `options_json`.
    pub(crate) fn preconditioner(
        &self,
        plugin: &str,
        name: &str,
        options_json: &str,
    ) -> Result<Arc<dyn PreconditionerFactory>, PluginError> {
        let builder = (self.module.new_preconditioner())(name.into(), options_json.into())
            .into_result()
            .map_err(|e| returned(plugin, e))?;
        Ok(Arc::new(RustPreconditionerFactory {
            registry_name: super::intern(&format!("plugin:{name}")),
            plugin: plugin.to_string(),
            builder,
        }))
    }
}

/// A plugin solver as a [`LinearSolver`].
struct RustSolver {
    registry_name: String,
    plugin: String,
    factory: SolverBox,
}

impl fmt::Debug for RustSolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustSolver")
            .field("name", &self.registry_name)
            .field("plugin", &self.plugin)
            .finish()
    }
}

impl LinearSolver for RustSolver {
    fn name(&self) -> &str {
        &self.registry_name
    }

    #[instrument(skip_all, name = "fem.plugin.prepare", fields(plugin = %self.plugin, solver = %self.registry_name, n = a.nrows(), nnz = a.nnz()))]
    fn prepare(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> Result<Box<dyn PreparedSolver>, SolveError> {
        options.validate()?;
        check_square(&a)?;
        let start = Instant::now();
        let cols = a.pattern().wide_col_idx();
        let inner = self
            .factory
            .prepare(csr_ref(&a, &cols), params(options))
            .into_result()
            .map_err(|e| SolveError::from(returned(&self.plugin, e)))?;
        let prepared = RustPrepared {
            registry_name: self.registry_name.clone(),
            plugin: self.plugin.clone(),
            inner,
            matrix: a,
            cols,
            options: options.clone(),
            setup_seconds: start.elapsed().as_secs_f64(),
        };
        check_memory_bytes(options.memory_limit_mb, prepared.memory_bytes(), || {
            self.registry_name.clone()
        })?;
        Ok(Box::new(prepared))
    }
}

/// A prepared plugin solver as a [`PreparedSolver`]; it keeps the matrix alive and passes it
/// to every solve.
struct RustPrepared {
    registry_name: String,
    plugin: String,
    inner: PreparedBox,
    matrix: Arc<CsrMatrix>,
    /// `matrix`'s columns as the ABI takes them ([`femscale_core::SparsityPattern::wide_col_idx`]).
    cols: Vec<usize>,
    options: SolverOptions,
    setup_seconds: f64,
}

impl fmt::Debug for RustPrepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustPrepared")
            .field("name", &self.registry_name)
            .field("n", &self.matrix.nrows())
            .finish()
    }
}

impl PreparedSolver for RustPrepared {
    #[instrument(skip_all, name = "fem.plugin.solve", fields(plugin = %self.plugin, solver = %self.registry_name, n = b.len()))]
    fn solve(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError> {
        check_system(&self.matrix, b, x)?;
        let start = Instant::now();
        let mut host = HostMonitor::new(monitor, &self.options, self.setup_seconds);
        let result = self.inner.solve(
            csr_ref(&self.matrix, &self.cols),
            b.into(),
            x.into(),
            params(&self.options),
            RMonitor_TO::from_ptr(&mut host, TD_Opaque),
        );
        host.rethrow();
        let seconds = start.elapsed().as_secs_f64();
        let ctx = ReportContext {
            solver: &self.registry_name,
            plugin: &self.plugin,
            options: &self.options,
            setup_seconds: self.setup_seconds,
            memory_bytes: self.memory_bytes(),
        };
        match result {
            ROk(outcome) if outcome.converged => ctx.success_report(&outcome, &host, seconds),
            ROk(outcome) => Err(SolveError::NotConverged {
                report: Box::new(ctx.report(&outcome, &host, seconds)),
            }),
            RErr(e) => Err(ctx.error(e, &host, seconds)),
        }
    }

    fn update_values(&mut self, a: Arc<CsrMatrix>) -> Result<(), SolveError> {
        check_same_pattern(&self.matrix, &a)?;
        let start = Instant::now();
        // The same pattern, so the same widened columns.
        self.inner
            .update_values(csr_ref(&a, &self.cols))
            .into_result()
            .map_err(|e| SolveError::from(returned(&self.plugin, e)))?;
        self.matrix = a;
        self.setup_seconds = start.elapsed().as_secs_f64();
        Ok(())
    }

    fn matrix(&self) -> &Arc<CsrMatrix> {
        &self.matrix
    }

    /// The plugin's own bytes and the widened columns this adapter keeps for it.
    fn memory_bytes(&self) -> usize {
        // A plugin may report anything, up to `usize::MAX`.
        self.inner
            .memory_bytes()
            .saturating_add(self.cols.capacity() * std::mem::size_of::<usize>())
    }
}

/// A plugin preconditioner as a [`PreconditionerFactory`].
struct RustPreconditionerFactory {
    registry_name: &'static str,
    plugin: String,
    builder: PreconditionerBuilderBox,
}

impl fmt::Debug for RustPreconditionerFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustPreconditionerFactory")
            .field("name", &self.registry_name)
            .field("plugin", &self.plugin)
            .finish()
    }
}

impl PreconditionerFactory for RustPreconditionerFactory {
    fn name(&self) -> &'static str {
        self.registry_name
    }

    #[instrument(skip_all, name = "fem.plugin.preconditioner", fields(plugin = %self.plugin, preconditioner = %self.registry_name, n = a.nrows()))]
    fn build(&self, a: &CsrMatrix) -> Result<Box<dyn Preconditioner>, SolveError> {
        let inner = self
            .builder
            .build(csr_ref(a, &a.pattern().wide_col_idx()))
            .into_result()
            .map_err(|e| SolveError::from(returned(&self.plugin, e)))?;
        Ok(Box::new(RustPreconditioner {
            name: self.registry_name,
            plugin: self.plugin.clone(),
            inner,
            failure: Mutex::new(None),
        }))
    }
}

/// A built plugin preconditioner. The core interface has no error channel for `apply`, so a
/// failure (or caught panic) is kept, `z` is filled with NaN, which ends the Krylov solve, and
/// the solver then reports the kept failure ([`Preconditioner::take_failure`]): a typed error
/// naming the plugin and its panic message, not the breakdown the NaN caused.
struct RustPreconditioner {
    name: &'static str,
    plugin: String,
    inner: PreconditionerBox,
    /// The first failure of `apply` not yet reported.
    failure: Mutex<Option<PluginError>>,
}

impl fmt::Debug for RustPreconditioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustPreconditioner")
            .field("name", &self.name)
            .finish()
    }
}

impl Preconditioner for RustPreconditioner {
    fn name(&self) -> &str {
        self.name
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        if let RErr(e) = self.inner.apply(r.into(), z.into()) {
            let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
            if failure.is_none() {
                let e = match returned(&self.plugin, e) {
                    PluginError::Panicked { plugin, message } => PluginError::Panicked {
                        plugin,
                        message: format!(
                            "{message} (in `apply` of the preconditioner `{}`)",
                            self.name
                        ),
                    },
                    other => other,
                };
                tracing::debug!(plugin = %self.plugin, preconditioner = self.name, "apply failed: {e}");
                *failure = Some(e);
            }
            z.fill(f64::NAN);
        }
    }

    fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }

    fn take_failure(&self) -> Option<SolveError> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .map(SolveError::from)
    }
}
