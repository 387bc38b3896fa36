//! The child side: `femscale plugin-host` serves one prepared plugin solver over the protocol
//! of [`super::protocol`], reading the matrix and vectors from the shared memory at fd 3.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::os::fd::FromRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use femscale_core::{CsrMatrix, NoMonitor, PreparedSolver, SolveError, SparsityPattern};

use super::protocol::{FrameError, Reply, Request, Setup, WireError, read_frame, write_frame};
use super::shm::{Layout, SharedRegion};
use crate::plugins::{file_sha256, load};

/// Exit status for a request stream that is not the protocol.
const EXIT_PROTOCOL: i32 = 3;
/// Exit status when the host went away mid-solve.
const EXIT_ORPHANED: i32 = 4;

/// Runs the plugin host on this process's stdin and stdout until the host closes stdin.
/// Returns the exit status: 0 after a clean end, `EXIT_PROTOCOL` (3) for garbage.
///
/// The protocol keeps the original stdout; fd 1 is pointed at stderr so that a plugin that
/// prints cannot corrupt the replies.
pub fn serve() -> i32 {
    let Some(replies) = protocol_stdout() else {
        eprintln!("femscale plugin-host: cannot set up its reply channel");
        return EXIT_PROTOCOL;
    };
    watch_parent();
    let mut out = BufWriter::new(replies);
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut state: Option<Served> = None;
    loop {
        let request = match read_frame::<Request>(&mut input) {
            Ok(r) => r,
            Err(FrameError::Closed) => return 0,
            Err(e) => {
                eprintln!("femscale plugin-host: {e}");
                return EXIT_PROTOCOL;
            }
        };
        const NOT_SET_UP: &str = "the first request must be `setup`";
        let reply = match request {
            Request::Setup(_) if state.is_some() => failed("the solver is set up already"),
            Request::Setup(setup) => match Served::set_up(&setup) {
                Ok((served, reply)) => {
                    state = Some(served);
                    reply
                }
                Err(error) => Reply::Failed { error },
            },
            Request::Solve => state
                .as_mut()
                .map_or_else(|| failed(NOT_SET_UP), Served::solve),
            Request::UpdateValues => state
                .as_mut()
                .map_or_else(|| failed(NOT_SET_UP), Served::update_values),
        };
        if write_frame(&mut out, &reply).is_err() {
            return EXIT_ORPHANED;
        }
    }
}

fn failed(message: &str) -> Reply {
    Reply::Failed {
        error: WireError::Other {
            message: format!("plugin host: {message}"),
        },
    }
}

/// A prepared solver and the region it reads from.
struct Served {
    region: SharedRegion,
    prepared: Box<dyn PreparedSolver>,
}

impl Served {
    fn set_up(setup: &Setup) -> Result<(Self, Reply), WireError> {
        let other = |message: String| WireError::Other { message };
        let layout = Layout::new(setup.n, setup.nnz).map_err(other)?;
        if setup.shm_fd < 3 {
            return Err(other(format!(
                "shared memory fd {} is a standard stream",
                setup.shm_fd
            )));
        }
        // SAFETY: the host passes the shared memory as this fd, which nothing else here owns;
        // it is taken once (a second `setup` is refused before reaching this).
        let file = unsafe { File::from_raw_fd(setup.shm_fd) };
        let mut region = SharedRegion::open(file, layout)
            .map_err(|e| other(format!("plugin host: shared memory: {e}")))?;
        let matrix = read_matrix(&mut region, layout).map_err(other)?;
        let address_space_limit = match setup.address_space_mb {
            Some(mb) => Some(limit_address_space(mb).map_err(other)?),
            None => None,
        };
        // The host hashed the file it registered; refuse a different file at the same path.
        let path = std::path::Path::new(&setup.library);
        let sha256 = file_sha256(path)
            .map_err(|e| other(format!("{}: cannot read it: {e}", path.display())))?;
        if sha256 != setup.sha256 {
            return Err(other(format!(
                "{}: the library changed since the host loaded it (sha256 {sha256}, expected {})",
                path.display(),
                setup.sha256
            )));
        }
        let plugin = load(path).map_err(|e| other(e.to_string()))?;
        let solver = plugin
            .solver(&setup.component, &setup.options_json)
            .map_err(|e| other(e.to_string()))?;
        let start = Instant::now();
        let prepared = solver
            .prepare(Arc::new(matrix), &setup.solver_options)
            .map_err(|e| WireError::from(&e))?;
        let reply = Reply::Prepared {
            setup_seconds: start.elapsed().as_secs_f64(),
            memory_bytes: prepared.memory_bytes() as u64,
            address_space_limit,
        };
        Ok((Self { region, prepared }, reply))
    }

    fn solve(&mut self) -> Reply {
        let parts = self.region.parts();
        match self.prepared.solve(parts.b, parts.x, &mut NoMonitor) {
            Ok(report) => Reply::Solved {
                report: Box::new(report),
            },
            Err(e) => Reply::Failed {
                error: WireError::from(&e),
            },
        }
    }

    fn update_values(&mut self) -> Reply {
        let start = Instant::now();
        let pattern = self.prepared.matrix().pattern().clone();
        let values = self.region.parts().values.to_vec();
        let result = CsrMatrix::try_from_pattern_and_values(pattern, values)
            .map_err(|e| SolveError::Backend(Box::new(e)))
            .and_then(|a| self.prepared.update_values(Arc::new(a)));
        match result {
            Ok(()) => Reply::Updated {
                setup_seconds: start.elapsed().as_secs_f64(),
            },
            Err(e) => Reply::Failed {
                error: WireError::from(&e),
            },
        }
    }
}

/// The matrix in the region, checked like any CSR input.
fn read_matrix(region: &mut SharedRegion, layout: Layout) -> Result<CsrMatrix, String> {
    let parts = region.parts();
    let index = |v: &u64| usize::try_from(*v).map_err(|_| format!("index {v} does not fit"));
    let row_ptr = parts
        .row_ptr
        .iter()
        .map(index)
        .collect::<Result<Vec<_>, _>>()?;
    let col_idx = (parts.col_idx.iter())
        .map(|v| u32::try_from(*v).map_err(|_| format!("column {v} does not fit")))
        .collect::<Result<Vec<_>, _>>()?;
    let pattern = SparsityPattern::try_new(layout.n, layout.n, row_ptr, col_idx)
        .map_err(|e| format!("plugin host: the shared matrix is invalid: {e}"))?;
    CsrMatrix::try_from_pattern_and_values(Arc::new(pattern), parts.values.to_vec())
        .map_err(|e| format!("plugin host: the shared matrix is invalid: {e}"))
}

/// Sets `RLIMIT_AS` to what the process maps now plus `headroom_mb`; returns the limit.
fn limit_address_space(headroom_mb: f64) -> Result<u64, String> {
    let statm = std::fs::read_to_string("/proc/self/statm")
        .map_err(|e| format!("plugin host: /proc/self/statm: {e}"))?;
    let pages: u64 = statm
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or("plugin host: cannot read /proc/self/statm")?;
    // SAFETY: sysconf has no preconditions.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let headroom = femscale_core::checks::mb_to_bytes(headroom_mb.clamp(0.0, 1e12));
    let limit = pages.saturating_mul(page).saturating_add(headroom);
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: a valid rlimit for this process.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) } != 0 {
        return Err(format!(
            "plugin host: setrlimit(RLIMIT_AS, {limit}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(limit)
}

/// A duplicate of stdout for the replies, with fd 1 redirected to stderr.
fn protocol_stdout() -> Option<File> {
    std::io::stdout().flush().ok()?;
    // SAFETY: duplicating and redirecting the standard descriptors of this process; the
    // duplicate is owned by the returned File.
    unsafe {
        let fd = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return None;
        }
        Some(File::from_raw_fd(fd))
    }
}

/// Ends this process when its parent (the host) goes away, even in the middle of a plugin's
/// endless loop: no orphan outlives a killed host.
fn watch_parent() {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    let _ = std::thread::Builder::new()
        .name("plugin-host-parent-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(200));
                // SAFETY: as above.
                if unsafe { libc::getppid() } != parent {
                    // SAFETY: ends the process without running destructors another thread
                    // may be using.
                    unsafe { libc::_exit(EXIT_ORPHANED) };
                }
            }
        });
}
