//! `CellKind::typical_row_entries` (what memory estimates assume before a pattern exists)
//! against the pattern of structured meshes: the mean row length of the nodes at least two
//! cells away from the boundary, where every kind of node (vertex, edge, face, cell) occurs in
//! its structured proportion. Measured: 7, 11.5, 9, 16 (triangles, quadrilaterals, P1/P2 and
//! Q1/Q2) and 15, 28.75, 27, 64 (tetrahedra, hexahedra).

use femscale_assembly::build_pattern;
use femscale_core::Order;
use femscale_mesh::{BoxCells, BoxSpec, Diagonal, Mesh, RectangleCells, RectangleSpec};

/// Mean stored entries per row over the nodes of `mesh` (on the unit square or cube with `n`
/// cells per side) at least two cells from the boundary, in a half-open box so that every node
/// kind keeps its structured proportion.
fn interior_row_entries(mesh: &Mesh, n: usize) -> f64 {
    let pattern = build_pattern(&mesh.view(), false).unwrap();
    let (margin, eps) = (2.0 / n as f64, 1e-9);
    let dim = mesh.dim();
    let inside =
        |p: &[f64; 3]| (p[..dim].iter()).all(|&x| x > margin - eps && x < 1.0 - margin - eps);
    let (mut rows, mut entries) = (0usize, 0usize);
    for (i, p) in mesh.points().iter().enumerate() {
        if inside(p) {
            rows += 1;
            entries += pattern.row(i).len();
        }
    }
    assert!(rows > 0);
    entries as f64 / rows as f64
}

fn check(mesh: Mesh, n: usize) {
    let (kind, order) = (mesh.cell_kind(), mesh.order());
    let measured = interior_row_entries(&mesh, n);
    let typical = kind.typical_row_entries(order) as f64;
    assert!(
        (typical - measured).abs() <= 0.05 * measured,
        "{kind:?} {order:?}: typical {typical}, measured {measured:.2}"
    );
}

#[test]
fn typical_row_entries_match_structured_2d_patterns() {
    let n = 12;
    for cells in [RectangleCells::Triangle, RectangleCells::Quadrilateral] {
        let spec = RectangleSpec {
            nx: n,
            ny: n,
            cells,
            diagonal: Diagonal::Right,
            ..RectangleSpec::default()
        };
        let mesh = Mesh::rectangle(&spec).unwrap();
        check(mesh.clone(), n);
        check(mesh.with_order(Order::Quadratic).unwrap(), n);
    }
}

#[test]
fn typical_row_entries_match_structured_3d_patterns() {
    let n = 8;
    for cells in [BoxCells::Tetrahedron, BoxCells::Hexahedron] {
        let spec = BoxSpec {
            nx: n,
            ny: n,
            nz: n,
            cells,
            ..BoxSpec::default()
        };
        let mesh = Mesh::cuboid(&spec).unwrap();
        check(mesh.clone(), n);
        check(mesh.with_order(Order::Quadratic).unwrap(), n);
    }
}
