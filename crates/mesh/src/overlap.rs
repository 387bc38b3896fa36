//! Unconnected parts of a mesh that cover the same space: [`check_no_overlap`].
//!
//! Two regions meshed separately over the same space — an inclusion drawn inside a rectangle
//! without `BooleanFragments`, so the rectangle's mesh covers the inclusion too — give a mesh
//! of two unconnected parts that share no node or facet. The conformity check sees nothing
//! (neither part's boundary lies on the other's), and the solve is two independent problems,
//! one of them with a boundary condition where the user meant an interface. Such parts are
//! found here: when the cells form more than one connected part (cells joined through shared
//! nodes), every vertex is located among the cells of the other parts, and a vertex strictly
//! inside one of them is an error. A mesh of one connected part (the usual case) costs one
//! pass over its cells.

use femscale_core::{CellKind, Error, MeshView, Order, Result};

use crate::box_tree::BoxTree;
use crate::components::NodeParts;
use crate::names::Names;

/// Barycentric coordinates below this count as on the cell's boundary, not inside it.
const INSIDE: f64 = 1e-9;

/// Checks that no vertex lies strictly inside a cell of a part of the mesh it is not
/// connected to.
///
/// # Errors
/// [`Error::Mesh`] naming the vertex, its coordinates and the cell it lies in.
pub(crate) fn check_no_overlap(mesh: &MeshView<'_>, names: &Names) -> Result<()> {
    let nv = mesh.cell_kind.num_vertices();
    let Some(part) = connected_parts(mesh, nv) else {
        return Ok(());
    };
    let simplices = simplices(mesh.cell_kind);
    let tree = BoxTree::new((0..mesh.num_cells()).collect(), |&c: &usize| {
        let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        for &v in &mesh.cell(c)[..nv] {
            let p = mesh.point(v);
            for d in 0..3 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        (lo, hi)
    });
    // Bounded work, as the conformity check's: boxes overlap little on real meshes.
    let budget = 256 * (mesh.num_nodes() + tree.len()) + 4_000_000;
    let mut work = 0;
    let mut checked = vec![false; mesh.num_nodes()];
    for c in 0..mesh.num_cells() {
        for &v in &mesh.cell(c)[..nv] {
            if std::mem::replace(&mut checked[v], true) {
                continue;
            }
            if work > budget {
                tracing::warn!(
                    cells = mesh.num_cells(),
                    "the search for overlapping unconnected parts of the mesh stopped at its \
                     work bound ({budget} box tests): not every vertex was located"
                );
                return Ok(());
            }
            let p = mesh.point(v);
            let inside = tree.find(p, &mut work, |&other| {
                part[other] != part[c]
                    && (simplices.iter()).any(|s| strictly_inside(mesh, other, s, &p))
            });
            if let Some(&other) = inside {
                let coords: Vec<String> = p[..mesh.dim].iter().map(|x| format!("{x}")).collect();
                return Err(Error::Mesh {
                    location: None,
                    message: format!(
                        "parts of the mesh overlap: node {} at ({}) lies inside {} (nodes {}), \
                         which is not connected to it — two regions meshed separately over the \
                         same space; merge them so that they share their common facets (gmsh: \
                         `BooleanFragments` or `Coherence` before meshing)",
                        names.node(v),
                        coords.join(", "),
                        names.cell(other),
                        names.nodes(&mesh.cell(other)[..nv]),
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The connected part of each cell (cells sharing a vertex are connected), or `None` when
/// the mesh is one part.
fn connected_parts(mesh: &MeshView<'_>, nv: usize) -> Option<Vec<usize>> {
    let mut parts = NodeParts::of(mesh, nv);
    let part: Vec<usize> = (0..mesh.num_cells())
        .map(|c| parts.part(mesh.cell(c)[0]))
        .collect();
    part.iter().any(|&p| p != part[0]).then_some(part)
}

/// A simplex of a cell's split: its local vertices, and for each of them whether the face
/// opposite lies on the cell's boundary (else it is inside the cell, a face of the split).
struct Simplex {
    vertices: Vec<usize>,
    outer: Vec<bool>,
}

/// The split of a cell of `kind` into simplices (one for simplices; two triangles per
/// quadrilateral, six tetrahedra around the main diagonal per hexahedron).
fn simplices(kind: CellKind) -> Vec<Simplex> {
    let split: &[&[usize]] = match kind {
        CellKind::Interval => &[&[0, 1]],
        CellKind::Triangle => &[&[0, 1, 2]],
        CellKind::Tetrahedron => &[&[0, 1, 2, 3]],
        CellKind::Quadrilateral => &[&[0, 1, 2], &[0, 2, 3]],
        CellKind::Hexahedron => &[
            &[0, 1, 2, 6],
            &[0, 2, 3, 6],
            &[0, 3, 7, 6],
            &[0, 7, 4, 6],
            &[0, 4, 5, 6],
            &[0, 5, 1, 6],
        ],
    };
    let facets = kind.local_facet_nodes(Order::Linear);
    split
        .iter()
        .map(|s| Simplex {
            vertices: s.to_vec(),
            outer: (0..s.len())
                .map(|i| {
                    let face: Vec<usize> = (s.iter().enumerate())
                        .filter(|&(j, _)| j != i)
                        .map(|(_, &l)| l)
                        .collect();
                    (facets.iter()).any(|f| face.iter().all(|l| f.contains(l)))
                })
                .collect(),
        })
        .collect()
}

/// Whether `p` lies in simplex `s` of `cell`, away from the cell's boundary (on a face of the
/// split, which is inside the cell, counts).
fn strictly_inside(mesh: &MeshView<'_>, cell: usize, s: &Simplex, p: &[f64; 3]) -> bool {
    let nodes = mesh.cell(cell);
    let mut x = [[0.0; 3]; 4];
    for (xi, &l) in x.iter_mut().zip(&s.vertices) {
        *xi = mesh.point(nodes[l]);
    }
    let Some(lambda) = barycentric(mesh.dim, &x[..s.vertices.len()], p) else {
        return false;
    };
    (lambda.iter().zip(&s.outer)).all(|(&l, &outer)| if outer { l > INSIDE } else { l > -INSIDE })
}

/// The barycentric coordinates of `p` in the simplex `x` of dimension `dim` (`None` when it
/// is degenerate).
fn barycentric(dim: usize, x: &[[f64; 3]], p: &[f64; 3]) -> Option<[f64; 4]> {
    let d = |a: &[f64; 3], b: &[f64; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    // Edges from vertex 0 as columns, the missing dimensions those of the identity.
    let mut e = [[0.0; 3]; 3];
    for (k, col) in e.iter_mut().enumerate() {
        *col = match x.get(k + 1) {
            Some(xk) if k < dim => d(xk, &x[0]),
            _ => std::array::from_fn(|i| f64::from(u8::from(i == k))),
        };
    }
    let det = crate::geometry::det3(e[0], e[1], e[2]);
    if det == 0.0 || !det.is_finite() {
        return None;
    }
    let r = d(p, &x[0]);
    let mut lambda = [0.0; 4];
    for k in 0..dim {
        let mut cols = e;
        cols[k] = r;
        lambda[k + 1] = crate::geometry::det3(cols[0], cols[1], cols[2]) / det;
    }
    lambda[0] = 1.0 - lambda[1..=dim].iter().sum::<f64>();
    Some(lambda)
}
