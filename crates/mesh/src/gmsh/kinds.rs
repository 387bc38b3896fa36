//! Gmsh element type numbers: the first- and second-order kinds the reader returns, their node
//! orders, and the names of the others (for errors that say which type a file holds).

use femscale_core::Order;

/// An element kind the reader returns, with gmsh's node order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MshElementKind {
    /// A 1-node point (gmsh type 15).
    Point,
    /// A 2-node line (type 1).
    Line,
    /// A 3-node triangle (type 2).
    Triangle,
    /// A 4-node quadrangle (type 3).
    Quadrangle,
    /// A 4-node tetrahedron (type 4).
    Tetrahedron,
    /// An 8-node hexahedron (type 5).
    Hexahedron,
    /// A 3-node second-order line (type 8).
    Line3,
    /// A 6-node second-order triangle (type 9).
    Triangle6,
    /// A 9-node second-order quadrangle (type 10).
    Quadrangle9,
    /// A 10-node second-order tetrahedron (type 11).
    Tetrahedron10,
    /// A 27-node second-order hexahedron (type 12).
    Hexahedron27,
}

/// Every kind, for tests and lookups.
const ALL: [MshElementKind; 11] = [
    MshElementKind::Point,
    MshElementKind::Line,
    MshElementKind::Triangle,
    MshElementKind::Quadrangle,
    MshElementKind::Tetrahedron,
    MshElementKind::Hexahedron,
    MshElementKind::Line3,
    MshElementKind::Triangle6,
    MshElementKind::Quadrangle9,
    MshElementKind::Tetrahedron10,
    MshElementKind::Hexahedron27,
];

impl MshElementKind {
    /// The kind of gmsh element type `type_number`, or the reason it is refused.
    pub fn from_gmsh(type_number: i64) -> Result<Self, String> {
        (ALL.into_iter())
            .find(|k| i64::from(k.gmsh_type()) == type_number)
            .ok_or_else(|| unsupported_type_message(type_number))
    }

    /// Gmsh's type number.
    pub fn gmsh_type(self) -> u8 {
        match self {
            Self::Point => 15,
            Self::Line => 1,
            Self::Triangle => 2,
            Self::Quadrangle => 3,
            Self::Tetrahedron => 4,
            Self::Hexahedron => 5,
            Self::Line3 => 8,
            Self::Triangle6 => 9,
            Self::Quadrangle9 => 10,
            Self::Tetrahedron10 => 11,
            Self::Hexahedron27 => 12,
        }
    }

    /// Nodes per element.
    pub fn num_nodes(self) -> usize {
        self.femscale_order().len()
    }

    /// Topological dimension.
    pub fn dim(self) -> u8 {
        match self {
            Self::Point => 0,
            Self::Line | Self::Line3 => 1,
            Self::Triangle | Self::Quadrangle | Self::Triangle6 | Self::Quadrangle9 => 2,
            Self::Tetrahedron | Self::Hexahedron | Self::Tetrahedron10 | Self::Hexahedron27 => 3,
        }
    }

    /// The order of the element's node layout (points are of order 1).
    pub fn order(self) -> Order {
        match self {
            Self::Line3
            | Self::Triangle6
            | Self::Quadrangle9
            | Self::Tetrahedron10
            | Self::Hexahedron27 => Order::Quadratic,
            _ => Order::Linear,
        }
    }

    /// For each node of femscale's layout of this kind (see `femscale_core::lagrange`, VTK's
    /// order), the gmsh local node it is: gmsh numbers tetrahedron edge nodes `(3,2)` before
    /// `(3,1)`, and hexahedron edge and face nodes in its own order.
    pub fn femscale_order(self) -> &'static [usize] {
        const IDENTITY: [usize; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        match self {
            Self::Point => &IDENTITY[..1],
            Self::Line => &IDENTITY[..2],
            Self::Triangle | Self::Line3 => &IDENTITY[..3],
            Self::Quadrangle | Self::Tetrahedron => &IDENTITY[..4],
            Self::Triangle6 => &IDENTITY[..6],
            Self::Hexahedron => &IDENTITY[..8],
            Self::Quadrangle9 => &IDENTITY[..9],
            Self::Tetrahedron10 => &[0, 1, 2, 3, 4, 5, 6, 7, 9, 8],
            Self::Hexahedron27 => &[
                0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 9, 16, 18, 19, 17, 10, 12, 14, 15, 22, 23, 21,
                24, 20, 25, 26,
            ],
        }
    }

    /// Lower-case name (`triangle`, `second-order triangle`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Point => "point",
            Self::Line => "line",
            Self::Triangle => "triangle",
            Self::Quadrangle => "quadrangle",
            Self::Tetrahedron => "tetrahedron",
            Self::Hexahedron => "hexahedron",
            Self::Line3 => "second-order line",
            Self::Triangle6 => "second-order triangle",
            Self::Quadrangle9 => "second-order quadrangle (9 nodes)",
            Self::Tetrahedron10 => "second-order tetrahedron",
            Self::Hexahedron27 => "second-order hexahedron (27 nodes)",
        }
    }
}

/// Names of the gmsh element types the reader refuses, and whether they are higher order.
fn known_name(type_number: i64) -> Option<(&'static str, bool)> {
    Some(match type_number {
        6 => ("prism", false),
        7 => ("pyramid", false),
        13 => ("second-order prism (18 nodes)", true),
        14 => ("second-order pyramid (14 nodes)", true),
        16 => ("second-order quadrangle (8 nodes)", true),
        17 => ("second-order hexahedron (20 nodes)", true),
        18 => ("second-order prism (15 nodes)", true),
        19 => ("second-order pyramid (13 nodes)", true),
        20 => ("third-order incomplete triangle", true),
        21 => ("third-order triangle", true),
        22 => ("fourth-order incomplete triangle", true),
        23 => ("fourth-order triangle", true),
        24 => ("fifth-order incomplete triangle", true),
        25 => ("fifth-order triangle", true),
        26 => ("third-order line", true),
        27 => ("fourth-order line", true),
        28 => ("fifth-order line", true),
        29 => ("third-order tetrahedron", true),
        30 => ("fourth-order tetrahedron", true),
        31 => ("fifth-order tetrahedron", true),
        36 => ("third-order quadrangle", true),
        37 => ("fourth-order quadrangle", true),
        92 => ("third-order hexahedron", true),
        93 => ("fourth-order hexahedron", true),
        _ => return None,
    })
}

fn unsupported_type_message(type_number: i64) -> String {
    match known_name(type_number) {
        Some((name, true)) => format!(
            "{name} (type {type_number}) is not supported: femscale reads first- and \
             second-order elements (re-mesh with Mesh.ElementOrder = 1 or 2; incomplete \
             serendipity elements need Mesh.SecondOrderIncomplete = 0)"
        ),
        Some((name, false)) => format!(
            "{name} (type {type_number}) is not supported: femscale reads points, lines, \
             triangles, quadrangles, tetrahedra and hexahedra"
        ),
        None => format!("unknown gmsh element type {type_number}"),
    }
}

#[cfg(test)]
mod tests {
    use femscale_core::CellKind;

    use super::*;

    #[test]
    fn kinds_round_trip_and_others_are_named() {
        for kind in ALL {
            assert_eq!(MshElementKind::from_gmsh(kind.gmsh_type().into()), Ok(kind));
        }
        let e = MshElementKind::from_gmsh(16).unwrap_err();
        assert!(
            e.starts_with("second-order quadrangle (8 nodes) (type 16) is not supported"),
            "{e}"
        );
        assert!(
            MshElementKind::from_gmsh(6)
                .unwrap_err()
                .starts_with("prism (type 6)")
        );
        assert_eq!(
            MshElementKind::from_gmsh(-3).unwrap_err(),
            "unknown gmsh element type -3"
        );
    }

    /// Gmsh's reference node coordinates (`gmsh.model.mesh.getElementProperties`, gmsh
    /// 4.15.2), taken through [`MshElementKind::femscale_order`], are femscale's reference
    /// nodes (the line mapped from `[-1, 1]` to `[0, 1]`).
    #[test]
    fn node_orders_match_gmsh_reference_coordinates() {
        let m = -1.0;
        #[rustfmt::skip]
        let gmsh: [(MshElementKind, CellKind, &[[f64; 3]]); 5] = [
            (
                MshElementKind::Line3,
                CellKind::Interval,
                &[[m, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
            ),
            (
                MshElementKind::Triangle6,
                CellKind::Triangle,
                &[
                    [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0],
                    [0.5, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.5, 0.0],
                ],
            ),
            (
                MshElementKind::Quadrangle9,
                CellKind::Quadrilateral,
                &[
                    [m, m, 0.0], [1.0, m, 0.0], [1.0, 1.0, 0.0], [m, 1.0, 0.0],
                    [0.0, m, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [m, 0.0, 0.0],
                    [0.0, 0.0, 0.0],
                ],
            ),
            (
                MshElementKind::Tetrahedron10,
                CellKind::Tetrahedron,
                &[
                    [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0],
                    [0.5, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.5],
                    [0.0, 0.5, 0.5], [0.5, 0.0, 0.5],
                ],
            ),
            (
                MshElementKind::Hexahedron27,
                CellKind::Hexahedron,
                &[
                    [m, m, m], [1.0, m, m], [1.0, 1.0, m], [m, 1.0, m],
                    [m, m, 1.0], [1.0, m, 1.0], [1.0, 1.0, 1.0], [m, 1.0, 1.0],
                    [0.0, m, m], [m, 0.0, m], [m, m, 0.0], [1.0, 0.0, m],
                    [1.0, m, 0.0], [0.0, 1.0, m], [1.0, 1.0, 0.0], [m, 1.0, 0.0],
                    [0.0, m, 1.0], [m, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0],
                    [0.0, 0.0, m], [0.0, m, 0.0], [m, 0.0, 0.0], [1.0, 0.0, 0.0],
                    [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0],
                ],
            ),
        ];
        for (kind, cell, coords) in gmsh {
            assert_eq!(kind.order(), Order::Quadratic);
            assert_eq!(kind.num_nodes(), coords.len());
            let ours = cell.reference_nodes(Order::Quadratic);
            for (i, &g) in kind.femscale_order().iter().enumerate() {
                let mut p = coords[g];
                if cell == CellKind::Interval {
                    p[0] = (p[0] + 1.0) / 2.0;
                }
                assert_eq!(p, ours[i], "{kind:?}: femscale node {i} is gmsh node {g}");
            }
        }
    }
}
