//! The facets of every cell for the residual estimator: the neighbour across each interior
//! facet, and the boundary conditions of each exterior facet.
//!
//! The cell across a facet is found among the cells of the facet's smallest vertex (node-to-cell
//! adjacency, linear time, in parallel over nodes). Exterior facets are keyed by their
//! sorted vertex numbers packed into one `u128` (up to four `u32`, padded with `u32::MAX`) to
//! find the facets of the boundary parts.

use std::sync::atomic::{AtomicUsize, Ordering};

use femscale_core::{BoundaryKind, EllipticForm, Error, MeshView, Result};
use rayon::prelude::*;

use crate::NodeCells;

/// What lies across one facet of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Across {
    /// Another cell: its facet index `cell * facets_per_cell + local_facet`.
    Cell(usize),
    /// The exterior, where the solution is prescribed (no facet residual).
    Dirichlet,
    /// The exterior under natural conditions: Neumann or Robin conditions (listed in
    /// [`Topology::conditions`]) or none (the natural condition `k du/dn = 0`).
    Natural,
}

/// [`Across::Natural`] and [`Across::Dirichlet`] in [`Topology`]'s one number per facet (a
/// cell facet is its index, which is smaller).
const NATURAL: usize = usize::MAX;
const DIRICHLET: usize = usize::MAX - 1;

impl Across {
    fn decode(code: usize) -> Self {
        match code {
            NATURAL => Self::Natural,
            DIRICHLET => Self::Dirichlet,
            o => Self::Cell(o),
        }
    }
}

/// Neighbours and boundary conditions of every cell facet, indexed by
/// `cell * facets_per_cell + local_facet`.
#[derive(Debug, Clone)]
pub(crate) struct Topology {
    pub facets_per_cell: usize,
    /// What lies across each facet: the other cell facet's index, [`NATURAL`] or [`DIRICHLET`]
    /// (eight bytes a facet, half of [`Across`]'s).
    across: Vec<usize>,
    /// `(cell facet, index of a Neumann or Robin condition in the form)`, sorted.
    conditions: Vec<(usize, usize)>,
}

impl Topology {
    /// The topology of `mesh` with the boundary conditions of `form`. A condition on a facet
    /// of a part inside the mesh (an interface between two cells) holds on both sides: a
    /// Dirichlet one prescribes the solution there, so the flux may jump (no facet residual,
    /// [`Across::Dirichlet`] on both sides), and a Neumann or Robin one is a source on the
    /// interface that the jump balances (listed under the side with the smaller facet index,
    /// which computes the jump). A Dirichlet condition wins over natural ones on the same
    /// facet. A part given by its nodes alone counts on exterior facets only (an interior
    /// facet between two of its nodes may cross the domain).
    ///
    /// # Errors
    /// [`Error::Mesh`] for an invalid mesh, a facet shared by more than two cells or more nodes
    /// than `u32` numbers.
    pub fn new(mesh: &MeshView<'_>, form: &EllipticForm) -> Result<Self> {
        let kind = mesh.cell_kind;
        let local = kind.local_facets();
        let nf = local.len();
        if mesh.num_nodes() >= u32::MAX as usize {
            return Err(Error::Mesh {
                location: None,
                message: format!("{} nodes are too many to key facets", mesh.num_nodes()),
            });
        }
        let nv = local[0].len();
        let adjacency = NodeCells::new(mesh)?;
        let mut across = facet_neighbours(mesh, &adjacency)?;
        let mut exterior: Vec<(u128, usize)> = (across.par_iter().enumerate())
            .filter(|(_, a)| **a == NATURAL)
            .map(|(id, _)| {
                let cell = mesh.cell(id / nf);
                let lv = local[id % nf];
                let mut nodes = [0; 4];
                for (n, &v) in nodes.iter_mut().zip(lv) {
                    *n = cell[v];
                }
                (key(&nodes[..nv]), id)
            })
            .collect();
        exterior.par_sort_unstable();
        let npf = mesh.nodes_per_facet();
        let find = |nodes: &[usize]| {
            let k = key(nodes);
            exterior
                .binary_search_by(|e| e.0.cmp(&k))
                .ok()
                .map(|i| exterior[i].1)
        };
        let mut conditions = Vec::new();
        for (i, bc) in form.boundary.iter().enumerate() {
            let Some(part) = mesh.boundary_part(&bc.part) else {
                continue;
            };
            let dirichlet = matches!(bc.kind, BoundaryKind::Dirichlet { .. });
            if part.facets.is_empty() && dirichlet {
                // A part of nodes only: the exterior facets whose vertices all lie on it.
                for &(_, id) in &exterior {
                    let cell = mesh.cell(id / nf);
                    let on = (local[id % nf].iter())
                        .all(|&v| part.nodes.binary_search(&cell[v]).is_ok());
                    if on {
                        across[id] = DIRICHLET;
                    }
                }
            }
            for facet in part.facets.chunks_exact(npf) {
                let facet = &facet[..nv];
                let Some(id) = find(facet).or_else(|| interior(mesh, &adjacency, facet)) else {
                    continue;
                };
                // The other side of an interior facet (`id` is the smaller of the two).
                let other = (across[id] < DIRICHLET).then_some(across[id]);
                if dirichlet {
                    across[id] = DIRICHLET;
                    if let Some(o) = other {
                        across[o] = DIRICHLET;
                    }
                } else {
                    conditions.push((id, i));
                }
            }
        }
        conditions.retain(|&(id, _)| across[id] != DIRICHLET);
        conditions.sort_unstable();
        Ok(Self {
            facets_per_cell: nf,
            across,
            conditions,
        })
    }

    /// What lies across cell facet `id`.
    pub fn across(&self, id: usize) -> Across {
        Across::decode(self.across[id])
    }

    /// Whether cell facet `id` has Neumann or Robin conditions.
    pub fn has_conditions(&self, id: usize) -> bool {
        self.conditions(id).next().is_some()
    }

    /// The Neumann and Robin conditions (indices into the form's boundary list) on cell facet
    /// `id` (of an interior facet: on the side with the smaller index).
    pub fn conditions(&self, id: usize) -> impl Iterator<Item = usize> + '_ {
        let start = self.conditions.partition_point(|c| c.0 < id);
        self.conditions[start..]
            .iter()
            .take_while(move |c| c.0 == id)
            .map(|c| c.1)
    }
}

/// The other cell facet across every cell facet ([`NATURAL`] where there is none).
///
/// Both cells of a facet hold its smallest vertex, so each node pairs the facets whose
/// smallest vertex it is, among its own cells, by their sorted vertex numbers. Every facet has
/// one smallest vertex and is written by that node alone, so the nodes run in parallel, and
/// no cell of another node is read.
///
/// # Errors
/// [`Error::Mesh`] for a facet of more than two cells.
fn facet_neighbours(mesh: &MeshView<'_>, adjacency: &NodeCells) -> Result<Vec<usize>> {
    let kind = mesh.cell_kind;
    let local = kind.local_facets();
    let nf = local.len();
    let vertices = kind.num_vertices();
    let mut other = vec![NATURAL; mesh.num_cells() * nf];
    const _: () = assert!(align_of::<AtomicUsize>() == align_of::<usize>());
    // SAFETY: `AtomicUsize` has the size and bit validity of `usize` and (asserted above) its
    // alignment, and `other` is borrowed mutably (so by nothing else) for as long as `slots`
    // lives.
    let slots: &[AtomicUsize] =
        unsafe { &*(std::ptr::from_mut::<[usize]>(other.as_mut_slice()) as *const [AtomicUsize]) };
    (0..mesh.num_nodes())
        .into_par_iter()
        .with_min_len(NODES_PER_TASK)
        .try_for_each_init(Vec::new, |found: &mut Vec<(u128, usize)>, v| {
            found.clear();
            for &c in adjacency.of(v) {
                let cell = &mesh.cell(c)[..vertices];
                for (f, lv) in local.iter().enumerate() {
                    let mut nodes = [0; 4];
                    for (n, &k) in nodes.iter_mut().zip(*lv) {
                        *n = cell[k];
                    }
                    let nodes = &nodes[..lv.len()];
                    if nodes.iter().min() == Some(&v) {
                        found.push((key(nodes), c * nf + f));
                    }
                }
            }
            found.sort_unstable();
            for group in found.chunk_by(|a, b| a.0 == b.0) {
                let (first, rest) = (group[0].1, &group[1..]);
                // Facets of one cell with the same vertices (a degenerate cell) see nothing.
                let mut others = rest.iter().filter(|e| e.1 / nf != first / nf);
                let Some(&(_, second)) = others.next() else {
                    continue;
                };
                if others.any(|e| e.1 / nf != second / nf) {
                    return Err(Error::Mesh {
                        location: None,
                        message: format!(
                            "a facet of cell {} is shared by more than two cells (not a \
                             manifold mesh)",
                            first / nf
                        ),
                    });
                }
                // Written by this node alone: `v` is the facet's smallest vertex.
                slots[first].store(second, Ordering::Relaxed);
                slots[second].store(first, Ordering::Relaxed);
            }
            Ok(())
        })?;
    // Written by relaxed stores in the tasks above, read after they were joined.
    Ok(other)
}

/// The part of the first condition of `form` that lies (in part) inside `mesh`: a facet of it
/// is shared by two cells. The exterior is the part `all` where the mesh has it (every mesh
/// femscale builds), else found from the cells around each facet.
///
/// # Errors
/// [`Error::Mesh`] for an invalid mesh (without a part `all`).
pub(crate) fn interior_condition<'f>(
    mesh: &MeshView<'_>,
    form: &'f EllipticForm,
) -> Result<Option<&'f str>> {
    let (npf, nv) = (
        mesh.nodes_per_facet(),
        mesh.cell_kind.local_facets()[0].len(),
    );
    let parts = (form.boundary.iter())
        .filter_map(|bc| Some((bc.part.as_str(), mesh.boundary_part(&bc.part)?)))
        .filter(|(_, part)| !part.facets.is_empty() && part.name != "all");
    let exterior: Option<Vec<u128>> = mesh.boundary_part("all").map(|all| {
        let mut keys: Vec<u128> = (all.facets.chunks_exact(npf))
            .map(|f| key(&f[..nv]))
            .collect();
        keys.sort_unstable();
        keys
    });
    let mut adjacency = None;
    for (name, part) in parts {
        for facet in part.facets.chunks_exact(npf) {
            let facet = &facet[..nv];
            let inside = match &exterior {
                Some(keys) => keys.binary_search(&key(facet)).is_err(),
                None => {
                    if adjacency.is_none() {
                        adjacency = Some(NodeCells::new(mesh)?);
                    }
                    let adjacency = adjacency.as_ref().expect("built above");
                    interior(mesh, adjacency, facet).is_some()
                }
            };
            if inside {
                return Ok(Some(name));
            }
        }
    }
    Ok(None)
}

/// The smaller of the two cell facets of the interior facet with vertices `nodes`, found among
/// the cells of its first vertex; `None` if no two cells share it.
fn interior(mesh: &MeshView<'_>, adjacency: &NodeCells, nodes: &[usize]) -> Option<usize> {
    let local = mesh.cell_kind.local_facets();
    let want = key(nodes);
    let mut found = (adjacency.of(*nodes.first()?).iter()).flat_map(|&c| {
        let cell = mesh.cell(c);
        (local.iter().enumerate())
            .filter(move |(_, lv)| {
                let mut vs = [0; 4];
                for (n, &k) in vs.iter_mut().zip(lv.iter()) {
                    *n = cell[k];
                }
                lv.len() == nodes.len() && key(&vs[..lv.len()]) == want
            })
            .map(move |(f, _)| c * local.len() + f)
    });
    let (a, b) = (found.next()?, found.next()?);
    Some(a.min(b))
}

/// Nodes per parallel task of [`facet_neighbours`].
const NODES_PER_TASK: usize = 2048;

/// The sorted nodes (at most four, each below `u32::MAX`) packed into one number.
fn key(nodes: &[usize]) -> u128 {
    let mut sorted = [u32::MAX; 4];
    for (s, &n) in sorted.iter_mut().zip(nodes) {
        *s = n as u32;
    }
    // A sorting network for four (the padding sorts last), without branches.
    for (i, j) in [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)] {
        let (a, b) = (sorted[i], sorted[j]);
        (sorted[i], sorted[j]) = (a.min(b), a.max(b));
    }
    sorted.iter().fold(0u128, |k, &n| (k << 32) | u128::from(n))
}

/// The order in which both cells of a facet walk its vertices (global numbers `nodes`), as
/// positions in `nodes`: ascending numbers, except on quadrilateral faces (four vertices)
/// which are walked around, from the smallest number towards its smaller neighbour.
pub(crate) fn canonical_order(nodes: &[usize]) -> [usize; 4] {
    let n = nodes.len();
    let mut order = [0, 1, 2, 3];
    if n == 4 {
        let first = (0..4).min_by_key(|&i| nodes[i]).unwrap_or(0);
        let (next, prev) = ((first + 1) % 4, (first + 3) % 4);
        let step = if nodes[next] < nodes[prev] { 1 } else { 3 };
        for (a, o) in order.iter_mut().enumerate() {
            *o = (first + a * step) % 4;
        }
    } else {
        order[..n].sort_unstable_by_key(|&i| nodes[i]);
    }
    order
}

#[cfg(test)]
mod tests {
    use femscale_core::{CellKind, Constant, MeshView, Order, Validated};
    use femscale_mesh::Mesh;
    use std::sync::Arc;

    use super::*;
    use crate::tests_higher::{ELEMENTS, Shape, grid, shuffled};

    fn view<'a>(coords: &'a [f64], cells: &'a [usize]) -> MeshView<'a> {
        MeshView {
            dim: 2,
            coords,
            order: Order::Linear,
            curved: false,
            cell_kind: CellKind::Triangle,
            cells,
            boundary: &[],
            cell_markers: &[],
            subdomains: &[],
            validated: Validated::NO,
        }
    }

    fn form() -> EllipticForm {
        EllipticForm {
            diffusion: Arc::new(Constant(1.0)),
            reaction: None,
            source: None,
            boundary: Vec::new(),
        }
    }

    #[test]
    fn neighbours_are_the_cells_sharing_a_facet_and_a_book_of_three_is_refused() {
        // The unit square split along its diagonal 0-2, and a third cell on that diagonal.
        let coords = [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 2.0, 0.5];
        let square = [0, 1, 2, 0, 2, 3];
        let t = Topology::new(&view(&coords, &square), &form()).unwrap();
        // The two cells see each other across exactly one facet, each naming the other's.
        let cells: Vec<Vec<Across>> = (0..2)
            .map(|c| (0..3).map(|f| t.across(c * 3 + f)).collect())
            .collect();
        let to = |c: usize| {
            (cells[c].iter())
                .filter(|a| matches!(a, Across::Cell(_)))
                .count()
        };
        assert_eq!((to(0), to(1)), (1, 1), "{cells:?}");
        for (c, row) in cells.iter().enumerate() {
            for (f, a) in row.iter().enumerate() {
                if let Across::Cell(o) = *a {
                    assert_eq!(
                        t.across(o),
                        Across::Cell(c * 3 + f),
                        "facets see each other"
                    );
                    assert_ne!(o / 3, c);
                }
            }
        }
        let book = [0, 1, 2, 0, 2, 3, 2, 0, 4];

        let err = Topology::new(&view(&coords, &book), &form()).unwrap_err();
        assert!(err.to_string().contains("more than two cells"), "{err}");
    }

    /// The facet across each cell facet by comparing every pair of facets of the mesh.
    fn brute_force(mesh: &MeshView<'_>) -> Vec<Across> {
        let local = mesh.cell_kind.local_facets();
        let nf = local.len();
        let sorted = |id: usize| {
            let cell = mesh.cell(id / nf);
            let mut nodes: Vec<usize> = local[id % nf].iter().map(|&v| cell[v]).collect();
            nodes.sort_unstable();
            nodes
        };
        let facets: Vec<Vec<usize>> = (0..mesh.num_cells() * nf).map(sorted).collect();
        (0..facets.len())
            .map(|id| {
                (0..facets.len())
                    .find(|&o| o / nf != id / nf && facets[o] == facets[id])
                    .map_or(Across::Natural, Across::Cell)
            })
            .collect()
    }

    #[test]
    fn neighbours_are_those_of_a_search_over_all_facet_pairs_for_every_kind_and_numbering() {
        for (kind, order) in ELEMENTS {
            let n = if kind.dim() == 3 { 3 } else { 5 };
            let mesh = grid(kind, order, n, Shape::Uniform);
            // The same mesh with its nodes numbered at random: smallest vertices change.
            let scattered: Mesh = mesh.renumbered(&shuffled(mesh.num_nodes()));
            for m in [&mesh, &scattered] {
                let view = m.view();
                let found: Vec<Across> = facet_neighbours(&view, &NodeCells::new(&view).unwrap())
                    .unwrap()
                    .into_iter()
                    .map(Across::decode)
                    .collect();
                assert_eq!(found, brute_force(&view), "{kind:?} {order:?}");
                let interior = found.iter().filter(|a| **a != Across::Natural).count();
                assert!(interior > found.len() / 2, "{kind:?}: {interior} interior");
            }
        }
    }
}
