//! What an adaptive solve reports: one [`AdaptiveStep`] per solve of the loop
//! solve → estimate → mark → refine, and why the loop stopped.

use serde::{Deserialize, Serialize};

/// Why an adaptive loop stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AdaptiveStop {
    /// The estimate (or the true error, when that is the target) reached `target_error`.
    #[default]
    TargetReached,
    /// Refining once more would exceed `max_dofs` unknowns.
    MaxDofs,
    /// `max_steps` solves were done.
    MaxSteps,
    /// The marking selected no cell (the estimate is zero).
    NothingMarked,
    /// Refining once more would not fit in memory (`solver.memory_limit_mb`, or the memory
    /// available): the last step that fits is the result.
    MemoryLimit,
    /// A marked cell is narrower than double precision resolves at the domain's size
    /// (`1e-10` of its extent): bisecting it further would make cells of no width.
    ResolutionLimit,
    /// The estimate is at round-off of the discrete solution's energy norm (at most `1e-10`
    /// of it): the elements reproduce the solution, and refining changes nothing.
    RoundOff,
}

impl AdaptiveStop {
    /// The name used in JSON and messages (`max_dofs`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::TargetReached => "target_reached",
            Self::MaxDofs => "max_dofs",
            Self::MaxSteps => "max_steps",
            Self::NothingMarked => "nothing_marked",
            Self::MemoryLimit => "memory_limit",
            Self::ResolutionLimit => "resolution_limit",
            Self::RoundOff => "round_off",
        }
    }
}

/// One step of an adaptive loop: the solve on one mesh and what was done after it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdaptiveStep {
    /// Unknowns of this step's mesh.
    pub dofs: usize,
    /// Cells of this step's mesh.
    pub cells: usize,
    /// Iterations of the linear solver (0 for a direct solve).
    pub iterations: usize,
    /// The relative residual tolerance this step's solve was given: `solver.tolerance`, or
    /// the looser one `adaptivity.solve_reduction` asks for.
    #[serde(default)]
    pub tolerance: f64,
    /// The a posteriori error estimate `(Σ η_K²)^{1/2}`.
    pub estimate: f64,
    /// The true energy-norm error `‖k^{1/2} ∇(u − u_h)‖` when it is known (an exact solution
    /// or `adaptivity.reference_energy`).
    pub error: Option<f64>,
    /// `estimate / error` when the error is known.
    pub effectivity: Option<f64>,
    /// The discrete energy `a(u_h, u_h)`.
    pub energy: f64,
    /// Cells marked for refinement after this step (0 on the last step).
    pub marked: usize,
    /// Seconds of mesh-to-solution for this step (mesh, pattern, assembly, constraints,
    /// solver set-up, solve).
    pub solve_seconds: f64,
    /// Seconds of the error estimate (and the true errors, when known).
    pub estimate_seconds: f64,
    /// Seconds of the marking.
    pub mark_seconds: f64,
    /// Seconds of the refinement and the transfer of the solution to the new mesh (0 on the
    /// last step).
    pub refine_seconds: f64,
}

/// The adaptive loop of a solve: its steps, finest mesh last, and why it stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdaptivityReport {
    /// Estimator used (`residual`, `zz`).
    pub estimator: String,
    /// Marking strategy used (`dorfler`, `maximum`, `fixed_fraction`).
    pub marking: String,
    /// The marking parameter θ.
    pub theta: f64,
    /// One entry per solve.
    pub steps: Vec<AdaptiveStep>,
    /// Why the loop stopped.
    pub stopped_by: AdaptiveStop,
}

impl AdaptivityReport {
    /// The last step (the reported solution's).
    pub fn last(&self) -> Option<&AdaptiveStep> {
        self.steps.last()
    }
}
