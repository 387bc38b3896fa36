//! Content keys of a problem's artefacts.
//!
//! Three keys, each extending the previous one:
//!
//! * **system** — the assembled, Dirichlet-eliminated operator: the mesh (geometry, topology,
//!   boundary parts), the element and quadrature (assembly options), the coefficients that enter
//!   the matrix (diffusion, reaction, Robin `alpha`), which boundary parts are Dirichlet, and the
//!   parameters;
//! * **prepared** — the set-up solver (factorization, AMG hierarchy): the system plus the whole
//!   solver configuration, the resolved solver kind and the `[plugins]` section;
//! * **solution** — the prepared key plus the source, every boundary value and the exact
//!   solution.
//!
//! A sweep over sources or boundary values therefore reuses one assembled operator and one
//! factorization; solving the same problem twice returns the stored solution. Every key
//! starts with the [`Versions`] that computed and encoded the artefact: the femscale version,
//! the discretisation version of `femscale-assembly` and the cache crate's format version, so
//! an entry written by other code misses. The versions live in the key only, not in the entry
//! headers of the disk and Redis levels: those headers carry the version of their own byte
//! layout (what a reader must understand to verify an entry), and every entry stores and
//! verifies its full key, whose digest covers the versions. Problems with Rust-closure fields
//! cannot be hashed and are never cached.

use femscale_assembly::DISCRETISATION_VERSION;
use femscale_cache::{FORMAT_VERSION, KeyBuilder};
use femscale_core::CacheKey;

use crate::config::Config;
use crate::{BUILD_ID, FEMSCALE_VERSION};
use femscale_core::BoundaryFieldRole;

use crate::problem::{FieldSpec, MeshSpec, Problem};
use crate::registry::Registry;

/// The content keys of one problem solved with one configuration.
#[derive(Debug, Clone)]
pub(crate) struct ProblemKeys {
    pub system: CacheKey,
    pub prepared: CacheKey,
    pub solution: CacheKey,
}

fn field(b: KeyBuilder, name: &str, f: &FieldSpec) -> Option<KeyBuilder> {
    match f {
        FieldSpec::Constant(v) => Some(b.str(name, "constant").f64(name, *v)),
        FieldSpec::Expr(text) => Some(b.str(name, "expr").str(name, text)),
        FieldSpec::Field(_) => None,
        FieldSpec::BySubdomain(pieces) => {
            let mut b = b.str(name, "by-subdomain").u64(name, pieces.len() as u64);
            for (key, piece) in pieces {
                b = field(b.str(name, key), name, piece)?;
            }
            Some(b)
        }
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
        MeshSpec::Box(spec) => b
            .str("mesh", "box")
            .str("spec", &serde_json::to_string(spec).unwrap_or_default()),
        MeshSpec::Mesh(m) => {
            let mut b = b
                .str("mesh", "given")
                .f64s("coords", m.coords())
                .usizes("cells", m.cells())
                .u64("mesh_order", m.order().get() as u64)
                .bool("curved", m.is_curved());
            for part in m.boundary_parts() {
                b = b
                    .str("part", &part.name)
                    .i64("part_id", part.id.map_or(i64::MIN, i64::from))
                    .usizes("facets", &part.facets)
                    .usizes("nodes", &part.nodes);
            }
            for s in m.subdomains() {
                b = b
                    .i64("subdomain", i64::from(s.id))
                    .str("name", s.name.as_deref().unwrap_or(""));
            }
            let markers: Vec<usize> = m
                .cell_markers()
                .iter()
                .map(|&c| c as u32 as usize)
                .collect();
            b.usizes("cell_markers", &markers)
        }
        // The file's contents, not its name, decide the mesh (an unreadable file gets a key
        // that no readable one shares; reading it then fails with its own error).
        MeshSpec::Gmsh(path) => match read_regular_file(path) {
            Ok(bytes) => b.str("mesh", "gmsh").field("contents", bytes),
            Err(e) => b
                .str("mesh", "gmsh-unreadable")
                .str("path", &path.to_string_lossy())
                .str("error", &e.to_string()),
        },
        MeshSpec::Refined { base, times } => mesh(b, base)
            .str("mesh", "refined")
            .u64("refinements", *times as u64),
        MeshSpec::Parts { base, parts } => {
            let mut b = mesh(b, base).str("mesh", "parts");
            for (name, predicate) in parts {
                b = b.str("part", name).str("predicate", predicate);
            }
            b
        }
    }
}

/// The versions of the code behind a cached artefact; each is part of every key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Versions<'a> {
    /// The femscale version ([`FEMSCALE_VERSION`]).
    pub femscale: &'a str,
    /// The build ([`BUILD_ID`]): a hash of the code behind the result.
    pub build: &'a str,
    /// The discretisation version ([`DISCRETISATION_VERSION`]): elements, quadrature,
    /// coefficient evaluation.
    pub discretisation: u32,
    /// The cache crate's key scheme and artefact encoding ([`FORMAT_VERSION`]).
    pub format: u32,
}

impl Versions<'static> {
    /// The versions of this build.
    pub(crate) const CURRENT: Self = Self {
        femscale: FEMSCALE_VERSION,
        build: BUILD_ID,
        discretisation: DISCRETISATION_VERSION,
        format: FORMAT_VERSION,
    };
}

/// The bytes of the regular file (or link to one) at `path`; a device such as `/dev/zero` or
/// a FIFO is refused without being read (it may never end), as the mesh reader refuses it.
fn read_regular_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    std::fs::read(path)
}

/// The keys of `problem` solved with `config` and solver `kind`, or `None` when a field is a
/// Rust closure (not hashable).
///
/// Every key includes the femscale version, the build id, the discretisation and cache format versions (entries of
/// another version miss); the prepared and solution keys include the identity (name, version,
/// SHA-256 of the library) of the plugins behind `kind` and `solver.preconditioner`, as
/// `registry` knows them.
pub(crate) fn problem_keys(
    problem: &Problem,
    config: &Config,
    kind: &str,
    registry: &Registry,
) -> Option<ProblemKeys> {
    keys_of_versions(problem, config, kind, registry, Versions::CURRENT)
}

/// [`problem_keys`] as the code of `versions` would compute them (tests check that entries of
/// another version miss).
fn keys_of_versions(
    problem: &Problem,
    config: &Config,
    kind: &str,
    registry: &Registry,
    versions: Versions<'_>,
) -> Option<ProblemKeys> {
    let assembly = serde_json::to_string(&config.assembly).unwrap_or_default();
    let mut op = mesh(
        KeyBuilder::new("system")
            .with_format_version(versions.format)
            .str("femscale", versions.femscale)
            .str("build", versions.build)
            .u64("discretisation", u64::from(versions.discretisation)),
        &problem.mesh,
    )
    .u64("order", problem.order.get() as u64)
    .str("assembly", &assembly);
    op = field(op, "diffusion", &problem.diffusion)?;
    op = optional(op, "reaction", problem.reaction.as_ref())?;
    for (name, value) in &problem.params {
        op = op.str("param", name).f64("value", *value);
    }
    for bc in &problem.boundary {
        op = op.str("part", &bc.part).str("kind", bc.kind.name());
        for (name, role, f) in bc.kind.fields() {
            if role == BoundaryFieldRole::Operator {
                op = field(op, name, f)?;
            }
        }
    }
    let system = op.clone().finish();
    // Plugin paths and options decide what a `plugin:<name>` solver computes.
    let solver =
        serde_json::json!({ "solver": config.solver, "kind": kind, "plugins": config.plugins })
            .to_string();
    let mut prep = op.str("stage", "prepared").str("solver", &solver);
    for name in [kind, config.solver.preconditioner.as_str()] {
        if let Some(identity) = registry.plugin_identity(name) {
            prep = prep.str("plugin", identity);
        }
    }
    let prepared = rekind(prep.clone().finish(), "prepared");
    let mut sol = prep.str("stage", "solution");
    sol = optional(sol, "source", problem.source.as_ref())?;
    sol = optional(sol, "exact", problem.exact.as_ref())?;
    for bc in &problem.boundary {
        for (name, role, f) in bc.kind.fields() {
            if role == BoundaryFieldRole::Data {
                sol = field(sol, name, f)?;
            }
        }
    }
    Some(ProblemKeys {
        system,
        prepared,
        solution: rekind(sol.finish(), "solution"),
    })
}

/// `key` under another kind name; the digest already covers the stage, so kinds only make
/// keys readable and patterns (`solution_*`) selective.
fn rekind(key: CacheKey, kind: &str) -> CacheKey {
    CacheKey::new(kind, key.digest)
}

#[cfg(test)]
mod tests;
