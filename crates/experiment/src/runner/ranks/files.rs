//! A run's output files on their way from a rank to rank 0: staged in the rank's private
//! directory, written by rank 0 into the output directory.

use std::path::{Component, Path, PathBuf};

use femscale_core::{Error, Result};

use super::wire::{ReceivedFile, protocol};
use crate::outputs::{STEPS_COLLECTION, clear_steps};
use crate::store::write_atomic;

/// A rank's private directory for one run's output files, removed when dropped.
pub(super) struct Stage {
    path: PathBuf,
}

impl Stage {
    pub(super) fn create(rank: usize) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("femscale-rank{rank}-{}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Self { path })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The files the last run wrote (paths relative to the stage), which are removed.
    pub(super) fn take_files(&self) -> Result<Vec<(PathBuf, Vec<u8>)>> {
        let mut files = Vec::new();
        collect_files(&self.path, Path::new(""), &mut files)?;
        for entry in std::fs::read_dir(&self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })? {
            let path = entry
                .map_err(|source| Error::Io {
                    path: self.path.clone(),
                    source,
                })?
                .path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|source| Error::Io { path, source })?;
        }
        Ok(files)
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub(super) fn collect_files(
    root: &Path,
    relative: &Path,
    out: &mut Vec<(PathBuf, Vec<u8>)>,
) -> Result<()> {
    let dir = root.join(relative);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io(&dir))?
        .collect::<std::io::Result<_>>()
        .map_err(io(&dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = relative.join(entry.file_name());
        if entry.path().is_dir() {
            collect_files(root, &name, out)?;
        } else {
            let bytes = std::fs::read(entry.path()).map_err(io(&entry.path()))?;
            out.push((name, bytes));
        }
    }
    Ok(())
}

/// Writes a run's files received from a rank into the output directory: each path must be
/// relative and stay inside it. An adaptive run's step files replace those of an earlier run.
pub(super) fn write_files(dir: &Path, files: &[ReceivedFile<'_>]) -> Result<()> {
    for (path, _) in files {
        let inside = !path.as_os_str().is_empty()
            && path.components().all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            return Err(protocol(format!(
                "a rank sent the file `{}`, which is not a path inside the output directory",
                path.display()
            )));
        }
    }
    for (path, _) in files {
        if path.file_name().and_then(|n| n.to_str()) == Some(STEPS_COLLECTION)
            && let Some(parent) = path.parent()
            && dir.join(parent).is_dir()
        {
            clear_steps(&dir.join(parent))?;
        }
    }
    for (path, bytes) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        write_atomic(&target, bytes)?;
    }
    Ok(())
}
