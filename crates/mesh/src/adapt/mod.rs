//! Local (adaptive) refinement: conforming bisection of marked cells (see [`Refined`]).

mod bisect;
mod transfer;

use femscale_core::{BoundaryPart, CellKind, Error, Order, Result};

use crate::generate::MAX_GENERATED_NODES;
use crate::mesh::Mesh;

use bisect::{Round, bisect_intervals, bisect_triangles, longest_edge_peaks};

/// The config key named by refinement errors about the mesh's kind.
const FIELD: &str = "adaptivity.enabled";

/// What newest-vertex bisection remembers between refinements: the local index of each
/// triangle's newest vertex (its refinement edge is the opposite one). Threaded from
/// [`Refined::state`] into the next [`Mesh::refine_marked`]; intervals need none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefinementState {
    /// Per cell, the local index (0..3) of the newest vertex.
    peaks: Vec<u8>,
    /// The number of nodes of the mesh it belongs to (a consistency check).
    num_nodes: usize,
}

impl RefinementState {
    /// The initial state of `mesh`: every triangle's refinement edge its longest edge.
    pub fn initial(mesh: &Mesh) -> Self {
        let peaks = match (mesh.cell_kind, mesh.order) {
            (CellKind::Triangle, Order::Linear) => {
                longest_edge_peaks(mesh.dim, &mesh.coords, &mesh.cells)
            }
            (CellKind::Triangle, _) => {
                let lin = mesh.lowered_for_refinement();
                longest_edge_peaks(lin.dim, &lin.coords, &lin.cells)
            }
            _ => vec![0; mesh.num_cells()],
        };
        Self {
            peaks,
            num_nodes: mesh.num_nodes(),
        }
    }

    /// The local index of the newest vertex of each cell; the refinement edge is opposite it.
    pub fn newest_vertices(&self) -> &[u8] {
        &self.peaks
    }
}

/// A locally refined mesh and how it relates to the mesh it came from.
///
/// [`Mesh::refine_marked`] bisects the marked cells of a mesh of intervals or triangles and
/// keeps the result conforming (no hanging nodes):
///
/// * intervals are halved through their midpoints;
/// * triangles use **newest-vertex bisection**: each cell's refinement edge (the edge opposite
///   its newest vertex) is kept in a [`RefinementState`] threaded from one refinement to the
///   next, initially the longest edge; neighbours are bisected as closure needs, in time
///   linear in the number of cells. A marked cell is bisected once (twice where closure
///   reaches it), so two rounds halve its diameter. All descendants of a triangle fall into
///   at most four similarity classes, so angles stay bounded however often a region is
///   refined;
/// * tetrahedra (newest-vertex bisection in 3D needs a compatible initial labelling this crate
///   does not yet build), quadrilaterals and hexahedra (no hanging-node support) and curved
///   order-2 meshes are refused with [`Error::InvalidInput`] for `adaptivity.enabled`.
///
/// A mesh of order 2 is refined as its vertex mesh ([`Mesh::with_order`] to
/// [`Order::Linear`]) and lifted again, so the new edge nodes sit at the midpoints of the new
/// straight edges; [`Refined::parents`] then still maps child cells to parent cells, while
/// [`Refined::new_nodes`] and [`Refined::interpolate_p1`] refer to the vertex meshes (the
/// first [`Refined::old_vertices`] nodes of the lifted mesh are its vertices, in that
/// numbering). A P2 field is carried over with [`Refined::interpolate_p2`].
///
/// Children keep their parent's orientation and subdomain marker; boundary facets on a split
/// edge are split in two (orientation kept) and stay in their parts, named as before.
///
/// ```
/// use femscale_mesh::{Mesh, RectangleSpec};
/// let mesh = Mesh::rectangle(&RectangleSpec { nx: 2, ny: 2, ..Default::default() }).unwrap();
/// let mut marked = vec![false; mesh.num_cells()];
/// marked[0] = true;
/// let refined = mesh.refine_marked(&marked, None).unwrap();
/// assert!(refined.mesh.num_cells() >= mesh.num_cells() + 1);
/// // A P1 field carried over: new nodes take the mean of their edge's end points.
/// let u: Vec<f64> = mesh.points().iter().map(|p| p[0] + 2.0 * p[1]).collect();
/// let v = refined.interpolate_p1(&u).unwrap();
/// for (x, value) in refined.mesh.points().iter().zip(&v) {
///     assert!((x[0] + 2.0 * x[1] - value).abs() < 1e-12);
/// }
/// // Refine again, continuing the newest-vertex order.
/// let marked = vec![true; refined.mesh.num_cells()];
/// let again = refined.mesh.refine_marked(&marked, Some(&refined.state)).unwrap();
/// assert!(again.mesh.num_cells() >= 2 * refined.mesh.num_cells());
/// ```
#[derive(Debug, Clone)]
pub struct Refined {
    /// The refined mesh.
    pub mesh: Mesh,
    /// The refinement state to pass to the next [`Mesh::refine_marked`] of [`Refined::mesh`].
    pub state: RefinementState,
    /// The parent (a cell of the old mesh) of each cell of the new one.
    pub parents: Vec<usize>,
    /// Vertices of the old mesh; they keep their numbers in the new one.
    pub old_vertices: usize,
    /// The two old vertices whose midpoint is new vertex `old_vertices + i`.
    pub new_nodes: Vec<[usize; 2]>,
}

impl Mesh {
    /// Bisects the cells with `marked[c]` set (one flag per cell) and as many neighbours as
    /// conformity needs (see [`Refined`]). `state` continues the newest-vertex
    /// order of a previous refinement (its [`Refined::state`]); `None` starts from the
    /// longest edges. Every marked cell gets at least two children.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for `adaptivity.enabled` for tetrahedra, quadrilaterals,
    /// hexahedra and curved meshes; for `marked` or `refinement_state` if their length does not
    /// match the mesh; for `refinements` if the result would exceed [`MAX_GENERATED_NODES`]
    /// nodes. [`Error::Mesh`] for an edge of more than two cells or a boundary facet that is no
    /// facet of a cell.
    #[tracing::instrument(skip_all)]
    pub fn refine_marked(
        &self,
        marked: &[bool],
        state: Option<&RefinementState>,
    ) -> Result<Refined> {
        self.check_refinable()?;
        if marked.len() != self.num_cells() {
            return Err(Error::invalid(
                "marked",
                format!(
                    "{} flags for a mesh of {} cells",
                    marked.len(),
                    self.num_cells()
                ),
            ));
        }
        if let Some(s) = state
            && (s.peaks.len() != self.num_cells()
                || s.num_nodes != self.num_nodes()
                || s.peaks.iter().any(|&p| p > 2))
        {
            return Err(Error::invalid(
                "refinement_state",
                format!(
                    "the state is of a mesh of {} cells and {} nodes, this one has {} and {}",
                    s.peaks.len(),
                    s.num_nodes,
                    self.num_cells(),
                    self.num_nodes()
                ),
            ));
        }
        if self.order != Order::Linear {
            let lin = self.lowered_for_refinement();
            let inner = state.map(|s| RefinementState {
                peaks: s.peaks.clone(),
                num_nodes: lin.num_nodes(),
            });
            let mut refined = lin.refine_marked(marked, inner.as_ref())?;
            refined.mesh = refined.mesh.with_order(self.order)?;
            refined.state.num_nodes = refined.mesh.num_nodes();
            return Ok(refined);
        }
        let round = match self.cell_kind {
            CellKind::Interval => bisect_intervals(&self.coords, &self.cells, marked),
            _ => {
                let initial;
                let peaks = match state {
                    Some(s) => &s.peaks,
                    None => {
                        initial = longest_edge_peaks(self.dim, &self.coords, &self.cells);
                        &initial
                    }
                };
                bisect_triangles(self.dim, &self.coords, &self.cells, peaks, marked)?
            }
        };
        self.assemble(round)
    }

    /// [`Mesh::refine_marked`] of the cells listed in `cells` (any order, repeats allowed).
    ///
    /// # Errors
    /// As [`Mesh::refine_marked`]; [`Error::InvalidInput`] for `marked` for a cell id out of
    /// range.
    pub fn refine_cells(
        &self,
        cells: &[usize],
        state: Option<&RefinementState>,
    ) -> Result<Refined> {
        let mut marked = vec![false; self.num_cells()];
        for &c in cells {
            *marked.get_mut(c).ok_or_else(|| {
                Error::invalid(
                    "marked",
                    format!("cell {c} is not in the mesh of {} cells", self.num_cells()),
                )
            })? = true;
        }
        self.refine_marked(&marked, state)
    }

    /// Refuses meshes local refinement does not support.
    fn check_refinable(&self) -> Result<()> {
        let reason = match self.cell_kind {
            CellKind::Interval | CellKind::Triangle => None,
            CellKind::Tetrahedron => Some(
                "local refinement of tetrahedra is not supported (newest-vertex bisection in \
                 3D is not implemented); use triangles or uniform refinement",
            ),
            CellKind::Quadrilateral | CellKind::Hexahedron => Some(
                "local refinement of quadrilateral and hexahedral meshes is not supported (it \
                 would leave hanging nodes, which femscale does not support); use a simplex \
                 mesh or uniform refinement",
            ),
        };
        if let Some(reason) = reason {
            return Err(Error::invalid(
                FIELD,
                format!("{reason} (the mesh has {:?} cells)", self.cell_kind),
            ));
        }
        if self.curved {
            return Err(Error::invalid(
                FIELD,
                "local refinement of curved order-2 meshes is not supported (the new nodes \
                 would not follow the curved boundary); use uniform refinement",
            ));
        }
        Ok(())
    }

    /// The vertex mesh of an order-2 mesh, vertices numbered as in it.
    fn lowered_for_refinement(&self) -> Mesh {
        // Lowering never fails; it keeps the vertices in their order.
        self.with_order(Order::Linear)
            .unwrap_or_else(|_| self.clone())
    }

    /// Builds the refined mesh of one bisection round: markers and parts inherited.
    fn assemble(&self, round: Round) -> Result<Refined> {
        let num_nodes = round.coords.len() / self.dim;
        if num_nodes > MAX_GENERATED_NODES {
            return Err(Error::invalid(
                "refinements",
                format!(
                    "the refined mesh would have {num_nodes} nodes, more than the supported \
                     {MAX_GENERATED_NODES}"
                ),
            ));
        }
        let boundary: Vec<BoundaryPart> = (self.boundary.iter())
            .map(|part| split_part(self.cell_kind, part, &*round.split))
            .collect::<Result<_>>()?;
        let markers: Vec<i32> = if self.cell_markers.is_empty() {
            Vec::new()
        } else {
            round
                .parents
                .iter()
                .map(|&p| self.cell_markers[p])
                .collect()
        };
        // Valid by construction (children of valid cells, same orientation, every parent
        // has a child so the subdomains stay), so no second validation pass.
        let mesh = Mesh {
            dim: self.dim,
            coords: round.coords,
            cell_kind: self.cell_kind,
            order: Order::Linear,
            curved: false,
            cells: round.cells,
            boundary,
            cell_markers: markers,
            subdomains: self.subdomains.clone(),
            reoriented_cells: 0,
            derived: Default::default(),
        };
        tracing::debug!(
            cell_kind = ?self.cell_kind,
            cells_before = self.num_cells(),
            cells_after = mesh.num_cells(),
            new_nodes = round.new_nodes.len(),
            "mesh refined locally"
        );
        Ok(Refined {
            state: RefinementState {
                peaks: round.peaks,
                num_nodes: mesh.num_nodes(),
            },
            mesh,
            parents: round.parents,
            old_vertices: self.num_nodes(),
            new_nodes: round.new_nodes,
        })
    }
}

/// `part` with its facets on split edges split in two; points (1D facets) stay.
fn split_part(
    kind: CellKind,
    part: &BoundaryPart,
    split: &dyn Fn(usize, usize) -> Option<Option<usize>>,
) -> Result<BoundaryPart> {
    if kind == CellKind::Interval {
        return Ok(part.clone());
    }
    let mut facets = Vec::with_capacity(part.facets.len());
    let mut nodes = part.nodes.clone();
    for f in part.facets.chunks_exact(2) {
        match split(f[0], f[1]) {
            Some(Some(m)) => {
                facets.extend_from_slice(&[f[0], m, m, f[1]]);
                nodes.push(m);
            }
            Some(None) => facets.extend_from_slice(f),
            None => {
                return Err(Error::Mesh {
                    location: None,
                    message: format!(
                        "boundary part `{}` has facet {f:?} that is not an edge of any cell, so \
                         it cannot be refined",
                        part.name
                    ),
                });
            }
        }
    }
    nodes.sort_unstable();
    nodes.dedup();
    Ok(BoundaryPart {
        name: part.name.clone(),
        id: part.id,
        facets,
        nodes,
    })
}
