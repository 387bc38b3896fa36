//! Distributed linear algebra: rows split over ranks ([`RowPartition`]), a row-distributed
//! matrix with its halo exchange ([`DistMatrix`]), Krylov methods across the ranks ([`cg`],
//! [`gmres`], [`bicgstab`]) with the distributed AMG ([`DistAmg`]) or block-Jacobi on any
//! local preconditioner ([`block_jacobi`]); compact parts by
//! recursive coordinate bisection ([`recursive_bisection`], [`Renumbering`]).

mod amg;
mod bicgstab;
mod bisection;
mod cg;
mod gmres;
mod halo;
mod matrix;
mod ops;
mod partition;
mod solver;

pub use amg::{DistAmg, DistAmgOptions, DistLevelInfo};
pub use bicgstab::bicgstab;
pub use bisection::Renumbering;
pub use cg::{
    BlockJacobi, DistKrylovOptions, DistPreconditioner, DistSolveReport, block_jacobi, cg,
};
pub use femscale_mesh::partition::recursive_bisection;
pub use gmres::gmres;
pub use matrix::{DistMatrix, HaloVolume};
pub use partition::RowPartition;
pub use solver::{DistMethod, DistPreconditionerChoice, DistributedKrylov, SharedCommunicator};

/// The 5-point Laplacian on an `m × m` grid of interior points (Dirichlet boundary eliminated),
/// rows numbered line by line: the model problem of the tests and of `femscale-mpi-cg`.
///
/// # Errors
/// [`femscale_core::Error::InvalidInput`] when `m × m` overflows.
pub fn grid_laplacian(m: usize) -> femscale_core::Result<femscale_core::CsrMatrix> {
    let n = m
        .checked_mul(m)
        .ok_or_else(|| femscale_core::Error::invalid("m", format!("{m} x {m} overflows")))?;
    let mut triplets = Vec::with_capacity(5 * n);
    for i in 0..m {
        for j in 0..m {
            let row = i * m + j;
            triplets.push((row, row, 4.0));
            if i > 0 {
                triplets.push((row, row - m, -1.0));
            }
            if i + 1 < m {
                triplets.push((row, row + m, -1.0));
            }
            if j > 0 {
                triplets.push((row, row - 1, -1.0));
            }
            if j + 1 < m {
                triplets.push((row, row + 1, -1.0));
            }
        }
    }
    femscale_core::CsrMatrix::try_from_triplets(n, n, &triplets)
}

#[cfg(test)]
mod tests;
