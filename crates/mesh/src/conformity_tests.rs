use femscale_core::{BoundaryPart, CellKind};

use crate::{BoxCells, BoxSpec, Mesh, RectangleCells, RectangleSpec};

/// Two copies of `a` side by side along x (the second shifted by `shift`), sharing no node.
fn two_copies(a: &Mesh, shift: f64) -> (Vec<f64>, Vec<usize>) {
    let dim = a.dim();
    let mut coords = a.coords().to_vec();
    coords.extend(a.coords().chunks_exact(dim).flat_map(|p| {
        let mut q = p.to_vec();
        q[0] += shift;
        q
    }));
    let mut cells = a.cells().to_vec();
    cells.extend(a.cells().iter().map(|&n| n + a.num_nodes()));
    (coords, cells)
}

/// A 3 × 2 triangulated unit square and two copies of it side by side (`two_copies`).
fn split_square(shift: f64) -> (Mesh, Vec<f64>, Vec<usize>) {
    let square = Mesh::rectangle(&RectangleSpec {
        nx: 3,
        ny: 2,
        ..Default::default()
    })
    .unwrap();
    let (coords, cells) = two_copies(&square, shift);
    (square, coords, cells)
}

fn message(r: femscale_core::Result<Mesh>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a non-conforming mesh was accepted"),
    }
}

#[test]
fn a_hanging_node_is_refused() {
    // [0,1]² in two triangles; [1,2]×[0,1] in three around a node at (1, 0.5) on the left
    // square's edge.
    let coords = vec![
        0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, // 0..4
        2.0, 0.0, 2.0, 1.0, 1.0, 0.5, // 4..7
    ];
    let cells = vec![0, 1, 2, 0, 2, 3, 1, 4, 6, 4, 5, 6, 5, 2, 6];
    let m = message(Mesh::builder(2, coords, CellKind::Triangle, cells).build());
    assert!(
        m.contains("not conforming") && m.contains("hanging node"),
        "{m}"
    );
    assert!(m.contains("node 6 at (1, 0.5)"), "{m}");
}

#[test]
fn an_interface_with_two_copies_of_its_nodes_is_refused_in_1d_2d_and_3d() {
    let interval = Mesh::interval(0.0, 1.0, 4).unwrap();
    let (coords, cells) = two_copies(&interval, 1.0);
    let m = message(Mesh::builder(1, coords, CellKind::Interval, cells).build());
    assert!(m.contains("two copies of a node"), "{m}");

    for cells_kind in [RectangleCells::Triangle, RectangleCells::Quadrilateral] {
        let square = Mesh::rectangle(&RectangleSpec {
            nx: 3,
            ny: 2,
            cells: cells_kind,
            ..Default::default()
        })
        .unwrap();
        let (coords, cells) = two_copies(&square, 1.0);
        let m = message(Mesh::builder(2, coords, square.cell_kind(), cells).build());
        assert!(m.contains("two copies of a node"), "{m}");
    }
    for cells_kind in [BoxCells::Tetrahedron, BoxCells::Hexahedron] {
        let cube = Mesh::cuboid(&BoxSpec {
            nx: 2,
            ny: 2,
            nz: 2,
            cells: cells_kind,
            ..Default::default()
        })
        .unwrap();
        let (coords, cells) = two_copies(&cube, 1.0);
        let m = message(Mesh::builder(3, coords, cube.cell_kind(), cells).build());
        assert!(m.contains("two copies of a node"), "{m}");
    }
}

#[test]
fn a_gap_or_a_shared_interface_is_accepted() {
    // Apart by a thousandth of a cell: two separate regions, each conforming.
    let (_, coords, cells) = split_square(1.0 + 1e-3 / 3.0);
    Mesh::builder(2, coords, CellKind::Triangle, cells)
        .build()
        .unwrap();
    // One node layer shared: conforming.
    let wide = Mesh::rectangle(&RectangleSpec {
        x: [0.0, 2.0],
        nx: 6,
        ny: 2,
        ..Default::default()
    })
    .unwrap();
    Mesh::builder(
        2,
        wide.coords().to_vec(),
        CellKind::Triangle,
        wide.cells().to_vec(),
    )
    .build()
    .unwrap();
}

#[test]
fn a_crack_whose_sides_are_boundary_parts_is_accepted() {
    let (square, coords, cells) = split_square(1.0);
    let n = square.num_nodes();
    // The facets on x = 1: the right side of the first copy, the left side of the second.
    let on_crack = |coords: &[f64], f: &[usize]| f.iter().all(|&v| coords[2 * v] == 1.0);
    let exterior = |offset: usize| -> Vec<usize> {
        let all = square.boundary_part("all").unwrap();
        all.facets.iter().map(|&v| v + offset).collect()
    };
    let side = |offset: usize| -> Vec<usize> {
        exterior(offset)
            .chunks_exact(2)
            .filter(|f| on_crack(&coords, f))
            .flatten()
            .copied()
            .collect()
    };
    let (left, right) = (side(0), side(n));
    assert_eq!((left.len(), right.len()), (4, 4));
    Mesh::builder(2, coords.clone(), CellKind::Triangle, cells.clone())
        .boundary_part(BoundaryPart::from_facets("crack_left", left.clone()))
        .boundary_part(BoundaryPart::from_facets("crack_right", right))
        .build()
        .unwrap();
    // One side only: the other side's node still lies on an unnamed facet.
    let m = message(
        Mesh::builder(2, coords, CellKind::Triangle, cells)
            .boundary_part(BoundaryPart::from_facets("crack_left", left))
            .build(),
    );
    assert!(m.contains("named physical group"), "{m}");
}

#[test]
fn a_strongly_graded_conforming_mesh_is_accepted() {
    // Nodes at 10^-k towards a corner: facet sizes over 12 orders of magnitude.
    let mut xs: Vec<f64> = (0..=12).map(|k| 10f64.powi(-k)).collect();
    xs.push(0.0);
    xs.reverse();
    let mesh = Mesh::interval_from_nodes(xs.clone()).unwrap();
    Mesh::builder(
        1,
        mesh.coords().to_vec(),
        CellKind::Interval,
        mesh.cells().to_vec(),
    )
    .build()
    .unwrap();
    let n = xs.len();
    let mut coords = Vec::with_capacity(2 * n * n);
    for &y in &xs {
        for &x in &xs {
            coords.extend([x, y]);
        }
    }
    let mut cells = Vec::new();
    for j in 0..n - 1 {
        for i in 0..n - 1 {
            let (a, b, c, d) = (
                j * n + i,
                j * n + i + 1,
                (j + 1) * n + i + 1,
                (j + 1) * n + i,
            );
            cells.extend([a, b, c, a, c, d]);
        }
    }
    Mesh::builder(2, coords, CellKind::Triangle, cells)
        .build()
        .unwrap();
}

#[test]
fn parts_that_say_nothing_about_an_interface_do_not_excuse_it() {
    let (square, coords, cells) = split_square(1.0);
    let n = square.num_nodes();
    let all = square.boundary_part("all").unwrap();
    let every: Vec<usize> = (all.facets.iter().copied())
        .chain(all.facets.iter().map(|&v| v + n))
        .collect();
    // A group of every boundary facet (the interface's copies included).
    let m = message(
        Mesh::builder(2, coords.clone(), CellKind::Triangle, cells.clone())
            .boundary_part(BoundaryPart::from_facets("walls", every.clone()))
            .build(),
    );
    assert!(m.contains("not conforming"), "{m}");
    // Markers nobody named (a Gmsh file's entity tags without groups), one per copy.
    let markers: Vec<i32> = (0..every.len() / 2)
        .map(|f| if f < all.facets.len() / 2 { 1 } else { 2 })
        .collect();
    let m = message(
        Mesh::builder(2, coords, CellKind::Triangle, cells)
            .facet_markers(every, markers)
            .build(),
    );
    assert!(m.contains("not conforming"), "{m}");
}
