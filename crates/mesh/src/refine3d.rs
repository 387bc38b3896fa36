//! The 3D rules of uniform refinement ([`crate::Mesh::refine_uniform`]).
//!
//! * Tetrahedra → 8: four corner tetrahedra and the inner octahedron cut along its shortest
//!   diagonal (between the midpoints of two opposite edges) into four, Bey's children with the
//!   diagonal chosen by length. Each child is oriented positively. Choosing the shortest
//!   diagonal keeps the shapes within a few similarity classes, so quality stays bounded under
//!   repeated refinement (tested over three refinements).
//! * Hexahedra → 8 through the edge midpoints, face centres (the mean of the face's corners)
//!   and the cell centre (the mean of the eight): the images of the reference cube's halving,
//!   orientation kept.
//! * Boundary facets: triangles → 4 through their edge midpoints, quadrilaterals → 4 through
//!   the edge midpoints and the face centre, orientation kept.

use femscale_core::CellKind;

/// The four vertices of the tetrahedron, and each vertex pair's midpoint node (`mid(a, b)`,
/// local vertex indices): its 8 children, positively oriented given `volume` (the signed
/// volume of four nodes).
pub(crate) fn tetrahedron_children(
    v: [usize; 4],
    mid: impl Fn(usize, usize) -> usize,
    length: impl Fn(usize, usize) -> f64,
    volume: impl Fn([usize; 4]) -> f64,
) -> [[usize; 4]; 8] {
    // The three diagonals of the inner octahedron as pairs of opposite edges ((p, q), (r, s)).
    const DIAGONALS: [[usize; 4]; 3] = [[0, 2, 1, 3], [0, 1, 2, 3], [0, 3, 1, 2]];
    let diagonal_length = |d: &[usize; 4]| length(mid(d[0], d[1]), mid(d[2], d[3]));
    let mut best = DIAGONALS[0];
    for d in &DIAGONALS[1..] {
        if diagonal_length(d) < diagonal_length(&best) {
            best = *d;
        }
    }
    // Relabel so that the diagonal runs between the midpoints of y0-y2 and y1-y3 (Bey's).
    let y = [v[best[0]], v[best[2]], v[best[1]], v[best[3]]];
    let l = [best[0], best[2], best[1], best[3]];
    let m = |a: usize, b: usize| mid(l[a], l[b]);
    let mut children = [
        [y[0], m(0, 1), m(0, 2), m(0, 3)],
        [m(0, 1), y[1], m(1, 2), m(1, 3)],
        [m(0, 2), m(1, 2), y[2], m(2, 3)],
        [m(0, 3), m(1, 3), m(2, 3), y[3]],
        [m(0, 1), m(0, 2), m(0, 3), m(1, 3)],
        [m(0, 1), m(0, 2), m(1, 2), m(1, 3)],
        [m(0, 2), m(0, 3), m(1, 3), m(2, 3)],
        [m(0, 2), m(1, 2), m(1, 3), m(2, 3)],
    ];
    for c in &mut children {
        if volume(*c) < 0.0 {
            c.swap(1, 2);
        }
    }
    children
}

/// The node at lattice point `(i, j, k)` (each 0, 1 or 2) of a hexahedron's 3 x 3 x 3
/// refinement lattice, given the node of each vertex, of the midpoint of each vertex pair, of
/// each face's centre (by its four vertices) and of the cell centre.
fn hex_lattice(
    v: &[usize],
    (i, j, k): (usize, usize, usize),
    mid: &impl Fn(usize, usize) -> usize,
    face: &impl Fn([usize; 4]) -> usize,
    centre: usize,
) -> usize {
    // Vertex of reference corner (x, y, z) in {0, 1}^3 (bottom face counter-clockwise).
    let corner = |x: usize, y: usize, z: usize| {
        let base = match (x, y) {
            (0, 0) => 0,
            (1, 0) => 1,
            (1, 1) => 2,
            _ => 3,
        };
        v[base + 4 * z]
    };
    // Along each axis, lattice point 1 is the middle: both corner coordinates 0 and 1.
    let ends = |t: usize| if t == 1 { [0, 1] } else { [t / 2, t / 2] };
    let mut nodes = [0usize; 8];
    let mut n = 0;
    for a in ends(i) {
        for b in ends(j) {
            for c in ends(k) {
                nodes[n] = corner(a, b, c);
                n += 1;
            }
        }
    }
    nodes.sort_unstable();
    let mut distinct = [0usize; 8];
    let mut len = 0;
    for &x in &nodes {
        if len == 0 || distinct[len - 1] != x {
            distinct[len] = x;
            len += 1;
        }
    }
    match len {
        1 => distinct[0],
        2 => mid(distinct[0], distinct[1]),
        4 => face([distinct[0], distinct[1], distinct[2], distinct[3]]),
        _ => centre,
    }
}

/// The 8 children of a hexahedron with vertices `v` (see [`hex_lattice`] for the nodes; `mid`
/// and `face` take node numbers), in the parent's orientation.
pub(crate) fn hexahedron_children(
    v: &[usize],
    mid: impl Fn(usize, usize) -> usize,
    face: impl Fn([usize; 4]) -> usize,
    centre: usize,
) -> [[usize; 8]; 8] {
    const CORNERS: [(usize, usize, usize); 8] = [
        (0, 0, 0),
        (1, 0, 0),
        (1, 1, 0),
        (0, 1, 0),
        (0, 0, 1),
        (1, 0, 1),
        (1, 1, 1),
        (0, 1, 1),
    ];
    CORNERS.map(|(cx, cy, cz)| {
        CORNERS.map(|(bx, by, bz)| hex_lattice(v, (cx + bx, cy + by, cz + bz), &mid, &face, centre))
    })
}

/// The children of a boundary facet of a cell of kind `kind`, given its edges' midpoints and
/// (quadrilaterals) its centre; `None` for facets that stay (points).
pub(crate) fn facet_children(
    kind: CellKind,
    f: &[usize],
    mid: impl Fn(usize, usize) -> Option<usize>,
    centre: impl Fn(&[usize]) -> Option<usize>,
) -> Option<Option<Vec<usize>>> {
    Some(match kind.nodes_per_facet() {
        2 => {
            let m = mid(f[0], f[1])?;
            Some(vec![f[0], m, m, f[1]])
        }
        3 => {
            let (a, b, c) = (f[0], f[1], f[2]);
            let (ab, bc, ca) = (mid(a, b)?, mid(b, c)?, mid(c, a)?);
            Some(vec![a, ab, ca, ab, b, bc, ca, bc, c, ab, bc, ca])
        }
        4 => {
            let (a, b, c, d) = (f[0], f[1], f[2], f[3]);
            let (ab, bc, cd, da) = (mid(a, b)?, mid(b, c)?, mid(c, d)?, mid(d, a)?);
            let o = centre(f)?;
            Some(vec![a, ab, o, da, ab, b, bc, o, o, bc, c, cd, da, o, cd, d])
        }
        _ => None,
    })
}
