//! The stages of a solve, each with a typed output: build the operator (mesh → pattern →
//! assembly → constraints), prepare the solver, solve a right-hand side, post-process. Each
//! takes what it needs explicitly — the [`SolveSetup`] (discretisation, solver, execution
//! context), the problem's [`CacheSession`] if caching is on, and the [`PhaseClock`] — so an
//! adaptive loop, a time loop or a distributed solve can call them in its own order.

use std::sync::{Arc, Mutex};

use femscale_assembly::{
    DirichletConditions, DirichletLift, ErrorNorms, error_norms_within, max_nodal_error_within,
};
use femscale_core::{
    Artefact, Assembler, AssemblyStats, CacheReuse, CsrMatrix, EllipticForm, Error,
    ExecutionContext, LinearSolver, LinearSystem, MeshView, Result, RowShare, SharedField,
    SolveError, SolveReport, SolverOptions, Verification, confirm_solution,
    confirm_solution_shared, refine_componentwise, verify_solution, verify_solution_shared,
};
use femscale_mesh::Mesh;

use super::checks::solve_error;
use super::coarse_space::with_vertex_coarse_space;
use super::data_range::{non_finite_rhs, out_of_range, overflowing_residual};
use super::phases::{Phase, PhaseClock};
use super::row_share::LocalCells;
use crate::caching::{CacheSession, SharedPrepared, StoredOperator};
use crate::problem::{MeshSpec, Problem};

/// Everything the stages of one solve share: the discretised problem, the solver and where it
/// all runs.
pub(crate) struct SolveSetup {
    pub form: EllipticForm,
    /// The exact solution, when the problem has one (error norms in post-processing).
    pub exact: Option<SharedField>,
    pub assembler: Box<dyn Assembler>,
    pub solver: Box<dyn LinearSolver>,
    /// Stopping criteria with the context's threads and pool.
    pub options: SolverOptions,
    /// Whether the solver gets the mesh's vertex coarse space on order-2 meshes (AMG).
    pub coarse_space: bool,
    pub context: ExecutionContext,
    /// This process's rows when the solver shares them between processes: only the cells
    /// touching them are assembled, and the solution is verified across the processes.
    pub share: Option<RowShare>,
    /// Whether the operator keeps `gᵀ A_DD g` of its Dirichlet values (the adaptive loop's
    /// discrete energy needs it; the elimination removes that block).
    pub dirichlet_energy: bool,
}

/// The mesh of a problem, with the stored operator when the cache had one.
pub(crate) struct Meshed {
    pub mesh: Arc<Mesh>,
    pub stored: Option<StoredOperator>,
}

/// The mesh, from the stored operator when the cache has one: the lookup-or-compute step of
/// the assembled operator (a miss is assembled by [`build_operator`]).
pub(crate) fn mesh_or_stored_operator(
    problem: &Problem,
    cache: Option<&CacheSession>,
) -> Result<Meshed> {
    let build = || build_mesh(problem);
    if let Some(stored) = cache.map(|c| c.operator(build)).transpose()?.flatten() {
        let mesh = stored.0.mesh.clone();
        return Ok(Meshed {
            mesh,
            stored: Some(stored),
        });
    }
    Ok(Meshed {
        mesh: build()?,
        stored: None,
    })
}

/// The problem's mesh, built, its dimension checked against `problem.dim` (a file's is known
/// only now); errors name the `problem.` keys.
pub(crate) fn build_mesh(problem: &Problem) -> Result<Arc<Mesh>> {
    let mesh = match &problem.mesh {
        // Rectangles generate their order-2 nodes directly (the lifted mesh numbered along
        // the order-2 lattice, without sorting every cell's edges).
        MeshSpec::Rectangle(spec) => Mesh::rectangle_of_order(spec, problem.order)
            .map(Arc::new)
            .map_err(|e| e.within("mesh")),
        spec => spec.build(),
    }
    .map_err(|e| e.within("problem"))?;
    if let Some(dim) = problem.dim
        && dim != mesh.dim()
    {
        return Err(Error::invalid(
            "problem.dim",
            format!(
                "dim = {dim} does not match the {}D mesh of kind `{}`",
                mesh.dim(),
                problem.mesh.kind_name()
            ),
        ));
    }
    if mesh.order() == problem.order {
        return Ok(mesh);
    }
    // A file's mesh is known only now; its order-2 nodes (up to 8 per vertex) are counted
    // before they are made.
    let (kind, order) = (mesh.cell_kind(), problem.order);
    let nodes = mesh.num_nodes() as f64 * crate::pipeline::nodes_per_vertex(kind, order);
    crate::pipeline::check_nodes_fit(nodes, (kind, order), "problem.order")?;
    let mesh = mesh
        .with_order(problem.order)
        .map_err(|e| e.within("problem"))?;
    Ok(Arc::new(mesh))
}

/// The constrained operator and load vector of one problem on its mesh.
pub(crate) struct Operator {
    pub mesh: Arc<Mesh>,
    pub matrix: Arc<CsrMatrix>,
    /// Load vector with the Dirichlet lift applied (from the context's pool).
    pub rhs: Vec<f64>,
    pub dirichlet: DirichletConditions,
    /// The record of the Dirichlet elimination (new boundary values lift with it).
    pub lift: Arc<DirichletLift>,
    pub assembly: AssemblyStats,
    /// The stored operator this one is, if it came from the cache.
    pub reused: Option<CacheReuse>,
    /// `gᵀ A_DD g` of the Dirichlet values, when [`SolveSetup::dirichlet_energy`] asked for
    /// it and the matrix was assembled here.
    pub dirichlet_energy: Option<f64>,
}

/// Builds the operator: only the right-hand side on a stored operator, otherwise pattern,
/// assembly and Dirichlet elimination (then stored for later solves).
pub(crate) fn build_operator(
    meshed: Meshed,
    setup: &SolveSetup,
    cache: Option<&CacheSession>,
    clock: &mut PhaseClock<'_>,
) -> Result<Operator> {
    let Meshed { mesh, stored } = meshed;
    // Checked once here (free for meshes checked when built): the views below, and those of
    // the error norms and estimators later, are then marked valid and not scanned again.
    mesh.validate().map_err(|e| e.within("problem"))?;
    let full = mesh.view();
    // With shared rows, the cells touching this process's rows (never cached: the operator
    // is incomplete outside them).
    let local = setup
        .share
        .as_ref()
        .map(|share| LocalCells::new(&full, &share.rows));
    if let Some(local) = &local {
        tracing::debug!(
            cells = local.len(),
            of = full.num_cells(),
            "cells of this process's rows"
        );
    }
    let view = local.as_ref().map_or(full, |l| l.view(&full));
    let cache = cache.filter(|_| local.is_none());
    let dirichlet = || DirichletConditions::from_form(&view, &setup.form);
    // The form's fields are the problem's (`diffusion`, `boundary[0].where`).
    let problem_field = |e: Error| e.within("problem");
    let Some((live, level)) = stored else {
        let pattern = clock.run(Phase::Pattern, || {
            Ok(Arc::new(setup.assembler.pattern(&view)?))
        })?;
        let (mut system, assembly) = clock.run(Phase::Assembly, || {
            let mut system = LinearSystem::zeros_in(pattern, &setup.context);
            let stats = setup
                .assembler
                .assemble_into(&view, &setup.form, &mut system);
            Ok((system, stats.map_err(problem_field)?))
        })?;
        let (matrix, rhs, dirichlet, lift, energy) =
            clock.run(Phase::BoundaryConditions, || {
                let dirichlet = dirichlet().map_err(problem_field)?;
                let energy =
                    (setup.dirichlet_energy).then(|| dirichlet.block_energy(&system.matrix));
                let lift = Arc::new(dirichlet.apply_recording(&mut system)?);
                let LinearSystem { mut matrix, rhs } = system;
                // Exact zeros (couplings the geometry cancels, eliminated rows and columns) cost
                // every product; drop them once, unless they are too few to pay for moving the
                // matrix (AMG shares the values of such a matrix all the same). A process sharing
                // rows holds the others' rows in part, so its share of zeros says nothing of the
                // whole matrix's: it drops them all, as before the rule.
                let dropped = if setup.share.is_some() {
                    matrix.drop_stored_zeros()
                } else {
                    matrix.drop_many_stored_zeros()
                };
                tracing::debug!(dropped, nnz = matrix.nnz(), "stored zeros dropped");
                let matrix = Arc::new(matrix);
                if let Some(cache) = cache {
                    cache.store_operator(mesh.clone(), matrix.clone(), lift.clone());
                }
                Ok((matrix, rhs, dirichlet, lift, energy))
            })?;
        return Ok(Operator {
            mesh,
            matrix,
            rhs,
            dirichlet,
            lift,
            assembly,
            reused: None,
            dirichlet_energy: energy,
        });
    };
    let matrix = live.system.matrix.clone();
    let lifted = lifted_rhs(&view, &matrix, &live.system.lift, setup, clock)?;
    Ok(Operator {
        mesh,
        matrix,
        rhs: lifted.rhs,
        dirichlet: lifted.dirichlet,
        lift: live.system.lift.clone(),
        assembly: lifted.assembly,
        reused: Some(CacheReuse::new(Artefact::System, level)),
        dirichlet_energy: None,
    })
}

/// A load vector lifted onto an assembled operator, with its Dirichlet conditions.
pub(crate) struct LiftedRhs {
    pub rhs: Vec<f64>,
    pub dirichlet: DirichletConditions,
    pub assembly: AssemblyStats,
}

/// The right-hand side of `setup`'s form on an eliminated operator: the load vector only
/// (the matrix is not assembled again), then its Dirichlet values through the recorded `lift`.
pub(crate) fn lifted_rhs(
    view: &MeshView<'_>,
    matrix: &CsrMatrix,
    lift: &DirichletLift,
    setup: &SolveSetup,
    clock: &mut PhaseClock<'_>,
) -> Result<LiftedRhs> {
    let problem_field = |e: Error| e.within("problem");
    let (mut rhs, assembly) = clock.run(Phase::Assembly, || {
        let mut rhs = setup.context.take(matrix.nrows()).into_vec();
        let stats = setup
            .assembler
            .assemble_rhs(view, &setup.form, matrix.pattern(), &mut rhs);
        Ok((rhs, stats.map_err(problem_field)?))
    })?;
    let dirichlet = clock.run(Phase::BoundaryConditions, || {
        let dirichlet = DirichletConditions::from_form(view, &setup.form).map_err(problem_field)?;
        lift.apply_rhs(&dirichlet, &mut rhs)
            .map_err(problem_field)?;
        Ok(dirichlet)
    })?;
    Ok(LiftedRhs {
        rhs,
        dirichlet,
        assembly,
    })
}

/// A prepared solver (factorization, preconditioner) and whether the cache had it.
pub(crate) struct Prepared {
    pub solver: Arc<SharedPrepared>,
    pub reused: Option<CacheReuse>,
}

/// The lookup-or-compute step of the prepared solver.
pub(crate) fn prepare_solver(
    operator: &Operator,
    setup: &SolveSetup,
    cache: Option<&CacheSession>,
    clock: &mut PhaseClock<'_>,
) -> Result<Prepared> {
    let cache = cache.filter(|_| setup.share.is_none());
    clock.run(Phase::Setup, || {
        if let Some(solver) = cache.and_then(CacheSession::prepared) {
            let reused = Some(CacheReuse::new(Artefact::PreparedSolver, "memory"));
            return Ok(Prepared { solver, reused });
        }
        let (mesh, matrix) = (&operator.mesh, &operator.matrix);
        // A distributed solver builds its own hierarchy from its rows.
        let coarse_space = setup.coarse_space && setup.share.is_none();
        let options = with_vertex_coarse_space(&setup.options, coarse_space, mesh, matrix);
        let matrix = operator.matrix.clone();
        let prepared = match &setup.share {
            Some(share) => setup.solver.prepare_shared(matrix, &options, share),
            None => setup.solver.prepare(matrix, &options),
        }
        // A factorisation that fails on an overflowed entry blames the matrix's conditioning:
        // the entry, from the problem's data, says more.
        .map_err(|e| {
            let shared = setup.share.is_some();
            (out_of_range(mesh, shared, &operator.matrix, Some(&operator.rhs)))
                .unwrap_or_else(|| solve_error(e))
        })?;
        let bytes = prepared.memory_bytes() + prepared.matrix().memory_bytes();
        let solver = Arc::new(Mutex::new(prepared));
        if let Some(cache) = cache {
            cache.store_prepared(solver.clone(), bytes);
        }
        Ok(Prepared {
            solver,
            reused: None,
        })
    })
}

/// A solution vector with the solver's report and the independent check of it.
pub(crate) struct Solved {
    pub values: Vec<f64>,
    pub report: SolveReport,
    pub verified: Verification,
}

/// Solves the operator's right-hand side from the initial guess `guess` (zero when `None`;
/// Dirichlet values imposed on it) and checks the result (finite entries, true residual)
/// whatever the solver claims; the load vector goes back to the context's pool.
pub(crate) fn solve_rhs(
    operator: Operator,
    prepared: &Prepared,
    setup: &SolveSetup,
    clock: &mut PhaseClock<'_>,
    guess: Option<Vec<f64>>,
) -> Result<(Solved, Arc<Mesh>)> {
    let deadline = clock.deadline();
    let Operator {
        mesh,
        matrix,
        rhs,
        dirichlet,
        ..
    } = operator;
    // Node numbers of a shared solve's rows are its own, not the mesh's.
    let shared = setup.share.is_some();
    // (An adaptive step's guess, the last solution transferred, may meet the tolerances.)
    let from_zero = guess.is_none();
    let solved = clock.run(Phase::Solve, || {
        let mut values = match guess {
            Some(guess) if guess.len() == rhs.len() => guess,
            _ => vec![0.0; rhs.len()],
        };
        dirichlet.impose_on(&mut values);
        let mut solver = prepared.solver.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = solver.solve(&rhs, &mut values, &mut deadline.monitor());
        drop(solver);
        let in_phase = |e: SolveError| match e {
            // Stopped by the deadline's monitor (or the solver's own clock): the solve's
            // timeout, naming the phase. Other errors keep their cause (an isolated plugin
            // killed at the limit says so itself).
            SolveError::Stopped { .. } | SolveError::Timeout { .. } => deadline
                .check(Phase::Solve.name())
                .err()
                .unwrap_or_else(|| solve_error(e)),
            // A right-hand side that is not finite comes from the problem's data, not from the
            // solver's options: say where.
            SolveError::InvalidOption { option, .. } if option == "rhs" => {
                out_of_range(&mesh, shared, &matrix, Some(&rhs))
                    .unwrap_or_else(|| non_finite_rhs(&mesh, shared, &rhs))
            }
            other => out_of_range(&mesh, shared, &matrix, Some(&rhs))
                .unwrap_or_else(|| solve_error(other)),
        };
        let report = outcome.map_err(in_phase)?;
        let options = &setup.options;
        if report.iterations == 0
            && from_zero
            && options.absolute_tolerance > 0.0
            && report.final_relative_residual > options.tolerance
        {
            // Legal, and a likely mistake (review Q): nothing was solved.
            tracing::warn!(
                "the solve stopped before its first iteration: the initial residual ({} of \
                 the right-hand side's norm) already meets solver.absolute_tolerance = {}, so \
                 the solution is the initial guess",
                femscale_core::shown::Shown(report.final_relative_residual),
                femscale_core::shown::Shown(options.absolute_tolerance)
            );
        }
        let verified = match &setup.share {
            Some(share) => {
                verify_solution_shared(&matrix, &rhs, &values, &report, &setup.options, share)
            }
            None => verify_solution(&matrix, &rhs, &values, &report, &setup.options),
        }
        .map_err(|e| {
            (out_of_range(&mesh, shared, &matrix, Some(&rhs)))
                .or_else(|| overflowing_residual(&e, &values))
                .unwrap_or_else(|| solve_error(e))
        })?;
        // Accepted on its backward error alone: one correction step must confirm it (on
        // every process of a shared solve: the verdict above is theirs too).
        let mut solver = prepared.solver.lock().unwrap_or_else(|e| e.into_inner());
        let mut correct =
            |r: &[f64], delta: &mut [f64]| solver.solve(r, delta, &mut deadline.monitor());
        let (a, b, x) = (&*matrix, &rhs[..], &values[..]);
        match &setup.share {
            Some(share) => confirm_solution_shared(
                a,
                b,
                x,
                &verified,
                &report,
                &setup.options,
                share,
                &mut correct,
            ),
            None => confirm_solution(a, b, x, &verified, &report, &setup.options, &mut correct),
        }
        .map_err(in_phase)?;
        // Met in norm but not row by row (rows of very different size): refined with the same
        // solver. (Not yet for shared rows: each process would need the others' residuals.)
        let (mut report, mut verified) = (report, verified);
        if setup.share.is_none() {
            let refined = refine_componentwise(
                a,
                b,
                &mut values,
                verified,
                &report,
                &setup.options,
                &mut correct,
            )
            .map_err(in_phase)?;
            if refined.steps > 0 {
                tracing::info!(
                    steps = refined.steps,
                    iterations = refined.iterations,
                    backward_error = refined.verification.backward_error,
                    "solution refined row by row"
                );
                report.iterations += refined.iterations;
                verified = refined.verification;
            }
        }
        drop(solver);
        Ok(Solved {
            values,
            report,
            verified,
        })
    })?;
    // The load vector's buffer serves the next solve of this size.
    setup.context.give_back(rhs);
    Ok((solved, mesh))
}

/// Error norms against the exact solution, when there is one.
///
/// With shared rows each process integrates over its own cells (those whose first node is
/// among its rows: every cell on one process) and the squared norms are summed across the
/// processes; the nodal maximum is over every node on each (the solution is whole on each).
pub(crate) fn post_process(
    mesh: &Mesh,
    values: &[f64],
    exact: Option<&SharedField>,
    share: Option<&RowShare>,
    clock: &mut PhaseClock<'_>,
) -> Result<Option<ErrorNorms>> {
    let deadline = clock.deadline();
    // The norms name the exact solution `exact`; in a configuration it is `problem.exact`.
    let in_problem = |e: Error| match e.field_name().as_deref() {
        Some("exact") => e.within("problem"),
        _ => e,
    };
    clock.run(Phase::Post, || {
        let Some(exact) = exact else {
            return Ok(None);
        };
        let full = mesh.view();
        let Some(share) = share else {
            return (error_norms_within(&full, values, exact.as_ref(), deadline))
                .map(Some)
                .map_err(in_problem);
        };
        let own = LocalCells::owned(&full, &share.rows);
        let local = match own.len() {
            0 => Ok([0.0; 3]),
            _ => error_norms_within(&own.view(&full), values, exact.as_ref(), deadline)
                .map(|n| [n.l2, n.h1_seminorm, n.exact_l2].map(|v| v * v)),
        };
        // The sum is collective: a process whose part failed (the exact solution not finite
        // there, its time limit) still takes part, marking its slot, so that no process waits
        // for it.
        let mut squares = vec![0.0; 3 + share.ranks];
        match &local {
            Ok(sums) => squares[..3].copy_from_slice(sums),
            Err(_) => squares[3 + share.rank] = 1.0,
        }
        (share.sum)(&mut squares).map_err(solve_error)?;
        local.map_err(in_problem)?;
        if let Some(failed) = squares[3..].iter().position(|&f| f > 0.0) {
            // Not this process's input: the failed one names its cause.
            return Err(Error::Communication {
                message: format!(
                    "rank {failed} failed in the error norms (it reports why); every rank stops \
                     here"
                ),
            });
        }
        Ok(Some(ErrorNorms {
            l2: squares[0].sqrt(),
            h1_seminorm: squares[1].sqrt(),
            max_nodal: max_nodal_error_within(&full, values, exact.as_ref()).map_err(in_problem)?,
            exact_l2: squares[2].sqrt(),
        }))
    })
}
