//! Carrying nodal fields from a mesh to its local refinement.

use femscale_core::{CellKind, Error, Order, Result};

use super::Refined;
use crate::mesh::Mesh;

/// The number of components of `values` on `nodes` nodes (node-major), or an error for `field`.
fn components(field: &str, values: &[f64], nodes: usize) -> Result<usize> {
    if nodes == 0 || values.is_empty() || !values.len().is_multiple_of(nodes) {
        return Err(Error::invalid(
            field,
            format!(
                "{} values are not a whole number of components on {nodes} nodes",
                values.len()
            ),
        ));
    }
    Ok(values.len() / nodes)
}

impl Refined {
    /// A P1 field of the old (vertex) mesh on the new one: `values` node-major with
    /// `values.len() / old_vertices` components per node; old vertices keep their values, each
    /// new vertex takes the mean of its edge's end points (exact interpolation, since the P1
    /// field is linear along the edge). For an order-2 mesh this is the vertex mesh's field.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for `values` if its length is not a positive multiple of
    /// [`Refined::old_vertices`].
    pub fn interpolate_p1(&self, values: &[f64]) -> Result<Vec<f64>> {
        let k = components("values", values, self.old_vertices)?;
        let mut out = Vec::with_capacity(values.len() + k * self.new_nodes.len());
        out.extend_from_slice(values);
        for &[a, b] in &self.new_nodes {
            out.extend((0..k).map(|j| 0.5 * (values[a * k + j] + values[b * k + j])));
        }
        Ok(out)
    }

    /// A P2 field of the order-2 mesh `old` (the mesh that was refined) on the new order-2
    /// mesh: `values` node-major with `values.len() / old.num_nodes()` components per node;
    /// every new node takes the value of its parent cell's quadratic interpolant at its
    /// position (exact, as the children lie inside their parents).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for `values` if either mesh is not of order 2, `old` is not the
    /// refined mesh (its cell count does not match the parents), or the length of `values` is
    /// not a positive multiple of `old.num_nodes()`.
    pub fn interpolate_p2(&self, old: &Mesh, values: &[f64]) -> Result<Vec<f64>> {
        let new = &self.mesh;
        if old.order() != Order::Quadratic || new.order() != Order::Quadratic {
            return Err(Error::invalid(
                "values",
                "P2 interpolation needs order-2 meshes (refine the order-2 mesh)",
            ));
        }
        if self.parents.iter().any(|&p| p >= old.num_cells()) || old.cell_kind() != new.cell_kind()
        {
            return Err(Error::invalid(
                "values",
                "the old mesh is not the one this refinement came from",
            ));
        }
        let k = components("values", values, old.num_nodes())?;
        let kind = new.cell_kind();
        let support = kind.node_support(Order::Quadratic);
        let (ov, nv) = (old.view(), new.view());
        let mut out = vec![0.0; k * new.num_nodes()];
        for (c, &p) in self.parents.iter().enumerate() {
            let parent = ov.cell(p);
            let mut corners = [[0.0; 3]; 3];
            for (x, &n) in corners.iter_mut().zip(&parent[..kind.num_vertices()]) {
                *x = ov.point(n);
            }
            for &n in nv.cell(c) {
                let l = barycentric(kind, &corners, nv.point(n));
                let weight = |s: &[usize]| match s {
                    [i] => l[*i] * (2.0 * l[*i] - 1.0),
                    [i, j] => 4.0 * l[*i] * l[*j],
                    _ => 0.0,
                };
                for j in 0..k {
                    out[n * k + j] = (support.iter().zip(parent))
                        .map(|(s, &m)| weight(s) * values[m * k + j])
                        .sum();
                }
            }
        }
        Ok(out)
    }
}

/// The barycentric coordinates of `x` in the interval or triangle with vertices `v`.
fn barycentric(kind: CellKind, v: &[[f64; 3]], x: [f64; 3]) -> [f64; 3] {
    if kind == CellKind::Interval {
        let t = (x[0] - v[0][0]) / (v[1][0] - v[0][0]);
        return [1.0 - t, t, 0.0];
    }
    let (e1, e2) = (
        [v[1][0] - v[0][0], v[1][1] - v[0][1]],
        [v[2][0] - v[0][0], v[2][1] - v[0][1]],
    );
    let r = [x[0] - v[0][0], x[1] - v[0][1]];
    let det = e1[0] * e2[1] - e1[1] * e2[0];
    let s = (r[0] * e2[1] - r[1] * e2[0]) / det;
    let t = (e1[0] * r[1] - e1[1] * r[0]) / det;
    [1.0 - s - t, s, t]
}
