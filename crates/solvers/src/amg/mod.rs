//! Smoothed-aggregation algebraic multigrid (registry name `amg`), as a preconditioner
//! ([`AmgFactory`], for CG) and as a standalone stationary solver ([`AmgSolver`]).
//!
//! Set-up per level: symmetric strength graph (`|a_ij| >= θ sqrt(a_ii a_jj)`), greedy
//! aggregation, tentative prolongator with the constant near-nullspace, Jacobi-smoothed
//! prolongator `P = (I - ω/ρ D⁻¹A) P_tent`, explicit `R = Pᵀ` and the Galerkin operator
//! `R A P` by parallel SpGEMM; coarsening stops at `coarse_size` unknowns, `max_levels` levels
//! or when it stalls (more than 90% of the unknowns kept), and the coarsest level is factorised
//! by faer's sparse Cholesky. `ρ`, the spectral radius of `D⁻¹A`, is the Gershgorin bound on
//! a finest level that is an M-matrix (P1, Q1) and a 10-step Lanczos estimate (clamped by
//! Gershgorin) on coarser levels and on finest levels with positive couplings (P2, Q2).
//!
//! A caller that knows the discretisation may give the first coarse level
//! ([`femscale_core::CoarseSpace`], e.g. P1 inside P2 on the same mesh): its prolongator is
//! used unsmoothed and the aggregation starts on `Pᵀ A P`.
//!
//! The cycle (V or W, [`AmgHierarchy`] implements [`Preconditioner`]) uses the configured smoother
//! before and after the coarse-grid correction and is symmetric positive definite for a
//! symmetric positive definite matrix, so it is a valid CG preconditioner. It allocates nothing:
//! its work vectors live behind a mutex locked once per application.

mod aggregate;
mod coarse;
mod csr;
mod cycle;
pub mod parts;
mod prolongation;
mod setup;
mod smoother;
mod solver;
mod spgemm;
mod strength;
mod transfer_matrix;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use femscale_core::{
    CoarseSpace, CsrMatrix, Preconditioner, PreconditionerFactory, SolveError, SolverOptions,
    SparsityPattern,
};

use crate::options::{AmgOptions, MethodOptions};
use cycle::Workspace;
use setup::{Budget, Level};

pub use solver::AmgSolver;

/// Builds AMG hierarchies (registry name `amg`) with the given options.
#[derive(Debug, Clone, Default)]
pub struct AmgFactory {
    options: AmgOptions,
}

impl AmgFactory {
    /// A factory with `options` (validated when a hierarchy is built).
    pub fn new(options: AmgOptions) -> Self {
        Self { options }
    }

    /// The options.
    pub fn options(&self) -> &AmgOptions {
        &self.options
    }

    /// Builds the hierarchy for `a`, failing with [`SolveError::MemoryBudget`] if its estimated
    /// size (checked before each level is built) exceeds `memory_limit_mb`, and with
    /// [`SolveError::Timeout`] if `deadline` passes (checked between levels).
    ///
    /// # Errors
    /// Invalid options ([`SolveError::InvalidOption`], option names `amg.*`), a non-square
    /// matrix, a non-positive diagonal, a failed coarse factorisation, or the budgets.
    pub fn build_with_budget(
        &self,
        a: &CsrMatrix,
        memory_limit_mb: Option<f64>,
        deadline: Option<Instant>,
    ) -> Result<AmgHierarchy, SolveError> {
        self.build_on(a, None, memory_limit_mb, deadline)
    }

    /// As [`AmgFactory::build_with_budget`], with the first coarse level given by `first` (its
    /// prolongator used as is, the next levels by smoothed aggregation) when `a` has more than
    /// `coarse_size` rows.
    ///
    /// # Errors
    /// As [`AmgFactory::build_with_budget`]; [`SolveError::InvalidOption`] (`coarse_space`)
    /// for a prolongator that is not `n x n_c` with `0 < n_c < n`.
    pub fn build_on(
        &self,
        a: &CsrMatrix,
        first: Option<&CoarseSpace>,
        memory_limit_mb: Option<f64>,
        deadline: Option<Instant>,
    ) -> Result<AmgHierarchy, SolveError> {
        self.build_from(a, None, first, memory_limit_mb, deadline)
    }

    /// As [`AmgFactory::build_on`], the finest level sharing the arrays of `a` rather than
    /// copying them when `a` stores few zeros off the diagonal
    /// ([`femscale_core::few_stored_zeros`]; 12 bytes per entry and 8 per row less).
    ///
    /// # Errors
    /// As [`AmgFactory::build_on`].
    pub fn build_on_shared(
        &self,
        a: &Arc<CsrMatrix>,
        first: Option<&CoarseSpace>,
        memory_limit_mb: Option<f64>,
        deadline: Option<Instant>,
    ) -> Result<AmgHierarchy, SolveError> {
        self.build_from(a, Some(a), first, memory_limit_mb, deadline)
    }

    fn build_from(
        &self,
        a: &CsrMatrix,
        shared: Option<&Arc<CsrMatrix>>,
        first: Option<&CoarseSpace>,
        memory_limit_mb: Option<f64>,
        deadline: Option<Instant>,
    ) -> Result<AmgHierarchy, SolveError> {
        validate_options(&self.options)?;
        femscale_core::checks::check_square(a)?;
        let start = Instant::now();
        let budget = Budget {
            limit_mb: memory_limit_mb,
            deadline,
            start,
        };
        let (levels, coarse) = setup::build(a, shared, first, &self.options, &budget)?;
        let workspace = Workspace::new(&levels, coarse, self.options.cycle);
        let mut hierarchy = AmgHierarchy {
            options: self.options.clone(),
            pattern: Arc::clone(a.pattern()),
            levels,
            workspace: Mutex::new(workspace),
            limit_mb: memory_limit_mb,
            given_space: first.is_some(),
            info: Vec::new(),
        };
        hierarchy.refresh_info();
        setup::check_budget("amg hierarchy", hierarchy.memory_bytes(), memory_limit_mb)?;
        tracing::debug!(
            levels = hierarchy.num_levels(),
            operator_complexity = hierarchy.operator_complexity(),
            seconds = start.elapsed().as_secs_f64(),
            "amg hierarchy built"
        );
        Ok(hierarchy)
    }
}

impl PreconditionerFactory for AmgFactory {
    fn name(&self) -> &'static str {
        "amg"
    }

    /// Builds the hierarchy without budgets (see [`AmgFactory::build_with_budget`]).
    fn build(&self, a: &CsrMatrix) -> Result<Box<dyn Preconditioner>, SolveError> {
        Ok(Box::new(self.build_with_budget(a, None, None)?))
    }

    /// Builds the hierarchy on `options.coarse_space` when there is one (see
    /// [`AmgFactory::build_on`]), without budgets.
    fn build_with(
        &self,
        a: &CsrMatrix,
        options: &SolverOptions,
    ) -> Result<Box<dyn Preconditioner>, SolveError> {
        let first = options.coarse_space.as_ref();
        Ok(Box::new(self.build_on(a, first, None, None)?))
    }

    /// As `build_with`, the finest level sharing the arrays of `a` (see
    /// [`AmgFactory::build_on_shared`]).
    fn build_shared(
        &self,
        a: &Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> Result<Box<dyn Preconditioner>, SolveError> {
        let first = options.coarse_space.as_ref();
        Ok(Box::new(self.build_on_shared(a, first, None, None)?))
    }
}

/// Size of one level of an [`AmgHierarchy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LevelInfo {
    /// Unknowns.
    pub rows: usize,
    /// Stored entries of the level operator.
    pub nnz: usize,
}

/// A built AMG hierarchy: levels, coarse factor and cycle workspace. Applying it as a
/// [`Preconditioner`] runs one cycle ([`AmgOptions::cycle`]).
#[derive(Debug)]
pub struct AmgHierarchy {
    options: AmgOptions,
    /// The pattern of the matrix the hierarchy was built for (its finest level may store
    /// fewer entries: the stored zeros filtered out).
    pattern: Arc<SparsityPattern>,
    levels: Vec<Level>,
    workspace: Mutex<Workspace>,
    limit_mb: Option<f64>,
    /// Built with a given first coarse space (used, unless the matrix was small enough to be
    /// solved directly).
    given_space: bool,
    info: Vec<LevelInfo>,
}

impl AmgHierarchy {
    /// Rows and entries per level, finest first.
    pub fn levels(&self) -> &[LevelInfo] {
        &self.info
    }

    /// Number of levels (1 when the matrix is at most `coarse_size`: a direct solve).
    pub fn num_levels(&self) -> usize {
        self.levels.len()
    }

    /// Operator complexity: entries of all level operators over those of the finest.
    pub fn operator_complexity(&self) -> f64 {
        let total: usize = self.info.iter().map(|l| l.nnz).sum();
        total as f64 / self.info[0].nnz.max(1) as f64
    }

    /// Grid complexity: unknowns of all levels over those of the finest.
    pub fn grid_complexity(&self) -> f64 {
        let total: usize = self.info.iter().map(|l| l.rows).sum();
        total as f64 / self.info[0].rows.max(1) as f64
    }

    /// The options the hierarchy was built with.
    pub fn options(&self) -> &AmgOptions {
        &self.options
    }

    /// One cycle `z = M⁻¹ r` without locking (exclusive access).
    ///
    /// # Panics
    /// If `r` or `z` does not have the matrix's length.
    pub fn apply_mut(&mut self, r: &[f64], z: &mut [f64]) {
        let ws = self
            .workspace
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        run_cycle(&self.levels, ws, r, z);
    }

    /// Recomputes the hierarchy for new values of the matrix (same sparsity pattern), keeping
    /// the strength graphs' result — the aggregations, i.e. the tentative prolongators — and
    /// redoing only the numeric work: diagonal and spectral bounds, prolongator smoothing, the
    /// Galerkin products and the coarse factorisation.
    ///
    /// # Errors
    /// [`SolveError::Factorization`] if `a` does not have the pattern the hierarchy was built
    /// for or a diagonal entry is not positive; the coarse factorisation's errors. After an
    /// error the hierarchy must not be used.
    pub fn update_values(&mut self, a: &CsrMatrix) -> Result<(), SolveError> {
        if !Arc::ptr_eq(a.pattern(), &self.pattern) && **a.pattern() != *self.pattern {
            return Err(SolveError::Factorization {
                method: "amg".into(),
                detail: "update_values needs the sparsity pattern the hierarchy was built for; \
                         build a new hierarchy instead"
                    .into(),
            });
        }
        let coarse = setup::refresh(&mut self.levels, a, &self.options, self.limit_mb)?;
        let ws = self
            .workspace
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ws.coarse = coarse;
        self.refresh_info();
        Ok(())
    }

    /// Heap bytes of the hierarchy: operators, transfers, smoother data, work vectors and the
    /// coarse factor.
    pub fn memory_bytes(&self) -> usize {
        let ws = self
            .workspace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.levels.iter().map(Level::bytes).sum::<usize>() + ws.bytes()
    }

    /// The finest level's operator in the hierarchy's storage (for residuals).
    fn fine(&self) -> &csr::Mat {
        &self.levels[0].a
    }

    fn refresh_info(&mut self) {
        self.info = self
            .levels
            .iter()
            .map(|l| LevelInfo {
                rows: l.a.nrows,
                nnz: l.a.nnz(),
            })
            .collect();
    }
}

fn run_cycle(levels: &[Level], ws: &mut Workspace, r: &[f64], z: &mut [f64]) {
    let n = levels[0].a.nrows;
    assert!(
        r.len() == n && z.len() == n,
        "amg: vectors have lengths {} and {}, the matrix has {n} rows",
        r.len(),
        z.len()
    );
    cycle::run(levels, ws, r, z);
}

impl Preconditioner for AmgHierarchy {
    fn name(&self) -> &str {
        "amg"
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        let mut ws = self
            .workspace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        run_cycle(&self.levels, &mut ws, r, z);
    }

    fn memory_bytes(&self) -> usize {
        AmgHierarchy::memory_bytes(self)
    }

    fn recovers_coarse_space(&self) -> bool {
        self.given_space
    }

    /// The given first prolongator as the finest level applies it (in single precision,
    /// widened back exactly: rounding it again changes nothing, so a hierarchy built on it is
    /// this one).
    fn coarse_space(&self) -> Result<Option<CoarseSpace>, SolveError> {
        // A given prolongator has no aggregation (see `Fine::aggs`).
        let given = (self.levels.first().and_then(|l| l.fine.as_ref()))
            .filter(|fine| self.given_space && fine.aggs.is_none());
        let Some(fine) = given else {
            return Ok(None);
        };
        let p = fine.p.to_csr().map_err(|e| SolveError::InvalidOption {
            option: "coarse_space".into(),
            reason: format!("the prolongator in single precision cannot be widened back: {e}"),
        })?;
        Ok(Some(CoarseSpace::new(Arc::new(p))))
    }
}

/// Checks the ranges of the AMG options.
///
/// # Errors
/// [`SolveError::InvalidOption`] naming the option (`amg.strength_threshold`, `amg.sweeps`,
/// `amg.jacobi_weight`, `amg.chebyshev_degree`, `amg.prolongation_weight`, `amg.coarse_size`,
/// `amg.max_levels`).
pub fn validate_options(o: &AmgOptions) -> Result<(), SolveError> {
    let bad = |option: &str, reason: String| {
        Err(SolveError::InvalidOption {
            option: format!("amg.{option}"),
            reason,
        })
    };
    if !(o.strength_threshold.is_finite() && (0.0..=1.0).contains(&o.strength_threshold)) {
        return bad(
            "strength_threshold",
            format!("must be in [0, 1], got {}", o.strength_threshold),
        );
    }
    if o.sweeps == 0 {
        return bad("sweeps", "must be at least 1".into());
    }
    if !(o.jacobi_weight > 0.0 && o.jacobi_weight <= 1.0) {
        return bad(
            "jacobi_weight",
            format!("must be in (0, 1], got {}", o.jacobi_weight),
        );
    }
    if o.chebyshev_degree == 0 {
        return bad("chebyshev_degree", "must be at least 1".into());
    }
    if !(o.prolongation_weight.is_finite()
        && o.prolongation_weight > 0.0
        && o.prolongation_weight < 2.0)
    {
        return bad(
            "prolongation_weight",
            format!("must be in (0, 2), got {}", o.prolongation_weight),
        );
    }
    if o.coarse_size == 0 {
        return bad("coarse_size", "must be at least 1".into());
    }
    if o.max_levels < 2 {
        return bad(
            "max_levels",
            format!("must be at least 2, got {}", o.max_levels),
        );
    }
    Ok(())
}

/// Registry constructor of the `amg` preconditioner: an [`AmgFactory`] with `options.amg`.
pub fn new_amg_preconditioner(options: &MethodOptions) -> Arc<dyn PreconditionerFactory> {
    Arc::new(AmgFactory::new(options.amg.clone()))
}

/// Registry constructor of the standalone `amg` solver: an [`AmgSolver`] with `options.amg`
/// (the preconditioner argument is ignored: the cycle is the iteration).
pub fn new_amg_solver(
    _preconditioner: Arc<dyn PreconditionerFactory>,
    options: &MethodOptions,
) -> Box<dyn femscale_core::LinearSolver> {
    Box::new(AmgSolver::new(options.amg.clone()))
}
