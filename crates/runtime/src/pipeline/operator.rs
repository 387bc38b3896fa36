//! The assembled operator of a problem, from the pipeline's own stages, for programs that
//! solve it themselves (many right-hand sides, their own solvers, export to sprs or faer).

use std::sync::Arc;

use femscale_assembly::{DirichletConditions, DirichletLift};
use femscale_core::{
    AssemblyStats, BoundaryFieldRole, CsrMatrix, Error, ExecutionContext, PhaseTimings,
    PreparedSolver, Result,
};
use femscale_mesh::Mesh;

use super::FemSolver;
use super::checks::solve_error;
use super::coarse_space::with_vertex_coarse_space;
use super::phases::{Phase, PhaseClock};
use super::solve::Start;
use super::stages::{SolveSetup, build_operator, lifted_rhs, mesh_or_stored_operator};
use crate::problem::{FieldSpec, Problem};

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
    /// The record of the elimination, with which [`FemSolver::assemble_rhs`] lifts other
    /// sources and boundary values onto this matrix.
    pub lift: Arc<DirichletLift>,
    /// What the assembly pass did (assembler, threads, cells).
    pub assembly: AssemblyStats,
    /// Seconds spent meshing, building the pattern, assembling and eliminating.
    pub phases: PhaseTimings,
    /// What [`FemSolver::assemble_rhs`] checks another problem and this operator against.
    origin: Origin,
}

/// The problem and discretisation an operator was assembled from, and the parts it was
/// assembled into (the public fields may be replaced; a load vector is only lifted onto these).
#[derive(Debug, Clone)]
struct Origin {
    problem: Problem,
    quadrature_degree: usize,
    mesh: Arc<Mesh>,
    matrix: Arc<CsrMatrix>,
    lift: Arc<DirichletLift>,
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
        let decision = self.plan_for_mesh(problem, &meshed.mesh, requested, &start.load)?;
        decision.log_warnings();
        let setup = self.setup(problem, &decision, context)?;
        let operator = self.with_threads(setup.context.threads(), || {
            let _counting = setup.context.enter();
            build_operator(meshed, &setup, cache, &mut clock)
        })??;
        let origin = Origin {
            problem: problem.clone(),
            quadrature_degree: self.config.assembly.quadrature_degree,
            mesh: Arc::clone(&operator.mesh),
            matrix: Arc::clone(&operator.matrix),
            lift: Arc::clone(&operator.lift),
        };
        Ok(AssembledOperator {
            mesh: operator.mesh,
            matrix: operator.matrix,
            rhs: operator.rhs,
            dirichlet: operator.dirichlet,
            lift: operator.lift,
            assembly: operator.assembly,
            phases: clock.timings,
            origin,
        })
    }

    /// The right-hand side of `problem` on `op`, an operator [`FemSolver::assemble`] built for
    /// a problem that differs from this one at most in its source, its boundary data (Dirichlet
    /// values, Neumann fluxes, Robin `g`) and the parameters only those use: the load vector
    /// alone is assembled and lifted with `op.lift`, so `op.matrix · u = rhs` is `problem`'s
    /// discrete system. With the same configuration it is the vector [`FemSolver::assemble`]
    /// of `problem` would give, bit for bit.
    ///
    /// ```
    /// use femscale_runtime::{BoundarySpec, FemSolver, FieldSpec, Problem};
    ///
    /// let fem = FemSolver::new();
    /// let mut problem = Problem::default();
    /// let op = fem.assemble(&problem)?;
    /// problem.source = Some(FieldSpec::func("bump", |p| (-(p[0] * p[0] + p[1] * p[1])).exp()));
    /// problem.boundary = vec![BoundarySpec::dirichlet("all", "x")];
    /// assert_eq!(fem.assemble_rhs(&op, &problem)?, fem.assemble(&problem)?.rhs);
    ///
    /// problem.diffusion = FieldSpec::from(2.0); // enters the matrix: refused
    /// assert_eq!(fem.assemble_rhs(&op, &problem).unwrap_err().field_name().as_deref(), Some("problem.diffusion"));
    /// # Ok::<(), femscale_core::Error>(())
    /// ```
    ///
    /// What it cannot see: a closure (or a given mesh) is compared by identity, the same `Arc`
    /// being the same field, so a field whose values change behind the same `Arc` (interior
    /// state, a coefficient updated in place by a time or Picard loop) passes the check while
    /// the matrix it assembled no longer fits: assemble again after such a change.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first field of `problem` that enters the matrix and
    /// differs from the assembled problem's (`problem.mesh`, `problem.diffusion`,
    /// `problem.reaction`, `problem.boundary[i].where`, `.kind` or `.alpha`, or
    /// `problem.params.<name>` when an expression of the operator may read it), naming
    /// `assembly.quadrature_degree` when this solver's differs from the one that assembled
    /// `op`, and `operator.mesh`/`.matrix`/`.lift` when `op`'s were replaced; otherwise as
    /// [`FemSolver::assemble`].
    pub fn assemble_rhs(&self, op: &AssembledOperator, problem: &Problem) -> Result<Vec<f64>> {
        op.check_untouched()?;
        let degree = self.config.assembly.quadrature_degree;
        if degree != op.origin.quadrature_degree {
            let reason = format!(
                "{degree} here, {} where the operator was assembled: the load vector would be \
                 integrated unlike the matrix",
                op.origin.quadrature_degree
            );
            return Err(Error::invalid("assembly.quadrature_degree", reason));
        }
        same_operator(&op.origin.problem, problem).map_err(|e| e.within("problem"))?;
        let (start, setup) = self.setup_on(problem, &op.mesh)?;
        let mut clock = PhaseClock::new(&start.deadline);
        let lifted = self.with_threads(setup.context.threads(), || {
            let _counting = setup.context.enter();
            lifted_rhs(&op.mesh.view(), &op.matrix, &op.lift, &setup, &mut clock)
        })??;
        Ok(lifted.rhs)
    }

    /// The solver [`FemSolver::solve`] would use for `op`'s problem, prepared on `op.matrix`
    /// (factorized, or its preconditioner set up): the planned `solver.kind` and
    /// preconditioner, their options, `solver.tolerance` and friends, and the planned threads.
    /// Solving `op.rhs` with it from a solve's initial guess (zero with the boundary values,
    /// `op.dirichlet.impose_on(&mut u)`; iterative solvers start from it) gives the solve's
    /// values bit for bit; wrap it in a [`SharedSolver`](femscale_core::SharedSolver) to share
    /// it between threads.
    ///
    /// ```
    /// use femscale_core::NoMonitor;
    /// use femscale_runtime::{FemSolver, Problem};
    ///
    /// let fem = FemSolver::new();
    /// let op = fem.assemble(&Problem::default())?;
    /// let mut solver = fem.prepare(&op)?;
    /// let mut u = vec![0.0; op.rhs.len()];
    /// op.dirichlet.impose_on(&mut u);
    /// solver.solve(&op.rhs, &mut u, &mut NoMonitor)?;
    /// assert_eq!(u, fem.solve(&Problem::default())?.values);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the set-up phase of [`FemSolver::solve`]: a solver or preconditioner that fails to
    /// set up (a matrix it cannot factorize), the memory limit, an unknown solver name.
    pub fn prepare(&self, op: &AssembledOperator) -> Result<Box<dyn PreparedSolver>> {
        let (_, setup) = self.setup_on(&op.origin.problem, &op.mesh)?;
        self.with_threads(setup.context.threads(), || {
            let _counting = setup.context.enter();
            let options =
                with_vertex_coarse_space(&setup.options, setup.coarse_space, &op.mesh, &op.matrix);
            let prepared = setup.solver.prepare(Arc::clone(&op.matrix), &options);
            prepared.map_err(solve_error)
        })?
    }

    /// A solve's start, plan and set-up of `problem` on an already built `mesh` (the checks,
    /// the deadline, the planned threads, assembler and solver), counted in a fresh context.
    fn setup_on(&self, problem: &Problem, mesh: &Mesh) -> Result<(Start, SolveSetup)> {
        let requested = self.config.solver.kind.as_str();
        let context = ExecutionContext::serial();
        let _counting = context.enter();
        let start = self.start(problem, requested)?;
        let decision = self.plan_for_mesh(problem, mesh, requested, &start.load)?;
        decision.log_warnings();
        let setup = self.setup(problem, &decision, context)?;
        Ok((start, setup))
    }
}

impl AssembledOperator {
    /// `Ok` when `mesh`, `matrix` and `lift` are still the ones assembled (the same `Arc`s).
    fn check_untouched(&self) -> Result<()> {
        let o = &self.origin;
        let replaced = [
            ("mesh", Arc::ptr_eq(&self.mesh, &o.mesh)),
            ("matrix", Arc::ptr_eq(&self.matrix, &o.matrix)),
            ("lift", Arc::ptr_eq(&self.lift, &o.lift)),
        ];
        match replaced.into_iter().find(|(_, same)| !same) {
            Some((field, _)) => Err(Error::invalid(
                format!("operator.{field}"),
                "was replaced after FemSolver::assemble: a load vector is lifted only onto the \
                 operator assembled",
            )),
            None => Ok(()),
        }
    }
}

/// `Ok` when `problem` has `assembled`'s matrix: the same mesh, diffusion, reaction, boundary
/// parts and kinds, Robin `alpha`s, and — when one of those is an expression — parameters.
fn same_operator(assembled: &Problem, problem: &Problem) -> Result<()> {
    let differs = |field: String| {
        Err(Error::invalid(
            field,
            "differs from the problem the operator was assembled for, and it enters the matrix: \
             assemble this problem (FemSolver::assemble); a closure field is the same where it \
             is a clone of the same FieldSpec",
        ))
    };
    let (a, p) = (assembled, problem);
    if p.mesh != a.mesh {
        return differs("mesh".into());
    }
    if p.diffusion != a.diffusion {
        return differs("diffusion".into());
    }
    if p.reaction != a.reaction {
        return differs("reaction".into());
    }
    if p.boundary.len() != a.boundary.len() {
        return differs("boundary".into());
    }
    let mut operator_fields = vec![&a.diffusion];
    operator_fields.extend(a.reaction.as_ref());
    for (i, (pb, ab)) in p.boundary.iter().zip(&a.boundary).enumerate() {
        if pb.part != ab.part {
            return differs(format!("boundary[{i}].where"));
        }
        if pb.kind.name() != ab.kind.name() {
            return differs(format!("boundary[{i}].kind"));
        }
        let fields = pb.kind.fields().into_iter().zip(ab.kind.fields());
        for ((name, role, pf), (_, _, af)) in fields {
            if role == BoundaryFieldRole::Operator {
                if pf != af {
                    return differs(format!("boundary[{i}].{name}"));
                }
                operator_fields.push(af);
            }
        }
    }
    // Parameters reach the matrix only through expressions of its fields.
    if operator_fields
        .iter()
        .any(|f| matches!(f, FieldSpec::Expr(_)))
    {
        let names = a.params.keys().chain(p.params.keys());
        if let Some(name) = names
            .into_iter()
            .find(|n| a.params.get(*n) != p.params.get(*n))
        {
            return differs(format!("params.{name}"));
        }
    }
    Ok(())
}
