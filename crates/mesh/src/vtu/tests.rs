//! Tests of the VTU writer's refusals and atomic writes; what it writes is read back by an
//! independent reader (vtkio) in `tests/vtu.rs`.

use super::*;
use crate::{RectangleCells, RectangleSpec};
use std::fs;

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

fn no_temp_files(dir: &Path) {
    let left: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
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
    assert_eq!(e.field_name().as_deref(), Some("point_fields.pressure"));
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
