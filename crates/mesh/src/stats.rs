//! Mesh statistics for reports ([`Mesh::stats`]).

use femscale_core::{BoundaryCount, CellKind, MeshStats, SubdomainCount};
use rayon::prelude::*;

use crate::geometry::quality;
use crate::mesh::Mesh;

impl Mesh {
    /// The smallest and largest [`Mesh::cell_quality`], over the cells in parallel, once per
    /// mesh (kept until a `&mut self` method changes it).
    fn quality_range(&self) -> (f64, f64) {
        // Not `get_or_init`: the computation runs on rayon, whose waiting thread may take up
        // another job that asks for the same mesh's statistics (re-entering would deadlock).
        if let Some(range) = self.derived.quality.get() {
            return *range;
        }
        let range = self.compute_quality_range();
        let _ = self.derived.quality.set(range);
        range
    }

    fn compute_quality_range(&self) -> (f64, f64) {
        // One monomorphic loop per cell kind and dimension: the kind is a constant in each, so
        // `quality` inlines to that kind's formula and the corners are gathered without a
        // copy of runtime length (a generic loop took 4-5 times as long).
        match (self.cell_kind(), self.dim) {
            (CellKind::Triangle, 2) => self.quality_range_of::<3, 2>(CellKind::Triangle),
            (CellKind::Triangle, 3) => self.quality_range_of::<3, 3>(CellKind::Triangle),
            (CellKind::Quadrilateral, 2) => self.quality_range_of::<4, 2>(CellKind::Quadrilateral),
            (CellKind::Tetrahedron, 3) => self.quality_range_of::<4, 3>(CellKind::Tetrahedron),
            (CellKind::Hexahedron, 3) => self.quality_range_of::<8, 3>(CellKind::Hexahedron),
            _ => self.quality_range_generic(),
        }
    }

    /// [`Mesh::compute_quality_range`] for any kind and dimension.
    fn quality_range_generic(&self) -> (f64, f64) {
        let kind = self.cell_kind();
        let empty = || (f64::INFINITY, f64::NEG_INFINITY);
        self.cells
            .par_chunks(self.view().nodes_per_cell())
            .with_min_len(4096)
            .fold(empty, |(lo, hi), nodes| {
                let q = match kind.num_vertices() {
                    2 => quality(kind, &self.gather::<2>(nodes)),
                    3 => quality(kind, &self.gather::<3>(nodes)),
                    4 => quality(kind, &self.gather::<4>(nodes)),
                    _ => quality(kind, &self.gather::<8>(nodes)),
                };
                (lo.min(q), hi.max(q))
            })
            .reduce(empty, |a, b| (a.0.min(b.0), a.1.max(b.1)))
    }

    /// The quality range of cells of `kind` with `V` vertices in `D` dimensions.
    fn quality_range_of<const V: usize, const D: usize>(&self, kind: CellKind) -> (f64, f64) {
        debug_assert_eq!((kind.num_vertices(), self.dim), (V, D));
        let empty = || (f64::INFINITY, f64::NEG_INFINITY);
        let coords = &self.coords;
        self.cells
            .par_chunks(self.view().nodes_per_cell())
            .with_min_len(4096)
            .fold(empty, |(lo, hi), nodes| {
                let mut x = [[0.0; 3]; V];
                for (xi, &n) in x.iter_mut().zip(nodes) {
                    xi[..D].copy_from_slice(&coords[n * D..n * D + D]);
                }
                let q = quality(kind, &x);
                (lo.min(q), hi.max(q))
            })
            .reduce(empty, |a, b| (a.0.min(b.0), a.1.max(b.1)))
    }

    /// Sizes, the range of cell quality (see [`Mesh::cell_quality`]), cells per subdomain and
    /// facets per boundary part; the cells are visited in parallel.
    ///
    /// ```
    /// use femscale_mesh::{Mesh, RectangleSpec};
    /// let mesh = Mesh::rectangle(&RectangleSpec { nx: 2, ny: 1, ..RectangleSpec::default() }).unwrap();
    /// let s = mesh.stats();
    /// assert_eq!((s.cell_kind.as_str(), s.cells, s.nodes), ("triangle", 4, 6));
    /// assert_eq!(s.boundary.last().map(|b| (b.name.as_str(), b.facets)), Some(("all", 6)));
    /// ```
    pub fn stats(&self) -> MeshStats {
        let (min_quality, max_quality) = if self.cell_kind() == CellKind::Interval {
            // Every valid interval has quality 1 (see `Mesh::cell_quality`): no pass over
            // 10^7 cells for it.
            if self.num_cells() == 0 {
                (f64::INFINITY, f64::NEG_INFINITY)
            } else {
                (1.0, 1.0)
            }
        } else {
            self.quality_range()
        };
        let subdomains = self.subdomains();
        let counts = self
            .cell_markers()
            .par_iter()
            .fold(
                || vec![0usize; subdomains.len()],
                |mut acc, m| {
                    if let Ok(k) = subdomains.binary_search_by_key(m, |s| s.id) {
                        acc[k] += 1;
                    }
                    acc
                },
            )
            .reduce(
                || vec![0; subdomains.len()],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let npf = self.view().nodes_per_facet();
        let mut stats = MeshStats::default();
        stats.cell_kind = self.cell_kind().name().into();
        stats.cells = self.num_cells();
        stats.nodes = self.num_nodes();
        stats.reoriented_cells = self.reoriented_cells();
        stats.min_quality = min_quality;
        stats.max_quality = max_quality;
        stats.subdomains = subdomains
            .iter()
            .zip(counts)
            .map(|(s, cells)| SubdomainCount {
                name: s.name.clone(),
                id: s.id,
                cells,
            })
            .collect();
        stats.boundary = self
            .boundary_parts()
            .iter()
            .map(|p| BoundaryCount {
                name: p.name.clone(),
                id: p.id,
                facets: p.facets.len() / npf,
            })
            .collect();
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use femscale_core::CellKind;

    #[test]
    fn stats_count_cells_per_subdomain_and_facets_per_part() {
        // Two triangles of the unit square, the second given clockwise.
        let coords = vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        let mesh = Mesh::builder(2, coords, CellKind::Triangle, vec![0, 1, 2, 0, 3, 2])
            .cell_markers(vec![7, 3])
            .subdomain_name(7, "copper")
            .facet_markers(vec![0, 1, 3, 0, 1, 2], vec![11, 11, 12])
            .build()
            .unwrap();
        let s = mesh.stats();
        assert_eq!((s.cells, s.nodes, s.reoriented_cells), (2, 4, 1));
        let sub: Vec<_> = s
            .subdomains
            .iter()
            .map(|d| (d.name.as_deref(), d.id, d.cells))
            .collect();
        assert_eq!(sub, [(None, 3, 1), (Some("copper"), 7, 1)]);
        let parts: Vec<_> = s
            .boundary
            .iter()
            .map(|b| (b.name.as_str(), b.id, b.facets))
            .collect();
        assert_eq!(
            parts,
            [("11", Some(11), 2), ("12", Some(12), 1), ("all", None, 4)]
        );
        // Right isosceles triangles: both of the same quality, below the equilateral 1.
        assert_eq!(s.min_quality, s.max_quality);
        assert!(
            s.min_quality > 0.5 && s.min_quality < 1.0,
            "{}",
            s.min_quality
        );
        assert_eq!(s.min_quality, mesh.cell_quality(0));
    }

    #[test]
    fn the_quality_range_is_computed_once_and_forgotten_when_the_mesh_changes() {
        let spec = crate::RectangleSpec {
            nx: 3,
            ny: 2,
            ..Default::default()
        };
        let mut mesh = Mesh::rectangle(&spec).unwrap();
        assert!(mesh.derived.quality.get().is_none());
        let first = mesh.stats();
        assert_eq!(
            mesh.derived.quality.get(),
            Some(&(first.min_quality, first.max_quality))
        );
        assert_eq!(
            mesh.clone().derived.quality.get(),
            mesh.derived.quality.get()
        );
        mesh.add_boundary_part_where("inlet", |p| p[0] < 1e-12)
            .unwrap();
        assert!(mesh.derived.quality.get().is_none());
        let again = mesh.stats();
        assert_eq!(
            (again.min_quality, again.max_quality),
            (first.min_quality, first.max_quality)
        );
    }

    #[test]
    fn the_quality_range_is_that_of_every_cell() {
        use crate::{BoxCells, BoxSpec, RectangleCells, RectangleSpec};
        use femscale_core::Order;
        let rect = |cells| RectangleSpec {
            nx: 70,
            ny: 40,
            cells,
            ..Default::default()
        };
        let cube = |cells| BoxSpec {
            nx: 9,
            ny: 7,
            nz: 5,
            cells,
            ..Default::default()
        };
        let meshes = [
            Mesh::interval(0.0, 1.0, 5000).unwrap(),
            Mesh::rectangle(&rect(RectangleCells::Triangle)).unwrap(),
            Mesh::rectangle(&rect(RectangleCells::Quadrilateral)).unwrap(),
            Mesh::cuboid(&cube(BoxCells::Tetrahedron)).unwrap(),
            Mesh::cuboid(&cube(BoxCells::Hexahedron)).unwrap(),
        ];
        for mesh in meshes {
            for order in [Order::Linear, Order::Quadratic] {
                let mut mesh = mesh.clone().with_order(order).unwrap();
                // Distorted (smoothly, so that no cell folds): qualities differ cell by cell.
                let dim = mesh.dim;
                for p in mesh.coords.chunks_exact_mut(dim) {
                    let shift = 0.02 * (7.0 * p[0]).sin() * (1.0 + p[dim - 1]);
                    p[0] += shift;
                }
                // Each cell's quality from the view's points, independently of `corners`.
                let view = mesh.view();
                let vertices = mesh.cell_kind().num_vertices();
                let each = (0..mesh.num_cells()).map(|c| {
                    let x: Vec<[f64; 3]> = (view.cell(c)[..vertices].iter())
                        .map(|&n| view.point(n))
                        .collect();
                    let q = crate::geometry::quality(mesh.cell_kind(), &x);
                    assert_eq!(q, mesh.cell_quality(c));
                    q
                });
                let lo = each.clone().fold(f64::INFINITY, f64::min);
                let hi = each.fold(f64::NEG_INFINITY, f64::max);
                assert_eq!(
                    mesh.compute_quality_range(),
                    (lo, hi),
                    "{:?}",
                    mesh.cell_kind()
                );
                assert_eq!(mesh.quality_range_generic(), (lo, hi));
                if dim > 1 {
                    assert!(lo < hi, "{:?}: distortion expected", mesh.cell_kind());
                }
            }
        }
    }
}
