//! The coarsest-level solve: faer's sparse Cholesky (AMD ordering), called through its
//! low-level API so that a solve needs no allocation (the scratch buffer lives in the V-cycle
//! workspace). A coarse operator that is not positive definite (e.g. a singular Neumann
//! problem) falls back to the crate's [`DirectSolver`] (LU), whose solves do allocate a report.

use std::fmt;
use std::sync::Arc;

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt::factor::LltRegularization;
use faer::sparse::linalg::cholesky::{
    CholeskySymbolicParams, LltRef, SymbolicCholesky, SymmetricOrdering,
    factorize_symbolic_cholesky,
};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};
use faer::{Conj, MatMut, Par, Side};
use femscale_core::{LinearSolver, NoMonitor, PreparedSolver, SolveError, SolverOptions};

use super::csr::Mat;
use crate::direct::{DirectMethod, DirectSolver};

enum Factor {
    Cholesky {
        symbolic: Box<SymbolicCholesky<usize>>,
        values: Vec<f64>,
    },
    Direct(Box<dyn PreparedSolver>),
}

/// A factorised coarsest-level operator.
pub(crate) struct CoarseSolver {
    factor: Factor,
    scratch: StackReq,
    bytes: usize,
}

impl fmt::Debug for CoarseSolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.factor {
            Factor::Cholesky { .. } => "cholesky",
            Factor::Direct(_) => "direct",
        };
        f.debug_struct("CoarseSolver")
            .field("factor", &kind)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl CoarseSolver {
    /// Factorises `a` (symmetric; only one triangle is read by Cholesky). Fails with
    /// [`SolveError::MemoryBudget`] if the factor would exceed `limit_mb` minus `used_bytes`.
    pub fn new(a: &Mat, used_bytes: usize, limit_mb: Option<f64>) -> Result<Self, SolveError> {
        let csr = a.to_csr()?;
        let p = csr.pattern();
        // faer takes one index type for pointers and indices: the columns widened.
        let cols = p.wide_col_idx();
        let view =
            SymbolicSparseColMatRef::new_checked(p.ncols(), p.nrows(), p.row_ptr(), None, &cols);
        let symbolic = factorize_symbolic_cholesky(
            view,
            Side::Lower,
            SymmetricOrdering::Amd,
            CholeskySymbolicParams::default(),
        )
        .map_err(|e| SolveError::Factorization {
            method: "amg coarse cholesky".into(),
            detail: format!("symbolic analysis failed: {e:?}"),
        })?;
        let len = symbolic.len_val();
        let factor_scratch =
            symbolic.factorize_numeric_llt_scratch::<f64>(Par::Seq, Default::default());
        let solve = symbolic.solve_in_place_scratch::<f64>(1, Par::Seq);
        let needed = used_bytes + len * 8 + factor_scratch.size_bytes() + solve.size_bytes();
        super::setup::check_budget("amg coarse-level Cholesky factor", needed, limit_mb)?;
        let mut values = vec![0.0; len];
        let mut buf =
            MemBuffer::try_new(factor_scratch).map_err(|_| SolveError::Factorization {
                method: "amg coarse cholesky".into(),
                detail: "out of memory for the factorisation workspace".into(),
            })?;
        let result = symbolic.factorize_numeric_llt(
            &mut values,
            SparseColMatRef::new(view, csr.values()),
            Side::Lower,
            LltRegularization::default(),
            Par::Seq,
            MemStack::new(&mut buf),
            Default::default(),
        );
        if result.is_ok() {
            return Ok(Self {
                bytes: len * 8 + csr.nnz() * 8 + solve.size_bytes(),
                factor: Factor::Cholesky {
                    symbolic: Box::new(symbolic),
                    values,
                },
                scratch: solve,
            });
        }
        let mut options = SolverOptions::default();
        options.memory_limit_mb =
            limit_mb.map(|l| (l - femscale_core::checks::bytes_to_mb(used_bytes)).max(1e-6));
        let prepared = DirectSolver::new(DirectMethod::Lu).prepare(Arc::new(csr), &options)?;
        Ok(Self {
            bytes: prepared.memory_bytes(),
            factor: Factor::Direct(prepared),
            scratch: StackReq::empty(),
        })
    }

    /// A scratch buffer for [`CoarseSolver::solve`].
    pub fn scratch(&self) -> MemBuffer {
        MemBuffer::new(self.scratch)
    }

    /// Heap bytes held by the factor.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// `x = A⁻¹ b`.
    pub fn solve(&mut self, b: &[f64], x: &mut [f64], scratch: &mut MemBuffer) {
        match &mut self.factor {
            Factor::Cholesky { symbolic, values } => {
                x.copy_from_slice(b);
                let n = x.len();
                let rhs = MatMut::from_column_major_slice_mut(x, n, 1);
                LltRef::new(symbolic, values).solve_in_place_with_conj(
                    Conj::No,
                    rhs,
                    Par::Seq,
                    MemStack::new(scratch),
                );
            }
            Factor::Direct(prepared) => {
                if prepared.solve(b, x, &mut NoMonitor).is_err() {
                    x.fill(0.0);
                }
            }
        }
    }
}
