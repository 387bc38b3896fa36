//! Uniform refinement: every cell split into children through its edge midpoints.
//!
//! * intervals → 2 children through the midpoint;
//! * triangles → 4 children through the edge midpoints (red refinement): three corner
//!   triangles and the middle one;
//! * quadrilaterals → 4 children through the edge midpoints and the cell centre (the mean of
//!   the corners, i.e. the image of the reference centre under the bilinear map, so children
//!   of a convex cell are convex);
//! * tetrahedra and hexahedra → 8 children (see `refine3d`: Bey's children with the shortest
//!   inner diagonal; the halving of the reference cube).
//!
//! Meshes of order 2 refine their vertex mesh and are lifted again; curved ones then have every
//! node placed by its parent's quadratic map (`isoparametric`), so refinement follows the
//! curved geometry instead of the polygon.
//!
//! Each edge midpoint is created once, numbered after the existing nodes in the order edges
//! are first met (cell by cell); quadrilateral centres follow, one per cell. Old node numbers
//! are kept; hexahedron face centres follow the edge midpoints. Children keep their parent's
//! orientation and subdomain marker. Boundary facets split with their cells (edges in two,
//! triangles and quadrilaterals in four, keeping their orientation) and the part's nodes gain
//! the new nodes, so conditions on named parts apply to the refined mesh unchanged; 1D
//! boundary facets are points and stay as they are.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use femscale_core::{BoundaryPart, CellKind, Counter, Error, Order, Result};

use crate::generate::MAX_GENERATED_NODES;
use crate::geometry::signed_measure;
use crate::mesh::Mesh;
use crate::refine3d::{facet_children, hexahedron_children, tetrahedron_children};

/// The field named by refinement errors (the config key without its section).
const FIELD: &str = "refinements";

/// The key of the edge between nodes `a` and `b`, independent of direction.
fn edge_key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// Children per cell.
pub(crate) fn children(kind: CellKind) -> usize {
    match kind {
        CellKind::Interval => 2,
        CellKind::Triangle | CellKind::Quadrilateral => 4,
        CellKind::Tetrahedron | CellKind::Hexahedron => 8,
    }
}

/// The error for a refined mesh that would be too large.
fn too_large(what: &str) -> Error {
    Error::invalid(
        FIELD,
        format!(
            "the refined mesh would have more {what} than supported (at most \
             {MAX_GENERATED_NODES} nodes)"
        ),
    )
}

/// Node, edge and cell counts of a mesh, as `f64` so that estimates of absurd sizes saturate to
/// infinity instead of overflowing. The one place that knows how uniform refinement changes
/// them ([`MeshCounts::refined`]); [`Mesh::refined`] checks its size limit with it and the
/// runtime estimates the size of a refined mesh before building it.
///
/// ```
/// use femscale_core::CellKind;
/// use femscale_mesh::MeshCounts;
/// // A 1x1 square of two triangles: 4 nodes, 5 edges, 2 cells.
/// let square = MeshCounts { nodes: 4.0, edges: 5.0, faces: 0.0, cells: 2.0 };
/// let once = square.refined(CellKind::Triangle, 1);
/// assert_eq!(once, MeshCounts { nodes: 9.0, edges: 16.0, faces: 0.0, cells: 8.0 });
/// // A cube: 27 nodes, 54 edges, 36 faces, 8 cells once refined.
/// let cube = MeshCounts { nodes: 8.0, edges: 12.0, faces: 6.0, cells: 1.0 };
/// let once = cube.refined(CellKind::Hexahedron, 1);
/// assert_eq!(once, MeshCounts { nodes: 27.0, edges: 54.0, faces: 36.0, cells: 8.0 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshCounts {
    /// Nodes.
    pub nodes: f64,
    /// Distinct edges (for intervals, the cells).
    pub edges: f64,
    /// Distinct faces of 3D cells (0 for 1D and 2D meshes, where they are not needed).
    pub faces: f64,
    /// Cells.
    pub cells: f64,
}

impl MeshCounts {
    /// The counts after `times` uniform refinements of cells of `kind` ([`Mesh::refine_uniform`]:
    /// a midpoint per edge, and a centre per quadrilateral). Stops early once a count is
    /// infinite.
    pub fn refined(self, kind: CellKind, times: usize) -> Self {
        let Self {
            mut nodes,
            mut edges,
            mut faces,
            mut cells,
        } = self;
        for _ in 0..times {
            if !nodes.is_finite() || cells == 0.0 {
                break;
            }
            (nodes, edges, faces, cells) = match kind {
                // Every cell is its own edge: it splits into two.
                CellKind::Interval => (nodes + cells, 2.0 * cells, 0.0, 2.0 * cells),
                // Edges split in two; 3 interior edges per cell (the middle triangle).
                CellKind::Triangle => (nodes + edges, 2.0 * edges + 3.0 * cells, 0.0, 4.0 * cells),
                // Edges split in two; 4 interior edges per cell (centre to the edge midpoints).
                CellKind::Quadrilateral => (
                    nodes + edges + cells,
                    2.0 * edges + 4.0 * cells,
                    0.0,
                    4.0 * cells,
                ),
                // A midpoint per edge; each face gets the 3 edges of its middle triangle and
                // splits in 4; each cell one interior edge (the octahedron's diagonal) and 8
                // interior faces.
                CellKind::Tetrahedron => (
                    nodes + edges,
                    2.0 * edges + 3.0 * faces + cells,
                    4.0 * faces + 8.0 * cells,
                    8.0 * cells,
                ),
                // Edge midpoints, face and cell centres; 4 edges per face (centre to edge
                // midpoints), 6 per cell (centre to face centres); 12 interior faces per cell.
                CellKind::Hexahedron => (
                    nodes + edges + faces + cells,
                    2.0 * edges + 4.0 * faces + 6.0 * cells,
                    4.0 * faces + 12.0 * cells,
                    8.0 * cells,
                ),
            };
        }
        Self {
            nodes,
            edges,
            faces,
            cells,
        }
    }
}

impl Mesh {
    /// Number of distinct faces of the cells of a 3D mesh (0 for 1D and 2D meshes).
    pub fn num_faces(&self) -> usize {
        if self.dim < 3 {
            return 0;
        }
        let v = self.view();
        let facets = self.cell_kind.local_facets();
        let mut seen = std::collections::HashSet::with_capacity(self.num_cells() * facets.len());
        for c in 0..self.num_cells() {
            let n = v.cell(c);
            for f in facets {
                seen.insert(face_key(f.iter().map(|&l| n[l])));
            }
        }
        seen.len()
    }

    /// Number of distinct edges of the cells (for intervals, the number of distinct cells).
    pub fn num_edges(&self) -> usize {
        let v = self.view();
        let edges = self.cell_kind.local_edges();
        let mut seen = std::collections::HashSet::with_capacity(self.num_cells() * edges.len());
        for c in 0..self.num_cells() {
            let n = v.cell(c);
            for &(a, b) in edges {
                seen.insert(edge_key(n[a], n[b]));
            }
        }
        seen.len()
    }

    /// The mesh refined once uniformly: 2 children per interval, 4 per triangle (through the
    /// edge midpoints) or quadrilateral (through the edge midpoints and the centre), 8 per
    /// tetrahedron or hexahedron (see the module docs); boundary parts refined with it. A mesh
    /// of order 2 is refined as its vertex mesh and lifted again, with the nodes of a curved
    /// one placed by their parents' quadratic maps (isoparametric refinement; children are
    /// not checked for folds, which a cell curved more than its size allows could get).
    /// Counts one [`Counter::MeshRefinements`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for `refinements` if the result would exceed
    /// [`MAX_GENERATED_NODES`] nodes; [`Error::Mesh`] if a boundary facet is not a facet of any
    /// cell (it could not be split consistently) or the result fails validation.
    #[tracing::instrument(skip_all)]
    pub fn refine_uniform(&self) -> Result<Mesh> {
        if self.order != Order::Linear {
            if self.curved {
                return self.refined_isoparametric(children(self.cell_kind));
            }
            return (self.with_order(Order::Linear)?.refine_uniform())?.with_order(self.order);
        }
        let kind = self.cell_kind;
        let (dim, num_nodes, num_cells) = (self.dim, self.num_nodes(), self.num_cells());
        let v = self.view();
        let edges = kind.local_edges();

        // Edge midpoints, numbered in the order edges are first met.
        let mut midpoint: HashMap<(usize, usize), usize> =
            HashMap::with_capacity(num_cells.saturating_mul(edges.len()));
        let mut ends: Vec<(usize, usize)> = Vec::new();
        for c in 0..num_cells {
            let n = v.cell(c);
            for &(a, b) in edges {
                let key = edge_key(n[a], n[b]);
                if let Entry::Vacant(slot) = midpoint.entry(key) {
                    let id = num_nodes
                        .checked_add(ends.len())
                        .ok_or_else(|| too_large("nodes"))?;
                    slot.insert(id);
                    ends.push(key);
                }
            }
        }
        // Hexahedron faces, by their sorted vertices, numbered after the edge midpoints.
        let mut faces: HashMap<[usize; 4], usize> = HashMap::new();
        let mut face_vertices: Vec<[usize; 4]> = Vec::new();
        if kind == CellKind::Hexahedron {
            for c in 0..num_cells {
                let n = v.cell(c);
                for f in kind.local_facets() {
                    let key = face_key(f.iter().map(|&l| n[l]));
                    if let Entry::Vacant(slot) = faces.entry(key) {
                        slot.insert(num_nodes + ends.len() + face_vertices.len());
                        face_vertices.push(key);
                    }
                }
            }
        }
        let centres = match kind {
            CellKind::Quadrilateral | CellKind::Hexahedron => num_cells,
            _ => 0,
        };
        let first_centre = num_nodes + ends.len() + face_vertices.len();
        let new_nodes = first_centre
            .checked_add(centres)
            .filter(|&n| n <= MAX_GENERATED_NODES)
            .ok_or_else(|| too_large("nodes"))?;
        let new_cells = num_cells
            .checked_mul(children(kind))
            .ok_or_else(|| too_large("cells"))?;
        let coords_len = new_nodes
            .checked_mul(dim)
            .ok_or_else(|| too_large("nodes"))?;
        let cells_len = new_cells
            .checked_mul(kind.nodes_per_cell())
            .ok_or_else(|| too_large("cells"))?;

        let mut coords = Vec::with_capacity(coords_len);
        coords.extend_from_slice(&self.coords);
        let at = |i: usize| &self.coords[i * dim..(i + 1) * dim];
        let mean = |nodes: &[usize], coords: &mut Vec<f64>| {
            let w = 1.0 / nodes.len() as f64;
            coords.extend((0..dim).map(|k| w * nodes.iter().map(|&i| at(i)[k]).sum::<f64>()));
        };
        for &(a, b) in &ends {
            mean(&[a, b], &mut coords);
        }
        for f in &face_vertices {
            mean(f, &mut coords);
        }
        if centres > 0 {
            for c in 0..num_cells {
                mean(v.cell(c), &mut coords);
            }
        }

        // Every key is in the maps: all cell edges and faces were inserted above.
        let mid = |a: usize, b: usize| midpoint.get(&edge_key(a, b)).copied().unwrap_or(a);
        let face = |f: [usize; 4]| faces.get(&face_key(f.into_iter())).copied().unwrap_or(f[0]);
        let point = |i: usize| {
            let mut p = [0.0; 3];
            p[..dim].copy_from_slice(&coords[i * dim..(i + 1) * dim]);
            p
        };
        let mut cells = Vec::with_capacity(cells_len);
        for c in 0..num_cells {
            let n = v.cell(c);
            match kind {
                CellKind::Interval => {
                    let m = mid(n[0], n[1]);
                    cells.extend_from_slice(&[n[0], m, m, n[1]]);
                }
                CellKind::Triangle => {
                    let (m01, m12, m20) = (mid(n[0], n[1]), mid(n[1], n[2]), mid(n[2], n[0]));
                    cells.extend_from_slice(&[n[0], m01, m20]);
                    cells.extend_from_slice(&[m01, n[1], m12]);
                    cells.extend_from_slice(&[m20, m12, n[2]]);
                    cells.extend_from_slice(&[m01, m12, m20]);
                }
                CellKind::Quadrilateral => {
                    let (m01, m12) = (mid(n[0], n[1]), mid(n[1], n[2]));
                    let (m23, m30) = (mid(n[2], n[3]), mid(n[3], n[0]));
                    let o = first_centre + c;
                    cells.extend_from_slice(&[n[0], m01, o, m30]);
                    cells.extend_from_slice(&[m01, n[1], m12, o]);
                    cells.extend_from_slice(&[o, m12, n[2], m23]);
                    cells.extend_from_slice(&[m30, o, m23, n[3]]);
                }
                CellKind::Tetrahedron => {
                    let length = |a: usize, b: usize| {
                        let (p, q) = (point(a), point(b));
                        (0..3).map(|k| (p[k] - q[k]).powi(2)).sum::<f64>()
                    };
                    let volume = |t: [usize; 4]| signed_measure(kind, &t.map(point));
                    let children = tetrahedron_children(
                        [n[0], n[1], n[2], n[3]],
                        |a, b| mid(n[a], n[b]),
                        length,
                        volume,
                    );
                    cells.extend(children.iter().flatten());
                }
                CellKind::Hexahedron => {
                    let children = hexahedron_children(n, mid, face, first_centre + c);
                    cells.extend(children.iter().flatten());
                }
            }
        }

        let boundary = self
            .boundary
            .iter()
            .map(|part| refine_part(kind, part, &midpoint, &faces))
            .collect::<Result<Vec<_>>>()?;
        let per = children(kind);
        let markers: Vec<i32> = (self.cell_markers.iter())
            .flat_map(|&m| std::iter::repeat_n(m, per))
            .collect();
        let mut builder = Mesh::builder(dim, coords, kind, cells)
            .cell_markers(markers)
            .boundary_parts(boundary)
            .exterior_part(None)
            // Refining a valid mesh does not make its parts overlap.
            .without_overlap_check();
        for s in &self.subdomains {
            if let Some(name) = &s.name {
                builder = builder.subdomain_name(s.id, name.clone());
            }
        }
        let refined = builder.build()?;
        femscale_core::record(Counter::MeshRefinements);
        tracing::debug!(
            cell_kind = ?kind,
            nodes_before = num_nodes,
            nodes_after = refined.num_nodes(),
            cells_before = num_cells,
            cells_after = refined.num_cells(),
            "mesh refined uniformly"
        );
        Ok(refined)
    }

    /// The mesh refined uniformly `times` times ([`Mesh::refine_uniform`] repeated; `0` gives a
    /// copy). The final size is checked before any work is done. Counts `times`
    /// [`Counter::MeshRefinements`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for `refinements` if the result would exceed
    /// [`MAX_GENERATED_NODES`] nodes; otherwise as [`Mesh::refine_uniform`].
    pub fn refined(&self, times: usize) -> Result<Mesh> {
        if times == 0 {
            return Ok(self.clone());
        }
        let counts = MeshCounts {
            nodes: self.num_nodes() as f64,
            edges: self.num_edges() as f64,
            faces: self.num_faces() as f64,
            cells: self.num_cells() as f64,
        }
        .refined(self.cell_kind, times);
        // Counts only grow, so the final one is the largest.
        if counts.nodes.is_nan() || counts.nodes > MAX_GENERATED_NODES as f64 {
            return Err(Error::invalid(
                FIELD,
                format!(
                    "{times} refinements of a mesh of {} nodes and {} cells would exceed the \
                     supported {MAX_GENERATED_NODES} nodes",
                    self.num_nodes(),
                    self.num_cells()
                ),
            ));
        }
        let mut mesh = self.refine_uniform()?;
        for _ in 1..times {
            mesh = mesh.refine_uniform()?;
        }
        Ok(mesh)
    }
}

/// The key of a face by its sorted vertices.
fn face_key(nodes: impl Iterator<Item = usize>) -> [usize; 4] {
    let mut key = [usize::MAX; 4];
    for (k, n) in key.iter_mut().zip(nodes) {
        *k = n;
    }
    key.sort_unstable();
    key
}

/// `part` on the refined mesh: facets split with their cells, nodes gain the new nodes.
fn refine_part(
    kind: CellKind,
    part: &BoundaryPart,
    midpoint: &HashMap<(usize, usize), usize>,
    faces: &HashMap<[usize; 4], usize>,
) -> Result<BoundaryPart> {
    let npf = kind.nodes_per_facet();
    let mut facets = Vec::with_capacity(part.facets.len().saturating_mul(4));
    let mut nodes = part.nodes.clone();
    for f in part.facets.chunks_exact(npf) {
        let mid = |a: usize, b: usize| midpoint.get(&edge_key(a, b)).copied();
        let centre = |f: &[usize]| faces.get(&face_key(f.iter().copied())).copied();
        match facet_children(kind, f, mid, centre) {
            // Points stay.
            Some(None) => return Ok(part.clone()),
            Some(Some(children)) => {
                nodes.extend_from_slice(&children);
                facets.extend(children);
            }
            None => {
                return Err(Error::Mesh {
                    location: None,
                    message: format!(
                        "boundary part `{}` has facet {f:?} that is not a facet of any cell, \
                         so it cannot be refined",
                        part.name
                    ),
                });
            }
        }
    }
    // `Mesh::try_new` sorts and deduplicates the nodes.
    Ok(BoundaryPart {
        name: part.name.clone(),
        id: part.id,
        facets,
        nodes,
    })
}
