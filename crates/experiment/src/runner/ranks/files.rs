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

/// The prefix of every stage directory's name: `femscale-rank<rank>-<node>-<process id>`.
const STAGE_PREFIX: &str = "femscale-rank";

/// How long a stage must have been left untouched before another rank may remove it.
const ORPHAN_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

impl Stage {
    /// The stage of `rank` in this process on `node`, after removing those that processes of
    /// this node no longer running left behind (a rank killed mid-run does not get to drop its
    /// stage). The node is in the name because the temp dir may be shared between nodes,
    /// where a process id means nothing.
    pub(super) fn create(rank: usize, node: &str) -> Result<Self> {
        let dir = std::env::temp_dir();
        let node = path_safe(node);
        let name = format!("{STAGE_PREFIX}{rank}-{node}-{}", std::process::id());
        let path = dir.join(name);
        std::fs::create_dir_all(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        // Our own stage tells whose the others must be.
        if let Some(user) = std::fs::metadata(&path).ok().as_ref().and_then(owner) {
            remove_orphaned_stages(&dir, &node, user);
        }
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

/// Removes the stage directories in `dir` of processes of `node` that no longer run (no
/// `/proc/<pid>`; without `/proc` nothing is removed), when they are directories of `user`
/// untouched for [`ORPHAN_AGE`]. Failures are ignored: another rank may be removing the same
/// directory.
fn remove_orphaned_stages(dir: &Path, node: &str, user: u32) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some((stage_node, pid)) = stage_owner(&name) else {
            continue;
        };
        if stage_node != node || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let idle = meta.modified().ok().and_then(|t| t.elapsed().ok());
        let ours = owner(&meta) == Some(user);
        if meta.is_dir() && ours && idle.is_some_and(|age| age >= ORPHAN_AGE) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The owner of `meta`'s file, where the system has one.
#[cfg(unix)]
fn owner(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.uid())
}

#[cfg(not(unix))]
fn owner(_: &std::fs::Metadata) -> Option<u32> {
    None
}

/// `node` with every character other than ASCII letters, digits, `.` and `_` replaced by `_`
/// (no `-`: it separates the parts of a stage's name).
fn path_safe(node: &str) -> String {
    let safe: String = (node.chars())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() { "node".into() } else { safe }
}

/// The node and process id in a stage directory's name `femscale-rank<rank>-<node>-<pid>`, if
/// it is one.
fn stage_owner(name: &str) -> Option<(&str, u32)> {
    let mut parts = name.strip_prefix(STAGE_PREFIX)?.split('-');
    let (rank, node, pid) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let valid = parts.next().is_none() && digits(rank) && !node.is_empty() && digits(pid);
    valid.then(|| Some((node, pid.parse().ok()?))).flatten()
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
    fn stage_names_give_their_node_and_process_and_nothing_else_does() {
        assert_eq!(
            stage_owner("femscale-rank3-n01.x-12345"),
            Some(("n01.x", 12345))
        );
        for other in [
            "femscale-rank3-12345",
            "femscale-rank3-node-",
            "femscale-rank-node-12",
            "femscale-rankx-node-12",
            "femscale-rank3-node-12a",
            "femscale-rank3-node-12-4",
            "femscale-rank3--12",
            "femscale-cache",
        ] {
            assert_eq!(stage_owner(other), None, "{other}");
        }
        assert_eq!(path_safe("cn-07/a b"), "cn_07_a_b");
        assert_eq!(path_safe(""), "node");
    }

    #[test]
    fn only_old_stages_of_this_node_whose_process_is_gone_are_removed() {
        if !Path::new("/proc/self").exists() {
            eprintln!("no /proc: orphaned stages are not detected on this system");
            return;
        }
        let dir = std::env::temp_dir().join(format!("femscale-stage-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A pid above the kernel's largest (2^22) never runs.
        let gone = 3_000_000_000u32;
        let stage = |node: &str, pid: u32| dir.join(format!("{STAGE_PREFIX}2-{node}-{pid}"));
        let (orphan, recent) = (stage("here", gone), stage("here", gone - 1));
        let alive = stage("here", std::process::id());
        let elsewhere = stage("there", gone);
        let unrelated = dir.join("femscale-rank-notes");
        for d in [&orphan, &recent, &alive, &elsewhere, &unrelated] {
            std::fs::create_dir_all(d).unwrap();
        }
        let old = std::time::SystemTime::now() - 2 * ORPHAN_AGE;
        for d in [&orphan, &alive, &elsewhere, &unrelated] {
            let file = std::fs::File::open(d).unwrap();
            file.set_modified(old).unwrap();
        }
        let user = owner(&std::fs::metadata(&dir).unwrap()).unwrap();
        remove_orphaned_stages(&dir, "here", user.wrapping_add(1));
        assert!(orphan.exists(), "kept: another user's");
        remove_orphaned_stages(&dir, "here", user);
        assert!(
            !orphan.exists(),
            "an old stage of this node whose process is gone"
        );
        for kept in [&recent, &alive, &elsewhere, &unrelated] {
            assert!(kept.exists(), "{}", kept.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
