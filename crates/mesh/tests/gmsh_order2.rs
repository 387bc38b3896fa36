//! Second-order Gmsh meshes (`tests/data/gmsh/generate.py`: disk2, cube2tet, cube2hex, order2)
//! read into order-2 meshes, and the checks of order-2 meshes built from arrays.

use std::path::{Path, PathBuf};

use femscale_core::{CellKind, Order};
use femscale_mesh::Mesh;
use femscale_mesh::gmsh::parse_msh;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/gmsh")
        .join(name)
}

/// Whether two points agree to rounding (ASCII files hold 16 digits).
fn close(p: [f64; 3], q: [f64; 3]) -> bool {
    (0..3).all(|d| (p[d] - q[d]).abs() <= 1e-14)
}

fn encodings(mesh: &str) -> Vec<Mesh> {
    ["v22_ascii", "v22_binary", "v41_ascii", "v41_binary"]
        .iter()
        .map(|e| {
            let path = data(&format!("{mesh}_{e}.msh"));
            Mesh::read_gmsh(&path).unwrap_or_else(|err| panic!("{path:?}: {err}"))
        })
        .collect()
}

/// The largest distance between a node of the mesh and the node the straight-sided layout puts
/// there (the centroid of its support vertices), over all cells.
fn max_offset(mesh: &Mesh) -> f64 {
    let (v, kind) = (mesh.view(), mesh.cell_kind());
    let mut worst: f64 = 0.0;
    for c in 0..mesh.num_cells() {
        let cell = v.cell(c);
        for (k, s) in kind.node_support(Order::Quadratic).iter().enumerate() {
            let p = v.point(cell[k]);
            let mut q = [0.0; 3];
            for &l in *s {
                for d in 0..3 {
                    q[d] += v.point(cell[l])[d] / s.len() as f64;
                }
            }
            worst = worst.max((0..3).map(|d| (p[d] - q[d]).abs()).fold(0.0, f64::max));
        }
    }
    worst
}

/// Straight order-2 meshes from gmsh equal their vertex mesh lifted again, cell by cell and
/// node by node (coordinates): gmsh's node order was permuted to femscale's layout.
fn check_straight(mesh: &Mesh, kind: CellKind, cells: usize) {
    assert_eq!((mesh.cell_kind(), mesh.order()), (kind, Order::Quadratic));
    assert!(!mesh.is_curved());
    assert_eq!(mesh.num_cells(), cells);
    assert!(max_offset(mesh) < 1e-14, "{}", max_offset(mesh));
    let lifted = mesh
        .with_order(Order::Linear)
        .and_then(|m| m.with_order(Order::Quadratic))
        .unwrap();
    let (a, b) = (mesh.view(), lifted.view());
    for c in 0..mesh.num_cells() {
        for (&n, &m) in a.cell(c).iter().zip(b.cell(c)) {
            assert!(close(a.point(n), b.point(m)), "cell {c}");
        }
    }
    for part in mesh.boundary_parts() {
        let lifted_part = lifted.boundary_part(&part.name).unwrap();
        assert_eq!(part.facets.len(), lifted_part.facets.len(), "{}", part.name);
        for (&n, &m) in part.facets.iter().zip(&lifted_part.facets) {
            assert!(close(a.point(n), b.point(m)), "{}", part.name);
        }
    }
    let volume: f64 = (0..mesh.num_cells()).map(|c| mesh.cell_measure(c)).sum();
    assert!((volume - 1.0).abs() < 1e-12, "{volume}");
}

#[test]
fn second_order_cubes_read_in_femscale_layout() {
    for mesh in encodings("cube2tet") {
        check_straight(&mesh, CellKind::Tetrahedron, 100);
        for face in ["xmin", "xmax", "ymin", "ymax", "zmin", "zmax"] {
            let part = mesh.boundary_part(face).unwrap();
            assert_eq!(part.facets.len(), 14 * 6, "{face}");
        }
        assert_eq!(mesh.boundary_part("all").unwrap().facets.len(), 84 * 6);
    }
    for mesh in encodings("cube2hex") {
        check_straight(&mesh, CellKind::Hexahedron, 8);
        assert_eq!(mesh.num_nodes(), 125);
        let part = mesh.boundary_part("zmax").unwrap();
        assert_eq!((part.facets.len(), part.nodes.len()), (4 * 9, 25));
        let s = mesh.stats();
        assert!((s.min_quality - 1.0).abs() < 1e-12);
        assert_eq!(s.boundary[0].facets, 4);
    }
}

#[test]
fn second_order_disks_are_curved_with_nodes_on_the_circle() {
    let meshes = encodings("disk2");
    for mesh in &meshes {
        assert_eq!(
            (mesh.cell_kind(), mesh.order(), mesh.num_cells()),
            (CellKind::Triangle, Order::Quadratic, 117)
        );
        assert!(mesh.is_curved());
        assert!(max_offset(mesh) > 1e-3);
        let outer = mesh.boundary_part("outer").unwrap();
        assert_eq!(outer.facets.len(), 23 * 3);
        let pts = mesh.points();
        for &n in &outer.nodes {
            let r = pts[n][0].hypot(pts[n][1]);
            assert!((r - 1.0).abs() < 1e-12, "node {n} at radius {r}");
        }
        assert_eq!(outer.nodes.len(), 46);
        let same = (mesh.points().iter().zip(meshes[2].points())).all(|(&p, q)| close(p, q));
        assert!(
            same && mesh.num_nodes() == meshes[2].num_nodes(),
            "the encodings agree"
        );
        // Lowering straightens; lifting again is straight, with the same counts.
        let straight = mesh
            .with_order(Order::Linear)
            .and_then(|m| m.with_order(Order::Quadratic))
            .unwrap();
        assert!(!straight.is_curved());
        assert_eq!(straight.num_nodes(), mesh.num_nodes());
    }
    let order2 = Mesh::read_gmsh(data("order2_v41_ascii.msh")).unwrap();
    assert!(order2.is_curved() && order2.order() == Order::Quadratic);
    assert_eq!(order2.num_cells(), 212);
}

const HEADER: &str = "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n\
    $Nodes\n6\n1 0 0 0\n2 1 0 0\n3 0 1 0\n4 0.5 0 0\n5 0.5 0.5 0\n6 0 0.5 0\n$EndNodes\n";

#[test]
fn mixed_orders_are_refused_with_a_typed_error() {
    let text =
        format!("{HEADER}$Elements\n2\n1 9 2 1 1 1 2 3 4 5 6\n2 2 2 1 1 1 2 3\n$EndElements\n");
    let e = parse_msh(text.as_bytes(), "mixed.msh")
        .unwrap()
        .to_mesh(Path::new("mixed.msh"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("mixed orders") && e.contains("mixed.msh"), "{e}");
    let text =
        format!("{HEADER}$Elements\n2\n1 9 2 1 1 1 2 3 4 5 6\n2 1 2 2 2 1 2\n$EndElements\n");
    let e = parse_msh(text.as_bytes(), "facets.msh")
        .unwrap()
        .to_mesh(Path::new("facets.msh"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("mixed orders"), "{e}");
    // One triangle6 with a line3 facet reads: order 2, straight.
    let text =
        format!("{HEADER}$Elements\n2\n1 9 2 1 1 1 2 3 4 5 6\n2 8 2 2 2 1 2 4\n$EndElements\n");
    let mesh = parse_msh(text.as_bytes(), "one.msh")
        .unwrap()
        .to_mesh(Path::new("one.msh"))
        .unwrap();
    assert_eq!((mesh.order(), mesh.is_curved()), (Order::Quadratic, false));
    assert_eq!(mesh.boundary_part("2").unwrap().facets, vec![0, 1, 3]);
}

/// Two P2 triangles of the unit square sharing the diagonal 0-2 (node 5 its midpoint).
fn square_p2() -> (Vec<f64>, Vec<usize>) {
    let coords = vec![
        0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, // vertices 0-3
        0.5, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5, 1.0, 0.0, 0.5, // edge nodes 4-8
    ];
    // (0,1,2): edges 01 -> 4, 12 -> 5, 20 -> 6; (0,2,3): 02 -> 6, 23 -> 7, 30 -> 8.
    (coords, vec![0, 1, 2, 4, 5, 6, 0, 2, 3, 6, 7, 8])
}

#[test]
fn order_two_arrays_are_checked_and_reoriented_as_whole_cells() {
    let (coords, cells) = square_p2();
    let build = |cells: Vec<usize>| {
        Mesh::builder(2, coords.clone(), CellKind::Triangle, cells)
            .order(Order::Quadratic)
            .build()
    };
    let mesh = build(cells.clone()).unwrap();
    assert_eq!((mesh.num_cells(), mesh.is_curved()), (2, false));
    assert_eq!(mesh.boundary_part("all").unwrap().facets.len(), 4 * 3);
    assert_eq!(mesh.boundary_part("all").unwrap().nodes.len(), 8);
    // The second triangle clockwise, with its edge nodes following: reoriented whole.
    let mut clockwise = cells.clone();
    clockwise[6..].copy_from_slice(&[0, 3, 2, 8, 7, 6]);
    let m = build(clockwise).unwrap();
    assert_eq!(m.reoriented_cells(), 1);
    assert!(max_offset(&m) < 1e-15);
    // The two cells disagree on the diagonal's node.
    let mut bad = cells.clone();
    bad[9] = 5;
    let e = build(bad).unwrap_err().to_string();
    assert!(e.contains("disagree") || e.contains("two different"), "{e}");
    // An edge node that is also a vertex.
    let mut bad = cells.clone();
    bad[10] = 3;
    let e = build(bad).unwrap_err().to_string();
    assert!(e.contains("two different nodes"), "{e}");
    // A boundary facet whose middle node is not its cells'.
    let e = Mesh::builder(2, coords.clone(), CellKind::Triangle, cells.clone())
        .order(Order::Quadratic)
        .facet_markers(vec![0, 1, 8], vec![3])
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not its cells' node"), "{e}");
    // A node off its straight position makes the mesh curved.
    let mut bent = coords.clone();
    bent[2 * 4 + 1] = -0.1;
    let m = Mesh::builder(2, bent, CellKind::Triangle, cells)
        .order(Order::Quadratic)
        .build()
        .unwrap();
    assert!(m.is_curved());
}
