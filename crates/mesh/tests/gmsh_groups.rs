//! Physical groups of hand-written and unusual Gmsh files: elements of one elementary entity
//! in different groups (MSH 2.2), a facet listed twice in a group, names that read like
//! another group's number, and many groups (whose checks were quadratic in their number); and
//! a curved cell folded at a vertex.

use std::path::Path;

use femscale_mesh::Mesh;
use femscale_mesh::gmsh::parse_msh;

fn mesh(text: &str) -> femscale_core::Result<Mesh> {
    parse_msh(text.as_bytes(), "test.msh")?.to_mesh(Path::new("test.msh"))
}

/// The unit square as two triangles, lines given by `lines` (`tag type ntags tags... nodes`).
fn square_v22(names: &str, lines: &[&str]) -> String {
    let mut elements = lines.to_vec();
    elements.push("91 2 2 10 7 1 2 3");
    elements.push("92 2 2 10 7 1 3 4");
    format!(
        "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$PhysicalNames\n{}\n{names}2 10 \"dom\"\n\
         $EndPhysicalNames\n$Nodes\n4\n1 0 0 0\n2 1 0 0\n3 1 1 0\n4 0 1 0\n$EndNodes\n\
         $Elements\n{}\n{}\n$EndElements\n",
        names.lines().count() + 1,
        elements.len(),
        elements.join("\n")
    )
}

/// The nodes (sorted) of the part called `name`.
fn part_nodes(mesh: &Mesh, name: &str) -> Vec<usize> {
    let part = mesh
        .boundary_part(name)
        .unwrap_or_else(|| panic!("no part {name}"));
    part.nodes.clone()
}

#[test]
fn lines_of_one_entity_in_different_groups_stay_in_their_own_groups() {
    let names = "1 1 \"left\"\n1 2 \"right\"\n";
    // One tag per element (the physical one: every line is of entity 0), and two tags with
    // both lines in elementary entity 5.
    for lines in [
        ["1 1 1 2 2 3", "2 1 1 1 4 1"],
        ["1 1 2 2 5 2 3", "2 1 2 1 5 4 1"],
    ] {
        let mesh = mesh(&square_v22(names, &lines)).unwrap();
        let right = part_nodes(&mesh, "right");
        let left = part_nodes(&mesh, "left");
        assert_eq!(right.len(), 2, "{lines:?}");
        assert_eq!(left.len(), 2, "{lines:?}");
        assert!(right.iter().all(|n| !left.contains(n)), "{lines:?}");
        assert_eq!(mesh.boundary_part("right").unwrap().facets.len(), 2);
    }
    // Cells with one tag each, of two groups: two subdomains.
    let text = square_v22("1 2 \"right\"\n", &["1 1 1 2 2 3"])
        .replace("91 2 2 10 7 1 2 3", "91 2 1 10 1 2 3")
        .replace("92 2 2 10 7 1 3 4", "92 2 1 11 1 3 4");
    let mesh = mesh(&text).unwrap();
    let mut markers = mesh.cell_markers().to_vec();
    markers.sort_unstable();
    assert_eq!(markers, [10, 11]);
}

#[test]
fn a_facet_listed_twice_in_a_group_counts_once() {
    let names = "1 1 \"left\"\n1 2 \"right\"\n";
    let once = mesh(&square_v22(names, &["1 1 2 2 2 2 3", "2 1 2 1 1 4 1"])).unwrap();
    let twice = mesh(&square_v22(
        names,
        &[
            "1 1 2 2 2 2 3",
            "2 1 2 1 1 4 1",
            "3 1 2 2 2 2 3",
            "4 1 2 2 9 3 2",
        ],
    ))
    .unwrap();
    for name in ["left", "right"] {
        let (a, b) = (
            once.boundary_part(name).unwrap(),
            twice.boundary_part(name).unwrap(),
        );
        assert_eq!(a.facets.len(), b.facets.len(), "{name}");
        assert_eq!(a.nodes, b.nodes, "{name}");
    }
}

#[test]
fn a_group_named_like_another_groups_number_is_refused() {
    let names = "1 1 \"left\"\n1 3 \"1\"\n";
    let text = square_v22(names, &["1 1 2 3 5 2 3", "2 1 2 1 6 4 1"]);
    let message = mesh(&text).unwrap_err().to_string();
    assert!(
        message.contains("`1`") && message.contains("`left`"),
        "{message}"
    );
    // A part asked for by position may not take another part's number either.
    let mut square = Mesh::rectangle(&Default::default()).unwrap();
    let message = square
        .add_boundary_part_where("1", |p| p[0] > 0.99)
        .unwrap_err()
        .to_string();
    assert!(message.contains("`left`"), "{message}");
}

#[test]
fn many_groups_and_subdomains_are_read() {
    // n x n squares of two triangles, each cell its own subdomain and each boundary edge its
    // own group (K physical tags): the checks that were quadratic in K took minutes here.
    let n = 120;
    let node = |i: usize, j: usize| 1 + i + (n + 1) * j;
    let mut nodes = Vec::new();
    for j in 0..=n {
        for i in 0..=n {
            nodes.push(format!(
                "{} {} {} 0",
                node(i, j),
                i as f64 / n as f64,
                j as f64 / n as f64
            ));
        }
    }
    let mut elements = Vec::new();
    let mut tag = 1;
    let mut push = |kind: u8, physical: usize, nodes: &[usize]| {
        let list: Vec<String> = nodes.iter().map(ToString::to_string).collect();
        elements.push(format!(
            "{tag} {kind} 2 {physical} {physical} {}",
            list.join(" ")
        ));
        tag += 1;
    };
    let mut group = 100_000;
    for i in 0..n {
        for (a, b) in [
            (node(i, 0), node(i + 1, 0)),
            (node(i, n), node(i + 1, n)),
            (node(0, i), node(0, i + 1)),
            (node(n, i), node(n, i + 1)),
        ] {
            push(1, group, &[a, b]);
            group += 1;
        }
    }
    let mut cell = 1;
    for j in 0..n {
        for i in 0..n {
            push(2, cell, &[node(i, j), node(i + 1, j), node(i + 1, j + 1)]);
            push(
                2,
                cell + 1,
                &[node(i, j), node(i + 1, j + 1), node(i, j + 1)],
            );
            cell += 2;
        }
    }
    let text = format!(
        "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n{}\n{}\n$EndNodes\n$Elements\n{}\n{}\n\
         $EndElements\n",
        nodes.len(),
        nodes.join("\n"),
        elements.len(),
        elements.join("\n")
    );
    let mesh = mesh(&text).unwrap();
    assert_eq!(mesh.num_cells(), 2 * n * n);
    assert_eq!(mesh.subdomains().len(), 2 * n * n);
    assert!(mesh.boundary_parts().len() > 4 * n);
}

#[test]
fn a_group_named_twice_or_with_an_empty_name_is_refused_at_its_line() {
    let lines = ["1 1 2 2 5 2 3", "2 1 2 1 6 4 1"];
    for (names, expected) in [
        (
            "1 1 \"left\"\n1 2 \"right\"\n1 1 \"west\"\n",
            "named twice: `left` and `west`",
        ),
        ("1 1 \"left\"\n1 2 \"\"\n", "empty name"),
    ] {
        let message = mesh(&square_v22(names, &lines)).unwrap_err().to_string();
        assert!(
            message.contains(expected) && message.contains("test.msh:"),
            "{message}"
        );
    }
}

#[test]
fn a_curved_cell_folded_at_a_vertex_is_refused() {
    use femscale_core::{CellKind, Order};
    let nodes = CellKind::Triangle.reference_nodes(Order::Quadratic);
    // The edge node between vertices a and b.
    let (edge, a, b) = (3..6)
        .find_map(|e| {
            let p = nodes[e];
            (0..3)
                .flat_map(|a| (0..3).map(move |b| (a, b)))
                .find_map(|(a, b)| {
                    let m = [0, 1].map(|k| 0.5 * (nodes[a][k] + nodes[b][k]));
                    (a < b && m == [p[0], p[1]]).then_some((e, a, b))
                })
        })
        .unwrap();
    let build = |t: f64| {
        let mut coords: Vec<f64> = nodes.iter().flat_map(|p| [p[0], p[1]]).collect();
        for k in 0..2 {
            coords[2 * edge + k] = nodes[a][k] + t * (nodes[b][k] - nodes[a][k]);
        }
        Mesh::builder(2, coords, CellKind::Triangle, (0..6).collect())
            .order(Order::Quadratic)
            .build()
    };
    // Moved along its edge towards vertex a: fine up to the quarter point, folded past it.
    assert!(build(0.3).unwrap().is_curved());
    // At the quarter point (a crack-tip element) the Jacobian vanishes at the vertex: accepted.
    assert!(build(0.25).unwrap().is_curved());
    let message = build(0.2).unwrap_err().to_string();
    assert!(message.contains("folds"), "{message}");
}

/// Errors about a file's cells and nodes name the file's element and node tags (they named
/// femscale's 0-based cell and node indices, which a user cannot find in the file).
#[test]
fn errors_name_the_files_element_and_node_tags() {
    let file = |nodes: &str, elements: &[&str]| {
        format!(
            "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n{}\n{nodes}\n$EndNodes\n$Elements\n{}\n\
             {}\n$EndElements\n",
            nodes.lines().count(),
            elements.len(),
            elements.join("\n")
        )
    };
    let nodes = "11 0 0 0\n12 1 0 0\n13 0 1 0\n14 2 0 0\n15 1 1 0";
    for (elements, expected) in [
        // A cell of zero area.
        (
            &["101 2 2 1 1 11 12 13", "102 2 2 1 1 11 12 14"][..],
            "element 102 (nodes [11, 12, 14]) is degenerate",
        ),
        // The same cell twice.
        (
            &["101 2 2 1 1 11 12 13", "107 2 2 1 1 12 13 11"][..],
            "elements 101 and 107 have the same nodes ([11, 12, 13])",
        ),
        // A hanging node: node 12 on the edge 11-14 of the large triangle.
        (
            &[
                "101 2 2 1 1 11 12 13",
                "102 2 2 1 1 12 15 13",
                "103 2 2 1 1 11 14 15",
            ][..],
            "node 12 at (1, 0) lies on the exterior facet of nodes [11 (0, 0), 14 (2, 0)]",
        ),
    ] {
        let message = mesh(&file(nodes, elements)).unwrap_err().to_string();
        assert!(message.contains(expected), "{message}");
    }
}

/// A blank subdomain or boundary part name is refused by the builder (a key could never name
/// it), as the Gmsh reader refuses an empty physical name.
#[test]
fn blank_names_are_refused() {
    use femscale_core::CellKind;
    let square = || {
        let coords = vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        Mesh::builder(2, coords, CellKind::Triangle, vec![0, 1, 2, 0, 2, 3])
            .cell_markers(vec![1, 2])
    };
    let e = square().subdomain_name(2, " ").build().unwrap_err();
    assert!(e.to_string().contains("subdomain 2 has an empty"), "{e}");
    // A name that is another subdomain's number would be named by both.
    let e = square().subdomain_name(1, "2").build().unwrap_err();
    assert!(e.to_string().contains("the marker of subdomain 2"), "{e}");
    square().subdomain_name(1, "1").build().unwrap();
    // A facet group's blank name.
    let e = (square()
        .facet_markers(vec![0, 1], vec![7])
        .boundary_name(7, " "))
    .build()
    .unwrap_err();
    assert!(e.to_string().contains("boundary 7 has an empty"), "{e}");
    let mut square_mesh = square().build().unwrap();
    let e = square_mesh
        .add_boundary_part_where("", |_| true)
        .unwrap_err();
    assert!(e.to_string().contains("not empty"), "{e}");
}
