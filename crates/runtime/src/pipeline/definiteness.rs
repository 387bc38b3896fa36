//! Whether the operator may be indefinite: a reaction `c` or a Robin `alpha` negative
//! somewhere, which `solver.kind = "auto"` answers with GMRES rather than CG (review T's F4).

use femscale_core::shown::Shown;
use femscale_core::{BoundaryKindOf, ScalarField};
use femscale_expr::ExprOptions;
use femscale_mesh::Mesh;

use crate::problem::{BoundarySpec, FieldSpec, Problem};

/// Nodes evaluated per batch.
const BATCH: usize = 4096;

/// Why the operator of `problem` on `mesh` may be indefinite, or `None`: the reaction `c`
/// negative at a node of the mesh (a piece of a field by subdomain at a node of that
/// subdomain's cells), or a Robin `alpha` negative at a node of its boundary part; constants
/// by value; a negative value within rounding of the field's largest (`ROUNDING`) does not
/// count. Values between nodes are not seen (a feature thinner than a cell). A negative
/// coefficient need not make the operator indefinite (`-Δu - c u` is definite while `c` stays
/// below the smallest eigenvalue of `-Δ`); GMRES solves a definite operator too. `jit`
/// compiles the expressions, as the solve will.
pub(crate) fn negative_coefficient(problem: &Problem, mesh: &Mesh, jit: bool) -> Option<String> {
    let robin = |bc: &BoundarySpec| matches!(bc.kind, BoundaryKindOf::Robin { .. });
    if problem.reaction.is_none() && !problem.boundary.iter().any(robin) {
        return None;
    }
    // Only the fields read here (not the source and boundary values, compiled by the set-up);
    // a field that does not build is refused there, naming it.
    let options = ExprOptions::with_jit(jit);
    let build = |name: &str, f: &FieldSpec| f.build_with(name, &problem.params, options).ok();
    if let Some(c) = problem.reaction.as_ref().and_then(|c| build("reaction", c)) {
        let found = match c.as_subdomains() {
            Some(pieces) => (mesh.subdomains().iter()).find_map(|s| {
                let (key, piece) = pieces.piece_for(s)?;
                let at = first_negative(piece.as_ref(), mesh, subdomain_nodes(mesh, s.id))?;
                Some((format!("reaction.{key}"), at))
            }),
            // (Not `?`: a reaction that is nowhere negative leaves the Robin alphas to check;
            // review W.)
            None => first_negative(c.as_ref(), mesh, 0..mesh.num_nodes())
                .map(|at| ("reaction".to_string(), at)),
        };
        if let Some((name, at)) = found {
            return Some(describe(&name, at, mesh.dim()));
        }
    }
    (problem.boundary.iter().enumerate()).find_map(|(i, bc)| {
        let BoundaryKindOf::Robin { alpha, .. } = &bc.kind else {
            return None;
        };
        let name = format!("boundary[{i}].alpha");
        let alpha = build(&name, alpha)?;
        let nodes = mesh.boundary_part(&bc.part)?.nodes.iter().copied();
        let at = first_negative(alpha.as_ref(), mesh, nodes)?;
        Some(describe(&name, at, mesh.dim()))
    })
}

/// [`negative_coefficient`] before there is a mesh: a reaction (or a piece of one by
/// subdomain) or a Robin `alpha` that is a negative constant, for the plan made before meshing.
pub(crate) fn negative_constant(problem: &Problem) -> Option<String> {
    let negative = |name: &str, f: &FieldSpec| match f {
        FieldSpec::Constant(c) if *c < 0.0 => Some(format!("{name} = {}", Shown(*c))),
        FieldSpec::BySubdomain(pieces) => pieces.iter().find_map(|(key, piece)| match piece {
            FieldSpec::Constant(c) if *c < 0.0 => Some(format!("{name}.{key} = {}", Shown(*c))),
            _ => None,
        }),
        _ => None,
    };
    let reaction = problem
        .reaction
        .as_ref()
        .and_then(|c| negative("reaction", c));
    reaction.or_else(|| {
        (problem.boundary.iter().enumerate()).find_map(|(i, bc)| match &bc.kind {
            BoundaryKindOf::Robin { alpha, .. } => negative(&format!("boundary[{i}].alpha"), alpha),
            _ => None,
        })
    })
}

/// A negative value of a field: the value, and the point unless it is a constant.
type Negative = (f64, Option<[f64; 3]>);

/// `reaction = -30`, `boundary[1].alpha = -0.5 at (0, 0.25)`.
fn describe(name: &str, (value, at): Negative, dim: usize) -> String {
    match at {
        None => format!("{name} = {}", Shown(value)),
        Some(p) => {
            let p: Vec<String> = p[..dim.clamp(1, 3)]
                .iter()
                .map(|c| Shown(*c).to_string())
                .collect();
            format!("{name} = {} at ({})", Shown(value), p.join(", "))
        }
    }
}

/// Negative values no larger than this share of the field's largest magnitude are rounding
/// (review V: `x^2 + y^2 - 0.36` is -1.1e-16 at a node on the circle it vanishes on): a few
/// ulps, so that a penalty value of 1e16 beside a `-30` (review W) hides nothing.
const ROUNDING: f64 = 8.0 * f64::EPSILON;

/// The most negative value of `field` at `nodes` (a constant by its value alone), unless it
/// is within [`ROUNDING`] of the largest magnitude there.
fn first_negative(
    field: &dyn ScalarField,
    mesh: &Mesh,
    nodes: impl Iterator<Item = usize>,
) -> Option<Negative> {
    if let Some(c) = field.as_constant() {
        return (c < 0.0).then_some((c, None));
    }
    let view = mesh.view();
    let mut nodes = nodes.peekable();
    let (mut points, mut values) = (Vec::with_capacity(BATCH), vec![0.0; BATCH]);
    let (mut lowest, mut largest): (Option<(f64, [f64; 3])>, f64) = (None, 0.0);
    while nodes.peek().is_some() {
        points.clear();
        points.extend(nodes.by_ref().take(BATCH).map(|i| view.point(i)));
        let values = &mut values[..points.len()];
        field.eval_batch(&points, values);
        for (&v, &p) in values.iter().zip(&points) {
            largest = largest.max(v.abs());
            if lowest.is_none_or(|(low, _)| v < low) {
                lowest = Some((v, p));
            }
        }
    }
    let (value, at) = lowest?;
    (value < -ROUNDING * largest).then_some((value, Some(at)))
}

/// The nodes of the cells marked `id`, each once, in increasing order.
fn subdomain_nodes(mesh: &Mesh, id: i32) -> impl Iterator<Item = usize> {
    let per_cell = mesh.cell_kind().nodes_per_cell_of(mesh.order());
    let mut on = vec![false; mesh.num_nodes()];
    let cells = mesh.cells().chunks_exact(per_cell);
    for (cell, _) in cells.zip(mesh.cell_markers()).filter(|(_, m)| **m == id) {
        for &n in cell {
            on[n] = true;
        }
    }
    on.into_iter()
        .enumerate()
        .filter_map(|(i, on)| on.then_some(i))
}
