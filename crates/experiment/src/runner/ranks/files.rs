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

/// The prefix of every stage directory's name: `femscale-rank<rank>-<process id>`.
const STAGE_PREFIX: &str = "femscale-rank";

impl Stage {
    /// The stage of `rank` in this process, after removing those that processes no longer
    /// running left behind (a rank killed mid-run does not get to drop its stage).
    pub(super) fn create(rank: usize) -> Result<Self> {
        let dir = std::env::temp_dir();
        remove_orphaned_stages(&dir);
        let path = dir.join(format!("{STAGE_PREFIX}{rank}-{}", std::process::id()));
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

/// Removes the stage directories in `dir` whose process is no longer running, as far as this
/// system can tell (`/proc/<pid>`; elsewhere nothing is removed). Failures are ignored: another
/// rank may be removing the same directory.
fn remove_orphaned_stages(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = stage_process(&name.to_string_lossy()) else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The process id in a stage directory's name `femscale-rank<rank>-<pid>`, if it is one.
fn stage_process(name: &str) -> Option<u32> {
    let (rank, pid) = name.strip_prefix(STAGE_PREFIX)?.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(rank) && digits(pid))
        .then(|| pid.parse().ok())
        .flatten()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names_give_their_process_and_nothing_else_does() {
        assert_eq!(stage_process("femscale-rank3-12345"), Some(12345));
        for other in [
            "femscale-rank3-",
            "femscale-rank-12",
            "femscale-rankx-12",
            "femscale-rank3-12a",
            "femscale-rank3-12-4",
            "femscale-cache",
            "other",
        ] {
            assert_eq!(stage_process(other), None, "{other}");
        }
    }

    #[test]
    fn stages_of_processes_no_longer_running_are_removed_others_kept() {
        if !Path::new("/proc/self").exists() {
            eprintln!("no /proc: orphaned stages are not detected on this system");
            return;
        }
        let dir = std::env::temp_dir().join(format!("femscale-stage-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A pid above the kernel's largest (2^22) never runs.
        let orphan = dir.join(format!("{STAGE_PREFIX}2-{}", 3_000_000_000u32));
        let alive = dir.join(format!("{STAGE_PREFIX}2-{}", std::process::id()));
        let unrelated = dir.join("femscale-rank-notes");
        for d in [&orphan, &alive, &unrelated] {
            std::fs::create_dir_all(d.join("steps")).unwrap();
        }
        remove_orphaned_stages(&dir);
        assert!(!orphan.exists());
        assert!(alive.exists() && unrelated.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
