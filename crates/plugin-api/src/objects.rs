//! FFI-safe trait objects: what a plugin's factories return and what the host calls.
//!
//! Each trait is a `#[sabi_trait]`: the generated `*_TO` type is a trait object whose vtable
//! layout is checked at load time. Methods after the one marked `last_prefix_field` may be added
//! in a minor version of this crate. Plugin authors do not implement these traits directly: the
//! [`sdk`](crate::sdk) wraps a normal Rust struct and catches panics at every method.
#![allow(non_local_definitions, missing_docs)]

use abi_stable::sabi_trait;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RBox, RResult, RSlice, RSliceMut};

use crate::types::{CsrRef, PluginError, SolveOutcome, SolveParams};

/// Observes an iterative solve in a plugin; implemented by the host.
#[sabi_trait]
pub trait RMonitor {
    /// Called after each iteration with the relative residual; `false` asks the plugin to stop
    /// the solve and return [`ErrorKind::STOPPED`](crate::ErrorKind::STOPPED).
    #[sabi(last_prefix_field)]
    fn on_iteration(&mut self, iteration: usize, relative_residual: f64) -> bool;
}

/// The host's monitor as the plugin receives it, borrowed for one solve.
pub type MonitorMut<'a> = RMonitor_TO<'a, RMut<'a, ()>>;

/// A solver configured by its options: a factory of prepared solvers.
#[sabi_trait]
pub trait RSolver: Send + Sync {
    /// Does the set-up for `a` (which the host keeps alive and unchanged until the prepared
    /// solver is dropped or updated).
    #[sabi(last_prefix_field)]
    fn prepare(&self, a: CsrRef<'_>, params: SolveParams) -> RResult<PreparedBox, PluginError>;
}

/// An owned [`RSolver`] trait object.
pub type SolverBox = RSolver_TO<'static, RBox<()>>;

/// A solver set up for one matrix.
#[sabi_trait]
pub trait RPrepared: Send + Sync {
    /// Solves `A x = b`; `a` is the matrix given to `prepare` (or the last `update_values`),
    /// `x` holds the initial guess on entry and the solution on exit.
    fn solve<'m>(
        &mut self,
        a: CsrRef<'_>,
        b: RSlice<'_, f64>,
        x: RSliceMut<'_, f64>,
        params: SolveParams,
        monitor: MonitorMut<'m>,
    ) -> RResult<SolveOutcome, PluginError>;

    /// Refreshes the numeric set-up for a matrix with the same pattern and new values.
    fn update_values(&mut self, a: CsrRef<'_>) -> RResult<(), PluginError>;

    /// Heap memory held by the set-up, bytes.
    #[sabi(last_prefix_field)]
    fn memory_bytes(&self) -> usize;
}

/// An owned [`RPrepared`] trait object.
pub type PreparedBox = RPrepared_TO<'static, RBox<()>>;

/// A preconditioner configured by its options: builds preconditioners for matrices.
#[sabi_trait]
pub trait RPreconditionerBuilder: Send + Sync {
    /// Sets the preconditioner up for `a`.
    #[sabi(last_prefix_field)]
    fn build(&self, a: CsrRef<'_>) -> RResult<PreconditionerBox, PluginError>;
}

/// An owned [`RPreconditionerBuilder`] trait object.
pub type PreconditionerBuilderBox = RPreconditionerBuilder_TO<'static, RBox<()>>;

/// A preconditioner set up for one matrix: `z = M^{-1} r`.
#[sabi_trait]
pub trait RPreconditioner: Send + Sync {
    /// Applies the preconditioner; must not allocate per call.
    fn apply(&self, r: RSlice<'_, f64>, z: RSliceMut<'_, f64>) -> RResult<(), PluginError>;

    /// Heap memory held, bytes.
    #[sabi(last_prefix_field)]
    fn memory_bytes(&self) -> usize;
}

/// An owned [`RPreconditioner`] trait object.
pub type PreconditionerBox = RPreconditioner_TO<'static, RBox<()>>;
