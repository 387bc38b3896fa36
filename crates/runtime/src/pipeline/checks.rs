//! Input checks before a solve and the mapping of lower-level errors to the names users know
//! (config keys, convenience-API fields).

use femscale_core::{
    CellKind, EllipticForm, Error, FieldPath, Order, Result, SolveError, SystemLoad,
};

use crate::problem::{Problem, fixes_constant, reaction_fixes_constant};
use crate::registry::Registry;

/// Bytes per node that mesh, pattern, matrix and vectors of `kind` elements of `order` need
/// before any solver memory: coordinates, the cells' `usize` nodes, the matrix (`u32` index and
/// value per entry, by the average entries of a row), the pattern's adjacency and four vectors.
/// 2D P1: 2 coordinates, ~2 cells of 3 nodes and ~7 entries a node, 228 bytes. Below the peak
/// of a solve (review B measured 3D peaks 1.4-1.7x these; 1D P1 at 10^7 elements: 877 MiB
/// against 970), so that what is refused would not have fit.
fn bytes_per_node(kind: CellKind, order: Order) -> f64 {
    // (entries of a row, cell nodes per node) on average over a uniform mesh's nodes.
    let (entries, cell_nodes) = match (kind, order) {
        (CellKind::Interval, Order::Linear) => (3.0, 2.0),
        (CellKind::Interval, Order::Quadratic) => (4.0, 1.5),
        (CellKind::Triangle, Order::Linear) => (7.0, 6.0),
        (CellKind::Triangle, Order::Quadratic) => (12.0, 3.0),
        (CellKind::Quadrilateral, Order::Linear) => (9.0, 4.0),
        (CellKind::Quadrilateral, Order::Quadratic) => (16.0, 2.25),
        (CellKind::Tetrahedron, Order::Linear) => (15.0, 24.0),
        (CellKind::Tetrahedron, Order::Quadratic) => (34.0, 7.5),
        (CellKind::Hexahedron, Order::Linear) => (27.0, 8.0),
        (CellKind::Hexahedron, Order::Quadratic) => (64.0, 3.375),
    };
    // 1D patterns are written from the cells' order without node-to-cell adjacency.
    let adjacency = if kind == CellKind::Interval {
        0.0
    } else {
        48.0
    };
    8.0 * kind.dim() as f64 + 8.0 * cell_nodes + 12.0 * entries + adjacency + 32.0
}

/// Nodes of `order` elements per node of the linear mesh of `kind` (on a uniform mesh: a node
/// on every edge, face and cell as the element has them).
pub(crate) fn nodes_per_vertex(kind: CellKind, order: Order) -> f64 {
    match (order, kind.dim()) {
        (Order::Linear, _) => 1.0,
        (Order::Quadratic, 1) => 2.0,
        (Order::Quadratic, 2) => 4.0,
        (Order::Quadratic, _) => 8.0,
    }
}

/// Refuses meshes whose mesh, pattern and matrix alone would not fit in available memory, so
/// that `nx = 100000` is an error rather than the process being killed. The error names the
/// largest of the generator's counts (`nx`, `ny`, `nz`), or `refinements`.
pub(crate) fn check_memory(problem: &Problem) -> Result<()> {
    let (Some(nodes), Some(kind)) = (problem.estimated_dofs(), problem.mesh.estimated_kind())
    else {
        return Ok(());
    };
    let field = if problem.mesh.refinements() > 0 {
        "problem.mesh.refinements".to_string()
    } else {
        format!(
            "problem.mesh.{}",
            problem.mesh.largest_count().unwrap_or("nx")
        )
    };
    check_nodes_fit(nodes, (kind, problem.order), &field)
}

/// Refuses `nodes` unknowns of `element` ([`bytes_per_node`] each) when their mesh, pattern
/// and matrix alone would not fit in the available memory, naming `field`.
pub(crate) fn check_nodes_fit(nodes: f64, element: (CellKind, Order), field: &str) -> Result<()> {
    let Some(available) = SystemLoad::detect().available_memory_mb else {
        return Ok(());
    };
    let needed = nodes * bytes_per_node(element.0, element.1) / femscale_core::checks::MIB;
    if needed > available {
        return Err(Error::invalid(
            field,
            format!(
                "a problem of {nodes:.3e} unknowns needs about {needed:.0} MiB for mesh, pattern and matrix \
                 alone, but only {available:.0} MiB of memory are available"
            ),
        ));
    }
    Ok(())
}

/// Refuses a mesh with a connected part (cells sharing nodes) that no condition fixes: no
/// Dirichlet condition and no Robin condition with a nonzero `alpha` on any of its nodes, and
/// no reaction on any of its cells (none, the constant zero, or a per-subdomain table whose
/// pieces on its cells are the constant zero). Its solution is determined only up to a
/// constant, the system is singular, and a consistent load would let a solver return any such
/// constant. A reaction that is not a constant counts as fixing every part it is given on.
///
/// # Errors
/// [`Error::InvalidInput`] (field `problem.boundary`) naming a point of the floating part.
pub(crate) fn check_parts_fixed(mesh: &femscale_mesh::Mesh, form: &EllipticForm) -> Result<()> {
    if reaction_fixes_constant(form) {
        return Ok(());
    }
    let n = mesh.num_nodes();
    let mut fixed = vec![false; n];
    let view = mesh.view();
    let table = form.reaction.as_ref().and_then(|c| c.as_subdomains());
    if table.is_some_and(|t| !resolves(t, &view)) {
        // A key naming no subdomain, or one subdomain twice, or one without a piece: the
        // assembly refuses the table naming the key, which says more than "floating" would.
        return Ok(());
    }
    if let Some(reacting) = reacting_subdomains(form, &view) {
        for c in (0..mesh.num_cells()).filter(|&c| view.cell_marker(c).is_some_and(&reacting)) {
            for &v in view.cell(c) {
                fixed[v] = true;
            }
        }
    }
    for bc in &form.boundary {
        let Some(part) = mesh.boundary_part(&bc.part) else {
            // An unknown part: the assembly's error names it and the parts there are.
            return Ok(());
        };
        if fixes_constant(&bc.kind) {
            for &node in &part.nodes {
                fixed[node] = true;
            }
        }
    }
    let mut parts = femscale_mesh::NodeParts::of(&view, usize::MAX);
    let mut used = vec![false; n];
    for c in 0..mesh.num_cells() {
        for &v in view.cell(c) {
            used[v] = true;
        }
    }
    let mut part_fixed = vec![false; n];
    for v in (0..n).filter(|&v| fixed[v]) {
        part_fixed[parts.part(v)] = true;
    }
    for v in (0..n).filter(|&v| used[v]) {
        if !part_fixed[parts.part(v)] {
            let p = view.point(v);
            return Err(Error::invalid(
                "problem.boundary",
                format!(
                    "the part of the mesh around (x, y, z) = ({}, {}, {}) shares no node with a \
                     dirichlet condition or a robin condition with a nonzero alpha, and there is \
                     no reaction on its cells: its solution is only determined up to a constant \
                     (the system is singular); give it a condition",
                    p[0], p[1], p[2]
                ),
            ));
        }
    }
    Ok(())
}

/// Warns when two Neumann or Robin conditions apply to the same boundary facets: their terms
/// add up there (a flux `value[i] + value[j]`, Robin coefficients summed), which is what the
/// weak form says, but not what a later condition meant as an override of an earlier one on
/// a wider part (`all`) would want; Dirichlet conditions, by contrast, replace each other.
pub(crate) fn warn_overlapping_natural(mesh: &femscale_mesh::Mesh, form: &EllipticForm) {
    use femscale_core::BoundaryKindOf;
    let natural: Vec<(usize, &str, &femscale_core::BoundaryPart)> = (form.boundary.iter())
        .enumerate()
        .filter(|(_, bc)| {
            matches!(
                bc.kind,
                BoundaryKindOf::Neumann { .. } | BoundaryKindOf::Robin { .. }
            )
        })
        .filter_map(|(i, bc)| Some((i, bc.kind.name(), mesh.boundary_part(&bc.part)?)))
        .collect();
    if natural.len() < 2 {
        return;
    }
    let npf = mesh.view().nodes_per_facet();
    let vertices = mesh
        .cell_kind()
        .facet_kind()
        .map_or(1, |k| k.num_vertices());
    let key = |f: &[usize]| {
        let mut v = f[..vertices.min(f.len())].to_vec();
        v.sort_unstable();
        v
    };
    for (a, &(i, kind_i, part_i)) in natural.iter().enumerate() {
        let facets: std::collections::HashSet<Vec<usize>> =
            part_i.facets.chunks_exact(npf).map(key).collect();
        for &(j, kind_j, part_j) in &natural[a + 1..] {
            let shared = (part_j.facets.chunks_exact(npf))
                .filter(|f| facets.contains(&key(f)))
                .count();
            if shared > 0 {
                tracing::warn!(
                    "problem.boundary[{i}] ({kind_i} on `{}`) and problem.boundary[{j}] \
                     ({kind_j} on `{}`) both apply to {shared} boundary facet(s): natural \
                     conditions add up where they meet (the flux there is the sum of both \
                     values); for the later to replace the earlier there, give the earlier a \
                     part without those facets (problem.mesh.parts)",
                    part_i.name,
                    part_j.name
                );
            }
        }
    }
}

/// Whether every key of `table` names one subdomain of `mesh`, no subdomain twice, and every
/// subdomain has a piece (what the assembly requires of a per-subdomain coefficient).
fn resolves(table: &femscale_core::SubdomainField, mesh: &femscale_core::MeshView<'_>) -> bool {
    let resolve = |key: &str| {
        let named = mesh
            .subdomains
            .iter()
            .filter(|s| s.name.as_deref() == Some(key));
        match named.count() {
            0 => {
                let mut by_number = mesh
                    .subdomains
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.is_named(key));
                match (by_number.next(), by_number.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            }
            1 => mesh
                .subdomains
                .iter()
                .position(|s| s.name.as_deref() == Some(key)),
            _ => None,
        }
    };
    let mut given = vec![false; mesh.subdomains.len()];
    for (key, _) in table.pieces() {
        match resolve(key) {
            Some(i) if !given[i] => given[i] = true,
            _ => return false,
        }
    }
    given.iter().all(|&g| g)
}

/// For a reaction given per subdomain: whether a cell marker's piece fixes the constant (is not
/// the constant zero). `None` for any other reaction. A piece is found as the assembly finds
/// it (a subdomain's name before its number); [`resolves`] has checked that each has one.
fn reacting_subdomains(
    form: &EllipticForm,
    mesh: &femscale_core::MeshView<'_>,
) -> Option<impl Fn(i32) -> bool> {
    let table = form.reaction.as_ref()?.as_subdomains()?;
    let reacting: Vec<i32> = (mesh.subdomains.iter())
        .filter(|s| {
            let pieces = table.pieces();
            let piece = (pieces.iter())
                .find(|(k, _)| s.name.as_deref() == Some(k.as_str()))
                .or_else(|| pieces.iter().find(|(k, _)| s.is_named(k)));
            piece.is_some_and(|(_, f)| f.as_constant() != Some(0.0))
        })
        .map(|s| s.id)
        .collect();
    Some(move |marker: i32| reacting.contains(&marker))
}

/// Renames the field of an error from its config key to the name used by a convenience API
/// (`problem.mesh.nx` → `num_elements`); other `problem.*` fields lose the prefix (`problem`
/// itself, an error about the problem as a whole, stays), and `solver.kind` becomes
/// `linear_solver`.
pub(crate) fn rename_fields(e: Error, map: &[(&str, &str)]) -> Error {
    e.map_field(|field| {
        if let Some((_, to)) = map.iter().find(|(from, _)| field == *from) {
            return FieldPath::parse(to);
        }
        if field == "solver.kind" {
            return FieldPath::parse("linear_solver");
        }
        match field.strip_prefix(&FieldPath::parse("problem")) {
            Some(rest) if !rest.is_empty() => rest.into(),
            _ => field,
        }
    })
}

/// Refuses a quadrature degree that `cell`'s rules do not reach (the configuration's bounds
/// allow the highest of any cell kind), naming `assembly.quadrature_degree`.
pub(crate) fn check_quadrature_degree(cell: CellKind, degree: usize) -> Result<()> {
    // Cells without rules are refused by the assembler, with their own message.
    let Some(max) = femscale_assembly::quadrature::max_degree(cell) else {
        return Ok(());
    };
    if degree > max {
        return Err(Error::invalid(
            "assembly.quadrature_degree",
            format!("{cell:?} cells support quadrature degrees up to {max}, got {degree}"),
        ));
    }
    Ok(())
}

/// Checks that named (non-`auto`) solvers and preconditioners are registered.
pub(crate) fn check_solver_names(
    registry: &Registry,
    kind: &str,
    preconditioner: &str,
) -> Result<()> {
    use crate::config::AUTO;
    let options = femscale_solvers::MethodOptions::default();
    if kind != AUTO {
        let pc = if preconditioner == AUTO {
            "none"
        } else {
            preconditioner
        };
        registry.solver(kind, pc, &options)?;
        registry.check_preconditioner_use(kind, preconditioner)?;
    } else if preconditioner != AUTO {
        registry.preconditioner(preconditioner, &options)?;
    }
    Ok(())
}

/// Maps solver option errors to the config keys they come from.
pub(crate) fn solve_error(e: SolveError) -> Error {
    match e {
        SolveError::InvalidOption { option, reason } => {
            Error::invalid(format!("solver.{option}"), reason)
        }
        other => Error::Solve(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convenience_apis_rename_fields_and_keep_the_problem_as_a_whole() {
        let renamed = |field: &str| {
            let e = rename_fields(
                Error::invalid(field, "bad"),
                &[("problem.mesh.nx", "num_elements")],
            );
            e.field_name().unwrap_or_default()
        };
        assert_eq!(renamed("problem.mesh.nx"), "num_elements");
        assert_eq!(renamed("problem.source"), "source");
        assert_eq!(renamed("solver.kind"), "linear_solver");
        assert_eq!(renamed("solver.tolerance"), "solver.tolerance");
        // It lost its whole name (an empty field) when the prefix was stripped.
        assert_eq!(renamed("problem"), "problem");
    }
}
