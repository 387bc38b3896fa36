//! # femscale-assembly
//!
//! Finite element assembly for `-div(k grad u) + c u = f`:
//!
//! * [`build_pattern`]: the CSR pattern straight from node adjacency (no triplets, no sort of
//!   the whole matrix), built once per mesh.
//! * [`SerialAssembler`] and [`ParallelAssembler`]: fill matrix values and the load vector into
//!   that pattern with P1 (intervals, triangles) or Q1 (quadrilaterals) elements; the parallel
//!   one colours blocks of cells so that threads never write the same row.
//! * [`add_boundary_terms`] and [`DirichletConditions`]: Neumann/Robin terms and symmetric
//!   Dirichlet elimination, in place.
//! * [`error_norms`]: L2 and H1-seminorm errors against an exact solution.
//!
//! ```
//! use std::sync::Arc;
//! use femscale_assembly::{DirichletConditions, SerialAssembler};
//! use femscale_core::{Assembler, BoundaryCondition, BoundaryKind, Constant, EllipticForm, LinearSystem};
//! use femscale_mesh::Mesh;
//!
//! let mesh = Mesh::interval(0.0, 1.0, 4).unwrap();
//! let form = EllipticForm {
//!     diffusion: Arc::new(Constant(1.0)),
//!     reaction: None,
//!     source: None,
//!     boundary: vec![
//!         BoundaryCondition { part: "left".into(), kind: BoundaryKind::Dirichlet { value: Arc::new(Constant(0.0)) } },
//!         BoundaryCondition { part: "right".into(), kind: BoundaryKind::Dirichlet { value: Arc::new(Constant(1.0)) } },
//!     ],
//! };
//! let assembler = SerialAssembler::default();
//! let pattern = Arc::new(assembler.pattern(&mesh.view()).unwrap());
//! let mut system = LinearSystem::zeros(pattern);
//! assembler.assemble_into(&mesh.view(), &form, &mut system).unwrap();
//! DirichletConditions::from_form(&mesh.view(), &form).unwrap().apply(&mut system).unwrap();
//! assert_eq!(system.matrix.get(1, 1), 8.0); // 2/h with h = 1/4
//! assert_eq!(system.rhs[3], 4.0);            // 1/h * u(1) moved to the right-hand side
//! ```
#![warn(rustdoc::broken_intra_doc_links)]

mod assemble;
mod boundary;
mod dirichlet;
mod element;
mod norms;
mod parallel;
mod pattern;
pub mod quadrature;
mod version;

pub use assemble::{DEFAULT_BLOCK_CELLS, DEFAULT_QUADRATURE_DEGREE, SerialAssembler};
pub use boundary::{add_boundary_rhs, add_boundary_terms, check_boundary_parts};
pub use dirichlet::{DirichletConditions, DirichletLift};
pub use norms::{ErrorNorms, error_norms, error_norms_within};
pub use parallel::ParallelAssembler;
pub use pattern::{NodeCells, build_pattern};
pub use version::DISCRETISATION_VERSION;

#[cfg(test)]
mod tests;
