//! Typed plugin errors, short enough to read: loading errors name the file, call errors name the
//! plugin.

use std::path::PathBuf;

use femscale_core::{Error, SolveError};

/// What went wrong with a plugin. Displayed as `<file or plugin>: <what>`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The file does not exist.
    FileMissing {
        /// The path as given.
        path: PathBuf,
    },
    /// The file is not a femscale plugin (not a dynamic library, or one exporting neither
    /// interface).
    NotAPlugin {
        /// The file.
        path: PathBuf,
        /// Why (the loader's message).
        reason: String,
    },
    /// The plugin was built against another interface version.
    VersionMismatch {
        /// The file.
        path: PathBuf,
        /// `femscale-plugin-api` (Rust plugins) or `C interface` (C plugins).
        interface: &'static str,
        /// The plugin's interface version.
        plugin: String,
        /// The host's interface version.
        host: String,
    },
    /// The plugin's types do not have the layout the host expects (it was built against a
    /// modified or different interface crate).
    LayoutMismatch {
        /// The file.
        path: PathBuf,
        /// The `Error:` lines of abi_stable's layout report, with their expected/found values.
        details: String,
    },
    /// A required function is missing from a C plugin.
    SymbolMissing {
        /// The file.
        path: PathBuf,
        /// The symbol.
        symbol: String,
    },
    /// The plugin describes itself inconsistently (bad name, non UTF-8 text, ...).
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The library's content does not match its `[plugins] sha256` pin. Checked before the
    /// library is opened (a pin by file name or file stem), so its initialisers never ran;
    /// `after_loading` is set for the one check that can only run once a library describes
    /// itself (a pin on the plugin name it reports).
    PinMismatch {
        /// The file.
        path: PathBuf,
        /// The `plugins.sha256` entry that pins it.
        entry: String,
        /// The pinned SHA-256 (lower-case hex).
        expected: String,
        /// The file's SHA-256 (lower-case hex).
        found: String,
        /// Whether the library had been opened when the mismatch was found.
        after_loading: bool,
    },
    /// `plugins.require_pinned` is set and no `plugins.sha256` entry names the library; refused
    /// before it was opened.
    Unpinned {
        /// The file.
        path: PathBuf,
        /// The file's SHA-256 (lower-case hex), to pin it.
        found: String,
    },
    /// Two plugins provide a component of the same name.
    DuplicateName {
        /// The file loaded second.
        path: PathBuf,
        /// `solver` or `preconditioner`.
        what: &'static str,
        /// The component name.
        name: String,
        /// The file that provides it already.
        other: PathBuf,
    },
    /// The plugin returned an error.
    Returned {
        /// The plugin's name.
        plugin: String,
        /// The error kind (`invalid options`, `unsuitable matrix`, ...).
        kind: String,
        /// The plugin's message.
        message: String,
    },
    /// Code in the plugin panicked; the panic was caught at the boundary.
    Panicked {
        /// The plugin's name.
        plugin: String,
        /// The panic message.
        message: String,
    },
}

impl PluginError {
    /// The plugin's name (call errors) or file (loading errors).
    pub fn plugin(&self) -> String {
        match self {
            Self::Returned { plugin, .. } | Self::Panicked { plugin, .. } => plugin.clone(),
            Self::FileMissing { path }
            | Self::NotAPlugin { path, .. }
            | Self::VersionMismatch { path, .. }
            | Self::LayoutMismatch { path, .. }
            | Self::SymbolMissing { path, .. }
            | Self::Invalid { path, .. }
            | Self::PinMismatch { path, .. }
            | Self::Unpinned { path, .. }
            | Self::DuplicateName { path, .. } => path.display().to_string(),
        }
    }

    /// What went wrong, without the plugin's name or file.
    pub fn detail(&self) -> String {
        match self {
            Self::FileMissing { .. } => "plugin file does not exist".into(),
            Self::NotAPlugin { reason, .. } => format!("not a femscale plugin: {reason}"),
            Self::VersionMismatch {
                interface,
                plugin,
                host,
                ..
            } => format!(
                "plugin interface version mismatch: the plugin was built against {interface} \
                 {plugin}, this femscale uses {interface} {host}; rebuild the plugin against \
                 {interface} {host}"
            ),
            Self::LayoutMismatch { details, .. } => format!(
                "plugin type layout mismatch (rebuild it against femscale-plugin-api {}):\n{details}",
                femscale_plugin_api::INTERFACE_VERSION
            ),
            Self::SymbolMissing { symbol, .. } => format!("missing symbol `{symbol}`"),
            Self::Invalid { reason, .. } => format!("invalid plugin: {reason}"),
            Self::PinMismatch {
                entry,
                expected,
                found,
                after_loading,
                ..
            } => format!(
                "{}: its SHA-256 is {found}, but `plugins.sha256.{}` pins {expected}{}",
                if *after_loading {
                    "refused after loading (a pin on the plugin name it reports)"
                } else {
                    "refused before opening it"
                },
                quote_key(entry),
                if *after_loading {
                    "; pin its file name instead to refuse it before it is opened"
                } else {
                    ""
                }
            ),
            Self::Unpinned { path, found } => format!(
                "refused before opening it: `plugins.require_pinned` is set and no \
                 `plugins.sha256` entry names this file; its SHA-256 is {found} (to trust it: \
                 [plugins.sha256] {} = \"{found}\")",
                quote_key(
                    &path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                )
            ),
            Self::DuplicateName {
                what, name, other, ..
            } => format!("{what} `{name}` is already provided by {}", other.display()),
            Self::Returned { kind, message, .. } => {
                format!("the plugin returned an error ({kind}): {message}")
            }
            Self::Panicked { message, .. } => format!("panic in the plugin: {message}"),
        }
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Returned { plugin, .. } | Self::Panicked { plugin, .. } => {
                write!(f, "plugin `{plugin}`: {}", self.detail())
            }
            _ => write!(f, "{}: {}", self.plugin(), self.detail()),
        }
    }
}

impl From<PluginError> for Error {
    fn from(e: PluginError) -> Self {
        Error::Plugin {
            plugin: e.plugin(),
            message: e.detail(),
        }
    }
}

impl From<PluginError> for SolveError {
    fn from(e: PluginError) -> Self {
        SolveError::Backend(Box::new(e))
    }
}

/// A TOML key as written: bare when it only has letters, digits, `-` and `_`, quoted otherwise
/// (`"libx.so"`).
pub(crate) fn quote_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

/// The useful part of abi_stable's layout report (hundreds of lines of type dumps): every
/// `Error:` line and the few lines after it (`Expected:`/`Found:` and their values), at most
/// 24 lines.
pub(crate) fn layout_summary(report: &str) -> String {
    let lines: Vec<&str> = report.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() && out.len() < 24 {
        let line = lines[i].trim();
        if line.starts_with("Error:") {
            out.push(format!("  {line}"));
            let mut j = i + 1;
            while j < lines.len() && j <= i + 4 && !lines[j].trim().starts_with("Error:") {
                let next = lines[j].trim();
                if !next.is_empty() {
                    out.push(format!("    {next}"));
                }
                j += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out.dedup();
    if out.is_empty() {
        "  (abi_stable reported no `Error:` line)".into()
    } else {
        out.join("\n")
    }
}

/// An error and its sources, joined by `: ` (libloading's own message is just `dlopen failed`;
/// the reason is in the source).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s = s.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = std::error::Error::source(source.expect("checked above"));
    }
    text.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_summary_keeps_the_error_lines_only() {
        let mut report = String::from("Layout dump\n");
        for _ in 0..500 {
            report.push_str("    field: something very long\n");
        }
        report.push_str("Error:incompatible type size\nExpected:\n    32\nFound:\n    24\n");
        report.push_str("more dump\nError:too many fields\nExpected:\n    4\nFound:\n    3\n");
        let summary = layout_summary(&report);
        assert_eq!(summary.lines().count(), 10, "{summary}");
        assert!(summary.starts_with("  Error:incompatible type size\n    Expected:\n    32"));
        assert!(summary.contains("Error:too many fields"));
        assert!(layout_summary("nothing").contains("no `Error:` line"));
    }

    #[test]
    fn errors_convert_to_core_errors_naming_the_plugin() {
        let e: Error = PluginError::Panicked {
            plugin: "cheb".into(),
            message: "boom".into(),
        }
        .into();
        assert_eq!(e.to_string(), "plugin `cheb`: panic in the plugin: boom");
        let e: Error = PluginError::FileMissing {
            path: "/x/lib.so".into(),
        }
        .into();
        assert!(matches!(e, Error::Plugin { ref plugin, .. } if plugin == "/x/lib.so"));
    }
}
