//! Natural boundary conditions: Neumann and Robin terms integrated over boundary facets.
//!
//! Crate-private on purpose: [`Assembler::assemble_into`](femscale_core::Assembler::assemble_into)
//! and [`Assembler::assemble_rhs`](femscale_core::Assembler::assemble_rhs) of both assemblers
//! add these terms themselves. A public "add the boundary terms" step after them would add
//! them a second time, silently (issue 16).

use femscale_core::{
    BoundaryKind, CsrMatrix, EllipticForm, Error, LinearSystem, MeshView, Result, ScalarField,
};

use crate::quadrature;

/// Checks that every boundary condition names an existing boundary part.
///
/// # Errors
/// [`Error::UnknownName`] with field `boundary[i].where`.
pub fn check_boundary_parts(mesh: &MeshView<'_>, form: &EllipticForm) -> Result<()> {
    for (i, bc) in form.boundary.iter().enumerate() {
        if mesh.boundary_part(&bc.part).is_none() {
            return Err(Error::UnknownName {
                field: format!("boundary[{i}].where").into(),
                what: "boundary part".into(),
                name: bc.part.clone(),
                known: mesh.boundary_names(),
            });
        }
    }
    Ok(())
}

pub(crate) fn finite(field: &str, v: f64, p: [f64; 3]) -> Result<f64> {
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

/// Adds the Neumann (`k du/dn = g`) and Robin (`k du/dn + alpha u = g`) terms of `form` to a
/// system whose volume terms were just assembled (the last step of `assemble_into`). Returns
/// the number of facets integrated.
///
/// # Errors
/// Unknown boundary parts, non-finite boundary data.
pub(crate) fn add_boundary_terms(
    mesh: &MeshView<'_>,
    form: &EllipticForm,
    system: &mut LinearSystem,
) -> Result<usize> {
    let LinearSystem { matrix, rhs } = system;
    boundary_terms(mesh, form, rhs, Some(matrix))
}

/// Adds only the right-hand-side part of the Neumann and Robin terms of `form` to `rhs` (the
/// Robin `alpha` term belongs to the matrix; the last step of `assemble_rhs`). Returns the
/// number of facets integrated.
///
/// # Errors
/// Unknown boundary parts, non-finite boundary data, `rhs` not one entry per node.
pub(crate) fn add_boundary_rhs(
    mesh: &MeshView<'_>,
    form: &EllipticForm,
    rhs: &mut [f64],
) -> Result<usize> {
    if rhs.len() != mesh.num_nodes() {
        return Err(Error::invalid(
            "system",
            format!("{} rhs entries for {} nodes", rhs.len(), mesh.num_nodes()),
        ));
    }
    boundary_terms(mesh, form, rhs, None)
}

/// Integrates the Neumann and Robin terms into `rhs` and, when given, the Robin matrix term
/// into `matrix`.
fn boundary_terms(
    mesh: &MeshView<'_>,
    form: &EllipticForm,
    rhs: &mut [f64],
    mut matrix: Option<&mut CsrMatrix>,
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
                let av = match (alpha, matrix.is_some()) {
                    (Some(a), true) => finite(&alpha_field, a.eval(p), p)? * w,
                    _ => 0.0,
                };
                for a in 0..npf {
                    rhs[facet[a]] += gv * phi[a];
                    if av != 0.0
                        && let Some(matrix) = matrix.as_deref_mut()
                    {
                        for b in 0..npf {
                            let k = matrix.pattern().find(facet[a], facet[b]).ok_or_else(|| {
                                Error::invalid(
                                    "pattern",
                                    format!(
                                        "boundary entry ({}, {}) is not in the pattern",
                                        facet[a], facet[b]
                                    ),
                                )
                            })?;
                            matrix.values_mut()[k] += av * phi[a] * phi[b];
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
