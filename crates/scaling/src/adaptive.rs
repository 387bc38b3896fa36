//! The adaptive scaler: an [`ExecutionPlan`] from the size of the work and the machine.
//!
//! # The model
//!
//! **Memory** ([`MemoryModel`]). Every run needs the mesh, the sparsity pattern, the matrix and a
//! few vectors: `base = bytes_per_entry · nnz + base_bytes_per_dof · n`. On top of that:
//!
//! * *direct* (sparse Cholesky): the factor holds `nnz(L)` values. With faer's AMD ordering,
//!   `nnz(L) ≈ c₂ n log₂ n` on 2D meshes (as nested dissection: George 1973; Lipton, Rose &
//!   Tarjan 1979) but `c₃ n^{3/2}` on 3D meshes (measured below; nested dissection would reach
//!   `n^{4/3}`, AMD does not on these sizes), `2n` in 1D (a tridiagonal matrix has no fill). The
//!   fill per unknown depends on the size, not on the element: P2/Q2 and Q1 stencils (12–64
//!   entries per row) fill like P1 at the same number of unknowns, within 25 %, because the
//!   separators the ordering finds are counted in unknowns. A known fill `nnz(L) / nnz(A)`
//!   ([`WorkEstimate::factor_fill`]) replaces the estimate.
//! * *AMG-CG*: the hierarchy stores about `operator complexity × nnz` entries plus the
//!   prolongations, and CG's three work vectors: `amg_bytes_per_entry · nnz + amg_bytes_per_dof · n`.
//!
//! The constants were fitted to the memory femscale's prepared solvers report on this project's
//! machine (`cargo run --release -p femscale-benches --example scaling_crossover -- SIZES 1
//! ELEMENT 1`, elements `tri-p1`, `quad-q1`, `tri-p2`, `quad-q2`, `tet-p1`, `hex-q1`, `tet-p2`,
//! `hex-q2`): in 2D the faer Cholesky factor held `c₂ log₂ n` = 3.6–4.7 · log₂ n values per
//! unknown from 289 to 263,169 unknowns with P1 (`c₂ = 4`, 8 bytes each; P2/Q2 3.6–5.0 from
//! 1,089 to 66,049), AMG-CG a constant ~256 bytes per unknown. With the base term this predicts
//! 897 MB for a direct and 513 MB for an AMG-CG solve of 1,050,625 unknowns, against peak RSS of
//! 895 MB and 446 MB measured (`docs/performance.md`). In 3D, factor values per unknown
//! (`solver_memory / 8 / n`) on the unit cube:
//!
//! | unknowns | P1 tet | Q1 hex | P2 tet | Q2 hex | model `c₃ √n` |
//! |---|---|---|---|---|---|
//! | 343 | 69 | 86 | 76 | 85 | 83 |
//! | 1,331 | 118 | 136 | 124 | 120 | 164 |
//! | 4,913 | 203 | 266 | 246 | 259 | 315 |
//! | 12,167 | 354 | 432 | 404 | 428 | 496 |
//! | 29,791 | 524 | 651 | 670 | – | 777 |
//! | 59,319 | 797 | – | – | – | 1,096 |
//!
//! `fill / √n` is flat (P1: 3.7, 3.2, 2.9, 3.2, 3.0, 3.3; the others up to 3.9), while
//! `fill / n^{1/3}` grows from 10 to 20: the exponent is 3/2. `c₃ = 4.5` sits above the factor
//! alone so that the direct estimate also covers the numeric workspace: it predicts 517, 192,
//! 193 and 58 MB where the direct solves peaked at 433 MB RSS (P1, 59,319 unknowns), 212 (Q1,
//! 29,791), 209 (P2, 29,791) and 83 MB (Q2, 12,167; peaks include the ~12 MB of the process).
//!
//! **Solver.** The direct solver is chosen up to [`AdaptiveScaler::direct_max_dofs_2d`] unknowns
//! in 2D, [`AdaptiveScaler::direct_max_dofs_3d`] in 3D (fill grows like `n^{3/2}`, so the
//! crossover comes earlier), always in 1D — *if the factorisation fits*: when the direct estimate
//! exceeds the memory budget, AMG-CG is chosen instead. If even AMG-CG does not fit, the plan
//! still names it and [`ExecutionPlan::check_memory`] refuses the solve up front. Measured with
//! the same example (whole solves, tolerance 1e-8, one thread, minimum of 7 on a quiet machine):
//! AMG-CG was faster from 1,089 unknowns on (1.35 vs 1.58 ms; 4,225: 4.2 vs 5.9 ms; 16,641: 17
//! vs 30 ms; 66,049: 69 vs 110 ms) and within 0.05 ms at 289; below 1,000 unknowns the
//! difference is a fraction of a millisecond and the direct solver, exact and free of
//! convergence risk, is kept. In 3D (medians of 7, one thread, load average ~3.5 on 2 cores, so
//! ±30 %), direct vs AMG-CG:
//!
//! | unknowns | P1 tet | Q1 hex | P2 tet | Q2 hex |
//! |---|---|---|---|---|
//! | 343 | 4.5 vs 4.0 ms | 2.4 vs 2.6 ms | 2.8 vs 2.3 ms | 6.2 vs 2.5 ms |
//! | 729 | 10.6 vs 9.6 ms | 11.9 vs 10.0 ms | 6.7 vs 9.6 ms | 8.1 vs 6.4 ms |
//! | 1,331 | 28 vs 26 ms | 22 vs 16 ms | 17 vs 11 ms | 15 vs 16 ms |
//! | 4,913 | 116 vs 100 ms | 65 vs 41 ms | 58 vs 60 ms | – |
//! | 12,167 | 272 vs 202 ms | 241 vs 109 ms | 263 vs 114 ms | 541 vs 244 ms |
//! | 29,791 | 1,556 vs 596 ms | 1,073 vs 269 ms | 1,827 vs 502 ms | – |
//!
//! Below ~700 unknowns the two are within noise, from ~1,300 AMG-CG is mostly faster and from
//! 12,000 two to four times faster: `direct_max_dofs_3d = 500` stands.
//!
//! **Threads and runs in flight.** Usable cores are `cores × (1 − cpu_load)` (other processes'
//! load, when known), at least one. A single solve below [`AdaptiveScaler::serial_below_dofs`]
//! runs on one thread, above it on every usable core (whole AMG-CG solves, 1 vs 2 threads: a tie
//! at 9,409 unknowns, 2 threads 9% faster at 16,641, 1.5× at 37,249, 1.4× at 66,049).
//!
//! A sweep or batch (`queued_runs > 1`) runs `min(usable cores, queued runs)` runs at once with
//! the usable cores divided among them, whatever their size: independent runs scale better than
//! threads inside one run (40 runs of 9,409 unknowns: 2 runs × 1 thread 1.4× faster than one
//! run at a time on 2 threads; 4 runs of 263,169 unknowns: two at once 1.3× faster — AMG-CG on
//! 2 threads is only 1.34× faster than on one). Runs in flight are capped so that their
//! estimated memory fits in the available memory, which is what limits large runs. Always
//! `threads × runs_in_flight ≤ usable cores`.
//!
//! **Memory budget.** `min(memory_limit_mb, headroom × available memory / runs in flight)`.
//!
//! Planning is a pure function of `(WorkEstimate, SystemLoad)` and the scaler's fields.

use femscale_core::{
    ExecutionPlan, PlanTopic, Scaler, SolveError, SolverChoice, SystemLoad, WorkEstimate,
};
use serde::{Deserialize, Serialize};

use femscale_core::counters::Counter;

/// Bytes per MB (MiB, like every femscale size).
const MB: f64 = femscale_core::checks::MIB;

/// Memory estimates of one run (see the [module documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryModel {
    /// Bytes per stored matrix entry (a `u32` column index and an `f64` value), counted once
    /// for the matrix.
    pub bytes_per_entry: f64,
    /// Bytes per unknown of mesh, pattern construction and solution/load vectors.
    pub base_bytes_per_dof: f64,
    /// `c₂` in `nnz(L) ≈ c₂ n log₂ n` for 2D meshes.
    pub fill_2d: f64,
    /// `c₃` in `nnz(L) ≈ c₃ n^{3/2}` for 3D meshes (faer's AMD ordering).
    pub fill_3d: f64,
    /// Bytes per factor entry (value plus amortised supernodal indices and workspace).
    pub bytes_per_factor_entry: f64,
    /// Bytes of the AMG hierarchy per stored fine-matrix entry.
    pub amg_bytes_per_entry: f64,
    /// Bytes of AMG vectors and CG work vectors per unknown.
    pub amg_bytes_per_dof: f64,
}

impl Default for MemoryModel {
    fn default() -> Self {
        Self {
            bytes_per_entry: 12.0,
            base_bytes_per_dof: 144.0,
            fill_2d: 4.0,
            fill_3d: 4.5,
            bytes_per_factor_entry: 8.0,
            amg_bytes_per_entry: 24.0,
            amg_bytes_per_dof: 88.0,
        }
    }
}

impl MemoryModel {
    /// Expected stored entries of the sparse factor of `work`'s matrix.
    pub fn factor_entries(&self, work: &WorkEstimate) -> f64 {
        let n = work.dofs as f64;
        if let Some(fill) = work.factor_fill.filter(|f| f.is_finite() && *f > 0.0) {
            return fill * nnz(work);
        }
        match work.dim {
            1 => 2.0 * n,
            3 => self.fill_3d * n * n.sqrt(),
            _ => self.fill_2d * n * n.max(2.0).log2(),
        }
    }

    /// Mesh, pattern, matrix and vectors, MB.
    pub fn base_mb(&self, work: &WorkEstimate) -> f64 {
        (self.bytes_per_entry * nnz(work) + self.base_bytes_per_dof * work.dofs as f64) / MB
    }

    /// One direct solve, MB.
    pub fn direct_mb(&self, work: &WorkEstimate) -> f64 {
        self.base_mb(work) + self.factor_entries(work) * self.bytes_per_factor_entry / MB
    }

    /// One AMG-CG solve, MB.
    pub fn amg_cg_mb(&self, work: &WorkEstimate) -> f64 {
        self.base_mb(work)
            + (self.amg_bytes_per_entry * nnz(work) + self.amg_bytes_per_dof * work.dofs as f64)
                / MB
    }

    /// One solve with `choice`, MB.
    pub fn solve_mb(&self, work: &WorkEstimate, choice: SolverChoice) -> f64 {
        match choice {
            SolverChoice::Direct => self.direct_mb(work),
            _ => self.amg_cg_mb(work),
        }
    }
}

/// Matrix entries of `work`, estimated as 7 per unknown when not given.
fn nnz(work: &WorkEstimate) -> f64 {
    if work.nnz > 0 {
        work.nnz as f64
    } else {
        7.0 * work.dofs as f64
    }
}

/// Plans threads, parallel assembly, solver family, runs in flight and the memory budget from
/// the work and the machine (see the [module documentation](self) for the model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdaptiveScaler {
    /// A single solve below this many unknowns runs on one thread.
    pub serial_below_dofs: usize,
    /// Cells from which assembly runs in parallel (when more than one thread is planned).
    pub parallel_assembly_min_cells: usize,
    /// Largest 2D problem (unknowns) for which the direct solver is preferred.
    pub direct_max_dofs_2d: usize,
    /// Largest 3D problem (unknowns) for which the direct solver is preferred.
    pub direct_max_dofs_3d: usize,
    /// Fraction of the available memory plans may use.
    pub memory_headroom: f64,
    /// The configured memory limit of one solve, MB (`solver.memory_limit_mb`).
    pub memory_limit_mb: Option<f64>,
    /// Threads at most per run; 0 means no limit besides the cores.
    pub max_threads: usize,
    /// The memory estimates.
    pub model: MemoryModel,
}

impl Default for AdaptiveScaler {
    fn default() -> Self {
        Self {
            serial_below_dofs: 12_000,
            parallel_assembly_min_cells: 20_000,
            direct_max_dofs_2d: 1_000,
            direct_max_dofs_3d: 500,
            memory_headroom: 0.8,
            memory_limit_mb: None,
            max_threads: 0,
            model: MemoryModel::default(),
        }
    }
}

impl AdaptiveScaler {
    /// The default scaler with the configured memory limit (MB) and thread cap (0: none).
    pub fn with_limits(memory_limit_mb: Option<f64>, max_threads: usize) -> Self {
        Self {
            memory_limit_mb,
            max_threads,
            ..Self::default()
        }
    }

    /// The plan for one P1 solve of `dofs` unknowns in dimension `dim` on `load`
    /// (what `FemSolver::optimize_for_problem_size` shows).
    pub fn plan_for_dofs(&self, dofs: usize, dim: usize, load: &SystemLoad) -> ExecutionPlan {
        self.plan(&WorkEstimate::p1(dofs, dim), load)
    }

    /// Refuses up front a solve of `work` with a given solver family (e.g. the configured one,
    /// when the level does not let the scaler choose) whose estimated memory exceeds
    /// [`AdaptiveScaler::memory_limit_mb`]; returns the estimate, MB.
    ///
    /// # Errors
    /// [`SolveError::MemoryBudget`] with the estimate and the limit.
    pub fn check_memory(
        &self,
        work: &WorkEstimate,
        choice: SolverChoice,
    ) -> Result<f64, SolveError> {
        let needed_mb = self.model.solve_mb(work, choice);
        femscale_core::checks::check_memory(self.memory_limit_mb, needed_mb, || {
            format!(
                "a {choice} solve of {} unknowns in {} (estimated before meshing)",
                work.dofs,
                dim_label(work.dim)
            )
        })?;
        Ok(needed_mb)
    }

    /// Cores usable by this plan: the machine's minus those other processes keep busy, at
    /// least one.
    fn usable_cores(&self, load: &SystemLoad) -> usize {
        let cores = load.cores.max(1);
        let free = match load.cpu_load {
            Some(l) if l.is_finite() => (cores as f64 * (1.0 - l.clamp(0.0, 1.0))).round() as usize,
            _ => cores,
        };
        free.clamp(1, cores)
    }

    /// The memory all runs in flight may use together, MB (`None`: unknown).
    fn memory_for_runs(&self, load: &SystemLoad) -> Option<f64> {
        load.available_memory_mb
            .filter(|a| a.is_finite() && *a >= 0.0)
            .map(|a| a * self.memory_headroom.clamp(0.0, 1.0))
    }

    /// The solver family for `work` on `load` and why: direct when it is the faster one (up to
    /// the size thresholds, always in 1D) and its factor fits in the memory budget (the
    /// configured limit and the available memory), AMG-CG otherwise.
    pub fn choose_solver(&self, work: &WorkEstimate, load: &SystemLoad) -> (SolverChoice, String) {
        let limit = self.memory_limit_mb.filter(|m| m.is_finite() && *m > 0.0);
        let budget = min_limit(limit, self.memory_for_runs(load));
        let (n, dim) = (work.dofs, dim_label(work.dim));
        if let Some(max) = self.direct_max_dofs(work.dim)
            && n > max
        {
            return (
                SolverChoice::AmgCg,
                format!("amg-cg: {n} unknowns in {dim}, above the direct solver's {max}"),
            );
        }
        let direct_mb = self.model.direct_mb(work);
        match budget {
            Some(b) if direct_mb > b => (
                SolverChoice::AmgCg,
                format!(
                    "amg-cg: the factorisation of {n} unknowns in {dim} (~{} MB) would not \
                     fit in {} MB",
                    mb(direct_mb),
                    mb(b)
                ),
            ),
            _ => (
                SolverChoice::Direct,
                format!(
                    "direct: {n} unknowns in {dim}, factor fits (~{} MB)",
                    mb(direct_mb)
                ),
            ),
        }
    }

    /// The largest problem the direct solver is preferred for in dimension `dim` (`None`: any,
    /// in 1D; dimension 0, unknown, counts as 2D).
    fn direct_max_dofs(&self, dim: usize) -> Option<usize> {
        match dim {
            1 => None,
            3 => Some(self.direct_max_dofs_3d),
            _ => Some(self.direct_max_dofs_2d),
        }
    }
}

/// MB for a reason: two decimals below 1 MB, one below 10 MB, none above.
fn mb(x: f64) -> String {
    if x < 1.0 {
        format!("{x:.2}")
    } else if x < 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// `2D` for dimension 2, and so on; an unknown dimension (0) is planned as 2D.
fn dim_label(dim: usize) -> String {
    format!("{}D", if dim == 0 { 2 } else { dim })
}

/// `min` of two optional limits.
fn min_limit(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Scaler for AdaptiveScaler {
    fn name(&self) -> &str {
        "adaptive"
    }

    fn plan(&self, work: &WorkEstimate, load: &SystemLoad) -> ExecutionPlan {
        let usable = self.usable_cores(load);
        let limit = self.memory_limit_mb.filter(|m| m.is_finite() && *m > 0.0);
        let shared = self.memory_for_runs(load);
        let mut why = Vec::new();

        let (solver, reason) = self.choose_solver(work, load);
        why.push((PlanTopic::Solver, reason));
        let run_mb = self.model.solve_mb(work, solver);

        // Runs in flight, then threads per run.
        let queued = work.queued_runs.max(1);
        let mut runs = usable.min(queued);
        if let Some(total) = shared
            && run_mb > 0.0
        {
            let fit = ((total / run_mb).floor() as usize).max(1);
            if fit < runs {
                why.push((PlanTopic::Runs, format!("{fit} runs fit in memory")));
                runs = fit;
            }
        }
        let mut threads = if queued == 1 && work.dofs < self.serial_below_dofs {
            why.push((PlanTopic::Threads, "one thread: small solve".into()));
            1
        } else {
            (usable / runs).max(1)
        };
        if self.max_threads > 0 {
            threads = threads.min(self.max_threads);
        }
        let parallel_assembly = threads > 1 && work.cells >= self.parallel_assembly_min_cells;
        let memory_budget_mb = min_limit(limit, shared.map(|s| s / runs as f64));
        why.push((
            PlanTopic::Threads,
            format!("{runs} run(s) × {threads} thread(s) on {usable} usable core(s)"),
        ));

        femscale_core::record(Counter::Plans);
        let mut plan = ExecutionPlan::single(threads, parallel_assembly, memory_budget_mb);
        plan.solver = Some(solver);
        plan.runs_in_flight = runs;
        plan.estimated_memory_mb = Some(run_mb);
        for (topic, text) in why {
            plan.add_reason(topic, text);
        }
        tracing::debug!(
            target: "femscale_scaling::adaptive",
            dofs = work.dofs,
            queued,
            threads,
            runs,
            %solver,
            estimated_mb = run_mb,
            rationale = %plan.rationale(),
            "planned"
        );
        plan
    }
}

#[cfg(test)]
mod tests;
