//! `Mesh::cuboid`: volumes, faces, orientation and conformity against the validating builder.

use femscale_core::CellKind;
use femscale_mesh::{BoxCells, BoxSpec, Mesh};

fn spec(nx: usize, ny: usize, nz: usize, cells: BoxCells) -> BoxSpec {
    BoxSpec {
        x: [-1.0, 2.0],
        y: [0.5, 1.5],
        z: [0.0, 0.25],
        nx,
        ny,
        nz,
        cells,
    }
}

/// Facets as sorted node lists, sorted.
fn facet_set(facets: &[usize], npf: usize) -> Vec<Vec<usize>> {
    let mut set: Vec<Vec<usize>> = facets
        .chunks_exact(npf)
        .map(|f| {
            let mut f = f.to_vec();
            f.sort_unstable();
            f
        })
        .collect();
    set.sort();
    set
}

#[test]
fn boxes_tile_the_domain_with_outward_faces_and_conform() {
    for cells in [BoxCells::Tetrahedron, BoxCells::Hexahedron] {
        for (nx, ny, nz) in [(1, 1, 1), (3, 2, 4), (2, 5, 1)] {
            let s = spec(nx, ny, nz, cells);
            let mesh = Mesh::cuboid(&s).unwrap();
            let per_cube = if cells == BoxCells::Tetrahedron { 6 } else { 1 };
            assert_eq!(mesh.num_nodes(), (nx + 1) * (ny + 1) * (nz + 1));
            assert_eq!(mesh.num_cells(), per_cube * nx * ny * nz);
            let volume: f64 = (0..mesh.num_cells()).map(|c| mesh.cell_measure(c)).sum();
            assert!((volume - 0.75).abs() < 1e-12, "{cells:?}: volume {volume}");
            assert!((0..mesh.num_cells()).all(|c| mesh.cell_measure(c) > 0.0));

            // Facets per face: 2 triangles or 1 quadrilateral per cube face, on the face,
            // with the outward normal.
            let npf = mesh.cell_kind().nodes_per_facet();
            let per_face = if cells == BoxCells::Tetrahedron { 2 } else { 1 };
            let pts = mesh.points();
            let faces = [
                ("left", 1, 0, -1.0, ny * nz),
                ("right", 2, 0, 2.0, ny * nz),
                ("front", 3, 1, 0.5, nx * nz),
                ("back", 4, 1, 1.5, nx * nz),
                ("bottom", 5, 2, 0.0, nx * ny),
                ("top", 6, 2, 0.25, nx * ny),
            ];
            let mut area = 0.0;
            for (name, id, axis, at, cubes) in faces {
                let part = mesh.boundary_part(name).unwrap();
                assert_eq!(part.id, Some(id));
                assert_eq!(part.facets.len(), per_face * cubes * npf, "{name}");
                assert!(part.nodes.iter().all(|&n| pts[n][axis] == at), "{name}");
                let outward = if at == s.x[0] || at == s.y[0] || at == s.z[0] {
                    -1.0
                } else {
                    1.0
                };
                for f in part.facets.chunks_exact(npf) {
                    // Normal of the first three nodes (a quadrilateral facet is planar here).
                    let (a, b, c) = (pts[f[0]], pts[f[1]], pts[f[2]]);
                    let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
                    let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
                    let n = [
                        u[1] * v[2] - u[2] * v[1],
                        u[2] * v[0] - u[0] * v[2],
                        u[0] * v[1] - u[1] * v[0],
                    ];
                    assert!(n[axis] * outward > 0.0, "{cells:?} {name}: {n:?}");
                    area += n[axis].abs() * if npf == 3 { 0.5 } else { 1.0 };
                }
            }
            let expected = 2.0 * (3.0 * 1.0 + 3.0 * 0.25 + 1.0 * 0.25);
            assert!((area - expected).abs() < 1e-12, "{cells:?}: area {area}");

            // The validating builder accepts the mesh as given (no cell reoriented, no facet in
            // three cells) and finds the same exterior: every interior facet is shared by
            // exactly two cells, so the Kuhn split conforms across cubes.
            let rebuilt = Mesh::builder(
                3,
                mesh.coords().to_vec(),
                mesh.cell_kind(),
                mesh.cells().to_vec(),
            )
            .build()
            .unwrap();
            assert_eq!(rebuilt.reoriented_cells(), 0);
            let all = mesh.boundary_part("all").unwrap();
            assert_eq!(
                facet_set(&rebuilt.boundary_part("all").unwrap().facets, npf),
                facet_set(&all.facets, npf),
                "{cells:?} {nx}x{ny}x{nz}"
            );
            assert_eq!(all.nodes, rebuilt.boundary_part("all").unwrap().nodes);
            let interior = (mesh.num_cells() * mesh.cell_kind().local_facets().len()
                - all.facets.len() / npf)
                / 2;
            let faces_of_cubes = if cells == BoxCells::Tetrahedron {
                // Per cube: 6 internal triangles; plus 2 per shared cube face.
                6 * nx * ny * nz
                    + 2 * ((nx - 1) * ny * nz + nx * (ny - 1) * nz + nx * ny * (nz - 1))
            } else {
                (nx - 1) * ny * nz + nx * (ny - 1) * nz + nx * ny * (nz - 1)
            };
            assert_eq!(interior, faces_of_cubes);
            assert_eq!(
                mesh.cell_kind(),
                if per_cube == 6 {
                    CellKind::Tetrahedron
                } else {
                    CellKind::Hexahedron
                }
            );
        }
    }
}

#[test]
fn cube_tetrahedra_have_bounded_quality_and_stats() {
    let mesh = Mesh::cuboid(&BoxSpec {
        nx: 2,
        ny: 2,
        nz: 2,
        ..BoxSpec::default()
    })
    .unwrap();
    let s = mesh.stats();
    assert_eq!(
        (s.cell_kind.as_str(), s.cells, s.nodes),
        ("tetrahedron", 48, 27)
    );
    // All six Kuhn tetrahedra of a cube are congruent: one quality, 6 sqrt(2) V / l_rms^3
    // with V = 1/48 (edges 1/2, 1/2 sqrt 2, 1/2 sqrt 3 ...).
    assert!((s.max_quality - s.min_quality).abs() < 1e-12);
    assert!(
        s.min_quality > 0.6 && s.min_quality < 0.8,
        "{}",
        s.min_quality
    );
    let faces: Vec<_> = s
        .boundary
        .iter()
        .map(|b| (b.name.as_str(), b.facets))
        .collect();
    assert_eq!(
        faces,
        [
            ("left", 8),
            ("right", 8),
            ("front", 8),
            ("back", 8),
            ("bottom", 8),
            ("top", 8),
            ("all", 48)
        ]
    );
    let hexes = Mesh::cuboid(&BoxSpec {
        x: [0.0, 2.0],
        cells: BoxCells::Hexahedron,
        ..BoxSpec::default()
    })
    .unwrap()
    .stats();
    // Boxes with right angles: quality 1.
    assert!((hexes.min_quality - 1.0).abs() < 1e-14 && hexes.max_quality <= 1.0);
}

#[test]
fn bad_specs_are_typed_errors_naming_the_field() {
    let bad = |s: BoxSpec, field: &str| {
        let e = Mesh::cuboid(&s).unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some(field), "{e}");
    };
    let d = BoxSpec::default;
    bad(BoxSpec { nx: 0, ..d() }, "nx");
    bad(BoxSpec { ny: 0, ..d() }, "ny");
    bad(BoxSpec { nz: 0, ..d() }, "nz");
    bad(
        BoxSpec {
            z: [1.0, 0.0],
            ..d()
        },
        "z",
    );
    bad(
        BoxSpec {
            y: [0.0, f64::INFINITY],
            ..d()
        },
        "y",
    );
    bad(
        BoxSpec {
            x: [-1e308, 1e308],
            ..d()
        },
        "x",
    );
    bad(
        BoxSpec {
            nz: usize::MAX,
            ..d()
        },
        "nx",
    );
    bad(
        BoxSpec {
            nx: usize::MAX / 2,
            ny: usize::MAX / 2,
            ..d()
        },
        "nx",
    );
    bad(
        BoxSpec {
            nx: 2000,
            ny: 2000,
            nz: 2000,
            ..d()
        },
        "nx",
    );
    bad(
        BoxSpec {
            z: [1.0, 1.0 + 2e-16],
            nz: 4,
            ..d()
        },
        "nz",
    );
}
