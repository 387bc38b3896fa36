//! Symbolic and numeric factorisation of the prepared direct solver: banded, supernodal or
//! simplicial Cholesky, and LU.

use super::*;

impl PreparedDirect {
    /// Sizes the solve scratch (faer's buffer for `req`, `work` values for the supernodal
    /// solve) for one right-hand side on the current factors, at set-up, and returns the
    /// memory the scratch holds.
    pub(super) fn ensure_solve_buffer(
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
        // What the scratch grew by before is part of what it holds now.
        *self.scratch_growth.get_mut() = 0;
        Ok(scratch.memory_bytes())
    }

    /// Symbolic (if not cached) and numeric factorisation of `self.matrix`.
    ///
    /// A symmetric positive definite candidate of half-bandwidth ≤ [`MAX_HALF_BANDWIDTH`] goes
    /// straight to the banded factorisation, which checks symmetry in its own pass; the
    /// others are checked first (positive diagonal, symmetry) and take the general sparse
    /// Cholesky. `Auto` falls back to LU when Cholesky does not apply.
    pub(super) fn factorize(&mut self, start: Instant) -> Result<(), SolveError> {
        // The memory is counted afresh below (the banded path holds no solve scratch).
        *self.scratch_growth.get_mut() = 0;
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
                    "the matrix is not positive definite (non-positive pivot in row {pivot})"
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
        // With the widened columns faer reads while it factorises (`SparsityPattern::wide_col_idx`).
        let needed = factor_bytes
            + scratch.size_bytes()
            + solve_req.size_bytes()
            + solve_work * F64
            + a.nnz() * IDX;
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
            transpose_view(a, &a.pattern().wide_col_idx()),
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
        a: &Arc<CsrMatrix>,
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
            .try_reserve_exact(bytes / std::mem::size_of::<f64>())
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
                pattern_transpose_view(a.pattern(), &a.pattern().wide_col_idx()),
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
        // With the widened columns faer reads while it factorises (`SparsityPattern::wide_col_idx`).
        let needed = factor_bytes + scratch.size_bytes() + solve_req.size_bytes() + a.nnz() * IDX;
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
            transpose_view(a, &a.pattern().wide_col_idx()),
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
            let j = j as usize;
            entries.push((i, j));
            entries.push((j, i));
        }
    }
    SparsityPattern::try_from_entries(p.nrows(), p.ncols(), &entries)
        .map_err(|e| SolveError::Backend(Box::new(e)))
}
