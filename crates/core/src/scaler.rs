//! Execution planning: how many threads, which assembler, within which memory budget.
//!
//! A [`Scaler`] turns a [`WorkEstimate`] and the machine's [`SystemLoad`] into an
//! [`ExecutionPlan`]. [`StaticScaler`] follows configuration plus one size heuristic; adaptive
//! scalers implement the same trait.

use std::fmt;

use serde::{Deserialize, Serialize};

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
}

impl WorkEstimate {
    /// An estimate for one solve of `dofs` unknowns on `cells` cells.
    pub fn single(dofs: usize, cells: usize, nnz: usize) -> Self {
        Self {
            dofs,
            cells,
            nnz,
            queued_runs: 1,
        }
    }
}

/// What the machine offers right now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SystemLoad {
    /// Logical cores available to this process.
    pub cores: usize,
    /// Memory available, MB, when known.
    pub available_memory_mb: Option<f64>,
}

impl SystemLoad {
    /// Reads core count and (on Linux) available memory.
    pub fn detect() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let available_memory_mb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
        });
        Self {
            cores,
            available_memory_mb,
        }
    }

    /// A fixed load, for tests and reproducible planning.
    pub fn fixed(cores: usize, available_memory_mb: Option<f64>) -> Self {
        Self {
            cores,
            available_memory_mb,
        }
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
        ExecutionPlan {
            threads,
            parallel_assembly,
            memory_budget_mb: self.memory_budget_mb,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
