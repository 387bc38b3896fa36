//! Process isolation for plugin solvers (`plugins.isolation = "process"`).
//!
//! Each prepared plugin solver runs in its own child process, `femscale plugin-host` (see
//! [`serve`]): the host copies the matrix into an anonymous shared file (fd 3 of the child),
//! sends a `Setup` request over the child's stdin, and for every right-hand side writes `b` and
//! `x` into the shared file and sends `Solve`; the child writes the solution back and replies
//! with the plugin's report. The child keeps the prepared solver between solves (factor once,
//! many right-hand sides) and is killed and reaped when the prepared solver is dropped.
//!
//! A crash (signal), an exit, protocol garbage, a missed wall-clock deadline
//! (`solver.timeout_seconds`, enforced by the host by killing the child) or a death under the
//! address-space limit (`solver.memory_limit_mb`, `RLIMIT_AS` set in the child before it loads
//! the plugin) becomes an [`IsolationError`] naming the plugin, the cause and the limit.
//!
//! The library is still opened in the host to register its components (name, options); only
//! set-up, solves and updates run in the child. Preconditioner plugins stay in-process.

mod child;
mod error;
pub(crate) mod protocol;
mod server;
mod shm;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use femscale_core::checks::{check_square, check_system};
use femscale_core::{
    CsrMatrix, Error, LinearSolver, PreparedSolver, Result, SolveError, SolveMonitor, SolveReport,
    SolverOptions,
};
use tracing::instrument;

pub use error::IsolationError;
pub use server::serve;

use self::child::{Limits, PluginChild, SHM_FD};
use self::protocol::{Reply, Request, Setup};
use self::shm::{Layout, SharedRegion};
pub use super::Isolation;
use super::convert::check_same_pattern;
use super::{LoadedPlugin, PluginsConfig};
use crate::registry::Registry;

/// Address space the child may use beyond what it holds before loading the plugin plus
/// `memory_limit_mb`: the plugin's code, thread stacks and allocator arenas.
pub const ADDRESS_SPACE_SLACK_MB: f64 = 256.0;

/// The deadline's grace beyond `timeout_seconds`: a plugin that watches its monitor gets the
/// chance to stop itself (and report) before it is killed.
fn grace(limit_seconds: f64) -> Duration {
    Duration::from_secs_f64((0.1 * limit_seconds).clamp(0.5, 5.0))
}

/// `(deadline, started)` for a phase that may use `remaining` seconds of the limit.
fn deadline(options: &SolverOptions, spent_seconds: f64) -> Option<(Instant, Instant)> {
    let now = Instant::now();
    options.timeout_seconds.map(|limit| {
        let remaining = (limit - spent_seconds).clamp(0.0, 1e9);
        (now + Duration::from_secs_f64(remaining) + grace(limit), now)
    })
}

/// A plugin solver component that runs in a child process.
#[derive(Debug, Clone)]
pub struct IsolatedSolver {
    inner: Arc<SolverSpec>,
}

#[derive(Debug)]
struct SolverSpec {
    registry_name: String,
    plugin: String,
    component: String,
    library: PathBuf,
    sha256: String,
    options_json: String,
    executable: PathBuf,
}

impl IsolatedSolver {
    /// The component `component` of `plugin` with its options, run by `executable`.
    pub fn new(
        plugin: &LoadedPlugin,
        component: &str,
        options_json: &str,
        executable: PathBuf,
    ) -> Self {
        Self {
            inner: Arc::new(SolverSpec {
                registry_name: format!("plugin:{component}"),
                plugin: plugin.name().to_string(),
                component: component.to_string(),
                library: plugin.path().to_path_buf(),
                sha256: plugin.sha256().to_string(),
                options_json: options_json.to_string(),
                executable,
            }),
        }
    }
}

impl LinearSolver for IsolatedSolver {
    fn name(&self) -> &str {
        &self.inner.registry_name
    }

    #[instrument(skip_all, name = "fem.plugin.prepare", fields(plugin = %self.inner.plugin, isolation = "process", n = a.nrows(), nnz = a.nnz()))]
    fn prepare(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> std::result::Result<Box<dyn PreparedSolver>, SolveError> {
        options.validate()?;
        check_square(&a)?;
        let spec = &self.inner;
        let start = Instant::now();
        let deadline = deadline(options, 0.0);
        let layout =
            Layout::new(a.nrows() as u64, a.nnz() as u64).map_err(|e| shm_error(spec, e))?;
        let mut region =
            SharedRegion::create(layout).map_err(|e| shm_error(spec, e.to_string()))?;
        copy_matrix(&mut region, &a);
        let mut child = PluginChild::spawn(&spec.plugin, &spec.executable, &region)?;
        let mut limits = Limits {
            timeout_seconds: options.timeout_seconds,
            memory_limit_mb: options.memory_limit_mb,
            address_space_mb: None,
        };
        let setup = Setup {
            library: spec.library.display().to_string(),
            sha256: spec.sha256.clone(),
            component: spec.component.clone(),
            options_json: spec.options_json.clone(),
            solver_options: options.clone(),
            n: layout.n as u64,
            nnz: layout.nnz as u64,
            shm_fd: SHM_FD,
            address_space_mb: options.memory_limit_mb.map(|m| m + ADDRESS_SPACE_SLACK_MB),
        };
        let reply = child.request(
            &Request::Setup(Box::new(setup)),
            "set-up",
            deadline,
            &limits,
        )?;
        match reply {
            Reply::Prepared {
                memory_bytes,
                address_space_limit,
                ..
            } => {
                limits.address_space_mb =
                    address_space_limit.map(|b| b as f64 / femscale_core::checks::MIB);
                tracing::debug!(plugin = %spec.plugin, pid = child.pid(), "isolated solver prepared");
                Ok(Box::new(IsolatedPrepared {
                    spec: self.inner.clone(),
                    child,
                    region,
                    matrix: a,
                    options: options.clone(),
                    limits,
                    setup_seconds: start.elapsed().as_secs_f64(),
                    memory_bytes: usize::try_from(memory_bytes).unwrap_or(usize::MAX),
                }))
            }
            Reply::Failed { error } => Err(error.into_solve_error()),
            other => Err(unexpected(spec, child.pid(), "set-up", &other)),
        }
    }
}

/// A prepared plugin solver living in a child process; the child dies with it.
#[derive(Debug)]
pub struct IsolatedPrepared {
    spec: Arc<SolverSpec>,
    child: PluginChild,
    region: SharedRegion,
    matrix: Arc<CsrMatrix>,
    options: SolverOptions,
    limits: Limits,
    setup_seconds: f64,
    memory_bytes: usize,
}

impl IsolatedPrepared {
    /// The pid of the child process (for diagnostics and tests).
    pub fn child_pid(&self) -> u32 {
        self.child.pid()
    }
}

impl PreparedSolver for IsolatedPrepared {
    /// Solves in the child. The host's `monitor` is not called: iterations happen in another
    /// process; `timeout_seconds` is enforced by the child's monitor and by the host's deadline,
    /// which is also bounded by what `monitor` says remains (a second solve on the same set-up,
    /// e.g. the correction that confirms a solution, gets what is left of the budget, not a
    /// fresh one).
    #[instrument(skip_all, name = "fem.plugin.solve", fields(plugin = %self.spec.plugin, isolation = "process", n = b.len()))]
    fn solve(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> std::result::Result<SolveReport, SolveError> {
        check_system(&self.matrix, b, x)?;
        let start = Instant::now();
        {
            let parts = self.region.parts();
            parts.b.copy_from_slice(b);
            parts.x.copy_from_slice(x);
        }
        let mut deadline = deadline(&self.options, self.setup_seconds);
        if let (Some((at, started)), Some(limit), Some(remaining)) = (
            deadline,
            self.options.timeout_seconds,
            monitor.remaining_seconds(),
        ) {
            // A third-party monitor may say anything: NaN is no bound.
            if !remaining.is_nan() {
                let remaining = remaining.clamp(0.0, 1e9);
                let by_monitor = Instant::now() + Duration::from_secs_f64(remaining);
                deadline = Some((at.min(by_monitor + grace(limit)), started));
            }
        }
        let reply = self
            .child
            .request(&Request::Solve, "solve", deadline, &self.limits)?;
        let copy_back = |region: &mut SharedRegion, x: &mut [f64]| {
            x.copy_from_slice(region.parts().x);
        };
        match reply {
            Reply::Solved { mut report } => {
                copy_back(&mut self.region, x);
                report.setup_seconds = self.setup_seconds;
                report.solve_seconds = start.elapsed().as_secs_f64();
                Ok(*report)
            }
            Reply::Failed { error } => {
                // Not converged, stopped and the like leave the last iterate, as in-process.
                copy_back(&mut self.region, x);
                Err(error.into_solve_error())
            }
            other => Err(unexpected(&self.spec, self.child.pid(), "solve", &other)),
        }
    }

    fn update_values(&mut self, a: Arc<CsrMatrix>) -> std::result::Result<(), SolveError> {
        check_same_pattern(&self.matrix, &a)?;
        let start = Instant::now();
        self.region.parts().values.copy_from_slice(a.values());
        let deadline = deadline(&self.options, 0.0);
        match self
            .child
            .request(&Request::UpdateValues, "update", deadline, &self.limits)?
        {
            Reply::Updated { .. } => {
                self.matrix = a;
                self.setup_seconds = start.elapsed().as_secs_f64();
                Ok(())
            }
            Reply::Failed { error } => Err(error.into_solve_error()),
            other => Err(unexpected(&self.spec, self.child.pid(), "update", &other)),
        }
    }

    fn matrix(&self) -> &Arc<CsrMatrix> {
        &self.matrix
    }

    fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }
}

/// Copies the CSR arrays of `a` into the region.
fn copy_matrix(region: &mut SharedRegion, a: &CsrMatrix) {
    let parts = region.parts();
    for (dst, &src) in parts.row_ptr.iter_mut().zip(a.pattern().row_ptr()) {
        *dst = src as u64;
    }
    for (dst, &src) in parts.col_idx.iter_mut().zip(a.pattern().col_idx()) {
        *dst = src as u64;
    }
    parts.values.copy_from_slice(a.values());
}

fn shm_error(spec: &SolverSpec, reason: String) -> SolveError {
    IsolationError::Spawn {
        plugin: spec.plugin.clone(),
        executable: spec.executable.clone(),
        reason: format!("shared memory: {reason}"),
    }
    .into()
}

fn unexpected(spec: &SolverSpec, pid: u32, phase: &'static str, reply: &Reply) -> SolveError {
    IsolationError::Protocol {
        plugin: spec.plugin.clone(),
        pid,
        phase,
        detail: format!("unexpected reply {reply:?}"),
    }
    .into()
}

impl Registry {
    /// Under `plugins.isolation = "process"`, replaces the solvers of `plugin` (registered
    /// in-process, which checked their options) by [`IsolatedSolver`]s.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `plugins.host_executable` when no plugin host executable
    /// is found; [`Error::InvalidInput`] naming `plugins.isolation` on platforms without it.
    pub(crate) fn isolate_plugin_solvers(
        &mut self,
        plugin: &LoadedPlugin,
        config: &PluginsConfig,
    ) -> Result<()> {
        if config.isolation != Isolation::Process || plugin.solvers().is_empty() {
            return Ok(());
        }
        if !cfg!(target_os = "linux") {
            return Err(Error::invalid(
                "plugins.isolation",
                "\"process\" is supported on Linux only; use \"in-process\"",
            ));
        }
        let executable =
            child::host_executable(config.host_executable.as_deref()).map_err(|searched| {
                Error::invalid(
                    "plugins.host_executable",
                    IsolationError::HostNotFound {
                        plugin: plugin.name().to_string(),
                        searched,
                    }
                    .to_string(),
                )
            })?;
        for component in plugin.solvers() {
            let json = match config.options.get(&component.name) {
                Some(v) => v.to_string(),
                None => "{}".to_string(),
            };
            let solver = IsolatedSolver::new(plugin, &component.name, &json, executable.clone());
            self.register_solver(
                &format!("plugin:{}", component.name),
                Arc::new(move |_, _| Box::new(solver.clone())),
                femscale_core::SolverInfo::unpreconditioned(None),
            );
        }
        Ok(())
    }
}
