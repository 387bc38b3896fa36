//! The owned mesh type and its validation.

use femscale_core::{BoundaryPart, CellKind, MeshView, Order, Result, Subdomain, Validated};

use crate::geometry::{quality, signed_measure};

/// A mesh with one kind of cell: node coordinates, cell connectivity, the cells' subdomain
/// markers (optional) and named boundary parts (from facet markers or given directly).
#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    pub(crate) dim: usize,
    pub(crate) coords: Vec<f64>,
    pub(crate) cell_kind: CellKind,
    /// The node layout of the cells (see [`femscale_core::lagrange`]).
    pub(crate) order: Order,
    /// Whether higher-order nodes may lie off their straight-sided positions.
    pub(crate) curved: bool,
    pub(crate) cells: Vec<usize>,
    pub(crate) boundary: Vec<BoundaryPart>,
    /// One marker per cell, or empty.
    pub(crate) cell_markers: Vec<i32>,
    /// One entry per distinct marker, sorted by id.
    pub(crate) subdomains: Vec<Subdomain>,
    /// Cells reversed by validation.
    pub(crate) reoriented_cells: usize,
    /// What is known about the data: whether it passed [`MeshView::validate`]
    /// ([`Mesh::validate`]), and its quality range once computed.
    pub(crate) derived: Derived,
}

/// What is derived from a mesh's data and kept with it: whether it passed
/// [`MeshView::validate`], and the range of cell quality ([`Mesh::stats`] reports it on every
/// solve; a cached operator's mesh is reported again and again). `&mut self` methods reset
/// it. Not part of the mesh's value: equal meshes are equal whatever is known about them.
#[derive(Debug, Default)]
pub(crate) struct Derived {
    valid: std::sync::atomic::AtomicBool,
    pub(crate) quality: std::sync::OnceLock<(f64, f64)>,
}

impl Derived {
    fn valid(&self) -> bool {
        self.valid.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The record of a mesh built valid by construction (the generators').
    pub(crate) fn valid_by_construction() -> Self {
        Self {
            valid: std::sync::atomic::AtomicBool::new(true),
            quality: Default::default(),
        }
    }

    /// Records that the mesh's data passed [`MeshView::validate`].
    fn set_valid(&self) {
        self.valid.store(true, std::sync::atomic::Ordering::Release);
    }
}

impl Clone for Derived {
    fn clone(&self) -> Self {
        Self {
            valid: std::sync::atomic::AtomicBool::new(self.valid()),
            quality: self.quality.clone(),
        }
    }
}

impl PartialEq for Derived {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Mesh {
    /// Builds a mesh from raw arrays after validating them (as [`Mesh::builder`] with the
    /// given parts and no exterior part added): coordinates finite, connectivity a whole
    /// number of cells with node indices in range, no degenerate or (quadrilaterals,
    /// hexahedra) non-convex cell — cells valid only in the other orientation are reoriented —
    /// no duplicate cells, boundary facets facets of cells, no node on an exterior facet it is
    /// not a node of unless the facet is in a named boundary part (see [`MeshBuilder::build`](crate::MeshBuilder::build)).
    ///
    /// # Errors
    /// [`femscale_core::Error::Mesh`] naming the first offending cell, node or boundary part.
    pub fn try_new(
        dim: usize,
        coords: Vec<f64>,
        cell_kind: CellKind,
        cells: Vec<usize>,
        boundary: Vec<BoundaryPart>,
    ) -> Result<Self> {
        Self::builder(dim, coords, cell_kind, cells)
            .boundary_parts(boundary)
            .exterior_part(None)
            .build()
    }

    /// Checks the mesh's data ([`MeshView::validate`]) once: afterwards its views are marked
    /// [`Validated`], so the pattern builders, assemblers, Dirichlet conditions and error
    /// norms skip their own scans of it. Meshes from [`Mesh::builder`] (and [`Mesh::try_new`],
    /// files) are checked when built; generated, lifted, refined and renumbered meshes on the
    /// first call.
    ///
    /// # Errors
    /// As [`MeshView::validate`].
    pub fn validate(&self) -> Result<()> {
        if !self.derived.valid() {
            self.view().validate()?;
            self.derived.set_valid();
        }
        Ok(())
    }

    /// The borrowed view assemblers work on, marked [`Validated`] once [`Mesh::validate`]
    /// (or the builder) checked the data.
    pub fn view(&self) -> MeshView<'_> {
        let validated = if self.derived.valid() {
            // SAFETY: the flag is set only after `MeshView::validate` accepted this mesh's
            // data, which changes afterwards only through `&mut self` methods, which reset it
            // (the fields are private to this crate).
            unsafe { Validated::assume() }
        } else {
            Validated::NO
        };
        MeshView {
            validated,
            dim: self.dim,
            coords: &self.coords,
            cell_kind: self.cell_kind,
            order: self.order,
            curved: self.curved,
            cells: &self.cells,
            boundary: &self.boundary,
            cell_markers: &self.cell_markers,
            subdomains: &self.subdomains,
        }
    }

    /// The subdomain marker of each cell (empty for a mesh without markers).
    pub fn cell_markers(&self) -> &[i32] {
        &self.cell_markers
    }

    /// The subdomains (one per distinct cell marker, sorted by id).
    pub fn subdomains(&self) -> &[Subdomain] {
        &self.subdomains
    }

    /// How many cells validation reversed because they were given in the other orientation.
    pub fn reoriented_cells(&self) -> usize {
        self.reoriented_cells
    }

    /// Geometric dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.coords.len() / self.dim
    }

    /// Number of cells.
    pub fn num_cells(&self) -> usize {
        self.cells.len() / self.cell_kind.nodes_per_cell_of(self.order)
    }

    /// The kind of every cell.
    pub fn cell_kind(&self) -> CellKind {
        self.cell_kind
    }

    /// The node layout of the cells: vertices only, or the order-2 Lagrange nodes.
    pub fn order(&self) -> Order {
        self.order
    }

    /// Whether the cells' higher-order nodes may lie off their straight-sided positions (a
    /// second-order mesh read from a file); assembly then maps cells through all nodes.
    pub fn is_curved(&self) -> bool {
        self.curved
    }

    /// Node coordinates, `dim` per node.
    pub fn coords(&self) -> &[f64] {
        &self.coords
    }

    /// Flat cell connectivity.
    pub fn cells(&self) -> &[usize] {
        &self.cells
    }

    /// All boundary parts.
    pub fn boundary_parts(&self) -> &[BoundaryPart] {
        &self.boundary
    }

    /// The boundary part called `name`, or else the one whose marker `name` writes as a
    /// number (`"11"`).
    pub fn boundary_part(&self, name: &str) -> Option<&BoundaryPart> {
        femscale_core::find_part(&self.boundary, name)
    }

    /// Node coordinates as points padded to three components.
    pub fn points(&self) -> Vec<[f64; 3]> {
        let v = self.view();
        (0..self.num_nodes()).map(|i| v.point(i)).collect()
    }

    /// `f` of the vertex coordinates of cell `c`, padded to three components: read straight
    /// from the arrays into an array of the cell kind's vertex count (the statistics call this
    /// for every cell).
    fn with_corners<R>(&self, c: usize, f: impl Fn(&[[f64; 3]]) -> R) -> R {
        match self.cell_kind.num_vertices() {
            2 => f(&self.corners::<2>(c)),
            3 => f(&self.corners::<3>(c)),
            4 => f(&self.corners::<4>(c)),
            _ => f(&self.corners::<8>(c)),
        }
    }

    /// The first `V` nodes' coordinates of cell `c`, padded to three components.
    fn corners<const V: usize>(&self, c: usize) -> [[f64; 3]; V] {
        let npc = self.cell_kind.nodes_per_cell_of(self.order);
        self.gather(&self.cells[c * npc..])
    }

    /// The coordinates of the first `V` of `nodes`, padded to three components.
    pub(crate) fn gather<const V: usize>(&self, nodes: &[usize]) -> [[f64; 3]; V] {
        let dim = self.dim;
        let mut x = [[0.0; 3]; V];
        for (xi, &n) in x.iter_mut().zip(&nodes[..V]) {
            xi[..dim].copy_from_slice(&self.coords[n * dim..(n + 1) * dim]);
        }
        x
    }

    /// Signed measure (length, area or volume) of cell `c`, of the straight-sided cell through
    /// its vertices (for curved order-2 cells, that approximation).
    ///
    /// # Panics
    /// If `c >= num_cells()`.
    pub fn cell_measure(&self, c: usize) -> f64 {
        self.with_corners(c, |x| signed_measure(self.cell_kind, x))
    }

    /// Shape quality of cell `c` in `(0, 1]`, 1 for the ideal shape (equilateral simplices,
    /// squares and cubes): normalised measure over squared edge lengths for simplices, the
    /// smallest scaled corner Jacobian for quadrilaterals and hexahedra. Judged by the
    /// vertices, as [`Mesh::cell_measure`].
    ///
    /// # Panics
    /// If `c >= num_cells()`.
    pub fn cell_quality(&self, c: usize) -> f64 {
        self.with_corners(c, |x| quality(self.cell_kind, x))
    }

    /// Mesh size `h`: the largest distance between two nodes of one cell (all nodes of the
    /// layout, so curved order-2 cells count their bulge).
    pub fn max_cell_diameter(&self) -> f64 {
        (0..self.num_cells())
            .map(|c| self.cell_diameter(c))
            .fold(0.0, f64::max)
    }

    /// The largest distance between two nodes of cell `c`.
    ///
    /// # Panics
    /// If `c >= num_cells()`.
    pub fn cell_diameter(&self, c: usize) -> f64 {
        let v = self.view();
        let n = v.cell(c);
        let mut d: f64 = 0.0;
        for a in 0..n.len() {
            for b in a + 1..n.len() {
                let (p, q) = (v.point(n[a]), v.point(n[b]));
                let dist = (0..3).map(|k| (p[k] - q[k]).powi(2)).sum::<f64>().sqrt();
                d = d.max(dist);
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell whose measure leaves the range of f64 is said to be that, not zero-measure.
    #[test]
    fn a_mesh_beyond_double_precision_is_told_from_a_degenerate_cell() {
        let triangle = |scale: f64| {
            let coords = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0].map(|x| x * scale).to_vec();
            Mesh::try_new(2, coords, CellKind::Triangle, vec![0, 1, 2], vec![])
        };
        for (scale, says) in [(1e200, "overflows"), (1e-200, "underflows")] {
            let e = triangle(scale).unwrap_err().to_string();
            assert!(e.contains(says), "{scale}: {e}");
        }
        let flat = [0.0, 0.0, 1.0, 0.0, 2.0, 0.0].to_vec();
        let e = Mesh::try_new(2, flat, CellKind::Triangle, vec![0, 1, 2], vec![]).unwrap_err();
        assert!(e.to_string().contains("(zero measure)"), "{e}");
        triangle(1e100).unwrap();
    }

    #[test]
    fn views_are_marked_valid_once_the_mesh_was_checked_and_until_it_changes() {
        // Built meshes are checked by the builder.
        let coords = vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        let built = Mesh::try_new(2, coords, CellKind::Triangle, vec![0, 1, 2], vec![]).unwrap();
        assert!(built.view().validated.is_known());
        // Generated ones by construction; clones keep the mark, equality ignores it.
        let mut mesh = Mesh::rectangle(&crate::RectangleSpec {
            nx: 3,
            ny: 2,
            ..Default::default()
        })
        .unwrap();
        assert!(mesh.view().validated.is_known() && mesh.clone().view().validated.is_known());
        // A change through `&mut self` drops the mark until the next check.
        mesh.add_boundary_part_where("inlet", |p| p[0] < 1e-12)
            .unwrap();
        let unchecked = mesh.clone();
        assert!(!mesh.view().validated.is_known());
        mesh.validate().unwrap();
        assert!(mesh.view().validated.is_known());
        assert!(!unchecked.view().validated.is_known());
        assert_eq!(mesh, unchecked);
        // `MeshView::checked` marks only what passes.
        let bad = MeshView {
            cells: &[0, 1, 99],
            validated: Validated::NO,
            ..unchecked.view()
        };
        assert!(bad.checked().is_err());
        assert!(unchecked.view().checked().unwrap().validated.is_known());
    }

    #[test]
    fn rejects_bad_connectivity_and_inverted_cells() {
        let coords = vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        assert!(
            Mesh::try_new(2, coords.clone(), CellKind::Triangle, vec![0, 1, 2], vec![]).is_ok()
        );
        // A clockwise triangle is reoriented and counted.
        let m =
            Mesh::try_new(2, coords.clone(), CellKind::Triangle, vec![0, 2, 1], vec![]).unwrap();
        assert_eq!((m.cells(), m.reoriented_cells()), (&[0, 1, 2][..], 1));
        let e = Mesh::try_new(
            2,
            vec![0.0, 0.0, 1.0, 0.0, 2.0, 0.0],
            CellKind::Triangle,
            vec![0, 1, 2],
            vec![],
        )
        .unwrap_err();
        assert!(e.to_string().contains("degenerate"), "{e}");
        let e = Mesh::try_new(
            2,
            vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            CellKind::Triangle,
            vec![0, 1, 2, 2, 0, 1],
            vec![],
        )
        .unwrap_err();
        assert!(e.to_string().contains("same nodes"), "{e}");
        let e = Mesh::try_new(2, coords.clone(), CellKind::Triangle, vec![0, 1, 7], vec![])
            .unwrap_err();
        assert!(e.to_string().contains("node 7"), "{e}");
        let e =
            Mesh::try_new(2, coords.clone(), CellKind::Triangle, vec![0, 1], vec![]).unwrap_err();
        assert!(e.to_string().contains("multiple of 3"), "{e}");
        let e = Mesh::try_new(
            1,
            vec![0.0, f64::NAN],
            CellKind::Interval,
            vec![0, 1],
            vec![],
        )
        .unwrap_err();
        assert!(e.to_string().contains("non-finite"), "{e}");
        // A segment embedded in 2D is rejected rather than assembled with x-only geometry.
        let e = Mesh::try_new(
            2,
            vec![0.0, 0.0, 1.0, 1.0],
            CellKind::Interval,
            vec![0, 1],
            vec![],
        )
        .unwrap_err();
        assert!(e.to_string().contains("dimension"), "{e}");
        // A non-convex quadrilateral has positive area but a negative Jacobian at a corner.
        let dart = vec![0.9, 0.9, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        let e =
            Mesh::try_new(2, dart, CellKind::Quadrilateral, vec![0, 1, 2, 3], vec![]).unwrap_err();
        assert!(e.to_string().contains("convex"), "{e}");
        // Facet end points are added to the part's nodes.
        let part = BoundaryPart::from_facets("b", vec![0, 1]);
        let m = Mesh::try_new(2, coords, CellKind::Triangle, vec![0, 1, 2], vec![part]).unwrap();
        assert_eq!(m.boundary_part("b").unwrap().nodes, vec![0, 1]);
    }
}
