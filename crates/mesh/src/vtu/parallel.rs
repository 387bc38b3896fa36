//! Parallel VTK output: one `.vtu` piece per process ([`write_vtu_piece`]) and the `.pvtu`
//! file that collects them ([`write_pvtu`]), as ParaView opens the output of an MPI solve.

use std::io::Write;
use std::path::Path;

use femscale_core::io::write_atomically;
use femscale_core::{Error, Result};

use super::{FieldKind, validate_fields, write_vtu_with_cell_data, xml_escape};
use crate::mesh::Mesh;

/// Writes the cells `cells` of `mesh` (indices, increasing) as a `.vtu` piece: only the
/// nodes they use (renumbered in increasing order), each point field restricted to them, each
/// cell field to the cells; the cell markers as `subdomain` when the mesh has them. Boundary
/// facet cells are not written in pieces.
///
/// # Errors
/// As [`write_vtu_with_cell_data`]; [`Error::InvalidInput`] (`cells`) for an empty selection,
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
    write_vtu_with_cell_data(&piece, &points, &cell_values, path)
}

/// Writes the `.pvtu` file that collects `pieces` (paths as written in the file: relative to
/// its directory), each written by [`write_vtu_piece`] with the point fields `point_fields`
/// and the cell fields `cell_fields` (names), and `subdomain` markers when `markers`.
///
/// # Errors
/// [`Error::InvalidInput`] (`pieces`) for no piece or a name with control characters;
/// [`Error::Io`] with `path`.
pub fn write_pvtu(
    path: &Path,
    pieces: &[String],
    point_fields: &[&str],
    cell_fields: &[&str],
    markers: bool,
) -> Result<()> {
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
        if markers || !cell_fields.is_empty() {
            let scalars = cell_fields.first().copied().unwrap_or("subdomain");
            writeln!(w, r#"    <PCellData Scalars="{}">"#, xml_escape(scalars))?;
            if markers {
                writeln!(w, r#"      <PDataArray type="Int32" Name="subdomain"/>"#)?;
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
