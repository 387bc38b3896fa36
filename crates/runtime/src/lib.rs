//! # femscale-runtime
//!
//! The composition root of femscale: it turns configuration into components and runs the
//! pipeline.
//!
//! * [`Config`] and [`ConfigSources`]: the TOML schema and its layers (defaults < file <
//!   `--set key=value`), with errors that name key, file and line.
//! * [`Registry`]: solvers and preconditioners by name, built-in or from [`plugins`].
//!
//! Cargo features (all on by default; the `femscale` facade forwards them): `jit` (expressions
//! compiled by cranelift; without it the bytecode interpreter runs them, as on hosts
//! cranelift does not support), `plugins` (loading plugin libraries and process isolation:
//! abi_stable, libloading, memmap2) and `redis` (the Redis cache level). A configuration that
//! asks for what a missing feature provides is refused with
//! [`femscale_core::Error::FeatureDisabled`] naming the key.
//! * [`FemSolver`]: `solve_1d_laplace`, `solve_2d_laplace`, `solve(&Problem)`, returning a
//!   [`Solution`] with its [`femscale_core::Metrics`].
//!
//! Experiments (sweeps, repetitions, results, plots) and the scaling benchmark live above
//! this crate, in `femscale-experiment`.
#![warn(rustdoc::broken_intra_doc_links)]

mod caching;
pub mod config;
mod pipeline;
pub mod plugins;
pub mod problem;
mod registry;
mod scaling;

pub use caching::{
    CacheConfig, CacheReuse, DISK_LEVEL, MEMORY_LEVEL, PersistentLevel, REDIS_LEVEL, SolveCache,
    WritePolicyConfig, open_persistent_levels,
};
pub use config::{
    AssemblyConfig, Config, ConfigSources, ENV_PREFIX, FieldPath, Partitioner, Provenance,
    ScalingConfig, SolverConfig, SourceMap,
};
pub use pipeline::{
    AdaptiveSnapshot, AssembledOperator, FemSolver, ScalingMetrics, Solution, StepObserver, WarmUp,
    solver_for,
};
pub use plugins::PluginsConfig;
#[cfg(feature = "plugins")]
pub use plugins::{LoadedPlugin, PluginError, PluginKind};
pub use problem::{
    BoundarySpec, BoundarySpecKind, FieldSpec, Laplace1d, Laplace2d, MAX_REFINEMENTS, MeshSpec,
    Problem, Source,
};
pub use registry::{
    AssemblerBuilder, CacheBuilder, PreconditionerBuilder, Registry, SolverBuilder,
};
pub use scaling::{ScalingDecision, ScalingLevel, ScalingToggles};

/// The femscale version that every cache key (and every run identity of
/// `femscale-experiment`) includes: the workspace version.
pub const FEMSCALE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A hash of the source of the crates that compute or identify results (16 hex digits, set by
/// the build script): part of every cache key and run identity next to [`FEMSCALE_VERSION`],
/// so that entries and records of another build miss instead of standing in for this build's
/// numbers. Any change to those crates' code, their manifests or `Cargo.lock` changes it.
pub const BUILD_ID: &str = env!("FEMSCALE_BUILD_ID");
