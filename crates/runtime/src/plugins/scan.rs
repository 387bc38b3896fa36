//! The plugins a configuration asks for: the named files of `[plugins] paths`, then the
//! dynamic libraries found in `[plugins] dirs` that pass the pins, with what was skipped and why.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use femscale_core::Result;
use serde::Serialize;

use super::{LoadedPlugin, PinPolicy, PluginError, PluginsConfig, add, load_pinned, warn_once};

/// What [`scan_configured`] loaded and what it left out.
#[derive(Debug, Default, Serialize)]
pub struct PluginScan {
    /// The plugins to register, named files first, then scanned ones in name order.
    #[serde(serialize_with = "serialize_plugins")]
    pub loaded: Vec<Arc<LoadedPlugin>>,
    /// Libraries of `dirs` that were not loaded (and directories that could not be read).
    pub skipped: Vec<SkippedLibrary>,
}

fn serialize_plugins<S: serde::Serializer>(
    plugins: &[Arc<LoadedPlugin>],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(plugins.iter().map(|p| &**p))
}

/// A library (or directory) of `[plugins] dirs` left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedLibrary {
    /// The file or directory.
    pub path: PathBuf,
    /// Whether it was refused before it was opened (a pin), so none of its code ran.
    pub refused_before_opening: bool,
    /// Why it was skipped.
    pub reason: String,
}

/// Loads the plugins of `config`: every file of `paths` (any error stops), then the dynamic
/// libraries (`*.so`, `*.dylib`, `*.dll`) of each of `dirs` in name order. A scanned library
/// that fails the pins is not opened; one that fails to load or clashes with an earlier
/// plugin is skipped. Each skipped file is listed with its reason and logged once as a warning.
///
/// # Errors
/// [`femscale_core::Error::InvalidInput`] naming `plugins.sha256.<entry>` for a malformed pin;
/// [`femscale_core::Error::Plugin`] for the first failing file of `paths` (a pin failure, a
/// load failure, or a name clash between two of them).
pub fn scan_configured(config: &PluginsConfig) -> Result<PluginScan> {
    let policy = config.pin_policy()?;
    let mut scan = PluginScan::default();
    for path in &config.paths {
        let plugin = load_pinned(path, &policy)?;
        add(&mut scan.loaded, plugin)?;
    }
    for dir in &config.dirs {
        scan_dir(dir, &policy, &mut scan);
    }
    for skipped in &scan.skipped {
        warn_once(format!(
            "plugin skipped: {}: {}",
            skipped.path.display(),
            skipped.reason
        ));
    }
    Ok(scan)
}

/// The dynamic libraries of `dir`, sorted by name.
fn libraries_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
        })
        .collect();
    files.sort();
    Ok(files)
}

fn scan_dir(dir: &Path, policy: &PinPolicy<'_>, scan: &mut PluginScan) {
    let files = match libraries_in(dir) {
        Ok(files) => files,
        Err(e) => {
            scan.skipped.push(SkippedLibrary {
                path: dir.to_path_buf(),
                refused_before_opening: true,
                reason: format!("directory not read: {e}"),
            });
            return;
        }
    };
    for file in files {
        match load_pinned(&file, policy).and_then(|p| add(&mut scan.loaded, p)) {
            Ok(()) => {}
            Err(e) => {
                let refused_before_opening = matches!(
                    e,
                    PluginError::Unpinned { .. }
                        | PluginError::PinMismatch {
                            after_loading: false,
                            ..
                        }
                        | PluginError::FileMissing { .. }
                );
                scan.skipped.push(SkippedLibrary {
                    path: file,
                    refused_before_opening,
                    reason: e.detail(),
                });
            }
        }
    }
}
