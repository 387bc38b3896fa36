//! What every distributed Krylov method shares: its collective operations, counted and timed
//! ([`Ops`]), and the end of a solve — the true residual, finiteness and convergence checked
//! across the ranks, the ranks' report gathered ([`Ops::finish`]).

use std::time::Instant;

use femscale_core::verify::judge_residual;
use femscale_core::{Error, RanksReport, Result, SolveError, SolveReport};
use femscale_solvers::kernels::dot;

use super::{DistKrylovOptions, DistMatrix, DistPreconditioner, DistSolveReport, HaloVolume};
use crate::comm::Communicator;

/// A method's products, reductions and preconditioner applications, counted, with the
/// seconds spent communicating.
pub(super) struct Ops<'a> {
    pub comm: &'a dyn Communicator,
    pub a: &'a DistMatrix,
    precond: &'a dyn DistPreconditioner,
    products: usize,
    reductions: usize,
    seconds: f64,
    work: Vec<f64>,
    started: Instant,
}

impl<'a> Ops<'a> {
    /// Checks that `b` and `x` are this rank's entries.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for other lengths.
    pub fn new(
        comm: &'a dyn Communicator,
        a: &'a DistMatrix,
        precond: &'a dyn DistPreconditioner,
        b: &[f64],
        x: &[f64],
    ) -> Result<Self> {
        let n = a.owned_rows();
        if b.len() != n || x.len() != n {
            return Err(Error::invalid(
                "b",
                format!("this rank owns {n} rows; b has {}, x {}", b.len(), x.len()),
            ));
        }
        Ok(Self {
            comm,
            a,
            precond,
            products: 0,
            reductions: 0,
            seconds: 0.0,
            work: Vec::new(),
            started: Instant::now(),
        })
    }

    /// The preconditioner's name.
    pub fn precond_name(&self) -> String {
        self.precond.name()
    }

    /// `y = A x`.
    pub fn product(&mut self, x: &[f64], y: &mut [f64]) -> Result<()> {
        self.products += 1;
        self.seconds += self.a.mul_timed(self.comm, x, y, &mut self.work)?;
        Ok(())
    }

    /// `r = b − A x`.
    pub fn residual(&mut self, b: &[f64], x: &[f64], r: &mut [f64]) -> Result<()> {
        self.product(x, r)?;
        for (ri, bi) in r.iter_mut().zip(b) {
            *ri = bi - *ri;
        }
        Ok(())
    }

    /// Element-wise sums over the ranks.
    pub fn reduce(&mut self, values: &mut [f64]) -> Result<()> {
        let t = Instant::now();
        self.comm.all_reduce_sum(values)?;
        self.seconds += t.elapsed().as_secs_f64();
        self.reductions += 1;
        Ok(())
    }

    /// Dot products `x_k · y_k` over the ranks, in one reduction.
    pub fn dots<const K: usize>(&mut self, pairs: [(&[f64], &[f64]); K]) -> Result<[f64; K]> {
        let mut sums = pairs.map(|(x, y)| dot(x, y));
        self.reduce(&mut sums)?;
        Ok(sums)
    }

    /// `z = M⁻¹ r`.
    pub fn precondition(&mut self, r: &[f64], z: &mut [f64]) -> Result<()> {
        self.seconds += self.precond.apply(self.comm, r, z)?;
        Ok(())
    }

    /// Ends a solve: the true residual of `x` and its componentwise backward error recomputed
    /// across the ranks (every solution is checked before it is reported), finiteness,
    /// convergence, the ranks' report.
    ///
    /// # Errors
    /// [`SolveError::NonFiniteSolution`], [`SolveError::NotConverged`] (with the report),
    /// [`SolveError::Unverified`] when the solution fails the serial solvers' rule
    /// ([`judge_residual`]: `options`' tolerances with the documented slack, or a backward
    /// error at rounding level); a failing transport.
    pub fn finish(
        mut self,
        mut report: SolveReport,
        b: &[f64],
        x: &[f64],
        options: &DistKrylovOptions,
    ) -> Result<DistSolveReport> {
        report.threads = rayon::current_num_threads();
        self.products += 1;
        let t = Instant::now();
        let (r2, b2, omega) = self.a.residual_parts(self.comm, b, x, &mut self.work)?;
        self.seconds += t.elapsed().as_secs_f64();
        let bad = x.iter().filter(|v| !v.is_finite()).count();
        // Sums, then one slot per rank for the backward error (the maximum is taken after).
        let (p, rank) = (self.comm.size(), self.comm.rank());
        let mut sums = vec![0.0; 3 + p];
        sums[..3].copy_from_slice(&[r2, b2, bad as f64]);
        sums[3 + rank] = omega;
        self.reduce(&mut sums)?;
        report.solve_seconds = self.started.elapsed().as_secs_f64();
        if sums[2] > 0.0 {
            return Err(SolveError::NonFiniteSolution {
                solver: report.solver.clone(),
                count: sums[2] as usize,
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
        let halo = self.a.halo_volume();
        report.ranks = Some(self.gather_ranks(&report, halo)?);
        // A NaN (an overflow in A x on some rank) must not vanish in the maximum.
        let omega = sums[3..].iter().fold(0.0f64, |m, &w| {
            if m.is_nan() || w.is_nan() {
                f64::NAN
            } else {
                m.max(w)
            }
        });
        // The serial rule: the normwise residual within the slack, or a backward error at
        // rounding level.
        let verification = judge_residual(
            sums[0].sqrt(),
            sums[1].sqrt(),
            omega,
            &report,
            options.tolerance,
            options.absolute_tolerance,
        )?;
        Ok(DistSolveReport {
            report,
            verified_relative_residual: verification.relative_residual,
            halo_per_product: halo,
            products: self.products,
            reductions: self.reductions,
            communication_seconds: self.seconds,
        })
    }

    /// Every rank's rows and times, gathered with one reduction (each rank fills its slots).
    fn gather_ranks(&mut self, report: &SolveReport, halo: HaloVolume) -> Result<RanksReport> {
        let (p, rank) = (self.comm.size(), self.comm.rank());
        let mut slots = vec![0.0; 3 * p];
        slots[rank] = self.a.owned_rows() as f64;
        slots[p + rank] = self.seconds;
        slots[2 * p + rank] = report.solve_seconds;
        self.comm.all_reduce_sum(&mut slots)?;
        let (rows, rest) = slots.split_at(p);
        let (communication, solve) = rest.split_at(p);
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        let mut ranks = RanksReport::default();
        ranks.ranks = p;
        ranks.rows_min = min(rows) as usize;
        ranks.rows_max = max(rows) as usize;
        ranks.rows = rows.iter().map(|&r| r as usize).collect();
        ranks.halo_messages_per_product = halo.messages;
        ranks.halo_bytes_per_product = halo.bytes;
        ranks.products = self.products;
        // This gathering is a reduction too.
        ranks.reductions = self.reductions + 1;
        ranks.solve_seconds_max = max(solve);
        ranks.communication_seconds_min = min(communication);
        ranks.communication_seconds_max = max(communication);
        Ok(ranks)
    }
}

/// [`SolveError::Breakdown`] of `method` with its report.
pub(super) fn breakdown(method: &str, report: SolveReport, detail: &str) -> Error {
    SolveError::Breakdown {
        method: method.into(),
        detail: detail.into(),
        report: Box::new(report),
    }
    .into()
}

/// A stop asked by a rank's monitor, with the report so far.
pub(super) fn stopped(report: SolveReport) -> Error {
    SolveError::Stopped {
        report: Box::new(report),
    }
    .into()
}
