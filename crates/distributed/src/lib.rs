//! femscale's distributed layer: the [`Communicator`] rank-parallel work runs on, with ranks
//! as MPI processes (`MpiWorld`, cargo feature `mpi`) or as threads of one process
//! ([`ThreadRanks`]), and how a process finds out that a launcher (`mpirun`, `srun`) started it
//! as one of several ranks ([`launched_ranks`]).
//!
//! The experiment runner hands out the points of a sweep over a communicator
//! (`femscale_experiment::Experiment::run_ranks`). [`linalg`] is the distributed linear
//! algebra on the same trait: row partitions, a row-distributed matrix with halo exchange, and
//! CG across the ranks with block-Jacobi preconditioning (partitioned meshes and distributed
//! AMG are not built yet).

mod comm;
mod launch;
pub mod linalg;
#[cfg(feature = "mpi")]
mod mpi_world;
mod threads;

pub use comm::{Communicator, MAX_MESSAGE_BYTES, Message, RESERVED_TAGS, Tag, fnv1a};
pub use launch::{LaunchedRanks, launched_ranks};
#[cfg(feature = "mpi")]
pub use mpi_world::MpiWorld;
pub use threads::ThreadRanks;
