//! One round of conforming bisection on vertex (order-1) meshes of intervals and triangles.
//!
//! Triangles use newest-vertex bisection in its edge-marking form: every cell carries a
//! *peak* (the local index of its newest vertex; the *refinement edge* is the edge opposite
//! it). A marked cell marks its refinement edge; closure then marks, for every cell with a
//! marked edge, its refinement edge too (a worklist over edges, each marked once, so linear
//! time). A cell whose refinement edge is marked is bisected through that edge's midpoint, the
//! midpoint becoming the peak of both children; each child whose refinement edge (an edge of
//! the parent) is marked is bisected once more. Every marked edge is then split by both of its
//! cells and no other edge is, so the result has no hanging nodes, and each cell yields 1, 2,
//! 3 or 4 children. All children of one initial triangle fall into at most four similarity
//! classes (Sewell, Mitchell), which bounds the angles over any number of rounds.

use femscale_core::{Error, Result};

/// No cell, in [`EdgeIndex::cells`].
const NONE: usize = usize::MAX;

/// The distinct edges of a triangle mesh: the edges of each cell (local edge `j` opposite
/// local vertex `j`), the two cells of each edge, and a lookup by end points.
pub(super) struct EdgeIndex {
    /// Per cell, the edge opposite each local vertex.
    pub cell_edges: Vec<[usize; 3]>,
    /// Per edge, its end points (smaller first).
    pub ends: Vec<[usize; 2]>,
    /// Per edge, its one or two cells ([`NONE`] for none).
    cells: Vec<[usize; 2]>,
    /// Edges by their smaller end point: `lookup[offsets[v]..offsets[v + 1]]` holds
    /// `(larger end, edge)`.
    offsets: Vec<usize>,
    lookup: Vec<(usize, usize)>,
}

impl EdgeIndex {
    /// Indexes the edges of `cells` (3 nodes each) on `num_nodes` nodes.
    ///
    /// # Errors
    /// [`Error::Mesh`] if an edge belongs to more than two cells.
    pub fn new(num_nodes: usize, cells: &[usize]) -> Result<Self> {
        let num_cells = cells.len() / 3;
        let local = |c: usize, j: usize| {
            let (a, b) = (cells[3 * c + (j + 1) % 3], cells[3 * c + (j + 2) % 3]);
            (a.min(b), a.max(b))
        };
        // Buckets sized for every cell edge, shared ones counted twice.
        let mut offsets = vec![0usize; num_nodes + 1];
        for c in 0..num_cells {
            for j in 0..3 {
                offsets[local(c, j).0 + 1] += 1;
            }
        }
        for v in 0..num_nodes {
            offsets[v + 1] += offsets[v];
        }
        let mut fill = offsets[..num_nodes].to_vec();
        let mut lookup = vec![(NONE, NONE); offsets[num_nodes]];
        let mut cell_edges = Vec::with_capacity(num_cells);
        let mut ends = Vec::with_capacity(num_cells * 3 / 2 + 2);
        let mut edge_cells: Vec<[usize; 2]> = Vec::with_capacity(num_cells * 3 / 2 + 2);
        for c in 0..num_cells {
            let mut mine = [0; 3];
            for (j, slot) in mine.iter_mut().enumerate() {
                let (lo, hi) = local(c, j);
                let bucket = &lookup[offsets[lo]..fill[lo]];
                let e = match bucket.iter().find(|&&(h, _)| h == hi) {
                    Some(&(_, e)) => {
                        let pair = &mut edge_cells[e];
                        if pair[1] != NONE {
                            return Err(Error::Mesh {
                                location: None,
                                message: format!(
                                    "edge {lo}-{hi} belongs to more than two cells (cells {}, \
                                     {} and {c}); local refinement needs a manifold mesh",
                                    pair[0], pair[1]
                                ),
                            });
                        }
                        pair[1] = c;
                        e
                    }
                    None => {
                        let e = ends.len();
                        lookup[fill[lo]] = (hi, e);
                        fill[lo] += 1;
                        ends.push([lo, hi]);
                        edge_cells.push([c, NONE]);
                        e
                    }
                };
                *slot = e;
            }
            cell_edges.push(mine);
        }
        Ok(Self {
            cell_edges,
            ends,
            cells: edge_cells,
            offsets,
            lookup,
        })
    }

    /// The edge between nodes `a` and `b`, if it is an edge of a cell.
    pub fn find(&self, a: usize, b: usize) -> Option<usize> {
        let (lo, hi) = (a.min(b), a.max(b));
        let range = *self.offsets.get(lo)?..*self.offsets.get(lo + 1)?;
        (self.lookup[range].iter())
            .find(|&&(h, _)| h == hi)
            .map(|&(_, e)| e)
    }
}

/// The peak of each triangle for a mesh without a refinement state: the vertex opposite the
/// longest edge, ties (within rounding) broken by the edges' global end points so both cells
/// of a shared edge judge it alike.
pub(super) fn longest_edge_peaks(dim: usize, coords: &[f64], cells: &[usize]) -> Vec<u8> {
    let at = |i: usize| &coords[i * dim..(i + 1) * dim];
    cells
        .chunks_exact(3)
        .map(|t| {
            let key = |j: usize| {
                let (a, b) = (t[(j + 1) % 3], t[(j + 2) % 3]);
                let len: f64 = (at(a).iter().zip(at(b)))
                    .map(|(p, q)| (p - q) * (p - q))
                    .sum();
                (len, a.min(b), a.max(b))
            };
            let mut best = 0;
            for j in 1..3 {
                let (l, lo, hi) = key(j);
                let (lb, blo, bhi) = key(best);
                let tol = 1e-12 * lb.max(l);
                if l > lb + tol || (l >= lb - tol && (lo, hi) > (blo, bhi)) {
                    best = j;
                }
            }
            best as u8
        })
        .collect()
}

/// The result of one bisection round on a vertex mesh.
pub(super) struct Round {
    /// Coordinates: the old ones, then one midpoint per split edge.
    pub coords: Vec<f64>,
    /// Cell connectivity of the children.
    pub cells: Vec<usize>,
    /// The peak of each child (always 0 for intervals).
    pub peaks: Vec<u8>,
    /// The parent of each child.
    pub parents: Vec<usize>,
    /// The end points of each new node's edge.
    pub new_nodes: Vec<[usize; 2]>,
    /// For the edge between two old nodes, the node splitting it if it was split (`None` if
    /// it is no edge of a cell).
    pub split: Box<dyn Fn(usize, usize) -> Option<Option<usize>>>,
}

/// Appends the midpoint of `a` and `b` to `coords`.
fn push_midpoint(coords: &mut Vec<f64>, dim: usize, a: usize, b: usize) {
    for k in 0..dim {
        let m = 0.5 * (coords[a * dim + k] + coords[b * dim + k]);
        coords.push(m);
    }
}

/// Bisects the marked intervals through their midpoints.
pub(super) fn bisect_intervals(coords: &[f64], cells: &[usize], marked: &[bool]) -> Round {
    let count = marked.iter().filter(|&&m| m).count();
    // Interval meshes have one coordinate per node.
    let num_nodes = coords.len();
    let mut out = Round {
        coords: Vec::with_capacity(num_nodes + count),
        cells: Vec::with_capacity(cells.len() + 2 * count),
        peaks: Vec::new(),
        parents: Vec::with_capacity(marked.len() + count),
        new_nodes: Vec::with_capacity(count),
        split: Box::new(|_, _| Some(None)),
    };
    out.coords.extend_from_slice(coords);
    for (c, (s, &m)) in cells.chunks_exact(2).zip(marked).enumerate() {
        if m {
            let mid = num_nodes + out.new_nodes.len();
            push_midpoint(&mut out.coords, 1, s[0], s[1]);
            out.new_nodes.push([s[0], s[1]]);
            out.cells.extend_from_slice(&[s[0], mid, mid, s[1]]);
            out.parents.extend_from_slice(&[c, c]);
        } else {
            out.cells.extend_from_slice(s);
            out.parents.push(c);
        }
    }
    out.peaks = vec![0; out.parents.len()];
    out
}

/// One round of newest-vertex bisection of the triangles: every marked cell is bisected at
/// least once, and as many others as conformity needs.
pub(super) fn bisect_triangles(
    dim: usize,
    coords: &[f64],
    cells: &[usize],
    peaks: &[u8],
    marked: &[bool],
) -> Result<Round> {
    let num_nodes = coords.len() / dim;
    let index = EdgeIndex::new(num_nodes, cells)?;
    let refinement_edge = |c: usize| index.cell_edges[c][usize::from(peaks[c])];

    // Closure: a cell with a marked edge marks its refinement edge.
    let mut split = vec![false; index.ends.len()];
    let mut work = Vec::new();
    for c in (0..marked.len()).filter(|&c| marked[c]) {
        let e = refinement_edge(c);
        if !split[e] {
            split[e] = true;
            work.push(e);
        }
    }
    while let Some(e) = work.pop() {
        for &c in index.cells[e].iter().filter(|&&c| c != NONE) {
            let r = refinement_edge(c);
            if !split[r] {
                split[r] = true;
                work.push(r);
            }
        }
    }

    // Midpoints, numbered in edge order.
    let mut midpoint = vec![NONE; index.ends.len()];
    let mut new_coords = coords.to_vec();
    let mut new_nodes = Vec::new();
    for (e, _) in split.iter().enumerate().filter(|(_, s)| **s) {
        let [a, b] = index.ends[e];
        midpoint[e] = num_nodes + new_nodes.len();
        new_nodes.push([a, b]);
        new_coords.reserve(dim);
        push_midpoint(&mut new_coords, dim, a, b);
    }

    let num_cells = peaks.len();
    let extra = 2 * new_nodes.len();
    let mut out_cells = Vec::with_capacity(3 * (num_cells + extra));
    let mut out_peaks = Vec::with_capacity(num_cells + extra);
    let mut parents = Vec::with_capacity(num_cells + extra);
    for c in 0..num_cells {
        let t = &cells[3 * c..3 * c + 3];
        let pk = usize::from(peaks[c]);
        let m = midpoint[index.cell_edges[c][pk]];
        if m == NONE {
            out_cells.extend_from_slice(t);
            out_peaks.push(peaks[c]);
            parents.push(c);
            continue;
        }
        // The cell as (a, b, p): refinement edge a-b, peak p; a rotation keeps orientation.
        let (a, b, p) = (t[(pk + 1) % 3], t[(pk + 2) % 3], t[pk]);
        // Children (p, a, m) and (b, p, m), peak m; their refinement edges p-a and b-p are the
        // parent's edges opposite b and a.
        let halves = [
            ([p, a, m], midpoint[index.cell_edges[c][(pk + 2) % 3]]),
            ([b, p, m], midpoint[index.cell_edges[c][(pk + 1) % 3]]),
        ];
        for ([x, y, z], m2) in halves {
            if m2 == NONE {
                out_cells.extend_from_slice(&[x, y, z]);
                out_peaks.push(2);
                parents.push(c);
            } else {
                out_cells.extend_from_slice(&[z, x, m2, y, z, m2]);
                out_peaks.extend_from_slice(&[2, 2]);
                parents.extend_from_slice(&[c, c]);
            }
        }
    }
    let lookup = move |a: usize, b: usize| {
        let m = midpoint[index.find(a, b)?];
        Some((m != NONE).then_some(m))
    };
    Ok(Round {
        coords: new_coords,
        cells: out_cells,
        peaks: out_peaks,
        parents,
        new_nodes,
        split: Box::new(lookup),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_index_numbers_shared_edges_once_and_refuses_fins() {
        // Two triangles of a square sharing the diagonal 0-2.
        let index = EdgeIndex::new(4, &[0, 1, 2, 0, 2, 3]).unwrap();
        assert_eq!(index.ends.len(), 5);
        let diagonal = index.find(2, 0).unwrap();
        assert_eq!(index.ends[diagonal], [0, 2]);
        assert_eq!(index.cells[diagonal], [0, 1]);
        assert_eq!(index.cell_edges[0][1], diagonal);
        assert_eq!(index.cell_edges[1][2], diagonal);
        assert_eq!((index.find(1, 3), index.find(9, 0)), (None, None));
        // A third triangle on the diagonal.
        let e = EdgeIndex::new(5, &[0, 1, 2, 0, 2, 3, 0, 2, 4])
            .err()
            .unwrap();
        assert!(e.to_string().contains("more than two cells"), "{e}");
    }

    #[test]
    fn longest_edges_are_the_peaks_opposite() {
        // A right triangle: the hypotenuse 1-2 is opposite vertex 0; an obtuse one.
        let coords = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 3.0, 0.5];
        assert_eq!(
            longest_edge_peaks(2, &coords, &[0, 1, 2, 1, 3, 2]),
            vec![0, 0]
        );
        assert_eq!(longest_edge_peaks(2, &coords, &[2, 0, 1]), vec![1]);
    }
}
