//! Parallel VTK output: one `.vtu` piece per process ([`write_vtu_piece`]) and the `.pvtu`
//! file that collects them ([`write_pvtu`]), as ParaView opens the output of an MPI solve.

use std::io::Write;
use std::path::Path;

use femscale_core::io::write_atomically;
use femscale_core::{BoundaryPart, Error, Result};

use super::{FieldKind, validate_fields, write_with_facet_values, xml_escape};
use crate::mesh::Mesh;

/// Writes the cells `cells` of `mesh` (indices, increasing) as a `.vtu` piece: only the
/// nodes they use (renumbered in increasing order), each point field restricted to them, each
/// cell field to the cells; the cell markers as `subdomain` when the mesh has them, and the
/// facets of marked boundary parts as extra cells with the cell data `boundary` (each facet
/// in the piece of the first cell that has it, taking that cell's cell-field values), as
/// [`write_vtu`](super::write_vtu) writes them.
///
/// # Errors
/// As [`write_vtu_with_cell_data`](super::write_vtu_with_cell_data); [`Error::InvalidInput`] (`cells`) for an empty selection,
/// an index out of range or one out of order.
pub fn write_vtu_piece(
    mesh: &Mesh,
    cells: &[usize],
    point_fields: &[(&str, &[f64])],
    cell_fields: &[(&str, &[f64])],
    path: &Path,
) -> Result<()> {
    validate_fields(point_fields, FieldKind::Point, mesh.num_nodes())?;
    validate_fields(cell_fields, FieldKind::Cell, mesh.num_cells())?;
    if cells.is_empty() || !cells.windows(2).all(|w| w[0] < w[1]) {
        return Err(Error::invalid(
            "cells",
            "a piece needs at least one cell, given by increasing indices",
        ));
    }
    if let Some(&c) = cells.iter().find(|&&c| c >= mesh.num_cells()) {
        return Err(Error::invalid(
            "cells",
            format!("cell {c} of a mesh with {} cells", mesh.num_cells()),
        ));
    }
    let view = mesh.view();
    let per_cell = view.nodes_per_cell();
    let mut local = vec![usize::MAX; mesh.num_nodes()];
    for &c in cells {
        for &node in &view.cells[c * per_cell..(c + 1) * per_cell] {
            local[node] = 0;
        }
    }
    let mut nodes = Vec::new();
    for (node, slot) in local.iter_mut().enumerate() {
        if *slot == 0 {
            *slot = nodes.len();
            nodes.push(node);
        }
    }
    let coords: Vec<f64> = nodes
        .iter()
        .flat_map(|&n| {
            view.coords[n * view.dim..(n + 1) * view.dim]
                .iter()
                .copied()
        })
        .collect();
    let connectivity: Vec<usize> = cells
        .iter()
        .flat_map(|&c| view.cells[c * per_cell..(c + 1) * per_cell].iter())
        .map(|&n| local[n])
        .collect();
    let mut builder = Mesh::builder(view.dim, coords, view.cell_kind, connectivity)
        .order(view.order)
        .exterior_part(None)
        // A piece of a checked mesh: its parts (a rank's cells need not be connected) do not
        // overlap.
        .without_overlap_check();
    if !view.cell_markers.is_empty() {
        builder = builder.cell_markers(cells.iter().map(|&c| view.cell_markers[c]).collect());
    }
    let (parts, owners) = marked_facets_of(mesh, cells, &local);
    builder = builder.boundary_parts(parts);
    let piece = builder.build()?;
    let points: Vec<Vec<f64>> = point_fields
        .iter()
        .map(|(_, values)| nodes.iter().map(|&n| values[n]).collect())
        .collect();
    let cell_values: Vec<Vec<f64>> = cell_fields
        .iter()
        .map(|(_, values)| cells.iter().map(|&c| values[c]).collect())
        .collect();
    let points: Vec<(&str, &[f64])> = point_fields
        .iter()
        .zip(&points)
        .map(|((name, _), v)| (*name, v.as_slice()))
        .collect();
    let cell_values: Vec<(&str, &[f64])> = cell_fields
        .iter()
        .zip(&cell_values)
        .map(|((name, _), v)| (*name, v.as_slice()))
        .collect();
    // A facet cell takes the values of the cell it belongs to in the piece.
    let facet_values: Vec<Vec<f64>> = cell_fields
        .iter()
        .map(|(_, values)| owners.iter().map(|&c| values[c]).collect())
        .collect();
    write_with_facet_values(&piece, &points, &cell_values, Some(&facet_values), path)
}

/// The marked boundary parts of `mesh` as the piece of `cells` holds them (nodes renumbered by
/// `local`): each facet goes to the piece of the first cell that has all its nodes, so that
/// the pieces together hold every facet once, as [`write_vtu`](super::write_vtu) writes them.
/// Every marked part is there, possibly without facets, so every piece has the `boundary`
/// array.
fn marked_facets_of(
    mesh: &Mesh,
    cells: &[usize],
    local: &[usize],
) -> (Vec<BoundaryPart>, Vec<usize>) {
    let view = mesh.view();
    let (per_cell, per_facet) = (view.nodes_per_cell(), view.nodes_per_facet());
    let marked: Vec<&BoundaryPart> = mesh
        .boundary_parts()
        .iter()
        .filter(|p| p.id.is_some())
        .collect();
    if marked.is_empty() {
        return (Vec::new(), Vec::new());
    }
    // The cells around each node, in increasing order.
    let mut start = vec![0usize; mesh.num_nodes() + 1];
    for &node in view.cells {
        start[node + 1] += 1;
    }
    for i in 0..mesh.num_nodes() {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut around = vec![0usize; view.cells.len()];
    for (c, nodes) in view.cells.chunks_exact(per_cell).enumerate() {
        for &node in nodes {
            around[fill[node]] = c;
            fill[node] += 1;
        }
    }
    let mut in_piece = vec![false; mesh.num_cells()];
    for &c in cells {
        in_piece[c] = true;
    }
    let mut owners = Vec::new();
    let parts = marked
        .iter()
        .map(|part| {
            let mut facets = Vec::new();
            for facet in part.facets.chunks_exact(per_facet) {
                let owner = around[start[facet[0]]..start[facet[0] + 1]]
                    .iter()
                    .copied()
                    .find(|&c| {
                        let nodes = &view.cells[c * per_cell..(c + 1) * per_cell];
                        facet.iter().all(|n| nodes.contains(n))
                    });
                if let Some(c) = owner.filter(|&c| in_piece[c]) {
                    facets.extend(facet.iter().map(|&n| local[n]));
                    owners.push(c);
                }
            }
            let mut piece_part = BoundaryPart::from_facets(part.name.clone(), facets);
            piece_part.id = part.id;
            piece_part
        })
        .collect();
    (parts, owners)
}

/// Writes the `.pvtu` file that collects `pieces` (paths as written in the file: relative to
/// its directory), each written by [`write_vtu_piece`] with the point fields `point_fields`
/// and the cell fields `cell_fields` (names), the `subdomain` markers when `markers.0` and the
/// `boundary` markers when `markers.1` (a mesh with cell markers; with marked boundary parts).
///
/// # Errors
/// [`Error::InvalidInput`] (`pieces`) for no piece or a name with control characters;
/// [`Error::Io`] with `path`.
pub fn write_pvtu(
    path: &Path,
    pieces: &[String],
    point_fields: &[&str],
    cell_fields: &[&str],
    markers: (bool, bool),
) -> Result<()> {
    let (subdomain, boundary) = markers;
    if pieces.is_empty() || pieces.iter().any(|p| p.chars().any(char::is_control)) {
        return Err(Error::invalid(
            "pieces",
            "a .pvtu file needs at least one piece, named without control characters",
        ));
    }
    write_atomically(path, |w| {
        writeln!(w, r#"<?xml version="1.0"?>"#)?;
        writeln!(
            w,
            r#"<VTKFile type="PUnstructuredGrid" version="1.0" byte_order="LittleEndian" header_type="UInt64">"#
        )?;
        writeln!(w, r#"  <PUnstructuredGrid GhostLevel="0">"#)?;
        match point_fields.first() {
            Some(first) => {
                writeln!(w, r#"    <PPointData Scalars="{}">"#, xml_escape(first))?;
                for name in point_fields {
                    scalar_array(w, name)?;
                }
                writeln!(w, "    </PPointData>")?;
            }
            None => writeln!(w, "    <PPointData/>")?,
        }
        if subdomain || boundary || !cell_fields.is_empty() {
            let scalars = match cell_fields.first() {
                Some(first) => first,
                None if subdomain => "subdomain",
                None => "boundary",
            };
            writeln!(w, r#"    <PCellData Scalars="{}">"#, xml_escape(scalars))?;
            if subdomain {
                writeln!(w, r#"      <PDataArray type="Int32" Name="subdomain"/>"#)?;
            }
            if boundary {
                writeln!(w, r#"      <PDataArray type="Int32" Name="boundary"/>"#)?;
            }
            for name in cell_fields {
                scalar_array(w, name)?;
            }
            writeln!(w, "    </PCellData>")?;
        }
        writeln!(w, "    <PPoints>")?;
        writeln!(
            w,
            r#"      <PDataArray type="Float64" Name="Points" NumberOfComponents="3"/>"#
        )?;
        writeln!(w, "    </PPoints>")?;
        for piece in pieces {
            writeln!(w, r#"    <Piece Source="{}"/>"#, xml_escape(piece))?;
        }
        writeln!(w, "  </PUnstructuredGrid>")?;
        writeln!(w, "</VTKFile>")?;
        Ok(())
    })
}

/// One `<PDataArray>` line of a scalar Float64 field `name`.
fn scalar_array(w: &mut dyn Write, name: &str) -> std::io::Result<()> {
    writeln!(
        w,
        r#"      <PDataArray type="Float64" Name="{}" NumberOfComponents="1"/>"#,
        xml_escape(name)
    )
}
