//! `[adaptivity]`: the adaptive loop solve → estimate → mark → refine (`docs/adaptivity.md`).

use femscale_assembly::{Estimator, Marking};
use femscale_core::shown::Shown;
use femscale_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Largest `adaptivity.max_steps`.
pub const MAX_ADAPTIVE_STEPS: usize = 1000;

/// The a posteriori error estimator that drives the marking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EstimatorKind {
    /// The residual estimator: cell residuals and flux jumps across facets.
    #[default]
    Residual,
    /// Zienkiewicz–Zhu gradient recovery.
    Zz,
}

impl EstimatorKind {
    /// The name in configs and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Residual => "residual",
            Self::Zz => "zz",
        }
    }
}

/// How cells are selected for refinement from their indicators `η_K`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkingKind {
    /// Dörfler (bulk): the fewest cells whose `Σ η_K²` is at least `θ Σ η²`.
    #[default]
    Dorfler,
    /// Every cell with `η_K ≥ θ max η`.
    Maximum,
    /// The fraction `θ` of the cells with the largest `η_K`.
    FixedFraction,
}

impl MarkingKind {
    /// The name in configs and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Dorfler => "dorfler",
            Self::Maximum => "maximum",
            Self::FixedFraction => "fixed-fraction",
        }
    }
}

/// What `adaptivity.target_error` bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdaptiveTarget {
    /// The estimate `(Σ η_K²)^{1/2}`.
    #[default]
    Estimate,
    /// The true energy error (needs `problem.exact` or `adaptivity.reference_energy`).
    Error,
}

/// `[adaptivity]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AdaptivityConfig {
    /// Run the adaptive loop (default `false`). `scaling.enable_adaptive_mesh = true` also
    /// switches it on.
    pub enabled: bool,
    /// `residual` (default) or `zz`.
    pub estimator: EstimatorKind,
    /// `dorfler` (default), `maximum` or `fixed-fraction`.
    pub marking: MarkingKind,
    /// The marking parameter θ (default 0.5): in (0, 1] for `dorfler` and `fixed-fraction`,
    /// in [0, 1] for `maximum`.
    pub theta: f64,
    /// Stop when the target quantity is at most this (default: none).
    pub target_error: Option<f64>,
    /// `estimate` (default) or `error`: what `target_error` bounds.
    pub target: AdaptiveTarget,
    /// Stop before a refinement that would give more unknowns than this (default 1000000).
    pub max_dofs: usize,
    /// At most this many solves (default 30).
    pub max_steps: usize,
    /// `E = a(u, u)` of the exact solution, when known without a formula for `u`: each step
    /// then reports the energy error `(E − 2ℓ(u_h) + a(u_h, u_h))^{1/2}` of the computed `u_h`
    /// (valid for homogeneous Dirichlet data).
    pub reference_energy: Option<f64>,
    /// Nested iteration: each step after the first solves only until the residual of the
    /// solution interpolated from the previous mesh is reduced by this factor, in (0, 1)
    /// (never tighter than `solver.tolerance`; default: none, every step to
    /// `solver.tolerance`). Not applied with distributed solvers (ranks would derive
    /// different tolerances) nor with direct ones. The last step's solution, returned, keeps
    /// its loosened tolerance.
    pub solve_reduction: Option<f64>,
}

impl Default for AdaptivityConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            estimator: EstimatorKind::Residual,
            marking: MarkingKind::Dorfler,
            theta: 0.5,
            target_error: None,
            target: AdaptiveTarget::Estimate,
            max_dofs: 1_000_000,
            max_steps: 30,
            reference_energy: None,
            solve_reduction: None,
        }
    }
}

impl AdaptivityConfig {
    /// The marking strategy with its θ.
    pub fn marking(&self) -> Marking {
        let theta = self.theta;
        match self.marking {
            MarkingKind::Dorfler => Marking::Dorfler { theta },
            MarkingKind::Maximum => Marking::Maximum { theta },
            MarkingKind::FixedFraction => Marking::FixedFraction { theta },
        }
    }

    /// The estimator.
    pub fn estimator(&self) -> Estimator {
        match self.estimator {
            EstimatorKind::Residual => Estimator::Residual,
            EstimatorKind::Zz => Estimator::Recovery,
        }
    }

    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the `adaptivity.` key.
    pub fn check(&self) -> Result<()> {
        self.marking().check()?;
        if let Some(t) = self.target_error
            && !(t.is_finite() && t > 0.0)
        {
            return Err(Error::invalid(
                "adaptivity.target_error",
                format!("must be a positive number, got {}", Shown(t)),
            ));
        }
        if let Some(e) = self.reference_energy
            && !(e.is_finite() && e >= 0.0)
        {
            return Err(Error::invalid(
                "adaptivity.reference_energy",
                format!("must be a non-negative number, got {}", Shown(e)),
            ));
        }
        if let Some(r) = self.solve_reduction
            && !(r > 0.0 && r < 1.0)
        {
            return Err(Error::invalid(
                "adaptivity.solve_reduction",
                format!(
                    "must be a number between 0 and 1 (exclusive), got {}",
                    Shown(r)
                ),
            ));
        }
        super::check_count(
            "adaptivity.max_dofs",
            self.max_dofs,
            1,
            femscale_mesh::MAX_GENERATED_NODES,
        )?;
        super::check_count(
            "adaptivity.max_steps",
            self.max_steps,
            1,
            MAX_ADAPTIVE_STEPS,
        )
    }
}
