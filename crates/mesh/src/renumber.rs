//! Node renumbering for memory locality.

use crate::mesh::Mesh;

impl Mesh {
    /// The same mesh with its nodes numbered in the order the cells first use them (nodes no
    /// cell uses, if any, follow in their old order), and the permutation: node `i` of `self`
    /// is node `new_of_old[i]` of the result. Cells keep their order and their local node
    /// order, so per-cell data (markers, a [`RefinementState`](crate::RefinementState)) stays
    /// valid; boundary parts and coordinates are carried over.
    ///
    /// Local refinement appends new nodes at the end, so after a few adaptive steps the nodes of
    /// neighbouring cells lie far apart in memory; numbering them by first use in cell order
    /// (refined cells stay where their parent was) brings them back together, which speeds up
    /// assembly, the sparse kernels and the multigrid set-up on graded meshes
    /// (`docs/performance.md`, issue 19).
    ///
    /// ```
    /// use femscale_mesh::Mesh;
    /// // Nodes 0, 0.5, 1; bisecting the first cell appends node 3 at x = 0.25.
    /// let mesh = Mesh::interval(0.0, 1.0, 2).unwrap().refine_cells(&[0], None).unwrap().mesh;
    /// assert_eq!(mesh.cells(), &[0, 3, 3, 1, 1, 2]);
    /// let (renumbered, new_of_old) = mesh.renumbered_by_first_use();
    /// assert_eq!(new_of_old, [0, 2, 3, 1]);
    /// assert_eq!(renumbered.cells(), &[0, 1, 1, 2, 2, 3]);
    /// assert_eq!(renumbered.view().point(1)[0], 0.25);
    /// ```
    pub fn renumbered_by_first_use(&self) -> (Mesh, Vec<usize>) {
        const UNSET: usize = usize::MAX;
        let n = self.num_nodes();
        let mut new_of_old = vec![UNSET; n];
        let mut next = 0;
        for &v in &self.cells {
            if new_of_old[v] == UNSET {
                new_of_old[v] = next;
                next += 1;
            }
        }
        for slot in new_of_old.iter_mut().filter(|s| **s == UNSET) {
            *slot = next;
            next += 1;
        }
        (self.renumbered(&new_of_old), new_of_old)
    }

    /// The same mesh with node `i` renumbered `new_of_old[i]` (a permutation of the nodes):
    /// coordinates, cells and boundary parts carried over; cells keep their order.
    ///
    /// # Panics
    /// If `new_of_old` is not a permutation of `0..num_nodes()`.
    pub fn renumbered(&self, new_of_old: &[usize]) -> Mesh {
        let mut seen = vec![false; self.num_nodes()];
        assert!(
            new_of_old.len() == self.num_nodes()
                && new_of_old
                    .iter()
                    .all(|&v| v < seen.len() && !std::mem::replace(&mut seen[v], true)),
            "renumbered: not a permutation of the nodes"
        );
        let dim = self.dim;
        let mut coords = vec![0.0; self.coords.len()];
        for (old, &new) in new_of_old.iter().enumerate() {
            coords[new * dim..(new + 1) * dim]
                .copy_from_slice(&self.coords[old * dim..(old + 1) * dim]);
        }
        let map = |nodes: &[usize]| nodes.iter().map(|&v| new_of_old[v]).collect::<Vec<_>>();
        let mut mesh = self.clone_without_nodes();
        mesh.coords = coords;
        mesh.cells = map(&self.cells);
        mesh.boundary = (self.boundary.iter())
            .map(|part| {
                let mut part = part.clone();
                part.facets = map(&part.facets);
                part.nodes = map(&part.nodes);
                part.nodes.sort_unstable();
                part
            })
            .collect();
        mesh
    }

    /// A copy of everything but the coordinates, cells and boundary parts (left empty).
    fn clone_without_nodes(&self) -> Mesh {
        Mesh {
            dim: self.dim,
            coords: Vec::new(),
            cell_kind: self.cell_kind,
            order: self.order,
            curved: self.curved,
            cells: Vec::new(),
            boundary: Vec::new(),
            cell_markers: self.cell_markers.clone(),
            subdomains: self.subdomains.clone(),
            reoriented_cells: self.reoriented_cells,
            derived: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Mesh, RectangleSpec};

    /// Every cell, boundary facet and marker describes the same geometry after renumbering.
    #[test]
    fn renumbering_keeps_the_geometry_and_orders_nodes_by_first_use() {
        let square = Mesh::rectangle(&RectangleSpec {
            nx: 6,
            ny: 5,
            ..Default::default()
        })
        .unwrap();
        // A locally refined mesh: new nodes appended at the end, out of cell order.
        let marked: Vec<usize> = (0..square.num_cells()).step_by(3).collect();
        let refined = square.refine_cells(&marked, None).unwrap().mesh;
        for mesh in [
            square,
            refined.clone(),
            refined.with_order(femscale_core::Order::Quadratic).unwrap(),
        ] {
            let (new, perm) = mesh.renumbered_by_first_use();
            let mut seen = perm.clone();
            seen.sort_unstable();
            assert_eq!(
                seen,
                (0..mesh.num_nodes()).collect::<Vec<_>>(),
                "a bijection"
            );
            let (a, b) = (mesh.view(), new.view());
            for c in 0..mesh.num_cells() {
                for (&old, &renamed) in a.cell(c).iter().zip(b.cell(c)) {
                    assert_eq!(perm[old], renamed);
                    assert_eq!(a.point(old), b.point(renamed));
                }
            }
            // First use: scanning the cells meets the nodes as 0, 1, 2, ...
            let mut next = 0;
            for &v in new.cells() {
                assert!(v <= next);
                next = next.max(v + 1);
            }
            assert_eq!(new.cell_markers(), mesh.cell_markers());
            for (p, q) in mesh.boundary_parts().iter().zip(new.boundary_parts()) {
                assert_eq!((&p.name, p.id), (&q.name, q.id));
                let facets: Vec<usize> = p.facets.iter().map(|&v| perm[v]).collect();
                assert_eq!(facets, q.facets);
                let mut nodes: Vec<usize> = p.nodes.iter().map(|&v| perm[v]).collect();
                nodes.sort_unstable();
                assert_eq!(nodes, q.nodes);
            }
            assert_eq!(new.order(), mesh.order());
        }
    }
}
