//! Lagrange elements of lowest order (P1 on intervals and triangles, Q1 on quadrilaterals):
//! basis tables at quadrature points and the per-cell geometry.

use femscale_core::{CellKind, Error, MeshView, Result};

use crate::quadrature::{self, QuadratureRule};

/// Most nodes of any supported cell.
pub(crate) const MAX_NODES: usize = 4;
/// Most quadrature points of any rule used here (4 x 4 Gauss on quadrilaterals).
pub(crate) const MAX_POINTS: usize = 16;

/// Basis values and reference gradients of one element at the points of one quadrature rule.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub kind: CellKind,
    pub npc: usize,
    pub nq: usize,
    pub weights: [f64; MAX_POINTS],
    pub phi: [[f64; MAX_NODES]; MAX_POINTS],
    pub dphi: [[[f64; 2]; MAX_NODES]; MAX_POINTS],
}

/// The error for cells the assembler cannot integrate yet.
pub(crate) fn unsupported(kind: CellKind) -> Error {
    Error::Mesh {
        location: None,
        message: format!(
            "{} cells can be read, refined-checked and written, but not assembled yet: the \
             assembler integrates intervals, triangles and quadrilaterals",
            kind.name()
        ),
    }
}

/// Physical gradients of the basis functions and the measure weight at one quadrature point.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PointGeometry {
    /// Quadrature weight times |det J|.
    pub dx: f64,
    /// Gradient of each basis function (the second component is 0 in 1D).
    pub grad: [[f64; 2]; MAX_NODES],
}

impl Element {
    /// The element on `kind` with a rule exact for polynomials of `degree`.
    ///
    /// # Errors
    /// [`Error::Mesh`] for cells this assembler does not integrate (tetrahedra, hexahedra).
    pub fn new(kind: CellKind, degree: usize) -> Result<Self> {
        let rule: QuadratureRule = match kind {
            CellKind::Interval => quadrature::interval(degree),
            CellKind::Triangle => quadrature::triangle(degree),
            CellKind::Quadrilateral => quadrature::square(degree),
            CellKind::Tetrahedron | CellKind::Hexahedron => return Err(unsupported(kind)),
        };
        let nq = rule.len();
        assert!(nq <= MAX_POINTS, "quadrature rule too large: this is a bug");
        let mut e = Self {
            kind,
            npc: kind.nodes_per_cell(),
            nq,
            weights: [0.0; MAX_POINTS],
            phi: [[0.0; MAX_NODES]; MAX_POINTS],
            dphi: [[[0.0; 2]; MAX_NODES]; MAX_POINTS],
        };
        for (q, (&[s, t], &w)) in rule.points.iter().zip(&rule.weights).enumerate() {
            e.weights[q] = w;
            match kind {
                CellKind::Interval => {
                    e.phi[q][..2].copy_from_slice(&[1.0 - s, s]);
                    e.dphi[q][..2].copy_from_slice(&[[-1.0, 0.0], [1.0, 0.0]]);
                }
                CellKind::Triangle => {
                    e.phi[q][..3].copy_from_slice(&[1.0 - s - t, s, t]);
                    e.dphi[q][..3].copy_from_slice(&[[-1.0, -1.0], [1.0, 0.0], [0.0, 1.0]]);
                }
                CellKind::Quadrilateral => {
                    const CORNERS: [[f64; 2]; 4] =
                        [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]];
                    for (a, [sa, ta]) in CORNERS.into_iter().enumerate() {
                        e.phi[q][a] = (1.0 + s * sa) * (1.0 + t * ta) / 4.0;
                        e.dphi[q][a] = [sa * (1.0 + t * ta) / 4.0, ta * (1.0 + s * sa) / 4.0];
                    }
                }
                CellKind::Tetrahedron | CellKind::Hexahedron => return Err(unsupported(kind)),
            }
        }
        Ok(e)
    }

    /// Whether the reference map is affine (geometry is the same at every point).
    pub fn is_affine(&self) -> bool {
        !matches!(self.kind, CellKind::Quadrilateral)
    }

    /// Physical coordinates of the quadrature points of a cell with nodes `x`.
    pub fn map_points(&self, x: &[[f64; 3]; MAX_NODES], out: &mut [[f64; 3]]) {
        for (q, o) in out.iter_mut().enumerate().take(self.nq) {
            let mut p = [0.0; 3];
            for a in 0..self.npc {
                let w = self.phi[q][a];
                p[0] += w * x[a][0];
                p[1] += w * x[a][1];
                p[2] += w * x[a][2];
            }
            *o = p;
        }
    }

    /// Geometry at quadrature point `q` of a cell with nodes `x`. Returns `dx <= 0` for a
    /// degenerate or inverted cell.
    pub fn geometry(&self, x: &[[f64; 3]; MAX_NODES], q: usize) -> PointGeometry {
        let mut g = PointGeometry::default();
        let d = &self.dphi[q];
        if self.kind == CellKind::Interval {
            let jac = d[0][0] * x[0][0] + d[1][0] * x[1][0];
            g.dx = self.weights[q] * jac;
            for a in 0..2 {
                g.grad[a] = [d[a][0] / jac, 0.0];
            }
            return g;
        }
        // J = [[dx/ds, dx/dt], [dy/ds, dy/dt]].
        let (mut j00, mut j01, mut j10, mut j11) = (0.0, 0.0, 0.0, 0.0);
        for a in 0..self.npc {
            j00 += x[a][0] * d[a][0];
            j01 += x[a][0] * d[a][1];
            j10 += x[a][1] * d[a][0];
            j11 += x[a][1] * d[a][1];
        }
        let det = j00 * j11 - j01 * j10;
        g.dx = self.weights[q] * det;
        let inv = 1.0 / det;
        for a in 0..self.npc {
            let [gs, gt] = d[a];
            g.grad[a] = [(j11 * gs - j10 * gt) * inv, (j00 * gt - j01 * gs) * inv];
        }
        g
    }
}

/// The node coordinates of cell `c`, padded to three components and `MAX_NODES` nodes.
#[inline]
pub(crate) fn cell_coords(mesh: &MeshView<'_>, nodes: &[usize]) -> [[f64; 3]; MAX_NODES] {
    let mut x = [[0.0; 3]; MAX_NODES];
    let dim = mesh.dim;
    for (xa, &n) in x.iter_mut().zip(nodes) {
        xa[..dim].copy_from_slice(&mesh.coords[n * dim..n * dim + dim]);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_reproduce_linear_functions_and_measures_add_up() {
        // A skewed quadrilateral and a triangle: grad of u = 2x - 3y must be recovered exactly.
        let quad = [
            [0.0, 0.0, 0.0],
            [2.0, 0.2, 0.0],
            [2.5, 1.8, 0.0],
            [-0.3, 1.0, 0.0],
        ];
        let tri = [[0.1, 0.0, 0.0], [1.0, 0.3, 0.0], [0.2, 0.9, 0.0], [0.0; 3]];
        for (kind, x) in [(CellKind::Quadrilateral, quad), (CellKind::Triangle, tri)] {
            let e = Element::new(kind, 3).unwrap();
            let u: Vec<f64> = x.iter().map(|p| 2.0 * p[0] - 3.0 * p[1]).collect();
            let mut area = 0.0;
            for q in 0..e.nq {
                let g = e.geometry(&x, q);
                area += g.dx;
                let mut grad = [0.0; 2];
                for a in 0..e.npc {
                    grad[0] += u[a] * g.grad[a][0];
                    grad[1] += u[a] * g.grad[a][1];
                }
                assert!(
                    (grad[0] - 2.0).abs() < 1e-12 && (grad[1] + 3.0).abs() < 1e-12,
                    "{kind:?}: {grad:?}"
                );
            }
            let shoelace = |p: &[[f64; 3]]| {
                (0..p.len())
                    .map(|i| {
                        let (a, b) = (p[i], p[(i + 1) % p.len()]);
                        a[0] * b[1] - b[0] * a[1]
                    })
                    .sum::<f64>()
                    / 2.0
            };
            assert!((area - shoelace(&x[..e.npc])).abs() < 1e-12, "{kind:?}");
        }
    }
}
