//! Natural boundary conditions: Neumann and Robin terms integrated over boundary facets.
//!
//! Crate-private on purpose: [`Assembler::assemble_into`](femscale_core::Assembler::assemble_into)
//! and [`Assembler::assemble_rhs`](femscale_core::Assembler::assemble_rhs) of both assemblers
//! add these terms themselves. A public "add the boundary terms" step after them would add
//! them a second time, silently (issue 16).

use femscale_core::{
    BoundaryKind, CsrMatrix, EllipticForm, Error, LinearSystem, MeshView, Result, ScalarField,
};

use crate::element::Element;

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
    let facet_element = match mesh.cell_kind.facet_kind() {
        Some(kind) => {
            let degree = 2 * mesh.order.get() + 1;
            Some(Element::new(kind, mesh.order, mesh.curved, degree)?)
        }
        None => None,
    };
    let npf = mesh.nodes_per_facet();
    let mut points: Vec<FacetPoint> = Vec::new();
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
        for facet in part.facets.chunks_exact(npf) {
            facets += 1;
            match &facet_element {
                // Points in 1D.
                None => {
                    points.clear();
                    points.push((mesh.point(facet[0]), 1.0, 0));
                }
                Some(e) => facet_points(mesh, e, facet, &mut points)?,
            }
            for &(p, w, q) in &points {
                // The facet basis at point `q` (the point itself in 1D).
                let phi = match &facet_element {
                    Some(e) => &e.phi[q * npf..(q + 1) * npf],
                    None => &[1.0][..],
                };
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

/// The quadrature points of one facet (nodes `facet`, in the facet kind's layout) with their
/// weights times the surface measure. The geometry runs through the facet's vertices
/// (straight edges, flat triangles, bilinear quadrilaterals), or all its nodes on a curved mesh;
/// the measure is the length of the tangent, or of the cross product of the two tangents.
///
/// # Errors
/// [`Error::Mesh`] for a facet of zero measure.
fn facet_points(
    mesh: &MeshView<'_>,
    e: &Element,
    facet: &[usize],
    out: &mut Vec<FacetPoint>,
) -> Result<()> {
    out.clear();
    for q in 0..e.nq {
        let (mut p, mut t) = ([0.0; 3], [[0.0; 3]; 2]);
        for (a, &node) in facet[..e.ng].iter().enumerate() {
            let xa = mesh.point(node);
            let (phi, d) = (e.gphi[q * e.ng + a], e.gdphi[q * e.ng + a]);
            for i in 0..3 {
                p[i] += phi * xa[i];
                t[0][i] += d[0] * xa[i];
                t[1][i] += d[1] * xa[i];
            }
        }
        let measure = if e.kind.dim() == 1 {
            norm(t[0])
        } else {
            let [u, v] = t;
            norm([
                u[1] * v[2] - u[2] * v[1],
                u[2] * v[0] - u[0] * v[2],
                u[0] * v[1] - u[1] * v[0],
            ])
        };
        if measure.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(Error::Mesh {
                location: None,
                message: format!("boundary facet {facet:?} has zero measure"),
            });
        }
        out.push((p, e.weights[q] * measure, q));
    }
    Ok(())
}

fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

/// A quadrature point on a facet: its coordinates, its weight times the surface measure, and
/// its index in the facet element's rule.
type FacetPoint = ([f64; 3], f64, usize);
