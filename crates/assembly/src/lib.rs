//! # femscale-assembly
//!
//! Finite element assembly for `-div(k grad u) + c u = f`:
//!
//! * [`build_pattern`]: the CSR pattern straight from node adjacency (no triplets, no sort of
//!   the whole matrix), built once per mesh.
//! * [`SerialAssembler`] and [`ParallelAssembler`]: fill matrix values and the load vector into
//!   that pattern with Lagrange elements of the mesh's order (`MeshView::order`): P1/P2 on
//!   intervals, triangles and tetrahedra, Q1/Q2 on quadrilaterals and hexahedra, the nodes of
//!   the mesh being the degrees of freedom. Geometry is affine on simplices and (multi)linear
//!   on quadrilaterals and hexahedra, isoparametric on curved meshes (`MeshView::curved`).
//!   Neumann and Robin terms are included; the parallel assembler colours blocks of cells so
//!   that threads never write the same row.
//! * [`DirichletConditions`]: symmetric Dirichlet elimination, in place.
//! * [`error_norms`]: L2 and H1-seminorm errors against an exact solution.
//! * [`estimate`]: a posteriori error estimators (residual, Zienkiewicz–Zhu), true element
//!   errors and marking for adaptive refinement.
//!
//! ## What `assemble_into` includes, and what not
//!
//! A system is built in three steps, with nothing in between: the pattern, then
//! [`Assembler::assemble_into`](femscale_core::Assembler::assemble_into), then
//! [`DirichletConditions::apply`]:
//!
//! | term | where it comes from |
//! |---|---|
//! | volume: `∫ k ∇u·∇v + ∫ c u v` (matrix), `∫ f v` (right-hand side) | `assemble_into` |
//! | Neumann `k ∂u/∂n = g`: `∫ g v` (right-hand side) | `assemble_into` |
//! | Robin `k ∂u/∂n + α u = g`: `∫ α u v` (matrix), `∫ g v` (right-hand side) | `assemble_into` |
//! | Dirichlet `u = g`: symmetric elimination | [`DirichletConditions::apply`] (or [`DirichletConditions::apply_recording`]), never `assemble_into` |
//!
//! There is no separate step for the Neumann and Robin terms: `assemble_into` overwrites the
//! whole system with all of the above except Dirichlet, and adding the boundary terms again
//! would count them twice. Dirichlet conditions stay out so that one assembled operator can
//! take several sets of boundary values ([`DirichletLift`]).
//! [`Assembler::assemble_rhs`](femscale_core::Assembler::assemble_rhs) fills the right-hand
//! side of the same system alone (load vector plus Neumann and Robin data). `femscale-runtime`'s
//! pipeline (`FemSolver::solve`) takes exactly these steps.
//!
//! ```
//! use std::sync::Arc;
//! use femscale_assembly::{DirichletConditions, SerialAssembler};
//! use femscale_core::{Assembler, BoundaryCondition, BoundaryKind, Constant, EllipticForm, LinearSystem};
//! use femscale_mesh::Mesh;
//!
//! // -u'' = 0 on (0, 1), u(0) = 1, u'(1) = 2: u = 1 + 2x.
//! let mesh = Mesh::interval(0.0, 1.0, 4).unwrap();
//! let form = EllipticForm {
//!     diffusion: Arc::new(Constant(1.0)),
//!     reaction: None,
//!     source: None,
//!     boundary: vec![
//!         BoundaryCondition { part: "left".into(), kind: BoundaryKind::Dirichlet { value: Arc::new(Constant(1.0)) } },
//!         BoundaryCondition { part: "right".into(), kind: BoundaryKind::Neumann { flux: Arc::new(Constant(2.0)) } },
//!     ],
//! };
//! let assembler = SerialAssembler::default();
//! let pattern = Arc::new(assembler.pattern(&mesh.view()).unwrap());
//! let mut system = LinearSystem::zeros(pattern);
//! assembler.assemble_into(&mesh.view(), &form, &mut system).unwrap();
//! assert_eq!(system.rhs[4], 2.0); // the Neumann flux is already in: no further step
//! DirichletConditions::from_form(&mesh.view(), &form).unwrap().apply(&mut system).unwrap();
//! assert_eq!(system.matrix.get(1, 1), 8.0); // 2/h with h = 1/4
//! assert_eq!(system.rhs[1], 4.0);            // 1/h * u(0) moved to the right-hand side
//! ```
#![warn(rustdoc::broken_intra_doc_links)]

mod assemble;
mod boundary;
mod coefficients;
mod dirichlet;
mod element;
pub mod estimate;
mod norms;
mod parallel;
mod pattern;
pub mod quadrature;
mod version;

pub use assemble::{DEFAULT_BLOCK_CELLS, DEFAULT_QUADRATURE_DEGREE, SerialAssembler};
pub use boundary::check_boundary_parts;
pub use dirichlet::{DirichletConditions, DirichletLift};
pub use estimate::{
    Estimate, Estimator, Marking, element_errors, element_errors_within, estimate_within, mark,
    recovery_estimate, residual_estimate,
};
pub use norms::{ErrorNorms, error_norms, error_norms_within, max_nodal_error_within};
pub use parallel::ParallelAssembler;
pub use pattern::{NodeCells, build_pattern};
pub use version::DISCRETISATION_VERSION;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_higher;
