//! Connected parts of a mesh: nodes that share a cell are in one part ([`NodeParts`]).

use femscale_core::MeshView;

/// Union-find over a mesh's nodes, joined through its cells: the overlap check asks whether a
/// mesh is one part, the pipeline whether every part has a condition that fixes its constant.
#[derive(Debug, Clone)]
pub struct NodeParts {
    parent: Vec<usize>,
}

impl NodeParts {
    /// The parts of `mesh`, joining the first `nodes_per_cell` nodes of each cell: its
    /// vertices (`cell_kind.num_vertices()`), which decide the parts, or every node of it, so
    /// that edge and interior nodes of order-2 cells join their cell's part too.
    pub fn of(mesh: &MeshView<'_>, nodes_per_cell: usize) -> Self {
        let mut parts = Self {
            parent: (0..mesh.num_nodes()).collect(),
        };
        for c in 0..mesh.num_cells() {
            let cell = mesh.cell(c);
            let cell = &cell[..nodes_per_cell.min(cell.len())];
            let Some((&head, rest)) = cell.split_first() else {
                continue;
            };
            let first = parts.part(head);
            for &v in rest {
                let r = parts.part(v);
                if r != first {
                    parts.parent[r] = first;
                }
            }
        }
        parts
    }

    /// The part of `node`: one number, a node of the part, for all nodes of a part. A node of
    /// no cell (or not joined) is a part of its own.
    pub fn part(&mut self, node: usize) -> usize {
        let parent = &mut self.parent;
        let mut x = node;
        // Path halving keeps the trees shallow.
        while parent[x] != x {
            let up = parent[parent[x]];
            parent[x] = up;
            x = up;
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mesh;

    #[test]
    fn two_squares_apart_are_two_parts_and_nodes_of_no_cell_their_own() {
        // Two triangles sharing an edge, one apart; node 7 is in no cell.
        let coords = [
            0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 5.0, 0.0, 6.0, 0.0, 5.0, 1.0, 9.0, 9.0,
        ];
        let cells = [0, 1, 2, 1, 3, 2, 4, 5, 6];
        let mesh = Mesh::try_new(
            2,
            coords.to_vec(),
            femscale_core::CellKind::Triangle,
            cells.to_vec(),
            vec![],
        )
        .unwrap();
        let mut parts = NodeParts::of(&mesh.view(), 3);
        let a = parts.part(0);
        assert!((1..4).all(|v| parts.part(v) == a));
        let b = parts.part(4);
        assert_ne!(a, b);
        assert!((5..7).all(|v| parts.part(v) == b));
        assert_eq!(parts.part(7), 7);
        // Joining only the first vertex of each cell joins nothing.
        let mut single = NodeParts::of(&mesh.view(), 1);
        assert_ne!(single.part(0), single.part(1));
    }
}
