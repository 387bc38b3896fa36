//! Cross-checks `write_vtu` output with an independent reader, the `vtkio` crate.

use femscale_core::CellKind;
use femscale_mesh::vtu::write_vtu;
use femscale_mesh::{Diagonal, Mesh, RectangleCells, RectangleSpec};
use vtkio::model::{Attribute, CellType, DataSet, VertexNumbers};

fn meshes() -> Vec<Mesh> {
    vec![
        Mesh::interval(-2.0, 3.0, 7).unwrap(),
        Mesh::interval_from_nodes(vec![0.0, 0.1, 1.0 / 3.0, 0.7, 1.0]).unwrap(),
        Mesh::rectangle(&RectangleSpec {
            x: [0.0, 2.0],
            y: [-1.0, 1.0],
            nx: 4,
            ny: 3,
            diagonal: Diagonal::Alternating,
            ..RectangleSpec::default()
        })
        .unwrap(),
        Mesh::rectangle(&RectangleSpec {
            nx: 5,
            ny: 2,
            cells: RectangleCells::Quadrilateral,
            ..RectangleSpec::default()
        })
        .unwrap(),
    ]
}

/// What vtkio found in a file.
struct Independent {
    points: Vec<f64>,
    connectivity: Vec<u64>,
    offsets: Vec<u64>,
    types: Vec<CellType>,
    fields: Vec<(String, Vec<f64>)>,
}

fn read_with_vtkio(path: &std::path::Path) -> Independent {
    let vtk =
        vtkio::Vtk::import(path).unwrap_or_else(|e| panic!("vtkio cannot read {path:?}: {e}"));
    let DataSet::UnstructuredGrid { pieces, .. } = vtk.data else {
        panic!("vtkio did not see an UnstructuredGrid");
    };
    assert_eq!(pieces.len(), 1);
    let piece = pieces
        .into_iter()
        .next()
        .unwrap()
        .into_loaded_piece_data(None)
        .unwrap();
    let VertexNumbers::XML {
        connectivity,
        offsets,
    } = piece.cells.cell_verts
    else {
        panic!("expected XML cell numbering");
    };
    let fields = piece
        .data
        .point
        .into_iter()
        .map(|a| match a {
            Attribute::DataArray(d) => (d.name, d.data.into_vec::<f64>().expect("Float64 field")),
            other => panic!("unexpected attribute {other:?}"),
        })
        .collect();
    Independent {
        points: piece.points.into_vec::<f64>().expect("Float64 points"),
        connectivity,
        offsets,
        types: piece.cells.types,
        fields,
    }
}

#[test]
fn vtkio_reads_points_cells_and_fields_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for (k, mesh) in meshes().iter().enumerate() {
        let pts = mesh.points();
        let u: Vec<f64> = pts.iter().map(|p| p[0].sin() + p[1] / 3.0).collect();
        let v: Vec<f64> = (0..pts.len()).map(|i| 1.0 / (1.0 + i as f64)).collect();
        let path = dir.path().join(format!("mesh{k}.vtu"));
        write_vtu(mesh, &[("u", &u), ("velocity & <more>", &v)], &path).unwrap();

        let ind = read_with_vtkio(&path);
        // Point count and exact coordinates (padded to 3D).
        assert_eq!(ind.points.len(), 3 * mesh.num_nodes());
        let flat: Vec<f64> = pts.iter().flatten().copied().collect();
        assert_eq!(ind.points, flat);
        // Cell count, types, connectivity.
        let npc = mesh.cell_kind().nodes_per_cell();
        assert_eq!(ind.types.len(), mesh.num_cells());
        assert_eq!(ind.offsets.len(), mesh.num_cells());
        let want = match mesh.cell_kind() {
            CellKind::Interval => CellType::Line,
            CellKind::Triangle => CellType::Triangle,
            CellKind::Quadrilateral => CellType::Quad,
            CellKind::Tetrahedron => CellType::Tetra,
            CellKind::Hexahedron => CellType::Hexahedron,
        };
        assert!(ind.types.iter().all(|&t| t == want), "{:?}", ind.types);
        let conn: Vec<u64> = mesh.cells().iter().map(|&c| c as u64).collect();
        assert_eq!(ind.connectivity, conn);
        assert_eq!(
            *ind.offsets.last().unwrap(),
            (npc * mesh.num_cells()) as u64
        );
        // Field names (unescaped) and exact values.
        assert_eq!(ind.fields.len(), 2);
        assert_eq!(ind.fields[0], ("u".to_string(), u.clone()));
        assert_eq!(ind.fields[1], ("velocity & <more>".to_string(), v.clone()));
    }
}

/// Values that stress an exact round trip through text: signed zero, values next to the
/// subnormals, huge magnitudes, and thirds.
fn hard_values(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| match i % 5 {
            0 => f64::MIN_POSITIVE * 3.0,
            1 => -0.0,
            2 => 1.0e300 / (i as f64),
            3 => (i as f64 * 3.7).sin() / 7.0,
            _ => -(i as f64) / 3.0,
        })
        .collect()
}

#[test]
fn values_round_trip_bit_for_bit_through_an_independent_reader() {
    let dir = tempfile::tempdir().unwrap();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (k, mesh) in meshes().iter().enumerate() {
        let w = hard_values(mesh.num_nodes());
        let path = dir.path().join(format!("hard{k}.vtu"));
        write_vtu(mesh, &[("w <&\"'>", &w)], &path).unwrap();
        let ind = read_with_vtkio(&path);
        assert_eq!(ind.fields.len(), 1);
        assert_eq!(ind.fields[0].0, "w <&\"'>");
        assert_eq!(bits(&ind.fields[0].1), bits(&w));
        let flat: Vec<f64> = mesh.points().iter().flatten().copied().collect();
        assert_eq!(bits(&ind.points), bits(&flat));
    }
}

#[test]
fn an_existing_file_is_replaced_and_no_fields_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.vtu");
    std::fs::write(&path, "old").unwrap();
    let mesh = &meshes()[2];
    write_vtu(mesh, &[], &path).unwrap();
    let ind = read_with_vtkio(&path);
    assert!(ind.fields.is_empty());
    assert_eq!(ind.types.len(), mesh.num_cells());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["m.vtu"], "only the file, no temporary left");
}
