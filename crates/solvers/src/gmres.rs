//! Restarted GMRES(m) with right preconditioning for general (nonsymmetric, indefinite)
//! nonsingular systems.
//!
//! Each cycle builds an Arnoldi basis of `A M^{-1}` from the true residual with modified
//! Gram–Schmidt (plus one reorthogonalisation pass when the new vector lost more than a factor
//! `1/√2` of its norm), reduces the Hessenberg matrix with Givens rotations and reads the
//! least-squares residual off the rotated right-hand side. Because the preconditioner is applied
//! on the right, that estimate is the norm of the unpreconditioned residual `b - A x`.
//!
//! At the end of every cycle (restart, claimed convergence, stop, timeout or the iteration limit)
//! `x` is updated and the true residual is recomputed; convergence is only reported when the
//! true residual meets `||b - A x|| <= max(tolerance * ||b||, absolute_tolerance)`.

use std::sync::Arc;
use std::time::Instant;

use femscale_core::checks::check_system;
use femscale_core::{
    ControlFlow, CsrMatrix, LinearSolver, PooledVec, PreconditionerFactory, PreparedSolver,
    SolveError, SolveMonitor, SolveReport, SolverOptions,
};

use crate::iterative::Preconditioned;
use crate::kernels::Kernels;
use crate::options::{GmresOptions, MethodOptions};
use crate::precond::JacobiFactory;

/// A second Gram–Schmidt pass runs when orthogonalisation shrank the new vector below this
/// fraction of its norm (Kahan's / Daniel et al.'s `1/√2` criterion).
const REORTHOGONALIZE_BELOW: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// `h_{j+1,j}` at or below this fraction of `||A M^{-1} v_j||` counts as zero (happy
/// breakdown: the solution lies in the current Krylov space).
const HAPPY_BREAKDOWN_RATIO: f64 = 4.0 * f64::EPSILON;

/// Restarted, right-preconditioned GMRES(m) (registry name `gmres`).
///
/// The preconditioner is built in [`LinearSolver::prepare`] by the factory given here; `x` on
/// input is the initial guess. Iterations count Arnoldi steps (one SpMV and one preconditioner
/// application each). The residual history holds the least-squares estimate of the relative
/// residual after each iteration, except that the last entry of each cycle is replaced by the
/// recomputed true relative residual.
#[derive(Debug, Clone)]
pub struct Gmres {
    preconditioner: Arc<dyn PreconditionerFactory>,
    options: GmresOptions,
}

impl Gmres {
    /// GMRES with the preconditioner built by `preconditioner` and the restart length of
    /// `options` (validated in [`LinearSolver::prepare`]).
    pub fn new(preconditioner: Arc<dyn PreconditionerFactory>, options: GmresOptions) -> Self {
        Self {
            preconditioner,
            options,
        }
    }

    /// The preconditioner factory.
    pub fn preconditioner(&self) -> &Arc<dyn PreconditionerFactory> {
        &self.preconditioner
    }

    /// The GMRES options.
    pub fn options(&self) -> &GmresOptions {
        &self.options
    }
}

impl Default for Gmres {
    /// GMRES(30) with Jacobi preconditioning.
    fn default() -> Self {
        Self::new(Arc::new(JacobiFactory), GmresOptions::default())
    }
}

/// Registry constructor for `gmres`: reads `[solver.gmres]` from `options`.
pub fn new_gmres(
    preconditioner: Arc<dyn PreconditionerFactory>,
    options: &MethodOptions,
) -> Box<dyn LinearSolver> {
    Box::new(Gmres::new(preconditioner, options.gmres.clone()))
}

/// Bytes of the work space of GMRES(`m`) on `n` unknowns: `m + 2` vectors plus the Hessenberg
/// matrix, the Givens rotations and the least-squares right-hand side and solution.
fn workspace_len(n: usize, m: usize) -> usize {
    (m + 2) * n + (m + 1) * m + 3 * m + 1
}

impl LinearSolver for Gmres {
    fn name(&self) -> &str {
        "gmres"
    }

    #[tracing::instrument(
        skip_all,
        name = "fem.solver.prepare",
        fields(solver = "gmres", preconditioner = self.preconditioner.name(), n = a.nrows(), nnz = a.nnz())
    )]
    fn prepare(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> Result<Box<dyn PreparedSolver>, SolveError> {
        options.validate()?;
        if self.options.restart == 0 {
            return Err(SolveError::InvalidOption {
                option: "gmres.restart".into(),
                reason: "must be at least 1".into(),
            });
        }
        let n = a.nrows();
        let m = self.options.restart.min(n).max(1);
        let (base, start) = Preconditioned::prepare(
            &self.preconditioner,
            a,
            options,
            workspace_len(n, m) * std::mem::size_of::<f64>(),
            || format!("gmres({m}) Krylov basis and work vectors"),
        )?;
        let mut prepared = PreparedGmres {
            base,
            restart: m,
            basis: (0..=m).map(|_| options.work_vector(n)).collect(),
            w: options.work_vector(n),
            h: vec![0.0; (m + 1) * m],
            cs: vec![0.0; m],
            sn: vec![0.0; m],
            g: vec![0.0; m + 1],
            y: vec![0.0; m],
        };
        prepared.check_memory()?;
        prepared.base.setup_seconds = start.elapsed().as_secs_f64();
        tracing::debug!(
            setup_seconds = prepared.base.setup_seconds,
            restart = m,
            "gmres prepared"
        );
        Ok(Box::new(prepared))
    }
}

/// GMRES set up for one matrix: preconditioner plus the Krylov basis and small dense work
/// arrays, reused by every solve.
#[derive(Debug)]
struct PreparedGmres {
    base: Preconditioned,
    /// Restart length `m`, clamped to `1..=n`.
    restart: usize,
    /// `v_0 ..= v_m`; `v_{j+1}` also holds `M^{-1} v_j` before the new basis vector replaces it.
    basis: Vec<PooledVec>,
    /// `A M^{-1} v_j` being orthogonalised; also `V y` when a cycle ends.
    w: PooledVec,
    /// Hessenberg matrix, `(m + 1) x m`, column-major; upper triangular after the rotations.
    h: Vec<f64>,
    /// Givens cosines.
    cs: Vec<f64>,
    /// Givens sines.
    sn: Vec<f64>,
    /// Rotated least-squares right-hand side `Q^T (beta e_1)`.
    g: Vec<f64>,
    /// Least-squares solution.
    y: Vec<f64>,
}

impl PreparedGmres {
    fn workspace_bytes(&self) -> usize {
        let small = self.h.capacity()
            + self.cs.capacity()
            + self.sn.capacity()
            + self.g.capacity()
            + self.y.capacity();
        self.basis.iter().map(|v| v.bytes()).sum::<usize>()
            + self.w.bytes()
            + small * std::mem::size_of::<f64>()
    }

    fn check_memory(&self) -> Result<(), SolveError> {
        self.base.check_memory(self.memory_bytes(), || {
            format!(
                "gmres({}) with the `{}` preconditioner",
                self.restart,
                self.base.precond.name()
            )
        })
    }
}

/// Why an Arnoldi cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CycleEnd {
    /// Restart length reached, or the least-squares estimate claims convergence.
    Restart,
    /// The monitor asked to stop.
    Stop,
    /// `max_iterations` reached.
    Limit,
}

impl PreparedSolver for PreparedGmres {
    #[tracing::instrument(
        skip_all,
        name = "fem.solver.solve",
        fields(solver = "gmres", preconditioner = self.base.precond.name(), n = b.len(), iterations = tracing::field::Empty)
    )]
    fn solve(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError> {
        let start = Instant::now();
        let a = Arc::clone(&self.base.matrix);
        check_system(&a, b, x)?;
        let memory_bytes = self.memory_bytes();
        let Self {
            base,
            restart,
            basis,
            w,
            h,
            cs,
            sn,
            g,
            y,
        } = self;
        let (k, opts, m) = (&base.kernels, &base.options, *restart);
        let apply_preconditioner = |r: &[f64], z: &mut [f64]| base.apply(r, z);
        let mut run = base.run("gmres", start, memory_bytes, b)?;
        let bnorm = run.bnorm();
        if bnorm == 0.0 {
            return Ok(run.zero_rhs(x));
        }
        let target = run.target();

        // r0 = b - A x0, kept in v_0.
        k.spmv(&a, x, &mut basis[0]);
        k.residual_from_product(b, &mut basis[0]);
        let mut rnorm = k.norm2(&basis[0]);
        if let Some(done) = run.initial_residual(rnorm) {
            return done;
        }
        run.reserve_history();

        let mut it = 0;
        loop {
            // Start a cycle from the true residual in v_0.
            let beta = rnorm;
            {
                let v0 = &mut basis[0];
                let inv = 1.0 / beta;
                for v in v0.iter_mut() {
                    *v *= inv;
                }
            }
            g.fill(0.0);
            g[0] = beta;
            let mut j = 0;
            let mut end = CycleEnd::Restart;
            let mut happy = false;

            while j < m {
                let step = it + 1;
                if let Some(overrun) = run.timeout_due(step) {
                    if j > 0 {
                        rnorm = update_solution(
                            k,
                            &a,
                            &apply_preconditioner,
                            j,
                            basis,
                            w,
                            h,
                            g,
                            y,
                            b,
                            x,
                        );
                    }
                    return Err(run.timeout(overrun, rnorm));
                }

                // w = A M^{-1} v_j, with M^{-1} v_j parked in v_{j+1}.
                {
                    let (head, tail) = basis.split_at_mut(j + 1);
                    apply_preconditioner(&head[j], &mut tail[0]);
                    k.spmv(&a, &tail[0], w);
                }
                let wnorm = k.norm2(w);
                let col = &mut h[j * (m + 1)..(j + 1) * (m + 1)];
                col.fill(0.0);
                for (i, v) in basis[..=j].iter().enumerate() {
                    let hij = k.dot(w, v);
                    col[i] = hij;
                    k.axpy(-hij, v, w);
                }
                let mut hnext = k.norm2(w);
                if hnext < REORTHOGONALIZE_BELOW * wnorm {
                    for (i, v) in basis[..=j].iter().enumerate() {
                        let c = k.dot(w, v);
                        col[i] += c;
                        k.axpy(-c, v, w);
                    }
                    hnext = k.norm2(w);
                }
                if !(wnorm.is_finite()
                    && hnext.is_finite()
                    && col[..=j].iter().all(|v| v.is_finite()))
                {
                    return Err(run.breakdown(
                        format!(
                            "non-finite Arnoldi coefficients at iteration {step} \
                             (||A M^-1 v|| = {wnorm}, h_(j+1,j) = {hnext}); \
                             preconditioner or matrix produced NaN/Inf?"
                        ),
                        rnorm,
                    ));
                }
                happy = hnext <= HAPPY_BREAKDOWN_RATIO * wnorm;
                if happy {
                    col[j + 1] = 0.0;
                } else {
                    col[j + 1] = hnext;
                    let inv = 1.0 / hnext;
                    let next = &mut basis[j + 1];
                    for (v, wi) in next.iter_mut().zip(w.iter()) {
                        *v = wi * inv;
                    }
                }

                // Apply the previous rotations, then a new one zeroing h_{j+1,j}.
                for i in 0..j {
                    let (hi, hi1) = (col[i], col[i + 1]);
                    col[i] = cs[i] * hi + sn[i] * hi1;
                    col[i + 1] = -sn[i] * hi + cs[i] * hi1;
                }
                let (hjj, hj1) = (col[j], col[j + 1]);
                let denom = hjj.hypot(hj1);
                if denom == 0.0 {
                    let detail = format!(
                        "singular Hessenberg matrix at iteration {step}: A M^-1 v_{j} lies in \
                         span(v_0..v_{}) with zero diagonal after rotation (singular matrix or \
                         preconditioner?)",
                        j.saturating_sub(1)
                    );
                    if j > 0 {
                        rnorm = update_solution(
                            k,
                            &a,
                            &apply_preconditioner,
                            j,
                            basis,
                            w,
                            h,
                            g,
                            y,
                            b,
                            x,
                        );
                    }
                    return Err(run.breakdown(detail, rnorm));
                }
                cs[j] = hjj / denom;
                sn[j] = hj1 / denom;
                col[j] = denom;
                col[j + 1] = 0.0;
                g[j + 1] = -sn[j] * g[j];
                g[j] *= cs[j];

                j += 1;
                it = step;
                let estimate = g[j].abs();
                let relative = run.record(it, estimate);
                let claimed = happy || estimate <= target;
                let flow = monitor.on_iteration(it, relative);
                // A stop request wins over a claimed convergence the true residual may not
                // confirm; a confirmed convergence wins over both (checked below).
                if flow == ControlFlow::Break(()) {
                    end = CycleEnd::Stop;
                    break;
                }
                if claimed {
                    end = CycleEnd::Restart;
                    break;
                }
                if it == opts.max_iterations {
                    end = CycleEnd::Limit;
                    break;
                }
            }

            // End of the cycle: update x and recompute the true residual (into v_0).
            rnorm = update_solution(k, &a, &apply_preconditioner, j, basis, w, h, g, y, b, x);
            let relative = rnorm / bnorm;
            if let Some(last) = run.report.residual_history.last_mut() {
                *last = relative;
            }
            if !rnorm.is_finite() {
                return Err(run.breakdown(
                    format!("true residual norm is {rnorm} after iteration {it}"),
                    rnorm,
                ));
            }
            if rnorm <= target {
                return Ok(run.converged(rnorm));
            }
            match end {
                CycleEnd::Stop => return Err(run.stopped(rnorm)),
                CycleEnd::Limit => return Err(run.not_converged(rnorm)),
                CycleEnd::Restart => {
                    if it == opts.max_iterations {
                        return Err(run.not_converged(rnorm));
                    }
                    if happy {
                        tracing::debug!(
                            iteration = it,
                            relative,
                            "gmres: happy breakdown but true residual above target; restarting"
                        );
                    }
                }
            }
        }
    }

    /// Rebuilds the preconditioner for `a`. GMRES has no symbolic work, so any matrix of the
    /// same size is accepted, not only one with the same pattern.
    fn update_values(&mut self, a: Arc<CsrMatrix>) -> Result<(), SolveError> {
        self.base.update_values(a)?;
        self.check_memory()
    }

    fn matrix(&self) -> &Arc<CsrMatrix> {
        &self.base.matrix
    }

    fn memory_bytes(&self) -> usize {
        self.base.precond.memory_bytes() + self.workspace_bytes()
    }
}

/// Solves the `j x j` triangular least-squares system `R y = g`, sets
/// `x += M^{-1} (V_j y)` and returns the true residual norm `||b - A x||`, leaving the residual
/// in `v_0` (ready to start the next cycle). Requires `j >= 1`.
#[allow(clippy::too_many_arguments)]
fn update_solution(
    k: &Kernels,
    a: &CsrMatrix,
    apply_preconditioner: &dyn Fn(&[f64], &mut [f64]),
    j: usize,
    basis: &mut [PooledVec],
    w: &mut [f64],
    h: &[f64],
    g: &[f64],
    y: &mut [f64],
    b: &[f64],
    x: &mut [f64],
) -> f64 {
    debug_assert!(j >= 1);
    let ld = basis.len(); // m + 1, the column stride of h
    for i in (0..j).rev() {
        let mut s = g[i];
        for l in i + 1..j {
            s -= h[l * ld + i] * y[l];
        }
        y[i] = s / h[i * ld + i];
    }
    // w = V_j y
    w.fill(0.0);
    for (v, &yi) in basis[..j].iter().zip(&y[..j]) {
        k.axpy(yi, v, w);
    }
    // x += M^{-1} w, using v_0 as the scratch vector
    let (z, _) = basis
        .split_first_mut()
        .expect("the basis has m + 1 >= 2 vectors");
    apply_preconditioner(w, z);
    k.axpy(1.0, z, x);
    // v_0 = b - A x
    k.spmv(a, x, z);
    k.residual_from_product(b, z);
    k.norm2(z)
}
