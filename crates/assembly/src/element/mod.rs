//! Lagrange elements (P1 and P2 on intervals, triangles and tetrahedra; Q1 and Q2 on
//! quadrilaterals and hexahedra): basis tables at quadrature points, built from the node
//! layouts of [`femscale_core::lagrange`], and the geometry of each cell.
//!
//! The geometry is affine from the vertices on simplices and (multi)linear from the corners on
//! quadrilaterals and hexahedra, whatever the element's order; on a curved mesh
//! ([`MeshView::curved`]) it is isoparametric, through all nodes of the cell.
//!
//! [`Element`] holds the tables at run-time sizes; [`Tables`] is the same element with the
//! node count, dimension and geometry node count as constants, which is what the cell
//! kernels run on (`with_shape!` picks the instance), so that a triangle
//! never pays for a hexahedron's 27 x 27 buffers.

mod typed;

use femscale_core::{CellKind, Error, MeshView, Order, Result};

pub(crate) use typed::{Jacobian, Tables, cell_coords, with_shape};

use crate::quadrature::{self, QuadratureRule};

/// Basis values and reference gradients of one element, and of its geometry map, at the points
/// of one quadrature rule (point-major tables).
#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub kind: CellKind,
    pub order: Order,
    pub curved: bool,
    /// Nodes (basis functions) per cell.
    pub npc: usize,
    /// Nodes the geometry map runs through: the vertices, or all nodes of a curved cell.
    pub ng: usize,
    /// Quadrature points.
    pub nq: usize,
    pub weights: Vec<f64>,
    /// `phi[q * npc + a]`: basis function `a` at point `q`.
    pub phi: Vec<f64>,
    /// Reference gradients, laid out like `phi` (components beyond the dimension are 0).
    pub dphi: Vec<[f64; 3]>,
    /// The geometry map's basis at the points (`nq * ng`).
    pub gphi: Vec<f64>,
    /// The geometry map's reference gradients (`nq * ng`).
    pub gdphi: Vec<[f64; 3]>,
}

impl Element {
    /// The element of `order` on `kind` with a rule exact for polynomials of `degree`; the
    /// geometry runs through all nodes when `curved`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (field `quadrature_degree`) for a degree `kind` has no rule for.
    pub fn new(kind: CellKind, order: Order, curved: bool, degree: usize) -> Result<Self> {
        let rule = quadrature::rule(kind, degree).ok_or_else(|| {
            Error::invalid(
                "quadrature_degree",
                format!(
                    "{kind:?} cells support quadrature degrees {} to {}, got {degree}",
                    quadrature::MIN_DEGREE,
                    quadrature::max_degree(kind).unwrap_or(0)
                ),
            )
        })?;
        Ok(Self::on_rule(kind, order, curved, &rule))
    }

    /// The element of `mesh` (its cell kind, order and curvature) with a rule of `degree`.
    ///
    /// # Errors
    /// As [`Element::new`].
    pub fn of_mesh(mesh: &MeshView<'_>, degree: usize) -> Result<Self> {
        Self::new(mesh.cell_kind, mesh.order, mesh.curved, degree)
    }

    /// The element on the points of `rule`.
    pub fn on_rule(kind: CellKind, order: Order, curved: bool, rule: &QuadratureRule) -> Self {
        let geometry_order = if curved { order } else { Order::Linear };
        let npc = kind.nodes_per_cell_of(order);
        let ng = kind.nodes_per_cell_of(geometry_order);
        let nq = rule.len();
        let mut e = Self {
            kind,
            order,
            curved,
            npc,
            ng,
            nq,
            weights: rule.weights.clone(),
            phi: vec![0.0; nq * npc],
            dphi: vec![[0.0; 3]; nq * npc],
            gphi: vec![0.0; nq * ng],
            gdphi: vec![[0.0; 3]; nq * ng],
        };
        for (q, &p) in rule.points.iter().enumerate() {
            let (a, b) = (q * npc, (q + 1) * npc);
            basis(kind, order, p, &mut e.phi[a..b], &mut e.dphi[a..b]);
            let (a, b) = (q * ng, (q + 1) * ng);
            basis(
                kind,
                geometry_order,
                p,
                &mut e.gphi[a..b],
                &mut e.gdphi[a..b],
            );
        }
        e
    }

    /// Whether the geometry map is affine (straight-sided simplices): the Jacobian is the same
    /// at every point.
    pub fn is_affine(&self) -> bool {
        is_simplex(self.kind) && self.ng == self.kind.num_vertices()
    }

    /// Whether the physical gradients are the same at every point (P1 on affine cells).
    pub fn constant_gradients(&self) -> bool {
        self.is_affine() && self.order == Order::Linear
    }
}

fn is_simplex(kind: CellKind) -> bool {
    matches!(
        kind,
        CellKind::Interval | CellKind::Triangle | CellKind::Tetrahedron
    )
}

/// One-dimensional Lagrange polynomial of `order` on `[-1, 1]` for the node at `xi` (-1, 0 or 1)
/// and its derivative, at `x`.
fn lagrange_1d(order: Order, xi: f64, x: f64) -> (f64, f64) {
    match order {
        Order::Linear => ((1.0 + xi * x) / 2.0, xi / 2.0),
        Order::Quadratic if xi == 0.0 => (1.0 - x * x, -2.0 * x),
        Order::Quadratic => (x * (x + xi) / 2.0, (2.0 * x + xi) / 2.0),
    }
}

/// Values and reference gradients at the reference point `p` of the Lagrange basis of `order`
/// on `kind`, one function per node of [`CellKind::node_support`] (the layouts' order).
///
/// On simplices the functions are those of the barycentric coordinates `l`: `l_v` (order 1),
/// `l_v (2 l_v - 1)` at vertices and `4 l_v l_w` at edge midpoints (order 2). On quadrilaterals
/// and hexahedra they are products of one-dimensional Lagrange polynomials through the node's
/// reference coordinates.
pub(crate) fn basis(
    kind: CellKind,
    order: Order,
    p: [f64; 3],
    phi: &mut [f64],
    dphi: &mut [[f64; 3]],
) {
    let dim = kind.dim();
    if is_simplex(kind) {
        // Barycentric coordinates and their (constant) gradients.
        let mut l = [0.0; 4];
        let mut dl = [[0.0; 3]; 4];
        l[0] = 1.0 - p[..dim].iter().sum::<f64>();
        for i in 0..dim {
            l[i + 1] = p[i];
            dl[0][i] = -1.0;
            dl[i + 1][i] = 1.0;
        }
        for (n, support) in kind.node_support(order).iter().enumerate() {
            let (v, g) = match (*support, order) {
                ([v], Order::Linear) => (l[*v], dl[*v]),
                ([v], Order::Quadratic) => (
                    l[*v] * (2.0 * l[*v] - 1.0),
                    dl[*v].map(|d| (4.0 * l[*v] - 1.0) * d),
                ),
                (&[v, w], _) => {
                    let g = std::array::from_fn(|i| 4.0 * (l[w] * dl[v][i] + l[v] * dl[w][i]));
                    (4.0 * l[v] * l[w], g)
                }
                _ => unreachable!("simplex nodes are vertices or edge midpoints"),
            };
            phi[n] = v;
            dphi[n] = g;
        }
        return;
    }
    for (n, xi) in kind.reference_nodes(order).into_iter().enumerate() {
        let factors: [(f64, f64); 3] = std::array::from_fn(|i| {
            if i < dim {
                lagrange_1d(order, xi[i], p[i])
            } else {
                (1.0, 0.0)
            }
        });
        phi[n] = factors.iter().map(|f| f.0).product();
        for i in 0..3 {
            dphi[n][i] = if i < dim {
                (0..dim)
                    .map(|j| if j == i { factors[j].1 } else { factors[j].0 })
                    .product()
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [CellKind; 5] = CellKind::ALL;

    /// Every basis is nodal on its layout (`phi_a(x_b) = delta_ab`), sums to one, and its
    /// gradients match central differences.
    #[test]
    fn bases_are_nodal_partitions_of_unity_with_consistent_gradients() {
        for kind in KINDS {
            for order in [Order::Linear, Order::Quadratic] {
                let n = kind.nodes_per_cell_of(order);
                let (mut phi, mut dphi) = (vec![0.0; n], vec![[0.0; 3]; n]);
                for (b, x) in kind.reference_nodes(order).into_iter().enumerate() {
                    basis(kind, order, x, &mut phi, &mut dphi);
                    for (a, v) in phi.iter().enumerate() {
                        let want = if a == b { 1.0 } else { 0.0 };
                        assert!((v - want).abs() < 1e-14, "{kind:?} {order:?} {a} at {b}");
                    }
                }
                let p = [0.21, 0.13, 0.37];
                basis(kind, order, p, &mut phi, &mut dphi);
                assert!((phi.iter().sum::<f64>() - 1.0).abs() < 1e-14);
                let h = 1e-6;
                for i in 0..kind.dim() {
                    let (mut plus, mut minus) = (vec![0.0; n], vec![0.0; n]);
                    let mut q = p;
                    q[i] += h;
                    basis(kind, order, q, &mut plus, &mut vec![[0.0; 3]; n]);
                    q[i] -= 2.0 * h;
                    basis(kind, order, q, &mut minus, &mut vec![[0.0; 3]; n]);
                    for a in 0..n {
                        let fd = (plus[a] - minus[a]) / (2.0 * h);
                        assert!(
                            (fd - dphi[a][i]).abs() < 1e-8,
                            "{kind:?} {order:?} d{i} {a}"
                        );
                    }
                }
            }
        }
    }
}
