//! Cell geometry: signed measures, corner Jacobians, orientation and shape quality.
//!
//! All functions take a cell's corner coordinates padded to three components (`[f64; 3]` per
//! node, in the cell's node order) and never panic on degenerate input: NaN propagates into
//! measures and fails `is_positive`.

use femscale_core::CellKind;

/// `v > 0` (false for NaN).
pub(crate) fn is_positive(v: f64) -> bool {
    v.partial_cmp(&0.0) == Some(std::cmp::Ordering::Greater)
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

/// `det[a, b, c]`: the triple product `a . (b x c)`.
pub(crate) fn det3(a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> f64 {
    a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
        + a[2] * (b[0] * c[1] - b[1] * c[0])
}

/// Twice the signed area of triangle (a, b, c) in the xy-plane.
pub(crate) fn cross2(a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])
}

/// The hexahedron node at reference corner `(x, y, z)` (each 0 or 1).
const fn hex_node(x: usize, y: usize, z: usize) -> usize {
    // Bottom face 0-1-2-3 counter-clockwise: (0,0), (1,0), (1,1), (0,1); top face + 4.
    let base = match (x, y) {
        (0, 0) => 0,
        (1, 0) => 1,
        (1, 1) => 2,
        _ => 3,
    };
    base + 4 * z
}

/// The Jacobian determinant of the bilinear (quadrilateral) or trilinear (hexahedron) map at
/// each corner of the reference cell, scaled by the lengths of the edges that span it: 1 for a
/// square or cube corner, <= 0 where the cell folds. For simplices and intervals, the one
/// (constant) Jacobian, scaled the same way.
#[inline]
pub(crate) fn scaled_corner_jacobians(kind: CellKind, x: &[[f64; 3]]) -> CornerValues {
    let scaled =
        |a: [f64; 3], b: [f64; 3], c: [f64; 3]| det3(a, b, c) / (norm(a) * norm(b) * norm(c));
    let scaled2 = |a: [f64; 3], b: [f64; 3]| (a[0] * b[1] - a[1] * b[0]) / (norm(a) * norm(b));
    let mut out = CornerValues::default();
    match kind {
        CellKind::Interval => out.push((x[1][0] - x[0][0]).signum()),
        CellKind::Triangle => {
            // The sine of each corner angle (signed).
            let (a, b, c) = (x[0], x[1], x[2]);
            out.push(scaled2(sub(b, a), sub(c, a)));
            out.push(scaled2(sub(c, b), sub(a, b)));
            out.push(scaled2(sub(a, c), sub(b, c)));
        }
        CellKind::Quadrilateral => {
            for i in 0..4 {
                out.push(scaled2(
                    sub(x[(i + 1) % 4], x[i]),
                    sub(x[(i + 3) % 4], x[i]),
                ));
            }
        }
        CellKind::Tetrahedron => {
            out.push(scaled(sub(x[1], x[0]), sub(x[2], x[0]), sub(x[3], x[0])))
        }
        CellKind::Hexahedron => {
            for z in 0..2 {
                for y in 0..2 {
                    for xx in 0..2 {
                        let p = |a, b, c| x[hex_node(a, b, c)];
                        let jx = sub(p(1, y, z), p(0, y, z));
                        let jy = sub(p(xx, 1, z), p(xx, 0, z));
                        let jz = sub(p(xx, y, 1), p(xx, y, 0));
                        out.push(scaled(jx, jy, jz));
                    }
                }
            }
        }
    }
    out
}

/// Up to eight values, one per corner, without allocating.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CornerValues {
    values: [f64; 8],
    len: usize,
}

impl CornerValues {
    fn push(&mut self, v: f64) {
        self.values[self.len] = v;
        self.len += 1;
    }

    fn as_slice(&self) -> &[f64] {
        &self.values[..self.len]
    }
}

/// The signed measure (length, area or volume) of a cell; negative for a cell of the opposite
/// orientation, NaN for non-finite input.
#[inline]
pub(crate) fn signed_measure(kind: CellKind, x: &[[f64; 3]]) -> f64 {
    match kind {
        CellKind::Interval => x[1][0] - x[0][0],
        CellKind::Triangle => cross2(x[0], x[1], x[2]) / 2.0,
        CellKind::Quadrilateral => (cross2(x[0], x[1], x[2]) + cross2(x[0], x[2], x[3])) / 2.0,
        CellKind::Tetrahedron => det3(sub(x[1], x[0]), sub(x[2], x[0]), sub(x[3], x[0])) / 6.0,
        CellKind::Hexahedron => hex_diagonal_volume(x),
    }
}

/// The volume of a hexahedron as six tetrahedra sharing the diagonal 0-6 (exact for
/// parallelepipeds, the usual approximation for warped faces).
#[inline]
fn hex_diagonal_volume(x: &[[f64; 3]]) -> f64 {
    const TETS: [[usize; 4]; 6] = [
        [0, 1, 2, 6],
        [0, 2, 3, 6],
        [0, 3, 7, 6],
        [0, 7, 4, 6],
        [0, 4, 5, 6],
        [0, 5, 1, 6],
    ];
    TETS.iter()
        .map(|t| {
            det3(
                sub(x[t[1]], x[t[0]]),
                sub(x[t[2]], x[t[0]]),
                sub(x[t[3]], x[t[0]]),
            ) / 6.0
        })
        .sum()
}

/// The orientation of a cell: `Some(true)` if valid as given, `Some(false)` if valid once its
/// orientation is reversed ([`reversed_order`]), `None` if degenerate, folded or (for
/// quadrilaterals and hexahedra) not convex at some corner either way.
pub(crate) fn orientation(kind: CellKind, x: &[[f64; 3]]) -> Option<bool> {
    let corners = scaled_corner_jacobians(kind, x);
    let jac = corners.as_slice();
    if jac.iter().all(|&j| is_positive(j)) {
        Some(true)
    } else if jac.iter().all(|&j| is_positive(-j)) {
        Some(false)
    } else {
        None
    }
}

/// The local node order that reverses a cell's orientation.
pub(crate) const fn reversed_order(kind: CellKind) -> &'static [usize] {
    match kind {
        CellKind::Interval => &[1, 0],
        CellKind::Triangle => &[0, 2, 1],
        CellKind::Quadrilateral => &[0, 3, 2, 1],
        CellKind::Tetrahedron => &[0, 2, 1, 3],
        CellKind::Hexahedron => &[0, 3, 2, 1, 4, 7, 6, 5],
    }
}

/// The shape quality of a valid cell in `(0, 1]`, 1 for the ideal shape: for triangles and
/// tetrahedra the normalised measure over the mean squared edge length (`4 sqrt(3) A / sum l^2`,
/// `6 sqrt(2) V / l_rms^3`), for quadrilaterals and hexahedra the smallest scaled corner
/// Jacobian; 1 for intervals. Clamped to 1: rounding lifts near-ideal cells a little above.
#[inline]
pub(crate) fn quality(kind: CellKind, x: &[[f64; 3]]) -> f64 {
    raw_quality(kind, x).min(1.0)
}

#[inline]
fn raw_quality(kind: CellKind, x: &[[f64; 3]]) -> f64 {
    let edges = kind.local_edges();
    let sum_sq: f64 = edges
        .iter()
        .map(|&(a, b)| dot(sub(x[a], x[b]), sub(x[a], x[b])))
        .sum();
    match kind {
        CellKind::Interval => 1.0,
        CellKind::Triangle => 4.0 * 3f64.sqrt() * signed_measure(kind, x).abs() / sum_sq,
        CellKind::Tetrahedron => {
            let rms = (sum_sq / 6.0).sqrt();
            6.0 * 2f64.sqrt() * signed_measure(kind, x).abs() / (rms * rms * rms)
        }
        CellKind::Quadrilateral | CellKind::Hexahedron => scaled_corner_jacobians(kind, x)
            .as_slice()
            .iter()
            .map(|v| v.abs())
            .fold(f64::INFINITY, f64::min),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUBE: [[f64; 3]; 8] = [
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 1.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [1.0, 0.0, 1.0],
        [1.0, 1.0, 1.0],
        [0.0, 1.0, 1.0],
    ];

    fn permuted(x: &[[f64; 3]], order: &[usize]) -> Vec<[f64; 3]> {
        order.iter().map(|&i| x[i]).collect()
    }

    #[test]
    fn measures_orientation_and_quality_of_reference_cells() {
        let tet = [CUBE[0], CUBE[1], CUBE[3], CUBE[4]];
        assert!((signed_measure(CellKind::Tetrahedron, &tet) - 1.0 / 6.0).abs() < 1e-15);
        assert_eq!(orientation(CellKind::Tetrahedron, &tet), Some(true));
        let flipped = permuted(&tet, reversed_order(CellKind::Tetrahedron));
        assert_eq!(orientation(CellKind::Tetrahedron, &flipped), Some(false));
        assert!(signed_measure(CellKind::Tetrahedron, &flipped) < 0.0);

        assert!((signed_measure(CellKind::Hexahedron, &CUBE) - 1.0).abs() < 1e-14);
        assert_eq!(orientation(CellKind::Hexahedron, &CUBE), Some(true));
        assert!((quality(CellKind::Hexahedron, &CUBE) - 1.0).abs() < 1e-14);
        let mirrored = permuted(&CUBE, reversed_order(CellKind::Hexahedron));
        assert_eq!(orientation(CellKind::Hexahedron, &mirrored), Some(false));
        assert!((signed_measure(CellKind::Hexahedron, &mirrored) + 1.0).abs() < 1e-14);
        // A stretched box: volume 6, still quality 1 (right angles).
        let boxed: Vec<_> = CUBE
            .iter()
            .map(|p| [p[0], 2.0 * p[1], 3.0 * p[2]])
            .collect();
        assert!((signed_measure(CellKind::Hexahedron, &boxed) - 6.0).abs() < 1e-13);
        // Swapping two top nodes folds the cell: neither orientation is valid.
        let folded = permuted(&CUBE, &[0, 1, 2, 3, 5, 4, 6, 7]);
        assert_eq!(orientation(CellKind::Hexahedron, &folded), None);

        let regular = [
            [1.0, 1.0, 1.0],
            [1.0, -1.0, -1.0],
            [-1.0, 1.0, -1.0],
            [-1.0, -1.0, 1.0],
        ];
        let q = quality(CellKind::Tetrahedron, &regular);
        assert!((q - 1.0).abs() < 1e-14, "{q}");
        let tri = [
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [0.5, 3f64.sqrt() / 2.0, 0.0],
        ];
        assert!((quality(CellKind::Triangle, &tri) - 1.0).abs() < 1e-14);
        let sliver = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 1e-3, 0.0]];
        assert!(quality(CellKind::Triangle, &sliver) < 0.01);
        let flat = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]];
        assert_eq!(orientation(CellKind::Triangle, &flat), None);
        let nan = [[0.0, 0.0, 0.0], [f64::NAN, 0.0, 0.0], [0.0, 1.0, 0.0]];
        assert_eq!(orientation(CellKind::Triangle, &nan), None);
    }
}
