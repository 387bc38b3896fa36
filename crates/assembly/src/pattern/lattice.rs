//! Patterns of rectangle lattices, known without adjacency.
//!
//! A mesh whose cells are exactly those `Mesh::rectangle` generates (nodes numbered row by
//! row, `(i, j)` at `j (nx + 1) + i`; two triangles per square split by one of the three
//! diagonal rules, or one quadrilateral) couples each node with the lattice neighbours its
//! stencil allows, so its rows are written straight from `(i, j)`: no node-to-cell adjacency
//! (two scans of the whole connectivity per thread) and no duplicate marks. The lattice is
//! recognised from the cells themselves, compared in one parallel pass, so a mesh that was
//! renumbered or edited takes the general path.

use femscale_core::{CellKind, MeshView, Order};
use rayon::prelude::*;

use super::KnownRows;

/// Which lattice neighbours share a cell with a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stencil {
    /// Triangles split by `/`: the diagonals to `(i ± 1, j ± 1)`.
    Right,
    /// Triangles split by `\`: the diagonals to `(i ± 1, j ∓ 1)`.
    Left,
    /// `/` where `i + j` is even, `\` where it is odd: nodes with `i + j` even get all four
    /// diagonals, the others none.
    Alternating,
    /// Quadrilaterals: all eight neighbours.
    Quad,
}

/// A lattice of `nx × ny` squares and its stencil.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lattice {
    nx: usize,
    ny: usize,
    stencil: Stencil,
}

impl Lattice {
    /// The lattice `mesh`'s cells are, node for node and in the generator's order, if any.
    pub(super) fn of(mesh: &MeshView<'_>) -> Option<Self> {
        if mesh.order != Order::Linear || mesh.dim != 2 {
            return None;
        }
        let cells = mesh.cells;
        let candidates: &[(Stencil, usize)] = match mesh.cell_kind {
            CellKind::Quadrilateral => &[(Stencil::Quad, 4)],
            // `/` and the checkerboard begin alike, their second triangle at node 0; that of `\`
            // begins at node 1.
            CellKind::Triangle if cells.get(3) == Some(&0) => {
                &[(Stencil::Right, 6), (Stencil::Alternating, 6)]
            }
            CellKind::Triangle => &[(Stencil::Left, 6)],
            _ => return None,
        };
        candidates.iter().find_map(|&(stencil, per_square)| {
            // The first square's node (1, 1) is nx + 2.
            let far = *cells.get(if stencil == Stencil::Left { 4 } else { 2 })?;
            let nx = far.checked_sub(2).filter(|&nx| nx > 0)?;
            let squares = cells.len() / per_square;
            let ny = squares / nx;
            let lattice = Self { nx, ny, stencil };
            let fits = ny > 0
                && ny * nx * per_square == cells.len()
                && (nx + 1).checked_mul(ny + 1) == Some(mesh.num_nodes());
            (fits && lattice.matches(cells)).then_some(lattice)
        })
    }

    /// Whether every cell is the generator's, one row of squares per task.
    fn matches(&self, cells: &[usize]) -> bool {
        let per_row = cells.len() / self.ny;
        (cells.par_chunks(per_row).enumerate()).all(|(j, row)| {
            (0..self.nx).all(|i| {
                let (expected, len) = self.square(i, j);
                row[len * i..len * (i + 1)] == expected[..len]
            })
        })
    }

    /// The cells of square `(i, j)` as the generator writes them, and their length.
    fn square(&self, i: usize, j: usize) -> ([usize; 6], usize) {
        let node = |i: usize, j: usize| j * (self.nx + 1) + i;
        let (n00, n10, n11, n01) = (
            node(i, j),
            node(i + 1, j),
            node(i + 1, j + 1),
            node(i, j + 1),
        );
        let right = match self.stencil {
            Stencil::Quad => return ([n00, n10, n11, n01, 0, 0], 4),
            Stencil::Right => true,
            Stencil::Left => false,
            Stencil::Alternating => (i + j).is_multiple_of(2),
        };
        if right {
            ([n00, n10, n11, n00, n11, n01], 6)
        } else {
            ([n00, n10, n01, n10, n11, n01], 6)
        }
    }

    /// Calls `column` with the columns of row `(i, j)` in increasing order: the node and the
    /// lattice neighbours sharing a cell with it (rows `j - 1`, `j`, `j + 1`, west to east).
    fn for_each_column(&self, i: usize, j: usize, mut column: impl FnMut(usize)) {
        let width = self.nx + 1;
        // The diagonal neighbours (i - 1, j - 1), (i + 1, j - 1), (i - 1, j + 1), (i + 1, j + 1).
        let [sw, se, nw, ne] = match self.stencil {
            Stencil::Quad => [true; 4],
            Stencil::Right => [true, false, false, true],
            Stencil::Left => [false, true, true, false],
            Stencil::Alternating => [(i + j).is_multiple_of(2); 4],
        };
        let (west, east) = (i > 0, i < self.nx);
        let mut row = |centre: usize, to_west: bool, to_east: bool| {
            if west && to_west {
                column(centre - 1);
            }
            column(centre);
            if east && to_east {
                column(centre + 1);
            }
        };
        let centre = j * width + i;
        if j > 0 {
            row(centre - width, sw, se);
        }
        row(centre, true, true);
        if j < self.ny {
            row(centre + width, nw, ne);
        }
    }
}

// SAFETY: a row's columns are its lattice neighbours, rows j - 1, j, j + 1 and west to east in
// each (strictly increasing, since a row of the lattice is nx + 1 >= 2 nodes wide), inside the
// lattice of n = (nx + 1)(ny + 1) nodes, which `build_pattern` checked against MAX_COLUMNS.
unsafe impl KnownRows for Lattice {
    fn rows(&self) -> usize {
        (self.nx + 1) * (self.ny + 1)
    }

    fn columns(&self, p: usize, column: impl FnMut(usize)) {
        let width = self.nx + 1;
        self.for_each_column(p % width, p / width, column);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{ROWS_PER_TASK, build_general_pattern, build_pattern};
    use femscale_mesh::{Diagonal, Mesh, RectangleCells, RectangleSpec};

    fn rectangle(nx: usize, ny: usize, stencil: Stencil) -> Mesh {
        let (cells, diagonal) = match stencil {
            Stencil::Quad => (RectangleCells::Quadrilateral, Diagonal::Right),
            Stencil::Right => (RectangleCells::Triangle, Diagonal::Right),
            Stencil::Left => (RectangleCells::Triangle, Diagonal::Left),
            Stencil::Alternating => (RectangleCells::Triangle, Diagonal::Alternating),
        };
        let spec = RectangleSpec {
            nx,
            ny,
            cells,
            diagonal,
            ..Default::default()
        };
        Mesh::rectangle(&spec).unwrap()
    }

    const STENCILS: [Stencil; 4] = [
        Stencil::Right,
        Stencil::Left,
        Stencil::Alternating,
        Stencil::Quad,
    ];

    #[test]
    fn generated_rectangles_are_lattices_with_the_pattern_of_the_general_path() {
        let sizes = [(1, 1), (1, 4), (4, 1), (2, 2), (3, 5), (130, 70)];
        const { assert!(131 * 71 > ROWS_PER_TASK, "several tasks") };
        for stencil in STENCILS {
            for (nx, ny) in sizes {
                let mesh = rectangle(nx, ny, stencil);
                let found = Lattice::of(&mesh.view());
                // One square of the checkerboard is a `/` square.
                let alike = (nx, ny) == (1, 1) && stencil == Stencil::Alternating;
                let stencil_found = if alike { Stencil::Right } else { stencil };
                let expected = Lattice {
                    nx,
                    ny,
                    stencil: stencil_found,
                };
                assert_eq!(found, Some(expected), "{stencil:?} {nx} x {ny}");
                let general = build_general_pattern(&mesh.view(), true).unwrap();
                let fast = build_pattern(&mesh.view(), true).unwrap();
                assert_eq!(fast, general, "{stencil:?} {nx} x {ny}");
            }
        }
    }

    #[test]
    fn renumbered_reordered_or_higher_order_meshes_are_not_lattices() {
        for stencil in STENCILS {
            let mesh = rectangle(6, 4, stencil);
            let shuffled = mesh.renumbered(&crate::tests_higher::shuffled(mesh.num_nodes()));
            assert_eq!(Lattice::of(&shuffled.view()), None, "{stencil:?}");
            // The last cell's nodes rotated: the same cell, not the generator's order.
            let mut cells = mesh.cells().to_vec();
            let per = mesh.view().nodes_per_cell();
            let n = cells.len();
            cells[n - per..].rotate_left(1);
            let coords = mesh.coords().to_vec();
            let rotated = Mesh::try_new(2, coords, mesh.cell_kind(), cells, vec![]).unwrap();
            assert_eq!(Lattice::of(&rotated.view()), None, "{stencil:?}");
            let p2 = mesh.with_order(femscale_core::Order::Quadratic).unwrap();
            assert_eq!(Lattice::of(&p2.view()), None, "{stencil:?}");
        }
    }
}
