//! Problem descriptions for the library API: fields, meshes, boundary conditions.

use std::collections::BTreeMap;
use std::sync::Arc;

use femscale_core::{
    BoundaryCondition, BoundaryKind, CellKind, Constant, EllipticForm, Error, FnField, Result,
    SharedField,
};
use femscale_expr::ExprOptions;
use femscale_mesh::{Diagonal, Mesh, MeshCounts, RectangleCells, RectangleSpec};

/// The most uniform refinements a [`MeshSpec::Refined`] (or `problem.mesh.refinements`) may ask
/// for: each multiplies the cell count by 2 (1D) or 4 (2D).
pub const MAX_REFINEMENTS: usize = 12;

/// A coefficient, source or boundary value: a constant, an expression of `x, y, z` and the
/// problem's parameters, or a Rust function.
#[derive(Debug, Clone)]
pub enum FieldSpec {
    /// The same value everywhere.
    Constant(f64),
    /// An expression such as `"2*pi^2*sin(pi*x)*sin(pi*y)"`.
    Expr(String),
    /// A ready-made field (e.g. a Rust closure through [`FnField`]).
    Field(SharedField),
}

/// The name the original design uses for source terms.
pub type Source = FieldSpec;

impl FieldSpec {
    /// An expression field.
    pub fn expr(text: impl Into<String>) -> Self {
        Self::Expr(text.into())
    }

    /// A constant field.
    pub fn constant(value: f64) -> Self {
        Self::Constant(value)
    }

    /// A field computed by a Rust function of `[x, y, z]`.
    pub fn func(
        label: impl Into<String>,
        f: impl Fn([f64; 3]) -> f64 + Send + Sync + 'static,
    ) -> Self {
        Self::Field(FnField::shared(label, f))
    }

    /// Resolves to a shared field; `field` names the parameter in errors.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a non-finite constant, [`Error::Expression`] for an
    /// expression that does not parse.
    pub fn build(&self, field: &str, params: &BTreeMap<String, f64>) -> Result<SharedField> {
        self.build_with(field, params, ExprOptions::default())
    }

    /// [`FieldSpec::build`] with a choice of expression backend (`options.jit`: machine code
    /// through cranelift, else bytecode; the same values either way).
    ///
    /// # Errors
    /// As [`FieldSpec::build`].
    pub fn build_with(
        &self,
        field: &str,
        params: &BTreeMap<String, f64>,
        options: ExprOptions,
    ) -> Result<SharedField> {
        match self {
            Self::Constant(v) => {
                femscale_core::error::ensure_finite(field, *v)?;
                Ok(Arc::new(Constant(*v)))
            }
            Self::Expr(text) => {
                let params: Vec<(&str, f64)> =
                    params.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                femscale_expr::parse_field_with(field, text, &params, options)
            }
            Self::Field(f) => Ok(f.clone()),
        }
    }
}

impl From<f64> for FieldSpec {
    fn from(v: f64) -> Self {
        Self::Constant(v)
    }
}

impl From<&str> for FieldSpec {
    fn from(text: &str) -> Self {
        Self::Expr(text.into())
    }
}

/// How to obtain the mesh.
#[derive(Debug, Clone)]
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
    /// An existing mesh.
    Mesh(Arc<Mesh>),
    /// Another mesh refined uniformly `times` times ([`Mesh::refined`]); at most
    /// [`MAX_REFINEMENTS`]. Build it with [`MeshSpec::refined`].
    Refined {
        /// The mesh to refine.
        base: Box<MeshSpec>,
        /// Number of uniform refinements.
        times: usize,
    },
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

    /// The number of nodes the mesh will have, computed without building it (`None` for an
    /// existing mesh, but counted for a refined one). Saturates instead of overflowing for
    /// absurd sizes.
    pub fn estimated_nodes(&self) -> Option<f64> {
        match self {
            Self::Mesh(_) => None,
            _ => self.estimated_counts().map(|(_, c)| c.nodes),
        }
    }

    /// Cell kind and node, edge and cell counts of the mesh, computed without building it (an
    /// existing mesh's edges are counted); `f64` so that absurd sizes saturate to infinity.
    fn estimated_counts(&self) -> Option<(CellKind, MeshCounts)> {
        let counts = |nodes, edges, cells| MeshCounts {
            nodes,
            edges,
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
            Self::Mesh(m) => (
                m.cell_kind(),
                counts(
                    m.num_nodes() as f64,
                    m.num_edges() as f64,
                    m.num_cells() as f64,
                ),
            ),
            Self::Refined { base, times } => {
                let (kind, counts) = base.estimated_counts()?;
                (kind, counts.refined(kind, *times))
            }
        })
    }

    /// The spatial dimension of the mesh (1 for intervals, 2 for rectangles, the mesh's own for
    /// an existing one).
    pub fn dim(&self) -> usize {
        match self {
            Self::Interval { .. } | Self::IntervalNodes(_) => 1,
            Self::Rectangle(_) => 2,
            Self::Mesh(m) => m.dim(),
            Self::Refined { base, .. } => base.dim(),
        }
    }

    /// Builds (or shares) the mesh.
    ///
    /// # Errors
    /// Invalid sizes or ranges, naming the field (`mesh.nx`, ..., `mesh.refinements` for more
    /// than [`MAX_REFINEMENTS`] refinements or a refined mesh too large).
    pub fn build(&self) -> Result<Arc<Mesh>> {
        Ok(match self {
            Self::Interval { x, n } => Arc::new(Mesh::interval(x[0], x[1], *n)?),
            Self::IntervalNodes(nodes) => Arc::new(Mesh::interval_from_nodes(nodes.clone())?),
            Self::Rectangle(spec) => Arc::new(Mesh::rectangle(spec)?),
            Self::Mesh(m) => m.clone(),
            Self::Refined { base, times } => {
                check_refinements("mesh.refinements", *times)?;
                let mesh = base.build()?;
                if *times == 0 {
                    mesh
                } else {
                    Arc::new(mesh.refined(*times)?)
                }
            }
        })
    }
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

/// The kind of a boundary condition, with its data.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BoundarySpecKind {
    /// `u = value`.
    Dirichlet(FieldSpec),
    /// `k du/dn = flux`.
    Neumann(FieldSpec),
    /// `k du/dn + alpha u = value`.
    Robin {
        /// Transfer coefficient.
        alpha: FieldSpec,
        /// Right-hand side.
        value: FieldSpec,
    },
}

/// A boundary condition on a named boundary part.
#[derive(Debug, Clone)]
pub struct BoundarySpec {
    /// Boundary part (`left`, `right`, `bottom`, `top`, `all`).
    pub part: String,
    /// What is prescribed.
    pub kind: BoundarySpecKind,
}

impl BoundarySpec {
    /// `u = value` on `part`.
    pub fn dirichlet(part: &str, value: impl Into<FieldSpec>) -> Self {
        Self {
            part: part.into(),
            kind: BoundarySpecKind::Dirichlet(value.into()),
        }
    }

    /// `k du/dn = flux` on `part`.
    pub fn neumann(part: &str, flux: impl Into<FieldSpec>) -> Self {
        Self {
            part: part.into(),
            kind: BoundarySpecKind::Neumann(flux.into()),
        }
    }

    /// `k du/dn + alpha u = value` on `part`.
    pub fn robin(part: &str, alpha: impl Into<FieldSpec>, value: impl Into<FieldSpec>) -> Self {
        Self {
            part: part.into(),
            kind: BoundarySpecKind::Robin {
                alpha: alpha.into(),
                value: value.into(),
            },
        }
    }
}

/// A complete problem `-div(k grad u) + c u = f` with boundary conditions.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The mesh.
    pub mesh: MeshSpec,
    /// Diffusion coefficient `k` (default 1).
    pub diffusion: FieldSpec,
    /// Reaction coefficient `c` (default none).
    pub reaction: Option<FieldSpec>,
    /// Source `f` (default none, i.e. 0).
    pub source: Option<FieldSpec>,
    /// Exact solution, to report L2/H1 errors.
    pub exact: Option<FieldSpec>,
    /// Boundary conditions; parts without one are natural (`k du/dn = 0`).
    pub boundary: Vec<BoundarySpec>,
    /// Named parameters usable in expressions.
    pub params: BTreeMap<String, f64>,
}

impl Problem {
    /// A problem on `mesh` with `k = 1`, no source and no boundary conditions yet.
    pub fn new(mesh: MeshSpec) -> Self {
        Self {
            mesh,
            diffusion: FieldSpec::Constant(1.0),
            reaction: None,
            source: None,
            exact: None,
            boundary: Vec::new(),
            params: BTreeMap::new(),
        }
    }

    /// Builds the core form; field names in errors are prefixed with `prefix` (e.g. `problem.`).
    ///
    /// # Errors
    /// Invalid constants or expressions, naming the field.
    pub fn form(&self, prefix: &str) -> Result<EllipticForm> {
        self.form_with(prefix, ExprOptions::default())
    }

    /// [`Problem::form`] with a choice of expression backend.
    ///
    /// # Errors
    /// As [`Problem::form`].
    pub fn form_with(&self, prefix: &str, options: ExprOptions) -> Result<EllipticForm> {
        let p = &self.params;
        let field = |name: &str| format!("{prefix}{name}");
        let mut boundary = Vec::with_capacity(self.boundary.len());
        for (i, bc) in self.boundary.iter().enumerate() {
            let f = |name: &str| field(&format!("boundary[{i}].{name}"));
            let kind = match &bc.kind {
                BoundarySpecKind::Dirichlet(v) => BoundaryKind::Dirichlet {
                    value: v.build_with(&f("value"), p, options)?,
                },
                BoundarySpecKind::Neumann(v) => BoundaryKind::Neumann {
                    flux: v.build_with(&f("value"), p, options)?,
                },
                BoundarySpecKind::Robin { alpha, value } => BoundaryKind::Robin {
                    alpha: alpha.build_with(&f("alpha"), p, options)?,
                    value: value.build_with(&f("value"), p, options)?,
                },
            };
            boundary.push(BoundaryCondition {
                part: bc.part.clone(),
                kind,
            });
        }
        Ok(EllipticForm {
            diffusion: self.diffusion.build_with(&field("diffusion"), p, options)?,
            reaction: self
                .reaction
                .as_ref()
                .map(|r| r.build_with(&field("reaction"), p, options))
                .transpose()?,
            source: self
                .source
                .as_ref()
                .map(|s| s.build_with(&field("source"), p, options))
                .transpose()?,
            boundary,
        })
    }

    /// The exact solution as a field, if one was given.
    ///
    /// # Errors
    /// An invalid expression, naming `{prefix}exact`.
    pub fn exact_field(&self, prefix: &str) -> Result<Option<SharedField>> {
        self.exact_field_with(prefix, ExprOptions::default())
    }

    /// [`Problem::exact_field`] with a choice of expression backend (its gradient, used for H1
    /// errors, is compiled the same way).
    ///
    /// # Errors
    /// As [`Problem::exact_field`].
    pub fn exact_field_with(
        &self,
        prefix: &str,
        options: ExprOptions,
    ) -> Result<Option<SharedField>> {
        let field = format!("{prefix}exact");
        self.exact
            .as_ref()
            .map(|e| match e {
                // Its gradient (for the H1 error) is derived now: one too large is refused here.
                FieldSpec::Expr(text) => {
                    let params: Vec<(&str, f64)> =
                        self.params.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                    femscale_expr::parse_differentiable_field_with(&field, text, &params, options)
                }
                e => e.build_with(&field, &self.params, options),
            })
            .transpose()
    }

    /// Whether any field is an expression (diffusion, reaction, source, boundary data, exact
    /// solution).
    pub fn uses_expressions(&self) -> bool {
        let is = |f: &FieldSpec| matches!(f, FieldSpec::Expr(_));
        is(&self.diffusion)
            || [&self.reaction, &self.source, &self.exact]
                .into_iter()
                .flatten()
                .any(is)
            || self.boundary.iter().any(|b| match &b.kind {
                BoundarySpecKind::Dirichlet(v) | BoundarySpecKind::Neumann(v) => is(v),
                BoundarySpecKind::Robin { alpha, value } => is(alpha) || is(value),
            })
    }
}

/// The 1D quick start of the original design: `-(k u')' = f` on `[x0, x1]` with Dirichlet
/// values at both ends.
#[derive(Debug, Clone)]
pub struct Laplace1d {
    /// `[x0, x1]` (default `[0, 1]`).
    pub x_range: [f64; 2],
    /// Number of elements (default 100).
    pub num_elements: usize,
    /// Diffusion coefficient (default 1).
    pub diffusion: FieldSpec,
    /// Source (default none).
    pub source: Option<FieldSpec>,
    /// `u(x0)` (default 0).
    pub left_bc: f64,
    /// `u(x1)` (default 0).
    pub right_bc: f64,
    /// Exact solution, to report errors (default none).
    pub exact: Option<FieldSpec>,
    /// Linear solver by registry name; `None` uses the solver's configuration.
    pub linear_solver: Option<String>,
}

impl Default for Laplace1d {
    fn default() -> Self {
        Self {
            x_range: [0.0, 1.0],
            num_elements: 100,
            diffusion: FieldSpec::Constant(1.0),
            source: None,
            left_bc: 0.0,
            right_bc: 0.0,
            exact: None,
            linear_solver: None,
        }
    }
}

impl Laplace1d {
    /// The equivalent general [`Problem`].
    pub fn to_problem(&self) -> Problem {
        let mut p = Problem::new(MeshSpec::Interval {
            x: self.x_range,
            n: self.num_elements,
        });
        p.diffusion = self.diffusion.clone();
        p.source = self.source.clone();
        p.exact = self.exact.clone();
        p.boundary = vec![
            BoundarySpec::dirichlet("left", self.left_bc),
            BoundarySpec::dirichlet("right", self.right_bc),
        ];
        p
    }
}

/// `-div(k grad u) = f` on a rectangle with a Dirichlet value per side.
#[derive(Debug, Clone)]
pub struct Laplace2d {
    /// `[x0, x1]` (default `[0, 1]`).
    pub x_range: [f64; 2],
    /// `[y0, y1]` (default `[0, 1]`).
    pub y_range: [f64; 2],
    /// Rectangles along x (default 32).
    pub nx: usize,
    /// Rectangles along y (default 32).
    pub ny: usize,
    /// Triangles (P1, default) or quadrilaterals (Q1).
    pub cells: RectangleCells,
    /// Diagonal of the triangles (default right).
    pub diagonal: Diagonal,
    /// Diffusion coefficient (default 1).
    pub diffusion: FieldSpec,
    /// Source (default none).
    pub source: Option<FieldSpec>,
    /// `u` on `x = x0` (default 0).
    pub left_bc: f64,
    /// `u` on `x = x1` (default 0).
    pub right_bc: f64,
    /// `u` on `y = y0` (default 0).
    pub bottom_bc: f64,
    /// `u` on `y = y1` (default 0).
    pub top_bc: f64,
    /// Exact solution, to report errors (default none).
    pub exact: Option<FieldSpec>,
    /// Linear solver by registry name; `None` uses the solver's configuration.
    pub linear_solver: Option<String>,
}

impl Default for Laplace2d {
    fn default() -> Self {
        Self {
            x_range: [0.0, 1.0],
            y_range: [0.0, 1.0],
            nx: 32,
            ny: 32,
            cells: RectangleCells::Triangle,
            diagonal: Diagonal::Right,
            diffusion: FieldSpec::Constant(1.0),
            source: None,
            left_bc: 0.0,
            right_bc: 0.0,
            bottom_bc: 0.0,
            top_bc: 0.0,
            exact: None,
            linear_solver: None,
        }
    }
}

impl Laplace2d {
    /// The equivalent general [`Problem`]. Corner nodes take the value of the side listed
    /// last (`top`, then `bottom`, `right`, `left` in order of precedence from high to low).
    pub fn to_problem(&self) -> Problem {
        let mut p = Problem::new(MeshSpec::Rectangle(RectangleSpec {
            x: self.x_range,
            y: self.y_range,
            nx: self.nx,
            ny: self.ny,
            cells: self.cells,
            diagonal: self.diagonal,
        }));
        p.diffusion = self.diffusion.clone();
        p.source = self.source.clone();
        p.exact = self.exact.clone();
        p.boundary = vec![
            BoundarySpec::dirichlet("left", self.left_bc),
            BoundarySpec::dirichlet("right", self.right_bc),
            BoundarySpec::dirichlet("bottom", self.bottom_bc),
            BoundarySpec::dirichlet("top", self.top_bc),
        ];
        p
    }
}

/// Checks that a string is a non-empty identifier-like name.
pub(crate) fn check_name(field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}
