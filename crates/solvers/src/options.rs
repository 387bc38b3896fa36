//! Per-method options: the `[solver.gmres]`, `[solver.amg]`, `[solver.ssor]` and
//! `[solver.direct]` sections of the configuration. Each field documents its default.

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

/// The smoother of the AMG V-cycle.
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

/// Smoothed-aggregation algebraic multigrid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AmgOptions {
    /// Strength-of-connection threshold θ: `j` is a strong neighbour of `i` when
    /// `|a_ij| >= θ sqrt(a_ii a_jj)` (default 0.08).
    pub strength_threshold: f64,
    /// Smoother (default `chebyshev`).
    pub smoother: AmgSmoother,
    /// Smoothing sweeps before and after the coarse-grid correction (default 1).
    pub sweeps: usize,
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
            strength_threshold: 0.08,
            smoother: AmgSmoother::Chebyshev,
            sweeps: 1,
            jacobi_weight: 2.0 / 3.0,
            chebyshev_degree: 2,
            prolongation_weight: 4.0 / 3.0,
            coarse_size: 2000,
            max_levels: 20,
        }
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

/// The sparse direct solver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DirectOptions {
    /// `auto` (Cholesky when symmetric positive definite, else LU; default), `cholesky` or `lu`.
    pub method: DirectMethod,
}
