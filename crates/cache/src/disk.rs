//! [`DiskCache`]: a directory of self-verifying, content-addressed entries shared by processes.
//!
//! Every entry is one file named after its rendered key (sanitised, extension `.fsc`) holding
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `FEMSCACH` |
//! | 4 | [`DISK_FORMAT_VERSION`], little-endian |
//! | 4 | key text length `k`, little-endian |
//! | 8 | payload length `n`, little-endian |
//! | 32 | SHA-256 of key text followed by payload |
//! | `k` | key text (`kind_digest`) |
//! | `n` | payload |
//!
//! Files are written with [`write_atomically`] (temporary file, fsync, rename), so readers in
//! any process see either no entry or a complete one. A file that fails verification (wrong
//! magic or version, wrong length, checksum mismatch) is removed and reported as a miss.
//!
//! No index is kept: the size and recency of entries are read from the directory, so several
//! processes can share one directory. Files that disappear between listing and opening are
//! skipped.
//!
//! Recency is a stamp in each entry file's modification time, written by the cache itself
//! from its [`Clock`] (when the entry is written, before it becomes visible, and on every
//! hit) and never left to the filesystem: the time a filesystem records for a write comes
//! from a coarse kernel tick, so entries written a few milliseconds apart could tie or, next
//! to a precise stamp set by a hit, sort in the wrong order. The stamps one instance writes
//! are strictly increasing even if its clock stands still or steps back, so the order of its
//! own accesses is kept exactly (on filesystems with nanosecond timestamps; ties left by
//! coarser ones are broken by file name).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use femscale_core::cache::{Cache, CacheKey, CacheStats};
use femscale_core::error::{Error, Result};
use femscale_core::io::write_atomically;

use crate::clock::{Clock, SystemClock};
use crate::glob::glob_match;
use crate::key::{sha256, to_hex};

/// Version of the on-disk entry layout.
pub const DISK_FORMAT_VERSION: u32 = 1;

/// Magic bytes opening every entry.
pub const MAGIC: &[u8; 8] = b"FEMSCACH";

/// Length of the fixed part of the header.
const FIXED_HEADER: usize = 8 + 4 + 4 + 8 + 32;

/// Extension of entry files.
const EXT: &str = ".fsc";

/// Temporary files older than this found at [`DiskCache::open`] are leftovers of crashed
/// writers and are removed.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// Longest sanitised key kept verbatim in a file name; longer ones are shortened with a hash.
const MAX_NAME: usize = 160;

/// A [`Cache`] level storing entries as files in one directory, bounded by total file bytes
/// with least-recently-used eviction.
///
/// ```
/// use femscale_cache::DiskCache;
/// use femscale_core::cache::{Cache, CacheKey};
/// let dir = std::env::temp_dir().join(format!("femscale-disk-doc-{}", std::process::id()));
/// let cache = DiskCache::open(&dir, 1 << 20).unwrap();
/// let key = CacheKey::new("system", "0123abcd");
/// cache.put(&key, b"payload").unwrap();
/// // Another instance (or process) on the same directory sees the entry.
/// let other = DiskCache::open(&dir, 1 << 20).unwrap();
/// assert_eq!(other.get(&key).unwrap().as_deref(), Some(&b"payload"[..]));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
    clock: Arc<dyn Clock>,
    /// The last recency stamp written, so that the next one is later.
    last_stamp: Mutex<SystemTime>,
    hits: AtomicU64,
    misses: AtomicU64,
    writes: AtomicU64,
    evictions: AtomicU64,
}

/// One entry file found in the directory.
struct Listed {
    path: PathBuf,
    bytes: u64,
    modified: SystemTime,
}

/// Outcome of verifying an entry file.
enum Verified<'a> {
    /// Intact and for the key asked for.
    Payload(&'a [u8]),
    /// Intact but for another key (a shortened file name collided).
    OtherKey,
    /// Damaged: the reason.
    Corrupt(&'static str),
}

fn io_error(path: &Path, source: io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn not_a_directory(path: &Path) -> Error {
    io_error(
        path,
        io::Error::new(
            io::ErrorKind::NotADirectory,
            "exists and is not a directory (the disk cache needs a directory)",
        ),
    )
}

/// Fails when `dir` or one of its ancestors exists as something other than a directory.
fn check_not_a_file(dir: &Path) -> Result<()> {
    for p in dir.ancestors().filter(|p| !p.as_os_str().is_empty()) {
        match fs::metadata(p) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => return Err(not_a_directory(p)),
            Err(_) => {}
        }
    }
    Ok(())
}

impl DiskCache {
    /// Opens (creating it if needed) the cache directory `dir`, bounded by `max_bytes` of
    /// entry files (headers included). Checks that the directory is writable and removes
    /// temporary files left by crashed writers.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty path; [`Error::Io`] with the offending path when
    /// the path (or an ancestor) is a file, or the directory cannot be created, listed or
    /// written.
    pub fn open(dir: impl AsRef<Path>, max_bytes: u64) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        if dir.as_os_str().is_empty() {
            return Err(Error::invalid("dir", "must not be empty"));
        }
        check_not_a_file(&dir)?;
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        // Whether entries can be created here: a file created and removed, not synced (the
        // probe need not survive a crash, and two syncs cost every process that opens the
        // level milliseconds on a real disk). Named like a writer's temporary file, so that
        // one left by a crash is removed as stale, with a random part: processes of the same
        // pid (containers sharing the directory) never meet on one name, and a name that is
        // taken is passed over, never removed (it is another's).
        let mut attempt = 0;
        let probe = loop {
            let probe = dir.join(format!(
                "..probe{EXT}.tmp-{}-{}",
                std::process::id(),
                femscale_core::io::random_u64()
            ));
            let created = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&probe)
                .and_then(|mut f| f.write_all(b"probe"));
            match created {
                Ok(()) => break probe,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
                Err(source) => {
                    if source.kind() != io::ErrorKind::AlreadyExists {
                        // Ours, if it was created before the write failed.
                        let _ = fs::remove_file(&probe);
                    }
                    return Err(io_error(
                        &dir,
                        io::Error::new(source.kind(), format!("cannot write entries: {source}")),
                    ));
                }
            }
        };
        fs::remove_file(&probe).map_err(|e| io_error(&probe, e))?;
        let cache = Self::new_unchecked(dir, max_bytes);
        cache.remove_stale_temps()?;
        Ok(cache)
    }

    /// Opens the cache directory `dir` for inspection (listing, statistics, removal) without
    /// creating it or writing to it: `Ok(None)` when it does not exist (a cache that was never
    /// written is simply empty).
    ///
    /// ```
    /// use femscale_cache::DiskCache;
    /// let dir = std::env::temp_dir().join(format!("femscale-disk-none-{}", std::process::id()));
    /// assert!(DiskCache::open_existing(&dir, 1 << 20).unwrap().is_none());
    /// assert!(!dir.exists());
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] naming `dir` when it exists but is not a directory or cannot be
    /// inspected.
    pub fn open_existing(dir: impl AsRef<Path>, max_bytes: u64) -> Result<Option<Self>> {
        let dir = dir.as_ref().to_path_buf();
        if dir.as_os_str().is_empty() {
            return Err(Error::invalid("dir", "must not be empty"));
        }
        check_not_a_file(&dir)?;
        match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(Some(Self::new_unchecked(dir, max_bytes))),
            Ok(_) => Err(not_a_directory(&dir)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&dir, e)),
        }
    }

    fn new_unchecked(dir: PathBuf, max_bytes: u64) -> Self {
        Self {
            dir,
            max_bytes,
            clock: Arc::new(SystemClock),
            last_stamp: Mutex::new(SystemTime::UNIX_EPOCH),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// This cache stamping recency from `clock` instead of the [`SystemClock`]: a write or
    /// a hit sets the entry's modification time to `clock.wall()` (or just after the previous
    /// stamp, if that is not later), and eviction removes the oldest stamps first. Other
    /// instances and processes on the same directory see and honour these stamps.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use femscale_cache::{Cache, CacheKey, DiskCache, ManualClock};
    /// let dir = std::env::temp_dir().join(format!("femscale-disk-clock-{}", std::process::id()));
    /// let clock = Arc::new(ManualClock::new());
    /// let cache = DiskCache::open(&dir, 1 << 20).unwrap().with_clock(clock.clone());
    /// clock.advance(Duration::from_secs(3600));
    /// let key = CacheKey::new("system", "ab");
    /// cache.put(&key, b"payload").unwrap();
    /// // Stamped by the manual clock, an hour ahead of the real one.
    /// let stamp = std::fs::metadata(cache.entry_path(&key)).unwrap().modified().unwrap();
    /// assert!(stamp > std::time::SystemTime::now() + Duration::from_secs(3000));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The next recency stamp: the clock's wall time, or 1 ns after the previous stamp when
    /// that is not earlier.
    fn next_stamp(&self) -> SystemTime {
        let mut last = self
            .last_stamp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.clock.wall();
        let stamp = match last.checked_add(Duration::from_nanos(1)) {
            Some(after_last) if after_last > now => after_last,
            _ => now,
        };
        *last = stamp;
        stamp
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bound on the total size of entry files.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The file that holds (or would hold) the entry for `key`.
    pub fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(file_name(&key.to_string()))
    }

    /// Total size in bytes of the entry files currently in the directory.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be listed.
    pub fn disk_bytes(&self) -> Result<u64> {
        Ok(self.list_files()?.iter().map(|e| e.bytes).sum())
    }

    /// Every entry file in the directory (skipping temporary files and files that vanish).
    fn list_files(&self) -> Result<Vec<Listed>> {
        let rd = fs::read_dir(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| io_error(&self.dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !name.ends_with(EXT) {
                continue;
            }
            let meta = match entry.metadata() {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error(&entry.path(), e)),
            };
            out.push(Listed {
                path: entry.path(),
                bytes: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
        Ok(out)
    }

    /// Removes temporary files of crashed writers (older than [`STALE_TEMP_AGE`]).
    fn remove_stale_temps(&self) -> Result<()> {
        let rd = fs::read_dir(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        // The real time, not the cache's clock: a temporary file's age is the time since the
        // filesystem last saw it written (writers stamp theirs only once complete).
        let now = SystemTime::now();
        for entry in rd.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !(name.starts_with('.') && name.contains(&format!("{EXT}.tmp-"))) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_TEMP_AGE);
            if old {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// Removes `path` if it exists; returns whether this call removed it.
    fn remove_path(path: &Path) -> Result<bool> {
        match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(path, e)),
        }
    }

    /// Evicts least recently used entries (oldest recency stamp first) until the entry files
    /// fit in the bound; `keep` (the entry just written) is never evicted.
    fn enforce_cap(&self, keep: &Path) -> Result<()> {
        let mut entries = self.list_files()?;
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        if total <= self.max_bytes {
            return Ok(());
        }
        entries.sort_by(|a, b| {
            a.modified
                .cmp(&b.modified)
                .then_with(|| a.path.cmp(&b.path))
        });
        for e in entries {
            if total <= self.max_bytes {
                break;
            }
            if e.path == keep {
                continue;
            }
            // Only femscale's entries are evicted (as `clear` removes only those): another
            // program's `*.fsc` file is left, and not counted against the bound.
            // (One that cannot be read is not ours to judge either.)
            if Self::read_key_text(&e.path).ok().flatten().is_none() {
                total = total.saturating_sub(e.bytes);
                continue;
            }
            if Self::remove_path(&e.path)? {
                self.evictions.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(path = %e.path.display(), "disk cache: evicted entry");
            }
            // Gone either way (removed here or by another process).
            total = total.saturating_sub(e.bytes);
        }
        Ok(())
    }

    /// Reads the key text from the header of the entry file `path`; `None` if the file
    /// vanished or its header is not valid.
    fn read_key_text(path: &Path) -> Result<Option<String>> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(path, e)),
        };
        let mut fixed = [0u8; FIXED_HEADER];
        if file.read_exact(&mut fixed).is_err() || &fixed[..8] != MAGIC {
            return Ok(None);
        }
        let key_len = u32::from_le_bytes(fixed[12..16].try_into().expect("4 bytes")) as usize;
        if key_len > 1 << 16 {
            return Ok(None);
        }
        let mut key = vec![0u8; key_len];
        if file.read_exact(&mut key).is_err() {
            return Ok(None);
        }
        Ok(String::from_utf8(key).ok())
    }
}

/// The contents of `path` when it is a regular file (followed through links), `None` for
/// anything else: opened without blocking (a FIFO) and read up to the size the open file
/// has (a device claims none).
fn read_regular(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut options = File::options();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // A file that grows while read (another writer renames over the path, never appends)
    // ends where its size said; the checksum judges what was read.
    file.take(meta.len()).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Serialises the header for `key_text` and `payload`.
fn encode_header(key_text: &str, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(FIXED_HEADER + key_text.len());
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&DISK_FORMAT_VERSION.to_le_bytes());
    h.extend_from_slice(&(key_text.len() as u32).to_le_bytes());
    h.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    h.extend_from_slice(&sha256(&[key_text.as_bytes(), payload]));
    h.extend_from_slice(key_text.as_bytes());
    h
}

/// Verifies the entry file contents `bytes` against `key_text`.
fn verify<'a>(bytes: &'a [u8], key_text: &str) -> Verified<'a> {
    if bytes.len() < FIXED_HEADER {
        return Verified::Corrupt("shorter than the header");
    }
    if &bytes[..8] != MAGIC {
        return Verified::Corrupt("wrong magic");
    }
    let word = |r: std::ops::Range<usize>| -> u64 {
        let mut b = [0u8; 8];
        b[..r.len()].copy_from_slice(&bytes[r]);
        u64::from_le_bytes(b)
    };
    if word(8..12) != u64::from(DISK_FORMAT_VERSION) {
        return Verified::Corrupt("unknown format version");
    }
    let key_len = word(12..16);
    let payload_len = word(16..24);
    let body = (bytes.len() - FIXED_HEADER) as u64;
    if key_len.checked_add(payload_len) != Some(body) {
        return Verified::Corrupt("length mismatch (truncated or extended)");
    }
    let stored_key = &bytes[FIXED_HEADER..FIXED_HEADER + key_len as usize];
    let payload = &bytes[FIXED_HEADER + key_len as usize..];
    if sha256(&[stored_key, payload])[..] != bytes[24..56] {
        return Verified::Corrupt("checksum mismatch");
    }
    if stored_key != key_text.as_bytes() {
        return Verified::OtherKey;
    }
    Verified::Payload(payload)
}

/// The file name for the rendered key `key_text`: bytes outside `[A-Za-z0-9_-]` are
/// percent-encoded (so distinct keys get distinct names and no name starts with `.`); names
/// longer than [`MAX_NAME`] keep a prefix plus a hash of the whole key.
fn file_name(key_text: &str) -> String {
    let mut s = String::with_capacity(key_text.len() + EXT.len());
    for b in key_text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            s.push(b as char);
        } else {
            s.push('%');
            s.push_str(&to_hex(&[b]));
        }
    }
    if s.len() > MAX_NAME {
        s.truncate(MAX_NAME - 65);
        s.push('~');
        s.push_str(&to_hex(&sha256(&[key_text.as_bytes()])));
    }
    s.push_str(EXT);
    s
}

impl Cache for DiskCache {
    fn name(&self) -> &str {
        "disk"
    }

    fn get(&self, key: &CacheKey) -> Result<Option<Vec<u8>>> {
        let key_text = key.to_string();
        let path = self.dir.join(file_name(&key_text));
        let mut bytes = match read_regular(&path) {
            Ok(Some(b)) => b,
            Ok(None) => {
                // Not a file femscale wrote (a FIFO would block the read, a device never end
                // it): a miss, left alone (a put refuses to replace it, naming it).
                tracing::warn!(
                    path = %path.display(),
                    "disk cache: the entry's path holds something other than a regular file; \
                     recomputing"
                );
                self.misses.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Err(e) => return Err(io_error(&path, e)),
        };
        let payload_start = match verify(&bytes, &key_text) {
            Verified::Payload(payload) => bytes.len() - payload.len(),
            Verified::OtherKey => {
                // Only a shortened name can collide; an entry under another key's full name
                // was copied or renamed there. Either way it is not this key's: a miss, and
                // the value computed next replaces it.
                tracing::warn!(
                    path = %path.display(),
                    "disk cache: the entry holds another key than its file name says (copied \
                     or renamed, or a shortened name collided); recomputing"
                );
                self.misses.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Verified::Corrupt(reason) => {
                tracing::warn!(path = %path.display(), reason, "disk cache: removing corrupt entry");
                if Self::remove_path(&path)? {
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
                self.misses.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
        };
        // Mark as recently used; best effort (the file may have been evicted since).
        if let Ok(f) = File::options().write(true).open(&path) {
            let _ = f.set_modified(self.next_stamp());
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        // The payload is the file's tail: move it to the front of the buffer read, rather
        // than copy it into a fresh one (a 24 MB operator paid its pages twice).
        bytes.drain(..payload_start);
        Ok(Some(bytes))
    }

    fn put(&self, key: &CacheKey, value: &[u8]) -> Result<()> {
        let key_text = key.to_string();
        let path = self.dir.join(file_name(&key_text));
        let header = encode_header(&key_text, value);
        let total = (header.len() + value.len()) as u64;
        if total > self.max_bytes {
            // Too large to store; drop any previous entry so a stale value is not served.
            Self::remove_path(&path)?;
            return Ok(());
        }
        let stamp = self.next_stamp();
        write_atomically(&path, |w| {
            w.write_all(&header)?;
            w.write_all(value)?;
            // Stamp the complete temporary file (nothing is written after this), so that the
            // entry appears with its recency already set.
            w.flush()?;
            w.get_ref().set_modified(stamp)
        })?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.enforce_cap(&path)
    }

    fn remove(&self, key: &CacheKey) -> Result<bool> {
        Self::remove_path(&self.entry_path(key))
    }

    fn invalidate(&self, pattern: &str) -> Result<usize> {
        let mut removed = 0;
        for e in self.list_files()? {
            let Some(key_text) = Self::read_key_text(&e.path)? else {
                continue;
            };
            if glob_match(pattern, &key_text) && Self::remove_path(&e.path)? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn list(&self, pattern: &str) -> Result<Option<Vec<(String, u64)>>> {
        let mut out = Vec::new();
        for entry in self.list_files()? {
            if let Some(key) = Self::read_key_text(&entry.path)?
                && glob_match(pattern, &key)
            {
                out.push((key, entry.bytes));
            }
        }
        out.sort();
        Ok(Some(out))
    }

    fn stats(&self) -> CacheStats {
        let mut s = CacheStats::default();
        s.level = "disk".into();
        s.hits = self.hits.load(Ordering::Relaxed);
        s.misses = self.misses.load(Ordering::Relaxed);
        s.writes = self.writes.load(Ordering::Relaxed);
        s.evictions = self.evictions.load(Ordering::Relaxed);
        s.bytes = self.disk_bytes().unwrap_or(0);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_injective_and_safe() {
        assert_eq!(file_name("system_ab01"), "system_ab01.fsc");
        assert_eq!(file_name("a/b_c"), "a%2fb_c.fsc");
        assert_ne!(file_name("a.b_c"), file_name("a%2eb_c"));
        assert!(!file_name(".hidden_x").starts_with('.'));
        let long = "k".repeat(400);
        let name = file_name(&format!("{long}_1"));
        assert!(name.len() <= MAX_NAME + EXT.len());
        assert_ne!(name, file_name(&format!("{long}_2")));
    }

    #[test]
    fn header_round_trip_and_detection() {
        let mut bytes = encode_header("k_1", b"abc");
        bytes.extend_from_slice(b"abc");
        assert!(matches!(verify(&bytes, "k_1"), Verified::Payload(b"abc")));
        assert!(matches!(verify(&bytes, "k_2"), Verified::OtherKey));
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(matches!(verify(&bad, "k_1"), Verified::Corrupt(_)));
        assert!(matches!(
            verify(&bytes[..bytes.len() - 1], "k_1"),
            Verified::Corrupt(_)
        ));
        let mut wrong_version = bytes.clone();
        wrong_version[8] = 99;
        assert!(matches!(
            verify(&wrong_version, "k_1"),
            Verified::Corrupt(_)
        ));
    }
}
