//! Per-method options: the `[solver.gmres]`, `[solver.amg]`, `[solver.ssor]` and
//! `[solver.direct]` sections of the configuration. Each field documents its default.
//!
//! The types are `#[non_exhaustive]` (methods gain options), so a program builds them from
//! `Default::default()` with chainable `with_*` methods, one per field — the same convention
//! as [`femscale_core::SolverOptions`]; `Type { field: v, ..Default::default() }` does not
//! compile outside this crate (E0639). The methods do not check values: the solvers do when
//! they are prepared (`SolveError::InvalidOption`), the runtime when a configuration is loaded.
//!
//! ```
//! use std::sync::Arc;
//! use femscale_solvers::{AmgFactory, AmgOptions, AmgSmoother, Gmres, GmresOptions, MethodOptions};
//!
//! let amg = AmgOptions::default()
//!     .with_smoother(AmgSmoother::Jacobi)
//!     .with_sweeps(2)
//!     .with_coarse_size(500);
//! let gmres = Gmres::new(Arc::new(AmgFactory::new(amg.clone())), GmresOptions::default().with_restart(50));
//! let all = MethodOptions::default().with_amg(amg).with_gmres(GmresOptions::default().with_restart(50));
//! assert_eq!(all.amg.sweeps, 2);
//! # let _ = gmres;
//! ```

use serde::{Deserialize, Serialize};

use crate::direct::DirectMethod;

/// Options of every method, passed to the constructors in [`crate::builtin_solvers`] and
/// [`crate::builtin_preconditioners`]; each method reads its own section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MethodOptions {
    /// `[solver.gmres]`.
    pub gmres: GmresOptions,
    /// `[solver.amg]`.
    pub amg: AmgOptions,
    /// `[solver.ssor]`.
    pub ssor: SsorOptions,
    /// `[solver.direct]`.
    pub direct: DirectOptions,
}

impl MethodOptions {
    /// Sets [`MethodOptions::gmres`], the `[solver.gmres]` section.
    #[must_use]
    pub fn with_gmres(mut self, gmres: GmresOptions) -> Self {
        self.gmres = gmres;
        self
    }

    /// Sets [`MethodOptions::amg`], the `[solver.amg]` section.
    #[must_use]
    pub fn with_amg(mut self, amg: AmgOptions) -> Self {
        self.amg = amg;
        self
    }

    /// Sets [`MethodOptions::ssor`], the `[solver.ssor]` section.
    #[must_use]
    pub fn with_ssor(mut self, ssor: SsorOptions) -> Self {
        self.ssor = ssor;
        self
    }

    /// Sets [`MethodOptions::direct`], the `[solver.direct]` section.
    #[must_use]
    pub fn with_direct(mut self, direct: DirectOptions) -> Self {
        self.direct = direct;
        self
    }
}

/// Restarted GMRES.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct GmresOptions {
    /// Krylov vectors kept before a restart, `m` in GMRES(m) (default 30).
    pub restart: usize,
}

impl Default for GmresOptions {
    fn default() -> Self {
        Self { restart: 30 }
    }
}

impl GmresOptions {
    /// Sets [`GmresOptions::restart`].
    #[must_use]
    pub fn with_restart(mut self, restart: usize) -> Self {
        self.restart = restart;
        self
    }
}

/// The smoother of the AMG cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AmgSmoother {
    /// Damped Jacobi with weight `jacobi_weight` (parallel).
    Jacobi,
    /// Chebyshev polynomial smoothing of degree `chebyshev_degree` on the upper part of the
    /// spectrum of `D^-1 A` (parallel, symmetric).
    #[default]
    Chebyshev,
    /// Symmetric Gauss–Seidel: forward sweep before, backward sweep after (serial).
    SymmetricGaussSeidel,
}

/// How often the AMG cycle visits each coarse level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AmgCycle {
    /// Once per visit of the finer level.
    V,
    /// Twice per visit of the finer level (the coarsest level, solved exactly, once). With
    /// aggregates of 10–30 nodes the coarse levels are so small that this costs a few percent
    /// per cycle and keeps the convergence rate independent of the number of levels.
    #[default]
    W,
}

/// Smoothed-aggregation algebraic multigrid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AmgOptions {
    /// Strength-of-connection threshold θ: `j` is a strong neighbour of `i` when
    /// `|a_ij| >= θ sqrt(a_ii a_jj)` (default 0). The default counts every coupling, as
    /// PyAMG's and PETSc GAMG's do, except those of rounding size (`|a_ij| <= 1e-12 sqrt(a_ii
    /// a_jj)`, never a coupling whatever θ: entries that vanish in exact arithmetic). A positive θ helps anisotropic problems and builds
    /// smaller aggregates; a coupled node with no strong neighbour keeps its strongest
    /// coupling. On 3D meshes θ = 0.08 coarsens slowly (3D P1 at 274,625 unknowns: AMG set-up
    /// 1.19 s against 0.28 s at θ = 0, for 9 instead of 11 CG iterations).
    pub strength_threshold: f64,
    /// Smoother (default `chebyshev`).
    pub smoother: AmgSmoother,
    /// Smoothing sweeps before and after the coarse-grid correction (default 1).
    pub sweeps: usize,
    /// Cycle (default `w`). The W-cycle's iteration counts do not grow with the number of
    /// levels: on 2D P1 at 10⁶ unknowns 8 instead of 12 CG iterations and about 20% less
    /// set-up + solve time, on 3D P1 9 at every size from 32³ to 128³ cubes where the V-cycle
    /// needs 10 to 14.
    pub cycle: AmgCycle,
    /// Damping of the Jacobi smoother (default 2/3).
    pub jacobi_weight: f64,
    /// Degree of the Chebyshev smoother (default 2).
    pub chebyshev_degree: usize,
    /// Prolongator smoothing weight ω in `P = (I - ω/ρ D^-1 A) P_tent` (default 4/3).
    pub prolongation_weight: f64,
    /// Stop coarsening at this many unknowns; the coarsest level is solved directly
    /// (default 2000).
    pub coarse_size: usize,
    /// At most this many levels (default 20).
    pub max_levels: usize,
}

impl Default for AmgOptions {
    fn default() -> Self {
        Self {
            strength_threshold: 0.0,
            smoother: AmgSmoother::Chebyshev,
            sweeps: 1,
            cycle: AmgCycle::W,
            jacobi_weight: 2.0 / 3.0,
            chebyshev_degree: 2,
            prolongation_weight: 4.0 / 3.0,
            coarse_size: 2000,
            max_levels: 20,
        }
    }
}

impl AmgOptions {
    /// Sets [`AmgOptions::strength_threshold`].
    #[must_use]
    pub fn with_strength_threshold(mut self, strength_threshold: f64) -> Self {
        self.strength_threshold = strength_threshold;
        self
    }

    /// Sets [`AmgOptions::smoother`].
    #[must_use]
    pub fn with_smoother(mut self, smoother: AmgSmoother) -> Self {
        self.smoother = smoother;
        self
    }

    /// Sets [`AmgOptions::sweeps`].
    #[must_use]
    pub fn with_sweeps(mut self, sweeps: usize) -> Self {
        self.sweeps = sweeps;
        self
    }

    /// Sets [`AmgOptions::cycle`].
    #[must_use]
    pub fn with_cycle(mut self, cycle: AmgCycle) -> Self {
        self.cycle = cycle;
        self
    }

    /// Sets [`AmgOptions::jacobi_weight`].
    #[must_use]
    pub fn with_jacobi_weight(mut self, jacobi_weight: f64) -> Self {
        self.jacobi_weight = jacobi_weight;
        self
    }

    /// Sets [`AmgOptions::chebyshev_degree`].
    #[must_use]
    pub fn with_chebyshev_degree(mut self, chebyshev_degree: usize) -> Self {
        self.chebyshev_degree = chebyshev_degree;
        self
    }

    /// Sets [`AmgOptions::prolongation_weight`].
    #[must_use]
    pub fn with_prolongation_weight(mut self, prolongation_weight: f64) -> Self {
        self.prolongation_weight = prolongation_weight;
        self
    }

    /// Sets [`AmgOptions::coarse_size`].
    #[must_use]
    pub fn with_coarse_size(mut self, coarse_size: usize) -> Self {
        self.coarse_size = coarse_size;
        self
    }

    /// Sets [`AmgOptions::max_levels`].
    #[must_use]
    pub fn with_max_levels(mut self, max_levels: usize) -> Self {
        self.max_levels = max_levels;
        self
    }
}

/// Symmetric successive over-relaxation (ω = 1: symmetric Gauss–Seidel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SsorOptions {
    /// Relaxation factor ω in (0, 2) (default 1).
    pub omega: f64,
}

impl Default for SsorOptions {
    fn default() -> Self {
        Self { omega: 1.0 }
    }
}

impl SsorOptions {
    /// Sets [`SsorOptions::omega`].
    #[must_use]
    pub fn with_omega(mut self, omega: f64) -> Self {
        self.omega = omega;
        self
    }
}

/// The sparse direct solver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DirectOptions {
    /// `auto` (default: Cholesky when symmetric positive definite, else LU), `cholesky` or `lu`.
    pub method: DirectMethod,
}

impl DirectOptions {
    /// Sets [`DirectOptions::method`].
    #[must_use]
    pub fn with_method(mut self, method: DirectMethod) -> Self {
        self.method = method;
        self
    }
}
