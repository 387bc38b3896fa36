//! The assembler interface: build the pattern once, fill values into it many times.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::form::EllipticForm;
use crate::mesh::MeshView;
use crate::sparse::{CsrMatrix, SparsityPattern};

/// A matrix and its right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearSystem {
    /// The system matrix.
    pub matrix: CsrMatrix,
    /// The right-hand side.
    pub rhs: Vec<f64>,
}

impl LinearSystem {
    /// A zero system on `pattern`.
    pub fn zeros(pattern: std::sync::Arc<SparsityPattern>) -> Self {
        let n = pattern.nrows();
        Self {
            matrix: CsrMatrix::zeros(pattern),
            rhs: vec![0.0; n],
        }
    }

    /// A zero system on `pattern` whose right-hand side comes from the context's pool, if it
    /// has one (hand it back with [`ExecutionContext::give_back`](crate::ExecutionContext::give_back)
    /// when done).
    pub fn zeros_in(
        pattern: std::sync::Arc<SparsityPattern>,
        context: &crate::ExecutionContext,
    ) -> Self {
        let n = pattern.nrows();
        Self {
            matrix: CsrMatrix::zeros(pattern),
            rhs: context.take(n).into_vec(),
        }
    }
}

/// What an assembly pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AssemblyStats {
    /// Name of the assembler.
    pub assembler: String,
    /// Whether cells were processed in parallel.
    pub parallel: bool,
    /// Threads used.
    pub threads: usize,
    /// Cells integrated.
    pub cells: usize,
    /// Boundary facets integrated (Neumann and Robin terms).
    pub boundary_facets: usize,
    /// Field evaluations at quadrature points.
    pub field_evaluations: usize,
}

/// Assembles the finite element system of an [`EllipticForm`] on a mesh.
///
/// Contract: [`Assembler::pattern`] depends only on the mesh; [`Assembler::assemble_into`] overwrites
/// every value of `system` (matrix and right-hand side) and must not change its pattern.
///
/// What [`Assembler::assemble_into`] puts in, and what not:
///
/// * **in**: the volume terms (`∫ k ∇u·∇v + ∫ c u v` in the matrix, `∫ f v` in the right-hand
///   side) **and** the natural boundary conditions of the form — Neumann (`∫ g v` in the
///   right-hand side) and Robin (`∫ α u v` in the matrix, `∫ g v` in the right-hand side). There
///   is no separate step for them: adding them again after `assemble_into` counts them twice.
/// * **not in**: Dirichlet conditions. They are applied afterwards by `femscale-assembly`'s
///   `DirichletConditions` (symmetric elimination in place), so that one assembled operator can
///   serve several sets of boundary values.
///
/// So a system is: pattern → `assemble_into` → `DirichletConditions::apply`, which is exactly
/// what the runtime's pipeline does.
pub trait Assembler: Send + Sync + fmt::Debug {
    /// A short name for reports (`serial`, `parallel`).
    fn name(&self) -> &'static str;

    /// The pattern of the global matrix: entry `(i, j)` for every pair of nodes sharing a cell.
    ///
    /// # Errors
    /// If the mesh is inconsistent (node indices out of range).
    fn pattern(&self, mesh: &MeshView<'_>) -> Result<SparsityPattern>;

    /// Fills the matrix and right-hand side of `form` on `mesh` into `system`, whose pattern
    /// must come from [`Assembler::pattern`] on the same mesh: volume terms plus the Neumann
    /// and Robin terms of `form.boundary`, not the Dirichlet conditions (see the trait's
    /// documentation).
    ///
    /// # Errors
    /// If a boundary condition names an unknown part or the pattern does not fit the mesh.
    fn assemble_into(
        &self,
        mesh: &MeshView<'_>,
        form: &EllipticForm,
        system: &mut LinearSystem,
    ) -> Result<AssemblyStats>;

    /// Fills only the right-hand side of `form` (load vector plus Neumann and Robin data) into
    /// `rhs`, for when the matrix on `pattern` is already assembled — a sweep over sources or
    /// boundary values. Must equal the `rhs` that [`Assembler::assemble_into`] produces.
    ///
    /// The default assembles the whole system and keeps its right-hand side; implementations
    /// override it with a load-only pass.
    ///
    /// # Errors
    /// As [`Assembler::assemble_into`], or if `rhs` does not have one entry per pattern row.
    fn assemble_rhs(
        &self,
        mesh: &MeshView<'_>,
        form: &EllipticForm,
        pattern: &std::sync::Arc<SparsityPattern>,
        rhs: &mut [f64],
    ) -> Result<AssemblyStats> {
        if rhs.len() != pattern.nrows() {
            return Err(crate::Error::invalid(
                "system",
                format!(
                    "{} rhs entries for a pattern of {} rows",
                    rhs.len(),
                    pattern.nrows()
                ),
            ));
        }
        let mut system = LinearSystem::zeros(pattern.clone());
        let stats = self.assemble_into(mesh, form, &mut system)?;
        rhs.copy_from_slice(&system.rhs);
        Ok(stats)
    }
}
