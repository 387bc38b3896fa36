//! Crash-safe file writing shared by every component that writes results.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Distinguishes temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A random number (std's per-process random hash keys, mixed with the clock and a counter):
/// for names that must not meet another process's, such as temporary files.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(TEMP_COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

/// Removes the temporary file on drop unless disarmed.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// Writes a file atomically: `write` fills a temporary file `.<name>.tmp-<pid>-<n>` in the
/// directory of `path`, which is flushed, synced to disk and renamed over `path`. On any error
/// the temporary file is removed and `path` is left as it was.
///
/// Only a regular file is replaced: an existing device, FIFO, directory or symbolic link at
/// `path` is refused untouched (renaming over `/dev/null` would replace the device).
///
/// # Errors
/// [`Error::Io`] with `path` when the directory is not writable, `path` has no file name or
/// names something other than a regular file, or `write`, the sync or the rename fails.
pub fn write_atomically<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    let io_err = |source: io::Error| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Ok(meta) = fs::symlink_metadata(path)
        && !meta.is_file()
    {
        return Err(io_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "exists and is not a regular file (devices, FIFOs, directories and symbolic links \
             are not replaced)",
        )));
    }
    let name = path.file_name().ok_or_else(|| {
        io_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path has no file name",
        ))
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // `.<name>.tmp-<pid>-<n>`: the counter first; a name that is taken (a file a killed
    // process of the same pid left, as every run of a container is pid 1) is passed over for
    // random ones, never removed.
    let temp_at = |n: u64| {
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".tmp-{}-{n}", std::process::id()));
        dir.join(temp_name)
    };
    let mut n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut attempts = 0;
    let (temp, file) = loop {
        let temp = temp_at(n);
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => break (temp, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 16 => {
                attempts += 1;
                n = random_u64() >> 1;
            }
            Err(e) => return Err(io_err(e)),
        }
    };
    let mut guard = TempGuard(Some(temp.clone()));
    let mut w = BufWriter::new(file);
    write(&mut w).map_err(io_err)?;
    let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    drop(file);
    fs::rename(&temp, path).map_err(io_err)?;
    guard.0 = None;
    // Make the rename itself durable; best effort (not every platform can sync a directory).
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A temporary file of the same name left by a killed process of the same pid (every run
    /// of a container is pid 1) is passed over and left, not an error.
    #[test]
    fn a_taken_temporary_name_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.csv");
        let next = TEMP_COUNTER.load(Ordering::Relaxed);
        let taken: Vec<PathBuf> = (next..next + 4)
            .map(|n| {
                dir.path()
                    .join(format!(".out.csv.tmp-{}-{n}", std::process::id()))
            })
            .collect();
        for t in &taken {
            fs::write(t, b"left").unwrap();
        }
        write_atomically(&file, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"new".to_vec());
        assert!(taken.iter().any(|t| t.exists()));
    }

    #[test]
    fn only_regular_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.vtu");
        write_atomically(&file, |w| w.write_all(b"one")).unwrap();
        write_atomically(&file, |w| w.write_all(b"two")).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two".to_vec());
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let mut refused = vec![sub.clone()];
        #[cfg(unix)]
        {
            let link = dir.path().join("link.vtu");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            let socket = dir.path().join("socket");
            let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
            refused.extend([link, socket]);
        }
        for path in refused {
            let err = write_atomically(&path, |w| w.write_all(b"three")).unwrap_err();
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
        assert!(sub.is_dir());
        assert_eq!(fs::read(&file).unwrap(), b"two".to_vec());
        // Nothing left behind but the file, the directory, the link and the socket.
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            4 - usize::from(!cfg!(unix)) * 2
        );
    }
}
