//! `femscale plugins list | check PATH`: what the configuration loads, and whether one library
//! is a plugin this femscale can use.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use femscale::prelude::*;
use femscale::runtime::plugins::{self, LoadedPlugin, PluginKind};

use crate::ConfigArgs;

/// What to do with plugins.
#[derive(Debug, Subcommand)]
pub(crate) enum PluginsCommand {
    /// Load the plugins of the configuration (`[plugins] paths`, `dirs`) and list each with
    /// the solvers and preconditioners it provides, as `plugin:<name>`.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print a JSON array instead.
        #[arg(long)]
        json: bool,
    },
    /// Load one library and report whether this femscale can use it: interface version, type
    /// layout, what it provides. Runs no solver. Exits with an error if it is incompatible.
    Check {
        /// The dynamic library (`libmy_solver.so`).
        path: PathBuf,
        /// Print a JSON object instead.
        #[arg(long)]
        json: bool,
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
            let loaded = plugins::load_configured(&config.plugins)?;
            if json {
                let list: Vec<&LoadedPlugin> = loaded.iter().map(|p| &**p).collect();
                serde_json::to_writer_pretty(&mut out, &list)?;
                writeln!(out)?;
            } else if loaded.is_empty() {
                writeln!(
                    out,
                    "no plugins loaded: set `[plugins] paths` or `dirs` (see docs/plugins.md)"
                )?;
            } else {
                for plugin in &loaded {
                    describe(&mut out, plugin)?;
                }
            }
        }
        PluginsCommand::Check { path, json } => {
            let plugin = plugins::load(&path)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &*plugin)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "compatible: this femscale speaks femscale-plugin-api {} and C interface {}",
                    femscale::runtime::plugins::INTERFACE_VERSION,
                    femscale::runtime::plugins::C_ABI_VERSION
                )?;
                describe(&mut out, &plugin)?;
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
