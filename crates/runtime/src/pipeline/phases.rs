//! Timed pipeline phases: each runs inside its `fem.phase` span, adds its seconds to the
//! report's [`PhaseTimings`] and ends with the solve's deadline check, so a stage states only
//! what it computes.

use std::time::Instant;

use femscale_core::{Deadline, PhaseTimings, Result};

/// One phase of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Mesh,
    Pattern,
    Assembly,
    BoundaryConditions,
    Setup,
    Solve,
    Post,
}

impl Phase {
    /// The name in spans, timeouts and the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Mesh => "mesh",
            Phase::Pattern => "pattern",
            Phase::Assembly => "assembly",
            Phase::BoundaryConditions => "boundary_conditions",
            Phase::Setup => "setup",
            Phase::Solve => "solve",
            Phase::Post => "post",
        }
    }

    fn slot(self, t: &mut PhaseTimings) -> &mut f64 {
        match self {
            Phase::Mesh => &mut t.mesh,
            Phase::Pattern => &mut t.pattern,
            Phase::Assembly => &mut t.assembly,
            Phase::BoundaryConditions => &mut t.boundary_conditions,
            Phase::Setup => &mut t.setup,
            Phase::Solve => &mut t.solve,
            Phase::Post => &mut t.post,
        }
    }
}

/// The phase timings of one solve and the deadline every phase is checked against.
#[derive(Debug)]
pub(crate) struct PhaseClock<'a> {
    pub(crate) timings: PhaseTimings,
    deadline: &'a Deadline,
}

impl<'a> PhaseClock<'a> {
    pub(crate) fn new(deadline: &'a Deadline) -> Self {
        Self {
            timings: PhaseTimings::default(),
            deadline,
        }
    }

    /// The solve's deadline (for work that checks it while it runs).
    pub(crate) fn deadline(&self) -> &'a Deadline {
        self.deadline
    }

    /// Runs `f` as `phase`: in its span, timed, then the deadline checked.
    ///
    /// # Errors
    /// What `f` returns, or the timeout naming `phase` when the budget ran out.
    pub(crate) fn run<T>(&mut self, phase: Phase, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let span = tracing::info_span!("fem.phase", phase = phase.name()).entered();
        let started = Instant::now();
        let out = f()?;
        *phase.slot(&mut self.timings) += started.elapsed().as_secs_f64();
        drop(span);
        self.deadline.check(phase.name())?;
        Ok(out)
    }
}
