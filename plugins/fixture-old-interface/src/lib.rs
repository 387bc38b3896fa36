//! Test fixture: a plugin whose root module is the one of an older femscale plugin interface
//! (a single `name` function). Built as `femscale-plugin-fixture-old-interface` it declares
//! interface version 0.9.0 (a version error for femscale 1.x); built as
//! `femscale-plugin-fixture-bad-layout` it declares 1.0.0, so the version check passes and the
//! layout check must catch the difference.
#![allow(non_local_definitions)]

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RStr;
use abi_stable::{declare_root_module_statics, package_version_strings, StableAbi};

/// The root module of the old interface.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// The plugin's name.
    #[sabi(last_prefix_field)]
    pub name: extern "C" fn() -> RStr<'static>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "femscale_plugin";
    const NAME: &'static str = "femscale plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

extern "C" fn name() -> RStr<'static> {
    RStr::from_str(env!("CARGO_PKG_NAME"))
}

/// The exported root module (in a module of its own: the header static abi_stable generates
/// carries no documentation).
mod export {
    #![allow(missing_docs)]
    use super::{name, PluginMod, PluginModRef};
    use abi_stable::export_root_module;
    use abi_stable::prefix_type::PrefixTypeTrait;

    /// The root module.
    #[export_root_module]
    pub fn root_module() -> PluginModRef {
        PluginMod { name }.leak_into_prefix()
    }
}
