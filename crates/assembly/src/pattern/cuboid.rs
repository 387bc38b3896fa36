//! Patterns of box lattices, known without adjacency.
//!
//! A mesh whose cells are exactly those `Mesh::cuboid` generates (nodes numbered x fastest,
//! `(i, j, k)` at `(k (ny + 1) + j) (nx + 1) + i`; every cube divided alike, into six
//! tetrahedra or one hexahedron) couples each node with the neighbours that share a cell with
//! it in one of the (up to eight) cubes around it. Which of the 27 offsets `{-1, 0, 1}³` those
//! are depends only on the node's corner position in each cube, so one 27-bit mask per corner
//! is worked out from the cube's cells once, and a row is the union of the masks of the cubes
//! that exist around its node. The lattice is recognised from the cells themselves, compared
//! in one parallel pass, so a renumbered or edited mesh takes the general path.

use femscale_core::{CellKind, MeshView, Order};
use femscale_mesh::BoxCells;
use rayon::prelude::*;

use super::KnownRows;

/// A lattice of `nx × ny × nz` cubes and its per-corner neighbour masks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BoxLattice {
    n: [usize; 3],
    /// For each corner `b` of a cube, bit `(dz + 1) 9 + (dy + 1) 3 + (dx + 1)` is set when
    /// the corner at offset `(dx, dy, dz)` from it shares one of the cube's cells.
    masks: [u32; 8],
    /// The node step `dx + dy sx + dz sy` of each bit.
    steps: [isize; 27],
}

/// The offset of corner `b` (bits `x + 2 y + 4 z`) from corner 0, per axis.
fn corner(b: usize) -> [usize; 3] {
    [b & 1, (b >> 1) & 1, (b >> 2) & 1]
}

impl BoxLattice {
    /// The box lattice `mesh`'s cells are, node for node and in the generator's order, if any.
    pub(super) fn of(mesh: &MeshView<'_>) -> Option<Self> {
        let cells_of = match mesh.cell_kind {
            CellKind::Tetrahedron => BoxCells::Tetrahedron,
            CellKind::Hexahedron => BoxCells::Hexahedron,
            _ => return None,
        };
        if mesh.order != Order::Linear || mesh.dim != 3 {
            return None;
        }
        let (kind, cube) = cells_of.cube();
        let npc = kind.nodes_per_cell();
        let cells = mesh.cells;
        // The first cube's nodes are corner offsets `x + y sx + z sy`: read sx and sy off a
        // corner with y and no z, and one with z.
        let first = cells.get(..cube.len() * npc)?;
        let pairs = || (cube.iter().flat_map(|c| c.iter())).zip(first.iter().copied());
        let (b, v) = pairs().find(|&(&b, _)| corner(b)[1] == 1 && corner(b)[2] == 0)?;
        let sx = v.checked_sub(corner(*b)[0])?;
        let (b, v) = pairs().find(|&(&b, _)| corner(b)[2] == 1)?;
        let sy = v.checked_sub(corner(*b)[0] + corner(*b)[1] * sx)?;
        // A lattice has 2 <= sx, 2 sx <= sy and sy < its node count (the cells are not yet
        // checked: they may state anything).
        if sx < 2 || sy / 2 < sx || sy >= mesh.num_nodes() {
            return None;
        }
        let nx = sx - 1;
        let ny = sy.is_multiple_of(sx).then(|| sy / sx - 1)?;
        let per_row = nx.checked_mul(cube.len() * npc)?;
        let rows = cells.len() / per_row;
        let nz = rows
            .is_multiple_of(ny)
            .then(|| rows / ny)
            .filter(|&nz| nz > 0)?;
        let fits =
            rows * per_row == cells.len() && (sy.checked_mul(nz + 1)) == Some(mesh.num_nodes());
        if !fits {
            return None;
        }
        let offset = |b: usize| {
            let [x, y, z] = corner(b);
            x + y * sx + z * sy
        };
        let matches = (cells.par_chunks(per_row).enumerate()).all(|(row, out)| {
            let (j, k) = (row % ny, row / ny);
            let mut out = out.chunks_exact(npc);
            (0..nx).all(|i| {
                let base = k * sy + j * sx + i;
                cube.iter().all(|cell| {
                    out.next().is_some_and(|o| {
                        o.iter()
                            .zip(cell.iter())
                            .all(|(&v, &b)| v == base + offset(b))
                    })
                })
            })
        });
        let steps = std::array::from_fn(|bit| {
            let d = |q: usize| (bit / q % 3) as isize - 1;
            d(1) + d(3) * sx as isize + d(9) * sy as isize
        });
        matches.then(|| Self {
            n: [nx, ny, nz],
            masks: masks(cube),
            steps,
        })
    }

    /// The neighbour mask of node `p`.
    fn mask_of(&self, p: usize) -> u32 {
        let (sx, sy) = (self.n[0] + 1, (self.n[0] + 1) * (self.n[1] + 1));
        self.mask([p % sx, (p / sx) % (self.n[1] + 1), p / sy])
    }

    /// The neighbour mask of node `(i, j, k)`: the union of its corners' masks over the cubes
    /// around it.
    fn mask(&self, ijk: [usize; 3]) -> u32 {
        // Per axis, the corner bits the node may have in an existing cube: 0 in the cube that
        // starts at it, 1 in the one that ends at it.
        let bits = |a: usize| match (ijk[a] > 0, ijk[a] < self.n[a]) {
            (true, true) => [0, 1].as_slice(),
            (false, _) => [0].as_slice(),
            (true, false) => [1].as_slice(),
        };
        let mut mask = 0;
        for &z in bits(2) {
            for &y in bits(1) {
                for &x in bits(0) {
                    mask |= self.masks[x + 2 * y + 4 * z];
                }
            }
        }
        mask
    }
}

// SAFETY: a row's columns are the corners of existing cubes around its node (inside the
// lattice of n = (nx + 1)(ny + 1)(nz + 1) nodes, checked against MAX_COLUMNS by
// `build_pattern`), emitted in increasing bit order, which is increasing column order: the step
// of bit (dz + 1) 9 + (dy + 1) 3 + (dx + 1) is dx + dy sx + dz sy with |dx| < sx and
// |dx + dy sx| < sy.
unsafe impl KnownRows for BoxLattice {
    fn rows(&self) -> usize {
        let [nx, ny, nz] = self.n;
        (nx + 1) * (ny + 1) * (nz + 1)
    }

    fn columns(&self, p: usize, mut column: impl FnMut(usize)) {
        let mut mask = self.mask_of(p);
        while mask != 0 {
            let bit = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            column(p.wrapping_add_signed(self.steps[bit]));
        }
    }

    fn row_len(&self, p: usize) -> usize {
        self.mask_of(p).count_ones() as usize
    }
}

/// For each corner of a cube, the offsets of the corners sharing one of `cube`'s cells with it.
fn masks(cube: &[&[usize]]) -> [u32; 8] {
    let mut masks = [0u32; 8];
    for cell in cube {
        for &b in cell.iter() {
            for &c in cell.iter() {
                let (cb, cc) = (corner(b), corner(c));
                let bit: usize = (0..3).map(|a| (cc[a] + 1 - cb[a]) * [1, 3, 9][a]).sum();
                masks[b] |= 1 << bit;
            }
        }
    }
    masks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{build_general_pattern, build_pattern};
    use femscale_mesh::{BoxSpec, Mesh};

    fn cuboid(n: [usize; 3], cells: BoxCells) -> Mesh {
        let spec = BoxSpec {
            nx: n[0],
            ny: n[1],
            nz: n[2],
            cells,
            ..BoxSpec::default()
        };
        Mesh::cuboid(&spec).unwrap()
    }

    #[test]
    fn generated_boxes_are_lattices_with_the_pattern_of_the_general_path() {
        let sizes = [
            [1, 1, 1],
            [1, 2, 3],
            [3, 1, 2],
            [2, 3, 1],
            [4, 4, 4],
            [23, 19, 21],
        ];
        for cells in [BoxCells::Tetrahedron, BoxCells::Hexahedron] {
            for n in sizes {
                let mesh = cuboid(n, cells);
                let found = BoxLattice::of(&mesh.view()).map(|l| l.n);
                assert_eq!(found, Some(n), "{cells:?}");
                let general = build_general_pattern(&mesh.view(), true).unwrap();
                assert_eq!(
                    build_pattern(&mesh.view(), true).unwrap(),
                    general,
                    "{cells:?} {n:?}"
                );
            }
        }
        // An interior node couples with 14 neighbours through the six-tetrahedra split (the
        // 15-point stencil) and with all 26 through hexahedra.
        for (cells, entries) in [(BoxCells::Tetrahedron, 15), (BoxCells::Hexahedron, 27)] {
            let lattice = BoxLattice::of(&cuboid([2, 2, 2], cells).view()).unwrap();
            assert_eq!(lattice.mask([1, 1, 1]).count_ones(), entries, "{cells:?}");
        }
    }

    #[test]
    fn renumbered_reordered_or_higher_order_boxes_are_not_lattices() {
        for cells in [BoxCells::Tetrahedron, BoxCells::Hexahedron] {
            let mesh = cuboid([3, 2, 2], cells);
            let shuffled = mesh.renumbered(&crate::tests_higher::shuffled(mesh.num_nodes()));
            assert_eq!(BoxLattice::of(&shuffled.view()), None, "{cells:?}");
            // One cell's nodes in another order (the same cell, not the generator's order),
            // the last one and one in an interior row of cubes.
            let per = mesh.view().nodes_per_cell();
            for c in [mesh.num_cells() - 1, mesh.num_cells() / 2] {
                let mut nodes = mesh.cells().to_vec();
                let cell = &mut nodes[c * per..(c + 1) * per];
                match cells {
                    // An odd permutation: the builder orients the cell again, which does not
                    // give the generator's order back.
                    BoxCells::Tetrahedron => cell.rotate_left(1),
                    // Both faces turned alike: the same hexahedron, still valid.
                    BoxCells::Hexahedron => {
                        let (bottom, top) = cell.split_at_mut(4);
                        bottom.rotate_left(1);
                        top.rotate_left(1);
                    }
                }
                let coords = mesh.coords().to_vec();
                let reordered = Mesh::try_new(3, coords, mesh.cell_kind(), nodes, vec![]);
                let reordered = reordered.unwrap();
                assert_ne!(reordered.cells(), mesh.cells(), "{cells:?}");
                assert_eq!(
                    BoxLattice::of(&reordered.view()),
                    None,
                    "{cells:?} cell {c}"
                );
            }
            let q2 = mesh.with_order(femscale_core::Order::Quadratic).unwrap();
            assert_eq!(BoxLattice::of(&q2.view()), None, "{cells:?}");
        }
    }

    #[test]
    fn cells_stating_impossible_strides_are_no_lattice_and_no_panic() {
        let mesh = cuboid([2, 2, 2], BoxCells::Tetrahedron);
        // A degenerate first tetrahedron whose strides read 0 or wrap.
        for first in [
            [0, 1, 5, 5],
            [0, 1, 3, 2],
            [0, 0, 0, 0],
            [0, 1, usize::MAX, usize::MAX],
        ] {
            let mut nodes = mesh.cells().to_vec();
            nodes[..4].copy_from_slice(&first);
            let mut view = mesh.view();
            view.cells = &nodes;
            assert_eq!(BoxLattice::of(&view), None, "{first:?}");
        }
        let hexes = cuboid([2, 2, 2], BoxCells::Hexahedron);
        let mut view = hexes.view();
        let mut nodes = hexes.cells().to_vec();
        nodes[2] = (1 << 61) + 2;
        nodes[4] = (1 << 62) + 2;
        view.cells = &nodes;
        assert_eq!(BoxLattice::of(&view), None);
    }
}
