//! A posteriori error estimation and marking for adaptive refinement of
//! `-div(k grad u) + c u = f`.
//!
//! * [`residual_estimate`]: the residual-based estimator (element residual, flux jumps across
//!   interior facets, Neumann/Robin residuals), see the `residual` module's formula.
//! * [`recovery_estimate`]: the Zienkiewicz–Zhu estimator `||G(u_h) - k grad u_h||_K` with the
//!   measure-weighted nodal average `G` of the flux (P1 and Q1).
//! * [`element_errors`]: the true squared energy-norm error of every cell against an exact
//!   solution, for the effectivity index ([`Estimate::effectivity`]).
//! * [`mark`]: Dörfler, maximum and fixed-fraction marking ([`Marking`]).
//!
//! Every function takes what the assembler and [`crate::error_norms`] take (the mesh view, the
//! form, the nodal solution) and works on every element (P1/P2 on intervals, triangles,
//! tetrahedra; Q1/Q2 on quadrilaterals and hexahedra; curved cells). Cells are processed in
//! parallel chunks whose results are concatenated in cell order, so the indicators do not
//! depend on the thread count.

mod marking;
mod recovery;
mod residual;
mod topology;

#[cfg(test)]
mod tests;

use std::ops::Range;

use femscale_core::{Deadline, EllipticForm, Error, MeshView, Order, Result, ScalarField};
use rayon::prelude::*;
use tracing::instrument;

pub use marking::{Marking, mark};
pub use residual::FD_STEP;

use crate::coefficients::{Coefficients, Scratch};
use crate::element::{Element, Jacobian, Tables, cell_coords, with_shape};
use recovery::{cell_fluxes, error_chunk, nodal_fluxes, recovery_chunk, recovery_closed};
use residual::{chunk as residual_chunk, fluxes_chunk};

/// Cells per parallel task.
const CELLS_PER_TASK: usize = 1024;

/// Per-cell indicators: `eta_K^2` (or squared errors) and their sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// `eta_K^2`, one per cell in the mesh's cell order.
    pub eta_squared: Vec<f64>,
    /// `sum_K eta_K^2`.
    pub total_squared: f64,
}

impl Estimate {
    fn from_cells(eta_squared: Vec<f64>) -> Self {
        let total_squared = eta_squared.iter().sum();
        Self {
            eta_squared,
            total_squared,
        }
    }

    /// `(sum_K eta_K^2)^(1/2)`.
    pub fn total(&self) -> f64 {
        self.total_squared.sqrt()
    }

    /// The effectivity index `total / true error` against the true errors `errors` (from
    /// [`element_errors`]); `None` when the true error is zero or not finite.
    pub fn effectivity(&self, errors: &Estimate) -> Option<f64> {
        let e = errors.total();
        (e > 0.0 && e.is_finite()).then(|| self.total() / e)
    }
}

/// Which estimator to run (the configuration's `adaptivity.estimator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Estimator {
    /// [`residual_estimate`].
    #[default]
    Residual,
    /// [`recovery_estimate`] (Zienkiewicz–Zhu).
    Recovery,
}

impl Estimator {
    /// The configuration's name: `residual` or `zz`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Residual => "residual",
            Self::Recovery => "zz",
        }
    }

    /// The estimator called `name` (`residual`, or `zz`/`recovery`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (field `adaptivity.estimator`) for any other name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "residual" => Ok(Self::Residual),
            "zz" | "recovery" => Ok(Self::Recovery),
            other => Err(Error::invalid(
                "adaptivity.estimator",
                format!(
                    "unknown estimator `{}`; expected `residual` or `zz`",
                    femscale_core::error::shown_token(other)
                ),
            )),
        }
    }
}

/// Runs `estimator` on `uh` within `deadline` (checked before every chunk of cells).
///
/// # Errors
/// As [`residual_estimate`], and [`Error::Timeout`] (phase `post`) once the deadline has
/// passed.
pub fn estimate_within(
    estimator: Estimator,
    mesh: &MeshView<'_>,
    form: &EllipticForm,
    uh: &[f64],
    deadline: &Deadline,
) -> Result<Estimate> {
    match estimator {
        Estimator::Residual => residual_within(mesh, form, uh, deadline),
        Estimator::Recovery => recovery_within(mesh, form, uh, deadline),
    }
}

/// The residual estimator's `eta_K^2` of the nodal solution `uh` of `form`.
///
/// # Errors
/// [`Error::InvalidInput`] if `uh` does not have one value per node, a coefficient or
/// boundary datum is not finite or the diffusion not positive; [`Error::Mesh`] for an invalid
/// or non-manifold mesh; [`Error::UnknownName`] for a condition on an unknown boundary part.
pub fn residual_estimate(mesh: &MeshView<'_>, form: &EllipticForm, uh: &[f64]) -> Result<Estimate> {
    residual_within(mesh, form, uh, &Deadline::unlimited())
}

/// The Zienkiewicz–Zhu estimator's `eta_K^2` of the nodal solution `uh` of `form`, for P1
/// and Q1 elements (on uniform meshes its effectivity tends to 1).
///
/// # Errors
/// As [`residual_estimate`], and [`Error::InvalidInput`] (field `adaptivity.estimator`) for
/// quadratic elements, whose averaged nodal gradients are not superconvergent (measured
/// effectivities 0.05 to 0.8, falling under refinement).
pub fn recovery_estimate(mesh: &MeshView<'_>, form: &EllipticForm, uh: &[f64]) -> Result<Estimate> {
    recovery_within(mesh, form, uh, &Deadline::unlimited())
}

/// The true squared errors `int_K k |grad(u - u_h)|^2 + |c| (u - u_h)^2` of every cell against
/// `exact` (its gradient from [`ScalarField::gradient`]), with the form's `k` and `c`: their
/// sum is the squared energy norm of the error without boundary (Robin) terms (with `|c|`, a
/// norm also where the reaction is negative).
///
/// # Errors
/// As [`residual_estimate`], and [`Error::InvalidInput`] (field `exact`) if the exact solution
/// or its gradient is not finite at a quadrature point.
pub fn element_errors(
    mesh: &MeshView<'_>,
    form: &EllipticForm,
    uh: &[f64],
    exact: &dyn ScalarField,
) -> Result<Estimate> {
    element_errors_within(mesh, form, uh, exact, &Deadline::unlimited())
}

/// [`element_errors`] within `deadline` (checked before every chunk of cells, where the exact
/// solution is evaluated).
///
/// # Errors
/// As [`element_errors`], and [`Error::Timeout`] (phase `post`) once the deadline has passed.
#[instrument(skip_all, name = "fem.post.element_errors")]
pub fn element_errors_within(
    mesh: &MeshView<'_>,
    form: &EllipticForm,
    uh: &[f64],
    exact: &dyn ScalarField,
    deadline: &Deadline,
) -> Result<Estimate> {
    check(mesh, form, uh)?;
    let coefs = Coefficients::new(form, mesh)?;
    let element = Element::of_mesh(mesh, 2 * mesh.order.get() + 2)?;
    let cells = chunked(mesh, deadline, |cells| {
        with_shape!(
            &element,
            error_chunk(mesh, &element, &coefs, uh, exact, cells)
        )
    })?;
    Ok(Estimate::from_cells(cells))
}

#[instrument(skip_all, name = "fem.post.residual_estimate")]
fn residual_within(
    mesh: &MeshView<'_>,
    form: &EllipticForm,
    uh: &[f64],
    deadline: &Deadline,
) -> Result<Estimate> {
    check(mesh, form, uh)?;
    let r = residual::Residual::new(mesh, form, uh)?;
    // Constant fluxes are computed once per cell, not again by each neighbour.
    let fluxes = (r.flat_diffusion())
        .map(|k| {
            chunked_flat(mesh, deadline, |cells| {
                with_shape!(&r.element, fluxes_chunk(&r, k, cells))
            })
        })
        .transpose()?;
    let parts = chunked_flat(mesh, deadline, |cells| {
        with_shape!(&r.element, residual_chunk(&r, fluxes.as_deref(), cells))
    })?;
    Ok(Estimate::from_cells(residual::finish(&r, &parts)))
}

#[instrument(skip_all, name = "fem.post.recovery_estimate")]
fn recovery_within(
    mesh: &MeshView<'_>,
    form: &EllipticForm,
    uh: &[f64],
    deadline: &Deadline,
) -> Result<Estimate> {
    check(mesh, form, uh)?;
    if mesh.order != Order::Linear {
        return Err(Error::invalid(
            "adaptivity.estimator",
            format!(
                "the Zienkiewicz-Zhu estimator averages P1/Q1 gradients; nodal averaging is not \
                 superconvergent for {} elements (use the residual estimator)",
                mesh.cell_kind.element_name_of(mesh.order)
            ),
        ));
    }
    if let Some(part) = topology::interior_condition(mesh, form)? {
        return Err(Error::invalid(
            "adaptivity.estimator",
            format!(
                "the boundary condition on `{part}` holds inside the mesh, where the flux may \
                 jump; the Zienkiewicz-Zhu estimator averages it across and would refine there \
                 however accurate the solution (use the residual estimator)"
            ),
        ));
    }
    let coefs = Coefficients::diffusion_only(form, mesh)?;
    let element = Element::of_mesh(mesh, 2 * mesh.order.get() + 2)?;
    let npc = mesh.nodes_per_cell();
    // P1 on simplices with one constant `k`: one flux per cell, and the integrals in closed
    // form (the same to rounding, a third of the work).
    let closed = recovery::closed_form(&coefs, &element);
    let mut sums = vec![[0.0; 4]; mesh.num_nodes()];
    // In 1D each cell's weight is the inverse of its length: between two cells the node gets
    // the value interpolated from their midpoints, where the P1 derivative is superconvergent
    // (weights by length let a long cell beside short ones recover its own flux, and its
    // indicator vanish whatever its error: the loop then never refines it).
    let by_inverse_length = mesh.dim == 1;
    // Gathered in cell order, so the sums do not depend on the thread count.
    let mut add = |node: usize, contribution: &[f64; 4]| {
        let [f0, f1, f2, m] = *contribution;
        let weighted = if by_inverse_length && m > 0.0 {
            [f0 / (m * m), f1 / (m * m), f2 / (m * m), 1.0 / m]
        } else {
            *contribution
        };
        for (s, c) in sums[node].iter_mut().zip(weighted) {
            *s += c;
        }
    };
    // The closed form's per-cell fluxes, kept for its indicators.
    let mut per_cell = Vec::new();
    if let Some(k) = closed {
        per_cell = chunked_flat(mesh, deadline, |cells| {
            with_shape!(&element, cell_fluxes(mesh, &element, k, uh, cells))
        })?;
        for (nodes, contribution) in mesh.cells.chunks_exact(npc).zip(&per_cell) {
            for &node in nodes {
                add(node, contribution);
            }
        }
    } else {
        let nodal = recovery::nodal_element(mesh);
        let per_node = chunked_flat(mesh, deadline, |cells| {
            with_shape!(
                &element,
                nodal_fluxes(mesh, &element, &nodal, &coefs, uh, cells)
            )
        })?;
        for (&node, contribution) in mesh.cells.iter().zip(&per_node) {
            add(node, contribution);
        }
    }
    let recovered: Vec<[f64; 3]> = sums
        .iter()
        .map(|s| {
            if s[3] > 0.0 {
                [s[0] / s[3], s[1] / s[3], s[2] / s[3]]
            } else {
                [0.0; 3]
            }
        })
        .collect();
    let cells = chunked(mesh, deadline, |cells| match closed {
        Some(k) => with_shape!(
            &element,
            recovery_closed(mesh, &per_cell, &recovered, k, cells)
        ),
        None => with_shape!(
            &element,
            recovery_chunk(mesh, &element, &coefs, uh, &recovered, cells)
        ),
    })?;
    Ok(Estimate::from_cells(cells))
}

/// The coefficients of `cells` sampled at the points of `t`'s rule mapped into each cell.
/// The mapped points are in the scratch when the caller `needs_points` or a coefficient is
/// sampled at them (constant coefficients are not), otherwise they are left unmapped.
pub(crate) fn sample_cells<const N: usize, const D: usize, const G: usize>(
    t: &Tables<N, D, G>,
    mesh: &MeshView<'_>,
    coefs: &Coefficients<'_>,
    cells: Range<usize>,
    needs_points: bool,
) -> Result<Scratch> {
    let nq = t.nq;
    let mut scratch = Scratch::new(cells.len() * nq, coefs);
    if needs_points || coefs.sampled_fields() > 0 {
        for (i, c) in cells.clone().enumerate() {
            let x = cell_coords::<D, G>(mesh, mesh.cell(c));
            t.map_points(&x, &mut scratch.points[i * nq..(i + 1) * nq]);
        }
    }
    coefs.sample(mesh, cells, nq, &mut scratch)?;
    Ok(scratch)
}

/// Moves `jac` to quadrature point `q` of cell `c` (recomputed only where the map is not
/// affine) and refuses a Jacobian that is not positive there.
pub(crate) fn jacobian_at<const N: usize, const D: usize, const G: usize>(
    t: &Tables<N, D, G>,
    x: &[[f64; D]; G],
    q: usize,
    jac: &mut Jacobian<D>,
    (c, nodes): (usize, &[usize]),
) -> Result<()> {
    if q > 0 && !t.affine {
        *jac = Jacobian::of(x, &t.gdphi[q]);
    }
    if jac.det.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(degenerate(c, nodes));
    }
    Ok(())
}

pub(crate) fn degenerate(c: usize, nodes: &[usize]) -> Error {
    Error::Mesh {
        location: None,
        message: format!("cell {c} (nodes {nodes:?}) is degenerate or inverted"),
    }
}

/// The checks every estimator starts with.
fn check(mesh: &MeshView<'_>, form: &EllipticForm, uh: &[f64]) -> Result<()> {
    if uh.len() != mesh.num_nodes() {
        return Err(Error::invalid(
            "solution",
            format!("{} values for {} nodes", uh.len(), mesh.num_nodes()),
        ));
    }
    mesh.validate()?;
    crate::check_boundary_parts(mesh, form)
}

/// Runs `f` on chunks of [`CELLS_PER_TASK`] cells in parallel and concatenates the results
/// (one per cell) in cell order.
fn chunked(
    mesh: &MeshView<'_>,
    deadline: &Deadline,
    f: impl Fn(std::ops::Range<usize>) -> Result<Vec<f64>> + Sync,
) -> Result<Vec<f64>> {
    chunked_flat(mesh, deadline, f)
}

/// [`chunked`] for any number of results per cell.
fn chunked_flat<T: Send>(
    mesh: &MeshView<'_>,
    deadline: &Deadline,
    f: impl Fn(std::ops::Range<usize>) -> Result<Vec<T>> + Sync,
) -> Result<Vec<T>> {
    let n = mesh.num_cells();
    let starts: Vec<usize> = (0..n).step_by(CELLS_PER_TASK).collect();
    let parts: Vec<Vec<T>> = starts
        .par_iter()
        .map(|&start| {
            deadline.check("post")?;
            f(start..(start + CELLS_PER_TASK).min(n))
        })
        .collect::<Result<_>>()?;
    Ok(concat_parallel(parts))
}

/// The concatenation of `parts`, each moved into its place in parallel (one serial copy of
/// tens of MB, and its page faults, cost a fifth of the residual estimate on fine meshes).
fn concat_parallel<T: Send>(parts: Vec<Vec<T>>) -> Vec<T> {
    let total: usize = parts.iter().map(Vec::len).sum();
    let mut out: Vec<T> = Vec::with_capacity(total);
    let mut rest = &mut out.spare_capacity_mut()[..total];
    let mut slots = Vec::with_capacity(parts.len());
    for part in &parts {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(part.len());
        slots.push(head);
        rest = tail;
    }
    (slots.into_par_iter().zip(parts)).for_each(|(slot, part)| {
        for (s, v) in slot.iter_mut().zip(part) {
            s.write(v);
        }
    });
    // SAFETY: the slots tile the first `total` elements of the spare capacity, and each was
    // written from its part, whose length is the slot's.
    unsafe { out.set_len(total) };
    out
}
