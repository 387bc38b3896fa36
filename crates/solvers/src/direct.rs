//! Sparse direct solver on faer 0.24: supernodal/simplicial Cholesky (`LLᵀ`) and LU with
//! partial pivoting.
//!
//! The matrix is handed to faer **without copying**: the CSR arrays of `A` are exactly the CSC
//! arrays of `Aᵀ`. For a symmetric matrix that *is* `A`, so Cholesky factorises the CSR buffers
//! directly (reading one triangle). For LU we factorise `Aᵀ` and solve with the transposed
//! factors: `(Aᵀ)ᵀ x = b`.
//!
//! Symmetric positive definite matrices whose entries lie within
//! [`MAX_HALF_BANDWIDTH`] diagonals of the main one (the
//! matrices of 1D problems) take the linear-time banded Cholesky of [`crate::banded`] instead
//! (reported as `direct-banded`).
//!
//! faer's low-level API is used (rather than `Llt`/`Lu`) so that the symbolic analysis can be
//! inspected before any numeric memory is committed: the exact size of `L` is known after the
//! symbolic Cholesky, which gives the memory-budget check, and the symbolic structures are kept
//! for [`PreparedSolver::update_values`].

use std::fmt;
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Instant;

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt::factor::{LltError, LltRegularization};
use faer::sparse::linalg::LuError;
use faer::sparse::linalg::cholesky::{
    CholeskySymbolicParams, LltRef, SymbolicCholesky, SymbolicCholeskyRaw, SymmetricOrdering,
    factorize_symbolic_cholesky,
};
use faer::sparse::linalg::lu::{
    LuRef, LuSymbolicParams, NumericLu, SymbolicLu, factorize_symbolic_lu,
};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};
use faer::{Conj, MatMut, Par, Side};
use femscale_core::checks::check_block;
use femscale_core::checks::{check_memory_bytes, check_square, check_system};
use femscale_core::{
    ConcurrentSolver, CsrMatrix, LinearSolver, PreparedSolver, SolveError, SolveMonitor,
    SolveReport, SolverOptions, SparsityPattern,
};

use crate::banded::{BandCholesky, BandFailure, MAX_HALF_BANDWIDTH, half_bandwidth};
use crate::iterative::{relative_residual, residual_target, rhs_norm};
use crate::kernels::Kernels;
use crate::supernodal;

/// Relative tolerance of the symmetry test that lets [`DirectMethod::Auto`] pick Cholesky.
pub const SYMMETRY_TOLERANCE: f64 = 1e-12;

/// Safety factor of the LU memory estimate over `2 nnz(L)` of the Cholesky factor of the
/// symmetrised pattern: partial pivoting adds fill and COLAMD orders worse than AMD. On a 2-D
/// Poisson problem with 10⁶ unknowns this over-estimates faer's measured LU peak by about 30%.
const LU_FILL_SAFETY: f64 = 2.0;

const F64: usize = std::mem::size_of::<f64>();
const IDX: usize = std::mem::size_of::<usize>();

/// Which factorisation [`DirectSolver`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DirectMethod {
    /// Cholesky when the matrix is symmetric (relative tolerance [`SYMMETRY_TOLERANCE`]) with a
    /// positive diagonal, falling back to LU if it turns out not to be positive definite;
    /// LU otherwise.
    #[default]
    Auto,
    /// Cholesky (`LLᵀ`); fails unless the matrix is symmetric positive definite.
    Cholesky,
    /// LU with partial pivoting, for any non-singular matrix.
    Lu,
}

/// The factorisation actually in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cholesky,
    Banded,
    Lu,
}

impl Kind {
    fn solver_name(self) -> &'static str {
        match self {
            Self::Cholesky => "direct-cholesky",
            Self::Banded => "direct-banded",
            Self::Lu => "direct-lu",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Self::Cholesky => "cholesky",
            Self::Banded => "banded-cholesky",
            Self::Lu => "lu",
        }
    }
}

/// faer's parallelism for a requested thread count.
///
/// `0` (automatic), `1` and `2` give [`faer::Par::Seq`]; only an explicit request for more than two
/// threads gives `Par::rayon(threads)`. Measured on the 2-vCPU development VM, the supernodal
/// Cholesky numeric factorisation of a 10⁶-unknown 2-D Poisson matrix took 1.2 s with
/// `Par::Seq` and 1.5–1.8 s with `Par::rayon(2)` (CPU use only ~120%), and LU gained nothing,
/// so on small machines the sequential path is the better default. faer's sparse×dense
/// products ignore `par` anyway; iterative solvers use [`crate::kernels`] instead.
pub fn faer_par(threads: usize) -> Par {
    if threads > 2 {
        Par::rayon(threads)
    } else {
        Par::Seq
    }
}

/// Sets faer's process-global parallelism (read by faer's high-level APIs such as
/// `sp_cholesky`) to [`faer_par`]`(threads)`, the same mapping the direct solver uses.
///
/// [`DirectSolver`] does not depend on this setting: it passes [`faer_par`]`(options.threads)`
/// to faer explicitly, so concurrent solves cannot change each other's parallelism. Call this
/// once at start-up if other code uses faer's high-level API; faer's own default is all cores.
pub fn set_faer_threads(threads: usize) {
    faer::set_global_parallelism(faer_par(threads));
}

fn par_threads(par: Par) -> usize {
    match par {
        Par::Seq => 1,
        Par::Rayon(n) => n.get(),
    }
}

/// Sparse direct solver (registry name `direct`) backed by faer.
///
/// Reports are named `direct-cholesky` or `direct-lu`, with `iterations = 1` and the true
/// residual `||b - A x||`. Memory for the factors is estimated after the symbolic analysis and
/// checked against [`SolverOptions::memory_limit_mb`]; the timeout is checked between the
/// symbolic and the numeric phase.
///
/// A factorization serves many right-hand sides: [`PreparedSolver::solve_many`] solves a
/// column-major block in one faer call, and the prepared solver is a
/// [`ConcurrentSolver`] ([`PreparedSolver::concurrent`]), so threads sharing it through a
/// [`femscale_core::SharedSolver`] solve at the same time:
///
/// ```
/// use std::sync::Arc;
/// use femscale_core::{CsrMatrix, LinearSolver, NoMonitor, SharedSolver, SolverOptions};
/// use femscale_solvers::DirectSolver;
///
/// let a = CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 2.0), (0, 1, -1.0), (1, 0, -1.0), (1, 1, 2.0)])?;
/// let mut prepared = DirectSolver::default().prepare(Arc::new(a), &SolverOptions::default())?;
/// // Two right-hand sides, column-major.
/// let (b, mut x) = ([1.0, 1.0, 3.0, 0.0], [0.0; 4]);
/// let reports = prepared.solve_many(&b, &mut x, &mut NoMonitor)?;
/// assert_eq!(reports.len(), 2);
/// assert!((x[0] - 1.0).abs() < 1e-14 && (x[2] - 2.0).abs() < 1e-14);
///
/// // Two threads, one factorization.
/// let shared = SharedSolver::new(prepared);
/// assert!(shared.is_concurrent());
/// std::thread::scope(|s| {
///     for column in [0, 1] {
///         let (shared, b) = (&shared, &b[2 * column..2 * column + 2]);
///         s.spawn(move || {
///             let mut y = [0.0; 2];
///             shared.solve(b, &mut y, &mut NoMonitor).unwrap();
///             assert_eq!(y, x[2 * column..2 * column + 2]);
///         });
///     }
/// });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DirectSolver {
    method: DirectMethod,
}

impl DirectSolver {
    /// A direct solver using `method`.
    pub fn new(method: DirectMethod) -> Self {
        Self { method }
    }

    /// The configured method.
    pub fn method(&self) -> DirectMethod {
        self.method
    }
}

impl LinearSolver for DirectSolver {
    fn name(&self) -> &str {
        "direct"
    }

    #[tracing::instrument(
        skip_all,
        name = "fem.solver.prepare",
        fields(solver = "direct", method = ?self.method, n = a.nrows(), nnz = a.nnz(), factorization = tracing::field::Empty)
    )]
    fn prepare(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> Result<Box<dyn PreparedSolver>, SolveError> {
        options.validate()?;
        check_square(&a)?;
        let start = Instant::now();
        let mut prepared = PreparedDirect {
            method: self.method,
            par: faer_par(options.threads),
            kernels: Kernels::with_threads(options.threads)?,
            options: options.clone(),
            matrix: a,
            llt_symbolic: None,
            lu_symbolic: None,
            nnz_l_symmetrised: None,
            numeric: Numeric::Failed,
            scratch: Mutex::new(Scratch::empty()),
            memory_bytes: 0,
            setup_seconds: 0.0,
        };
        prepared.factorize(start)?;
        prepared.setup_seconds = start.elapsed().as_secs_f64();
        let kind = prepared.kind().map(Kind::method);
        tracing::Span::current().record("factorization", kind);
        tracing::debug!(
            setup_seconds = prepared.setup_seconds,
            memory_bytes = prepared.memory_bytes,
            "direct solver prepared"
        );
        Ok(Box::new(prepared))
    }
}

/// Numeric factors.
enum Numeric {
    Cholesky {
        l_values: Vec<f64>,
    },
    /// The banded path ([`crate::banded`]).
    Banded {
        factor: BandCholesky,
    },
    Lu {
        numeric: Box<NumericLu<usize, f64>>,
    },
    /// The last (re)factorisation failed; `solve` refuses to run.
    Failed,
}

struct PreparedDirect {
    method: DirectMethod,
    par: Par,
    kernels: Kernels,
    options: SolverOptions,
    matrix: Arc<CsrMatrix>,
    llt_symbolic: Option<SymbolicCholesky<usize>>,
    lu_symbolic: Option<SymbolicLu<usize>>,
    /// `nnz(L)` of the Cholesky factor of the pattern of `A + Aᵀ`, for the LU estimate.
    nnz_l_symmetrised: Option<usize>,
    numeric: Numeric,
    /// Scratch of the solves; a solve that finds it taken (another thread's) allocates its own.
    scratch: Mutex<Scratch>,
    memory_bytes: usize,
    setup_seconds: f64,
}

impl fmt::Debug for PreparedDirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedDirect")
            .field("method", &self.method)
            .field("factorization", &self.kind().map(Kind::solver_name))
            .field("par", &self.par)
            .field("n", &self.matrix.nrows())
            .field("nnz", &self.matrix.nnz())
            .field("memory_bytes", &self.memory_bytes)
            .field("setup_seconds", &self.setup_seconds)
            .finish_non_exhaustive()
    }
}

/// The work space of a solve: faer's scratch for the triangular solves (the residual check
/// needs none: [`Kernels::residual_norm`] forms no residual vector).
struct Scratch {
    buffer: MemBuffer,
    req: StackReq,
    /// The supernodal Cholesky solve's work (`2 n`: the permuted right-hand side and one
    /// supernode's rows below its diagonal block).
    work: Vec<f64>,
}

impl Scratch {
    /// No memory yet: the set-up grows it for one right-hand side ([`Scratch::ensure`],
    /// [`Scratch::ensure_work`]); a solve of more right-hand sides may grow faer's part.
    fn empty() -> Scratch {
        Scratch {
            buffer: MemBuffer::new(StackReq::empty()),
            req: StackReq::empty(),
            work: Vec::new(),
        }
    }

    /// Grows the buffer to hold `req` (reallocating only if the size or the alignment grows:
    /// faer checks both, even for zero-sized requests).
    fn ensure(&mut self, req: StackReq, kind: Kind) -> Result<(), SolveError> {
        let current = self.req;
        if req.size_bytes() > current.size_bytes() || req.align_bytes() > current.align_bytes() {
            let req = StackReq::any_of(&[req, current]);
            self.buffer =
                MemBuffer::try_new(req).map_err(|_| alloc_error(kind, "solve workspace"))?;
            self.req = req;
        }
        Ok(())
    }

    /// Grows the supernodal solve's work to `len` values (never shrinks it).
    fn ensure_work(&mut self, len: usize, kind: Kind) -> Result<(), SolveError> {
        if self.work.len() < len {
            let more = len - self.work.len();
            (self.work.try_reserve_exact(more))
                .map_err(|_| alloc_error(kind, "solve workspace"))?;
            self.work.resize(len, 0.0);
        }
        Ok(())
    }

    fn memory_bytes(&self) -> usize {
        self.req.size_bytes() + self.work.capacity() * std::mem::size_of::<f64>()
    }
}

/// What a Cholesky solve of `k` right-hand sides needs: faer's scratch for a simplicial
/// factor, or the `2 n` values of the plain-loop supernodal solve (which uses no faer scratch).
fn cholesky_solve_needs(sym: &SymbolicCholesky<usize>, k: usize, par: Par) -> (StackReq, usize) {
    match sym.raw() {
        SymbolicCholeskyRaw::Supernodal(_) => (StackReq::empty(), 2 * sym.nrows()),
        SymbolicCholeskyRaw::Simplicial(_) => (sym.solve_in_place_scratch::<f64>(k, par), 0),
    }
}

/// `A`'s CSR arrays read as CSC: the matrix `Aᵀ`, zero-copy.
fn transpose_view(a: &CsrMatrix) -> SparseColMatRef<'_, usize, f64> {
    SparseColMatRef::new(pattern_transpose_view(a.pattern()), a.values())
}

fn pattern_transpose_view(p: &SparsityPattern) -> SymbolicSparseColMatRef<'_, usize> {
    // `SparsityPattern` guarantees sorted, unique, in-range columns, so this check cannot fail.
    SymbolicSparseColMatRef::new_checked(p.ncols(), p.nrows(), p.row_ptr(), None, p.col_idx())
}

fn symbolic_cholesky(p: &SparsityPattern) -> Result<SymbolicCholesky<usize>, SolveError> {
    factorize_symbolic_cholesky(
        pattern_transpose_view(p),
        Side::Lower,
        SymmetricOrdering::Amd,
        CholeskySymbolicParams::default(),
    )
    .map_err(|e| factorization_error(Kind::Cholesky, format!("symbolic analysis failed: {e:?}")))
}

fn symbolic_index_bytes(sym: &SymbolicCholesky<usize>) -> usize {
    let idx = match sym.raw() {
        SymbolicCholeskyRaw::Simplicial(s) => s.row_idx().len() + s.col_ptr().len(),
        SymbolicCholeskyRaw::Supernodal(s) => {
            s.row_idx().len()
                + s.col_ptr_for_row_idx().len()
                + s.col_ptr_for_val().len()
                + 2 * s.n_supernodes()
        }
    };
    (idx + 2 * sym.nrows()) * IDX
}

fn factorization_error(kind: Kind, detail: String) -> SolveError {
    SolveError::Factorization {
        method: kind.method().into(),
        detail,
    }
}

fn alloc_error(kind: Kind, what: &str) -> SolveError {
    factorization_error(kind, format!("out of memory allocating {what}"))
}

/// Symmetric with a strictly positive (stored) diagonal: worth trying Cholesky.
fn looks_spd(a: &CsrMatrix) -> bool {
    a.has_positive_diagonal() && a.is_symmetric(SYMMETRY_TOLERANCE)
}

impl PreparedDirect {
    fn kind(&self) -> Option<Kind> {
        match self.numeric {
            Numeric::Cholesky { .. } => Some(Kind::Cholesky),
            Numeric::Banded { .. } => Some(Kind::Banded),
            Numeric::Lu { .. } => Some(Kind::Lu),
            Numeric::Failed => None,
        }
    }

    fn check_budget(&self, what: &str, bytes: usize) -> Result<(), SolveError> {
        check_memory_bytes(self.options.memory_limit_mb, bytes, || what.into())
    }

    fn check_timeout(&self, start: Instant, kind: Kind) -> Result<(), SolveError> {
        if let Some(limit) = self.options.timeout_seconds {
            let elapsed = start.elapsed().as_secs_f64();
            if elapsed > limit {
                let mut report = SolveReport::new(kind.solver_name(), "none");
                report.tolerance = self.options.tolerance;
                report.setup_seconds = elapsed;
                report.threads = par_threads(self.par);
                return Err(SolveError::Timeout {
                    elapsed_seconds: elapsed,
                    limit_seconds: limit,
                    report: Box::new(report),
                });
            }
        }
        Ok(())
    }

    /// Sizes the solve scratch (faer's buffer for `req`, `work` values for the supernodal
    /// solve) for one right-hand side on the current factors, at set-up, and returns the
    /// memory the scratch holds.
    fn ensure_solve_buffer(
        &mut self,
        req: StackReq,
        work: usize,
        kind: Kind,
    ) -> Result<usize, SolveError> {
        let scratch = self
            .scratch
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        scratch.ensure(req, kind)?;
        scratch.ensure_work(work, kind)?;
        Ok(scratch.memory_bytes())
    }

    /// Symbolic (if not cached) and numeric factorisation of `self.matrix`.
    ///
    /// A symmetric positive definite candidate of half-bandwidth ≤ [`MAX_HALF_BANDWIDTH`] goes
    /// straight to the banded factorisation, which checks symmetry in its own pass; the
    /// others are checked first (positive diagonal, symmetry) and take the general sparse
    /// Cholesky. `Auto` falls back to LU when Cholesky does not apply.
    fn factorize(&mut self, start: Instant) -> Result<(), SolveError> {
        let a = Arc::clone(&self.matrix);
        if self.method == DirectMethod::Lu {
            return self.factorize_lu(&a, start);
        }
        let outcome = match half_bandwidth(a.pattern()) {
            b if b <= MAX_HALF_BANDWIDTH => self.factorize_banded(&a, b, start)?,
            // `Auto`: symmetric with a positive diagonal, or LU straight away (one check).
            _ if self.method == DirectMethod::Auto => {
                if !looks_spd(&a) {
                    return self.factorize_lu(&a, start);
                }
                self.factorize_cholesky(&a, start)?
            }
            _ if !a.is_symmetric(SYMMETRY_TOLERANCE) => CholeskyOutcome::NotSymmetric,
            _ => self.factorize_cholesky(&a, start)?,
        };
        let cholesky_error = |detail: String| Err(factorization_error(Kind::Cholesky, detail));
        match (outcome, self.method) {
            (CholeskyOutcome::Done, _) => return Ok(()),
            (CholeskyOutcome::NotSymmetric, DirectMethod::Cholesky) => {
                return cholesky_error(format!(
                    "the matrix is not symmetric (relative tolerance {SYMMETRY_TOLERANCE:e})"
                ));
            }
            (CholeskyOutcome::NotPositiveDefinite { pivot }, DirectMethod::Cholesky) => {
                return cholesky_error(format!(
                    "the matrix is not positive definite (non-positive pivot at step {pivot})"
                ));
            }
            (CholeskyOutcome::NotSymmetric, _) => {
                tracing::debug!("not symmetric: LU");
            }
            (CholeskyOutcome::NotPositiveDefinite { pivot }, _) => {
                tracing::info!(
                    pivot,
                    "Cholesky failed (matrix not positive definite), falling back to LU"
                );
            }
        }
        self.factorize_lu(&a, start)
    }

    fn factorize_cholesky(
        &mut self,
        a: &CsrMatrix,
        start: Instant,
    ) -> Result<CholeskyOutcome, SolveError> {
        let kind = Kind::Cholesky;
        if self.llt_symbolic.is_none() {
            let sym = symbolic_cholesky(a.pattern())?;
            self.nnz_l_symmetrised = Some(sym.len_val());
            self.llt_symbolic = Some(sym);
        }
        let Some(sym) = self.llt_symbolic.as_ref() else {
            unreachable!("symbolic Cholesky was just computed")
        };
        let len_val = sym.len_val();
        let factor_bytes = len_val * F64 + symbolic_index_bytes(sym);
        let scratch = sym.factorize_numeric_llt_scratch::<f64>(self.par, Default::default());
        let (solve_req, solve_work) = cholesky_solve_needs(sym, 1, self.par);
        let needed =
            factor_bytes + scratch.size_bytes() + solve_req.size_bytes() + solve_work * F64;
        self.check_budget("Cholesky factor", needed)?;
        self.check_timeout(start, kind)?;

        let mut l_values = match std::mem::replace(&mut self.numeric, Numeric::Failed) {
            Numeric::Cholesky { l_values } => l_values,
            _ => Vec::new(),
        };
        l_values.clear();
        l_values
            .try_reserve_exact(len_val)
            .map_err(|_| alloc_error(kind, "the Cholesky factor"))?;
        l_values.resize(len_val, 0.0);
        let mut scratch_buf = MemBuffer::try_new(scratch)
            .map_err(|_| alloc_error(kind, "factorisation workspace"))?;
        let result = sym.factorize_numeric_llt(
            &mut l_values,
            transpose_view(a),
            Side::Lower,
            LltRegularization::default(),
            self.par,
            MemStack::new(&mut scratch_buf),
            Default::default(),
        );
        // The numeric phase allocates nothing itself (buffers are passed in), so a non-positive
        // pivot is its only failure.
        if let Err(LltError::NonPositivePivot { index }) = result {
            return Ok(CholeskyOutcome::NotPositiveDefinite { pivot: index });
        }
        drop(scratch_buf);
        self.numeric = Numeric::Cholesky { l_values };
        self.memory_bytes = factor_bytes + self.ensure_solve_buffer(solve_req, solve_work, kind)?;
        Ok(CholeskyOutcome::Done)
    }

    /// Banded Cholesky of `a`, whose half-bandwidth is `b`.
    fn factorize_banded(
        &mut self,
        a: &CsrMatrix,
        b: usize,
        start: Instant,
    ) -> Result<CholeskyOutcome, SolveError> {
        let kind = Kind::Banded;
        let bytes = BandCholesky::bytes(a.nrows(), b);
        self.check_budget("banded Cholesky factor", bytes)?;
        self.check_timeout(start, kind)?;
        let mut storage = match std::mem::replace(&mut self.numeric, Numeric::Failed) {
            Numeric::Banded { factor } => factor.into_storage(),
            _ => Vec::new(),
        };
        storage.clear();
        storage
            .try_reserve_exact(a.nrows() * (b + 1))
            .map_err(|_| alloc_error(kind, "the banded Cholesky factor"))?;
        match BandCholesky::factorize(a, b, SYMMETRY_TOLERANCE, storage) {
            Ok(factor) => {
                self.memory_bytes = factor.memory_bytes();
                self.numeric = Numeric::Banded { factor };
                Ok(CholeskyOutcome::Done)
            }
            Err(BandFailure::NotSymmetric) => Ok(CholeskyOutcome::NotSymmetric),
            Err(BandFailure::NonPositivePivot(pivot)) => {
                Ok(CholeskyOutcome::NotPositiveDefinite { pivot })
            }
        }
    }

    fn factorize_lu(&mut self, a: &CsrMatrix, start: Instant) -> Result<(), SolveError> {
        let kind = Kind::Lu;
        let n = a.nrows();
        if self.lu_symbolic.is_none() {
            // LU of Aᵀ (the CSR arrays read as CSC); solves use the transposed factors.
            let sym = factorize_symbolic_lu(
                pattern_transpose_view(a.pattern()),
                LuSymbolicParams::default(),
            )
            .map_err(|e| factorization_error(kind, format!("symbolic analysis failed: {e:?}")))?;
            self.lu_symbolic = Some(sym);
        }
        let nnz_l = match self.nnz_l_symmetrised {
            Some(nnz) => nnz,
            None => {
                let nnz = if a.pattern().is_structurally_symmetric() {
                    symbolic_cholesky(a.pattern())?.len_val()
                } else {
                    symbolic_cholesky(&symmetrised_pattern(a.pattern())?)?.len_val()
                };
                self.nnz_l_symmetrised = Some(nnz);
                nnz
            }
        };
        let Some(sym) = self.lu_symbolic.as_ref() else {
            unreachable!("symbolic LU was just computed")
        };
        // L and U, values and row indices, with a safety factor for pivoting fill; permutations.
        let factor_bytes =
            (2.0 * LU_FILL_SAFETY * nnz_l as f64) as usize * (F64 + IDX) + 4 * n * IDX;
        let scratch = sym.factorize_numeric_lu_scratch::<f64>(self.par, Default::default());
        let solve_req = sym.solve_transpose_in_place_scratch::<f64>(1, self.par);
        let needed = factor_bytes + scratch.size_bytes() + solve_req.size_bytes();
        self.check_budget("LU factors (estimate)", needed)?;
        self.check_timeout(start, kind)?;

        let mut numeric = match std::mem::replace(&mut self.numeric, Numeric::Failed) {
            Numeric::Lu { numeric } => numeric,
            _ => Box::new(NumericLu::new()),
        };
        let mut scratch_buf = MemBuffer::try_new(scratch)
            .map_err(|_| alloc_error(kind, "factorisation workspace"))?;
        let result = sym.factorize_numeric_lu(
            &mut *numeric,
            transpose_view(a),
            self.par,
            MemStack::new(&mut scratch_buf),
            Default::default(),
        );
        match result {
            Ok(_) => {}
            Err(LuError::SymbolicSingular { index }) => {
                return Err(factorization_error(
                    kind,
                    format!("the matrix is structurally singular (no pivot found at step {index})"),
                ));
            }
            Err(LuError::Generic(e)) => return Err(factorization_error(kind, format!("{e:?}"))),
        }
        drop(scratch_buf);
        self.numeric = Numeric::Lu { numeric };
        self.memory_bytes = factor_bytes + self.ensure_solve_buffer(solve_req, 0, kind)?;
        Ok(())
    }
}

enum CholeskyOutcome {
    Done,
    NotSymmetric,
    NotPositiveDefinite { pivot: usize },
}

/// The pattern of `A + Aᵀ`.
fn symmetrised_pattern(p: &SparsityPattern) -> Result<SparsityPattern, SolveError> {
    let mut entries = Vec::with_capacity(2 * p.nnz());
    for i in 0..p.nrows() {
        for &j in p.row(i) {
            entries.push((i, j));
            entries.push((j, i));
        }
    }
    SparsityPattern::try_from_entries(p.nrows(), p.ncols(), &entries)
        .map_err(|e| SolveError::Backend(Box::new(e)))
}

impl PreparedDirect {
    /// Solves the `k` right-hand sides of the column-major block `b` (dimensions checked by
    /// the caller) into `x` with the factors, through `&self`: the scratch kept in `self` when
    /// it is free, else (another thread solving) scratch of its own. One faer call for the
    /// block; each column gets its own report and true residual.
    #[tracing::instrument(
        skip_all,
        name = "fem.solver.solve",
        fields(solver = self.kind().map(Kind::solver_name), n = self.matrix.nrows(), rhs = k)
    )]
    fn solve_block(
        &self,
        b: &[f64],
        x: &mut [f64],
        k: usize,
    ) -> Result<Vec<SolveReport>, SolveError> {
        let start = Instant::now();
        let n = self.matrix.nrows();
        let Some(kind) = self.kind() else {
            return Err(SolveError::Factorization {
                method: "direct".into(),
                detail: "no valid factorisation: the last update_values failed".into(),
            });
        };
        if k == 0 {
            return Ok(Vec::new());
        }
        // Column `c` of a block (by index: `chunks` cannot cut a block of empty columns).
        let column = |c: usize| c * n..(c + 1) * n;
        let bnorms = (0..k)
            .map(|c| rhs_norm(&self.kernels, &b[column(c)]))
            .collect::<Result<Vec<_>, _>>()?;
        let needs = match &self.numeric {
            Numeric::Banded { .. } => Some((StackReq::empty(), 0)),
            Numeric::Cholesky { .. } => self
                .llt_symbolic
                .as_ref()
                .map(|sym| cholesky_solve_needs(sym, k, self.par)),
            Numeric::Lu { .. } => self
                .lu_symbolic
                .as_ref()
                .map(|sym| (sym.solve_transpose_in_place_scratch::<f64>(k, self.par), 0)),
            Numeric::Failed => None,
        };
        let Some((req, work_len)) = needs else {
            unreachable!("factors come with their symbolic part")
        };
        let mut cached = match self.scratch.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        let mut own;
        let scratch: &mut Scratch = match cached.as_deref_mut() {
            Some(scratch) => scratch,
            None => {
                own = Scratch::empty();
                &mut own
            }
        };
        scratch.ensure(req, kind)?;
        scratch.ensure_work(work_len, kind)?;

        x.copy_from_slice(b);
        let work = &mut scratch.work[..];
        let stack = MemStack::new(&mut scratch.buffer);
        match &self.numeric {
            Numeric::Banded { factor } => {
                for c in 0..k {
                    factor.solve_in_place(&mut x[column(c)]);
                }
            }
            Numeric::Cholesky { l_values } => {
                let Some(sym) = self.llt_symbolic.as_ref() else {
                    unreachable!("Cholesky factors come with their symbolic part")
                };
                if let SymbolicCholeskyRaw::Supernodal(s) = sym.raw() {
                    // In plain loops (`supernodal`), column by column.
                    for c in 0..k {
                        let (x, work) = (&mut x[column(c)], &mut work[..2 * n]);
                        supernodal::solve_llt_in_place(s, sym.perm(), l_values, x, work);
                    }
                } else {
                    let rhs = MatMut::from_column_major_slice_mut(x, n, k);
                    LltRef::new(sym, l_values).solve_in_place_with_conj(
                        Conj::No,
                        rhs,
                        self.par,
                        stack,
                    );
                }
            }
            Numeric::Lu { numeric } => {
                let Some(sym) = self.lu_symbolic.as_ref() else {
                    unreachable!("LU factors come with their symbolic part")
                };
                let rhs = MatMut::from_column_major_slice_mut(x, n, k);
                // The factors are of Aᵀ, so A x = b is a transposed solve.
                LuRef::new_unchecked(sym, numeric).solve_transpose_in_place_with_conj(
                    Conj::No,
                    rhs,
                    self.par,
                    stack,
                );
            }
            Numeric::Failed => unreachable!("checked above"),
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            let (column, i) = (i / n, i % n);
            return Err(factorization_error(
                kind,
                format!(
                    "the solution is not finite at entry {i} (right-hand side {column}): the \
                     matrix is numerically singular"
                ),
            ));
        }

        let a = &*self.matrix;
        let seconds = start.elapsed().as_secs_f64() / k as f64;
        let reports = (0..k).zip(bnorms).map(|(c, bnorm)| {
            let (b, x) = (&b[column(c)], &x[column(c)]);
            let rnorm = self.kernels.residual_norm(a, b, x);
            let mut report = SolveReport::new(kind.solver_name(), "none");
            report.iterations = 1;
            report.initial_residual = bnorm;
            report.final_residual = rnorm;
            report.final_relative_residual = relative_residual(rnorm, bnorm);
            report.tolerance = self.options.tolerance;
            report.converged = rnorm <= residual_target(&self.options, bnorm);
            report.setup_seconds = self.setup_seconds;
            report.solve_seconds = seconds;
            report.threads = par_threads(self.par);
            report.memory_bytes = self.memory_bytes;
            report
        });
        Ok(reports.collect())
    }
}

/// The direct solver's state does not change while solving: threads share one factorization
/// ([`femscale_core::SharedSolver`] solves concurrently with it).
impl ConcurrentSolver for PreparedDirect {
    fn solve(
        &self,
        b: &[f64],
        x: &mut [f64],
        _monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError> {
        check_system(&self.matrix, b, x)?;
        let mut reports = self.solve_block(b, x, 1)?;
        Ok(reports.pop().expect("one report per right-hand side"))
    }

    fn solve_many(
        &self,
        b: &[f64],
        x: &mut [f64],
        _monitor: &mut dyn SolveMonitor,
    ) -> Result<Vec<SolveReport>, SolveError> {
        let k = check_block(&self.matrix, b, x)?;
        self.solve_block(b, x, k)
    }
}

impl PreparedSolver for PreparedDirect {
    /// Solves with the factors; `x`'s input is ignored. The monitor is not called (there are no
    /// iterations to observe). The solve succeeds whatever the residual; `converged` in the
    /// report says whether `||b - A x|| <= max(tolerance ||b||, absolute_tolerance)` holds.
    fn solve(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError> {
        ConcurrentSolver::solve(self, b, x, monitor)
    }

    /// All right-hand sides in one faer solve (the factors are read once per block); faer
    /// treats each column of the block as it treats a single right-hand side (bit-identical
    /// values in `crates/solvers/tests/many_rhs.rs`). Each report's `solve_seconds` is the block's time divided
    /// by the number of right-hand sides.
    fn solve_many(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<Vec<SolveReport>, SolveError> {
        ConcurrentSolver::solve_many(self, b, x, monitor)
    }

    fn concurrent(&self) -> Option<&dyn ConcurrentSolver> {
        Some(self)
    }

    /// Refactorises for `a`, reusing the ordering and symbolic factorisation. `a` must have the
    /// same pattern (the same `Arc`, or an equal pattern).
    #[tracing::instrument(skip_all, name = "fem.solver.update", fields(solver = "direct", n = a.nrows()))]
    fn update_values(&mut self, a: Arc<CsrMatrix>) -> Result<(), SolveError> {
        let old = self.matrix.pattern();
        if !(Arc::ptr_eq(old, a.pattern()) || **old == **a.pattern()) {
            return Err(SolveError::Factorization {
                method: self.kind().map_or("direct", Kind::method).into(),
                detail: format!(
                    "update_values needs the analysed sparsity pattern ({}x{}, {} entries), got a different \
                     one ({}x{}, {} entries); prepare a new solver instead",
                    old.nrows(),
                    old.ncols(),
                    old.nnz(),
                    a.nrows(),
                    a.ncols(),
                    a.nnz()
                ),
            });
        }
        let start = Instant::now();
        self.matrix = a;
        let result = self.factorize(start);
        if result.is_err() {
            // The old factors (if any survived) belong to the old matrix: never solve with them.
            self.numeric = Numeric::Failed;
        }
        self.setup_seconds = start.elapsed().as_secs_f64();
        result
    }

    fn matrix(&self) -> &Arc<CsrMatrix> {
        &self.matrix
    }

    fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 5-point Laplacian on an `m x m` grid plus `shift` on the diagonal.
    fn laplacian(m: usize, shift: f64) -> CsrMatrix {
        let id = |i: usize, j: usize| i * m + j;
        let mut t = Vec::new();
        for i in 0..m {
            for j in 0..m {
                t.push((id(i, j), id(i, j), 4.0 + shift));
                for (di, dj) in [(0, 1), (1, 0)] {
                    if i + di < m && j + dj < m {
                        t.push((id(i, j), id(i + di, j + dj), -1.0));
                        t.push((id(i + di, j + dj), id(i, j), -1.0));
                    }
                }
            }
        }
        CsrMatrix::try_from_triplets(m * m, m * m, &t).unwrap()
    }

    /// The supernodal solve's work (`2 n` values) is counted in the memory of the set-up (it
    /// is allocated there, not at the first solve).
    #[test]
    fn the_supernodal_solve_work_is_counted_at_set_up() {
        let a = Arc::new(laplacian(200, 0.05));
        let n = a.nrows();
        let sym = symbolic_cholesky(a.pattern()).unwrap();
        assert!(matches!(sym.raw(), SymbolicCholeskyRaw::Supernodal(_)));
        let factor = sym.len_val() * F64 + symbolic_index_bytes(&sym);
        let prepared = DirectSolver::default()
            .prepare(a, &SolverOptions::default())
            .unwrap();
        let at_set_up = prepared.memory_bytes();
        assert_eq!(at_set_up, factor + 2 * n * F64);
    }

    #[test]
    fn supernodal_loops_solve_as_faer_does() {
        let a = laplacian(200, 0.05);
        let n = a.nrows();
        let sym = symbolic_cholesky(a.pattern()).unwrap();
        let mut l = vec![0.0; sym.len_val()];
        let req = sym.factorize_numeric_llt_scratch::<f64>(Par::Seq, Default::default());
        let mut buf = MemBuffer::new(req);
        sym.factorize_numeric_llt(
            &mut l,
            transpose_view(&a),
            Side::Lower,
            LltRegularization::default(),
            Par::Seq,
            MemStack::new(&mut buf),
            Default::default(),
        )
        .unwrap();
        let b: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() + 0.1).collect();
        let mut ours = b.clone();
        let SymbolicCholeskyRaw::Supernodal(s) = sym.raw() else {
            panic!("a simplicial factor: the test needs a larger matrix");
        };
        let mut work = vec![0.0; 2 * n];
        supernodal::solve_llt_in_place(s, sym.perm(), &l, &mut ours, &mut work);
        let mut theirs = b.clone();
        let mut buf = MemBuffer::new(sym.solve_in_place_scratch::<f64>(1, Par::Seq));
        LltRef::new(&sym, &l).solve_in_place_with_conj(
            Conj::No,
            MatMut::from_column_major_slice_mut(&mut theirs, n, 1),
            Par::Seq,
            MemStack::new(&mut buf),
        );
        let scale = theirs.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let diff = (ours.iter().zip(&theirs)).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff <= 1e-13 * scale, "{diff} against {scale}");
        let mut r = vec![0.0; n];
        a.mul_vec_into(&ours, &mut r);
        let res = (r.iter().zip(&b)).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(res <= 1e-12, "residual {res}");
    }

    #[test]
    fn one_thread_mapping_for_the_solver_and_the_global_setting() {
        for threads in [0, 1, 2] {
            assert_eq!(faer_par(threads), Par::Seq, "{threads}");
        }
        assert_eq!(faer_par(3), Par::rayon(3));
        let before = faer::get_global_parallelism();
        for threads in [0, 1, 2, 3, 8] {
            set_faer_threads(threads);
            assert_eq!(
                faer::get_global_parallelism(),
                faer_par(threads),
                "{threads}"
            );
        }
        faer::set_global_parallelism(before);
    }
}
