//! The solve pipeline: mesh → plan → pattern → assembly → boundary conditions → solver set-up
//! → solve → error norms, each phase timed and traced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use femscale_assembly::{DirichletConditions, error_norms};
use femscale_core::{
    Error, LinearSystem, Metrics, NoMonitor, Result, Scaler, SolveError, StaticScaler, SystemLoad,
    WorkEstimate,
};
use femscale_mesh::Mesh;
use tracing::{info, instrument};

use crate::caching::{SharedPrepared, SolveCache, problem_keys};
use crate::config::Config;
use crate::problem::{FieldSpec, Laplace1d, Laplace2d, Problem};
use crate::registry::Registry;
use crate::scaling::{ScalingLevel, ScalingToggles};

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
    pools: Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>,
    cache: SolveCache,
}

impl Default for FemSolver {
    fn default() -> Self {
        Self::new()
    }
}

impl FemSolver {
    /// A solver with the built-in defaults (direct solver, automatic parallel assembly, all
    /// cores, no cache).
    pub fn new() -> Self {
        Self::from_config(Config::default()).expect("the default configuration is valid")
    }

    /// A solver configured by `config` (its `[problem]` section is used by
    /// [`FemSolver::solve_configured`]).
    ///
    /// # Errors
    /// Unknown solver or preconditioner names, invalid solver options.
    pub fn from_config(config: Config) -> Result<Self> {
        Self::with_registry(config, Registry::with_builtins())
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
        config.solver.options(0).validate().map_err(solve_error)?;
        if !(1..=7).contains(&config.assembly.quadrature_degree) {
            return Err(Error::invalid(
                "assembly.quadrature_degree",
                format!(
                    "must be 1 to 7 (at most 4 on triangles), got {}",
                    config.assembly.quadrature_degree
                ),
            ));
        }
        let cache = SolveCache::new(&config.cache);
        Ok(Self {
            config,
            registry: Arc::new(registry),
            pools: Mutex::new(HashMap::new()),
            cache,
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

    /// Counters of the in-process cache of solutions and prepared solvers.
    pub fn cache_stats(&self) -> femscale_core::CacheStats {
        self.cache.stats()
    }

    /// The scaling toggles this solver would use for a problem of `dofs` unknowns on this
    /// machine (the level's preset plus the configured overrides).
    pub fn optimize_for_problem_size(&self, dofs: usize) -> ScalingToggles {
        self.config
            .scaling
            .toggles(dofs, SystemLoad::detect().cores)
    }

    /// A solver like this one with `overrides` (`key=value`, as `--set`) applied on top of its
    /// configuration; `self` is unchanged, so the override is scoped to the returned value.
    ///
    /// # Errors
    /// Malformed overrides or an invalid resulting configuration, naming the key.
    pub fn with_overrides(&self, overrides: &[&str]) -> Result<Self> {
        use figment::providers::Serialized;
        let mut fig = figment::Figment::from(Serialized::defaults(&self.config));
        for item in overrides {
            let (key, value) = crate::config::parse_override(item)?;
            fig = fig.merge(Serialized::default(&key, value));
        }
        let config: Config = fig.extract().map_err(|e| Error::Config {
            message: format!("override {overrides:?}: {e}"),
        })?;
        Self::with_registry(config, (*self.registry).clone())
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
        self.solve_with(&p.to_problem(), p.linear_solver.as_deref())
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
        self.solve_with(&p.to_problem(), p.linear_solver.as_deref())
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
        self.solve(&self.config.problem.to_problem()?)
    }

    /// Solves a general problem.
    ///
    /// # Errors
    /// Invalid parameters (naming the field), solver failures.
    pub fn solve(&self, problem: &Problem) -> Result<Solution> {
        self.solve_with(problem, None)
    }

    fn pool(&self, threads: usize) -> Result<Arc<rayon::ThreadPool>> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pools.get(&threads) {
            return Ok(p.clone());
        }
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
        Ok(pool)
    }

    #[instrument(skip_all, name = "fem.solve")]
    fn solve_with(&self, problem: &Problem, solver_kind: Option<&str>) -> Result<Solution> {
        let cfg = &self.config.solver;
        let requested = solver_kind.unwrap_or(&cfg.kind);
        check_solver_names(&self.registry, requested, &cfg.preconditioner)?;
        let mut metrics = Metrics::default();

        check_memory(problem)?;
        let started = Instant::now();
        let cores = SystemLoad::detect().cores;
        let estimated_dofs = problem
            .mesh
            .estimated_nodes()
            .unwrap_or(f64::MAX)
            .min(usize::MAX as f64) as usize;
        let keys = if self.config.scaling.toggles(estimated_dofs, cores).caching {
            problem_keys(problem, &self.config, requested)
        } else {
            None
        };
        if let Some(keys) = &keys
            && let Some(hit) = self.cache.solution(&keys.solution)
        {
            let mut solution = (*hit).clone();
            solution.metrics.phases = Default::default();
            solution.metrics.total_solve_time = started.elapsed().as_secs_f64();
            solution
                .metrics
                .features_used
                .push("solution_cache_hit".into());
            info!(dofs = solution.metrics.dofs, "solution served from cache");
            return Ok(solution);
        }
        let t = Instant::now();
        let mesh = in_phase_span("mesh", || problem.mesh.build())
            .map_err(|e| in_section(e, "problem."))?;
        metrics.phases.mesh = t.elapsed().as_secs_f64();
        let form = problem.form("problem.")?;
        let exact = problem.exact_field("problem.")?;
        let view = mesh.view();

        let work = WorkEstimate::single(
            mesh.num_nodes(),
            mesh.num_cells(),
            mesh.num_nodes() * (2 * mesh.dim() + 3),
        );
        let load = SystemLoad::detect();
        let toggles = self.config.scaling.toggles(mesh.num_nodes(), load.cores);
        let scaler = StaticScaler {
            threads: toggles.threads,
            // An explicit `assembly.parallel` wins over the level's preset.
            parallel_assembly: self.config.assembly.parallel.or(if toggles.parallel {
                None
            } else {
                Some(false)
            }),
            parallel_threshold_cells: self.config.assembly.parallel_threshold_cells,
            memory_budget_mb: cfg.memory_limit_mb,
        };
        let plan = scaler.plan(&work, &load);
        let (kind, preconditioner) = cfg.resolve(requested, mesh.num_nodes());
        let solver = self
            .registry
            .solver(&kind, &preconditioner, &cfg.method_options())?;
        let options = cfg.options(plan.threads);
        options.validate().map_err(solve_error)?;
        femscale_solvers::set_faer_threads(plan.threads);
        let assembler = self.registry.assembler(
            if plan.parallel_assembly {
                "parallel"
            } else {
                "serial"
            },
            self.config.assembly.quadrature_degree,
        )?;
        let pool = self.pool(plan.threads)?;

        let (values, report) = pool.install(|| -> Result<_> {
            let t = Instant::now();
            let pattern = Arc::new(assembler.pattern(&view)?);
            metrics.phases.pattern = t.elapsed().as_secs_f64();

            let t = Instant::now();
            let mut system = LinearSystem::zeros(pattern);
            let stats = assembler
                .assemble_into(&view, &form, &mut system)
                .map_err(|e| in_section(e, "problem."))?;
            metrics.phases.assembly = t.elapsed().as_secs_f64();

            let t = Instant::now();
            let dirichlet = DirichletConditions::from_form(&view, &form)
                .map_err(|e| in_section(e, "problem."))?;
            dirichlet.apply(&mut system)?;
            metrics.phases.boundary_conditions = t.elapsed().as_secs_f64();
            metrics.dirichlet_dofs = dirichlet.len();
            metrics.nnz = system.matrix.nnz();
            metrics.assembler = stats.assembler.clone();
            metrics.parallel_assembly_used = stats.parallel;

            let t = Instant::now();
            let LinearSystem { matrix, rhs } = system;
            let cached = keys.as_ref().and_then(|k| self.cache.prepared(&k.operator));
            let prepared: Arc<SharedPrepared> = match cached {
                Some(p) => {
                    metrics.features_used.push("operator_cache_hit".into());
                    p
                }
                None => {
                    let p = solver
                        .prepare(Arc::new(matrix), &options)
                        .map_err(solve_error)?;
                    let bytes = p.memory_bytes() + p.matrix().memory_bytes();
                    let p = Arc::new(std::sync::Mutex::new(p));
                    if let Some(k) = &keys {
                        self.cache
                            .store_prepared(k.operator.clone(), p.clone(), bytes);
                    }
                    p
                }
            };
            metrics.phases.setup = t.elapsed().as_secs_f64();

            let t = Instant::now();
            let mut x = vec![0.0; rhs.len()];
            dirichlet.impose_on(&mut x);
            let report = prepared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .solve(&rhs, &mut x, &mut NoMonitor)
                .map_err(solve_error)?;
            metrics.phases.solve = t.elapsed().as_secs_f64();

            let t = Instant::now();
            if let Some(exact) = &exact {
                let norms = error_norms(&view, &x, exact.as_ref())?;
                metrics.l2_error = Some(norms.l2);
                metrics.h1_error = Some(norms.h1_seminorm);
                metrics.max_nodal_error = Some(norms.max_nodal);
            }
            metrics.phases.post = t.elapsed().as_secs_f64();
            Ok((x, report))
        })?;

        metrics.dofs = mesh.num_nodes();
        metrics.num_elements = mesh.num_cells();
        metrics.element = mesh.cell_kind().element_name().into();
        metrics.solver = report.solver.clone();
        metrics.preconditioner = report.preconditioner.clone();
        metrics.iterations = report.iterations;
        metrics.final_residual = report.final_relative_residual;
        metrics.threads = plan.threads;
        metrics.scaling_level = format!("{:?}", toggles.level).to_lowercase();
        metrics.total_solve_time = metrics.phases.total();
        if metrics.parallel_assembly_used {
            metrics.features_used.push("parallel_assembly".into());
        }
        let uses_expr = |f: &FieldSpec| matches!(f, FieldSpec::Expr(_));
        if uses_expr(&problem.diffusion)
            || problem.source.as_ref().is_some_and(uses_expr)
            || problem.reaction.as_ref().is_some_and(uses_expr)
        {
            metrics.features_used.push("expression_fields".into());
        }
        if exact.is_some() {
            metrics.features_used.push("exact_solution_errors".into());
        }
        metrics.linear_solve = report;
        info!(dofs = metrics.dofs, solver = %metrics.solver, iterations = metrics.iterations, seconds = metrics.total_solve_time, "solved");
        let solution = Solution {
            mesh,
            values,
            metrics,
        };
        if let Some(keys) = keys {
            self.cache.store_solution(keys.solution, solution.clone());
        }
        Ok(solution)
    }
}

/// Bytes per node that mesh, pattern, matrix and vectors need before any solver memory (2D P1:
/// 2 coordinates, ~2 cells of 3 nodes, ~7 entries of index + value, adjacency, 4 vectors).
const BYTES_PER_NODE: f64 = 16.0 + 48.0 + 7.0 * 16.0 + 48.0 + 32.0;

/// Refuses meshes whose mesh, pattern and matrix alone would not fit in available memory, so
/// that `nx = 100000` is an error rather than the process being killed.
fn check_memory(problem: &Problem) -> Result<()> {
    let Some(nodes) = problem.mesh.estimated_nodes() else {
        return Ok(());
    };
    let Some(available) = SystemLoad::detect().available_memory_mb else {
        return Ok(());
    };
    let needed = nodes * BYTES_PER_NODE / 1e6;
    if needed > available {
        return Err(Error::invalid(
            "problem.mesh.nx",
            format!(
                "a mesh of {nodes:.3e} nodes needs about {needed:.0} MB for mesh, pattern and matrix \
                 alone, but only {available:.0} MB of memory are available"
            ),
        ));
    }
    Ok(())
}

/// Runs `f` inside an info-level span for the pipeline phase `name`.
fn in_phase_span<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
    tracing::info_span!("fem.phase", phase = name).in_scope(f)
}

/// Renames the field of an error from its config key to the name used by a convenience API
/// (`problem.mesh.nx` → `num_elements`); other `problem.*` fields lose the prefix, and
/// `solver.kind` becomes `linear_solver`.
fn rename_fields(e: Error, map: &[(&str, &str)]) -> Error {
    let rename = |field: String| {
        if let Some((_, to)) = map.iter().find(|(from, _)| *from == field) {
            return (*to).to_string();
        }
        match field.strip_prefix("problem.") {
            Some(rest) => rest.to_string(),
            None if field == "solver.kind" => "linear_solver".to_string(),
            None => field,
        }
    };
    match e {
        Error::InvalidInput { field, reason } => Error::InvalidInput {
            field: rename(field),
            reason,
        },
        Error::UnknownName {
            field,
            what,
            name,
            known,
        } => Error::UnknownName {
            field: rename(field),
            what,
            name,
            known,
        },
        Error::Expression {
            field,
            text,
            column,
            message,
        } => Error::Expression {
            field: rename(field),
            text,
            column,
            message,
        },
        other => other,
    }
}

/// Checks that named (non-`auto`) solvers and preconditioners are registered.
fn check_solver_names(registry: &Registry, kind: &str, preconditioner: &str) -> Result<()> {
    use crate::config::AUTO;
    let options = femscale_solvers::MethodOptions::default();
    if kind != AUTO {
        let pc = if preconditioner == AUTO {
            "none"
        } else {
            preconditioner
        };
        registry.solver(kind, pc, &options)?;
    } else if preconditioner != AUTO {
        registry.preconditioner(preconditioner, &options)?;
    }
    Ok(())
}

/// Maps solver option errors to the config keys they come from.
fn solve_error(e: SolveError) -> Error {
    match e {
        SolveError::InvalidOption { option, reason } => {
            Error::invalid(format!("solver.{option}"), reason)
        }
        other => Error::Solve(other),
    }
}

/// Prefixes field names from lower layers (`mesh.nx`, `boundary[0].where`) with the config
/// section they live in (`problem.`), unless they already carry it.
fn in_section(e: Error, prefix: &str) -> Error {
    let fix = |field: String| {
        if field.starts_with(prefix) || field == "system" || field == "pattern" {
            field
        } else {
            format!("{prefix}{field}")
        }
    };
    match e {
        Error::InvalidInput { field, reason } => Error::InvalidInput {
            field: fix(field),
            reason,
        },
        Error::UnknownName {
            field,
            what,
            name,
            known,
        } => Error::UnknownName {
            field: fix(field),
            what,
            name,
            known,
        },
        other => other,
    }
}
