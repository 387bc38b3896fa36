//! # femscale-solvers
//!
//! Linear solvers implementing [`femscale_core::LinearSolver`]:
//!
//! | registry name | type | what it does |
//! |---|---|---|
//! | `direct` | [`DirectSolver`] | faer sparse Cholesky for SPD matrices, LU otherwise ([`DirectMethod`]) |
//! | `cg` | [`ConjugateGradient`] | preconditioned conjugate gradients on rayon-parallel [`kernels`] |
//!
//! and preconditioners implementing [`femscale_core::PreconditionerFactory`]:
//!
//! | registry name | type |
//! |---|---|
//! | `none` | [`IdentityFactory`] |
//! | `jacobi` | [`JacobiFactory`] |
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
//! assert_eq!(report.solver, "direct-cholesky");
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

use femscale_core::{LinearSolver, PreconditionerFactory};

pub mod cg;
pub mod direct;
pub mod kernels;
pub mod precond;

pub use cg::ConjugateGradient;
pub use direct::{DirectMethod, DirectSolver, SYMMETRY_TOLERANCE, faer_par, set_faer_threads};
pub use kernels::Kernels;
pub use precond::{Identity, IdentityFactory, Jacobi, JacobiFactory};

/// Builds a solver from the preconditioner chosen for it. Iterative solvers use it; direct
/// solvers ignore it.
pub type SolverConstructor = fn(Arc<dyn PreconditionerFactory>) -> Box<dyn LinearSolver>;

fn new_direct(_: Arc<dyn PreconditionerFactory>) -> Box<dyn LinearSolver> {
    Box::new(DirectSolver::new(DirectMethod::Auto))
}

fn new_cg(preconditioner: Arc<dyn PreconditionerFactory>) -> Box<dyn LinearSolver> {
    Box::new(ConjugateGradient::new(preconditioner))
}

/// The solvers of this crate as `(registry name, constructor)` pairs: `direct` (automatic
/// Cholesky/LU) and `cg`.
pub fn builtin_solvers() -> Vec<(&'static str, SolverConstructor)> {
    vec![
        ("direct", new_direct as SolverConstructor),
        ("cg", new_cg as SolverConstructor),
    ]
}

/// The preconditioners of this crate as `(registry name, factory)` pairs: `none` and `jacobi`.
pub fn builtin_preconditioners() -> Vec<(&'static str, Arc<dyn PreconditionerFactory>)> {
    let factories: [Arc<dyn PreconditionerFactory>; 2] =
        [Arc::new(IdentityFactory), Arc::new(JacobiFactory)];
    factories.into_iter().map(|f| (f.name(), f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_match_the_objects() {
        let pcs = builtin_preconditioners();
        let names: Vec<_> = pcs.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["none", "jacobi"]);
        let jacobi = Arc::clone(&pcs[1].1);
        for (name, build) in builtin_solvers() {
            let solver = build(Arc::clone(&jacobi));
            assert_eq!(solver.name(), name);
        }
        assert_eq!(builtin_solvers().len(), 2);
    }
}
