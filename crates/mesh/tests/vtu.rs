//! Cross-checks `write_vtu` output with an independent reader, the `vtkio` crate.

use femscale_core::CellKind;
use femscale_mesh::vtu::{VtuData, read_vtu, write_vtu};
use femscale_mesh::{Diagonal, Mesh, RectangleCells, RectangleSpec};
use vtkio::model::{Attribute, CellType, DataSet, VertexNumbers};

fn meshes() -> Vec<Mesh> {
    vec![
        Mesh::interval(-2.0, 3.0, 7).unwrap(),
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

        // Our own reader agrees with vtkio.
        let ours: VtuData = read_vtu(&path).unwrap();
        assert_eq!(ours.point_fields, ind.fields);
        assert_eq!(ours.cells.len(), ind.types.len());
    }
}
