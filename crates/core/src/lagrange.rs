//! Lagrange node layouts of order 1 and 2 on the reference cells.
//!
//! A mesh of [`Order::Quadratic`] carries, per cell, the vertices followed by one node per
//! edge (in [`CellKind::local_edges`] order), then for quadrilaterals the centre and for
//! hexahedra one node per face (`-x, +x, -y, +y, -z, +z`) and the centre: VTK's layouts
//! (`VTK_QUADRATIC_EDGE`, `_TRIANGLE`, `VTK_BIQUADRATIC_QUAD`, `VTK_QUADRATIC_TETRA`,
//! `VTK_TRIQUADRATIC_HEXAHEDRON`), so cells go to VTU unpermuted. Every node is the centroid of
//! a set of the cell's vertices ([`CellKind::node_support`]) on a straight-sided cell; that is
//! what defines the layout, and what a mesh lifted to order 2 places its new nodes by.
//!
//! Reference cells: the interval `[0, 1]`, the triangle `(0,0), (1,0), (0,1)`, the
//! tetrahedron `(0,0,0), (1,0,0), (0,1,0), (0,0,1)`, the square `[-1, 1]^2` and the cube
//! `[-1, 1]^3`.

use serde::{Deserialize, Serialize};

use crate::mesh::CellKind;

/// The polynomial order of a Lagrange node layout, and of the element on it (P1/Q1 or P2/Q2).
/// Written as the number 1 or 2 in configuration files and reports.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(try_from = "u64", into = "u64")]
pub enum Order {
    /// Vertices only: P1 on simplices, Q1 on quadrilaterals and hexahedra.
    #[default]
    Linear,
    /// Vertices, edge midpoints, and for tensor cells face and cell centres: P2 and Q2.
    Quadratic,
}

impl Order {
    /// The order as a number (1 or 2).
    pub const fn get(self) -> usize {
        match self {
            Self::Linear => 1,
            Self::Quadratic => 2,
        }
    }

    /// The order numbered `n`, if supported.
    pub const fn from_number(n: usize) -> Option<Self> {
        match n {
            1 => Some(Self::Linear),
            2 => Some(Self::Quadratic),
            _ => None,
        }
    }
}

impl From<Order> for u64 {
    fn from(order: Order) -> Self {
        order.get() as u64
    }
}

impl TryFrom<u64> for Order {
    type Error = String;

    fn try_from(n: u64) -> Result<Self, Self::Error> {
        usize::try_from(n)
            .ok()
            .and_then(Self::from_number)
            .ok_or_else(|| format!("order {n} is not supported: use 1 (P1/Q1) or 2 (P2/Q2)"))
    }
}

const V: [&[usize]; 8] = [&[0], &[1], &[2], &[3], &[4], &[5], &[6], &[7]];

impl CellKind {
    /// Vertices per cell (the nodes of the order-1 layout).
    pub const fn num_vertices(self) -> usize {
        self.nodes_per_cell()
    }

    /// Nodes per cell in the layout of `order`.
    pub const fn nodes_per_cell_of(self, order: Order) -> usize {
        match (self, order) {
            (_, Order::Linear) => self.nodes_per_cell(),
            (Self::Interval, Order::Quadratic) => 3,
            (Self::Triangle, Order::Quadratic) => 6,
            (Self::Quadrilateral, Order::Quadratic) => 9,
            (Self::Tetrahedron, Order::Quadratic) => 10,
            (Self::Hexahedron, Order::Quadratic) => 27,
        }
    }

    /// The kind of the cell's facets (`None` for intervals, whose facets are points).
    pub const fn facet_kind(self) -> Option<Self> {
        match self {
            Self::Interval => None,
            Self::Triangle | Self::Quadrilateral => Some(Self::Interval),
            Self::Tetrahedron => Some(Self::Triangle),
            Self::Hexahedron => Some(Self::Quadrilateral),
        }
    }

    /// Nodes per facet in the layout of `order` (1 for intervals).
    pub const fn nodes_per_facet_of(self, order: Order) -> usize {
        match self.facet_kind() {
            Some(facet) => facet.nodes_per_cell_of(order),
            None => 1,
        }
    }

    /// For each node of the layout of `order`, the local vertices it is the centroid of on a
    /// straight-sided cell: one vertex, an edge's two, a face's four or the hexahedron's eight.
    pub const fn node_support(self, order: Order) -> &'static [&'static [usize]] {
        match (self, order) {
            (Self::Interval, Order::Linear) => &[V[0], V[1]],
            (Self::Triangle, Order::Linear) => &[V[0], V[1], V[2]],
            (Self::Quadrilateral | Self::Tetrahedron, Order::Linear) => &[V[0], V[1], V[2], V[3]],
            (Self::Hexahedron, Order::Linear) => &V,
            (Self::Interval, Order::Quadratic) => &[V[0], V[1], &[0, 1]],
            (Self::Triangle, Order::Quadratic) => &[V[0], V[1], V[2], &[0, 1], &[1, 2], &[2, 0]],
            (Self::Quadrilateral, Order::Quadratic) => &[
                V[0],
                V[1],
                V[2],
                V[3],
                &[0, 1],
                &[1, 2],
                &[2, 3],
                &[3, 0],
                &[0, 1, 2, 3],
            ],
            (Self::Tetrahedron, Order::Quadratic) => &[
                V[0],
                V[1],
                V[2],
                V[3],
                &[0, 1],
                &[1, 2],
                &[2, 0],
                &[0, 3],
                &[1, 3],
                &[2, 3],
            ],
            (Self::Hexahedron, Order::Quadratic) => &[
                V[0],
                V[1],
                V[2],
                V[3],
                V[4],
                V[5],
                V[6],
                V[7],
                &[0, 1],
                &[1, 2],
                &[2, 3],
                &[3, 0],
                &[4, 5],
                &[5, 6],
                &[6, 7],
                &[7, 4],
                &[0, 4],
                &[1, 5],
                &[2, 6],
                &[3, 7],
                &[0, 3, 7, 4],
                &[1, 2, 6, 5],
                &[0, 1, 5, 4],
                &[3, 2, 6, 7],
                &[0, 1, 2, 3],
                &[4, 5, 6, 7],
                &[0, 1, 2, 3, 4, 5, 6, 7],
            ],
        }
    }

    /// The vertices of the reference cell (see the module docs), padded to three coordinates.
    pub const fn reference_vertices(self) -> &'static [[f64; 3]] {
        match self {
            Self::Interval => &[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
            Self::Triangle => &[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            Self::Quadrilateral => &[
                [-1.0, -1.0, 0.0],
                [1.0, -1.0, 0.0],
                [1.0, 1.0, 0.0],
                [-1.0, 1.0, 0.0],
            ],
            Self::Tetrahedron => &[
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.0, 0.0, 1.0],
            ],
            Self::Hexahedron => &[
                [-1.0, -1.0, -1.0],
                [1.0, -1.0, -1.0],
                [1.0, 1.0, -1.0],
                [-1.0, 1.0, -1.0],
                [-1.0, -1.0, 1.0],
                [1.0, -1.0, 1.0],
                [1.0, 1.0, 1.0],
                [-1.0, 1.0, 1.0],
            ],
        }
    }

    /// The reference coordinates of the nodes of the layout of `order` (centroids of their
    /// [`CellKind::node_support`]).
    pub fn reference_nodes(self, order: Order) -> Vec<[f64; 3]> {
        let vertices = self.reference_vertices();
        (self.node_support(order).iter())
            .map(|support| {
                let mut p = [0.0; 3];
                for &v in *support {
                    for (pi, vi) in p.iter_mut().zip(vertices[v]) {
                        *pi += vi;
                    }
                }
                p.map(|c| c / support.len() as f64)
            })
            .collect()
    }

    /// The facets of the reference cell as local node indices in the layout of `order`: the
    /// vertices as in [`CellKind::local_facets`] (outward orientation), then the facet's own
    /// order-2 nodes in its kind's layout (edge node; or edge nodes and, on quadrilateral
    /// faces, the face centre).
    pub const fn local_facet_nodes(self, order: Order) -> &'static [&'static [usize]] {
        match (self, order) {
            (_, Order::Linear) | (Self::Interval, Order::Quadratic) => self.local_facets(),
            (Self::Triangle, Order::Quadratic) => &[&[0, 1, 3], &[1, 2, 4], &[2, 0, 5]],
            (Self::Quadrilateral, Order::Quadratic) => {
                &[&[0, 1, 4], &[1, 2, 5], &[2, 3, 6], &[3, 0, 7]]
            }
            (Self::Tetrahedron, Order::Quadratic) => &[
                &[0, 2, 1, 6, 5, 4],
                &[0, 1, 3, 4, 8, 7],
                &[1, 2, 3, 5, 9, 8],
                &[0, 3, 2, 7, 9, 6],
            ],
            (Self::Hexahedron, Order::Quadratic) => &[
                &[0, 3, 2, 1, 11, 10, 9, 8, 24],
                &[4, 5, 6, 7, 12, 13, 14, 15, 25],
                &[0, 1, 5, 4, 8, 17, 12, 16, 22],
                &[1, 2, 6, 5, 9, 18, 13, 17, 21],
                &[2, 3, 7, 6, 10, 19, 14, 18, 23],
                &[3, 0, 4, 7, 11, 16, 15, 19, 20],
            ],
        }
    }

    /// The VTK cell type of this cell with the layout of `order`.
    pub const fn vtk_type(self, order: Order) -> u8 {
        match (self, order) {
            (Self::Interval, Order::Linear) => 3,
            (Self::Triangle, Order::Linear) => 5,
            (Self::Quadrilateral, Order::Linear) => 9,
            (Self::Tetrahedron, Order::Linear) => 10,
            (Self::Hexahedron, Order::Linear) => 12,
            (Self::Interval, Order::Quadratic) => 21,
            (Self::Triangle, Order::Quadratic) => 22,
            (Self::Quadrilateral, Order::Quadratic) => 28,
            (Self::Tetrahedron, Order::Quadratic) => 24,
            (Self::Hexahedron, Order::Quadratic) => 29,
        }
    }

    /// Stored matrix entries per row of the Lagrange element of `order` on a structured mesh
    /// of these cells, averaged over the node kinds (vertices, edge, face and cell nodes):
    /// what memory estimates assume before the pattern exists. Checked against the patterns of
    /// structured meshes (`femscale-assembly`'s `row_entries` test; P2 triangles 11.5, P2 Kuhn
    /// tetrahedra 28.75, the others exact).
    pub const fn typical_row_entries(self, order: Order) -> usize {
        match (self, order) {
            (Self::Interval, Order::Linear) => 3,
            (Self::Interval, Order::Quadratic) => 4,
            (Self::Triangle, Order::Linear) => 7,
            (Self::Triangle, Order::Quadratic) => 12,
            (Self::Quadrilateral, Order::Linear) => 9,
            (Self::Quadrilateral, Order::Quadratic) => 16,
            (Self::Tetrahedron, Order::Linear) => 15,
            (Self::Tetrahedron, Order::Quadratic) => 29,
            (Self::Hexahedron, Order::Linear) => 27,
            (Self::Hexahedron, Order::Quadratic) => 64,
        }
    }

    /// The conventional name of the Lagrange element of `order` on this cell (`P2`, `Q1`).
    pub const fn element_name_of(self, order: Order) -> &'static str {
        match (self, order) {
            (Self::Interval | Self::Triangle | Self::Tetrahedron, Order::Linear) => "P1",
            (Self::Interval | Self::Triangle | Self::Tetrahedron, Order::Quadratic) => "P2",
            (Self::Quadrilateral | Self::Hexahedron, Order::Linear) => "Q1",
            (Self::Quadrilateral | Self::Hexahedron, Order::Quadratic) => "Q2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [CellKind; 5] = CellKind::ALL;
    const ORDERS: [Order; 2] = [Order::Linear, Order::Quadratic];

    #[test]
    fn layouts_have_distinct_nodes_and_consistent_counts() {
        for kind in KINDS {
            for order in ORDERS {
                let nodes = kind.reference_nodes(order);
                assert_eq!(
                    nodes.len(),
                    kind.nodes_per_cell_of(order),
                    "{kind:?} {order:?}"
                );
                for (i, a) in nodes.iter().enumerate() {
                    for b in &nodes[..i] {
                        assert_ne!(a, b, "{kind:?} {order:?}: repeated node");
                    }
                }
                // The first nodes are the vertices, and edge nodes follow `local_edges`.
                assert_eq!(&nodes[..kind.num_vertices()], kind.reference_vertices());
                if order == Order::Quadratic {
                    let support = kind.node_support(order);
                    for (e, &(a, b)) in kind.local_edges().iter().enumerate() {
                        assert_eq!(
                            support[kind.num_vertices() + e],
                            &[a, b],
                            "{kind:?} edge {e}"
                        );
                    }
                }
                let facets = kind.local_facet_nodes(order);
                assert_eq!(facets.len(), kind.local_facets().len());
                for f in facets {
                    assert_eq!(
                        f.len(),
                        kind.nodes_per_facet_of(order),
                        "{kind:?} {order:?}"
                    );
                }
            }
        }
    }

    /// Each facet's nodes sit where the facet kind's layout puts them, given the facet's
    /// vertices: node `j` of the facet is the centroid of the facet vertices that the facet
    /// kind's node `j` is the centroid of.
    #[test]
    fn facet_layouts_match_the_facet_kinds_layout() {
        for kind in KINDS {
            let Some(facet_kind) = kind.facet_kind() else {
                continue;
            };
            for order in ORDERS {
                let nodes = kind.reference_nodes(order);
                for (f, facet) in kind.local_facet_nodes(order).iter().enumerate() {
                    let vertices = kind.local_facets()[f];
                    assert_eq!(&facet[..vertices.len()], vertices, "{kind:?} facet {f}");
                    for (j, support) in facet_kind.node_support(order).iter().enumerate() {
                        let mut expected = [0.0; 3];
                        for &v in *support {
                            for d in 0..3 {
                                expected[d] += nodes[vertices[v]][d] / support.len() as f64;
                            }
                        }
                        assert_eq!(nodes[facet[j]], expected, "{kind:?} facet {f} node {j}");
                    }
                }
            }
        }
    }

    #[test]
    fn hexahedron_faces_follow_vtk_axis_order() {
        let nodes = CellKind::Hexahedron.reference_nodes(Order::Quadratic);
        let faces: Vec<[f64; 3]> = nodes[20..26].to_vec();
        assert_eq!(
            faces,
            [
                [-1.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.0, -1.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.0, 0.0, -1.0],
                [0.0, 0.0, 1.0]
            ]
        );
        assert_eq!(nodes[26], [0.0; 3]);
    }

    #[test]
    fn order_numbers_round_trip() {
        for order in ORDERS {
            assert_eq!(Order::from_number(order.get()), Some(order));
        }
        assert_eq!(Order::from_number(3), None);
        assert_eq!(serde_json::to_string(&Order::Quadratic).unwrap(), "2");
        assert_eq!(serde_json::from_str::<Order>("1").unwrap(), Order::Linear);
        let e = serde_json::from_str::<Order>("3").unwrap_err().to_string();
        assert!(e.contains("use 1 (P1/Q1) or 2 (P2/Q2)"), "{e}");
        assert_eq!(
            CellKind::Tetrahedron.element_name_of(Order::Quadratic),
            "P2"
        );
        assert_eq!(CellKind::Hexahedron.vtk_type(Order::Quadratic), 29);
    }
}
