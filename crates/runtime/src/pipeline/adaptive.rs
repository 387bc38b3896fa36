//! The adaptive loop (`[adaptivity]`): solve → estimate → mark → refine, the solution
//! interpolated onto the refined mesh as the next solve's initial guess, until the target
//! error, the unknowns budget or the step budget is reached.
//!
//! Each step runs the ordinary stages ([`super::stages`]) on its own mesh, planned for that
//! mesh's size (the solver and thread choice may change as it grows). Estimate and marking
//! count as the report's `post` phase, refinement and transfer as `mesh`; the report's
//! phases sum over all steps and [`AdaptivityReport`] splits them per step. Adaptive solves
//! bypass the cache: every step's mesh is new and no content key covers `[adaptivity]`.
//!
//! [`FemSolver::solve_observed`] shows each finished step ([`AdaptiveSnapshot`]: its mesh,
//! solution, indicators and marked cells) to the caller, e.g. to write one VTU file per step.

use std::sync::Arc;
use std::time::Instant;

use femscale_assembly::{
    DirichletConditions, DirichletLift, Estimate, element_errors_within, estimate_within, mark,
};
use femscale_core::{
    AdaptiveStep, AdaptiveStop, AdaptivityReport, CsrMatrix, Deadline, Error, ExecutionContext,
    Feature, Order, Result, SolverChoice,
};
use femscale_mesh::{Mesh, RefinementState};
use femscale_solvers::kernels;
use tracing::{info, instrument};

use super::phases::{Phase, PhaseClock};
use super::solve::Computed;
use super::stages::{
    Meshed, Operator, SolveSetup, build_mesh, build_operator, prepare_solver, solve_rhs,
};
use super::{FemSolver, Solution};
use crate::config::{AdaptiveTarget, AdaptivityConfig};
use crate::problem::Problem;
use crate::scaling::ScalingDecision;

/// One finished step of the adaptive loop, shown to the observer of
/// [`FemSolver::solve_observed`] once its marked cells are known to be refined (on the last step,
/// none: also when refining them would exceed `adaptivity.max_dofs`).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AdaptiveSnapshot<'a> {
    /// The step's number, from 0.
    pub index: usize,
    /// The step's mesh.
    pub mesh: &'a Mesh,
    /// The solution at the mesh's nodes.
    pub values: &'a [f64],
    /// The estimator's `η_K²`, one per cell.
    pub eta_squared: &'a [f64],
    /// The true squared energy errors per cell, when the problem has an exact solution.
    pub error_squared: Option<&'a [f64]>,
    /// The cells this step refines (none on the last step, whatever stopped the loop).
    pub marked: &'a [usize],
    /// The step as the report carries it (its `refine_seconds` not known yet).
    pub step: &'a AdaptiveStep,
}

/// What [`FemSolver::solve_observed`] calls with every step; an error stops the loop.
pub type StepObserver<'o> = dyn FnMut(&AdaptiveSnapshot<'_>) -> Result<()> + 'o;

impl FemSolver {
    /// Solves `problem` like [`FemSolver::solve`], showing every step of the adaptive loop to
    /// `on_step` as it finishes (after marking and refining). Without adaptivity
    /// (`adaptivity.enabled` and `scaling.enable_adaptive_mesh` off) this is an ordinary solve
    /// and `on_step` is never called.
    ///
    /// # Errors
    /// As [`FemSolver::solve`], and the first error `on_step` returns (the loop stops there).
    pub fn solve_observed(
        &self,
        problem: &Problem,
        on_step: &mut StepObserver<'_>,
    ) -> Result<Solution> {
        if !self.adaptive() {
            return self.solve(problem);
        }
        self.run_adaptive(problem, &self.config.solver.kind, Some(on_step))
    }

    /// Whether solves run the adaptive loop: `adaptivity.enabled` or
    /// `scaling.enable_adaptive_mesh = true`.
    pub(crate) fn adaptive(&self) -> bool {
        self.config.adaptivity.enabled || self.config.scaling.enable_adaptive_mesh == Some(true)
    }

    /// Runs the adaptive loop on `problem` and returns the last step's solution, its report
    /// carrying every step.
    #[instrument(skip_all, name = "fem.adaptive")]
    pub(crate) fn run_adaptive(
        &self,
        problem: &Problem,
        requested: &str,
        mut observer: Option<&mut StepObserver<'_>>,
    ) -> Result<Solution> {
        let cfg = &self.config.adaptivity;
        // On ranks, a step every rank takes (all but the solves) that fails on one rank is
        // abandoned there: the others would wait for it in the next solve's first collective.
        let (shared, abandon) = self.abandoning(requested);
        cfg.check().map_err(&abandon)?;
        let context = ExecutionContext::serial();
        let _counting = context.enter();
        let start = self.start(problem, requested).map_err(&abandon)?;
        let mut clock = PhaseClock::new(&start.deadline);
        let mut mesh = (clock.run(Phase::Mesh, || build_mesh(problem))).map_err(&abandon)?;
        // Switched on by `scaling.enable_adaptive_mesh` alone: that is the key to name (the
        // façade's `enable_adaptive_refinement` switches it on without either).
        let toggled = !cfg.enabled && self.config.scaling.enable_adaptive_mesh == Some(true);
        let switch = |e: Error| match toggled {
            false => e,
            true => e.map_field(|f| match f.to_string().as_str() {
                "adaptivity.enabled" => "scaling.enable_adaptive_mesh".into(),
                _ => f,
            }),
        };
        check_target(cfg, problem, &mesh)
            .map_err(switch)
            .map_err(&abandon)?;
        if mesh.num_nodes() > cfg.max_dofs {
            tracing::warn!(
                "the starting mesh has {} nodes, more than adaptivity.max_dofs = {}: it is \
                 solved once and not refined",
                mesh.num_nodes(),
                cfg.max_dofs
            );
        }
        let is_direct = |kind: &str| {
            (self.registry.solver_info(kind))
                .is_ok_and(|i| i.memory_model == Some(SolverChoice::Direct))
        };
        // Told when the configured solver can never use it (not for `auto`, whose choice may
        // change as the mesh grows).
        if cfg.solve_reduction.is_some() && (shared || is_direct(requested)) {
            let why = match shared {
                true => "a distributed solve keeps solver.tolerance on every step",
                false => "a direct solver has no tolerance to loosen",
            };
            tracing::warn!("adaptivity.solve_reduction is not used: {why}");
        }
        // The domain's size, against which cells too narrow to bisect are told.
        let extent = extent(&mesh);
        let mut state: Option<RefinementState> = None;
        let mut guess: Option<Vec<f64>> = None;
        let mut report = AdaptivityReport::default();
        report.estimator = cfg.estimator.name().into();
        report.marking = cfg.marking.name().into();
        report.theta = cfg.theta;
        // The plan of the next step's mesh, made when its refinement was judged.
        let mut planned: Option<ScalingDecision> = None;
        let mut warned: Vec<String> = Vec::new();
        let (outcome, usage) = femscale_scaling::measure(|| -> Result<_> {
            loop {
                let step_start = clock.timings.total();
                let decision = match planned.take() {
                    Some(decision) => decision,
                    None => (self.plan_for_mesh(problem, &mesh, requested, &start.load))
                        .map_err(&abandon)?,
                };
                // Each step plans; a warning is said once (review A: once per step).
                decision.log_new_warnings(&mut warned);
                let mut setup =
                    (self.setup(problem, &decision, context.clone())).map_err(&abandon)?;
                setup.dirichlet_energy = true;
                if report.steps.is_empty() && !problem.mesh.is_generated() {
                    super::checks::check_parts_fixed(&mesh, &setup.form).map_err(&abandon)?;
                }
                if report.steps.is_empty() {
                    if problem.mesh.dim().is_none() {
                        (problem.check_coordinates(mesh.dim()))
                            .map_err(|e| abandon(e.within("problem")))?;
                    }
                    super::checks::warn_overlapping_natural(&mesh, &setup.form);
                }
                let span = tracing::Span::current();
                // (With an exact solution, the true errors come from it instead.)
                let reference = cfg.reference_energy.is_some() && setup.exact.is_none();
                // Ranks would each derive a tolerance from their own (rounding-different)
                // data; a direct solve has no tolerance to loosen, only its check.
                let reduction =
                    (cfg.solve_reduction).filter(|_| !shared && !is_direct(&decision.solver));
                let step_context = setup.context.clone();
                let (computed, system) = self
                    .with_threads(step_context.threads(), || {
                        let _span = span.enter();
                        let _counting = step_context.enter();
                        let step = (mesh.clone(), guess.take(), reference, reduction);
                        solve_step(step, &mut setup, &mut clock, &abandon)
                    })
                    .map_err(&abandon)??;
                let solve_seconds = clock.timings.total() - step_start;
                let values = &computed.solved.values;
                let mut step = AdaptiveStep::default();
                step.dofs = mesh.num_nodes();
                step.cells = mesh.num_cells();
                step.iterations = computed.solved.report.iterations;
                step.tolerance = setup.options.tolerance;
                step.energy =
                    self.with_threads(step_context.threads(), || system.energy(values))?;
                step.solve_seconds = solve_seconds;
                let t = Instant::now();
                let deadline = clock.deadline();
                let eta = (self.with_threads(setup.context.threads(), || {
                    clock.run(Phase::Post, || {
                        estimate(cfg, &mesh, &setup, values, deadline)
                    })
                }))
                .map_err(&abandon)?
                .map_err(&abandon)?;
                step.estimate = eta.estimate.total();
                step.error = match (&eta.error, cfg.reference_energy) {
                    (Some(error), _) => Some(error.total()),
                    (None, Some(e)) => {
                        Some((system.energy_error(e, values, step.energy)).map_err(&abandon)?)
                    }
                    (None, None) => None,
                };
                // A ratio of round-off to round-off (the elements reproduce the solution: review
                // Q saw effectivities of 1.5 to 2.8 from errors of 1e-15) is no effectivity.
                let noise = ROUND_OFF * energy_scale(step.energy);
                step.effectivity = (step.error)
                    .filter(|e| *e > noise)
                    .map(|e| step.estimate / e);
                step.estimate_seconds = t.elapsed().as_secs_f64();
                info!(step = report.steps.len(), dofs = step.dofs, estimate = step.estimate, error = ?step.error, "adaptive step");

                let stop = stop_before_marking(cfg, &step, report.steps.len() + 1);
                let marked = match stop {
                    Some(_) => Vec::new(),
                    None => {
                        let t = Instant::now();
                        let marked = clock
                            .run(Phase::Post, || {
                                mark(cfg.marking(), &eta.estimate.eta_squared)
                            })
                            .map_err(&abandon)?;
                        step.mark_seconds = t.elapsed().as_secs_f64();
                        marked
                    }
                };
                step.marked = marked.len();
                // Shown once the step's outcome is known: the cells it refines (none on the
                // last step, also when the refinement would exceed `max_dofs`).
                let mut show = |marked: &[usize], step: &AdaptiveStep| match observer.as_mut() {
                    Some(observe) => observe(&AdaptiveSnapshot {
                        index: report.steps.len(),
                        mesh: &mesh,
                        values,
                        eta_squared: &eta.estimate.eta_squared,
                        error_squared: eta.error.as_ref().map(|e| e.eta_squared.as_slice()),
                        marked,
                        step,
                    })
                    .map_err(&abandon),
                    None => Ok(()),
                };
                let stop = stop.or((marked.is_empty()).then_some(AdaptiveStop::NothingMarked));
                let stop = stop.or_else(|| at_resolution_limit(&mesh, &marked, extent));
                if let Some(stop) = stop {
                    // Nothing is refined after the last step.
                    step.marked = 0;
                    show(&[], &step)?;
                    report.steps.push(step);
                    report.stopped_by = stop;
                    return Ok((computed, setup, decision));
                }
                let t = Instant::now();
                let refined = clock
                    .run(Phase::Mesh, || {
                        let mut refined = refine(&mesh, &marked, state.as_ref(), values)?;
                        // Parts named by predicate are the refined mesh's facets that satisfy
                        // it, as on a uniformly refined mesh (inherited facets are not).
                        (problem.mesh.reapply_parts(&mut refined.mesh))
                            .map_err(|e| e.within("problem"))?;
                        Ok(refined)
                    })
                    .map_err(switch)
                    .map_err(&abandon)?;
                // Within `max_dofs`, the next step must still fit in memory: when it does not,
                // the steps done are the result (an error would lose them).
                let next = match refined.mesh.num_nodes() > cfg.max_dofs {
                    true => Err(AdaptiveStop::MaxDofs),
                    false => {
                        (self.plan_within_memory(problem, &refined.mesh, requested, &start.load))
                            .map_err(&abandon)?
                    }
                };
                let next = match next {
                    Ok(next) => next,
                    Err(stop) => {
                        step.marked = 0;
                        show(&[], &step)?;
                        report.steps.push(step);
                        report.stopped_by = stop;
                        return Ok((computed, setup, decision));
                    }
                };
                planned = Some(next);
                show(&marked, &step)?;
                // Counted once kept (a refinement the budgets discard is not the mesh's).
                femscale_core::record(femscale_core::Counter::MeshRefinements);
                step.refine_seconds = t.elapsed().as_secs_f64();
                report.steps.push(step);
                mesh = Arc::new(refined.mesh);
                state = Some(refined.state);
                guess = Some(refined.values);
            }
        });
        let (computed, setup, decision) = outcome?;
        let mut solution = computed.into_solution(problem, &decision, &setup, clock.timings, usage);
        let m = &mut solution.metrics;
        m.adaptive_refinement_used = true;
        m.features_used.push(Feature::AdaptiveRefinement);
        info!(
            steps = report.steps.len(),
            dofs = m.dofs,
            stopped_by = report.stopped_by.name(),
            "adaptive loop done"
        );
        m.adaptivity = Some(report);
        Ok(solution)
    }
}

impl FemSolver {
    /// The plan of a solve on `mesh`, or `Err(MemoryLimit)` when it would not fit in memory:
    /// the memory the machine has for its mesh, pattern and matrix, or `solver.memory_limit_mb`
    /// for the plan's estimate (a warning says which). Other errors of the plan are returned.
    fn plan_within_memory(
        &self,
        problem: &Problem,
        mesh: &Mesh,
        requested: &str,
        load: &femscale_core::SystemLoad,
    ) -> Result<std::result::Result<ScalingDecision, AdaptiveStop>> {
        let too_big = |e: Error| {
            tracing::warn!("adaptive loop stopped: the next mesh would not fit in memory: {e}");
            Ok(Err(AdaptiveStop::MemoryLimit))
        };
        let element = (mesh.cell_kind(), mesh.order());
        if let Err(e) =
            crate::pipeline::check_nodes_fit(mesh.num_nodes() as f64, element, "adaptivity")
        {
            return too_big(e);
        }
        match self.plan_for_mesh(problem, mesh, requested, load) {
            Ok(decision) => Ok(Ok(decision)),
            Err(e @ Error::Solve(femscale_core::SolveError::MemoryBudget { .. })) => too_big(e),
            Err(e) => Err(e),
        }
    }
}

/// One step's solve on `mesh` from the initial `guess`, with `reduction` (nested iteration,
/// when the caller allows it for this step's solver) loosening `setup`'s tolerance; also
/// returns the system (for the discrete energy and, with `reference` energy, the energy
/// error). Errors before the solver's set-up go through `abandon`.
///
/// # Errors
/// As the pipeline's stages, and [`Error::InvalidInput`] (field `adaptivity.reference_energy`)
/// when `reference` is set and a Dirichlet condition prescribes a value other than zero.
fn solve_step(
    (mesh, mut guess, reference, reduction): (Arc<Mesh>, Option<Vec<f64>>, bool, Option<f64>),
    setup: &mut SolveSetup,
    clock: &mut PhaseClock<'_>,
    abandon: &impl Fn(Error) -> Error,
) -> Result<(Computed, StepSystem)> {
    let meshed = Meshed { mesh, stored: None };
    // Abandoned (on ranks) up to the solver's set-up, whose first step is collective.
    let operator = build_operator(meshed, setup, None, clock).map_err(abandon)?;
    if reference {
        check_zero_dirichlet_data(&operator.mesh, &operator.dirichlet).map_err(abandon)?;
    }
    if let (Some(reduction), Some(guess)) = (reduction, guess.as_mut()) {
        setup.options.tolerance = nested_tolerance(&operator, guess, reduction, &setup.options);
    }
    let prepared = prepare_solver(&operator, setup, None, clock)?;
    let matrix = operator.matrix.clone();
    let system = StepSystem {
        matrix: matrix.clone(),
        lift: operator.lift.clone(),
        fixed: operator.dirichlet.nodes().to_vec(),
        dirichlet_energy: operator.dirichlet_energy.unwrap_or(f64::NAN),
        load: reference.then(|| operator.rhs.clone()),
    };
    let (nnz, dirichlet_dofs) = (matrix.nnz(), operator.dirichlet.len());
    let assembly = operator.assembly.clone();
    let (solved, mesh) = solve_rhs(operator, &prepared, setup, clock, guess)?;
    drop(prepared);
    let exact = setup.exact.as_ref();
    let norms = super::stages::post_process(&mesh, &solved.values, exact, None, clock)?;
    let computed = Computed {
        mesh,
        solved,
        norms,
        nnz,
        dirichlet_dofs,
        assembly,
        reused: Vec::new(),
    };
    Ok((computed, system))
}

/// The relative tolerance that reduces the residual of `guess` (its Dirichlet values imposed
/// here) by `reduction`, never below `options.tolerance`: nested iteration, where the
/// interpolated previous solution is already as accurate as the previous mesh allows and the
/// solve only has to shrink its error by a fixed factor.
fn nested_tolerance(
    operator: &Operator,
    guess: &mut [f64],
    reduction: f64,
    options: &femscale_core::SolverOptions,
) -> f64 {
    let (a, b) = (&*operator.matrix, &operator.rhs);
    if guess.len() != b.len() {
        return options.tolerance;
    }
    operator.dirichlet.impose_on(guess);
    let (r0, bnorm) = (kernels::residual_norm(a, b, guess), kernels::norm2(b));
    loosened_tolerance(r0 / bnorm, reduction, options.tolerance)
}

/// `reduction` times the initial relative residual `relative`, at most `reduction` itself (a
/// start worse than zero is reduced as if from zero) and at least `floor`; `floor` when
/// `relative` is not a finite number.
fn loosened_tolerance(relative: f64, reduction: f64, floor: f64) -> f64 {
    if relative.is_finite() {
        (reduction * relative).min(reduction).max(floor)
    } else {
        floor
    }
}

/// The constrained operator of one step, what its Dirichlet elimination removed, and, when
/// the energy error is wanted, its load vector.
struct StepSystem {
    matrix: Arc<CsrMatrix>,
    /// The couplings of free rows with constrained columns.
    lift: Arc<DirichletLift>,
    /// The constrained nodes, increasing.
    fixed: Vec<usize>,
    /// `gᵀ A_DD g`: the couplings among constrained nodes.
    dirichlet_energy: f64,
    load: Option<Vec<f64>>,
}

impl StepSystem {
    /// `a(u_h, u_h) = uᵀ A u` on the operator before elimination, for `u` holding the
    /// Dirichlet values: the free rows of the constrained operator, twice the couplings the
    /// elimination moved out (`a_ij u_i g_j`), and `gᵀ A_DD g`. Rows in fixed blocks summed in
    /// order: the same value for any thread count.
    fn energy(&self, u: &[f64]) -> f64 {
        use rayon::prelude::*;
        const ROWS: usize = 8192;
        let a = &self.matrix;
        let (rp, ci, v) = (a.pattern().row_ptr(), a.pattern().col_idx(), a.values());
        let row = |i: usize| {
            u[i] * (rp[i]..rp[i + 1])
                .map(|k| v[k] * u[ci[k] as usize])
                .sum::<f64>()
        };
        let fixed = &self.fixed;
        let block = |b: usize| {
            let rows = b * ROWS..((b + 1) * ROWS).min(a.nrows());
            // The constrained rows keep only a diagonal: skipped (their part is the block's).
            let first = fixed.partition_point(|&d| d < rows.start);
            let mut skip = fixed[first..].iter().copied().peekable();
            let mut sum = 0.0;
            for i in rows {
                if skip.next_if_eq(&i).is_some() {
                    continue;
                }
                sum += row(i);
            }
            sum
        };
        let blocks: Vec<f64> = (0..a.nrows().div_ceil(ROWS))
            .into_par_iter()
            .map(block)
            .collect();
        let (rows, cols, values) = self.lift.couplings();
        let moved: f64 = (rows.iter().zip(cols).zip(values))
            .map(|((&i, &j), &a)| a * u[i] * u[j])
            .sum();
        blocks.iter().sum::<f64>() + 2.0 * moved + self.dirichlet_energy
    }

    /// `‖u − u_h‖_a` from the exact solution's energy `e = a(u, u)`, for zero Dirichlet data:
    /// `‖u − u_h‖²_a = a(u, u) − 2 ℓ(u_h) + a(u_h, u_h)`, since `a(u, v) = ℓ(v)` for every `v`
    /// of the discrete space. Unlike `a(u, u) − a(u_h, u_h)`, which holds for the exact
    /// discrete solution only and is off to first order in the algebraic error, this is the
    /// error of the computed `u_h` whatever the solver's tolerance. `NaN` without the load.
    /// Rounding and the load vector's quadrature may leave a tiny negative square (read as 0).
    /// `a` is [`StepSystem::energy`] of `u`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (field `adaptivity.reference_energy`) when the square is
    /// clearly negative: `e` is not the exact solution's energy (it would report a converged
    /// loop after one step).
    fn energy_error(&self, e: f64, u: &[f64], a: f64) -> Result<f64> {
        let Some(load) = &self.load else {
            return Ok(f64::NAN);
        };
        let l: f64 = load.iter().zip(u).map(|(b, u)| b * u).sum();
        let squared = e - 2.0 * l + a;
        if squared < -1e-6 * e.abs().max(a.abs()) {
            return Err(Error::invalid(
                "adaptivity.reference_energy",
                format!(
                    "{e} cannot be a(u, u) of the exact solution: the computed solution's \
                     energy error would be the square root of {squared:.6e} (its discrete \
                     energy a(u_h, u_h) is {a:.10e}, and a(u, u) bounds it from above)"
                ),
            ));
        }
        Ok(squared.max(0.0).sqrt())
    }
}

/// `adaptivity.reference_energy` gives the energy error only for zero Dirichlet data.
fn check_zero_dirichlet_data(mesh: &Mesh, dirichlet: &DirichletConditions) -> Result<()> {
    let nonzero = (dirichlet.nodes().iter().zip(dirichlet.values())).find(|(_, v)| **v != 0.0);
    match nonzero {
        None => Ok(()),
        Some((&node, value)) => {
            let p = mesh.view().point(node);
            Err(Error::invalid(
                "adaptivity.reference_energy",
                format!(
                    "gives the energy error only for zero Dirichlet data, but a Dirichlet \
                     condition prescribes {value} at (x, y, z) = ({}, {}, {}); give \
                     problem.exact instead",
                    p[0], p[1], p[2]
                ),
            ))
        }
    }
}

/// The estimate and, with an exact solution, the true element errors.
struct StepEstimate {
    estimate: Estimate,
    error: Option<Estimate>,
}

fn estimate(
    cfg: &AdaptivityConfig,
    mesh: &Mesh,
    setup: &SolveSetup,
    values: &[f64],
    deadline: &Deadline,
) -> Result<StepEstimate> {
    let view = mesh.view();
    // The estimators name the form's fields (within `problem`) or their own key.
    let in_problem = |e: Error| {
        let own = (e.field_name()).is_some_and(|f| f.starts_with("adaptivity."));
        if own { e } else { e.within("problem") }
    };
    let estimate = estimate_within(cfg.estimator(), &view, &setup.form, values, deadline)
        .map_err(in_problem)?;
    finite_squares(&estimate, "error indicator")?;
    let error = match &setup.exact {
        Some(exact) => {
            let error = element_errors_within(&view, &setup.form, values, exact.as_ref(), deadline)
                .map_err(in_problem)?;
            finite_squares(&error, "true error")?;
            Some(error)
        }
        None => None,
    };
    Ok(StepEstimate { estimate, error })
}

/// Squares of indicators and of true errors overflow for data near the end of the
/// floating-point range (`source = 1e200`, `diffusion = 1e-160`) although the solve did not:
/// the data's scale, not a step's result (review A: an overflowed true error was reported as
/// none, and `target = "error"` could never be reached).
fn finite_squares(estimate: &Estimate, what: &str) -> Result<()> {
    match (estimate.eta_squared.iter()).position(|e| !e.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(
            "problem",
            format!(
                "the squared {what} of cell {i} is {}: the source, boundary data or \
                 coefficients are too large or too small for it in double precision; scale \
                 the problem",
                estimate.eta_squared[i]
            ),
        )),
    }
}

/// Energy errors and estimates at most this share of the discrete solution's energy norm are
/// round-off: an effectivity of them measures nothing, and marking by them picks rounding
/// errors.
const ROUND_OFF: f64 = 1e-10;

/// The scale of the discrete solution `sqrt(|a(u_h, u_h)|)` that round-off is measured
/// against: with a negative reaction or Robin `alpha`, `a(u_h, u_h)` may be negative, and its
/// magnitude still sets the size of rounding (review C: `max(0)` made it zero, and a loop
/// refined on errors of 1e-14 with effectivities of their ratios).
fn energy_scale(energy: f64) -> f64 {
    energy.abs().sqrt()
}

/// The stop that needs no marking: the target reached, an estimate at round-off (a warning
/// says so) or the step budget spent.
fn stop_before_marking(
    cfg: &AdaptivityConfig,
    step: &AdaptiveStep,
    steps: usize,
) -> Option<AdaptiveStop> {
    let value = match cfg.target {
        AdaptiveTarget::Estimate => Some(step.estimate),
        AdaptiveTarget::Error => step.error,
    };
    if let (Some(target), Some(value)) = (cfg.target_error, value)
        && value <= target
    {
        return Some(AdaptiveStop::TargetReached);
    }
    // Marking by the largest rounding errors refined the mesh until a budget ran out.
    let norm = energy_scale(step.energy);
    if norm > 0.0 && step.estimate <= ROUND_OFF * norm {
        tracing::warn!(
            estimate = step.estimate,
            energy_norm = norm,
            "adaptive loop stopped: the estimate is at round-off of the solution's energy norm \
             (at most 1e-10 of it): marking would pick rounding errors"
        );
        return Some(AdaptiveStop::RoundOff);
    }
    (steps >= cfg.max_steps).then_some(AdaptiveStop::MaxSteps)
}

/// `adaptivity.target = "error"` needs a true error; refinement needs cells it can bisect.
fn check_target(cfg: &AdaptivityConfig, problem: &Problem, mesh: &Mesh) -> Result<()> {
    if cfg.target == AdaptiveTarget::Error
        && problem.exact.is_none()
        && cfg.reference_energy.is_none()
    {
        return Err(Error::invalid(
            "adaptivity.target",
            "`error` needs the true error: give problem.exact or adaptivity.reference_energy",
        ));
    }
    if problem.exact.is_some() && cfg.reference_energy.is_some() {
        return Err(Error::invalid(
            "adaptivity.reference_energy",
            "problem.exact is given too, and the steps' true errors come from it: give one of \
             the two",
        ));
    }
    // `a(u, u) - 2 l(u_h) + a(u_h, u_h)` is the square of a norm only for a positive operator.
    if cfg.reference_energy.is_some()
        && let Some(why) = super::definiteness::negative_coefficient(problem, mesh, false)
    {
        return Err(Error::invalid(
            "adaptivity.reference_energy",
            format!(
                "gives the energy error of a positive definite operator, and {why} may make it \
                 indefinite; give problem.exact instead (its error is measured with |c|)"
            ),
        ));
    }
    // The ZZ estimator averages P1 gradients: refused now rather than after the first solve.
    if cfg.estimator() == femscale_assembly::Estimator::Recovery
        && problem.order != femscale_core::Order::Linear
    {
        return Err(Error::invalid(
            "adaptivity.estimator",
            "the Zienkiewicz-Zhu estimator averages P1 gradients, which is not superconvergent \
             for quadratic elements: use the residual estimator with problem.order = 2",
        ));
    }
    // Refusing quadrilaterals, hexahedra and tetrahedra now rather than after the first solve.
    if !matches!(
        mesh.cell_kind(),
        femscale_core::CellKind::Interval | femscale_core::CellKind::Triangle
    ) {
        return Err(Error::invalid(
            "adaptivity.enabled",
            format!(
                "adaptive refinement bisects intervals and triangles; this mesh has {} cells \
                 (no hanging-node support for quadrilaterals and hexahedra, no 3D bisection yet)",
                mesh.cell_kind().name()
            ),
        ));
    }
    if mesh.is_curved() {
        return Err(Error::invalid(
            "adaptivity.enabled",
            "adaptive refinement of curved (isoparametric) meshes is not supported",
        ));
    }
    Ok(())
}

/// Cells narrower than this share of the domain's extent are not bisected: their nodes'
/// coordinates keep too few digits (at `1e-16` of it, bisection makes cells of no width).
const RESOLUTION: f64 = 1e-10;

/// The diagonal of the bounding box of `mesh`'s nodes.
fn extent(mesh: &Mesh) -> f64 {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in mesh.points() {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    (0..3).map(|k| (hi[k] - lo[k]).powi(2)).sum::<f64>().sqrt()
}

/// `Some(ResolutionLimit)` when a marked cell is narrower than [`RESOLUTION`] of `extent`
/// (a warning says which).
fn at_resolution_limit(mesh: &Mesh, marked: &[usize], extent: f64) -> Option<AdaptiveStop> {
    let smallest = (marked.iter())
        .map(|&c| (mesh.cell_diameter(c), c))
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    (smallest.0 < RESOLUTION * extent).then(|| {
        tracing::warn!(
            cell = smallest.1,
            width = smallest.0,
            extent,
            "adaptive loop stopped: a marked cell is at the resolution limit of double precision"
        );
        AdaptiveStop::ResolutionLimit
    })
}

/// The refined mesh, its refinement state and `values` interpolated onto it.
struct RefinedStep {
    mesh: Mesh,
    state: RefinementState,
    values: Vec<f64>,
}

fn refine(
    mesh: &Mesh,
    marked: &[usize],
    state: Option<&RefinementState>,
    values: &[f64],
) -> Result<RefinedStep> {
    let refined = mesh.refine_cells(marked, state)?;
    let values = match mesh.order() {
        Order::Linear => refined.interpolate_p1(values)?,
        Order::Quadratic => refined.interpolate_p2(mesh, values)?,
    };
    // New nodes come last: renumbered by first use in cell order, neighbouring cells' nodes
    // are close in memory again (the refinement state is per cell and stays valid).
    let (mesh, new_of_old) = refined.mesh.renumbered_by_first_use();
    let mut renumbered = vec![0.0; values.len()];
    for (old, &new) in new_of_old.iter().enumerate() {
        renumbered[new] = values[old];
    }
    Ok(RefinedStep {
        mesh,
        state: refined.state,
        values: renumbered,
    })
}

#[cfg(test)]
mod tests {
    use super::loosened_tolerance;

    #[test]
    fn the_loosened_tolerance_stays_between_the_floor_and_the_reduction() {
        assert_eq!(loosened_tolerance(0.5, 1e-3, 1e-10), 0.5 * 1e-3);
        // A start worse than zero is reduced as if from zero: below 1 whatever the reduction.
        assert_eq!(loosened_tolerance(2.4, 0.9, 1e-10), 0.9);
        assert_eq!(loosened_tolerance(1e-9, 1e-3, 1e-10), 1e-10);
        for bad in [f64::NAN, f64::INFINITY] {
            assert_eq!(loosened_tolerance(bad, 1e-3, 1e-8), 1e-8);
        }
    }
}
