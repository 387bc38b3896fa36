//! Distributed Krylov methods behind the serial solver interface: [`DistributedKrylov`], the
//! `LinearSolver` that the runtime's registry takes as `solver.kind = "distributed-cg"`,
//! `"distributed-gmres"` or `"distributed-bicgstab"`.

use std::sync::Arc;

use femscale_core::checks::check_work_space;
use femscale_core::{
    CsrMatrix, Error, LinearSolver, PreconditionerFactory, PreparedSolver, RowShare, SolveError,
    SolveMonitor, SolveReport, SolverOptions,
};

use super::{
    DistAmg, DistAmgOptions, DistKrylovOptions, DistMatrix, DistPreconditioner, RowPartition,
    bicgstab, block_jacobi, cg, gmres,
};
use crate::comm::Communicator;

/// A communicator the solver can keep and call from the pipeline's threads.
pub type SharedCommunicator = Arc<dyn Communicator + Send + Sync>;

/// The preconditioner of [`DistributedKrylov`].
#[derive(Clone)]
pub enum DistPreconditionerChoice {
    /// The distributed smoothed-aggregation AMG ([`DistAmg`]): iteration counts nearly
    /// independent of the number of ranks.
    Amg(DistAmgOptions),
    /// Block-Jacobi: a local preconditioner (IC(0), AMG, ...) of each rank's block.
    BlockJacobi(Arc<dyn PreconditionerFactory>),
}

impl std::fmt::Debug for DistPreconditionerChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl DistPreconditionerChoice {
    /// `amg` → the distributed AMG with `amg`'s options, any other → block-Jacobi with it.
    pub fn from_factory(
        factory: Arc<dyn PreconditionerFactory>,
        amg: &femscale_solvers::options::AmgOptions,
    ) -> Self {
        if factory.name() == "amg" {
            Self::Amg(DistAmgOptions {
                amg: amg.clone(),
                ..DistAmgOptions::default()
            })
        } else {
            Self::BlockJacobi(factory)
        }
    }

    fn name(&self) -> String {
        match self {
            Self::Amg(_) => "amg (distributed)".into(),
            Self::BlockJacobi(factory) => format!("block-jacobi({})", factory.name()),
        }
    }

    /// Builds the preconditioner of `a` (collective).
    fn build(
        &self,
        comm: &dyn Communicator,
        a: &Arc<DistMatrix>,
    ) -> femscale_core::Result<Box<dyn DistPreconditioner>> {
        Ok(match self {
            // One rank: the serial hierarchy is the distributed one (one block aggregated
            // alone, nothing to exchange) with the serial AMG's leaner, fused kernels.
            Self::Amg(options) if comm.size() == 1 => {
                let serial = femscale_solvers::AmgFactory::new(options.amg.clone());
                Box::new(block_jacobi(a, &serial)?.named("amg (one rank: the serial hierarchy)"))
            }
            Self::Amg(options) => Box::new(DistAmg::build(comm, a.clone(), options)?),
            Self::BlockJacobi(factory) => {
                // The local factorisation may fail on one rank only (an IC(0) breakdown):
                // every rank learns of it before the solve's first collective.
                let local = block_jacobi(a, factory.as_ref());
                let mut failed = [f64::from(u8::from(local.is_err()))];
                comm.all_reduce_sum(&mut failed)?;
                match local {
                    Err(e) => return Err(e),
                    Ok(_) if failed[0] > 0.0 => {
                        return Err(SolveError::Factorization {
                            method: factory.name().into(),
                            detail: "the preconditioner of another rank's block failed (its \
                                     error names the cause)"
                                .into(),
                        }
                        .into());
                    }
                    Ok(local) => Box::new(local),
                }
            }
        })
    }
}

/// The Krylov method of a [`DistributedKrylov`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistMethod {
    /// Conjugate gradients (symmetric positive definite systems).
    Cg,
    /// Restarted GMRES with this restart length (any nonsingular system).
    Gmres {
        /// Arnoldi steps per cycle.
        restart: usize,
    },
    /// BiCGStab (nonsymmetric systems, short recurrences).
    BiCgStab,
}

impl DistMethod {
    /// The registry name: `distributed-cg`, `distributed-gmres`, `distributed-bicgstab`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cg => "distributed-cg",
            Self::Gmres { .. } => "distributed-gmres",
            Self::BiCgStab => "distributed-bicgstab",
        }
    }
}

/// A Krylov method across the ranks of a communicator ([`DistMethod`]: CG, GMRES, BiCGStab),
/// preconditioned by the distributed AMG or by block-Jacobi with a local preconditioner
/// ([`DistPreconditionerChoice`]).
///
/// Every rank passes an `n × n` matrix and right-hand side whose rows of its block
/// ([`LinearSolver::row_share`]: contiguous, balanced) are complete — the pipeline assembles
/// only the cells touching them; a caller may also pass the whole system — and keeps that
/// block; the iteration runs across the ranks, and every rank gets the whole solution back, so
/// post-processing runs unchanged. Every rank must call [`LinearSolver::prepare`] and
/// [`PreparedSolver::solve`] together (collective).
#[derive(Clone)]
pub struct DistributedKrylov {
    comm: SharedCommunicator,
    method: DistMethod,
    preconditioner: DistPreconditionerChoice,
    /// A digest of what else every rank must share (its configuration), compared at set-up.
    digest: u64,
}

impl std::fmt::Debug for DistributedKrylov {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedKrylov")
            .field("method", &self.method)
            .field("ranks", &self.comm.size())
            .field("preconditioner", &self.preconditioner.name())
            .finish()
    }
}

impl DistributedKrylov {
    /// `method` on `comm` with `preconditioner`.
    pub fn new(
        comm: SharedCommunicator,
        method: DistMethod,
        preconditioner: DistPreconditionerChoice,
    ) -> Self {
        Self {
            comm,
            method,
            preconditioner,
            digest: 0,
        }
    }

    /// This solver, with `digest` (of the configuration that decides the result: the problem,
    /// the solver, ...) compared across the ranks at set-up with the rest: ranks given
    /// different problems of the same size would otherwise solve a mixture of them.
    #[must_use]
    pub fn with_digest(mut self, digest: u64) -> Self {
        self.digest = digest;
        self
    }
}

fn solve_error(e: Error) -> SolveError {
    match e {
        Error::Solve(e) => e,
        other => SolveError::Communication {
            message: other.to_string(),
        },
    }
}

impl LinearSolver for DistributedKrylov {
    fn name(&self) -> &str {
        self.method.name()
    }

    /// On several ranks, this rank's block of rows ([`RowPartition::balanced`], as
    /// [`LinearSolver::prepare`] keeps them) and the communicator's sum; `None` on one rank
    /// or when some rank would own no row.
    fn row_share(&self, n: usize) -> Option<RowShare> {
        let (rank, ranks) = (self.comm.rank(), self.comm.size());
        if ranks < 2 || n < ranks {
            return None;
        }
        let partition = RowPartition::balanced(n, ranks).ok()?;
        let comm = self.comm.clone();
        Some(RowShare {
            rows: partition.range(rank),
            rank,
            ranks,
            counts: (0..ranks).map(|r| partition.range(r).len()).collect(),
            sum: Arc::new(move |values: &mut [f64]| {
                comm.all_reduce_sum(values).map_err(solve_error)
            }),
        })
    }

    fn abandon_shared(&self, reason: &str) {
        // The others learn of it in the agreement (this rank reports `reason` itself); the
        // outcome here is this rank's own error.
        let _ = reason;
        let _ = self.agree(None);
    }

    fn prepare(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
    ) -> Result<Box<dyn PreparedSolver>, SolveError> {
        let comm = self.comm.as_ref();
        let partition = RowPartition::balanced(a.nrows(), comm.size()).map_err(solve_error);
        self.check_work_space(partition.as_ref().ok(), options)?;
        // Collective even when this rank has no partition: the others must not wait for it.
        let agreed = self.agree(Some((&a, options, partition.as_ref().ok())));
        let partition = partition?;
        agreed?;
        self.prepare_partitioned(a, options, partition)
    }

    /// With the rows split as `share.counts` says (a mesh partition's part sizes).
    fn prepare_shared(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
        share: &RowShare,
    ) -> Result<Box<dyn PreparedSolver>, SolveError> {
        let comm = self.comm.as_ref();
        let partition = if share.ranks != comm.size() || share.rank != comm.rank() {
            Err(SolveError::InvalidOption {
                option: "row_share".into(),
                reason: format!(
                    "a share of rank {} of {} on rank {} of {}",
                    share.rank,
                    share.ranks,
                    comm.rank(),
                    comm.size()
                ),
            })
        } else {
            RowPartition::from_counts(share.counts.iter().copied())
                .map_err(solve_error)
                .and_then(|partition| match partition.rows() == a.nrows() {
                    true => Ok(partition),
                    false => Err(SolveError::InvalidOption {
                        option: "row_share".into(),
                        reason: format!(
                            "shares {} rows of a {}-row matrix",
                            partition.rows(),
                            a.nrows()
                        ),
                    }),
                })
        };
        self.check_work_space(partition.as_ref().ok(), options)?;
        // Collective even when this rank's share is wrong: the others must not wait for it.
        let agreed = self.agree(Some((&a, options, partition.as_ref().ok())));
        let partition = partition?;
        agreed?;
        self.prepare_partitioned(a, options, partition)
    }
}

impl DistributedKrylov {
    /// Checks this rank's share of the method's work space (GMRES: the Krylov basis of
    /// `restart + 1` vectors and the Hessenberg matrix) against `options.memory_limit_mb`, or
    /// without one the memory no allocation can exceed: a typed error on this rank instead of
    /// an aborted process. A rank that fails takes part in the agreement as one that failed
    /// before the set-up, so the others (whose shares may pass) stop naming it.
    fn check_work_space(
        &self,
        partition: Option<&RowPartition>,
        options: &SolverOptions,
    ) -> Result<(), SolveError> {
        let (DistMethod::Gmres { restart }, Some(partition)) = (&self.method, partition) else {
            return Ok(());
        };
        let rank = self.comm.rank();
        let n = partition.range(rank).len();
        let m = (*restart).min(partition.rows().max(1));
        let floats = (m.saturating_add(3).saturating_mul(n))
            .saturating_add(m.saturating_add(1).saturating_mul(m))
            .saturating_add(3 * m + 1);
        let bytes = floats.saturating_mul(std::mem::size_of::<f64>());
        let what =
            || format!("distributed-gmres({m}) Krylov basis and work vectors on rank {rank}");
        let checked = check_work_space(options.memory_limit_mb, bytes, what);
        if checked.is_err() {
            let _ = self.agree(None);
        }
        checked
    }

    fn prepare_partitioned(
        &self,
        a: Arc<CsrMatrix>,
        options: &SolverOptions,
        partition: RowPartition,
    ) -> Result<Box<dyn PreparedSolver>, SolveError> {
        if let DistMethod::Gmres { restart: 0 } = self.method {
            return Err(SolveError::InvalidOption {
                option: "gmres.restart".into(),
                reason: "must be at least 1".into(),
            });
        }
        let comm = self.comm.as_ref();
        let matrix = Arc::new(DistMatrix::from_global(comm, partition, &a).map_err(solve_error)?);
        let preconditioner = self
            .preconditioner
            .build(comm, &matrix)
            .map_err(solve_error)?;
        Ok(Box::new(PreparedKrylov {
            solver: self.clone(),
            global: a,
            matrix,
            preconditioner,
            options: DistKrylovOptions {
                tolerance: options.tolerance,
                absolute_tolerance: options.absolute_tolerance,
                max_iterations: options.max_iterations,
            },
        }))
    }
}

impl DistributedKrylov {
    /// Checks (collectively, with one all-reduce) that every rank prepares the same system the
    /// same way: its size and row split, the method, the preconditioner, the tolerances and
    /// the iteration limit, and that every rank could split its rows (`partition` is `None` on a
    /// rank that could not). Ranks called with different problems or options would otherwise
    /// wait in each other's messages or stop at different iterations and hang; here every rank
    /// returns an error instead. `system` is `None` on a rank that failed before the set-up
    /// ([`LinearSolver::abandon_shared`]): it takes part all the same, and the others fail
    /// naming it.
    fn agree(
        &self,
        system: Option<(&CsrMatrix, &SolverOptions, Option<&RowPartition>)>,
    ) -> Result<(), SolveError> {
        let comm = self.comm.as_ref();
        let (rank, size) = (comm.rank(), comm.size());
        // Integers below 2^53 and hashes folded to 32 bits: exact as f64.
        let fold = |text: &str| {
            let hash = crate::comm::fnv1a(text);
            f64::from((hash ^ (hash >> 32)) as u32)
        };
        const NAMES: [&str; 10] = [
            "a row split",
            "rows",
            "row split",
            "method",
            "preconditioner",
            "tolerance",
            "absolute_tolerance",
            "max_iterations",
            "configuration",
            "configuration",
        ];
        // The first slot: 1 with a row split, 0 without, -1 for a rank that failed before.
        let mine: [f64; 10] = match system {
            None => [-1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            Some((a, options, partition)) => {
                let split = partition.map_or_else(String::new, |partition| {
                    (0..size).fold(String::new(), |text, r| {
                        format!("{text}{},", partition.range(r).len())
                    })
                });
                [
                    f64::from(u8::from(partition.is_some())),
                    a.nrows() as f64,
                    fold(&split),
                    fold(&format!("{:?}", self.method)),
                    fold(&self.preconditioner.name()),
                    options.tolerance,
                    options.absolute_tolerance,
                    options.max_iterations as f64,
                    // Two 32-bit halves: exact as f64 through the sum.
                    (self.digest >> 32) as f64,
                    (self.digest & 0xffff_ffff) as f64,
                ]
            }
        };
        let k = mine.len();
        let mut all = vec![0.0; k * size];
        all[rank * k..][..k].copy_from_slice(&mine);
        comm.all_reduce_sum(&mut all).map_err(solve_error)?;
        if let Some(failed) = (0..size).find(|&r| all[r * k] < 0.0) {
            return Err(SolveError::Communication {
                message: format!(
                    "rank {failed} failed before the distributed set-up (it reports why); every \
                     rank stops here"
                ),
            });
        }
        let first = &all[..k];
        for other in 1..size {
            let theirs = &all[other * k..][..k];
            if let Some(i) = (0..k).find(|&i| theirs[i].to_bits() != first[i].to_bits()) {
                if NAMES[i] == "configuration" {
                    return Err(SolveError::Communication {
                        message: format!(
                            "the ranks prepare different systems: rank {other} has another \
                             configuration ([problem], [solver], [assembly], [adaptivity] or \
                             [plugins]) than rank 0 (every rank must run the same: check the \
                             FEMSCALE_* environment variables, command lines and files of \
                             each node)"
                        ),
                    });
                }
                let (what, shown) = (NAMES[i], |v: f64| match NAMES[i] {
                    "a row split" => ["none", "one"][usize::from(v > 0.0)].to_owned(),
                    "row split" | "method" | "preconditioner" => format!("#{v:.0}"),
                    "tolerance" | "absolute_tolerance" => format!("{v:e}"),
                    _ => format!("{v}"),
                });
                return Err(SolveError::Communication {
                    message: format!(
                        "the ranks prepare different systems: rank 0 has {what} {}, rank \
                         {other} has {} (every rank must make the same call with the same \
                         problem and solver options)",
                        shown(first[i]),
                        shown(theirs[i])
                    ),
                });
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct PreparedKrylov {
    solver: DistributedKrylov,
    global: Arc<CsrMatrix>,
    matrix: Arc<DistMatrix>,
    preconditioner: Box<dyn DistPreconditioner>,
    options: DistKrylovOptions,
}

impl PreparedSolver for PreparedKrylov {
    fn solve(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn SolveMonitor,
    ) -> Result<SolveReport, SolveError> {
        femscale_core::checks::check_system(&self.global, b, x)?;
        let comm = self.solver.comm.as_ref();
        let own = self.matrix.partition().range(comm.rank());
        let mut local = x[own.clone()].to_vec();
        let (a, m) = (self.matrix.as_ref(), self.preconditioner.as_ref());
        let (rhs, options) = (&b[own.clone()], &self.options);
        let outcome = match self.solver.method {
            DistMethod::Cg => cg(comm, a, m, rhs, &mut local, options, monitor),
            DistMethod::Gmres { restart } => {
                gmres(comm, a, m, rhs, &mut local, options, restart, monitor)
            }
            DistMethod::BiCgStab => bicgstab(comm, a, m, rhs, &mut local, options, monitor),
        };
        let report = outcome.map_err(solve_error)?;
        // Every rank gets the whole solution: the others' entries are zero in the sum.
        x.fill(0.0);
        x[own].copy_from_slice(&local);
        comm.all_reduce_sum(x).map_err(solve_error)?;
        let mut report = report.report;
        report.solver = format!("{} ({} ranks)", self.solver.method.name(), comm.size());
        report.preconditioner = self.preconditioner.name();
        Ok(report)
    }

    /// Distributes the new values and rebuilds the local preconditioners (collective).
    fn update_values(&mut self, a: Arc<CsrMatrix>) -> Result<(), SolveError> {
        let comm = self.solver.comm.as_ref();
        let partition = self.matrix.partition().clone();
        self.matrix = Arc::new(DistMatrix::from_global(comm, partition, &a).map_err(solve_error)?);
        self.preconditioner = self
            .solver
            .preconditioner
            .build(comm, &self.matrix)
            .map_err(solve_error)?;
        self.global = a;
        Ok(())
    }

    fn matrix(&self) -> &Arc<CsrMatrix> {
        &self.global
    }

    fn memory_bytes(&self) -> usize {
        self.preconditioner.memory_bytes()
    }
}
