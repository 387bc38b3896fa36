//! Components by name: solvers, preconditioners, assemblers and cache levels are registered
//! here by the crates that implement them, solvers and preconditioners also by loaded plugins,
//! and looked up from configuration strings.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use femscale_core::{
    Assembler, Cache, Error, LinearSolver, NoCache, PreconditionerFactory, Result, SolverInfo,
};
use femscale_solvers::MethodOptions;

use crate::caching::{CacheConfig, DISK_LEVEL, REDIS_LEVEL};
use crate::config::Config;

/// Builds a solver around the preconditioner chosen for it (direct solvers ignore it), reading
/// its section of the per-method options.
pub type SolverBuilder = Arc<
    dyn Fn(Arc<dyn PreconditionerFactory>, &MethodOptions) -> Box<dyn LinearSolver> + Send + Sync,
>;

/// Builds a preconditioner factory from the per-method options.
pub type PreconditionerBuilder =
    Arc<dyn Fn(&MethodOptions) -> Arc<dyn PreconditionerFactory> + Send + Sync>;

/// Builds an assembler integrating with a quadrature of the given degree.
pub type AssemblerBuilder = Arc<dyn Fn(usize) -> Box<dyn Assembler> + Send + Sync>;

/// Builds a byte-level cache level from the `[cache]` section (the `memory` level of live
/// objects is built by the runtime itself).
pub type CacheBuilder = Arc<dyn Fn(&CacheConfig) -> Result<Arc<dyn Cache>> + Send + Sync>;

/// Named builders of every swappable component: solvers, preconditioners, assemblers and
/// cache levels. (Scalers are not looked up by name: `scaling.level` chooses between the
/// adaptive scaler of `femscale-scaling` and the core's `StaticScaler`.)
#[derive(Clone, Default)]
pub struct Registry {
    solvers: BTreeMap<String, (SolverBuilder, SolverInfo)>,
    preconditioners: BTreeMap<String, PreconditionerBuilder>,
    assemblers: BTreeMap<String, AssemblerBuilder>,
    caches: BTreeMap<String, CacheBuilder>,
    /// `plugin:<name>` → identity (name, version, SHA-256) of the library providing it.
    plugin_identities: BTreeMap<String, String>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("solvers", &self.solver_names())
            .field("preconditioners", &self.preconditioner_names())
            .field("assemblers", &self.assemblers.keys().collect::<Vec<_>>())
            .field("caches", &self.caches.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The identity of the plugin library behind the component registered as `name`
    /// (`plugin:<name>`): its name, version and content hash. `None` for built-ins. Cache keys
    /// include it, so a rebuilt library never gets the old library's results.
    pub fn plugin_identity(&self, name: &str) -> Option<&str> {
        self.plugin_identities.get(name).map(String::as_str)
    }

    /// Records which plugin library provides the component registered as `name`.
    #[cfg_attr(not(feature = "plugins"), allow(dead_code))]
    pub(crate) fn set_plugin_identity(&mut self, name: &str, identity: String) {
        self.plugin_identities.insert(name.to_string(), identity);
    }

    /// The built-in components plus the plugins of `config.plugins`, registered as
    /// `plugin:<name>` with their options from `[plugins.options.<name>]`.
    ///
    /// # Errors
    /// [`Error::Plugin`] when a library of `plugins.paths` fails to load;
    /// [`Error::InvalidInput`] (field `plugins.options.<name>`) for options no loaded component
    /// takes, that are not a table, or that the plugin rejects;
    /// [`Error::FeatureDisabled`] when plugins are configured and the `plugins` feature is off.
    pub fn from_config(config: &Config) -> Result<Self> {
        let mut registry = Self::with_builtins();
        registry.register_configured_plugins(&config.plugins)?;
        Ok(registry)
    }

    /// A registry holding every built-in component.
    pub fn with_builtins() -> Self {
        let mut r = Self::empty();
        for (name, build, info) in femscale_solvers::builtin_solvers() {
            r.register_solver(name, Arc::new(build), info);
        }
        for (name, build) in femscale_solvers::builtin_preconditioners() {
            r.register_preconditioner(name, Arc::new(build));
        }
        r.register_assembler(
            "serial",
            Arc::new(|quadrature_degree| {
                Box::new(femscale_assembly::SerialAssembler { quadrature_degree })
            }),
        );
        r.register_assembler(
            "parallel",
            Arc::new(|quadrature_degree| {
                Box::new(femscale_assembly::ParallelAssembler {
                    quadrature_degree,
                    ..Default::default()
                })
            }),
        );
        r.register_cache("none", Arc::new(|_| Ok(Arc::new(NoCache::default()))));
        r.register_cache(DISK_LEVEL, Arc::new(open_disk_cache));
        #[cfg(feature = "redis")]
        r.register_cache(REDIS_LEVEL, Arc::new(redis_level));
        r
    }

    /// Adds (or replaces) an assembler.
    pub fn register_assembler(&mut self, name: &str, build: AssemblerBuilder) {
        self.assemblers.insert(name.to_string(), build);
    }

    /// Adds (or replaces) a cache level.
    pub fn register_cache(&mut self, name: &str, build: CacheBuilder) {
        self.caches.insert(name.to_string(), build);
    }

    /// The assembler called `name` (`serial`, `parallel`: the runtime picks one by
    /// `assembly.parallel` and the problem size).
    ///
    /// # Errors
    /// [`Error::UnknownName`] with field `assembly.parallel`.
    pub fn assembler(&self, name: &str, quadrature_degree: usize) -> Result<Box<dyn Assembler>> {
        let build = self
            .assemblers
            .get(name)
            .ok_or_else(|| unknown("assembly.parallel", "assembler", name, &self.assemblers))?;
        Ok(build(quadrature_degree))
    }

    /// The byte-level cache level called `name` (`disk`, `redis`, `none`), configured by
    /// `config`.
    ///
    /// # Errors
    /// [`Error::UnknownName`] with field `cache.levels` (listing `memory` too), or the level's
    /// own failure to open (unwritable directory, unreachable server);
    /// [`Error::FeatureDisabled`] for `redis` in a build without the `redis` feature (unless a
    /// level of that name was registered).
    pub fn cache(&self, name: &str, config: &CacheConfig) -> Result<Arc<dyn Cache>> {
        let build = self.caches.get(name).ok_or_else(|| {
            if name == REDIS_LEVEL && !cfg!(feature = "redis") {
                return Error::feature_disabled("cache.levels", "the `redis` cache level", "redis");
            }
            let mut e = unknown("cache.levels", "cache level", name, &self.caches);
            if let Error::UnknownName { known, .. } = &mut e {
                known.push(crate::caching::MEMORY_LEVEL.into());
                known.sort();
            }
            e
        })?;
        build(config)
    }

    /// Names of the registered byte-level caches.
    pub fn cache_names(&self) -> Vec<String> {
        self.caches.keys().cloned().collect()
    }

    /// Adds (or replaces) a solver, with what the planner needs to know of it.
    pub fn register_solver(&mut self, name: &str, build: SolverBuilder, info: SolverInfo) {
        self.solvers.insert(name.to_string(), (build, info));
    }

    /// What the planner needs to know of the solver called `name`.
    ///
    /// # Errors
    /// [`Error::UnknownName`] with field `solver.kind`.
    pub fn solver_info(&self, name: &str) -> Result<SolverInfo> {
        Ok(self.solver_entry(name)?.1)
    }

    fn solver_entry(&self, name: &str) -> Result<&(SolverBuilder, SolverInfo)> {
        self.solvers.get(name).ok_or_else(|| Error::UnknownName {
            field: "solver.kind".into(),
            what: "solver".into(),
            name: name.into(),
            known: self.solver_names(),
        })
    }

    /// Refuses a `solver.preconditioner` that the solver `kind` would silently ignore:
    /// anything but `auto` (the default) or `none` for a solver that takes no preconditioner
    /// (the direct solver, AMG as a solver, plugin solvers). `auto` as `kind` passes: it may
    /// resolve to a Krylov method that uses the preconditioner.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for `solver.preconditioner`, naming `solver.kind` too;
    /// [`Error::UnknownName`] for an unregistered `kind`.
    pub fn check_preconditioner_use(&self, kind: &str, preconditioner: &str) -> Result<()> {
        use crate::config::AUTO;
        if matches!(preconditioner, AUTO | "none") || kind == AUTO {
            return Ok(());
        }
        if self.solver_info(kind)?.takes_preconditioner {
            return Ok(());
        }
        let reason = match kind.strip_prefix("plugin:") {
            Some(component) => format!(
                "`{preconditioner}` cannot be used with the plugin solver `{kind}`: plugin \
                 solvers do not take femscale's preconditioners (it would be ignored); use \
                 `auto` or `none`, and configure the plugin's own preconditioning in \
                 [plugins.options.{component}], or use a built-in Krylov solver (`cg`, \
                 `gmres`, `bicgstab`) with `{preconditioner}`"
            ),
            None => format!(
                "`{preconditioner}` would be ignored with solver.kind = \"{kind}\", which takes \
                 no preconditioner; set solver.preconditioner to `auto` or `none`, or choose \
                 a Krylov solver (`cg`, `gmres`, `bicgstab`) or `auto` for solver.kind"
            ),
        };
        Err(Error::invalid("solver.preconditioner", reason))
    }

    /// Adds (or replaces) a preconditioner.
    pub fn register_preconditioner(&mut self, name: &str, build: PreconditionerBuilder) {
        self.preconditioners.insert(name.to_string(), build);
    }

    /// Registered solver names, sorted.
    pub fn solver_names(&self) -> Vec<String> {
        self.solvers.keys().cloned().collect()
    }

    /// Registered preconditioner names, sorted.
    pub fn preconditioner_names(&self) -> Vec<String> {
        self.preconditioners.keys().cloned().collect()
    }

    /// The preconditioner factory called `name`, configured by `options`.
    ///
    /// # Errors
    /// [`Error::UnknownName`] with field `solver.preconditioner`.
    pub fn preconditioner(
        &self,
        name: &str,
        options: &MethodOptions,
    ) -> Result<Arc<dyn PreconditionerFactory>> {
        let build = self
            .preconditioners
            .get(name)
            .ok_or_else(|| Error::UnknownName {
                field: "solver.preconditioner".into(),
                what: "preconditioner".into(),
                name: name.into(),
                known: self.preconditioner_names(),
            })?;
        Ok(build(options))
    }

    /// The solver called `name`, built around the preconditioner called `preconditioner`, both
    /// configured by `options`.
    ///
    /// # Errors
    /// [`Error::UnknownName`] with field `solver.kind` or `solver.preconditioner`.
    pub fn solver(
        &self,
        name: &str,
        preconditioner: &str,
        options: &MethodOptions,
    ) -> Result<Box<dyn LinearSolver>> {
        let (build, _) = self.solver_entry(name)?;
        Ok(build(
            self.preconditioner(preconditioner, options)?,
            options,
        ))
    }
}

/// The `disk` level: `cache.disk_dir` capped at `cache.disk_max_mb`.
fn open_disk_cache(config: &CacheConfig) -> Result<Arc<dyn Cache>> {
    let max = femscale_core::checks::mb_to_bytes(config.disk_max_mb);
    Ok(Arc::new(femscale_cache::DiskCache::open(
        &config.disk_dir,
        max,
    )?))
}

/// The `redis` level at `cache.redis_url`.
#[cfg(feature = "redis")]
fn redis_level(config: &CacheConfig) -> Result<Arc<dyn Cache>> {
    // Clamped conversions: a huge configured value never panics (bounds: `config::bounds`).
    use crate::config::duration_from_seconds;
    let timeout = duration_from_seconds(config.redis_timeout_seconds.max(1e-3))
        .unwrap_or(std::time::Duration::from_secs(2));
    let options = femscale_cache::RedisOptions {
        prefix: config.redis_prefix.clone(),
        ttl: config
            .ttl_seconds
            .filter(|t| *t >= 1e-3)
            .and_then(duration_from_seconds),
        connect_timeout: timeout,
        io_timeout: timeout * 5,
    };
    Ok(Arc::new(femscale_cache::RedisCache::connect(
        &config.redis_url,
        options,
    )?))
}

fn unknown<T>(field: &str, what: &str, name: &str, known: &BTreeMap<String, T>) -> Error {
    Error::UnknownName {
        field: field.into(),
        what: what.into(),
        name: name.into(),
        known: known.keys().cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_component_kind_is_looked_up_by_name() {
        let r = Registry::with_builtins();
        assert_eq!(r.assembler("parallel", 2).unwrap().name(), "parallel");
        assert_eq!(r.assembler("serial", 2).unwrap().name(), "serial");
        let config = CacheConfig::default();
        assert_eq!(r.cache("none", &config).unwrap().name(), "none");
        match r.assembler("gpu", 2) {
            Err(Error::UnknownName { field, known, .. }) => {
                assert_eq!(field, "assembly.parallel");
                assert_eq!(known, ["parallel", "serial"]);
            }
            other => panic!("expected UnknownName, got {other:?}"),
        }
        match r.cache("s3", &config) {
            Err(Error::UnknownName { known, .. }) => {
                let mut expected = vec!["disk", "memory", "none"];
                if cfg!(feature = "redis") {
                    expected.push("redis");
                }
                assert_eq!(known, expected);
            }
            other => panic!("expected UnknownName, got {other:?}"),
        }
        assert!(r.solver("cg", "amg", &MethodOptions::default()).is_ok());
    }

    #[test]
    fn solvers_carry_what_the_planner_needs() {
        let r = Registry::with_builtins();
        let info = |name| r.solver_info(name).unwrap();
        assert_eq!(info("cg").default_preconditioner, "amg");
        assert_eq!(info("gmres").default_preconditioner, "ilu0");
        assert_eq!(info("gmres").options_section, Some("solver.gmres"));
        assert!(!info("direct").takes_preconditioner);
        assert_eq!(
            info("direct").memory_model,
            Some(femscale_core::SolverChoice::Direct)
        );
        assert!(matches!(
            r.solver_info("nope"),
            Err(Error::UnknownName { .. })
        ));
    }

    #[test]
    fn a_preconditioner_the_solver_would_ignore_is_refused() {
        let r = Registry::with_builtins();
        for (kind, pc) in [
            ("direct", "auto"),
            ("direct", "none"),
            ("amg", "none"),
            ("auto", "jacobi"),
            ("cg", "jacobi"),
        ] {
            r.check_preconditioner_use(kind, pc).unwrap();
        }
        for (kind, pc) in [("direct", "jacobi"), ("amg", "ilu0")] {
            let e = r.check_preconditioner_use(kind, pc).unwrap_err();
            assert_eq!(
                e.field_name().as_deref(),
                Some("solver.preconditioner"),
                "{kind} {pc}: {e}"
            );
            assert!(e.to_string().contains(kind), "{e}");
        }
        // Through the library: the error names both keys.
        let mut c = crate::Config::default();
        c.solver.kind = "direct".into();
        c.solver.preconditioner = "jacobi".into();
        let e = crate::FemSolver::from_config(c).unwrap_err();
        assert_eq!(
            e.field_name().as_deref(),
            Some("solver.preconditioner"),
            "{e}"
        );
        assert!(e.to_string().contains("solver.kind"), "{e}");
    }
}
