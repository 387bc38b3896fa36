//! Loading plugin libraries (cargo feature `plugins`): the loaded libraries of this process and
//! the registration of their components.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use femscale_core::{
    CsrMatrix, Error, LinearSolver, PreconditionerFactory, PreparedSolver, Result, SolveError,
    SolverOptions,
};
use serde::Serialize;
use tracing::{instrument, warn};

use super::{PinPolicy, PluginError, PluginsConfig, c_abi, pinning, rust_abi, scan_configured};
use crate::registry::Registry;

impl PluginsConfig {
    /// The pin policy of `sha256` and `require_pinned`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `plugins.sha256.<entry>` for a malformed entry.
    pub fn pin_policy(&self) -> Result<PinPolicy<'_>> {
        PinPolicy::new(&self.sha256, self.require_pinned)
    }
}

/// Which interface a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PluginKind {
    /// The Rust interface, `femscale-plugin-api` (abi_stable).
    Rust,
    /// The C interface, `femscale_plugin.h`.
    C,
}

/// A solver or preconditioner a plugin provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    /// Its name; the registry name is `plugin:<name>`.
    pub name: String,
    /// What the plugin says about it.
    pub description: String,
}

pub(super) enum Backend {
    Rust(rust_abi::RustBackend),
    C(Arc<c_abi::CBackend>),
}

/// A loaded plugin library: what it is and provides. Loaded plugins live until the process
/// ends.
#[derive(Serialize)]
pub struct LoadedPlugin {
    pub(super) path: PathBuf,
    pub(super) name: String,
    pub(super) version: String,
    pub(super) description: String,
    pub(super) kind: PluginKind,
    pub(super) interface: String,
    /// SHA-256 of the library file's bytes as read before it was opened (lower-case hex).
    pub(super) sha256: String,
    pub(super) solvers: Vec<Component>,
    pub(super) preconditioners: Vec<Component>,
    #[serde(skip)]
    pub(super) backend: Backend,
    /// Keeps the library mapped (and its symbols valid) for the life of the process.
    #[serde(skip)]
    pub(super) _library: Option<libloading::Library>,
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("version", &self.version)
            .field("kind", &self.kind)
            .field("solvers", &self.solvers)
            .field("preconditioners", &self.preconditioners)
            .finish()
    }
}

impl LoadedPlugin {
    /// The library's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's own version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// One line about the plugin.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// SHA-256 of the library file (lower-case hex), read before the library was opened: what
    /// `[plugins] sha256` pins and what cache keys and run ids cover.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// What identifies the code that computes this plugin's results: name, version and the
    /// library's content hash (`chebyshev 1.2.0 sha256:ab12...`).
    pub fn identity(&self) -> String {
        format!("{} {} sha256:{}", self.name, self.version, self.sha256)
    }

    /// Rust or C.
    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    /// The interface and version it was built against (`femscale-plugin-api 1.0.0`,
    /// `C interface 1`).
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The solvers it provides.
    pub fn solvers(&self) -> &[Component] {
        &self.solvers
    }

    /// The preconditioners it provides.
    pub fn preconditioners(&self) -> &[Component] {
        &self.preconditioners
    }

    /// The solver `name` configured by `options_json` (a JSON object).
    ///
    /// # Errors
    /// [`PluginError::Returned`] for unknown names or rejected options,
    /// [`PluginError::Panicked`].
    pub fn solver(
        &self,
        name: &str,
        options_json: &str,
    ) -> Result<Arc<dyn LinearSolver>, PluginError> {
        match &self.backend {
            Backend::Rust(b) => b.solver(&self.name, name, options_json),
            Backend::C(b) if name == self.name => b.solver(&self.name, options_json),
            Backend::C(_) => Err(PluginError::Returned {
                plugin: self.name.clone(),
                kind: "unknown component".into(),
                message: format!(
                    "C plugin `{}` provides only the solver `{}`",
                    self.name, self.name
                ),
            }),
        }
    }

    /// The preconditioner `name` configured by `options_json` (a JSON object).
    ///
    /// # Errors
    /// As [`LoadedPlugin::solver`].
    pub fn preconditioner(
        &self,
        name: &str,
        options_json: &str,
    ) -> Result<Arc<dyn PreconditionerFactory>, PluginError> {
        match &self.backend {
            Backend::Rust(b) => b.preconditioner(&self.name, name, options_json),
            Backend::C(_) => Err(PluginError::Returned {
                plugin: self.name.clone(),
                kind: "unknown component".into(),
                message: "C plugins provide no preconditioners".into(),
            }),
        }
    }
}

/// Every library loaded in this process, by canonical path; never unloaded.
static LOADED: Mutex<Vec<Arc<LoadedPlugin>>> = Mutex::new(Vec::new());

/// The plugins loaded so far in this process.
pub fn loaded_plugins() -> Vec<Arc<LoadedPlugin>> {
    LOADED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Loads the plugin library at `path` (once per process) and checks its interface version and
/// type layout. Nothing but the plugin's self-description runs. No pins apply: see
/// [`load_pinned`].
///
/// # Errors
/// [`PluginError::FileMissing`], [`PluginError::NotAPlugin`], [`PluginError::VersionMismatch`],
/// [`PluginError::LayoutMismatch`], [`PluginError::SymbolMissing`], [`PluginError::Invalid`],
/// [`PluginError::Panicked`].
pub fn load(path: &Path) -> Result<Arc<LoadedPlugin>, PluginError> {
    load_pinned(path, &PinPolicy::none())
}

/// [`load`] under the pins of `policy`: the file is opened once, hashed from that descriptor
/// and checked before the dynamic loader opens the same inode, so a library that fails the pins
/// never runs its initialisers. A library loaded earlier in the process is checked against the
/// hash of the bytes it was loaded from.
///
/// # Errors
/// As [`load`], and [`PluginError::PinMismatch`], [`PluginError::Unpinned`].
#[instrument(skip_all, name = "fem.plugin.load", fields(path = %path.display()))]
pub fn load_pinned(path: &Path, policy: &PinPolicy<'_>) -> Result<Arc<LoadedPlugin>, PluginError> {
    let canonical = path.canonicalize().map_err(|_| PluginError::FileMissing {
        path: path.to_path_buf(),
    })?;
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = loaded.iter().find(|p| p.path == canonical) {
        policy.check_file(&canonical, &p.sha256)?;
        policy.check_loaded(&canonical, &p.name, &p.sha256)?;
        return Ok(p.clone());
    }
    let checked = pinning::open_and_hash(&canonical)?;
    policy.check_file(&canonical, &checked.sha256)?;
    let sha256 = checked.sha256.clone();
    let library = checked.open_library(&canonical)?;
    // SAFETY: only probes whether the symbol exists; its type is not used here.
    let is_c = unsafe {
        library.get::<femscale_plugin_api::c_abi::AbiVersionFn>(
            femscale_plugin_api::c_abi::SYM_ABI_VERSION.as_bytes(),
        )
    }
    .is_ok();
    let plugin = if is_c {
        let (info, backend) = c_abi::load(library, &canonical)?;
        LoadedPlugin {
            solvers: vec![Component {
                name: info.name.clone(),
                description: info.description.clone(),
            }],
            preconditioners: Vec::new(),
            name: info.name,
            version: info.version,
            description: info.description,
            kind: PluginKind::C,
            interface: format!("C interface {}", info.abi_version),
            sha256,
            path: canonical,
            backend: Backend::C(Arc::new(backend)),
            _library: None,
        }
    } else {
        let (info, backend) = match rust_abi::load(&library, &canonical) {
            Ok(loaded) => loaded,
            Err(e) => {
                // Like abi_stable's own loader: a library whose header was read stays mapped
                // (it may hold the host's abi_stable globals).
                std::mem::forget(library);
                return Err(e);
            }
        };
        let components = |list: &[femscale_plugin_api::ComponentInfo]| {
            list.iter()
                .map(|c| Component {
                    name: c.name.to_string(),
                    description: c.description.to_string(),
                })
                .collect()
        };
        LoadedPlugin {
            solvers: components(&info.solvers),
            preconditioners: components(&info.preconditioners),
            name: info.name.into(),
            version: info.version.into(),
            description: info.description.into(),
            kind: PluginKind::Rust,
            interface: format!("femscale-plugin-api {}", info.interface_version),
            sha256,
            path: canonical,
            backend: Backend::Rust(backend),
            _library: Some(library),
        }
    };
    check_names(&plugin)?;
    tracing::info!(plugin = %plugin.name, version = %plugin.version, path = %plugin.path.display(), sha256 = %plugin.sha256, "plugin loaded");
    let plugin = Arc::new(plugin);
    loaded.push(plugin.clone());
    drop(loaded);
    policy.check_loaded(&plugin.path, &plugin.name, &plugin.sha256)?;
    Ok(plugin)
}

/// Plugin and component names: letters, digits, `-`, `_` and `.`, at most 64 characters.
fn check_names(p: &LoadedPlugin) -> Result<(), PluginError> {
    let names = std::iter::once(&p.name)
        .chain(p.solvers.iter().map(|c| &c.name))
        .chain(p.preconditioners.iter().map(|c| &c.name));
    for name in names {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(PluginError::Invalid {
                path: p.path.clone(),
                reason: format!(
                    "name {}: names are 1 to 64 letters, digits, `-`, `_` or `.`",
                    shown_name(name)
                ),
            });
        }
    }
    Ok(())
}

/// A name a plugin gave, quoted for a message as untrusted input is
/// ([`shown_token`](femscale_core::error::shown_token): cut,
/// control characters escaped), with its length when it was cut.
fn shown_name(name: &str) -> String {
    let shown = femscale_core::error::shown_token(name);
    if shown.ends_with('…') {
        format!("`{shown}` ({} bytes)", name.len())
    } else {
        format!("`{shown}`")
    }
}

/// Logs `message` as a warning once per process.
pub(super) fn warn_once(message: String) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen
        .get_or_insert_with(HashSet::new)
        .insert(message.clone())
    {
        warn!("{message}");
    }
}

/// A registry name as `&'static str` (the preconditioner interface asks for one), leaked once
/// per distinct name.
pub(super) fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(leaked);
    leaked
}

/// The plugins `config` asks for: every file of `paths` (errors stop), then the dynamic
/// libraries of each of `dirs` in name order that pass the pins (failures, refused files and
/// name clashes are skipped with a warning; [`scan_configured`] lists them). A library found
/// twice is used once.
///
/// # Errors
/// A malformed `plugins.sha256` entry; the first failing file of `paths` (including a pin
/// failure), or a name clash between two of them ([`PluginError::DuplicateName`]).
pub fn load_configured(config: &PluginsConfig) -> Result<Vec<Arc<LoadedPlugin>>> {
    Ok(scan_configured(config)?.loaded)
}

/// Adds `plugin` to `chosen` unless it is already there; refuses component name clashes.
pub(super) fn add(
    chosen: &mut Vec<Arc<LoadedPlugin>>,
    plugin: Arc<LoadedPlugin>,
) -> Result<(), PluginError> {
    if chosen.iter().any(|p| Arc::ptr_eq(p, &plugin)) {
        return Ok(());
    }
    for other in chosen.iter() {
        let lists = [
            ("solver", &plugin.solvers, &other.solvers),
            (
                "preconditioner",
                &plugin.preconditioners,
                &other.preconditioners,
            ),
        ];
        for (what, mine, theirs) in lists {
            if let Some(c) = mine
                .iter()
                .find(|c| theirs.iter().any(|t| t.name == c.name))
            {
                return Err(PluginError::DuplicateName {
                    path: plugin.path.clone(),
                    what,
                    name: c.name.clone(),
                    other: other.path.clone(),
                });
            }
        }
    }
    chosen.push(plugin);
    Ok(())
}

/// A shared plugin solver behind the registry's `Box<dyn LinearSolver>`.
#[derive(Debug)]
struct SharedSolver(Arc<dyn LinearSolver>);

impl LinearSolver for SharedSolver {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn prepare(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> std::result::Result<Box<dyn PreparedSolver>, SolveError> {
        self.0.prepare(a, options)
    }
}

impl Registry {
    /// Loads the plugins of `plugins` (each library once per process) and registers their
    /// components as `plugin:<name>`, replacing components of the same name (e.g. with new
    /// options); components already registered stay.
    ///
    /// # Errors
    /// As [`Registry::from_config`].
    pub fn register_configured_plugins(&mut self, plugins: &PluginsConfig) -> Result<()> {
        plugins.pin_policy()?;
        if plugins.paths.is_empty() && plugins.dirs.is_empty() && plugins.options.is_empty() {
            return Ok(());
        }
        let loaded = load_configured(plugins)?;
        check_option_names(plugins, &loaded)?;
        for plugin in &loaded {
            self.register_plugin(plugin, &plugins.options)?;
            self.isolate_plugin_solvers(plugin, plugins)?;
        }
        Ok(())
    }

    /// Registers the components of `plugin` as `plugin:<name>`, configured by `options`
    /// (component name → JSON object; `{}` when absent).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (field `plugins.options.<name>`) for options that are not an
    /// object or that the plugin rejects; [`Error::Plugin`] if the plugin panics.
    pub fn register_plugin(
        &mut self,
        plugin: &LoadedPlugin,
        options: &BTreeMap<String, serde_json::Value>,
    ) -> Result<()> {
        for (is_solver, component) in plugin
            .solvers
            .iter()
            .map(|c| (true, c))
            .chain(plugin.preconditioners.iter().map(|c| (false, c)))
        {
            let field = format!("plugins.options.{}", component.name);
            let json = match options.get(&component.name) {
                None => "{}".to_string(),
                Some(v @ serde_json::Value::Object(_)) => v.to_string(),
                Some(other) => {
                    return Err(Error::invalid(
                        field,
                        format!("must be a table, got {other}"),
                    ));
                }
            };
            let rejected = |e: PluginError| match e {
                PluginError::Returned { message, .. } => Error::invalid(field.clone(), message),
                other => other.into(),
            };
            let registry_name = format!("plugin:{}", component.name);
            self.set_plugin_identity(&registry_name, plugin.identity());
            if is_solver {
                let solver = plugin.solver(&component.name, &json).map_err(rejected)?;
                self.register_solver(
                    &registry_name,
                    Arc::new(move |_, _| Box::new(SharedSolver(solver.clone()))),
                    femscale_core::SolverInfo::unpreconditioned(None),
                );
            } else {
                let factory = plugin
                    .preconditioner(&component.name, &json)
                    .map_err(rejected)?;
                self.register_preconditioner(&registry_name, Arc::new(move |_| factory.clone()));
            }
        }
        Ok(())
    }
}

/// `name version (file)` of each plugin, for messages.
fn describe(plugins: &[Arc<LoadedPlugin>]) -> String {
    if plugins.is_empty() {
        return "none".into();
    }
    plugins
        .iter()
        .map(|p| format!("{} {} ({})", p.name, p.version, p.path.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every `[plugins.options.<name>]` must name a component of a loaded plugin.
fn check_option_names(plugins: &PluginsConfig, loaded: &[Arc<LoadedPlugin>]) -> Result<()> {
    for name in plugins.options.keys() {
        let known = loaded.iter().any(|p| {
            p.solvers
                .iter()
                .chain(&p.preconditioners)
                .any(|c| &c.name == name)
        });
        if !known {
            return Err(Error::invalid(
                format!("plugins.options.{name}"),
                format!(
                    "no loaded plugin provides a component `{name}` (loaded: {})",
                    describe(loaded)
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::shown_name;

    #[test]
    fn a_long_name_is_shown_by_its_start_and_length() {
        assert_eq!(shown_name("my-solver"), "`my-solver`");
        let long = "x".repeat(1 << 20);
        let shown = shown_name(&long);
        assert!(
            shown.len() < 120 && shown.ends_with("(1048576 bytes)"),
            "{shown}"
        );
    }
}
