//! One problem solved across the ranks of a communicator: the distributed solvers
//! (`distributed-cg`, `distributed-gmres`, `distributed-bicgstab`) registered on it, and a
//! [`FemSolver`] that runs them ([`solver_on`]). The CLI's `femscale solve` under `mpirun`, the
//! Python package's `comm=` argument and embedding programs all use these.
//!
//! ```
//! use std::sync::Arc;
//! use femscale::distributed::ThreadRanks;
//! use femscale::prelude::*;
//!
//! // Two in-process ranks (an `MpiWorld` in an MPI job); each solves its share.
//! let config = Config::from_toml_str(
//!     r#"
//!     [problem]
//!     dim = 2
//!     mesh = { kind = "rectangle", nx = 24, ny = 24 }
//!     source = "2*pi^2*sin(pi*x)*sin(pi*y)"
//!     exact = "sin(pi*x)*sin(pi*y)"
//!     boundary = [{ where = "all", kind = "dirichlet", value = "0" }]
//!     [solver]
//!     kind = "distributed-cg"
//!     [scaling]
//!     threads = 1
//!     "#,
//! )?;
//! let errors: Vec<f64> = std::thread::scope(|s| {
//!     let ranks: Vec<_> = ThreadRanks::group(2)
//!         .into_iter()
//!         .map(|rank| {
//!             let config = config.clone();
//!             s.spawn(move || -> femscale::Result<f64> {
//!                 let solver = femscale::ranks::solver_on(config, Arc::new(rank))?;
//!                 Ok(solver.solve_configured()?.metrics.l2_error.unwrap())
//!             })
//!         })
//!         .collect();
//!     ranks.into_iter().map(|r| r.join().unwrap().unwrap()).collect()
//! });
//! assert!(errors[0] < 1e-2 && errors[0] == errors[1]);
//! # Ok::<(), femscale::Error>(())
//! ```

use std::sync::Arc;

use femscale_core::{Error, LinearSolver, Result, SolverChoice, SolverInfo};
use femscale_distributed::linalg::{
    DistMethod, DistPreconditionerChoice, DistributedKrylov, SharedCommunicator,
};
use femscale_distributed::{Communicator, fnv1a};
use femscale_runtime::{Config, FemSolver, Registry};

/// The distributed methods (GMRES's `restart` comes from `[solver.gmres]`).
const METHODS: [DistMethod; 3] = [
    DistMethod::Cg,
    DistMethod::Gmres { restart: 0 },
    DistMethod::BiCgStab,
];

/// The registry names of the distributed solvers: `distributed-cg`, `distributed-gmres`,
/// `distributed-bicgstab`.
pub fn distributed_solver_names() -> [&'static str; 3] {
    METHODS.map(|m| m.name())
}

/// Registers the distributed solvers on the ranks of `comm` in `registry`, each preconditioned
/// as `solver.preconditioner` says (`amg`: the distributed smoothed-aggregation AMG; another
/// factory: block-Jacobi with it on each rank's block).
pub fn register_distributed_solvers(registry: &mut Registry, comm: &SharedCommunicator) {
    register(registry, comm, 0);
}

/// [`register_distributed_solvers`], the solvers comparing `digest` across the ranks at set-up.
fn register(registry: &mut Registry, comm: &SharedCommunicator, digest: u64) {
    for method in METHODS {
        let comm = comm.clone();
        let info = SolverInfo::preconditioned("amg", Some(SolverChoice::AmgCg)).distributed();
        let info = match method {
            DistMethod::Gmres { .. } => info.with_options_section("solver.gmres"),
            _ => info,
        };
        registry.register_solver(
            method.name(),
            Arc::new(move |preconditioner, options| {
                let choice = DistPreconditionerChoice::from_factory(preconditioner, &options.amg);
                let method = match method {
                    DistMethod::Gmres { .. } => DistMethod::Gmres {
                        restart: options.gmres.restart,
                    },
                    other => other,
                };
                Box::new(DistributedKrylov::new(comm.clone(), method, choice).with_digest(digest))
                    as Box<dyn LinearSolver>
            }),
            info,
        );
    }
}

/// Checks that `config` solves across `ranks` ranks: with more than one, `solver.kind` must be
/// a distributed solver (any other would solve the whole problem once per rank).
///
/// # Errors
/// [`Error::InvalidInput`] naming `solver.kind`.
pub fn check_solver_on_ranks(config: &Config, ranks: usize) -> Result<()> {
    let names = distributed_solver_names();
    if ranks > 1 && !names.contains(&config.solver.kind.as_str()) {
        return Err(Error::invalid(
            "solver.kind",
            format!(
                "is `{}`, but this solve runs on {ranks} ranks: use `{}`, `{}` or `{}` (every \
                 other solver would solve the whole problem once per rank)",
                config.solver.kind, names[0], names[1], names[2]
            ),
        ));
    }
    Ok(())
}

/// Unless `config` sets `scaling.threads`, gives each of several ranks the cores of its node
/// divided by the ranks on that node: `P` ranks on a node would otherwise run `P ×` as many
/// threads as it has cores.
pub fn share_cores(config: &mut Config, comm: &dyn Communicator) {
    if comm.size() > 1 && config.scaling.threads == 0 {
        config.scaling.threads = comm.threads_per_rank();
    }
}

/// `local` (this rank's outcome of a step every rank of `comm` takes) if every rank succeeded:
/// collective. A rank that failed gets its own error, the others an [`Error::Communication`]
/// naming the first failed rank — so that a program that goes on after an error (Python under
/// `mpirun`) does not leave the others waiting in their next collective step.
///
/// # Errors
/// As described; a failed reduction is an [`Error::Communication`] too.
pub fn agreed<T>(comm: &dyn Communicator, what: &str, local: Result<T>) -> Result<T> {
    let mut failed = vec![0.0; comm.size()];
    failed[comm.rank()] = f64::from(u8::from(local.is_err()));
    let reduced = comm.all_reduce_sum(&mut failed);
    let value = local?;
    reduced?;
    match failed.iter().position(|&f| f > 0.0) {
        Some(rank) => Err(Error::Communication {
            message: format!(
                "rank {rank} failed to {what} (it reports why); every rank stops here"
            ),
        }),
        None => Ok(value),
    }
}

/// What decides the result of a solve, hashed: `[problem]`, `[solver]`, `[assembly]`,
/// `[adaptivity]` and `[plugins]`, except the path of a mesh file (each node may read its own
/// copy). Threads and caches may differ between the ranks.
fn decisive_digest(config: &Config) -> u64 {
    let mut decisive = serde_json::to_string(&(
        &config.problem,
        &config.solver,
        &config.assembly,
        &config.adaptivity,
        &config.plugins,
    ))
    .unwrap_or_default();
    if let Some(quoted) = config
        .problem
        .mesh
        .file()
        .and_then(|f| serde_json::to_string(f).ok())
    {
        decisive = decisive.replace(&quoted, "\"<mesh file>\"");
    }
    fnv1a(&decisive)
}

/// Checks, collectively, that every rank of `comm` has the same `text` (a description of what
/// must agree across the ranks, `what` for the message), by a 64-bit hash of it.
///
/// # Errors
/// On every rank, [`Error::Communication`] naming the first rank whose `text` differs from
/// rank 0's; a failed reduction.
pub fn agree_on(comm: &dyn Communicator, what: &str, text: &str) -> Result<()> {
    let (rank, size) = (comm.rank(), comm.size());
    if size == 1 {
        return Ok(());
    }
    let hash = fnv1a(text);
    // Two 32-bit halves: exact as f64 through the sum.
    let mut slots = vec![0.0; 2 * size];
    slots[2 * rank] = (hash >> 32) as f64;
    slots[2 * rank + 1] = (hash & 0xffff_ffff) as f64;
    comm.all_reduce_sum(&mut slots)?;
    match (1..size).find(|&r| slots[2 * r..2 * r + 2] != slots[..2]) {
        Some(other) => Err(Error::Communication {
            message: format!(
                "rank {other} has another {what} than rank 0: every rank must run the same \
                 (check the FEMSCALE_* environment variables, command lines and files of each \
                 node)"
            ),
        }),
        None => Ok(()),
    }
}

/// A [`FemSolver`] for `config` on this rank of `comm`: the cores shared out
/// ([`share_cores`]), the distributed solvers registered, the solver kind checked
/// ([`check_solver_on_ranks`]). Every rank calls it and then solves: each assembles the cells
/// of its rows, and every rank gets the whole solution. Not collective; the solvers compare a
/// digest of the configuration across the ranks at set-up (the path of a mesh file excepted),
/// so ranks given different problems fail there, every one of them, before solving.
///
/// # Errors
/// As [`FemSolver::with_registry`] and [`check_solver_on_ranks`].
pub fn solver_on(mut config: Config, comm: SharedCommunicator) -> Result<FemSolver> {
    check_solver_on_ranks(&config, comm.size())?;
    share_cores(&mut config, comm.as_ref());
    let mut registry = Registry::from_config(&config)?;
    register(&mut registry, &comm, decisive_digest(&config));
    FemSolver::with_registry(config, registry)
}
