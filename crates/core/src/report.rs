//! Serialisable records of what a solve did: the linear solve ([`SolveReport`]), the mesh
//! ([`MeshStats`]) and the whole pipeline ([`Metrics`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An `f64` that may be NaN or infinite, which JSON writes as `null` (a breakdown's residual, a
/// plugin's report across the process boundary): read back as NaN.
///
/// # Errors
/// As the deserializer's, for anything but a number or `null`.
pub fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// [`nan_from_null`] for every entry of a sequence.
///
/// # Errors
/// As the deserializer's.
pub fn nans_from_nulls<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// What one linear solve did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SolveReport {
    /// Solver name (`direct-cholesky`, `cg`, ...).
    pub solver: String,
    /// Preconditioner name (`none`, `jacobi`, ...).
    pub preconditioner: String,
    /// Iterations performed (1 for a direct solve).
    pub iterations: usize,
    /// Whether the stopping criterion was met.
    pub converged: bool,
    /// `||b - A x0||`.
    #[serde(deserialize_with = "nan_from_null")]
    pub initial_residual: f64,
    /// `||b - A x||` at the end.
    #[serde(deserialize_with = "nan_from_null")]
    pub final_residual: f64,
    /// `||b - A x|| / ||b||` at the end (`||b|| = 0` counts as 1).
    #[serde(deserialize_with = "nan_from_null")]
    pub final_relative_residual: f64,
    /// The relative tolerance asked for.
    #[serde(deserialize_with = "nan_from_null")]
    pub tolerance: f64,
    /// Relative residual after each iteration (empty for direct solvers).
    #[serde(deserialize_with = "nans_from_nulls")]
    pub residual_history: Vec<f64>,
    /// Seconds spent preparing (factorisation, preconditioner set-up).
    #[serde(deserialize_with = "nan_from_null")]
    pub setup_seconds: f64,
    /// Seconds spent in this solve.
    #[serde(deserialize_with = "nan_from_null")]
    pub solve_seconds: f64,
    /// Threads used by the solver kernels.
    pub threads: usize,
    /// Memory held by the prepared solver (factors, preconditioner), bytes.
    pub memory_bytes: usize,
    /// What a solve across ranks moved and waited for; `None` for a solve in one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranks: Option<RanksReport>,
}

/// The ranks' side of a distributed solve, gathered from every rank (in
/// [`SolveReport::ranks`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RanksReport {
    /// Ranks.
    pub ranks: usize,
    /// Rows (unknowns) of the smallest and of the largest rank.
    pub rows_min: usize,
    /// See `rows_min`.
    pub rows_max: usize,
    /// The rows of every rank, in rank order (rank `r` owns the `rows[r]` unknowns after
    /// those of the ranks before it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<usize>,
    /// Halo messages per product with the matrix, all ranks together.
    pub halo_messages_per_product: usize,
    /// Halo bytes per product, all ranks together (8 per ghost entry).
    pub halo_bytes_per_product: usize,
    /// Products with the matrix in this solve.
    pub products: usize,
    /// Global reductions (all-reduce calls) in this solve.
    pub reductions: usize,
    /// Seconds in this solve of the slowest rank.
    pub solve_seconds_max: f64,
    /// Seconds of the least and of the most communicating rank in halo exchanges and
    /// reductions (waiting included).
    pub communication_seconds_min: f64,
    /// See `communication_seconds_min`.
    pub communication_seconds_max: f64,
}

impl RanksReport {
    /// The load imbalance: the largest rank's rows over the mean (1 is perfect balance).
    pub fn imbalance(&self, total_rows: usize) -> f64 {
        if total_rows == 0 || self.ranks == 0 {
            return 1.0;
        }
        self.rows_max as f64 / (total_rows as f64 / self.ranks as f64)
    }
}

impl SolveReport {
    /// An empty report for `solver` with `preconditioner`.
    pub fn new(solver: impl Into<String>, preconditioner: impl Into<String>) -> Self {
        Self {
            solver: solver.into(),
            preconditioner: preconditioner.into(),
            ..Self::default()
        }
    }
}

/// The cells of one subdomain, in [`MeshStats::subdomains`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubdomainCount {
    /// The subdomain's name, if it has one.
    pub name: Option<String>,
    /// Its marker.
    pub id: i32,
    /// Cells carrying the marker.
    pub cells: usize,
}

/// The facets of one boundary part, in [`MeshStats::boundary`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundaryCount {
    /// The part's name.
    pub name: String,
    /// Its facet marker, if it came from one.
    pub id: Option<i32>,
    /// Facets in the part (0 for a part of single nodes).
    pub facets: usize,
}

/// Statistics of a mesh: sizes, cell quality, cells per subdomain and facets per boundary part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MeshStats {
    /// The cell kind's name (`triangle`, `hexahedron`, ...).
    pub cell_kind: String,
    /// Cells.
    pub cells: usize,
    /// Nodes.
    pub nodes: usize,
    /// Cells reversed by validation because they were given in the other orientation.
    pub reoriented_cells: usize,
    /// Smallest cell quality (in `(0, 1]`, 1 for the ideal shape).
    pub min_quality: f64,
    /// Largest cell quality.
    pub max_quality: f64,
    /// Cells per subdomain, sorted by marker (empty for a mesh without cell markers).
    pub subdomains: Vec<SubdomainCount>,
    /// Facets per boundary part, in the mesh's order.
    pub boundary: Vec<BoundaryCount>,
}

/// Wall-clock seconds per pipeline phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PhaseTimings {
    /// Mesh generation or reading.
    pub mesh: f64,
    /// Sparsity pattern construction.
    pub pattern: f64,
    /// Matrix and load vector assembly.
    pub assembly: f64,
    /// Dirichlet elimination.
    pub boundary_conditions: f64,
    /// Solver set-up (factorisation, preconditioner).
    pub setup: f64,
    /// The linear solve itself.
    pub solve: f64,
    /// Post-processing (error norms, output).
    pub post: f64,
}

impl PhaseTimings {
    /// Sum of all phases.
    pub fn total(&self) -> f64 {
        self.mesh
            + self.pattern
            + self.assembly
            + self.boundary_conditions
            + self.setup
            + self.solve
            + self.post
    }
}

/// A feature a solve used, listed in [`Metrics::features_used`] (JSON: its snake-case name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Feature {
    /// Work vectors came from the vector pool.
    MemoryPooling,
    /// The matrix and load vector were assembled by the parallel assembler.
    ParallelAssembly,
    /// Some coefficient, source or boundary value was an expression.
    ExpressionFields,
    /// Expressions were compiled to machine code.
    JitExpressions,
    /// Error norms against an exact solution were computed.
    ExactSolutionErrors,
    /// The assembled operator came from a cache.
    OperatorCacheHit,
    /// The whole solution came from a cache.
    SolutionCacheHit,
    /// The mesh was refined adaptively (solve, estimate, mark, refine).
    AdaptiveRefinement,
}

impl Feature {
    /// Whether a cache served part of the solve ([`OperatorCacheHit`](Self::OperatorCacheHit),
    /// [`SolutionCacheHit`](Self::SolutionCacheHit)).
    pub const fn is_cache_hit(self) -> bool {
        matches!(self, Self::OperatorCacheHit | Self::SolutionCacheHit)
    }

    /// The name used in JSON and messages (`parallel_assembly`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::MemoryPooling => "memory_pooling",
            Self::ParallelAssembly => "parallel_assembly",
            Self::ExpressionFields => "expression_fields",
            Self::JitExpressions => "jit_expressions",
            Self::ExactSolutionErrors => "exact_solution_errors",
            Self::OperatorCacheHit => "operator_cache_hit",
            Self::SolutionCacheHit => "solution_cache_hit",
            Self::AdaptiveRefinement => "adaptive_refinement",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a cache can hold for a solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Artefact {
    /// The assembled, constrained linear system (the operator).
    System,
    /// A prepared solver (factorisation, preconditioner hierarchy).
    PreparedSolver,
    /// The solution with its report.
    Solution,
}

impl Artefact {
    /// The name used in JSON, cache keys and messages (`prepared_solver`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::PreparedSolver => "prepared_solver",
            Self::Solution => "solution",
        }
    }
}

impl fmt::Display for Artefact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An artefact a cache level served to a solve, listed in [`Metrics::cache_reused`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CacheReuse {
    /// What was served.
    pub artefact: Artefact,
    /// The cache level that served it (`memory`, `disk`, `redis` or a registered name).
    pub level: String,
}

impl CacheReuse {
    /// `artefact` served by `level`.
    pub fn new(artefact: Artefact, level: impl Into<String>) -> Self {
        Self {
            artefact,
            level: level.into(),
        }
    }
}

/// `solution@memory`.
impl fmt::Display for CacheReuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.artefact, self.level)
    }
}

/// What a whole solve (mesh to solution) did: sizes, timings, choices and accuracy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metrics {
    /// Unknowns (mesh nodes, including Dirichlet ones).
    pub dofs: usize,
    /// Cells of the mesh.
    pub num_elements: usize,
    /// Stored matrix entries.
    pub nnz: usize,
    /// Element used (`P1`, `Q1`).
    pub element: String,
    /// Nodes with a Dirichlet condition.
    pub dirichlet_dofs: usize,
    /// Linear solver used.
    pub solver: String,
    /// Preconditioner used.
    pub preconditioner: String,
    /// Iterations of the linear solver.
    pub iterations: usize,
    /// Final relative residual `‖b − Ax‖/‖b‖` of the linear solve, as the solver reported it
    /// (called `final_residual` before version 0.2; still read under that name).
    #[serde(alias = "final_residual")]
    pub final_relative_residual: f64,
    /// `‖b − Ax‖/‖b‖` recomputed after the solve from the matrix, the right-hand side and the
    /// solution, independently of the solver (see `femscale_core::verify`). Solutions served
    /// from the cache carry the value verified when they were computed.
    #[serde(default)]
    pub verified_relative_residual: f64,
    /// The componentwise backward error of the solution, `maxᵢ |b − Ax|ᵢ / (|A||x| + |b|)ᵢ`,
    /// recomputed with [`verified_relative_residual`](Self::verified_relative_residual).
    #[serde(default)]
    pub verified_backward_error: f64,
    /// Wall-clock seconds from mesh to solution (sum of the phases).
    pub total_solve_time: f64,
    /// Seconds per phase.
    pub phases: PhaseTimings,
    /// Which assembler ran (`serial`, `parallel`).
    pub assembler: String,
    /// Whether the parallel assembler was used.
    pub parallel_assembly_used: bool,
    /// Threads available to the solve.
    pub threads: usize,
    /// Scaling level in force (`auto` resolved to `minimal`, `standard` or `aggressive`).
    pub scaling_level: crate::ScalingLevel,
    /// L2 norm of `u_h - u` when an exact solution was given.
    pub l2_error: Option<f64>,
    /// H1 seminorm of `u_h - u` when an exact solution was given.
    pub h1_error: Option<f64>,
    /// Largest nodal error `max |u_h(x_i) - u(x_i)|` when an exact solution was given.
    pub max_nodal_error: Option<f64>,
    /// L2 norm of the exact solution `u` itself, the scale of `l2_error` (an error at
    /// round-off of it: the elements reproduce `u`); absent in records written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_l2_norm: Option<f64>,
    /// Features used in this solve, in the order they were switched on.
    pub features_used: Vec<Feature>,
    /// Artefacts served by a cache level (in JSON `{"artefact": "solution", "level":
    /// "memory"}`, displayed `solution@memory`); empty when everything was computed.
    #[serde(default)]
    pub cache_reused: Vec<CacheReuse>,
    /// Counters of each cache level after this solve, fastest level first.
    #[serde(default)]
    pub cache_levels: Vec<crate::cache::CacheStats>,
    /// Peak resident memory of the process during this solve, MB (on Linux the kernel's
    /// high-water mark since the solve began; process-wide, so concurrent solves share it).
    #[serde(default)]
    pub peak_rss_mb: Option<f64>,
    /// Mean CPU use during this solve, percent of one core (`100 × CPU time / wall time`, all
    /// threads of the process).
    #[serde(default)]
    pub mean_cpu_percent: Option<f64>,
    /// Why the scaler planned this solve as it did (threads, solver, memory).
    #[serde(default)]
    pub plan_rationale: String,
    /// Performance counters during this solve (process-wide differences: events of solves
    /// running at the same time count too).
    #[serde(default)]
    pub counters: crate::counters::CounterSnapshot,
    /// The full linear solve report.
    pub linear_solve: SolveReport,
    /// The mesh solved on: sizes, cell quality, cells per subdomain, facets per boundary part.
    #[serde(default)]
    pub mesh: MeshStats,
    /// Whether the mesh was refined adaptively (`[adaptivity]`); the other fields then
    /// describe the last step's solve.
    #[serde(default)]
    pub adaptive_refinement_used: bool,
    /// The adaptive loop's steps, when there was one.
    #[serde(default)]
    pub adaptivity: Option<crate::AdaptivityReport>,
}
