//! Every `Mesh` function on order-2 meshes (lifted generated meshes, and a curved Gmsh disk):
//! the same answers as on the vertex mesh where the geometry is the same.

use femscale_core::{CellKind, Order};
use femscale_mesh::{BoxCells, BoxSpec, Mesh, RectangleCells, RectangleSpec};

fn linear_meshes() -> Vec<Mesh> {
    let rect = |cells| {
        Mesh::rectangle(&RectangleSpec {
            nx: 3,
            ny: 2,
            cells,
            ..RectangleSpec::default()
        })
        .unwrap()
    };
    let cube = |cells| {
        Mesh::cuboid(&BoxSpec {
            nx: 2,
            ny: 1,
            nz: 2,
            cells,
            ..BoxSpec::default()
        })
        .unwrap()
    };
    vec![
        Mesh::interval(0.0, 2.0, 5).unwrap(),
        rect(RectangleCells::Triangle),
        rect(RectangleCells::Quadrilateral),
        cube(BoxCells::Tetrahedron),
        cube(BoxCells::Hexahedron),
    ]
}

#[test]
fn straight_order_two_meshes_answer_as_their_vertex_meshes() {
    for p1 in linear_meshes() {
        let kind = p1.cell_kind();
        let p2 = p1.with_order(Order::Quadratic).unwrap();
        assert_eq!((p2.order(), p2.is_curved()), (Order::Quadratic, false));
        assert_eq!(p2.num_cells(), p1.num_cells(), "{kind:?}");
        assert_eq!(
            p2.cells().len(),
            p2.num_cells() * kind.nodes_per_cell_of(Order::Quadratic)
        );
        assert_eq!(p2.coords().len(), p2.num_nodes() * p2.dim());
        assert_eq!(p2.points().len(), p2.num_nodes());
        assert_eq!(p2.num_edges(), p1.num_edges(), "{kind:?}");
        for c in 0..p1.num_cells() {
            assert_eq!(p2.cell_measure(c), p1.cell_measure(c));
            assert_eq!(p2.cell_quality(c), p1.cell_quality(c));
        }
        assert_eq!(p2.max_cell_diameter(), p1.max_cell_diameter(), "{kind:?}");
        let (s1, s2) = (p1.stats(), p2.stats());
        assert_eq!(s2.cells, s1.cells);
        assert_eq!(s2.nodes, p2.num_nodes());
        assert_eq!(
            (s2.min_quality, s2.max_quality),
            (s1.min_quality, s1.max_quality)
        );
        assert_eq!(s2.boundary, s1.boundary, "{kind:?}: facets per part");
        p2.view().validate().unwrap();
        // The order-2 mesh rebuilt from its arrays through the validating builder.
        let rebuilt = Mesh::builder(p2.dim(), p2.coords().to_vec(), kind, p2.cells().to_vec())
            .order(Order::Quadratic)
            .build()
            .unwrap();
        assert_eq!(rebuilt.reoriented_cells(), 0);
        let exterior = |m: &Mesh| {
            let mut v = m.boundary_part("all").unwrap().nodes.clone();
            v.sort_unstable();
            v
        };
        assert_eq!(exterior(&rebuilt), exterior(&p2), "{kind:?}");
    }
}

#[test]
fn parts_added_by_predicate_have_order_two_facets() {
    for p1 in linear_meshes() {
        let kind = p1.cell_kind();
        let mut m1 = p1.clone();
        let mut m2 = p1.with_order(Order::Quadratic).unwrap();
        let at_origin = |p: [f64; 3]| p[0].abs() < 1e-12;
        let n1 = m1.add_boundary_part_where("x0", at_origin).unwrap();
        let n2 = m2.add_boundary_part_where("x0", at_origin).unwrap();
        assert_eq!(n1, n2, "{kind:?}");
        let part = m2.boundary_part("x0").unwrap();
        assert_eq!(
            part.facets.len(),
            n2 * kind.nodes_per_facet_of(Order::Quadratic)
        );
        let pts = m2.points();
        assert!(part.nodes.iter().all(|&n| pts[n][0].abs() < 1e-12));
        assert!(m2.view().validate().is_ok());
        // The part's nodes are those of the lifted `left` part (x = 0) where there is one.
        if let Some(left) = m2.boundary_part("left") {
            assert_eq!(part.nodes, left.nodes, "{kind:?}");
        }
        assert!(m2.add_boundary_part_where("x0", at_origin).is_err());
    }
}

#[test]
fn a_curved_disk_answers_every_query() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gmsh");
    let disk = Mesh::read_gmsh(dir.join("disk2_v22_binary.msh")).unwrap();
    assert!(disk.is_curved() && disk.cell_kind() == CellKind::Triangle);
    let straight = disk.with_order(Order::Linear).unwrap();
    // Measures and quality are those of the straight cells through the vertices.
    let area: f64 = (0..disk.num_cells()).map(|c| disk.cell_measure(c)).sum();
    let polygon: f64 = (0..straight.num_cells())
        .map(|c| straight.cell_measure(c))
        .sum();
    assert_eq!(area, polygon);
    assert!(area < std::f64::consts::PI && area > 3.0, "{area}");
    let s = disk.stats();
    assert_eq!((s.min_quality, s.max_quality), {
        let t = straight.stats();
        (t.min_quality, t.max_quality)
    });
    assert_eq!(
        s.boundary
            .iter()
            .find(|b| b.name == "outer")
            .unwrap()
            .facets,
        23
    );
    // The diameter counts the bulging edge nodes.
    assert!(disk.max_cell_diameter() >= straight.max_cell_diameter());
    assert_eq!(disk.num_edges(), straight.num_edges());
    let mut m = disk.clone();
    let n = m.add_boundary_part_where("east", |p| p[0] > 0.5).unwrap();
    assert!(n > 0);
    assert_eq!(m.boundary_part("east").unwrap().facets.len(), 3 * n);
}
