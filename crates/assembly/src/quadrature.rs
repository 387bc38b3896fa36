//! Quadrature rules on the reference cells.
//!
//! Reference cells: the interval `[0, 1]`, the triangle with vertices `(0,0), (1,0), (0,1)`,
//! and the square `[-1, 1]^2`. Weights sum to the reference measure (1, 1/2, 4).

/// A quadrature rule: points in reference coordinates and their weights.
#[derive(Debug, Clone, PartialEq)]
pub struct QuadratureRule {
    /// Reference points (unused coordinates are 0).
    pub points: Vec<[f64; 2]>,
    /// Weights, one per point.
    pub weights: Vec<f64>,
    /// Polynomial degree integrated exactly.
    pub degree: usize,
}

impl QuadratureRule {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Whether the rule has no points.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
}

/// The lowest quadrature degree on every cell kind.
pub const MIN_DEGREE: usize = 1;

/// The highest quadrature degree on any cell kind (intervals and quadrilaterals; see
/// [`max_degree`] for each kind).
pub const MAX_DEGREE: usize = 7;

/// The highest polynomial degree this module integrates exactly on `kind`'s reference cell
/// (at most [`MAX_DEGREE`]); `None` for cells it has no rules for (tetrahedra, hexahedra).
pub fn max_degree(kind: femscale_core::CellKind) -> Option<usize> {
    match kind {
        femscale_core::CellKind::Triangle => Some(4),
        femscale_core::CellKind::Interval | femscale_core::CellKind::Quadrilateral => {
            Some(MAX_DEGREE)
        }
        femscale_core::CellKind::Tetrahedron | femscale_core::CellKind::Hexahedron => None,
    }
}

/// Gauss–Legendre points and weights on `[-1, 1]` with `n` points (1 to 4).
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    match n {
        1 => (vec![0.0], vec![2.0]),
        2 => {
            let a = 1.0 / 3f64.sqrt();
            (vec![-a, a], vec![1.0, 1.0])
        }
        3 => {
            let a = (3.0f64 / 5.0).sqrt();
            (vec![-a, 0.0, a], vec![5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0])
        }
        _ => {
            let s = (6.0f64 / 5.0).sqrt();
            let a = ((3.0 - 2.0 * s) / 7.0).sqrt();
            let b = ((3.0 + 2.0 * s) / 7.0).sqrt();
            let wa = (18.0 + 30f64.sqrt()) / 36.0;
            let wb = (18.0 - 30f64.sqrt()) / 36.0;
            (vec![-b, -a, a, b], vec![wb, wa, wa, wb])
        }
    }
}

/// Gauss rule on `[0, 1]` exact for polynomials of `degree` (up to 7).
pub fn interval(degree: usize) -> QuadratureRule {
    let n = (degree / 2 + 1).clamp(1, 4);
    let (x, w) = gauss_legendre(n);
    QuadratureRule {
        points: x.iter().map(|&x| [(x + 1.0) / 2.0, 0.0]).collect(),
        weights: w.iter().map(|w| w / 2.0).collect(),
        degree: 2 * n - 1,
    }
}

/// Tensor Gauss rule on `[-1, 1]^2` exact for degree `degree` in each variable (up to 7).
pub fn square(degree: usize) -> QuadratureRule {
    let n = (degree / 2 + 1).clamp(1, 4);
    let (x, w) = gauss_legendre(n);
    let mut points = Vec::with_capacity(n * n);
    let mut weights = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            points.push([x[i], x[j]]);
            weights.push(w[i] * w[j]);
        }
    }
    QuadratureRule {
        points,
        weights,
        degree: 2 * n - 1,
    }
}

/// Symmetric rule on the reference triangle exact for `degree` (1, 2 or 4; higher asks get 4).
pub fn triangle(degree: usize) -> QuadratureRule {
    match degree {
        0 | 1 => QuadratureRule {
            points: vec![[1.0 / 3.0, 1.0 / 3.0]],
            weights: vec![0.5],
            degree: 1,
        },
        2 => QuadratureRule {
            points: vec![
                [1.0 / 6.0, 1.0 / 6.0],
                [2.0 / 3.0, 1.0 / 6.0],
                [1.0 / 6.0, 2.0 / 3.0],
            ],
            weights: vec![1.0 / 6.0; 3],
            degree: 2,
        },
        _ => {
            // Strang–Fix / Dunavant degree-4 rule with 6 points.
            let (a, b) = (0.445_948_490_915_965, 0.091_576_213_509_771);
            let (wa, wb) = (0.223_381_589_678_011 / 2.0, 0.109_951_743_655_322 / 2.0);
            QuadratureRule {
                points: vec![
                    [a, a],
                    [1.0 - 2.0 * a, a],
                    [a, 1.0 - 2.0 * a],
                    [b, b],
                    [1.0 - 2.0 * b, b],
                    [b, 1.0 - 2.0 * b],
                ],
                weights: vec![wa, wa, wa, wb, wb, wb],
                degree: 4,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integrate(rule: &QuadratureRule, f: impl Fn(f64, f64) -> f64) -> f64 {
        rule.points
            .iter()
            .zip(&rule.weights)
            .map(|(p, w)| w * f(p[0], p[1]))
            .sum()
    }

    #[test]
    fn rules_integrate_monomials_exactly_up_to_their_degree() {
        for deg in 0..=7 {
            let r = interval(deg);
            for k in 0..=r.degree {
                let exact = 1.0 / (k as f64 + 1.0);
                assert!(
                    (integrate(&r, |x, _| x.powi(k as i32)) - exact).abs() < 1e-14,
                    "interval deg {deg} k {k}"
                );
            }
        }
        let r = square(3);
        assert!((integrate(&r, |x, y| x * x * y * y) - 4.0 / 9.0).abs() < 1e-14);
        // Reference triangle: int x^a y^b = a! b! / (a + b + 2)!
        let fact = |n: u32| (1..=n).product::<u32>() as f64;
        for deg in [1, 2, 4] {
            let r = triangle(deg);
            for a in 0..=deg as u32 {
                for b in 0..=(deg as u32 - a) {
                    let exact = fact(a) * fact(b) / fact(a + b + 2);
                    let got = integrate(&r, |x, y| x.powi(a as i32) * y.powi(b as i32));
                    assert!(
                        (got - exact).abs() < 1e-12,
                        "triangle deg {deg}: x^{a} y^{b}: {got} vs {exact}"
                    );
                }
            }
        }
    }
}
