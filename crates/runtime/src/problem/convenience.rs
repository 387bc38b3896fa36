//! The convenience problems of the original design: [`Laplace1d`] and [`Laplace2d`].

use femscale_mesh::{Diagonal, RectangleCells, RectangleSpec};

use super::{BoundarySpec, FieldSpec, MeshSpec, Problem};

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
    /// Refine adaptively where the estimated error is large (the `[adaptivity]` loop with the
    /// solver's `[adaptivity]` settings), starting from this mesh; the report's
    /// `adaptive_refinement_used`, `num_elements` and `adaptivity` show what it did (default
    /// false: the configuration decides).
    pub enable_adaptive_refinement: bool,
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
            enable_adaptive_refinement: false,
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
    /// Refine adaptively where the estimated error is large (the `[adaptivity]` loop with the
    /// solver's `[adaptivity]` settings), starting from this mesh; the report's
    /// `adaptive_refinement_used`, `num_elements` and `adaptivity` show what it did (default
    /// false: the configuration decides).
    pub enable_adaptive_refinement: bool,
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
            enable_adaptive_refinement: false,
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
