//! The assembled operator of a problem, from the pipeline's own stages, for programs that
//! solve it themselves (many right-hand sides, their own solvers, export to sprs or faer).

use std::sync::Arc;

use femscale_assembly::{DirichletConditions, DirichletLift};
use femscale_core::{AssemblyStats, CsrMatrix, ExecutionContext, PhaseTimings, Result};
use femscale_mesh::Mesh;

use super::FemSolver;
use super::phases::{Phase, PhaseClock};
use super::stages::{build_operator, mesh_or_stored_operator};
use crate::problem::Problem;

/// A problem's constrained linear system, as [`FemSolver::assemble`] returns it: what a
/// [`PreparedSolver`](femscale_core::PreparedSolver) takes
/// ([`LinearSolver::prepare`](femscale_core::LinearSolver::prepare) the matrix, solve the
/// load vector).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AssembledOperator {
    /// The mesh; node `i` is unknown `i`.
    pub mesh: Arc<Mesh>,
    /// The matrix with the Dirichlet rows and columns eliminated (symmetric elimination: an
    /// SPD operator stays SPD, the pattern is the assembled one).
    pub matrix: Arc<CsrMatrix>,
    /// The load vector with the Dirichlet lift applied: `matrix · u = rhs` is the discrete
    /// problem, `u` holding the boundary values on the constrained nodes.
    pub rhs: Vec<f64>,
    /// The constrained nodes and their values
    /// ([`DirichletConditions::impose_on`] sets them in a vector).
    pub dirichlet: DirichletConditions,
    /// The record of the elimination: for other boundary values on the same nodes (or another
    /// source), assemble the load vector only
    /// ([`Assembler::assemble_rhs`](femscale_core::Assembler::assemble_rhs)) and call
    /// [`DirichletLift::apply_rhs`] with the new conditions
    /// ([`DirichletConditions::from_form`]); the matrix stays valid.
    pub lift: Arc<DirichletLift>,
    /// What the assembly pass did (assembler, threads, cells).
    pub assembly: AssemblyStats,
    /// Seconds spent meshing, building the pattern, assembling and eliminating.
    pub phases: PhaseTimings,
}

impl FemSolver {
    /// Assembles `problem` into its constrained operator without solving it: the pipeline's
    /// mesh, pattern, assembly and Dirichlet stages with this solver's configuration (the
    /// planned threads and assembler, `assembly.quadrature_degree`, expression backend, and the
    /// cache: a stored operator is reused, a fresh one stored). Solving the result with the
    /// solver [`FemSolver::solve`] uses gives its values bit for bit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use femscale_core::{LinearSolver, NoMonitor, SolverOptions};
    /// use femscale_runtime::{FemSolver, Laplace2d};
    /// use femscale_solvers::DirectSolver;
    ///
    /// let fem = FemSolver::new();
    /// let problem = Laplace2d { nx: 8, ny: 8, top_bc: 1.0, ..Default::default() }.to_problem();
    /// let op = fem.assemble(&problem)?;
    /// assert_eq!(op.matrix.nrows(), op.mesh.num_nodes());
    ///
    /// let mut solver = DirectSolver::default().prepare(Arc::clone(&op.matrix), &SolverOptions::default())?;
    /// let mut u = vec![0.0; op.rhs.len()];
    /// solver.solve(&op.rhs, &mut u, &mut NoMonitor)?;
    /// let top = op.mesh.num_nodes() - 1;
    /// assert!((u[top] - 1.0).abs() < 1e-12); // a node of the top side
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`FemSolver::solve`] up to the assembly: an invalid problem or configuration, naming
    /// the field (`problem.mesh.nx`, `problem.boundary[1].where`), a mesh over the memory
    /// limit, `solver.timeout_seconds` exceeded.
    pub fn assemble(&self, problem: &Problem) -> Result<AssembledOperator> {
        let requested = self.config.solver.kind.as_str();
        let context = ExecutionContext::serial();
        let _counting = context.enter();
        let start = self.start(problem, requested)?;
        let cache = start.cache.as_ref();
        let mut clock = PhaseClock::new(&start.deadline);
        let meshed = clock.run(Phase::Mesh, || mesh_or_stored_operator(problem, cache))?;
        let decision = self.plan_for_mesh(&meshed.mesh, requested, &start.load)?;
        let setup = self.setup(problem, &decision, context)?;
        let operator = self.with_threads(setup.context.threads(), || {
            let _counting = setup.context.enter();
            build_operator(meshed, &setup, cache, &mut clock)
        })??;
        Ok(AssembledOperator {
            mesh: operator.mesh,
            matrix: operator.matrix,
            rhs: operator.rhs,
            dirichlet: operator.dirichlet,
            lift: operator.lift,
            assembly: operator.assembly,
            phases: clock.timings,
        })
    }
}
