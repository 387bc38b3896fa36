//! The control protocol between the host and `femscale plugin-host`, over the child's stdin
//! (requests) and stdout (replies).
//!
//! Every message is one frame: the magic `FSPH`, the protocol version (u32 little-endian), the
//! payload length (u32 little-endian, at most [`MAX_FRAME_BYTES`]) and a JSON payload. Both
//! sides check magic, version and length before allocating; anything else is a protocol error.
//! Bulk data (matrix, right-hand side, solution) never goes through frames: it lives in the
//! shared memory region (see the `shm` module).

use std::io::{Read, Write};

use femscale_core::{SolveError, SolveReport, SolverOptions};
use serde::{Deserialize, Serialize};

/// Version of this protocol; a child speaking another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest payload of one frame (a report with a long residual history fits easily).
pub const MAX_FRAME_BYTES: usize = 64 << 20;

const MAGIC: &[u8; 4] = b"FSPH";

/// A request from the host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Load the plugin, read the matrix from shared memory and prepare the solver.
    Setup(Box<Setup>),
    /// Solve with `b` and the initial guess `x` in shared memory; the solution replaces `x`.
    Solve,
    /// The matrix values in shared memory changed (same pattern): refresh the solver.
    UpdateValues,
}

/// What the child needs to set a solver up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setup {
    /// The plugin library (canonical path).
    pub library: String,
    /// SHA-256 of the library the host checked; the child refuses a different file.
    pub sha256: String,
    /// The solver component's name (without `plugin:`).
    pub component: String,
    /// The component's options JSON.
    pub options_json: String,
    /// Stopping criteria and budgets.
    pub solver_options: SolverOptions,
    /// Rows (= columns) of the matrix.
    pub n: u64,
    /// Stored entries of the matrix.
    pub nnz: u64,
    /// The shared memory's file descriptor in the child.
    pub shm_fd: i32,
    /// Address-space head-room in MiB added to what the child holds before it loads the
    /// plugin (`RLIMIT_AS`); `None`: no limit.
    pub address_space_mb: Option<f64>,
}

/// A reply from the child.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The solver is set up.
    Prepared {
        /// Seconds of the set-up in the child (matrix copy excluded).
        setup_seconds: f64,
        /// Memory the prepared solver holds, bytes.
        memory_bytes: u64,
        /// The child's address-space limit, bytes (`None`: unlimited).
        address_space_limit: Option<u64>,
    },
    /// The solve succeeded; `x` in shared memory holds the solution.
    Solved {
        /// The plugin's report.
        report: Box<SolveReport>,
    },
    /// The values were refreshed.
    Updated {
        /// Seconds of the refresh.
        setup_seconds: f64,
    },
    /// The request failed with a typed error; the child stays usable.
    Failed {
        /// What failed.
        error: WireError,
    },
}

/// A [`SolveError`] as it crosses the process boundary.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireError {
    /// [`SolveError::DimensionMismatch`].
    DimensionMismatch {
        /// Matrix rows.
        rows: usize,
        /// Matrix columns.
        cols: usize,
        /// Offending length.
        len: usize,
    },
    /// [`SolveError::NotConverged`].
    NotConverged {
        /// The report.
        report: Box<SolveReport>,
    },
    /// [`SolveError::Breakdown`].
    Breakdown {
        /// The method.
        method: String,
        /// What vanished.
        detail: String,
        /// The report.
        report: Box<SolveReport>,
    },
    /// [`SolveError::Timeout`] (the plugin stopped itself through the monitor).
    Timeout {
        /// Seconds spent.
        #[serde(deserialize_with = "femscale_core::report::nan_from_null")]
        elapsed_seconds: f64,
        /// The limit (NaN when none was set).
        #[serde(deserialize_with = "femscale_core::report::nan_from_null")]
        limit_seconds: f64,
        /// The report.
        report: Box<SolveReport>,
    },
    /// [`SolveError::MemoryBudget`].
    MemoryBudget {
        /// What.
        what: String,
        /// Estimated need, MB.
        needed_mb: f64,
        /// Limit, MB.
        limit_mb: f64,
    },
    /// [`SolveError::Factorization`].
    Factorization {
        /// The method.
        method: String,
        /// Why.
        detail: String,
    },
    /// [`SolveError::InvalidOption`].
    InvalidOption {
        /// The option.
        option: String,
        /// Why.
        reason: String,
    },
    /// [`SolveError::Stopped`].
    Stopped {
        /// The report.
        report: Box<SolveReport>,
    },
    /// Anything else (plugin errors, loading errors in the child), as text.
    Other {
        /// The error's message.
        message: String,
    },
}

impl From<&SolveError> for WireError {
    fn from(e: &SolveError) -> Self {
        match e {
            SolveError::DimensionMismatch { rows, cols, len } => Self::DimensionMismatch {
                rows: *rows,
                cols: *cols,
                len: *len,
            },
            SolveError::NotConverged { report } => Self::NotConverged {
                report: report.clone(),
            },
            SolveError::Breakdown {
                method,
                detail,
                report,
            } => Self::Breakdown {
                method: method.clone(),
                detail: detail.clone(),
                report: report.clone(),
            },
            SolveError::Timeout {
                elapsed_seconds,
                limit_seconds,
                report,
            } => Self::Timeout {
                elapsed_seconds: *elapsed_seconds,
                limit_seconds: *limit_seconds,
                report: report.clone(),
            },
            SolveError::MemoryBudget {
                what,
                needed_mb,
                limit_mb,
            } => Self::MemoryBudget {
                what: what.clone(),
                needed_mb: *needed_mb,
                limit_mb: *limit_mb,
            },
            SolveError::Factorization { method, detail } => Self::Factorization {
                method: method.clone(),
                detail: detail.clone(),
            },
            SolveError::InvalidOption { option, reason } => Self::InvalidOption {
                option: option.clone(),
                reason: reason.clone(),
            },
            SolveError::Stopped { report } => Self::Stopped {
                report: report.clone(),
            },
            other => Self::Other {
                message: other.to_string(),
            },
        }
    }
}

impl WireError {
    /// The host's error; `Other` becomes a [`SolveError::Backend`] with the child's message.
    pub fn into_solve_error(self) -> SolveError {
        match self {
            Self::DimensionMismatch { rows, cols, len } => {
                SolveError::DimensionMismatch { rows, cols, len }
            }
            Self::NotConverged { report } => SolveError::NotConverged { report },
            Self::Breakdown {
                method,
                detail,
                report,
            } => SolveError::Breakdown {
                method,
                detail,
                report,
            },
            Self::Timeout {
                elapsed_seconds,
                limit_seconds,
                report,
            } => SolveError::Timeout {
                elapsed_seconds,
                limit_seconds,
                report,
            },
            Self::MemoryBudget {
                what,
                needed_mb,
                limit_mb,
            } => SolveError::MemoryBudget {
                what,
                needed_mb,
                limit_mb,
            },
            Self::Factorization { method, detail } => SolveError::Factorization { method, detail },
            Self::InvalidOption { option, reason } => SolveError::InvalidOption { option, reason },
            Self::Stopped { report } => SolveError::Stopped { report },
            Self::Other { message } => SolveError::Backend(Box::new(RemoteError(message))),
        }
    }
}

/// An error the child reported as text (a plugin's own error, a load failure in the child).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RemoteError(pub String);

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended before a frame began (the peer closed it or died).
    #[error("end of stream")]
    Closed,
    /// Reading failed or the stream ended inside a frame.
    #[error("reading a frame: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a frame of this protocol.
    #[error("{0}")]
    Garbage(String),
}

/// Writes `message` as one frame and flushes.
///
/// # Errors
/// Writing fails, or the payload exceeds [`MAX_FRAME_BYTES`].
pub fn write_frame<T: Serialize>(out: &mut impl Write, message: &T) -> std::io::Result<()> {
    let payload = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    if payload.len() > MAX_FRAME_BYTES {
        return Err(std::io::Error::other(format!(
            "message of {} bytes exceeds the protocol's {MAX_FRAME_BYTES}",
            payload.len()
        )));
    }
    let mut head = [0u8; 12];
    head[..4].copy_from_slice(MAGIC);
    head[4..8].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    head[8..].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    out.write_all(&head)?;
    out.write_all(&payload)?;
    out.flush()
}

/// Reads one frame and decodes its payload, checking magic, version and length first.
///
/// # Errors
/// [`FrameError::Closed`] at a clean end of stream, [`FrameError::Garbage`] for anything that
/// is not a frame of this protocol version.
pub fn read_frame<T: for<'de> Deserialize<'de>>(input: &mut impl Read) -> Result<T, FrameError> {
    let mut head = [0u8; 12];
    let mut filled = 0;
    while filled < head.len() {
        match input.read(&mut head[filled..]) {
            Ok(0) if filled == 0 => return Err(FrameError::Closed),
            Ok(0) => {
                return Err(FrameError::Garbage(format!(
                    "the stream ended after {filled} bytes of a frame header"
                )));
            }
            Ok(k) => filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    if &head[..4] != MAGIC {
        let shown = String::from_utf8_lossy(&head);
        return Err(FrameError::Garbage(format!(
            "expected a frame starting with `FSPH`, got {shown:?}"
        )));
    }
    let version = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
    if version != PROTOCOL_VERSION {
        return Err(FrameError::Garbage(format!(
            "plugin-host protocol version {version}, this femscale speaks {PROTOCOL_VERSION} \
             (is the plugin host another femscale version?)"
        )));
    }
    let len = u32::from_le_bytes(head[8..].try_into().expect("4 bytes")) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::Garbage(format!(
            "a frame claims {len} bytes, more than the protocol's {MAX_FRAME_BYTES}"
        )));
    }
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload)?;
    serde_json::from_slice(&payload)
        .map_err(|e| FrameError::Garbage(format!("undecodable message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &Request::Solve).unwrap();
        write_frame(
            &mut buf,
            &Reply::Updated {
                setup_seconds: 0.25,
            },
        )
        .unwrap();
        let mut input = buf.as_slice();
        assert!(matches!(read_frame(&mut input), Ok(Request::Solve)));
        assert!(matches!(
            read_frame(&mut input),
            Ok(Reply::Updated { setup_seconds }) if setup_seconds == 0.25
        ));
        assert!(matches!(
            read_frame::<Reply>(&mut input),
            Err(FrameError::Closed)
        ));
    }

    #[test]
    fn garbage_oversized_and_other_versions_are_refused_before_allocating() {
        let mut input: &[u8] = b"Segmentation fault\n";
        assert!(
            matches!(read_frame::<Reply>(&mut input), Err(FrameError::Garbage(m)) if m.contains("FSPH"))
        );
        let mut huge = Vec::from(*MAGIC);
        huge.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            matches!(read_frame::<Reply>(&mut huge.as_slice()), Err(FrameError::Garbage(m)) if m.contains("claims"))
        );
        let mut other = Vec::from(*MAGIC);
        other.extend_from_slice(&7u32.to_le_bytes());
        other.extend_from_slice(&2u32.to_le_bytes());
        other.extend_from_slice(b"{}");
        assert!(
            matches!(read_frame::<Reply>(&mut other.as_slice()), Err(FrameError::Garbage(m)) if m.contains("version 7"))
        );
        let mut cut = Vec::from(*MAGIC);
        cut.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        assert!(matches!(
            read_frame::<Reply>(&mut cut.as_slice()),
            Err(FrameError::Garbage(_))
        ));
    }

    /// A breakdown's NaN residuals (JSON writes them as `null`) cross as NaN, not as an
    /// undecodable message.
    #[test]
    fn non_finite_figures_cross_the_boundary() {
        let mut report = SolveReport::new("plugin:x", "none");
        report.final_relative_residual = f64::NAN;
        report.final_residual = f64::INFINITY;
        report.residual_history = vec![1.0, f64::NAN];
        let e = SolveError::Breakdown {
            method: "plugin:x".into(),
            detail: "residual blew up".into(),
            report: Box::new(report),
        };
        let mut buf = Vec::new();
        let reply = Reply::Failed {
            error: WireError::from(&e),
        };
        write_frame(&mut buf, &reply).unwrap();
        let back = read_frame::<Reply>(&mut buf.as_slice()).unwrap();
        let Reply::Failed { error } = back else {
            panic!("{back:?}")
        };
        match error.into_solve_error() {
            SolveError::Breakdown { report, .. } => {
                assert!(report.final_relative_residual.is_nan());
                assert!(report.final_residual.is_nan());
                assert_eq!(report.residual_history[0], 1.0);
                assert!(report.residual_history[1].is_nan());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn solve_errors_cross_the_boundary_typed() {
        let mut report = SolveReport::new("plugin:x", "none");
        report.iterations = 7;
        let e = SolveError::NotConverged {
            report: Box::new(report),
        };
        let back = WireError::from(&e).into_solve_error();
        assert!(matches!(back, SolveError::NotConverged { report } if report.iterations == 7));
        let e = SolveError::Backend(Box::new(RemoteError("plugin `x`: boom".into())));
        let back = WireError::from(&e).into_solve_error();
        assert_eq!(back.to_string(), "plugin `x`: boom");
    }
}
