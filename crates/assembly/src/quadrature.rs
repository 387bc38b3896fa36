//! Quadrature rules on the reference cells.
//!
//! Reference cells (as in [`femscale_core::lagrange`]): the interval `[0, 1]`, the triangle
//! `(0,0), (1,0), (0,1)`, the tetrahedron `(0,0,0), (1,0,0), (0,1,0), (0,0,1)`, the square
//! `[-1, 1]^2` and the cube `[-1, 1]^3`. Weights are positive and sum to the reference measure
//! (1, 1/2, 1/6, 4, 8). The same rules integrate over facets (points, edges, triangles and
//! quadrilaterals of 3D cells).

use femscale_core::CellKind;

/// A quadrature rule: points in reference coordinates and their weights.
#[derive(Debug, Clone, PartialEq)]
pub struct QuadratureRule {
    /// Reference points (coordinates beyond the cell's dimension are 0).
    pub points: Vec<[f64; 3]>,
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

/// The highest quadrature degree on any cell kind (see [`max_degree`] for each kind).
pub const MAX_DEGREE: usize = 7;

/// The highest polynomial degree this module integrates exactly on `kind`'s reference cell
/// (at most [`MAX_DEGREE`]): 6 on triangles, 7 on every other kind. Always `Some`.
pub fn max_degree(kind: CellKind) -> Option<usize> {
    match kind {
        CellKind::Triangle => Some(6),
        CellKind::Interval
        | CellKind::Quadrilateral
        | CellKind::Tetrahedron
        | CellKind::Hexahedron => Some(MAX_DEGREE),
    }
}

/// The rule on `kind`'s reference cell exact for polynomials of `degree` (in each variable on
/// squares and cubes), or `None` above [`max_degree`].
pub fn rule(kind: CellKind, degree: usize) -> Option<QuadratureRule> {
    if degree > max_degree(kind)? {
        return None;
    }
    Some(match kind {
        CellKind::Interval => interval(degree),
        CellKind::Triangle => triangle(degree),
        CellKind::Quadrilateral => square(degree),
        CellKind::Tetrahedron => tetrahedron(degree),
        CellKind::Hexahedron => cube(degree),
    })
}

/// Gauss–Legendre points and weights on `[-1, 1]` with `n` points (1 to 5).
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
        4 => {
            let s = (6.0f64 / 5.0).sqrt();
            let a = ((3.0 - 2.0 * s) / 7.0).sqrt();
            let b = ((3.0 + 2.0 * s) / 7.0).sqrt();
            let wa = (18.0 + 30f64.sqrt()) / 36.0;
            let wb = (18.0 - 30f64.sqrt()) / 36.0;
            (vec![-b, -a, a, b], vec![wb, wa, wa, wb])
        }
        _ => {
            let s = 2.0 * (10.0f64 / 7.0).sqrt();
            let a = (5.0 - s).sqrt() / 3.0;
            let b = (5.0 + s).sqrt() / 3.0;
            let wa = (322.0 + 13.0 * 70f64.sqrt()) / 900.0;
            let wb = (322.0 - 13.0 * 70f64.sqrt()) / 900.0;
            (vec![-b, -a, 0.0, a, b], vec![wb, wa, 128.0 / 225.0, wa, wb])
        }
    }
}

/// Gauss points for exactness of `degree` in one variable (at most 5 points).
fn points_for(degree: usize) -> usize {
    (degree / 2 + 1).clamp(1, 5)
}

/// Gauss rule on `[0, 1]` exact for polynomials of `degree` (up to 7).
pub fn interval(degree: usize) -> QuadratureRule {
    let n = points_for(degree).min(4);
    let (x, w) = gauss_legendre(n);
    QuadratureRule {
        points: x.iter().map(|&x| [(x + 1.0) / 2.0, 0.0, 0.0]).collect(),
        weights: w.iter().map(|w| w / 2.0).collect(),
        degree: 2 * n - 1,
    }
}

/// Tensor Gauss rule on `[-1, 1]^2` exact for degree `degree` in each variable (up to 7).
pub fn square(degree: usize) -> QuadratureRule {
    let n = points_for(degree).min(4);
    let (x, w) = gauss_legendre(n);
    let mut points = Vec::with_capacity(n * n);
    let mut weights = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            points.push([x[i], x[j], 0.0]);
            weights.push(w[i] * w[j]);
        }
    }
    QuadratureRule {
        points,
        weights,
        degree: 2 * n - 1,
    }
}

/// Tensor Gauss rule on `[-1, 1]^3` exact for degree `degree` in each variable (up to 7).
pub fn cube(degree: usize) -> QuadratureRule {
    let n = points_for(degree).min(4);
    let (x, w) = gauss_legendre(n);
    let mut points = Vec::with_capacity(n * n * n);
    let mut weights = Vec::with_capacity(n * n * n);
    for k in 0..n {
        for j in 0..n {
            for i in 0..n {
                points.push([x[i], x[j], x[k]]);
                weights.push(w[i] * w[j] * w[k]);
            }
        }
    }
    QuadratureRule {
        points,
        weights,
        degree: 2 * n - 1,
    }
}

/// The points `(a, a)`, `(1 - 2a, a)`, `(a, 1 - 2a)` of a symmetric triangle orbit.
fn orbit3(a: f64, w: f64, rule: &mut QuadratureRule) {
    let b = 1.0 - 2.0 * a;
    for p in [[a, a, 0.0], [b, a, 0.0], [a, b, 0.0]] {
        rule.points.push(p);
        rule.weights.push(w);
    }
}

/// The six permutations of the barycentric coordinates `(a, b, 1 - a - b)`.
fn orbit6(a: f64, b: f64, w: f64, rule: &mut QuadratureRule) {
    let c = 1.0 - a - b;
    for p in [[a, b], [b, a], [b, c], [c, b], [a, c], [c, a]] {
        rule.points.push([p[0], p[1], 0.0]);
        rule.weights.push(w);
    }
}

/// Symmetric rule on the reference triangle exact for `degree` (degrees 1, 2, 4, 5 and 6 have
/// their own rules; 3 gets 4, above 6 gets 6). Dunavant's rules, all weights positive.
pub fn triangle(degree: usize) -> QuadratureRule {
    let mut rule = QuadratureRule {
        points: Vec::new(),
        weights: Vec::new(),
        degree: degree.clamp(1, 6).max(if degree == 3 { 4 } else { 0 }),
    };
    match rule.degree {
        1 => {
            rule.points.push([1.0 / 3.0, 1.0 / 3.0, 0.0]);
            rule.weights.push(0.5);
        }
        2 => orbit3(1.0 / 6.0, 1.0 / 6.0, &mut rule),
        4 => {
            orbit3(
                0.445_948_490_915_965,
                0.223_381_589_678_011 / 2.0,
                &mut rule,
            );
            orbit3(
                0.091_576_213_509_771,
                0.109_951_743_655_322 / 2.0,
                &mut rule,
            );
        }
        5 => {
            let s = 15f64.sqrt();
            rule.points.push([1.0 / 3.0, 1.0 / 3.0, 0.0]);
            rule.weights.push(0.225 / 2.0);
            orbit3((6.0 + s) / 21.0, (155.0 + s) / 2400.0, &mut rule);
            orbit3((6.0 - s) / 21.0, (155.0 - s) / 2400.0, &mut rule);
        }
        _ => {
            orbit3(
                0.249_286_745_170_910,
                0.116_786_275_726_379 / 2.0,
                &mut rule,
            );
            orbit3(
                0.063_089_014_491_502,
                0.050_844_906_370_207 / 2.0,
                &mut rule,
            );
            orbit6(
                0.053_145_049_844_817,
                0.310_352_451_033_784,
                0.082_851_075_618_374 / 2.0,
                &mut rule,
            );
        }
    }
    rule
}

/// Adds the distinct permutations of the barycentric coordinates `bary` (weight `w` each) to
/// a tetrahedron rule, as reference points `(l1, l2, l3)`.
fn tet_orbit(bary: [f64; 4], w: f64, rule: &mut QuadratureRule) {
    let mut seen: Vec<[u64; 4]> = Vec::new();
    for i in 0..4 {
        for j in (0..4).filter(|&j| j != i) {
            for k in (0..4).filter(|&k| k != i && k != j) {
                let l = 6 - i - j - k;
                let p = [bary[i], bary[j], bary[k], bary[l]];
                let key = p.map(f64::to_bits);
                if !seen.contains(&key) {
                    seen.push(key);
                    rule.points.push([p[1], p[2], p[3]]);
                    rule.weights.push(w);
                }
            }
        }
    }
}

/// Rule on the reference tetrahedron exact for `degree` (up to 7), all weights positive: the
/// centroid for degree 1, the symmetric 4-point rule for degree 2, Walkington's 14-point rule
/// for degrees 3 to 5, Keast's 24-point rule for degree 6, and for degree 7 the conical
/// product of Gauss rules through the collapsed-cube map
/// `(u, v, w) -> (u, (1 - u) v, (1 - u)(1 - v) w)` (100 points).
pub fn tetrahedron(degree: usize) -> QuadratureRule {
    let mut rule = QuadratureRule {
        points: Vec::new(),
        weights: Vec::new(),
        degree: 0,
    };
    let four = |a: f64| [a, a, a, 1.0 - 3.0 * a];
    match degree {
        0 | 1 => {
            rule.degree = 1;
            tet_orbit([0.25; 4], 1.0 / 6.0, &mut rule);
            rule
        }
        2 => {
            rule.degree = 2;
            tet_orbit(four((5.0 - 5f64.sqrt()) / 20.0), 1.0 / 24.0, &mut rule);
            rule
        }
        3..=5 => {
            // J. Walkington, Quadrature on simplices of arbitrary dimension (2000).
            rule.degree = 5;
            tet_orbit(
                four(0.310_885_919_263_300_6),
                0.018_781_320_953_002_643,
                &mut rule,
            );
            tet_orbit(
                four(0.092_735_250_310_891_22),
                0.012_248_840_519_393_659,
                &mut rule,
            );
            let a = 0.045_503_704_125_649_65;
            let b = 0.5 - a;
            tet_orbit([a, a, b, b], 0.007_091_003_462_846_911, &mut rule);
            rule
        }
        6 => {
            // P. Keast, Moderate-degree tetrahedral quadrature formulas (1986).
            rule.degree = 6;
            tet_orbit(
                four(0.214_602_871_259_152_03),
                0.006_653_791_709_694_582,
                &mut rule,
            );
            tet_orbit(
                four(0.040_673_958_534_611_35),
                0.001_679_535_175_886_774,
                &mut rule,
            );
            let b = 0.032_986_329_573_173_47;
            tet_orbit(four((1.0 - b) / 3.0), 0.009_226_196_923_942_455, &mut rule);
            let (a, c) = (0.063_661_001_875_017_53, 0.269_672_331_458_315_8);
            tet_orbit(
                [a, a, c, 1.0 - 2.0 * a - c],
                0.008_035_714_285_714_285,
                &mut rule,
            );
            rule
        }
        _ => {
            let degree = degree.min(MAX_DEGREE);
            // Degrees in u, v, w of a degree-`degree` polynomial times the Jacobian
            // (1 - u)^2 (1 - v).
            let unit = |d: usize| {
                let (x, w) = gauss_legendre(points_for(d));
                let x: Vec<f64> = x.iter().map(|x| (x + 1.0) / 2.0).collect();
                let w: Vec<f64> = w.iter().map(|w| w / 2.0).collect();
                (x, w)
            };
            let ((us, uw), (vs, vw), (ws, ww)) = (unit(degree + 2), unit(degree + 1), unit(degree));
            rule.degree = degree;
            for (&u, &wu) in us.iter().zip(&uw) {
                for (&v, &wv) in vs.iter().zip(&vw) {
                    for (&w, &ww) in ws.iter().zip(&ww) {
                        rule.points
                            .push([u, (1.0 - u) * v, (1.0 - u) * (1.0 - v) * w]);
                        rule.weights
                            .push(wu * wv * ww * (1.0 - u) * (1.0 - u) * (1.0 - v));
                    }
                }
            }
            rule
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integrate(rule: &QuadratureRule, f: impl Fn([f64; 3]) -> f64) -> f64 {
        (rule.points.iter().zip(&rule.weights))
            .map(|(p, w)| w * f(*p))
            .sum()
    }

    fn fact(n: i32) -> f64 {
        (1..=n).map(f64::from).product()
    }

    /// The integral of `x^a y^b z^c` over `kind`'s reference cell.
    fn exact(kind: CellKind, [a, b, c]: [i32; 3]) -> f64 {
        // Integral of x^k over [-1, 1].
        let sym = |k: i32| {
            if k % 2 == 0 {
                2.0 / f64::from(k + 1)
            } else {
                0.0
            }
        };
        match kind {
            CellKind::Interval => 1.0 / f64::from(a + 1),
            CellKind::Triangle => fact(a) * fact(b) / fact(a + b + 2),
            CellKind::Tetrahedron => fact(a) * fact(b) * fact(c) / fact(a + b + c + 3),
            CellKind::Quadrilateral => sym(a) * sym(b),
            CellKind::Hexahedron => sym(a) * sym(b) * sym(c),
        }
    }

    #[test]
    fn every_rule_integrates_all_monomials_up_to_its_degree_with_positive_weights() {
        let kinds = [
            CellKind::Interval,
            CellKind::Triangle,
            CellKind::Quadrilateral,
            CellKind::Tetrahedron,
            CellKind::Hexahedron,
        ];
        for kind in kinds {
            let max = max_degree(kind).unwrap();
            assert!(rule(kind, max + 1).is_none());
            let dim = kind.dim();
            let tensor = matches!(kind, CellKind::Quadrilateral | CellKind::Hexahedron);
            for deg in MIN_DEGREE..=max {
                let r = rule(kind, deg).unwrap();
                assert!(r.degree >= deg && r.degree <= max, "{kind:?} {deg}");
                assert!(r.weights.iter().all(|&w| w > 0.0), "{kind:?} {deg}");
                let d = r.degree as i32;
                let limit = |i: usize| if i < dim { d } else { 0 };
                for a in 0..=limit(0) {
                    for b in 0..=limit(1) {
                        for c in 0..=limit(2) {
                            // Total degree on simplices; degree in each variable on tensor cells.
                            if !tensor && a + b + c > d {
                                continue;
                            }
                            let got = integrate(&r, |p| p[0].powi(a) * p[1].powi(b) * p[2].powi(c));
                            let want = exact(kind, [a, b, c]);
                            assert!(
                                (got - want).abs() < 1e-13,
                                "{kind:?} rule {deg}: x^{a} y^{b} z^{c}: {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}
