//! One solve: start (names, memory, deadline, cache), a stored solution if there is one, the
//! mesh, the plan for it, the stages ([`super::stages`]) on the planned threads, the report.

use std::sync::Arc;
use std::time::Instant;

use femscale_assembly::ErrorNorms;
use femscale_core::{
    AssemblyStats, CacheReuse, CellKind, Deadline, Error, ExecutionContext, Feature, Metrics,
    Order, PhaseTimings, PlanTopic, Result, RowShare, SystemLoad, VectorPool, WorkEstimate,
};
use femscale_mesh::Mesh;
use femscale_scaling::UsageSummary;
use tracing::{info, instrument};

use super::checks::{
    check_memory, check_parts_fixed, check_quadrature_degree, check_solver_names, solve_error,
    warn_overlapping_natural,
};
use super::coarse_space::takes_coarse_space;
use super::definiteness::{negative_coefficient, negative_constant};
use super::phases::{Phase, PhaseClock};
use super::plan::check_plan_memory;
use super::stages::{
    Meshed, SolveSetup, Solved, build_mesh, build_operator, mesh_or_stored_operator, post_process,
    prepare_solver, solve_rhs,
};
use super::{FemSolver, Solution};
use crate::caching::{CacheSession, problem_keys};
use crate::config::{AUTO, AdaptivityConfig, Partitioner};
use crate::problem::Problem;
use crate::scaling::ScalingDecision;

/// How far a solve goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Up to the prepared solver (assembled operator and factorization stored): warm-up.
    Prepare,
    /// To the solution.
    Solve,
}

/// What is settled before meshing.
pub(super) struct Start {
    started: Instant,
    /// One budget for every phase of the solve, not only the Krylov iteration.
    pub deadline: Deadline,
    pub load: SystemLoad,
    /// The cache with this problem's keys, when caching is on.
    pub cache: Option<CacheSession>,
}

/// The checks a solve makes once it has the mesh, made on a stored solution's mesh too, so that
/// a problem a solve refuses (a floating part, a coordinate a file's mesh lacks) is refused
/// when its solution is in a cache, and the warnings a solve gives are given again.
fn check_served(problem: &Problem, mesh: &femscale_mesh::Mesh) -> Result<()> {
    let in_problem = |e: Error| e.within("problem");
    let form =
        (problem.form_with(femscale_expr::ExprOptions::with_jit(false))).map_err(in_problem)?;
    if !problem.mesh.is_generated() {
        check_parts_fixed(mesh, &form)?;
    }
    if problem.mesh.dim().is_none() {
        problem.check_coordinates(mesh.dim()).map_err(in_problem)?;
    }
    warn_overlapping_natural(mesh, &form);
    Ok(())
}

impl FemSolver {
    /// Runs the pipeline on `problem`; `solver_kind` overrides `solver.kind`. With
    /// [`Stage::Prepare`] it stops after the solver set-up and returns `None`.
    #[instrument(skip_all, name = "fem.solve")]
    pub(crate) fn run_pipeline(
        &self,
        problem: &Problem,
        solver_kind: Option<&str>,
        stage: Stage,
    ) -> Result<Option<Solution>> {
        let requested = solver_kind.unwrap_or(&self.config.solver.kind);
        if stage == Stage::Solve && self.adaptive() {
            return self.run_adaptive(problem, requested, None).map(Some);
        }
        if stage == Stage::Solve && self.config.adaptivity != AdaptivityConfig::default() {
            // (The façade's `enable_adaptive_refinement` uses them without the switch.)
            tracing::warn!(
                "the [adaptivity] settings are not used: adaptivity.enabled is false (set it, \
                 or scaling.enable_adaptive_mesh = true, to refine adaptively)"
            );
        }
        // Counts what this solve does (cache lookups, compilations, plans) from here on.
        let context = ExecutionContext::serial();
        let _counting = context.enter();
        let (shared, abandon) = self.abandoning(requested);
        let start = self.start(problem, requested).map_err(&abandon)?;
        let cache = start.cache.as_ref();
        // A distributed solve stores nothing, and every rank must reach the collective steps.
        if stage == Stage::Solve
            && self.solution_hits
            && !shared
            && let Some(cache) = cache
            && let Some(mut hit) = cache.solution(|| build_mesh(problem), start.started)?
        {
            check_served(problem, &hit.mesh)?;
            // This lookup's counters (review S: the stored solve's showed no cache hit next to
            // the hit), and a plan that says nothing was planned.
            let m = &mut hit.metrics;
            m.counters = context.counters();
            m.plan_rationale = format!(
                "served from the cache, nothing planned; the solve that computed it: {}",
                m.plan_rationale
            );
            return Ok(Some(hit));
        }
        let mut clock = PhaseClock::new(&start.deadline);
        let mut meshed = clock
            .run(Phase::Mesh, || mesh_or_stored_operator(problem, cache))
            .map_err(&abandon)?;
        let decision = (self.plan_for_mesh(problem, &meshed.mesh, requested, &start.load))
            .map_err(&abandon)?;
        decision.log_warnings();
        let mut setup = self.setup(problem, &decision, context).map_err(&abandon)?;
        if !problem.mesh.is_generated() {
            check_parts_fixed(&meshed.mesh, &setup.form)
                .inspect_err(|e| setup.solver.abandon_shared(&e.to_string()))?;
        }
        if problem.mesh.dim().is_none() {
            // A file's dimension is known now (`Problem::check` did the others).
            (problem.check_coordinates(meshed.mesh.dim()))
                .map_err(|e| e.within("problem"))
                .inspect_err(|e| setup.solver.abandon_shared(&e.to_string()))?;
        }
        warn_overlapping_natural(&meshed.mesh, &setup.form);
        // A distributed solver's rows: this process assembles and verifies those alone, and
        // nothing of this solve is cached (see `SolverInfo::distributed`).
        setup.share = setup.solver.row_share(meshed.mesh.num_nodes());
        let cache = cache.filter(|_| setup.share.is_none());
        if let Some(share) = setup.share.take() {
            let partition = self.config.solver.partition;
            let (parted, share) = clock
                .run(Phase::Mesh, || partitioned(meshed, share, partition))
                .inspect_err(|e| setup.solver.abandon_shared(&e.to_string()))?;
            (meshed, setup.share) = (parted, Some(share));
        }
        let solve_span = tracing::Span::current();
        let (outcome, usage) = femscale_scaling::measure(|| {
            self.with_threads(setup.context.threads(), || {
                // The pool's thread knows neither the caller's span nor its context.
                let _span = solve_span.enter();
                let _counting = setup.context.enter();
                run_stages(meshed, &setup, cache, &mut clock, stage)
            })
        });
        let outcome = outcome.and_then(|computed| computed);
        if let (Err(Error::Solve(_)), Some(why)) = (&outcome, &decision.indefinite) {
            // The plan's advice, which a failed solve does not print.
            tracing::warn!(
                "solver.kind = \"auto\" ran {} with {} because the operator may be indefinite \
                 ({why}), and it failed: a strongly indefinite operator needs \
                 solver.kind = \"direct\", which factorises it by LU",
                decision.solver,
                decision.preconditioner,
            );
        }
        let Some(computed) = outcome? else {
            return Ok(None);
        };
        let mut solution = computed.into_solution(problem, &decision, &setup, clock.timings, usage);
        if let Some(cache) = cache {
            cache.store_solution(&mut solution);
        }
        let m = &solution.metrics;
        info!(dofs = m.dofs, solver = %m.solver, iterations = m.iterations, seconds = m.total_solve_time, reused = ?m.cache_reused, "solved");
        Ok(Some(solution))
    }

    /// Whether `requested` is a distributed solver, and what a rank does with an error before
    /// its solver's first collective step: tell the others ([`FemSolver::abandon_solve`]),
    /// which would otherwise wait for it in that step, and pass the error on.
    pub(super) fn abandoning<'a>(
        &'a self,
        requested: &'a str,
    ) -> (bool, impl Fn(Error) -> Error + 'a) {
        let shared = (self.registry.solver_info(requested)).is_ok_and(|info| info.distributed);
        let abandon = move |e: Error| {
            if shared {
                self.abandon_solve(Some(requested), &e.to_string());
            }
            e
        };
        (shared, abandon)
    }

    /// Tells the other ranks of a distributed solve that this rank's solve failed (`reason`)
    /// before its solver's first collective step, so that they fail too — naming this rank —
    /// instead of waiting for it ([`femscale_core::LinearSolver::abandon_shared`] on a solver
    /// of kind `solver_kind`, the configured one if `None`). For a program that goes on after
    /// an error on one rank (Python under `mpirun`), e.g. when building the problem failed
    /// there. Does nothing for a solver that is not distributed.
    pub fn abandon_solve(&self, solver_kind: Option<&str>, reason: &str) {
        let cfg = &self.config.solver;
        let kind = solver_kind.unwrap_or(&cfg.kind);
        let options = cfg.method_options();
        // The configured preconditioner, or any: abandoning only needs the communicator.
        let solver = [cfg.preconditioner.as_str(), "none"]
            .into_iter()
            .find_map(|p| self.registry.solver(kind, p, &options).ok());
        if let Some(solver) = solver {
            solver.abandon_shared(reason);
        }
    }

    /// Checks names and memory, starts the clock and opens the cache session. Refuses up
    /// front, before meshing, what would not fit.
    pub(super) fn start(&self, problem: &Problem, requested: &str) -> Result<Start> {
        problem.check().map_err(|e| e.within("problem"))?;
        let cfg = &self.config.solver;
        check_solver_names(&self.registry, requested, &cfg.preconditioner)?;
        check_memory(problem)?;
        let started = Instant::now();
        let load = SystemLoad::detect();
        let estimated_dofs = problem.estimated_dofs();
        let caching = match estimated_dofs.map(|n| n.min(usize::MAX as f64) as usize) {
            Some(dofs) => {
                let dim = problem.mesh.dim().unwrap_or(2);
                let work = WorkEstimate::p1(dofs, dim);
                let indefinite = (requested == AUTO)
                    .then(|| negative_constant(problem))
                    .flatten();
                let early = self.decide(&work, requested, &load, indefinite.as_deref());
                let (limit, size) = (cfg.memory_limit_mb, format!("{dofs} unknowns in {dim}D"));
                check_plan_memory(&early.plan, &early.solver, &size, limit, "before meshing")?;
                early.toggles.caching
            }
            None => self.config.scaling.toggles(usize::MAX, load.cores).caching,
        };
        // Adaptive solves are never cached (see `super::adaptive`), nor distributed ones: every
        // process must run them (a hit on one process and a miss on another would leave the
        // other waiting in a collective operation).
        // (`auto` and plugin names resolve to serial solvers.)
        let distributed = (self.registry.solver_info(requested)).is_ok_and(|info| info.distributed);
        let cache = match caching && !self.adaptive() && !distributed {
            true => self.cache()?.and_then(|cache| {
                let keys = problem_keys(problem, &self.config, requested, &self.registry)?;
                Some(CacheSession::new(cache, keys))
            }),
            false => None,
        };
        Ok(Start {
            started,
            deadline: Deadline::starting_at(started, cfg.timeout_seconds),
            load,
            cache,
        })
    }

    /// The plan for the mesh as built, checked against the memory limit; the quadrature
    /// degree checked against the mesh's cells.
    pub(super) fn plan_for_mesh(
        &self,
        problem: &Problem,
        mesh: &Mesh,
        requested: &str,
        load: &SystemLoad,
    ) -> Result<ScalingDecision> {
        let (nodes, dim) = (mesh.num_nodes(), mesh.dim());
        let row_entries = mesh.cell_kind().typical_row_entries(mesh.order());
        let work = WorkEstimate::single(nodes, mesh.num_cells(), nodes.saturating_mul(row_entries));
        let work = work.with_dim(dim);
        // Only `auto` chooses by it.
        let jit = self.config.scaling.toggles(nodes, load.cores).jit;
        let indefinite = (requested == AUTO)
            .then(|| negative_coefficient(problem, mesh, jit))
            .flatten();
        let mut decision = self.decide(&work, requested, load, indefinite.as_deref());
        let element = element_label(mesh.cell_kind(), mesh.order());
        for reason in (decision.plan.reasons.iter_mut()).filter(|r| r.topic == PlanTopic::Solver) {
            reason.text = format!("{} ({element})", reason.text);
        }
        let (plan, limit) = (&decision.plan, self.config.solver.memory_limit_mb);
        let size = format!("{nodes} unknowns in {dim}D ({element})");
        check_plan_memory(plan, &decision.solver, &size, limit, "after meshing")?;
        check_quadrature_degree(mesh.cell_kind(), self.config.assembly.quadrature_degree)?;
        Ok(decision)
    }

    /// The discretised problem, the solver and the execution context the plan asks for.
    pub(super) fn setup(
        &self,
        problem: &Problem,
        decision: &ScalingDecision,
        context: ExecutionContext,
    ) -> Result<SolveSetup> {
        let (toggles, plan) = (decision.toggles, &decision.plan);
        let mut context = context.with_threads(plan.threads);
        if toggles.memory_pooling {
            context = context.with_pool(VectorPool::global().clone());
        }
        let expr = femscale_expr::ExprOptions::with_jit(toggles.jit);
        let in_problem = |e: Error| e.within("problem");
        let form = problem.form_with(expr).map_err(in_problem)?;
        let exact = problem.exact_field_with(expr).map_err(in_problem)?;
        let cfg = &self.config.solver;
        let solver = (self.registry).solver(
            &decision.solver,
            &decision.preconditioner,
            &cfg.method_options(),
        )?;
        let options = context.solver_options(cfg.options(plan.threads));
        options.validate().map_err(solve_error)?;
        let assembler = match plan.parallel_assembly {
            true => "parallel",
            false => "serial",
        };
        let degree = self.config.assembly.quadrature_degree;
        let assembler = self.registry.assembler(assembler, degree)?;
        Ok(SolveSetup {
            form,
            exact,
            assembler,
            solver,
            options,
            coarse_space: takes_coarse_space(&decision.solver, &decision.preconditioner),
            context,
            share: None,
            dirichlet_energy: false,
        })
    }
}

/// The element and cells a plan's solver reason names: `P2 tetrahedra`.
fn element_label(kind: CellKind, order: Order) -> String {
    let cells = match kind {
        CellKind::Interval => "intervals",
        CellKind::Triangle => "triangles",
        CellKind::Quadrilateral => "quadrilaterals",
        CellKind::Tetrahedron => "tetrahedra",
        CellKind::Hexahedron => "hexahedra",
    };
    format!("{} {cells}", kind.element_name_of(order))
}

/// What the stages computed for the report.
pub(super) struct Computed {
    pub mesh: Arc<Mesh>,
    pub solved: Solved,
    pub norms: Option<ErrorNorms>,
    pub nnz: usize,
    pub dirichlet_dofs: usize,
    pub assembly: AssemblyStats,
    pub reused: Vec<CacheReuse>,
}

/// Operator, prepared solver, solve, post-processing; `None` at [`Stage::Prepare`].
fn run_stages(
    meshed: Meshed,
    setup: &SolveSetup,
    cache: Option<&CacheSession>,
    clock: &mut PhaseClock<'_>,
    stage: Stage,
) -> Result<Option<Computed>> {
    // Also without a share (fewer nodes than ranks): a distributed solver's `prepare` still
    // starts with the agreement (a no-op for other solvers).
    let operator = build_operator(meshed, setup, cache, clock)
        .inspect_err(|e| setup.solver.abandon_shared(&e.to_string()))?;
    let prepared = prepare_solver(&operator, setup, cache, clock)?;
    if stage == Stage::Prepare {
        return Ok(None);
    }
    let reused = [&operator.reused, &prepared.reused];
    let reused = reused.into_iter().flatten().cloned().collect();
    let (nnz, dirichlet_dofs) = match &setup.share {
        Some(share) => {
            // Each process counts its own rows; the sum is the whole system's.
            let ptr = operator.matrix.pattern().row_ptr();
            let rows = &share.rows;
            let fixed = operator.dirichlet.nodes().iter();
            let mut counts = [
                (ptr[rows.end] - ptr[rows.start]) as f64,
                fixed.filter(|n| rows.contains(n)).count() as f64,
            ];
            (share.sum)(&mut counts).map_err(solve_error)?;
            (counts[0] as usize, counts[1] as usize)
        }
        None => (operator.matrix.nnz(), operator.dirichlet.len()),
    };
    let assembly = operator.assembly.clone();
    let (solved, mesh) = solve_rhs(operator, &prepared, setup, clock, None)?;
    // Unless the cache keeps them, this frees the prepared solver (an AMG hierarchy) and the
    // matrix before post-processing allocates its own.
    drop(prepared);
    let share = setup.share.as_ref();
    let norms = post_process(&mesh, &solved.values, setup.exact.as_ref(), share, clock)?;
    Ok(Some(Computed {
        mesh,
        solved,
        norms,
        nnz,
        dirichlet_dofs,
        assembly,
        reused,
    }))
}

/// The mesh renumbered so that this process's rows are a compact part of the domain, and the
/// share with the rows of that part: recursive coordinate bisection into parts of the sizes
/// the solver's share proposes, or METIS parts, whose sizes the share then takes. Either way
/// the halo is an interface, whatever the mesh's own numbering.
fn partitioned(
    meshed: Meshed,
    share: RowShare,
    partition: Partitioner,
) -> Result<(Meshed, RowShare)> {
    let (mesh, share) = match partition {
        Partitioner::Rcb => (meshed.mesh.partitioned(&share.counts)?.0, share),
        Partitioner::Metis => metis_partitioned(&meshed.mesh, share)?,
    };
    let meshed = Meshed {
        mesh: Arc::new(mesh),
        stored: None,
    };
    Ok((meshed, share))
}

#[cfg(feature = "metis")]
fn metis_partitioned(mesh: &Mesh, share: RowShare) -> Result<(Mesh, RowShare)> {
    let (mesh, _, sizes) = mesh
        .partitioned_metis(share.ranks)
        .map_err(|e| e.within("solver"))?;
    let share = share.with_counts(sizes).map_err(Error::Solve)?;
    Ok((mesh, share))
}

#[cfg(not(feature = "metis"))]
fn metis_partitioned(_: &Mesh, _: RowShare) -> Result<(Mesh, RowShare)> {
    Err(Error::feature_disabled(
        "solver.partition",
        "METIS partitioning",
        "metis",
    ))
}

impl Computed {
    /// The solution with its report: sizes, choices, timings, accuracy, what was reused.
    pub(super) fn into_solution(
        self,
        problem: &Problem,
        decision: &ScalingDecision,
        setup: &SolveSetup,
        phases: PhaseTimings,
        usage: UsageSummary,
    ) -> Solution {
        let (toggles, plan) = (decision.toggles, &decision.plan);
        let (mesh, report) = (&self.mesh, &self.solved.report);
        let mut m = Metrics::default();
        m.dofs = mesh.num_nodes();
        m.num_elements = mesh.num_cells();
        m.nnz = self.nnz;
        m.element = mesh.cell_kind().element_name_of(mesh.order()).into();
        m.dirichlet_dofs = self.dirichlet_dofs;
        m.solver = report.solver.clone();
        m.preconditioner = report.preconditioner.clone();
        m.iterations = report.iterations;
        m.final_relative_residual = report.final_relative_residual;
        m.verified_relative_residual = self.solved.verified.relative_residual;
        m.verified_backward_error = self.solved.verified.backward_error;
        m.total_solve_time = phases.total();
        m.phases = phases;
        m.assembler = self.assembly.assembler;
        m.parallel_assembly_used = self.assembly.parallel;
        m.threads = plan.threads;
        m.scaling_level = toggles.level;
        m.l2_error = self.norms.as_ref().map(|n| n.l2);
        m.h1_error = self.norms.as_ref().map(|n| n.h1_seminorm);
        m.max_nodal_error = self.norms.as_ref().map(|n| n.max_nodal);
        m.exact_l2_norm = self.norms.as_ref().map(|n| n.exact_l2);
        m.cache_reused = self.reused;
        m.peak_rss_mb = Some(usage.peak_rss_mb);
        m.mean_cpu_percent = Some(usage.mean_cpu_percent);
        m.plan_rationale = plan.rationale();
        m.features_used = features(&m, problem, toggles, self.norms.is_some());
        m.counters = setup.context.counters();
        m.linear_solve = self.solved.report;
        m.mesh = mesh.stats();
        Solution {
            mesh: self.mesh,
            values: self.solved.values,
            metrics: m,
        }
    }
}

/// The features a solve used, in the report's order.
fn features(
    m: &Metrics,
    problem: &Problem,
    toggles: crate::scaling::ScalingToggles,
    exact: bool,
) -> Vec<Feature> {
    let operator_hit = m
        .cache_reused
        .iter()
        .any(|r| r.artefact == femscale_core::Artefact::System);
    let jit = toggles.jit && femscale_expr::jit_available();
    [
        (operator_hit, Feature::OperatorCacheHit),
        (toggles.memory_pooling, Feature::MemoryPooling),
        (m.parallel_assembly_used, Feature::ParallelAssembly),
        (problem.uses_expressions(), Feature::ExpressionFields),
        (problem.uses_expressions() && jit, Feature::JitExpressions),
        (exact, Feature::ExactSolutionErrors),
    ]
    .into_iter()
    .filter_map(|(used, feature)| used.then_some(feature))
    .collect()
}
