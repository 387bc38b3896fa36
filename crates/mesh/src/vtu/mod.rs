//! VTK XML UnstructuredGrid (`.vtu`) output, readable by ParaView, VisIt and any VTK reader.
//!
//! [`write_vtu`] writes ASCII data arrays: points padded to three components, cells with their
//! VTK types (`VTK_LINE` = 3, `VTK_TRIANGLE` = 5, `VTK_QUAD` = 9, `VTK_TETRA` = 10,
//! `VTK_HEXAHEDRON` = 12) and one `Float64` point-data array per field. Every number is written
//! in Rust's shortest round-trip notation, so a reader gets back exactly the values written (the
//! tests read the files back with an independent reader, the `vtkio` crate). Meshes of order 2
//! are written with their quadratic cells ([`CellKind::vtk_type`]: `VTK_QUADRATIC_EDGE` = 21,
//! `_TRIANGLE` = 22, `VTK_BIQUADRATIC_QUAD` = 28, `VTK_QUADRATIC_TETRA` = 24,
//! `VTK_TRIQUADRATIC_HEXAHEDRON` = 29), whose node order is femscale's, and their facet cells in
//! the order-2 layout too (quadratic edges, triangles, biquadratic quads), so ParaView shows the
//! P2/Q2 field and curved cells. Files are replaced
//! atomically (see [`femscale_core::io::write_atomically`]): a reader never sees a half-written
//! file.
//!
//! # Markers
//! A mesh without cell markers and without marked boundary parts is written as above, with no
//! cell data. Otherwise the file holds, so that ParaView can threshold by either array:
//! * the mesh's cells first, in mesh order, then one extra cell per facet of every boundary
//!   part that has a marker (`id`), part by part in mesh order (`VTK_VERTEX` = 1, `VTK_LINE`,
//!   `VTK_TRIANGLE` or `VTK_QUAD` by facet size). A facet in two marked parts is written twice;
//!   parts without a marker (the exterior part `all`, generated sides) are not written;
//! * cell data `subdomain` (`Int32`, when the mesh has cell markers): each cell's marker, -1 on
//!   the facet cells;
//! * cell data `boundary` (`Int32`, when some part has a marker): -1 on the mesh's cells, the
//!   part's marker on its facet cells.
//!
//! Point data stays one value per node. [`write_vtu_with_cell_data`] adds `Float64` cell
//! data (one value per mesh cell, 0 on the facet cells), e.g. an error estimator's indicators.
//!
//! ```
//! use femscale_mesh::{Mesh, vtu};
//! let mesh = Mesh::interval(0.0, 1.0, 4).unwrap();
//! let u: Vec<f64> = mesh.points().iter().map(|p| p[0] * p[0]).collect();
//! let dir = std::env::temp_dir().join(format!("femscale-vtu-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("u.vtu");
//! vtu::write_vtu(&mesh, &[("u", &u)], &path).unwrap();
//! let text = std::fs::read_to_string(&path).unwrap();
//! // Four intervals, then the end points of the sides `left` (marker 1) and `right` (2).
//! assert!(text.contains(r#"<Piece NumberOfPoints="5" NumberOfCells="6">"#));
//! assert!(text.contains(r#"<DataArray type="Int32" Name="boundary""#));
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::fmt::Write as _;

use std::io::{self, Write};
use std::path::Path;

use femscale_core::io::write_atomically;
use femscale_core::{CellKind, Error, Order, Result};

use crate::mesh::Mesh;

mod parallel;

pub use parallel::{write_pvtu, write_vtu_piece};

/// VTK cell type of a single vertex.
pub const VTK_VERTEX: u8 = 1;
/// VTK cell type of a 2-node line segment.
pub const VTK_LINE: u8 = 3;
/// VTK cell type of a 3-node triangle.
pub const VTK_TRIANGLE: u8 = 5;
/// VTK cell type of a 4-node quadrilateral.
pub const VTK_QUAD: u8 = 9;
/// VTK cell type of a 4-node tetrahedron.
pub const VTK_TETRA: u8 = 10;
/// VTK cell type of an 8-node hexahedron.
pub const VTK_HEXAHEDRON: u8 = 12;

/// The VTK cell type of a femscale cell kind.
pub const fn vtk_cell_type(kind: CellKind) -> u8 {
    match kind {
        CellKind::Interval => VTK_LINE,
        CellKind::Triangle => VTK_TRIANGLE,
        CellKind::Quadrilateral => VTK_QUAD,
        CellKind::Tetrahedron => VTK_TETRA,
        CellKind::Hexahedron => VTK_HEXAHEDRON,
    }
}

/// The VTK cell type of a boundary facet of a cell of kind `kind`.
pub const fn vtk_facet_type(kind: CellKind) -> u8 {
    match kind {
        CellKind::Interval => VTK_VERTEX,
        CellKind::Triangle | CellKind::Quadrilateral => VTK_LINE,
        CellKind::Tetrahedron => VTK_TRIANGLE,
        CellKind::Hexahedron => VTK_QUAD,
    }
}

/// The VTK cell type of a boundary facet of a cell of kind `kind` in the layout of `order`.
pub const fn vtk_facet_type_of(kind: CellKind, order: Order) -> u8 {
    match kind.facet_kind() {
        Some(facet) => facet.vtk_type(order),
        None => VTK_VERTEX,
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Where a field lives: at the nodes (`point_fields`) or on the cells (`cell_fields`).
#[derive(Clone, Copy)]
enum FieldKind {
    Point,
    Cell,
}

impl FieldKind {
    fn list(self) -> &'static str {
        match self {
            Self::Point => "point_fields",
            Self::Cell => "cell_fields",
        }
    }

    fn entity(self) -> &'static str {
        match self {
            Self::Point => "node",
            Self::Cell => "cell",
        }
    }
}

/// Checks the fields of one kind: names, lengths (`len` entities), finite values, no name
/// given twice or taken by the marker arrays.
fn validate_fields(fields: &[(&str, &[f64])], kind: FieldKind, len: usize) -> Result<()> {
    for (k, (name, values)) in fields.iter().enumerate() {
        validate_field(name, values, kind, len)?;
        let reserved = matches!(kind, FieldKind::Cell) && ["subdomain", "boundary"].contains(name);
        if reserved || fields[..k].iter().any(|(other, _)| other == name) {
            return Err(Error::invalid(
                format!("{}.{name}", kind.list()),
                if reserved {
                    format!("the cell-data name `{name}` is taken by the mesh's markers")
                } else {
                    format!("field name `{name}` is given twice")
                },
            ));
        }
    }
    Ok(())
}

/// Checks a field name and value array against `len` nodes or cells.
fn validate_field(name: &str, values: &[f64], kind: FieldKind, len: usize) -> Result<()> {
    let field = format!("{}.{name}", kind.list());
    let entity = kind.entity();
    if name.trim().is_empty() {
        return Err(Error::invalid(
            kind.list(),
            "field names must not be empty or blank",
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(Error::invalid(
            field,
            format!("field name contains the control character {c:?}"),
        ));
    }
    if values.len() != len {
        return Err(Error::invalid(
            field,
            format!(
                "field `{name}` has {} values, but the mesh has {len} {entity}s",
                values.len()
            ),
        ));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            field,
            format!(
                "field `{name}` has the non-finite value {} at {entity} {i} (VTK ASCII readers \
                 cannot parse it)",
                values[i]
            ),
        ));
    }
    Ok(())
}

/// Escapes the five XML special characters for use in a double-quoted attribute value.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes `values` in shortest round-trip exponent notation, `per_line` to a line.
fn write_floats(w: &mut impl Write, values: &[f64], per_line: usize) -> io::Result<()> {
    let mut line = String::new();
    for chunk in values.chunks(per_line.max(1)) {
        line.clear();
        line.push_str("          ");
        for (k, v) in chunk.iter().enumerate() {
            if k > 0 {
                line.push(' ');
            }
            // `{:e}` prints the shortest digits that parse back to the same f64.
            let _ = write!(line, "{v:e}");
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Writes integers, `per_line` to a line.
fn write_ints<T: std::fmt::Display>(
    w: &mut impl Write,
    values: impl IntoIterator<Item = T>,
    per_line: usize,
) -> io::Result<()> {
    let mut line = String::from("          ");
    let mut count = 0;
    for v in values {
        if count > 0 {
            line.push(' ');
        }
        let _ = write!(line, "{v}");
        count += 1;
        if count == per_line {
            line.push('\n');
            w.write_all(line.as_bytes())?;
            line.truncate(0);
            line.push_str("          ");
            count = 0;
        }
    }
    if count > 0 {
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Writes `mesh` and its point fields as a VTK XML UnstructuredGrid (`.vtu`) file.
///
/// Each field is a `(name, values)` pair with one value per mesh node; it becomes a `Float64`
/// point-data array. Names are XML-escaped; values are written exactly (shortest round-trip
/// notation). The file is written to a temporary file in the same directory and renamed over
/// `path`, so `path` holds either the old or the complete new file. Cell markers and marked
/// boundary parts are written as cell data `subdomain` and `boundary` (see the
/// [module docs](self)).
///
/// # Errors
/// * [`Error::InvalidInput`] naming the field (`point_fields.<name>`) for an empty or blank
///   name, a name with control characters, a duplicate name, a length different from
///   `mesh.num_nodes()` or a non-finite value; nothing is written then.
/// * [`Error::Io`] with `path` when the file cannot be written; no temporary file is left.
pub fn write_vtu(mesh: &Mesh, point_fields: &[(&str, &[f64])], path: &Path) -> Result<()> {
    write_vtu_with_cell_data(mesh, point_fields, &[], path)
}

/// [`write_vtu`] with cell fields too: each `(name, values)` pair of `cell_fields` holds one
/// value per mesh cell and becomes a `Float64` cell-data array (an error estimator's
/// indicators, a refinement level); the extra facet cells of marked boundary parts take 0.
///
/// # Errors
/// As [`write_vtu`], and [`Error::InvalidInput`] naming `cell_fields.<name>` for a cell field
/// of the wrong length, with a non-finite value, given twice, or called `subdomain` or
/// `boundary` (the marker arrays' names).
pub fn write_vtu_with_cell_data(
    mesh: &Mesh,
    point_fields: &[(&str, &[f64])],
    cell_fields: &[(&str, &[f64])],
    path: &Path,
) -> Result<()> {
    write_with_facet_values(mesh, point_fields, cell_fields, None, path)
}

/// [`write_vtu_with_cell_data`], the facet cells of marked parts taking `facet_values[i]` in
/// cell field `i` (one value per facet, in the order the facet cells are written), or 0.
pub(crate) fn write_with_facet_values(
    mesh: &Mesh,
    point_fields: &[(&str, &[f64])],
    cell_fields: &[(&str, &[f64])],
    facet_values: Option<&[Vec<f64>]>,
    path: &Path,
) -> Result<()> {
    let n = mesh.num_nodes();
    validate_fields(point_fields, FieldKind::Point, n)?;
    validate_fields(cell_fields, FieldKind::Cell, mesh.num_cells())?;
    let view = mesh.view();
    let (npc, npf) = (view.nodes_per_cell(), view.nodes_per_facet());
    let num_cells = mesh.num_cells();
    let vtk_type = mesh.cell_kind().vtk_type(mesh.order());
    let facet_type = vtk_facet_type_of(mesh.cell_kind(), mesh.order());
    // Marked boundary parts: (marker, facet connectivity).
    let marked: Vec<(i32, &[usize])> = mesh
        .boundary_parts()
        .iter()
        .filter_map(|p| p.id.map(|id| (id, p.facets.as_slice())))
        .collect();
    let num_facets: usize = marked.iter().map(|(_, f)| f.len() / npf).sum();
    let markers = mesh.cell_markers();
    let has_subdomain = !markers.is_empty();
    let has_boundary = !marked.is_empty();
    let total = num_cells + num_facets;
    write_atomically(path, |w| {
        writeln!(w, r#"<?xml version="1.0"?>"#)?;
        writeln!(
            w,
            r#"<VTKFile type="UnstructuredGrid" version="1.0" byte_order="LittleEndian" header_type="UInt64">"#
        )?;
        writeln!(w, "  <UnstructuredGrid>")?;
        writeln!(
            w,
            r#"    <Piece NumberOfPoints="{n}" NumberOfCells="{total}">"#
        )?;
        if point_fields.is_empty() {
            writeln!(w, "      <PointData/>")?;
        } else {
            writeln!(
                w,
                r#"      <PointData Scalars="{}">"#,
                xml_escape(point_fields[0].0)
            )?;
            for (name, values) in point_fields {
                writeln!(
                    w,
                    r#"        <DataArray type="Float64" Name="{}" NumberOfComponents="1" format="ascii">"#,
                    xml_escape(name)
                )?;
                write_floats(w, values, 6)?;
                writeln!(w, "        </DataArray>")?;
            }
            writeln!(w, "      </PointData>")?;
        }
        if has_subdomain || has_boundary || !cell_fields.is_empty() {
            let scalars = match cell_fields.first() {
                Some((name, _)) => xml_escape(name),
                None if has_subdomain => "subdomain".into(),
                None => "boundary".into(),
            };
            writeln!(w, r#"      <CellData Scalars="{scalars}">"#)?;
            if has_subdomain {
                write_int_array(
                    w,
                    "subdomain",
                    markers
                        .iter()
                        .copied()
                        .chain(std::iter::repeat_n(-1, num_facets)),
                )?;
            }
            if has_boundary {
                write_int_array(
                    w,
                    "boundary",
                    std::iter::repeat_n(-1, num_cells).chain(
                        marked
                            .iter()
                            .flat_map(|&(id, f)| std::iter::repeat_n(id, f.len() / npf)),
                    ),
                )?;
            }
            let facet_zeros = vec![0.0; num_facets];
            for (i, (name, values)) in cell_fields.iter().enumerate() {
                let on_facets = facet_values
                    .and_then(|v| v.get(i))
                    .filter(|v| v.len() == num_facets)
                    .map_or(facet_zeros.as_slice(), Vec::as_slice);
                writeln!(
                    w,
                    r#"        <DataArray type="Float64" Name="{}" NumberOfComponents="1" format="ascii">"#,
                    xml_escape(name)
                )?;
                write_floats(w, values, 6)?;
                if num_facets > 0 {
                    write_floats(w, on_facets, 6)?;
                }
                writeln!(w, "        </DataArray>")?;
            }
            writeln!(w, "      </CellData>")?;
        }
        writeln!(w, "      <Points>")?;
        writeln!(
            w,
            r#"        <DataArray type="Float64" Name="Points" NumberOfComponents="3" format="ascii">"#
        )?;
        for i in 0..n {
            write_floats(w, &view.point(i), 3)?;
        }
        writeln!(w, "        </DataArray>")?;
        writeln!(w, "      </Points>")?;
        writeln!(w, "      <Cells>")?;
        writeln!(
            w,
            r#"        <DataArray type="Int64" Name="connectivity" format="ascii">"#
        )?;
        write_ints(w, mesh.cells().iter(), npc * 4)?;
        for (_, facets) in &marked {
            write_ints(w, facets.iter(), npf * 4)?;
        }
        writeln!(w, "        </DataArray>")?;
        writeln!(
            w,
            r#"        <DataArray type="Int64" Name="offsets" format="ascii">"#
        )?;
        let facet_offsets = (1..=num_facets).map(|f| num_cells * npc + f * npf);
        write_ints(w, (1..=num_cells).map(|c| c * npc).chain(facet_offsets), 12)?;
        writeln!(w, "        </DataArray>")?;
        writeln!(
            w,
            r#"        <DataArray type="UInt8" Name="types" format="ascii">"#
        )?;
        write_ints(
            w,
            std::iter::repeat_n(vtk_type, num_cells)
                .chain(std::iter::repeat_n(facet_type, num_facets)),
            24,
        )?;
        writeln!(w, "        </DataArray>")?;
        writeln!(w, "      </Cells>")?;
        writeln!(w, "    </Piece>")?;
        writeln!(w, "  </UnstructuredGrid>")?;
        writeln!(w, "</VTKFile>")?;
        Ok(())
    })
}

/// Writes one `Int32` cell-data array called `name`.
fn write_int_array(
    w: &mut impl Write,
    name: &str,
    values: impl IntoIterator<Item = i32>,
) -> io::Result<()> {
    writeln!(
        w,
        r#"        <DataArray type="Int32" Name="{name}" NumberOfComponents="1" format="ascii">"#
    )?;
    write_ints(w, values, 24)?;
    writeln!(w, "        </DataArray>")
}

#[cfg(test)]
mod tests;
