//! # femscale-core
//!
//! The traits every femscale component plugs into, and the data they exchange:
//!
//! | module | what it holds |
//! |---|---|
//! | [`sparse`] | [`SparsityPattern`] and [`CsrMatrix`]: pattern built once, values refilled many times |
//! | [`field`] | [`ScalarField`]: coefficients, sources and boundary data as functions of position |
//! | [`mesh`] | [`MeshView`]: the borrowed, assembly-facing view of any mesh |
//! | [`form`] | [`EllipticForm`] and [`BoundaryCondition`]: what `-div(k grad u) + c u = f` needs |
//! | [`assembler`] | [`Assembler`]: pattern, then values, serial or parallel |
//! | [`solver`] | [`LinearSolver`] → [`PreparedSolver`], [`Preconditioner`], [`SolveMonitor`] |
//! | [`cache`] | [`Cache`]: byte-level artefact cache keyed by content hashes |
//! | [`checks`] | [`check_memory`](checks::check_memory) and the dimension checks; MB means MiB |
//! | [`scaler`] | [`Scaler`]: turns a work estimate into an [`ExecutionPlan`] |
//! | [`pool`] | [`VectorPool`]: bounded reuse of work vectors across solves |
//! | [`context`] | [`ExecutionContext`]: threads, pool and counters of one solve |
//! | [`counters`](mod@counters) | [`Counters`]: process-wide performance counters ([`scaling_metrics`]) |
//! | [`verify`] | [`verify_solution`]: finite entries and the true residual, checked after every solve |
//! | [`report`] | [`SolveReport`] and [`Metrics`]: serialisable records of what happened |
//! | [`error`] | typed errors ([`Error`], [`SolveError`]) that carry data |
//!
//! This crate depends on no other femscale crate; every implementation crate depends on it.
//!
//! ```
//! use femscale_core::{CsrMatrix, SparsityPattern};
//! // The 1D Laplacian on three unknowns.
//! let pattern = SparsityPattern::try_new(3, 3, vec![0, 2, 5, 7], vec![0, 1, 0, 1, 2, 1, 2]).unwrap();
//! let a = CsrMatrix::try_from_pattern_and_values(pattern.into(), vec![2., -1., -1., 2., -1., -1., 2.]).unwrap();
//! let mut y = vec![0.0; 3];
//! a.mul_vec_into(&[1.0, 1.0, 1.0], &mut y);
//! assert_eq!(y, vec![1.0, 0.0, 1.0]);
//! ```
#![warn(rustdoc::broken_intra_doc_links)]

pub mod adaptivity;
pub mod assembler;
pub mod cache;
pub mod checks;
pub mod context;
pub mod counters;
pub mod deadline;
pub mod error;
pub mod field;
pub mod field_path;
pub mod form;
pub mod io;
pub mod lagrange;
pub mod mesh;
pub mod pool;
pub mod report;
pub mod scaler;
pub mod shown;
pub mod solver;
pub mod sparse;
pub mod verify;

pub use adaptivity::{AdaptiveStep, AdaptiveStop, AdaptivityReport};
pub use assembler::{Assembler, AssemblyStats, LinearSystem};
pub use cache::{Cache, CacheKey, CacheStats, NoCache};
pub use context::ExecutionContext;
pub use counters::{
    Counter, CounterScope, CounterSnapshot, Counters, counters, record, reset_scaling_metrics,
    scaling_metrics,
};
pub use deadline::{Deadline, DeadlineMonitor};
pub use error::{Error, FilePosition, Result, SolveError};
pub use field::{Constant, FnField, ScalarField, SharedField, SubdomainField};
pub use field_path::{FieldPath, Step};
pub use form::{
    BoundaryCondition, BoundaryConditionOf, BoundaryFieldRole, BoundaryKind, BoundaryKindOf,
    EllipticForm,
};
pub use lagrange::Order;
pub use mesh::{BoundaryPart, CellKind, MeshView, Subdomain, Validated, find_part};
pub use pool::{PoolStats, PooledVec, VectorPool};
pub use report::{
    Artefact, BoundaryCount, CacheReuse, Feature, MeshStats, Metrics, PhaseTimings, RanksReport,
    SolveReport, SubdomainCount,
};
pub use scaler::{
    ExecutionPlan, PlanReason, PlanTopic, Scaler, ScalingLevel, SolverChoice, StaticScaler,
    SystemLoad, WorkEstimate,
};
pub use solver::{
    CoarseSpace, ConcurrentSolver, ControlFlow, LinearSolver, NoMonitor, Preconditioner,
    PreconditionerFactory, PreparedSolver, RowShare, SharedSolver, SolveMonitor, SolverInfo,
    SolverOptions,
};
pub use sparse::{
    CsrMatrix, FEW_STORED_ZEROS, MAX_COLUMNS, MAX_DIMENSION, SparsityPattern, few_stored_zeros,
    narrow_indices,
};
/// The sprs version [`CsrMatrix::as_sprs`], [`CsrMatrix::to_sprs`] and
/// [`CsrMatrix::try_from_sprs`] use, so callers need not pin a matching one.
pub use sprs;
pub use verify::{
    Refinement, Verification, confirm_solution, confirm_solution_shared, refine_componentwise,
    verify_solution, verify_solution_shared,
};
