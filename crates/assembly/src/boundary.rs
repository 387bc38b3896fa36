//! Boundary conditions: Neumann and Robin terms integrated over boundary facets, and
//! symmetric Dirichlet elimination applied in place (the pattern never changes, SPD stays SPD).

use femscale_core::{
    BoundaryKind, EllipticForm, Error, LinearSystem, MeshView, Result, ScalarField,
};
use rayon::prelude::*;
use tracing::instrument;

use crate::quadrature;

/// Checks that every boundary condition names an existing boundary part.
///
/// # Errors
/// [`Error::UnknownName`] with field `boundary[i].where`.
pub fn check_boundary_parts(mesh: &MeshView<'_>, form: &EllipticForm) -> Result<()> {
    for (i, bc) in form.boundary.iter().enumerate() {
        if mesh.boundary_part(&bc.part).is_none() {
            return Err(Error::UnknownName {
                field: format!("boundary[{i}].where"),
                what: "boundary part".into(),
                name: bc.part.clone(),
                known: mesh.boundary_names(),
            });
        }
    }
    Ok(())
}

fn finite(field: &str, v: f64, p: [f64; 3]) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::invalid(
            field,
            format!(
                "evaluates to {v} at (x, y, z) = ({}, {}, {})",
                p[0], p[1], p[2]
            ),
        ))
    }
}

/// Adds the Neumann (`k du/dn = g`) and Robin (`k du/dn + alpha u = g`) terms of `form` to an
/// assembled system. Returns the number of facets integrated.
///
/// # Errors
/// Unknown boundary parts, non-finite boundary data.
pub fn add_boundary_terms(
    mesh: &MeshView<'_>,
    form: &EllipticForm,
    system: &mut LinearSystem,
) -> Result<usize> {
    check_boundary_parts(mesh, form)?;
    let rule = quadrature::interval(3);
    let mut facets = 0;
    for (i, bc) in form.boundary.iter().enumerate() {
        let (alpha, g): (Option<&dyn ScalarField>, &dyn ScalarField) = match &bc.kind {
            BoundaryKind::Dirichlet { .. } => continue,
            BoundaryKind::Neumann { flux } => (None, &**flux),
            BoundaryKind::Robin { alpha, value } => (Some(&**alpha), &**value),
            other => {
                return Err(Error::invalid(
                    format!("boundary[{i}].kind"),
                    format!(
                        "boundary condition `{}` is not supported by this assembler",
                        other.name()
                    ),
                ));
            }
        };
        let field = format!("boundary[{i}].value");
        let alpha_field = format!("boundary[{i}].alpha");
        let part = mesh.boundary_part(&bc.part).expect("checked above");
        let npf = mesh.cell_kind.nodes_per_facet();
        for facet in part.facets.chunks_exact(npf) {
            facets += 1;
            // Points in 1D; straight edges with two-point Gauss quadrature in 2D.
            let (points, weights): (Vec<FacetPoint>, Vec<f64>) = if npf == 1 {
                (vec![(mesh.point(facet[0]), [1.0, 0.0])], vec![1.0])
            } else {
                let (a, b) = (mesh.point(facet[0]), mesh.point(facet[1]));
                let len =
                    ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2) + (b[2] - a[2]).powi(2)).sqrt();
                rule.points
                    .iter()
                    .zip(&rule.weights)
                    .map(|(s, w)| {
                        let s = s[0];
                        let p = [
                            a[0] + s * (b[0] - a[0]),
                            a[1] + s * (b[1] - a[1]),
                            a[2] + s * (b[2] - a[2]),
                        ];
                        ((p, [1.0 - s, s]), w * len)
                    })
                    .unzip()
            };
            for ((p, phi), w) in points.into_iter().zip(weights) {
                let gv = finite(&field, g.eval(p), p)? * w;
                let av = match alpha {
                    Some(a) => finite(&alpha_field, a.eval(p), p)? * w,
                    None => 0.0,
                };
                for a in 0..npf {
                    system.rhs[facet[a]] += gv * phi[a];
                    if av != 0.0 {
                        for b in 0..npf {
                            let k = system
                                .matrix
                                .pattern()
                                .find(facet[a], facet[b])
                                .ok_or_else(|| {
                                    Error::invalid(
                                        "pattern",
                                        format!(
                                            "boundary entry ({}, {}) is not in the pattern",
                                            facet[a], facet[b]
                                        ),
                                    )
                                })?;
                            system.matrix.values_mut()[k] += av * phi[a] * phi[b];
                        }
                    }
                }
            }
        }
    }
    Ok(facets)
}

/// A quadrature point on a facet: its coordinates and the facet basis values there.
type FacetPoint = ([f64; 3], [f64; 2]);

/// Nodes with a prescribed value and those values.
#[derive(Debug, Clone, PartialEq)]
pub struct DirichletConditions {
    fixed: Vec<bool>,
    values: Vec<f64>,
    nodes: Vec<usize>,
}

impl DirichletConditions {
    /// Collects the Dirichlet conditions of `form` on `mesh`. Later conditions override earlier
    /// ones on shared nodes.
    ///
    /// # Errors
    /// Unknown boundary parts, non-finite boundary values.
    pub fn from_form(mesh: &MeshView<'_>, form: &EllipticForm) -> Result<Self> {
        mesh.validate()?;
        check_boundary_parts(mesh, form)?;
        let n = mesh.num_nodes();
        let mut fixed = vec![false; n];
        let mut values = vec![0.0; n];
        for (i, bc) in form.boundary.iter().enumerate() {
            if let BoundaryKind::Dirichlet { value } = &bc.kind {
                let field = format!("boundary[{i}].value");
                let part = mesh.boundary_part(&bc.part).expect("checked above");
                let constant = value.as_constant();
                for &node in &part.nodes {
                    let p = mesh.point(node);
                    values[node] = finite(&field, constant.unwrap_or_else(|| value.eval(p)), p)?;
                    fixed[node] = true;
                }
            }
        }
        let nodes = (0..n).filter(|&i| fixed[i]).collect();
        Ok(Self {
            fixed,
            values,
            nodes,
        })
    }

    /// The constrained nodes, increasing.
    pub fn nodes(&self) -> &[usize] {
        &self.nodes
    }

    /// Number of constrained nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is constrained.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Writes the prescribed values into `x` (e.g. an initial guess).
    pub fn impose_on(&self, x: &mut [f64]) {
        for &i in &self.nodes {
            x[i] = self.values[i];
        }
    }

    /// Eliminates the constrained unknowns symmetrically, in place: for a free row `i`,
    /// `b_i -= a_ij g_j` and `a_ij = 0` for every constrained `j`; a constrained row keeps only
    /// its diagonal `d` (1 if `d` is zero) with `b_i = d g_i`. Runs in parallel over rows.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if the system does not have one row per mesh node.
    #[instrument(skip_all, name = "fem.boundary.dirichlet", fields(nodes = self.nodes.len()))]
    pub fn apply(&self, system: &mut LinearSystem) -> Result<()> {
        let n = self.fixed.len();
        if system.matrix.nrows() != n || system.matrix.ncols() != n || system.rhs.len() != n {
            return Err(Error::invalid(
                "system",
                format!("{} rows for {n} nodes", system.matrix.nrows()),
            ));
        }
        if self.nodes.is_empty() {
            return Ok(());
        }
        const ROWS: usize = 8192;
        let pattern = system.matrix.pattern().clone();
        let (rp, ci) = (pattern.row_ptr(), pattern.col_idx());
        let mut chunks = Vec::with_capacity(n / ROWS + 1);
        let mut values = system.matrix.values_mut();
        let mut rhs = system.rhs.as_mut_slice();
        for start in (0..n).step_by(ROWS) {
            let end = (start + ROWS).min(n);
            let (v, v_rest) = std::mem::take(&mut values).split_at_mut(rp[end] - rp[start]);
            let (b, b_rest) = std::mem::take(&mut rhs).split_at_mut(end - start);
            chunks.push((start, v, b));
            values = v_rest;
            rhs = b_rest;
        }
        chunks.into_par_iter().for_each(|(start, v, b)| {
            let offset = rp[start];
            for (r, bi) in b.iter_mut().enumerate() {
                let i = start + r;
                let range = rp[i] - offset..rp[i + 1] - offset;
                let cols = &ci[rp[i]..rp[i + 1]];
                let row = &mut v[range];
                if self.fixed[i] {
                    let mut d = 0.0;
                    for (a, &j) in row.iter_mut().zip(cols) {
                        if j == i {
                            d = *a;
                        }
                        *a = 0.0;
                    }
                    if d == 0.0 || !d.is_finite() {
                        d = 1.0;
                    }
                    if let Ok(k) = cols.binary_search(&i) {
                        row[k] = d;
                    }
                    *bi = d * self.values[i];
                } else {
                    for (a, &j) in row.iter_mut().zip(cols) {
                        if self.fixed[j] {
                            *bi -= *a * self.values[j];
                            *a = 0.0;
                        }
                    }
                }
            }
        });
        Ok(())
    }
}
