//! Execution planning: how many threads, which assembler, within which memory budget.
//!
//! A [`Scaler`] turns a [`WorkEstimate`] and the machine's [`SystemLoad`] into an
//! [`ExecutionPlan`]. [`StaticScaler`] follows configuration plus one size heuristic; adaptive
//! scalers (`femscale-scaling`'s `AdaptiveScaler`) implement the same trait and also choose the
//! solver family, the runs in flight and check the memory budget.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::SolveError;

/// A preset of the scaling toggles (`scaling.level`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScalingLevel {
    /// One thread, every optimisation off: the reference behaviour.
    Minimal,
    /// All cores, parallel kernels, JIT, caching and memory pooling.
    Standard,
    /// `standard` plus auto-scaling of worker pools.
    Aggressive,
    /// `minimal` below 10 000 unknowns, `standard` below 500 000, `aggressive` above.
    #[default]
    Auto,
}

impl ScalingLevel {
    /// Every level, in order of increasing effort.
    pub const ALL: [Self; 4] = [Self::Minimal, Self::Standard, Self::Aggressive, Self::Auto];

    /// The level's name in configuration and reports (`minimal`, `standard`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Minimal => "minimal",
            Self::Standard => "standard",
            Self::Aggressive => "aggressive",
            Self::Auto => "auto",
        }
    }
}

impl fmt::Display for ScalingLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The size of the work to plan for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkEstimate {
    /// Unknowns.
    pub dofs: usize,
    /// Mesh cells.
    pub cells: usize,
    /// Expected stored matrix entries.
    pub nnz: usize,
    /// Runs waiting in a batch or sweep (1 for a single solve).
    pub queued_runs: usize,
    /// Spatial dimension (1, 2 or 3); 0 when unknown (planners then assume 2).
    pub dim: usize,
    /// Expected fill of a sparse factorisation, `nnz(L) / nnz(A)`, when the caller knows it
    /// (e.g. from a previous factorisation); `None` lets the planner estimate it.
    pub factor_fill: Option<f64>,
}

impl WorkEstimate {
    /// An estimate for one solve of `dofs` unknowns on `cells` cells.
    pub fn single(dofs: usize, cells: usize, nnz: usize) -> Self {
        Self {
            dofs,
            cells,
            nnz,
            queued_runs: 1,
            dim: 0,
            factor_fill: None,
        }
    }

    /// An estimate for one solve of `dofs` unknowns of P1 elements on a simplex mesh of
    /// dimension `dim`: cells and matrix entries per unknown as on structured meshes
    /// (1D: 1 cell, 3 entries; 2D: 2 triangles, 7 entries; 3D: 6 tetrahedra, 15 entries).
    pub fn p1(dofs: usize, dim: usize) -> Self {
        let (cells, nnz) = match dim {
            1 => (dofs.saturating_sub(1), dofs.saturating_mul(3)),
            3 => (dofs.saturating_mul(6), dofs.saturating_mul(15)),
            _ => (dofs.saturating_mul(2), dofs.saturating_mul(7)),
        };
        Self {
            dim,
            ..Self::single(dofs, cells, nnz)
        }
    }

    /// This estimate with spatial dimension `dim`.
    pub fn with_dim(mut self, dim: usize) -> Self {
        self.dim = dim;
        self
    }

    /// This estimate with `runs` runs waiting (a sweep or batch of runs like this one).
    pub fn with_queued_runs(mut self, runs: usize) -> Self {
        self.queued_runs = runs;
        self
    }

    /// This estimate with a known factorisation fill `nnz(L) / nnz(A)`.
    pub fn with_factor_fill(mut self, fill: f64) -> Self {
        self.factor_fill = Some(fill);
        self
    }
}

/// What the machine offers right now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SystemLoad {
    /// Logical cores available to this process.
    pub cores: usize,
    /// Memory available, MB (MiB, as everywhere: [`crate::checks::MIB`]), when known.
    pub available_memory_mb: Option<f64>,
    /// Fraction (0 to 1) of the machine's CPU capacity busy with *other* work, when known.
    /// [`SystemLoad::detect`] leaves it `None` (a point reading of `/proc` would be a lifetime
    /// average); `femscale-scaling`'s resource monitor measures it.
    pub cpu_load: Option<f64>,
}

impl SystemLoad {
    /// Reads core count and (on Linux) available memory: the least of the machine's
    /// `MemAvailable`, the headroom under this process's cgroup v2 `memory.max` (containers,
    /// Slurm jobs) and under its address-space limit (`ulimit -v`) — a budget above any of
    /// them would end in an allocation failure, not in a typed error.
    pub fn detect() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let machine = read("/proc/meminfo").and_then(|s| meminfo_available_mb(&s));
        let cgroup = read("/proc/self/cgroup")
            .and_then(|s| cgroup_v2_path(&s))
            .and_then(|path| {
                let dir = format!("/sys/fs/cgroup{path}");
                cgroup_headroom_mb(
                    &read(&format!("{dir}/memory.max"))?,
                    &read(&format!("{dir}/memory.current"))?,
                )
            });
        let address_space = read("/proc/self/limits")
            .and_then(|limits| address_space_headroom_mb(&limits, &read("/proc/self/status")?));
        let available_memory_mb = [machine, cgroup, address_space]
            .into_iter()
            .flatten()
            .reduce(f64::min);
        Self {
            cores,
            available_memory_mb,
            cpu_load: None,
        }
    }

    /// A fixed load, for tests and reproducible planning.
    pub fn fixed(cores: usize, available_memory_mb: Option<f64>) -> Self {
        Self {
            cores,
            available_memory_mb,
            cpu_load: None,
        }
    }

    /// This load with `fraction` (clamped to 0..=1; NaN counts as unknown) of the CPU capacity
    /// busy with other work.
    pub fn with_cpu_load(mut self, fraction: f64) -> Self {
        self.cpu_load = (!fraction.is_nan()).then(|| fraction.clamp(0.0, 1.0));
        self
    }
}

/// The memory no allocation of this process can exceed, MB, when known (Linux): the least of
/// the machine's RAM and swap (`MemTotal + SwapTotal`), this process's cgroup v2 `memory.max`
/// and the headroom under its address-space limit (`ulimit -v`). Unlike
/// [`SystemLoad::detect`]'s available memory (which page caches and other processes lower),
/// an allocation beyond it fails for certain: a check against it refuses only the impossible.
pub fn memory_ceiling_mb() -> Option<f64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let machine = read("/proc/meminfo").and_then(|s| {
        let field = |name: &str| {
            (s.lines().find(|l| l.starts_with(name)))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        };
        Some((field("MemTotal:")? + field("SwapTotal:").unwrap_or(0.0)) / 1024.0)
    });
    let cgroup = read("/proc/self/cgroup")
        .and_then(|s| cgroup_v2_path(&s))
        .and_then(|path| read(&format!("/sys/fs/cgroup{path}/memory.max")))
        .and_then(|max| max.trim().parse::<f64>().ok())
        .map(|bytes| bytes / (1024.0 * 1024.0));
    let address_space = read("/proc/self/limits")
        .and_then(|limits| address_space_headroom_mb(&limits, &read("/proc/self/status")?));
    [machine, cgroup, address_space]
        .into_iter()
        .flatten()
        .reduce(f64::min)
}

/// `MemAvailable` of `/proc/meminfo`, MB.
fn meminfo_available_mb(meminfo: &str) -> Option<f64> {
    meminfo
        .lines()
        .find(|l| l.starts_with("MemAvailable:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

/// The cgroup v2 path of this process (the `0::/path` line of `/proc/self/cgroup`).
fn cgroup_v2_path(cgroup: &str) -> Option<String> {
    cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim().trim_end_matches('/').to_string())
}

/// `memory.max - memory.current`, MB; `None` without a limit (`max`).
fn cgroup_headroom_mb(max: &str, current: &str) -> Option<f64> {
    let max: f64 = max.trim().parse().ok()?;
    let current: f64 = current.trim().parse().unwrap_or(0.0);
    Some(((max - current) / (1024.0 * 1024.0)).max(0.0))
}

/// The soft address-space limit of `/proc/self/limits` minus `VmSize` of
/// `/proc/self/status`, MB; `None` when unlimited.
fn address_space_headroom_mb(limits: &str, status: &str) -> Option<f64> {
    let limit: f64 = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    let size_kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmSize:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0.0);
    Some(((limit - size_kb * 1024.0) / (1024.0 * 1024.0)).max(0.0))
}

/// The family of linear solver a plan asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SolverChoice {
    /// Sparse direct factorisation (registry name `direct`).
    Direct,
    /// Conjugate gradients preconditioned by algebraic multigrid (`cg` with `amg`).
    AmgCg,
}

impl fmt::Display for SolverChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Direct => "direct",
            Self::AmgCg => "amg-cg",
        })
    }
}

/// How to run one solve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExecutionPlan {
    /// Threads for assembly and solver kernels (>= 1).
    pub threads: usize,
    /// Whether to assemble on several threads.
    pub parallel_assembly: bool,
    /// Memory budget for factors and preconditioners, MB.
    pub memory_budget_mb: Option<f64>,
    /// The solver family to use; `None` follows the configuration.
    pub solver: Option<SolverChoice>,
    /// Runs of a batch or sweep to execute at once, each with [`ExecutionPlan::threads`]
    /// threads (1 for a single solve).
    pub runs_in_flight: usize,
    /// Estimated peak memory of one run with the chosen solver, MB, when the scaler models it.
    pub estimated_memory_mb: Option<f64>,
    /// Why the scaler decided so, one reason per decision, for logs and reports
    /// ([`ExecutionPlan::rationale`]).
    pub reasons: Vec<PlanReason>,
}

/// What one reason of a plan is about, so that a later decision can replace the reasons it
/// overrides without parsing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlanTopic {
    /// Which solver, and why.
    Solver,
    /// Threads per run.
    Threads,
    /// Parallel or serial assembly.
    Assembly,
    /// Runs in flight.
    Runs,
}

/// One reason of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanReason {
    /// What it decided.
    pub topic: PlanTopic,
    /// Why, in words.
    pub text: String,
}

impl ExecutionPlan {
    /// A plan for one run on `threads` threads, no solver preference and no estimate.
    pub fn single(threads: usize, parallel_assembly: bool, memory_budget_mb: Option<f64>) -> Self {
        Self {
            threads: threads.max(1),
            parallel_assembly,
            memory_budget_mb,
            solver: None,
            runs_in_flight: 1,
            estimated_memory_mb: None,
            reasons: Vec::new(),
        }
    }

    /// Every reason, in order, joined by `; `.
    pub fn rationale(&self) -> String {
        let texts: Vec<&str> = self.reasons.iter().map(|r| r.text.as_str()).collect();
        texts.join("; ")
    }

    /// Adds a reason about `topic`.
    pub fn add_reason(&mut self, topic: PlanTopic, text: impl Into<String>) {
        self.reasons.push(PlanReason {
            topic,
            text: text.into(),
        });
    }

    /// Replaces the reasons about `topic` by `text`, at the place of the first of them (at
    /// the end when there was none): a decision that overrides the scaler's says so instead.
    pub fn replace_reasons(&mut self, topic: PlanTopic, text: impl Into<String>) {
        let at = self.reasons.iter().position(|r| r.topic == topic);
        self.reasons.retain(|r| r.topic != topic);
        let at = at.unwrap_or(self.reasons.len());
        let reason = PlanReason {
            topic,
            text: text.into(),
        };
        self.reasons.insert(at, reason);
    }

    /// CPU threads the plan keeps busy at once: threads per run times runs in flight.
    pub fn cpu_threads(&self) -> usize {
        self.threads.max(1) * self.runs_in_flight.max(1)
    }

    /// Refuses the plan up front when its estimated memory exceeds the budget.
    ///
    /// # Errors
    /// [`SolveError::MemoryBudget`] with the estimate and the budget; plans without an estimate
    /// or a budget pass.
    pub fn check_memory(&self) -> Result<(), SolveError> {
        let what = match self.solver {
            Some(choice) => format!("a {choice} solve (estimated before meshing)"),
            None => "the solve (estimated before meshing)".to_string(),
        };
        self.check_memory_against(self.memory_budget_mb, || what)
    }

    /// Refuses the plan when its estimated memory exceeds `limit_mb` (e.g. a configured limit
    /// rather than the plan's own budget); `what` names the solve in the error.
    ///
    /// # Errors
    /// [`SolveError::MemoryBudget`] with the estimate and the limit; no estimate or no limit
    /// passes.
    pub fn check_memory_against(
        &self,
        limit_mb: Option<f64>,
        what: impl FnOnce() -> String,
    ) -> Result<(), SolveError> {
        match self.estimated_memory_mb {
            Some(needed_mb) => crate::checks::check_memory(limit_mb, needed_mb, what),
            None => Ok(()),
        }
    }
}

/// Plans execution from a work estimate and the machine's load.
pub trait Scaler: Send + Sync + fmt::Debug {
    /// Name for reports (`static`, `adaptive`).
    fn name(&self) -> &str;

    /// The plan for `work` on a machine with `load`.
    fn plan(&self, work: &WorkEstimate, load: &SystemLoad) -> ExecutionPlan;
}

/// Follows the configuration; only decides parallel assembly from the problem size when the
/// configuration leaves it open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaticScaler {
    /// Threads; 0 means all cores.
    pub threads: usize,
    /// `Some(on)` forces the choice; `None` decides by size.
    pub parallel_assembly: Option<bool>,
    /// Cells from which parallel assembly pays off when deciding by size.
    pub parallel_threshold_cells: usize,
    /// Memory budget, MB.
    pub memory_budget_mb: Option<f64>,
}

impl Default for StaticScaler {
    fn default() -> Self {
        Self {
            threads: 0,
            parallel_assembly: None,
            parallel_threshold_cells: 20_000,
            memory_budget_mb: None,
        }
    }
}

impl Scaler for StaticScaler {
    fn name(&self) -> &str {
        "static"
    }

    fn plan(&self, work: &WorkEstimate, load: &SystemLoad) -> ExecutionPlan {
        let threads = if self.threads == 0 {
            load.cores.max(1)
        } else {
            self.threads
        };
        let parallel_assembly = self
            .parallel_assembly
            .unwrap_or(threads > 1 && work.cells >= self.parallel_threshold_cells);
        let mut plan = ExecutionPlan::single(threads, parallel_assembly, self.memory_budget_mb);
        plan.add_reason(PlanTopic::Threads, "configured threads");
        plan.add_reason(PlanTopic::Assembly, "parallel assembly by size");
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_headroom_of_machine_cgroup_and_address_space() {
        let meminfo = "MemTotal:       24000000 kB\nMemAvailable:   2048000 kB\n";
        assert_eq!(meminfo_available_mb(meminfo), Some(2000.0));
        assert_eq!(
            cgroup_v2_path("0::/user.slice/job_42/\n").as_deref(),
            Some("/user.slice/job_42")
        );
        assert_eq!(cgroup_v2_path("12:memory:/docker/abc\n"), None);
        assert_eq!(cgroup_headroom_mb("max\n", "1000\n"), None);
        assert_eq!(
            cgroup_headroom_mb("1073741824\n", "536870912\n"),
            Some(512.0)
        );
        assert_eq!(cgroup_headroom_mb("100\n", "200\n"), Some(0.0));
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max address space         3221225472           unlimited            bytes\n";
        let status = "Name:\tpython\nVmSize:\t  1048576 kB\n";
        assert_eq!(address_space_headroom_mb(limits, status), Some(2048.0));
        let unlimited =
            "Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(address_space_headroom_mb(unlimited, status), None);
        // Whatever this machine says, it is a number of megabytes or unknown.
        let load = SystemLoad::detect();
        assert!(load.available_memory_mb.is_none_or(|mb| mb >= 0.0));
    }

    #[test]
    fn reasons_are_replaced_by_topic_in_place() {
        let mut plan = ExecutionPlan::single(2, true, None);
        plan.add_reason(PlanTopic::Solver, "direct: small");
        plan.add_reason(PlanTopic::Threads, "one thread: small solve");
        plan.add_reason(PlanTopic::Runs, "1 run(s)");
        plan.add_reason(PlanTopic::Threads, "2 thread(s) on 2 cores");
        plan.replace_reasons(PlanTopic::Threads, "4 thread(s) as configured");
        plan.replace_reasons(PlanTopic::Solver, "cg as configured");
        plan.replace_reasons(PlanTopic::Assembly, "serial as configured");
        assert_eq!(
            plan.rationale(),
            "cg as configured; 4 thread(s) as configured; 1 run(s); serial as configured"
        );
    }

    #[test]
    fn static_scaler_decides_parallel_assembly_by_size_unless_forced() {
        let load = SystemLoad::fixed(2, Some(1000.0));
        let s = StaticScaler::default();
        assert!(
            !s.plan(&WorkEstimate::single(121, 200, 800), &load)
                .parallel_assembly
        );
        let big = WorkEstimate::single(1 << 20, 1 << 21, 7 << 20);
        let plan = s.plan(&big, &load);
        assert!(plan.parallel_assembly);
        assert_eq!(plan.threads, 2);
        let forced = StaticScaler {
            parallel_assembly: Some(false),
            ..s.clone()
        };
        assert!(!forced.plan(&big, &load).parallel_assembly);
        let one = StaticScaler { threads: 1, ..s };
        assert!(!one.plan(&big, &load).parallel_assembly);
        assert_eq!(plan.solver, None);
        assert_eq!(plan.runs_in_flight, 1);
        assert!(plan.check_memory().is_ok());
    }

    #[test]
    fn memory_check_compares_estimate_and_budget() {
        let mut plan = ExecutionPlan::single(2, true, Some(100.0));
        assert!(plan.check_memory().is_ok());
        plan.estimated_memory_mb = Some(150.0);
        plan.solver = Some(SolverChoice::Direct);
        match plan.check_memory() {
            Err(SolveError::MemoryBudget {
                needed_mb,
                limit_mb,
                what,
            }) => {
                assert_eq!((needed_mb, limit_mb), (150.0, 100.0));
                assert!(what.contains("direct"), "{what}");
            }
            other => panic!("expected a memory budget error, got {other:?}"),
        }
        plan.memory_budget_mb = None;
        assert!(plan.check_memory().is_ok());
        assert_eq!(plan.cpu_threads(), 2);
    }

    #[test]
    fn estimates_and_loads_build_up() {
        let w = WorkEstimate::p1(10_000, 2).with_queued_runs(40);
        assert_eq!(
            (w.cells, w.nnz, w.dim, w.queued_runs),
            (20_000, 70_000, 2, 40)
        );
        assert_eq!(WorkEstimate::p1(10, 1).cells, 9);
        assert_eq!(WorkEstimate::p1(0, 1).cells, 0);
        assert_eq!(w.with_factor_fill(3.5).factor_fill, Some(3.5));
        let load = SystemLoad::fixed(4, None).with_cpu_load(1.5);
        assert_eq!(load.cpu_load, Some(1.0));
        assert_eq!(load.with_cpu_load(f64::NAN).cpu_load, None);
        assert_eq!(SolverChoice::Direct.to_string(), "direct");
    }
}
