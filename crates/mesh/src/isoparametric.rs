//! Isoparametric refinement of curved order-2 meshes: the vertex mesh is refined as usual and
//! lifted to order 2, then every node of a child is moved to where the parent's quadratic map
//! takes it. A child node's reference coordinates in its parent come from inverting the
//! parent's straight (affine or multilinear) map; the parent's Lagrange basis of order 2 then
//! places it through all the parent's nodes. Children of a parent's edge midpoints are exactly
//! the parent's edge nodes, so new vertices stay on the curved geometry (the circle of a disk
//! read from Gmsh), and new edge nodes sit on the parent's quadratic edges.

use femscale_core::{CellKind, Error, Order, Result};
use rayon::prelude::*;

use crate::mesh::Mesh;
use crate::names::Names;
use crate::order2::is_curved;

/// The Lagrange basis of a node layout on a reference cell, as monomial coefficients.
pub(crate) struct Basis {
    /// Exponents of the monomials spanning the space (P1/P2 or Q1/Q2).
    exponents: Vec<[i32; 3]>,
    /// Row `i`: the coefficients of basis function `i` (1 at node `i`, 0 at the others).
    coefficients: Vec<Vec<f64>>,
}

fn monomial(e: [i32; 3], x: [f64; 3]) -> f64 {
    x[0].powi(e[0]) * x[1].powi(e[1]) * x[2].powi(e[2])
}

/// The derivative of a monomial along `axis`.
fn monomial_derivative(e: [i32; 3], x: [f64; 3], axis: usize) -> f64 {
    if e[axis] == 0 {
        return 0.0;
    }
    let mut lower = e;
    lower[axis] -= 1;
    f64::from(e[axis]) * monomial(lower, x)
}

impl Basis {
    /// The basis of `kind`'s layout of `order`; `None` if its nodes were not unisolvent (they
    /// are for every supported layout).
    pub(crate) fn new(kind: CellKind, order: Order) -> Option<Self> {
        let p = order.get() as i32;
        let d = kind.dim();
        let tensor = matches!(
            kind,
            CellKind::Interval | CellKind::Quadrilateral | CellKind::Hexahedron
        );
        let mut exponents = Vec::new();
        for c in 0..=p {
            for b in 0..=p {
                for a in 0..=p {
                    let e = [a, b, c];
                    if e[d..].iter().all(|&x| x == 0) && (tensor || a + b + c <= p) {
                        exponents.push(e);
                    }
                }
            }
        }
        let nodes = kind.reference_nodes(order);
        let n = nodes.len();
        if exponents.len() != n {
            return None;
        }
        // Solve C V^T = I for C, V[i][j] = m_j(node_i), by Gauss-Jordan on [V | I]: the rows
        // of V^{-1} transposed are the coefficient rows.
        let mut a: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let mut row: Vec<f64> = exponents.iter().map(|&e| monomial(e, nodes[i])).collect();
                row.extend((0..n).map(|j| f64::from(u8::from(i == j))));
                row
            })
            .collect();
        for col in 0..n {
            let pivot = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
            if a[pivot][col].abs() < 1e-12 {
                return None;
            }
            a.swap(col, pivot);
            let inv = 1.0 / a[col][col];
            a[col].iter_mut().for_each(|v| *v *= inv);
            for r in 0..n {
                if r != col && a[r][col] != 0.0 {
                    let f = a[r][col];
                    let (pivot_row, row) = if r < col {
                        let (lo, hi) = a.split_at_mut(col);
                        (&hi[0], &mut lo[r])
                    } else {
                        let (lo, hi) = a.split_at_mut(r);
                        (&lo[col], &mut hi[0])
                    };
                    for (x, &y) in row.iter_mut().zip(pivot_row.iter()) {
                        *x -= f * y;
                    }
                }
            }
        }
        // V^{-1} = the right half: coefficient j of basis function i is V^{-1}[j][i].
        let coefficients = (0..n)
            .map(|i| (0..n).map(|j| a[j][n + i]).collect())
            .collect();
        Some(Self {
            exponents,
            coefficients,
        })
    }

    /// The basis functions at reference point `x`.
    pub(crate) fn values(&self, x: [f64; 3]) -> Vec<f64> {
        let m: Vec<f64> = self.exponents.iter().map(|&e| monomial(e, x)).collect();
        (self.coefficients.iter())
            .map(|c| c.iter().zip(&m).map(|(a, b)| a * b).sum())
            .collect()
    }

    /// The gradients of the basis functions at reference point `x`.
    fn gradients(&self, x: [f64; 3]) -> Vec<[f64; 3]> {
        let dm: Vec<[f64; 3]> = (self.exponents.iter())
            .map(|&e| std::array::from_fn(|axis| monomial_derivative(e, x, axis)))
            .collect();
        (self.coefficients.iter())
            .map(|c| std::array::from_fn(|axis| c.iter().zip(&dm).map(|(a, g)| a * g[axis]).sum()))
            .collect()
    }
}

/// Checks that every cell of the curved order-2 `mesh` maps onto itself without folding: its
/// Jacobian determinant does not take the opposite sign of the cell's (straight) orientation
/// at a node of the reference cell. The assembly checks it at the quadrature points; a mid-edge
/// node moved past the quarter point folds a cell at a vertex, where no quadrature point is.
/// A zero there (a quarter-point element, as crack-tip meshes use on purpose) is accepted,
/// up to rounding. Positivity at the nodes is necessary, not sufficient, for a valid map.
///
/// # Errors
/// [`Error::Mesh`] naming the first folded cell.
pub(crate) fn check_curved_cells(mesh: &Mesh, names: &Names) -> Result<()> {
    /// Nodes of the largest order-2 cell (hex27).
    const MAX_NODES: usize = 27;
    let kind = mesh.cell_kind();
    let Some(basis) = Basis::new(kind, Order::Quadratic) else {
        return Ok(());
    };
    let reference = kind.reference_nodes(Order::Quadratic);
    let gradients: Vec<Vec<[f64; 3]>> = reference.iter().map(|&x| basis.gradients(x)).collect();
    let (view, dim) = (mesh.view(), mesh.dim);
    let folded = (0..mesh.num_cells()).into_par_iter().find_first(|&c| {
        let nodes = view.cell(c);
        let mut points = [[0.0; 3]; MAX_NODES];
        for (p, &n) in points.iter_mut().zip(nodes) {
            *p = view.point(n);
        }
        let sign = crate::geometry::signed_measure(kind, &points[..kind.num_vertices()]).signum();
        let mut dets = [0.0; MAX_NODES];
        for (det, g) in dets.iter_mut().zip(&gradients) {
            // Rows beyond the dimension are those of the identity: one 3x3 determinant for all.
            let mut j = [[0.0; 3]; 3];
            for (r, row) in j.iter_mut().enumerate().skip(dim) {
                row[r] = 1.0;
            }
            for (p, gi) in points.iter().zip(g) {
                for (r, row) in j.iter_mut().enumerate().take(dim) {
                    for (k, entry) in row.iter_mut().enumerate().take(dim) {
                        *entry += p[r] * gi[k];
                    }
                }
            }
            *det = sign * crate::geometry::det3(j[0], j[1], j[2]);
        }
        let dets = &dets[..gradients.len()];
        let largest = dets.iter().fold(0.0f64, |m, d| m.max(d.abs()));
        dets.iter().any(|&d| d.is_nan() || d < -1e-12 * largest)
    });
    match folded {
        None => Ok(()),
        Some(c) => Err(Error::Mesh {
            location: None,
            message: format!(
                "curved {} (nodes {}) folds: its Jacobian changes sign inside it (a \
                 mid-edge, face or centre node too far from where the straight cell has it, \
                 e.g. past an edge's quarter point)",
                names.cell(c),
                names.nodes(view.cell(c))
            ),
        }),
    }
}

/// `sum_i w_i p_i`.
fn combine(weights: &[f64], points: &[[f64; 3]]) -> [f64; 3] {
    let mut x = [0.0; 3];
    for (w, p) in weights.iter().zip(points) {
        for d in 0..3 {
            x[d] += w * p[d];
        }
    }
    x
}

/// The reference coordinates of `y` under the straight map of a cell with vertices `corners`
/// (Newton's method).
fn reference_coordinates(
    dim: usize,
    linear: &Basis,
    corners: &[[f64; 3]],
    y: [f64; 3],
) -> [f64; 3] {
    // The reference origin: the centre of the square and cube; simplices converge in one step.
    let mut xi = [0.0; 3];
    for _ in 0..30 {
        let x = combine(&linear.values(xi), corners);
        let g = linear.gradients(xi);
        // J[d][e] = d x_d / d xi_e.
        let mut j = [[0.0; 3]; 3];
        for (gi, p) in g.iter().zip(corners) {
            for d in 0..dim {
                for e in 0..dim {
                    j[d][e] += p[d] * gi[e];
                }
            }
        }
        let r: [f64; 3] = std::array::from_fn(|d| x[d] - y[d]);
        let delta = solve(dim, j, r);
        for d in 0..dim {
            xi[d] -= delta[d];
        }
        if delta.iter().map(|v| v.abs()).fold(0.0, f64::max) < 1e-15 {
            break;
        }
    }
    xi
}

/// Solves `j x = r` for `dim` unknowns by Cramer's rule (a singular `j` gives zeros).
fn solve(dim: usize, j: [[f64; 3]; 3], r: [f64; 3]) -> [f64; 3] {
    let mut m = j;
    for d in dim..3 {
        m[d][d] = 1.0;
    }
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let full = det(&m);
    if full == 0.0 || !full.is_finite() {
        return [0.0; 3];
    }
    std::array::from_fn(|k| {
        let mut mk = m;
        for d in 0..3 {
            mk[d][k] = r[d];
        }
        det(&mk) / full
    })
}

impl Mesh {
    /// The order-2 mesh refined once with its children's nodes placed by their parents'
    /// quadratic maps (see the module docs); curved if any node ends up off its straight
    /// position.
    pub(crate) fn refined_isoparametric(&self, children: usize) -> Result<Mesh> {
        let kind = self.cell_kind;
        let (Some(linear), Some(quadratic)) = (
            Basis::new(kind, Order::Linear),
            Basis::new(kind, Order::Quadratic),
        ) else {
            return Err(Error::Mesh {
                location: None,
                message: format!("no Lagrange basis for {} cells: this is a bug", kind.name()),
            });
        };
        let straight = self.with_order(Order::Linear)?;
        let mut fine = straight.refine_uniform()?.with_order(Order::Quadratic)?;
        let (parent, coarse, child) = (self.view(), straight.view(), fine.view());
        let dim = self.dim;
        let nv = kind.num_vertices();
        let moved: Vec<(usize, [f64; 3])> = (0..fine.num_cells())
            .into_par_iter()
            .flat_map_iter(|c| {
                let p = c / children;
                let corners: Vec<[f64; 3]> = coarse.cell(p)[..nv]
                    .iter()
                    .map(|&n| coarse.point(n))
                    .collect();
                let nodes: Vec<[f64; 3]> =
                    parent.cell(p).iter().map(|&n| parent.point(n)).collect();
                (child.cell(c).iter())
                    .map(|&n| {
                        let xi = reference_coordinates(dim, &linear, &corners, child.point(n));
                        (n, combine(&quadratic.values(xi), &nodes))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        // The nodes move: the mesh is not known to be valid, nor its quality, any more.
        fine.derived = Default::default();
        for (n, x) in moved {
            fine.coords[n * dim..(n + 1) * dim].copy_from_slice(&x[..dim]);
        }
        fine.curved = is_curved(&fine.view());
        Ok(fine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BoxCells, BoxSpec, RectangleCells, RectangleSpec};

    #[test]
    fn bases_are_lagrange_and_partitions_of_unity() {
        for kind in [
            CellKind::Interval,
            CellKind::Triangle,
            CellKind::Quadrilateral,
            CellKind::Tetrahedron,
            CellKind::Hexahedron,
        ] {
            for order in [Order::Linear, Order::Quadratic] {
                let basis = Basis::new(kind, order).unwrap();
                for (i, &x) in kind.reference_nodes(order).iter().enumerate() {
                    let v = basis.values(x);
                    for (j, &vj) in v.iter().enumerate() {
                        let want = if i == j { 1.0 } else { 0.0 };
                        assert!((vj - want).abs() < 1e-12, "{kind:?} {order:?} {i} {j}");
                    }
                }
                let x = [0.21, 0.13, 0.37];
                assert!((basis.values(x).iter().sum::<f64>() - 1.0).abs() < 1e-12);
                let g = basis.gradients(x);
                assert!((0..3).all(|d| g.iter().map(|gi| gi[d]).sum::<f64>().abs() < 1e-12));
            }
        }
    }

    /// On straight order-2 meshes the isoparametric refinement is the plain one: every node
    /// lands where lifting the refined vertex mesh puts it.
    #[test]
    fn straight_meshes_refine_to_the_same_nodes() {
        let meshes = [
            Mesh::interval(0.0, 1.0, 3).unwrap(),
            Mesh::rectangle(&RectangleSpec {
                nx: 2,
                ny: 3,
                ..Default::default()
            })
            .unwrap(),
            Mesh::rectangle(&RectangleSpec {
                nx: 2,
                ny: 1,
                cells: RectangleCells::Quadrilateral,
                ..Default::default()
            })
            .unwrap(),
            Mesh::cuboid(&BoxSpec {
                nx: 1,
                ny: 2,
                nz: 1,
                ..Default::default()
            })
            .unwrap(),
            Mesh::cuboid(&BoxSpec {
                nx: 2,
                ny: 1,
                nz: 1,
                cells: BoxCells::Hexahedron,
                ..Default::default()
            })
            .unwrap(),
        ];
        for mesh in meshes {
            let p2 = mesh.with_order(Order::Quadratic).unwrap();
            let kind = mesh.cell_kind();
            let per = p2.refine_uniform().unwrap().num_cells() / p2.num_cells();
            let iso = p2.refined_isoparametric(per).unwrap();
            let plain = p2.refine_uniform().unwrap();
            assert!(!iso.is_curved(), "{kind:?}");
            assert_eq!(iso.cells(), plain.cells());
            let close =
                (iso.coords().iter().zip(plain.coords())).all(|(a, b)| (a - b).abs() < 1e-13);
            assert!(close, "{kind:?}");
        }
    }
}
