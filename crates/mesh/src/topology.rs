//! Facet topology: which facets lie on the exterior, duplicate cells, facets that belong to
//! no cell.
//!
//! A facet is identified by its sorted node numbers packed into one `u128` ([`FacetKey`]: up
//! to four `u32` nodes, padded with `u32::MAX`); sorting all cell facets by key (in parallel)
//! finds the facets met once (exterior), twice (interior) or more (a non-manifold mesh).

use femscale_core::{Error, MeshView, Result};
use rayon::prelude::*;

/// The sorted nodes of a facet packed into one number (see the module docs).
pub(crate) type FacetKey = u128;

/// The most nodes a mesh may have for its facets to be keyed (node numbers fit `u32`, with
/// `u32::MAX` kept as padding).
pub(crate) const MAX_KEYED_NODES: usize = u32::MAX as usize;

/// The key of the facet with nodes `nodes` (at most 4, each below [`MAX_KEYED_NODES`]).
pub(crate) fn facet_key(nodes: &[usize]) -> FacetKey {
    let mut sorted = [u32::MAX; 4];
    for (s, &n) in sorted.iter_mut().zip(nodes) {
        *s = n as u32;
    }
    sorted[..nodes.len().min(4)].sort_unstable();
    sorted
        .iter()
        .fold(0u128, |key, &n| (key << 32) | u128::from(n))
}

/// The nodes of a key without its padding.
pub(crate) fn key_nodes(key: FacetKey) -> Vec<usize> {
    (0..4)
        .map(|i| ((key >> (96 - 32 * i)) & u128::from(u32::MAX)) as u32)
        .take_while(|&n| n != u32::MAX)
        .map(|n| n as usize)
        .collect()
}

fn too_large(what: &str, n: usize) -> Error {
    Error::Mesh {
        location: None,
        message: format!("{n} {what} are more than supported (at most {MAX_KEYED_NODES})"),
    }
}

/// The sorted keys of all facets of the mesh's cells, and the exterior facets (met by one
/// cell only) flat, `nodes_per_facet` nodes each, oriented outwards, in key order.
///
/// # Errors
/// [`Error::Mesh`] if a facet is shared by more than two cells (not a manifold mesh) or the
/// mesh has too many nodes or cells to key.
pub(crate) fn facets_and_exterior(mesh: &MeshView<'_>) -> Result<(Vec<FacetKey>, Vec<usize>)> {
    if mesh.num_nodes() > MAX_KEYED_NODES {
        return Err(too_large("nodes", mesh.num_nodes()));
    }
    if mesh.num_cells() > MAX_KEYED_NODES {
        return Err(too_large("cells", mesh.num_cells()));
    }
    let local = mesh.cell_kind.local_facets();
    let mut all: Vec<(FacetKey, u32, u8)> = (0..mesh.num_cells())
        .into_par_iter()
        .flat_map_iter(|c| {
            let nodes = mesh.cell(c);
            local.iter().enumerate().map(move |(f, lf)| {
                let mut buf = [0usize; 4];
                for (b, &l) in buf.iter_mut().zip(lf.iter()) {
                    *b = nodes[l];
                }
                (facet_key(&buf[..lf.len()]), c as u32, f as u8)
            })
        })
        .collect();
    all.par_sort_unstable_by_key(|e| e.0);
    let mut keys = Vec::with_capacity(all.len() / 2 + 1);
    let mut exterior = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let mut j = i + 1;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        if j - i > 2 {
            let cells: Vec<u32> = all[i..j].iter().map(|e| e.1).collect();
            return Err(Error::Mesh {
                location: None,
                message: format!(
                    "the facet with nodes {:?} is shared by {} cells ({cells:?}); a mesh must \
                     be a manifold (each facet in at most two cells)",
                    key_nodes(all[i].0),
                    j - i
                ),
            });
        }
        if j - i == 1 {
            let (_, c, f) = all[i];
            let nodes = mesh.cell(c as usize);
            exterior.extend(local[usize::from(f)].iter().map(|&l| nodes[l]));
        }
        keys.push(all[i].0);
        i = j;
    }
    Ok((keys, exterior))
}

/// The first pair of cells with the same nodes (in any order), if any.
pub(crate) fn duplicate_cells(mesh: &MeshView<'_>) -> Option<(usize, usize)> {
    let npc = mesh.cell_kind.nodes_per_cell();
    let sorted_nodes = |c: usize| {
        let mut key = [usize::MAX; 8];
        key[..npc].copy_from_slice(mesh.cell(c));
        key[..npc].sort_unstable();
        key
    };
    let mut hashed: Vec<(u64, usize)> = (0..mesh.num_cells())
        .into_par_iter()
        .map(|c| {
            // FNV-1a over the sorted nodes: equal cells hash equally; collisions are compared.
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for n in sorted_nodes(c) {
                h = (h ^ n as u64).wrapping_mul(0x0100_0000_01b3);
            }
            (h, c)
        })
        .collect();
    hashed.par_sort_unstable();
    let mut i = 0;
    while i < hashed.len() {
        let mut j = i + 1;
        while j < hashed.len() && hashed[j].0 == hashed[i].0 {
            j += 1;
        }
        for a in i..j {
            for b in a + 1..j {
                if sorted_nodes(hashed[a].1) == sorted_nodes(hashed[b].1) {
                    let (x, y) = (hashed[a].1, hashed[b].1);
                    return Some((x.min(y), x.max(y)));
                }
            }
        }
        i = j;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_ignore_order() {
        assert_eq!(facet_key(&[7, 3, 5]), facet_key(&[5, 7, 3]));
        assert_eq!(key_nodes(facet_key(&[7, 3, 5])), vec![3, 5, 7]);
        assert_eq!(key_nodes(facet_key(&[4])), vec![4]);
        assert_eq!(key_nodes(facet_key(&[9, 0, 2, 1])), vec![0, 1, 2, 9]);
        assert!(facet_key(&[0, 1]) < facet_key(&[0, 2]));
    }
}
