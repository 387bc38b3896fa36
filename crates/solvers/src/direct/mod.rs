//! Sparse direct solver on faer 0.24: supernodal/simplicial Cholesky (`LLᵀ`) and LU with
//! partial pivoting.
//!
//! The matrix is handed to faer without copying its values: the CSR arrays of `A` are exactly
//! the CSC arrays of `Aᵀ` (faer takes one index type for pointers and indices, so the `u32`
//! columns are widened for the factorisation, 8 bytes per entry while it runs). For a
//! symmetric matrix that *is* `A`, so Cholesky factorises the CSR values directly (reading one
//! triangle). For LU we factorise `Aᵀ` and solve with the transposed
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
use std::sync::atomic::{AtomicUsize, Ordering};
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

mod factor;
mod solve;

use solve::{Scratch, cholesky_solve_needs};

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
        Ok(Box::new(self.prepare_direct(a, options)?))
    }
}

impl DirectSolver {
    /// [`LinearSolver::prepare`], typed.
    fn prepare_direct(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> Result<PreparedDirect, SolveError> {
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
            scratch_growth: AtomicUsize::new(0),
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
        Ok(prepared)
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
    /// Bytes of the factors and of the scratch sized at set-up.
    memory_bytes: usize,
    /// Bytes the kept scratch grew by since, for blocks of right-hand sides (faer's scratch
    /// of simplicial and LU solves grows with their count).
    scratch_growth: AtomicUsize,
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

/// `A`'s CSR arrays read as CSC, with its columns widened ([`SparsityPattern::wide_col_idx`]): the matrix `Aᵀ`,
/// its values not copied.
fn transpose_view<'a>(a: &'a CsrMatrix, cols: &'a [usize]) -> SparseColMatRef<'a, usize, f64> {
    SparseColMatRef::new(pattern_transpose_view(a.pattern(), cols), a.values())
}

fn pattern_transpose_view<'a>(
    p: &'a SparsityPattern,
    cols: &'a [usize],
) -> SymbolicSparseColMatRef<'a, usize> {
    // `SparsityPattern` guarantees sorted, unique, in-range columns, so this check cannot fail.
    SymbolicSparseColMatRef::new_checked(p.ncols(), p.nrows(), p.row_ptr(), None, cols)
}

fn symbolic_cholesky(p: &SparsityPattern) -> Result<SymbolicCholesky<usize>, SolveError> {
    factorize_symbolic_cholesky(
        pattern_transpose_view(p, &p.wide_col_idx()),
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

    /// The factors and the solve scratch as held now (the scratch grows, within the memory
    /// limit, for blocks of more right-hand sides than it was sized for).
    fn memory_bytes(&self) -> usize {
        self.memory_bytes + self.scratch_growth.load(Ordering::Relaxed)
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

    /// A block of right-hand sides that grows the solve scratch (LU: faer's scratch grows with
    /// the block) is counted in the memory the solver holds and in its reports, once; under a
    /// memory limit that the growth would pass it is refused with a typed error, and single
    /// right-hand sides still solve.
    #[test]
    fn scratch_grown_by_a_block_is_counted_and_limited() {
        use femscale_core::NoMonitor;
        use femscale_core::checks::bytes_to_mb;
        // Not symmetric (a convection-like skew part): LU.
        let mut t: Vec<(usize, usize, f64)> = Vec::new();
        let m = 30;
        let base = laplacian(m, 0.0);
        for i in 0..base.nrows() {
            for &j in base.pattern().row(i) {
                let j = j as usize;
                let skew = if j > i {
                    0.3
                } else if j < i {
                    -0.3
                } else {
                    0.0
                };
                t.push((i, j, base.get(i, j) + skew));
            }
        }
        let n = base.nrows();
        let a = Arc::new(CsrMatrix::try_from_triplets(n, n, &t).unwrap());
        let prepare = |options: &SolverOptions| {
            DirectSolver::new(DirectMethod::Lu)
                .prepare(a.clone(), options)
                .unwrap()
        };
        let mut prepared = prepare(&SolverOptions::default());
        let at_set_up = prepared.memory_bytes();
        let k = 32;
        let b: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.1).sin()).collect();
        let mut x = vec![0.0; n * k];
        let reports = prepared.solve_many(&b, &mut x, &mut NoMonitor).unwrap();
        let grown = prepared.memory_bytes();
        assert!(grown > at_set_up, "{grown} <= {at_set_up}");
        assert!(reports.iter().all(|r| r.memory_bytes == grown));
        prepared.solve_many(&b, &mut x, &mut NoMonitor).unwrap();
        assert_eq!(prepared.memory_bytes(), grown);
        // A limit between the two: the block is refused, one right-hand side solves.
        let options =
            SolverOptions::default().with_memory_limit_mb(bytes_to_mb((at_set_up + grown) / 2));
        let mut limited = prepare(&options);
        assert_eq!(limited.memory_bytes(), at_set_up);
        let err = limited.solve_many(&b, &mut x, &mut NoMonitor).unwrap_err();
        assert!(
            matches!(&err, SolveError::MemoryBudget { what, .. } if what.contains("32 right-hand sides")),
            "{err}"
        );
        assert_eq!(limited.memory_bytes(), at_set_up);
        let report = limited.solve(&b[..n], &mut x[..n], &mut NoMonitor).unwrap();
        assert!(report.converged);
    }

    /// A solve that finds the kept scratch taken (another thread solving) takes scratch of
    /// its own, unless that would pass the memory limit: then it waits for the kept one.
    #[test]
    fn a_solve_waits_for_the_kept_scratch_rather_than_pass_the_memory_limit() {
        use femscale_core::checks::bytes_to_mb;
        let a = Arc::new(laplacian(200, 0.05));
        let n = a.nrows();
        let mut prepared = (DirectSolver::default())
            .prepare_direct(a, &SolverOptions::default())
            .unwrap();
        let held = prepared.memory_bytes;
        // The factor and the kept scratch (2 n values) fit; a second scratch of 2 n does not.
        // (Set after the set-up, whose factorisation workspace needs more than either.)
        let limit = bytes_to_mb(held + n * F64);
        prepared.options = SolverOptions::default().with_memory_limit_mb(limit);
        let b = vec![1.0; n];
        let taken = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _kept = prepared.scratch.lock().unwrap();
                taken.wait();
                std::thread::sleep(std::time::Duration::from_millis(100));
            });
            taken.wait();
            let mut x = vec![0.0; n];
            let reports = prepared.solve_block(&b, &mut x, 1).unwrap();
            assert!(reports[0].converged);
        });
        assert_eq!(PreparedSolver::memory_bytes(&prepared), held);
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
            transpose_view(&a, &a.pattern().wide_col_idx()),
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
