//! The Zienkiewicz–Zhu estimator and the true element errors.
//!
//! Recovery: at every node `i`, `G_i` is the average of the flux `k grad u_h` of the cells
//! around it, evaluated at the node, weighted by the cells' measures (for P1: the area-weighted
//! average of the cells' constant gradients) — in 1D by their inverse lengths, which
//! interpolates the two cells' midpoint values; `G` is interpolated with the element's own
//! basis, and `eta_K = ||k^(-1/2) (G - k grad u_h)||_K` (the energy norm of the flux error).

use std::ops::Range;

use femscale_core::{MeshView, Result, ScalarField};

use crate::coefficients::Coefficients;
use crate::element::{Element, Jacobian, Tables, cell_coords};
use crate::quadrature::QuadratureRule;

/// The flux `k grad u_h` (padded to three components) of a cell with values `v`.
#[inline]
fn flux<const N: usize, const D: usize>(
    jac: &Jacobian<D>,
    dphi: &[[f64; D]; N],
    v: &[f64; N],
    k: f64,
) -> [f64; 3] {
    let mut grad = [[0.0; D]; N];
    jac.gradients(dphi, &mut grad);
    let mut g = [0.0; 3];
    for (va, ga) in v.iter().zip(&grad) {
        for d in 0..D {
            g[d] += k * va * ga[d];
        }
    }
    g
}

/// The element of `mesh` on its own nodes (for values at the nodes).
pub(crate) fn nodal_element(mesh: &MeshView<'_>) -> Element {
    let points = mesh.cell_kind.reference_nodes(mesh.order);
    let rule = QuadratureRule {
        weights: vec![0.0; points.len()],
        points,
        degree: 0,
    };
    Element::on_rule(mesh.cell_kind, mesh.order, mesh.curved, &rule)
}

/// Each cell's measure times its flux at each of its nodes, `[measure * flux, measure]`
/// per cell node (cell-major), for the cells `cells`.
pub(crate) fn nodal_fluxes<const N: usize, const D: usize, const G: usize>(
    mesh: &MeshView<'_>,
    element: &Element,
    nodal: &Element,
    coefs: &Coefficients<'_>,
    uh: &[f64],
    cells: Range<usize>,
) -> Result<Vec<[f64; 4]>> {
    let (t, tn) = (Tables::<N, D, G>::of(element), Tables::<N, D, G>::of(nodal));
    let scratch = super::sample_cells(&tn, mesh, coefs, cells.clone(), false)?;
    let mut out = Vec::with_capacity(cells.len() * N);
    for (i, c) in cells.enumerate() {
        let nodes = mesh.cell(c);
        let x = cell_coords::<D, G>(mesh, nodes);
        let v: [f64; N] = std::array::from_fn(|a| uh[nodes[a]]);
        let measure: f64 = (0..t.nq)
            .map(|q| t.weights[q] * Jacobian::<D>::of(&x, &t.gdphi[q]).det)
            .sum();
        let mut jac = Jacobian::<D>::of(&x, &tn.gdphi[0]);
        for a in 0..N {
            if a > 0 && !tn.affine {
                jac = Jacobian::of(&x, &tn.gdphi[a]);
            }
            let g = flux(&jac, &tn.dphi[a], &v, scratch.k[i * N + a]);
            out.push([measure * g[0], measure * g[1], measure * g[2], measure]);
        }
    }
    Ok(out)
}

/// The constant `k` when the closed forms below apply: elements with constant gradients (P1
/// on straight-sided simplices) and one constant diffusion on the whole mesh.
pub(crate) fn closed_form(coefs: &Coefficients<'_>, element: &Element) -> Option<f64> {
    coefs
        .constant_diffusion()
        .filter(|_| element.constant_gradients())
}

/// For elements with constant gradients (P1 on simplices) and one constant `k`: each cell's
/// `[|K| k grad u_h, |K|]`, the same at every node of the cell.
pub(crate) fn cell_fluxes<const N: usize, const D: usize, const G: usize>(
    mesh: &MeshView<'_>,
    element: &Element,
    k: f64,
    uh: &[f64],
    cells: Range<usize>,
) -> Result<Vec<[f64; 4]>> {
    let t = Tables::<N, D, G>::of(element);
    let reference: f64 = t.weights.iter().sum();
    let mut out = Vec::with_capacity(cells.len());
    for c in cells {
        let nodes = mesh.cell(c);
        let x = cell_coords::<D, G>(mesh, nodes);
        let v: [f64; N] = std::array::from_fn(|a| uh[nodes[a]]);
        let jac = Jacobian::<D>::of(&x, &t.gdphi[0]);
        let measure = reference * jac.det;
        let g = flux(&jac, &t.dphi[0], &v, k);
        out.push([measure * g[0], measure * g[1], measure * g[2], measure]);
    }
    Ok(out)
}

/// [`recovery_chunk`] in closed form for elements with constant gradients and one constant
/// `k`, from the cells' `[|K| k grad u_h, |K|]` of [`cell_fluxes`] (`per_cell`, indexed by
/// cell): `G - k grad u_h` is then linear on the simplex `K`, with nodal values `e_a`, and
/// `∫_K φ_a φ_b = |K| (1 + δ_ab) / ((D+1)(D+2))` gives
/// `||G - k grad u_h||_K² = |K| (Σ_a |e_a|² + |Σ_a e_a|²) / ((D+1)(D+2))` — what the
/// quadrature (exact for it) computes, without its points. A cell whose measure is not
/// positive is refused, as the quadrature refuses its Jacobian.
pub(crate) fn recovery_closed<const N: usize, const D: usize, const G: usize>(
    mesh: &MeshView<'_>,
    per_cell: &[[f64; 4]],
    recovered: &[[f64; 3]],
    k: f64,
    cells: Range<usize>,
) -> Result<Vec<f64>> {
    // Divided by `k`: the flux error measured in the energy norm (see `recovery_chunk`).
    let scale = 1.0 / (((D + 1) * (D + 2)) as f64 * k);
    let mut out = Vec::with_capacity(cells.len());
    for c in cells {
        let nodes = mesh.cell(c);
        let [fx, fy, fz, measure] = per_cell[c];
        if measure.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(super::degenerate(c, nodes));
        }
        let fl = [fx / measure, fy / measure, fz / measure];
        let (mut squares, mut sum) = (0.0, [0.0; D]);
        for &node in &nodes[..N] {
            for d in 0..D {
                let e = recovered[node][d] - fl[d];
                squares += e * e;
                sum[d] += e;
            }
        }
        let total: f64 = sum.iter().map(|s| s * s).sum();
        out.push(scale * measure * (squares + total));
    }
    Ok(out)
}

/// `||k^(-1/2) (G - k grad u_h)||_K^2` of the cells `cells`, with the recovered nodal fluxes
/// `recovered`: the flux error in the energy norm `∫ k |grad e|²`, which the true errors
/// measure (without the weight, the estimate of a problem with `k = 1e-4` was 100 times too
/// small). The reaction's part of the energy, `∫ c e²`, is not estimated.
pub(crate) fn recovery_chunk<const N: usize, const D: usize, const G: usize>(
    mesh: &MeshView<'_>,
    element: &Element,
    coefs: &Coefficients<'_>,
    uh: &[f64],
    recovered: &[[f64; 3]],
    cells: Range<usize>,
) -> Result<Vec<f64>> {
    let t = Tables::<N, D, G>::of(element);
    let nq = t.nq;
    let scratch = super::sample_cells(&t, mesh, coefs, cells.clone(), false)?;
    let mut out = Vec::with_capacity(cells.len());
    for (i, c) in cells.enumerate() {
        let nodes = mesh.cell(c);
        let x = cell_coords::<D, G>(mesh, nodes);
        let v: [f64; N] = std::array::from_fn(|a| uh[nodes[a]]);
        let mut jac = Jacobian::<D>::of(&x, &t.gdphi[0]);
        let mut eta2 = 0.0;
        for q in 0..nq {
            super::jacobian_at(&t, &x, q, &mut jac, (c, nodes))?;
            let k = scratch.k[i * nq + q];
            let fl = flux(&jac, &t.dphi[q], &v, k);
            let mut g = [0.0; 3];
            for (a, &node) in nodes.iter().enumerate().take(N) {
                for d in 0..D {
                    g[d] += t.phi[q][a] * recovered[node][d];
                }
            }
            let diff: f64 = (0..D).map(|d| (g[d] - fl[d]).powi(2)).sum();
            eta2 += t.weights[q] * jac.det * diff / k;
        }
        out.push(eta2);
    }
    Ok(out)
}

/// The squared energy-norm errors `int_K k |grad(u - u_h)|^2 + c (u - u_h)^2` of the cells
/// `cells` against `exact`.
pub(crate) fn error_chunk<const N: usize, const D: usize, const G: usize>(
    mesh: &MeshView<'_>,
    element: &Element,
    coefs: &Coefficients<'_>,
    uh: &[f64],
    exact: &dyn ScalarField,
    cells: Range<usize>,
) -> Result<Vec<f64>> {
    let t = Tables::<N, D, G>::of(element);
    let nq = t.nq;
    let scratch = super::sample_cells(&t, mesh, coefs, cells.clone(), true)?;
    let len = cells.len() * nq;
    let points = &scratch.points[..len];
    let (mut u, mut g) = (vec![0.0; len], vec![[0.0; 3]; len]);
    exact.value_and_gradient_batch(points, &mut u, &mut g);
    if let Some(error) = crate::norms::non_finite_exact(points, &u, &g, 3) {
        return Err(error);
    }
    let mut out = Vec::with_capacity(cells.len());
    for (i, c) in cells.enumerate() {
        let nodes = mesh.cell(c);
        let x = cell_coords::<D, G>(mesh, nodes);
        let v: [f64; N] = std::array::from_fn(|a| uh[nodes[a]]);
        let mut jac = Jacobian::<D>::of(&x, &t.gdphi[0]);
        let mut e2 = 0.0;
        for q in 0..nq {
            super::jacobian_at(&t, &x, q, &mut jac, (c, nodes))?;
            let j = i * nq + q;
            let gh = flux(&jac, &t.dphi[q], &v, 1.0);
            let uq: f64 = v.iter().zip(&t.phi[q]).map(|(a, b)| a * b).sum();
            let grad: f64 = (0..D).map(|d| (gh[d] - g[j][d]).powi(2)).sum();
            // `|c|`: a negative reaction would make the density, and the sum, no norm.
            let density = scratch.k[j] * grad + scratch.c[j].abs() * (uq - u[j]).powi(2);
            e2 += t.weights[q] * jac.det * density;
        }
        out.push(e2);
    }
    Ok(out)
}
