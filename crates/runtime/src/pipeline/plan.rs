//! Planning one solve: the scaling toggles, the execution plan (adaptive for
//! `scaling.level = "auto"`, static otherwise), the solver `auto` resolves to, and the memory
//! check that refuses a solve up front.

use femscale_core::shown::Shown;
use femscale_core::{
    Error, ExecutionPlan, PlanTopic, Result, Scaler, SolverChoice, SolverInfo, StaticScaler,
    SystemLoad, WorkEstimate,
};
use femscale_scaling::AdaptiveScaler;

use super::FemSolver;
use crate::config::AUTO;
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
    /// `indefinite` says why the operator may be indefinite ([`super::definiteness::negative_coefficient`]): `auto`
    /// then gives the iterative family GMRES with AMG, where CG would break down.
    pub(crate) fn decide(
        &self,
        work: &WorkEstimate,
        requested: &str,
        load: &SystemLoad,
        indefinite: Option<&str>,
    ) -> ScalingDecision {
        let toggles = self.config.scaling.toggles(work.dofs, load.cores);
        let mut warnings = Vec::new();
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
            let lu_mb = lu_mb(&adaptive, work);
            let lu_fits = (self.config.solver.memory_limit_mb).is_none_or(|limit| lu_mb <= limit);
            let chosen = match (solver_for(choice), indefinite) {
                // The factor of an indefinite operator is LU's, several times Cholesky's that
                // the scaler priced.
                (DIRECT, Some(why)) if !lu_fits => {
                    let limit = self.config.solver.memory_limit_mb.unwrap_or(f64::INFINITY);
                    let why = format!(
                        "{GMRES} with {AMG}: the operator may be indefinite ({why}), and its LU \
                         factor (~{} MB) would not fit in solver.memory_limit_mb = {}",
                        lu_mb.round(),
                        Shown(limit)
                    );
                    // The scaler's reason priced a Cholesky factor.
                    plan.replace_reasons(PlanTopic::Solver, why);
                    GMRES
                }
                (DIRECT, Some(why)) => {
                    let why = format!(
                        "the operator may be indefinite ({why}): its direct solve is an LU \
                         (~{} MB)",
                        lu_mb.round()
                    );
                    plan.add_reason(PlanTopic::Solver, why);
                    DIRECT
                }
                (CG, Some(why)) => {
                    // The scaler's reasons name the pair it modelled (review V: the plan began
                    // "amg-cg: …" and then ran GMRES).
                    for reason in (plan.reasons.iter_mut()).filter(|r| r.topic == PlanTopic::Solver)
                    {
                        if let Some(rest) = reason.text.strip_prefix("amg-cg: ") {
                            reason.text = format!("an iterative solver: {rest}");
                        }
                    }
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
                warnings.push(why.clone());
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
        plan.estimated_memory_mb = plan.solver.map(|c| {
            let model = adaptive.model.solve_mb(work, c);
            match solver.as_str() {
                // An indefinite operator's factor is LU's.
                DIRECT if requested == AUTO && indefinite.is_some() => lu_mb(&adaptive, work),
                // GMRES(m) allocates m + 1 basis vectors; the model counts CG's work vectors
                // already (review W: they were counted twice).
                GMRES => {
                    let extra = (self.config.solver.gmres.restart + 1).saturating_sub(CG_VECTORS);
                    let basis = extra as f64 * work.dofs as f64;
                    model + basis * 8.0 / femscale_core::checks::MIB
                }
                _ => model,
            }
        });
        let indefinite = (requested == AUTO && solver != DIRECT)
            .then(|| indefinite.map(str::to_string))
            .flatten();
        ScalingDecision {
            toggles,
            plan,
            solver,
            preconditioner,
            indefinite,
            warnings,
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

/// The registered names `auto` chooses among.
const DIRECT: &str = "direct";
const CG: &str = "cg";
const GMRES: &str = "gmres";
const AMG: &str = "amg";

/// How much more memory the direct solver's LU takes than its Cholesky: twice the entries
/// (`L` and `U`) and pivoting's fill; measured 5.1× on 2D P1 at 141² (review W: peak RSS
/// 63.6 MB for LU, 27.7 MB for Cholesky, 19 MB without a factor).
const LU_OVER_CHOLESKY: f64 = 5.0;

/// Work vectors of CG the memory model counts (`x`, `r`, `p`, `q`).
const CG_VECTORS: usize = 4;

/// The model's estimate of a direct solve by LU, MB: its Cholesky factor [`LU_OVER_CHOLESKY`]
/// times.
fn lu_mb(adaptive: &AdaptiveScaler, work: &WorkEstimate) -> f64 {
    let (model, base) = (&adaptive.model, adaptive.model.base_mb(work));
    base + (model.direct_mb(work) - base) * LU_OVER_CHOLESKY
}

/// The preconditioner `auto` gives `solver`: AMG to the GMRES it chose for an indefinite
/// operator (ILU(0), GMRES's own default, takes thousands of iterations there), else the
/// solver's registry default.
fn auto_preconditioner(solver: &str, indefinite: Option<&str>, info: &SolverInfo) -> &'static str {
    match (solver, indefinite) {
        (GMRES, Some(_)) => AMG,
        _ => info.default_preconditioner,
    }
}

/// The registered solver of a scaler's choice (its preconditioner follows the solver's
/// registry entry: AMG for `cg`).
pub fn solver_for(choice: SolverChoice) -> &'static str {
    match choice {
        SolverChoice::Direct => DIRECT,
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
