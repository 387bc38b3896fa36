//! [`MeshSpec`]: how the problem model obtains its mesh, and its configuration form
//! (`[problem.mesh]`, tagged by `kind`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use femscale_core::{CellKind, Error, Order, Result};
use femscale_expr::Expression;
use femscale_mesh::{
    BoxCells, BoxSpec, Diagonal, MAX_GENERATED_NODES, Mesh, MeshCounts, RectangleCells,
    RectangleSpec,
};
use figment::value::magic::RelativePathBuf;
use serde::{Deserialize, Serialize};

/// The most uniform refinements a [`MeshSpec::Refined`] (or `problem.mesh.refinements`) may ask
/// for: each multiplies the cell count by 2 (1D) or 4 (2D).
pub const MAX_REFINEMENTS: usize = 12;

/// How to obtain the mesh.
///
/// The configuration form is a table tagged by `kind` (default `rectangle`): `interval` with
/// `x`, `nx` or `nodes`; `rectangle` with `x`, `y`, `nx`, `ny`, `cell`, `diagonal`; `box` with
/// `x`, `y`, `z`, `nx`, `ny`, `nz`, `cell`; `gmsh` with `path` (relative to the configuration
/// file that gives it); any with `refinements` and `parts` (boundary parts named by predicate,
/// [`MeshSpec::with_parts`]).
/// An interval or a Gmsh file ignores a rectangle's keys; a rectangle refuses `nodes`. An
/// existing mesh ([`MeshSpec::Mesh`]) has no configuration form.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "MeshTable")]
#[non_exhaustive]
pub enum MeshSpec {
    /// `n` equal segments of `[a, b]`.
    Interval {
        /// `[a, b]`.
        x: [f64; 2],
        /// Number of elements.
        n: usize,
    },
    /// A 1D mesh through the given nodes.
    IntervalNodes(Vec<f64>),
    /// A structured rectangle mesh.
    Rectangle(RectangleSpec),
    /// A structured box mesh of tetrahedra or hexahedra ([`Mesh::cuboid`]).
    Box(BoxSpec),
    /// An existing mesh.
    Mesh(Arc<Mesh>),
    /// A Gmsh `.msh` file ([`Mesh::read_gmsh`]): its physical groups become subdomain and
    /// boundary markers.
    Gmsh(PathBuf),
    /// Another mesh refined uniformly `times` times ([`Mesh::refined`]); at most
    /// [`MAX_REFINEMENTS`]. Build it with [`MeshSpec::refined`].
    Refined {
        /// The mesh to refine.
        base: Box<MeshSpec>,
        /// Number of uniform refinements.
        times: usize,
    },
    /// Another mesh with boundary parts named by predicate ([`Mesh::add_boundary_part_where`]):
    /// part `name` is the exterior facets whose nodes all make its expression in `x`, `y`, `z`
    /// nonzero, e.g. `"(x < 1e-9) * (y > 0.5)"`. Build it with [`MeshSpec::with_parts`].
    Parts {
        /// The mesh to add the parts to.
        base: Box<MeshSpec>,
        /// Part name → predicate expression, in name order.
        parts: BTreeMap<String, String>,
    },
}

impl Default for MeshSpec {
    /// The configuration's default: the unit square with 32 x 32 squares of two triangles.
    fn default() -> Self {
        Self::Rectangle(RectangleSpec {
            nx: 32,
            ny: 32,
            ..RectangleSpec::default()
        })
    }
}

/// Generated meshes by their parameters, existing meshes by identity.
impl PartialEq for MeshSpec {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Interval { x: a, n: m }, Self::Interval { x: b, n }) => a == b && m == n,
            (Self::IntervalNodes(a), Self::IntervalNodes(b)) => a == b,
            (Self::Rectangle(a), Self::Rectangle(b)) => a == b,
            (Self::Box(a), Self::Box(b)) => a == b,
            (Self::Mesh(a), Self::Mesh(b)) => Arc::ptr_eq(a, b),
            (Self::Gmsh(a), Self::Gmsh(b)) => a == b,
            (Self::Refined { base: a, times: m }, Self::Refined { base: b, times: n }) => {
                a == b && m == n
            }
            (Self::Parts { base: a, parts: p }, Self::Parts { base: b, parts: q }) => {
                a == b && p == q
            }
            _ => false,
        }
    }
}

impl MeshSpec {
    /// `self` refined uniformly `times` times when built (`self` itself for `times == 0`).
    pub fn refined(self, times: usize) -> Self {
        if times == 0 {
            self
        } else {
            Self::Refined {
                base: Box::new(self),
                times,
            }
        }
    }

    /// `self` with boundary parts named by predicate when built (`self` itself for no parts):
    /// each expression in `x`, `y`, `z` is checked now, and part `name` becomes the exterior
    /// facets whose nodes all make it nonzero ([`Mesh::add_boundary_part_where`]).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `mesh.parts.<name>` for an expression that does not parse
    /// or uses other names than `x`, `y`, `z`.
    pub fn with_parts<K: Into<String>, V: Into<String>>(
        self,
        parts: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self> {
        let parts: BTreeMap<String, String> = parts
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        for (name, text) in &parts {
            part_predicate(name, text)?;
        }
        Ok(if parts.is_empty() {
            self
        } else {
            Self::Parts {
                base: Box::new(self),
                parts,
            }
        })
    }

    /// The number of uniform refinements asked for (0 when none).
    pub fn refinements(&self) -> usize {
        match self {
            Self::Refined { times, .. } => *times,
            Self::Parts { base, .. } => base.refinements(),
            _ => 0,
        }
    }

    /// The number of nodes the mesh will have, computed without building it (`None` for an
    /// existing mesh, but counted for a refined one). Saturates instead of overflowing for
    /// absurd sizes.
    pub fn estimated_nodes(&self) -> Option<f64> {
        self.estimated_nodes_of(Order::Linear)
    }

    /// The nodes of the mesh with elements of `order`, computed without building it (`None`
    /// for an existing mesh or a file): for order 2 a node on every edge, and on every face
    /// and in every cell of quadrilaterals and hexahedra.
    pub fn estimated_nodes_of(&self, order: Order) -> Option<f64> {
        if matches!(self, Self::Mesh(_) | Self::Gmsh(_)) {
            return None;
        }
        let (kind, c) = self.estimated_counts()?;
        Some(match (order, kind) {
            (Order::Linear, _) => c.nodes,
            (Order::Quadratic, CellKind::Interval) => c.nodes + c.cells,
            (Order::Quadratic, CellKind::Triangle | CellKind::Tetrahedron) => c.nodes + c.edges,
            (Order::Quadratic, CellKind::Quadrilateral) => c.nodes + c.edges + c.cells,
            (Order::Quadratic, CellKind::Hexahedron) => c.nodes + c.edges + c.faces + c.cells,
        })
    }

    /// The kind of cells the mesh will have, known without building it (`None` for an
    /// existing mesh or a file).
    pub fn estimated_kind(&self) -> Option<CellKind> {
        if matches!(self, Self::Mesh(_) | Self::Gmsh(_)) {
            return None;
        }
        self.estimated_counts().map(|(kind, _)| kind)
    }

    /// The generator's count (`nx`, `ny` or `nz`) that is largest, the one a size error names.
    pub(crate) fn largest_count(&self) -> Option<&'static str> {
        let counts: Vec<(&'static str, usize)> = match self {
            Self::Interval { n, .. } => vec![("nx", *n)],
            Self::Rectangle(r) => vec![("nx", r.nx), ("ny", r.ny)],
            Self::Box(b) => vec![("nx", b.nx), ("ny", b.ny), ("nz", b.nz)],
            Self::Parts { base, .. } => return base.largest_count(),
            _ => return None,
        };
        // The first of the largest: `nx` when they are equal.
        let largest = counts.iter().map(|c| c.1).max()?;
        counts.iter().find(|c| c.1 == largest).map(|c| c.0)
    }

    /// The largest cell width of the mesh, computed without building it (`None` for an
    /// existing mesh or sizes that give none).
    pub fn max_cell_width(&self) -> Option<f64> {
        let width = |r: [f64; 2], n: usize| (n > 0).then(|| (r[1] - r[0]).abs() / n as f64);
        let h = match self {
            Self::Interval { x, n } => width(*x, *n)?,
            Self::IntervalNodes(nodes) => nodes
                .windows(2)
                .map(|w| (w[1] - w[0]).abs())
                .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.max(d))))?,
            Self::Rectangle(r) => width(r.x, r.nx)?.max(width(r.y, r.ny)?),
            Self::Box(b) => width(b.x, b.nx)?
                .max(width(b.y, b.ny)?)
                .max(width(b.z, b.nz)?),
            Self::Mesh(_) | Self::Gmsh(_) => return None,
            // Each uniform refinement halves every cell.
            Self::Refined { base, times } => {
                base.max_cell_width()? / 2f64.powi((*times).min(64) as i32)
            }
            Self::Parts { base, .. } => base.max_cell_width()?,
        };
        (h.is_finite() && h > 0.0).then_some(h)
    }

    /// Cell kind and node, edge and cell counts of the mesh, computed without building it (an
    /// existing mesh's edges are counted); `f64` so that absurd sizes saturate to infinity.
    fn estimated_counts(&self) -> Option<(CellKind, MeshCounts)> {
        let counts = |nodes, edges, cells| MeshCounts {
            nodes,
            edges,
            faces: 0.0,
            cells,
        };
        Some(match self {
            Self::Interval { n, .. } => {
                let n = *n as f64;
                (CellKind::Interval, counts(n + 1.0, n, n))
            }
            Self::IntervalNodes(nodes) => {
                let cells = nodes.len().saturating_sub(1) as f64;
                (CellKind::Interval, counts(nodes.len() as f64, cells, cells))
            }
            Self::Rectangle(r) => {
                let (nx, ny) = (r.nx as f64, r.ny as f64);
                let grid_edges = nx * (ny + 1.0) + ny * (nx + 1.0);
                let nodes = (nx + 1.0) * (ny + 1.0);
                match r.cells {
                    RectangleCells::Triangle => (
                        CellKind::Triangle,
                        counts(nodes, grid_edges + nx * ny, 2.0 * nx * ny),
                    ),
                    RectangleCells::Quadrilateral => {
                        (CellKind::Quadrilateral, counts(nodes, grid_edges, nx * ny))
                    }
                }
            }
            Self::Box(b) => {
                let (nx, ny, nz) = (b.nx as f64, b.ny as f64, b.nz as f64);
                let nodes = (nx + 1.0) * (ny + 1.0) * (nz + 1.0);
                let grid_edges = nx * (ny + 1.0) * (nz + 1.0)
                    + ny * (nx + 1.0) * (nz + 1.0)
                    + nz * (nx + 1.0) * (ny + 1.0);
                let cubes = nx * ny * nz;
                let grid_faces = nx * ny * (nz + 1.0) + ny * nz * (nx + 1.0) + nx * nz * (ny + 1.0);
                match b.cells {
                    // One diagonal per grid face and one through each cube; each grid face
                    // two triangles, 6 more inside each cube.
                    BoxCells::Tetrahedron => (
                        CellKind::Tetrahedron,
                        MeshCounts {
                            faces: 2.0 * grid_faces + 6.0 * cubes,
                            ..counts(nodes, grid_edges + grid_faces + cubes, 6.0 * cubes)
                        },
                    ),
                    BoxCells::Hexahedron => (
                        CellKind::Hexahedron,
                        MeshCounts {
                            faces: grid_faces,
                            ..counts(nodes, grid_edges, cubes)
                        },
                    ),
                }
            }
            Self::Mesh(m) => (
                m.cell_kind(),
                MeshCounts {
                    faces: m.num_faces() as f64,
                    ..counts(
                        m.num_nodes() as f64,
                        m.num_edges() as f64,
                        m.num_cells() as f64,
                    )
                },
            ),
            Self::Gmsh(_) => return None,
            Self::Refined { base, times } => {
                let (kind, counts) = base.estimated_counts()?;
                (kind, counts.refined(kind, *times))
            }
            Self::Parts { base, .. } => base.estimated_counts()?,
        })
    }

    /// The spatial dimension of the mesh (1 for intervals, 2 for rectangles, the mesh's own for
    /// an existing one; `None` for a file, until it is read).
    pub fn dim(&self) -> Option<usize> {
        match self {
            Self::Interval { .. } | Self::IntervalNodes(_) => Some(1),
            Self::Rectangle(_) => Some(2),
            Self::Box(_) => Some(3),
            Self::Mesh(m) => Some(m.dim()),
            Self::Gmsh(_) => None,
            Self::Refined { base, .. } | Self::Parts { base, .. } => base.dim(),
        }
    }

    /// The configuration's name of the kind of mesh (`interval`, `rectangle`, `gmsh`; `given`
    /// for an existing mesh).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Interval { .. } | Self::IntervalNodes(_) => "interval",
            Self::Rectangle(_) => "rectangle",
            Self::Box(_) => "box",
            Self::Mesh(_) => "given",
            Self::Gmsh(_) => "gmsh",
            Self::Refined { base, .. } | Self::Parts { base, .. } => base.kind_name(),
        }
    }

    /// This spec's refinements and boundary parts applied to `mesh` instead of the mesh it
    /// generates or reads: what a mesh given beside a configuration is solved on.
    pub fn on_mesh(self, mesh: Arc<Mesh>) -> Self {
        match self {
            Self::Refined { base, times } => Self::Refined {
                base: Box::new(base.on_mesh(mesh)),
                times,
            },
            Self::Parts { base, parts } => Self::Parts {
                base: Box::new(base.on_mesh(mesh)),
                parts,
            },
            _ => Self::Mesh(mesh),
        }
    }

    /// The file the mesh is read from (a Gmsh mesh's `.msh` file), if any: what, besides the
    /// configuration, decides the mesh.
    pub fn file(&self) -> Option<&std::path::Path> {
        match self {
            Self::Gmsh(path) => Some(path),
            Self::Refined { base, .. } | Self::Parts { base, .. } => base.file(),
            _ => None,
        }
    }

    /// Builds (or shares) the mesh.
    ///
    /// # Errors
    /// Invalid sizes or ranges, naming the field under `mesh` (`mesh.nx`, ...,
    /// `mesh.refinements` for more than [`MAX_REFINEMENTS`] refinements or a refined mesh too
    /// large).
    pub fn build(&self) -> Result<Arc<Mesh>> {
        self.build_here().map_err(|e| e.within("mesh"))
    }

    /// Evaluates this spec's boundary parts named by predicate ([`MeshSpec::with_parts`]) again
    /// on `mesh`, a refinement of the mesh it built: a part is the exterior facets whose vertices
    /// all satisfy its predicate on the mesh solved on ([`Mesh::redefine_boundary_part_where`]), whichever way that mesh was refined
    /// (uniform refinements evaluate the predicates after refining; adaptive refinement, which
    /// inherits facets, calls this after every step). Nothing for a spec without such parts.
    ///
    /// # Errors
    /// As [`MeshSpec::build`], naming `mesh.parts.<name>`: e.g. a predicate no facet of the
    /// refined mesh satisfies.
    pub fn reapply_parts(&self, mesh: &mut Mesh) -> Result<()> {
        match self {
            Self::Parts { base, parts } => {
                base.reapply_parts(mesh)?;
                apply_parts(mesh, parts, true).map_err(|e| e.within("mesh"))
            }
            Self::Refined { base, .. } => base.reapply_parts(mesh),
            _ => Ok(()),
        }
    }

    /// Whether the mesh is generated (connected by construction) rather than read from a file
    /// or given, which may hold parts that share no node.
    pub(crate) fn is_generated(&self) -> bool {
        match self {
            Self::Interval { .. } | Self::IntervalNodes(_) | Self::Rectangle(_) | Self::Box(_) => {
                true
            }
            Self::Mesh(_) | Self::Gmsh(_) => false,
            Self::Refined { base, .. } | Self::Parts { base, .. } => base.is_generated(),
        }
    }

    /// [`MeshSpec::build`] with the generators' own field names (`nx`, `refinements`).
    fn build_here(&self) -> Result<Arc<Mesh>> {
        Ok(match self {
            Self::Interval { x, n } => Arc::new(Mesh::interval(x[0], x[1], *n)?),
            Self::IntervalNodes(nodes) => Arc::new(Mesh::interval_from_nodes(nodes.clone())?),
            Self::Rectangle(spec) => Arc::new(Mesh::rectangle(spec)?),
            Self::Box(spec) => Arc::new(Mesh::cuboid(spec)?),
            Self::Mesh(m) => m.clone(),
            Self::Gmsh(path) => Arc::new(Mesh::read_gmsh(path)?),
            Self::Refined { base, times } => {
                check_refinements("refinements", *times)?;
                let mesh = base.build_here()?;
                if *times == 0 {
                    mesh
                } else {
                    check_refined_size(&mesh, *times)?;
                    Arc::new(mesh.refined(*times)?)
                }
            }
            Self::Parts { base, parts } => {
                let mut mesh = Arc::unwrap_or_clone(base.build_here()?);
                apply_parts(&mut mesh, parts, false)?;
                Arc::new(mesh)
            }
        })
    }
}

/// Adds the boundary parts named by predicate to `mesh` (`redefine`: replaces the parts of
/// those names, as after an adaptive refinement).
fn apply_parts(mesh: &mut Mesh, parts: &BTreeMap<String, String>, redefine: bool) -> Result<()> {
    for (name, text) in parts {
        let predicate = part_predicate(name, text)?;
        // A coordinate the mesh lacks is 0 at every point (`z > -1` is true).
        let lacking = [
            (femscale_expr::Var::Y, "y", 2),
            (femscale_expr::Var::Z, "z", 3),
        ];
        if let Some((_, var, _)) =
            (lacking.iter()).find(|(v, _, from)| mesh.dim() < *from && predicate.ast().uses(*v))
        {
            return Err(Error::invalid(
                format!("parts.{name}"),
                format!(
                    "`{text}` uses `{var}`, but the mesh is {}D: its points have no `{var}` (it \
                     would be 0 everywhere)",
                    mesh.dim()
                ),
            ));
        }
        let on_part = |p: [f64; 3]| predicate.eval_xyz(p[0], p[1], p[2]) != 0.0;
        match redefine {
            false => mesh.add_boundary_part_where(name, on_part),
            true => mesh.redefine_boundary_part_where(name, on_part),
        }
        .map_err(|e| {
            let message = match e {
                Error::Mesh { message, .. } => message,
                e => e.to_string(),
            };
            Error::invalid(format!("parts.{name}"), message)
        })?;
    }
    Ok(())
}

/// The predicate of boundary part `name`: an expression in `x`, `y`, `z`.
fn part_predicate(name: &str, text: &str) -> Result<Expression> {
    let e = Expression::parse(text).map_err(|e| {
        Error::invalid(
            format!("parts.{name}"),
            format!("`{text}` is no predicate in x, y, z: {e}"),
        )
    })?;
    // `t`, the time of the other fields, is no place on the boundary.
    if e.ast().uses(femscale_expr::Var::T) {
        return Err(Error::invalid(
            format!("parts.{name}"),
            format!("`{text}` is no predicate in x, y, z: it uses `t`"),
        ));
    }
    Ok(e)
}

/// Refuses `times` uniform refinements of `mesh` (a file's mesh: its size is known only now)
/// whose result would exceed the generators' node limit or the available memory: each one
/// multiplies the cells by 2, 4 or 8 in 1D, 2D, 3D, and the nodes about as much.
fn check_refined_size(mesh: &Mesh, times: usize) -> Result<()> {
    let growth = 2f64.powi(mesh.dim() as i32).powi(times as i32);
    let nodes = mesh.num_nodes() as f64 * growth;
    if nodes > MAX_GENERATED_NODES as f64 {
        return Err(Error::invalid(
            "refinements",
            format!(
                "{times} refinements of a mesh of {} cells and {} nodes give about {nodes:.3e} \
                 nodes, more than the supported {MAX_GENERATED_NODES}",
                mesh.num_cells(),
                mesh.num_nodes()
            ),
        ));
    }
    crate::pipeline::check_nodes_fit(nodes, (mesh.cell_kind(), mesh.order()), "refinements")
}

/// Checks a number of uniform refinements against [`MAX_REFINEMENTS`], naming `field`.
pub(crate) fn check_refinements(field: &str, times: usize) -> Result<()> {
    if times > MAX_REFINEMENTS {
        return Err(Error::invalid(
            field,
            format!(
                "{times} refinements is more than the supported {MAX_REFINEMENTS} (each one \
                 multiplies the number of cells by 2 in 1D, by 4 in 2D)"
            ),
        ));
    }
    Ok(())
}

/// The kinds of mesh a configuration names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum MeshKind {
    Interval,
    #[default]
    Rectangle,
    Box,
    Gmsh,
}

/// The cell names of `problem.mesh.cell`: a rectangle's or a box's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum CellName {
    Triangle,
    #[serde(alias = "quad")]
    Quadrilateral,
    #[serde(alias = "tet")]
    Tetrahedron,
    #[serde(alias = "hex")]
    Hexahedron,
}

impl CellName {
    fn rectangle(self) -> std::result::Result<RectangleCells, String> {
        match self {
            Self::Triangle => Ok(RectangleCells::Triangle),
            Self::Quadrilateral => Ok(RectangleCells::Quadrilateral),
            _ => Err(format!(
                "cell = \"{}\" is a 3D cell; a rectangle takes \"triangle\" or \"quadrilateral\" \
                 (use kind = \"box\" for tetrahedra and hexahedra)",
                self.name()
            )),
        }
    }

    fn boxed(self) -> std::result::Result<BoxCells, String> {
        match self {
            Self::Tetrahedron => Ok(BoxCells::Tetrahedron),
            Self::Hexahedron => Ok(BoxCells::Hexahedron),
            _ => Err(format!(
                "cell = \"{}\" is a 2D cell; a box takes \"tetrahedron\" or \"hexahedron\"",
                self.name()
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Triangle => "triangle",
            Self::Quadrilateral => "quadrilateral",
            Self::Tetrahedron => "tetrahedron",
            Self::Hexahedron => "hexahedron",
        }
    }
}

impl From<RectangleCells> for CellName {
    fn from(c: RectangleCells) -> Self {
        match c {
            RectangleCells::Triangle => Self::Triangle,
            RectangleCells::Quadrilateral => Self::Quadrilateral,
        }
    }
}

impl From<BoxCells> for CellName {
    fn from(c: BoxCells) -> Self {
        match c {
            BoxCells::Tetrahedron => Self::Tetrahedron,
            BoxCells::Hexahedron => Self::Hexahedron,
        }
    }
}

/// The keys of `[problem.mesh]` as read from a file, before the kind picks the ones that apply.
///
/// Serde's internally tagged enums cannot default their tag and buffer their content, which
/// loses the path and line of a bad value; reading the table flat keeps both (figment reports
/// `problem.mesh.nx` at its line), and [`MeshSpec`]'s `TryFrom` is the one place that knows
/// which keys belong to which kind.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MeshTable {
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<MeshKind>,
    #[serde(
        deserialize_with = "two_numbers",
        skip_serializing_if = "Option::is_none"
    )]
    x: Option<[f64; 2]>,
    #[serde(
        deserialize_with = "two_numbers",
        skip_serializing_if = "Option::is_none"
    )]
    y: Option<[f64; 2]>,
    #[serde(
        deserialize_with = "two_numbers",
        skip_serializing_if = "Option::is_none"
    )]
    z: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nx: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ny: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nz: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cell: Option<CellName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diagonal: Option<Diagonal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<Vec<f64>>,
    #[serde(
        serialize_with = "resolved_path",
        skip_serializing_if = "Option::is_none"
    )]
    path: Option<RelativePathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refinements: Option<usize>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    parts: BTreeMap<String, String>,
}

/// A file path as the configuration resolved it (relative to the file that gave it).
fn resolved_path<S: serde::Serializer>(
    p: &Option<RelativePathBuf>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_str(&p.relative().to_string_lossy()),
        None => s.serialize_none(),
    }
}

/// A `[start, end]` range: exactly two numbers (a fixed-size array would silently drop a third).
fn two_numbers<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<[f64; 2]>, D::Error> {
    let values = Vec::<f64>::deserialize(d)?;
    <[f64; 2]>::try_from(values.as_slice())
        .map(Some)
        .map_err(|_| serde::de::Error::invalid_length(values.len(), &"two numbers [start, end]"))
}

impl TryFrom<MeshTable> for MeshSpec {
    type Error = String;

    fn try_from(t: MeshTable) -> std::result::Result<Self, String> {
        let kind = t.kind.unwrap_or_default();
        let default = RectangleSpec::default();
        let mesh = match kind {
            // A rectangle's keys are ignored (as a layer that changes the kind to `interval`
            // inherits them from the layers below: figment merges tables).
            MeshKind::Interval => {
                // Explicit nodes replace `x` and `nx` (so `--set problem.mesh.nodes=[..]`
                // works on a file that gives them).
                match t.nodes {
                    Some(nodes) => Self::IntervalNodes(nodes),
                    None => Self::Interval {
                        x: t.x.unwrap_or(default.x),
                        n: t.nx.unwrap_or(DEFAULT_CELLS),
                    },
                }
            }
            MeshKind::Rectangle => {
                if t.nodes.is_some() {
                    return Err("`nodes` are for interval meshes (kind = \"interval\"); a \
                                rectangle is given by x, y, nx and ny"
                        .into());
                }
                if let Some(key) = [("z", t.z.is_some()), ("nz", t.nz.is_some())]
                    .into_iter()
                    .find_map(|(k, given)| given.then_some(k))
                {
                    return Err(format!(
                        "`{key}` is for boxes (kind = \"box\"); a rectangle is given by x, y, \
                         nx and ny"
                    ));
                }
                let cells = t
                    .cell
                    .map(CellName::rectangle)
                    .transpose()?
                    .unwrap_or_default();
                Self::Rectangle(RectangleSpec {
                    x: t.x.unwrap_or(default.x),
                    y: t.y.unwrap_or(default.y),
                    nx: t.nx.unwrap_or(DEFAULT_CELLS),
                    ny: t.ny.unwrap_or(DEFAULT_CELLS),
                    cells,
                    diagonal: t.diagonal.unwrap_or_default(),
                })
            }
            MeshKind::Box => {
                if t.nodes.is_some() {
                    return Err("`nodes` are for interval meshes (kind = \"interval\"); a \
                                box is given by x, y, z, nx, ny and nz"
                        .into());
                }
                if t.diagonal.is_some() {
                    return Err(
                        "`diagonal` is for rectangles of triangles; a box of tetrahedra \
                                has the six of each cube around its main diagonal (Kuhn), the \
                                only split offered"
                            .into(),
                    );
                }
                let default = BoxSpec::default();
                Self::Box(BoxSpec {
                    x: t.x.unwrap_or(default.x),
                    y: t.y.unwrap_or(default.y),
                    z: t.z.unwrap_or(default.z),
                    nx: t.nx.unwrap_or(DEFAULT_BOX_CELLS),
                    ny: t.ny.unwrap_or(DEFAULT_BOX_CELLS),
                    nz: t.nz.unwrap_or(DEFAULT_BOX_CELLS),
                    cells: t.cell.map(CellName::boxed).transpose()?.unwrap_or_default(),
                })
            }
            MeshKind::Gmsh => match t.path {
                Some(path) => Self::Gmsh(path.relative()),
                None => {
                    return Err("a Gmsh mesh (kind = \"gmsh\") needs `path`, the .msh file \
                                (relative to the configuration file)"
                        .into());
                }
            },
        };
        mesh.refined(t.refinements.unwrap_or(0))
            .with_parts(t.parts)
            .map_err(|e| e.to_string())
    }
}

/// Cells per direction of a generated interval or rectangle when the configuration does not
/// say.
const DEFAULT_CELLS: usize = 32;

/// Cubes per direction of a generated box when the configuration does not say.
const DEFAULT_BOX_CELLS: usize = 16;

impl MeshSpec {
    /// The configuration form; `None` for an existing mesh (it has none).
    fn table(&self) -> Option<MeshTable> {
        Some(match self {
            Self::Interval { x, n } => MeshTable {
                kind: Some(MeshKind::Interval),
                x: Some(*x),
                nx: Some(*n),
                refinements: Some(0),
                ..MeshTable::default()
            },
            Self::IntervalNodes(nodes) => MeshTable {
                kind: Some(MeshKind::Interval),
                nodes: Some(nodes.clone()),
                refinements: Some(0),
                ..MeshTable::default()
            },
            Self::Rectangle(r) => MeshTable {
                kind: Some(MeshKind::Rectangle),
                x: Some(r.x),
                y: Some(r.y),
                nx: Some(r.nx),
                ny: Some(r.ny),
                cell: Some(r.cells.into()),
                diagonal: Some(r.diagonal),
                refinements: Some(0),
                ..MeshTable::default()
            },
            Self::Box(b) => MeshTable {
                kind: Some(MeshKind::Box),
                x: Some(b.x),
                y: Some(b.y),
                z: Some(b.z),
                nx: Some(b.nx),
                ny: Some(b.ny),
                nz: Some(b.nz),
                cell: Some(b.cells.into()),
                refinements: Some(0),
                ..MeshTable::default()
            },
            Self::Gmsh(path) => MeshTable {
                kind: Some(MeshKind::Gmsh),
                path: Some(RelativePathBuf::from(path)),
                refinements: Some(0),
                ..MeshTable::default()
            },
            Self::Refined { base, times } => {
                let mut table = base.table()?;
                table.refinements = Some(table.refinements.unwrap_or(0).saturating_add(*times));
                table
            }
            Self::Parts { base, parts } => {
                let mut table = base.table()?;
                table
                    .parts
                    .extend(parts.iter().map(|(k, v)| (k.clone(), v.clone())));
                table
            }
            Self::Mesh(_) => return None,
        })
    }
}

impl MeshSpec {
    /// Every key a `[problem.mesh]` table may hold, whatever its `kind` (which keys a kind
    /// takes is checked when the table is read); `parts` is a table of named predicates.
    /// A default mesh's table shows only a rectangle's keys: a sweep over `problem.mesh.nz`
    /// of a box checks its key against this list.
    pub fn config_keys() -> &'static [&'static str] {
        // Naming every field (no `..`) makes a new field of the table fail to compile here
        // until it is listed.
        let MeshTable {
            kind: _,
            x: _,
            y: _,
            z: _,
            nx: _,
            ny: _,
            nz: _,
            cell: _,
            diagonal: _,
            nodes: _,
            path: _,
            refinements: _,
            parts: _,
        } = MeshTable::default();
        &[
            "kind",
            "x",
            "y",
            "z",
            "nx",
            "ny",
            "nz",
            "cell",
            "diagonal",
            "nodes",
            "path",
            "refinements",
            "parts",
        ]
    }

    /// The keys a `[problem.mesh]` table of `kind` (`interval`, `rectangle`, `box`, `gmsh`)
    /// takes; `None` for another kind. An interval ignores a rectangle's `y`, `ny`, `cell` and
    /// `diagonal` (a layer that changes the kind inherits them), so they are not its keys.
    pub fn config_keys_of(kind: &str) -> Option<&'static [&'static str]> {
        Some(match kind {
            "interval" => &["kind", "x", "nx", "nodes", "refinements", "parts"],
            "rectangle" => &[
                "kind",
                "x",
                "y",
                "nx",
                "ny",
                "cell",
                "diagonal",
                "refinements",
                "parts",
            ],
            "box" => &[
                "kind",
                "x",
                "y",
                "z",
                "nx",
                "ny",
                "nz",
                "cell",
                "refinements",
                "parts",
            ],
            "gmsh" => &["kind", "path", "refinements", "parts"],
            _ => return None,
        })
    }
}

/// The `[problem.mesh]` table; an existing mesh has no configuration form (an error).
impl Serialize for MeshSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.table() {
            Some(table) => table.serialize(s),
            None => Err(serde::ser::Error::custom(
                "an existing mesh has no configuration form",
            )),
        }
    }
}
