//! Local refinement: conformity, shape regularity, inherited markers, transfer, typed errors.

use std::collections::HashMap;

use femscale_core::{CellKind, Error, Order};
use femscale_mesh::{
    BoxCells, BoxSpec, Mesh, RectangleCells, RectangleSpec, Refined, RefinementState,
};

/// The L-shape (-1,1)² \ [0,1)×(-1,0] of three squares (subdomains 1, 2, 3, named), two
/// triangles each, with the re-entrant edges marked `reentrant`, refined uniformly twice
/// (96 triangles).
fn l_shape() -> Mesh {
    #[rustfmt::skip]
    let coords = vec![
        -1.0, -1.0, 0.0, -1.0, -1.0, 0.0, 0.0, 0.0, 1.0, 0.0, -1.0, 1.0, 0.0, 1.0, 1.0, 1.0,
    ];
    // Squares: lower left (0,1,3,2), upper left (2,3,6,5), upper right (3,4,7,6).
    let cells = vec![0, 1, 3, 0, 3, 2, 2, 3, 6, 2, 6, 5, 3, 4, 7, 3, 7, 6];
    Mesh::builder(2, coords, CellKind::Triangle, cells)
        .cell_markers(vec![1, 1, 2, 2, 3, 3])
        .subdomain_name(1, "lower")
        .subdomain_name(3, "right")
        .facet_markers(vec![1, 3, 3, 4], vec![7, 7])
        .boundary_name(7, "reentrant")
        .build()
        .and_then(|m| m.refined(2))
        .unwrap()
}

/// Whether `p` lies on the boundary of the L-shape.
fn on_l_boundary(p: [f64; 3]) -> bool {
    let near = |a: f64, b: f64| (a - b).abs() < 1e-12;
    let [x, y, _] = p;
    near(x, -1.0)
        || near(y, 1.0)
        || near(x, 1.0) && y >= -1e-12
        || near(y, -1.0) && x <= 1e-12
        || near(x, 0.0) && y <= 1e-12
        || near(y, 0.0) && x >= -1e-12
}

/// Smallest interior angle of a triangle, in degrees.
fn min_angle(p: [[f64; 3]; 3]) -> f64 {
    (0..3)
        .map(|i| {
            let (a, b, c) = (p[i], p[(i + 1) % 3], p[(i + 2) % 3]);
            let (u, v) = ([b[0] - a[0], b[1] - a[1]], [c[0] - a[0], c[1] - a[1]]);
            let cos = (u[0] * v[0] + u[1] * v[1]) / (u[0].hypot(u[1]) * v[0].hypot(v[1]));
            cos.clamp(-1.0, 1.0).acos().to_degrees()
        })
        .fold(180.0, f64::min)
}

fn mesh_min_angle(mesh: &Mesh) -> f64 {
    let pts = mesh.points();
    (mesh.cells().chunks_exact(3))
        .map(|t| min_angle([pts[t[0]], pts[t[1]], pts[t[2]]]))
        .fold(180.0, f64::min)
}

/// Checks a triangle mesh of the L-shape is conforming: every edge in one or two cells, the
/// edges of one cell exactly the exterior part's facets and on the L-shape's boundary, every
/// node of a cell a vertex of it (no hanging node), cells positive, area 3.
fn assert_conforming(mesh: &Mesh) {
    let pts = mesh.points();
    let mut edges: HashMap<(usize, usize), usize> = HashMap::new();
    let mut area = 0.0;
    for (c, t) in mesh.cells().chunks_exact(3).enumerate() {
        let measure = mesh.cell_measure(c);
        assert!(measure > 0.0, "cell {c} has measure {measure}");
        area += measure;
        for j in 0..3 {
            let (a, b) = (t[j], t[(j + 1) % 3]);
            *edges.entry((a.min(b), a.max(b))).or_default() += 1;
        }
    }
    assert!((area - 3.0).abs() < 1e-12, "area {area}");
    let mut exterior: Vec<(usize, usize)> = Vec::new();
    for (&(a, b), &n) in &edges {
        assert!(n <= 2, "edge {a}-{b} in {n} cells");
        if n == 1 {
            let mid = [
                0.5 * (pts[a][0] + pts[b][0]),
                0.5 * (pts[a][1] + pts[b][1]),
                0.0,
            ];
            assert!(
                on_l_boundary(pts[a]) && on_l_boundary(pts[b]) && on_l_boundary(mid),
                "interior edge {a}-{b} with one cell: a hanging node"
            );
            exterior.push((a, b));
        }
    }
    let all = mesh.boundary_part("all").unwrap();
    let mut facets: Vec<(usize, usize)> = (all.facets.chunks_exact(2))
        .map(|f| (f[0].min(f[1]), f[0].max(f[1])))
        .collect();
    facets.sort_unstable();
    exterior.sort_unstable();
    assert_eq!(facets, exterior, "the exterior part is the boundary");
    // Every node is used by a cell.
    let mut used = vec![false; mesh.num_nodes()];
    for &n in mesh.cells() {
        used[n] = true;
    }
    assert!(used.iter().all(|&u| u));
}

/// Children per parent.
fn child_counts(refined: &Refined, parents: usize) -> Vec<usize> {
    let mut count = vec![0; parents];
    for &p in &refined.parents {
        count[p] += 1;
    }
    count
}

/// A deterministic pseudo-random sequence in [0, 1).
fn uniform(seed: &mut u64) -> f64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn random_markings_stay_conforming_and_refine_every_marked_cell() {
    let mut mesh = l_shape();
    assert_eq!(mesh.num_cells(), 96);
    assert_conforming(&mesh);
    let mut state = None;
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    for step in 0..12 {
        let fraction = [0.02, 0.1, 0.3][step % 3];
        let marked: Vec<bool> = (0..mesh.num_cells())
            .map(|_| uniform(&mut seed) < fraction)
            .collect();
        let refined = mesh.refine_marked(&marked, state.as_ref()).unwrap();
        assert_conforming(&refined.mesh);
        let count = child_counts(&refined, mesh.num_cells());
        for (c, (&m, &n)) in marked.iter().zip(&count).enumerate() {
            assert!((1..=4).contains(&n), "cell {c} has {n} children");
            assert!(!m || n >= 2, "marked cell {c} has {n} children");
        }
        // Children lie in their parents: equal total measure per parent.
        let mut measure = vec![0.0; mesh.num_cells()];
        for (c, &p) in refined.parents.iter().enumerate() {
            measure[p] += refined.mesh.cell_measure(c);
        }
        for (p, m) in measure.iter().enumerate() {
            assert!((m - mesh.cell_measure(p)).abs() < 1e-12 * m.max(1e-3));
        }
        // New nodes are midpoints of their recorded old vertices.
        let (old, new) = (mesh.points(), refined.mesh.points());
        for (i, &[a, b]) in refined.new_nodes.iter().enumerate() {
            let x = new[refined.old_vertices + i];
            assert!((0..2).all(|k| (x[k] - 0.5 * (old[a][k] + old[b][k])).abs() < 1e-15));
        }
        assert_eq!(
            &new[..mesh.num_nodes()],
            &old[..],
            "old nodes keep their numbers"
        );
        // The mesh passes the builder's validation unchanged.
        let mut builder = Mesh::builder(
            2,
            refined.mesh.coords().to_vec(),
            CellKind::Triangle,
            refined.mesh.cells().to_vec(),
        )
        .cell_markers(refined.mesh.cell_markers().to_vec())
        .boundary_parts(refined.mesh.boundary_parts().to_vec())
        .exterior_part(None);
        for s in mesh.subdomains() {
            if let Some(name) = &s.name {
                builder = builder.subdomain_name(s.id, name.clone());
            }
        }
        assert_eq!(builder.build().unwrap(), refined.mesh);
        state = Some(refined.state);
        mesh = refined.mesh;
    }
    assert!(mesh.num_cells() > 1000, "{} cells", mesh.num_cells());
}

#[test]
fn markers_and_boundary_parts_are_inherited() {
    let mesh = l_shape();
    let mut seed = 7;
    let marked: Vec<bool> = (0..mesh.num_cells())
        .map(|_| uniform(&mut seed) < 0.4)
        .collect();
    let first = mesh.refine_marked(&marked, None).unwrap();
    // A boundary edge is split once it is a refinement edge: a second round marking the
    // cells on the re-entrant edges reaches them.
    let on_part = first.mesh.boundary_part("reentrant").unwrap().nodes.clone();
    let marked: Vec<bool> = (first.mesh.cells().chunks_exact(3))
        .map(|t| {
            t.iter()
                .filter(|n| on_part.binary_search(n).is_ok())
                .count()
                == 2
        })
        .collect();
    let second = (first.mesh)
        .refine_marked(&marked, Some(&first.state))
        .unwrap();
    for (c, &p) in second.parents.iter().enumerate() {
        let marker = second.mesh.cell_markers()[c];
        assert_eq!(marker, mesh.cell_markers()[first.parents[p]]);
    }
    let refined = first;
    let new = &refined.mesh;
    assert_eq!(new.subdomains(), mesh.subdomains());
    for (c, &p) in refined.parents.iter().enumerate() {
        assert_eq!(new.cell_markers()[c], mesh.cell_markers()[p]);
    }
    let names = |m: &Mesh| -> Vec<(String, Option<i32>)> {
        (m.boundary_parts().iter())
            .map(|p| (p.name.clone(), p.id))
            .collect()
    };
    assert_eq!(names(new), names(&mesh));
    assert_eq!(names(&second.mesh), names(&mesh));
    assert_conforming(&second.mesh);
    let new = &second.mesh;
    let pts = new.points();
    let re = new.boundary_part("reentrant").unwrap();
    let mut length = 0.0;
    for f in re.facets.chunks_exact(2) {
        let (a, b) = (pts[f[0]], pts[f[1]]);
        assert!(
            (a[0].abs() < 1e-12 && b[0].abs() < 1e-12 && a[1] <= 1e-12 && b[1] <= 1e-12)
                || (a[1].abs() < 1e-12 && b[1].abs() < 1e-12 && a[0] >= -1e-12),
            "facet {f:?} off the re-entrant edges"
        );
        length += (a[0] - b[0]).hypot(a[1] - b[1]);
    }
    assert!((length - 2.0).abs() < 1e-12, "re-entrant length {length}");
    assert!(re.facets.len() > mesh.boundary_part("reentrant").unwrap().facets.len());
    // Part nodes are exactly the facet nodes.
    let mut nodes = re.facets.clone();
    nodes.sort_unstable();
    nodes.dedup();
    assert_eq!(re.nodes, nodes);
}

#[test]
fn refining_everything_bisects_every_cell() {
    let mesh = l_shape();
    let refined = mesh.refine_marked(&[true; 96], None).unwrap();
    assert!(child_counts(&refined, 96).iter().all(|&n| n >= 2));
    assert!((192..=384).contains(&refined.mesh.num_cells()));
    assert_conforming(&refined.mesh);
    // Twice with the state: exactly uniform red refinement's count, every cell of area 1/4.
    let all = vec![true; refined.mesh.num_cells()];
    let twice = (refined.mesh)
        .refine_marked(&all, Some(&refined.state))
        .unwrap();
    let uniform = mesh.refine_uniform().unwrap();
    let areas = |m: &Mesh| {
        let mut a: Vec<f64> = (0..m.num_cells()).map(|c| m.cell_measure(c)).collect();
        a.sort_by(f64::total_cmp);
        a
    };
    if twice.mesh.num_cells() == uniform.num_cells() {
        for (a, b) in areas(&twice.mesh).iter().zip(areas(&uniform)) {
            assert!((a - b).abs() < 1e-14);
        }
    }
    assert!(twice.mesh.num_cells() >= uniform.num_cells());
    assert_conforming(&twice.mesh);
}

#[test]
fn two_bisections_of_a_triangle_give_four_similar_quarters() {
    let mesh = Mesh::try_new(
        2,
        vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0],
        CellKind::Triangle,
        vec![0, 1, 2],
        vec![],
    )
    .unwrap();
    let once = mesh.refine_marked(&[true], None).unwrap();
    assert_eq!((once.mesh.num_cells(), once.new_nodes.len()), (2, 1));
    // The longest edge is the hypotenuse.
    assert_eq!(once.new_nodes, vec![[1, 2]]);
    let twice = (once.mesh)
        .refine_marked(&[true, true], Some(&once.state))
        .unwrap();
    assert_eq!(twice.mesh.num_cells(), 4);
    for c in 0..4 {
        assert!((twice.mesh.cell_measure(c) - 0.125).abs() < 1e-15);
    }
    assert!((mesh_min_angle(&twice.mesh) - 45.0).abs() < 1e-9);
    assert_eq!(twice.parents, vec![0, 0, 1, 1]);
}

#[test]
fn corner_refinement_keeps_angles_bounded_over_thirty_steps() {
    let mut mesh = l_shape();
    let initial = mesh_min_angle(&mesh);
    let mut state = None;
    let corner = (mesh.points().iter())
        .position(|p| p[0] == 0.0 && p[1] == 0.0)
        .unwrap();
    let mut smallest = f64::INFINITY;
    for _ in 0..30 {
        let marked: Vec<bool> = (mesh.cells().chunks_exact(3))
            .map(|t| t.contains(&corner))
            .collect();
        let refined = mesh.refine_marked(&marked, state.as_ref()).unwrap();
        assert!(refined.mesh.num_cells() > mesh.num_cells());
        assert_conforming(&refined.mesh);
        smallest = smallest.min(mesh_min_angle(&refined.mesh));
        state = Some(refined.state);
        mesh = refined.mesh;
    }
    // Newest-vertex bisection of right isosceles triangles keeps them similar: 45 degrees.
    assert!(
        smallest >= 0.99 * initial && initial > 44.9,
        "{smallest} < {initial}"
    );
    // Graded, not uniform: the cells at the corner shrank 2^-30-fold in area, while the count
    // grew linearly in the number of steps.
    let min_area = (0..mesh.num_cells())
        .map(|c| mesh.cell_measure(c))
        .fold(f64::INFINITY, f64::min);
    assert!(min_area < 3.0 / 96.0 * 2f64.powi(-29), "{min_area}");
    assert!(
        mesh.num_cells() < 96 + 30 * 10,
        "{} cells",
        mesh.num_cells()
    );
}

#[test]
fn longest_edge_start_keeps_angles_bounded_on_an_irregular_mesh() {
    // A skewed mesh: the nodes of a structured one moved off the lattice.
    let base = Mesh::rectangle(&RectangleSpec {
        nx: 6,
        ny: 5,
        ..RectangleSpec::default()
    })
    .unwrap();
    let mut seed = 3;
    let coords: Vec<f64> = (base.points().iter())
        .flat_map(|p| {
            let inner = |v: f64| v > 1e-12 && v < 1.0 - 1e-12;
            let dx = if inner(p[0]) {
                0.05 * (uniform(&mut seed) - 0.5)
            } else {
                0.0
            };
            let dy = if inner(p[1]) {
                0.05 * (uniform(&mut seed) - 0.5)
            } else {
                0.0
            };
            [p[0] + dx, p[1] + dy]
        })
        .collect();
    let mut mesh = Mesh::try_new(
        2,
        coords,
        CellKind::Triangle,
        base.cells().to_vec(),
        base.boundary_parts().to_vec(),
    )
    .unwrap();
    let initial = mesh_min_angle(&mesh);
    let mut state = None;
    for step in 0..20 {
        // Refine the cells near the point (0.3, 0.6), in a shrinking disk.
        let radius = 0.2 * 0.75f64.powi(step);
        let pts = mesh.points();
        let marked: Vec<bool> = (mesh.cells().chunks_exact(3))
            .map(|t| {
                t.iter()
                    .any(|&n| (pts[n][0] - 0.3).hypot(pts[n][1] - 0.6) < radius)
            })
            .collect();
        let refined = mesh.refine_marked(&marked, state.as_ref()).unwrap();
        state = Some(refined.state);
        mesh = refined.mesh;
    }
    let last = mesh_min_angle(&mesh);
    // Newest-vertex bisection halves the smallest angle at most a bounded number of times.
    assert!(last > 0.25 * initial, "{last} vs {initial}");
    // Graded: far fewer cells than 20 uniform bisection rounds would give.
    assert!(
        (600..2000).contains(&mesh.num_cells()),
        "{}",
        mesh.num_cells()
    );
}

#[test]
fn intervals_are_halved() {
    let mesh = Mesh::interval_from_nodes(vec![0.0, 0.5, 2.0, 3.0]).unwrap();
    let refined = mesh.refine_marked(&[false, true, true], None).unwrap();
    let new = &refined.mesh;
    assert_eq!(new.num_cells(), 5);
    assert_eq!(refined.parents, vec![0, 1, 1, 2, 2]);
    assert_eq!(refined.new_nodes, vec![[1, 2], [2, 3]]);
    assert_eq!(new.coords(), &[0.0, 0.5, 2.0, 3.0, 1.25, 2.5]);
    assert_eq!(new.cells(), &[0, 1, 1, 4, 4, 2, 2, 5, 5, 3]);
    assert_eq!(new.boundary_parts(), mesh.boundary_parts());
    let u = refined.interpolate_p1(&[0.0, 1.0, 4.0, 6.0]).unwrap();
    assert_eq!(u, vec![0.0, 1.0, 4.0, 6.0, 2.5, 5.0]);
    // Two components per node.
    let u = refined.interpolate_p1(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    assert_eq!(u.unwrap()[8..], [3.0, 4.0, 5.0, 6.0]);
    let total: f64 = (0..new.num_cells()).map(|c| new.cell_measure(c)).sum();
    assert!((total - 3.0).abs() < 1e-15);
    // Order 2: the vertex mesh refined and lifted; quadratics carried over exactly.
    let p2 = mesh.with_order(Order::Quadratic).unwrap();
    let refined = p2.refine_cells(&[0, 2, 2], None).unwrap();
    assert_eq!(
        (refined.mesh.order(), refined.mesh.num_cells()),
        (Order::Quadratic, 5)
    );
    let f = |x: f64| 1.0 + x - 2.0 * x * x;
    let u: Vec<f64> = p2.points().iter().map(|p| f(p[0])).collect();
    let v = refined.interpolate_p2(&p2, &u).unwrap();
    for (p, value) in refined.mesh.points().iter().zip(&v) {
        assert!((f(p[0]) - value).abs() < 1e-12);
    }
}

#[test]
fn order_two_triangles_refine_their_vertex_mesh_and_carry_quadratics() {
    let mesh = l_shape();
    let p2 = mesh.with_order(Order::Quadratic).unwrap();
    let marked: Vec<bool> = (0..96).map(|c| c % 5 == 0).collect();
    let linear = mesh.refine_marked(&marked, None).unwrap();
    let refined = p2.refine_marked(&marked, None).unwrap();
    assert_eq!(refined.mesh.order(), Order::Quadratic);
    assert!(!refined.mesh.is_curved());
    assert_eq!(refined.parents, linear.parents);
    assert_eq!(refined.new_nodes, linear.new_nodes);
    assert_eq!(refined.mesh.with_order(Order::Linear).unwrap(), linear.mesh);
    let f = |p: [f64; 3]| 1.0 + p[0] - 3.0 * p[0] * p[1] + 0.5 * p[1] * p[1];
    let u: Vec<f64> = p2.points().into_iter().map(f).collect();
    let v = refined.interpolate_p2(&p2, &u).unwrap();
    for (p, value) in refined.mesh.points().into_iter().zip(&v) {
        assert!((f(p) - value).abs() < 1e-12);
    }
    // The state continues on the order-2 mesh.
    let all = vec![true; refined.mesh.num_cells()];
    let again = (refined.mesh)
        .refine_marked(&all, Some(&refined.state))
        .unwrap();
    assert!(again.mesh.num_cells() >= 2 * refined.mesh.num_cells());
    assert!(refined.interpolate_p2(&mesh, &u).is_err());
}

fn invalid_field(e: &Error) -> String {
    e.field_name().unwrap_or_default()
}

#[test]
fn unsupported_meshes_and_bad_input_get_typed_errors() {
    let quads = Mesh::rectangle(&RectangleSpec {
        cells: RectangleCells::Quadrilateral,
        ..RectangleSpec::default()
    })
    .unwrap();
    let boxes = |cells| {
        Mesh::cuboid(&BoxSpec {
            nx: 1,
            ny: 1,
            nz: 1,
            cells,
            ..BoxSpec::default()
        })
        .unwrap()
    };
    for (mesh, word) in [
        (quads, "quadrilateral"),
        (boxes(BoxCells::Tetrahedron), "tetrahedra"),
        (boxes(BoxCells::Hexahedron), "hexahedral"),
    ] {
        let e = mesh
            .refine_marked(&vec![true; mesh.num_cells()], None)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
        assert_eq!(invalid_field(&e), "adaptivity.enabled");
        assert!(e.to_string().contains(word), "{e}");
    }
    // A curved order-2 triangle: one edge node off its midpoint.
    let curved = Mesh::builder(
        2,
        vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.5, -0.1, 0.5, 0.5, 0.0, 0.5],
        CellKind::Triangle,
        vec![0, 1, 2, 3, 4, 5],
    )
    .order(Order::Quadratic)
    .build()
    .unwrap();
    assert!(curved.is_curved());
    let e = curved.refine_marked(&[true], None).unwrap_err();
    assert_eq!(invalid_field(&e), "adaptivity.enabled");
    assert!(e.to_string().contains("curved"), "{e}");

    let mesh = l_shape();
    let e = mesh.refine_marked(&[true; 3], None).unwrap_err();
    assert_eq!(invalid_field(&e), "marked");
    let e = mesh.refine_cells(&[96], None).unwrap_err();
    assert_eq!(invalid_field(&e), "marked");
    let once = mesh.refine_cells(&[0], None).unwrap();
    let e = mesh
        .refine_marked(&[true; 96], Some(&once.state))
        .unwrap_err();
    assert_eq!(invalid_field(&e), "refinement_state");
    let e = once.interpolate_p1(&[1.0; 7]).unwrap_err();
    assert_eq!(invalid_field(&e), "values");
    let e = once.interpolate_p2(&mesh, &[1.0; 7]).unwrap_err();
    assert_eq!(invalid_field(&e), "values");
    // The initial state is the one `None` stands for.
    let initial = RefinementState::initial(&mesh);
    assert_eq!(initial.newest_vertices().len(), 96);
    let marked: Vec<bool> = (0..96).map(|c| c % 3 == 0).collect();
    let (a, b) = (
        mesh.refine_marked(&marked, Some(&initial)).unwrap(),
        mesh.refine_marked(&marked, None).unwrap(),
    );
    assert_eq!((a.mesh, a.state), (b.mesh, b.state));
    // Nothing marked: the same mesh.
    let same = mesh.refine_marked(&[false; 96], None).unwrap();
    assert_eq!(same.mesh, mesh);
    assert_eq!(same.parents, (0..96).collect::<Vec<_>>());
}
