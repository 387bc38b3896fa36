//! The configuration schema (`[problem]`, `[solver]`, `[assembly]`, `[scaling]`) and its
//! layered loading: built-in defaults < TOML file < `--set key=value` overrides.
//!
//! Every struct is `#[serde(default, deny_unknown_fields)]`: a missing key takes its default, an
//! unknown key is an error naming the key and the file.

use std::path::PathBuf;
use std::sync::Arc;

use femscale_core::{Error, Result, SolverOptions};
use femscale_solvers::{AmgOptions, DirectOptions, GmresOptions, MethodOptions, SsorOptions};
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::{Deserialize, Serialize};

use crate::problem::Problem;
pub use crate::scaling::ScalingConfig;

mod adaptivity;
mod bounds;
mod errors;
mod finite;
mod kind_text;
mod layers;
mod locate;
mod replace;
mod source_map;

pub use adaptivity::{
    AdaptiveTarget, AdaptivityConfig, EstimatorKind, MAX_ADAPTIVE_STEPS, MarkingKind,
};
pub use bounds::{
    MAX_AMG_LEVELS, MAX_GMRES_RESTART, MAX_MEGABYTES, MAX_SECONDS, MAX_SMOOTHING_WORK, MAX_THREADS,
    check_count, duration_from_seconds,
};
use errors::config_error;
pub use errors::{closest, figment_error};
pub use finite::check_finite_values;
pub(crate) use layers::{ENV_NAME, OVERRIDE_API_NAME, stacked_over_values};
pub use layers::{Layer, env_layers, env_layers_over, parse_override, stacked};
use layers::{OVERRIDE_NAME, TomlText};
pub use locate::{Attribution, Origin};
pub use replace::{Dropping, TableReplacements};
pub use source_map::{FieldPath, Position, SourceMap, Step};

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The problem to solve.
    pub problem: Problem,
    /// The linear solver.
    pub solver: SolverConfig,
    /// Assembly options.
    pub assembly: AssemblyConfig,
    /// Threads and resources.
    pub scaling: ScalingConfig,
    /// Reuse of solutions and prepared solvers.
    pub cache: crate::caching::CacheConfig,
    /// Solver and preconditioner plugins to load (`docs/plugins.md`).
    pub plugins: crate::plugins::PluginsConfig,
    /// The adaptive loop (`docs/adaptivity.md`).
    pub adaptivity: AdaptivityConfig,
}

/// `[solver]`: which linear solver and its stopping criteria and budgets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SolverConfig {
    /// Registry name of the solver: `auto` (default: `direct` up to `auto_direct_max_dofs`
    /// unknowns, CG beyond), `direct`, `cg`, `gmres`, `bicgstab`, `amg`, or `plugin:<name>`.
    pub kind: String,
    /// Registry name of the preconditioner for iterative solvers: `auto` (default: `amg` for CG,
    /// `ilu0` for GMRES and BiCGStab), `none`, `jacobi`, `ssor`, `ilu0`, `ic0` or `amg`.
    pub preconditioner: String,
    /// With `kind = "auto"`: problems up to this many unknowns use the direct solver
    /// (default 20000).
    pub auto_direct_max_dofs: usize,
    /// Relative residual tolerance (default `1e-8`).
    pub tolerance: f64,
    /// Absolute residual tolerance (default `0`).
    pub absolute_tolerance: f64,
    /// Iteration limit (default 10000).
    pub max_iterations: usize,
    /// Wall-clock limit for set-up plus solve, seconds (default: none).
    pub timeout_seconds: Option<f64>,
    /// Memory limit for factors and preconditioners, MB (default: none).
    pub memory_limit_mb: Option<f64>,
    /// `[solver.gmres]`: restarted GMRES options.
    pub gmres: GmresOptions,
    /// `[solver.amg]`: algebraic multigrid options.
    pub amg: AmgOptions,
    /// `[solver.ssor]`: SSOR / symmetric Gauss–Seidel options.
    pub ssor: SsorOptions,
    /// `[solver.direct]`: sparse direct solver options.
    pub direct: DirectOptions,
    /// How a distributed solver's processes split the mesh: `rcb` (default: recursive
    /// coordinate bisection into equal parts) or `metis` (graph partitioning, the `metis`
    /// feature; parts balanced within 3 %, fewer cut couplings on unstructured meshes).
    pub partition: Partitioner,
}

/// `solver.partition`: how the nodes of a mesh are split among the processes of a
/// distributed solve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Partitioner {
    /// Recursive coordinate bisection into parts of equal sizes (±1).
    #[default]
    Rcb,
    /// METIS k-way partitioning of the node graph.
    Metis,
}

impl Default for SolverConfig {
    fn default() -> Self {
        let o = SolverOptions::default();
        Self {
            kind: AUTO.into(),
            preconditioner: AUTO.into(),
            auto_direct_max_dofs: 20_000,
            tolerance: o.tolerance,
            absolute_tolerance: o.absolute_tolerance,
            max_iterations: o.max_iterations,
            timeout_seconds: None,
            memory_limit_mb: None,
            gmres: GmresOptions::default(),
            amg: AmgOptions::default(),
            ssor: SsorOptions::default(),
            direct: DirectOptions::default(),
            partition: Partitioner::default(),
        }
    }
}

/// The name that asks the runtime to choose (`solver.kind`, `solver.preconditioner`).
pub const AUTO: &str = "auto";

impl SolverConfig {
    /// The per-method sections as the solvers crate takes them.
    pub fn method_options(&self) -> MethodOptions {
        let mut m = MethodOptions::default();
        m.gmres = self.gmres.clone();
        m.amg = self.amg.clone();
        m.ssor = self.ssor.clone();
        m.direct = self.direct.clone();
        m
    }

    /// The core solver options these settings describe.
    pub fn options(&self, threads: usize) -> SolverOptions {
        let mut o = SolverOptions::default();
        o.tolerance = self.tolerance;
        o.absolute_tolerance = self.absolute_tolerance;
        o.max_iterations = self.max_iterations;
        o.timeout_seconds = self.timeout_seconds;
        o.memory_limit_mb = self.memory_limit_mb;
        o.threads = threads;
        o
    }
}

/// `[assembly]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AssemblyConfig {
    /// `true`/`false` forces the parallel/serial assembler; unset decides by problem size.
    pub parallel: Option<bool>,
    /// Cells from which the parallel assembler is chosen when `parallel` is unset (default 20000).
    pub parallel_threshold_cells: usize,
    /// Polynomial degree integrated exactly by the quadrature (default 2).
    pub quadrature_degree: usize,
}

impl Default for AssemblyConfig {
    fn default() -> Self {
        Self {
            parallel: None,
            parallel_threshold_cells: 20_000,
            quadrature_degree: 2,
        }
    }
}

/// Where the configuration comes from: an optional file and `key=value` overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSources {
    /// The TOML file (`--config`); it must exist.
    pub file: Option<PathBuf>,
    /// `--set key=value` overrides, applied in order after the file.
    pub overrides: Vec<String>,
}

impl ConfigSources {
    /// The layers of these sources (file, `FEMSCALE_*` variables, `--set` overrides) for
    /// saying where the value of a key came from ([`Attribution::origin`]). Malformed
    /// overrides and variables are left out (loading reports them).
    ///
    /// This reads and parses the file again; the attribution that
    /// [`Config::load_attributed`] returns holds the source map built when the configuration
    /// was loaded.
    pub fn attribution(&self) -> Attribution {
        let source = self
            .file
            .as_deref()
            .map(|f| Arc::new(SourceMap::read(f).unwrap_or_else(|_| SourceMap::empty(f))));
        self.attribution_over(source)
    }

    /// [`ConfigSources::attribution`] over the file's `source` map.
    fn attribution_over(&self, source: Option<Arc<SourceMap>>) -> Attribution {
        let mut a = Attribution::new(source);
        for layer in env_layers().unwrap_or_default() {
            a.push(layer.name, &layer.key, layer.value);
        }
        for item in &self.overrides {
            if let Ok((key, value)) = parse_override(item) {
                a.push(format!("{OVERRIDE_NAME} {item}"), &key, value);
            }
        }
        a
    }
}

/// `e` as an [`Error::Config`] message that starts with where the offending value came from
/// (`FILE:LINE: `, `--set key=value: `, ...), in the form of the schema's own errors. Errors
/// that name no key are returned unchanged.
pub fn located_config_error(e: Error, attribution: &Attribution) -> Error {
    let Some(field) = e.unlocated_field() else {
        return e;
    };
    let location = attribution
        .origin_of(&field)
        .map(|o| format!("{}: ", o.label()))
        .unwrap_or_default();
    let text = e.to_string();
    Error::Config {
        key: Some(field),
        message: format!("{location}{text}"),
    }
}

/// The text of the TOML file `path` (a `what`: "config file", "experiment file"): a missing,
/// unreadable or non-UTF-8 file is [`Error::Io`] with the path and the [`std::io::ErrorKind`]
/// (`NotFound`, `InvalidInput` for a directory, `InvalidData` for bytes that are not UTF-8).
///
/// # Errors
/// As described.
pub fn read_text_file(path: &std::path::Path, what: &str) -> Result<String> {
    let io = |kind, message: String| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(kind, message),
    };
    if !path.is_file() {
        return Err(match path.exists() {
            true => io(
                std::io::ErrorKind::InvalidInput,
                format!("the {what} is not a file"),
            ),
            false => io(
                std::io::ErrorKind::NotFound,
                format!("the {what} does not exist"),
            ),
        });
    }
    std::fs::read_to_string(path)
        .map_err(|e| io(e.kind(), format!("the {what} cannot be read: {e}")))
}

/// Prefix of the environment variables that set configuration keys.
pub const ENV_PREFIX: &str = "FEMSCALE_";

impl Config {
    /// The layered figment: defaults < file < `FEMSCALE_*` environment < `--set` overrides.
    ///
    /// Environment variables name keys with `__` between levels
    /// (`FEMSCALE_SOLVER__TOLERANCE=1e-10` sets `solver.tolerance`); values are read as TOML like
    /// `--set` values, so `1e-10` is a number. Variables without `__` (such as
    /// `FEMSCALE_REQUIRE_REDIS` or `FEMSCALE_LOG`) are not configuration keys and are ignored.
    ///
    /// # Errors
    /// A missing file or a malformed override or variable.
    pub fn figment(sources: &ConfigSources) -> Result<Figment> {
        Ok(Self::layered(sources)?.0)
    }

    /// [`Config::figment`] and the source map of the file, built from the text read once here.
    fn layered(sources: &ConfigSources) -> Result<(Figment, Option<Arc<SourceMap>>)> {
        // No layer of defaults: a key no layer sets takes the schema's default when the
        // configuration is extracted. (A defaults layer would merge the default mesh's keys
        // into a table of another kind.)
        let mut source = None;
        let mut file = None;
        if let Some(path) = &sources.file {
            // Read once here (figment's own read error says neither which file nor why).
            let text = read_text_file(path, "config file")?;
            // A syntax error is reported by figment when the configuration is extracted.
            let map = SourceMap::parse(path, &text).unwrap_or_else(|_| SourceMap::empty(path));
            source = Some(Arc::new(map));
            file = Some(TomlText {
                path: path.clone(),
                text,
            });
        }
        let below = file.iter().fold(Figment::new(), |f, t| f.merge(t.clone()));
        let mut layers = env_layers_over(&below)?;
        for item in &sources.overrides {
            let (key, value) = parse_override(item)?;
            layers.push(Layer {
                name: format!("{OVERRIDE_NAME} {item}"),
                key,
                value,
            });
        }
        Ok((stacked(file, layers)?, source))
    }

    /// Loads and validates the configuration from `sources`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key, the file and the line of each problem.
    pub fn load(sources: &ConfigSources) -> Result<Self> {
        Ok(Self::load_attributed(sources)?.0)
    }

    /// [`Config::load`], with the [`Attribution`] of the loaded values: later errors that name
    /// a key (a solve's) can say where its value came from without reading the file again.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_attributed(sources: &ConfigSources) -> Result<(Self, Attribution)> {
        let (fig, source) = Self::layered(sources)?;
        let config: Config = fig
            .extract()
            .map_err(|e| config_error(e, source.as_deref()))?;
        let attribution = sources.attribution_over(source);
        (config.check_loaded())
            .and_then(|()| check_finite_values(&fig))
            .map_err(|e| located_config_error(e, &attribution))?;
        Ok((config, attribution))
    }

    /// Parses a configuration from TOML text on top of the defaults.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key of each problem.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let fig = Figment::from(Toml::string(text));
        let config = fig.extract().map_err(|e| config_error(e, None))?;
        check_finite_values(&fig)?;
        Ok(config)
    }
}

/// One effective configuration value and the layer it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    /// Dotted key (`solver.tolerance`; arrays of tables are reported whole).
    pub key: String,
    /// The value as JSON text.
    pub value: String,
    /// `default`, `FILE:LINE`, `environment variable FEMSCALE_…` or `--set key=value`.
    pub source: String,
}

impl Config {
    /// Every effective value with the layer it came from, sorted by key.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn provenance(sources: &ConfigSources) -> Result<Vec<Provenance>> {
        let (fig, source) = Self::layered(sources)?;
        let config: Config = fig
            .extract()
            .map_err(|e| config_error(e, source.as_deref()))?;
        let attribution = sources.attribution_over(source);
        config
            .check_loaded()
            .map_err(|e| located_config_error(e, &attribution))?;
        provenance_of(&fig, &config, attribution.source_map())
    }
}

/// Every value of `config` (extracted from `fig`) with the layer it came from: `FILE:LINE`
/// for values of the file (its line from the file's `source` map), the layer's name for
/// `--set` and `FEMSCALE_*` layers, else `default`.
///
/// # Errors
/// [`Error::Config`] if `config` cannot be serialised.
pub fn provenance_of(
    fig: &Figment,
    config: &Config,
    source: Option<&SourceMap>,
) -> Result<Vec<Provenance>> {
    let json = serde_json::to_value(config).map_err(|e| Error::Config {
        key: None,
        message: e.to_string(),
    })?;
    let mut leaves = Vec::new();
    collect_leaves(&FieldPath::root(), &json, &mut leaves);
    Ok(leaves
        .into_iter()
        .map(|(path, value)| {
            let key = dotted_key(&path);
            let source = match fig.find_metadata(&key) {
                Some(m) => match (&m.source, source) {
                    (Some(figment::Source::File(_)), Some(map)) => {
                        Origin::in_file(map, &path).label()
                    }
                    _ if m.name.starts_with(OVERRIDE_NAME) || m.name.starts_with(ENV_NAME) => {
                        m.name.to_string()
                    }
                    _ => "default".to_string(),
                },
                None => "default".to_string(),
            };
            Provenance {
                key,
                value: value.to_string(),
                source,
            }
        })
        .collect())
}

/// Every key of the schema as a dotted path, in schema order: the leaves of the default
/// configuration, the tables whose entries are the user's (empty in the defaults:
/// `problem.params`, `plugins.options`, `plugins.sha256`), and the keys of the first entry of
/// arrays of tables as `problem.boundary[].where`, and the keys of every kind of mesh.
/// `docs/configuration.md` documents
/// each; the property test of `crates/experiment/tests/config_fuzz.rs` feeds arbitrary values to each.
pub fn schema_keys() -> Vec<String> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) if prefix != "problem.params" => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    // Tables are documented through their keys; tables of the user's entries
                    // (empty by default) have none.
                    let user_entries = v.as_object().is_some_and(|m| m.is_empty());
                    if !prefix.is_empty() && (!v.is_object() || user_entries) {
                        out.push(key.clone());
                    }
                    walk(&key, v, out);
                }
            }
            serde_json::Value::Array(items) => {
                if let Some(first @ serde_json::Value::Object(_)) = items.first() {
                    walk(&format!("{prefix}[]"), first, out);
                }
            }
            _ => {}
        }
    }
    // The default configuration, and one with a mesh of each other kind for their keys.
    let mut interval = Config::default();
    interval.problem.mesh = crate::problem::MeshSpec::IntervalNodes(vec![0.0, 1.0]);
    let mut out: Vec<String> = Vec::new();
    for config in [Config::default(), interval] {
        let mut keys = Vec::new();
        if let Ok(json) = serde_json::to_value(config) {
            walk("", &json, &mut keys);
        }
        for key in keys {
            if !out.contains(&key) {
                out.push(key);
            }
        }
    }
    out
}

/// Leaves of a JSON tree with their paths; arrays count as leaves.
fn collect_leaves(
    prefix: &FieldPath,
    v: &serde_json::Value,
    out: &mut Vec<(FieldPath, serde_json::Value)>,
) {
    match v {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                collect_leaves(&prefix.key(k), child, out);
            }
        }
        other => out.push((prefix.clone(), other.clone())),
    }
}

/// The keys of `path` joined with dots, unquoted: the form figment looks keys up by and
/// `config show` prints.
fn dotted_key(path: &FieldPath) -> String {
    path.steps()
        .iter()
        .map(|s| match s {
            Step::Key(k) => k.clone(),
            Step::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_toml_values_and_fall_back_to_strings() {
        let (k, v) = parse_override("problem.mesh.nx = 64").unwrap();
        assert_eq!(k, "problem.mesh.nx");
        assert_eq!(v.to_i128(), Some(64));
        let (_, v) = parse_override("problem.source=sin(pi*x)").unwrap();
        assert_eq!(v.as_str(), Some("sin(pi*x)"));
        let (_, v) = parse_override("problem.mesh.x=[0.0, 2.0]").unwrap();
        assert!(v.as_array().is_some());
        assert!(parse_override("novalue").is_err());
        for (text, range) in [
            ("1e400", "double"),
            ("-2e308", "double"),
            ("18446744073709551615", "64-bit"),
        ] {
            let e = parse_override(&format!("problem.params.a={text}")).unwrap_err();
            assert!(e.to_string().contains(range), "{text}: {e}");
        }
        // Not numbers TOML cannot hold: plain strings as before.
        for text in ["007", "1.2.3", "inf-ish", "9223372036854775807x"] {
            let (_, v) = parse_override(&format!("k={text}")).unwrap();
            assert_eq!(v.as_str(), Some(text));
        }
        assert!(parse_override("a..b=1").is_err());
        // A second line would be parsed and dropped: refused.
        let err = parse_override("solver.tolerance=1e-3\nsolver.kind=\"direct\"").unwrap_err();
        assert!(err.to_string().contains("several lines"), "{err}");
    }
}

#[cfg(test)]
mod docs_tests;
