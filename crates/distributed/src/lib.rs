//! femscale's distributed layer: the [`Communicator`] rank-parallel work runs on, with ranks
//! as MPI processes (`MpiWorld`, cargo feature `mpi`) or as threads of one process
//! ([`ThreadRanks`]), and how a process finds out that a launcher (`mpirun`, `srun`) started it
//! as one of several ranks ([`launched_ranks`]).
//!
//! The experiment runner hands out the points of a sweep over a communicator
//! (`femscale_experiment::Experiment::run_ranks`); the distributed solve (partitioned meshes,
//! distributed matrices, Krylov and AMG) builds on the same trait.

mod comm;
mod launch;
#[cfg(feature = "mpi")]
mod mpi_world;
mod threads;

pub use comm::{Communicator, MAX_MESSAGE_BYTES, Message, Tag};
pub use launch::{LaunchedRanks, launched_ranks};
#[cfg(feature = "mpi")]
pub use mpi_world::MpiWorld;
pub use threads::ThreadRanks;
