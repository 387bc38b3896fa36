//! Generated meshes: intervals, rectangles and boxes.

use super::problems::*;
use super::*;

#[test]
fn intervals_converge_at_optimal_rates() {
    let meshes: Vec<String> = [4, 8, 16, 32]
        .iter()
        .map(|n| format!("{{ kind = \"interval\", nx = {n} }}"))
        .collect();
    assert_rates("1D P1", &meshes, 1, PROBLEM_1D);
    assert_rates("1D P2", &meshes, 2, PROBLEM_1D);
}

#[test]
fn quadratic_triangles_and_quadrilaterals_converge_at_optimal_rates() {
    let sizes = [4, 8, 16];
    assert_rates("2D P2", &rectangles("triangle", &sizes), 2, PROBLEM_2D);
    assert_rates("2D Q2", &rectangles("quadrilateral", &sizes), 2, PROBLEM_2D);
}

#[test]
fn tetrahedra_converge_at_optimal_rates() {
    let problem = named(PROBLEM_3D, BOX_FACES);
    assert_rates("3D P1", &boxes("tetrahedron", &[4, 8, 16]), 1, &problem);
    assert_rates("3D P2", &boxes("tetrahedron", &[2, 4, 8]), 2, &problem);
}

#[test]
fn hexahedra_converge_at_optimal_rates() {
    let problem = named(PROBLEM_3D, BOX_FACES);
    assert_rates("3D Q1", &boxes("hexahedron", &[4, 8, 16]), 1, &problem);
    assert_rates("3D Q2", &boxes("hexahedron", &[2, 4, 8]), 2, &problem);
}

#[test]
fn quadratic_elements_reproduce_a_quadratic_solution() {
    for (cell, n) in [("triangle", 3), ("quadrilateral", 3)] {
        let s = solve(&rectangles(cell, &[n])[0], 2, PATCH_2D);
        assert_reproduced(&format!("patch {cell}"), &s);
    }
    // Rectangles of unequal sides, with the other diagonal: still exact.
    let mesh = "{ kind = \"rectangle\", nx = 3, ny = 5, cell = \"triangle\", diagonal = \"left\" }";
    assert_reproduced("patch triangles, left diagonal", &solve(mesh, 2, PATCH_2D));
    let patch_3d = named(PATCH_3D, BOX_FACES);
    for cell in ["tetrahedron", "hexahedron"] {
        let mesh =
            "{ kind = \"box\", nx = 2, ny = 3, nz = 2, cell = \"CELL\" }".replace("CELL", cell);
        assert_reproduced(&format!("patch {cell}"), &solve(&mesh, 2, &patch_3d));
    }
    // P1 does not reproduce it (the test can fail).
    let s = solve(&rectangles("triangle", &[3])[0], 1, PATCH_2D);
    assert!(s.metrics.l2_error.unwrap() > 1e-4);
}
