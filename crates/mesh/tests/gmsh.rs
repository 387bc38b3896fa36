//! The Gmsh reader on files written by gmsh (`tests/data/gmsh/generate.py`): the four encodings
//! of each mesh agree, counts match what gmsh reported, broken files give located errors.

use std::path::{Path, PathBuf};

use femscale_core::Error;
use femscale_mesh::gmsh::{MshElementKind, MshFile, MshVersion, parse_msh, read_msh};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/gmsh")
        .join(name)
}

fn read(name: &str) -> MshFile {
    read_msh(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn expected() -> Value {
    let text = std::fs::read_to_string(data("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A block as (dim, entity, kind, physical, node tags of each element).
type Block = (u8, i32, MshElementKind, Vec<i32>, Vec<u64>);

/// The blocks of `msh`, sorted by (dim, entity, kind).
fn blocks(msh: &MshFile) -> Vec<Block> {
    let mut blocks: Vec<_> = msh
        .blocks
        .iter()
        .map(|b| {
            let tags = b.nodes.iter().map(|&n| msh.node_tags[n]).collect();
            (b.dim, b.entity, b.kind, b.physical.clone(), tags)
        })
        .collect();
    blocks.sort_by_key(|b| (b.0, b.1, b.2));
    blocks
}

fn assert_close(a: &[[f64; 3]], b: &[[f64; 3]], file: &str) {
    assert_eq!(a.len(), b.len(), "{file}");
    for (p, q) in a.iter().zip(b) {
        for k in 0..3 {
            let tolerance = 1e-15 * p[k].abs().max(1.0);
            assert!((p[k] - q[k]).abs() <= tolerance, "{file}: {p:?} vs {q:?}");
        }
    }
}

/// The names `generate.py` gives gmsh's element types in `expected.json`.
fn kind_name(kind: MshElementKind) -> &'static str {
    match kind.gmsh_type() {
        8 => "line3",
        9 => "triangle6",
        10 => "quadrangle9",
        11 => "tetrahedron10",
        12 => "hexahedron27",
        _ => kind.name(),
    }
}

#[test]
fn the_four_encodings_of_each_mesh_agree_and_match_gmsh_counts() {
    let expected = expected();
    for mesh in [
        "lshape", "disk", "square", "annulus", "cube", "disk2", "cube2tet", "cube2hex",
    ] {
        let info = &expected[mesh];
        let files: Vec<String> = info["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        assert_eq!(files.len(), 4, "{mesh}");
        let read_all: Vec<MshFile> = files.iter().map(|f| read(f)).collect();
        let first = &read_all[0];
        for (file, msh) in files.iter().zip(&read_all) {
            assert_eq!(
                msh.format.version == MshVersion::V41,
                file.contains("v41"),
                "{file}"
            );
            assert_eq!(msh.format.binary, file.contains("binary"), "{file}");
            // Same encoding: identical; ASCII (gmsh's %.16g) against binary: 16 digits.
            let reference = &read_all[usize::from(msh.format.binary)];
            assert_eq!(msh.points, reference.points, "{file}");
            assert_close(&msh.points, &first.points, file);
            assert_eq!(msh.node_tags, first.node_tags, "{file}");
            assert!(blocks(msh) == blocks(first), "{file} vs {}", files[0]);
            assert_eq!(msh.physical_names, first.physical_names, "{file}");
            check_counts(file, msh, info);
        }
    }
}

fn check_counts(file: &str, msh: &MshFile, info: &Value) {
    assert_eq!(
        msh.points.len() as u64,
        info["points"].as_u64().unwrap(),
        "{file}"
    );
    assert_eq!(
        (msh.points.len() + msh.dropped_nodes) as u64,
        info["nodes_in_file"].as_u64().unwrap(),
        "{file}"
    );
    let mut kinds = serde_json::Map::new();
    for b in &msh.blocks {
        let entry = kinds.entry(kind_name(b.kind)).or_insert(Value::from(0));
        *entry = Value::from(entry.as_u64().unwrap() + b.len() as u64);
    }
    assert_eq!(Value::Object(kinds), info["elements"], "{file}");
    for group in info["physicals"].as_array().unwrap() {
        let dim = group["dim"].as_u64().unwrap() as u8;
        let tag = group["tag"].as_i64().unwrap() as i32;
        let count: usize = msh
            .blocks
            .iter()
            .filter(|b| b.dim == dim && b.physical.contains(&tag))
            .map(|b| b.len())
            .sum();
        assert_eq!(
            count as u64,
            group["elements"].as_u64().unwrap(),
            "{file} {group}"
        );
        assert_eq!(
            msh.physical_name(dim, tag),
            Some(group["name"].as_str().unwrap()),
            "{file}"
        );
    }
    for b in &msh.blocks {
        assert_eq!(b.nodes.len(), b.len() * b.kind.num_nodes(), "{file}");
        assert!(b.nodes.iter().all(|&n| n < msh.points.len()), "{file}");
    }
    assert!(msh.node_tags.is_sorted(), "{file}");
}

fn files(info: &Value) -> Vec<&str> {
    info["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect()
}

#[test]
fn special_files_match_gmsh_counts_and_their_other_encoding() {
    let expected = expected();
    for mesh in ["saveall", "nogroups"] {
        let files = files(&expected[mesh]);
        let a = read(files[0]);
        let b = read(files[1]);
        check_counts(files[0], &a, &expected[mesh]);
        check_counts(files[1], &b, &expected[mesh]);
        assert!(blocks(&a) == blocks(&b), "{mesh}");
        assert_close(&a.points, &b.points, mesh);
        assert_eq!(a.node_tags, b.node_tags, "{mesh}");
    }
    // The sparse files: 4.1 saved with SaveAll (corner points too), 2.2 without.
    let a = read("sparse_v41_ascii.msh");
    let b = read("sparse_v22_binary.msh");
    check_counts("sparse_v41_ascii.msh", &a, &expected["sparse"]);
    check_counts("sparse_v22_binary.msh", &b, &expected["sparse22"]);
    let without_points = |m: &MshFile| {
        let mut c = blocks(m);
        c.retain(|b| b.0 > 0);
        c
    };
    assert!(without_points(&a) == without_points(&b));
    assert_close(&a.points, &b.points, "sparse");
    assert_eq!(a.node_tags, b.node_tags);
}

#[test]
fn a_2_2_file_saved_with_save_all_has_lost_its_groups() {
    let err = read_msh(&data("saveall_v22_ascii.msh"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(":6 ($PhysicalNames): physical group `plate`"),
        "{err}"
    );
    assert!(err.contains("Mesh.SaveAll = 1"), "{err}");
}

#[test]
fn elements_outside_physical_groups_are_kept_without_tags() {
    for file in ["saveall_v41_ascii.msh", "saveall_v41_binary.msh"] {
        let msh = read(file);
        let lines: Vec<_> = msh.blocks.iter().filter(|b| b.dim == 1).collect();
        assert!(!lines.is_empty(), "{file}");
        assert!(lines.iter().all(|b| b.physical.is_empty()), "{file}");
        let surface = msh.blocks.iter().find(|b| b.dim == 2).unwrap();
        assert_eq!(surface.physical, vec![5], "{file}");
        assert_eq!(msh.physical_name(2, 5), Some("plate"));
    }
    let msh = read("nogroups_v41_binary.msh");
    assert!(msh.physical_names.is_empty());
    assert!(msh.blocks.iter().all(|b| b.physical.is_empty()));
    assert!(msh.entities.iter().all(|e| e.physical.is_empty()));
    assert_eq!(msh.max_dim(), 2);
}

#[test]
fn sparse_tags_are_mapped_and_orphan_nodes_dropped() {
    for file in ["sparse_v41_ascii.msh", "sparse_v22_binary.msh"] {
        let msh = read(file);
        assert_eq!(msh.dropped_nodes, 3, "{file}");
        assert!(!msh.node_tags.contains(&999_999_999), "{file}");
        assert!(msh.node_tags.iter().all(|&t| t >= 1000), "{file}");
        // Non-contiguous: the tags span far more than their count.
        let span = msh.node_tags.last().unwrap() - msh.node_tags[0];
        assert!(span > 100 * msh.node_tags.len() as u64, "{file}");
        assert!(
            msh.points.iter().all(|p| p[2] == 0.0 && p[0] <= 1.0),
            "{file}"
        );
    }
    // The orphan point entity is listed in $Entities without physical groups.
    let msh = read("sparse_v41_ascii.msh");
    let point = msh
        .entities
        .iter()
        .find(|e| e.dim == 0 && e.tag == 5)
        .unwrap();
    assert_eq!(point.bounding_box, Some([[9.0, 9.0, 0.0]; 2]));
}

#[test]
fn multiply_grouped_2_2_elements_are_merged() {
    let v22 = read("square_v22_ascii.msh");
    let lines: Vec<_> = v22.blocks.iter().filter(|b| b.dim == 1).collect();
    assert_eq!(lines.len(), 4);
    for b in lines {
        assert_eq!(b.physical.len(), 2, "{b:?}");
        assert!(b.physical.contains(&20));
        assert_eq!(b.len(), 8);
    }
    let text = std::fs::read_to_string(data("square_v22_ascii.msh")).unwrap();
    let written: usize = text
        .lines()
        .skip_while(|l| *l != "$Elements")
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(written, 80 + 2 * 32);
    assert_eq!(v22.num_elements(), 80 + 32);
}

#[test]
fn broken_files_give_located_typed_errors() {
    let text = std::fs::read_to_string(data("broken/expected.json")).unwrap();
    let manifest: Value = serde_json::from_str(&text).unwrap();
    let manifest = manifest.as_object().unwrap();
    assert!(manifest.len() >= 14);
    for (name, want) in manifest {
        let path = data(&format!("broken/{name}"));
        let err = read_msh(&path).expect_err(name);
        let Error::MeshFile {
            path: err_path,
            section,
            position,
            message,
        } = &err
        else {
            panic!("{name}: not a MeshFile error: {err}")
        };
        assert_eq!(err_path, &path, "{name}");
        assert_eq!(section, want["section"].as_str().unwrap(), "{name}: {err}");
        let position = position.to_string();
        let want_position = want["position"].as_str().unwrap();
        if want_position == " at byte " {
            assert!(position.starts_with(want_position), "{name}: {err}");
        } else {
            assert_eq!(position, want_position, "{name}: {err}");
        }
        assert!(
            message.contains(want["message"].as_str().unwrap()),
            "{name}: {err}"
        );
        assert!(err.to_string().starts_with(&path.display().to_string()));
    }
}

#[test]
fn in_memory_input_and_small_edge_cases() {
    let ok = "$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\n1 2 1 9\n2 7 0 2\n9\n1\n\
              0 0 0\n1 0 0\n$EndNodes\n$Elements\n1 1 1 1\n1 7 1 1\n3 9 1\n$EndElements\n\
              $NodeData\nbinary junk $EndNodeData not at a line start\n$EndNodeData\n";
    let msh = parse_msh(ok.as_bytes(), "mem.msh").unwrap();
    assert_eq!(msh.node_tags, vec![1, 9]);
    assert_eq!(msh.points, vec![[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
    assert_eq!(msh.blocks[0].nodes, vec![1, 0]);
    let cases = [
        ("", "empty file"),
        ("$MeshFormat\n4.0 0 8\n$EndMeshFormat\n", "MSH version 4.0"),
        ("$MeshFormat\n1.0 0 8\n$EndMeshFormat\n", "MSH version 1.0"),
        ("$MeshFormat\n4.1 0 8\n$EndMeshFormat\n", "no $Elements"),
        (
            "$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Comments\nabc\n",
            "no $EndComments",
        ),
        (
            "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n2\n1 0 0 0\n1 1 0 0\n$EndNodes\n",
            "defined twice",
        ),
        (
            "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n1\n-4 0 0 0\n$EndNodes\n",
            "negative",
        ),
        // Review B: two elements under one tag, which errors name them by.
        (
            "$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\n1 3 1 3\n1 1 0 3\n1\n2\n3\n\
             0 0 0\n1 0 0\n2 0 0\n$EndNodes\n$Elements\n1 2 7 7\n1 1 1 2\n7 1 2\n\
             7 2 3\n$EndElements\n",
            "element tag 7 is given to two elements",
        ),
        (
            "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n1\n1 0 inf 0\n$EndNodes\n",
            "non-finite",
        ),
        ("$MeshFormat\n2.2 2 8\n$EndMeshFormat\n", "file type 2"),
        (
            "$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$PartitionedEntities\n",
            "partitioned",
        ),
        (
            "$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$EndNodes\n",
            "$EndNodes without",
        ),
        (
            "$MeshFormat\n4.1 0 8\n$EndMeshFormat\nNodes\n",
            "expected a section",
        ),
        (
            "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Elements\n0\n$EndElements\n",
            "before $Nodes",
        ),
    ];
    for (text, want) in cases {
        let err = parse_msh(text.as_bytes(), "mem.msh")
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{text:?}: {err}");
    }
}

/// Every test mesh reads to a valid `Mesh` with the same counts in all four encodings, its
/// physical groups as named markers.
#[test]
fn test_meshes_convert_to_marked_meshes() {
    use femscale_core::CellKind;
    use femscale_mesh::Mesh;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gmsh");
    for (name, kind) in [
        ("lshape", CellKind::Triangle),
        ("disk", CellKind::Triangle),
        ("square", CellKind::Quadrilateral),
        ("annulus", CellKind::Triangle),
        ("cube", CellKind::Tetrahedron),
    ] {
        let meshes: Vec<Mesh> = ["v22_ascii", "v22_binary", "v41_ascii", "v41_binary"]
            .iter()
            .map(|enc| Mesh::read_gmsh(dir.join(format!("{name}_{enc}.msh"))).unwrap())
            .collect();
        let m = &meshes[0];
        assert_eq!(m.cell_kind(), kind, "{name}");
        assert_eq!(m.dim(), kind.dim(), "{name}");
        assert!(m.boundary_part("all").is_some(), "{name}");
        assert_eq!(m.cell_markers().len(), m.num_cells(), "{name}");
        for other in &meshes[1..] {
            assert_eq!(other.num_cells(), m.num_cells(), "{name}");
            assert_eq!(other.num_nodes(), m.num_nodes(), "{name}");
            assert_eq!(other.subdomains(), m.subdomains(), "{name}");
            let names = |m: &Mesh| {
                m.boundary_parts()
                    .iter()
                    .map(|p| (p.name.clone(), p.id, p.facets.len()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(other), names(m), "{name}");
        }
        let total: f64 = (0..m.num_cells()).map(|c| m.cell_measure(c)).sum();
        let expected = match name {
            "lshape" => 3.0,
            "disk" => std::f64::consts::PI,
            "square" | "cube" => 1.0,
            _ => f64::NAN,
        };
        if expected.is_finite() {
            // Polygonal approximations of curved boundaries lose a little area.
            assert!(
                (total - expected).abs() < 0.02 * expected,
                "{name}: measure {total}"
            );
        }
        eprintln!(
            "{name}: {} cells, {} nodes, subdomains {:?}, parts {:?}, reoriented {}",
            m.num_cells(),
            m.num_nodes(),
            m.subdomains(),
            m.boundary_parts()
                .iter()
                .map(|p| (&p.name, p.id))
                .collect::<Vec<_>>(),
            m.reoriented_cells()
        );
    }
}

#[test]
fn annulus_stats_list_the_materials_and_boundary_groups_gmsh_reported() {
    let want = &expected()["annulus"];
    let count = |name: &str| {
        let groups = want["physicals"].as_array().unwrap();
        let g = groups.iter().find(|g| g["name"] == name).unwrap();
        (
            g["tag"].as_i64().unwrap() as i32,
            g["elements"].as_u64().unwrap() as usize,
        )
    };
    let mesh = femscale_mesh::Mesh::read_gmsh(data("annulus_v41_ascii.msh")).unwrap();
    let s = mesh.stats();
    assert_eq!(
        (s.cell_kind.as_str(), s.cells, s.nodes),
        ("triangle", 319, 187)
    );
    let sub: Vec<_> = s
        .subdomains
        .iter()
        .map(|d| (d.name.as_deref(), d.id, d.cells))
        .collect();
    let ((copper, nc), (steel, ns)) = (count("copper"), count("steel"));
    assert_eq!(
        sub,
        [(Some("copper"), copper, nc), (Some("steel"), steel, ns)]
    );
    assert_eq!(nc + ns, s.cells);
    for name in ["inner", "outer", "interface"] {
        let (id, facets) = count(name);
        let b = s.boundary.iter().find(|b| b.name == name).unwrap();
        assert_eq!((b.id, b.facets), (Some(id), facets), "{name}");
    }
    let (lo, hi) = (s.min_quality, s.max_quality);
    assert!(0.0 < lo && lo <= hi && hi <= 1.0, "quality {lo} .. {hi}");
}

/// A file without physical groups is marked by entity tags, and parts can be named by where
/// their facets lie.
#[test]
fn meshes_without_groups_get_parts_by_predicate() {
    use femscale_mesh::Mesh;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gmsh");
    let mut mesh = Mesh::read_gmsh(dir.join("nogroups_v41_binary.msh")).unwrap();
    assert!(mesh.subdomains().iter().all(|s| s.name.is_none()));
    let all = mesh.boundary_part("all").unwrap().facets.len();
    let (xmin, xmax) = mesh
        .points()
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p[0]), b.max(p[0])));
    let left = mesh
        .add_boundary_part_where("left", |p| (p[0] - xmin).abs() < 1e-9)
        .unwrap();
    assert!(left > 0 && 2 * left < all, "{left} of {all}");
    let part = mesh.boundary_part("left").unwrap();
    assert!(
        part.nodes
            .iter()
            .all(|&n| (mesh.points()[n][0] - xmin).abs() < 1e-9)
    );
    assert!(mesh.add_boundary_part_where("left", |_| true).is_err());
    assert!(
        mesh.add_boundary_part_where("far", |p| p[0] > xmax + 1.0)
            .is_err()
    );
}

#[test]
fn devices_and_directories_are_refused_before_reading() {
    for path in ["/dev/zero", "/dev/null"] {
        let path = Path::new(path);
        if !path.exists() {
            continue;
        }
        let err = read_msh(path).unwrap_err();
        assert!(
            matches!(&err, Error::Io { source, .. } if source.to_string().contains("not a regular file")),
            "{err}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let err = read_msh(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}
