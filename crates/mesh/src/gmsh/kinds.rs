//! Gmsh element type numbers: the first-order kinds the reader returns and the names of the others
//! (for errors that say which type a file holds).

/// A first-order element kind the reader returns, with gmsh's node order.
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
}

impl MshElementKind {
    /// The kind of gmsh element type `type_number`, or the reason it is refused.
    pub fn from_gmsh(type_number: i64) -> Result<Self, String> {
        Ok(match type_number {
            15 => Self::Point,
            1 => Self::Line,
            2 => Self::Triangle,
            3 => Self::Quadrangle,
            4 => Self::Tetrahedron,
            5 => Self::Hexahedron,
            _ => return Err(unsupported_type_message(type_number)),
        })
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
        }
    }

    /// Nodes per element.
    pub fn num_nodes(self) -> usize {
        match self {
            Self::Point => 1,
            Self::Line => 2,
            Self::Triangle => 3,
            Self::Quadrangle | Self::Tetrahedron => 4,
            Self::Hexahedron => 8,
        }
    }

    /// Topological dimension.
    pub fn dim(self) -> u8 {
        match self {
            Self::Point => 0,
            Self::Line => 1,
            Self::Triangle | Self::Quadrangle => 2,
            Self::Tetrahedron | Self::Hexahedron => 3,
        }
    }

    /// Lower-case name (`triangle`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Point => "point",
            Self::Line => "line",
            Self::Triangle => "triangle",
            Self::Quadrangle => "quadrangle",
            Self::Tetrahedron => "tetrahedron",
            Self::Hexahedron => "hexahedron",
        }
    }
}

/// Names of the gmsh element types that are not first-order lines, triangles, quadrangles,
/// tetrahedra, hexahedra or points, and whether they are higher order.
fn known_name(type_number: i64) -> Option<(&'static str, bool)> {
    Some(match type_number {
        6 => ("prism", false),
        7 => ("pyramid", false),
        8 => ("second-order line", true),
        9 => ("second-order triangle", true),
        10 => ("second-order quadrangle (9 nodes)", true),
        11 => ("second-order tetrahedron", true),
        12 => ("second-order hexahedron (27 nodes)", true),
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
            "{name} (type {type_number}) is not supported yet: re-mesh with Mesh.ElementOrder = 1"
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
    use super::*;

    #[test]
    fn first_order_kinds_round_trip_and_others_are_named() {
        for kind in [
            MshElementKind::Point,
            MshElementKind::Line,
            MshElementKind::Triangle,
            MshElementKind::Quadrangle,
            MshElementKind::Tetrahedron,
            MshElementKind::Hexahedron,
        ] {
            assert_eq!(MshElementKind::from_gmsh(kind.gmsh_type().into()), Ok(kind));
        }
        let e = MshElementKind::from_gmsh(9).unwrap_err();
        assert_eq!(
            e,
            "second-order triangle (type 9) is not supported yet: re-mesh with Mesh.ElementOrder = 1"
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
}
