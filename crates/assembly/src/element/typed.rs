//! The element tables with constant sizes, and the geometry of a cell at a point.

use femscale_core::MeshView;

use super::Element;

/// An [`Element`]'s tables with `N` nodes, dimension `D` and `G` geometry nodes as constants,
/// so that per-cell buffers are exactly as large as the element needs.
#[derive(Debug, Clone)]
pub(crate) struct Tables<const N: usize, const D: usize, const G: usize> {
    pub nq: usize,
    pub weights: Vec<f64>,
    pub phi: Vec<[f64; N]>,
    pub dphi: Vec<[[f64; D]; N]>,
    pub gphi: Vec<[f64; G]>,
    pub gdphi: Vec<[[f64; D]; G]>,
    /// See [`Element::is_affine`].
    pub affine: bool,
    /// See [`Element::constant_gradients`].
    pub constant_gradients: bool,
}

impl<const N: usize, const D: usize, const G: usize> Tables<N, D, G> {
    /// The tables of `e`, whose sizes must be `N`, `D` and `G` (`with_shape!` picks them).
    pub fn of(e: &Element) -> Self {
        debug_assert!(e.npc == N && e.kind.dim() == D && e.ng == G);
        let values = |t: &[f64], n: usize| -> Vec<[f64; N]> {
            (0..e.nq)
                .map(|q| std::array::from_fn(|a| if a < n { t[q * n + a] } else { 0.0 }))
                .collect()
        };
        let grads = |t: &[[f64; 3]], n: usize| -> Vec<[[f64; D]; N]> {
            (0..e.nq)
                .map(|q| {
                    std::array::from_fn(|a| {
                        std::array::from_fn(|i| if a < n { t[q * n + a][i] } else { 0.0 })
                    })
                })
                .collect()
        };
        let shrink = |v: Vec<[f64; N]>| -> Vec<[f64; G]> {
            v.into_iter()
                .map(|r| std::array::from_fn(|a| r[a]))
                .collect()
        };
        let shrink_grad = |v: Vec<[[f64; D]; N]>| -> Vec<[[f64; D]; G]> {
            v.into_iter()
                .map(|r| std::array::from_fn(|a| r[a]))
                .collect()
        };
        Self {
            nq: e.nq,
            weights: e.weights.clone(),
            phi: values(&e.phi, N),
            dphi: grads(&e.dphi, N),
            gphi: shrink(values(&e.gphi, G)),
            gdphi: shrink_grad(grads(&e.gdphi, G)),
            affine: e.is_affine(),
            constant_gradients: e.constant_gradients(),
        }
    }

    /// On affine cells whose gradients vary (order 2 on simplices): the reference stiffness
    /// tensor, one `N x N` table (upper triangle) per pair `j <= l` of reference directions,
    /// `sum_q w_q (d_j phi_a d_l phi_b + d_l phi_a d_j phi_b)` (the second term only for
    /// `j != l`). Contracted with a cell's [`Jacobian::metric`] it gives the cell's stiffness
    /// for a constant coefficient, without gradients per point. Built on request (the
    /// assembly's), not with every table.
    pub fn reference_stiffness(&self) -> Option<Vec<[[f64; N]; N]>> {
        (self.affine && !self.constant_gradients)
            .then(|| reference_stiffness(&self.weights, &self.dphi))
    }

    /// Physical coordinates of the quadrature points of a cell whose geometry nodes are `x`,
    /// padded to three components.
    pub fn map_points(&self, x: &[[f64; D]; G], out: &mut [[f64; 3]]) {
        for (o, gphi) in out.iter_mut().zip(&self.gphi) {
            let mut p = [0.0; 3];
            for a in 0..G {
                for i in 0..D {
                    p[i] += gphi[a] * x[a][i];
                }
            }
            *o = p;
        }
    }
}

/// The tables of [`Tables::reference_stiffness`] from the rule's weights and reference
/// gradients.
fn reference_stiffness<const N: usize, const D: usize>(
    weights: &[f64],
    dphi: &[[[f64; D]; N]],
) -> Vec<[[f64; N]; N]> {
    let mut tables = Vec::with_capacity(D * (D + 1) / 2);
    for j in 0..D {
        for l in j..D {
            let mut t = [[0.0; N]; N];
            for (w, d) in weights.iter().zip(dphi) {
                for a in 0..N {
                    for b in a..N {
                        let mut v = d[a][j] * d[b][l];
                        if l != j {
                            v += d[a][l] * d[b][j];
                        }
                        t[a][b] += w * v;
                    }
                }
            }
            tables.push(t);
        }
    }
    tables
}

/// The Jacobian of a cell's map at one point: its determinant and inverse.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Jacobian<const D: usize> {
    pub det: f64,
    /// `inv[j][i]`: entry `(j, i)` of `J^-1` (only the leading `D x D` block is used).
    inv: [[f64; 3]; 3],
}

impl<const D: usize> Jacobian<D> {
    /// `J = sum_a x_a (grad_ref phi_a)^T` for geometry nodes `x` and reference gradients `gd`.
    #[inline]
    pub fn of<const G: usize>(x: &[[f64; D]; G], gd: &[[f64; D]; G]) -> Self {
        let mut j = [[0.0; 3]; 3];
        for a in 0..G {
            for r in 0..D {
                for c in 0..D {
                    j[r][c] += x[a][r] * gd[a][c];
                }
            }
        }
        let mut inv = [[0.0; 3]; 3];
        let det = match D {
            1 => {
                inv[0][0] = 1.0 / j[0][0];
                j[0][0]
            }
            2 => {
                let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
                let s = 1.0 / det;
                inv[0][0] = j[1][1] * s;
                inv[0][1] = -j[0][1] * s;
                inv[1][0] = -j[1][0] * s;
                inv[1][1] = j[0][0] * s;
                det
            }
            _ => {
                // Cofactors: inv = adj(J) / det.
                let c = |r0: usize, r1: usize, c0: usize, c1: usize| {
                    j[r0][c0] * j[r1][c1] - j[r0][c1] * j[r1][c0]
                };
                let cof = [
                    [c(1, 2, 1, 2), -c(1, 2, 0, 2), c(1, 2, 0, 1)],
                    [-c(0, 2, 1, 2), c(0, 2, 0, 2), -c(0, 2, 0, 1)],
                    [c(0, 1, 1, 2), -c(0, 1, 0, 2), c(0, 1, 0, 1)],
                ];
                let det = j[0][0] * cof[0][0] + j[0][1] * cof[0][1] + j[0][2] * cof[0][2];
                let s = 1.0 / det;
                for r in 0..3 {
                    for c in 0..3 {
                        inv[r][c] = cof[c][r] * s;
                    }
                }
                det
            }
        };
        Self { det, inv }
    }

    /// The metric `J^-1 J^-T` of the reference directions, entries `(j, l)` for `j <= l` in
    /// the order of [`Tables::reference_stiffness`] (the first `D (D + 1) / 2` are used).
    #[inline]
    pub fn metric(&self) -> [f64; 6] {
        let mut m = [0.0; 6];
        let mut p = 0;
        for j in 0..D {
            for l in j..D {
                m[p] = (0..D).map(|i| self.inv[j][i] * self.inv[l][i]).sum();
                p += 1;
            }
        }
        m
    }

    /// Physical gradients `J^-T grad_ref phi_a` of the reference gradients `d` into `out`.
    #[inline]
    pub fn gradients<const N: usize>(&self, d: &[[f64; D]; N], out: &mut [[f64; D]; N]) {
        for (o, da) in out.iter_mut().zip(d) {
            for i in 0..D {
                let mut s = 0.0;
                for j in 0..D {
                    s += self.inv[j][i] * da[j];
                }
                o[i] = s;
            }
        }
    }
}

/// The coordinates of the first `G` nodes of a cell (its geometry nodes).
#[inline]
pub(crate) fn cell_coords<const D: usize, const G: usize>(
    mesh: &MeshView<'_>,
    nodes: &[usize],
) -> [[f64; D]; G] {
    let mut x = [[0.0; D]; G];
    for (xa, &n) in x.iter_mut().zip(nodes) {
        xa.copy_from_slice(&mesh.coords[n * D..n * D + D]);
    }
    x
}

/// Calls `$f::<N, D, G>($args)` with the node count, dimension and geometry node count of the
/// element `$e` (an [`Element`]).
macro_rules! with_shape {
    ($e:expr, $f:ident ( $($arg:expr),* $(,)? )) => {{
        use femscale_core::{CellKind as K, Order as O};
        let e: &$crate::element::Element = $e;
        match (e.kind, e.order, e.curved) {
            (K::Interval, O::Linear, _) => $f::<2, 1, 2>($($arg),*),
            (K::Interval, O::Quadratic, false) => $f::<3, 1, 2>($($arg),*),
            (K::Interval, O::Quadratic, true) => $f::<3, 1, 3>($($arg),*),
            (K::Triangle, O::Linear, _) => $f::<3, 2, 3>($($arg),*),
            (K::Triangle, O::Quadratic, false) => $f::<6, 2, 3>($($arg),*),
            (K::Triangle, O::Quadratic, true) => $f::<6, 2, 6>($($arg),*),
            (K::Quadrilateral, O::Linear, _) => $f::<4, 2, 4>($($arg),*),
            (K::Quadrilateral, O::Quadratic, false) => $f::<9, 2, 4>($($arg),*),
            (K::Quadrilateral, O::Quadratic, true) => $f::<9, 2, 9>($($arg),*),
            (K::Tetrahedron, O::Linear, _) => $f::<4, 3, 4>($($arg),*),
            (K::Tetrahedron, O::Quadratic, false) => $f::<10, 3, 4>($($arg),*),
            (K::Tetrahedron, O::Quadratic, true) => $f::<10, 3, 10>($($arg),*),
            (K::Hexahedron, O::Linear, _) => $f::<8, 3, 8>($($arg),*),
            (K::Hexahedron, O::Quadratic, false) => $f::<27, 3, 8>($($arg),*),
            (K::Hexahedron, O::Quadratic, true) => $f::<27, 3, 27>($($arg),*),
        }
    }};
}

pub(crate) use with_shape;
