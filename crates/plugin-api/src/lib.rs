//! # femscale-plugin-api
//!
//! The stable binary interface between femscale and third-party solver plugins, and a small SDK
//! for writing them. A plugin is a dynamic library (`crate-type = ["cdylib"]`) that exports one
//! root module, [`PluginMod`]; femscale loads it at run time, checks its interface version and
//! the layout of every type it exchanges, and registers its solvers and preconditioners as
//! `plugin:<name>`.
//!
//! This crate depends on `abi_stable` only and is versioned on its own (starting at 1.0.0): a
//! plugin built against version `M.m` loads into a femscale whose interface is `M.k` with
//! `k <= m` (same major version, host minor no newer than the plugin's). See `docs/plugins.md`
//! for the step-by-step guide and the rules.
//!
//! | module | what it holds |
//! |---|---|
//! | [`types`] | data crossing the boundary: [`CsrRef`], [`SolveParams`], [`SolveOutcome`], [`PluginError`], [`PluginInfo`] |
//! | [`objects`] | FFI-safe trait objects: solvers, prepared solvers, preconditioners, the host's monitor |
//! | [`sdk`] | what a plugin author uses: the [`sdk::Solver`] and [`sdk::Preconditioner`] traits, [`sdk::Plugin`], [`export_plugin!`] |
//! | [`c_abi`] | the plain C interface of `include/femscale_plugin.h`, for plugins in C or Fortran |
//! | [`fingerprint`] | a deterministic fingerprint of the root module's layout, committed with the version |
//!
//! A plugin in a dozen lines (the full template is in `plugins/template`):
//!
//! ```
//! use femscale_plugin_api::sdk::{Csr, Plugin, Preconditioner, PreconditionerBuilder};
//! use femscale_plugin_api::PluginError;
//!
//! /// `z = r / 2`: an example, not a useful preconditioner.
//! struct Half;
//! impl PreconditionerBuilder for Half {
//!     type Preconditioner = Half;
//!     fn build(&self, _a: Csr<'_>) -> Result<Half, PluginError> { Ok(Half) }
//! }
//! impl Preconditioner for Half {
//!     fn apply(&self, r: &[f64], z: &mut [f64]) {
//!         z.iter_mut().zip(r).for_each(|(z, r)| *z = 0.5 * r);
//!     }
//! }
//! fn plugin() -> Plugin {
//!     Plugin::new("half", "0.1.0", "halves the residual")
//!         .preconditioner("half", "z = r / 2", |_options_json| Ok(Half))
//! }
//! femscale_plugin_api::export_plugin!(plugin);
//! # assert_eq!(plugin().info().preconditioners[0].name.as_str(), "half");
//! ```
#![warn(rustdoc::broken_intra_doc_links)]
#![allow(non_local_definitions)]

pub mod c_abi;
pub mod fingerprint;
pub mod objects;
pub mod sdk;
pub mod types;

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RResult, RStr};
use abi_stable::{StableAbi, declare_root_module_statics, package_version_strings};

pub use objects::{
    MonitorMut, PreconditionerBox, PreconditionerBuilderBox, PreparedBox, RMonitor,
    RPreconditioner, RPreconditionerBuilder, RPrepared, RSolver, SolverBox,
};
pub use types::{
    ComponentInfo, CsrRef, ErrorKind, HostLogger, LogLevel, PluginError, PluginInfo, SolveOutcome,
    SolveParams,
};

/// Re-exports for the host and for [`export_plugin!`]; not part of the stable interface.
#[doc(hidden)]
pub mod __private {
    pub use abi_stable;
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, ROOT_MODULE_LOADER_NAME,
        RootModuleResult,
    };
}

/// The version of this interface (this crate's version), e.g. `1.0.0`. A test checks it
/// together with the [layout fingerprint](fingerprint::layout_fingerprint) of the root
/// module against committed values, so a layout change without a version bump fails.
pub const INTERFACE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The root module every Rust plugin exports (through [`export_plugin!`]).
///
/// It is a prefix type: a later minor version may add fields after the last one, and hosts
/// read those as optional.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// What the plugin is and provides.
    pub info: extern "C" fn() -> PluginInfo,
    /// Hands the plugin the host's log sink; called once, right after loading.
    pub set_logger: extern "C" fn(logger: HostLogger),
    /// Creates the solver called `name` from its options (a JSON object; `{}` for defaults).
    pub new_solver:
        extern "C" fn(name: RStr<'_>, options_json: RStr<'_>) -> RResult<SolverBox, PluginError>,
    /// Creates the preconditioner builder called `name` from its options (a JSON object).
    #[sabi(last_prefix_field)]
    pub new_preconditioner: extern "C" fn(
        name: RStr<'_>,
        options_json: RStr<'_>,
    ) -> RResult<PreconditionerBuilderBox, PluginError>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "femscale_plugin";
    const NAME: &'static str = "femscale plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

#[cfg(test)]
mod tests {
    #[test]
    fn export_plugin_uses_abi_stables_symbol_name() {
        assert_eq!(
            crate::sdk::ROOT_MODULE_SYMBOL,
            crate::__private::ROOT_MODULE_LOADER_NAME
        );
    }
}
