//! Scaling levels: presets over the six toggles of the original design and the thread count.
//!
//! `[scaling] level = "minimal" | "standard" | "aggressive" | "auto"` chooses a preset; each
//! `enable_*` key and `threads` override it. `auto` decides from the problem size and the
//! machine ([`ScalingConfig::toggles`], also [`crate::FemSolver::optimize_for_problem_size`]).
//!
//! With `auto` the execution plan (threads, parallel assembly, the solver family when
//! `solver.kind = "auto"`, runs in flight of a sweep) comes from `femscale-scaling`'s
//! [`AdaptiveScaler`](femscale_scaling::AdaptiveScaler), which also models memory: a direct
//! factorisation that would not fit makes way for AMG-CG. The other levels plan statically
//! (configured threads, parallel assembly by `assembly.parallel_threshold_cells`).
//!
//! What each toggle does: `enable_parallel` allows multi-threaded assembly and solver kernels
//! (off means one thread); `threads` sizes the pool; `enable_jit` compiles config expressions
//! to machine code (cranelift; bytecode otherwise, same values); `enable_caching` turns the
//! `[cache]` levels on; `enable_memory_pooling` lets the Krylov solvers reuse their work
//! vectors from one solve to the next; `enable_autoscaling` lets the worker pool of
//! `femscale run` grow and shrink with the queue and the machine's load.
//! `enable_adaptive_mesh = true` runs the adaptive loop of `[adaptivity]` (as
//! `adaptivity.enabled` does; never on in a preset, since it changes the discretisation); the
//! solve report's `features_used` lists only what was actually used.

use femscale_core::ExecutionPlan;
use serde::{Deserialize, Serialize};

/// How one solve will run: the toggles, the execution plan and the solver it resolves to
/// ([`crate::FemSolver::optimize_for_problem_size`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScalingDecision {
    /// The effective toggles.
    pub toggles: ScalingToggles,
    /// Threads, parallel assembly, runs in flight, memory estimate and budget, and why.
    pub plan: ExecutionPlan,
    /// Registry name of the solver (`auto` resolved).
    pub solver: String,
    /// Registry name of the preconditioner (`auto` resolved).
    pub preconditioner: String,
    /// Why `auto` took the operator to be possibly indefinite (a negative reaction or Robin
    /// `alpha`, and where), when it chose the solver by that.
    pub indefinite: Option<String>,
    /// What the plan warns of (a configured preconditioner the chosen solver does not apply),
    /// logged by [`ScalingDecision::log_warnings`] where the decision is used, once.
    pub warnings: Vec<String>,
}

impl ScalingDecision {
    /// Logs [`ScalingDecision::warnings`] (`tracing` level `warn`).
    pub fn log_warnings(&self) {
        self.log_new_warnings(&mut Vec::new());
    }

    /// Logs the [`ScalingDecision::warnings`] not in `said`, and adds them to it (a loop that
    /// plans every step says each once).
    pub fn log_new_warnings(&self, said: &mut Vec<String>) {
        for warning in &self.warnings {
            if !said.contains(warning) {
                tracing::warn!("{warning}");
                said.push(warning.clone());
            }
        }
    }
}

pub use femscale_core::ScalingLevel;

impl crate::Config {
    /// The adaptive scaler that `scaling.level = "auto"` plans with, configured from this
    /// configuration: memory limit (`solver.memory_limit_mb`), thread cap (`scaling.threads`),
    /// the direct-solver threshold of `solver.auto_direct_max_dofs` and the parallel-assembly
    /// threshold of `assembly.parallel_threshold_cells`. The experiment runner plans its runs
    /// in flight with the same scaler as each run's solve.
    pub fn adaptive_scaler(&self) -> femscale_scaling::AdaptiveScaler {
        crate::pipeline::adaptive_scaler(self)
    }
}

/// The effective toggles of one solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScalingToggles {
    /// The level these toggles came from (never `auto`).
    pub level: ScalingLevel,
    /// Compile expressions to machine code.
    pub jit: bool,
    /// Reuse assembled systems, factorizations and solutions.
    pub caching: bool,
    /// Multi-threaded assembly and solver kernels.
    pub parallel: bool,
    /// Grow and shrink worker pools with the load.
    pub autoscaling: bool,
    /// Adaptive mesh refinement (changes the discretisation: never on in a preset).
    pub adaptive_mesh: bool,
    /// Reuse work vectors across solves.
    pub memory_pooling: bool,
    /// Threads for assembly and solver kernels (>= 1).
    pub threads: usize,
}

/// `[scaling]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ScalingConfig {
    /// `minimal`, `standard`, `aggressive` or `auto` (default).
    pub level: ScalingLevel,
    /// Threads for assembly and solver kernels, exactly (at most
    /// [`MAX_THREADS`](crate::config::MAX_THREADS); above one it turns parallel kernels on
    /// even at level `minimal`); 0 (default) lets the level decide (all cores unless
    /// `minimal`; with `auto`, the adaptive scaler).
    pub threads: usize,
    /// Overrides the level's `jit` toggle.
    pub enable_jit: Option<bool>,
    /// Overrides the level's `caching` toggle.
    pub enable_caching: Option<bool>,
    /// Overrides the level's `parallel` toggle.
    pub enable_parallel: Option<bool>,
    /// Overrides the level's `autoscaling` toggle.
    pub enable_autoscaling: Option<bool>,
    /// Overrides the level's `adaptive_mesh` toggle: `true` runs the adaptive loop of
    /// `[adaptivity]` (as `adaptivity.enabled = true` does).
    pub enable_adaptive_mesh: Option<bool>,
    /// Overrides the level's `memory_pooling` toggle.
    pub enable_memory_pooling: Option<bool>,
}

impl ScalingToggles {
    /// The preset of `level` for `dofs` unknowns on `cores` cores.
    pub fn preset(level: ScalingLevel, dofs: usize, cores: usize) -> Self {
        let cores = cores.max(1);
        let level = match level {
            ScalingLevel::Auto => crate::pipeline::auto_level(dofs),
            other => other,
        };
        let on = level != ScalingLevel::Minimal;
        Self {
            level,
            jit: on,
            caching: on,
            parallel: on,
            autoscaling: level == ScalingLevel::Aggressive,
            adaptive_mesh: false,
            memory_pooling: on,
            threads: if on { cores } else { 1 },
        }
    }
}

impl ScalingConfig {
    /// The effective toggles for `dofs` unknowns on `cores` cores: the level's preset, then each
    /// explicit `enable_*` and `threads`. Turning `parallel` off forces one thread.
    pub fn toggles(&self, dofs: usize, cores: usize) -> ScalingToggles {
        let mut t = ScalingToggles::preset(self.level, dofs, cores);
        let set = |field: &mut bool, value: Option<bool>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(&mut t.jit, self.enable_jit);
        set(&mut t.caching, self.enable_caching);
        set(&mut t.parallel, self.enable_parallel);
        set(&mut t.autoscaling, self.enable_autoscaling);
        set(&mut t.adaptive_mesh, self.enable_adaptive_mesh);
        set(&mut t.memory_pooling, self.enable_memory_pooling);
        if self.threads > 0 {
            // The exact thread count; above one it asks for parallel kernels unless
            // `enable_parallel = false` says otherwise (which wins; loading a file or `--set`
            // that says both is refused).
            t.threads = self.threads;
            if self.threads > 1 && self.enable_parallel.is_none() {
                t.parallel = true;
            }
        } else if t.parallel && t.threads == 1 {
            t.threads = cores.max(1);
        }
        if !t.parallel {
            t.threads = 1;
        }
        t
    }

    /// A configuration at `level` with no overrides.
    pub fn at_level(level: ScalingLevel) -> Self {
        Self {
            level,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_presets_and_overrides_win() {
        let minimal = ScalingToggles::preset(ScalingLevel::Minimal, 1_000_000, 8);
        assert!(!minimal.parallel && !minimal.jit && minimal.threads == 1);
        let standard = ScalingToggles::preset(ScalingLevel::Standard, 10, 8);
        assert!(
            standard.parallel && standard.caching && !standard.autoscaling && standard.threads == 8
        );
        assert!(ScalingToggles::preset(ScalingLevel::Aggressive, 10, 8).autoscaling);
        assert!(!ScalingToggles::preset(ScalingLevel::Aggressive, 10, 8).adaptive_mesh);
        assert_eq!(
            ScalingToggles::preset(ScalingLevel::Auto, 5_000, 2).level,
            ScalingLevel::Minimal
        );
        assert_eq!(
            ScalingToggles::preset(ScalingLevel::Auto, 50_000, 2).level,
            ScalingLevel::Standard
        );
        assert_eq!(
            ScalingToggles::preset(ScalingLevel::Auto, 2_000_000, 2).level,
            ScalingLevel::Aggressive
        );

        let mut c = ScalingConfig::at_level(ScalingLevel::Minimal);
        c.enable_parallel = Some(true);
        c.enable_jit = Some(true);
        let t = c.toggles(100, 4);
        assert!(t.parallel && t.jit && !t.caching && t.threads == 4);
        c.threads = 3;
        assert_eq!(c.toggles(100, 4).threads, 3);
        // An explicit count is exact, also above the cores and at level `minimal`.
        let mut exact = ScalingConfig::at_level(ScalingLevel::Minimal);
        exact.threads = 2;
        let t = exact.toggles(100, 1);
        assert!(t.parallel && t.threads == 2);
        exact.threads = 1;
        assert_eq!(exact.toggles(100, 8).threads, 1);
        let mut serial = ScalingConfig::at_level(ScalingLevel::Aggressive);
        serial.enable_parallel = Some(false);
        serial.threads = 8;
        assert_eq!(serial.toggles(1 << 20, 4).threads, 1);
    }
}
