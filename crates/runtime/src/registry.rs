//! Components by name: solvers and preconditioners are registered here by the crates that
//! implement them (and, later, by plugins) and looked up from configuration strings.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use femscale_core::{Error, LinearSolver, PreconditionerFactory, Result};
use femscale_solvers::MethodOptions;

/// Builds a solver around the preconditioner chosen for it (direct solvers ignore it), reading
/// its section of the per-method options.
pub type SolverBuilder = Arc<
    dyn Fn(Arc<dyn PreconditionerFactory>, &MethodOptions) -> Box<dyn LinearSolver> + Send + Sync,
>;

/// Builds a preconditioner factory from the per-method options.
pub type PreconditionerBuilder =
    Arc<dyn Fn(&MethodOptions) -> Arc<dyn PreconditionerFactory> + Send + Sync>;

/// Named solver and preconditioner builders.
#[derive(Clone, Default)]
pub struct Registry {
    solvers: BTreeMap<String, SolverBuilder>,
    preconditioners: BTreeMap<String, PreconditionerBuilder>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("solvers", &self.solver_names())
            .field("preconditioners", &self.preconditioner_names())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A registry holding every built-in component.
    pub fn with_builtins() -> Self {
        let mut r = Self::empty();
        for (name, build) in femscale_solvers::builtin_solvers() {
            r.register_solver(name, Arc::new(build));
        }
        for (name, build) in femscale_solvers::builtin_preconditioners() {
            r.register_preconditioner(name, Arc::new(build));
        }
        r
    }

    /// Adds (or replaces) a solver.
    pub fn register_solver(&mut self, name: &str, build: SolverBuilder) {
        self.solvers.insert(name.to_string(), build);
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
        let build = self.solvers.get(name).ok_or_else(|| Error::UnknownName {
            field: "solver.kind".into(),
            what: "solver".into(),
            name: name.into(),
            known: self.solver_names(),
        })?;
        Ok(build(
            self.preconditioner(preconditioner, options)?,
            options,
        ))
    }
}
