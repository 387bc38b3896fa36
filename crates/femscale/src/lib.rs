//! # femscale
//!
//! Finite elements for `-div(k grad u) + c u = f` with Dirichlet, Neumann and Robin boundaries,
//! from a 100-element 1D solve to million-unknown 3D solves. This crate re-exports the parts;
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
//! | `femscale-distributed` | [`distributed`]: communicators (MPI with feature `mpi`, in-process ranks) |
//! | (this crate) | [`ranks`]: one problem solved across the ranks of a communicator |
#![cfg_attr(
    feature = "experiment",
    doc = "| `femscale-experiment` | [`experiment`]: sweeps, results and plots, the scaling benchmark (feature `experiment`) |"
)]
#![cfg_attr(
    not(feature = "experiment"),
    doc = "| `femscale-experiment` | `experiment`: sweeps, results and plots, the scaling benchmark (feature `experiment`, off in this build) |"
)]
//!
//! ## Cargo features
//!
//! All but `mpi` and `metis` are on by default. A program that only solves takes `default-features = false`
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
//! | `mpi` | `distributed::MpiWorld` (rsmpi; needs an MPI library and libclang to build), off by default | a run launched as one of several ranks is refused |
//! | `metis` | `solver.partition = "metis"`: METIS graph partitioning of distributed solves (the vendored C library; needs a C compiler), off by default | that value is refused |
//!
//! A refusal is an [`Error::FeatureDisabled`] naming the configuration key and the feature.
//!
//! ## Reading these docs
//!
//! The modules above and the [`prelude`]'s names link to the pages of the crate that defines
//! them: `cargo doc -p femscale` and `cargo doc --workspace --no-deps` build those pages,
//! `cargo doc -p femscale --no-deps` builds this crate's pages alone.
#![warn(rustdoc::broken_intra_doc_links)]

pub use femscale_assembly as assembly;
pub use femscale_cache as cache;
pub use femscale_core as core;
#[doc(no_inline)]
pub use femscale_core::{Error, Result};
pub use femscale_distributed as distributed;
#[cfg(feature = "experiment")]
pub use femscale_experiment as experiment;
pub use femscale_expr as expr;
pub use femscale_mesh as mesh;
pub mod ranks;
pub use femscale_runtime as runtime;
pub use femscale_scaling as scaling;
pub use femscale_solvers as solvers;

/// The names most programs need: `use femscale::prelude::*;`.
///
/// * the high-level path: [`FemSolver`](prelude::FemSolver), [`Config`](prelude::Config),
///   [`Problem`](prelude::Problem), [`MeshSpec`](prelude::MeshSpec),
///   [`BoundarySpec`](prelude::BoundarySpec), [`FieldSpec`](prelude::FieldSpec) (alias
///   [`Source`](prelude::Source)), [`Solution`](prelude::Solution), [`Metrics`](prelude::Metrics),
///   and the operator without the solve: [`AssembledOperator`](prelude::AssembledOperator) from
///   [`FemSolver::assemble`](prelude::FemSolver::assemble), onto which
///   [`FemSolver::assemble_rhs`](prelude::FemSolver::assemble_rhs) lifts other sources and
///   boundary data (its [`DirichletLift`](prelude::DirichletLift));
/// * the low-level path: meshes ([`Mesh`](prelude::Mesh), [`CellKind`](prelude::CellKind),
///   [`BoundaryPart`](prelude::BoundaryPart)), forms ([`EllipticForm`](prelude::EllipticForm),
///   [`BoundaryCondition`](prelude::BoundaryCondition), [`BoundaryKind`](prelude::BoundaryKind)),
///   assembly ([`SerialAssembler`](prelude::SerialAssembler),
///   [`ParallelAssembler`](prelude::ParallelAssembler), [`LinearSystem`](prelude::LinearSystem),
///   [`DirichletConditions`](prelude::DirichletConditions)), the solvers and preconditioner
///   factories of `femscale-solvers` with their options, and [`NoMonitor`](prelude::NoMonitor)
///   for [`PreparedSolver::solve`](prelude::PreparedSolver::solve);
/// * one factorization for several threads: [`SharedSolver`](prelude::SharedSolver) (any prepared
///   solver, `Send + Sync`, cloneable) and [`ConcurrentSolver`](prelude::ConcurrentSolver) (what
///   [`PreparedSolver::concurrent`](prelude::PreparedSolver::concurrent) offers);
/// * errors: [`Error`], [`Result`] (its error type defaults to
///   `Error`, so `Result<T, OtherError>` still works) and [`SolveError`](prelude::SolveError).
///
/// **Closures.** A coefficient, source or boundary value computed by Rust code is
/// [`FieldSpec::func`](prelude::FieldSpec::func)`(label, |p: [f64; 3]| ...)` — the one way the
/// documentation and examples use. A field you already have as a
/// [`SharedField`](prelude::SharedField) becomes a `FieldSpec` with
/// [`FieldSpec::field`](prelude::FieldSpec::field) or `.into()`, and
/// [`FieldSpec::build`](prelude::FieldSpec::build) turns any `FieldSpec` into the `SharedField`
/// an [`EllipticForm`](prelude::EllipticForm) holds. (`femscale::core::FnField`, the type behind
/// `FieldSpec::func`, is there for code that implements fields itself; it is not needed to pass
/// a closure.)
///
/// **Options.** [`SolverOptions`](prelude::SolverOptions) and the per-method options
/// ([`AmgOptions`](prelude::AmgOptions), [`GmresOptions`](prelude::GmresOptions),
/// [`SsorOptions`](prelude::SsorOptions), [`DirectOptions`](prelude::DirectOptions),
/// [`MethodOptions`](prelude::MethodOptions)) are `#[non_exhaustive]`: build them from
/// `default()` with their chainable `with_*` methods, one per field
/// (`SolverOptions::default().with_max_iterations(3).with_tolerance(1e-10)`).
///
/// ```
/// use std::sync::Arc;
/// use femscale::prelude::*;
///
/// // -u'' = 1 on (0, 1), u(0) = u(1) = 0, assembled and solved by hand.
/// let mesh = Mesh::interval(0.0, 1.0, 8)?;
/// let form = EllipticForm {
///     diffusion: Arc::new(Constant(1.0)),
///     reaction: None,
///     source: Some(FieldSpec::func("one", |_| 1.0).build("source", &Default::default())?),
///     boundary: vec![BoundaryCondition::dirichlet("all", Arc::new(Constant(0.0)) as SharedField)],
/// };
/// let assembler = SerialAssembler::default();
/// let mut system = LinearSystem::zeros(Arc::new(assembler.pattern(&mesh.view())?));
/// assembler.assemble_into(&mesh.view(), &form, &mut system)?;
/// DirichletConditions::from_form(&mesh.view(), &form)?.apply(&mut system)?;
/// // The eliminated rows and columns are stored zeros: drop them before solving.
/// assert_eq!(system.matrix.drop_stored_zeros(), 4);
/// let options = SolverOptions::default().with_tolerance(1e-12).with_max_iterations(100);
/// let mut prepared = ConjugateGradient::new(Arc::new(JacobiFactory)).prepare(Arc::new(system.matrix), &options)?;
/// let mut u = vec![0.0; system.rhs.len()];
/// prepared.solve(&system.rhs, &mut u, &mut NoMonitor)?;
/// assert!((u[4] - 0.125).abs() < 1e-10); // u = x (1 - x) / 2
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod prelude {
    #[doc(no_inline)]
    pub use femscale_assembly::{
        DirichletConditions, DirichletLift, ParallelAssembler, SerialAssembler,
    };
    #[doc(no_inline)]
    pub use femscale_core::{
        Artefact, Assembler, BoundaryCondition, BoundaryKind, BoundaryPart, CacheReuse, CellKind,
        ConcurrentSolver, Constant, CsrMatrix, EllipticForm, Error, Feature, FnField, LinearSolver,
        LinearSystem, Metrics, NoMonitor, Order, PreconditionerFactory, PreparedSolver, Result,
        ScalarField, ScalingLevel, SharedField, SharedSolver, SolveError, SolveMonitor,
        SolveReport, SolverOptions, SparsityPattern, Subdomain, SubdomainField,
    };
    #[doc(no_inline)]
    pub use femscale_mesh::{
        BoxCells, BoxSpec, Diagonal, Mesh, MeshBuilder, RectangleCells, RectangleSpec,
    };
    #[doc(no_inline)]
    pub use femscale_runtime::{
        AssembledOperator, BoundarySpec, Config, ConfigSources, FemSolver, FieldSpec, Laplace1d,
        Laplace2d, MeshSpec, Problem, Solution, Source,
    };
    #[doc(no_inline)]
    pub use femscale_solvers::{
        AmgFactory, AmgOptions, AmgSmoother, AmgSolver, BiCgStab, ConjugateGradient, DirectMethod,
        DirectOptions, DirectSolver, Gmres, GmresOptions, Ic0Factory, IdentityFactory, Ilu0Factory,
        JacobiFactory, MethodOptions, SsorFactory, SsorOptions,
    };
}
