//! One solve, phase by phase, with the cache consulted at three points: the final solution,
//! the assembled operator (then only the right-hand side is assembled) and the prepared solver.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use femscale_assembly::{DirichletConditions, error_norms_within};
use femscale_core::{
    Artefact, CacheReuse, Counter, Deadline, Feature, LinearSystem, Metrics, Result, SolveError,
    SystemLoad, VectorPool, WorkEstimate, verify_solution,
};
use femscale_mesh::Mesh;
use tracing::{info, instrument};

use super::checks::{check_memory, check_solver_names, in_phase_span, in_section, solve_error};
use super::plan::check_plan_memory;
use super::{FemSolver, Solution};
use crate::caching::{ProblemKeys, SharedPrepared, SolutionHit, problem_keys};
use crate::problem::Problem;

/// How far a solve goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Up to the prepared solver (assembled operator and factorization stored): warm-up.
    Prepare,
    /// To the solution.
    Solve,
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
        let cfg = &self.config.solver;
        let requested = solver_kind.unwrap_or(&cfg.kind);
        check_solver_names(&self.registry, requested, &cfg.preconditioner)?;
        let mut metrics = Metrics::default();

        check_memory(problem)?;
        let started = Instant::now();
        // One budget for every phase of this solve, not only the Krylov iteration.
        let deadline = Deadline::starting_at(started, cfg.timeout_seconds);
        let counters_before = femscale_core::scaling_metrics();
        let limit_mb = cfg.memory_limit_mb;
        let load = SystemLoad::detect();
        let dim = problem.mesh.dim();
        let estimated_dofs = problem
            .mesh
            .estimated_nodes()
            .map(|n| n.min(usize::MAX as f64) as usize);
        // Refuse up front, before meshing, what would not fit.
        let caching = match estimated_dofs {
            Some(dofs) => {
                let early = self.decide(&WorkEstimate::p1(dofs, dim), requested, &load);
                check_plan_memory(&early.plan, &early.solver, dofs, limit_mb, "before meshing")?;
                early.toggles.caching
            }
            None => self.config.scaling.toggles(usize::MAX, load.cores).caching,
        };
        let cache = if caching { self.cache()? } else { None };
        let keys = cache
            .as_ref()
            .and_then(|_| problem_keys(problem, &self.config, requested, &self.registry));
        if stage == Stage::Solve
            && self.solution_hits
            && let (Some(cache), Some(keys)) = (&cache, &keys)
        {
            let hit = self.cached_solution(cache, keys, problem, started)?;
            count_lookup(hit.is_some());
            if let Some(solution) = hit {
                return Ok(Some(solution));
            }
        }

        let t = Instant::now();
        let stored = match (&cache, &keys) {
            (Some(cache), Some(keys)) => {
                let stored = cache.system(&keys.system, || {
                    in_phase_span("mesh", || problem.mesh.build())
                        .map_err(|e| in_section(e, "problem."))
                })?;
                count_lookup(stored.is_some());
                stored
            }
            _ => None,
        };
        let mesh: Arc<Mesh> = match &stored {
            Some((live, level)) => {
                metrics
                    .cache_reused
                    .push(CacheReuse::new(Artefact::System, level));
                metrics.features_used.push(Feature::OperatorCacheHit);
                live.mesh.clone()
            }
            None => in_phase_span("mesh", || problem.mesh.build())
                .map_err(|e| in_section(e, "problem."))?,
        };
        metrics.phases.mesh = t.elapsed().as_secs_f64();
        deadline.check("mesh")?;
        let work = WorkEstimate::single(
            mesh.num_nodes(),
            mesh.num_cells(),
            mesh.num_nodes() * (2 * mesh.dim() + 3),
        )
        .with_dim(mesh.dim());
        let decision = self.decide(&work, requested, &load);
        check_plan_memory(
            &decision.plan,
            &decision.solver,
            work.dofs,
            limit_mb,
            "after meshing",
        )?;
        let (toggles, plan) = (decision.toggles, &decision.plan);
        femscale_core::VectorPool::global().set_enabled(toggles.memory_pooling);
        let expr_options = femscale_expr::ExprOptions::with_jit(toggles.jit);
        let form = problem.form_with("problem.", expr_options)?;
        let exact = problem.exact_field_with("problem.", expr_options)?;
        let view = mesh.view();

        let (kind, preconditioner) = (&decision.solver, &decision.preconditioner);
        let solver = self
            .registry
            .solver(kind, preconditioner, &cfg.method_options())?;
        let options = cfg.options(plan.threads);
        options.validate().map_err(solve_error)?;
        femscale_solvers::set_faer_threads(plan.threads);
        let assembler = self.registry.assembler(
            if plan.parallel_assembly {
                "parallel"
            } else {
                "serial"
            },
            self.config.assembly.quadrature_degree,
        )?;
        let solve_span = tracing::Span::current();

        let (outcome, usage) = femscale_scaling::measure(|| {
            self.with_threads(plan.threads, || -> Result<_> {
                // The pool's thread does not know the caller's span: re-enter it.
                let _solve_span = solve_span.enter();
                let (matrix, rhs, dirichlet) = match &stored {
                    Some((live, _)) => {
                        let t = Phase::start("assembly");
                        let matrix = live.system.matrix.clone();
                        let mut rhs = VectorPool::global().take(matrix.nrows()).into_vec();
                        let stats = assembler
                            .assemble_rhs(&view, &form, matrix.pattern(), &mut rhs)
                            .map_err(|e| in_section(e, "problem."))?;
                        metrics.phases.assembly = t.finish();
                        deadline.check("assembly")?;
                        metrics.assembler = stats.assembler;
                        metrics.parallel_assembly_used = stats.parallel;
                        let t = Phase::start("boundary_conditions");
                        let dirichlet = DirichletConditions::from_form(&view, &form)
                            .map_err(|e| in_section(e, "problem."))?;
                        live.system
                            .lift
                            .apply_rhs(&dirichlet, &mut rhs)
                            .map_err(|e| in_section(e, "problem."))?;
                        metrics.phases.boundary_conditions = t.finish();
                        deadline.check("boundary_conditions")?;
                        (matrix, rhs, dirichlet)
                    }
                    None => {
                        let t = Phase::start("pattern");
                        let pattern = Arc::new(assembler.pattern(&view)?);
                        metrics.phases.pattern = t.finish();
                        deadline.check("pattern")?;

                        let t = Phase::start("assembly");
                        let mut system = LinearSystem::zeros(pattern);
                        let stats = assembler
                            .assemble_into(&view, &form, &mut system)
                            .map_err(|e| in_section(e, "problem."))?;
                        metrics.phases.assembly = t.finish();
                        deadline.check("assembly")?;
                        metrics.assembler = stats.assembler;
                        metrics.parallel_assembly_used = stats.parallel;

                        let t = Phase::start("boundary_conditions");
                        let dirichlet = DirichletConditions::from_form(&view, &form)
                            .map_err(|e| in_section(e, "problem."))?;
                        let lift = dirichlet.apply_recording(&mut system)?;
                        let LinearSystem { matrix, rhs } = system;
                        let matrix = Arc::new(matrix);
                        if let (Some(cache), Some(keys)) = (&cache, &keys) {
                            cache.store_system(
                                &keys.system,
                                mesh.clone(),
                                matrix.clone(),
                                Arc::new(lift),
                            );
                        }
                        metrics.phases.boundary_conditions = t.finish();
                        deadline.check("boundary_conditions")?;
                        (matrix, rhs, dirichlet)
                    }
                };
                metrics.dirichlet_dofs = dirichlet.len();
                metrics.nnz = matrix.nnz();

                let t = Phase::start("setup");
                let cached = match (&cache, &keys) {
                    (Some(cache), Some(keys)) => {
                        let cached = cache.prepared(&keys.prepared);
                        count_lookup(cached.is_some());
                        cached
                    }
                    _ => None,
                };
                let prepared: Arc<SharedPrepared> = match cached {
                    Some(p) => {
                        metrics
                            .cache_reused
                            .push(CacheReuse::new(Artefact::PreparedSolver, "memory"));
                        p
                    }
                    None => {
                        let p = solver
                            .prepare(matrix.clone(), &options)
                            .map_err(solve_error)?;
                        let bytes = p.memory_bytes() + p.matrix().memory_bytes();
                        let p = Arc::new(Mutex::new(p));
                        if let (Some(cache), Some(keys)) = (&cache, &keys) {
                            cache.store_prepared(&keys.prepared, p.clone(), bytes);
                        }
                        p
                    }
                };
                metrics.phases.setup = t.finish();
                deadline.check("setup")?;
                if stage == Stage::Prepare {
                    return Ok(None);
                }

                let t = Phase::start("solve");
                let mut x = vec![0.0; rhs.len()];
                dirichlet.impose_on(&mut x);
                let report = prepared
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .solve(&rhs, &mut x, &mut deadline.monitor())
                    .map_err(|e| match e {
                        // Stopped by the deadline's monitor (or the solver's own clock): the
                        // solve's timeout, naming the phase. Other errors keep their cause (an
                        // isolated plugin killed at the limit says so itself).
                        SolveError::Stopped { .. } | SolveError::Timeout { .. } => deadline
                            .check("solve")
                            .err()
                            .unwrap_or_else(|| solve_error(e)),
                        other => solve_error(other),
                    })?;
                // Whatever the solver (built-in or plugin) claims: finite entries and the true
                // residual, one pass over the matrix.
                let verified =
                    verify_solution(&matrix, &rhs, &x, &report, &options).map_err(solve_error)?;
                metrics.phases.solve = t.finish();
                // The load vector's buffer serves the next solve of this size.
                VectorPool::global().give_back(rhs);

                let t = Phase::start("post");
                if let Some(exact) = &exact {
                    let norms = error_norms_within(&view, &x, exact.as_ref(), &deadline)?;
                    metrics.l2_error = Some(norms.l2);
                    metrics.h1_error = Some(norms.h1_seminorm);
                    metrics.max_nodal_error = Some(norms.max_nodal);
                }
                metrics.phases.post = t.finish();
                deadline.check("post")?;
                Ok(Some((x, report, verified)))
            })
        });
        let Some((values, report, verified)) = outcome?? else {
            return Ok(None);
        };

        metrics.dofs = mesh.num_nodes();
        metrics.num_elements = mesh.num_cells();
        metrics.element = mesh.cell_kind().element_name().into();
        metrics.solver = report.solver.clone();
        metrics.preconditioner = report.preconditioner.clone();
        metrics.iterations = report.iterations;
        metrics.final_relative_residual = report.final_relative_residual;
        metrics.verified_relative_residual = verified.relative_residual;
        metrics.verified_backward_error = verified.backward_error;
        metrics.threads = plan.threads;
        metrics.scaling_level = toggles.level;
        metrics.total_solve_time = metrics.phases.total();
        metrics.peak_rss_mb = Some(usage.peak_rss_mb);
        metrics.mean_cpu_percent = Some(usage.mean_cpu_percent);
        metrics.plan_rationale = plan.rationale.clone();
        if toggles.memory_pooling {
            metrics.features_used.push(Feature::MemoryPooling);
        }
        if metrics.parallel_assembly_used {
            metrics.features_used.push(Feature::ParallelAssembly);
        }
        if problem.uses_expressions() {
            metrics.features_used.push(Feature::ExpressionFields);
            if toggles.jit && femscale_expr::jit_available() {
                metrics.features_used.push(Feature::JitExpressions);
            }
        }
        if exact.is_some() {
            metrics.features_used.push(Feature::ExactSolutionErrors);
        }
        metrics.linear_solve = report;
        let mut solution = Solution {
            mesh,
            values,
            metrics,
        };
        solution.metrics.counters = femscale_core::scaling_metrics().since(&counters_before);
        if let (Some(cache), Some(keys)) = (&cache, &keys) {
            cache.store_solution(&keys.solution, &solution);
            solution.metrics.cache_levels = cache.level_stats();
        }
        let m = &solution.metrics;
        info!(dofs = m.dofs, solver = %m.solver, iterations = m.iterations, seconds = m.total_solve_time, reused = ?m.cache_reused, "solved");
        Ok(Some(solution))
    }

    /// The stored solution of `keys`, if any level has it (a byte-level hit also needs the
    /// mesh, taken from a live operator or built).
    fn cached_solution(
        &self,
        cache: &crate::SolveCache,
        keys: &ProblemKeys,
        problem: &Problem,
        started: Instant,
    ) -> Result<Option<Solution>> {
        let (mut solution, level) = match cache.solution(&keys.solution) {
            None => return Ok(None),
            Some(SolutionHit::Memory(hit)) => ((*hit).clone(), crate::MEMORY_LEVEL.to_string()),
            Some(SolutionHit::Bytes(values, metrics, level)) => {
                let mesh = match cache.live_mesh(&keys.system) {
                    Some(mesh) => mesh,
                    None => problem
                        .mesh
                        .build()
                        .map_err(|e| in_section(e, "problem."))?,
                };
                if values.len() != mesh.num_nodes() {
                    return Ok(None);
                }
                let solution = Solution {
                    mesh,
                    values,
                    metrics: *metrics,
                };
                cache.keep_live_solution(&keys.solution, &solution);
                (solution, level)
            }
        };
        let m = &mut solution.metrics;
        m.phases = Default::default();
        m.total_solve_time = started.elapsed().as_secs_f64();
        m.features_used.push(Feature::SolutionCacheHit);
        m.cache_reused = vec![CacheReuse::new(Artefact::Solution, level.as_str())];
        m.cache_levels = cache.level_stats();
        info!(dofs = m.dofs, level = %level, "solution served from cache");
        Ok(Some(solution))
    }
}

/// Counts one cache lookup as a hit or a miss in the process-wide counters.
fn count_lookup(hit: bool) {
    femscale_core::counters().record(if hit {
        Counter::CacheHits
    } else {
        Counter::CacheMisses
    });
}

/// One timed pipeline phase inside its `fem.phase` span.
struct Phase {
    started: Instant,
    _span: tracing::span::EnteredSpan,
}

impl Phase {
    fn start(name: &'static str) -> Self {
        Self {
            _span: tracing::info_span!("fem.phase", phase = name).entered(),
            started: Instant::now(),
        }
    }

    /// Ends the phase; returns its seconds.
    fn finish(self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
