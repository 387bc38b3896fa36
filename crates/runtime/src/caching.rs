//! In-process reuse of solutions and prepared solvers (factorizations, AMG hierarchies), keyed by
//! content hashes over everything that produced them.
//!
//! Two keys per problem: the *operator* key covers the mesh, the coefficients that enter the
//! matrix (diffusion, reaction, Robin `alpha`), which boundary parts are Dirichlet, the
//! parameters, the assembly options and the solver configuration; the *solution* key adds the
//! source, every boundary value and the exact solution. A sweep over sources or boundary values
//! therefore reuses one factorization; solving the same problem twice returns the stored
//! solution. Problems with Rust-closure fields cannot be hashed and are never cached.

use std::sync::{Arc, Mutex};

use femscale_cache::{KeyBuilder, ObjectStore};
use femscale_core::{CacheKey, CacheStats, PreparedSolver};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::problem::{BoundarySpecKind, FieldSpec, MeshSpec, Problem};

/// `[cache]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Memory for stored solutions and prepared solvers, MB (default 1024); used when the
    /// scaling level enables caching (`scaling.enable_caching`).
    pub memory_mb: f64,
    /// Entries older than this many seconds are dropped (default: never).
    pub ttl_seconds: Option<f64>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            memory_mb: 1024.0,
            ttl_seconds: None,
        }
    }
}

/// A prepared solver shared between solves with the same operator.
pub(crate) type SharedPrepared = Mutex<Box<dyn PreparedSolver>>;

/// The in-process store of one [`crate::FemSolver`].
#[derive(Debug)]
pub(crate) struct SolveCache {
    objects: ObjectStore,
}

/// The two content keys of a problem.
#[derive(Debug, Clone)]
pub(crate) struct ProblemKeys {
    pub operator: CacheKey,
    pub solution: CacheKey,
}

impl SolveCache {
    /// A store bounded by `config.memory_mb`.
    pub fn new(config: &CacheConfig) -> Self {
        let bytes = (config.memory_mb.max(0.0) * 1024.0 * 1024.0) as usize;
        let objects = match config.ttl_seconds {
            Some(t) if t > 0.0 && t.is_finite() => {
                ObjectStore::with_ttl(bytes, std::time::Duration::from_secs_f64(t))
            }
            _ => ObjectStore::new(bytes),
        };
        Self { objects }
    }

    pub fn solution(&self, key: &CacheKey) -> Option<Arc<crate::Solution>> {
        self.objects.get::<crate::Solution>(key)
    }

    pub fn store_solution(&self, key: CacheKey, solution: crate::Solution) {
        let bytes = solution.values.len() * 8
            + solution.mesh.coords().len() * 8
            + solution.mesh.cells().len() * 8;
        self.objects.insert(key, Arc::new(solution), bytes);
    }

    pub fn prepared(&self, key: &CacheKey) -> Option<Arc<SharedPrepared>> {
        self.objects.get::<SharedPrepared>(key)
    }

    pub fn store_prepared(&self, key: CacheKey, prepared: Arc<SharedPrepared>, bytes: usize) {
        self.objects.insert(key, prepared, bytes);
    }

    pub fn stats(&self) -> CacheStats {
        self.objects.stats()
    }
}

fn field(b: KeyBuilder, name: &str, f: &FieldSpec) -> Option<KeyBuilder> {
    match f {
        FieldSpec::Constant(v) => Some(b.str(name, "constant").f64(name, *v)),
        FieldSpec::Expr(text) => Some(b.str(name, "expr").str(name, text)),
        FieldSpec::Field(_) => None,
    }
}

fn optional(b: KeyBuilder, name: &str, f: Option<&FieldSpec>) -> Option<KeyBuilder> {
    match f {
        Some(f) => field(b.bool(name, true), name, f),
        None => Some(b.bool(name, false)),
    }
}

fn mesh(b: KeyBuilder, m: &MeshSpec) -> KeyBuilder {
    match m {
        MeshSpec::Interval { x, n } => b.str("mesh", "interval").f64s("x", x).u64("n", *n as u64),
        MeshSpec::IntervalNodes(nodes) => b.str("mesh", "nodes").f64s("nodes", nodes),
        MeshSpec::Rectangle(r) => b
            .str("mesh", "rectangle")
            .str("spec", &serde_json::to_string(r).unwrap_or_default()),
        MeshSpec::Mesh(m) => {
            let mut b = b
                .str("mesh", "given")
                .f64s("coords", m.coords())
                .usizes("cells", m.cells());
            for part in m.boundary_parts() {
                b = b
                    .str("part", &part.name)
                    .usizes("facets", &part.facets)
                    .usizes("nodes", &part.nodes);
            }
            b
        }
    }
}

/// The keys of `problem` solved with `config` and solver `kind`, or `None` when a field is a
/// Rust closure (not hashable).
pub(crate) fn problem_keys(problem: &Problem, config: &Config, kind: &str) -> Option<ProblemKeys> {
    let settings = serde_json::json!({
        "solver": config.solver,
        "kind": kind,
        "assembly": config.assembly,
    });
    let mut op =
        mesh(KeyBuilder::new("operator"), &problem.mesh).str("settings", &settings.to_string());
    op = field(op, "diffusion", &problem.diffusion)?;
    op = optional(op, "reaction", problem.reaction.as_ref())?;
    for (name, value) in &problem.params {
        op = op.str("param", name).f64("value", *value);
    }
    for bc in &problem.boundary {
        op = op.str("part", &bc.part);
        op = match &bc.kind {
            BoundarySpecKind::Dirichlet(_) => op.str("kind", "dirichlet"),
            BoundarySpecKind::Neumann(_) => op.str("kind", "neumann"),
            BoundarySpecKind::Robin { alpha, .. } => {
                field(op.str("kind", "robin"), "alpha", alpha)?
            }
        };
    }
    let operator = op.clone().finish();
    let mut sol = op.str("stage", "solution");
    sol = optional(sol, "source", problem.source.as_ref())?;
    sol = optional(sol, "exact", problem.exact.as_ref())?;
    for bc in &problem.boundary {
        sol = match &bc.kind {
            BoundarySpecKind::Dirichlet(v) | BoundarySpecKind::Neumann(v) => {
                field(sol, "value", v)?
            }
            BoundarySpecKind::Robin { value, .. } => field(sol, "value", value)?,
        };
    }
    Some(ProblemKeys {
        operator,
        solution: sol.finish(),
    })
}
