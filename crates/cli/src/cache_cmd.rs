//! `femscale cache stats | clear | invalidate PATTERN`: the persistent cache levels (disk,
//! Redis) of a configuration. The memory level lives inside each solving process and starts
//! empty, so it has nothing to show here.

use std::collections::BTreeMap;
use std::io::Write;

use clap::Subcommand;
use femscale::prelude::*;
use femscale::runtime::{MEMORY_LEVEL, Registry, SolveCache};

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
    error: Option<String>,
}

fn open(args: ConfigArgs) -> anyhow::Result<(SolveCache, Vec<String>)> {
    let sources = ConfigSources {
        file: args.config,
        overrides: args.overrides,
    };
    let config = Config::load(&sources)?;
    let levels = config.cache.levels.clone();
    let cache = SolveCache::from_config(&config.cache, &Registry::with_builtins())?;
    for (level, reason) in cache.unavailable_levels() {
        eprintln!("warning: cache level `{level}` unavailable: {reason}");
    }
    Ok((cache, levels))
}

/// Runs one `femscale cache` command.
pub(crate) fn run(command: CacheCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        CacheCommand::Stats { config, json } => {
            let (cache, levels) = open(config)?;
            let mut usage: Vec<LevelUsage> = cache
                .byte_levels()
                .iter()
                .map(|level| {
                    let (kinds, error) = match level.list("*") {
                        Ok(Some(entries)) => {
                            let mut kinds: BTreeMap<String, (u64, u64)> = BTreeMap::new();
                            for (key, bytes) in entries {
                                let kind = key.split('_').next().unwrap_or("").to_string();
                                let e = kinds.entry(kind).or_default();
                                e.0 += 1;
                                e.1 += bytes;
                            }
                            (Some(kinds), None)
                        }
                        Ok(None) => (None, None),
                        Err(e) => (None, Some(e.to_string())),
                    };
                    LevelUsage {
                        level: level.name().to_string(),
                        kinds,
                        error,
                    }
                })
                .collect();
            for (level, reason) in cache.unavailable_levels() {
                usage.push(LevelUsage {
                    level: level.clone(),
                    kinds: None,
                    error: Some(reason.clone()),
                });
            }
            if json {
                serde_json::to_writer_pretty(&mut out, &usage)?;
                writeln!(out)?;
                return Ok(());
            }
            if levels.iter().any(|l| l == MEMORY_LEVEL) {
                writeln!(
                    out,
                    "memory: per process (starts empty in each run; see `cache_levels` in a solve's metrics)"
                )?;
            }
            for u in &usage {
                match (&u.kinds, &u.error) {
                    (_, Some(e)) => writeln!(out, "{}: unavailable: {e}", u.level)?,
                    (None, None) => writeln!(out, "{}: cannot list its entries", u.level)?,
                    (Some(kinds), None) => {
                        let (n, b) = kinds
                            .values()
                            .fold((0, 0), |(n, b), (kn, kb)| (n + kn, b + kb));
                        writeln!(out, "{}: {n} entries, {}", u.level, human(b))?;
                        for (kind, (kn, kb)) in kinds {
                            writeln!(out, "  {kind:<10} {kn:>6} entries  {:>10}", human(*kb))?;
                        }
                    }
                }
            }
            if usage.is_empty() && !levels.iter().any(|l| l == MEMORY_LEVEL) {
                writeln!(out, "no cache levels configured (cache.levels = [])")?;
            }
        }
        CacheCommand::Clear { config } => {
            let (cache, _) = open(config)?;
            let n = cache.clear()?;
            writeln!(out, "removed {n} entries")?;
        }
        CacheCommand::Invalidate { pattern, config } => {
            let (cache, _) = open(config)?;
            let n = cache.invalidate(&pattern)?;
            writeln!(out, "removed {n} entries matching `{pattern}`")?;
        }
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
