//! Part 4: Your own mesh: an L-shaped domain `[0,2]^2 \ (1,2]^2` from node and cell arrays, with
//! named boundary parts, interior nodes perturbed. P1 reproduces a linear solution exactly.

use std::collections::HashMap;
use std::sync::Arc;

use femscale::prelude::*;

use crate::Res;

/// Cells per unit length.
const M: usize = 4;

/// The exact solution `u = 1 + 2x - 3y`.
fn exact(p: [f64; 3]) -> f64 {
    1.0 + 2.0 * p[0] - 3.0 * p[1]
}

/// Nodes on a `2M x 2M` grid of spacing `1/M` without the upper-right quarter, two
/// counter-clockwise triangles per square, and the boundary as named edge lists.
fn l_shape() -> Res<Mesh> {
    let inside = |i: usize, j: usize| i <= M || j <= M;
    let mut index = HashMap::new();
    let mut coords = Vec::new();
    for j in 0..=2 * M {
        for i in (0..=2 * M).filter(|&i| inside(i, j)) {
            index.insert((i, j), coords.len() / 2);
            let (x, y) = (i as f64 / M as f64, j as f64 / M as f64);
            // Perturb nodes off the boundary (and off the notch's edges) by up to h/10.
            let interior = i > 0 && j > 0 && i < 2 * M && j < 2 * M && !(i >= M && j >= M);
            let d = if interior { 0.1 / M as f64 } else { 0.0 };
            coords.extend([
                x + d * (7.0 * x + 3.0 * y).sin(),
                y + d * (5.0 * x - 2.0 * y).cos(),
            ]);
        }
    }
    let node = |i: usize, j: usize| index[&(i, j)];
    let mut cells = Vec::new();
    for j in 0..2 * M {
        for i in (0..2 * M).filter(|&i| i < M || j < M) {
            let (a, b, c, d) = (
                node(i, j),
                node(i + 1, j),
                node(i + 1, j + 1),
                node(i, j + 1),
            );
            cells.extend([a, b, c, a, c, d]);
        }
    }
    // Boundary edges as node pairs, counter-clockwise: bottom, right, the notch, top, left.
    let edge = |(i, j): (usize, usize), (k, l): (usize, usize)| [node(i, j), node(k, l)];
    // Mesh::try_new adds the facets' nodes to each part (Dirichlet conditions use them).
    let part =
        |name: &str, facets: Vec<[usize; 2]>| BoundaryPart::from_facets(name, facets.concat());
    let n = 2 * M;
    let boundary = vec![
        part("bottom", (0..n).map(|k| edge((k, 0), (k + 1, 0))).collect()),
        part("right", (0..M).map(|k| edge((n, k), (n, k + 1))).collect()),
        part(
            "notch",
            ((M..n).rev().map(|k| edge((k + 1, M), (k, M))))
                .chain((M..n).map(|k| edge((M, k), (M, k + 1))))
                .collect(),
        ),
        part(
            "top",
            (0..M).rev().map(|k| edge((k + 1, n), (k, n))).collect(),
        ),
        part(
            "left",
            (0..n).rev().map(|k| edge((0, k + 1), (0, k))).collect(),
        ),
    ];
    Ok(Mesh::try_new(
        2,
        coords,
        CellKind::Triangle,
        cells,
        boundary,
    )?)
}

pub fn run(fem: &FemSolver) -> Res {
    let mesh = Arc::new(l_shape()?);
    let k = 2.0;
    let u = || FieldSpec::func("1 + 2x - 3y", exact);
    let problem = Problem {
        mesh: MeshSpec::Mesh(Arc::clone(&mesh)),
        diffusion: k.into(),
        boundary: vec![
            BoundarySpec::dirichlet("left", u()),
            BoundarySpec::dirichlet("bottom", u()),
            BoundarySpec::dirichlet("notch", u()),
            // The flux k du/dn through the outer top (n = +y) and right (n = +x) sides.
            BoundarySpec::neumann("top", k * -3.0),
            BoundarySpec::neumann("right", k * 2.0),
        ],
        exact: Some(u()),
        ..Problem::default()
    };
    let sol = fem.solve(&problem)?;
    let worst = (0..mesh.num_nodes())
        .map(|i| (sol.values[i] - exact(sol.node(i))).abs())
        .fold(0.0, crate::nan_max);
    assert!(worst < 1e-12, "max nodal error {worst:.1e}");
    let l2 = sol.metrics.l2_error.ok_or("no L2 error")?;
    assert!(l2 < 1e-12, "L2 error {l2:.1e}");
    println!(
        "4. own L-shaped mesh ({} nodes, {} cells, parts {}): max nodal error {worst:.0e}",
        mesh.num_nodes(),
        mesh.num_cells(),
        (mesh.boundary_parts().iter())
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join("/")
    );
    Ok(())
}
