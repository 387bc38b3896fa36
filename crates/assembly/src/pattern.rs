//! Sparsity patterns straight from node adjacency: no triplets, no global sort.

use femscale_core::{Error, MeshView, Result, SparsityPattern};
use rayon::prelude::*;

/// Rows handled by one parallel task when building a pattern.
const ROWS_PER_TASK: usize = 8192;

/// For each node, the cells that contain it (CSR layout, cells in increasing order).
#[derive(Debug, Clone)]
pub struct NodeCells {
    ptr: Vec<usize>,
    cells: Vec<usize>,
}

impl NodeCells {
    /// Builds the adjacency by a counting sort over the connectivity.
    ///
    /// # Errors
    /// [`Error::Mesh`] if a cell refers to a node that does not exist.
    pub fn new(mesh: &MeshView<'_>) -> Result<Self> {
        let n = mesh.num_nodes();
        let npc = mesh.cell_kind.nodes_per_cell();
        if let Some(&bad) = mesh.cells.iter().find(|&&v| v >= n) {
            return Err(Error::Mesh {
                location: None,
                message: format!("a cell refers to node {bad}, but the mesh has {n} nodes"),
            });
        }
        let mut ptr = vec![0usize; n + 1];
        for &v in mesh.cells {
            ptr[v + 1] += 1;
        }
        for i in 0..n {
            ptr[i + 1] += ptr[i];
        }
        let mut next = ptr[..n].to_vec();
        let mut cells = vec![0usize; mesh.cells.len()];
        for (k, &v) in mesh.cells.iter().enumerate() {
            cells[next[v]] = k / npc;
            next[v] += 1;
        }
        Ok(Self { ptr, cells })
    }

    /// The cells containing node `i`.
    pub fn of(&self, i: usize) -> &[usize] {
        &self.cells[self.ptr[i]..self.ptr[i + 1]]
    }
}

/// The pattern with an entry `(i, j)` for every pair of nodes sharing a cell, plus every
/// diagonal entry. Rows are built independently, in parallel when `parallel` is set; the
/// result does not depend on the thread count.
///
/// # Errors
/// [`Error::Mesh`] if a cell refers to a node that does not exist.
pub fn build_pattern(mesh: &MeshView<'_>, parallel: bool) -> Result<SparsityPattern> {
    let n = mesh.num_nodes();
    let adjacency = NodeCells::new(mesh)?;
    let build_rows = |start: usize| -> (Vec<usize>, Vec<usize>) {
        let end = (start + ROWS_PER_TASK).min(n);
        let mut lens = Vec::with_capacity(end - start);
        let mut cols = Vec::with_capacity((end - start) * 9);
        let mut buf = Vec::with_capacity(64);
        for i in start..end {
            buf.clear();
            buf.push(i);
            for &c in adjacency.of(i) {
                buf.extend_from_slice(mesh.cell(c));
            }
            buf.sort_unstable();
            buf.dedup();
            lens.push(buf.len());
            cols.extend_from_slice(&buf);
        }
        (lens, cols)
    };
    let starts: Vec<usize> = (0..n).step_by(ROWS_PER_TASK).collect();
    let chunks: Vec<(Vec<usize>, Vec<usize>)> = if parallel {
        starts.par_iter().map(|&s| build_rows(s)).collect()
    } else {
        starts.iter().map(|&s| build_rows(s)).collect()
    };
    let nnz: usize = chunks.iter().map(|(_, c)| c.len()).sum();
    let mut row_ptr = Vec::with_capacity(n + 1);
    row_ptr.push(0);
    let mut total = 0;
    for (lens, _) in &chunks {
        for &l in lens {
            total += l;
            row_ptr.push(total);
        }
    }
    let mut col_idx = vec![0usize; nnz];
    let mut pieces: Vec<&mut [usize]> = Vec::with_capacity(chunks.len());
    let mut rest = col_idx.as_mut_slice();
    for (_, cols) in &chunks {
        let (head, tail) = rest.split_at_mut(cols.len());
        pieces.push(head);
        rest = tail;
    }
    pieces
        .into_par_iter()
        .zip(&chunks)
        .for_each(|(dst, (_, cols))| dst.copy_from_slice(cols));
    Ok(SparsityPattern::from_sorted_parts(n, n, row_ptr, col_idx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use femscale_mesh::{Mesh, RectangleCells, RectangleSpec};

    #[test]
    fn pattern_matches_the_five_and_nine_point_stencils() {
        let tri = Mesh::rectangle(&RectangleSpec {
            nx: 3,
            ny: 3,
            ..Default::default()
        })
        .unwrap();
        let p = build_pattern(&tri.view(), false).unwrap();
        // Interior node (1,1) = 5 of a right-diagonal mesh couples to 6 neighbours + itself.
        assert_eq!(p.row(5), &[0, 1, 4, 5, 6, 9, 10]);
        assert!(p.is_structurally_symmetric());
        let quad = Mesh::rectangle(&RectangleSpec {
            nx: 3,
            ny: 3,
            cells: RectangleCells::Quadrilateral,
            ..Default::default()
        })
        .unwrap();
        let q = build_pattern(&quad.view(), true).unwrap();
        assert_eq!(q.row(5), &[0, 1, 2, 4, 5, 6, 8, 9, 10]);
        // 4 corners x 4 + 8 edge nodes x 6 + 4 interior nodes x 9.
        assert_eq!(q.nnz(), 100);
    }

    #[test]
    fn serial_and_parallel_patterns_are_identical() {
        let m = Mesh::rectangle(&RectangleSpec {
            nx: 150,
            ny: 70,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            build_pattern(&m.view(), false).unwrap(),
            build_pattern(&m.view(), true).unwrap()
        );
    }
}
