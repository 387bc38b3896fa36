//! The output directory: `results.jsonl` (an append-only log, one line per finished run) and
//! atomically replaced files such as `summary.csv`.
//!
//! **Crash safety of the log.** Each run's record is written as one complete line (`\n`
//! included) with a single `write` on a file opened in append mode, then `fsync`ed
//! (`sync_data`) before the next record. A crash can therefore at worst leave the line being
//! written incomplete; [`read_results`] ignores such a truncated last line, and opening the
//! store for a new run cuts it off (or completes it with its newline when it is a whole
//! record) so that the next record starts on a fresh line. Runs whose line was lost simply run
//! again on resume.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use femscale_core::{Error, Metrics, Result};
use serde::{Deserialize, Serialize};
use tracing::warn;

mod lock;

use lock::OutputLock;

/// The log file of finished runs in the output directory.
pub const RESULTS_FILE: &str = "results.jsonl";
/// The journal of runs handed to other ranks and not yet recorded, in the output directory
/// while a rank-parallel sweep runs (see [`Store::recover_interrupted`]).
pub const IN_FLIGHT_FILE: &str = "in_flight.json";
/// The per-point summary in the output directory.
pub const SUMMARY_FILE: &str = "summary.csv";

/// One finished run: one line of `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunRecord {
    /// The run's id (see [`Point::run_id`](super::Point::run_id)).
    pub id: String,
    /// The point's id (see [`Point::id`](super::Point::id)).
    #[serde(default)]
    pub point_id: String,
    /// What the run's result depends on, hashed (see
    /// [`Point::identity`](super::Point::identity)); empty in records of femscale 0.1.
    #[serde(default)]
    pub identity: String,
    /// The point's overrides, `{dotted key: value}`.
    pub point: std::collections::BTreeMap<String, serde_json::Value>,
    /// Which repetition of the point (0-based).
    pub repetition: usize,
    /// Whether the run succeeded.
    pub ok: bool,
    /// The solve's metrics when it succeeded.
    pub metrics: Option<Metrics>,
    /// Why the run failed.
    pub error: Option<String>,
    /// Wall-clock seconds of the run (configuration, solve and outputs).
    pub seconds: f64,
    /// The largest cell diameter of the mesh solved on, when the configuration does not give
    /// a mesh size (a mesh file, possibly refined): what convergence rates are fitted
    /// against. Absent in records of earlier versions and for generated meshes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh_size: Option<f64>,
}

impl RunRecord {
    /// What makes the record contradict itself, if anything: an id that is not the run id of
    /// its identity and repetition, or success without metrics.
    fn inconsistency(&self) -> Option<&'static str> {
        if !self.identity.is_empty()
            && self.id != super::identity::run_id(&self.identity, self.repetition)
        {
            return Some("has an id other than its identity's and repetition's");
        }
        if self.ok && self.metrics.is_none() {
            return Some("says the run succeeded but has no metrics");
        }
        None
    }
}

/// Reads `results.jsonl`: every complete record in file order. A missing file gives no
/// records; a truncated last line (an interrupted write) is ignored; other unreadable lines
/// are skipped with a warning.
///
/// # Errors
/// [`Error::Io`] when the file exists but cannot be read.
pub fn read_results(path: &Path) -> Result<Vec<RunRecord>> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RunRecord>(line) {
            Ok(r) => match r.inconsistency() {
                None => records.push(r),
                Some(why) => {
                    warn!(file = %path.display(), line = i + 1, run = %r.id, "skipping a record that {why} (edited by hand?); its run is done again");
                }
            },
            Err(_) if i + 1 == lines.len() && !complete => {
                warn!(file = %path.display(), "ignoring a truncated last line (interrupted write)");
            }
            Err(e) => {
                warn!(file = %path.display(), line = i + 1, error = %e, "skipping an unreadable line");
            }
        }
    }
    Ok(records)
}

/// The latest record of each run id.
pub(crate) fn latest_by_id(records: &[RunRecord]) -> HashMap<&str, &RunRecord> {
    records.iter().map(|r| (r.id.as_str(), r)).collect()
}

/// How many runs the log records as successful more than once (which a run never appends:
/// a retry follows a failure), so that an edited log is reported.
pub(crate) fn repeated_successes(records: &[RunRecord]) -> usize {
    let mut seen = std::collections::HashSet::new();
    (records.iter())
        .filter(|r| r.ok && !seen.insert(r.id.as_str()))
        .count()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The output directory, checked writable, with the results log open for appending.
#[derive(Debug)]
pub(crate) struct Store {
    pub results_path: PathBuf,
    /// Records already in the log when the store was opened.
    pub previous: Vec<RunRecord>,
    log: Option<File>,
    /// Held for the store's lifetime: no other run uses the directory meanwhile.
    _lock: OutputLock,
}

impl Store {
    /// [`Store::prepare_waiting`] without waiting: a directory in use by another run is an
    /// error.
    #[cfg(test)]
    pub fn prepare(dir: &Path) -> Result<Self> {
        Self::prepare_waiting(dir, false)
    }

    /// Creates `dir` if needed, checks that files can be created in it, and locks it against
    /// other runs (waiting for the lock with `wait`, else failing) before reading the log.
    /// Nothing but the lock file is written when this fails.
    ///
    /// # Errors
    /// [`Error::Io`] naming the directory (of kind `WouldBlock` when another run holds it,
    /// with that run's pid) or the file that cannot be written.
    pub fn prepare_waiting(dir: &Path, wait: bool) -> Result<Self> {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    "exists and is not a directory: the output directory holds results.jsonl, \
                     summary.csv and the VTU files; choose another path (`-o` or output.dir)",
                ),
            });
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        if !dir.is_dir() {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let probe = dir.join(format!(".femscale-write-probe-{}", std::process::id()));
        File::create(&probe).map_err(io(dir))?;
        std::fs::remove_file(&probe).map_err(io(&probe))?;
        let lock = OutputLock::acquire(dir, wait)?;
        let results_path = dir.join(RESULTS_FILE);
        // Repaired (a torn last line cut off) and appended to: only a regular file of its own.
        let meta = std::fs::symlink_metadata(&results_path);
        if let Some(what) = meta.ok().and_then(|m| lock::not_own_file(&m)) {
            return Err(Error::Io {
                path: results_path,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "exists and is not a regular file of its own ({what}): the results log \
                         is read, repaired and appended to in place; remove it or choose \
                         another output directory"
                    ),
                ),
            });
        }
        if results_path.exists() {
            OpenOptions::new()
                .append(true)
                .open(&results_path)
                .map_err(io(&results_path))?;
        }
        let previous = read_results(&results_path)?;
        Ok(Self {
            results_path,
            previous,
            log: None,
            _lock: lock,
        })
    }

    /// Moves the existing log aside (`results.jsonl.<unix seconds>.old`, or with a counter if
    /// that exists) so that this run starts a new one; nothing is deleted. Returns where the
    /// old log went, `None` when there was none.
    ///
    /// # Errors
    /// [`Error::Io`] when the log cannot be renamed.
    pub fn start_fresh(&mut self) -> Result<Option<PathBuf>> {
        if !self.results_path.exists() {
            self.previous.clear();
            return Ok(None);
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut target = self
            .results_path
            .with_file_name(format!("{RESULTS_FILE}.{stamp}.old"));
        let mut n = 1;
        while target.exists() {
            target = self
                .results_path
                .with_file_name(format!("{RESULTS_FILE}.{stamp}-{n}.old"));
            n += 1;
        }
        std::fs::rename(&self.results_path, &target).map_err(io(&self.results_path))?;
        self.previous.clear();
        Ok(Some(target))
    }

    /// Opens the log for appending, repairing an interrupted last line first.
    pub fn open_log(&mut self) -> Result<()> {
        let path = &self.results_path;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io(path))?;
        repair_tail(&mut file).map_err(io(path))?;
        self.log = Some(file);
        Ok(())
    }

    /// Appends one record as one complete line and syncs it to disk.
    pub fn append(&mut self, record: &RunRecord) -> Result<()> {
        let path = &self.results_path;
        let file = self.log.as_mut().ok_or_else(|| Error::Io {
            path: path.clone(),
            source: std::io::Error::other("the results log is not open"),
        })?;
        let mut line = serde_json::to_string(record).map_err(|e| Error::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(io(path))?;
        file.sync_data().map_err(io(path))
    }
}

impl Store {
    /// The journal of runs in flight on other ranks ([`IN_FLIGHT_FILE`]).
    fn in_flight_path(&self) -> PathBuf {
        self.results_path.with_file_name(IN_FLIGHT_FILE)
    }

    /// Replaces the journal of runs in flight with `runs`, each as the failed record it becomes
    /// should the sweep die before the run reports back; no runs in flight removes it.
    ///
    /// # Errors
    /// [`Error::Io`] naming the journal.
    pub fn write_in_flight(&self, runs: &[RunRecord]) -> Result<()> {
        let path = self.in_flight_path();
        if runs.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(e)),
                _ => Ok(()),
            };
        }
        let text =
            serde_json::to_vec_pretty(runs).map_err(|e| io(&path)(std::io::Error::other(e)))?;
        write_atomic(&path, &text)
    }

    /// Appends the records of a journal of runs in flight that an earlier sweep left behind
    /// (its process, or a rank and with it the job, died): each such run, unless its latest
    /// record is a success, is recorded as failed with the journal's explanation (so it is
    /// reported, and `--retry-failed` runs it again), and the journal is removed. Returns the
    /// records appended. Call with the log open.
    ///
    /// # Errors
    /// [`Error::Io`] when the journal cannot be read or removed, or the log not appended to.
    pub fn recover_interrupted(&mut self) -> Result<Vec<RunRecord>> {
        let path = self.in_flight_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&path)(e)),
        };
        let runs: Vec<RunRecord> = match serde_json::from_slice(&bytes) {
            Ok(runs) => runs,
            Err(e) => {
                // Written atomically, so only damage outside femscale gets here: the runs it
                // named run again like any unrecorded run.
                warn!(file = %path.display(), error = %e, "ignoring an unreadable journal of runs in flight");
                Vec::new()
            }
        };
        let succeeded: std::collections::HashSet<String> = latest_by_id(&self.previous)
            .into_iter()
            .filter(|(_, r)| r.ok)
            .map(|(id, _)| id.to_string())
            .collect();
        let mut appended = Vec::new();
        for run in runs.into_iter().filter(|r| !succeeded.contains(&r.id)) {
            warn!(run = %run.id, error = run.error.as_deref().unwrap_or(""), "a run of an earlier sweep never reported back");
            self.append(&run)?;
            appended.push(run);
        }
        self.previous.extend(appended.iter().cloned());
        self.write_in_flight(&[])?;
        Ok(appended)
    }
}

/// Makes the log end with a complete line: a trailing partial line is cut off, or given its
/// newline when it holds a whole record.
fn repair_tail(file: &mut File) -> std::io::Result<()> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(());
    }
    let mut text = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut text)?;
    if text.last() == Some(&b'\n') {
        return Ok(());
    }
    let start = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let tail = String::from_utf8_lossy(&text[start..]);
    if serde_json::from_str::<RunRecord>(&tail).is_ok() {
        file.write_all(b"\n")?;
    } else {
        warn!("cutting off a truncated last line of the results log");
        file.set_len(start as u64)?;
    }
    file.sync_data()
}

/// Writes `contents` to `path` atomically (a synced temporary file renamed over `path`), with
/// [`femscale_core::io::write_atomically`].
///
/// # Errors
/// [`Error::Io`] naming the file.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    femscale_core::io::write_atomically(path, |w| w.write_all(contents))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_results_log_that_is_a_link_is_refused_and_its_target_kept() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("notes.txt");
        std::fs::write(&victim, "line one\nno newline at the end").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::os::unix::fs::symlink(&victim, out.join(RESULTS_FILE)).unwrap();
        let err = Store::prepare(&out).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let kept = std::fs::read_to_string(&victim).unwrap();
        assert_eq!(kept, "line one\nno newline at the end");
        // A hard link likewise.
        std::fs::remove_file(out.join(RESULTS_FILE)).unwrap();
        std::fs::hard_link(&victim, out.join(RESULTS_FILE)).unwrap();
        let err = Store::prepare(&out).unwrap_err().to_string();
        assert!(err.contains("hard link"), "{err}");
        let kept = std::fs::read_to_string(&victim).unwrap();
        assert_eq!(kept, "line one\nno newline at the end");
    }

    fn record(id: &str) -> String {
        let r = RunRecord {
            id: id.into(),
            point_id: "p".into(),
            identity: String::new(),
            point: Default::default(),
            repetition: 0,
            ok: false,
            metrics: None,
            error: Some("failed".into()),
            seconds: 0.5,
            mesh_size: None,
        };
        serde_json::to_string(&r).unwrap()
    }

    /// Records that contradict themselves are skipped (their runs are done again): an id
    /// that is not its identity's and repetition's (two records' ids swapped), success
    /// without metrics.
    #[test]
    fn records_that_contradict_themselves_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_FILE);
        let with = |id: &str, identity: &str, repetition: usize, ok: bool| {
            let mut r: RunRecord = serde_json::from_str(&record(id)).unwrap();
            r.identity = identity.into();
            r.repetition = repetition;
            r.ok = ok;
            serde_json::to_string(&r).unwrap()
        };
        let good = super::super::identity::run_id("abc", 1);
        let lines = [
            with(&good, "abc", 1, false),
            with(&good, "abc", 0, false),
            with(&good, "xyz", 1, false),
            with(&good, "abc", 1, true),
        ];
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let kept = read_results(&path).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].repetition, kept[0].ok), (1, false));
    }

    #[test]
    fn the_log_tail_is_cut_or_completed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_FILE);
        // A whole record without its newline is kept and completed.
        std::fs::write(&path, format!("{}\n{}", record("a"), record("b"))).unwrap();
        let mut f = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        repair_tail(&mut f).unwrap();
        assert_eq!(read_results(&path).unwrap().len(), 2);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with('\n'));
        // A torn record is cut off.
        let torn = record("c");
        std::fs::write(&path, format!("{}\n{}", record("a"), &torn[..10])).unwrap();
        assert_eq!(read_results(&path).unwrap().len(), 1);
        let mut f = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        repair_tail(&mut f).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", record("a"))
        );
    }
}
