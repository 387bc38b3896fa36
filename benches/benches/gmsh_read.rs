//! `gmsh::read_msh` and `Mesh::read_gmsh` (parsing plus the validated mesh) on a structured
//! 1M-triangle mesh (708 x 708 squares, 2 triangles each, 502,681 nodes) in MSH 4.1 binary and ASCII, written once by a small writer below into a temp
//! directory (kept in `$GMSH_BENCH_DIR` when set, for `benches/scripts/meshio_read.py`).
// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use femscale::mesh::Mesh;
use femscale::mesh::gmsh::read_msh;

/// Squares per side: 2 * 708^2 = 1,002,528 triangles.
const N: usize = 708;

/// Writes the mesh as MSH 4.1: one surface entity (physical group 1, `domain`), one node block,
/// one triangle block.
fn write_msh(path: &Path, binary: bool) {
    let nodes = (N + 1) * (N + 1);
    let triangles = 2 * N * N;
    let mut out: Vec<u8> = Vec::with_capacity(64 * triangles);
    let header = |out: &mut Vec<u8>| {
        let mut s = String::new();
        writeln!(s, "$MeshFormat\n4.1 {} 8", u8::from(binary)).unwrap();
        out.extend_from_slice(s.as_bytes());
        if binary {
            out.extend_from_slice(&1i32.to_le_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"$EndMeshFormat\n$PhysicalNames\n1\n2 1 \"domain\"\n");
        out.extend_from_slice(b"$EndPhysicalNames\n$Entities\n");
    };
    header(&mut out);
    let coord = |i: usize| (i % (N + 1)) as f64 / N as f64;
    let coord_y = |i: usize| (i / (N + 1)) as f64 / N as f64;
    let node = |x: usize, y: usize| (y * (N + 1) + x + 1) as u64;
    let mut elements = Vec::with_capacity(triangles);
    for y in 0..N {
        for x in 0..N {
            let (a, b, c, d) = (
                node(x, y),
                node(x + 1, y),
                node(x + 1, y + 1),
                node(x, y + 1),
            );
            elements.push([a, b, c]);
            elements.push([a, c, d]);
        }
    }
    if binary {
        for count in [0u64, 0, 1, 0] {
            out.extend_from_slice(&count.to_le_bytes());
        }
        out.extend_from_slice(&1i32.to_le_bytes());
        for v in [0.0f64, 0.0, 0.0, 1.0, 1.0, 0.0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(&1i32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(b"\n$EndEntities\n$Nodes\n");
        for v in [1u64, nodes as u64, 1, nodes as u64] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [2i32, 1, 0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(nodes as u64).to_le_bytes());
        for i in 0..nodes {
            out.extend_from_slice(&(i as u64 + 1).to_le_bytes());
        }
        for i in 0..nodes {
            for v in [coord(i), coord_y(i), 0.0] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out.extend_from_slice(b"\n$EndNodes\n$Elements\n");
        for v in [1u64, triangles as u64, 1, triangles as u64] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [2i32, 1, 2] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(triangles as u64).to_le_bytes());
        for (e, t) in elements.iter().enumerate() {
            out.extend_from_slice(&(e as u64 + 1).to_le_bytes());
            for n in t {
                out.extend_from_slice(&n.to_le_bytes());
            }
        }
        out.extend_from_slice(b"\n$EndElements\n");
    } else {
        let mut s = String::with_capacity(64 * triangles);
        s.push_str("0 0 1 0\n1 0 0 0 1 1 0 1 1 0\n$EndEntities\n$Nodes\n");
        writeln!(s, "1 {nodes} 1 {nodes}\n2 1 0 {nodes}").unwrap();
        for i in 0..nodes {
            writeln!(s, "{}", i + 1).unwrap();
        }
        for i in 0..nodes {
            writeln!(s, "{} {} 0", coord(i), coord_y(i)).unwrap();
        }
        writeln!(
            s,
            "$EndNodes\n$Elements\n1 {triangles} 1 {triangles}\n2 1 2 {triangles}"
        )
        .unwrap();
        for (e, [a, b, c]) in elements.iter().enumerate() {
            writeln!(s, "{} {a} {b} {c}", e + 1).unwrap();
        }
        s.push_str("$EndElements\n");
        out.extend_from_slice(s.as_bytes());
    }
    std::fs::write(path, out).unwrap();
}

fn bench_gmsh_read(c: &mut Criterion) {
    let temp = tempfile::tempdir().unwrap();
    let dir: PathBuf = std::env::var_os("GMSH_BENCH_DIR").map_or(temp.path().into(), PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();
    let mut group = c.benchmark_group("gmsh_read");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    for (name, binary) in [("v41_binary", true), ("v41_ascii", false)] {
        let path = dir.join(format!("tri1m_{name}.msh"));
        write_msh(&path, binary);
        let msh = read_msh(&path).unwrap();
        assert_eq!(msh.num_elements(), 2 * N * N);
        assert_eq!(msh.points.len(), (N + 1) * (N + 1));
        let size = std::fs::metadata(&path).unwrap().len();
        eprintln!("{}: {:.1} MB", path.display(), size as f64 / 1e6);
        group.bench_function(name, |b| b.iter(|| black_box(read_msh(&path).unwrap())));
        // The whole read: parsing, then the validated mesh (orientation, duplicate cells,
        // exterior facets for `all`, markers).
        let mesh = Mesh::read_gmsh(&path).unwrap();
        assert_eq!(mesh.num_cells(), 2 * N * N);
        group.bench_function(format!("{name}_to_mesh"), |b| {
            b.iter(|| black_box(Mesh::read_gmsh(&path).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_gmsh_read);
criterion_main!(benches);
