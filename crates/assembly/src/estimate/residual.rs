//! The residual estimator: per cell `K`,
//!
//! `eta_K^2 = a_K^2 ||f + div(k grad u_h) - c u_h||_K^2
//!          + 1/2 sum_{F interior} k^(-1/2) a_F ||[k grad u_h . n]||_F^2
//!          + sum_{F Neumann/Robin} k^(-1/2) a_F ||g - alpha u_h - k grad u_h . n||_F^2`,
//!
//! with Verfürth's robust weights `a_S = min(h_S k^(-1/2), c^(-1/2))` (`k` the smallest and `c`
//! the largest value at the cell's quadrature points; `a_S = h_S` for `k = 1`, `c = 0`), so that
//! the effectivity does not degrade for small `k` or large `c` (boundary layers),
//!
//! where exterior facets without a condition count as Neumann with `g = 0` (the assembler's
//! natural condition) and Dirichlet facets contribute nothing. `h_K` is the cell's diameter,
//! `h_F` the facet's (in 1D, where a facet is a point: `h_K` on the boundary, the mean of the
//! two cells' lengths inside). Each interior jump is integrated once, by the cell with the
//! smaller facet index, and shared by both cells ([`finish`]).
//!
//! `div(k grad u_h)` is taken by central differences (step [`FD_STEP`] in reference
//! coordinates) of the flux `k grad u_h`, with `k` sampled through the coefficients like in
//! assembly: exact up to rounding (about 1e-12 relative) when the flux is quadratic in the
//! reference coordinates (P2 on affine cells with constant `k`), with a relative error of
//! order `FD_STEP^2` otherwise, and the same code for every element, non-affine and curved
//! cells (curved meshes are not covered by the tests). It is skipped, being zero, for P1 on
//! affine cells with constant `k`, and taken once per cell, being constant, for P2 there.

use std::ops::Range;

use femscale_core::{BoundaryKind, CellKind, EllipticForm, MeshView, Order, Result};

use super::topology::{Across, Topology, canonical_order};
use crate::boundary::finite;
use crate::coefficients::{Coefficients, Scratch};
use crate::element::{Element, Jacobian, Tables, cell_coords};
use crate::quadrature::{self, QuadratureRule};

/// The central-difference step, in reference coordinates, of `div(k grad u_h)`.
pub const FD_STEP: f64 = 1e-3;

/// Everything the per-cell kernel needs, built once per estimate.
pub(crate) struct Residual<'a> {
    pub mesh: &'a MeshView<'a>,
    pub form: &'a EllipticForm,
    pub uh: &'a [f64],
    pub topology: Topology,
    coefs: Coefficients<'a>,
    diffusion: Coefficients<'a>,
    /// The cell element on a rule of degree `2 p` (the facet rules have the same degree):
    /// exact for the squared residuals of data of the element's degree with constant `k`.
    pub element: Element,
    /// The basis at the points of `element` moved by `+-FD_STEP` along each reference axis
    /// (`2 D` points per point: `+e_0, -e_0, +e_1, ...`), when the divergence is needed.
    shifted: Option<Element>,
    /// Whether `div(k grad u_h)` is one constant per cell (P2 on affine cells, constant `k`),
    /// taken once at the first point.
    constant_divergence: bool,
    /// The basis at each local facet's rule points, walked in each vertex order:
    /// `facets[f * perms.len() + p]`.
    facets: Vec<Element>,
    /// The facets' reference tangents (constant) in each vertex order, like `facets`.
    tangents: Vec<[[f64; 3]; 2]>,
    perms: Vec<Vec<usize>>,
}

impl<'a> Residual<'a> {
    pub fn new(mesh: &'a MeshView<'a>, form: &'a EllipticForm, uh: &'a [f64]) -> Result<Self> {
        let kind = mesh.cell_kind;
        let degree = 2 * mesh.order.get();
        let coefs = Coefficients::new(form, mesh)?;
        let diffusion = Coefficients::diffusion_only(form, mesh)?;
        let element = Element::of_mesh(mesh, degree)?;
        let flat = coefs.constant_diffusion().is_some() && element.constant_gradients();
        let shifted = (!flat).then(|| shifted_element(&element, mesh, degree));
        let constant_divergence = element.is_affine() && coefs.constant_diffusion().is_some();
        let local = kind.local_facets();
        let nv = local[0].len();
        let perms = permutations(nv);
        let facet_rule = match kind.facet_kind() {
            Some(f) => quadrature::rule(f, degree).ok_or_else(|| {
                femscale_core::Error::invalid("quadrature_degree", "no facet rule")
            })?,
            None => QuadratureRule {
                points: vec![[0.0; 3]],
                weights: vec![1.0],
                degree: 1,
            },
        };
        let (mut facets, mut tangents) = (Vec::new(), Vec::new());
        for lv in local {
            for perm in &perms {
                let (rule, t) = facet_points(kind, lv, perm, &facet_rule);
                facets.push(Element::on_rule(kind, mesh.order, mesh.curved, &rule));
                tangents.push(t);
            }
        }
        Ok(Self {
            mesh,
            form,
            uh,
            topology: Topology::new(mesh, form)?,
            coefs,
            diffusion,
            element,
            shifted,
            constant_divergence,
            facets,
            tangents,
            perms,
        })
    }

    /// The constant `k` when every cell's flux `k grad u_h` is one constant (P1 on affine
    /// simplices with one constant `k`, in 2D and 3D): interior jumps are then taken in
    /// closed form from the fluxes of [`fluxes_chunk`].
    pub(crate) fn flat_diffusion(&self) -> Option<f64> {
        (self.mesh.cell_kind.dim() >= 2 && self.element.constant_gradients())
            .then(|| self.coefs.constant_diffusion())
            .flatten()
    }

    /// The index in `facets` of local facet `f` of `cell` walked in the canonical vertex
    /// order.
    fn facet_of(&self, cell: usize, f: usize) -> usize {
        let nodes = self.mesh.cell(cell);
        let lv = self.mesh.cell_kind.local_facets()[f];
        let mut global = [0; 4];
        for (g, &v) in global.iter_mut().zip(lv) {
            *g = nodes[v];
        }
        let order = canonical_order(&global[..lv.len()]);
        let p = (self.perms.iter())
            .position(|perm| perm[..] == order[..lv.len()])
            .unwrap_or(0);
        f * self.perms.len() + p
    }
}

/// The element on the points of `e`'s rule moved by `+-FD_STEP` along each reference axis.
fn shifted_element(e: &Element, mesh: &MeshView<'_>, degree: usize) -> Element {
    let dim = e.kind.dim();
    let rule = quadrature::rule(e.kind, degree)
        .unwrap_or_else(|| quadrature::rule(e.kind, 1).expect("every kind has a degree-1 rule"));
    let mut points = Vec::with_capacity(rule.len() * 2 * dim);
    for p in &rule.points {
        for d in 0..dim {
            for s in [FD_STEP, -FD_STEP] {
                let mut q = *p;
                q[d] += s;
                points.push(q);
            }
        }
    }
    let weights = vec![0.0; points.len()];
    let shifted = QuadratureRule {
        points,
        weights,
        degree: 0,
    };
    Element::on_rule(e.kind, mesh.order, mesh.curved, &shifted)
}

/// All orderings of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..n {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

/// The cell-reference points of a facet rule on the local facet with vertices `lv` whose
/// facet vertex `a` is `lv[perm[a]]`, and the facet's reference tangents.
fn facet_points(
    kind: CellKind,
    lv: &[usize],
    perm: &[usize],
    rule: &QuadratureRule,
) -> (QuadratureRule, [[f64; 3]; 2]) {
    let x = kind.reference_vertices();
    let vertex = |a: usize| x[lv[perm[a]]];
    let Some(fk) = kind.facet_kind() else {
        let p = vertex(0);
        return (
            QuadratureRule {
                points: vec![p],
                weights: vec![1.0],
                degree: rule.degree,
            },
            [[0.0; 3]; 2],
        );
    };
    let n = fk.num_vertices();
    let (mut phi, mut dphi) = (vec![0.0; n], vec![[0.0; 3]; n]);
    let mut points = Vec::with_capacity(rule.len());
    let mut tangents = [[0.0; 3]; 2];
    for (q, s) in rule.points.iter().enumerate() {
        crate::element::basis(fk, Order::Linear, *s, &mut phi, &mut dphi);
        let mut p = [0.0; 3];
        for a in 0..n {
            for i in 0..3 {
                p[i] += phi[a] * vertex(a)[i];
                if q == 0 {
                    tangents[0][i] += dphi[a][0] * vertex(a)[i];
                    tangents[1][i] += dphi[a][1] * vertex(a)[i];
                }
            }
        }
        points.push(p);
    }
    let rule = QuadratureRule {
        points,
        weights: rule.weights.clone(),
        degree: rule.degree,
    };
    (rule, tangents)
}

/// The flux `k grad u_h` at table point `q` of a cell with values `v`.
#[inline]
fn flux<const N: usize, const D: usize>(
    jac: &Jacobian<D>,
    dphi: &[[f64; D]; N],
    v: &[f64; N],
    k: f64,
) -> [f64; D] {
    let mut grad = [[0.0; D]; N];
    jac.gradients(dphi, &mut grad);
    let mut g = [0.0; D];
    for (va, ga) in v.iter().zip(&grad) {
        for d in 0..D {
            g[d] += va * ga[d];
        }
    }
    g.map(|x| k * x)
}

/// The largest distance between two of the points.
fn diameter<const D: usize>(x: &[[f64; D]]) -> f64 {
    let mut h: f64 = 0.0;
    for (i, a) in x.iter().enumerate() {
        for b in &x[i + 1..] {
            h = h.max((0..D).map(|d| (a[d] - b[d]).powi(2)).sum::<f64>());
        }
    }
    h.sqrt()
}

/// Verfürth's robust weight `alpha_S = min(h_S / sqrt(k), 1 / sqrt(c))` of a cell or facet of
/// diameter `h` (`h / sqrt(k)` without reaction): with it the estimator bounds the energy norm
/// `(||k^(1/2) grad e||^2 + ||c^(1/2) e||^2)^(1/2)` uniformly in `k` and `c` (reaction-dominated
/// layers included); it is `h` for `k = 1`, `c = 0`.
fn robust_weight(h: f64, k: f64, c: f64) -> f64 {
    let diffusive = h / k.sqrt();
    if c > 0.0 {
        diffusive.min(1.0 / c.sqrt())
    } else {
        diffusive
    }
}

/// The constant flux `k grad u_h` of each of the cells `cells` (one parallel task) when
/// [`Residual::flat_diffusion`] is `k`, padded to three components.
pub(crate) fn fluxes_chunk<const N: usize, const D: usize, const G: usize>(
    r: &Residual<'_>,
    k: f64,
    cells: Range<usize>,
) -> Result<Vec<[f64; 3]>> {
    let mesh = r.mesh;
    let t = Tables::<N, D, G>::of(&r.element);
    Ok(cells
        .map(|c| {
            let nodes = mesh.cell(c);
            let x = cell_coords::<D, G>(mesh, nodes);
            let v: [f64; N] = std::array::from_fn(|a| r.uh[nodes[a]]);
            let f = flux(&Jacobian::of(&x, &t.gdphi[0]), &t.dphi[0], &v, k);
            std::array::from_fn(|d| if d < D { f[d] } else { 0.0 })
        })
        .collect())
}

/// The [`CellPart`]s of the cells `cells` (one parallel task); `fluxes` are every cell's
/// from [`fluxes_chunk`] when the fluxes are constant per cell.
pub(crate) fn chunk<const N: usize, const D: usize, const G: usize>(
    r: &Residual<'_>,
    fluxes: Option<&[[f64; 3]]>,
    cells: Range<usize>,
) -> Result<Vec<CellPart>> {
    let mesh = r.mesh;
    let t = Tables::<N, D, G>::of(&r.element);
    let ts = r.shifted.as_ref().map(Tables::<N, D, G>::of);
    let nq = t.nq;
    let scratch = super::sample_cells(&t, mesh, &r.coefs, cells.clone(), false)?;
    let shifted = (ts.as_ref())
        .map(|ts| super::sample_cells(ts, mesh, &r.diffusion, cells.clone(), false))
        .transpose()?;
    let facet_tables: Vec<Tables<N, D, G>> = r.facets.iter().map(Tables::of).collect();
    let nf = r.topology.facets_per_cell;
    let mut out = Vec::with_capacity(cells.len());
    let mut facet = FacetScratch::default();
    for (i, c) in cells.enumerate() {
        let nodes = mesh.cell(c);
        let x = cell_coords::<D, G>(mesh, nodes);
        let v: [f64; N] = std::array::from_fn(|a| r.uh[nodes[a]]);
        let vertices = &x[..mesh.cell_kind.num_vertices().min(G)];
        let h = diameter(vertices);
        // Volume residual.
        let mut volume = 0.0;
        let mut jac = Jacobian::<D>::of(&x, &t.gdphi[0]);
        let mut div = 0.0;
        for q in 0..nq {
            super::jacobian_at(&t, &x, q, &mut jac, (c, nodes))?;
            let u: f64 = v.iter().zip(&t.phi[q]).map(|(a, b)| a * b).sum();
            let j = i * nq + q;
            let mut res = scratch.f[j] - scratch.c[j] * u;
            if let (Some(ts), Some(s)) = (&ts, &shifted)
                && (q == 0 || !r.constant_divergence)
            {
                div = divergence(ts, s, &x, &v, &jac, i, q);
            }
            res += div;
            volume += t.weights[q] * jac.det * res * res;
        }
        let cell_q = i * nq..(i + 1) * nq;
        let kmin = scratch.k[cell_q.clone()]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let cmax = scratch.c[cell_q].iter().copied().fold(0.0, f64::max);
        let mut eta2 = robust_weight(h, kmin, cmax).powi(2) * volume;
        // Facet residuals weigh with `alpha_F / sqrt(k)`: `h_F` when `k = 1` and `c = 0`.
        let facet_weight = |hf: f64| robust_weight(hf, kmin, cmax) / kmin.sqrt();
        let mut jumps = [f64::NAN; MAX_FACETS];
        // Facet residuals; a jump is computed by the side with the smaller facet index.
        for f in 0..nf {
            let id = c * nf + f;
            let across = r.topology.across(id);
            match across {
                Across::Dirichlet => continue,
                Across::Cell(o) if o < id => continue,
                _ => {}
            }
            let lv = mesh.cell_kind.local_facets()[f];
            let mut fx = [[0.0; D]; 4];
            for (y, &a) in fx.iter_mut().zip(lv) {
                *y = x[a];
            }
            let hf = if D == 1 { h } else { diameter(&fx[..lv.len()]) };
            let sourced = r.topology.has_conditions(id);
            if let (Some(fluxes), Across::Cell(o), false) = (fluxes, across, sourced) {
                // Constant fluxes on both sides: the jump's integral is `|F| [k grad u_h . n]^2`.
                let (own, other) = (&fluxes[c], &fluxes[o / nf]);
                let (n, area) = simplex_facet_normal(&fx[..lv.len()]);
                let jump: f64 = (0..D).map(|d| (own[d] - other[d]) * n[d]).sum();
                jumps[f] = facet_weight(hf) * area * jump * jump;
                continue;
            }
            let fi = r.facet_of(c, f);
            facet.side(r, &facet_tables[fi], &r.tangents[fi], c, &x, &v, true)?;
            match across {
                Across::Cell(o) => {
                    let (oc, of) = (o / nf, o % nf);
                    let onodes = mesh.cell(oc);
                    let ox = cell_coords::<D, G>(mesh, onodes);
                    let ov: [f64; N] = std::array::from_fn(|a| r.uh[onodes[a]]);
                    let oi = r.facet_of(oc, of);
                    let own = std::mem::take(&mut facet.flux_n);
                    facet.side(r, &facet_tables[oi], &r.tangents[oi], oc, &ox, &ov, false)?;
                    let s: f64 = if sourced {
                        // An interface source: the jump `[k grad u_h . n]` balances it.
                        for (other, own) in facet.flux_n.iter_mut().zip(&own) {
                            *other = own - *other;
                        }
                        facet.natural(r, id)?
                    } else {
                        (facet.weights.iter().zip(own.iter().zip(&facet.flux_n)))
                            .map(|(w, (a, b))| w * (a - b).powi(2))
                            .sum()
                    };
                    facet.flux_n = own;
                    // In 1D both sides weigh the jump with the mean of their diameters.
                    let hf = if D == 1 {
                        (h + diameter(&ox[..mesh.cell_kind.num_vertices().min(G)])) / 2.0
                    } else {
                        hf
                    };
                    jumps[f] = facet_weight(hf) * s;
                }
                _ => eta2 += facet_weight(hf) * facet.natural(r, id)?,
            }
        }
        out.push((eta2, jumps));
    }
    Ok(out)
}

/// The most facets a cell has (a hexahedron's six).
pub(crate) const MAX_FACETS: usize = 6;

/// One cell's volume and boundary terms, and `h_F ||[k grad u_h . n]||_F^2` of each interior
/// facet it computed (NaN for the others); [`finish`] adds half of each jump to both sides.
pub(crate) type CellPart = (f64, [f64; MAX_FACETS]);

/// `eta_K^2` of every cell from the [`chunk`] results of all cells.
pub(crate) fn finish(r: &Residual<'_>, parts: &[CellPart]) -> Vec<f64> {
    use rayon::prelude::*;
    let nf = r.topology.facets_per_cell;
    (0..parts.len())
        .into_par_iter()
        .map(|c| {
            let mut eta2 = parts[c].0;
            for f in 0..nf {
                let id = c * nf + f;
                if let Across::Cell(o) = r.topology.across(id) {
                    let jump = if id < o {
                        parts[c].1[f]
                    } else {
                        parts[o / nf].1[o % nf]
                    };
                    eta2 += 0.5 * jump;
                }
            }
            eta2
        })
        .collect()
}

/// `div(k grad u_h)` at point `q` of cell `i` of the chunk, by central differences of the
/// flux at the shifted points: `sum_i sum_j (J^-1)_ji dF_i/dxi_j`.
fn divergence<const N: usize, const D: usize, const G: usize>(
    ts: &Tables<N, D, G>,
    s: &Scratch,
    x: &[[f64; D]; G],
    v: &[f64; N],
    jac: &Jacobian<D>,
    i: usize,
    q: usize,
) -> f64 {
    // dF[comp][j] = dF_comp / dxi_j.
    let mut df = [[[0.0; D]; 1]; D];
    for j in 0..D {
        let mut pm = [[0.0; D]; 2];
        for (side, out) in pm.iter_mut().enumerate() {
            let p = q * 2 * D + 2 * j + side;
            let pj = if ts.affine {
                *jac
            } else {
                Jacobian::of(x, &ts.gdphi[p])
            };
            *out = flux(&pj, &ts.dphi[p], v, s.k[i * ts.nq + p]);
        }
        for comp in 0..D {
            df[comp][0][j] = (pm[0][comp] - pm[1][comp]) / (2.0 * FD_STEP);
        }
    }
    let mut div = 0.0;
    let mut g = [[0.0; D]; 1];
    for (comp, d) in df.iter().enumerate() {
        jac.gradients(d, &mut g);
        div += g[0][comp];
    }
    div
}

/// One side's values at the points of a facet: points, weights times the surface measure,
/// the outward normal of the cell that computed them first, and `k grad u_h . n`.
#[derive(Default)]
struct FacetScratch {
    points: Vec<[f64; 3]>,
    weights: Vec<f64>,
    normals: Vec<[f64; 3]>,
    k: Vec<f64>,
    u: Vec<f64>,
    flux_n: Vec<f64>,
}

impl FacetScratch {
    /// Fills the values of `cell` (geometry `x`, values `v`) at the points of the facet
    /// tables `ft`; with `first`, also the points, weights and normals (outward from `cell`).
    #[allow(clippy::too_many_arguments)]
    fn side<const N: usize, const D: usize, const G: usize>(
        &mut self,
        r: &Residual<'_>,
        ft: &Tables<N, D, G>,
        tan: &[[f64; 3]; 2],
        cell: usize,
        x: &[[f64; D]; G],
        v: &[f64; N],
        first: bool,
    ) -> Result<()> {
        let nq = ft.nq;
        if first {
            self.points.resize(nq, [0.0; 3]);
            ft.map_points(x, &mut self.points);
            self.weights.clear();
            self.normals.clear();
            let centre = centroid(x, r.mesh.cell_kind.num_vertices().min(G));
            for q in 0..nq {
                let (n, measure) = normal(x, &ft.gdphi[q], tan);
                let p = self.points[q];
                let outward: f64 = (0..D).map(|d| n[d] * (p[d] - centre[d])).sum();
                let n = if outward < 0.0 { n.map(|c| -c) } else { n };
                self.normals.push(n);
                self.weights.push(ft.weights[q] * measure);
            }
        }
        self.k.resize(nq, 0.0);
        r.diffusion
            .diffusion_on_cell(r.mesh, cell, &self.points, &mut self.k)?;
        self.flux_n.clear();
        self.u.clear();
        let mut jac = Jacobian::<D>::of(x, &ft.gdphi[0]);
        for q in 0..nq {
            if q > 0 && !ft.affine {
                jac = Jacobian::of(x, &ft.gdphi[q]);
            }
            let fl = flux(&jac, &ft.dphi[q], v, self.k[q]);
            self.flux_n
                .push((0..D).map(|d| fl[d] * self.normals[q][d]).sum());
            self.u
                .push(v.iter().zip(&ft.phi[q]).map(|(a, b)| a * b).sum());
        }
        Ok(())
    }

    /// `||g - alpha u_h - k grad u_h . n||_F^2` with the conditions on cell facet `id`.
    fn natural(&self, r: &Residual<'_>, id: usize) -> Result<f64> {
        let mut s = 0.0;
        for q in 0..self.points.len() {
            let p = self.points[q];
            let mut res = -self.flux_n[q];
            for i in r.topology.conditions(id) {
                match &r.form.boundary[i].kind {
                    BoundaryKind::Neumann { flux } => res += datum(i, "value", flux.eval(p), p)?,
                    BoundaryKind::Robin { alpha, value } => {
                        res += datum(i, "value", value.eval(p), p)?;
                        res -= datum(i, "alpha", alpha.eval(p), p)? * self.u[q];
                    }
                    other => {
                        return Err(femscale_core::Error::invalid(
                            format!("boundary[{i}].kind"),
                            format!(
                                "boundary condition `{}` is not supported by the estimators",
                                other.name()
                            ),
                        ));
                    }
                }
            }
            s += self.weights[q] * res * res;
        }
        Ok(s)
    }
}

/// `v` when finite, else the error naming `boundary[i].<name>` (formatted only then).
fn datum(i: usize, name: &str, v: f64, p: [f64; 3]) -> Result<f64> {
    if v.is_finite() {
        return Ok(v);
    }
    finite(&format!("boundary[{i}].{name}"), v, p)
}

/// The mean of the first `n` geometry nodes (the vertices), padded to three components.
fn centroid<const D: usize, const G: usize>(x: &[[f64; D]; G], n: usize) -> [f64; 3] {
    let mut c = [0.0; 3];
    for xa in &x[..n] {
        for d in 0..D {
            c[d] += xa[d] / n as f64;
        }
    }
    c
}

/// A unit normal (sign not fixed) and the measure of the straight facet with vertices `x`: a
/// segment in 2D, a triangle in 3D.
fn simplex_facet_normal<const D: usize>(x: &[[f64; D]]) -> ([f64; D], f64) {
    let at = |a: usize, d: usize| if d < D { x[a][d] } else { 0.0 };
    let n = if D == 2 {
        [at(1, 1) - at(0, 1), at(0, 0) - at(1, 0), 0.0]
    } else {
        let e: [[f64; 3]; 2] = [1, 2].map(|a| std::array::from_fn(|d| at(a, d) - at(0, d)));
        [
            e[0][1] * e[1][2] - e[0][2] * e[1][1],
            e[0][2] * e[1][0] - e[0][0] * e[1][2],
            e[0][0] * e[1][1] - e[0][1] * e[1][0],
        ]
    };
    let m = n.iter().map(|c| c * c).sum::<f64>().sqrt();
    let area = if D == 2 { m } else { m / 2.0 };
    if m == 0.0 {
        return ([0.0; D], 0.0);
    }
    (std::array::from_fn(|d| n[d] / m), area)
}

/// A unit normal of the facet at a point (sign not fixed) and the surface measure, from the
/// physical tangents `sum_a x_a (grad_ref phi_a . t)` of the reference tangents `tan`.
fn normal<const D: usize, const G: usize>(
    x: &[[f64; D]; G],
    gd: &[[f64; D]; G],
    tan: &[[f64; 3]; 2],
) -> ([f64; 3], f64) {
    let mut t = [[0.0; 3]; 2];
    for (tj, ref_t) in t.iter_mut().zip(tan) {
        for a in 0..G {
            let s: f64 = (0..D).map(|d| gd[a][d] * ref_t[d]).sum();
            for d in 0..D {
                tj[d] += x[a][d] * s;
            }
        }
    }
    let n = match D {
        1 => [1.0, 0.0, 0.0],
        2 => [t[0][1], -t[0][0], 0.0],
        _ => [
            t[0][1] * t[1][2] - t[0][2] * t[1][1],
            t[0][2] * t[1][0] - t[0][0] * t[1][2],
            t[0][0] * t[1][1] - t[0][1] * t[1][0],
        ],
    };
    let m = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    if D == 1 || m == 0.0 {
        return (n, if D == 1 { 1.0 } else { 0.0 });
    }
    (n.map(|c| c / m), m)
}
