//! Uniform refinement: sizes, measure, orientation, agreement with the structured generators at
//! twice the resolution, boundary parts, the refinement counter and errors.

use std::sync::{Mutex, MutexGuard};

use femscale_core::{BoundaryPart, CellKind, Counter, Error, counters};
use femscale_mesh::{Diagonal, Mesh, RectangleCells, RectangleSpec};

/// Tests that refine hold this lock, so that the counter test sees only its own refinements.
static REFINING: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    REFINING.lock().unwrap_or_else(|e| e.into_inner())
}

fn rect(nx: usize, ny: usize, cells: RectangleCells, diagonal: Diagonal) -> Mesh {
    Mesh::rectangle(&RectangleSpec {
        x: [-1.0, 2.0],
        y: [0.5, 1.5],
        nx,
        ny,
        cells,
        diagonal,
    })
    .unwrap()
}

fn total_measure(m: &Mesh) -> f64 {
    (0..m.num_cells()).map(|c| m.cell_measure(c)).sum()
}

fn assert_positive(m: &Mesh) {
    for c in 0..m.num_cells() {
        assert!(
            m.cell_measure(c) > 0.0,
            "cell {c} is not positively oriented"
        );
    }
}

/// A point rounded to a grid far finer than any mesh here, for exact comparison.
fn key(p: [f64; 3]) -> [i64; 3] {
    p.map(|v| (v * 1e9).round() as i64)
}

fn sorted_points(m: &Mesh, nodes: &[usize]) -> Vec<[i64; 3]> {
    let pts = m.points();
    let mut v: Vec<_> = nodes.iter().map(|&i| key(pts[i])).collect();
    v.sort_unstable();
    v
}

fn all_nodes(m: &Mesh) -> Vec<usize> {
    (0..m.num_nodes()).collect()
}

/// Every cell as the sorted set of its corner points, sorted.
fn cell_set(m: &Mesh) -> Vec<Vec<[i64; 3]>> {
    let npc = m.cell_kind().nodes_per_cell();
    let mut cells: Vec<_> = m.cells().chunks(npc).map(|c| sorted_points(m, c)).collect();
    cells.sort_unstable();
    cells
}

/// The rectangle mesh with interior nodes moved by up to 0.2 h in each direction
/// (deterministic pseudo-random offsets), validated again.
fn perturbed(nx: usize, cells: RectangleCells) -> Mesh {
    let m = rect(nx, nx, cells, Diagonal::Alternating);
    let (hx, hy) = (3.0 / nx as f64, 1.0 / nx as f64);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let boundary = m.boundary_part("all").unwrap().nodes.clone();
    let mut coords = m.coords().to_vec();
    for i in 0..m.num_nodes() {
        let (dx, dy) = (next(), next());
        if boundary.binary_search(&i).is_err() {
            coords[2 * i] += 0.4 * hx * dx;
            coords[2 * i + 1] += 0.4 * hy * dy;
        }
    }
    let parts = m.boundary_parts().to_vec();
    Mesh::try_new(2, coords, m.cell_kind(), m.cells().to_vec(), parts).unwrap()
}

#[test]
fn intervals_split_in_two_and_keep_length_and_end_parts() {
    let _g = serial();
    let nodes = vec![0.0, 0.1, 0.15, 0.6, 1.0, 2.5];
    let m = Mesh::interval_from_nodes(nodes).unwrap();
    for times in [1, 2] {
        let r = m.refined(times).unwrap();
        assert_eq!(r.num_cells(), 5 << times);
        assert_eq!(r.num_nodes(), (5 << times) + 1);
        assert!((total_measure(&r) - 2.5).abs() < 1e-12);
        assert_positive(&r);
        for (name, x) in [("left", 0.0), ("right", 2.5)] {
            let part = r.boundary_part(name).unwrap();
            assert_eq!(part.facets.len(), 1, "{name}");
            assert_eq!(r.points()[part.nodes[0]][0], x, "{name}");
        }
        assert_eq!(r.boundary_part("all").unwrap().facets.len(), 2);
    }
    // Midpoints of the irregular cells.
    let r = m.refine_uniform().unwrap();
    let mut xs: Vec<f64> = r.coords().to_vec();
    xs.sort_by(f64::total_cmp);
    assert!(
        (xs[1] - 0.05).abs() < 1e-15 && (xs[3] - 0.125).abs() < 1e-15,
        "{xs:?}"
    );
    // Uniform intervals refine to the generator's nodes at twice the resolution.
    let u = Mesh::interval(0.0, 1.0, 7).unwrap().refined(2).unwrap();
    let g = Mesh::interval(0.0, 1.0, 28).unwrap();
    assert_eq!(
        sorted_points(&u, &all_nodes(&u)),
        sorted_points(&g, &all_nodes(&g))
    );
}

#[test]
fn triangles_and_quads_have_the_expected_counts_area_and_orientation() {
    let _g = serial();
    let (nx, ny) = (3, 2);
    let meshes = [
        rect(nx, ny, RectangleCells::Triangle, Diagonal::Right),
        rect(nx, ny, RectangleCells::Triangle, Diagonal::Left),
        rect(nx, ny, RectangleCells::Triangle, Diagonal::Alternating),
        rect(nx, ny, RectangleCells::Quadrilateral, Diagonal::Right),
    ];
    for m in &meshes {
        let label = format!("{:?}", m.cell_kind());
        for times in [1usize, 2] {
            let r = m.refined(times).unwrap();
            let (fx, fy) = (nx << times, ny << times);
            assert_eq!(r.num_nodes(), (fx + 1) * (fy + 1), "{label} x{times}");
            assert_eq!(
                r.num_cells(),
                m.num_cells() << (2 * times),
                "{label} x{times}"
            );
            assert!((total_measure(&r) - 3.0).abs() < 1e-12, "{label} x{times}");
            assert_positive(&r);
            let all = r.boundary_part("all").unwrap();
            assert_eq!(all.facets.len(), 2 * 2 * (fx + fy), "{label} x{times}");
            assert_eq!(all.nodes.len(), 2 * (fx + fy), "{label} x{times}");
            for (name, n) in [("left", fy), ("right", fy), ("bottom", fx), ("top", fx)] {
                let part = r.boundary_part(name).unwrap();
                assert_eq!(part.facets.len(), 2 * n, "{label} {name}");
                assert_eq!(part.nodes.len(), n + 1, "{label} {name}");
            }
        }
    }
    let tri = &meshes[0];
    assert_eq!(tri.num_edges(), nx * (ny + 1) + ny * (nx + 1) + nx * ny);
    assert_eq!(meshes[3].num_edges(), nx * (ny + 1) + ny * (nx + 1));
}

#[test]
fn refined_structured_meshes_equal_the_generator_at_twice_the_resolution() {
    let _g = serial();
    let (nx, ny) = (4, 3);
    for (cells, diagonal, same_cells) in [
        (RectangleCells::Triangle, Diagonal::Right, true),
        (RectangleCells::Quadrilateral, Diagonal::Right, true),
        (RectangleCells::Triangle, Diagonal::Left, false),
        (RectangleCells::Triangle, Diagonal::Alternating, false),
    ] {
        let label = format!("{cells:?} {diagonal:?}");
        let refined = rect(nx, ny, cells, diagonal).refine_uniform().unwrap();
        let fine = rect(2 * nx, 2 * ny, cells, diagonal);
        assert_eq!(
            sorted_points(&refined, &all_nodes(&refined)),
            sorted_points(&fine, &all_nodes(&fine)),
            "{label}: node sets"
        );
        if same_cells {
            assert_eq!(cell_set(&refined), cell_set(&fine), "{label}: cells");
        }
        for part in fine.boundary_parts() {
            let mine = refined.boundary_part(&part.name).unwrap();
            assert_eq!(
                sorted_points(&refined, &mine.nodes),
                sorted_points(&fine, &part.nodes),
                "{label}: part {}",
                part.name
            );
        }
    }
}

#[test]
fn perturbed_meshes_keep_their_area_orientation_and_convexity() {
    let _g = serial();
    for cells in [RectangleCells::Triangle, RectangleCells::Quadrilateral] {
        let m = perturbed(6, cells);
        let area = total_measure(&m);
        assert!((area - 3.0).abs() < 1e-12);
        let r = m.refined(2).unwrap();
        // `try_new` validated positive measure and, for quads, convexity at every corner.
        assert_positive(&r);
        assert!((total_measure(&r) - area).abs() < 1e-12, "{cells:?}");
        assert_eq!(r.num_nodes(), 25 * 25, "{cells:?}");
        if cells == RectangleCells::Triangle {
            // Red refinement: children are similar to their parent at half the size.
            let ratio = r.max_cell_diameter() / m.max_cell_diameter();
            assert!((ratio - 0.25).abs() < 1e-12, "{ratio}");
        }
    }
}

#[test]
fn boundary_facets_split_through_midpoints_and_keep_their_direction() {
    let _g = serial();
    let m = perturbed(5, RectangleCells::Triangle);
    let r = m.refine_uniform().unwrap();
    let (old, new) = (
        m.boundary_part("all").unwrap(),
        r.boundary_part("all").unwrap(),
    );
    let pts = r.points();
    for (f, pair) in old.facets.chunks(2).zip(new.facets.chunks(4)) {
        // (a, b) became (a, m), (m, b) with m the midpoint.
        assert_eq!((pair[0], pair[3]), (f[0], f[1]));
        assert_eq!(pair[1], pair[2]);
        let (a, b, mid) = (pts[f[0]], pts[f[1]], pts[pair[1]]);
        for k in 0..2 {
            assert!((mid[k] - 0.5 * (a[k] + b[k])).abs() < 1e-15);
        }
        assert!(new.nodes.binary_search(&pair[1]).is_ok());
    }
    // Counter-clockwise around the domain: the shoelace area is the domain's.
    let shoelace: f64 = new
        .facets
        .chunks(2)
        .map(|e| pts[e[0]][0] * pts[e[1]][1] - pts[e[1]][0] * pts[e[0]][1])
        .sum::<f64>()
        / 2.0;
    assert!((shoelace - 3.0).abs() < 1e-12);
}

#[test]
fn each_refinement_step_is_counted() {
    let _g = serial();
    let m = rect(2, 2, RectangleCells::Quadrilateral, Diagonal::Right);
    for times in [0u64, 1, 3] {
        let before = counters().get(Counter::MeshRefinements);
        m.refined(times as usize).unwrap();
        assert_eq!(counters().get(Counter::MeshRefinements) - before, times);
    }
    let before = counters().get(Counter::MeshRefinements);
    m.refine_uniform().unwrap();
    assert_eq!(counters().get(Counter::MeshRefinements) - before, 1);
}

#[test]
fn oversize_refinements_and_unsplittable_facets_are_typed_errors() {
    let _g = serial();
    let before = counters().get(Counter::MeshRefinements);
    let m = rect(2, 2, RectangleCells::Triangle, Diagonal::Right);
    for times in [40, usize::MAX] {
        let e = m.refined(times).unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("refinements"), "{e}");
    }
    let i = Mesh::interval(0.0, 1.0, 4).unwrap();
    assert_eq!(
        i.refined(64).unwrap_err().field_name().as_deref(),
        Some("refinements")
    );
    // Nothing was refined on the way to the error.
    assert_eq!(counters().get(Counter::MeshRefinements), before);

    // A boundary facet across the square's diagonal is no edge of the two triangles: the
    // mesh is refused when built (before, it failed only when refined).
    let part = BoundaryPart::from_facets("cut", vec![1, 3]);
    let coords = vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let m = Mesh::try_new(
        2,
        coords,
        CellKind::Triangle,
        vec![0, 1, 2, 0, 2, 3],
        vec![part],
    );
    match m.unwrap_err() {
        Error::Mesh { message, .. } => {
            assert!(
                message.contains("`cut`") && message.contains("not a facet"),
                "{message}"
            )
        }
        other => panic!("expected a mesh error, got {other}"),
    }
}
