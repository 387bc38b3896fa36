//! The configuration schema (`[problem]`, `[solver]`, `[assembly]`, `[scaling]`) and its
//! layered loading: built-in defaults < TOML file < `--set key=value` overrides.
//!
//! Every struct is `#[serde(default, deny_unknown_fields)]`: a missing key takes its default, an
//! unknown key is an error naming the key and the file.

use std::path::PathBuf;
use std::sync::Arc;

use femscale_core::error::shown_token;
use femscale_core::{Error, Result, SolverOptions};
use femscale_solvers::{AmgOptions, DirectOptions, GmresOptions, MethodOptions, SsorOptions};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::problem::Problem;
pub use crate::scaling::ScalingConfig;

mod adaptivity;
mod bounds;
mod finite;
mod kind_text;
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
pub use finite::check_finite_values;
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
        Ok((stacked(file, layers), source))
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

/// Splits `key=value`; the value is read as a TOML value (number, boolean, array, inline table,
/// quoted string) and otherwise taken as a plain string.
///
/// # Errors
/// [`Error::Config`] for an item without `=` or with an invalid dotted key.
pub fn parse_override(item: &str) -> Result<(String, figment::value::Value)> {
    let Some((key, value)) = item.split_once('=') else {
        return Err(Error::Config {
            key: None,
            message: format!(
                "override `{}` is not of the form key=value",
                shown_token(item)
            ),
        });
    };
    let key = key.trim();
    if key.is_empty()
        || key.split('.').any(|k| {
            k.is_empty()
                || !k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
    {
        return Err(Error::Config {
            key: None,
            message: format!(
                "override `{}`: `{}` is not a valid dotted key",
                shown_token(item),
                shown_token(key)
            ),
        });
    }
    let value = value.trim();
    if value.contains(['\n', '\r']) {
        // `v = 1\nother = 2` would parse, and the line after the value would be dropped.
        return Err(Error::Config {
            key: None,
            message: format!(
                "override `{}`: the value spans several lines; give one TOML value on one line",
                shown_token(item)
            ),
        });
    }
    let parsed = parse_value(value).map_err(|range| Error::Config {
        key: Some(FieldPath::parse(key)),
        message: out_of_range(
            &format!("{OVERRIDE_NAME} {}", shown_token(item)),
            key,
            value,
            range,
        ),
    })?;
    Ok((key.to_string(), parsed))
}

/// `value` read as a TOML value, or as a plain string when it is not TOML; the range it falls
/// out of when it is a number TOML or a double cannot hold (it would be reported later as a
/// string where a number was expected, or as infinity).
fn parse_value(value: &str) -> std::result::Result<figment::value::Value, &'static str> {
    let parsed = Figment::from(Toml::string(&format!("v = {value}")))
        .extract_inner::<figment::value::Value>("v");
    let overflowed = |v: &figment::value::Value| {
        matches!(v, figment::value::Value::Num(_, figment::value::Num::F64(f)) if f.is_infinite())
            && !value.to_ascii_lowercase().contains("inf")
    };
    let range = match &parsed {
        Ok(parsed) if overflowed(parsed) => Some("a double (about ±1.8e308)"),
        Ok(_) => None,
        Err(_) => out_of_range_number(value),
    };
    match range {
        Some(range) => Err(range),
        None => Ok(parsed.unwrap_or_else(|_| figment::value::Value::from(value.to_string()))),
    }
}

/// The message for a number `value` of `key` out of `range`, given by `layer`.
fn out_of_range(layer: &str, key: &str, value: &str, range: &str) -> String {
    format!(
        "{layer}: `{key}`: `{}` is a number out of the range of {range}",
        shown_token(value)
    )
}

/// The range `text` falls out of, when it is a decimal number TOML could not read: an integer
/// beyond 64 bits, or a float whose magnitude overflows a double (`1e400`).
fn out_of_range_number(text: &str) -> Option<&'static str> {
    let digits = text
        .strip_prefix(['+', '-'])
        .unwrap_or(text)
        .replace('_', "");
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        // (Leading zeros, which TOML refuses too, are not a range.)
        let fits = digits
            .parse::<i128>()
            .is_ok_and(|v| i64::try_from(v).is_ok());
        return (!fits).then_some("a 64-bit integer (about ±9.2e18)");
    }
    let float: f64 = text.replace('_', "").parse().ok()?;
    float
        .is_infinite()
        .then_some("a double (about ±1.8e308)")
        .filter(|_| !text.to_ascii_lowercase().contains("inf"))
}

/// Turns figment's error into [`Error::Config`], with the file and line of each key.
fn config_error(err: figment::Error, source: Option<&SourceMap>) -> Error {
    figment_error(err, source, &FieldPath::root())
}

/// Layer names that say by themselves where a value came from (`--set k=v`, `environment
/// variable FEMSCALE_…`, `sweep value k = v`).
const NAMED_LAYERS: [&str; 4] = [OVERRIDE_NAME, OVERRIDE_API_NAME, ENV_NAME, "sweep"];

/// Turns figment's error into [`Error::Config`]: one line per problem, naming the key (under
/// `prefix`) and where the value came from (`file:line` from the file's `source` map, or the
/// named layer), with a suggestion for misspelt keys.
pub fn figment_error(err: figment::Error, source: Option<&SourceMap>, prefix: &FieldPath) -> Error {
    let mut lines = Vec::new();
    let mut first_key = None;
    for e in err {
        let path: Vec<&str> = e
            .path
            .iter()
            .map(String::as_str)
            .filter(|k| *k != "default")
            .collect();
        let field = prefix.join(&FieldPath::from_figment(&path));
        let dotted = field.to_string();
        if first_key.is_none() && !dotted.is_empty() {
            first_key = Some(field.clone());
        }
        let named = e.metadata.as_ref().map(|m| m.name.to_string());
        let location = match (&named, source) {
            (Some(n), _) if NAMED_LAYERS.iter().any(|l| n.starts_with(l)) => {
                format!("{}: ", shown_token(n))
            }
            (_, Some(map)) if from_file(&e) => {
                format!("{}: ", Origin::in_file(map, &field).label())
            }
            _ => String::new(),
        };
        let key_part = if dotted.is_empty() {
            String::new()
        } else {
            format!("`{}`: ", shown_token(&dotted))
        };
        // Figment quotes the offending key or value whole (a 10 MB `--set` would be echoed).
        let mut kind = kind_text::kind_text(&e.kind);
        if let figment::error::Kind::UnknownField(name, expected) = &e.kind
            && let Some(close) = closest(name, expected.iter().copied())
        {
            kind.push_str(&format!(" (did you mean `{}`?)", shown_token(close)));
        }
        lines.push(format!("{location}{key_part}{kind}"));
    }
    Error::Config {
        key: first_key,
        message: lines.join("\n"),
    }
}

fn from_file(e: &figment::Error) -> bool {
    e.metadata
        .as_ref()
        .is_some_and(|m| matches!(m.source, Some(figment::Source::File(_))))
}

/// One provider per `FEMSCALE_SECTION__KEY` variable, sorted by name (see [`Config::figment`]).
///
/// Variables of other programs are never read as text, so one whose name or value is not
/// UTF-8 changes nothing.
///
/// # Errors
/// [`Error::Config`] naming a variable whose key is not a valid dotted key, or a
/// `FEMSCALE_SECTION__KEY` variable whose name or value is not UTF-8.
pub fn env_layers() -> Result<Vec<Layer>> {
    let mut env = Vec::new();
    for (name, value) in std::env::vars_os() {
        // Configuration variables only (`FEMSCALE_SECTION__KEY`): others of ours, such as
        // `FEMSCALE_PLUGIN_HOST` (a path, read as one), may hold any bytes.
        let bytes = name.as_encoded_bytes();
        let configures =
            bytes.starts_with(ENV_PREFIX.as_bytes()) && bytes.windows(2).any(|w| w == b"__");
        if !configures {
            continue;
        }
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            return Err(Error::Config {
                key: None,
                message: format!(
                    "environment variable {}: its name or value is not UTF-8",
                    name.to_string_lossy()
                ),
            });
        };
        env.push((name.to_string(), value.to_string()));
    }
    env.sort();
    env.into_iter()
        .map(|(var, value)| {
            let key = var[ENV_PREFIX.len()..].to_lowercase().replace("__", ".");
            let layer = format!("{ENV_NAME} {var}");
            let (key, _) = parse_override(&format!("{key}=0")).map_err(|_| Error::Config {
                key: None,
                message: format!("{layer}: `{key}` is not a valid key"),
            })?;
            if value.contains(['\n', '\r']) {
                // A second line would be parsed as another key and dropped.
                return Err(Error::Config {
                    key: Some(FieldPath::parse(&key)),
                    message: format!(
                        "{layer}: the value spans several lines; give one TOML value on one line"
                    ),
                });
            }
            let value = parse_value(value.trim()).map_err(|range| Error::Config {
                key: Some(FieldPath::parse(&key)),
                message: out_of_range(&layer, &key, value.trim(), range),
            })?;
            Ok(Layer {
                name: format!("{ENV_NAME} {var}"),
                key,
                value,
            })
        })
        .collect()
}

/// Tables whose keys users name (a parameter `K`, a boundary part `Inlet`, a subdomain
/// `Copper`, a plugin and its options): the case of those names matters, and environment
/// variables, read in lower case, cannot say it.
const NAMED_TABLES: [&str; 7] = [
    "problem.params",
    "problem.mesh.parts",
    "problem.diffusion",
    "problem.reaction",
    "problem.source",
    "plugins.options",
    "plugins.sha256",
];

/// [`env_layers`] over the layers below them, `fig` (the file): each key naming a parameter,
/// part, subdomain, plugin or plugin option takes the case `fig` writes it in.
///
/// # Errors
/// As [`env_layers`]; names of one table that differ only in case.
pub fn env_layers_over(fig: &Figment) -> Result<Vec<Layer>> {
    env_layers()?
        .into_iter()
        .map(|mut layer| {
            layer.key = named_key_case(fig, &layer)?;
            Ok(layer)
        })
        .collect()
}

/// `layer`'s key with each name below a [`NAMED_TABLES`] table in the case the lower layers
/// (the file) write it: `FEMSCALE_PROBLEM__PARAMS__K` sets the file's `problem.params.K`. A
/// name the file does not have stays as read (lower case).
///
/// # Errors
/// [`Error::Config`] when names of one table differ only in case, so that the variable cannot
/// say which it sets.
fn named_key_case(fig: &Figment, layer: &Layer) -> Result<String> {
    use figment::value::Value;
    for table in NAMED_TABLES {
        let Some(rest) = layer
            .key
            .strip_prefix(table)
            .and_then(|r| r.strip_prefix('.'))
        else {
            continue;
        };
        let mut key = table.to_string();
        let mut level = fig.find_value(table).ok();
        for segment in rest.split('.') {
            let matches: Vec<(&String, &Value)> = match &level {
                Some(Value::Dict(_, dict)) => dict
                    .iter()
                    .filter(|(name, _)| name.eq_ignore_ascii_case(segment))
                    .collect(),
                _ => Vec::new(),
            };
            let (name, next) = match matches.as_slice() {
                [] => (segment.to_string(), None),
                [(name, value)] => ((*name).clone(), Some((*value).clone())),
                several => {
                    let names: Vec<&str> = several.iter().map(|(n, _)| n.as_str()).collect();
                    return Err(Error::Config {
                        key: None,
                        message: format!(
                            "{}: `{key}` has keys that differ only in case ({}), and the \
                             name of an environment variable cannot say which it sets: use \
                             --set {key}.<name>=...",
                            layer.name,
                            names.join(", ")
                        ),
                    });
                }
            };
            key = format!("{key}.{name}");
            level = next;
        }
        return Ok(key);
    }
    Ok(layer.key.clone())
}

const OVERRIDE_NAME: &str = "--set";
/// What errors call an override of [`FemSolver::with_overrides`](crate::FemSolver::with_overrides).
pub(crate) const OVERRIDE_API_NAME: &str = "override";
pub(crate) const ENV_NAME: &str = "environment variable";

/// A TOML file's text, read once, as the figment provider of that file (what
/// `Toml::file_exact` gives, without reading the file a second time).
#[derive(Clone)]
struct TomlText {
    path: PathBuf,
    text: String,
}

impl figment::Provider for TomlText {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::from("TOML file", self.path.as_path())
    }

    fn data(
        &self,
    ) -> std::result::Result<
        figment::value::Map<figment::Profile, figment::value::Dict>,
        figment::Error,
    > {
        let dict: figment::value::Dict =
            Toml::from_str(&self.text).map_err(|e| figment::Error::from(e.to_string()))?;
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// `base` (the file, if any) under `layers` in order, a layer that sets a named table whole
/// replacing it ([`TableReplacements`]).
pub fn stacked(base: Option<impl figment::Provider>, layers: Vec<Layer>) -> Figment {
    let plan = TableReplacements::of(layers.iter().map(|l| (l.key.as_str(), &l.value)));
    let mut fig = Figment::new();
    if let Some(base) = base {
        fig = fig.merge(Dropping {
            inner: base,
            dropped: plan.dropped,
        });
    }
    for ((mut layer, keep), pruned) in layers.into_iter().zip(plan.keep).zip(plan.pruned) {
        if keep {
            layer.value = replace::pruned_value(layer.value, &pruned);
            fig = fig.merge(layer);
        }
    }
    fig
}

/// One `--set key=value` override or one `FEMSCALE_*` variable as a figment provider, so that
/// errors and provenance say exactly where a value came from.
#[derive(Debug, Clone)]
pub struct Layer {
    /// What errors and provenance call the layer (`--set key=value`, `environment variable
    /// FEMSCALE_…`).
    pub name: String,
    /// The dotted key it sets.
    pub key: String,
    /// The value it sets.
    pub value: figment::value::Value,
}

impl figment::Provider for Layer {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named(self.name.clone())
    }

    fn data(
        &self,
    ) -> std::result::Result<
        figment::value::Map<figment::Profile, figment::value::Dict>,
        figment::Error,
    > {
        Serialized::default(&self.key, &self.value).data()
    }
}

/// The candidate closest to `name` (edit distance at most 3): the suggestion of "did you
/// mean" hints.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= 3)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
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
