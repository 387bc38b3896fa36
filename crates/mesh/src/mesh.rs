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
        for part in &mut boundary {
            // Facet end points belong to the part's nodes (Dirichlet conditions use the nodes).
            part.nodes.extend_from_slice(&part.facets);
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
        mesh.view().validate()?;
        if let Some(c) = (0..mesh.num_cells()).find(|&c| !mesh.cell_is_valid(c)) {
            return Err(Error::Mesh {
                location: None,
                message: format!(
                    "cell {c} (nodes {:?}) has zero or negative measure or is not convex \
                     (2D cells must be counter-clockwise)",
                    mesh.view().cell(c)
                ),
            });
        }
        Ok(mesh)
    }

    /// Whether cell `c` has positive measure and, for quadrilaterals, is strictly convex (a
    /// positive Jacobian at every corner, hence everywhere in the cell).
    fn cell_is_valid(&self, c: usize) -> bool {
        if !is_positive(self.cell_measure(c)) {
            return false;
        }
        if self.cell_kind != CellKind::Quadrilateral {
            return true;
        }
        let v = self.view();
        let n = v.cell(c);
        (0..4).all(|i| {
            is_positive(cross(
                v.point(n[(i + 3) % 4]),
                v.point(n[i]),
                v.point(n[(i + 1) % 4]),
            ))
        })
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
        let part = BoundaryPart {
            name: "b".into(),
            facets: vec![0, 1],
            nodes: vec![],
        };
        let m = Mesh::try_new(2, coords, CellKind::Triangle, vec![0, 1, 2], vec![part]).unwrap();
        assert_eq!(m.boundary_part("b").unwrap().nodes, vec![0, 1]);
    }
}
