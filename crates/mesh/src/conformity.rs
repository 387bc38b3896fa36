//! Exterior facets that touch each other: hanging nodes and interfaces left unmerged.
//!
//! femscale's spaces are conforming: neighbouring cells share whole facets and their nodes. A
//! mesh that is not — a node in the middle of a neighbour's edge (a hanging node), or two
//! regions meshed separately whose common interface has two copies of its nodes (a Gmsh
//! geometry built without `BooleanFragments`/`Coherence`) — has no interior facet there:
//! each side's facets are met by one cell only, so they are *exterior*, and the regions are
//! decoupled along the interface. Solved as they stand, the interface acts as an insulated
//! (or, under `where = "all"`, a Dirichlet) boundary inside the domain and the answer is wrong
//! without any other sign. Geometrically such exterior facets touch: a vertex of one lies on
//! another it is not a vertex of. That is what [`check_exterior_conforming`] looks for.
//!
//! A crack or slit is the same picture on purpose (two copies of the nodes along it, open
//! between them); its facets are then expected to be in a named boundary part (a physical
//! group), and touching facets in such parts are accepted — not in parts of unnamed markers (a
//! Gmsh file's entity tags), the exterior part `all`, or a part holding the whole exterior,
//! which say nothing about one interface.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use femscale_core::{Error, MeshView, Result};
use rayon::prelude::*;

use crate::box_tree::BoxTree;
use crate::names::Names;
use crate::topology::{FacetKey, facet_key};

/// Relative tolerance of "lies on": a distance below `TOUCH * h` (h the facet's diameter).
const TOUCH: f64 = 1e-8;

/// Checks that no exterior vertex lies on an exterior facet it is not a vertex of, unless
/// that facet is in `marked` (the keys of facets in boundary parts). `exterior` holds the
/// exterior facets in the mesh's facet layout (`npf` nodes each, the `fv` vertices first).
///
/// # Errors
/// [`Error::Mesh`] naming the node, its coordinates and the facet it lies on.
pub(crate) fn check_exterior_conforming(
    mesh: &MeshView<'_>,
    exterior: &[usize],
    (npf, fv): (usize, usize),
    marked: &HashSet<FacetKey>,
    names: &Names,
) -> Result<()> {
    let all: Vec<Facet> = (exterior.par_chunks_exact(npf))
        .map(|f| Facet::new(mesh, &f[..fv]))
        .collect();
    // Each exterior vertex's scale: the smallest exterior facet it is a vertex of (so that a
    // node of a thin but valid cell is not taken to lie on the facet across it).
    let mut vertices: Vec<(usize, f64)> = (all.iter())
        .flat_map(|f| f.nodes[..f.len].iter().map(|&n| (n, f.h)))
        .collect();
    vertices.par_sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    vertices.dedup_by_key(|v| v.0);
    let (named, unnamed): (Vec<Facet>, Vec<Facet>) =
        (all.into_iter()).partition(|f| marked.contains(&facet_key(&f.nodes[..f.len])));
    if unnamed.is_empty() {
        return Ok(());
    }
    let named_nodes: HashSet<usize> = (named.iter())
        .flat_map(|f| f.nodes[..f.len].iter().copied())
        .collect();
    let tree = BoxTree::new(unnamed, |f: &Facet| (f.lo, f.hi));
    // In parallel, the first offending vertex in node order (deterministic messages).
    // Bounded work: boxes overlap little on real meshes (a few dozen tests per vertex), but a
    // crafted exterior (stacks of long slanted slivers) could make it quadratic.
    let budget = 256 * (vertices.len() + tree.len()) + 4_000_000;
    let work = AtomicUsize::new(0);
    let offending = vertices.par_iter().find_map_first(|&(v, h)| {
        if work.load(Ordering::Relaxed) > budget {
            return None;
        }
        let p = mesh.point(v);
        let mut tested = 0;
        let hit = tree.find(p, &mut tested, |f| {
            if f.nodes[..f.len].contains(&v) {
                return false;
            }
            let tol = TOUCH * h.min(f.h);
            match f.vertex_at(p, tol) {
                // Two copies of a node: open between them if both are on named facets (the
                // mouth of a crack, where its sides meet the outer boundary).
                Some(w) => !(named_nodes.contains(&v) && named_nodes.contains(&w)),
                None => f.touches(p, tol),
            }
        });
        work.fetch_add(tested, Ordering::Relaxed);
        hit.map(|f| not_conforming(mesh, v, f, TOUCH * h.min(f.h), names))
    });
    match offending {
        Some(error) => Err(error),
        None => {
            if work.load(Ordering::Relaxed) > budget {
                tracing::warn!(
                    facets = tree.len(),
                    vertices = vertices.len(),
                    "the conformity check of the exterior facets stopped at its work bound \
                     ({budget} box tests): hanging nodes and unmerged interfaces were not \
                     looked for everywhere"
                );
            }
            Ok(())
        }
    }
}

fn not_conforming(mesh: &MeshView<'_>, v: usize, f: &Facet, tol: f64, names: &Names) -> Error {
    let dim = mesh.dim;
    let point = |n: usize| {
        let p = mesh.point(n);
        let coords: Vec<String> = p[..dim].iter().map(|c| format!("{c}")).collect();
        format!("({})", coords.join(", "))
    };
    let facet: Vec<String> = (f.nodes[..f.len].iter())
        .map(|&n| format!("{} {}", names.node(n), point(n)))
        .collect();
    let what = if f.vertex_at(mesh.point(v), tol).is_some() {
        "two copies of a node: an interface meshed on both sides but not merged"
    } else {
        "a hanging node"
    };
    Error::Mesh {
        location: None,
        message: format!(
            "the mesh is not conforming: node {} at {} lies on the exterior facet of nodes [{}] \
             without being one of its nodes ({what}), so the cells on either side are not \
             connected there; merge the regions' common facets (gmsh: `BooleanFragments` or \
             `Coherence` before meshing) — or, for a crack or slit meant to be open, put the \
             facets of both its sides in a named physical group of their own",
            names.node(v),
            point(v),
            facet.join(", ")
        ),
    }
}

/// An exterior facet by its vertices (2 to 4; a point in 1D), with its bounding box widened
/// by the tolerance.
struct Facet {
    nodes: [usize; 4],
    points: [[f64; 3]; 4],
    len: usize,
    lo: [f64; 3],
    hi: [f64; 3],
    /// The diameter (for a point facet in 1D, a scale set by its coordinate).
    h: f64,
}

impl Facet {
    fn new(mesh: &MeshView<'_>, vertices: &[usize]) -> Self {
        let mut f = Facet {
            nodes: [0; 4],
            points: [[0.0; 3]; 4],
            len: vertices.len().min(4),
            lo: [f64::INFINITY; 3],
            hi: [f64::NEG_INFINITY; 3],
            h: 0.0,
        };
        for (i, &n) in vertices.iter().take(4).enumerate() {
            f.nodes[i] = n;
            f.points[i] = mesh.point(n);
        }
        let mut diameter: f64 = 0.0;
        for a in 0..f.len {
            for b in 0..a {
                diameter = diameter.max(distance(f.points[a], f.points[b]));
            }
            for d in 0..3 {
                f.lo[d] = f.lo[d].min(f.points[a][d]);
                f.hi[d] = f.hi[d].max(f.points[a][d]);
            }
        }
        if f.len == 1 {
            // A point facet (1D): scaled by its coordinate, so that only copies of one point
            // (not close neighbours of a fine mesh) touch.
            diameter = f.points[0][0].abs().max(f64::MIN_POSITIVE) * 1e-4;
        }
        f.h = diameter;
        for d in 0..3 {
            f.lo[d] -= TOUCH * diameter;
            f.hi[d] += TOUCH * diameter;
        }
        f
    }

    /// The facet's vertex (node number) within `tol` of `p`, if any.
    fn vertex_at(&self, p: [f64; 3], tol: f64) -> Option<usize> {
        (0..self.len)
            .find(|&i| distance(self.points[i], p) <= tol)
            .map(|i| self.nodes[i])
    }

    /// Whether `p` lies on the closed facet, within `tol`.
    fn touches(&self, p: [f64; 3], tol: f64) -> bool {
        let [a, b, c, d] = self.points;
        match self.len {
            1 => distance(a, p) <= tol,
            2 => on_segment(a, b, p, tol),
            3 => on_triangle(a, b, c, p, tol),
            // A quadrilateral's vertices go round it: two triangles (exact for planar faces).
            _ => on_triangle(a, b, c, p, tol) || on_triangle(a, c, d, p, tol),
        }
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    let d = sub(a, b);
    dot(d, d).sqrt()
}

fn on_segment(a: [f64; 3], b: [f64; 3], p: [f64; 3], tol: f64) -> bool {
    let (e, d) = (sub(b, a), sub(p, a));
    let ee = dot(e, e);
    if ee == 0.0 {
        return distance(a, p) <= tol;
    }
    let t = (dot(d, e) / ee).clamp(0.0, 1.0);
    let foot = [a[0] + t * e[0], a[1] + t * e[1], a[2] + t * e[2]];
    distance(foot, p) <= tol
}

fn on_triangle(a: [f64; 3], b: [f64; 3], c: [f64; 3], p: [f64; 3], tol: f64) -> bool {
    let (e1, e2, d) = (sub(b, a), sub(c, a), sub(p, a));
    let (g11, g12, g22) = (dot(e1, e1), dot(e1, e2), dot(e2, e2));
    let det = g11 * g22 - g12 * g12;
    if det <= 0.0 || !det.is_finite() {
        // Degenerate: on one of its edges or not at all.
        return on_segment(a, b, p, tol) || on_segment(b, c, p, tol) || on_segment(c, a, p, tol);
    }
    let (r1, r2) = (dot(d, e1), dot(d, e2));
    let s = (r1 * g22 - r2 * g12) / det;
    let t = (r2 * g11 - r1 * g12) / det;
    if s < 0.0 || t < 0.0 || s + t > 1.0 {
        // Outside the triangle's plane projection: still on it if within `tol` of an edge.
        return on_segment(a, b, p, tol) || on_segment(b, c, p, tol) || on_segment(c, a, p, tol);
    }
    let foot = [
        a[0] + s * e1[0] + t * e2[0],
        a[1] + s * e1[1] + t * e2[1],
        a[2] + s * e1[2] + t * e2[2],
    ];
    distance(foot, p) <= tol
}

#[cfg(test)]
#[path = "conformity_tests.rs"]
mod tests;
