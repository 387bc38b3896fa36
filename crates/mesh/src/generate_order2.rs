//! Rectangles generated with the order-2 node layout directly: the same mesh as
//! [`Mesh::rectangle`] lifted by [`Mesh::with_order`], node for node and bit for bit, without
//! the lift's keys of every cell's edges and their sort (the grid says which edge has which
//! number).
//!
//! The lift numbers the edge nodes after the vertices, edges sorted by their (smaller, larger)
//! vertex pair. On the grid, the edges whose smaller vertex is `a = (i, j)` go to `a + 1`
//! (horizontal), `a + nx` (the diagonal of a left-leaning cell to the left), `a + nx + 1`
//! (vertical) and `a + nx + 2` (the diagonal of a right-leaning cell), in this order; which of
//! them exist depends on `a`'s position and the cells' diagonals. A prefix sum over the
//! vertices gives each vertex its first edge node.

use femscale_core::{Order, Result};
use rayon::prelude::*;

use crate::lift::{Key, lift_part};
use crate::mesh::{Derived, Mesh};
use crate::{Diagonal, RectangleCells, RectangleSpec};

/// The grid of a rectangle's vertices, cells and diagonals.
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

    /// Which edges have vertex `(i, j)` as their smaller vertex, in the lift's order:
    /// horizontal, left-leaning diagonal, vertical, right-leaning diagonal.
    fn edges_from(&self, i: usize, j: usize) -> [bool; 4] {
        let (nx, ny) = (self.nx, self.ny);
        let t = self.triangles;
        [
            i < nx,
            t && i >= 1 && j < ny && !self.right(i - 1, j),
            j < ny,
            t && i < nx && j < ny && self.right(i, j),
        ]
    }

    /// The edge between vertices `a < b`, as its rank among the edges of `a` ([`Self::edges_from`]).
    fn rank(&self, a: usize, b: usize) -> Option<usize> {
        let w = self.nx + 1;
        let (i, j) = (a % w, a / w);
        let e = self.edges_from(i, j);
        let slot = match b.checked_sub(a)? {
            1 if e[0] => 0,
            d if d == self.nx && e[1] => 1,
            d if d == w && e[2] => 2,
            d if d == w + 1 && e[3] => 3,
            _ => return None,
        };
        Some(e[..slot].iter().filter(|&&x| x).count())
    }
}

impl Mesh {
    /// [`Mesh::rectangle`] with the node layout of `order`: for [`Order::Quadratic`] the same
    /// mesh as `Mesh::rectangle(spec)?.with_order(Order::Quadratic)`, generated without
    /// sorting the cells' edges.
    ///
    /// ```
    /// use femscale_core::Order;
    /// use femscale_mesh::{Mesh, RectangleSpec};
    /// let spec = RectangleSpec { nx: 3, ny: 2, ..Default::default() };
    /// let direct = Mesh::rectangle_of_order(&spec, Order::Quadratic).unwrap();
    /// let lifted = Mesh::rectangle(&spec).unwrap().with_order(Order::Quadratic).unwrap();
    /// assert_eq!(direct, lifted);
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
        Ok(lift_grid(linear, grid))
    }
}

/// The order-2 layout of the rectangle `linear` on `grid`.
fn lift_grid(linear: Mesh, grid: Grid) -> Mesh {
    let (nx, ny, w) = (grid.nx, grid.ny, grid.nx + 1);
    let num_vertices = linear.num_nodes();
    // The first edge node of each vertex, and of each row of vertices (one past the end last).
    let counts: Vec<usize> = (0..=ny)
        .into_par_iter()
        .map(|j| {
            (0..w)
                .map(|i| grid.edges_from(i, j).iter().filter(|&&x| x).count())
                .sum()
        })
        .collect();
    let mut row_first = Vec::with_capacity(ny + 2);
    row_first.push(num_vertices);
    for c in &counts {
        row_first.push(row_first.last().copied().unwrap_or(0) + c);
    }
    let mut first = vec![0usize; num_vertices];
    (first.par_chunks_mut(w).enumerate()).for_each(|(j, row)| {
        let mut next = row_first[j];
        for (i, f) in row.iter_mut().enumerate() {
            *f = next;
            next += grid.edges_from(i, j).iter().filter(|&&x| x).count();
        }
    });
    let first_interior = row_first[ny + 1];
    let ncells = linear.num_cells();
    let kind = linear.cell_kind;
    let interiors = if grid.triangles { 0 } else { ncells };
    let num_nodes = first_interior + interiors;

    // Coordinates: the vertices', then each edge's midpoint and each quadrilateral's centre,
    // summed as the lift sums them (`0 + x_a / 2 + x_b / 2`, vertices in key order).
    let mut coords = linear.coords;
    coords.resize(2 * num_nodes, 0.0);
    let (vertex_coords, new) = coords.split_at_mut(2 * num_vertices);
    let (mut edge_coords, interior_coords) = new.split_at_mut(2 * (first_interior - num_vertices));
    let mut rows = Vec::with_capacity(ny + 1);
    for c in &counts {
        let (row, rest) = edge_coords.split_at_mut(2 * c);
        rows.push(row);
        edge_coords = rest;
    }
    let vertex_coords = &*vertex_coords;
    let mean = |vertices: &[usize], out: &mut [f64]| {
        let n = vertices.len() as f64;
        let mut p = [0.0; 2];
        for &v in vertices {
            p[0] += vertex_coords[2 * v] / n;
            p[1] += vertex_coords[2 * v + 1] / n;
        }
        out.copy_from_slice(&p);
    };
    (rows.into_par_iter().enumerate()).for_each(|(j, row)| {
        let mut out = row.chunks_exact_mut(2);
        for i in 0..w {
            let a = j * w + i;
            let ends = [a + 1, a + nx, a + w, a + w + 1];
            for (b, exists) in ends.into_iter().zip(grid.edges_from(i, j)) {
                if exists && let Some(o) = out.next() {
                    mean(&[a, b], o);
                }
            }
        }
    });
    let support = kind.node_support(Order::Quadratic);
    let nv = kind.num_vertices();
    let npc = support.len();
    let interior_slot = (nv..npc).find(|&k| support[k].len() == 4);
    if let Some(k) = interior_slot {
        (interior_coords.par_chunks_mut(2).enumerate()).for_each(|(c, o)| {
            let v = &linear.cells[c * nv..(c + 1) * nv];
            let mut corners = [0; 4];
            for (x, &l) in corners.iter_mut().zip(support[k]) {
                *x = v[l];
            }
            mean(&corners, o);
        });
    }

    // Cells: the vertices, then the edge nodes by the grid's numbering, then the centre.
    let edge_node = |a: usize, b: usize| {
        let (a, b) = (a.min(b), a.max(b));
        grid.rank(a, b).map(|r| first[a] + r)
    };
    let per_row = nx * if grid.triangles { 2 } else { 1 };
    let mut cells = vec![0usize; ncells * npc];
    (cells.par_chunks_mut(per_row * npc).enumerate()).for_each(|(j, row)| {
        for (k, out) in row.chunks_exact_mut(npc).enumerate() {
            let c = j * per_row + k;
            let v = &linear.cells[c * nv..(c + 1) * nv];
            out[..nv].copy_from_slice(v);
            for (slot, s) in out[nv..].iter_mut().zip(&support[nv..]) {
                *slot = match s {
                    [x, y] => edge_node(v[*x], v[*y]).expect("cell edges are grid edges"),
                    _ => first_interior + c,
                };
            }
        }
    });
    let node_of = |key: &Key| match key {
        [a, b, u32::MAX, u32::MAX] => edge_node(*a as usize, *b as usize),
        _ => None,
    };
    let boundary = (linear.boundary.iter())
        .map(|part| lift_part(kind, part, node_of))
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
        cell_markers: linear.cell_markers,
        subdomains: linear.subdomains,
        reoriented_cells: linear.reoriented_cells,
        derived: Derived::valid_by_construction(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use femscale_core::MeshView;

    /// Direct and lifted generation agree exactly on every layout and small size (the
    /// degenerate widths 1 and 2, where edge offsets coincide, included).
    #[test]
    fn direct_order_two_rectangles_are_the_lifted_ones() {
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
                    assert_eq!(direct, lifted, "{cells:?} {diagonal:?} {nx} x {ny}");
                    // The lifted mesh carries no mark of validity, so this scans it.
                    let view: MeshView<'_> = lifted.view();
                    view.validate().unwrap();
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
