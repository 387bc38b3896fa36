//! Changing a mesh's node layout: order 1 to the order-2 Lagrange nodes (edge midpoints, face
//! and cell centres shared between the cells that own them) and back.
//!
//! The new nodes of a lifted mesh are numbered after the vertices, edges first, then faces,
//! then cell interiors, each group in the order of its sorted vertex keys, so that nodes of
//! nearby vertices stay near each other. Boundary parts get their facets' new nodes; markers
//! and subdomains carry over.

use femscale_core::{BoundaryPart, CellKind, Error, Order, Result};
use rayon::prelude::*;

use crate::mesh::Mesh;

/// A shared entity (edge or face) by its sorted vertices, padded with `u32::MAX`.
pub(crate) type Key = [u32; 4];

/// Sorted vertex keys of the shared entities of one kind, and the node each one became.
struct Entities {
    keys: Vec<Key>,
    first_node: usize,
}

impl Entities {
    /// The node of the entity with `key`.
    fn node(&self, key: &Key) -> Option<usize> {
        self.keys
            .binary_search(key)
            .ok()
            .map(|i| self.first_node + i)
    }
}

pub(crate) fn key_of(vertices: impl Iterator<Item = usize>) -> Key {
    let mut key = [u32::MAX; 4];
    for (k, v) in key.iter_mut().zip(vertices) {
        // In range: callers refuse meshes with u32::MAX or more nodes.
        *k = v as u32;
    }
    key.sort_unstable();
    key
}

impl Mesh {
    /// This mesh with the node layout of `order`: lifting to [`Order::Quadratic`] adds one
    /// node per edge (at its midpoint), per quadrilateral face and per quadrilateral or
    /// hexahedron interior (at the centre), shared by every cell that has the entity, and
    /// extends boundary facets by their new nodes; lowering to [`Order::Linear`] keeps the
    /// vertices (straightening a curved mesh). The same order returns a copy.
    ///
    /// ```
    /// use femscale_core::Order;
    /// use femscale_mesh::{Mesh, RectangleSpec};
    /// let mesh = Mesh::rectangle(&RectangleSpec { nx: 2, ny: 2, ..Default::default() }).unwrap();
    /// let p2 = mesh.with_order(Order::Quadratic).unwrap();
    /// assert_eq!(p2.num_nodes(), 25); // 9 vertices + 16 edges
    /// assert_eq!(p2.boundary_part("left").unwrap().nodes.len(), 5);
    /// assert_eq!(p2.with_order(Order::Linear).unwrap(), mesh);
    /// ```
    ///
    /// # Errors
    /// [`Error::Mesh`] for a mesh of 2^32 nodes or more, or a boundary facet that is no
    /// facet of a cell.
    pub fn with_order(&self, order: Order) -> Result<Self> {
        match (self.order, order) {
            (a, b) if a == b => Ok(self.clone()),
            (Order::Linear, Order::Quadratic) => self.lifted(),
            _ => Ok(self.lowered()),
        }
    }

    fn lifted(&self) -> Result<Self> {
        let fail = |message: String| Error::Mesh {
            location: None,
            message,
        };
        if self.num_nodes() >= u32::MAX as usize {
            return Err(fail(format!(
                "{} nodes are too many to lift to order 2 (at most {})",
                self.num_nodes(),
                u32::MAX - 1
            )));
        }
        let kind = self.cell_kind;
        let (nv, dim) = (kind.num_vertices(), self.dim);
        let support = kind.node_support(Order::Quadratic);
        let npc = support.len();
        let ncells = self.num_cells();
        // Local slots by entity: edges (2 vertices), faces (4 vertices, shared by hexahedra),
        // interiors (quadrilateral or hexahedron centres, one cell each).
        let interior = |s: &[usize]| s.len() == nv && nv > 2;
        let edge_slots: Vec<usize> = (nv..npc).filter(|&k| support[k].len() == 2).collect();
        let face_slots: Vec<usize> = (nv..npc)
            .filter(|&k| support[k].len() == 4 && !interior(support[k]))
            .collect();
        let interior_slots: Vec<usize> = (nv..npc).filter(|&k| interior(support[k])).collect();
        // The keys of `slots` cell by cell, numbered: distinct keys sorted, and for each
        // (cell, slot) the index of its key among them.
        let collect = |slots: &[usize]| -> Result<(Vec<Key>, Vec<usize>)> {
            let keys: Vec<Key> = (0..ncells)
                .into_par_iter()
                .flat_map_iter(|c| {
                    let v = &self.cells[c * nv..(c + 1) * nv];
                    slots
                        .iter()
                        .map(move |&k| key_of(support[k].iter().map(|&l| v[l])))
                })
                .collect();
            number_keys(&keys, self.num_nodes())
        };
        let (edge_keys, edge_of) = collect(&edge_slots)?;
        let (face_keys, face_of) = collect(&face_slots)?;
        let edges = Entities {
            keys: edge_keys,
            first_node: self.num_nodes(),
        };
        let faces = Entities {
            first_node: edges.first_node + edges.keys.len(),
            keys: face_keys,
        };
        let first_interior = faces.first_node + faces.keys.len();
        let num_nodes = first_interior + ncells * interior_slots.len();

        let mut coords = vec![0.0; num_nodes * dim];
        coords[..self.coords.len()].copy_from_slice(&self.coords);
        // `out` = the mean of the vertices `vertices` (`n` of them).
        let centroid = |vertices: &mut dyn Iterator<Item = usize>, n: usize, out: &mut [f64]| {
            for v in vertices {
                for (o, x) in out.iter_mut().zip(&self.coords[v * dim..(v + 1) * dim]) {
                    *o += x / n as f64;
                }
            }
        };
        let (_, new) = coords.split_at_mut(self.coords.len());
        let (edge_coords, new) = new.split_at_mut(edges.keys.len() * dim);
        let (face_coords, interior_coords) = new.split_at_mut(faces.keys.len() * dim);
        for (entities, out) in [(&edges, edge_coords), (&faces, face_coords)] {
            (out.par_chunks_mut(dim).zip(&entities.keys)).for_each(|(o, key)| {
                let n = key.iter().take_while(|&&v| v != u32::MAX).count();
                centroid(&mut key[..n].iter().map(|&v| v as usize), n, o);
            });
        }
        if !interior_slots.is_empty() {
            let per_cell = interior_slots.len() * dim;
            (interior_coords.par_chunks_mut(per_cell).enumerate()).for_each(|(c, out)| {
                let v = &self.cells[c * nv..(c + 1) * nv];
                for (o, &k) in out.chunks_mut(dim).zip(&interior_slots) {
                    centroid(&mut support[k].iter().map(|&l| v[l]), support[k].len(), o);
                }
            });
        }

        let mut cells = vec![0usize; ncells * npc];
        (cells.par_chunks_mut(npc).enumerate()).for_each(|(c, out)| {
            out[..nv].copy_from_slice(&self.cells[c * nv..(c + 1) * nv]);
            let (ne, nf) = (edge_slots.len(), face_slots.len());
            for (j, &k) in edge_slots.iter().enumerate() {
                out[k] = edges.first_node + edge_of[c * ne + j];
            }
            for (j, &k) in face_slots.iter().enumerate() {
                out[k] = faces.first_node + face_of[c * nf + j];
            }
            for (i, &k) in interior_slots.iter().enumerate() {
                out[k] = first_interior + c * interior_slots.len() + i;
            }
        });
        drop((edge_of, face_of));
        let boundary = (self.boundary.iter())
            // A facet's own interior (a quadrilateral face's centre) is a face of the cell.
            .map(|part| {
                lift_part(kind, part, |key: &Key| match key[2] {
                    u32::MAX => edges.node(key),
                    _ => faces.node(key),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            dim,
            coords,
            cell_kind: kind,
            order: Order::Quadratic,
            curved: false,
            cells,
            boundary,
            cell_markers: self.cell_markers.clone(),
            subdomains: self.subdomains.clone(),
            reoriented_cells: self.reoriented_cells,
            derived: Default::default(),
        })
    }

    fn lowered(&self) -> Self {
        let kind = self.cell_kind;
        let (nv, npc) = (kind.num_vertices(), kind.nodes_per_cell_of(self.order));
        let mut new_index = vec![usize::MAX; self.num_nodes()];
        for cell in self.cells.chunks_exact(npc) {
            for &n in &cell[..nv] {
                new_index[n] = 0;
            }
        }
        let mut coords = Vec::new();
        let mut used = 0;
        for (i, slot) in new_index.iter_mut().enumerate() {
            if *slot == 0 {
                *slot = used;
                used += 1;
                coords.extend_from_slice(&self.coords[i * self.dim..(i + 1) * self.dim]);
            }
        }
        let cells = (self.cells.chunks_exact(npc))
            .flat_map(|cell| cell[..nv].iter().map(|&n| new_index[n]))
            .collect();
        let (fv, npf) = (kind.nodes_per_facet(), kind.nodes_per_facet_of(self.order));
        let boundary = (self.boundary.iter())
            .map(|part| {
                let facets: Vec<usize> = (part.facets.chunks_exact(npf))
                    .flat_map(|f| f[..fv].iter().map(|&n| new_index[n]))
                    .collect();
                let mut nodes: Vec<usize> = (part.nodes.iter())
                    .filter(|&&n| new_index[n] != usize::MAX)
                    .map(|&n| new_index[n])
                    .collect();
                nodes.sort_unstable();
                BoundaryPart {
                    name: part.name.clone(),
                    id: part.id,
                    facets,
                    nodes,
                }
            })
            .collect();
        Self {
            dim: self.dim,
            coords,
            cell_kind: kind,
            order: Order::Linear,
            curved: false,
            cells,
            boundary,
            cell_markers: self.cell_markers.clone(),
            subdomains: self.subdomains.clone(),
            reoriented_cells: self.reoriented_cells,
            derived: Default::default(),
        }
    }
}

/// Vertices per parallel task of [`number_keys`]'s bucket pass.
const VERTICES_PER_TASK: usize = 4096;

/// Numbers the distinct entries of `keys` (sorted vertex keys below `num_vertices`): returns
/// them sorted, and for each entry of `keys` the index of its key among them.
///
/// A counting sort by the smallest vertex, then a small sort within each vertex's bucket
/// (a handful of keys), so the cost is linear; buckets in vertex order give the global sorted
/// order.
fn number_keys(keys: &[Key], num_vertices: usize) -> Result<(Vec<Key>, Vec<usize>)> {
    if keys.is_empty() {
        return Ok((Vec::new(), Vec::new())); // No entities of this kind (faces in 2D).
    }
    let mut start = vec![0usize; num_vertices + 1];
    for key in keys {
        let slot = start.get_mut(key[0] as usize + 1).ok_or_else(|| Error::Mesh {
            location: None,
            message: format!(
                "an entity of vertices {key:?} refers to a vertex beyond the mesh's {num_vertices}"
            ),
        })?;
        *slot += 1;
    }
    for v in 0..num_vertices {
        start[v + 1] += start[v];
    }
    // Positions of `keys`, bucket by bucket.
    let mut order = vec![0usize; keys.len()];
    let mut next = start.clone();
    for (i, key) in keys.iter().enumerate() {
        let b = &mut next[key[0] as usize];
        order[*b] = i;
        *b += 1;
    }
    drop(next);
    // Per task: its vertices' distinct keys, and the index among them of each position.
    let tasks: Vec<(Vec<Key>, Vec<usize>)> = (0..num_vertices.div_ceil(VERTICES_PER_TASK))
        .into_par_iter()
        .map(|t| {
            let vertices = t * VERTICES_PER_TASK..((t + 1) * VERTICES_PER_TASK).min(num_vertices);
            let positions = start[vertices.start]..start[vertices.end];
            let mut distinct = Vec::with_capacity(positions.len() / 2);
            let mut index = Vec::with_capacity(positions.len());
            let mut bucket: Vec<Key> = Vec::new();
            for v in vertices {
                let members = &order[start[v]..start[v + 1]];
                bucket.clear();
                bucket.extend(members.iter().map(|&i| keys[i]));
                bucket.sort_unstable();
                bucket.dedup();
                for &i in members {
                    // Present: `bucket` holds every member's key.
                    let local = bucket.binary_search(&keys[i]).unwrap_or_default();
                    index.push(distinct.len() + local);
                }
                distinct.extend_from_slice(&bucket);
            }
            (distinct, index)
        })
        .collect();
    let mut distinct = Vec::with_capacity(tasks.iter().map(|t| t.0.len()).sum());
    let mut entity_of = vec![0usize; keys.len()];
    let mut position = 0;
    for (task_distinct, index) in tasks {
        let offset = distinct.len();
        for local in index {
            entity_of[order[position]] = offset + local;
            position += 1;
        }
        distinct.extend(task_distinct);
    }
    Ok((distinct, entity_of))
}

/// `part` of an order-1 mesh with its facets' order-2 nodes: each new node is `node_of` the sorted vertex key of
/// its edge or face (`None`: no entity of any cell has that key).
pub(crate) fn lift_part(
    kind: CellKind,
    part: &BoundaryPart,
    node_of: impl Fn(&Key) -> Option<usize>,
) -> Result<BoundaryPart> {
    let Some(facet_kind) = kind.facet_kind() else {
        return Ok(part.clone()); // 1D: facets are points.
    };
    let fv = facet_kind.num_vertices();
    let support = facet_kind.node_support(Order::Quadratic);
    let mut facets = Vec::with_capacity(part.facets.len() / fv * support.len());
    let mut nodes = part.nodes.clone();
    for f in part.facets.chunks_exact(fv) {
        facets.extend_from_slice(f);
        for s in &support[fv..] {
            let key = key_of(s.iter().map(|&l| f[l]));
            let node = node_of(&key).ok_or_else(|| Error::Mesh {
                location: None,
                message: format!(
                    "boundary part `{}` has facet {f:?}, which is not a facet of any cell",
                    part.name
                ),
            })?;
            facets.push(node);
            nodes.push(node);
        }
    }
    nodes.sort_unstable();
    nodes.dedup();
    Ok(BoundaryPart {
        name: part.name.clone(),
        id: part.id,
        facets,
        nodes,
    })
}

#[cfg(test)]
mod tests {
    use femscale_core::MeshView;

    use super::*;
    use crate::{RectangleCells, RectangleSpec};

    /// Every node of every cell sits at the centroid of its support vertices, every node is
    /// used, and every part facet is a facet of a cell in the order-2 layout.
    fn check_lifted(mesh: &Mesh) {
        let p2 = mesh.with_order(Order::Quadratic).unwrap();
        let v: MeshView<'_> = p2.view();
        v.validate().unwrap();
        let kind = p2.cell_kind();
        let mut used = vec![false; p2.num_nodes()];
        let mut facets = std::collections::HashSet::new();
        for c in 0..p2.num_cells() {
            let cell = v.cell(c);
            for (k, s) in kind.node_support(Order::Quadratic).iter().enumerate() {
                let mut expected = [0.0; 3];
                for &l in *s {
                    for d in 0..3 {
                        expected[d] += v.point(cell[l])[d] / s.len() as f64;
                    }
                }
                let got = v.point(cell[k]);
                assert!(
                    (0..3).all(|d| (got[d] - expected[d]).abs() < 1e-14),
                    "{kind:?} cell {c} node {k}: {got:?} vs {expected:?}"
                );
                used[cell[k]] = true;
            }
            for f in kind.local_facet_nodes(Order::Quadratic) {
                let mut nodes: Vec<usize> = f.iter().map(|&l| cell[l]).collect();
                nodes.sort_unstable();
                facets.insert(nodes);
            }
        }
        assert!(used.iter().all(|&u| u), "{kind:?}: unused node");
        for part in p2.boundary_parts() {
            for f in part.facets.chunks_exact(v.nodes_per_facet()) {
                let mut nodes = f.to_vec();
                nodes.sort_unstable();
                assert!(
                    facets.contains(&nodes),
                    "{kind:?} part {}: {f:?}",
                    part.name
                );
            }
        }
        assert_eq!(p2.with_order(Order::Linear).unwrap(), *mesh, "{kind:?}");
    }

    /// The bucketed numbering equals sorting and deduplicating every key (the numbering the
    /// lifted layout documents), across several parallel tasks, and refuses a vertex beyond
    /// the mesh.
    #[test]
    fn keys_are_numbered_in_sorted_order() {
        let num_vertices = 3 * VERTICES_PER_TASK + 17;
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % num_vertices
        };
        let keys: Vec<Key> = (0..40_000)
            .map(|i| {
                let (a, b) = (next(), next());
                if i % 3 == 0 {
                    key_of([a, b, next(), next()].into_iter())
                } else {
                    key_of([a, b].into_iter())
                }
            })
            .collect();
        let mut expected = keys.clone();
        expected.sort_unstable();
        expected.dedup();
        let (distinct, index) = number_keys(&keys, num_vertices).unwrap();
        assert_eq!(distinct, expected);
        for (key, &i) in keys.iter().zip(&index) {
            assert_eq!(distinct[i], *key);
        }
        let beyond = [key_of([num_vertices + 1, num_vertices].into_iter())];
        assert!(matches!(
            number_keys(&beyond, num_vertices),
            Err(Error::Mesh { .. })
        ));
    }

    #[test]
    fn lifted_meshes_have_nodes_at_centroids_and_consistent_parts() {
        check_lifted(&Mesh::interval(0.0, 1.0, 5).unwrap());
        for cells in [RectangleCells::Triangle, RectangleCells::Quadrilateral] {
            let spec = RectangleSpec {
                nx: 3,
                ny: 2,
                cells,
                ..RectangleSpec::default()
            };
            check_lifted(&Mesh::rectangle(&spec).unwrap());
        }
        // Two tetrahedra sharing a face, and two hexahedra sharing a face, with a part on
        // one exterior face each.
        let tets = Mesh::builder(
            3,
            vec![
                0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0,
            ],
            CellKind::Tetrahedron,
            vec![0, 1, 2, 3, 1, 2, 3, 4],
        )
        .boundary_part(BoundaryPart::from_facets("base", vec![0, 2, 1]))
        .build()
        .unwrap();
        check_lifted(&tets);
        let mut coords = Vec::new();
        for z in 0..2 {
            for y in 0..2 {
                for x in 0..3 {
                    coords.extend([f64::from(x), f64::from(y), f64::from(z)]);
                }
            }
        }
        let hexes = Mesh::builder(
            3,
            coords,
            CellKind::Hexahedron,
            vec![0, 1, 4, 3, 6, 7, 10, 9, 1, 2, 5, 4, 7, 8, 11, 10],
        )
        .boundary_part(BoundaryPart::from_facets("bottom", vec![0, 3, 4, 1]))
        .build()
        .unwrap();
        check_lifted(&hexes);
        let p2 = hexes.with_order(Order::Quadratic).unwrap();
        // 12 vertices, 20 edges, 11 faces, 2 interiors.
        assert_eq!(p2.num_nodes(), 12 + 20 + 11 + 2);
        assert_eq!(p2.boundary_part("bottom").unwrap().nodes.len(), 9);
    }
}
