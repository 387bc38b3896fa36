//! [`Deadline`]: one wall-clock budget for a whole solve (`solver.timeout_seconds`), checked
//! between the phases of the pipeline and inside their long loops.

use std::ops::ControlFlow;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::solver::SolveMonitor;

/// A start time and an optional limit in seconds. Cheap to copy and to check (one clock read).
///
/// Limits are compared as `f64` seconds, so any finite or infinite limit is safe (no
/// `Duration` conversion that could overflow).
///
/// ```
/// use femscale_core::Deadline;
///
/// let unlimited = Deadline::new(None);
/// assert!(unlimited.check("assembly").is_ok());
/// let spent = Deadline::new(Some(0.0));
/// let e = spent.check("post").unwrap_err();
/// assert!(e.to_string().contains("post"), "{e}");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    started: Instant,
    limit_seconds: Option<f64>,
}

impl Deadline {
    /// A budget of `limit_seconds` (none: unlimited) starting now.
    pub fn new(limit_seconds: Option<f64>) -> Self {
        Self::starting_at(Instant::now(), limit_seconds)
    }

    /// A budget of `limit_seconds` that started at `started`.
    pub fn starting_at(started: Instant, limit_seconds: Option<f64>) -> Self {
        Self {
            started,
            limit_seconds,
        }
    }

    /// No limit.
    pub fn unlimited() -> Self {
        Self::new(None)
    }

    /// The limit in seconds, if any.
    pub fn limit_seconds(&self) -> Option<f64> {
        self.limit_seconds
    }

    /// Seconds since the start.
    pub fn elapsed_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Whether the budget is spent.
    pub fn expired(&self) -> bool {
        self.limit_seconds
            .is_some_and(|limit| self.elapsed_seconds() > limit)
    }

    /// `Ok` while time is left.
    ///
    /// # Errors
    /// [`Error::Timeout`] naming `phase` (the phase that was running or is about to start),
    /// the seconds spent and the limit.
    pub fn check(&self, phase: &str) -> Result<()> {
        match self.limit_seconds {
            Some(limit) => {
                let elapsed = self.elapsed_seconds();
                if elapsed > limit {
                    Err(Error::Timeout {
                        phase: phase.to_owned(),
                        elapsed_seconds: elapsed,
                        limit_seconds: limit,
                    })
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// A [`SolveMonitor`] that stops an iterative solve once the budget
    /// is spent (the solve then ends with [`SolveError::Stopped`](crate::SolveError::Stopped);
    /// see [`Deadline::check`] to turn that into a timeout).
    pub fn monitor(&self) -> DeadlineMonitor {
        DeadlineMonitor(*self)
    }
}

/// Stops an iterative solve when its [`Deadline`] is spent; see [`Deadline::monitor`].
#[derive(Debug, Clone, Copy)]
pub struct DeadlineMonitor(Deadline);

impl SolveMonitor for DeadlineMonitor {
    fn on_iteration(&mut self, _: usize, _: f64) -> ControlFlow<()> {
        if self.0.expired() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn remaining_seconds(&self) -> Option<f64> {
        (self.0.limit_seconds).map(|limit| (limit - self.0.elapsed_seconds()).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use crate::SolveMonitor;

    #[test]
    fn the_monitor_tells_what_remains() {
        assert_eq!(Deadline::unlimited().monitor().remaining_seconds(), None);
        let remaining = Deadline::new(Some(100.0))
            .monitor()
            .remaining_seconds()
            .unwrap();
        assert!(remaining > 99.0 && remaining <= 100.0, "{remaining}");
        let spent = Deadline::new(Some(0.0)).monitor().remaining_seconds();
        assert_eq!(spent, Some(0.0));
    }

    use super::*;

    #[test]
    fn names_the_phase_and_the_budget() {
        let d = Deadline::new(Some(0.0));
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(d.expired());
        match d.check("assembly") {
            Err(Error::Timeout {
                phase,
                elapsed_seconds,
                limit_seconds,
            }) => {
                assert_eq!(phase, "assembly");
                assert!(elapsed_seconds > 0.0);
                assert_eq!(limit_seconds, 0.0);
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        let e = d.check("post").unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("solver.timeout_seconds"));
        assert!(e.to_string().contains("`post` phase"), "{e}");
        // Huge limits are fine (no Duration conversion).
        assert!(Deadline::new(Some(1e300)).check("solve").is_ok());
        assert!(Deadline::new(Some(f64::INFINITY)).check("solve").is_ok());
        let mut stop = d.monitor();
        assert_eq!(stop.on_iteration(1, 0.5), ControlFlow::Break(()));
        let mut go = Deadline::unlimited().monitor();
        assert_eq!(go.on_iteration(1, 0.5), ControlFlow::Continue(()));
    }
}
