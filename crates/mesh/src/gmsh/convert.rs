//! [`MshFile`] to [`Mesh`]: physical groups to named markers.
//!
//! * Cells are the elements of the highest dimension (one kind: a file mixing triangles and
//!   quadrangles is refused); nodes no cell uses are dropped.
//! * A cell's subdomain marker is its entity's physical tag, named by `$PhysicalNames`. If no
//!   entity of that dimension is in a physical group (a file without groups), the entity tag
//!   is the marker instead; cells outside groups in a file that has groups (`Mesh.SaveAll`) get
//!   marker 0. An entity in two physical groups of the cells' dimension is refused (a cell has
//!   one subdomain).
//! * Elements one dimension lower become boundary parts, one per physical group (a facet may
//!   be in several), named by `$PhysicalNames` or by their number; with no groups of that
//!   dimension, one part per entity. Facets may be interior (an interface).
//! * The mesh is 1D, 2D or 3D by its cells; lower-dimensional meshes must lie in `z = 0` (and
//!   `y = 0` for 1D).
//! * The part `all` holds every exterior facet unless a group is called so.
//! * Second-order elements (line3, triangle6, quad9, tet10, hex27) make a mesh of order 2,
//!   their nodes permuted from gmsh's order to femscale's (VTK's); the mesh is curved
//!   ([`Mesh::is_curved`]) when a higher-order node lies off its straight-sided position.
//!   Cells and facets of different orders in one file are refused.

use std::path::Path;

use femscale_core::{CellKind, Error, Order, Result};

use super::{ElementBlock, MshElementKind, MshFile, read_msh};
use crate::mesh::Mesh;
use crate::names::Names;

impl Mesh {
    /// Reads a Gmsh `.msh` file (2.2 or 4.1, ASCII or binary) into a mesh with subdomain and
    /// boundary markers (see [`crate::gmsh`] for the format and [`MshFile::to_mesh`] for how
    /// groups become markers).
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::MeshFile`] for the file's contents, [`Error::Mesh`] (naming the
    /// file) for a mesh that fails validation.
    pub fn read_gmsh(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        read_msh(path)?.to_mesh(path)
    }
}

/// The cell kind and node layout of a gmsh element kind (`None` for points).
fn cell_kind(kind: MshElementKind) -> Option<(CellKind, Order)> {
    let cell = match kind {
        MshElementKind::Point => return None,
        MshElementKind::Line | MshElementKind::Line3 => CellKind::Interval,
        MshElementKind::Triangle | MshElementKind::Triangle6 => CellKind::Triangle,
        MshElementKind::Quadrangle | MshElementKind::Quadrangle9 => CellKind::Quadrilateral,
        MshElementKind::Tetrahedron | MshElementKind::Tetrahedron10 => CellKind::Tetrahedron,
        MshElementKind::Hexahedron | MshElementKind::Hexahedron27 => CellKind::Hexahedron,
    };
    Some((cell, kind.order()))
}

/// Whether elements of `a` and `b` differ only in their order.
fn differ_in_order(a: MshElementKind, b: MshElementKind) -> bool {
    cell_kind(a).map(|k| k.0) == cell_kind(b).map(|k| k.0) && a.order() != b.order()
}

impl MshFile {
    /// The mesh this file describes (see the module docs of [`crate::gmsh`]); `path` names the
    /// file in errors.
    ///
    /// # Errors
    /// [`Error::Mesh`] with the file as location: no cells, mixed cell kinds, an entity in two
    /// physical groups of the cells' dimension, a 2D mesh off `z = 0`, or validation failures.
    pub fn to_mesh(&self, path: &Path) -> Result<Mesh> {
        let fail = |message: String| Error::Mesh {
            location: Some(path.display().to_string()),
            message,
        };
        let dim = self.max_dim();
        let cell_blocks: Vec<&ElementBlock> = self.blocks.iter().filter(|b| b.dim == dim).collect();
        let first = cell_blocks.first().map(|b| b.kind);
        let (kind, order) = match first.and_then(cell_kind) {
            Some(kind) if dim > 0 => kind,
            _ => {
                return Err(fail(
                    "the file has no lines, surfaces or volumes to mesh".into(),
                ));
            }
        };
        let mixed_orders = |a: MshElementKind, b: MshElementKind| {
            fail(format!(
                "mixed orders: {} and {} elements; femscale meshes have one node layout (save \
                 with one Mesh.ElementOrder)",
                a.name(),
                b.name()
            ))
        };
        if let Some(b) = (cell_blocks.iter()).find(|b| cell_kind(b.kind) != Some((kind, order))) {
            if let Some(first) = first
                && differ_in_order(first, b.kind)
            {
                return Err(mixed_orders(first, b.kind));
            }
            return Err(fail(format!(
                "mixed cells: {} and {} elements of dimension {dim}; femscale meshes have one \
                 kind of cell",
                kind.name(),
                b.kind.name()
            )));
        }
        let cell_order = first.map_or(&[][..], MshElementKind::femscale_order);
        // Nodes used by cells, renumbered in point order.
        let mut new_index = vec![usize::MAX; self.points.len()];
        for b in &cell_blocks {
            for &n in &b.nodes {
                new_index[n] = 0;
            }
        }
        let mut coords = Vec::new();
        let mut used = 0;
        for (i, slot) in new_index.iter_mut().enumerate() {
            if *slot == 0 {
                *slot = used;
                used += 1;
                let p = self.points[i];
                if p[usize::from(dim)..].iter().any(|&c| c != 0.0) {
                    return Err(fail(format!(
                        "node {} at {p:?} is off the {}; a {dim}D mesh must lie in it",
                        self.node_tags[i],
                        if dim == 1 { "x axis" } else { "plane z = 0" }
                    )));
                }
                coords.extend_from_slice(&p[..usize::from(dim)]);
            }
        }
        let by_entity = !self.has_groups(dim);
        let mut cells = Vec::new();
        let mut markers = Vec::new();
        for b in &cell_blocks {
            let marker = match b.physical.as_slice() {
                _ if by_entity => b.entity,
                [] => 0,
                [p] => *p,
                [a, b2, ..] => {
                    return Err(fail(format!(
                        "the cells of entity {} are in physical groups {a} and {b2}; each cell \
                         needs one subdomain (put the entity in one group of dimension {dim})",
                        b.entity
                    )));
                }
            };
            if cell_order.is_sorted() {
                // Gmsh's order is femscale's (all first-order kinds): no permutation.
                cells.extend(b.nodes.iter().map(|&n| new_index[n]));
            } else {
                for element in b.nodes.chunks_exact(cell_order.len()) {
                    cells.extend(cell_order.iter().map(|&l| new_index[element[l]]));
                }
            }
            markers.extend(std::iter::repeat_n(marker, b.len()));
        }
        // Errors name the file's element and node tags.
        let element_tags = (cell_blocks.iter()).flat_map(|b| b.element_tags.iter().copied());
        let node_tags = (new_index.iter().zip(&self.node_tags))
            .filter(|(i, _)| **i != usize::MAX)
            .map(|(_, &tag)| tag);
        let mut builder = Mesh::builder(usize::from(dim), coords, kind, cells)
            .order(order)
            .cell_markers(markers)
            .names(Names::tags(element_tags, node_tags));
        if !by_entity {
            for n in self.physical_names.iter().filter(|n| n.dim == dim) {
                builder = builder.subdomain_name(n.tag, n.name.clone());
            }
        }
        // Facets: one entry per (facet, group).
        let facet_dim = dim - 1;
        let facets_by_entity = !self.has_groups(facet_dim);
        let (mut facets, mut facet_markers) = (Vec::new(), Vec::new());
        for b in self.blocks.iter().filter(|b| b.dim == facet_dim) {
            let groups: &[i32] = if facets_by_entity {
                std::slice::from_ref(&b.entity)
            } else {
                &b.physical
            };
            if b.kind.order() != order && b.kind != MshElementKind::Point {
                return Err(match first {
                    Some(first) => mixed_orders(first, b.kind),
                    None => fail("no cells".into()),
                });
            }
            let facet_order = b.kind.femscale_order();
            for element in b.nodes.chunks_exact(b.kind.num_nodes().max(1)) {
                if let Some(&n) = element.iter().find(|&&n| new_index[n] == usize::MAX) {
                    return Err(fail(format!(
                        "boundary element on node {} of entity {} touches no cell",
                        self.node_tags[n], b.entity
                    )));
                }
                for &g in groups {
                    facets.extend(facet_order.iter().map(|&l| new_index[element[l]]));
                    facet_markers.push(g);
                }
            }
        }
        builder = builder.facet_markers(facets, facet_markers);
        if !facets_by_entity {
            for n in self.physical_names.iter().filter(|n| n.dim == facet_dim) {
                builder = builder.boundary_name(n.tag, n.name.clone());
            }
        }
        builder.build().map_err(|e| match e {
            Error::Mesh { message, .. } => fail(message),
            e => e,
        })
    }

    /// Whether some entity of dimension `dim` with elements is in a physical group.
    fn has_groups(&self, dim: u8) -> bool {
        self.blocks
            .iter()
            .any(|b| b.dim == dim && !b.physical.is_empty())
    }
}
