//! Structured mesh generators.

use femscale_core::{BoundaryPart, CellKind, Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::mesh::{Derived, Mesh};

/// Largest node count a generator accepts (protects against absurd sizes from untrusted input).
pub const MAX_GENERATED_NODES: usize = 1 << 30;

/// Which diagonal splits each rectangle into two triangles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Diagonal {
    /// From bottom-left to top-right (`/`).
    #[default]
    Right,
    /// From bottom-right to top-left (`\`).
    Left,
    /// `/` and `\` in a checkerboard pattern.
    Alternating,
}

/// The cells a rectangle is divided into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RectangleCells {
    /// Two triangles per rectangle (P1).
    #[default]
    Triangle,
    /// One quadrilateral per rectangle (Q1).
    #[serde(alias = "quad")]
    Quadrilateral,
}

/// A structured mesh of `[x0, x1] x [y0, y1]` with `nx` by `ny` rectangles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RectangleSpec {
    /// `[x0, x1]`, `x0 < x1`.
    pub x: [f64; 2],
    /// `[y0, y1]`, `y0 < y1`.
    pub y: [f64; 2],
    /// Rectangles along x (>= 1).
    pub nx: usize,
    /// Rectangles along y (>= 1).
    pub ny: usize,
    /// Triangles or quadrilaterals.
    pub cells: RectangleCells,
    /// Diagonal direction for triangles.
    pub diagonal: Diagonal,
}

impl Default for RectangleSpec {
    fn default() -> Self {
        Self {
            x: [0.0, 1.0],
            y: [0.0, 1.0],
            nx: 16,
            ny: 16,
            cells: RectangleCells::Triangle,
            diagonal: Diagonal::Right,
        }
    }
}

pub(crate) fn check_range(field: &str, r: [f64; 2]) -> Result<()> {
    if !(r[0].is_finite() && r[1].is_finite()) {
        return Err(Error::invalid(
            field,
            format!("range [{}, {}] must be finite", r[0], r[1]),
        ));
    }
    if r[0] >= r[1] {
        return Err(Error::invalid(
            field,
            format!(
                "range [{}, {}] is empty or reversed (need start < end)",
                r[0], r[1]
            ),
        ));
    }
    let (width, reach) = (r[1] - r[0], r[0].abs().max(r[1].abs()));
    if !(MIN_EXTENT..=MAX_EXTENT).contains(&width) || reach > MAX_EXTENT {
        return Err(Error::invalid(
            field,
            format!(
                "range [{:e}, {:e}] is outside what the element integrals can represent: \
                 widths from {MIN_EXTENT:e} to {MAX_EXTENT:e} and coordinates up to \
                 {MAX_EXTENT:e} in magnitude (cell measures and their powers would underflow \
                 or overflow f64); scale the problem's units",
                r[0], r[1]
            ),
        ));
    }
    Ok(())
}

/// The narrowest width of a generated mesh's range.
pub const MIN_EXTENT: f64 = 1e-30;
/// The widest range and the largest coordinate magnitude of a generated mesh.
pub const MAX_EXTENT: f64 = 1e30;

pub(crate) fn check_count(field: &str, n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid(field, "must be at least 1"));
    }
    Ok(())
}

/// `n + 1` equally spaced, strictly increasing coordinates from `r[0]` to exactly `r[1]`.
pub(crate) fn axis_nodes(
    range_field: &str,
    count_field: &str,
    r: [f64; 2],
    n: usize,
) -> Result<Vec<f64>> {
    let h = (r[1] - r[0]) / n as f64;
    if !h.is_finite() {
        return Err(Error::invalid(
            range_field,
            format!("the width of [{}, {}] overflows", r[0], r[1]),
        ));
    }
    let mut nodes: Vec<f64> = (0..=n).map(|i| r[0] + h * i as f64).collect();
    nodes[n] = r[1];
    if nodes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::invalid(
            count_field,
            format!(
                "{n} elements on [{}, {}] are too many: node coordinates would coincide in f64",
                r[0], r[1]
            ),
        ));
    }
    Ok(nodes)
}

impl Mesh {
    /// `n` equal segments on `[a, b]`; boundary parts `left` (x = a, marker 1), `right`
    /// (x = b, marker 2) and `all`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for `n == 0`, a non-finite, empty or reversed range.
    pub fn interval(a: f64, b: f64, n: usize) -> Result<Self> {
        check_count("nx", n)?;
        check_range("x", [a, b])?;
        if n >= MAX_GENERATED_NODES {
            return Err(Error::invalid(
                "nx",
                format!("{n} elements is more than supported"),
            ));
        }
        let nodes = axis_nodes("x", "nx", [a, b], n)?;
        Self::interval_from_nodes(nodes)
    }

    /// An interval mesh through the given node coordinates (strictly increasing, at least two).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if fewer than two nodes are given or they are not strictly
    /// increasing and finite.
    pub fn interval_from_nodes(nodes: Vec<f64>) -> Result<Self> {
        if nodes.len() < 2 {
            return Err(Error::invalid("nodes", "need at least two nodes"));
        }
        if let Some(i) = nodes.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid("nodes", format!("node {i} is not finite")));
        }
        if let Some(i) = nodes.windows(2).position(|w| w[0] >= w[1]) {
            return Err(Error::invalid(
                "nodes",
                format!(
                    "nodes must be strictly increasing: node {} = {} >= node {} = {}",
                    i,
                    nodes[i],
                    i + 1,
                    nodes[i + 1]
                ),
            ));
        }
        let n = nodes.len() - 1;
        let cells: Vec<usize> = (0..n).flat_map(|i| [i, i + 1]).collect();
        let part = |name: &str, id: Option<i32>, nodes: Vec<usize>| BoundaryPart {
            name: name.into(),
            id,
            facets: nodes.clone(),
            nodes,
        };
        let boundary = vec![
            part("left", Some(1), vec![0]),
            part("right", Some(2), vec![n]),
            part("all", None, vec![0, n]),
        ];
        // Valid by construction (finite, strictly increasing nodes; cells left to right, each
        // node the end of at most two cells): no O(cells) validation pass, as for rectangles.
        // A test checks this equals the validated construction.
        Ok(Self::generated(
            1,
            nodes,
            CellKind::Interval,
            cells,
            boundary,
        ))
    }

    /// A structured rectangle mesh; boundary parts `left`, `right`, `bottom`, `top` (markers
    /// 1 to 4, as `where = 3` may name them) and `all`.
    ///
    /// Nodes are numbered row by row (`j * (nx + 1) + i`), cells row by row, all
    /// counter-clockwise; boundary facets run counter-clockwise around the rectangle.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for zero counts, non-finite, empty or reversed ranges, or a mesh
    /// larger than [`MAX_GENERATED_NODES`].
    pub fn rectangle(spec: &RectangleSpec) -> Result<Self> {
        check_count("nx", spec.nx)?;
        check_count("ny", spec.ny)?;
        check_range("x", spec.x)?;
        check_range("y", spec.y)?;
        let (nx, ny) = (spec.nx, spec.ny);
        let num_nodes = nx
            .checked_add(1)
            .zip(ny.checked_add(1))
            .and_then(|(a, b)| a.checked_mul(b))
            .filter(|&n| n <= MAX_GENERATED_NODES);
        let Some(num_nodes) = num_nodes else {
            return Err(Error::invalid(
                "nx",
                format!("a {nx} x {ny} mesh exceeds the supported {MAX_GENERATED_NODES} nodes"),
            ));
        };
        let xs = axis_nodes("x", "nx", spec.x, nx)?;
        let ys = axis_nodes("y", "ny", spec.y, ny)?;

        let mut coords = vec![0.0; 2 * num_nodes];
        coords
            .par_chunks_mut(2 * (nx + 1))
            .zip(&ys)
            .for_each(|(row, &y)| {
                for (p, &x) in row.chunks_exact_mut(2).zip(&xs) {
                    p[0] = x;
                    p[1] = y;
                }
            });

        let node = move |i: usize, j: usize| j * (nx + 1) + i;
        let (kind, per_row) = match spec.cells {
            RectangleCells::Triangle => (CellKind::Triangle, 6 * nx),
            RectangleCells::Quadrilateral => (CellKind::Quadrilateral, 4 * nx),
        };
        let mut cells = vec![0usize; per_row * ny];
        let diagonal = spec.diagonal;
        cells
            .par_chunks_mut(per_row)
            .enumerate()
            .for_each(|(j, row)| {
                for i in 0..nx {
                    let (n00, n10, n11, n01) = (
                        node(i, j),
                        node(i + 1, j),
                        node(i + 1, j + 1),
                        node(i, j + 1),
                    );
                    match kind {
                        CellKind::Quadrilateral => {
                            row[4 * i..4 * i + 4].copy_from_slice(&[n00, n10, n11, n01])
                        }
                        _ => {
                            let right = match diagonal {
                                Diagonal::Right => true,
                                Diagonal::Left => false,
                                Diagonal::Alternating => (i + j) % 2 == 0,
                            };
                            let pair = if right {
                                [n00, n10, n11, n00, n11, n01]
                            } else {
                                [n00, n10, n01, n10, n11, n01]
                            };
                            row[6 * i..6 * i + 6].copy_from_slice(&pair);
                        }
                    }
                }
            });

        let edges = |pairs: Vec<(usize, usize)>| -> Vec<usize> {
            pairs.into_iter().flat_map(|(a, b)| [a, b]).collect()
        };
        let bottom = edges((0..nx).map(|i| (node(i, 0), node(i + 1, 0))).collect());
        let right = edges((0..ny).map(|j| (node(nx, j), node(nx, j + 1))).collect());
        let top = edges(
            (0..nx)
                .rev()
                .map(|i| (node(i + 1, ny), node(i, ny)))
                .collect(),
        );
        let left = edges(
            (0..ny)
                .rev()
                .map(|j| (node(0, j + 1), node(0, j)))
                .collect(),
        );
        let all: Vec<usize> = [&bottom, &right, &top, &left]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let part = |name: &str, id: Option<i32>, facets: Vec<usize>| {
            let mut nodes = facets.clone();
            nodes.sort_unstable();
            nodes.dedup();
            BoundaryPart {
                name: name.into(),
                id,
                facets,
                nodes,
            }
        };
        let boundary = vec![
            part("left", Some(1), left),
            part("right", Some(2), right),
            part("bottom", Some(3), bottom),
            part("top", Some(4), top),
            part("all", None, all),
        ];
        // Generated meshes are valid by construction; skip the O(cells) validation pass.
        Ok(Self::generated(2, coords, kind, cells, boundary))
    }

    /// A first-order mesh without markers from a generator's arrays, taken as they are: the
    /// generators build meshes valid by construction (their tests compare them with the
    /// validated construction), so no O(cells) validation pass runs.
    pub(crate) fn generated(
        dim: usize,
        coords: Vec<f64>,
        cell_kind: CellKind,
        cells: Vec<usize>,
        boundary: Vec<BoundaryPart>,
    ) -> Self {
        Self {
            dim,
            coords,
            cell_kind,
            order: femscale_core::Order::Linear,
            curved: false,
            cells,
            boundary,
            cell_markers: Vec::new(),
            subdomains: Vec::new(),
            reoriented_cells: 0,
            derived: Derived::valid_by_construction(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_intervals_equal_their_validated_construction() {
        for nodes in [
            vec![0.0, 1.0],
            vec![-2.0, -1.5, 0.25, 3.0],
            (0..50).map(f64::from).collect(),
        ] {
            let fast = Mesh::interval_from_nodes(nodes.clone()).unwrap();
            let n = nodes.len() - 1;
            let cells: Vec<usize> = (0..n).flat_map(|i| [i, i + 1]).collect();
            let checked = Mesh::try_new(
                1,
                nodes,
                CellKind::Interval,
                cells,
                fast.boundary_parts().to_vec(),
            )
            .unwrap();
            assert_eq!(fast, checked);
            // Known valid without a pass, as the checked construction is after its pass.
            assert!(fast.view().validated.is_known());
            assert!(checked.view().validated.is_known());
        }
    }

    #[test]
    fn interval_has_end_parts_and_exact_end_points() {
        let m = Mesh::interval(0.0, 0.3, 3).unwrap();
        assert_eq!(m.num_nodes(), 4);
        assert_eq!(m.coords()[3], 0.3);
        assert_eq!(m.boundary_part("right").unwrap().nodes, vec![3]);
        assert!(Mesh::interval(0.0, 1.0, 0).is_err());
        assert!(Mesh::interval(1.0, 1.0, 4).is_err());
        assert!(Mesh::interval(1.0, 0.0, 4).is_err());
        assert!(Mesh::interval(0.0, f64::INFINITY, 4).is_err());
        assert!(Mesh::interval_from_nodes(vec![0.0, 0.5, 0.5]).is_err());
    }

    #[test]
    fn rectangle_rejects_bad_specs_naming_the_field() {
        let bad = |spec: RectangleSpec, field: &str| {
            let e = Mesh::rectangle(&spec).unwrap_err();
            assert_eq!(e.field_name().as_deref(), Some(field), "{e}");
        };
        bad(
            RectangleSpec {
                nx: 0,
                ..Default::default()
            },
            "nx",
        );
        bad(
            RectangleSpec {
                ny: 0,
                ..Default::default()
            },
            "ny",
        );
        bad(
            RectangleSpec {
                x: [1.0, 0.0],
                ..Default::default()
            },
            "x",
        );
        bad(
            RectangleSpec {
                y: [0.0, f64::NAN],
                ..Default::default()
            },
            "y",
        );
        bad(
            RectangleSpec {
                nx: usize::MAX,
                ..Default::default()
            },
            "nx",
        );
        bad(
            RectangleSpec {
                x: [-1e308, 1e308],
                ..Default::default()
            },
            "x",
        );
        bad(
            RectangleSpec {
                y: [1.0, 1.0 + 2e-16],
                ny: 4,
                ..Default::default()
            },
            "ny",
        );
        // Ranges whose cell measures would underflow or overflow: the range is named.
        for (x, y) in [([0.0, 1e-200], [0.0, 1.0]), ([0.0, 1.0], [0.0, 1e300])] {
            let field = if x[1] < 1.0 { "x" } else { "y" };
            bad(
                RectangleSpec {
                    x,
                    y,
                    ..Default::default()
                },
                field,
            );
        }
        bad(
            RectangleSpec {
                x: [1e31, 1e31 + 1e20],
                ..Default::default()
            },
            "x",
        );
        Mesh::rectangle(&RectangleSpec {
            x: [-5e29, 5e29],
            y: [0.0, 1e-30],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            Mesh::interval(-1e308, 1e308, 3)
                .unwrap_err()
                .field_name()
                .as_deref(),
            Some("x")
        );
    }

    proptest! {
        #[test]
        fn rectangles_are_valid_and_tile_the_domain(
            nx in 1usize..12, ny in 1usize..12, quad in any::<bool>(), diag in 0u8..3,
            x0 in -5.0f64..5.0, wx in 0.1f64..3.0, y0 in -5.0f64..5.0, wy in 0.1f64..3.0,
        ) {
            let spec = RectangleSpec {
                x: [x0, x0 + wx], y: [y0, y0 + wy], nx, ny,
                cells: if quad { RectangleCells::Quadrilateral } else { RectangleCells::Triangle },
                diagonal: [Diagonal::Right, Diagonal::Left, Diagonal::Alternating][diag as usize],
            };
            let m = Mesh::rectangle(&spec).unwrap();
            // Validation through the checked constructor must accept generated meshes.
            let checked = Mesh::try_new(2, m.coords().to_vec(), m.cell_kind(), m.cells().to_vec(), m.boundary_parts().to_vec()).unwrap();
            let area: f64 = (0..checked.num_cells()).map(|c| checked.cell_measure(c)).sum();
            prop_assert!((area - wx * wy).abs() < 1e-9 * wx * wy);
            let all = m.boundary_part("all").unwrap();
            prop_assert_eq!(all.nodes.len(), 2 * (nx + ny));
            prop_assert_eq!(all.facets.len(), 2 * 2 * (nx + ny));
            // Boundary facets run counter-clockwise: the signed length sum around is zero,
            // and the area by the shoelace formula over facets is positive and equals the domain.
            let pts = m.points();
            let shoelace: f64 = all.facets.chunks(2).map(|e| {
                let (a, b) = (pts[e[0]], pts[e[1]]);
                a[0] * b[1] - b[0] * a[1]
            }).sum::<f64>() / 2.0;
            prop_assert!((shoelace - wx * wy).abs() < 1e-9 * (1.0 + wx * wy));
        }
    }
}
