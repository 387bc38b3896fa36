//! Distributed smoothed-aggregation AMG ([`DistAmg`]): a preconditioner whose iteration
//! counts do not grow with the number of ranks.
//!
//! Set-up per level, while the level has more than [`DistAmgOptions::gather_rows`] rows:
//! decoupled aggregation (each rank aggregates its own block's strength graph, so no aggregate
//! spans two ranks), the tentative prolongator's entries of ghost unknowns fetched through the
//! matrix's halo, prolongator smoothing `P = (I − ω/ρ D⁻¹A) P_tent` across ranks, and the
//! Galerkin product `Pᵀ A P` from each rank's rows with the partial coarse rows sent to their
//! owners. `ρ` and the smoother's interval are estimated as in the serial hierarchy (Gershgorin
//! on a finest M-matrix, Lanczos elsewhere). The remaining coarse operator is gathered onto
//! every rank and handed to the serial AMG ([`femscale_solvers::AmgHierarchy`]: more levels,
//! then a direct solve), which every rank applies redundantly — one all-reduce per visit
//! instead of a cascade of tiny distributed levels whose messages cost more than their work.
//!
//! The cycle (V or W) uses polynomial smoothers (Chebyshev or damped Jacobi), which need only
//! products with `A`: they do the same arithmetic on any number of ranks, so only the
//! aggregates — cut at rank boundaries — depend on the partition.

mod coarsen;
mod cycle;
mod spectrum;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use femscale_core::{CsrMatrix, Error, Preconditioner, Result};
use femscale_solvers::amg::parts::chebyshev_coefficients;
use femscale_solvers::options::{AmgCycle, AmgOptions, AmgSmoother};
use femscale_solvers::{AmgFactory, AmgHierarchy};

use super::DistMatrix;
use super::cg::DistPreconditioner;
use crate::comm::{Communicator, Tag};
use coarsen::{Coarsened, Rows, Transfer, coarsen, pack_rows, unpack_rows};

/// Tag of the restriction's partial sums sent to their owners.
const RESTRICT: Tag = 120;
/// Tag of the coarse correction's ghost entries before prolongation.
const PROLONG: Tag = 121;
/// Tag of the coarse operator's rows gathered onto every rank.
const GATHER: Tag = 122;

/// Options of [`DistAmg`]: the serial AMG's (smoother, cycle, strength threshold,
/// prolongation weight, the replicated part's coarse size and levels) and where the levels
/// stop being distributed.
#[derive(Debug, Clone, PartialEq)]
pub struct DistAmgOptions {
    /// Smoothed-aggregation options; the smoother must be `chebyshev` or `jacobi`.
    pub amg: AmgOptions,
    /// A level with at most this many rows (over all ranks) is gathered onto every rank and
    /// solved by the serial AMG (default 20,000).
    pub gather_rows: usize,
}

impl Default for DistAmgOptions {
    fn default() -> Self {
        Self {
            amg: AmgOptions::default(),
            gather_rows: 20_000,
        }
    }
}

/// Rows and stored entries of one level, over all ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DistLevelInfo {
    /// Unknowns.
    pub rows: usize,
    /// Stored entries of the level operator.
    pub nnz: usize,
    /// Whether the level is distributed (else replicated on every rank).
    pub distributed: bool,
}

/// A distributed level: operator, smoother data and transfer to the next level.
#[derive(Debug)]
struct Level {
    a: Arc<DistMatrix>,
    dinv: Vec<f64>,
    /// First update's factor and the later updates' `(c1, c2)` (see the serial smoother).
    first: f64,
    steps: Vec<(f64, f64)>,
    /// Smooth with hybrid symmetric Gauss–Seidel (within a rank; Jacobi across ranks) instead
    /// of the polynomial.
    gauss_seidel: bool,
    transfer: Transfer,
}

/// The gathered coarse levels: the serial hierarchy every rank applies.
#[derive(Debug)]
struct Replicated {
    /// The gathered level's rows this rank owns.
    own: std::ops::Range<usize>,
    matrix: CsrMatrix,
    hierarchy: AmgHierarchy,
    /// Applications per visit: 2 for a W-cycle over an inexact (multilevel) coarse solve.
    visits: usize,
}

/// Vectors of one distributed level (the finest level's `b` and `x` are the caller's).
#[derive(Debug, Default)]
struct LevelWork {
    b: Vec<f64>,
    x: Vec<f64>,
    b2: Vec<f64>,
    x2: Vec<f64>,
    r: Vec<f64>,
    d: Vec<f64>,
    q: Vec<f64>,
    /// Local coarse entries (owned, then the transfer's ghosts).
    t: Vec<f64>,
    mul: Vec<f64>,
}

/// Vectors of the replicated levels' right-hand side, solution, residual and correction.
#[derive(Debug, Default)]
struct ReplicatedWork {
    b: Vec<f64>,
    x: Vec<f64>,
    r: Vec<f64>,
    e: Vec<f64>,
}

/// The distributed smoothed-aggregation AMG hierarchy; applying it runs one cycle
/// (collective).
#[derive(Debug)]
pub struct DistAmg {
    levels: Vec<Level>,
    replicated: Replicated,
    sweeps: usize,
    visits: usize,
    info: Vec<DistLevelInfo>,
    work: Mutex<(Vec<LevelWork>, ReplicatedWork)>,
}

impl DistAmg {
    /// Builds the hierarchy of `a` (collective).
    ///
    /// # Errors
    /// Invalid options (`SolveError::InvalidOption` naming `amg.*`), a non-positive diagonal,
    /// the coarse factorisation's errors, failing transports.
    pub fn build(
        comm: &dyn Communicator,
        a: Arc<DistMatrix>,
        options: &DistAmgOptions,
    ) -> Result<Self> {
        let amg = &options.amg;
        femscale_solvers::amg::validate_options(amg)?;
        let mut levels = Vec::new();
        let mut info = Vec::new();
        let mut current = a;
        while current.partition().rows() > options.gather_rows && levels.len() + 2 < amg.max_levels
        {
            let Some(Coarsened {
                dinv,
                spectrum,
                transfer,
                coarse,
            }) = coarsen(comm, &current, amg, levels.len())?
            else {
                break;
            };
            let (first, steps) = match amg.smoother {
                AmgSmoother::Jacobi => (amg.jacobi_weight, Vec::new()),
                _ => chebyshev_coefficients(spectrum.upper, amg.chebyshev_degree),
            };
            info.push(DistLevelInfo {
                rows: current.partition().rows(),
                nnz: global_nnz(comm, &current)?,
                distributed: true,
            });
            levels.push(Level {
                a: std::mem::replace(&mut current, Arc::new(coarse)),
                dinv,
                first,
                steps,
                gauss_seidel: amg.smoother == AmgSmoother::SymmetricGaussSeidel,
                transfer,
            });
        }
        let mut serial = amg.clone();
        serial.max_levels = (amg.max_levels - levels.len()).max(2);
        let replicated = Replicated::gather(comm, &current, &serial)?;
        info.extend(
            replicated
                .hierarchy
                .levels()
                .iter()
                .map(|level| DistLevelInfo {
                    rows: level.rows,
                    nnz: level.nnz,
                    distributed: false,
                }),
        );
        let work = allocate(&levels, &replicated);
        Ok(Self {
            levels,
            replicated,
            sweeps: amg.sweeps,
            visits: match amg.cycle {
                AmgCycle::V => 1,
                AmgCycle::W => 2,
            },
            info,
            work: Mutex::new(work),
        })
    }

    /// Rows and entries per level, finest first: the distributed levels, then the replicated
    /// ones.
    pub fn levels(&self) -> &[DistLevelInfo] {
        &self.info
    }

    /// Operator complexity: entries of all level operators over those of the finest.
    pub fn operator_complexity(&self) -> f64 {
        let total: usize = self.info.iter().map(|l| l.nnz).sum();
        total as f64 / self.info.first().map_or(1, |l| l.nnz).max(1) as f64
    }
}

/// Stored entries of a distributed matrix over all ranks.
fn global_nnz(comm: &dyn Communicator, a: &DistMatrix) -> Result<usize> {
    let mut nnz = [a.local().nnz() as f64];
    comm.all_reduce_sum(&mut nnz)?;
    Ok(nnz[0] as usize)
}

fn allocate(levels: &[Level], replicated: &Replicated) -> (Vec<LevelWork>, ReplicatedWork) {
    let owned = |i: usize| match levels.get(i) {
        Some(level) => level.a.owned_rows(),
        None => replicated.owned(),
    };
    let works = (0..=levels.len())
        .map(|i| {
            let n = owned(i);
            let outer = if i == 0 { 0 } else { n };
            let mut work = LevelWork {
                b: vec![0.0; outer],
                x: vec![0.0; outer],
                b2: vec![0.0; outer],
                x2: vec![0.0; outer],
                ..LevelWork::default()
            };
            if let Some(level) = levels.get(i) {
                let t = level.transfer.halo.owned() + level.transfer.halo.ghosts().len();
                work.r = vec![0.0; n];
                work.d = vec![0.0; n];
                work.q = vec![0.0; n];
                work.t = vec![0.0; t];
            }
            work
        })
        .collect();
    let n = replicated.matrix.nrows();
    let replicated_work = ReplicatedWork {
        b: vec![0.0; n],
        x: vec![0.0; n],
        r: vec![0.0; n],
        e: vec![0.0; n],
    };
    (works, replicated_work)
}

impl Replicated {
    /// Gathers `a` onto every rank and builds the serial hierarchy (collective).
    fn gather(comm: &dyn Communicator, a: &DistMatrix, options: &AmgOptions) -> Result<Self> {
        let (p, rank) = (comm.size(), comm.rank());
        let partition = a.partition().clone();
        let local = a.local();
        let halo = a.halo();
        let mut rows = Rows::default();
        let mut row: Vec<(usize, f64)> = Vec::new();
        for i in 0..local.nrows() {
            let range = local.pattern().row_ptr()[i]..local.pattern().row_ptr()[i + 1];
            row.clear();
            row.extend(range.map(|k| {
                (
                    halo.global(local.pattern().col_idx()[k] as usize),
                    local.values()[k],
                )
            }));
            row.sort_unstable_by_key(|e| e.0);
            rows.push(row.iter().copied());
        }
        let packed = pack_rows(rows.iter());
        let others: Vec<usize> = (0..p).filter(|&r| r != rank).collect();
        let sends: Vec<(usize, &[u8])> = others.iter().map(|&r| (r, packed.as_slice())).collect();
        let mut received = comm.exchange(GATHER, &sends, &others)?.into_iter();
        let n = partition.rows();
        let mut all = Rows::default();
        for r in 0..p {
            if r == rank {
                all.append(std::mem::take(&mut rows));
            } else {
                let bytes = received.next().ok_or_else(|| Error::Communication {
                    message: format!("no coarse rows from rank {r}"),
                })?;
                unpack_rows(&bytes, partition.range(r).len(), n, r, &mut all)?;
            }
        }
        let mut row_ptr = Vec::with_capacity(n + 1);
        row_ptr.push(0);
        let (mut cols, mut values) = (Vec::new(), Vec::new());
        for row in all.iter() {
            cols.extend(row.iter().map(|e| e.0));
            values.extend(row.iter().map(|e| e.1));
            row_ptr.push(cols.len());
        }
        let cols = femscale_core::narrow_indices(&cols, "sparsity_pattern")?;
        let matrix = CsrMatrix::try_from_csr_parts(n, n, row_ptr, cols, values)?;
        let hierarchy = AmgFactory::new(options.clone()).build_with_budget(&matrix, None, None)?;
        let visits = match options.cycle {
            AmgCycle::W if hierarchy.num_levels() > 1 => 2,
            _ => 1,
        };
        Ok(Self {
            own: partition.range(rank),
            matrix,
            hierarchy,
            visits,
        })
    }

    /// Rows of the gathered level this rank owns.
    fn owned(&self) -> usize {
        self.own.len()
    }

    /// `x = M⁻¹ b` on this rank's entries: the right-hand side gathered (one all-reduce), the
    /// serial cycle on every rank.
    fn solve(
        &self,
        comm: &dyn Communicator,
        b: &[f64],
        x: &mut [f64],
        work: &mut ReplicatedWork,
        seconds: &mut f64,
    ) -> Result<()> {
        let own = self.own.clone();
        work.b.fill(0.0);
        work.b[own.clone()].copy_from_slice(b);
        let start = Instant::now();
        comm.all_reduce_sum(&mut work.b)?;
        *seconds += start.elapsed().as_secs_f64();
        self.hierarchy.apply(&work.b, &mut work.x);
        if self.visits > 1 {
            self.matrix.mul_vec_into(&work.x, &mut work.r);
            for (ri, bi) in work.r.iter_mut().zip(&work.b) {
                *ri = bi - *ri;
            }
            self.hierarchy.apply(&work.r, &mut work.e);
            for (xi, ei) in work.x.iter_mut().zip(&work.e) {
                *xi += ei;
            }
        }
        x.copy_from_slice(&work.x[own]);
        Ok(())
    }
}
