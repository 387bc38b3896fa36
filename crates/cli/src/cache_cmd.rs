//! `femscale cache stats | clear | invalidate PATTERN`: the persistent cache levels (disk,
//! Redis) of a configuration. The memory level lives inside each solving process and starts
//! empty, so it has nothing to show here.
//!
//! Nothing is created: a disk directory that does not exist is an empty level. A level that
//! cannot be reached (Redis down) makes the command fail, naming the level and its address,
//! after the reachable levels were handled.

use std::collections::BTreeMap;
use std::io::Write;

use clap::Subcommand;
use femscale::prelude::*;
use femscale::runtime::{MEMORY_LEVEL, PersistentLevel, Registry, open_persistent_levels};

use crate::ConfigArgs;

/// What to do with the cache.
#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Entries and bytes per level and artefact kind (solution, system, ...).
    Stats {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print one JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// Remove every entry from the configured levels.
    Clear {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Remove the entries whose key matches a glob: `solution_*`, `system_3fa*`, `*`.
    Invalidate {
        /// Glob over keys `<kind>_<sha256>` (`*` any run, `?` one character).
        pattern: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// Usage of one level.
#[derive(Debug, serde::Serialize)]
struct LevelUsage {
    level: String,
    /// Entries and bytes per artefact kind; absent when the level cannot list entries.
    kinds: Option<BTreeMap<String, (u64, u64)>>,
    /// Why the level is empty without being opened (its directory does not exist).
    note: Option<String>,
    error: Option<String>,
}

/// The configured persistent levels, opened without creating anything.
fn open(args: ConfigArgs) -> anyhow::Result<(Vec<PersistentLevel>, Vec<String>)> {
    let sources = ConfigSources {
        file: args.config,
        overrides: args.overrides,
    };
    let (config, attribution) = Config::load_attributed(&sources)?;
    let levels = config.cache.levels.clone();
    let opened = open_persistent_levels(&config.cache, &Registry::with_builtins())
        .map_err(|e| crate::located(e, &attribution))?;
    Ok((opened, levels))
}

/// `cache level `redis` (redis://…) unreachable: …` for each level that could not be opened
/// or failed during the command; `None` when every level worked.
fn failures(failed: &[(String, String, String)]) -> Option<anyhow::Error> {
    if failed.is_empty() {
        return None;
    }
    let lines: Vec<String> = failed
        .iter()
        .map(|(level, address, error)| {
            let at = if address.is_empty() || error.contains(address.as_str()) {
                String::new()
            } else {
                format!(" ({address})")
            };
            format!("cache level `{level}`{at} unreachable: {error}")
        })
        .collect();
    Some(anyhow::anyhow!(lines.join("\n")))
}

/// Removes the entries matching `pattern` from every level, reporting each; fails (after
/// doing what it can) when a level is unreachable.
fn remove_matching(
    out: &mut impl Write,
    levels: &[PersistentLevel],
    pattern: &str,
) -> anyhow::Result<usize> {
    let mut largest = 0;
    let mut failed = Vec::new();
    for level in levels {
        match level {
            PersistentLevel::Open(cache) => match cache.invalidate(pattern) {
                Ok(n) => {
                    writeln!(out, "{}: removed {n} entries", cache.name())?;
                    largest = largest.max(n);
                }
                Err(e) => failed.push((cache.name().to_string(), String::new(), e.to_string())),
            },
            PersistentLevel::Absent { level, dir } => writeln!(
                out,
                "{level}: nothing to remove ({} does not exist)",
                dir.display()
            )?,
            PersistentLevel::Unreachable {
                level,
                address,
                error,
            } => failed.push((level.clone(), address.clone(), error.to_string())),
            _ => {}
        }
    }
    match failures(&failed) {
        Some(e) => Err(e.context(format!(
            "removed {largest} entries from the reachable levels, but not every level was reached"
        ))),
        None => Ok(largest),
    }
}

/// Runs one `femscale cache` command.
pub(crate) fn run(command: CacheCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        CacheCommand::Stats { config, json } => {
            let (opened, levels) = open(config)?;
            let usage: Vec<LevelUsage> = opened.iter().map(level_usage).collect();
            let failed: Vec<(String, String, String)> = opened
                .iter()
                .zip(&usage)
                .filter_map(|(level, u)| {
                    let address = match level {
                        PersistentLevel::Unreachable { address, .. } => address.clone(),
                        _ => String::new(),
                    };
                    u.error.clone().map(|e| (u.level.clone(), address, e))
                })
                .collect();
            if json {
                serde_json::to_writer_pretty(&mut out, &usage)?;
                writeln!(out)?;
            } else {
                print_usage(&mut out, &usage, &levels)?;
            }
            if let Some(e) = failures(&failed) {
                return Err(e);
            }
        }
        CacheCommand::Clear { config } => {
            let (opened, _) = open(config)?;
            let n = remove_matching(&mut out, &opened, "*")?;
            writeln!(out, "removed {n} entries")?;
        }
        CacheCommand::Invalidate { pattern, config } => {
            let (opened, _) = open(config)?;
            let n = remove_matching(&mut out, &opened, &pattern)?;
            writeln!(out, "removed {n} entries matching `{pattern}`")?;
        }
    }
    Ok(())
}

/// Lists one level's entries by kind.
fn level_usage(level: &PersistentLevel) -> LevelUsage {
    let mut usage = LevelUsage {
        level: level.name().to_string(),
        kinds: None,
        note: None,
        error: None,
    };
    match level {
        PersistentLevel::Open(cache) => match cache.list("*") {
            Ok(Some(entries)) => {
                let mut kinds: BTreeMap<String, (u64, u64)> = BTreeMap::new();
                for (key, bytes) in entries {
                    let kind = key.split('_').next().unwrap_or("").to_string();
                    let e = kinds.entry(kind).or_default();
                    e.0 += 1;
                    e.1 += bytes;
                }
                usage.kinds = Some(kinds);
            }
            Ok(None) => {}
            Err(e) => usage.error = Some(e.to_string()),
        },
        PersistentLevel::Absent { dir, .. } => {
            usage.kinds = Some(BTreeMap::new());
            usage.note = Some(format!("{} does not exist", dir.display()));
        }
        PersistentLevel::Unreachable { error, .. } => usage.error = Some(error.to_string()),
        _ => {}
    }
    usage
}

fn print_usage(
    out: &mut impl Write,
    usage: &[LevelUsage],
    levels: &[String],
) -> std::io::Result<()> {
    if levels.iter().any(|l| l == MEMORY_LEVEL) {
        writeln!(
            out,
            "memory: per process (starts empty in each run; see `cache_levels` in a solve's metrics)"
        )?;
    }
    for u in usage {
        match (&u.kinds, &u.error) {
            (_, Some(e)) => writeln!(out, "{}: unavailable: {e}", u.level)?,
            (None, None) => writeln!(out, "{}: cannot list its entries", u.level)?,
            (Some(kinds), None) => {
                let (n, b) = kinds
                    .values()
                    .fold((0, 0), |(n, b), (kn, kb)| (n + kn, b + kb));
                let note = u
                    .note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                writeln!(out, "{}: {n} entries, {}{note}", u.level, human(b))?;
                for (kind, (kn, kb)) in kinds {
                    writeln!(out, "  {kind:<10} {kn:>6} entries  {:>10}", human(*kb))?;
                }
            }
        }
    }
    if usage.is_empty() && !levels.iter().any(|l| l == MEMORY_LEVEL) {
        writeln!(out, "no cache levels configured (cache.levels = [])")?;
    }
    Ok(())
}

/// `1.5 MB`-style sizes.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
