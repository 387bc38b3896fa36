//! The owned mesh type and its validation.

use femscale_core::{BoundaryPart, CellKind, Error, MeshView, Result};

/// A mesh with one kind of cell, node coordinates and named boundary parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    pub(crate) dim: usize,
    pub(crate) coords: Vec<f64>,
    pub(crate) cell_kind: CellKind,
    pub(crate) cells: Vec<usize>,
    pub(crate) boundary: Vec<BoundaryPart>,
}

impl Mesh {
    /// Builds a mesh from raw arrays after validating them: coordinates finite, connectivity
    /// a whole number of cells with node indices in range, no cell of zero or negative measure
    /// (2D cells must be counter-clockwise), boundary facets and nodes in range.
    ///
    /// # Errors
    /// [`Error::Mesh`] naming the first offending cell, node or boundary part.
    pub fn try_new(
        dim: usize,
        coords: Vec<f64>,
        cell_kind: CellKind,
        cells: Vec<usize>,
        mut boundary: Vec<BoundaryPart>,
    ) -> Result<Self> {
        let fail = |message: String| {
            Err(Error::Mesh {
                location: None,
                message,
            })
        };
        if !(1..=3).contains(&dim) || dim < cell_kind.dim() {
            return fail(format!("dimension {dim} cannot hold {cell_kind:?} cells"));
        }
        if !coords.len().is_multiple_of(dim) {
            return fail(format!(
                "{} coordinates are not a multiple of dim = {dim}",
                coords.len()
            ));
        }
        if let Some(k) = coords.iter().position(|c| !c.is_finite()) {
            return fail(format!("node {} has a non-finite coordinate", k / dim));
        }
        let num_nodes = coords.len() / dim;
        let npc = cell_kind.nodes_per_cell();
        if cells.is_empty() || !cells.len().is_multiple_of(npc) {
            return fail(format!(
                "connectivity of {} entries is not a positive multiple of {npc} nodes per cell",
                cells.len()
            ));
        }
        if let Some(k) = cells.iter().position(|&n| n >= num_nodes) {
            return fail(format!(
                "cell {} refers to node {}, but the mesh has {num_nodes} nodes",
                k / npc,
                cells[k]
            ));
        }
        for part in &mut boundary {
            if let Some(&n) = part
                .nodes
                .iter()
                .chain(&part.facets)
                .find(|&&n| n >= num_nodes)
            {
                return fail(format!(
                    "boundary part `{}` refers to missing node {n}",
                    part.name
                ));
            }
            if part.facets.len() % cell_kind.nodes_per_facet() != 0 {
                return fail(format!("boundary part `{}` has a partial facet", part.name));
            }
            part.nodes.sort_unstable();
            part.nodes.dedup();
        }
        let mesh = Self {
            dim,
            coords,
            cell_kind,
            cells,
            boundary,
        };
        if let Some(c) = (0..mesh.num_cells()).find(|&c| !is_positive(mesh.cell_measure(c))) {
            return fail(format!(
                "cell {c} (nodes {:?}) has zero or negative measure (2D cells must be counter-clockwise)",
                mesh.view().cell(c)
            ));
        }
        Ok(mesh)
    }

    /// The borrowed view assemblers work on.
    pub fn view(&self) -> MeshView<'_> {
        MeshView {
            dim: self.dim,
            coords: &self.coords,
            cell_kind: self.cell_kind,
            cells: &self.cells,
            boundary: &self.boundary,
        }
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
        self.cells.len() / self.cell_kind.nodes_per_cell()
    }

    /// The kind of every cell.
    pub fn cell_kind(&self) -> CellKind {
        self.cell_kind
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

    /// The boundary part called `name`.
    pub fn boundary_part(&self, name: &str) -> Option<&BoundaryPart> {
        self.boundary.iter().find(|b| b.name == name)
    }

    /// Node coordinates as points padded to three components.
    pub fn points(&self) -> Vec<[f64; 3]> {
        let v = self.view();
        (0..self.num_nodes()).map(|i| v.point(i)).collect()
    }

    /// Signed measure (length or area) of cell `c`.
    ///
    /// # Panics
    /// If `c >= num_cells()`.
    pub fn cell_measure(&self, c: usize) -> f64 {
        let v = self.view();
        let n = v.cell(c);
        let p = |i: usize| v.point(n[i]);
        match self.cell_kind {
            CellKind::Interval => p(1)[0] - p(0)[0],
            CellKind::Triangle => cross(p(0), p(1), p(2)) / 2.0,
            CellKind::Quadrilateral => (cross(p(0), p(1), p(2)) + cross(p(0), p(2), p(3))) / 2.0,
        }
    }

    /// Mesh size `h`: the largest distance between two nodes of one cell.
    pub fn max_cell_diameter(&self) -> f64 {
        let v = self.view();
        (0..self.num_cells())
            .map(|c| {
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
            })
            .fold(0.0, f64::max)
    }
}

/// `v > 0` (false for NaN).
fn is_positive(v: f64) -> bool {
    v.partial_cmp(&0.0) == Some(std::cmp::Ordering::Greater)
}

/// Twice the signed area of triangle (a, b, c) in the xy-plane.
fn cross(a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_connectivity_and_inverted_cells() {
        let coords = vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        assert!(
            Mesh::try_new(2, coords.clone(), CellKind::Triangle, vec![0, 1, 2], vec![]).is_ok()
        );
        let e = Mesh::try_new(2, coords.clone(), CellKind::Triangle, vec![0, 2, 1], vec![])
            .unwrap_err();
        assert!(e.to_string().contains("negative measure"), "{e}");
        let e = Mesh::try_new(2, coords.clone(), CellKind::Triangle, vec![0, 1, 7], vec![])
            .unwrap_err();
        assert!(e.to_string().contains("node 7"), "{e}");
        let e = Mesh::try_new(2, coords, CellKind::Triangle, vec![0, 1], vec![]).unwrap_err();
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
    }
}
