//! The CPU load of other processes and the available memory: [`SystemLoadSource`], for planning
//! and for the worker pool.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::monitor::Sampler;
use crate::num_cores;
use crate::worker_pool::{LoadSample, LoadSource};

/// Shortest window a CPU-load measurement covers: a little more than sysinfo's
/// [`crate::monitor::CPU_WINDOW`] (it does not reread the CPU counters sooner).
pub const LOAD_WINDOW: Duration = Duration::from_millis(250);

/// The CPU load of other processes and the available memory, measured with sysinfo. The default
/// [`LoadSource`] of the worker pool.
///
/// Each CPU-load value covers at least [`LOAD_WINDOW`]: a call sooner than that after the
/// previous measurement returns the previous value. Within the first window after creation
/// [`LoadSource::sample`] reports the CPU load as unknown (it never blocks), while
/// [`SystemLoadSource::system_load`] waits for the window to pass.
pub struct SystemLoadSource {
    state: Mutex<LoadState>,
}

struct LoadState {
    sampler: Sampler,
    measured_at: Instant,
    last: Option<LoadSample>,
}

impl std::fmt::Debug for SystemLoadSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemLoadSource").finish_non_exhaustive()
    }
}

impl Default for SystemLoadSource {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemLoadSource {
    /// A source primed now; its first sample measures the load since this call.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(LoadState {
                sampler: Sampler::new(false),
                measured_at: Instant::now(),
                last: None,
            }),
        }
    }

    /// The machine as the planner sees it: cores, available memory and the CPU load of other
    /// processes over the last window (waiting for the first window to pass).
    pub fn system_load(&self) -> femscale_core::SystemLoad {
        let since = self.lock().measured_at.elapsed();
        if since < LOAD_WINDOW {
            std::thread::sleep(LOAD_WINDOW - since);
        }
        let sample = self.sample();
        let mut load = femscale_core::SystemLoad::fixed(num_cores(), sample.available_memory_mb);
        if let Some(l) = sample.other_cpu_load {
            load = load.with_cpu_load(l);
        }
        load
    }
}

impl SystemLoadSource {
    fn lock(&self) -> MutexGuard<'_, LoadState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl LoadSource for SystemLoadSource {
    fn sample(&self) -> LoadSample {
        let mut st = self.lock();
        if st.measured_at.elapsed() < LOAD_WINDOW {
            if let Some(last) = st.last {
                return last;
            }
            // First window: the memory now, the CPU load not yet known (refreshing the CPU
            // counters here would shorten the first window).
            return LoadSample::new(None, Some(st.sampler.available_memory_mb()));
        }
        let s = st.sampler.sample(0.0);
        let sample = LoadSample {
            other_cpu_load: st.sampler.other_load(&s),
            available_memory_mb: Some(s.system_memory_available_mb),
        };
        st.measured_at = Instant::now();
        st.last = Some(sample);
        sample
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_source_reports_fractions() {
        let source = SystemLoadSource::new();
        let early = source.sample(); // does not wait
        assert_eq!(early.other_cpu_load, None);
        assert!(early.available_memory_mb.unwrap() > 0.0);
        let system = source.system_load(); // waits for the first window
        let s = source.sample();
        assert_eq!(source.sample(), s, "within the window the value is kept");
        let load = s.other_cpu_load.unwrap();
        assert!((0.0..=1.0).contains(&load));
        assert!(system.cores >= 1);
        assert!(system.cpu_load.is_some_and(|l| (0.0..=1.0).contains(&l)));
    }
}
