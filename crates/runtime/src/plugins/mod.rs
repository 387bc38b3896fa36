//! Solver and preconditioner plugins: dynamic libraries loaded at run time and registered as
//! `plugin:<name>` (see `docs/plugins.md`).
//!
//! * Rust plugins export the root module of `femscale-plugin-api`; each library is loaded with
//!   `lib_header_from_path(..).init_root_module()`, which checks the interface version first and
//!   then the layout of every type that crosses the boundary.
//! * C plugins export the functions of `femscale_plugin.h`; `femscale_plugin_abi_version` is
//!   called and checked before anything else.
//!
//! Libraries are loaded once per process (keyed by canonical path) and never unloaded.
//! `[plugins] paths` name libraries that must load (an error stops the run); `[plugins] dirs`
//! are scanned for dynamic libraries, and one that fails to load is skipped with a warning.
//! Before a library is opened its bytes are hashed and checked against `[plugins] sha256`
//! ([`pinning`]): opening runs its initialisers, so a library that fails the pins never runs.
//! Only this module adapts plugin-API types to femscale-core's traits.

#[cfg(feature = "plugins")]
mod c_abi;
#[cfg(feature = "plugins")]
mod convert;
#[cfg(feature = "plugins")]
mod error;
#[cfg(feature = "plugins")]
pub mod isolation;
#[cfg(feature = "plugins")]
mod load;
#[cfg(feature = "plugins")]
pub mod pinning;
#[cfg(feature = "plugins")]
mod rust_abi;
#[cfg(feature = "plugins")]
mod scan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[cfg(feature = "plugins")]
pub use error::PluginError;
#[cfg(feature = "plugins")]
pub use femscale_plugin_api::INTERFACE_VERSION;
#[cfg(feature = "plugins")]
pub use femscale_plugin_api::c_abi::C_ABI_VERSION;
#[cfg(feature = "plugins")]
pub use load::{
    Component, LoadedPlugin, PluginKind, load, load_configured, load_pinned, loaded_plugins,
};
#[cfg(feature = "plugins")]
use load::{add, intern, warn_once};
#[cfg(feature = "plugins")]
pub use pinning::PinPolicy;
#[cfg(feature = "plugins")]
pub use scan::{PluginScan, SkippedLibrary, scan_configured};

/// `[plugins]`: which plugin libraries to load and the options of their components.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PluginsConfig {
    /// Plugin libraries to load (relative paths: from the current directory). A library that
    /// fails to load is an error.
    pub paths: Vec<PathBuf>,
    /// Directories whose dynamic libraries (`*.so`, `*.dylib`, `*.dll`) are loaded; one that
    /// fails to load is skipped with a warning.
    pub dirs: Vec<PathBuf>,
    /// Options per component name (`[plugins.options.chebyshev-cg] degree = 6`), passed to the
    /// plugin as a JSON object; components without an entry get `{}`.
    pub options: BTreeMap<String, serde_json::Value>,
    /// Content pins: library file name (`"libmy_solver.so"`) or plugin name (`my-solver`) →
    /// SHA-256 of the library file (64 hex digits, `femscale plugins check PATH` prints it). A
    /// library whose bytes differ is refused before it is opened (see [`pinning`]).
    pub sha256: BTreeMap<String, String>,
    /// Refuse, before opening it, every library no `sha256` entry names.
    pub require_pinned: bool,
    /// Where plugin solvers run: `in-process` (default) or `process` (a child process per
    /// prepared solver; see [`isolation`]).
    pub isolation: Isolation,
    /// The femscale executable that hosts isolated plugins (default: see
    /// `docs/configuration.md`).
    pub host_executable: Option<PathBuf>,
}

/// Where plugin solvers run: `plugins.isolation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Isolation {
    /// In the host process (default): no overhead, but a crashing plugin takes the host down.
    #[default]
    InProcess,
    /// In a `femscale plugin-host` child process per prepared solver.
    Process,
}

/// Whether `path` is a file with the platform's dynamic-library extension (`.so`, `.dylib`,
/// `.dll`): what a `plugins.dirs` scan considers.
pub fn is_dynamic_library(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
}

/// SHA-256 of a regular file's bytes, lower-case hex.
///
/// # Errors
/// The file cannot be read, or is not a regular file (a device such as `/dev/zero` or a FIFO
/// would never end or block: refused with [`std::io::ErrorKind::InvalidInput`]).
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let not_a_file = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file");
    // Checked before opening too: opening a FIFO for reading blocks until a writer comes.
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_a_file());
    }
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_a_file());
    }
    reader_sha256(file)
}

/// SHA-256 of everything `reader` yields, lower-case hex.
pub(crate) fn reader_sha256(mut file: impl std::io::Read) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(to_hex(&hasher.finalize()))
}

/// Lower-case hex of `bytes` (content hashes in pins, keys and run ids).
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Without the `plugins` feature no library can be loaded: a configuration that names one is
/// refused, naming the key, instead of running without the components it asked for.
#[cfg(not(feature = "plugins"))]
impl crate::Registry {
    /// Refuses `plugins.paths`, `plugins.dirs` and `plugins.options.<name>` when any is set:
    /// this build has no plugin loading. (`sha256`, `require_pinned`, `isolation` and
    /// `host_executable` only govern libraries that are loaded, so they are accepted.)
    ///
    /// # Errors
    /// [`femscale_core::Error::FeatureDisabled`] naming the first key that asks for plugins.
    pub fn register_configured_plugins(
        &mut self,
        plugins: &PluginsConfig,
    ) -> femscale_core::Result<()> {
        let refuse = |field: String, what: &str| {
            Err(femscale_core::Error::feature_disabled(
                field, what, "plugins",
            ))
        };
        if !plugins.paths.is_empty() {
            return refuse("plugins.paths".into(), "loading plugin libraries");
        }
        if !plugins.dirs.is_empty() {
            return refuse("plugins.dirs".into(), "loading plugin libraries");
        }
        if let Some(name) = plugins.options.keys().next() {
            return refuse(
                format!("plugins.options.{name}"),
                "options of a plugin component",
            );
        }
        Ok(())
    }
}
