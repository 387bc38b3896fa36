//! Serialisable records of what a solve did: the linear solve ([`SolveReport`]) and the whole
//! pipeline ([`Metrics`]).

use serde::{Deserialize, Serialize};

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
    pub initial_residual: f64,
    /// `||b - A x||` at the end.
    pub final_residual: f64,
    /// `||b - A x|| / ||b||` at the end (`||b|| = 0` counts as 1).
    pub final_relative_residual: f64,
    /// The relative tolerance asked for.
    pub tolerance: f64,
    /// Relative residual after each iteration (empty for direct solvers).
    pub residual_history: Vec<f64>,
    /// Seconds spent preparing (factorisation, preconditioner set-up).
    pub setup_seconds: f64,
    /// Seconds spent in this solve.
    pub solve_seconds: f64,
    /// Threads used by the solver kernels.
    pub threads: usize,
    /// Memory held by the prepared solver (factors, preconditioner), bytes.
    pub memory_bytes: usize,
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
    /// Scaling level in force (`minimal`, `standard`, `aggressive`; `auto` resolved).
    pub scaling_level: String,
    /// L2 norm of `u_h - u` when an exact solution was given.
    pub l2_error: Option<f64>,
    /// H1 seminorm of `u_h - u` when an exact solution was given.
    pub h1_error: Option<f64>,
    /// Largest nodal error `max |u_h(x_i) - u(x_i)|` when an exact solution was given.
    pub max_nodal_error: Option<f64>,
    /// Features used in this solve (e.g. `parallel_assembly`, `expression_fields`).
    pub features_used: Vec<String>,
    /// Artefacts reused from the cache, as `artefact@level` (`solution@memory`,
    /// `system@disk`, `prepared_solver@memory`); empty when everything was computed.
    #[serde(default)]
    pub cache_reused: Vec<String>,
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
}
