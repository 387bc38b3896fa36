//! Graph partitioning of a mesh's nodes with METIS (the `metis` feature: the `metis` crate
//! with its vendored C library).

use femscale_core::{Error, Result};
use metis::{Graph, Idx, option};

use crate::Mesh;

/// The seed of METIS's randomised coarsening: fixed, so every rank computes the same parts.
const SEED: Idx = 7;

/// The part of every node of `mesh` in a k-way partition of its node graph into `parts`
/// parts.
pub(crate) fn node_parts(mesh: &Mesh, parts: usize) -> Result<Vec<usize>> {
    let n = mesh.num_nodes();
    let bad = |reason: String| Error::invalid("partition", reason);
    if parts == 0 || parts > n {
        return Err(bad(format!("{parts} parts of a mesh of {n} nodes")));
    }
    if parts == 1 {
        return Ok(vec![0; n]);
    }
    let (xadj, adjncy) = node_graph(mesh)?;
    let nparts = Idx::try_from(parts).map_err(|_| bad(format!("{parts} parts")))?;
    let mut part: Vec<Idx> = vec![0; n];
    Graph::new(1, nparts, &xadj, &adjncy)
        .map_err(|e| bad(format!("the node graph is not one METIS takes: {e:?}")))?
        .set_option(option::Seed(SEED))
        .part_kway(&mut part)
        .map_err(|e| bad(format!("METIS failed: {e:?}")))?;
    part.into_iter()
        .map(|p| {
            usize::try_from(p)
                .ok()
                .filter(|&p| p < parts)
                .ok_or_else(|| bad(format!("METIS returned part {p} of {parts}")))
        })
        .collect()
}

/// The node graph in METIS's CSR form (no self loops, symmetric): the nodes sharing a cell.
fn node_graph(mesh: &Mesh) -> Result<(Vec<Idx>, Vec<Idx>)> {
    let view = mesh.view();
    let (n, per_cell) = (mesh.num_nodes(), view.nodes_per_cell());
    let cells = mesh.cells();
    let too_large = || {
        Error::invalid(
            "partition",
            format!("a node graph of {n} nodes exceeds METIS's 32-bit indices"),
        )
    };
    // Cells of each node (CSR).
    let mut start = vec![0usize; n + 1];
    for &v in cells {
        start[v + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut cells_of = vec![0usize; cells.len()];
    for (c, nodes) in cells.chunks_exact(per_cell).enumerate() {
        for &v in nodes {
            cells_of[fill[v]] = c;
            fill[v] += 1;
        }
    }
    // Neighbours of each node: the other nodes of its cells, each once.
    let mut xadj: Vec<Idx> = Vec::with_capacity(n + 1);
    xadj.push(0);
    let mut adjncy: Vec<Idx> = Vec::new();
    let mut seen = vec![usize::MAX; n];
    for v in 0..n {
        for &c in &cells_of[start[v]..start[v + 1]] {
            for &w in &cells[c * per_cell..(c + 1) * per_cell] {
                if w != v && seen[w] != v {
                    seen[w] = v;
                    adjncy.push(Idx::try_from(w).map_err(|_| too_large())?);
                }
            }
        }
        xadj.push(Idx::try_from(adjncy.len()).map_err(|_| too_large())?);
    }
    Ok((xadj, adjncy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RectangleSpec;

    fn square(m: usize) -> RectangleSpec {
        RectangleSpec {
            nx: m,
            ny: m,
            ..Default::default()
        }
    }

    #[test]
    fn parts_are_balanced_deterministic_and_cut_less_than_strips() {
        let m = 60;
        let mesh = Mesh::rectangle(&square(m)).unwrap();
        let parts = node_parts(&mesh, 4).unwrap();
        assert_eq!(parts, node_parts(&mesh, 4).unwrap());
        let n = mesh.num_nodes();
        let mut sizes = [0usize; 4];
        parts.iter().for_each(|&p| sizes[p] += 1);
        assert!(
            sizes.iter().all(|&s| s as f64 <= 1.04 * n as f64 / 4.0),
            "{sizes:?}"
        );
        // Graph edges between parts: three cuts between four strips of the (m+1)² grid of
        // right triangles take 2(m+1) - 1 edges each.
        let (xadj, adjncy) = node_graph(&mesh).unwrap();
        let cut = (0..n)
            .flat_map(|v| (xadj[v]..xadj[v + 1]).map(move |k| (v, k)))
            .filter(|&(v, k)| parts[v] != parts[adjncy[k as usize] as usize])
            .count()
            / 2;
        let strips = 3 * (2 * (m + 1) - 1);
        assert!(cut < strips, "cut {cut}, strips {strips}");
        let (renumbered, new_of_old, sizes) = mesh.partitioned_metis(4).unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), n);
        let mut starts = vec![0];
        sizes
            .iter()
            .for_each(|s| starts.push(starts.last().unwrap() + s));
        for (old, &new) in new_of_old.iter().enumerate() {
            assert!((starts[parts[old]]..starts[parts[old] + 1]).contains(&new));
        }
        assert_eq!(renumbered.num_cells(), mesh.num_cells());
    }

    #[test]
    fn refuses_impossible_part_counts() {
        let mesh = Mesh::rectangle(&square(2)).unwrap();
        assert!(node_parts(&mesh, 0).is_err());
        assert!(node_parts(&mesh, 10).is_err());
        assert_eq!(node_parts(&mesh, 1).unwrap(), vec![0; 9]);
    }
}
