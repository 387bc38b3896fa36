//! What can go wrong with a plugin running in a child process, typed. Each error names the
//! plugin, the phase and the cause (signal, exit status, limit), and ends with what the
//! child wrote to stderr last when that helps.

use std::path::PathBuf;

use femscale_core::SolveError;

/// A plugin solver in a `femscale plugin-host` child failed in a way only a process boundary
/// survives. Reported through [`SolveError::Backend`]; the host and the rest of a sweep go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IsolationError {
    /// No executable to run the plugin host with.
    #[error(
        "plugin `{plugin}`: plugins.isolation = \"process\" needs the femscale executable to \
         run the plugin in, and none was found ({searched}); set plugins.host_executable or \
         FEMSCALE_PLUGIN_HOST"
    )]
    HostNotFound {
        /// The plugin.
        plugin: String,
        /// Where it looked.
        searched: String,
    },
    /// The child could not be started or given its shared memory.
    #[error("plugin `{plugin}`: cannot start the plugin host {}: {reason}", .executable.display())]
    Spawn {
        /// The plugin.
        plugin: String,
        /// The executable.
        executable: PathBuf,
        /// Why.
        reason: String,
    },
    /// The child was killed by a signal (segmentation fault, abort, ...).
    #[error(
        "plugin `{plugin}` crashed in its isolated process {pid} during {phase}: killed by \
         signal {signal} ({signal_name}); the host goes on{}", tail(.stderr)
    )]
    Crashed {
        /// The plugin.
        plugin: String,
        /// The child's pid.
        pid: u32,
        /// `set-up`, `solve` or `update`.
        phase: &'static str,
        /// The signal number.
        signal: i32,
        /// Its name and meaning (`SIGSEGV, segmentation fault`).
        signal_name: String,
        /// The last lines the child wrote to stderr.
        stderr: String,
    },
    /// The child exited (with a status) instead of replying.
    #[error(
        "plugin `{plugin}` ended its isolated process {pid} during {phase}: exit status \
         {status}{}", tail(.stderr)
    )]
    Exited {
        /// The plugin.
        plugin: String,
        /// The child's pid.
        pid: u32,
        /// The phase.
        phase: &'static str,
        /// The exit status.
        status: i32,
        /// The last lines the child wrote to stderr.
        stderr: String,
    },
    /// The wall-clock deadline passed without a reply; the child was killed.
    #[error(
        "plugin `{plugin}` exceeded solver.timeout_seconds = {limit_seconds} during {phase} \
         and did not stop by itself: its isolated process {pid} was killed after \
         {elapsed_seconds:.2} s"
    )]
    TimedOut {
        /// The plugin.
        plugin: String,
        /// The child's pid.
        pid: u32,
        /// The phase.
        phase: &'static str,
        /// The configured limit.
        limit_seconds: f64,
        /// Set-up plus solve seconds when it was killed.
        elapsed_seconds: f64,
    },
    /// The child ran out of its address-space limit and died.
    #[error(
        "plugin `{plugin}` exceeded solver.memory_limit_mb = {limit_mb} during {phase}: its \
         isolated process {pid} (address space limited to {address_space_mb:.0} MB) {death}{}",
        tail(.stderr)
    )]
    MemoryLimit {
        /// The plugin.
        plugin: String,
        /// The child's pid.
        pid: u32,
        /// The phase.
        phase: &'static str,
        /// The configured limit, MB.
        limit_mb: f64,
        /// The child's whole address-space limit, MB.
        address_space_mb: f64,
        /// How it died (`was killed by signal 6 (SIGABRT, abort)`).
        death: String,
        /// The last lines the child wrote to stderr.
        stderr: String,
    },
    /// The child sent something that is not a reply of the protocol; it was killed.
    #[error(
        "plugin `{plugin}`: protocol error with its isolated process {pid} during {phase}: {detail}"
    )]
    Protocol {
        /// The plugin.
        plugin: String,
        /// The child's pid.
        pid: u32,
        /// The phase.
        phase: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl IsolationError {
    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        match self {
            Self::HostNotFound { plugin, .. }
            | Self::Spawn { plugin, .. }
            | Self::Crashed { plugin, .. }
            | Self::Exited { plugin, .. }
            | Self::TimedOut { plugin, .. }
            | Self::MemoryLimit { plugin, .. }
            | Self::Protocol { plugin, .. } => plugin,
        }
    }
}

impl From<IsolationError> for SolveError {
    fn from(e: IsolationError) -> Self {
        SolveError::Backend(Box::new(e))
    }
}

/// `; its stderr ended with: ...` when there is something to show.
///
/// The Rust runtime's hint `note: run with RUST_BACKTRACE=1 ...` is left out: it speaks of
/// the child's environment, which the user does not set, and reads like a crash of femscale.
fn tail(stderr: &str) -> String {
    let kept: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim_start().starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    let joined = kept.join("\n");
    let trimmed = joined.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("; its stderr ended with:\n{trimmed}")
    }
}

/// `SIGSEGV, segmentation fault` for the common signals, `signal N` otherwise.
pub(crate) fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "SIGHUP, hang-up",
        2 => "SIGINT, interrupt",
        4 => "SIGILL, illegal instruction",
        5 => "SIGTRAP, trap",
        6 => "SIGABRT, abort",
        7 => "SIGBUS, bus error",
        8 => "SIGFPE, arithmetic exception",
        9 => "SIGKILL, killed",
        11 => "SIGSEGV, segmentation fault",
        13 => "SIGPIPE, broken pipe",
        15 => "SIGTERM, terminated",
        24 => "SIGXCPU, CPU time limit",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_plugin_cause_and_limit() {
        let e = IsolationError::Crashed {
            plugin: "c-segfault".into(),
            pid: 42,
            phase: "solve",
            signal: 11,
            signal_name: signal_name(11),
            stderr: String::new(),
        };
        let text = e.to_string();
        assert!(
            text.contains("`c-segfault`") && text.contains("signal 11 (SIGSEGV"),
            "{text}"
        );
        let e = IsolationError::TimedOut {
            plugin: "c-loop".into(),
            pid: 1,
            phase: "solve",
            limit_seconds: 0.5,
            elapsed_seconds: 1.0,
        };
        assert!(e.to_string().contains("solver.timeout_seconds = 0.5"));
        assert_eq!(signal_name(64), "signal 64");
    }
}
