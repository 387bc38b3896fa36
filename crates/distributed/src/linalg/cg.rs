//! Distributed preconditioned CG: [`cg`], with a [`DistPreconditioner`]: block-Jacobi
//! ([`block_jacobi`]) or the distributed AMG ([`super::DistAmg`]).

use std::time::Instant;

use femscale_core::verify::VERIFY_FACTOR;
use femscale_core::{
    Error, Preconditioner, PreconditionerFactory, RanksReport, Result, SolveError, SolveMonitor,
    SolveReport,
};
use femscale_solvers::kernels::dot;

use super::{DistMatrix, HaloVolume};
use crate::comm::Communicator;

/// Stopping rule of [`cg`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistCgOptions {
    /// Relative residual `‖b − A x‖ / ‖b‖` to reach.
    pub tolerance: f64,
    /// Iterations at most.
    pub max_iterations: usize,
}

impl Default for DistCgOptions {
    fn default() -> Self {
        Self {
            tolerance: 1e-8,
            max_iterations: 10_000,
        }
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
}

impl DistPreconditioner for BlockJacobi {
    fn name(&self) -> String {
        format!("block-jacobi({})", self.local.name())
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
    })
}

/// Solves `A x = b` by preconditioned conjugate gradients over the ranks of `comm`, starting
/// from `x`; `b` and `x` are this rank's entries, `precond` acts on this rank's entries (see
/// [`block_jacobi`], [`super::DistAmg`]). Collective. The reductions are the communicator's, so for a fixed number
/// of ranks the iterates are reproducible.
///
/// # Errors
/// [`SolveError::Stopped`] when a rank's `monitor` asked to stop (every rank stops at the same
/// iteration, one after the request), [`SolveError::NotConverged`] (with the report) when the
/// tolerance is not reached,
/// [`SolveError::Breakdown`] for a non-positive curvature or preconditioned residual (a matrix
/// or preconditioner that is not SPD), [`SolveError::NonFiniteSolution`]; a failing
/// transport.
pub fn cg(
    comm: &dyn Communicator,
    a: &DistMatrix,
    precond: &dyn DistPreconditioner,
    b: &[f64],
    x: &mut [f64],
    options: &DistCgOptions,
    monitor: &mut dyn SolveMonitor,
) -> Result<DistSolveReport> {
    let started = Instant::now();
    let n = a.owned_rows();
    if b.len() != n || x.len() != n {
        return Err(Error::invalid(
            "b",
            format!("this rank owns {n} rows; b has {}, x {}", b.len(), x.len()),
        ));
    }
    let mut comm_seconds = 0.0;
    let mut reductions = 0;
    let mut products = 0;
    let mut work = Vec::new();
    let mut reduce = |values: &mut [f64], seconds: &mut f64| -> Result<()> {
        let t = Instant::now();
        comm.all_reduce_sum(values)?;
        *seconds += t.elapsed().as_secs_f64();
        reductions += 1;
        Ok(())
    };
    let mut product = |p: &[f64], q: &mut [f64], work: &mut Vec<f64>, seconds: &mut f64| {
        products += 1;
        *seconds += a.mul_timed(comm, p, q, work)?;
        Ok::<(), Error>(())
    };
    let halo = a.halo_volume();

    let mut report = SolveReport::new("distributed-cg", precond.name());
    report.tolerance = options.tolerance;
    let mut r = vec![0.0; n];
    product(x, &mut r, &mut work, &mut comm_seconds)?;
    for (ri, bi) in r.iter_mut().zip(b) {
        *ri = bi - *ri;
    }
    let mut z = vec![0.0; n];
    comm_seconds += precond.apply(comm, &r, &mut z)?;
    let mut sums = [dot(b, b), dot(&r, &r), dot(&r, &z)];
    reduce(&mut sums, &mut comm_seconds)?;
    let b_norm = sums[0].sqrt();
    let scale = if b_norm > 0.0 { b_norm } else { 1.0 };
    let mut r_norm = sums[1].sqrt();
    let mut rz = sums[2];
    report.initial_residual = r_norm;
    report.residual_history.push(r_norm / scale);
    let mut p = z.clone();
    let mut q = vec![0.0; n];
    let mut iterations = 0;
    // A rank's monitor may ask to stop (a deadline on its own clock): the request travels in
    // the next reduction, so every rank stops at the same iteration.
    let mut stop_here = false;
    while r_norm / scale > options.tolerance && iterations < options.max_iterations {
        if rz.is_nan() || rz <= 0.0 {
            report.iterations = iterations;
            return Err(breakdown(report, "r·z (the preconditioner is not SPD)"));
        }
        product(&p, &mut q, &mut work, &mut comm_seconds)?;
        let mut pq = [dot(&p, &q), f64::from(u8::from(stop_here))];
        reduce(&mut pq, &mut comm_seconds)?;
        if pq[1] > 0.0 {
            report.iterations = iterations;
            report.final_relative_residual = r_norm / scale;
            return Err(SolveError::Stopped {
                report: Box::new(report),
            }
            .into());
        }
        if pq[0].is_nan() || pq[0] <= 0.0 {
            report.iterations = iterations;
            return Err(breakdown(report, "p·Ap (the matrix is not SPD)"));
        }
        let alpha = rz / pq[0];
        for i in 0..n {
            x[i] += alpha * p[i];
            r[i] -= alpha * q[i];
        }
        comm_seconds += precond.apply(comm, &r, &mut z)?;
        // One reduction for both: the residual norm (stopping) and r·z (the next direction).
        let mut sums = [dot(&r, &r), dot(&r, &z)];
        reduce(&mut sums, &mut comm_seconds)?;
        r_norm = sums[0].sqrt();
        let beta = sums[1] / rz;
        rz = sums[1];
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
    report.converged = r_norm / scale <= options.tolerance;
    report.threads = rayon::current_num_threads();

    // The true residual of the returned x, and finiteness everywhere.
    product(x, &mut q, &mut work, &mut comm_seconds)?;
    let bad = x.iter().filter(|v| !v.is_finite()).count();
    let residual: f64 = q.iter().zip(b).map(|(aq, bi)| (bi - aq) * (bi - aq)).sum();
    let mut sums = [residual, bad as f64];
    reduce(&mut sums, &mut comm_seconds)?;
    report.solve_seconds = started.elapsed().as_secs_f64();
    if sums[1] > 0.0 {
        return Err(SolveError::NonFiniteSolution {
            solver: report.solver.clone(),
            count: sums[1] as usize,
            first_index: x.iter().position(|v| !v.is_finite()).unwrap_or(0),
            reported_relative_residual: report.final_relative_residual,
        }
        .into());
    }
    if !report.converged {
        return Err(SolveError::NotConverged {
            report: Box::new(report),
        }
        .into());
    }
    report.ranks = Some(gather_ranks(
        comm,
        a,
        &report,
        products,
        reductions + 1,
        comm_seconds,
        halo,
    )?);
    let verified = sums[0].sqrt() / scale;
    if verified > options.tolerance * VERIFY_FACTOR {
        return Err(SolveError::Unverified {
            solver: report.solver.clone(),
            reported_relative_residual: report.final_relative_residual,
            verified_relative_residual: verified,
            backward_error: f64::NAN,
            tolerance: options.tolerance,
            factor: VERIFY_FACTOR,
        }
        .into());
    }
    Ok(DistSolveReport {
        report,
        verified_relative_residual: verified,
        halo_per_product: halo,
        products,
        reductions,
        communication_seconds: comm_seconds,
    })
}

/// Every rank's rows and times, gathered with one reduction (each rank fills its slots).
fn gather_ranks(
    comm: &dyn Communicator,
    a: &DistMatrix,
    report: &SolveReport,
    products: usize,
    reductions: usize,
    comm_seconds: f64,
    halo: HaloVolume,
) -> Result<RanksReport> {
    let (p, rank) = (comm.size(), comm.rank());
    let mut slots = vec![0.0; 3 * p];
    slots[rank] = a.owned_rows() as f64;
    slots[p + rank] = comm_seconds;
    slots[2 * p + rank] = report.solve_seconds;
    comm.all_reduce_sum(&mut slots)?;
    let (rows, rest) = slots.split_at(p);
    let (communication, solve) = rest.split_at(p);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let mut ranks = RanksReport::default();
    ranks.ranks = p;
    ranks.rows_min = min(rows) as usize;
    ranks.rows_max = max(rows) as usize;
    ranks.halo_messages_per_product = halo.messages;
    ranks.halo_bytes_per_product = halo.bytes;
    ranks.products = products;
    ranks.reductions = reductions;
    ranks.solve_seconds_max = max(solve);
    ranks.communication_seconds_min = min(communication);
    ranks.communication_seconds_max = max(communication);
    Ok(ranks)
}

fn breakdown(report: SolveReport, detail: &str) -> Error {
    SolveError::Breakdown {
        method: "distributed-cg".into(),
        detail: detail.into(),
        report: Box::new(report),
    }
    .into()
}
