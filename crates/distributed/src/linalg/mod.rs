//! Distributed linear algebra: rows split over ranks ([`RowPartition`]), a row-distributed
//! matrix with its halo exchange ([`DistMatrix`]) and preconditioned CG across the ranks
//! ([`cg`], block-Jacobi with any local preconditioner: [`block_jacobi`]); compact parts by
//! recursive coordinate bisection ([`recursive_bisection`], [`Renumbering`]).

mod bisection;
mod cg;
mod matrix;
mod partition;
mod solver;

pub use bisection::{Renumbering, recursive_bisection};
pub use cg::{DistCgOptions, DistSolveReport, block_jacobi, cg};
pub use matrix::{DistMatrix, HaloVolume};
pub use partition::RowPartition;
pub use solver::{DistributedCg, SharedCommunicator};

#[cfg(test)]
mod tests;
