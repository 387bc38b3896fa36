//! [`OutputLock`]: one `femscale run` at a time per output directory.
//!
//! Two runs appending to one `results.jsonl` would each run every pending point (both read
//! the log before either writes), so each run takes an exclusive advisory lock (`flock`) on
//! [`LOCK_FILE`] in the output directory for its whole duration. The kernel releases the lock
//! when the file is closed — at the end of the run, and also when the process panics, is
//! killed or crashes — so a stale lock cannot outlive its holder. The holder writes its pid
//! into the file for the message of a refused run; the file itself is left in place
//! (removing it would let a third run lock a fresh inode while the second waits on the old
//! one).
//!
//! `flock` locks are advisory and local: they exclude other `femscale run` processes on the
//! same machine (and on file systems that forward them, such as NFSv4 and Lustre with
//! `flock` enabled), not arbitrary writers.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use femscale_core::{Error, Result};
use tracing::warn;

/// The lock file in the output directory.
pub const LOCK_FILE: &str = ".femscale-run.lock";

/// An exclusive lock on an output directory, held until dropped.
#[derive(Debug)]
pub(crate) struct OutputLock {
    /// Kept open: closing it releases the lock.
    _file: File,
}

impl OutputLock {
    /// Locks `dir` (which must exist). When another process holds the lock: with `wait`,
    /// blocks until it is released (logging the holder once); without, fails.
    ///
    /// # Errors
    /// [`Error::Io`] naming `dir`, of kind [`io::ErrorKind::WouldBlock`], when the directory is
    /// locked and `wait` is false: the message names the holder's pid when it is known and
    /// suggests `--wait`. [`Error::Io`] naming the lock file when it cannot be created,
    /// locked or written.
    pub fn acquire(dir: &Path, wait: bool) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let io_err = |source: io::Error| Error::Io {
            path: path.clone(),
            source,
        };
        let mut file = open_regular(&path).map_err(io_err)?;
        if !try_lock(&file).map_err(io_err)? {
            let holder = holder_pid(&mut file);
            let who = match holder {
                Some(pid) if pid == std::process::id() => {
                    "another run of this process (another thread)".to_string()
                }
                Some(pid) => format!("another `femscale run` (pid {pid})"),
                None => "another `femscale run`".to_string(),
            };
            if !wait {
                return Err(Error::Io {
                    path: dir.to_path_buf(),
                    source: io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "output directory is in use by {who}; wait for it to finish, \
                             queue behind it (`femscale run --wait`), or choose another \
                             output directory (lock file {})",
                            path.display()
                        ),
                    ),
                });
            }
            warn!(dir = %dir.display(), holder = ?holder, "output directory is locked by {who}; waiting for it");
            lock_blocking(&file).map_err(io_err)?;
        }
        write_pid(&mut file).map_err(io_err)?;
        Ok(Self { _file: file })
    }
}

/// Opens (creating) the lock file for reading and writing: not through a symbolic link (the
/// pid written into it would land in the link's target, whatever file that is) and only a
/// regular file (a FIFO would block, a device be written to).
fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let refused = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the lock file is {what}; `femscale run` writes its pid into a regular file \
                 there and follows no links: remove it"
            ),
        )
    };
    if let Some(what) = std::fs::symlink_metadata(path)
        .ok()
        .and_then(|m| not_own_file(&m))
    {
        return Err(refused(what));
    }
    let file = options.open(path).map_err(|e| {
        // O_NOFOLLOW's answer when a link appeared after the check above.
        if e.raw_os_error() == Some(libc::ELOOP) {
            refused("a symbolic link")
        } else {
            e
        }
    })?;
    // (Again on the open file: the path may have changed since.)
    match not_own_file(&file.metadata()?) {
        Some(what) => Err(refused(what)),
        None => Ok(file),
    }
}

/// What keeps the file of `meta` (a path's, not followed) from being a regular file of its
/// own, which a run may write: a symbolic link, another kind of file (a FIFO would block, a
/// device be written to), another hard link (the write would change the other name's file).
pub(super) fn not_own_file(meta: &std::fs::Metadata) -> Option<&'static str> {
    #[cfg(unix)]
    let linked = std::os::unix::fs::MetadataExt::nlink(meta) > 1;
    #[cfg(not(unix))]
    let linked = false;
    if meta.file_type().is_symlink() {
        Some("a symbolic link")
    } else if !meta.is_file() {
        Some("not a regular file")
    } else if linked {
        Some("a hard link to another file")
    } else {
        None
    }
}

/// Replaces the file's contents with this process's pid.
fn write_pid(file: &mut File) -> io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    writeln!(file, "{}", std::process::id())?;
    file.flush()
}

/// The pid recorded by the holder, if it has written one yet.
fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(64).read_to_string(&mut text).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// `flock(LOCK_EX | LOCK_NB)`: `Ok(false)` when another open file description holds it.
#[cfg(unix)]
fn try_lock(file: &File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: flock only reads the descriptor number; `file` keeps it open for the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(false),
            _ => return Err(e),
        }
    }
}

/// `flock(LOCK_EX)`: waits until the lock is free.
#[cfg(unix)]
fn lock_blocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: as in `try_lock`.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Without `flock` the directory is not locked (documented in the module docs of the run).
#[cfg(not(unix))]
fn try_lock(_file: &File) -> io::Result<bool> {
    Ok(true)
}

#[cfg(not(unix))]
fn lock_blocking(_file: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link at the lock's path is refused and its target left as it was (the pid would
    /// overwrite it); a FIFO is refused without blocking.
    #[test]
    fn a_lock_file_that_is_a_link_or_a_fifo_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "IMPORTANT\n").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::os::unix::fs::symlink(&victim, out.join(LOCK_FILE)).unwrap();
        let err = OutputLock::acquire(&out, false).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "IMPORTANT\n");
        std::fs::remove_file(out.join(LOCK_FILE)).unwrap();
        let fifo = std::ffi::CString::new(out.join(LOCK_FILE).to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let err = OutputLock::acquire(&out, false).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        // A hard link to the victim: refused too, the victim untouched.
        std::fs::remove_file(out.join(LOCK_FILE)).unwrap();
        std::fs::hard_link(&victim, out.join(LOCK_FILE)).unwrap();
        let err = OutputLock::acquire(&out, false).unwrap_err().to_string();
        assert!(err.contains("hard link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "IMPORTANT\n");
    }

    #[test]
    fn a_second_lock_is_refused_naming_dir_and_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = OutputLock::acquire(dir.path(), false).unwrap();
        let pid = std::process::id().to_string();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LOCK_FILE))
                .unwrap()
                .trim(),
            pid
        );
        // A second open file description conflicts even within one process.
        let err = OutputLock::acquire(dir.path(), false).unwrap_err();
        match &err {
            Error::Io { path, source } => {
                assert_eq!(path, dir.path());
                assert_eq!(source.kind(), io::ErrorKind::WouldBlock);
            }
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("another run of this process"), "{text}");
        assert!(text.contains("--wait"), "{text}");
        drop(first);
        let again = OutputLock::acquire(dir.path(), false).unwrap();
        drop(again);
    }

    #[test]
    fn waiting_blocks_until_the_holder_releases() {
        let dir = tempfile::tempdir().unwrap();
        let first = OutputLock::acquire(dir.path(), false).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let d = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            let lock = OutputLock::acquire(&d, true).unwrap();
            tx.send(()).unwrap();
            lock
        });
        // Still waiting while the first is held.
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err()
        );
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the waiter gets the lock once it is released");
        drop(waiter.join().unwrap());
    }
}
