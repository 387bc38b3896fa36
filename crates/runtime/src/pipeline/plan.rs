//! Planning one solve: the scaling toggles, the execution plan (adaptive for
//! `scaling.level = "auto"`, static otherwise), the solver `auto` resolves to, and the memory
//! check that refuses a solve up front.

use femscale_core::{
    Error, ExecutionPlan, Result, Scaler, SolverChoice, StaticScaler, SystemLoad, WorkEstimate,
};
use femscale_scaling::AdaptiveScaler;

use super::FemSolver;
use crate::config::AUTO;
use crate::scaling::{ScalingDecision, ScalingLevel};

impl FemSolver {
    /// The adaptive scaler configured from this solver's settings ([`adaptive_scaler`]).
    pub(crate) fn adaptive_scaler(&self) -> AdaptiveScaler {
        adaptive_scaler(&self.config)
    }

    /// How a solve of `work` with `requested` solver (`solver.kind` or an override) would run
    /// on `load`.
    pub(crate) fn decide(
        &self,
        work: &WorkEstimate,
        requested: &str,
        load: &SystemLoad,
    ) -> ScalingDecision {
        let scaling = &self.config.scaling;
        let toggles = scaling.toggles(work.dofs, load.cores);
        let adaptive = self.adaptive_scaler();
        let explicit_assembly = self.config.assembly.parallel;
        let mut plan = if scaling.level == ScalingLevel::Auto {
            let mut plan = adaptive.plan(work, load);
            // Explicit settings win over the plan: `scaling.threads` is the thread count, not
            // a cap on the scaler's choice.
            if !toggles.parallel {
                plan.threads = 1;
            } else if scaling.threads > 0 && plan.threads != toggles.threads {
                plan.threads = toggles.threads;
                // The scaler's reasons about threads no longer apply.
                let mut reasons: Vec<String> = plan
                    .rationale
                    .split("; ")
                    .filter(|r| !r.contains("thread"))
                    .map(String::from)
                    .collect();
                reasons.push(format!(
                    "{} thread(s) as configured by scaling.threads",
                    toggles.threads
                ));
                plan.rationale = reasons.join("; ");
            }
            match explicit_assembly {
                Some(parallel) => plan.parallel_assembly = parallel,
                None => plan.parallel_assembly &= plan.threads > 1,
            }
            plan
        } else {
            let static_scaler = StaticScaler {
                threads: toggles.threads,
                // An explicit `assembly.parallel` wins over the level's preset.
                parallel_assembly: explicit_assembly.or((!toggles.parallel).then_some(false)),
                parallel_threshold_cells: self.config.assembly.parallel_threshold_cells,
                memory_budget_mb: self.config.solver.memory_limit_mb,
            };
            let mut plan = static_scaler.plan(work, load);
            if requested == AUTO {
                let (choice, why) = adaptive.choose_solver(work, load);
                plan.solver = Some(choice);
                plan.rationale = format!("{}; {why}", plan.rationale);
            }
            plan
        };
        let kind = match (requested, plan.solver) {
            (AUTO, Some(choice)) => choice.registry_names().0,
            (AUTO, None) => {
                if work.dofs <= self.config.solver.auto_direct_max_dofs {
                    "direct"
                } else {
                    "cg"
                }
            }
            (kind, _) => kind,
        };
        let (solver, preconditioner) = self.config.solver.resolve(kind, work.dofs);
        if requested != AUTO && plan.solver.is_some() {
            // The scaler's solver reason (its first) does not apply to a configured solver.
            let rest = plan.rationale.split_once("; ").map_or("", |(_, rest)| rest);
            plan.rationale = format!("{solver} as configured; {rest}");
        }
        // The plan describes what will run: the estimate follows the resolved solver.
        plan.solver = memory_class(&solver);
        plan.estimated_memory_mb = plan.solver.map(|c| adaptive.model.solve_mb(work, c));
        ScalingDecision {
            toggles,
            plan,
            solver,
            preconditioner,
        }
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

/// The memory model that fits a built-in solver: the direct factorisation, or an iterative
/// method (AMG-CG's hierarchy bounds the simpler preconditioners). `None` for solvers the
/// model does not know (plugins).
fn memory_class(solver: &str) -> Option<SolverChoice> {
    match solver {
        "direct" => Some(SolverChoice::Direct),
        "cg" | "gmres" | "bicgstab" | "amg" => Some(SolverChoice::AmgCg),
        _ => None,
    }
}

/// Refuses, before anything is allocated, a solve whose estimated memory exceeds
/// `solver.memory_limit_mb`.
///
/// # Errors
/// [`femscale_core::SolveError::MemoryBudget`] naming the solver, the size, the estimate and the limit.
pub(crate) fn check_plan_memory(
    plan: &ExecutionPlan,
    solver: &str,
    dofs: usize,
    limit_mb: Option<f64>,
    when: &str,
) -> Result<()> {
    plan.check_memory_against(limit_mb, || {
        format!("a {solver} solve of {dofs} unknowns (estimated {when}; solver.memory_limit_mb)")
    })
    .map_err(Error::Solve)
}
