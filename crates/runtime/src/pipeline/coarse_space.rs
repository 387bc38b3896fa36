//! The first coarse space AMG gets on an order-2 mesh: P1/Q1 on the same mesh. Its
//! prolongator maps vertex values to every node: a node takes the mean of the vertex values in
//! its [`CellKind::node_support`] (exact for the P1/Q1 functions on straight-sided cells).

use std::sync::Arc;

use femscale_core::{CellKind, CoarseSpace, CsrMatrix, Order, SolverOptions};
use femscale_mesh::Mesh;

/// Whether the preconditioner (or the solver) called `name` uses a [`CoarseSpace`].
pub(crate) fn takes_coarse_space(solver: &str, preconditioner: &str) -> bool {
    solver == "amg" || preconditioner == "amg"
}

/// `options` with the vertex coarse space of `mesh` for `matrix` when `wanted` and there is
/// one (see [`vertex_coarse_space`]), otherwise `options` as they are.
pub(crate) fn with_vertex_coarse_space(
    options: &SolverOptions,
    wanted: bool,
    mesh: &Mesh,
    matrix: &CsrMatrix,
) -> SolverOptions {
    let space = wanted.then(|| vertex_coarse_space(mesh, matrix)).flatten();
    match space {
        Some(space) => options.clone().with_coarse_space(space),
        None => options.clone(),
    }
}

/// The P1/Q1 coarse space of the order-2 `mesh` for `matrix` (one unknown per node), or `None`
/// for an order-1 mesh or a matrix of another size. The vertices are the nodes some cell has in
/// a vertex position (a lifted mesh numbers them first, a Gmsh mesh need not). Rows that are
/// decoupled (no non-zero off-diagonal entry: eliminated Dirichlet nodes) get no coarse
/// part, and their vertices no column: the coarse functions vanish there as the fine ones do,
/// and the smoother handles those identity rows exactly enough.
pub(crate) fn vertex_coarse_space(mesh: &Mesh, matrix: &CsrMatrix) -> Option<CoarseSpace> {
    let (kind, n) = (mesh.cell_kind(), matrix.nrows());
    if mesh.order() != Order::Quadratic || n != mesh.num_nodes() || matrix.ncols() != n {
        return None;
    }
    let per_cell = kind.nodes_per_cell_of(Order::Quadratic);
    let cells = mesh.cells();
    if cells.len() != per_cell * mesh.num_cells() || cells.iter().any(|&v| v >= n) {
        return None;
    }
    let fixed = decoupled_rows(matrix);
    let (column, nc) = vertex_columns(kind, cells, &fixed);
    if nc == 0 || nc >= n {
        return None;
    }
    // The first (cell, local node) of each node defines its row.
    let mut owner = vec![usize::MAX; n];
    for (slot, &node) in cells.iter().enumerate() {
        if owner[node] == usize::MAX {
            owner[node] = slot;
        }
    }
    let support = kind.node_support(Order::Quadratic);
    let (mut row_ptr, mut col_idx, mut values) = (vec![0], Vec::new(), Vec::new());
    let mut row: Vec<usize> = Vec::new();
    for node in 0..n {
        row.clear();
        if !fixed[node] && owner[node] != usize::MAX {
            let (cell, k) = (owner[node] / per_cell, owner[node] % per_cell);
            let vertices = &cells[cell * per_cell..][..per_cell];
            let weight = 1.0 / support[k].len() as f64;
            row.extend(support[k].iter().map(|&v| column[vertices[v]]));
            row.retain(|&c| c != usize::MAX);
            row.sort_unstable();
            values.extend(std::iter::repeat_n(weight, row.len()));
            // Coarse columns number some of the fine matrix's nodes: below its MAX_COLUMNS.
            col_idx.extend(row.iter().map(|&c| c as u32));
        }
        row_ptr.push(col_idx.len());
    }
    let p = CsrMatrix::try_from_csr_parts(n, nc, row_ptr, col_idx, values).ok()?;
    Some(CoarseSpace::new(Arc::new(p)))
}

/// Rows without a non-zero off-diagonal entry.
fn decoupled_rows(a: &CsrMatrix) -> Vec<bool> {
    let (p, v) = (a.pattern(), a.values());
    let (rp, ci) = (p.row_ptr(), p.col_idx());
    (0..a.nrows())
        .map(|i| (rp[i]..rp[i + 1]).all(|k| ci[k] as usize == i || v[k] == 0.0))
        .collect()
}

/// The coarse column of each node in a vertex position of some cell and not `fixed`
/// (`usize::MAX` for the others), numbered in order of appearance, and their count.
fn vertex_columns(kind: CellKind, cells: &[usize], fixed: &[bool]) -> (Vec<usize>, usize) {
    let (per_cell, nv) = (
        kind.nodes_per_cell_of(Order::Quadratic),
        kind.num_vertices(),
    );
    let mut column = vec![usize::MAX; fixed.len()];
    let mut nc = 0;
    for cell in cells.chunks_exact(per_cell) {
        for &v in &cell[..nv] {
            if !fixed[v] && column[v] == usize::MAX {
                column[v] = nc;
                nc += 1;
            }
        }
    }
    (column, nc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use femscale_mesh::{RectangleCells, RectangleSpec};

    /// A matrix coupling the nodes of each cell (`-1` off the diagonal, a dominant diagonal),
    /// with the rows in `decoupled` reduced to their diagonal.
    fn coupling(mesh: &Mesh, decoupled: &[usize]) -> CsrMatrix {
        let per_cell = mesh.cells().len() / mesh.num_cells();
        let mut t = Vec::new();
        for cell in mesh.cells().chunks_exact(per_cell) {
            for &i in cell {
                for &j in cell {
                    if !decoupled.contains(&i) || i == j {
                        t.push((i, j, if i == j { 30.0 } else { -1.0 }));
                    }
                }
            }
        }
        CsrMatrix::try_from_triplets(mesh.num_nodes(), mesh.num_nodes(), &t).unwrap()
    }

    fn order2(cells: RectangleCells) -> Mesh {
        let spec = RectangleSpec {
            nx: 3,
            ny: 2,
            cells,
            ..RectangleSpec::default()
        };
        let mesh = Mesh::rectangle(&spec).unwrap();
        mesh.with_order(Order::Quadratic).unwrap()
    }

    #[test]
    fn the_prolongator_interpolates_bilinear_functions_exactly() {
        for cells in [RectangleCells::Triangle, RectangleCells::Quadrilateral] {
            let mesh = order2(cells);
            let a = coupling(&mesh, &[]);
            let space = vertex_coarse_space(&mesh, &a).unwrap();
            let p = space.prolongator();
            let f = |x: [f64; 3]| 1.0 + x[0] - 2.0 * x[1] + 0.5 * x[0] * x[1];
            let points = mesh.points();
            let (column, nc) =
                vertex_columns(mesh.cell_kind(), mesh.cells(), &vec![false; a.nrows()]);
            assert_eq!(nc, 4 * 3, "{cells:?}");
            assert_eq!(p.ncols(), nc);
            let mut coarse = vec![0.0; nc];
            for (node, &c) in column.iter().enumerate() {
                if c != usize::MAX {
                    coarse[c] = f(points[node]);
                }
            }
            let mut fine = vec![0.0; a.nrows()];
            p.mul_vec_into(&coarse, &mut fine);
            let bilinear = cells == RectangleCells::Quadrilateral;
            for (node, x) in points.iter().enumerate() {
                // P1 interpolation is exact for linear functions only: drop the x y term.
                let expected = if bilinear {
                    f(*x)
                } else {
                    f(*x) - 0.5 * x[0] * x[1]
                };
                let got = if bilinear {
                    fine[node]
                } else {
                    fine[node] - interpolated_xy(&mesh, node)
                };
                assert!(
                    (got - expected).abs() < 1e-12,
                    "{cells:?} node {node}: {got} vs {expected}"
                );
            }
        }
    }

    /// The P1 interpolant of `0.5 x y` at `node` (its mean over the node's support).
    fn interpolated_xy(mesh: &Mesh, node: usize) -> f64 {
        let kind = mesh.cell_kind();
        let per_cell = kind.nodes_per_cell_of(Order::Quadratic);
        let points = mesh.points();
        let slot = mesh.cells().iter().position(|&v| v == node).unwrap();
        let cell = &mesh.cells()[slot / per_cell * per_cell..][..per_cell];
        let support = kind.node_support(Order::Quadratic)[slot % per_cell];
        let sum: f64 = support
            .iter()
            .map(|&v| 0.5 * points[cell[v]][0] * points[cell[v]][1])
            .sum();
        sum / support.len() as f64
    }

    #[test]
    fn decoupled_rows_and_their_vertices_leave_the_coarse_space() {
        let mesh = order2(RectangleCells::Triangle);
        let all = vertex_coarse_space(&mesh, &coupling(&mesh, &[])).unwrap();
        let vertex = mesh.cells()[0];
        let a = coupling(&mesh, &[vertex]);
        let space = vertex_coarse_space(&mesh, &a).unwrap();
        let p = space.prolongator();
        assert_eq!(p.ncols() + 1, all.prolongator().ncols());
        let rp = p.pattern().row_ptr();
        assert_eq!(rp[vertex + 1] - rp[vertex], 0);
        // Linear meshes and matrices of another size get none.
        let p1 = Mesh::rectangle(&RectangleSpec::default()).unwrap();
        assert!(vertex_coarse_space(&p1, &coupling(&p1, &[])).is_none());
        let small = CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 1.0), (1, 1, 1.0)]).unwrap();
        assert!(vertex_coarse_space(&mesh, &small).is_none());
    }
}
