//! # femscale-solvers
//!
//! Linear solvers implementing [`femscale_core::LinearSolver`]:
//!
//! | registry name | type | what it does |
//! |---|---|---|
//! | `direct` | [`DirectSolver`] | faer sparse Cholesky for SPD matrices, LU otherwise ([`DirectMethod`]) |
//! | `cg` | [`ConjugateGradient`] | preconditioned conjugate gradients on rayon-parallel [`kernels`] |
//! | `gmres` | [`Gmres`] | restarted GMRES(m), right-preconditioned, true residual at each restart |
//! | `bicgstab` | [`BiCgStab`] | right-preconditioned BiCGStab with breakdown detection |
//! | `amg` | [`AmgSolver`] | stationary smoothed-aggregation AMG cycles (W by default) |
//!
//! and preconditioners implementing [`femscale_core::PreconditionerFactory`]:
//!
//! | registry name | type |
//! |---|---|
//! | `none` | [`IdentityFactory`] |
//! | `jacobi` | [`JacobiFactory`] |
//! | `ssor` | [`SsorFactory`] (symmetric Gauss–Seidel for ω = 1) |
//! | `ilu0` | [`Ilu0Factory`] |
//! | `ic0` | [`Ic0Factory`] (diagonal shift on breakdown) |
//! | `amg` | [`AmgFactory`] (one smoothed-aggregation cycle, W by default) |
//!
//! A runtime registers [`builtin_solvers`] and [`builtin_preconditioners`] by name; there is no
//! central enum of solver kinds, so plugins register alongside in the same way.
//!
//! ```
//! use std::sync::Arc;
//! use femscale_core::{CsrMatrix, LinearSolver, NoMonitor, SolverOptions};
//! use femscale_solvers::{ConjugateGradient, DirectSolver, JacobiFactory};
//!
//! // 1D Laplacian, 5 unknowns.
//! let n = 5;
//! let mut t = Vec::new();
//! for i in 0..n {
//!     t.push((i, i, 2.0));
//!     if i > 0 { t.push((i, i - 1, -1.0)); }
//!     if i + 1 < n { t.push((i, i + 1, -1.0)); }
//! }
//! let a = Arc::new(CsrMatrix::try_from_triplets(n, n, &t).unwrap());
//! let b = vec![1.0; n];
//! let options = SolverOptions::default();
//!
//! let mut direct = DirectSolver::default().prepare(a.clone(), &options).unwrap();
//! let mut x_direct = vec![0.0; n];
//! let report = direct.solve(&b, &mut x_direct, &mut NoMonitor).unwrap();
//! assert_eq!(report.solver, "direct-banded"); // tridiagonal: the linear-time banded Cholesky
//!
//! let cg = ConjugateGradient::new(Arc::new(JacobiFactory));
//! let mut x_cg = vec![0.0; n];
//! let report = cg.prepare(a, &options).unwrap().solve(&b, &mut x_cg, &mut NoMonitor).unwrap();
//! assert!(report.converged && report.iterations <= n);
//! for (u, v) in x_direct.iter().zip(&x_cg) {
//!     assert!((u - v).abs() < 1e-6);
//! }
//! ```
#![warn(rustdoc::broken_intra_doc_links)]

use std::sync::Arc;

use femscale_core::{LinearSolver, PreconditionerFactory, SolverChoice, SolverInfo};

pub mod amg;
pub mod banded;
pub mod bicgstab;
pub mod cg;
pub mod direct;
pub mod fused;
pub mod gmres;
pub mod ilu;
pub mod interop;
mod iterative;
pub mod kernels;
pub mod options;
pub mod precond;
pub mod ssor;
mod supernodal;

pub use amg::{AmgFactory, AmgHierarchy, AmgSolver};
pub use bicgstab::BiCgStab;
pub use cg::ConjugateGradient;
pub use direct::{DirectMethod, DirectSolver, SYMMETRY_TOLERANCE, faer_par, set_faer_threads};
/// The faer version of [`interop`]'s signatures (and of the direct solver), so callers
/// need not pin a matching one.
pub use faer;
pub use gmres::Gmres;
pub use ilu::{Ic0, Ic0Factory, Ilu0, Ilu0Factory};
pub use kernels::Kernels;
pub use options::{
    AmgCycle, AmgOptions, AmgSmoother, DirectOptions, GmresOptions, MethodOptions, SsorOptions,
};
pub use precond::{Identity, IdentityFactory, Jacobi, JacobiFactory};
pub use ssor::{Ssor, SsorFactory};

/// Builds a solver around the preconditioner chosen for it, reading its own section of the
/// per-method options. Direct solvers ignore the preconditioner.
pub type SolverConstructor =
    fn(Arc<dyn PreconditionerFactory>, &MethodOptions) -> Box<dyn LinearSolver>;

/// Builds a preconditioner factory from the per-method options.
pub type PreconditionerConstructor = fn(&MethodOptions) -> Arc<dyn PreconditionerFactory>;

fn new_direct(_: Arc<dyn PreconditionerFactory>, options: &MethodOptions) -> Box<dyn LinearSolver> {
    Box::new(DirectSolver::new(options.direct.method))
}

fn new_cg(
    preconditioner: Arc<dyn PreconditionerFactory>,
    _: &MethodOptions,
) -> Box<dyn LinearSolver> {
    Box::new(ConjugateGradient::new(preconditioner))
}

fn new_identity(_: &MethodOptions) -> Arc<dyn PreconditionerFactory> {
    Arc::new(IdentityFactory)
}

fn new_jacobi(_: &MethodOptions) -> Arc<dyn PreconditionerFactory> {
    Arc::new(JacobiFactory)
}

/// The solvers of this crate as `(registry name, constructor, what the planner needs to know)`:
/// whether each takes a preconditioner and which one `auto` gives it (AMG for CG, ILU(0) for
/// the nonsymmetric Krylov methods), the memory model of its estimate (a factorisation, or
/// an iterative method bounded by AMG-CG's hierarchy) and its options table.
pub fn builtin_solvers() -> Vec<(&'static str, SolverConstructor, SolverInfo)> {
    use SolverChoice::{AmgCg, Direct};
    let krylov = |pc| SolverInfo::preconditioned(pc, Some(AmgCg));
    vec![
        (
            "direct",
            new_direct as SolverConstructor,
            SolverInfo::unpreconditioned(Some(Direct)).with_options_section("solver.direct"),
        ),
        ("cg", new_cg as SolverConstructor, krylov("amg")),
        (
            "gmres",
            gmres::new_gmres as SolverConstructor,
            krylov("ilu0").with_options_section("solver.gmres"),
        ),
        (
            "bicgstab",
            bicgstab::new_bicgstab as SolverConstructor,
            krylov("ilu0"),
        ),
        (
            "amg",
            amg::new_amg_solver as SolverConstructor,
            SolverInfo::unpreconditioned(Some(AmgCg)).with_options_section("solver.amg"),
        ),
    ]
}

/// The preconditioners of this crate as `(registry name, constructor)` pairs.
pub fn builtin_preconditioners() -> Vec<(&'static str, PreconditionerConstructor)> {
    vec![
        ("none", new_identity as PreconditionerConstructor),
        ("jacobi", new_jacobi as PreconditionerConstructor),
        ("ssor", ssor::new_ssor as PreconditionerConstructor),
        ("ilu0", ilu::new_ilu0 as PreconditionerConstructor),
        ("ic0", ilu::new_ic0 as PreconditionerConstructor),
        (
            "amg",
            amg::new_amg_preconditioner as PreconditionerConstructor,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_match_the_objects() {
        let options = MethodOptions::default();
        for (name, build) in builtin_preconditioners() {
            assert_eq!(build(&options).name(), name);
        }
        let jacobi = new_jacobi(&options);
        for (name, build, info) in builtin_solvers() {
            assert_eq!(build(Arc::clone(&jacobi), &options).name(), name);
            if info.takes_preconditioner {
                let names: Vec<_> = builtin_preconditioners().iter().map(|p| p.0).collect();
                assert!(names.contains(&info.default_preconditioner), "{name}");
            } else {
                assert_eq!(info.default_preconditioner, "none", "{name}");
            }
        }
    }
}
