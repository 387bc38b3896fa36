//! Distributed preconditioned CG: [`cg`], with a [`DistPreconditioner`]: block-Jacobi
//! ([`block_jacobi`]) or the distributed AMG ([`super::DistAmg`]).

use femscale_core::{Preconditioner, PreconditionerFactory, Result, SolveMonitor, SolveReport};
use femscale_solvers::kernels::dot;

use super::ops::{Ops, breakdown, stopped};
use super::{DistMatrix, HaloVolume};
use crate::comm::Communicator;

/// Stopping rule of the distributed Krylov methods ([`cg`], [`super::bicgstab`], [`super::gmres`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistKrylovOptions {
    /// Relative residual `‖b − A x‖ / ‖b‖` to reach.
    pub tolerance: f64,
    /// Or this residual `‖b − A x‖` (the stop is at `max(tolerance ‖b‖, absolute_tolerance)`,
    /// as in the serial methods).
    pub absolute_tolerance: f64,
    /// Iterations at most.
    pub max_iterations: usize,
}

impl Default for DistKrylovOptions {
    fn default() -> Self {
        Self {
            tolerance: 1e-8,
            absolute_tolerance: 0.0,
            max_iterations: 10_000,
        }
    }
}

impl DistKrylovOptions {
    /// The residual norm to reach, `max(tolerance ‖b‖, absolute_tolerance)`, with `scale` the
    /// norm of `b` (1 when `b = 0`).
    pub(crate) fn target(&self, scale: f64) -> f64 {
        (self.tolerance * scale).max(self.absolute_tolerance)
    }
}

/// What a distributed solve did: the solve report (the same on every rank), the verified
/// residual and what the products and reductions moved.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct DistSolveReport {
    /// Iterations, residuals, times (this rank's clock).
    pub report: SolveReport,
    /// `‖b − A x‖ / ‖b‖` recomputed from the returned `x` (one more product); above the
    /// tolerance times `VERIFY_FACTOR` the solve fails with `SolveError::Unverified`.
    pub verified_relative_residual: f64,
    /// What one product moves between the ranks (all ranks together).
    pub halo_per_product: HaloVolume,
    /// Products with the matrix (iterations + 2: initial and verified residuals).
    pub products: usize,
    /// Global reductions (all-reduce calls): two per iteration (`p·Ap`, then `r·r` and `r·z`
    /// fused) plus the start's, the verification's and the gathering of the ranks' report.
    pub reductions: usize,
    /// Seconds this rank spent in halo exchanges and reductions (waiting included; the local
    /// products and preconditioner are not in it).
    pub communication_seconds: f64,
}

/// A preconditioner of a distributed solve: `z = M⁻¹ r` on this rank's entries, collective
/// when it communicates (every rank applies it together).
pub trait DistPreconditioner: Send + Sync + std::fmt::Debug {
    /// Name for reports.
    fn name(&self) -> String;

    /// `z = M⁻¹ r` (this rank's entries); returns the seconds this rank spent communicating.
    ///
    /// # Errors
    /// A failing transport.
    fn apply(&self, comm: &dyn Communicator, r: &[f64], z: &mut [f64]) -> Result<f64>;

    /// Heap bytes held on this rank.
    fn memory_bytes(&self) -> usize;
}

/// Block-Jacobi: a local preconditioner (IC(0), AMG, ...) of this rank's diagonal block; the
/// coupling between ranks is left to the Krylov method. Applying it does not communicate.
#[derive(Debug)]
pub struct BlockJacobi {
    local: Box<dyn Preconditioner>,
    /// Overrides the report's `block-jacobi(<local>)`.
    name: Option<String>,
}

impl BlockJacobi {
    /// This, reported as `name`.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl DistPreconditioner for BlockJacobi {
    fn name(&self) -> String {
        (self.name.clone()).unwrap_or_else(|| format!("block-jacobi({})", self.local.name()))
    }

    fn apply(&self, _comm: &dyn Communicator, r: &[f64], z: &mut [f64]) -> Result<f64> {
        self.local.apply(r, z);
        Ok(0.0)
    }

    fn memory_bytes(&self) -> usize {
        self.local.memory_bytes()
    }
}

/// Block-Jacobi with `factory`'s preconditioner of this rank's diagonal block.
///
/// # Errors
/// The factory's, e.g. a block its preconditioner does not take.
pub fn block_jacobi(a: &DistMatrix, factory: &dyn PreconditionerFactory) -> Result<BlockJacobi> {
    let block = a.diagonal_block()?;
    Ok(BlockJacobi {
        local: factory.build(&block)?,
        name: None,
    })
}

/// Solves `A x = b` by preconditioned conjugate gradients over the ranks of `comm`, starting
/// from `x`; `b` and `x` are this rank's entries, `precond` acts on this rank's entries (see
/// [`block_jacobi`], [`super::DistAmg`]). Collective. The reductions are the communicator's, so for a fixed number
/// of ranks the iterates are reproducible.
///
/// # Errors
/// [`femscale_core::SolveError::Stopped`] when a rank's `monitor` asked to stop (every rank stops at the same
/// iteration, one after the request), [`femscale_core::SolveError::NotConverged`] (with the report) when the
/// tolerance is not reached,
/// [`femscale_core::SolveError::Breakdown`] for a non-positive curvature or preconditioned residual (a matrix
/// or preconditioner that is not SPD), [`femscale_core::SolveError::NonFiniteSolution`]; a failing
/// transport.
pub fn cg(
    comm: &dyn Communicator,
    a: &DistMatrix,
    precond: &dyn DistPreconditioner,
    b: &[f64],
    x: &mut [f64],
    options: &DistKrylovOptions,
    monitor: &mut dyn SolveMonitor,
) -> Result<DistSolveReport> {
    let mut ops = Ops::new(comm, a, precond, b, x)?;
    let n = a.owned_rows();
    let mut report = SolveReport::new("distributed-cg", ops.precond_name());
    report.tolerance = options.tolerance;
    let mut r = vec![0.0; n];
    ops.residual(b, x, &mut r)?;
    let mut z = vec![0.0; n];
    ops.precondition(&r, &mut z)?;
    let [bb, rr, mut rz] = ops.dots([(b, b), (&r, &r), (&r, &z)])?;
    let b_norm = bb.sqrt();
    let scale = if b_norm > 0.0 { b_norm } else { 1.0 };
    let target = options.target(scale);
    let mut r_norm = rr.sqrt();
    report.initial_residual = r_norm;
    report.residual_history.push(r_norm / scale);
    let mut p = z.clone();
    let mut q = vec![0.0; n];
    let mut iterations = 0;
    // A rank's monitor may ask to stop (a deadline on its own clock): the request travels in
    // the next reduction, so every rank stops at the same iteration.
    let mut stop_here = false;
    while r_norm > target && iterations < options.max_iterations {
        if rz.is_nan() || rz <= 0.0 {
            report.iterations = iterations;
            return Err(breakdown(
                "distributed-cg",
                report,
                "r·z (the preconditioner is not SPD)",
            ));
        }
        ops.product(&p, &mut q)?;
        let mut pq = [dot(&p, &q), f64::from(u8::from(stop_here))];
        ops.reduce(&mut pq)?;
        if pq[1] > 0.0 {
            report.iterations = iterations;
            report.final_relative_residual = r_norm / scale;
            return Err(stopped(report));
        }
        if pq[0].is_nan() || pq[0] <= 0.0 {
            report.iterations = iterations;
            return Err(breakdown(
                "distributed-cg",
                report,
                "p·Ap (the matrix is not SPD)",
            ));
        }
        let alpha = rz / pq[0];
        for i in 0..n {
            x[i] += alpha * p[i];
            r[i] -= alpha * q[i];
        }
        ops.precondition(&r, &mut z)?;
        // One reduction for both: the residual norm (stopping) and r·z (the next direction).
        let [rr, rz_next] = ops.dots([(&r, &r), (&r, &z)])?;
        r_norm = rr.sqrt();
        let beta = rz_next / rz;
        rz = rz_next;
        for i in 0..n {
            p[i] = z[i] + beta * p[i];
        }
        iterations += 1;
        report.residual_history.push(r_norm / scale);
        stop_here = monitor.on_iteration(iterations, r_norm / scale).is_break();
    }
    report.iterations = iterations;
    report.final_residual = r_norm;
    report.final_relative_residual = r_norm / scale;
    report.converged = r_norm <= target;
    ops.finish(report, b, x, options)
}
