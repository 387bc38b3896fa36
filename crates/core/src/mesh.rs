//! The assembly-facing view of a mesh.
//!
//! Mesh implementations live in `femscale-mesh`; assemblers only need coordinates, one block of
//! cells of a single kind, and named boundary parts. [`MeshView`] borrows exactly that, so that
//! assembly never depends on how a mesh was built or stored.

use serde::{Deserialize, Serialize};

/// The reference cell of a mesh block and its node count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellKind {
    /// A 1D segment with 2 nodes.
    Interval,
    /// A triangle with 3 nodes, counter-clockwise.
    Triangle,
    /// A quadrilateral with 4 nodes, counter-clockwise.
    Quadrilateral,
}

impl CellKind {
    /// Nodes per cell.
    pub const fn nodes_per_cell(self) -> usize {
        match self {
            Self::Interval => 2,
            Self::Triangle => 3,
            Self::Quadrilateral => 4,
        }
    }

    /// Topological dimension.
    pub const fn dim(self) -> usize {
        match self {
            Self::Interval => 1,
            Self::Triangle | Self::Quadrilateral => 2,
        }
    }

    /// Nodes per boundary facet (a point in 1D, an edge in 2D).
    pub const fn nodes_per_facet(self) -> usize {
        match self {
            Self::Interval => 1,
            Self::Triangle | Self::Quadrilateral => 2,
        }
    }

    /// The conventional name of the Lagrange element of lowest order on this cell.
    pub const fn element_name(self) -> &'static str {
        match self {
            Self::Interval | Self::Triangle => "P1",
            Self::Quadrilateral => "Q1",
        }
    }
}

/// A named part of the boundary: its facets (for Neumann and Robin terms) and its nodes
/// (for Dirichlet conditions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundaryPart {
    /// The part's name (`left`, `right`, `bottom`, `top`, `all`, or a physical-group name).
    pub name: String,
    /// Facet connectivity, `nodes_per_facet` node indices per facet.
    pub facets: Vec<usize>,
    /// Sorted, unique nodes on the part (including facet end points).
    pub nodes: Vec<usize>,
}

/// A borrowed view of a mesh with one kind of cell.
#[derive(Debug, Clone, Copy)]
pub struct MeshView<'a> {
    /// Geometric dimension (1, 2 or 3): each node has `dim` coordinates.
    pub dim: usize,
    /// Node coordinates, `dim` per node, node-major.
    pub coords: &'a [f64],
    /// Cell kind of every cell.
    pub cell_kind: CellKind,
    /// Cell connectivity, `cell_kind.nodes_per_cell()` node indices per cell.
    pub cells: &'a [usize],
    /// Named boundary parts.
    pub boundary: &'a [BoundaryPart],
}

impl MeshView<'_> {
    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.coords.len() / self.dim
    }

    /// Number of cells.
    pub fn num_cells(&self) -> usize {
        self.cells.len() / self.cell_kind.nodes_per_cell()
    }

    /// The nodes of cell `c`.
    ///
    /// # Panics
    /// If `c >= num_cells()`.
    #[track_caller]
    pub fn cell(&self, c: usize) -> &[usize] {
        let n = self.cell_kind.nodes_per_cell();
        &self.cells[c * n..(c + 1) * n]
    }

    /// Coordinates of node `i` padded to three components.
    pub fn point(&self, i: usize) -> [f64; 3] {
        let mut p = [0.0; 3];
        p[..self.dim].copy_from_slice(&self.coords[i * self.dim..(i + 1) * self.dim]);
        p
    }

    /// The boundary part called `name`.
    pub fn boundary_part(&self, name: &str) -> Option<&BoundaryPart> {
        self.boundary.iter().find(|b| b.name == name)
    }

    /// Names of all boundary parts.
    pub fn boundary_names(&self) -> Vec<String> {
        self.boundary.iter().map(|b| b.name.clone()).collect()
    }
}
