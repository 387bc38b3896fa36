//! Planning one solve: the scaling toggles, the execution plan (adaptive for
//! `scaling.level = "auto"`, static otherwise), the solver `auto` resolves to, and the memory
//! check that refuses a solve up front.

use femscale_core::{
    BoundaryKindOf, Error, ExecutionPlan, PlanTopic, Result, ScalarField, Scaler, SolverChoice,
    SolverInfo, StaticScaler, SystemLoad, WorkEstimate,
};
use femscale_expr::ExprOptions;
use femscale_mesh::Mesh;
use femscale_scaling::AdaptiveScaler;

use super::FemSolver;
use crate::config::AUTO;
use crate::problem::{BoundarySpec, Problem};
use crate::scaling::{ScalingDecision, ScalingLevel, ScalingToggles};

impl FemSolver {
    /// The adaptive scaler configured from this solver's settings ([`adaptive_scaler`]).
    pub(crate) fn adaptive_scaler(&self) -> AdaptiveScaler {
        adaptive_scaler(&self.config)
    }

    /// How a solve of `work` with `requested` solver (`solver.kind` or an override) would run
    /// on `load`: the planner. It owns every `auto` decision — threads and parallel assembly
    /// (the adaptive scaler at `scaling.level = "auto"`, the level's preset otherwise, explicit
    /// settings winning), the solver `auto` resolves to, the preconditioner `auto` gives it
    /// and the memory model of the estimate (both from the solver's registry entry).
    /// `indefinite` says why the operator may be indefinite ([`negative_coefficient`]): `auto`
    /// then gives the iterative family GMRES with AMG, where CG would break down.
    pub(crate) fn decide(
        &self,
        work: &WorkEstimate,
        requested: &str,
        load: &SystemLoad,
        indefinite: Option<&str>,
    ) -> ScalingDecision {
        let toggles = self.config.scaling.toggles(work.dofs, load.cores);
        let adaptive = self.adaptive_scaler();
        let mut plan = match self.config.scaling.level {
            ScalingLevel::Auto => self.adaptive_plan(&adaptive, work, load, &toggles),
            _ => self.static_plan(work, load, &toggles),
        };
        let solver = if requested == AUTO {
            let choice = match plan.solver {
                Some(choice) => choice,
                None => {
                    let (choice, why) = adaptive.choose_solver(work, load);
                    plan.add_reason(PlanTopic::Solver, why);
                    choice
                }
            };
            let chosen = match (solver_for(choice), indefinite) {
                (CG, Some(why)) => {
                    let why = format!(
                        "{GMRES} with {AMG} rather than {CG}: the operator may be indefinite \
                         ({why}), where CG breaks down (set solver.kind = \"direct\" for a \
                         strongly indefinite one)"
                    );
                    plan.add_reason(PlanTopic::Solver, why);
                    GMRES
                }
                (chosen, _) => chosen,
            };
            // A configured preconditioner that the chosen method does not apply (the direct
            // solver) is said in the plan and logged, not dropped without a word.
            let preconditioner = self.config.solver.preconditioner.as_str();
            let chosen_info = self.registry.solver_info(chosen);
            let ignored = !matches!(preconditioner, AUTO | "none")
                && chosen_info.as_ref().is_ok_and(|i| !i.takes_preconditioner);
            // The reason names the pair the scaler models (amg-cg); another preconditioner
            // runs instead when one is configured.
            let replaced = (chosen_info.as_ref().ok())
                .map(|i| auto_preconditioner(chosen, indefinite, i))
                .filter(|&default| !matches!(preconditioner, AUTO) && preconditioner != default);
            if let Some(default) = replaced
                && !ignored
            {
                plan.add_reason(
                    PlanTopic::Solver,
                    format!(
                        "{chosen} runs with solver.preconditioner = {preconditioner} as \
                         configured, not {default}"
                    ),
                );
            }
            if ignored {
                let why = format!(
                    "solver.preconditioner = {preconditioner} unused: {chosen} applies none (set \
                     solver.kind to an iterative method to use it)"
                );
                tracing::warn!("{why}");
                plan.add_reason(PlanTopic::Solver, why);
            }
            chosen.to_string()
        } else {
            if plan.solver.is_some() {
                // The scaler's reason for its own choice does not apply to a configured solver.
                plan.replace_reasons(PlanTopic::Solver, format!("{requested} as configured"));
            }
            requested.to_string()
        };
        // A registered solver is checked before planning; an unknown one (plugins not
        // loaded in a dry run) is planned as a preconditioned method without a model.
        let info = (self.registry.solver_info(&solver))
            .unwrap_or_else(|_| SolverInfo::preconditioned("jacobi", None));
        let preconditioner = match self.config.solver.preconditioner.as_str() {
            AUTO if requested == AUTO => auto_preconditioner(&solver, indefinite, &info).into(),
            AUTO => info.default_preconditioner.to_string(),
            configured => configured.to_string(),
        };
        // The plan describes what will run: the estimate follows the resolved solver.
        plan.solver = info.memory_model;
        plan.estimated_memory_mb = plan.solver.map(|c| adaptive.model.solve_mb(work, c));
        ScalingDecision {
            toggles,
            plan,
            solver,
            preconditioner,
        }
    }

    /// The adaptive scaler's plan, with explicit settings winning: `scaling.threads` is the
    /// thread count (not a cap on the scaler's choice), `assembly.parallel` the assembly.
    fn adaptive_plan(
        &self,
        adaptive: &AdaptiveScaler,
        work: &WorkEstimate,
        load: &SystemLoad,
        toggles: &ScalingToggles,
    ) -> ExecutionPlan {
        let mut plan = adaptive.plan(work, load);
        if !toggles.parallel {
            plan.threads = 1;
        } else if self.config.scaling.threads > 0 && plan.threads != toggles.threads {
            plan.threads = toggles.threads;
            let why = format!(
                "{} thread(s) as configured by scaling.threads",
                plan.threads
            );
            plan.replace_reasons(PlanTopic::Threads, why);
        }
        // The scaler's rule, on the threads the solve will have (a configured count may be
        // more than the scaler would give a small problem).
        plan.parallel_assembly = match self.config.assembly.parallel {
            Some(parallel) => parallel,
            None => plan.threads > 1 && work.cells >= adaptive.parallel_assembly_min_cells,
        };
        plan
    }

    /// The scaling level's preset: its threads, parallel assembly by size unless
    /// `assembly.parallel` says otherwise.
    fn static_plan(
        &self,
        work: &WorkEstimate,
        load: &SystemLoad,
        toggles: &ScalingToggles,
    ) -> ExecutionPlan {
        let static_scaler = StaticScaler {
            threads: toggles.threads,
            // An explicit `assembly.parallel` wins over the level's preset.
            parallel_assembly: (self.config.assembly.parallel)
                .or((!toggles.parallel).then_some(false)),
            parallel_threshold_cells: self.config.assembly.parallel_threshold_cells,
            memory_budget_mb: self.config.solver.memory_limit_mb,
        };
        static_scaler.plan(work, load)
    }
}

/// Below this many unknowns `scaling.level = "auto"` takes the `minimal` toggles (serial,
/// no JIT, no cache: their set-up costs more than they save).
pub(crate) const AUTO_MINIMAL_BELOW_DOFS: usize = 10_000;
/// Below this many unknowns (and from [`AUTO_MINIMAL_BELOW_DOFS`]) `auto` takes the
/// `standard` toggles; from here on `aggressive` (autoscaling too).
pub(crate) const AUTO_STANDARD_BELOW_DOFS: usize = 500_000;

/// The fixed level whose toggles `scaling.level = "auto"` uses for `dofs` unknowns.
pub(crate) fn auto_level(dofs: usize) -> ScalingLevel {
    match dofs {
        d if d < AUTO_MINIMAL_BELOW_DOFS => ScalingLevel::Minimal,
        d if d < AUTO_STANDARD_BELOW_DOFS => ScalingLevel::Standard,
        _ => ScalingLevel::Aggressive,
    }
}

/// The registered names `auto` chooses among for an iterative solve.
const CG: &str = "cg";
const GMRES: &str = "gmres";
const AMG: &str = "amg";

/// The preconditioner `auto` gives `solver`: AMG to the GMRES it chose for an indefinite
/// operator (ILU(0), GMRES's own default, takes thousands of iterations there), else the
/// solver's registry default.
fn auto_preconditioner(solver: &str, indefinite: Option<&str>, info: &SolverInfo) -> &'static str {
    match (solver, indefinite) {
        (GMRES, Some(_)) => AMG,
        _ => info.default_preconditioner,
    }
}

/// At most this many mesh nodes are sampled by [`negative_coefficient`].
const COEFFICIENT_SAMPLES: usize = 65_536;

/// Why the operator of `problem` on `mesh` may be indefinite, or `None`: a reaction `c` or a
/// Robin `alpha` that is a negative constant, or an expression negative at one of up to
/// 65,536 of the mesh's nodes (evenly strided; every node of smaller meshes). Conservative
/// where it cannot know: a field by subdomain counts when any piece is negative anywhere
/// sampled, and `alpha` is read at all sampled nodes, not only the boundary's. A negative
/// coefficient need not make the operator indefinite (`-Δu - c u` is definite while `c` stays
/// below the smallest eigenvalue of `-Δ`); GMRES solves a definite operator too.
pub(crate) fn negative_coefficient(problem: &Problem, mesh: &Mesh) -> Option<String> {
    let robin = |bc: &BoundarySpec| matches!(bc.kind, BoundaryKindOf::Robin { .. });
    if problem.reaction.is_none() && !problem.boundary.iter().any(robin) {
        return None;
    }
    // Interpreted: a few thousand evaluations do not pay for compiling.
    let form = problem.form_with(ExprOptions::with_jit(false)).ok()?;
    // Gathered for the first field that is not a constant.
    let points = std::cell::OnceCell::new();
    let points = || {
        points
            .get_or_init(|| {
                let stride = mesh.num_nodes().div_ceil(COEFFICIENT_SAMPLES).max(1);
                let view = mesh.view();
                (0..mesh.num_nodes())
                    .step_by(stride)
                    .map(|i| view.point(i))
                    .collect::<Vec<_>>()
            })
            .as_slice()
    };
    let robin = (form.boundary.iter().enumerate()).filter_map(|(i, bc)| match &bc.kind {
        BoundaryKindOf::Robin { alpha, .. } => Some((format!("boundary[{i}].alpha"), alpha)),
        _ => None,
    });
    let fields = (form.reaction.as_ref().map(|c| ("reaction".to_string(), c))).into_iter();
    fields.chain(robin).find_map(|(name, field)| {
        let (value, at) = negative_at(field.as_ref(), &points)?;
        Some(match at {
            Some(p) => format!("{name} = {value:e} at {p:?}"),
            None => format!("{name} = {value:e}"),
        })
    })
}

/// A negative value of `field` (and where, unless it is constant) at one of `points()`.
fn negative_at<'p>(
    field: &dyn ScalarField,
    points: &impl Fn() -> &'p [[f64; 3]],
) -> Option<(f64, Option<[f64; 3]>)> {
    if let Some(c) = field.as_constant() {
        return (c < 0.0).then_some((c, None));
    }
    if let Some(pieces) = field.as_subdomains() {
        return (pieces.pieces().iter()).find_map(|(_, piece)| negative_at(piece.as_ref(), points));
    }
    let points = points();
    let mut values = vec![0.0; points.len()];
    field.eval_batch(points, &mut values);
    let i = values.iter().position(|&v| v < 0.0)?;
    Some((values[i], Some(points[i])))
}

/// The registered solver of a scaler's choice (its preconditioner follows the solver's
/// registry entry: AMG for `cg`).
pub fn solver_for(choice: SolverChoice) -> &'static str {
    match choice {
        SolverChoice::Direct => "direct",
        // AMG-CG, and the iterative default for any family added later.
        _ => CG,
    }
}

/// The adaptive scaler configured from `config`: memory limit, thread cap, the direct-solver
/// threshold of `solver.auto_direct_max_dofs` and the parallel-assembly threshold of
/// `assembly.parallel_threshold_cells`.
pub(crate) fn adaptive_scaler(config: &crate::Config) -> AdaptiveScaler {
    let mut scaler =
        AdaptiveScaler::with_limits(config.solver.memory_limit_mb, config.scaling.threads);
    scaler.direct_max_dofs_2d = config.solver.auto_direct_max_dofs;
    scaler.parallel_assembly_min_cells = config.assembly.parallel_threshold_cells;
    scaler
}

/// Refuses, before anything is allocated, a solve whose estimated memory exceeds
/// `solver.memory_limit_mb`; `size` says what is solved (`9261 unknowns in 3D`).
///
/// # Errors
/// [`femscale_core::SolveError::MemoryBudget`] naming the solver, the size, the estimate and the limit.
pub(crate) fn check_plan_memory(
    plan: &ExecutionPlan,
    solver: &str,
    size: &str,
    limit_mb: Option<f64>,
    when: &str,
) -> Result<()> {
    plan.check_memory_against(limit_mb, || {
        format!("a {solver} solve of {size} (estimated {when}; solver.memory_limit_mb)")
    })
    .map_err(Error::Solve)
}
