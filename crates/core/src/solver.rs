//! Linear solver, preconditioner and monitor interfaces.
//!
//! A [`LinearSolver`] is a factory: [`LinearSolver::prepare`] does the expensive, fallible work once
//! (factorisation, preconditioner set-up) and returns a [`PreparedSolver`] that solves for any
//! number of right-hand sides and can refresh its numeric part when only the matrix values change.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

pub use std::ops::ControlFlow;

use crate::error::SolveError;
use crate::pool::{PooledVec, VectorPool};
use crate::report::SolveReport;
use crate::shown::Shown;
use crate::sparse::CsrMatrix;

/// Stopping criteria and budgets shared by all solvers.
///
/// An iterative solve stops when `||b - A x|| <= max(tolerance * ||b||, absolute_tolerance)`.
///
/// The struct is `#[non_exhaustive]` (later versions may add budgets), so outside this crate
/// neither a struct literal nor `SolverOptions { max_iterations: 3, ..Default::default() }`
/// compiles (E0639). Start from [`SolverOptions::default`] and chain the `with_*` methods, one
/// per field — the convention of every options type of femscale (`AmgOptions`,
/// `GmresOptions`, `SsorOptions`, `DirectOptions` in `femscale-solvers`):
///
/// ```
/// use femscale_core::SolverOptions;
///
/// let options = SolverOptions::default()
///     .with_max_iterations(3)
///     .with_tolerance(1e-10)
///     .with_timeout_seconds(2.5);
/// assert_eq!(options.max_iterations, 3);
/// assert_eq!(options.timeout_seconds, Some(2.5));
/// assert!(options.validate().is_ok());
/// ```
///
/// The methods set values without checking them; [`SolverOptions::validate`] (which every
/// solver's `prepare` calls) refuses values out of range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SolverOptions {
    /// Relative tolerance on the residual (default `1e-8`).
    pub tolerance: f64,
    /// Absolute tolerance on the residual (default `0`).
    pub absolute_tolerance: f64,
    /// Iteration limit (default 10 000).
    pub max_iterations: usize,
    /// Wall-clock limit in seconds for set-up plus solve (default: none).
    pub timeout_seconds: Option<f64>,
    /// Memory limit for factors and preconditioners in MB (default: none).
    pub memory_limit_mb: Option<f64>,
    /// Threads for solver kernels; 0 uses the current rayon pool (default 0).
    pub threads: usize,
    /// Where work vectors come from: a pool shared by solves of the same size, or none (every
    /// vector allocated; the default). Part of the execution context, not of the problem: it
    /// is not serialised and changes no result.
    #[serde(skip)]
    pub pool: Option<Arc<VectorPool>>,
    /// A first coarse space the discretisation knows (P1 inside P2), for multigrid
    /// preconditioners; others ignore it (default: none). Like `pool`, not serialised.
    #[serde(skip)]
    pub coarse_space: Option<CoarseSpace>,
}

/// The first coarse space of a multigrid preconditioner, given by whoever knows the
/// discretisation: the prolongator `P` (`n x n_c`) from coarse values to the matrix's
/// unknowns, e.g. from the vertex values of an order-2 mesh to all its nodes. A multigrid
/// preconditioner then starts its hierarchy with the Galerkin operator `Pᵀ A P`.
#[derive(Debug, Clone)]
pub struct CoarseSpace {
    prolongator: Arc<CsrMatrix>,
}

impl CoarseSpace {
    /// The coarse space spanned by the columns of `prolongator` (`n x n_c`, `n_c < n`).
    pub fn new(prolongator: Arc<CsrMatrix>) -> Self {
        Self { prolongator }
    }

    /// The prolongator `P`.
    pub fn prolongator(&self) -> &Arc<CsrMatrix> {
        &self.prolongator
    }
}

/// Coarse spaces are equal when they share the prolongator.
impl PartialEq for CoarseSpace {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.prolongator, &other.prolongator)
    }
}

impl Default for SolverOptions {
    fn default() -> Self {
        Self {
            tolerance: 1e-8,
            absolute_tolerance: 0.0,
            max_iterations: 10_000,
            timeout_seconds: None,
            memory_limit_mb: None,
            threads: 0,
            pool: None,
            coarse_space: None,
        }
    }
}

impl SolverOptions {
    /// Sets [`SolverOptions::tolerance`], the relative residual tolerance.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Sets [`SolverOptions::absolute_tolerance`].
    #[must_use]
    pub fn with_absolute_tolerance(mut self, absolute_tolerance: f64) -> Self {
        self.absolute_tolerance = absolute_tolerance;
        self
    }

    /// Sets [`SolverOptions::max_iterations`].
    #[must_use]
    pub fn with_max_iterations(mut self, max_iterations: usize) -> Self {
        self.max_iterations = max_iterations;
        self
    }

    /// Sets [`SolverOptions::timeout_seconds`]: a number of seconds, or `None` for no limit.
    #[must_use]
    pub fn with_timeout_seconds(mut self, seconds: impl Into<Option<f64>>) -> Self {
        self.timeout_seconds = seconds.into();
        self
    }

    /// Sets [`SolverOptions::memory_limit_mb`]: MB (MiB), or `None` for no limit.
    #[must_use]
    pub fn with_memory_limit_mb(mut self, megabytes: impl Into<Option<f64>>) -> Self {
        self.memory_limit_mb = megabytes.into();
        self
    }

    /// Sets [`SolverOptions::threads`] (0: the current rayon pool).
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Sets [`SolverOptions::pool`], where work vectors come from (`None`: allocated).
    #[must_use]
    pub fn with_pool(mut self, pool: impl Into<Option<Arc<VectorPool>>>) -> Self {
        self.pool = pool.into();
        self
    }

    /// Sets [`SolverOptions::coarse_space`] (`None`: none).
    #[must_use]
    pub fn with_coarse_space(mut self, coarse_space: impl Into<Option<CoarseSpace>>) -> Self {
        self.coarse_space = coarse_space.into();
        self
    }

    /// A zero-filled work vector of `n` values from [`SolverOptions::pool`] (it returns there
    /// when dropped), or allocated when there is no pool.
    pub fn work_vector(&self, n: usize) -> PooledVec {
        VectorPool::take_from(self.pool.as_ref(), n)
    }

    /// Checks ranges: tolerances finite and non-negative (relative < 1), `max_iterations > 0`,
    /// budgets positive.
    ///
    /// # Errors
    /// [`SolveError::InvalidOption`] naming the option.
    pub fn validate(&self) -> Result<(), SolveError> {
        let bad = |option: &str, reason: String| {
            Err(SolveError::InvalidOption {
                option: option.into(),
                reason,
            })
        };
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0 && self.tolerance < 1.0) {
            return bad(
                "tolerance",
                format!("must be in [0, 1), got {}", Shown(self.tolerance)),
            );
        }
        if !(self.absolute_tolerance.is_finite() && self.absolute_tolerance >= 0.0) {
            return bad(
                "absolute_tolerance",
                format!(
                    "must be finite and >= 0, got {}",
                    Shown(self.absolute_tolerance)
                ),
            );
        }
        if self.tolerance == 0.0 && self.absolute_tolerance == 0.0 {
            return bad(
                "tolerance",
                "tolerance and absolute_tolerance cannot both be 0".into(),
            );
        }
        if self.max_iterations == 0 {
            return bad("max_iterations", "must be at least 1".into());
        }
        if let Some(t) = self.timeout_seconds
            && !(t.is_finite() && t > 0.0)
        {
            return bad(
                "timeout_seconds",
                format!("must be a positive number, got {}", Shown(t)),
            );
        }
        if let Some(m) = self.memory_limit_mb
            && !(m.is_finite() && m > 0.0)
        {
            return bad(
                "memory_limit_mb",
                format!("must be a positive number, got {}", Shown(m)),
            );
        }
        Ok(())
    }
}

/// What the planner needs to know of a registered solver, without matching on its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SolverInfo {
    /// Whether it applies the preconditioner it is built with (the sparse direct solver, AMG
    /// as a solver and plugin solvers do not: a configured one would be ignored).
    pub takes_preconditioner: bool,
    /// The preconditioner `solver.preconditioner = "auto"` gives it.
    pub default_preconditioner: &'static str,
    /// The memory model its estimate follows (`None`: not modelled, e.g. plugins).
    pub memory_model: Option<crate::SolverChoice>,
    /// The config table of its own options (`solver.gmres`), if it has one.
    pub options_section: Option<&'static str>,
    /// Whether its processes share the rows of the system ([`LinearSolver::row_share`]): every
    /// process must run each solve, so nothing may be served from a cache on one process and
    /// computed on another.
    pub distributed: bool,
}

impl SolverInfo {
    /// A preconditioned method, `default_preconditioner` for `auto`, estimated like `memory_model`.
    pub fn preconditioned(
        default_preconditioner: &'static str,
        memory_model: Option<crate::SolverChoice>,
    ) -> Self {
        Self {
            takes_preconditioner: true,
            default_preconditioner,
            memory_model,
            options_section: None,
            distributed: false,
        }
    }

    /// A method that takes no preconditioner (`auto` gives it `none`).
    pub fn unpreconditioned(memory_model: Option<crate::SolverChoice>) -> Self {
        Self {
            takes_preconditioner: false,
            default_preconditioner: "none",
            memory_model,
            options_section: None,
            distributed: false,
        }
    }

    /// This, marked as a distributed method ([`SolverInfo::distributed`]).
    #[must_use]
    pub fn distributed(mut self) -> Self {
        self.distributed = true;
        self
    }

    /// This with its options in the config table `section`.
    #[must_use]
    pub fn with_options_section(mut self, section: &'static str) -> Self {
        self.options_section = Some(section);
        self
    }
}

/// Observes an iterative solve and may stop it.
pub trait SolveMonitor {
    /// Called after each iteration with the relative residual; `Break` stops the solve with
    /// [`SolveError::Stopped`].
    fn on_iteration(&mut self, iteration: usize, relative_residual: f64) -> ControlFlow<()>;

    /// Seconds the solve may still take, if this monitor knows (a [`DeadlineMonitor`]): for
    /// solvers that cannot call [`SolveMonitor::on_iteration`] as they go (work in another
    /// process) and must bound the whole call up front. `None`: no bound known.
    ///
    /// [`DeadlineMonitor`]: crate::DeadlineMonitor
    fn remaining_seconds(&self) -> Option<f64> {
        None
    }
}

/// A monitor that never stops anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMonitor;

impl SolveMonitor for NoMonitor {
    fn on_iteration(&mut self, _: usize, _: f64) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

impl<F: FnMut(usize, f64) -> ControlFlow<()>> SolveMonitor for F {
    fn on_iteration(&mut self, iteration: usize, relative_residual: f64) -> ControlFlow<()> {
        self(iteration, relative_residual)
    }
}

/// `z = M^{-1} r` for a fixed matrix. Built by a [`PreconditionerFactory`]; never allocates per call.
pub trait Preconditioner: Send + Sync + fmt::Debug {
    /// Name for reports.
    fn name(&self) -> &str;

    /// Applies the preconditioner: `z = M^{-1} r`.
    fn apply(&self, r: &[f64], z: &mut [f64]);

    /// Heap memory held, bytes.
    fn memory_bytes(&self) -> usize {
        0
    }

    /// Why an earlier `apply` failed, taken once. `apply` has no error channel: a
    /// preconditioner that fails in it (a plugin that panicked) fills `z` with NaN, which ends
    /// the Krylov solve, and the solver reports this error instead of the breakdown it caused.
    fn take_failure(&self) -> Option<SolveError> {
        None
    }

    /// Whether [`Preconditioner::coarse_space`] gives back the coarse space this preconditioner
    /// was built on ([`SolverOptions::coarse_space`]), so that a solver which builds it again
    /// for new matrix values need not keep its own copy alive meanwhile. `false` by default.
    fn recovers_coarse_space(&self) -> bool {
        false
    }

    /// The coarse space this preconditioner was built on, rebuilt from its own storage as it
    /// uses it: building on it again gives the same preconditioner. `None` by default, and
    /// when it was built without one or did not use the one it was given (then building
    /// again without one gives the same preconditioner).
    ///
    /// # Errors
    /// If the preconditioner's storage cannot be turned back into a coarse space.
    fn coarse_space(&self) -> Result<Option<CoarseSpace>, SolveError> {
        Ok(None)
    }
}

/// Builds preconditioners for a matrix; registered by name.
pub trait PreconditionerFactory: Send + Sync + fmt::Debug {
    /// The registry name (`jacobi`, `none`, ...).
    fn name(&self) -> &'static str;

    /// Sets the preconditioner up for `a`.
    ///
    /// # Errors
    /// If `a` is unsuitable (e.g. a zero diagonal entry for Jacobi).
    fn build(&self, a: &CsrMatrix) -> Result<Box<dyn Preconditioner>, SolveError>;

    /// Sets the preconditioner up for `a` with what `options` adds (a
    /// [`SolverOptions::coarse_space`]); the default ignores them and calls
    /// [`PreconditionerFactory::build`]. Solvers call this one.
    ///
    /// # Errors
    /// As [`PreconditionerFactory::build`], or an unsuitable coarse space.
    fn build_with(
        &self,
        a: &CsrMatrix,
        options: &SolverOptions,
    ) -> Result<Box<dyn Preconditioner>, SolveError> {
        let _ = options;
        self.build(a)
    }

    /// [`PreconditionerFactory::build_with`] for a matrix the solver keeps alive in an `Arc`:
    /// the preconditioner may hold on to it instead of copying what it needs (AMG shares the
    /// values of its finest level). The default builds as `build_with` does.
    ///
    /// # Errors
    /// As [`PreconditionerFactory::build_with`].
    fn build_shared(
        &self,
        a: &Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> Result<Box<dyn Preconditioner>, SolveError> {
        self.build_with(a, options)
    }
}

/// How the processes of a distributed solver share the rows of a system (see
/// [`LinearSolver::row_share`]): each owns a block of rows, assembles them and verifies them,
/// and partial sums are combined across the processes.
#[derive(Clone)]
pub struct RowShare {
    /// The rows this process owns: it must assemble them completely (every cell touching one
    /// of them); its solver reads no other row of the matrix or right-hand side.
    pub rows: std::ops::Range<usize>,
    /// This process's rank.
    pub rank: usize,
    /// The number of processes.
    pub ranks: usize,
    /// The rows of every process, in rank order (process `r` owns the `counts[r]` rows after
    /// those of the processes before it; `rows` is this process's block).
    pub counts: Vec<usize>,
    /// Replaces `values` by their element-wise sum over the processes (collective: every
    /// process calls it with the same length).
    pub sum: SumAcross,
}

/// Element-wise sum of a vector across processes (see [`RowShare::sum`]).
pub type SumAcross = Arc<dyn Fn(&mut [f64]) -> Result<(), SolveError> + Send + Sync>;

impl fmt::Debug for RowShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowShare")
            .field("rows", &self.rows)
            .field("rank", &self.rank)
            .field("ranks", &self.ranks)
            .finish_non_exhaustive()
    }
}

impl RowShare {
    /// The same processes owning `counts[r]` rows each instead (a mesh partition's part
    /// sizes); [`LinearSolver::prepare_shared`] then splits the system that way.
    ///
    /// # Errors
    /// [`SolveError::InvalidOption`] (`row_counts`) unless there is one count per process,
    /// the counts add up to the rows shared now and every process keeps a row.
    pub fn with_counts(mut self, counts: Vec<usize>) -> Result<Self, SolveError> {
        let total: usize = self.counts.iter().sum();
        let bad = |reason: String| SolveError::InvalidOption {
            option: "row_counts".into(),
            reason,
        };
        if counts.len() != self.ranks {
            return Err(bad(format!(
                "{} counts for {} processes",
                counts.len(),
                self.ranks
            )));
        }
        if counts.contains(&0) {
            return Err(bad("every process needs at least one row".into()));
        }
        let sum = counts.iter().try_fold(0usize, |acc, &c| acc.checked_add(c));
        if sum != Some(total) {
            return Err(bad(format!("the counts do not add up to the {total} rows")));
        }
        let start: usize = counts[..self.rank].iter().sum();
        self.rows = start..start + counts[self.rank];
        self.counts = counts;
        Ok(self)
    }

    /// The largest of each process's `value` (collective; one sum of `ranks` slots).
    ///
    /// # Errors
    /// The transport's.
    pub fn max(&self, value: f64) -> Result<f64, SolveError> {
        let mut slots = vec![0.0; self.ranks];
        slots[self.rank] = value;
        (self.sum)(&mut slots)?;
        Ok(slots.into_iter().fold(f64::NEG_INFINITY, f64::max))
    }
}

/// A solver method; a factory for [`PreparedSolver`]s.
pub trait LinearSolver: Send + Sync + fmt::Debug {
    /// The registry name (`direct`, `cg`, ...).
    fn name(&self) -> &str;

    /// For a solver whose processes share the rows of an `n`-row system (MPI ranks): this
    /// process's rows and how partial sums combine. The pipeline then assembles only the cells
    /// touching these rows and verifies the solution across the processes; the rows of the
    /// matrix given to [`LinearSolver::prepare`] outside them are incomplete or empty. `None`
    /// (the default): the solver reads the whole system.
    fn row_share(&self, n: usize) -> Option<RowShare> {
        let _ = n;
        None
    }

    /// For a solver with a [`LinearSolver::row_share`]: this process failed before
    /// [`LinearSolver::prepare_shared`] (partitioning, assembly; `reason` says why). It takes
    /// part in the first collective step of the set-up, which the other processes wait in,
    /// so that they fail too — naming this process — instead of waiting for it forever (an
    /// embedding program, e.g. Python under `mpirun`, goes on after the error). Called at most
    /// once, only before `prepare_shared`. The default does nothing: a solver that overrides
    /// [`LinearSolver::row_share`] and starts its set-up with a collective step must override
    /// this too, or a rank that fails alone leaves the others waiting.
    fn abandon_shared(&self, reason: &str) {
        let _ = reason;
    }

    /// Does the set-up for `a` (factorisation, preconditioner) within the budgets of `options`.
    ///
    /// # Errors
    /// Invalid options, memory budget exceeded, failed factorisation, timeout.
    fn prepare(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> Result<Box<dyn PreparedSolver>, SolveError>;

    /// [`LinearSolver::prepare`] of a system whose rows the processes share as `share` says
    /// (a [`LinearSolver::row_share`] of this solver, possibly re-split by
    /// [`RowShare::with_counts`]). The default ignores `share`: solvers that hand out shares
    /// override it.
    ///
    /// # Errors
    /// As [`LinearSolver::prepare`].
    fn prepare_shared(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
        share: &RowShare,
    ) -> Result<Box<dyn PreparedSolver>, SolveError> {
        let _ = share;
        self.prepare(a, options)
    }
}

/// A solver set up for one matrix: solve as many right-hand sides as needed.
pub trait PreparedSolver: Send + Sync + fmt::Debug {
    /// Solves `A x = b`. `x` holds the initial guess on entry (iterative methods) and the
    /// solution on exit.
    ///
    /// # Errors
    /// Dimension mismatch, no convergence, breakdown, timeout, stopped by the monitor.
    fn solve(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError>;

    /// Solves `A X = B` for several right-hand sides stored column by column (column-major):
    /// right-hand side `k` is `b[k·n..(k+1)·n]`, its solution goes to the same range of `x`
    /// (which holds the initial guesses on entry). One report per right-hand side.
    ///
    /// The default solves them one after another with [`PreparedSolver::solve`]; a solver that
    /// solves blocks faster overrides it, with the same values as the single solves.
    ///
    /// (Example: `femscale_solvers::DirectSolver`'s documentation.)
    ///
    /// # Errors
    /// [`SolveError::DimensionMismatch`] unless `b.len()` is a multiple of `n` and
    /// `x.len() == b.len()`; otherwise the error of the first right-hand side that fails. What
    /// `x` then holds is unspecified: the default leaves the solutions before the failing one
    /// in it, a block solver may have written nothing.
    fn solve_many(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<Vec<SolveReport>, SolveError> {
        let a = Arc::clone(self.matrix());
        solve_columns(&a, b, x, |b, x| self.solve(b, x, monitor))
    }

    /// This solver as a [`ConcurrentSolver`] — solves through `&self`, so several threads can
    /// use one factorization at once — when its state does not change while solving (the
    /// sparse direct solver). `None` (the default) for solvers that keep work vectors or
    /// counters in `self`; [`SharedSolver`] then serialises their solves.
    fn concurrent(&self) -> Option<&dyn ConcurrentSolver> {
        None
    }

    /// Replaces the matrix by one with the same pattern and new values, reusing the symbolic
    /// work (ordering, elimination tree, preconditioner structure).
    ///
    /// # Errors
    /// If the pattern differs or the numeric set-up fails.
    fn update_values(&mut self, a: Arc<CsrMatrix>) -> Result<(), SolveError>;

    /// The matrix this solver is set up for.
    fn matrix(&self) -> &Arc<CsrMatrix>;

    /// Heap memory held by factors or preconditioners, bytes.
    fn memory_bytes(&self) -> usize;
}

/// Runs `solve` on each column of the column-major blocks `b` and `x` (checked with
/// [`check_block`](crate::checks::check_block)): the default of the `solve_many` methods.
///
/// # Errors
/// The dimension check's, or the first failing column's.
pub fn solve_columns(
    a: &CsrMatrix,
    b: &[f64],
    x: &mut [f64],
    mut solve: impl FnMut(&[f64], &mut [f64]) -> Result<SolveReport, SolveError>,
) -> Result<Vec<SolveReport>, SolveError> {
    let k = crate::checks::check_block(a, b, x)?;
    if k == 0 {
        return Ok(Vec::new());
    }
    let n = a.nrows();
    b.chunks_exact(n)
        .zip(x.chunks_exact_mut(n))
        .map(|(b, x)| solve(b, x))
        .collect()
}

/// The solves of a prepared solver through a shared reference: several threads solve with
/// one factorization at once. Offered by [`PreparedSolver::concurrent`] for solvers whose
/// state is immutable after set-up (each call takes its own scratch space); the results are
/// those of [`PreparedSolver::solve`] and [`PreparedSolver::solve_many`], bit for bit.
pub trait ConcurrentSolver: Send + Sync {
    /// As [`PreparedSolver::solve`], through `&self`.
    ///
    /// # Errors
    /// As [`PreparedSolver::solve`].
    fn solve(
        &self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError>;

    /// As [`PreparedSolver::solve_many`], through `&self`.
    ///
    /// # Errors
    /// As [`PreparedSolver::solve_many`].
    fn solve_many(
        &self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<Vec<SolveReport>, SolveError>;
}

/// A prepared solver shared by threads: `Send + Sync`, cloned cheaply (one `Arc`), solving
/// through `&self`. Solvers with a [`ConcurrentSolver`] path (the sparse direct solver) solve
/// concurrently under a read lock; the others (Krylov solvers keep work vectors in `self`,
/// plugins) one at a time under the write lock, with the same results either way.
/// [`SharedSolver::update_values`] takes the write lock, so no solve sees half-updated factors.
///
/// (Example with two threads: `femscale_solvers::DirectSolver`'s documentation.)
#[derive(Debug, Clone)]
pub struct SharedSolver {
    inner: Arc<RwLock<Box<dyn PreparedSolver>>>,
}

impl SharedSolver {
    /// Shares `prepared`.
    pub fn new(prepared: Box<dyn PreparedSolver>) -> Self {
        Self {
            inner: Arc::new(RwLock::new(prepared)),
        }
    }

    /// Whether solves run concurrently ([`PreparedSolver::concurrent`]) rather than one at a
    /// time.
    pub fn is_concurrent(&self) -> bool {
        self.read().concurrent().is_some()
    }

    /// Solves `A x = b` (see [`PreparedSolver::solve`]).
    ///
    /// # Errors
    /// As [`PreparedSolver::solve`].
    pub fn solve(
        &self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError> {
        {
            let prepared = self.read();
            if let Some(concurrent) = prepared.concurrent() {
                return concurrent.solve(b, x, monitor);
            }
        }
        self.write().solve(b, x, monitor)
    }

    /// Solves a column-major block of right-hand sides (see [`PreparedSolver::solve_many`]).
    ///
    /// # Errors
    /// As [`PreparedSolver::solve_many`].
    pub fn solve_many(
        &self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<Vec<SolveReport>, SolveError> {
        {
            let prepared = self.read();
            if let Some(concurrent) = prepared.concurrent() {
                return concurrent.solve_many(b, x, monitor);
            }
        }
        self.write().solve_many(b, x, monitor)
    }

    /// New values on the same pattern (see [`PreparedSolver::update_values`]), once every
    /// running solve has finished.
    ///
    /// # Errors
    /// As [`PreparedSolver::update_values`].
    pub fn update_values(&self, a: Arc<CsrMatrix>) -> Result<(), SolveError> {
        self.write().update_values(a)
    }

    /// The matrix the solver is set up for.
    pub fn matrix(&self) -> Arc<CsrMatrix> {
        Arc::clone(self.read().matrix())
    }

    /// Heap memory held by factors or preconditioners, bytes.
    pub fn memory_bytes(&self) -> usize {
        self.read().memory_bytes()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Box<dyn PreparedSolver>> {
        // A panic in another thread's solve leaves the factors as they were: still usable.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Box<dyn PreparedSolver>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl From<Box<dyn PreparedSolver>> for SharedSolver {
    fn from(prepared: Box<dyn PreparedSolver>) -> Self {
        Self::new(prepared)
    }
}
