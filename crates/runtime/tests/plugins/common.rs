//! Locating the plugin libraries and building configurations that load them.

use std::path::{Path, PathBuf};

use femscale_runtime::Config;

/// The cdylib of the workspace plugin crate `crate_name` (`femscale_plugin_chebyshev`), built
/// next to this test binary because it is a dev-dependency.
pub fn rust_plugin(crate_name: &str) -> PathBuf {
    let file = format!(
        "{}{crate_name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("target/<profile>/deps");
    [deps.join(&file), deps.join("..").join(&file)]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{file} was not built next to {}", deps.display()))
}

/// The Chebyshev plugin.
pub fn chebyshev() -> PathBuf {
    rust_plugin("femscale_plugin_chebyshev")
}

/// The template plugin of docs/plugins.md.
pub fn template() -> PathBuf {
    rust_plugin("femscale_plugin_template")
}

/// The C plugin.
pub fn c_cg() -> PathBuf {
    PathBuf::from(femscale_plugin_c_cg::LIBRARY_PATH)
}

/// TOML for a list of paths.
pub fn toml_paths(paths: &[&Path]) -> String {
    let items: Vec<String> = paths.iter().map(|p| format!("'{}'", p.display())).collect();
    format!("[{}]", items.join(", "))
}

/// A 2D Poisson problem on an `n` x `n` mesh solved by `kind` with `preconditioner`, loading
/// `plugins`; `extra` is appended (e.g. `[plugins.options.x]` tables). One thread, no cache.
pub fn config(
    n: usize,
    kind: &str,
    preconditioner: &str,
    plugins: &[&Path],
    extra: &str,
) -> Config {
    let text = format!(
        r#"
[problem]
mesh = {{ kind = "rectangle", nx = {n}, ny = {n} }}
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"

[solver]
kind = "{kind}"
preconditioner = "{preconditioner}"
tolerance = 1e-10

[scaling]
level = "minimal"

[plugins]
paths = {}
{extra}
"#,
        toml_paths(plugins)
    );
    Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}
