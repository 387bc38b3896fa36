//! Errors for problem data at the ends of double precision's range.
//!
//! A coefficient of `1e308` over a small cell overflows in the assembled matrix; a source of
//! `1e308` gives a solution, a residual or a Krylov dot product beyond the range; a source of
//! `1e-308` gives a subnormal right-hand side. The solvers then report what they see — a
//! singular factor, a breakdown, a residual that cannot be checked — which blames the matrix or
//! options the user never set. When a solve fails, these checks look at the data first (a pass
//! over the matrix and the right-hand side, on the failure path only) and name the problem.

use femscale_core::{CsrMatrix, Error, SolveError};
use femscale_mesh::Mesh;

/// Entries beyond this leave a solver no room: one product with an entry of order one, or a
/// sum of squares, overflows.
const HUGE: f64 = 1e300;

/// A right-hand side whose largest entry is below this is in or near the subnormal range,
/// where its norm and every product with it lose their digits.
const TINY: f64 = 1e-290;

/// The error for data out of range, if the matrix or `rhs` has an entry that is not finite,
/// beyond [`HUGE`], or (`rhs`) all entries below [`TINY`] without being zero. `shared`: the
/// rows are a shared solve's own numbering, so only the coordinates are named.
pub(crate) fn out_of_range(
    mesh: &Mesh,
    shared: bool,
    matrix: &CsrMatrix,
    rhs: Option<&[f64]>,
) -> Option<Error> {
    let values = matrix.values();
    // An infinite entry first (it says more), then one beyond HUGE.
    let first = (values.iter().position(|v| !v.is_finite()))
        .or_else(|| values.iter().position(|v| v.abs() > HUGE));
    if let Some(k) = first {
        let row = matrix
            .pattern()
            .row_ptr()
            .partition_point(|&start| start <= k)
            - 1;
        let value = values[k];
        let what = match value.is_finite() {
            true => format!("reaches {value:e}, near the end of double precision (1.8e308)"),
            false => format!("is {value}"),
        };
        return Some(Error::invalid(
            "problem",
            format!(
                "the assembled matrix {what} in the row{}: the diffusion, reaction or Robin \
                 coefficient is too large for double precision there (or cells there too \
                 small); scale the problem",
                node(mesh, shared, row)
            ),
        ));
    }
    let rhs = rhs?;
    if rhs.iter().any(|v| !v.is_finite()) {
        return Some(non_finite_rhs(mesh, shared, rhs));
    }
    let (at, largest) =
        (rhs.iter().enumerate()).fold(
            (0, 0.0f64),
            |(i, m), (j, v)| {
                if v.abs() > m { (j, v.abs()) } else { (i, m) }
            },
        );
    if largest > HUGE {
        return Some(Error::invalid(
            "problem",
            format!(
                "the right-hand side reaches {largest:e} in the row{}, near the end of double \
                 precision (1.8e308), where the solution and the solver's products overflow: \
                 the source, boundary values or fluxes are too large; scale the problem",
                node(mesh, shared, at)
            ),
        ));
    }
    (largest > 0.0 && largest < TINY).then(|| {
        Error::invalid(
            "problem",
            format!(
                "the right-hand side's entries are at most {largest:e}, below the normal range \
                 of double precision (2.2e-308), where they lose their digits: the source, \
                 boundary values or fluxes are too small; scale the problem"
            ),
        )
    })
}

/// The error for a right-hand side with a non-finite entry (its first), or, when every entry
/// is finite but a solver found its norm out of range, for the size of its entries.
pub(crate) fn non_finite_rhs(mesh: &Mesh, shared: bool, rhs: &[f64]) -> Error {
    let Some((row, &value)) = rhs.iter().enumerate().find(|(_, v)| !v.is_finite()) else {
        let largest = rhs.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let (what, fix) = match largest < 1.0 {
            true => ("underflows", "too small"),
            false => ("overflows", "too large"),
        };
        return Error::invalid(
            "problem",
            format!(
                "the right-hand side's norm {what} (entries up to {largest:e}): the source, \
                 boundary values or fluxes are {fix} for double precision; scale the problem"
            ),
        );
    };
    Error::invalid(
        "problem",
        format!(
            "the right-hand side is {value} in the row{}: the source, a boundary value or flux, \
             or a coefficient overflows there, or cells there are too small for double precision",
            node(mesh, shared, row)
        ),
    )
}

/// The error for a solution whose residual `b − A x` overflows although its entries are finite,
/// when the data are in range (see [`out_of_range`]); `None` for other errors.
pub(crate) fn overflowing_residual(e: &SolveError, x: &[f64]) -> Option<Error> {
    match e {
        SolveError::Unverified {
            verified_relative_residual: r,
            ..
        } if !r.is_finite() => {
            let largest = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            Some(Error::invalid(
                "problem",
                format!(
                    "the residual b − A x of the solution (entries up to {largest:e}) overflows \
                     double precision, so the solution cannot be checked: the problem's data \
                     are too large or too small for it; scale the problem"
                ),
            ))
        }
        _ => None,
    }
}

/// ` of node N at (x, y, z) = (...)` for row `row` (only the coordinates for a shared solve,
/// whose rows are numbered its own way; nothing for a row beyond the mesh's nodes).
fn node(mesh: &Mesh, shared: bool, row: usize) -> String {
    if row >= mesh.num_nodes() {
        return format!(" {row}");
    }
    let p = mesh.view().point(row);
    let at = format!("at (x, y, z) = ({}, {}, {})", p[0], p[1], p[2]);
    match shared {
        true => format!(" {at}"),
        false => format!(" of node {row} {at}"),
    }
}
