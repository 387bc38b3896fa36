//! The prepared direct solver's solves: the scratch they share and the block solve with
//! its reports.

use super::*;

/// The work space of a solve: faer's scratch for the triangular solves (the residual check
/// needs none: [`Kernels::residual_norm`] forms no residual vector).
pub(super) struct Scratch {
    buffer: MemBuffer,
    req: StackReq,
    /// The supernodal Cholesky solve's work (`2 n`: the permuted right-hand side and one
    /// supernode's rows below its diagonal block).
    work: Vec<f64>,
}

impl Scratch {
    /// No memory yet: the set-up grows it for one right-hand side ([`Scratch::ensure`],
    /// [`Scratch::ensure_work`]); a solve of more right-hand sides may grow faer's part.
    pub(super) fn empty() -> Scratch {
        Scratch {
            buffer: MemBuffer::new(StackReq::empty()),
            req: StackReq::empty(),
            work: Vec::new(),
        }
    }

    /// Grows the buffer to hold `req` (reallocating only if the size or the alignment grows:
    /// faer checks both, even for zero-sized requests).
    pub(super) fn ensure(&mut self, req: StackReq, kind: Kind) -> Result<(), SolveError> {
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
    pub(super) fn ensure_work(&mut self, len: usize, kind: Kind) -> Result<(), SolveError> {
        if self.work.len() < len {
            let more = len - self.work.len();
            (self.work.try_reserve_exact(more))
                .map_err(|_| alloc_error(kind, "solve workspace"))?;
            self.work.resize(len, 0.0);
        }
        Ok(())
    }

    /// [`Scratch::memory_bytes`] once grown for `req` and `work` values.
    pub(super) fn bytes_with(&self, req: StackReq, work: usize) -> usize {
        let grown =
            req.size_bytes() > self.req.size_bytes() || req.align_bytes() > self.req.align_bytes();
        let buffer = if grown {
            StackReq::any_of(&[req, self.req]).size_bytes()
        } else {
            self.req.size_bytes()
        };
        buffer + self.work.capacity().max(work) * std::mem::size_of::<f64>()
    }

    pub(super) fn memory_bytes(&self) -> usize {
        self.req.size_bytes() + self.work.capacity() * std::mem::size_of::<f64>()
    }
}

/// What a Cholesky solve of `k` right-hand sides needs: faer's scratch for a simplicial
/// factor, or the `2 n` values of the plain-loop supernodal solve (which uses no faer scratch).
pub(super) fn cholesky_solve_needs(
    sym: &SymbolicCholesky<usize>,
    k: usize,
    par: Par,
) -> (StackReq, usize) {
    match sym.raw() {
        SymbolicCholeskyRaw::Supernodal(_) => (StackReq::empty(), 2 * sym.nrows()),
        SymbolicCholeskyRaw::Simplicial(_) => (sym.solve_in_place_scratch::<f64>(k, par), 0),
    }
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
    pub(super) fn solve_block(
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
        // Scratch of its own while another thread solves, unless that would pass the memory
        // limit: then wait for the kept one, so that a solve that fits alone fits whatever
        // the other threads do.
        if cached.is_none() {
            let own =
                PreparedSolver::memory_bytes(self) + Scratch::empty().bytes_with(req, work_len);
            if check_memory_bytes(self.options.memory_limit_mb, own, String::new).is_err() {
                let guard = self.scratch.lock();
                cached = Some(guard.unwrap_or_else(std::sync::PoisonError::into_inner));
            }
        }
        let kept = cached.is_some();
        let mut own;
        let scratch: &mut Scratch = match cached.as_deref_mut() {
            Some(scratch) => scratch,
            None => {
                own = Scratch::empty();
                &mut own
            }
        };
        let before = scratch.memory_bytes();
        let after = scratch.bytes_with(req, work_len);
        if after > before {
            // A block of more right-hand sides than the scratch holds: its growth counts
            // against the memory limit with the factors, and (for the kept scratch) in
            // what this solver holds from now on.
            let held = PreparedSolver::memory_bytes(self) + (after - before);
            check_memory_bytes(self.options.memory_limit_mb, held, || {
                format!("direct solve scratch for {k} right-hand sides")
            })?;
        }
        // Always: a request may need more alignment without more bytes.
        scratch.ensure(req, kind)?;
        scratch.ensure_work(work_len, kind)?;
        if kept && scratch.memory_bytes() > before {
            (self.scratch_growth).fetch_add(scratch.memory_bytes() - before, Ordering::Relaxed);
        }

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
            report.memory_bytes = PreparedSolver::memory_bytes(self);
            report
        });
        Ok(reports.collect())
    }
}
