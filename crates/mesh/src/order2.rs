//! Checks and helpers for meshes of order 2 given by a caller or a file: every cell's
//! higher-order nodes shared consistently (one node per edge and per face, no node in two
//! roles), boundary facets whose higher-order nodes are their cells', reorientation of whole
//! order-2 cells, and whether any higher-order node lies off its straight-sided position.

use femscale_core::{CellKind, Error, MeshView, Order, Result};
use rayon::prelude::*;

use crate::lift::{Key, key_of};
use crate::names::Names;
use crate::topology::MAX_KEYED_NODES;

fn fail(message: String) -> Error {
    Error::Mesh {
        location: None,
        message,
    }
}

/// The vertices of a key without its padding.
fn key_vertices(key: &Key) -> impl Iterator<Item = u32> + '_ {
    key.iter().copied().take_while(|&v| v != u32::MAX)
}

/// The local slots of the order-2 layout of `kind` that are cell interiors (a
/// quadrilateral's or hexahedron's centre), not shared with other cells.
fn is_interior(kind: CellKind, support: &[usize]) -> bool {
    support.len() == kind.num_vertices() && support.len() > 2
}

/// The node of every shared entity (edge, hexahedron face) of an order-2 mesh, sorted by key.
pub(crate) struct EntityNodes {
    entries: Vec<(Key, u32)>,
}

impl EntityNodes {
    /// Checks that cells sharing an edge or face have the same node on it, and that no node
    /// is a vertex and a higher-order node, or the node of two entities.
    pub(crate) fn check(mesh: &MeshView<'_>, names: &Names) -> Result<Self> {
        if mesh.num_nodes() >= MAX_KEYED_NODES {
            return Err(fail(format!(
                "{} nodes are more than an order-2 mesh supports (below {MAX_KEYED_NODES})",
                mesh.num_nodes()
            )));
        }
        let kind = mesh.cell_kind;
        let nv = kind.num_vertices();
        let support = kind.node_support(Order::Quadratic);
        let shared: Vec<usize> = (nv..support.len())
            .filter(|&k| !is_interior(kind, support[k]))
            .collect();
        let mut entries: Vec<(Key, u32)> = (0..mesh.num_cells())
            .into_par_iter()
            .flat_map_iter(|c| {
                let cell = mesh.cell(c);
                (shared.iter())
                    .map(move |&k| (key_of(support[k].iter().map(|&l| cell[l])), cell[k] as u32))
            })
            .collect();
        entries.par_sort_unstable();
        entries.dedup();
        if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(fail(format!(
                "cells disagree on the node of the {} with vertices {}: nodes {} and {}",
                if key_vertices(&w[0].0).count() == 2 {
                    "edge"
                } else {
                    "face"
                },
                names.nodes(
                    &key_vertices(&w[0].0)
                        .map(|v| v as usize)
                        .collect::<Vec<_>>()
                ),
                names.node(w[0].1 as usize),
                names.node(w[1].1 as usize)
            )));
        }
        // Each node has one role: a vertex, one entity's node, or one cell's interior node.
        const FREE: u32 = u32::MAX;
        const VERTEX: u32 = u32::MAX - 1;
        const INTERIOR: u32 = u32::MAX - 2;
        let mut role = vec![FREE; mesh.num_nodes()];
        for c in 0..mesh.num_cells() {
            for &n in &mesh.cell(c)[..nv] {
                role[n] = VERTEX;
            }
        }
        let twice = |n: usize| {
            fail(format!(
                "node {} is used as two different nodes of the order-2 layout (a vertex, an \
                 edge or face node, or a cell's centre)",
                names.node(n)
            ))
        };
        for (i, &(_, n)) in entries.iter().enumerate() {
            let r = &mut role[n as usize];
            if *r != FREE {
                return Err(twice(n as usize));
            }
            *r = i as u32;
        }
        for c in 0..mesh.num_cells() {
            let cell = mesh.cell(c);
            for k in (nv..support.len()).filter(|&k| is_interior(kind, support[k])) {
                if role[cell[k]] != FREE {
                    return Err(twice(cell[k]));
                }
                role[cell[k]] = INTERIOR;
            }
        }
        Ok(Self { entries })
    }

    /// Checks that a boundary facet (of part `name`) in the order-2 layout of `kind`'s facets
    /// has its cells' nodes on its edges (and, for quadrilateral faces, centre).
    pub(crate) fn check_facet(
        &self,
        kind: CellKind,
        name: &str,
        facet: &[usize],
        names: &Names,
    ) -> Result<()> {
        let Some(facet_kind) = kind.facet_kind() else {
            return Ok(());
        };
        let support = facet_kind.node_support(Order::Quadratic);
        for (j, s) in support.iter().enumerate().skip(facet_kind.num_vertices()) {
            let key = key_of(s.iter().map(|&l| facet[l]));
            let found = (self.entries)
                .binary_search_by(|e| e.0.cmp(&key))
                .ok()
                .map(|i| self.entries[i].1 as usize);
            if found != Some(facet[j]) {
                return Err(fail(format!(
                    "boundary part `{name}` has facet {}, whose node {j} ({}) is not its \
                     cells' node there ({})",
                    names.nodes(facet),
                    names.node(facet[j]),
                    found.map_or_else(|| "none".to_string(), |n| names.node(n).to_string())
                )));
            }
        }
        Ok(())
    }
}

/// The order-2 layout reversed along with the vertices: local node `k` of the reversed cell is
/// node `result[k]` of the given one (vertex `reversed[i]` for vertex `i`, and each edge, face
/// or centre node follows its vertices).
pub(crate) fn reversed_layout(kind: CellKind, order: Order, reversed: &[usize]) -> Vec<usize> {
    let support = kind.node_support(order);
    let sorted = |s: &mut Vec<usize>| {
        s.sort_unstable();
        s.clone()
    };
    (support.iter())
        .map(|s| {
            let mut target: Vec<usize> = s.iter().map(|&v| reversed[v]).collect();
            let target = sorted(&mut target);
            (support.iter())
                .position(|t| sorted(&mut t.to_vec()) == target)
                .unwrap_or(0)
        })
        .collect()
}

/// Whether some higher-order node of an order-2 mesh lies off the centroid of its support
/// vertices by more than `1e-10` of its cell's extent.
pub(crate) fn is_curved(mesh: &MeshView<'_>) -> bool {
    let kind = mesh.cell_kind;
    let nv = kind.num_vertices();
    let support = kind.node_support(Order::Quadratic);
    (0..mesh.num_cells()).into_par_iter().any(|c| {
        let cell = mesh.cell(c);
        let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        for &n in &cell[..nv] {
            let p = mesh.point(n);
            for d in 0..3 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        let extent = (0..3).map(|d| hi[d] - lo[d]).fold(0.0, f64::max);
        (nv..support.len()).any(|k| {
            let mut centroid = [0.0; 3];
            for &l in support[k] {
                let p = mesh.point(cell[l]);
                for d in 0..3 {
                    centroid[d] += p[d] / support[k].len() as f64;
                }
            }
            let p = mesh.point(cell[k]);
            (0..3).any(|d| (p[d] - centroid[d]).abs() > 1e-10 * extent)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversed_layouts_follow_the_vertices() {
        use crate::geometry::reversed_order;
        for kind in [
            CellKind::Interval,
            CellKind::Triangle,
            CellKind::Quadrilateral,
            CellKind::Tetrahedron,
            CellKind::Hexahedron,
        ] {
            let r = reversed_layout(kind, Order::Quadratic, reversed_order(kind));
            assert_eq!(&r[..kind.num_vertices()], reversed_order(kind), "{kind:?}");
            let mut sorted = r.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..r.len()).collect::<Vec<_>>(), "{kind:?}");
            // Reversing twice is the identity.
            let twice: Vec<usize> = r.iter().map(|&k| r[k]).collect();
            assert_eq!(twice, (0..r.len()).collect::<Vec<_>>(), "{kind:?}");
        }
        // Triangle (0, 2, 1): edges (0,1) and (2,0) swap, (1,2) stays.
        assert_eq!(
            reversed_layout(CellKind::Triangle, Order::Quadratic, &[0, 2, 1]),
            [0, 2, 1, 5, 4, 3]
        );
    }
}
