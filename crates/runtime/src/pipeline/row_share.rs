//! The part of a mesh a process assembles when a distributed solver gives it a block of rows
//! ([`femscale_core::RowShare`]): [`LocalCells`].
//!
//! A row's entries come from the cells containing its node, and its Neumann/Robin terms from
//! the boundary facets containing it, so the cells with a node among the owned rows (the
//! owned cells and one layer of ghost cells) and the facets with an owned node assemble every
//! owned row completely. The Dirichlet nodes kept are those of the kept cells: an owned row
//! coupled to a fixed ghost node must eliminate that coupling. Node numbers stay global (the
//! system keeps its `n` rows; the rows no kept cell touches stay empty), so the solution,
//! post-processing and outputs use the whole mesh unchanged.

use std::ops::Range;

use femscale_core::{BoundaryPart, MeshView};

/// The cells, markers and boundary parts of a mesh that assemble a block of rows.
#[derive(Debug)]
pub(crate) struct LocalCells {
    cells: Vec<usize>,
    cell_markers: Vec<i32>,
    boundary: Vec<BoundaryPart>,
    /// Cells kept.
    kept: usize,
}

impl LocalCells {
    /// What assembles the rows `rows` of `view`'s nodes.
    pub fn new(view: &MeshView<'_>, rows: &Range<usize>) -> Self {
        let per_cell = view.nodes_per_cell();
        let mut touched = vec![false; view.num_nodes()];
        let mut cells = Vec::new();
        let mut cell_markers = Vec::new();
        for (c, nodes) in view.cells.chunks_exact(per_cell).enumerate() {
            if nodes.iter().any(|n| rows.contains(n)) {
                cells.extend_from_slice(nodes);
                if !view.cell_markers.is_empty() {
                    cell_markers.push(view.cell_markers[c]);
                }
                for &n in nodes {
                    touched[n] = true;
                }
            }
        }
        let per_facet = view.nodes_per_facet();
        let boundary = view
            .boundary
            .iter()
            .map(|part| {
                let facets: Vec<usize> = part
                    .facets
                    .chunks_exact(per_facet)
                    .filter(|f| f.iter().any(|n| rows.contains(n)))
                    .flatten()
                    .copied()
                    .collect();
                let nodes = part.nodes.iter().copied().filter(|&n| touched[n]).collect();
                BoundaryPart {
                    name: part.name.clone(),
                    id: part.id,
                    facets,
                    nodes,
                }
            })
            .collect();
        Self {
            kept: cells.len() / per_cell.max(1),
            cells,
            cell_markers,
            boundary,
        }
    }

    /// The cells whose first node is among `rows` (each cell belongs to exactly one block of
    /// a partition of the nodes), with their markers and no boundary parts: what a process
    /// integrates over.
    pub fn owned(view: &MeshView<'_>, rows: &Range<usize>) -> Self {
        let per_cell = view.nodes_per_cell();
        let mut cells = Vec::new();
        let mut cell_markers = Vec::new();
        for (c, nodes) in view.cells.chunks_exact(per_cell).enumerate() {
            if rows.contains(&nodes[0]) {
                cells.extend_from_slice(nodes);
                if !view.cell_markers.is_empty() {
                    cell_markers.push(view.cell_markers[c]);
                }
            }
        }
        Self {
            kept: cells.len() / per_cell.max(1),
            cells,
            cell_markers,
            boundary: Vec::new(),
        }
    }

    /// Cells kept (the owned cells and one layer of ghosts).
    pub fn len(&self) -> usize {
        self.kept
    }

    /// `full` restricted to these cells (same nodes and numbering).
    pub fn view<'a>(&'a self, full: &MeshView<'a>) -> MeshView<'a> {
        MeshView {
            cells: &self.cells,
            cell_markers: &self.cell_markers,
            boundary: &self.boundary,
            // A changed view is not known to be valid.
            validated: femscale_core::Validated::NO,
            ..*full
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use femscale_core::CellKind;

    #[test]
    fn owned_rows_keep_their_cells_facets_and_neighbouring_dirichlet_nodes() {
        // Four intervals on 0..=4; rows 0..2 own nodes 0 and 1.
        let coords = [0.0, 1.0, 2.0, 3.0, 4.0];
        let cells = [0, 1, 1, 2, 2, 3, 3, 4];
        let boundary = [
            BoundaryPart::from_nodes("left", vec![0]),
            BoundaryPart::from_nodes("right", vec![4]),
            BoundaryPart::from_nodes("inner", vec![2, 3]),
        ];
        let view = MeshView {
            dim: 1,
            coords: &coords,
            cell_kind: CellKind::Interval,
            order: femscale_core::Order::Linear,
            curved: false,
            cells: &cells,
            boundary: &boundary,
            cell_markers: &[7, 7, 8, 8],
            subdomains: &[],
            validated: femscale_core::Validated::NO,
        };
        let local = LocalCells::new(&view, &(0..2));
        let v = local.view(&view);
        assert_eq!(local.len(), 2);
        assert_eq!(v.cells, &[0, 1, 1, 2]);
        assert_eq!(v.cell_markers, &[7, 7]);
        assert_eq!(v.num_nodes(), 5);
        // Node 2 is a ghost of a kept cell: its Dirichlet value must reach row 1.
        assert_eq!(v.boundary[2].nodes, vec![2]);
        assert_eq!(v.boundary[0].nodes, vec![0]);
        assert!(v.boundary[1].nodes.is_empty());
        // Owned cells: a partition of the cells by their first node.
        let blocks = [0..2, 2..4, 4..5];
        let owned: Vec<usize> = blocks
            .iter()
            .map(|rows| LocalCells::owned(&view, rows).len())
            .collect();
        assert_eq!(owned, vec![2, 2, 0]);
        assert_eq!(
            LocalCells::owned(&view, &(2..4)).view(&view).cells,
            &[2, 3, 3, 4]
        );
    }
}
