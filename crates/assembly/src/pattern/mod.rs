//! Sparsity patterns straight from node adjacency: no triplets, no global sort.

use std::ops::Range;

use femscale_core::{CellKind, Error, MAX_COLUMNS, MeshView, Order, Result, SparsityPattern};
use rayon::prelude::*;

mod cuboid;
mod lattice;

use cuboid::BoxLattice;
use lattice::Lattice;

/// Rows handled by one parallel task when building a pattern.
const ROWS_PER_TASK: usize = 8192;

/// For each node, the cells that contain it (CSR layout, cells in increasing order).
#[derive(Debug, Clone)]
pub struct NodeCells {
    ptr: Vec<usize>,
    cells: Vec<usize>,
}

impl NodeCells {
    /// Builds the adjacency by a counting sort over the connectivity. With several rayon
    /// threads, each thread owns a contiguous range of nodes and scans the whole connectivity
    /// for them, so the result (cells in increasing order) is the same for any thread count.
    ///
    /// # Errors
    /// [`femscale_core::Error::Mesh`] for an invalid mesh (see [`MeshView::validate`]).
    pub fn new(mesh: &MeshView<'_>) -> Result<Self> {
        let n = mesh.num_nodes();
        let npc = mesh.nodes_per_cell();
        mesh.validate()?;
        let parts = rayon::current_num_threads().clamp(1, 64).min(n.max(1));
        let bounds: Vec<usize> = (0..=parts).map(|t| t * n / parts).collect();
        // Pass 1: per-node counts, each thread for its own node range.
        let mut counts = vec![0usize; n + 1];
        let mut count_slices = split_by_bounds(&mut counts[1..], &bounds);
        count_slices
            .par_iter_mut()
            .enumerate()
            .for_each(|(t, counts)| {
                let (lo, hi) = (bounds[t], bounds[t + 1]);
                for &v in mesh.cells {
                    if (lo..hi).contains(&v) {
                        counts[v - lo] += 1;
                    }
                }
            });
        drop(count_slices);
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let ptr = counts;
        // Pass 2: fill, again by node range; each range's cells form one contiguous slice.
        let mut cells = vec![0usize; mesh.cells.len()];
        let cell_bounds: Vec<usize> = bounds.iter().map(|&b| ptr[b]).collect();
        let mut cell_slices = split_by_bounds(&mut cells, &cell_bounds);
        cell_slices.par_iter_mut().enumerate().for_each(|(t, out)| {
            let (lo, hi) = (bounds[t], bounds[t + 1]);
            let base = ptr[lo];
            let mut next: Vec<usize> = ptr[lo..hi].iter().map(|p| p - base).collect();
            for (k, &v) in mesh.cells.iter().enumerate() {
                if (lo..hi).contains(&v) {
                    out[next[v - lo]] = k / npc;
                    next[v - lo] += 1;
                }
            }
        });
        Ok(Self { ptr, cells })
    }

    /// The cells containing node `i`.
    pub fn of(&self, i: usize) -> &[usize] {
        &self.cells[self.ptr[i]..self.ptr[i + 1]]
    }
}

/// Splits `data` into the consecutive pieces `[bounds[t] - bounds[0], bounds[t + 1] - bounds[0])`.
fn split_by_bounds<'a, T>(mut data: &'a mut [T], bounds: &[usize]) -> Vec<&'a mut [T]> {
    let mut pieces = Vec::with_capacity(bounds.len().saturating_sub(1));
    for w in bounds.windows(2) {
        let (head, tail) = std::mem::take(&mut data).split_at_mut(w[1] - w[0]);
        pieces.push(head);
        data = tail;
    }
    pieces
}

/// The unique columns of rows `rows` (each row's node and every node sharing a cell with it),
/// passed to `row` one row at a time (`row(i, columns)`), sorted when `sorted` is set.
///
/// Duplicates (a node shared by many cells of the row's star: 96 entries for 15 columns on a
/// tetrahedral grid) are dropped with a mark per node rather than by sorting them all. Each
/// row clears its own marks, so `marks` (all `false`, reused across calls) is allocated once
/// per task split and never cleared as a whole; it is allocated zeroed, so only the pages of
/// the nodes a task reaches are ever touched (a few for a well-numbered mesh).
fn for_each_row(
    mesh: &MeshView<'_>,
    adjacency: &NodeCells,
    rows: Range<usize>,
    sorted: bool,
    marks: &mut Vec<bool>,
    mut row: impl FnMut(usize, &[usize]),
) {
    if marks.len() < mesh.num_nodes() {
        *marks = vec![false; mesh.num_nodes()];
    }
    let mut buf = Vec::with_capacity(64);
    for i in rows {
        buf.clear();
        buf.push(i);
        marks[i] = true;
        for &c in adjacency.of(i) {
            for &v in mesh.cell(c) {
                let m = &mut marks[v];
                if !*m {
                    *m = true;
                    buf.push(v);
                }
            }
        }
        for &v in &buf {
            marks[v] = false;
        }
        if sorted {
            buf.sort_unstable();
        }
        row(i, &buf);
    }
}

/// The pattern with an entry `(i, j)` for every pair of nodes sharing a cell, plus every
/// diagonal entry. Two passes over the rows (count, then fill in place) avoid any temporary
/// copy of the column indices; rows are independent, so they run in parallel when `parallel`
/// is set, and the result does not depend on the thread count.
///
/// Chains of intervals and the rectangle and box lattices `Mesh::rectangle` and
/// `Mesh::cuboid` generate (recognised from their cells) get their rows without the node
/// adjacency.
///
/// # Errors
/// [`femscale_core::Error::Mesh`] for an invalid mesh (see [`MeshView::validate`]) or one of
/// more nodes than a matrix may have columns ([`MAX_COLUMNS`]).
pub fn build_pattern(mesh: &MeshView<'_>, parallel: bool) -> Result<SparsityPattern> {
    if mesh.num_nodes() > MAX_COLUMNS {
        return Err(Error::Mesh {
            location: None,
            message: format!(
                "{} nodes: a matrix holds at most {MAX_COLUMNS} columns (distribute the mesh)",
                mesh.num_nodes()
            ),
        });
    }
    if is_chain(mesh) {
        mesh.validate()?;
        return Ok(chain_pattern(mesh.num_nodes()));
    }
    if let Some(lattice) = Lattice::of(mesh) {
        mesh.validate()?;
        return Ok(known_pattern(&lattice));
    }
    if let Some(lattice) = BoxLattice::of(mesh) {
        mesh.validate()?;
        return Ok(known_pattern(&lattice));
    }
    build_general_pattern(mesh, parallel)
}

/// [`build_pattern`] from the node adjacency, whatever the mesh.
fn build_general_pattern(mesh: &MeshView<'_>, parallel: bool) -> Result<SparsityPattern> {
    let n = mesh.num_nodes();
    let adjacency = NodeCells::new(mesh)?;
    let mut row_ptr = vec![0usize; n + 1];
    let count = |marks: &mut Vec<bool>, start: usize, lens: &mut [usize]| {
        let rows = start..start + lens.len();
        for_each_row(mesh, &adjacency, rows, false, marks, |i, cols| {
            lens[i - start] = cols.len();
        });
    };
    if parallel {
        row_ptr[1..]
            .par_chunks_mut(ROWS_PER_TASK)
            .enumerate()
            .for_each_init(Vec::new, |marks, (t, lens)| {
                count(marks, t * ROWS_PER_TASK, lens);
            });
    } else {
        count(&mut Vec::new(), 0, &mut row_ptr[1..]);
    }
    for i in 0..n {
        row_ptr[i + 1] += row_ptr[i];
    }
    let mut col_idx = vec![0u32; row_ptr[n]];
    let bounds: Vec<usize> = (0..n).step_by(ROWS_PER_TASK).chain([n]).collect();
    let value_bounds: Vec<usize> = bounds.iter().map(|&b| row_ptr[b]).collect();
    let pieces = split_by_bounds(&mut col_idx, &value_bounds);
    let fill = |marks: &mut Vec<bool>, (t, out): (usize, &mut [u32])| {
        let base = row_ptr[bounds[t]];
        let rows = bounds[t]..bounds[t + 1];
        for_each_row(mesh, &adjacency, rows, true, marks, |i, cols| {
            let row = &mut out[row_ptr[i] - base..row_ptr[i + 1] - base];
            // Below `n <= MAX_COLUMNS` (checked by `build_pattern`).
            row.iter_mut().zip(cols).for_each(|(o, &j)| *o = j as u32);
        });
    };
    if parallel {
        (pieces.into_par_iter().enumerate()).for_each_init(Vec::new, fill);
    } else {
        let mut marks = Vec::new();
        (pieces.into_iter().enumerate()).for_each(|piece| fill(&mut marks, piece));
    }
    // SAFETY: `row_ptr` is a prefix sum of row lengths (non-decreasing, from 0 to nnz), and each
    // row holds `for_each_row`'s sorted, deduplicated node indices, all below `n` (checked by
    // `NodeCells::new` via the mesh validation), which fit in `u32` (`n <= MAX_COLUMNS`).
    Ok(unsafe { SparsityPattern::from_sorted_parts_unchecked(n, n, row_ptr, col_idx) })
}

/// Rows whose columns follow from the row number alone (the lattices' rows).
///
/// # Safety
/// For every `p < self.rows()`, `columns(p, ..)` emits strictly increasing columns below
/// `self.rows() <= MAX_COLUMNS`, the same ones on every call, and `row_len(p)` is their number:
/// [`known_pattern`] builds a pattern from them without checking.
unsafe trait KnownRows: Sync {
    /// Number of rows, and of columns.
    fn rows(&self) -> usize;

    /// Calls `column` with the columns of row `p` in increasing order.
    fn columns(&self, p: usize, column: impl FnMut(usize));

    /// The number of columns of row `p`.
    fn row_len(&self, p: usize) -> usize {
        let mut len = 0;
        self.columns(p, |_| len += 1);
        len
    }
}

/// The pattern of `rows`: the lengths counted, then the columns written, in parallel blocks of
/// rows (no copy of the columns, the same result for any thread count).
fn known_pattern(rows: &impl KnownRows) -> SparsityPattern {
    let n = rows.rows();
    assert!(
        n <= MAX_COLUMNS,
        "{n} rows: more than a matrix may have columns"
    );
    let mut row_ptr = vec![0usize; n + 1];
    (row_ptr[1..].par_chunks_mut(ROWS_PER_TASK).enumerate()).for_each(|(t, lens)| {
        for (r, len) in lens.iter_mut().enumerate() {
            *len = rows.row_len(t * ROWS_PER_TASK + r);
        }
    });
    for p in 0..n {
        row_ptr[p + 1] += row_ptr[p];
    }
    let mut col_idx = vec![0u32; row_ptr[n]];
    let bounds: Vec<usize> = (0..n).step_by(ROWS_PER_TASK).chain([n]).collect();
    let value_bounds: Vec<usize> = bounds.iter().map(|&b| row_ptr[b]).collect();
    let pieces = split_by_bounds(&mut col_idx, &value_bounds);
    (pieces.into_par_iter().enumerate()).for_each(|(t, out)| {
        let base = row_ptr[bounds[t]];
        let mut next = 0;
        for p in bounds[t]..bounds[t + 1] {
            rows.columns(p, |c| {
                out[next] = c as u32; // below n <= MAX_COLUMNS (the trait's contract)
                next += 1;
            });
            // One compare per row keeps a row from spilling into the next unnoticed.
            assert_eq!(
                next,
                row_ptr[p + 1] - base,
                "row {p}: columns and length disagree"
            );
        }
    });
    // SAFETY: `row_ptr` is the prefix sum of the row lengths and each row holds exactly its
    // columns, strictly increasing and below n (the contract of `KnownRows`).
    unsafe { SparsityPattern::from_sorted_parts_unchecked(n, n, row_ptr, col_idx) }
}

/// Whether the mesh is a chain of intervals `[0, 1], [1, 2], ..., [n - 1, n]` over all its
/// nodes (every generated 1D mesh of order 1): its pattern is tridiagonal, known without
/// adjacency.
fn is_chain(mesh: &MeshView<'_>) -> bool {
    mesh.cell_kind == CellKind::Interval
        && mesh.order == Order::Linear
        && mesh.num_cells() + 1 == mesh.num_nodes()
        && (mesh.cells.par_chunks(2 * ROWS_PER_TASK).enumerate()).all(|(t, chunk)| {
            let first = t * ROWS_PER_TASK;
            (chunk.chunks_exact(2).enumerate()).all(|(k, c)| c == [first + k, first + k + 1])
        })
}

/// The tridiagonal pattern of a chain of `n - 1` intervals over `n >= 2` nodes: row `i` holds
/// `i - 1, i, i + 1` where they exist.
fn chain_pattern(n: usize) -> SparsityPattern {
    let row_ptr: Vec<usize> = (0..=n)
        .into_par_iter()
        .map(|i| {
            if i == 0 {
                0
            } else {
                3 * i - 1 - usize::from(i == n)
            }
        })
        .collect();
    let mut col_idx = vec![0u32; row_ptr[n]];
    col_idx
        .par_chunks_mut(3 * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(t, out)| {
            // Entry k lies in row (k + 1) / 3, at column row - 1 + (k + 1) % 3.
            for (j, c) in out.iter_mut().enumerate() {
                let k = t * 3 * ROWS_PER_TASK + j;
                *c = ((k + 1) / 3 + (k + 1) % 3 - 1) as u32; // below n <= MAX_COLUMNS
            }
        });
    // SAFETY: rows 0 and n - 1 hold 2 entries and the others 3, so `row_ptr` rises from 0 to
    // 3n - 2 = nnz; entry k lies in row (k + 1) / 3 and holds the columns row - 1, row,
    // row + 1 (row 0: 0, 1; row n - 1: n - 2, n - 1), sorted, unique and below n.
    unsafe { SparsityPattern::from_sorted_parts_unchecked(n, n, row_ptr, col_idx) }
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

    /// The pattern by sorting every row's candidate columns: the reference for the marks.
    fn sorted_pattern(mesh: &Mesh) -> SparsityPattern {
        let view = mesh.view();
        let adjacency = NodeCells::new(&view).unwrap();
        let mut entries = Vec::new();
        for i in 0..mesh.num_nodes() {
            entries.push((i, i));
            for &c in adjacency.of(i) {
                entries.extend(view.cell(c).iter().map(|&j| (i, j)));
            }
        }
        let n = mesh.num_nodes();
        SparsityPattern::try_from_entries(n, n, &entries).unwrap()
    }

    #[test]
    fn marks_give_the_pattern_of_sorting() {
        use femscale_core::Order;
        use femscale_mesh::{BoxCells, BoxSpec};
        // Several tasks of an order-2 mesh, whose rows reach nodes across the mesh; and the
        // same mesh numbered at random, where every task reaches nodes everywhere.
        let p2 = Mesh::rectangle(&RectangleSpec {
            nx: 64,
            ny: 64,
            ..Default::default()
        })
        .unwrap()
        .with_order(Order::Quadratic)
        .unwrap();
        assert!(p2.num_nodes() > 2 * ROWS_PER_TASK);
        let scattered = p2.renumbered(&crate::tests_higher::shuffled(p2.num_nodes()));
        let meshes = [
            Mesh::cuboid(&BoxSpec {
                nx: 3,
                ny: 4,
                nz: 2,
                ..BoxSpec::default()
            })
            .unwrap(),
            Mesh::cuboid(&BoxSpec {
                nx: 2,
                ny: 2,
                nz: 3,
                cells: BoxCells::Hexahedron,
                ..BoxSpec::default()
            })
            .unwrap()
            .with_order(Order::Quadratic)
            .unwrap(),
            p2,
            scattered,
        ];
        for m in &meshes {
            let reference = sorted_pattern(m);
            for parallel in [false, true] {
                let marked = build_general_pattern(&m.view(), parallel).unwrap();
                assert_eq!(marked, reference, "parallel {parallel}");
            }
        }
    }

    #[test]
    fn chains_of_intervals_get_the_tridiagonal_pattern_of_the_general_path() {
        for n in [
            1,
            2,
            3,
            7,
            ROWS_PER_TASK,
            ROWS_PER_TASK + 1,
            3 * ROWS_PER_TASK + 5,
        ] {
            let mesh = Mesh::interval(0.0, 1.0, n).unwrap();
            assert!(is_chain(&mesh.view()));
            let general = build_general_pattern(&mesh.view(), true).unwrap();
            assert_eq!(
                build_pattern(&mesh.view(), true).unwrap(),
                general,
                "{n} cells"
            );
        }
        // Not chains: cells out of order, a node left out.
        let coords = vec![0.0, 1.0, 2.0];
        let swapped = Mesh::try_new(
            1,
            coords.clone(),
            CellKind::Interval,
            vec![1, 2, 0, 1],
            vec![],
        );
        assert!(!is_chain(&swapped.unwrap().view()));
        let gap = Mesh::try_new(
            1,
            vec![0.0, 1.0, 2.0, 3.0],
            CellKind::Interval,
            vec![0, 1, 2, 3],
            vec![],
        );
        assert!(!is_chain(&gap.unwrap().view()));
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
            build_general_pattern(&m.view(), false).unwrap(),
            build_general_pattern(&m.view(), true).unwrap()
        );
    }
}
