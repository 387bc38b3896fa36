//! Building the hierarchy: strength graph, aggregation, smoothed prolongator, Galerkin coarse
//! operators, smoothers and the coarse factorisation, within memory and time budgets.

use std::sync::Arc;
use std::time::Instant;

use femscale_core::{CoarseSpace, CsrMatrix, SolveError, SolveReport};

use super::aggregate::{Aggregation, aggregate};
use super::coarse::CoarseSolver;
use super::csr::Mat;
use super::prolongation::{gershgorin, lanczos_max_eigenvalue, smoothed_prolongator};
use super::smoother::{CHEBYSHEV_SAFETY, Smoother};
use super::spgemm::galerkin;
use super::strength::strength_graph;
use super::transfer_matrix::TransferMatrix;
use crate::options::AmgOptions;

/// Lanczos steps of the estimate of the spectral radius `ρ` of `D⁻¹A` on the coarse levels
/// (clamped by the Gershgorin bound). The finest level uses the Gershgorin bound alone: it is
/// free and tight for the M-matrices of P1 discretisations, while 10 Lanczos steps cost 10
/// fine-level products (about 0.1 s at 10⁶ unknowns) for no fewer iterations. On the coarse
/// levels Gershgorin over-estimates `ρ` and weakens both smoother and prolongator: Lanczos there
/// took CG on the 1024² Poisson matrix from 20 to 12 iterations.
pub(crate) const LANCZOS_STEPS: usize = 10;

/// Coarsening is considered stalled when a level keeps more than this fraction of unknowns.
pub(crate) const STALL_RATIO: f64 = 0.9;

/// One level of the hierarchy.
#[derive(Debug)]
pub(crate) struct Level {
    pub a: Mat,
    /// Smoother and transfer operators; `None` on the coarsest level (solved directly).
    pub fine: Option<Fine>,
}

/// What a non-coarsest level needs besides its operator.
#[derive(Debug)]
pub(crate) struct Fine {
    pub dinv: Vec<f64>,
    pub smoother: Smoother,
    /// The aggregation (implicit tentative prolongator), reused by `update_values`; `None`
    /// when `p` is a given coarse space (kept as is by `update_values`).
    pub aggs: Option<Aggregation>,
    /// Smoothed prolongator (`n x n_c`), in single precision.
    pub p: TransferMatrix,
    /// Restriction `Pᵀ` (`n_c x n`), in single precision.
    pub r: TransferMatrix,
}

impl Level {
    /// Heap bytes held (work vectors excluded).
    pub fn bytes(&self) -> usize {
        self.a.bytes()
            + self.fine.as_ref().map_or(0, |f| {
                f.dinv.capacity() * 8
                    + f.aggs.as_ref().map_or(0, Aggregation::bytes)
                    + f.p.bytes()
                    + f.r.bytes()
            })
    }
}

/// Memory and time limits of a set-up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub limit_mb: Option<f64>,
    pub deadline: Option<Instant>,
    pub start: Instant,
}

impl Budget {
    fn check_time(&self) -> Result<(), SolveError> {
        if let Some(deadline) = self.deadline {
            let now = Instant::now();
            if now > deadline {
                let mut report = SolveReport::new("amg", "amg");
                let elapsed = (now - self.start).as_secs_f64();
                report.setup_seconds = elapsed;
                return Err(SolveError::Timeout {
                    elapsed_seconds: elapsed,
                    limit_seconds: deadline.saturating_duration_since(self.start).as_secs_f64(),
                    report: Box::new(report),
                });
            }
        }
        Ok(())
    }
}

/// [`SolveError::MemoryBudget`] if `bytes` exceeds `limit_mb`.
pub(crate) fn check_budget(
    what: &str,
    bytes: usize,
    limit_mb: Option<f64>,
) -> Result<(), SolveError> {
    femscale_core::checks::check_memory_bytes(limit_mb, bytes, || what.into())
}

/// Work-vector bytes of a level with `n` rows (see `cycle::LevelWork`).
pub(crate) fn work_bytes(n: usize, first: bool, coarsest: bool) -> usize {
    let vectors = if first { 0 } else { 2 } + if coarsest { 0 } else { 3 };
    vectors * n * 8
}

/// Estimated peak extra bytes of building the next level from one with `n` rows and `nnz`
/// entries: the strength graph, `P` and `R` (at most `nnz` entries each), `A P` (about 1.5
/// `nnz`, kept in its row blocks), the coarse operator (twice while its blocks are assembled)
/// and the level's vectors.
fn level_estimate(n: usize, nnz: usize) -> usize {
    let entry = 12.0;
    let nnz = nnz as f64;
    let n = n as f64;
    let strength = nnz * 4.0 + n * 8.0;
    // `P` and `R` in single precision: 8 bytes per entry.
    let transfer = 2.0 * (nnz * 8.0 + n * 8.0);
    let products = 1.5 * nnz * entry + 2.0 * 0.6 * nnz * entry;
    let vectors = 6.0 * n * 8.0;
    (strength + transfer + products + vectors) as usize
}

/// The inverse diagonal, checking it is positive and finite.
fn inverse_diagonal(a: &Mat, level: usize) -> Result<Vec<f64>, SolveError> {
    let d = a.diagonal();
    if let Some(i) = d.iter().position(|&x| !(x > 0.0 && x.is_finite())) {
        return Err(SolveError::Factorization {
            method: "amg".into(),
            detail: format!(
                "diagonal entry of row {i} on level {level} is {}; smoothed aggregation needs a \
                 positive diagonal (symmetric positive definite matrix)",
                d[i]
            ),
        });
    }
    Ok(d.iter().map(|x| 1.0 / x).collect())
}

/// Where a level's prolongator comes from.
pub(crate) enum Prolongator {
    /// Smoothing the tentative prolongator of an aggregation.
    Smoothed(Aggregation),
    /// A given coarse space (geometric P2 -> P1), used as is.
    Given(TransferMatrix),
}

/// Smoother, prolongator, restriction and coarse operator of level `a`.
fn transfer(
    a: &Mat,
    dinv: Vec<f64>,
    prolongator: Prolongator,
    options: &AmgOptions,
    index: usize,
) -> Result<(Fine, Mat), SolveError> {
    let g = gershgorin(a, &dinv);
    // Gershgorin is close to `ρ` on the finest level of fine M-matrices (P1 and Q1 on good
    // meshes); positive off-diagonals (P2/Q2 couplings, P1 on obtuse triangles) make it
    // over-estimate, as on coarse levels (2.5-2.6 against Lanczos' 1.94-1.97 on the
    // adaptive L-shape's bisected meshes, whose positive couplings reach a quarter of the
    // diagonal in some rows).
    let steps = if index == 0 && g.positive == 0.0 {
        0
    } else {
        LANCZOS_STEPS
    };
    let (rho, upper) = if steps == 0 {
        (g.bound, g.bound)
    } else {
        let l = lanczos_max_eigenvalue(a, &dinv, steps);
        (l.min(g.bound), (CHEBYSHEV_SAFETY * l).min(g.bound))
    };
    let smoother = Smoother::new(
        options.smoother,
        options.sweeps,
        options.chebyshev_degree,
        options.jacobi_weight,
        upper,
    );
    let (aggs, p) = match prolongator {
        Prolongator::Smoothed(aggs) => {
            let p = smoothed_prolongator(a, &dinv, &aggs, options.prolongation_weight / rho);
            (Some(aggs), TransferMatrix::from_mat(p, "amg")?)
        }
        Prolongator::Given(p) => (None, p),
    };
    let r = p.transpose();
    let coarse = galerkin(a, &p, &r);
    Ok((
        Fine {
            dinv,
            smoother,
            aggs,
            p,
            r,
        },
        coarse,
    ))
}

/// The given first prolongator in single precision, checked against `a` (`n x n_c`,
/// `0 < n_c < n`).
fn given_prolongator(a: &CsrMatrix, space: &CoarseSpace) -> Result<TransferMatrix, SolveError> {
    let p = space.prolongator();
    if p.nrows() != a.nrows() || p.ncols() == 0 || p.ncols() >= p.nrows() {
        return Err(SolveError::InvalidOption {
            option: "coarse_space".into(),
            reason: format!(
                "the prolongator is {} x {}; a matrix of {} rows needs {} rows and between 1 \
                 and {} columns",
                p.nrows(),
                p.ncols(),
                a.nrows(),
                a.nrows(),
                a.nrows().saturating_sub(1)
            ),
        });
    }
    TransferMatrix::from_mat(Mat::from_csr(p), "coarse_space")
}

/// Builds the levels and the coarse solver for `a`, starting with `first` when given (and `a`
/// is larger than `coarse_size`), then smoothed aggregation. The finest level shares the
/// values of `shared` (which is `a`) when it can ([`Mat::from_shared`]).
pub(crate) fn build(
    a: &CsrMatrix,
    shared: Option<&Arc<CsrMatrix>>,
    first: Option<&CoarseSpace>,
    options: &AmgOptions,
    budget: &Budget,
) -> Result<(Vec<Level>, CoarseSolver), SolveError> {
    let mut first = match first {
        Some(space) if a.nrows() > options.coarse_size => Some(given_prolongator(a, space)?),
        _ => None,
    };
    let (n, nnz) = (a.nrows(), a.nnz());
    check_budget(
        "amg fine-level operator copy",
        nnz * 12 + n * 8 + work_bytes(n, true, false),
        budget.limit_mb,
    )?;
    let mut current = match shared {
        Some(shared) => Mat::from_shared(shared),
        None => Mat::from_csr(a),
    };
    let mut levels: Vec<Level> = Vec::new();
    let mut used = 0usize;
    loop {
        budget.check_time()?;
        let index = levels.len();
        let (n, nnz) = (current.nrows, current.nnz());
        let dinv = inverse_diagonal(&current, index)?;
        let last = n <= options.coarse_size || index + 1 >= options.max_levels;
        if !last {
            let needed = used + current.bytes() + level_estimate(n, nnz);
            check_budget(
                &format!("amg hierarchy (level {})", index + 1),
                needed,
                budget.limit_mb,
            )?;
            if let Some(p) = first.take() {
                let (fine, coarse) = transfer(&current, dinv, Prolongator::Given(p), options, 0)?;
                let level = Level {
                    a: std::mem::replace(&mut current, coarse),
                    fine: Some(fine),
                };
                used += level.bytes() + work_bytes(n, true, false);
                levels.push(level);
                continue;
            }
            let diag: Vec<f64> = dinv.iter().map(|d| 1.0 / d).collect();
            let strength = strength_graph(&current, &diag, options.strength_threshold);
            drop(diag);
            let aggs = aggregate(&strength, n);
            drop(strength);
            if aggs.count > 0 && (aggs.count as f64) <= STALL_RATIO * n as f64 {
                let aggs = Prolongator::Smoothed(aggs);
                let (fine, coarse) = transfer(&current, dinv, aggs, options, index)?;
                let level = Level {
                    a: std::mem::replace(&mut current, coarse),
                    fine: Some(fine),
                };
                used += level.bytes() + work_bytes(n, index == 0, false);
                levels.push(level);
                continue;
            }
        }
        used += current.bytes() + work_bytes(n, index == 0, true);
        budget.check_time()?;
        let coarse = CoarseSolver::new(&current, used, budget.limit_mb)?;
        levels.push(Level {
            a: current,
            fine: None,
        });
        return Ok((levels, coarse));
    }
}

/// Recomputes the numeric part of the hierarchy for new values of the fine matrix (same
/// pattern): smoothers, prolongator smoothing, Galerkin products and the coarse factorisation.
/// The strength graphs and aggregations (tentative prolongators) are kept.
pub(crate) fn refresh(
    levels: &mut [Level],
    a: &CsrMatrix,
    options: &AmgOptions,
    limit_mb: Option<f64>,
) -> Result<CoarseSolver, SolveError> {
    // Zeros may have moved with the new values: re-copy (and re-filter) the fine matrix.
    levels[0].a = Mat::from_csr(a);
    for index in 0..levels.len() {
        let (head, tail) = levels.split_at_mut(index + 1);
        let level = &mut head[index];
        if level.fine.is_none() {
            break;
        }
        let dinv = inverse_diagonal(&level.a, index)?;
        let Some(old) = level.fine.take() else {
            unreachable!("checked above")
        };
        let prolongator = match old.aggs {
            Some(aggs) => Prolongator::Smoothed(aggs),
            None => Prolongator::Given(old.p),
        };
        let (fine, coarse) = transfer(&level.a, dinv, prolongator, options, index)?;
        level.fine = Some(fine);
        tail[0].a = coarse;
    }
    let used = levels
        .iter()
        .enumerate()
        .map(|(i, l)| l.bytes() + work_bytes(l.a.nrows, i == 0, l.fine.is_none()))
        .sum();
    let last = levels
        .last()
        .map(|l| &l.a)
        .expect("a hierarchy has a level");
    CoarseSolver::new(last, used, limit_mb)
}
