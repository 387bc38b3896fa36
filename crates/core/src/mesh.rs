//! The assembly-facing view of a mesh.
//!
//! Mesh implementations live in `femscale-mesh`; assemblers only need coordinates, one block of
//! cells of a single kind, the cells' subdomain markers and named boundary parts. [`MeshView`]
//! borrows exactly that, so that assembly never depends on how a mesh was built or stored.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lagrange::Order;

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
    /// A tetrahedron with 4 nodes, positively oriented (node 3 on the side of the face
    /// 0-1-2 that its right-hand normal points to).
    Tetrahedron,
    /// A hexahedron with 8 nodes: the bottom face 0-1-2-3 counter-clockwise seen from above,
    /// then the top face 4-5-6-7 above it in the same order (VTK and Gmsh order).
    Hexahedron,
}

impl CellKind {
    /// Every cell kind, by dimension.
    pub const ALL: [Self; 5] = [
        Self::Interval,
        Self::Triangle,
        Self::Quadrilateral,
        Self::Tetrahedron,
        Self::Hexahedron,
    ];

    /// Nodes per cell.
    pub const fn nodes_per_cell(self) -> usize {
        match self {
            Self::Interval => 2,
            Self::Triangle => 3,
            Self::Quadrilateral | Self::Tetrahedron => 4,
            Self::Hexahedron => 8,
        }
    }

    /// Topological dimension.
    pub const fn dim(self) -> usize {
        match self {
            Self::Interval => 1,
            Self::Triangle | Self::Quadrilateral => 2,
            Self::Tetrahedron | Self::Hexahedron => 3,
        }
    }

    /// Nodes per boundary facet (a point in 1D, an edge in 2D, a triangle or quadrilateral
    /// in 3D).
    pub const fn nodes_per_facet(self) -> usize {
        match self {
            Self::Interval => 1,
            Self::Triangle | Self::Quadrilateral => 2,
            Self::Tetrahedron => 3,
            Self::Hexahedron => 4,
        }
    }

    /// The facets of the reference cell as local node indices, each oriented so that its
    /// right-hand normal points out of the cell (in 2D: the edges counter-clockwise).
    pub const fn local_facets(self) -> &'static [&'static [usize]] {
        match self {
            Self::Interval => &[&[0], &[1]],
            Self::Triangle => &[&[0, 1], &[1, 2], &[2, 0]],
            Self::Quadrilateral => &[&[0, 1], &[1, 2], &[2, 3], &[3, 0]],
            Self::Tetrahedron => &[&[0, 2, 1], &[0, 1, 3], &[1, 2, 3], &[0, 3, 2]],
            Self::Hexahedron => &[
                &[0, 3, 2, 1],
                &[4, 5, 6, 7],
                &[0, 1, 5, 4],
                &[1, 2, 6, 5],
                &[2, 3, 7, 6],
                &[3, 0, 4, 7],
            ],
        }
    }

    /// The edges of the reference cell as pairs of local node indices.
    pub const fn local_edges(self) -> &'static [(usize, usize)] {
        match self {
            Self::Interval => &[(0, 1)],
            Self::Triangle => &[(0, 1), (1, 2), (2, 0)],
            Self::Quadrilateral => &[(0, 1), (1, 2), (2, 3), (3, 0)],
            Self::Tetrahedron => &[(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)],
            Self::Hexahedron => &[
                (0, 1),
                (1, 2),
                (2, 3),
                (3, 0),
                (4, 5),
                (5, 6),
                (6, 7),
                (7, 4),
                (0, 4),
                (1, 5),
                (2, 6),
                (3, 7),
            ],
        }
    }

    /// The configuration's and reports' name of the cell (`triangle`, `hexahedron`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Interval => "interval",
            Self::Triangle => "triangle",
            Self::Quadrilateral => "quadrilateral",
            Self::Tetrahedron => "tetrahedron",
            Self::Hexahedron => "hexahedron",
        }
    }

    /// The conventional name of the Lagrange element of lowest order on this cell.
    pub const fn element_name(self) -> &'static str {
        match self {
            Self::Interval | Self::Triangle | Self::Tetrahedron => "P1",
            Self::Quadrilateral | Self::Hexahedron => "Q1",
        }
    }
}

/// A subdomain of a mesh: the marker its cells carry and, when it has one, its name (a Gmsh
/// physical group's name, or one given by the caller).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subdomain {
    /// The marker (Gmsh: the physical tag).
    pub id: i32,
    /// Its name, if it has one.
    pub name: Option<String>,
}

impl Subdomain {
    /// Whether `key` names this subdomain: its name, or its id written as a number (`"2"`).
    pub fn is_named(&self, key: &str) -> bool {
        self.name.as_deref() == Some(key) || key.trim().parse::<i32>() == Ok(self.id)
    }
}

/// A named part of the boundary: its facets (for Neumann and Robin terms) and its nodes
/// (for Dirichlet conditions).
///
/// Parts may overlap (`all` contains every exterior facet); a part read from a file or built
/// from facet markers carries its marker as `id`, and a condition may name it by either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundaryPart {
    /// The part's name (`left`, `right`, `bottom`, `top`, `all`, or a physical-group name; an
    /// unnamed marker's part is called by its number, `"11"`).
    pub name: String,
    /// The facet marker the part came from (Gmsh: the physical tag), if any.
    #[serde(default)]
    pub id: Option<i32>,
    /// Facet connectivity, `nodes_per_facet_of(order)` node indices per facet (vertices
    /// first, see [`CellKind::local_facet_nodes`]).
    pub facets: Vec<usize>,
    /// Sorted, unique nodes on the part (including facet end points).
    pub nodes: Vec<usize>,
}

impl BoundaryPart {
    /// A part given by its facets (`nodes_per_facet` node indices each, e.g. `[a, b]` per edge
    /// in 2D); the mesh constructor (`femscale_mesh::Mesh::try_new`) adds their nodes.
    pub fn from_facets(name: impl Into<String>, facets: Vec<usize>) -> Self {
        Self {
            name: name.into(),
            id: None,
            facets,
            nodes: Vec::new(),
        }
    }

    /// The same part carrying marker `id`.
    pub fn with_id(mut self, id: i32) -> Self {
        self.id = Some(id);
        self
    }

    /// Whether `key` names this part: its name, or its marker written as a number (`"11"`).
    pub fn is_named(&self, key: &str) -> bool {
        self.name == key || (self.id.is_some() && key.trim().parse::<i32>().ok() == self.id)
    }

    /// A part of single nodes without facets (Dirichlet conditions only; in 1D the end
    /// points), sorted and deduplicated.
    pub fn from_nodes(name: impl Into<String>, mut nodes: Vec<usize>) -> Self {
        nodes.sort_unstable();
        nodes.dedup();
        Self {
            name: name.into(),
            id: None,
            facets: Vec::new(),
            nodes,
        }
    }
}

/// Whether a [`MeshView`] is known to satisfy [`MeshView::validate`]. The pattern builders,
/// assemblers, Dirichlet conditions and error norms all validate the view they get; on a view
/// marked validated that is free instead of a scan of the whole mesh each time. Only
/// [`MeshView::checked`] (which validates) and the unsafe [`Validated::assume`] mark one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Validated(bool);

impl Validated {
    /// Not known to be valid: [`MeshView::validate`] checks.
    pub const NO: Self = Self(false);

    /// Marks a view as valid without checking it.
    ///
    /// # Safety
    /// The view this is put in must satisfy every condition [`MeshView::validate`] checks:
    /// code that skips the check relies on them (sparsity patterns are built from the
    /// connectivity without bounds checks).
    pub const unsafe fn assume() -> Self {
        Self(true)
    }

    /// Whether the view is known to be valid.
    pub fn is_known(self) -> bool {
        self.0
    }
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
    /// The node layout of every cell: vertices only, or the order-2 Lagrange nodes (see
    /// [`crate::lagrange`]); the element assembled on the mesh has this order.
    pub order: Order,
    /// Whether the cells' higher-order nodes may lie off their straight-sided positions
    /// (a second-order mesh read from a file), so that geometry must be mapped through all
    /// nodes. `false` for order 1 and for meshes lifted to order 2.
    pub curved: bool,
    /// Cell connectivity, `cell_kind.nodes_per_cell_of(order)` node indices per cell.
    pub cells: &'a [usize],
    /// Named boundary parts.
    pub boundary: &'a [BoundaryPart],
    /// The subdomain marker of every cell, or empty when the mesh has no markers.
    pub cell_markers: &'a [i32],
    /// The subdomains the markers stand for (one per distinct marker; empty without markers).
    pub subdomains: &'a [Subdomain],
    /// Whether the view is known to be valid ([`Validated::NO`] unless it came from
    /// [`MeshView::checked`] or a mesh type that validated its data).
    pub validated: Validated,
}

impl MeshView<'_> {
    /// Number of nodes (0 for an invalid dimension of 0).
    pub fn num_nodes(&self) -> usize {
        self.coords.len().checked_div(self.dim).unwrap_or(0)
    }

    /// The first cell marker without a subdomain entry: markers come in runs (a file's cells
    /// by entity), so each run is looked up once, by binary search when the subdomains are
    /// sorted by id (as meshes keep them) and in a hash set otherwise.
    fn unknown_marker(&self) -> Option<i32> {
        let sorted = self.subdomains.windows(2).all(|w| w[0].id < w[1].id);
        let set: std::collections::HashSet<i32> = if sorted {
            Default::default()
        } else {
            self.subdomains.iter().map(|s| s.id).collect()
        };
        let known = |m: i32| {
            if sorted {
                self.subdomains.binary_search_by_key(&m, |s| s.id).is_ok()
            } else {
                set.contains(&m)
            }
        };
        let mut last = None;
        self.cell_markers.iter().copied().find(|&m| {
            let new_run = last != Some(m);
            last = Some(m);
            new_run && !known(m)
        })
    }

    /// Checks everything assembly relies on: `dim` equals the cell dimension, coordinates
    /// finite and a whole number of nodes, connectivity a whole, non-zero number of cells with
    /// node indices in range, and boundary parts with whole facets, sorted unique nodes in
    /// range, and every facet node listed among the part's nodes.
    ///
    /// Returns at once for a view marked [`Validated`].
    ///
    /// # Errors
    /// [`Error::Mesh`] naming the first violation.
    pub fn validate(&self) -> Result<()> {
        if self.validated.is_known() {
            return Ok(());
        }
        let fail = |message: String| {
            Err(Error::Mesh {
                location: None,
                message,
            })
        };
        let kind = self.cell_kind;
        if self.dim != kind.dim() {
            return fail(format!(
                "coordinates of dimension {} do not match {kind:?} cells (dimension {}); embedded meshes are not supported",
                self.dim,
                kind.dim()
            ));
        }
        if !self.coords.len().is_multiple_of(self.dim) {
            return fail(format!(
                "{} coordinates are not a multiple of dim = {}",
                self.coords.len(),
                self.dim
            ));
        }
        // Branch-free scans (vectorised) first; the position only for the message.
        let all_finite = |chunk: &[f64]| chunk.iter().fold(true, |ok, c| ok & c.is_finite());
        if !self.coords.chunks(4096).all(all_finite)
            && let Some(k) = self.coords.iter().position(|c| !c.is_finite())
        {
            return fail(format!("node {} has a non-finite coordinate", k / self.dim));
        }
        if self.curved && self.order == Order::Linear {
            return fail("a mesh of order 1 cannot be curved".into());
        }
        let (n, npc) = (self.num_nodes(), self.nodes_per_cell());
        if self.cells.is_empty() || !self.cells.len().is_multiple_of(npc) {
            return fail(format!(
                "connectivity of {} entries is not a positive multiple of {npc} nodes per cell",
                self.cells.len()
            ));
        }
        if self.cells.iter().fold(0, |m, &v| m.max(v)) >= n {
            let k = self.cells.iter().position(|&v| v >= n).unwrap_or(0);
            return fail(format!(
                "cell {} refers to node {}, but the mesh has {n} nodes",
                k / npc,
                self.cells[k]
            ));
        }
        if !self.cell_markers.is_empty() && self.cell_markers.len() != self.num_cells() {
            return fail(format!(
                "{} cell markers for {} cells (give one per cell, or none)",
                self.cell_markers.len(),
                self.num_cells()
            ));
        }
        if let Some(m) = self.unknown_marker() {
            return fail(format!("cell marker {m} has no subdomain entry"));
        }
        let npf = kind.nodes_per_facet_of(self.order);
        for part in self.boundary {
            let name = &part.name;
            if !part.facets.len().is_multiple_of(npf) {
                return fail(format!("boundary part `{name}` has a partial facet"));
            }
            if let Some(&v) = part.nodes.iter().chain(&part.facets).find(|&&v| v >= n) {
                return fail(format!(
                    "boundary part `{name}` refers to node {v}, but the mesh has {n} nodes"
                ));
            }
            if part.nodes.windows(2).any(|w| w[0] >= w[1]) {
                return fail(format!(
                    "nodes of boundary part `{name}` are not sorted and unique"
                ));
            }
            if let Some(&v) = part
                .facets
                .iter()
                .find(|v| part.nodes.binary_search(v).is_err())
            {
                return fail(format!(
                    "boundary part `{name}` has facet node {v} missing from its node list"
                ));
            }
        }
        Ok(())
    }

    /// This view marked as validated, after [`MeshView::validate`] (a no-op on a marked
    /// view): the checks of the functions it is passed to are then free.
    ///
    /// # Errors
    /// As [`MeshView::validate`].
    pub fn checked(mut self) -> Result<Self> {
        self.validate()?;
        self.validated = Validated(true);
        Ok(self)
    }

    /// Nodes per cell (vertices, plus the order-2 nodes for [`Order::Quadratic`]).
    pub fn nodes_per_cell(&self) -> usize {
        self.cell_kind.nodes_per_cell_of(self.order)
    }

    /// Nodes per boundary facet in this mesh's layout.
    pub fn nodes_per_facet(&self) -> usize {
        self.cell_kind.nodes_per_facet_of(self.order)
    }

    /// Number of cells.
    pub fn num_cells(&self) -> usize {
        self.cells.len() / self.nodes_per_cell()
    }

    /// The nodes of cell `c`.
    ///
    /// # Panics
    /// If `c >= num_cells()`.
    #[track_caller]
    pub fn cell(&self, c: usize) -> &[usize] {
        let n = self.nodes_per_cell();
        &self.cells[c * n..(c + 1) * n]
    }

    /// Coordinates of node `i` padded to three components.
    ///
    /// # Panics
    /// If `i >= num_nodes()` or `dim > 3` (see [`MeshView::validate`]).
    pub fn point(&self, i: usize) -> [f64; 3] {
        let mut p = [0.0; 3];
        p[..self.dim].copy_from_slice(&self.coords[i * self.dim..(i + 1) * self.dim]);
        p
    }

    /// The boundary part called `name`, or else the one whose marker `name` writes as a
    /// number (`"11"`).
    pub fn boundary_part(&self, name: &str) -> Option<&BoundaryPart> {
        find_part(self.boundary, name)
    }

    /// The subdomain marker of cell `c` (`None` for a mesh without markers).
    pub fn cell_marker(&self, c: usize) -> Option<i32> {
        self.cell_markers.get(c).copied()
    }

    /// Names of all boundary parts.
    pub fn boundary_names(&self) -> Vec<String> {
        self.boundary.iter().map(|b| b.name.clone()).collect()
    }
}

/// The part called `key` among `parts`: by name first, then by marker written as a number.
pub fn find_part<'a>(parts: &'a [BoundaryPart], key: &str) -> Option<&'a BoundaryPart> {
    (parts.iter().find(|b| b.name == key)).or_else(|| parts.iter().find(|b| b.is_named(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_part_constructors() {
        let p = BoundaryPart::from_nodes("ends", vec![7, 0, 7, 3]);
        assert_eq!(
            (p.name.as_str(), p.facets.len(), p.nodes),
            ("ends", 0, vec![0, 3, 7])
        );
        let p = BoundaryPart::from_facets("edge", vec![4, 5, 5, 6]);
        assert_eq!((p.facets, p.nodes.len()), (vec![4, 5, 5, 6], 0));
    }

    fn view<'a>(
        dim: usize,
        coords: &'a [f64],
        cells: &'a [usize],
        boundary: &'a [BoundaryPart],
    ) -> MeshView<'a> {
        MeshView {
            dim,
            coords,
            cell_kind: CellKind::Interval,
            order: Order::Linear,
            curved: false,
            cells,
            boundary,
            cell_markers: &[],
            subdomains: &[],
            validated: Validated::NO,
        }
    }

    #[test]
    fn validate_rejects_every_inconsistency_without_panicking() {
        let coords = [0.0, 0.5, 1.0];
        let ok = [BoundaryPart {
            name: "left".into(),
            id: None,
            facets: vec![0],
            nodes: vec![0],
        }];
        assert!(view(1, &coords, &[0, 1, 1, 2], &ok).validate().is_ok());
        let bad = |v: MeshView<'_>, needle: &str| {
            let e = v.validate().unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        };
        bad(view(0, &coords, &[0, 1], &ok), "dimension 0");
        bad(view(4, &[0.0; 8], &[0, 1], &ok), "dimension 4");
        bad(view(2, &[0.0; 6], &[0, 1], &ok), "dimension 2");
        bad(view(1, &coords, &[0, 1, 1], &ok), "multiple of 2");
        bad(view(1, &coords, &[], &ok), "multiple of 2");
        bad(view(1, &coords, &[0, 1, 1, 7], &ok), "node 7");
        bad(view(1, &[0.0, f64::NAN], &[0, 1], &ok), "non-finite");
        let far = [BoundaryPart {
            name: "far".into(),
            id: None,
            facets: vec![9],
            nodes: vec![9],
        }];
        bad(view(1, &coords, &[0, 1], &far), "node 9");
        let unlisted = [BoundaryPart {
            name: "x".into(),
            id: None,
            facets: vec![2],
            nodes: vec![],
        }];
        bad(
            view(1, &coords, &[0, 1, 1, 2], &unlisted),
            "missing from its node list",
        );
        let unsorted = [BoundaryPart {
            name: "u".into(),
            id: None,
            facets: vec![],
            nodes: vec![2, 0],
        }];
        bad(view(1, &coords, &[0, 1, 1, 2], &unsorted), "sorted");
    }
}
