//! `femscale plugins list | check PATH`: what the configuration loads (and which scanned
//! libraries it skipped, and why), and whether one library is a plugin this femscale can use,
//! with the SHA-256 to pin it.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use femscale::prelude::*;
use femscale::runtime::plugins::{self, LoadedPlugin, PluginError, PluginKind};

use crate::ConfigArgs;

/// What to do with plugins.
#[derive(Debug, Subcommand)]
pub(crate) enum PluginsCommand {
    /// Load the plugins of the configuration (`[plugins] paths`, `dirs`, under the pins of
    /// `[plugins] sha256`) and list each with the solvers and preconditioners it provides, as
    /// `plugin:<name>`, and the libraries of `dirs` that were skipped, and why.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print a JSON object `{"loaded": [...], "skipped": [...]}` instead.
        #[arg(long)]
        json: bool,
    },
    /// Print the SHA-256 of one library (and the `[plugins.sha256]` line that pins it), then
    /// load it and report whether this femscale can use it: interface version, type layout,
    /// what it provides. Runs no solver. Exits with an error if it is incompatible.
    Check {
        /// The dynamic library (`libmy_solver.so`).
        path: PathBuf,
        /// Print a JSON object instead.
        #[arg(long)]
        json: bool,
        /// Only print the hash and the pin line; do not open the library (opening runs its
        /// initialisers).
        #[arg(long)]
        hash_only: bool,
    },
}

/// Runs a `femscale plugins` command.
pub(crate) fn run(command: PluginsCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        PluginsCommand::List { config, json } => {
            let sources = ConfigSources {
                file: config.config,
                overrides: config.overrides,
            };
            let config = Config::load(&sources)?;
            let scan = plugins::scan_configured(&config.plugins)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &scan)?;
                writeln!(out)?;
                return Ok(());
            }
            if scan.loaded.is_empty() {
                writeln!(
                    out,
                    "no plugins loaded: set `[plugins] paths` or `dirs` (see docs/plugins.md)"
                )?;
            }
            for plugin in &scan.loaded {
                describe(&mut out, plugin)?;
            }
            for skipped in &scan.skipped {
                let when = if skipped.refused_before_opening {
                    "not opened"
                } else {
                    "opened, not used"
                };
                writeln!(out, "skipped {} ({when})", skipped.path.display())?;
                writeln!(out, "  why             {}", skipped.reason)?;
            }
        }
        PluginsCommand::Check {
            path,
            json,
            hash_only,
        } => {
            let sha256 = plugins::file_sha256(&path).map_err(|e| {
                let e: femscale::Error = if path.exists() {
                    PluginError::NotAPlugin {
                        path: path.clone(),
                        reason: format!("cannot read it: {e}"),
                    }
                    .into()
                } else {
                    PluginError::FileMissing { path: path.clone() }.into()
                };
                e
            })?;
            let pin_line = pin_line(&path, &sha256);
            if hash_only {
                if json {
                    let value =
                        serde_json::json!({ "path": path, "sha256": sha256, "pin": pin_line });
                    serde_json::to_writer_pretty(&mut out, &value)?;
                    writeln!(out)?;
                } else {
                    writeln!(out, "sha256          {sha256}")?;
                    writeln!(out, "pin it with     [plugins.sha256] {pin_line}")?;
                }
                return Ok(());
            }
            let plugin = plugins::load(&path)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &*plugin)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "compatible: this femscale speaks femscale-plugin-api {} and C interface {} \
                     (and 1)",
                    femscale::runtime::plugins::INTERFACE_VERSION,
                    femscale::runtime::plugins::C_ABI_VERSION
                )?;
                describe(&mut out, &plugin)?;
                writeln!(out, "  pin it with     [plugins.sha256] {pin_line}")?;
            }
        }
    }
    Ok(())
}

fn describe(out: &mut impl Write, p: &LoadedPlugin) -> std::io::Result<()> {
    let kind = match p.kind() {
        PluginKind::Rust => "Rust",
        PluginKind::C => "C",
        _ => "unknown",
    };
    writeln!(
        out,
        "{} {} ({kind} plugin, {})",
        p.name(),
        p.version(),
        p.interface()
    )?;
    writeln!(out, "  file            {}", p.path().display())?;
    writeln!(out, "  sha256          {}", p.sha256())?;
    if !p.description().is_empty() {
        writeln!(out, "  about           {}", p.description())?;
    }
    let width = p
        .solvers()
        .iter()
        .chain(p.preconditioners())
        .map(|c| c.name.len() + 7)
        .max()
        .unwrap_or(0);
    for (what, list) in [
        ("solver", p.solvers()),
        ("preconditioner", p.preconditioners()),
    ] {
        for c in list {
            let name = format!("plugin:{}", c.name);
            writeln!(out, "  {what:<15} {name:<width$}  {}", c.description)?;
        }
    }
    Ok(())
}

/// `"libmy_solver.so" = "<hex>"`: the `[plugins.sha256]` entry that pins the file at `path`.
fn pin_line(path: &std::path::Path, sha256: &str) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{name:?} = \"{sha256}\"")
}
