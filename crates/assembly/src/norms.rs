//! Discretisation errors against an exact solution: L2 norm and H1 seminorm of `u_h - u`.

use std::ops::Range;

use femscale_core::{Deadline, Error, MeshView, Order, Result, ScalarField};
use rayon::prelude::*;
use tracing::instrument;

use crate::element::{Element, Jacobian, Tables, cell_coords, with_shape};

/// Cells per parallel task; partial sums are combined in a fixed order, so the result does not
/// depend on the thread count.
const CELLS_PER_TASK: usize = 2048;

/// `||u_h - u||` in L2 and in the H1 seminorm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorNorms {
    /// `(int |u_h - u|^2)^(1/2)`.
    pub l2: f64,
    /// `(int |grad u_h - grad u|^2)^(1/2)`.
    pub h1_seminorm: f64,
    /// `max_i |u_h(x_i) - u(x_i)|` over the nodes.
    pub max_nodal: f64,
    /// `(int u^2)^(1/2)`: the exact solution's own L2 norm, the scale of `l2` (an `l2` at
    /// round-off of it means the elements reproduce the exact solution).
    pub exact_l2: f64,
}

/// Integrates the error of the nodal solution `uh` against `exact` with a rule of degree
/// `2 * order + 2` (4 for P1/Q1, 6 for P2/Q2), using `exact.gradient` (all three components
/// in 3D) for the H1 seminorm.
///
/// # Errors
/// [`Error::InvalidInput`] if `uh` does not have one value per node, or the exact solution is
/// a field per subdomain or not finite at a quadrature point (field `exact`); [`Error::Mesh`]
/// for an invalid mesh.
pub fn error_norms(mesh: &MeshView<'_>, uh: &[f64], exact: &dyn ScalarField) -> Result<ErrorNorms> {
    error_norms_within(mesh, uh, exact, &Deadline::unlimited())
}

/// [`error_norms`] within the budget of `deadline`, checked before every chunk of
/// 2048 cells (where the exact solution and its gradient are evaluated) and before the nodal
/// error, so that an expensive exact solution cannot run past `solver.timeout_seconds`.
///
/// # Errors
/// As [`error_norms`], and [`Error::Timeout`] (phase `post`) once the deadline has passed.
#[instrument(skip_all, name = "fem.post.error_norms")]
pub fn error_norms_within(
    mesh: &MeshView<'_>,
    uh: &[f64],
    exact: &dyn ScalarField,
    deadline: &Deadline,
) -> Result<ErrorNorms> {
    if uh.len() != mesh.num_nodes() {
        return Err(Error::invalid(
            "solution",
            format!("{} values for {} nodes", uh.len(), mesh.num_nodes()),
        ));
    }
    if exact.as_subdomains().is_some() {
        return Err(Error::invalid(
            "exact",
            "is a field per subdomain, which has no value at a point: give the exact solution \
             as one field (select the pieces by position)",
        ));
    }
    mesh.validate()?;
    let element = Element::of_mesh(mesh, norm_degree(mesh.order))?;
    let [mut l2, mut h1, mut exact_l2] = integrate(mesh, &element, uh, exact, deadline, false)?;
    // Errors beyond about 1e154 overflow their squares and errors below about 1e-150
    // underflow them: such sums are taken again, each term scaled (slower, and rare).
    // (The exact solution's norm only when it is tiny but not zero: `u = 0` is exact.)
    let tiny = |v: f64| !v.is_finite() || v < 2f64.powi(-450);
    if tiny(l2) || tiny(h1) || (exact_l2 != 0.0 && tiny(exact_l2)) {
        [l2, h1, exact_l2] = integrate(mesh, &element, uh, exact, deadline, true)?;
    }
    deadline.check("post")?;
    let max_nodal = max_nodal_error(mesh, uh, exact)?;
    Ok(ErrorNorms {
        l2,
        h1_seminorm: h1,
        max_nodal,
        exact_l2,
    })
}

/// The L2 and H1-seminorm errors and the exact solution's L2 norm over every cell, with
/// [`Squares::scaled`] sums or not.
fn integrate(
    mesh: &MeshView<'_>,
    element: &Element,
    uh: &[f64],
    exact: &dyn ScalarField,
    deadline: &Deadline,
    scaled: bool,
) -> Result<[f64; 3]> {
    let n = mesh.num_cells();
    let starts: Vec<usize> = (0..n).step_by(CELLS_PER_TASK).collect();
    let zero = Squares::new(scaled);
    let partial: Vec<[Squares; 3]> = starts
        .par_iter()
        .map_init(Scratch::default, |scratch, &start| {
            deadline.check("post")?;
            let cells = start..(start + CELLS_PER_TASK).min(n);
            with_shape!(
                element,
                chunk_errors(mesh, element, uh, exact, cells, scratch, zero)
            )
        })
        .collect::<Result<_>>()?;
    let sums = (partial.into_iter()).fold([zero; 3], |a, b| {
        [a[0].merge(b[0]), a[1].merge(b[1]), a[2].merge(b[2])]
    });
    Ok(sums.map(Squares::root))
}

/// A sum of weighted squares `sum w e^2` (`w >= 0`): plain (fast, exact enough while the
/// squares neither overflow nor underflow), or scaled: `scale^2 * ssq` with `scale` the largest
/// term's root, as LAPACK's `dlassq` keeps it, so that no square overflows or underflows
/// whatever the errors' scale. NaN stays NaN in both.
#[derive(Clone, Copy)]
struct Squares {
    scaled: bool,
    sum: f64,
    scale: f64,
    ssq: f64,
}

impl Squares {
    fn new(scaled: bool) -> Self {
        Self {
            scaled,
            sum: 0.0,
            scale: 0.0,
            ssq: 0.0,
        }
    }

    /// Adds `w * sum(e_k^2)`.
    #[inline(always)]
    fn add<const K: usize>(&mut self, w: f64, e: [f64; K]) {
        if self.scaled {
            let root = w.sqrt();
            for e in e {
                self.push(root * e);
            }
        } else {
            self.sum += w * e.iter().map(|e| e * e).sum::<f64>();
        }
    }

    /// Adds `x^2` to a scaled sum.
    fn push(&mut self, x: f64) {
        let x = x.abs();
        if x == 0.0 {
            return;
        }
        if x > self.scale || x.is_nan() {
            // A larger term (or NaN, which then stays): the old terms rescaled by it.
            self.ssq = 1.0 + self.ssq * (self.scale / x).powi(2);
            self.scale = x;
        } else if x == self.scale {
            // (Also a second infinite term, whose ratio would be NaN.)
            self.ssq += 1.0;
        } else {
            self.ssq += (x / self.scale).powi(2);
        }
    }

    /// The sum of both.
    fn merge(self, other: Self) -> Self {
        if !self.scaled {
            return Self {
                sum: self.sum + other.sum,
                ..self
            };
        }
        let (big, small) = if self.scale >= other.scale {
            (self, other)
        } else {
            (other, self)
        };
        if small.scale == 0.0 || big.scale.is_infinite() {
            return big;
        }
        Self {
            ssq: big.ssq + small.ssq * (small.scale / big.scale).powi(2),
            ..big
        }
    }

    /// The square root of the sum.
    fn root(self) -> f64 {
        if self.scaled {
            self.scale * self.ssq.sqrt()
        } else {
            self.sum.sqrt()
        }
    }
}

/// `max_i |uh_i - u(x_i)|` over the nodes of `mesh` (the part of [`ErrorNorms`] that needs
/// no integration).
///
/// # Errors
/// [`Error::InvalidInput`] if `uh` does not have one value per node or the exact solution is
/// not finite at a node (field `exact`).
pub fn max_nodal_error_within(
    mesh: &MeshView<'_>,
    uh: &[f64],
    exact: &dyn ScalarField,
) -> Result<f64> {
    if uh.len() != mesh.num_nodes() {
        return Err(Error::invalid(
            "solution",
            format!("{} values for {} nodes", uh.len(), mesh.num_nodes()),
        ));
    }
    max_nodal_error(mesh, uh, exact)
}

/// `max_i |uh_i - u(x_i)|` over the nodes, in parallel chunks of [`CELLS_PER_TASK`] nodes
/// (no array of all node points). NaN in the solution gives NaN (it must show, not vanish in
/// `f64::max`).
///
/// # Errors
/// [`Error::InvalidInput`] (field `exact`) naming the first node where the exact solution is
/// not finite: a pole at a node (`1/x` at x = 0) must not become `max_nodal_error = inf`.
fn max_nodal_error(mesh: &MeshView<'_>, uh: &[f64], exact: &dyn ScalarField) -> Result<f64> {
    let n = mesh.num_nodes();
    let starts: Vec<usize> = (0..n).step_by(CELLS_PER_TASK).collect();
    let chunks: Vec<std::result::Result<f64, usize>> = starts
        .par_iter()
        .map(|&start| {
            let nodes = start..(start + CELLS_PER_TASK).min(n);
            let points: Vec<[f64; 3]> = nodes.clone().map(|i| mesh.point(i)).collect();
            let mut values = vec![0.0; points.len()];
            exact.eval_batch(&points, &mut values);
            if let Some(k) = values.iter().position(|v| !v.is_finite()) {
                return Err(start + k);
            }
            Ok((uh[nodes].iter().zip(&values))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, nan_max))
        })
        .collect();
    let mut max = 0.0f64;
    for chunk in chunks {
        match chunk {
            Ok(e) => max = nan_max(max, e),
            Err(i) => {
                let p = mesh.point(i);
                return Err(Error::invalid(
                    "exact",
                    format!(
                        "the exact solution is not finite at the node (x, y, z) = ({}, {}, {})",
                        p[0], p[1], p[2]
                    ),
                ));
            }
        }
    }
    Ok(max)
}

/// The error for the first point of `points` where the exact value `u` or the first
/// `components` of its gradient `g` are not finite, if there is one.
pub(crate) fn non_finite_exact(
    points: &[[f64; 3]],
    u: &[f64],
    g: &[[f64; 3]],
    components: usize,
) -> Option<Error> {
    let finite = |v: &f64| v.is_finite();
    let k =
        (0..points.len()).find(|&k| !u[k].is_finite() || !g[k][..components].iter().all(finite))?;
    let p = points[k];
    let at = format!("(x, y, z) = ({}, {}, {})", p[0], p[1], p[2]);
    let reason = if u[k].is_finite() {
        let g = &g[k][..components];
        // The gradient is the expression's derivative by the chain rule, which can give
        // 0 * inf or 0 / 0 at a point where the function is differentiable.
        format!(
            "the gradient of the exact solution (derived by the chain rule) is not finite at \
             {at}, a quadrature point of the H1 error, where the solution is {}: gradient {g:?}. \
             Either the gradient is singular there (abs(x)^(2/3) at 0: choose a mesh with no \
             quadrature point on the singularity), or the chain rule meets 0 * inf at a point \
             where it is finite (sqrt(x^4) or max(x, 0)^1.5 at 0: write the solution without \
             the singular inner function, x^2 or if(x > 0, x^1.5, 0))",
            u[k]
        )
    } else {
        format!(
            "the exact solution is not finite ({}) at {at}, a quadrature point of the error \
             norms",
            u[k]
        )
    };
    Some(Error::invalid("exact", reason))
}

/// `max(m, e)`, but NaN when either is NaN (`f64::max` drops a NaN).
fn nan_max(m: f64, e: f64) -> f64 {
    if m.is_nan() || e.is_nan() {
        f64::NAN
    } else {
        m.max(e)
    }
}

/// The quadrature degree of the error norms for elements of `order`.
fn norm_degree(order: Order) -> usize {
    2 * order.get() + 2
}

/// A task's buffers for the quadrature points of a chunk and the exact solution there, kept
/// across the chunks of one rayon split (fresh ones per chunk would fault in their pages
/// every time).
#[derive(Default)]
struct Scratch {
    points: Vec<[f64; 3]>,
    values: Vec<f64>,
    gradients: Vec<[f64; 3]>,
}

/// The squared L2 and H1-seminorm errors and the exact solution's squared L2 norm over
/// `cells` (one parallel task).
fn chunk_errors<const N: usize, const D: usize, const G: usize>(
    mesh: &MeshView<'_>,
    element: &Element,
    uh: &[f64],
    exact: &dyn ScalarField,
    cells: Range<usize>,
    scratch: &mut Scratch,
    zero: Squares,
) -> Result<[Squares; 3]> {
    let t = Tables::<N, D, G>::of(element);
    let nq = t.nq;
    // Exact values and gradients at all quadrature points of the chunk, in batch.
    let len = cells.len() * nq;
    let Scratch {
        points,
        values: u_exact,
        gradients: g_exact,
    } = scratch;
    points.resize(len, [0.0; 3]);
    u_exact.resize(len, 0.0);
    g_exact.resize(len, [0.0; 3]);
    for (i, c) in cells.clone().enumerate() {
        let x = cell_coords::<D, G>(mesh, mesh.cell(c));
        t.map_points(&x, &mut points[i * nq..(i + 1) * nq]);
    }
    exact.value_and_gradient_batch(points, u_exact, g_exact);
    let (mut l2, mut h1, mut norm) = (zero, zero, zero);
    let mut grad = [[0.0; D]; N];
    for (i, c) in cells.enumerate() {
        let nodes = mesh.cell(c);
        let x = cell_coords::<D, G>(mesh, nodes);
        let mut jac = Jacobian::<D>::of(&x, &t.gdphi[0]);
        let mut values = [0.0; N];
        for (v, &node) in values.iter_mut().zip(nodes) {
            *v = uh[node];
        }
        let gradient = |jac: &Jacobian<D>, q: usize, grad: &mut [[f64; D]; N]| {
            jac.gradients(&t.dphi[q], grad);
            let mut g = [0.0; D];
            for (v, ga) in values.iter().zip(grad.iter()) {
                for d in 0..D {
                    g[d] += v * ga[d];
                }
            }
            g
        };
        // P1 on simplices: one gradient per cell.
        let mut g = gradient(&jac, 0, &mut grad);
        for q in 0..nq {
            if q > 0 && !t.affine {
                jac = Jacobian::of(&x, &t.gdphi[q]);
            }
            if q > 0 && !t.constant_gradients {
                g = gradient(&jac, q, &mut grad);
            }
            let u: f64 = (values.iter().zip(&t.phi[q])).map(|(v, p)| v * p).sum();
            let dx = t.weights[q] * jac.det;
            let ge = g_exact[i * nq + q];
            l2.add(dx, [u - u_exact[i * nq + q]]);
            norm.add(dx, [u_exact[i * nq + q]]);
            h1.add(dx, std::array::from_fn::<f64, D, _>(|d| g[d] - ge[d]));
        }
    }
    // A non-finite exact value or gradient makes a sum non-finite; only then is it looked for
    // (a non-finite sum without one comes from the solution itself, or overflow, and stands).
    if !(l2.root().is_finite() && h1.root().is_finite())
        && let Some(error) = non_finite_exact(points, u_exact, g_exact, D)
    {
        return Err(error);
    }
    Ok([l2, h1, norm])
}
