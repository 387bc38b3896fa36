//! The structured box generator ([`Mesh::cuboid`]): hexahedra, or six tetrahedra per cube.

use femscale_core::{BoundaryPart, CellKind, Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::generate::{MAX_GENERATED_NODES, axis_nodes, check_count, check_range};
use crate::mesh::Mesh;

/// The cells a cube of a box mesh is divided into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoxCells {
    /// Six tetrahedra per cube around its main diagonal (Kuhn/Freudenthal), conforming
    /// between neighbouring cubes (P1).
    #[default]
    Tetrahedron,
    /// One hexahedron per cube (Q1).
    #[serde(alias = "hex")]
    Hexahedron,
}

/// A structured mesh of `[x0, x1] x [y0, y1] x [z0, z1]` with `nx` by `ny` by `nz` cubes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoxSpec {
    /// `[x0, x1]`, `x0 < x1`.
    pub x: [f64; 2],
    /// `[y0, y1]`, `y0 < y1`.
    pub y: [f64; 2],
    /// `[z0, z1]`, `z0 < z1`.
    pub z: [f64; 2],
    /// Cubes along x (>= 1).
    pub nx: usize,
    /// Cubes along y (>= 1).
    pub ny: usize,
    /// Cubes along z (>= 1).
    pub nz: usize,
    /// Tetrahedra or hexahedra.
    pub cells: BoxCells,
}

impl Default for BoxSpec {
    fn default() -> Self {
        Self {
            x: [0.0, 1.0],
            y: [0.0, 1.0],
            z: [0.0, 1.0],
            nx: 8,
            ny: 8,
            nz: 8,
            cells: BoxCells::Tetrahedron,
        }
    }
}

/// A cube's corners are numbered by bits `x + 2 y + 4 z`. The six tetrahedra of the Kuhn
/// split follow the monotone paths from corner 0 to corner 7, one per order of the axes; odd
/// orders have their nodes 1 and 2 swapped to be positively oriented.
const KUHN: [[usize; 4]; 6] = [
    [0, 1, 3, 7],
    [0, 5, 1, 7],
    [0, 3, 2, 7],
    [0, 2, 6, 7],
    [0, 4, 5, 7],
    [0, 6, 4, 7],
];

/// The hexahedron's nodes as cube corners (bottom face counter-clockwise, then the top).
const HEX: [[usize; 8]; 1] = [[0, 1, 3, 2, 4, 5, 7, 6]];

/// The box faces: name, marker, axis, and which end (0: low, 1: high).
const FACES: [(&str, i32, usize, usize); 6] = [
    ("left", 1, 0, 0),
    ("right", 2, 0, 1),
    ("front", 3, 1, 0),
    ("back", 4, 1, 1),
    ("bottom", 5, 2, 0),
    ("top", 6, 2, 1),
];

impl BoxCells {
    /// The cell kind and the cells of one cube as [`Mesh::cuboid`] writes them, as corner
    /// numbers (bits `x + 2 y + 4 z`); every cube of a box is divided alike.
    pub fn cube(self) -> (CellKind, &'static [&'static [usize]]) {
        const TETS: [&[usize]; 6] = [&KUHN[0], &KUHN[1], &KUHN[2], &KUHN[3], &KUHN[4], &KUHN[5]];
        const HEXES: [&[usize]; 1] = [&HEX[0]];
        match self {
            Self::Tetrahedron => (CellKind::Tetrahedron, &TETS),
            Self::Hexahedron => (CellKind::Hexahedron, &HEXES),
        }
    }
}

/// The facets of a cube's cells on the cube face `axis = end`, as corner numbers in the
/// cells' outward orientation.
fn face_facets(kind: CellKind, cube: &[&[usize]], axis: usize, end: usize) -> Vec<Vec<usize>> {
    let on_face = |corner: usize| (corner >> axis) & 1 == end;
    let mut out = Vec::new();
    for cell in cube {
        for facet in kind.local_facets() {
            if facet.iter().all(|&l| on_face(cell[l])) {
                out.push(facet.iter().map(|&l| cell[l]).collect());
            }
        }
    }
    out
}

impl Mesh {
    /// A structured box mesh; boundary parts `left`, `right` (x = x0, x1; markers 1, 2),
    /// `front`, `back` (y; 3, 4), `bottom`, `top` (z; 5, 6) and `all`, facets oriented
    /// outwards.
    ///
    /// Nodes are numbered x fastest (`(k * (ny + 1) + j) * (nx + 1) + i`), cubes likewise; each
    /// cube is one hexahedron or six positively oriented tetrahedra sharing its diagonal from
    /// `(x0, y0, z0)`-side corner to the opposite one, so that the tetrahedra of neighbouring
    /// cubes share their faces. The mesh is valid by construction and built in parallel,
    /// without a validation pass.
    ///
    /// ```
    /// use femscale_mesh::{BoxCells, BoxSpec, Mesh};
    /// let mesh = Mesh::cuboid(&BoxSpec { nx: 2, ny: 2, nz: 1, ..BoxSpec::default() }).unwrap();
    /// assert_eq!((mesh.num_nodes(), mesh.num_cells()), (18, 24));
    /// assert_eq!(mesh.boundary_part("top").unwrap().facets.len(), 8 * 3);
    /// let hexes = BoxSpec { cells: BoxCells::Hexahedron, ..BoxSpec::default() };
    /// assert_eq!(Mesh::cuboid(&hexes).unwrap().num_cells(), 512);
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for zero counts, non-finite, empty or reversed ranges, or a mesh
    /// larger than [`MAX_GENERATED_NODES`].
    pub fn cuboid(spec: &BoxSpec) -> Result<Self> {
        check_count("nx", spec.nx)?;
        check_count("ny", spec.ny)?;
        check_count("nz", spec.nz)?;
        check_range("x", spec.x)?;
        check_range("y", spec.y)?;
        check_range("z", spec.z)?;
        let (nx, ny, nz) = (spec.nx, spec.ny, spec.nz);
        let num_nodes = (nx.checked_add(1))
            .zip(ny.checked_add(1))
            .zip(nz.checked_add(1))
            .and_then(|((a, b), c)| a.checked_mul(b)?.checked_mul(c))
            .filter(|&n| n <= MAX_GENERATED_NODES);
        let Some(num_nodes) = num_nodes else {
            return Err(Error::invalid(
                "nx",
                format!(
                    "a {nx} x {ny} x {nz} box exceeds the supported {MAX_GENERATED_NODES} nodes"
                ),
            ));
        };
        let xs = axis_nodes("x", "nx", spec.x, nx)?;
        let ys = axis_nodes("y", "ny", spec.y, ny)?;
        let zs = axis_nodes("z", "nz", spec.z, nz)?;

        let (sx, sy) = (nx + 1, (nx + 1) * (ny + 1));
        let mut coords = vec![0.0; 3 * num_nodes];
        (coords.par_chunks_mut(3 * sx).enumerate()).for_each(|(row, out)| {
            let (y, z) = (ys[row % (ny + 1)], zs[row / (ny + 1)]);
            for (p, &x) in out.chunks_exact_mut(3).zip(&xs) {
                p.copy_from_slice(&[x, y, z]);
            }
        });

        let (kind, cube) = spec.cells.cube();
        let npc = kind.nodes_per_cell();
        // The node offset of each cube corner from the cube's first node.
        let offset: [usize; 8] =
            std::array::from_fn(|b| (b & 1) + (b >> 1 & 1) * sx + (b >> 2) * sy);
        let per_row = nx * cube.len() * npc;
        let mut cells = vec![0usize; per_row * ny * nz];
        (cells.par_chunks_mut(per_row).enumerate()).for_each(|(row, out)| {
            let (j, k) = (row % ny, row / ny);
            let mut out = out.chunks_exact_mut(npc);
            for i in 0..nx {
                let base = k * sy + j * sx + i;
                for cell in cube {
                    if let Some(o) = out.next() {
                        for (o, &b) in o.iter_mut().zip(cell.iter()) {
                            *o = base + offset[b];
                        }
                    }
                }
            }
        });

        let mut boundary: Vec<BoundaryPart> = FACES
            .par_iter()
            .map(|&(name, id, axis, end)| {
                let local = face_facets(kind, cube, axis, end);
                // The two axes spanning the face, and the cube layer on it.
                let (a, b) = ((axis + 1) % 3, (axis + 2) % 3);
                let n = [nx, ny, nz];
                let mut facets = Vec::with_capacity(n[a] * n[b] * local.len() * npc);
                for q in 0..n[b] {
                    for p in 0..n[a] {
                        let mut ijk = [0; 3];
                        ijk[axis] = end * (n[axis] - 1);
                        ijk[a] = p;
                        ijk[b] = q;
                        let base = ijk[2] * sy + ijk[1] * sx + ijk[0];
                        for f in &local {
                            facets.extend(f.iter().map(|&c| base + offset[c]));
                        }
                    }
                }
                let mut nodes = facets.clone();
                nodes.par_sort_unstable();
                nodes.dedup();
                BoundaryPart {
                    name: name.into(),
                    id: Some(id),
                    facets,
                    nodes,
                }
            })
            .collect();
        let all_facets: Vec<usize> = boundary.iter().flat_map(|p| p.facets.clone()).collect();
        let mut all_nodes: Vec<usize> = boundary.iter().flat_map(|p| p.nodes.clone()).collect();
        all_nodes.par_sort_unstable();
        all_nodes.dedup();
        boundary.push(BoundaryPart {
            name: crate::EXTERIOR_PART.into(),
            id: None,
            facets: all_facets,
            nodes: all_nodes,
        });
        // Valid by construction (see `tests`): no O(cells) validation pass.
        Ok(Self::generated(3, coords, kind, cells, boundary))
    }
}
