//! What one closure (one solve) used: wall and CPU time and peak RSS, cheaply — [`measure`].

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Bytes per MB (MiB, like every femscale size).
pub(crate) const MB: f64 = femscale_core::checks::MIB;

/// This process's CPU time and peak RSS so far (`getrusage(RUSAGE_SELF)`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProcessTimes {
    pub(crate) cpu_seconds: f64,
    /// The kernel's high-water mark, read by the resource monitor (feature `monitor`).
    #[cfg_attr(not(feature = "monitor"), allow(dead_code))]
    pub(crate) max_rss_mb: f64,
}

#[cfg(unix)]
pub(crate) fn process_times() -> ProcessTimes {
    // SAFETY: `getrusage` writes into the zero-initialised struct we pass; RUSAGE_SELF is valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return ProcessTimes::default();
        }
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    // ru_maxrss is in kilobytes on Linux (bytes on macOS).
    let max_rss_mb = if cfg!(target_os = "macos") {
        usage.ru_maxrss as f64 / MB
    } else {
        usage.ru_maxrss as f64 / 1024.0
    };
    ProcessTimes {
        cpu_seconds: secs(usage.ru_utime) + secs(usage.ru_stime),
        max_rss_mb,
    }
}

#[cfg(not(unix))]
pub(crate) fn process_times() -> ProcessTimes {
    ProcessTimes::default()
}

/// What running a closure under [`measure`] used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UsageSummary {
    /// Wall-clock seconds.
    pub wall_seconds: f64,
    /// CPU seconds of this process (all threads).
    pub cpu_seconds: f64,
    /// Mean CPU use, percent of one core (`100 × cpu / wall`).
    pub mean_cpu_percent: f64,
    /// Peak resident memory of this process during the run, MB.
    pub peak_rss_mb: f64,
    /// Resident memory at the start, MB.
    pub start_rss_mb: f64,
    /// Whether `peak_rss_mb` is the kernel's high-water mark over exactly this run (Linux);
    /// otherwise it is the larger of the RSS at start and end, a lower bound.
    pub peak_rss_exact: bool,
}

/// `VmRSS` and `VmHWM` of `/proc/self/status`, MB (Linux).
fn rss_and_peak_mb() -> (Option<f64>, Option<f64>) {
    let Ok(text) = std::fs::read_to_string("/proc/self/status") else {
        return (None, None);
    };
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resident memory now, MB.
#[cfg(not(unix))]
fn current_rss_mb() -> Option<f64> {
    None
}

/// Resident memory now, MB, from `/proc/self/statm` (Linux; `None` elsewhere).
#[cfg(unix)]
fn current_rss_mb() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = text.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page > 0).then(|| pages * page as f64 / MB)
}

/// Resets this process's peak-RSS mark (`VmHWM`) to the current RSS (Linux
/// `/proc/self/clear_refs`); false where that is not possible.
fn reset_peak_rss() -> bool {
    cfg!(target_os = "linux") && std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Runs `f` and returns its result with what it used: wall and CPU time (`getrusage`,
/// microseconds) and peak RSS. Costs a few tens of microseconds and no thread, so it can wrap
/// every solve.
///
/// On Linux the process's peak-RSS mark is reset at the start and read at the end, so the peak
/// is exact, whatever its duration. The mark is process-wide: with several measurements at once
/// (concurrent runs), each peak covers the time since the latest start of any of them and is
/// the whole process's. Elsewhere the peak is the larger of the RSS at start and end.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, UsageSummary) {
    let exact = reset_peak_rss();
    let start_rss = current_rss_mb().unwrap_or(0.0);
    let t0 = Instant::now();
    let cpu0 = process_times().cpu_seconds;
    let value = f();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (process_times().cpu_seconds - cpu0).max(0.0);
    let (end_rss, hwm) = rss_and_peak_mb();
    let end_rss = end_rss.unwrap_or(0.0);
    let hwm = hwm.filter(|_| exact);
    let usage = UsageSummary {
        wall_seconds: wall,
        cpu_seconds: cpu,
        mean_cpu_percent: if wall > 0.0 { 100.0 * cpu / wall } else { 0.0 },
        peak_rss_mb: hwm.unwrap_or(0.0).max(start_rss).max(end_rss),
        start_rss_mb: start_rss,
        peak_rss_exact: hwm.is_some(),
    };
    (value, usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_reports_cpu_and_memory_of_the_closure() {
        let (sum, usage) = measure(|| {
            let v = vec![2.0f64; 4 << 20];
            let mut acc = 0.0;
            for _ in 0..5 {
                acc += v.iter().sum::<f64>();
            }
            // Hold the memory across a few sampling intervals.
            std::thread::sleep(std::time::Duration::from_millis(30));
            std::hint::black_box(&v);
            acc
        });
        assert_eq!(sum, 5.0 * 2.0 * (4 << 20) as f64);
        assert!(
            usage.wall_seconds > 0.0 && usage.cpu_seconds > 0.0,
            "{usage:?}"
        );
        assert!(usage.peak_rss_mb >= usage.start_rss_mb, "{usage:?}");
        if usage.peak_rss_exact {
            // Exact on Linux: the 32 MB vector was resident at the peak.
            assert!(usage.peak_rss_mb >= 32.0, "{usage:?}");
        }
    }
}
