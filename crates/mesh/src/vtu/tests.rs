//! Tests of the VTU writer and reader.

use super::*;
use crate::{RectangleCells, RectangleSpec};

fn meshes() -> Vec<Mesh> {
    vec![
        Mesh::interval_from_nodes(vec![0.0, 0.1, 1.0 / 3.0, 0.7, 1.0]).unwrap(),
        Mesh::rectangle(&RectangleSpec {
            x: [-1.0, 1.0],
            y: [0.0, 0.3],
            nx: 3,
            ny: 2,
            ..RectangleSpec::default()
        })
        .unwrap(),
        Mesh::rectangle(&RectangleSpec {
            nx: 3,
            ny: 3,
            cells: RectangleCells::Quadrilateral,
            ..RectangleSpec::default()
        })
        .unwrap(),
    ]
}

/// Two fields with values that stress exact round trips.
fn fields(mesh: &Mesh) -> (Vec<f64>, Vec<f64>) {
    let pts = mesh.points();
    let u = pts
        .iter()
        .map(|p| (p[0] * 3.7).sin() * (1.0 + p[1]).exp() / 7.0)
        .collect();
    let w = (0..pts.len())
        .map(|i| match i % 4 {
            0 => f64::MIN_POSITIVE * 3.0,
            1 => -0.0,
            2 => 1.0e300 / (i as f64),
            _ => -(i as f64) / 3.0,
        })
        .collect();
    (u, w)
}

fn no_temp_files(dir: &Path) {
    let left: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn round_trip_is_exact_for_all_cell_kinds() {
    let dir = tempfile::tempdir().unwrap();
    for (k, mesh) in meshes().iter().enumerate() {
        let (u, w) = fields(mesh);
        let path = dir.path().join(format!("m{k}.vtu"));
        write_vtu(mesh, &[("u", &u), ("w <&\"'>", &w)], &path).unwrap();
        let data = read_vtu(&path).unwrap();
        assert_eq!(data.points, mesh.points());
        let npc = mesh.cell_kind().nodes_per_cell();
        let cells: Vec<Vec<usize>> = mesh.cells().chunks(npc).map(<[_]>::to_vec).collect();
        assert_eq!(data.cells, cells);
        assert!(
            data.cell_types
                .iter()
                .all(|&t| t == vtk_cell_type(mesh.cell_kind()))
        );
        assert_eq!(data.point_fields.len(), 2);
        // Bitwise equality, so that -0.0 and subnormal-adjacent values count too.
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(data.point_field("u").unwrap()), bits(&u));
        assert_eq!(bits(data.point_field("w <&\"'>").unwrap()), bits(&w));
    }
    no_temp_files(dir.path());
}

#[test]
fn overwrites_existing_file_and_writes_without_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.vtu");
    fs::write(&path, "old").unwrap();
    let mesh = &meshes()[0];
    write_vtu(mesh, &[], &path).unwrap();
    let data = read_vtu(&path).unwrap();
    assert!(data.point_fields.is_empty());
    assert_eq!(data.cells.len(), mesh.num_cells());
    no_temp_files(dir.path());
}

#[test]
fn bad_fields_are_rejected_naming_the_field_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.vtu");
    let mesh = &meshes()[1];
    let n = mesh.num_nodes();
    let short = vec![0.0; n - 1];
    let good = vec![1.0; n];
    let mut nan = good.clone();
    nan[2] = f64::NAN;
    type Fields<'a> = &'a [(&'a str, &'a [f64])];
    let cases: [(Fields<'_>, &str); 5] = [
        (&[("u", &good), ("pressure", &short)], "pressure"),
        (&[(" ", &good)], "empty"),
        (&[("a\nb", &good)], "control"),
        (&[("u", &good), ("u", &good)], "twice"),
        (&[("t", &nan)], "node 2"),
    ];
    for (fields, needle) in cases {
        let e = write_vtu(mesh, fields, &path).unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        assert!(e.to_string().contains(needle), "{e}");
    }
    let e = write_vtu(mesh, &[("pressure", &short)], &path).unwrap_err();
    assert_eq!(e.field(), Some("point_fields.pressure"));
    assert!(!path.exists());
    no_temp_files(dir.path());
}

#[test]
fn unwritable_path_is_an_io_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mesh = &meshes()[0];
    let missing = dir.path().join("no/such/dir/m.vtu");
    let e = write_vtu(mesh, &[], &missing).unwrap_err();
    match &e {
        Error::Io { path, .. } => assert_eq!(path, &missing),
        other => panic!("expected Io, got {other:?}"),
    }
    // A directory in place of the target: the temp file is written, the rename fails.
    let target = dir.path().join("taken.vtu");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), "x").unwrap();
    let e = write_vtu(mesh, &[], &target).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(target.join("keep").exists());
    let e = write_vtu(mesh, &[], Path::new("/")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    no_temp_files(dir.path());
    // A failing writer callback removes its temporary file too.
    let e = write_atomically(&dir.path().join("f.txt"), |w| {
        w.write_all(b"partial")?;
        Err(io::Error::other("disk full"))
    })
    .unwrap_err();
    assert!(e.to_string().contains("disk full"), "{e}");
    assert!(!dir.path().join("f.txt").exists());
    no_temp_files(dir.path());
}

fn sample() -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.vtu");
    let mesh = &meshes()[1];
    let (u, _) = fields(mesh);
    write_vtu(mesh, &[("u", &u)], &path).unwrap();
    fs::read_to_string(&path).unwrap()
}

fn mesh_error(text: &str) -> (String, String) {
    match parse_vtu(text, "t.vtu") {
        Err(Error::Mesh {
            location: Some(l),
            message,
        }) => (l, message),
        other => panic!("expected a located mesh error, got {other:?}"),
    }
}

#[test]
fn truncated_files_are_typed_errors_at_every_cut() {
    let text = sample();
    assert!(parse_vtu(&text, "t.vtu").is_ok());
    // Every proper prefix of the file is rejected, never a panic.
    let mut cut = 0;
    while cut < text.len() {
        if text.is_char_boundary(cut) {
            let prefix = &text[..cut];
            // Only whitespace after `</VTKFile>` may be dropped.
            if !text[cut..].trim().is_empty() {
                let (loc, _) = mesh_error(prefix);
                assert!(loc.starts_with("t.vtu:"), "{loc}");
            }
        }
        cut += 7;
    }
    let (_, msg) = mesh_error(&text[..text.len() / 2]);
    assert!(
        msg.contains("truncated") || msg.contains("expected"),
        "{msg}"
    );
}

#[test]
fn malformed_files_are_located_typed_errors() {
    let text = sample();
    let line_of = |needle: &str| 1 + text[..text.find(needle).unwrap()].matches('\n').count();
    let cases: Vec<(String, &str, Option<usize>)> = vec![
        (
            text.replacen("UnstructuredGrid\"", "PolyData\"", 1),
            "PolyData",
            Some(2),
        ),
        (
            text.replacen("NumberOfPoints=\"12\"", "NumberOfPoints=\"13\"", 1),
            "NumberOfPoints",
            None,
        ),
        (
            text.replacen("format=\"ascii\"", "format=\"binary\"", 1),
            "binary",
            None,
        ),
        (text.replacen("</Points>", "", 1), "expected", None),
        (
            text.replacen("\n          0 1 5", "\n          0 1 x5", 1),
            "`x5`",
            Some(line_of("\n          0 1 5") + 1),
        ),
        (
            text.replacen("\n          0 1 5", "\n          0 1 99", 1),
            "point 99",
            None,
        ),
        (text.replacen("<Cells>", "<Cells attr>", 1), "`=`", None),
        (
            text.replacen(" 5 5 5", " 5 7 5", 1),
            "unsupported VTK type 7",
            None,
        ),
        (text.replacen(" 3 6 9", " 3 7 9", 1), "nodes", None),
        (
            text.replacen("</VTKFile>", "</VTKFile><x/>", 1),
            "after",
            None,
        ),
        (
            text.replacen("Name=\"u\"", "Name=\"u&bad;\"", 1),
            "entity",
            None,
        ),
        ("".to_string(), "truncated", Some(1)),
        ("garbage".to_string(), "unexpected text", Some(1)),
    ];
    for (bad, needle, line) in cases {
        let (loc, msg) = mesh_error(&bad);
        assert!(msg.contains(needle), "{needle}: {msg}");
        if let Some(l) = line {
            assert_eq!(loc, format!("t.vtu:{l}"), "{msg}");
        }
    }
}

#[test]
fn read_errors_are_io_or_mesh_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_vtu(&dir.path().join("missing.vtu")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    let path = dir.path().join("bin.vtu");
    fs::write(&path, b"<?xml version=\"1.0\"?>\n\xff\xfe").unwrap();
    let e = read_vtu(&path).unwrap_err();
    match e {
        Error::Mesh {
            location: Some(l), ..
        } => assert!(l.ends_with("bin.vtu:2"), "{l}"),
        other => panic!("{other:?}"),
    }
}
