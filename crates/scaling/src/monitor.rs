//! Resource monitoring: process and system CPU and memory (and GPU utilisation where NVML is
//! present), sampled on a background thread by a [`ResourceMonitor`]: `start`, `stop`,
//! [`ResourceMonitor::current`] (the latest [`ResourceSnapshot`]), peak RSS and mean CPU over
//! the monitored interval ([`MonitorSummary`]).
//!
//! For one closure (one solve) [`crate::measure`] is cheaper; for the load of other processes
//! see [`crate::SystemLoadSource`].
//!
//! Mean CPU use comes from the process's CPU time (`getrusage`, microseconds), not from
//! samples, so it is exact even for short intervals. Peak RSS is the largest sampled RSS, or the
//! process's high-water mark when that rose during the interval (then it is exact).

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};
use serde::{Deserialize, Serialize};
use sysinfo::{MemoryRefreshKind, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::error::{Result, ScalingError};
use crate::gpu::{GpuSnapshot, Nvml};
use crate::usage::{MB, ProcessTimes, process_times};

/// The machine and this process at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceSnapshot {
    /// Seconds since the monitor started (0 for one-off samples).
    pub elapsed_seconds: f64,
    /// Resident memory of this process, MB.
    pub process_rss_mb: f64,
    /// CPU use of this process over the latest CPU window, percent of one core (up to
    /// `100 × cores`); `None` until one window ([`CPU_WINDOW`]) after the sampler started.
    pub process_cpu_percent: Option<f64>,
    /// CPU use of the whole machine over the latest CPU window, percent of all cores (0–100);
    /// `None` until one window after the sampler started.
    pub system_cpu_percent: Option<f64>,
    /// Memory in use on the machine, MB.
    pub system_memory_used_mb: f64,
    /// Memory available to new allocations, MB.
    pub system_memory_available_mb: f64,
    /// Memory of the machine, MB.
    pub system_memory_total_mb: f64,
    /// GPU state, when NVML and a GPU are present.
    pub gpu: Option<GpuSnapshot>,
}

/// Shortest interval over which CPU use is measured: sysinfo reads the CPU counters again only
/// after [`sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`] (200 ms on Linux); between two reads CPU
/// percentages repeat the latest window's.
pub const CPU_WINDOW: Duration = sysinfo::MINIMUM_CPU_UPDATE_INTERVAL;

/// Takes snapshots with sysinfo (and NVML when present).
pub(crate) struct Sampler {
    system: System,
    pid: Option<Pid>,
    nvml: Option<Nvml>,
    cores: usize,
    primed: Instant,
}

impl Sampler {
    pub(crate) fn new(with_gpu: bool) -> Self {
        let mut s = Self {
            system: System::new(),
            pid: sysinfo::get_current_pid().ok(),
            nvml: if with_gpu { Nvml::load() } else { None },
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            primed: Instant::now(),
        };
        // Prime the CPU counters so that the next sample has a delta.
        s.refresh();
        s
    }

    fn refresh(&mut self) {
        self.system.refresh_cpu_usage();
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        if let Some(pid) = self.pid {
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                false,
                ProcessRefreshKind::nothing().with_cpu().with_memory(),
            );
        }
    }

    /// Available memory now, MB (refreshes only the memory counters).
    pub(crate) fn available_memory_mb(&mut self) -> f64 {
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        self.system.available_memory() as f64 / MB
    }

    pub(crate) fn sample(&mut self, elapsed_seconds: f64) -> ResourceSnapshot {
        self.refresh();
        // Before a full window the counters hold averages since boot, not usage.
        let cpu_ready = self.primed.elapsed() >= CPU_WINDOW;
        let process = self.pid.and_then(|pid| self.system.process(pid));
        ResourceSnapshot {
            elapsed_seconds,
            process_rss_mb: process.map_or(0.0, |p| p.memory() as f64 / MB),
            process_cpu_percent: process
                .map(|p| f64::from(p.cpu_usage()).max(0.0))
                .filter(|_| cpu_ready),
            system_cpu_percent: Some(f64::from(self.system.global_cpu_usage()).clamp(0.0, 100.0))
                .filter(|_| cpu_ready),
            system_memory_used_mb: self.system.used_memory() as f64 / MB,
            system_memory_available_mb: self.system.available_memory() as f64 / MB,
            system_memory_total_mb: self.system.total_memory() as f64 / MB,
            gpu: self.nvml.as_ref().and_then(Nvml::sample),
        }
    }

    /// Fraction of all cores busy with other processes in `s`.
    pub(crate) fn other_load(&self, s: &ResourceSnapshot) -> Option<f64> {
        let cores = self.cores.max(1) as f64;
        let busy_cores = s.system_cpu_percent? / 100.0 * cores;
        let ours = s.process_cpu_percent.unwrap_or(0.0) / 100.0;
        Some(((busy_cores - ours) / cores).clamp(0.0, 1.0))
    }
}

/// Statistics of a monitored interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MonitorSummary {
    /// Samples taken.
    pub samples: usize,
    /// Seconds monitored.
    pub duration_seconds: f64,
    /// Peak resident memory of this process, MB.
    pub peak_rss_mb: f64,
    /// Mean CPU use of this process, percent of one core (from its CPU time).
    pub mean_process_cpu_percent: f64,
    /// Mean CPU use of the machine over the samples that had a CPU reading, percent of all
    /// cores (0 without any: intervals shorter than [`CPU_WINDOW`]).
    pub mean_system_cpu_percent: f64,
    /// Highest mean GPU utilisation seen, percent, when a GPU was monitored.
    pub peak_gpu_utilization_percent: Option<f64>,
}

#[derive(Default)]
struct State {
    latest: Option<ResourceSnapshot>,
    samples: usize,
    peak_rss_mb: f64,
    system_cpu_sum: f64,
    system_cpu_samples: usize,
    peak_gpu: Option<f64>,
    started: Option<Instant>,
    start_times: ProcessTimes,
    stopped_after: Option<f64>,
    end_times: ProcessTimes,
}

impl State {
    fn record(&mut self, s: ResourceSnapshot) {
        self.samples += 1;
        self.peak_rss_mb = self.peak_rss_mb.max(s.process_rss_mb);
        if let Some(c) = s.system_cpu_percent {
            self.system_cpu_sum += c;
            self.system_cpu_samples += 1;
        }
        if let Some(u) = s
            .gpu
            .as_ref()
            .and_then(GpuSnapshot::mean_utilization_percent)
        {
            self.peak_gpu = Some(self.peak_gpu.map_or(u, |p: f64| p.max(u)));
        }
        self.latest = Some(s);
    }

    fn summary(&self) -> MonitorSummary {
        let duration = match (self.stopped_after, self.started) {
            (Some(d), _) => d,
            (None, Some(t)) => t.elapsed().as_secs_f64(),
            (None, None) => 0.0,
        };
        let end = if self.stopped_after.is_some() {
            self.end_times
        } else {
            process_times()
        };
        let cpu = (end.cpu_seconds - self.start_times.cpu_seconds).max(0.0);
        // If the process's high-water mark rose while monitoring, it was set in this interval.
        let hwm = if end.max_rss_mb > self.start_times.max_rss_mb {
            end.max_rss_mb
        } else {
            0.0
        };
        MonitorSummary {
            samples: self.samples,
            duration_seconds: duration,
            peak_rss_mb: self.peak_rss_mb.max(hwm),
            mean_process_cpu_percent: if duration > 0.0 {
                100.0 * cpu / duration
            } else {
                0.0
            },
            mean_system_cpu_percent: if self.system_cpu_samples > 0 {
                self.system_cpu_sum / self.system_cpu_samples as f64
            } else {
                0.0
            },
            peak_gpu_utilization_percent: self.peak_gpu,
        }
    }
}

/// Samples process and system resources on a background thread.
///
/// ```
/// use std::time::Duration;
/// use femscale_scaling::ResourceMonitor;
/// let mut monitor = ResourceMonitor::new(Duration::from_millis(10));
/// monitor.start().unwrap();
/// let v: Vec<f64> = vec![1.0; 1 << 20];
/// let summary = monitor.stop();
/// assert!(summary.samples >= 2 && summary.peak_rss_mb > 1.0);
/// # drop(v);
/// ```
pub struct ResourceMonitor {
    interval: Duration,
    with_gpu: bool,
    state: Arc<Mutex<State>>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ResourceMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceMonitor")
            .field("interval", &self.interval)
            .field("running", &self.is_running())
            .finish()
    }
}

impl ResourceMonitor {
    /// A stopped monitor that will sample every `interval` (at least 1 ms), GPU included when
    /// NVML is present.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval: interval.max(Duration::from_millis(1)),
            with_gpu: true,
            state: Arc::default(),
            stop: None,
            thread: None,
        }
    }

    /// This monitor without GPU sampling (no attempt to load NVML).
    pub fn without_gpu(mut self) -> Self {
        self.with_gpu = false;
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the sampling thread runs.
    pub fn is_running(&self) -> bool {
        self.thread.is_some()
    }

    /// Starts sampling (a no-op when running): clears the statistics, takes a first sample at
    /// once and then one every interval.
    ///
    /// # Errors
    /// [`ScalingError::Spawn`] when the thread cannot be started.
    pub fn start(&mut self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let mut sampler = Sampler::new(self.with_gpu);
        let started = Instant::now();
        {
            let mut st = self.state();
            *st = State {
                started: Some(started),
                start_times: process_times(),
                ..State::default()
            };
            st.record(sampler.sample(0.0));
        }
        let (stop_tx, stop_rx) = bounded::<()>(1);
        let state = Arc::clone(&self.state);
        let interval = self.interval;
        let name = "femscale-monitor".to_string();
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                // Sample every interval until told to stop (or the monitor is dropped).
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    stop_rx.recv_timeout(interval)
                {
                    let s = sampler.sample(started.elapsed().as_secs_f64());
                    state.lock().unwrap_or_else(|e| e.into_inner()).record(s);
                }
                // A last sample, so that short intervals see their end state.
                let s = sampler.sample(started.elapsed().as_secs_f64());
                state.lock().unwrap_or_else(|e| e.into_inner()).record(s);
            })
            .map_err(|source| ScalingError::Spawn { name, source })?;
        self.stop = Some(stop_tx);
        self.thread = Some(thread);
        Ok(())
    }

    /// Stops sampling (after a last sample) and returns the summary of the interval since
    /// [`ResourceMonitor::start`]. Stopping a stopped monitor returns the last summary.
    pub fn stop(&mut self) -> MonitorSummary {
        if let Some(stop) = self.stop.take() {
            // The thread may already be gone only if it panicked; then there is nothing to stop.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!("the resource monitor's sampling thread panicked");
            }
            let mut st = self.state();
            st.end_times = process_times();
            st.stopped_after = st.started.map(|t| t.elapsed().as_secs_f64());
        }
        self.summary()
    }

    /// The latest snapshot (`None` before the first start).
    pub fn current(&self) -> Option<ResourceSnapshot> {
        self.state().latest.clone()
    }

    /// Peak RSS so far in the monitored interval, MB.
    pub fn peak_rss_mb(&self) -> f64 {
        self.summary().peak_rss_mb
    }

    /// The statistics of the interval so far (or of the last one, when stopped).
    pub fn summary(&self) -> MonitorSummary {
        self.state().summary()
    }

    /// One snapshot taken now, without a monitor (no CPU percentages: they need a window).
    pub fn sample_now() -> ResourceSnapshot {
        Sampler::new(false).sample(0.0)
    }
}

impl Drop for ResourceMonitor {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_sane() {
        let s = ResourceMonitor::sample_now();
        assert!(s.process_rss_mb > 0.5 && s.process_rss_mb < s.system_memory_total_mb);
        assert!(s.system_memory_available_mb > 0.0);
        assert!(s.system_memory_used_mb <= s.system_memory_total_mb);
    }

    #[test]
    fn cpu_use_is_reported_after_one_window() {
        let mut m = ResourceMonitor::new(Duration::from_millis(50)).without_gpu();
        m.start().unwrap();
        assert_eq!(m.current().unwrap().system_cpu_percent, None);
        // Keep one core busy for two CPU windows.
        let until = Instant::now() + 2 * CPU_WINDOW + Duration::from_millis(50);
        let mut acc = 0u64;
        while Instant::now() < until {
            acc = acc.wrapping_add(std::hint::black_box(acc) | 1);
        }
        std::hint::black_box(acc);
        let now = m.current().unwrap();
        let summary = m.stop();
        let process = now.process_cpu_percent.expect("a full window has passed");
        assert!(process > 0.0, "{now:?}");
        assert!(
            now.system_cpu_percent
                .is_some_and(|c| c > 0.0 && c <= 100.0)
        );
        assert!(summary.mean_system_cpu_percent > 0.0, "{summary:?}");
        assert!(summary.mean_process_cpu_percent > 1.0, "{summary:?}");
    }

    #[test]
    fn the_monitor_samples_tracks_peaks_and_stops() {
        let mut m = ResourceMonitor::new(Duration::from_millis(5)).without_gpu();
        assert!(m.current().is_none());
        m.start().unwrap();
        m.start().unwrap(); // idempotent
        assert!(m.is_running());
        // Touch 64 MB so that RSS grows, and burn some CPU.
        let big = vec![1.0f64; 8 << 20];
        let mut acc = 0.0;
        for i in 0..2_000_000 {
            acc += (i as f64).sqrt();
        }
        std::hint::black_box((acc, &big));
        std::thread::sleep(Duration::from_millis(20));
        let now = m.current().expect("a sample was taken at start");
        assert!(now.process_rss_mb > 0.0);
        let summary = m.stop();
        assert!(!m.is_running());
        assert!(summary.samples >= 2, "{summary:?}");
        assert!(summary.peak_rss_mb >= 64.0, "{summary:?}");
        assert!(summary.duration_seconds > 0.0);
        assert!(summary.mean_process_cpu_percent > 0.0, "{summary:?}");
        assert!((0.0..=100.0).contains(&summary.mean_system_cpu_percent));
        assert_eq!(m.stop(), summary, "stopping twice keeps the summary");
        drop(big);
    }
}
