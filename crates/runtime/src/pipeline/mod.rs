//! The solve pipeline: mesh → plan → pattern → assembly → boundary conditions → solver set-up
//! → solve → error norms, each phase timed and traced.

mod adaptive;
mod checks;
mod coarse_space;
mod data_range;
mod definiteness;
mod operator;
mod phases;
mod plan;
mod row_share;
mod solve;
mod stages;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use femscale_core::{Artefact, Error, Metrics, Result, SystemLoad, WorkEstimate};
use femscale_mesh::Mesh;
use serde::{Deserialize, Serialize};

use crate::caching::{CacheReuse, MEMORY_LEVEL, SolveCache};
use crate::config::Config;
use crate::problem::{Laplace1d, Laplace2d, Problem};
use crate::registry::Registry;
use crate::scaling::{ScalingDecision, ScalingLevel};
pub use adaptive::{AdaptiveSnapshot, StepObserver};
pub(crate) use checks::{check_nodes_fit, nodes_per_vertex};
use checks::{check_solver_names, rename_fields, solve_error};
pub use operator::AssembledOperator;
pub use plan::solver_for;
pub(crate) use plan::{adaptive_scaler, auto_level};
use solve::Stage;

/// What [`FemSolver::warm_up`] precomputes and stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarmUp {
    /// The assembled operator and the prepared solver (factorization, AMG hierarchy): later
    /// solves with any source or boundary values on it skip assembly of the matrix and set-up.
    Operator,
    /// The whole solution.
    Solution,
}

/// Counters of the machinery behind the solves of one [`FemSolver`] (and of every solver that
/// shares its cache).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScalingMetrics {
    /// Hits, misses, writes, evictions and bytes of each active cache level, fastest first.
    pub cache_levels: Vec<femscale_core::CacheStats>,
    /// What the cache let solves reuse.
    pub cache_reuse: CacheReuse,
    /// Configured cache levels that could not be opened, with the reason.
    pub cache_unavailable: Vec<(String, String)>,
    /// Expression parsing, compilation (`jit_compilations`, `bytecode_compilations`) and
    /// compile-cache counters of this process.
    pub expressions: femscale_expr::ExprStats,
    /// Process-wide performance counters: expression compilations, cache hits and misses,
    /// parallel assemblies, pool reuses (and bytes they saved), worker-pool decisions and jobs,
    /// execution plans.
    #[serde(default)]
    pub counters: femscale_core::CounterSnapshot,
}

/// A computed solution: the mesh, one value per node, and what the solve did.
#[derive(Clone)]
pub struct Solution {
    /// The mesh the solution lives on.
    pub mesh: Arc<Mesh>,
    /// Nodal values `u_h(x_i)`.
    pub values: Vec<f64>,
    /// Sizes, timings, choices and errors.
    pub metrics: Metrics,
}

impl std::fmt::Debug for Solution {
    /// A summary: sizes and the metrics, not a million nodal values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Solution")
            .field("nodes", &self.mesh.num_nodes())
            .field("cells", &self.mesh.num_cells())
            .field("values", &format_args!("[{} values]", self.values.len()))
            .field("metrics", &self.metrics)
            .finish()
    }
}

impl Solution {
    /// Node coordinates, `dim` per node.
    pub fn nodes(&self) -> &[f64] {
        self.mesh.coords()
    }

    /// Node `i` as a point padded to three components.
    pub fn node(&self, i: usize) -> [f64; 3] {
        self.mesh.view().point(i)
    }
}

/// The entry point for embedding users: solves problems with a fixed solver, assembly and
/// scaling configuration.
///
/// ```
/// use femscale_runtime::{FemSolver, Laplace1d};
/// let sol = FemSolver::new().solve_1d_laplace(&Laplace1d { num_elements: 10, right_bc: 1.0, ..Default::default() }).unwrap();
/// assert!((sol.values[5] - 0.5).abs() < 1e-12);
/// ```
#[derive(Debug)]
pub struct FemSolver {
    config: Config,
    registry: Arc<Registry>,
    /// Rayon pools of this solver by thread count, built on first use.
    pools: Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>,
    /// Built on first use (opening disk or Redis levels only when caching is on).
    cache: Mutex<Option<Arc<SolveCache>>>,
    /// Whether a stored solution may stand in for a solve (see [`FemSolver::with_solution_hits`]).
    solution_hits: bool,
}

impl Default for FemSolver {
    fn default() -> Self {
        Self::new()
    }
}

impl FemSolver {
    /// A solver with the built-in defaults, [`Config::default()`] (`docs/configuration.md`
    /// lists each; a test compares that list with the code):
    ///
    /// * `solver.kind = "auto"`: the direct solver up to `solver.auto_direct_max_dofs` (20 000)
    ///   unknowns in 2D, 500 in 3D and always in 1D when its factor fits, CG with AMG
    ///   otherwise;
    /// * `scaling.level = "auto"`: threads, parallel assembly and the scaling toggles planned
    ///   per solve from its size and the machine (one thread and no caching below 10 000
    ///   unknowns, every core above 12 000);
    /// * `cache.levels = ["memory"]` (1024 MB): a memory cache of solutions, operators and
    ///   factorizations, used when the level turns caching on (with `auto`: from 10 000
    ///   unknowns).
    pub fn new() -> Self {
        Self::from_config(Config::default()).expect("the default configuration is valid")
    }

    /// A solver configured by `config` (its `[problem]` section is used by
    /// [`FemSolver::solve_configured`]).
    ///
    /// The registry holds the built-in components and the plugins of `[plugins]`
    /// ([`Registry::from_config`]).
    ///
    /// # Errors
    /// Unknown solver or preconditioner names, invalid solver options, plugins that fail to
    /// load or reject their options.
    pub fn from_config(config: Config) -> Result<Self> {
        let registry = Registry::from_config(&config)?;
        Self::with_registry(config, registry)
    }

    /// Like [`FemSolver::from_config`] with a custom component registry.
    ///
    /// # Errors
    /// Unknown solver or preconditioner names, invalid solver options.
    pub fn with_registry(config: Config, registry: Registry) -> Result<Self> {
        check_solver_names(
            &registry,
            &config.solver.kind,
            &config.solver.preconditioner,
        )?;
        config.check_bounds()?;
        config.solver.options(0).validate().map_err(solve_error)?;
        if config.solver.partition == crate::Partitioner::Metis && !cfg!(feature = "metis") {
            return Err(Error::feature_disabled(
                "solver.partition",
                "METIS partitioning",
                "metis",
            ));
        }
        config.cache.validate()?;
        let byte_levels = registry.cache_names();
        for name in &config.cache.levels {
            if name != MEMORY_LEVEL && !byte_levels.contains(name) {
                return Err(registry
                    .cache(name, &config.cache)
                    .expect_err("not registered"));
            }
        }
        Ok(Self {
            config,
            registry: Arc::new(registry),
            pools: Mutex::new(HashMap::new()),
            cache: Mutex::new(None),
            solution_hits: true,
        })
    }

    /// A solver with the built-in defaults at scaling `level`.
    pub fn with_scaling(level: ScalingLevel) -> Self {
        let mut config = Config::default();
        config.scaling.level = level;
        Self::from_config(config).expect("the default configuration is valid")
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Shares `cache` with this solver: solvers holding one cache reuse each other's
    /// operators, factorizations and solutions (the experiment runner shares one per run).
    #[must_use]
    pub fn with_cache(self, cache: Arc<SolveCache>) -> Self {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(cache);
        self
    }

    /// Whether a solution stored in the cache may be returned instead of solving (default
    /// `true`; such a solution says so in `cache_reused` and `features_used`). With `false`
    /// every solve computes its solution; assembled operators and prepared solvers are still
    /// reused (and reported). The experiment runner turns it off: a run measures the work it
    /// reports.
    #[must_use]
    pub fn with_solution_hits(mut self, on: bool) -> Self {
        self.solution_hits = on;
        self
    }

    /// The cache of this solver, built from `[cache]` on first use.
    ///
    /// # Errors
    /// A level that exists but fails in a way that is not a lost server (see
    /// [`SolveCache::from_config`]).
    pub fn shared_cache(&self) -> Result<Arc<SolveCache>> {
        let mut slot = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        let cache = Arc::new(SolveCache::from_config(&self.config.cache, &self.registry)?);
        *slot = Some(cache.clone());
        Ok(cache)
    }

    /// The cache when it has an active level.
    fn cache(&self) -> Result<Option<Arc<SolveCache>>> {
        Ok(Some(self.shared_cache()?).filter(|c| c.is_enabled()))
    }

    /// Counters of the cache levels (empty before the first solve that used the cache).
    pub fn cache_stats(&self) -> Vec<femscale_core::CacheStats> {
        let slot = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().map(|c| c.level_stats()).unwrap_or_default()
    }

    /// Counters of caching, reuse and scaling decisions so far.
    pub fn scaling_metrics(&self) -> ScalingMetrics {
        let slot = self.cache.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut m = ScalingMetrics {
            expressions: femscale_expr::stats(),
            counters: femscale_core::scaling_metrics(),
            ..ScalingMetrics::default()
        };
        if let Some(c) = slot {
            m.cache_levels = c.level_stats();
            m.cache_reuse = c.reuse();
            m.cache_unavailable = c.unavailable_levels().to_vec();
        }
        m
    }

    /// Precomputes and stores `what` for each problem, so that later solves (in this process,
    /// or in others sharing a disk or Redis level) start from it. Returns how many problems
    /// were computed (the rest were already stored).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (field `cache.levels`) when caching is off for these problems;
    /// otherwise as [`FemSolver::solve`].
    pub fn warm_up(&self, problems: &[Problem], what: WarmUp) -> Result<usize> {
        let mut computed = 0;
        for problem in problems {
            let before = self.scaling_metrics().cache_reuse;
            let stage = match what {
                WarmUp::Operator => Stage::Prepare,
                WarmUp::Solution => Stage::Solve,
            };
            let out = self.run_pipeline(problem, None, stage)?;
            let Some(cache) = self.cache()? else {
                return Err(Error::invalid(
                    "cache.levels",
                    "warm-up needs caching: enable it with scaling.enable_caching = true and a cache level",
                ));
            };
            let after = cache.reuse();
            let reused = match what {
                WarmUp::Operator => after.prepared_solvers > before.prepared_solvers,
                WarmUp::Solution => out.is_some_and(|s| {
                    s.metrics
                        .cache_reused
                        .iter()
                        .any(|r| r.artefact == Artefact::Solution)
                }),
            };
            if !reused {
                computed += 1;
            }
        }
        Ok(computed)
    }

    /// How this solver would run a 2D P1 problem of `dofs` unknowns on this machine now: the
    /// toggles (the level's preset plus the configured overrides), the execution plan
    /// (threads, parallel assembly, memory estimate and budget; from the adaptive scaler when
    /// `scaling.level = "auto"`) and the solver `solver.kind` resolves to.
    pub fn optimize_for_problem_size(&self, dofs: usize) -> ScalingDecision {
        self.decide(
            &WorkEstimate::p1(dofs, 2),
            &self.config.solver.kind,
            &SystemLoad::detect(),
            None,
        )
    }

    /// A solver like this one with `overrides` (`key=value`, as `--set`) applied on top of its
    /// configuration; `self` is unchanged, so the override is scoped to the returned value.
    /// Overrides of `plugins.*` load the plugins they name and re-register components whose
    /// options changed (plugins no longer named stay registered in the new solver).
    ///
    /// # Errors
    /// Malformed overrides or an invalid resulting configuration, naming the key; plugin load
    /// errors.
    pub fn with_overrides(&self, overrides: &[&str]) -> Result<Self> {
        use crate::config::{
            FieldPath, Layer, OVERRIDE_API_NAME, figment_error, parse_override, stacked_over_values,
        };
        use figment::providers::Serialized;
        let mut layers = Vec::with_capacity(overrides.len());
        for item in overrides {
            let (key, value) = parse_override(item)?;
            let name = format!("{OVERRIDE_API_NAME} `{item}`");
            layers.push(Layer { name, key, value });
        }
        // A named table set whole replaces this solver's (see `config::TableReplacements`).
        let fig = stacked_over_values(Serialized::defaults(&self.config), layers)?;
        // The schema's own messages: the key, the override that set it, a suggestion for a
        // misspelt key (figment's text would name its provider types and source files).
        let config: Config = fig
            .extract()
            .map_err(|e| figment_error(e, None, &FieldPath::root()))?;
        crate::config::check_finite_values(&fig)?;
        let mut registry = (*self.registry).clone();
        if config.plugins != self.config.plugins {
            // New or reconfigured plugins; those no longer named stay registered (a loaded
            // library is never unloaded).
            registry.register_configured_plugins(&config.plugins)?;
        }
        let solver = Self::with_registry(config, registry)?;
        // The same `[cache]` means the same cache: overrides of solver or problem settings keep
        // reusing what this solver stored.
        if solver.config.cache == self.config.cache {
            return Ok(solver.with_cache(self.shared_cache()?));
        }
        Ok(solver)
    }

    /// Runs `f` with a solver that has `overrides` applied; the overrides end with the closure.
    ///
    /// # Errors
    /// As [`FemSolver::with_overrides`], or whatever `f` returns.
    pub fn scoped<R>(
        &self,
        overrides: &[&str],
        f: impl FnOnce(&FemSolver) -> Result<R>,
    ) -> Result<R> {
        f(&self.with_overrides(overrides)?)
    }

    /// The component registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Solves the 1D problem of the original design's quick start.
    ///
    /// # Errors
    /// Invalid parameters (naming the field), solver failures.
    pub fn solve_1d_laplace(&self, p: &Laplace1d) -> Result<Solution> {
        let kind = p.linear_solver.as_deref();
        let problem = p.to_problem();
        self.solve_refining(&problem, kind, p.enable_adaptive_refinement)
            .map_err(|e| {
                rename_fields(
                    e,
                    &[
                        ("problem.mesh.nx", "num_elements"),
                        ("problem.mesh.x", "x_range"),
                        ("problem.boundary[0].value", "left_bc"),
                        ("problem.boundary[1].value", "right_bc"),
                    ],
                )
            })
    }

    /// Solves a 2D problem on a rectangle with Dirichlet values per side.
    ///
    /// # Errors
    /// Invalid parameters (naming the field), solver failures.
    pub fn solve_2d_laplace(&self, p: &Laplace2d) -> Result<Solution> {
        let kind = p.linear_solver.as_deref();
        let problem = p.to_problem();
        self.solve_refining(&problem, kind, p.enable_adaptive_refinement)
            .map_err(|e| {
                rename_fields(
                    e,
                    &[
                        ("problem.mesh.nx", "nx"),
                        ("problem.mesh.ny", "ny"),
                        ("problem.mesh.x", "x_range"),
                        ("problem.mesh.y", "y_range"),
                        ("problem.boundary[0].value", "left_bc"),
                        ("problem.boundary[1].value", "right_bc"),
                        ("problem.boundary[2].value", "bottom_bc"),
                        ("problem.boundary[3].value", "top_bc"),
                    ],
                )
            })
    }

    /// Solves the `[problem]` section of the configuration.
    ///
    /// # Errors
    /// Invalid configuration (naming the key), solver failures.
    pub fn solve_configured(&self) -> Result<Solution> {
        self.solve(&self.config.problem)
    }

    /// Solves a general problem.
    ///
    /// # Errors
    /// Invalid parameters (naming the field), solver failures.
    pub fn solve(&self, problem: &Problem) -> Result<Solution> {
        self.solve_with(problem, None)
    }

    /// [`Self::solve_with`], through the adaptive loop when `adaptive` (the convenience
    /// problems' `enable_adaptive_refinement`) even if the configuration does not ask for it.
    fn solve_refining(
        &self,
        problem: &Problem,
        solver_kind: Option<&str>,
        adaptive: bool,
    ) -> Result<Solution> {
        if adaptive && !self.adaptive() {
            let requested = solver_kind.unwrap_or(&self.config.solver.kind);
            return self.run_adaptive(problem, requested, None);
        }
        self.solve_with(problem, solver_kind)
    }

    fn solve_with(&self, problem: &Problem, solver_kind: Option<&str>) -> Result<Solution> {
        self.run_pipeline(problem, solver_kind, Stage::Solve)?
            .ok_or_else(|| Error::invalid("stage", "the pipeline stopped before solving"))
    }

    /// Runs `f` with `threads` rayon threads: on the calling thread when it already is a
    /// worker of a rayon pool of that size (a job of `femscale run`'s worker pool, whose
    /// workers are one-thread pools for small runs), otherwise inside this solver's pool of
    /// that size. Skipping the hop saves a thread start per run of a sweep and the spinning of
    /// a worker blocked in another pool's `install`. (Pools are per solver, not process-wide:
    /// a shared pool could let a worker that holds a lock while waiting for its parallel
    /// kernel steal another solve that waits for the same lock.)
    pub(crate) fn with_threads<T: Send>(
        &self,
        threads: usize,
        f: impl FnOnce() -> T + Send,
    ) -> Result<T> {
        let threads = threads.max(1);
        if rayon::current_thread_index().is_some() && rayon::current_num_threads() == threads {
            return Ok(f());
        }
        let pool = {
            let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            match pools.get(&threads) {
                Some(p) => p.clone(),
                None => {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .thread_name(|i| format!("femscale-{i}"))
                        .build()
                        .map_err(|e| {
                            Error::invalid(
                                "scaling.threads",
                                format!("cannot start {threads} threads: {e}"),
                            )
                        })?;
                    let pool = Arc::new(pool);
                    pools.insert(threads, pool.clone());
                    pool
                }
            }
        };
        Ok(pool.install(f))
    }
}
