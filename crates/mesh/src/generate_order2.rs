//! Rectangles generated with the order-2 node layout directly: the mesh [`Mesh::rectangle`]
//! lifted by [`Mesh::with_order`] gives, with its nodes numbered along the lattice of the
//! order-2 grid instead of vertices first.
//!
//! Every node of an order-2 rectangle sits on the `(2 nx + 1) x (2 ny + 1)` lattice of half
//! cells: vertices at even positions, edge midpoints where one or both positions are odd (the
//! one diagonal of each rectangle's two triangles, or the quadrilateral's centre, at odd and
//! odd). Numbering the nodes row by row along that lattice keeps every cell's nodes within
//! three lattice rows, so the matrix has a bandwidth of about `4 nx` where the lift's
//! vertices-then-edges numbering couples nodes a whole mesh apart; the pattern, the assembly
//! and every sparse product then read memory that is close by. No edge keys are built or
//! sorted. The coordinates are the lift's, bit for bit (each midpoint summed as
//! `0 + x_a / 2 + x_b / 2`, its vertices in increasing order).

use femscale_core::{Order, Result};
use rayon::prelude::*;

use crate::lift::{Key, lift_part};
use crate::mesh::{Derived, Mesh};
use crate::{Diagonal, RectangleCells, RectangleSpec};

/// The grid of a rectangle's vertices, cells and diagonals, and its order-2 lattice.
#[derive(Clone, Copy)]
struct Grid {
    nx: usize,
    ny: usize,
    triangles: bool,
    diagonal: Diagonal,
}

impl Grid {
    /// Whether the triangles of rectangle `(i, j)` share the diagonal from `(i, j)` to
    /// `(i + 1, j + 1)` (as in [`Mesh::rectangle`]).
    fn right(&self, i: usize, j: usize) -> bool {
        match self.diagonal {
            Diagonal::Right => true,
            Diagonal::Left => false,
            Diagonal::Alternating => (i + j).is_multiple_of(2),
        }
    }

    /// Lattice points per row, `2 nx + 1`.
    fn width(&self) -> usize {
        2 * self.nx + 1
    }

    /// The vertex `(i, j)` of the order-1 mesh (numbered `j (nx + 1) + i`).
    fn vertex(&self, i: usize, j: usize) -> usize {
        j * (self.nx + 1) + i
    }

    /// The lattice position of the order-1 vertex `v`.
    fn lattice_of_vertex(&self, v: usize) -> (usize, usize) {
        let w = self.nx + 1;
        (2 * (v % w), 2 * (v / w))
    }

    /// The node at lattice position `(p, q)`.
    fn node(&self, p: usize, q: usize) -> usize {
        q * self.width() + p
    }

    /// The node between the nodes `a` and `b` (their lattice midpoint).
    fn midpoint(&self, a: usize, b: usize) -> usize {
        let w = self.width();
        self.node((a % w + b % w) / 2, (a / w + b / w) / 2)
    }

    /// The order-1 vertices whose mean is the node at lattice position `(p, q)` (one for a
    /// vertex, the edge's two in increasing order, or the four corners of a quadrilateral in
    /// the cell's vertex order, for its centre).
    fn support(&self, p: usize, q: usize, cells: &[usize]) -> Support {
        let (i, j) = (p / 2, q / 2);
        match (p % 2, q % 2) {
            (0, 0) => Support::Vertex(self.vertex(i, j)),
            (1, 0) => Support::Edge(self.vertex(i, j), self.vertex(i + 1, j)),
            (0, 1) => Support::Edge(self.vertex(i, j), self.vertex(i, j + 1)),
            _ if self.triangles && self.right(i, j) => {
                Support::Edge(self.vertex(i, j), self.vertex(i + 1, j + 1))
            }
            _ if self.triangles => Support::Edge(self.vertex(i + 1, j), self.vertex(i, j + 1)),
            _ => {
                let c = j * self.nx + i;
                let mut corners = [0; 4];
                corners.copy_from_slice(&cells[4 * c..4 * c + 4]);
                Support::Centre(corners)
            }
        }
    }
}

/// What a lattice node is the mean of.
enum Support {
    Vertex(usize),
    Edge(usize, usize),
    Centre([usize; 4]),
}

impl Mesh {
    /// [`Mesh::rectangle`] with the node layout of `order`. For [`Order::Quadratic`], the mesh
    /// `Mesh::rectangle(spec)?.with_order(Order::Quadratic)` gives (the same cells, nodes,
    /// coordinates and boundary parts), with its nodes numbered row by row along the order-2
    /// lattice (see the module's docs), generated without sorting the cells' edges.
    ///
    /// ```
    /// use femscale_core::Order;
    /// use femscale_mesh::{Mesh, RectangleSpec};
    /// let spec = RectangleSpec { nx: 3, ny: 2, ..Default::default() };
    /// let direct = Mesh::rectangle_of_order(&spec, Order::Quadratic).unwrap();
    /// let lifted = Mesh::rectangle(&spec).unwrap().with_order(Order::Quadratic).unwrap();
    /// assert_eq!(direct.num_nodes(), lifted.num_nodes()); // 7 x 5 lattice points
    /// assert_eq!(direct.num_nodes(), 35);
    /// ```
    ///
    /// # Errors
    /// As [`Mesh::rectangle`].
    pub fn rectangle_of_order(spec: &RectangleSpec, order: Order) -> Result<Self> {
        let linear = Self::rectangle(spec)?;
        if order == Order::Linear {
            return Ok(linear);
        }
        let grid = Grid {
            nx: spec.nx,
            ny: spec.ny,
            triangles: spec.cells == RectangleCells::Triangle,
            diagonal: spec.diagonal,
        };
        Ok(lattice_mesh(&linear, grid))
    }
}

/// The order-2 layout of the rectangle `linear` on `grid`, numbered along the lattice.
fn lattice_mesh(linear: &Mesh, grid: Grid) -> Mesh {
    let (w, h) = (grid.width(), 2 * grid.ny + 1);
    let vertex_coords = &linear.coords;
    // The lift's sum: `0 + x_a / n + x_b / n + ...`, in the order given.
    let mean = |vertices: &[usize], out: &mut [f64]| {
        let n = vertices.len() as f64;
        let mut p = [0.0; 2];
        for &v in vertices {
            p[0] += vertex_coords[2 * v] / n;
            p[1] += vertex_coords[2 * v + 1] / n;
        }
        out.copy_from_slice(&p);
    };
    let mut coords = vec![0.0; 2 * w * h];
    (coords.par_chunks_mut(2 * w).enumerate()).for_each(|(q, row)| {
        for (p, out) in row.chunks_exact_mut(2).enumerate() {
            match grid.support(p, q, &linear.cells) {
                Support::Vertex(v) => out.copy_from_slice(&vertex_coords[2 * v..2 * v + 2]),
                Support::Edge(a, b) => mean(&[a, b], out),
                Support::Centre(corners) => mean(&corners, out),
            }
        }
    });

    // Cells: the vertices, the edges' midpoints and the centre, at their lattice nodes, in
    // the cell's slot order.
    let kind = linear.cell_kind;
    let support = kind.node_support(Order::Quadratic);
    let nv = kind.num_vertices();
    let npc = support.len();
    let lattice_vertex = |v: usize| {
        let (p, q) = grid.lattice_of_vertex(v);
        grid.node(p, q)
    };
    let mut cells = vec![0usize; linear.num_cells() * npc];
    (cells.par_chunks_mut(npc).zip(linear.cells.par_chunks(nv))).for_each(|(out, v)| {
        for (slot, s) in out.iter_mut().zip(support) {
            *slot = match *s {
                [a] => lattice_vertex(v[*a]),
                [a, b] => grid.midpoint(lattice_vertex(v[*a]), lattice_vertex(v[*b])),
                // The quadrilateral's centre: the midpoint of a diagonal.
                _ => grid.midpoint(lattice_vertex(v[0]), lattice_vertex(v[2])),
            };
        }
    });

    // Boundary parts: their vertices renumbered, then each facet's midpoint added.
    let node_of = |key: &Key| match key {
        [a, b, u32::MAX, u32::MAX] => Some(grid.midpoint(*a as usize, *b as usize)),
        _ => None,
    };
    let boundary = (linear.boundary.iter())
        .map(|part| {
            let mut renumbered = part.clone();
            renumbered
                .facets
                .iter_mut()
                .for_each(|v| *v = lattice_vertex(*v));
            renumbered
                .nodes
                .iter_mut()
                .for_each(|v| *v = lattice_vertex(*v));
            renumbered.nodes.sort_unstable();
            lift_part(kind, &renumbered, node_of)
        })
        .collect::<Result<Vec<_>>>()
        .expect("the rectangle's boundary facets are grid edges");
    Mesh {
        dim: 2,
        coords,
        cell_kind: kind,
        order: Order::Quadratic,
        curved: false,
        cells,
        boundary,
        cell_markers: linear.cell_markers.clone(),
        subdomains: linear.subdomains.clone(),
        reoriented_cells: linear.reoriented_cells,
        derived: Derived::valid_by_construction(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use femscale_core::MeshView;

    /// `direct` is `lifted` with its nodes renumbered: one consistent bijection maps every
    /// cell slot of `lifted` to the same slot of `direct`, the coordinates agree bit for bit
    /// under it, and so do the boundary parts' facets (in order) and nodes (as sets).
    fn assert_renumbered(direct: &Mesh, lifted: &Mesh, what: &str) {
        assert_eq!(direct.num_nodes(), lifted.num_nodes(), "{what}");
        assert_eq!(direct.num_cells(), lifted.num_cells(), "{what}");
        assert_eq!(direct.cell_kind(), lifted.cell_kind(), "{what}");
        let mut to = vec![usize::MAX; lifted.num_nodes()];
        let mut from = vec![usize::MAX; direct.num_nodes()];
        for (&l, &d) in lifted.cells().iter().zip(direct.cells()) {
            assert!(
                to[l] == usize::MAX || to[l] == d,
                "{what}: node {l} maps twice"
            );
            assert!(
                from[d] == usize::MAX || from[d] == l,
                "{what}: node {d} is hit twice"
            );
            (to[l], from[d]) = (d, l);
        }
        assert!(
            to.iter().all(|&d| d != usize::MAX),
            "{what}: a node in no cell"
        );
        for (l, &d) in to.iter().enumerate() {
            let (a, b) = (
                &lifted.coords()[2 * l..2 * l + 2],
                &direct.coords()[2 * d..2 * d + 2],
            );
            assert!(
                a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{what}: node {l} at {a:?}, renumbered {d} at {b:?}"
            );
        }
        assert_eq!(direct.boundary.len(), lifted.boundary.len(), "{what}");
        for (pd, pl) in direct.boundary.iter().zip(&lifted.boundary) {
            assert_eq!((&pd.name, pd.id), (&pl.name, pl.id), "{what}");
            let mapped: Vec<usize> = pl.facets.iter().map(|&v| to[v]).collect();
            assert_eq!(pd.facets, mapped, "{what}: facets of {}", pl.name);
            let mut nodes: Vec<usize> = pl.nodes.iter().map(|&v| to[v]).collect();
            nodes.sort_unstable();
            assert_eq!(pd.nodes, nodes, "{what}: nodes of {}", pl.name);
        }
    }

    /// Direct and lifted generation agree up to the numbering on every layout and small size
    /// (the widths 1 and 2 included), and the direct numbering is the lattice's.
    #[test]
    fn direct_order_two_rectangles_are_the_lifted_ones_renumbered() {
        for cells in [RectangleCells::Triangle, RectangleCells::Quadrilateral] {
            for diagonal in [Diagonal::Right, Diagonal::Left, Diagonal::Alternating] {
                for (nx, ny) in [(1, 1), (1, 3), (2, 1), (2, 2), (3, 5), (7, 4)] {
                    let spec = RectangleSpec {
                        x: [-0.3, 1.7],
                        y: [2.0, 2.9],
                        nx,
                        ny,
                        cells,
                        diagonal,
                    };
                    let direct = Mesh::rectangle_of_order(&spec, Order::Quadratic).unwrap();
                    let lifted = Mesh::rectangle(&spec)
                        .unwrap()
                        .with_order(Order::Quadratic)
                        .unwrap();
                    let what = format!("{cells:?} {diagonal:?} {nx} x {ny}");
                    assert_renumbered(&direct, &lifted, &what);
                    // The lifted mesh carries no mark of validity, so this scans it.
                    let view: MeshView<'_> = lifted.view();
                    view.validate().unwrap();
                    // Row by row along the lattice: x grows along a row, y from row to row.
                    let w = 2 * nx + 1;
                    let c = direct.coords();
                    for k in 1..direct.num_nodes() {
                        let same_row = k % w != 0;
                        // (Centres and edge midpoints of one row may differ in the last bit.)
                        let dy = c[2 * k + 1] - c[2 * k - 1];
                        assert!(
                            (same_row && c[2 * k] > c[2 * k - 2] && dy.abs() < 1e-12)
                                || (!same_row && dy > 0.0),
                            "{what}: node {k}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn linear_order_is_the_plain_rectangle() {
        let spec = RectangleSpec::default();
        assert_eq!(
            Mesh::rectangle_of_order(&spec, Order::Linear).unwrap(),
            Mesh::rectangle(&spec).unwrap()
        );
    }

    #[test]
    fn bad_sizes_are_the_rectangles_errors() {
        let spec = RectangleSpec {
            nx: 0,
            ..Default::default()
        };
        let err = Mesh::rectangle_of_order(&spec, Order::Quadratic).unwrap_err();
        assert!(err.to_string().contains("nx"), "{err}");
    }
}
