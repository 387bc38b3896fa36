//! # femscale
//!
//! Finite elements for `-div(k grad u) + c u = f` with Dirichlet, Neumann and Robin boundaries,
//! from a 100-element 1D solve to million-unknown 2D solves. This crate re-exports the parts;
//! most users need only the [`prelude`].
//!
//! ```
//! use femscale::prelude::*;
//!
//! let solver = FemSolver::new();
//! let sol = solver.solve_2d_laplace(&Laplace2d {
//!     nx: 16,
//!     ny: 16,
//!     source: Some(Source::expr("2*pi^2*sin(pi*x)*sin(pi*y)")),
//!     exact: Some(Source::expr("sin(pi*x)*sin(pi*y)")),
//!     ..Default::default()
//! })?;
//! assert!(sol.metrics.l2_error.unwrap() < 1e-2);
//! println!("{} dofs in {:.3}s", sol.metrics.dofs, sol.metrics.total_solve_time);
//! # Ok::<(), femscale::Error>(())
//! ```
//!
//! | crate | re-exported as |
//! |---|---|
//! | `femscale-core` | [`core`]: traits, sparse matrices, errors, reports |
//! | `femscale-mesh` | [`mesh`]: meshes and generators |
//! | `femscale-assembly` | [`assembly`]: quadrature, assemblers, boundary conditions, error norms |
//! | `femscale-solvers` | [`solvers`]: direct and iterative solvers, preconditioners |
//! | `femscale-expr` | [`expr`]: expressions of position |
//! | `femscale-cache` | [`cache`]: memory, disk, Redis and tiered artefact caches |
//! | `femscale-scaling` | [`scaling`]: adaptive scaler, worker pool, resource monitor, counters |
//! | `femscale-runtime` | [`runtime`]: configuration, registry, the pipeline, the solve cache, plugins |
//! | `femscale-experiment` | `experiment`: sweeps, results and plots, the scaling benchmark (feature `experiment`) |
//!
//! ## Cargo features
//!
//! All are on by default. A program that only solves takes `default-features = false`
//! (mesh, assembly, solvers and the runtime with its memory and disk caches) and adds what it
//! needs:
//!
//! | feature | brings | without it |
//! |---|---|---|
//! | `jit` | expressions compiled to machine code (cranelift) | the bytecode interpreter runs them, with identical results, as on hosts cranelift does not support |
//! | `plugins` | plugin libraries (abi_stable, libloading) and `plugins.isolation = "process"` | `plugins.paths`, `plugins.dirs`, `plugins.options` are refused |
//! | `redis` | the `redis` cache level | `cache.levels = ["redis"]` is refused |
//! | `monitor` | `scaling::ResourceMonitor`, `SystemLoadSource`, GPU via NVML (sysinfo) | — (the planner reads the machine without it) |
//! | `experiment` | `femscale::experiment` (sweeps, results, the benchmark); implies `monitor` | — |
//! | `plots` | SVG plots of experiments and the benchmark (plotters); implies `experiment` | the `svg` output format is refused |
//!
//! A refusal is an [`Error::FeatureDisabled`] naming the configuration key and the feature.
#![warn(rustdoc::broken_intra_doc_links)]

pub use femscale_assembly as assembly;
pub use femscale_cache as cache;
pub use femscale_core as core;
pub use femscale_core::{Error, Result};
#[cfg(feature = "experiment")]
pub use femscale_experiment as experiment;
pub use femscale_expr as expr;
pub use femscale_mesh as mesh;
pub use femscale_runtime as runtime;
pub use femscale_scaling as scaling;
pub use femscale_solvers as solvers;

/// The names most programs need.
pub mod prelude {
    pub use femscale_core::{
        Artefact, Assembler, CacheReuse, Constant, CsrMatrix, EllipticForm, Error, Feature,
        FnField, LinearSolver, Metrics, PreparedSolver, ScalarField, ScalingLevel, SolveError,
        SolveReport, SolverOptions, SparsityPattern,
    };
    pub use femscale_mesh::{Diagonal, Mesh, RectangleCells, RectangleSpec};
    pub use femscale_runtime::{
        BoundarySpec, Config, ConfigSources, FemSolver, FieldSpec, Laplace1d, Laplace2d, MeshSpec,
        Problem, Solution, Source,
    };
}
