//! The scaling benchmark: problem sizes × scaling levels (× linear solvers), repeated, with
//! medians and ranges, the best configuration per size, and JSON, CSV and SVG outputs. The
//! library side of `femscale bench`.
//!
//! Every run solves `-Δu = 2π² sin(πx) sin(πy)` on the unit square with `u = 0` on the boundary,
//! `n × n` squares split into P1 triangles, through [`FemSolver::solve_2d_laplace`] with the
//! base configuration at the run's level (and solver). Each configuration gets its own
//! [`FemSolver`]; a warm-up solve (untimed) creates its thread pool first. The in-process cache
//! is off unless [`ScalingBenchmark::with_caching`] asks for it, and a stored solution never
//! stands in for a timed repetition ([`FemSolver::with_solution_hits`]), so every repetition
//! really solves. Repetitions are interleaved across
//! configurations (all configurations once, then again, each round starting one configuration
//! later) so that drift in the machine's load and order effects spread over all of them. Small problems are repeated more than asked, until every
//! configuration has about [`ScalingBenchmark::min_seconds`] of timed runs (at most
//! [`MAX_REPETITIONS`]): medians of a few millisecond-long runs are mostly noise.
//!
//! ```no_run
//! use femscale_experiment::bench::ScalingBenchmark;
//! use femscale_runtime::ScalingLevel;
//! let report = ScalingBenchmark::new()
//!     .sizes(&[64, 256])
//!     .levels(&[ScalingLevel::Minimal, ScalingLevel::Auto])
//!     .repetitions(3)
//!     .run()?;
//! println!("{}", report.table());
//! report.write_outputs(std::path::Path::new("results/bench"))?;
//! # Ok::<(), femscale_core::Error>(())
//! ```

use std::time::Instant;

use femscale_core::{Error, Result};
use serde::{Deserialize, Serialize};
use tracing::{info, instrument};

use femscale_runtime::FemSolver;
use femscale_runtime::ScalingLevel;
use femscale_runtime::config::{AUTO, Config};
use femscale_runtime::problem::{FieldSpec, Laplace2d};

mod report;

pub use report::BenchOutputs;

/// Largest `n` accepted (`n × n` squares): beyond it one run alone needs tens of GB.
pub const MAX_SIZE: usize = 8192;

/// Most timed repetitions of one configuration at one size.
pub const MAX_REPETITIONS: usize = 100;

/// The source of every benchmark problem.
pub const SOURCE: &str = "2*pi^2*sin(pi*x)*sin(pi*y)";

/// Parses a level name.
///
/// # Errors
/// [`Error::UnknownName`] (field `bench.levels`) for anything but the four levels.
pub fn parse_level(name: &str) -> Result<ScalingLevel> {
    let all = ScalingLevel::ALL;
    all.into_iter()
        .find(|l| l.name() == name.trim())
        .ok_or_else(|| Error::UnknownName {
            field: "bench.levels".into(),
            what: "scaling level".into(),
            name: name.to_string(),
            known: all.iter().map(|l| l.name().to_string()).collect(),
        })
}

/// Sizes × levels × solvers to measure.
#[derive(Debug, Clone)]
pub struct ScalingBenchmark {
    sizes: Vec<usize>,
    levels: Vec<ScalingLevel>,
    solvers: Vec<String>,
    repetitions: usize,
    min_seconds: f64,
    caching: bool,
    base: Config,
}

impl Default for ScalingBenchmark {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`ScalingBenchmark::run_with_progress`] reports after each timed run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BenchProgress {
    /// Timed runs finished.
    pub done: usize,
    /// Timed runs in all.
    pub total: usize,
    /// The run's `n`.
    pub size: usize,
    /// The run's level.
    pub level: String,
    /// The run's requested solver.
    pub solver: String,
    /// Its wall-clock seconds.
    pub seconds: f64,
}

/// One configuration at one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BenchRow {
    /// Squares per side.
    pub size: usize,
    /// Unknowns.
    pub dofs: usize,
    /// The level asked for.
    pub level: String,
    /// The level in force (`auto` resolved).
    pub resolved_level: String,
    /// The solver asked for (`auto`: the configuration's choice).
    pub solver_requested: String,
    /// The solver used.
    pub solver: String,
    /// Its preconditioner.
    pub preconditioner: String,
    /// Threads used.
    pub threads: usize,
    /// Wall-clock seconds of each repetition.
    pub seconds: Vec<f64>,
    /// Median of `seconds`.
    pub median_seconds: f64,
    /// Fastest repetition.
    pub min_seconds: f64,
    /// Slowest repetition.
    pub max_seconds: f64,
}

impl BenchRow {
    /// `level` or `level/solver` when a solver was asked for.
    pub fn label(&self) -> String {
        if self.solver_requested == AUTO {
            self.level.clone()
        } else {
            format!("{}/{}", self.level, self.solver_requested)
        }
    }
}

/// The fastest configuration at one size, and how far `auto` was from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BestConfig {
    /// Squares per side.
    pub size: usize,
    /// Unknowns.
    pub dofs: usize,
    /// The fastest configuration (`level` or `level/solver`).
    pub label: String,
    /// Its median seconds.
    pub median_seconds: f64,
    /// `auto`'s best median over the best median minus one (0.05 = 5% slower), when `auto`
    /// was measured.
    pub auto_gap: Option<f64>,
}

/// Everything measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BenchReport {
    /// Cores of the machine.
    pub cores: usize,
    /// Timed repetitions per configuration asked for (small sizes may have more; see each
    /// row's `seconds`).
    pub repetitions: usize,
    /// One row per size × configuration, by size then in the order asked.
    pub rows: Vec<BenchRow>,
    /// One entry per size.
    pub best: Vec<BestConfig>,
}

impl ScalingBenchmark {
    /// Sizes 64, 256 and 1024; all four levels; the configured solver; 3 repetitions and at
    /// least 0.3 s of timed runs per configuration; caching off; the default configuration.
    pub fn new() -> Self {
        Self {
            sizes: vec![64, 256, 1024],
            levels: vec![
                ScalingLevel::Minimal,
                ScalingLevel::Standard,
                ScalingLevel::Aggressive,
                ScalingLevel::Auto,
            ],
            solvers: Vec::new(),
            repetitions: 3,
            min_seconds: 0.3,
            caching: false,
            base: Config::default(),
        }
    }

    /// Squares per side of the problems.
    pub fn sizes(mut self, sizes: &[usize]) -> Self {
        self.sizes = sizes.to_vec();
        self
    }

    /// Scaling levels to compare.
    pub fn levels(mut self, levels: &[ScalingLevel]) -> Self {
        self.levels = levels.to_vec();
        self
    }

    /// Linear solvers (registry names, or `auto`) to compare; empty uses the configuration's.
    pub fn solvers(mut self, solvers: &[&str]) -> Self {
        self.solvers = solvers.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Timed repetitions per configuration, at least.
    pub fn repetitions(mut self, n: usize) -> Self {
        self.repetitions = n;
        self
    }

    /// Seconds of timed runs each configuration gets at least, by repeating small problems
    /// more often (default 0.3; 0 runs exactly [`ScalingBenchmark::repetitions`]).
    pub fn min_seconds(mut self, seconds: f64) -> Self {
        self.min_seconds = seconds;
        self
    }

    /// Whether the levels keep their caching toggle (default false). With it, repetitions reuse
    /// the assembled operator and the prepared solver of the first (what caching buys a
    /// repeated solve); a stored solution never stands in for a timed repetition either way.
    pub fn with_caching(mut self, on: bool) -> Self {
        self.caching = on;
        self
    }

    /// The configuration every run starts from (solver options, assembly, ...); its
    /// `[problem]` is not used.
    pub fn base_config(mut self, config: Config) -> Self {
        self.base = config;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.sizes.is_empty() {
            return Err(Error::invalid("bench.sizes", "give at least one size"));
        }
        if let Some(&bad) = self.sizes.iter().find(|&&n| n == 0 || n > MAX_SIZE) {
            return Err(Error::invalid(
                "bench.sizes",
                format!("sizes must be 1 to {MAX_SIZE} squares per side, got {bad}"),
            ));
        }
        if self.levels.is_empty() {
            return Err(Error::invalid("bench.levels", "give at least one level"));
        }
        // A value given twice would be measured twice and compared with itself.
        let twice = |field: &str, shown: Option<String>| match shown {
            Some(v) => Err(Error::invalid(field, format!("`{v}` is given twice"))),
            None => Ok(()),
        };
        let repeated = |items: Vec<String>| {
            (1..items.len()).find_map(|i| items[..i].contains(&items[i]).then(|| items[i].clone()))
        };
        twice(
            "bench.sizes",
            repeated(self.sizes.iter().map(usize::to_string).collect()),
        )?;
        twice(
            "bench.levels",
            repeated(self.levels.iter().map(|l| l.name().to_string()).collect()),
        )?;
        twice("bench.solvers", repeated(self.solvers.clone()))?;
        if self.repetitions == 0 || self.repetitions > MAX_REPETITIONS {
            return Err(Error::invalid(
                "bench.repetitions",
                format!("must be 1 to {MAX_REPETITIONS}, got {}", self.repetitions),
            ));
        }
        if !(self.min_seconds.is_finite() && self.min_seconds >= 0.0) {
            return Err(Error::invalid(
                "bench.min_seconds",
                format!("must be a finite number >= 0, got {}", self.min_seconds),
            ));
        }
        Ok(())
    }

    /// `(level, requested solver, solver)` of every configuration.
    fn configs(&self) -> Result<Vec<(ScalingLevel, String, FemSolver)>> {
        let solvers = if self.solvers.is_empty() {
            vec![AUTO.to_string()]
        } else {
            self.solvers.clone()
        };
        let mut out = Vec::new();
        for &level in &self.levels {
            for solver in &solvers {
                let mut config = self.base.clone();
                config.scaling.level = level;
                if !self.caching {
                    config.scaling.enable_caching = Some(false);
                }
                if solver != AUTO {
                    config.solver.kind = solver.clone();
                }
                let fem = FemSolver::from_config(config).map(|f| f.with_solution_hits(false));
                let fem = fem.map_err(|e| match e {
                    // The name came from `--solvers` only when one was given; else from the
                    // configuration's `solver.kind`, whose error stands.
                    Error::UnknownName {
                        what, name, known, ..
                    } if solver != AUTO => Error::UnknownName {
                        field: "bench.solvers".into(),
                        what,
                        name,
                        known,
                    },
                    other => other,
                })?;
                out.push((level, solver.clone(), fem));
            }
        }
        Ok(out)
    }

    /// Runs the benchmark.
    ///
    /// # Errors
    /// Invalid sizes, levels, solvers or repetitions (field `bench.*`); a failed solve.
    pub fn run(&self) -> Result<BenchReport> {
        self.run_with_progress(&mut |_| {})
    }

    /// Runs the benchmark, calling `progress` after each timed run.
    ///
    /// # Errors
    /// As [`ScalingBenchmark::run`].
    #[instrument(skip_all, name = "fem.bench", fields(sizes = ?self.sizes, repetitions = self.repetitions))]
    pub fn run_with_progress(
        &self,
        progress: &mut dyn FnMut(&BenchProgress),
    ) -> Result<BenchReport> {
        self.validate()?;
        let configs = self.configs()?;
        let mut total = self.sizes.len() * configs.len() * self.repetitions;
        let mut done = 0;
        let mut rows = Vec::new();
        for &size in &self.sizes {
            let problem = Laplace2d {
                nx: size,
                ny: size,
                source: Some(FieldSpec::Expr(SOURCE.into())),
                ..Laplace2d::default()
            };
            let mut size_rows: Vec<BenchRow> = Vec::with_capacity(configs.len());
            let mut slowest_warm_up = 0.0f64;
            for (level, solver, fem) in &configs {
                // Warm-up (untimed): thread pool, allocator, expression compilation; and the
                // sizes and choices of the row.
                let t = Instant::now();
                let first = fem.solve_2d_laplace(&problem)?;
                slowest_warm_up = slowest_warm_up.max(t.elapsed().as_secs_f64());
                let m = &first.metrics;
                size_rows.push(BenchRow {
                    size,
                    dofs: m.dofs,
                    level: level.name().into(),
                    resolved_level: m.scaling_level.name().into(),
                    solver_requested: solver.clone(),
                    solver: m.solver.clone(),
                    preconditioner: m.preconditioner.clone(),
                    threads: m.threads,
                    seconds: Vec::with_capacity(self.repetitions),
                    median_seconds: 0.0,
                    min_seconds: 0.0,
                    max_seconds: 0.0,
                });
            }
            let reps = self.repetitions_for(slowest_warm_up);
            total += (reps - self.repetitions) * configs.len();
            for r in 0..reps {
                // Each repetition starts with the next configuration, so that none always
                // runs right after the same one.
                for k in 0..configs.len() {
                    let c = (r + k) % configs.len();
                    let ((level, solver, fem), row) = (&configs[c], &mut size_rows[c]);
                    let t = Instant::now();
                    let solution = fem.solve_2d_laplace(&problem)?;
                    let seconds = t.elapsed().as_secs_f64();
                    std::hint::black_box(&solution.values);
                    row.seconds.push(seconds);
                    done += 1;
                    progress(&BenchProgress {
                        done,
                        total,
                        size,
                        level: level.name().into(),
                        solver: solver.clone(),
                        seconds,
                    });
                }
            }
            for row in &mut size_rows {
                let (median, lo, hi) = summarize(&row.seconds);
                row.median_seconds = median;
                row.min_seconds = lo;
                row.max_seconds = hi;
                info!(size, level = %row.level, solver = %row.solver, median, "benchmarked");
            }
            rows.extend(size_rows);
        }
        let best = best_per_size(&self.sizes, &rows);
        Ok(BenchReport {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            repetitions: self.repetitions,
            rows,
            best,
        })
    }
}

impl ScalingBenchmark {
    /// Repetitions at a size whose slowest warm-up took `seconds`: enough for `min_seconds` of
    /// timed runs, at least `repetitions`, at most [`MAX_REPETITIONS`].
    fn repetitions_for(&self, seconds: f64) -> usize {
        let wanted = if seconds > 0.0 {
            (self.min_seconds / seconds)
                .ceil()
                .min(MAX_REPETITIONS as f64) as usize
        } else {
            MAX_REPETITIONS
        };
        wanted.clamp(self.repetitions, MAX_REPETITIONS.max(self.repetitions))
    }
}

/// Median, minimum and maximum (zeros for no values).
fn summarize(values: &[f64]) -> (f64, f64, f64) {
    crate::Stats::of(values.iter().copied()).map_or((0.0, 0.0, 0.0), |s| (s.median, s.min, s.max))
}

fn best_per_size(sizes: &[usize], rows: &[BenchRow]) -> Vec<BestConfig> {
    let mut best = Vec::new();
    for &size in sizes {
        let at: Vec<&BenchRow> = rows.iter().filter(|r| r.size == size).collect();
        let Some(fastest) = at
            .iter()
            .min_by(|a, b| a.median_seconds.total_cmp(&b.median_seconds))
        else {
            continue;
        };
        let auto = at
            .iter()
            .filter(|r| r.level == "auto")
            .map(|r| r.median_seconds)
            .min_by(f64::total_cmp);
        best.push(BestConfig {
            size,
            dofs: fastest.dofs,
            label: fastest.label(),
            median_seconds: fastest.median_seconds,
            auto_gap: auto
                .filter(|_| fastest.median_seconds > 0.0)
                .map(|a| a / fastest.median_seconds - 1.0),
        });
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_benchmark_measures_every_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let report = ScalingBenchmark::new()
            .sizes(&[4, 8])
            .levels(&[ScalingLevel::Minimal, ScalingLevel::Auto])
            .solvers(&["direct", "cg"])
            .repetitions(2)
            .min_seconds(0.0)
            .run()
            .unwrap();
        assert_eq!(report.rows.len(), 2 * 2 * 2);
        for r in &report.rows {
            assert_eq!(r.seconds.len(), 2);
            assert!(r.min_seconds <= r.median_seconds && r.median_seconds <= r.max_seconds);
            assert_eq!(r.dofs, (r.size + 1) * (r.size + 1));
        }
        assert_eq!(report.rows[0].threads, 1, "minimal runs on one thread");
        assert!(report.rows.iter().any(|r| r.solver.starts_with("direct")));
        assert!(report.rows.iter().any(|r| r.solver == "cg"));
        assert_eq!(report.best.len(), 2);
        for b in &report.best {
            assert!(b.auto_gap.unwrap() >= 0.0);
        }
        let table = report.table();
        assert!(table.contains("best configuration per size"), "{table}");
        let out = report.write_outputs(dir.path()).unwrap();
        let csv = std::fs::read_to_string(&out.csv).unwrap();
        assert_eq!(csv.lines().count(), 1 + 8);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out.json).unwrap()).unwrap();
        assert_eq!(json["rows"].as_array().unwrap().len(), 8);
        let svg = std::fs::read_to_string(out.svg.unwrap()).unwrap();
        assert!(svg.contains("<svg") && svg.contains("2 runs"), "{svg}");
        // A title counts the runs the rows hold, which short configurations may exceed.
        let mut more = report.clone();
        more.rows[0].seconds = vec![0.1; 100];
        assert_eq!(more.timed_runs(), "2–100 runs");
    }

    #[test]
    fn bad_requests_are_typed_errors() {
        let e = ScalingBenchmark::new().sizes(&[]).run().unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("bench.sizes"));
        let e = ScalingBenchmark::new().sizes(&[0]).run().unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("bench.sizes"));
        let e = ScalingBenchmark::new()
            .sizes(&[4])
            .repetitions(0)
            .run()
            .unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("bench.repetitions"));
        let e = ScalingBenchmark::new()
            .sizes(&[4])
            .solvers(&["no-such-solver"])
            .run()
            .unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("bench.solvers"));
        assert_eq!(parse_level("auto").unwrap(), ScalingLevel::Auto);
        assert_eq!(
            parse_level("fast").unwrap_err().field_name().as_deref(),
            Some("bench.levels")
        );
        assert_eq!(summarize(&[3.0, 1.0, 2.0, 10.0]), (2.5, 1.0, 10.0));
        let e = ScalingBenchmark::new()
            .min_seconds(f64::NAN)
            .run()
            .unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("bench.min_seconds"));
        let b = ScalingBenchmark::new().repetitions(3).min_seconds(0.3);
        assert_eq!(b.repetitions_for(1.0), 3, "slow problems: as asked");
        assert_eq!(b.repetitions_for(0.01), 30, "fast ones: 0.3 s worth");
        assert_eq!(b.repetitions_for(1e-6), MAX_REPETITIONS);
        assert_eq!(b.repetitions_for(0.0), MAX_REPETITIONS);
    }
}
