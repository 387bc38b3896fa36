//! The host's handle on one `femscale plugin-host` child: spawn with the shared memory as
//! fd 3, requests with a wall-clock deadline, the child's death read as a typed error, and
//! kill-and-reap on drop (no zombie, no orphan).

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::error::{IsolationError, signal_name};
use super::protocol::{FrameError, Reply, Request, read_frame, write_frame};
use super::shm::SharedRegion;

/// The descriptor the child finds the shared memory at.
pub(crate) const SHM_FD: i32 = 3;

/// Lines of the child's stderr kept for error messages: the first ones (what went wrong,
/// before any backtrace) and the last ones.
const STDERR_HEAD_LINES: usize = 3;
const STDERR_TAIL_LINES: usize = 9;

/// What the host knows about the child's limits, for error messages.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    /// `solver.timeout_seconds`.
    pub timeout_seconds: Option<f64>,
    /// `solver.memory_limit_mb`.
    pub memory_limit_mb: Option<f64>,
    /// The child's address-space limit, MB, once it told.
    pub address_space_mb: Option<f64>,
}

/// A running plugin host.
pub(crate) struct PluginChild {
    plugin: String,
    child: Child,
    stdin: ChildStdin,
    /// Frames read by the reader thread (in a mutex only to make the handle `Sync`).
    replies: Mutex<Receiver<Result<Reply, FrameError>>>,
    stderr_tail: Arc<Mutex<Vec<String>>>,
    stderr_done: Mutex<Receiver<()>>,
    /// Why the child is gone, once it is.
    failed: Option<String>,
}

impl std::fmt::Debug for PluginChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginChild")
            .field("plugin", &self.plugin)
            .field("pid", &self.child.id())
            .finish()
    }
}

impl PluginChild {
    /// Starts `executable plugin-host` with `region` as its fd [`SHM_FD`].
    pub(crate) fn spawn(
        plugin: &str,
        executable: &Path,
        region: &SharedRegion,
    ) -> Result<Self, IsolationError> {
        let spawn_error = |reason: String| IsolationError::Spawn {
            plugin: plugin.to_string(),
            executable: executable.to_path_buf(),
            reason,
        };
        let shm_fd = region.file().as_raw_fd();
        let mut command = Command::new(executable);
        command
            .arg("plugin-host")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if shm_fd == SHM_FD {
                    let flags = libc::fcntl(SHM_FD, libc::F_GETFD);
                    if flags < 0
                        || libc::fcntl(SHM_FD, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(shm_fd, SHM_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|e| spawn_error(e.to_string()))?;
        let pid = child.id();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_error("no pipes to the child".into()));
        };
        let (reply_tx, replies) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("plugin-host-{pid}-out"))
            .spawn(move || {
                let mut stdout = BufReader::new(stdout);
                loop {
                    let frame = read_frame::<Reply>(&mut stdout);
                    let last = frame.is_err();
                    if reply_tx.send(frame).is_err() || last {
                        break;
                    }
                }
            })
            .map_err(|e| spawn_error(e.to_string()))?;
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, stderr_done) = mpsc::channel();
        let tail = stderr_tail.clone();
        std::thread::Builder::new()
            .name(format!("plugin-host-{pid}-err"))
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(mut line) = line else { break };
                    tracing::info!(target: "femscale::plugin_host", pid, "{line}");
                    if line.len() > 400 {
                        let mut end = 400;
                        while !line.is_char_boundary(end) {
                            end -= 1;
                        }
                        line.truncate(end);
                        line.push_str(" ...");
                    }
                    let mut kept = tail.lock().unwrap_or_else(|e| e.into_inner());
                    kept.push(line);
                    if kept.len() > STDERR_HEAD_LINES + STDERR_TAIL_LINES + 1 {
                        // Keep the head, a `...` marker, and the tail.
                        kept[STDERR_HEAD_LINES] = "...".into();
                        kept.remove(STDERR_HEAD_LINES + 1);
                    }
                }
                let _ = done_tx.send(());
            })
            .map_err(|e| spawn_error(e.to_string()))?;
        tracing::debug!(plugin, pid, executable = %executable.display(), "plugin host started");
        Ok(Self {
            plugin: plugin.to_string(),
            child,
            stdin,
            replies: Mutex::new(replies),
            stderr_tail,
            stderr_done: Mutex::new(stderr_done),
            failed: None,
        })
    }

    /// The child's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `request` and waits for the reply until `deadline` (started at `started`, for
    /// the message). Any failure but a `Failed` reply leaves the child killed and reaped.
    pub(crate) fn request(
        &mut self,
        request: &Request,
        phase: &'static str,
        deadline: Option<(Instant, Instant)>,
        limits: &Limits,
    ) -> Result<Reply, IsolationError> {
        if let Some(earlier) = &self.failed {
            return Err(IsolationError::Protocol {
                plugin: self.plugin.clone(),
                pid: self.pid(),
                phase,
                detail: format!(
                    "the isolated process is gone ({earlier}); prepare the solver again"
                ),
            });
        }
        if write_frame(&mut self.stdin, request).is_err() {
            // The child died before reading; its status says why.
            return Err(self.died(phase, limits));
        }
        let received = {
            let replies = self.replies.get_mut().unwrap_or_else(|e| e.into_inner());
            match deadline {
                None => replies.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some((deadline, _)) => {
                    replies.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                }
            }
        };
        let result = match received {
            Ok(Ok(reply)) => return Ok(reply),
            Ok(Err(FrameError::Garbage(detail))) => {
                self.kill();
                IsolationError::Protocol {
                    plugin: self.plugin.clone(),
                    pid: self.pid(),
                    phase,
                    detail,
                }
            }
            Ok(Err(FrameError::Closed | FrameError::Io(_)))
            | Err(RecvTimeoutError::Disconnected) => self.died(phase, limits),
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                let started = deadline.map_or_else(Instant::now, |(_, s)| s);
                IsolationError::TimedOut {
                    plugin: self.plugin.clone(),
                    pid: self.pid(),
                    phase,
                    limit_seconds: limits.timeout_seconds.unwrap_or(f64::NAN),
                    elapsed_seconds: started.elapsed().as_secs_f64(),
                }
            }
        };
        self.failed = Some(result.to_string());
        Err(result)
    }

    /// The error for a child that stopped answering: waits (briefly) for its exit status and
    /// reads it as a crash, an exit, or a memory-limit death.
    fn died(&mut self, phase: &'static str, limits: &Limits) -> IsolationError {
        let status = self.wait_briefly();
        // The stderr pipe ends with the process; give the reader a moment to drain it.
        let _ = self
            .stderr_done
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .recv_timeout(Duration::from_secs(1));
        let stderr = self
            .stderr_tail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n");
        let plugin = self.plugin.clone();
        let pid = self.pid();
        // Garbage may have arrived before the end of the stream (a program that is no plugin
        // host prints something and exits): that is the better diagnosis. The reader thread may
        // not have parsed it yet when a failed write brought us here, so wait for its verdict
        // (the stream of an exited child ends at once; a second bounds a stuck one).
        let garbage = match self
            .replies
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .recv_timeout(Duration::from_secs(1))
        {
            Ok(Err(FrameError::Garbage(detail))) => Some(detail),
            _ => None,
        };
        if let Some(detail) = garbage {
            let error = IsolationError::Protocol {
                plugin,
                pid,
                phase,
                detail: match status {
                    Some(status) => format!("{detail}; then it {}", describe(status)),
                    None => detail,
                },
            };
            self.failed = Some(error.to_string());
            return error;
        }
        let out_of_memory = stderr.contains("memory allocation of")
            || stderr.contains("out of memory")
            || stderr.contains("std::bad_alloc");
        let error = match (status, limits.memory_limit_mb) {
            (Some(status), Some(limit_mb)) if out_of_memory => IsolationError::MemoryLimit {
                plugin,
                pid,
                phase,
                limit_mb,
                address_space_mb: limits.address_space_mb.unwrap_or(f64::NAN),
                death: describe(status),
                stderr,
            },
            (Some(status), _) if status.signal().is_some() => {
                let signal = status.signal().unwrap_or_default();
                IsolationError::Crashed {
                    plugin,
                    pid,
                    phase,
                    signal,
                    signal_name: signal_name(signal),
                    stderr,
                }
            }
            (Some(status), _) => IsolationError::Exited {
                plugin,
                pid,
                phase,
                status: status.code().unwrap_or(-1),
                stderr,
            },
            (None, _) => IsolationError::Protocol {
                plugin,
                pid,
                phase,
                detail: "the child closed its reply pipe but kept running; it was killed".into(),
            },
        };
        self.failed = Some(error.to_string());
        error
    }

    /// The exit status within a second, else kills the child and returns `None`.
    fn wait_briefly(&mut self) -> Option<ExitStatus> {
        let until = Instant::now() + Duration::from_secs(1);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
                _ => {
                    self.kill();
                    return None;
                }
            }
        }
    }

    /// Kills (SIGKILL) and reaps the child; harmless when it is gone already.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PluginChild {
    fn drop(&mut self) {
        self.kill();
        tracing::debug!(plugin = %self.plugin, pid = self.child.id(), "plugin host stopped");
    }
}

/// `was killed by signal 6 (SIGABRT, abort)` or `exited with status 3`.
fn describe(status: ExitStatus) -> String {
    match status.signal() {
        Some(signal) => format!("was killed by signal {signal} ({})", signal_name(signal)),
        None => format!("exited with status {}", status.code().unwrap_or(-1)),
    }
}

/// Where the plugin host executable is, in this order: `plugins.host_executable`, the
/// environment variable `FEMSCALE_PLUGIN_HOST`, the running executable when it is `femscale`,
/// a `femscale` next to the running executable (or one directory up, for cargo's `deps/`),
/// then `femscale` on `PATH`.
///
/// # Errors
/// Where it looked, when nothing was found.
pub(crate) fn host_executable(configured: Option<&Path>) -> Result<PathBuf, String> {
    let name = format!("femscale{}", std::env::consts::EXE_SUFFIX);
    let mut searched = Vec::new();
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!(
                "plugins.host_executable = {} is not a file",
                path.display()
            ))
        };
    }
    if let Some(path) = std::env::var_os("FEMSCALE_PLUGIN_HOST").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "FEMSCALE_PLUGIN_HOST = {} is not a file",
                path.display()
            ))
        };
    }
    if let Ok(exe) = std::env::current_exe() {
        if exe.file_name().is_some_and(|f| f == name.as_str()) {
            return Ok(exe);
        }
        let mut dir = exe.parent();
        for _ in 0..2 {
            let Some(d) = dir else { break };
            let candidate = d.join(&name);
            if candidate.is_file() {
                return Ok(candidate);
            }
            searched.push(d.display().to_string());
            dir = d.parent();
        }
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&paths) {
            let candidate = d.join(&name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        searched.push("PATH".into());
    }
    Err(format!(
        "looked next to the running executable in {} ",
        searched.join(", ")
    )
    .trim()
    .to_string())
}
