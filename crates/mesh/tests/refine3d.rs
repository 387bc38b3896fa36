//! Uniform refinement of tetrahedra and hexahedra, and of order-2 meshes.

use femscale_core::{CellKind, Order};
use femscale_mesh::{BoxCells, BoxSpec, Mesh, RectangleSpec};

fn volume(mesh: &Mesh) -> f64 {
    (0..mesh.num_cells()).map(|c| mesh.cell_measure(c)).sum()
}

/// Refines and checks what must hold for any 3D mesh: 8 children per cell, positive volumes
/// summing to the parent's, valid through the builder as given, the exterior and every part
/// refined into 4 facets per facet lying on the same boundary, markers carried.
fn refine_and_check(mesh: &Mesh) -> Mesh {
    let fine = mesh.refine_uniform().unwrap();
    assert_eq!(fine.num_cells(), 8 * mesh.num_cells());
    assert!((0..fine.num_cells()).all(|c| fine.cell_measure(c) > 0.0));
    assert!((volume(&fine) - volume(mesh)).abs() < 1e-12 * volume(mesh));
    let rebuilt = Mesh::builder(
        3,
        fine.coords().to_vec(),
        fine.cell_kind(),
        fine.cells().to_vec(),
    )
    .build()
    .unwrap();
    assert_eq!(rebuilt.reoriented_cells(), 0);
    let npf = fine.cell_kind().nodes_per_facet();
    let count = |m: &Mesh, name: &str| m.boundary_part(name).unwrap().facets.len() / npf;
    // The builder's exterior of the refined cells is the refined `all` part (as sets).
    let sorted = |facets: &[usize]| {
        let mut v: Vec<Vec<usize>> = facets
            .chunks_exact(npf)
            .map(|f| {
                let mut f = f.to_vec();
                f.sort_unstable();
                f
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        sorted(&fine.boundary_part("all").unwrap().facets),
        sorted(&rebuilt.boundary_part("all").unwrap().facets)
    );
    for part in mesh.boundary_parts() {
        assert_eq!(
            count(&fine, &part.name),
            4 * count(mesh, &part.name),
            "{}",
            part.name
        );
        assert_eq!(fine.boundary_part(&part.name).unwrap().id, part.id);
    }
    // Refined facets keep the outward orientation: each is a facet of the rebuilt exterior
    // with the same orientation (a cyclic rotation of an exterior facet's nodes).
    let exterior: std::collections::HashSet<Vec<usize>> = rebuilt
        .boundary_part("all")
        .unwrap()
        .facets
        .chunks_exact(npf)
        .flat_map(|f| (0..npf).map(move |r| [&f[r..], &f[..r]].concat()))
        .collect();
    for f in fine.boundary_part("all").unwrap().facets.chunks_exact(npf) {
        assert!(exterior.contains(f), "{f:?} is not outward");
    }
    let per: Vec<i32> = mesh.cell_markers().iter().flat_map(|&m| [m; 8]).collect();
    assert_eq!(fine.cell_markers(), per);
    fine
}

#[test]
fn boxes_refine_into_eight_children_per_cell() {
    for cells in [BoxCells::Tetrahedron, BoxCells::Hexahedron] {
        let mesh = Mesh::cuboid(&BoxSpec {
            x: [0.0, 2.0],
            nx: 2,
            ny: 1,
            nz: 1,
            cells,
            ..BoxSpec::default()
        })
        .unwrap();
        let fine = refine_and_check(&mesh);
        // A box refined is a finer box: same nodes count, same facets per face.
        let direct = Mesh::cuboid(&BoxSpec {
            x: [0.0, 2.0],
            nx: 4,
            ny: 2,
            nz: 2,
            cells,
            ..BoxSpec::default()
        })
        .unwrap();
        assert_eq!(fine.num_nodes(), direct.num_nodes());
        assert_eq!(fine.stats().boundary, direct.stats().boundary);
        if cells == BoxCells::Hexahedron {
            assert!((fine.stats().min_quality - 1.0).abs() < 1e-12);
        }
    }
}

#[test]
fn gmsh_cube_with_markers_refines() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gmsh");
    let mesh = Mesh::read_gmsh(dir.join("cube_v41_binary.msh")).unwrap();
    assert_eq!(mesh.cell_kind(), CellKind::Tetrahedron);
    refine_and_check(&mesh);
}

/// Shortest-diagonal children stay in a few shapes: the worst quality after three
/// refinements stays within a fixed factor of the coarse mesh's (for Kuhn cubes and for
/// a regular tetrahedron, whose children an arbitrary diagonal choice would degrade).
#[test]
fn tetrahedron_quality_is_bounded_over_three_refinements() {
    let kuhn = Mesh::cuboid(&BoxSpec {
        nx: 1,
        ny: 1,
        nz: 1,
        ..BoxSpec::default()
    })
    .unwrap();
    let s = 0.5f64.sqrt();
    let regular = Mesh::builder(
        3,
        vec![1.0, 0.0, -s, -1.0, 0.0, -s, 0.0, 1.0, s, 0.0, -1.0, s],
        CellKind::Tetrahedron,
        vec![0, 1, 2, 3],
    )
    .build()
    .unwrap();
    for mesh in [kuhn, regular] {
        let q0 = mesh.stats().min_quality;
        let mut m = mesh;
        let mut qualities = Vec::new();
        for _ in 0..3 {
            m = m.refine_uniform().unwrap();
            qualities.push(m.stats().min_quality);
        }
        assert_eq!(m.num_cells() % 512, 0);
        // The classes repeat: no decay from the second to the third refinement.
        assert!(qualities[2] >= qualities[1] - 1e-12, "{qualities:?}");
        assert!(qualities[2] > 0.6 * q0, "{q0} -> {qualities:?}");
    }
}

#[test]
fn order_two_meshes_refine_as_vertex_meshes_and_curved_ones_isoparametrically() {
    let box2 = Mesh::cuboid(&BoxSpec {
        nx: 1,
        ny: 2,
        nz: 1,
        cells: BoxCells::Hexahedron,
        ..BoxSpec::default()
    })
    .unwrap();
    let p2 = box2.with_order(Order::Quadratic).unwrap();
    let fine = p2.refined(1).unwrap();
    assert_eq!(fine.order(), Order::Quadratic);
    let expected = box2
        .refine_uniform()
        .unwrap()
        .with_order(Order::Quadratic)
        .unwrap();
    assert_eq!(fine, expected);
    let tri = Mesh::rectangle(&RectangleSpec {
        nx: 2,
        ny: 2,
        ..Default::default()
    })
    .unwrap()
    .with_order(Order::Quadratic)
    .unwrap();
    assert_eq!(tri.refined(2).unwrap().num_cells(), 8 * 16);

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gmsh");
    let disk = Mesh::read_gmsh(dir.join("disk2_v41_ascii.msh")).unwrap();
    assert!(disk.is_curved());
    // Curved: refined isoparametrically. New vertices on the rim are the old rim edge nodes
    // (on the circle); new rim edge nodes lie on the old quadratic edges, within O(h^3) of it.
    let mut fine = disk.clone();
    let mut rim_error = 0.0;
    for level in 1..=2 {
        fine = fine.refine_uniform().unwrap();
        assert!(fine.is_curved() && fine.order() == Order::Quadratic);
        assert_eq!(fine.num_cells(), disk.num_cells() << (2 * level));
        let outer = fine.boundary_part("outer").unwrap();
        assert_eq!(outer.facets.len(), (23 << level) * 3);
        let pts = fine.points();
        let radius = |n: usize| pts[n][0].hypot(pts[n][1]);
        let worst = outer
            .nodes
            .iter()
            .map(|&n| (radius(n) - 1.0).abs())
            .fold(0.0, f64::max);
        assert!(worst < 2e-3, "level {level}: {worst}");
        rim_error = worst;
        // The first refinement's rim vertices are the file's rim nodes: exactly on the circle.
        if level == 1 {
            for f in outer.facets.chunks_exact(3) {
                assert!((radius(f[0]) - 1.0).abs() < 1e-12 && (radius(f[1]) - 1.0).abs() < 1e-12);
            }
        }
        // Validated through the builder (positive vertex orientation, consistent nodes).
        Mesh::builder(
            2,
            fine.coords().to_vec(),
            CellKind::Triangle,
            fine.cells().to_vec(),
        )
        .order(Order::Quadratic)
        .build()
        .unwrap();
    }
    // The straight polygon's refinement leaves the rim nodes inside the circle by the chords'
    // sag, 1 - cos(pi / 23); the isoparametric rim is far closer.
    let polygon = disk.with_order(Order::Linear).unwrap().refined(2).unwrap();
    let pts = polygon.points();
    let sag = (polygon.boundary_part("outer").unwrap().nodes.iter())
        .map(|&n| (pts[n][0].hypot(pts[n][1]) - 1.0).abs())
        .fold(0.0, f64::max);
    assert!(
        (sag - (1.0 - (std::f64::consts::PI / 23.0).cos())).abs() < 1e-3,
        "{sag}"
    );
    assert!(sag > 10.0 * rim_error, "{sag} vs {rim_error}");
    // A straight order-2 mesh from a file refines.
    let cube = Mesh::read_gmsh(dir.join("cube2tet_v41_ascii.msh")).unwrap();
    assert_eq!(cube.refine_uniform().unwrap().num_cells(), 800);
}
