//! Unconnected parts of a mesh over the same space (an inclusion meshed inside a rectangle
//! that was meshed as if it were not there) are refused; parts apart from each other are not.

use femscale_core::CellKind;
use femscale_mesh::Mesh;

/// `a` and `b` as one mesh of unconnected parts (the nodes of `b` follow those of `a`).
fn two_parts(
    dim: usize,
    kind: CellKind,
    a: (&[f64], &[usize]),
    b: (&[f64], &[usize]),
) -> femscale_core::Result<Mesh> {
    let offset = a.0.len() / dim;
    let coords = [a.0, b.0].concat();
    let cells: Vec<usize> = (a.1.iter().copied())
        .chain(b.1.iter().map(|&n| n + offset))
        .collect();
    Mesh::builder(dim, coords, kind, cells).build()
}

/// `coords` (of `dim` per node) scaled, then coordinate `k` shifted by `shift[k]`.
fn moved(coords: &[f64], dim: usize, scale: f64, shift: [f64; 3]) -> Vec<f64> {
    (coords.iter().enumerate())
        .map(|(i, x)| x * scale + shift[i % dim])
        .collect()
}

/// The unit cube's corners in the hexahedron's vertex order.
const UNIT_CUBE: [[f64; 3]; 8] = [
    [0., 0., 0.],
    [1., 0., 0.],
    [1., 1., 0.],
    [0., 1., 0.],
    [0., 0., 1.],
    [1., 0., 1.],
    [1., 1., 1.],
    [0., 1., 1.],
];

#[test]
fn a_part_inside_another_is_refused_and_parts_apart_are_accepted() {
    let unit_square = [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let unit_cube = UNIT_CUBE.concat();
    let cases: [(usize, CellKind, &[f64], &[usize]); 5] = [
        (1, CellKind::Interval, &[0.0, 1.0], &[0, 1]),
        (2, CellKind::Triangle, &unit_square, &[0, 1, 2, 0, 2, 3]),
        (2, CellKind::Quadrilateral, &unit_square, &[0, 1, 2, 3]),
        (
            3,
            CellKind::Hexahedron,
            &unit_cube,
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            3,
            CellKind::Tetrahedron,
            &unit_cube,
            &[
                0, 1, 2, 6, 0, 2, 3, 6, 0, 3, 7, 6, 0, 7, 4, 6, 0, 4, 5, 6, 0, 5, 1, 6,
            ],
        ),
    ];
    for (dim, kind, coords, cells) in cases {
        // A copy shrunk to a quarter, inside, its vertices off the faces of the split (two equal
        // coordinates would put a vertex on a face of the Kuhn tetrahedra): every one is inside the big
        // part (the hexahedron's and quadrilateral's vertices off the split's diagonals).
        let inside = moved(coords, dim, 0.25, [0.3, 0.35, 0.4]);
        let message = two_parts(dim, kind, (coords, cells), (&inside, cells))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("parts of the mesh overlap"),
            "{kind:?}: {message}"
        );
        assert!(
            message.contains("which is not connected to it"),
            "{kind:?}: {message}"
        );
        // Partly overlapping: the copy shifted by less than a cell (off the diagonals, where
        // a vertex would lie on a cell's boundary).
        let shifted = moved(coords, dim, 1.0, [0.5, 0.3, 0.2]);
        assert!(
            two_parts(dim, kind, (coords, cells), (&shifted, cells)).is_err(),
            "{kind:?}"
        );
        // Apart (a gap of one cell): two bodies, accepted.
        let apart = moved(coords, dim, 1.0, [2.0; 3]);
        let mesh = two_parts(dim, kind, (coords, cells), (&apart, cells)).unwrap();
        assert_eq!(mesh.num_cells(), 2 * cells.len() / kind.num_vertices());
    }
}

/// Many unconnected parts, of very different sizes and in a thin slab, are located in a tree
/// of the cells (a uniform grid sized from the mean cell was quadratic on graded meshes and
/// could allocate without bound on thin domains).
#[test]
fn many_parts_in_a_thin_slab_are_accepted() {
    let unit_cube = UNIT_CUBE.concat();
    let (mut coords, mut cells) = (Vec::new(), Vec::new());
    for k in 0..400 {
        // Cubes of sizes 1e-3 to 1 side by side along x, squashed to a height of 1e-5.
        let size = 10f64.powf(-3.0 * f64::from(k % 4) / 3.0);
        let offset = coords.len() / 3;
        for p in unit_cube.chunks_exact(3) {
            coords.extend([2.0 * f64::from(k) + size * p[0], size * p[1], 1e-5 * p[2]]);
        }
        cells.extend((0..8).map(|l| offset + l));
    }
    let mesh = Mesh::builder(3, coords, CellKind::Hexahedron, cells)
        .build()
        .unwrap();
    assert_eq!(mesh.num_cells(), 400);
}
