//! Building blocks of smoothed aggregation for hierarchies assembled elsewhere — the
//! distributed AMG of `femscale-distributed` aggregates each rank's block, smooths the
//! prolongator across ranks and forms the Galerkin product of its local pieces with these.

use femscale_core::{CsrMatrix, SolveError};

use super::aggregate::aggregate;
use super::csr::Mat;
use super::spgemm::galerkin;
use super::strength::strength_graph;

/// An aggregation of the rows of a matrix: the tentative prolongator with the constant
/// near-nullspace, `P_tent[i, aggregate[i]] = 1 / sqrt(size of the aggregate)`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Aggregates {
    /// Aggregate of each row; `None` for rows without a coupling (left to the smoother).
    pub aggregate: Vec<Option<u32>>,
    /// Number of aggregates.
    pub count: usize,
    /// Tentative prolongator entry of each aggregate, `1/sqrt(size)`.
    pub weight: Vec<f64>,
}

/// Greedy aggregation of the strength graph of `a` (`|a_ij| >= θ sqrt(|a_ii a_jj|)`, stored
/// zeros ignored), as the serial hierarchy's levels do.
///
/// # Errors
/// [`SolveError::InvalidOption`] for a threshold outside `[0, 1]`; the input error of a
/// non-square matrix.
pub fn aggregates(a: &CsrMatrix, strength_threshold: f64) -> Result<Aggregates, SolveError> {
    femscale_core::checks::check_square(a)?;
    if !(0.0..=1.0).contains(&strength_threshold) {
        return Err(SolveError::InvalidOption {
            option: "amg.strength_threshold".into(),
            reason: format!("must be in [0, 1], got {strength_threshold}"),
        });
    }
    let m = Mat::from_csr(a);
    let diag: Vec<f64> = m.diagonal().iter().map(|d| d.abs()).collect();
    let strength = strength_graph(&m, &diag, strength_threshold);
    let aggs = aggregate(&strength, m.nrows);
    let aggregate = aggs
        .agg
        .iter()
        .map(|&k| (k != super::aggregate::NO_AGGREGATE).then_some(k))
        .collect();
    Ok(Aggregates {
        aggregate,
        count: aggs.count,
        weight: aggs.weight,
    })
}

/// `R A P` by the hierarchy's parallel sparse products (stored zeros of the inputs dropped);
/// rectangular factors are fine: `R` is `m x n`, `A` is `n x k`, `P` is `k x l`.
///
/// # Errors
/// [`SolveError::InvalidOption`] for mismatched dimensions.
pub fn triple_product(
    r: &CsrMatrix,
    a: &CsrMatrix,
    p: &CsrMatrix,
) -> Result<CsrMatrix, SolveError> {
    if r.ncols() != a.nrows() || a.ncols() != p.nrows() {
        return Err(SolveError::InvalidOption {
            option: "triple_product".into(),
            reason: format!(
                "R is {} x {}, A {} x {}, P {} x {}",
                r.nrows(),
                r.ncols(),
                a.nrows(),
                a.ncols(),
                p.nrows(),
                p.ncols()
            ),
        });
    }
    let (r, a, p) = (Mat::from_csr(r), Mat::from_csr(a), Mat::from_csr(p));
    galerkin(&a, &p, &r).to_csr()
}

/// The largest eigenvalue of the symmetric tridiagonal matrix with diagonal `alpha` and
/// off-diagonal `beta` (`beta.len() + 1 == alpha.len()`): the Ritz value of a Lanczos run.
///
/// # Panics
/// If the lengths do not match.
pub fn tridiagonal_max_eigenvalue(alpha: &[f64], beta: &[f64]) -> f64 {
    assert_eq!(beta.len() + 1, alpha.len().max(1), "Lanczos coefficients");
    super::prolongation::tridiagonal_max_eigenvalue(alpha, beta)
}

/// Coefficients of the Chebyshev smoother on `[upper * ratio, upper]` of degree `degree`:
/// the first update is `first · D⁻¹ r`, then each `d' = c1 d + c2 D⁻¹ r` for `(c1, c2)` in
/// `steps`, with `r` the residual after the previous update — the serial levels' smoother.
pub fn chebyshev_coefficients(upper: f64, degree: usize) -> (f64, Vec<(f64, f64)>) {
    super::smoother::chebyshev_coefficients(upper, degree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tests::laplacian_1d;

    #[test]
    fn aggregates_cover_the_coupled_rows_and_weights_normalise_columns() {
        let a = laplacian_1d(30);
        let aggs = aggregates(&a, 0.0).unwrap();
        assert_eq!(aggs.count, 10);
        let mut sizes = vec![0; aggs.count];
        for k in aggs.aggregate.iter().map(|k| k.unwrap() as usize) {
            sizes[k] += 1;
        }
        for (size, w) in sizes.iter().zip(&aggs.weight) {
            assert!((w * w * f64::from(*size) - 1.0).abs() < 1e-14);
        }
        assert!(aggregates(&a, 1.5).is_err());
    }

    /// The 5-point Laplacian on an `m x m` grid, with `diagonal` on the couplings of each node
    /// to its upper-right neighbour (0: not stored).
    fn grid_laplacian(m: usize, diagonal: f64) -> CsrMatrix {
        let mut t = Vec::new();
        for y in 0..m {
            for x in 0..m {
                let i = y * m + x;
                t.push((i, i, 4.0));
                let mut couple = |j: usize, v: f64| {
                    t.push((i, j, v));
                    t.push((j, i, v));
                };
                if x + 1 < m {
                    couple(i + 1, -1.0);
                }
                if y + 1 < m {
                    couple(i + m, -1.0);
                }
                if x + 1 < m && y + 1 < m && diagonal != 0.0 {
                    couple(i + m + 1, diagonal);
                }
            }
        }
        CsrMatrix::try_from_triplets(m * m, m * m, &t).unwrap()
    }

    /// Couplings that are zero in exact arithmetic but come out as rounding noise aggregate as
    /// exact zeros do, also at θ = 0; couplings above noise level do count.
    #[test]
    fn rounding_noise_is_no_coupling() {
        let exact = aggregates(&grid_laplacian(12, 0.0), 0.0).unwrap();
        for noise in [4e-17, -3e-16, 1e-13] {
            let noisy = aggregates(&grid_laplacian(12, noise), 0.0).unwrap();
            assert_eq!(noisy, exact, "noise {noise:e}");
        }
        let coupled = aggregates(&grid_laplacian(12, -1e-9), 0.0).unwrap();
        assert_ne!(coupled, exact);
    }

    #[test]
    fn triple_product_of_identity_restriction_is_the_matrix() {
        let a = laplacian_1d(5);
        let t: Vec<(usize, usize, f64)> = (0..5).map(|i| (i, i, 1.0)).collect();
        let id = CsrMatrix::try_from_triplets(5, 5, &t).unwrap();
        let c = triple_product(&id, &a, &id).unwrap();
        for i in 0..5 {
            for j in 0..5 {
                assert_eq!(c.get(i, j), a.get(i, j));
            }
        }
        assert!(triple_product(&a, &id, &laplacian_1d(4)).is_err());
    }

    #[test]
    fn tridiagonal_eigenvalue_checks_lengths() {
        assert!((tridiagonal_max_eigenvalue(&[2.0, 2.0], &[-1.0]) - 3.0).abs() < 1e-9);
    }
}
