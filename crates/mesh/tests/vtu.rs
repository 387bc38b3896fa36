//! Cross-checks `write_vtu` output with an independent reader, the `vtkio` crate.

use femscale_core::{CellKind, Order};
use femscale_mesh::vtu::{write_vtu, write_vtu_with_cell_data};
use femscale_mesh::{BoxCells, BoxSpec, Diagonal, Mesh, RectangleCells, RectangleSpec};
use vtkio::IOBuffer;
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
    cell_fields: Vec<(String, Vec<i32>)>,
    cell_floats: Vec<(String, Vec<f64>)>,
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
        .clone()
        .into_iter()
        .map(|a| match a {
            Attribute::DataArray(d) => (d.name, d.data.into_vec::<f64>().expect("Float64 field")),
            other => panic!("unexpected attribute {other:?}"),
        })
        .collect();
    let (mut cell_fields, mut cell_floats) = (Vec::new(), Vec::new());
    for a in piece.data.cell {
        let Attribute::DataArray(d) = a else {
            panic!("unexpected attribute {a:?}");
        };
        match d.data {
            IOBuffer::I32(v) => cell_fields.push((d.name, v)),
            IOBuffer::F64(v) => cell_floats.push((d.name, v)),
            other => panic!("unexpected cell data {other:?}"),
        }
    }
    Independent {
        cell_fields,
        cell_floats,
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
        // The cells first (types, connectivity), then the facets of the marked sides.
        let npc = mesh.cell_kind().nodes_per_cell();
        let nc = mesh.num_cells();
        let (want, facet) = match mesh.cell_kind() {
            CellKind::Interval => (CellType::Line, CellType::Vertex),
            CellKind::Triangle => (CellType::Triangle, CellType::Line),
            CellKind::Quadrilateral => (CellType::Quad, CellType::Line),
            CellKind::Tetrahedron => (CellType::Tetra, CellType::Triangle),
            CellKind::Hexahedron => (CellType::Hexahedron, CellType::Quad),
        };
        assert!(
            ind.types[..nc].iter().all(|&t| t == want),
            "{:?}",
            ind.types
        );
        let conn: Vec<u64> = mesh.cells().iter().map(|&c| c as u64).collect();
        assert_eq!(ind.connectivity[..conn.len()], conn);
        assert_eq!(ind.offsets[nc - 1], (npc * nc) as u64);
        check_markers(mesh, facet);
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
    // Without markers and marked parts: only the cells, no cell data.
    let coords = vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let mesh = Mesh::try_new(
        2,
        coords,
        CellKind::Triangle,
        vec![0, 1, 2, 0, 2, 3],
        vec![],
    )
    .unwrap();
    write_vtu(&mesh, &[], &path).unwrap();
    let ind = read_with_vtkio(&path);
    assert!(ind.fields.is_empty() && ind.cell_fields.is_empty());
    assert_eq!(ind.types, [CellType::Triangle; 2]);
    assert_eq!(ind.connectivity, [0, 1, 2, 0, 2, 3]);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["m.vtu"], "only the file, no temporary left");
}

/// Writes `mesh` and checks what vtkio reads: the cells, then one facet cell of type
/// `facet_type` per facet of each marked part, with the `subdomain` and `boundary` arrays.
fn check_markers(mesh: &Mesh, facet_type: CellType) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marked.vtu");
    let u: Vec<f64> = mesh.points().iter().map(|p| p[0] - p[1]).collect();
    write_vtu(mesh, &[("u", &u)], &path).unwrap();
    let ind = read_with_vtkio(&path);
    assert_eq!(
        ind.fields,
        [("u".to_string(), u)],
        "point data: one value per node"
    );

    let marked: Vec<_> = mesh
        .boundary_parts()
        .iter()
        .filter(|p| p.id.is_some())
        .collect();
    assert!(!marked.is_empty());
    let npf = mesh.view().nodes_per_facet();
    let nc = mesh.num_cells();
    let nf: usize = marked.iter().map(|p| p.facets.len() / npf).sum();
    assert!(nf > 0);
    let cell_type = ind.types[0];
    assert_eq!(ind.types.len(), nc + nf);
    assert_eq!(ind.types.iter().filter(|&&t| t == cell_type).count(), nc);
    assert_eq!(ind.types.iter().filter(|&&t| t == facet_type).count(), nf);
    assert!(ind.types[nc..].iter().all(|&t| t == facet_type));
    let mut conn: Vec<u64> = mesh.cells().iter().map(|&c| c as u64).collect();
    for p in &marked {
        conn.extend(p.facets.iter().map(|&n| n as u64));
    }
    assert_eq!(ind.connectivity, conn);
    assert_eq!(*ind.offsets.last().unwrap(), conn.len() as u64);

    let mut boundary = vec![-1; nc];
    for p in &marked {
        boundary.extend(std::iter::repeat_n(p.id.unwrap(), p.facets.len() / npf));
    }
    let mut want = Vec::new();
    if !mesh.cell_markers().is_empty() {
        let mut subdomain = mesh.cell_markers().to_vec();
        subdomain.resize(nc + nf, -1);
        want.push(("subdomain".to_string(), subdomain));
    }
    want.push(("boundary".to_string(), boundary));
    assert_eq!(ind.cell_fields, want);
}

fn gmsh(name: &str) -> Mesh {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gmsh");
    Mesh::read_gmsh(dir.join(name)).unwrap()
}

#[test]
fn annulus_subdomains_and_boundary_groups_are_cell_data() {
    let mesh = gmsh("annulus_v41_binary.msh");
    assert_eq!(mesh.subdomains().len(), 2);
    let ids: Vec<_> = mesh.boundary_parts().iter().filter_map(|p| p.id).collect();
    assert_eq!(ids, [11, 12, 13]);
    check_markers(&mesh, CellType::Line);
}

#[test]
fn tetrahedral_cube_markers_are_cell_data() {
    let mesh = gmsh("cube_v41_ascii.msh");
    assert_eq!(mesh.cell_kind(), CellKind::Tetrahedron);
    check_markers(&mesh, CellType::Triangle);
}

#[test]
fn hexahedra_intervals_and_quadrilaterals_write_their_facet_types() {
    // Two unit cubes side by side, the left face marked 7, the right one 8, the cells 1 and 2.
    let mut coords = Vec::new();
    for z in [0.0, 1.0] {
        for (x, y) in [
            (0.0, 0.0),
            (1.0, 0.0),
            (2.0, 0.0),
            (2.0, 1.0),
            (1.0, 1.0),
            (0.0, 1.0),
        ] {
            coords.extend([x, y, z]);
        }
    }
    let hexes = vec![0, 1, 4, 5, 6, 7, 10, 11, 1, 2, 3, 4, 7, 8, 9, 10];
    let mesh = Mesh::builder(3, coords, CellKind::Hexahedron, hexes)
        .cell_markers(vec![1, 2])
        .facet_markers(vec![0, 5, 11, 6, 2, 3, 9, 8], vec![7, 8])
        .build()
        .unwrap();
    check_markers(&mesh, CellType::Quad);

    // An interval with marked end points and no cell markers: vertices, no `subdomain` array.
    let line = Mesh::builder(1, vec![0.0, 0.5, 1.0], CellKind::Interval, vec![0, 1, 1, 2])
        .facet_markers(vec![0, 2], vec![3, 4])
        .build()
        .unwrap();
    check_markers(&line, CellType::Vertex);

    // Quadrilaterals with cell markers and one marked edge.
    let quads = Mesh::builder(
        2,
        vec![0.0, 0.0, 1.0, 0.0, 2.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 1.0],
        CellKind::Quadrilateral,
        vec![0, 1, 4, 3, 1, 2, 5, 4],
    )
    .cell_markers(vec![5, 6])
    .facet_markers(vec![1, 4], vec![9])
    .build()
    .unwrap();
    check_markers(&quads, CellType::Line);
}

/// Order-2 meshes: quadratic cells of VTK's types with the mesh's connectivity, and facet cells
/// of the marked parts in the order-2 layout, read back by vtkio.
#[test]
fn order_two_meshes_write_quadratic_cells_and_facets() {
    let lifted = |m: Mesh| m.with_order(Order::Quadratic).unwrap();
    let rect = |cells| {
        let spec = RectangleSpec {
            nx: 3,
            ny: 2,
            cells,
            ..RectangleSpec::default()
        };
        lifted(Mesh::rectangle(&spec).unwrap())
    };
    let cube = |cells| {
        let spec = BoxSpec {
            nx: 2,
            ny: 1,
            nz: 2,
            cells,
            ..BoxSpec::default()
        };
        lifted(Mesh::cuboid(&spec).unwrap())
    };
    let cases = [
        (
            lifted(Mesh::interval(0.0, 1.0, 4).unwrap()),
            CellType::QuadraticEdge,
            CellType::Vertex,
            3,
        ),
        (
            rect(RectangleCells::Triangle),
            CellType::QuadraticTriangle,
            CellType::QuadraticEdge,
            6,
        ),
        (
            rect(RectangleCells::Quadrilateral),
            CellType::BiquadraticQuad,
            CellType::QuadraticEdge,
            9,
        ),
        (
            cube(BoxCells::Tetrahedron),
            CellType::QuadraticTetra,
            CellType::QuadraticTriangle,
            10,
        ),
        (
            cube(BoxCells::Hexahedron),
            CellType::TriquadraticHexahedron,
            CellType::BiquadraticQuad,
            27,
        ),
        (
            gmsh("disk2_v41_binary.msh"),
            CellType::QuadraticTriangle,
            CellType::QuadraticEdge,
            6,
        ),
        (
            gmsh("cube2hex_v22_ascii.msh"),
            CellType::TriquadraticHexahedron,
            CellType::BiquadraticQuad,
            27,
        ),
    ];
    for (mesh, cell, facet, npc) in cases {
        assert_eq!(mesh.order(), Order::Quadratic);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p2.vtu");
        write_vtu(&mesh, &[], &path).unwrap();
        let ind = read_with_vtkio(&path);
        let nc = mesh.num_cells();
        assert!(ind.types[..nc].iter().all(|&t| t == cell), "{cell:?}");
        assert_eq!(ind.offsets[0], npc as u64);
        assert_eq!(ind.points.len(), 3 * mesh.num_nodes());
        check_markers(&mesh, facet);
    }
}

#[test]
fn cell_fields_are_float_cell_data_with_zeros_on_the_facet_cells() {
    let dir = tempfile::tempdir().unwrap();
    for mesh in [meshes().swap_remove(2), gmsh("annulus_v41_binary.msh")] {
        let nc = mesh.num_cells();
        let eta: Vec<f64> = (0..nc).map(|c| 1.0 / (3.0 + c as f64)).collect();
        let level: Vec<f64> = (0..nc).map(|c| (c % 4) as f64).collect();
        let u = vec![0.5; mesh.num_nodes()];
        let path = dir.path().join("cells.vtu");
        write_vtu_with_cell_data(
            &mesh,
            &[("u", &u)],
            &[("eta", &eta), ("level", &level)],
            &path,
        )
        .unwrap();
        let ind = read_with_vtkio(&path);
        let facets = ind.types.len() - nc;
        let padded = |v: &[f64]| {
            let mut v = v.to_vec();
            v.resize(nc + facets, 0.0);
            v
        };
        assert_eq!(
            ind.cell_floats,
            [
                ("eta".to_string(), padded(&eta)),
                ("level".to_string(), padded(&level))
            ]
        );
        assert_eq!(
            ind.cell_fields.len(),
            1 + usize::from(!mesh.cell_markers().is_empty())
        );
        assert_eq!(ind.fields, [("u".to_string(), u)]);
    }
    // Wrong lengths, non-finite values, duplicates and the marker names are refused by name.
    let mesh = Mesh::interval(0.0, 1.0, 3).unwrap();
    let path = dir.path().join("bad.vtu");
    let ok = [1.0; 3];
    /// Cell fields and the field path the error names.
    type Case<'a> = (&'a [(&'a str, &'a [f64])], &'a str);
    let cases: [Case<'_>; 4] = [
        (&[("eta", &[1.0; 4])], "cell_fields.eta"),
        (&[("eta", &[1.0, f64::NAN, 0.0])], "cell_fields.eta"),
        (&[("eta", &ok), ("eta", &ok)], "cell_fields.eta"),
        (&[("boundary", &ok)], "cell_fields.boundary"),
    ];
    for (fields, name) in cases {
        let e = write_vtu_with_cell_data(&mesh, &[], fields, &path).unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some(name), "{e}");
        assert!(!path.exists());
    }
}

#[test]
fn a_pvtu_and_its_pieces_read_back_as_the_whole_field() {
    use femscale_mesh::vtu::{write_pvtu, write_vtu_piece};
    let dir = tempfile::tempdir().unwrap();
    let mesh = Mesh::rectangle(&RectangleSpec {
        nx: 6,
        ny: 5,
        ..RectangleSpec::default()
    })
    .unwrap();
    let f = |p: &[f64]| p[0] * 2.0 - p[1] * p[1];
    let u: Vec<f64> = mesh.points().iter().map(|p| f(p)).collect();
    let ids: Vec<f64> = (0..mesh.num_cells()).map(|c| c as f64).collect();
    // Two pieces: the first 23 cells, the others.
    let split = 23;
    let parts = [
        (0..split).collect::<Vec<_>>(),
        (split..mesh.num_cells()).collect(),
    ];
    let mut names = Vec::new();
    for (k, cells) in parts.iter().enumerate() {
        let name = format!("u_{k}.vtu");
        write_vtu_piece(
            &mesh,
            cells,
            &[("u", &u)],
            &[("cell", &ids)],
            &dir.path().join(&name),
        )
        .unwrap();
        names.push(name);
    }
    let pvtu = dir.path().join("u.pvtu");
    let marked = mesh.boundary_parts().iter().any(|p| p.id.is_some());
    write_pvtu(&pvtu, &names, &["u"], &["cell"], (false, marked)).unwrap();

    let vtk = vtkio::Vtk::import(&pvtu).unwrap_or_else(|e| panic!("vtkio: {e}"));
    let DataSet::UnstructuredGrid { pieces, .. } = vtk.data else {
        panic!("not an UnstructuredGrid");
    };
    assert_eq!(pieces.len(), 2);
    let mut cells_seen: Vec<f64> = Vec::new();
    for (k, piece) in pieces.into_iter().enumerate() {
        let piece = piece.into_loaded_piece_data(Some(&pvtu)).unwrap();
        let points = piece.points.into_vec::<f64>().unwrap();
        let mut u_read = None;
        for a in piece.data.point {
            if let Attribute::DataArray(d) = a {
                assert_eq!(d.name, "u");
                u_read = Some(d.data.into_vec::<f64>().unwrap());
            }
        }
        let u_read = u_read.expect("point data u");
        assert_eq!(u_read.len() * 3, points.len());
        // Every point of the piece carries the field at its own coordinates, bit for bit.
        for (k, value) in u_read.iter().enumerate() {
            assert_eq!(*value, f(&points[3 * k..3 * k + 2]));
        }
        for a in piece.data.cell {
            if let Attribute::DataArray(d) = a
                && d.name == "cell"
            {
                // The pieces' facet cells (of marked parts) take 0 after their cells.
                let values = d.data.into_vec::<f64>().unwrap();
                cells_seen.extend(&values[..parts[k].len()]);
            }
        }
    }
    // The pieces hold every cell once.
    let expected: Vec<f64> = (0..mesh.num_cells()).map(|c| c as f64).collect();
    assert_eq!(cells_seen, expected);
    assert!(write_vtu_piece(&mesh, &[], &[], &[], &dir.path().join("x.vtu")).is_err());
    assert!(write_vtu_piece(&mesh, &[3, 1], &[], &[], &dir.path().join("x.vtu")).is_err());
    assert!(write_pvtu(&pvtu, &[], &[], &[], (false, false)).is_err());
}

/// Pieces of a mesh with marked boundary parts hold every facet once between them, each with
/// its marker in `boundary` (as the whole file does), and the `.pvtu` declares the array.
#[test]
fn pieces_hold_the_marked_facets_once_between_them() {
    use femscale_mesh::vtu::{write_pvtu, write_vtu_piece};
    let mesh = gmsh("annulus_v41_binary.msh");
    let dir = tempfile::tempdir().unwrap();
    let u: Vec<f64> = mesh.points().iter().map(|p| p[0]).collect();
    let n = mesh.num_cells();
    // Interleaved pieces: most facets' first cell is in the other piece than a neighbour's.
    let parts = [
        (0..n).filter(|c| c % 3 == 0).collect::<Vec<_>>(),
        (0..n).filter(|c| c % 3 != 0).collect(),
    ];
    let npf = mesh.view().nodes_per_facet();
    let mut expected = std::collections::BTreeMap::new();
    for p in mesh.boundary_parts().iter().filter(|p| p.id.is_some()) {
        *expected.entry(p.id.unwrap()).or_insert(0) += p.facets.len() / npf;
    }
    let mut seen = std::collections::BTreeMap::new();
    let mut names = Vec::new();
    for (k, cells) in parts.iter().enumerate() {
        let name = format!("p_{k}.vtu");
        let path = dir.path().join(&name);
        write_vtu_piece(&mesh, cells, &[("u", &u)], &[], &path).unwrap();
        let ind = read_with_vtkio(&path);
        let boundary = &ind
            .cell_fields
            .iter()
            .find(|(name, _)| name == "boundary")
            .expect("every piece has the boundary array")
            .1;
        assert_eq!(boundary.len(), ind.types.len());
        for &id in boundary.iter().filter(|&&id| id >= 0) {
            *seen.entry(id).or_insert(0) += 1;
        }
        names.push(name);
    }
    assert_eq!(seen, expected);
    let pvtu = dir.path().join("p.pvtu");
    write_pvtu(&pvtu, &names, &["u"], &[], (true, true)).unwrap();
    let text = std::fs::read_to_string(&pvtu).unwrap();
    assert!(
        text.contains(r#"Name="boundary""#) && text.contains(r#"Name="subdomain""#),
        "{text}"
    );
}
