//! The experiment-only sections of an experiment file: `[experiment]`, `[sweep]` (with
//! `[sweep.zip]`) and `[output]`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use femscale_core::{Error, Result};
use figment::value::{Dict, Value};
use serde::{Deserialize, Serialize};

use super::layers::{check_config_key, closest, figment_error, sweep_field};
use super::sweep::Factor;
use femscale_runtime::config::{FieldPath, MAX_THREADS, Origin, SourceMap, Step, check_count};

/// The sections that belong to the experiment rather than to the configuration.
pub(crate) const SECTIONS: [&str; 3] = ["experiment", "sweep", "output"];

/// Most repetitions of one point (`experiment.repetitions`).
pub const MAX_REPETITIONS: usize = 1000;

/// `[experiment]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ExperimentSettings {
    /// Name of the experiment (default: the file's stem).
    pub name: String,
    /// Runs per point (default 1, 1 to [`MAX_REPETITIONS`]); the summary takes medians over them.
    pub repetitions: usize,
    /// Runs in flight at once; 0 (default) lets the adaptive scaler choose from the biggest
    /// point, the pending runs and the machine (`min(cores, runs)` unless memory limits it).
    pub parallel_runs: usize,
}

impl Default for ExperimentSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            repetitions: 1,
            parallel_runs: 0,
        }
    }
}

/// An output format named in `output.formats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum OutputFormat {
    /// `results.jsonl`, one line per run (always written: resuming relies on it).
    Jsonl,
    /// `summary.csv`, one row per point.
    Csv,
    /// VTU files of the solutions (written by the extra-outputs hook).
    Vtu,
    /// SVG plots (written by the extra-outputs hook).
    Svg,
}

impl OutputFormat {
    /// Every format, in the order of the names in the file format.
    pub const ALL: [OutputFormat; 4] = [Self::Jsonl, Self::Csv, Self::Vtu, Self::Svg];

    /// The name used in `output.formats`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
            Self::Vtu => "vtu",
            Self::Svg => "svg",
        }
    }
}

/// `[output]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutputSpec {
    /// Directory of the results (default `results/<name>`), relative to the current directory.
    pub dir: PathBuf,
    /// Formats to write (default `jsonl`, `csv`).
    pub formats: BTreeSet<OutputFormat>,
}

impl OutputSpec {
    /// Whether `format` was asked for (`jsonl` always is).
    pub fn wants(&self, format: OutputFormat) -> bool {
        format == OutputFormat::Jsonl || self.formats.contains(&format)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct OutputSection {
    dir: Option<PathBuf>,
    formats: Option<Vec<String>>,
}

/// The parsed experiment-only sections.
#[derive(Debug, Clone)]
pub(crate) struct Sections {
    pub settings: ExperimentSettings,
    pub output: OutputSpec,
    pub factors: Vec<Factor>,
    /// Every swept key, in factor order.
    pub keys: Vec<String>,
}

/// Parses and validates `[experiment]`, `[sweep]` and `[output]` from `raw` (the whole file
/// with the `--set` overrides of those sections), saying where a bad value came from with
/// `file` (the file as written) and its `source` map.
pub(crate) fn parse_sections(raw: &Dict, file: &Dict, source: &SourceMap) -> Result<Sections> {
    let path = source.file();
    let mut settings: ExperimentSettings = section(raw, "experiment", source)?.unwrap_or_default();
    let located = |e: Error| located(e, raw, file, source);
    let explicit_name = raw
        .get("experiment")
        .and_then(|e| e.as_dict())
        .is_some_and(|e| e.contains_key("name"));
    if explicit_name {
        check_plain_name(&settings.name).map_err(located)?;
    } else {
        settings.name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "experiment".into());
        check_plain_name(&settings.name).map_err(|e| {
            Error::invalid(
                "experiment.name",
                format!(
                    "{} (the default name, from the file name `{}`): set `experiment.name`",
                    reason_of(&e),
                    path.display()
                ),
            )
        })?;
    }
    check_count(
        "experiment.repetitions",
        settings.repetitions,
        1,
        MAX_REPETITIONS,
    )
    .map_err(located)?;
    check_count(
        "experiment.parallel_runs",
        settings.parallel_runs,
        0,
        MAX_THREADS,
    )
    .map_err(located)?;
    let out: OutputSection = section(raw, "output", source)?.unwrap_or_default();
    let formats = match out.formats {
        None => BTreeSet::from([OutputFormat::Jsonl, OutputFormat::Csv]),
        Some(names) => names
            .iter()
            .map(|n| parse_format(n))
            .collect::<Result<_>>()?,
    };
    if out.dir.as_ref().is_some_and(|d| d.as_os_str().is_empty()) {
        return Err(Error::invalid(
            "output.dir",
            "must not be empty (leave it out for results/<name>)",
        ));
    }
    let output = OutputSpec {
        dir: out
            .dir
            .unwrap_or_else(|| Path::new("results").join(&settings.name)),
        formats,
    };
    let (factors, keys) = match raw.get("sweep") {
        None => (Vec::new(), Vec::new()),
        Some(Value::Dict(_, sweep)) => parse_sweep(sweep).map_err(located)?,
        Some(_) => return Err(Error::invalid("sweep", "must be a table")),
    };
    Ok(Sections {
        settings,
        output,
        factors,
        keys,
    })
}

/// Longest `experiment.name`, bytes: a file name on common file systems.
pub const MAX_NAME_BYTES: usize = 255;

/// Checks that `name` is a plain file name, so that the default output directory
/// `results/<name>` stays inside `results`: not empty, not `.` or `..`, no path separators,
/// no NUL or other control characters, no leading or trailing spaces, at most
/// [`MAX_NAME_BYTES`] bytes.
///
/// # Errors
/// [`Error::InvalidInput`] for `experiment.name`, saying what is wrong.
pub(crate) fn check_plain_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(
            "experiment.name",
            format!("{name:?} is not a plain file name: {why}"),
        ))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name == "." || name == ".." {
        return bad("`.` and `..` name directories");
    }
    if name.contains(['/', '\\']) {
        return bad("it contains a path separator (the results go to results/<name>)");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character (NUL, newline, ...)");
    }
    if name.trim() != name {
        return bad("it starts or ends with white space");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad(&format!("it is longer than {MAX_NAME_BYTES} bytes"));
    }
    Ok(())
}

/// The reason of an [`Error::InvalidInput`] (its whole text otherwise).
fn reason_of(e: &Error) -> String {
    match e {
        Error::InvalidInput { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// `e` (about an `[experiment]` key) with where its value came from: the line in the file
/// (from its `source` map) when `file` holds the effective value (in `raw`), else the `--set`
/// override that replaced it.
fn located(e: Error, raw: &Dict, file: &Dict, source: &SourceMap) -> Error {
    let Some(field) = e.unlocated_field() else {
        return e;
    };
    // The file's line when the value in effect is the file's; otherwise it came from --set
    // (also when the file lacks the key: review R saw `--set sweep.zip...` given the line of
    // the file's [sweep]).
    let in_file = lookup(file, field.steps());
    let location = if in_file.is_some() && same(in_file, lookup(raw, field.steps())) {
        Origin::in_file(source, &field).label()
    } else {
        format!("--set {field}")
    };
    Error::Config {
        message: format!("{location}: {e}"),
        key: Some(field),
    }
}

/// Whether `a` and `b` hold the same value, a NaN equal to a NaN (the file's value is then the
/// one in effect, not a `--set` one).
fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Num(_, x)), Some(Value::Num(_, y))) => {
            x == y || (x.to_f64().is_some_and(f64::is_nan) && y.to_f64().is_some_and(f64::is_nan))
        }
        (Some(Value::Array(_, x)), Some(Value::Array(_, y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(Some(x), Some(y)))
        }
        (Some(Value::Dict(_, x)), Some(Value::Dict(_, y))) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, x), (ky, y))| kx == ky && same(Some(x), Some(y)))
        }
        (a, b) => a == b,
    }
}

/// The value at `path` in `dict`.
fn lookup<'a>(dict: &'a Dict, path: &[Step]) -> Option<&'a Value> {
    let (Step::Key(head), rest) = path.split_first()? else {
        return None;
    };
    let v = dict.get(head)?;
    match rest.first() {
        None => Some(v),
        Some(Step::Index(i)) => match v {
            Value::Array(_, items) => match items.get(*i)? {
                Value::Dict(_, inner) if rest.len() > 1 => lookup(inner, &rest[1..]),
                item if rest.len() == 1 => Some(item),
                _ => None,
            },
            _ => None,
        },
        Some(Step::Key(_)) => lookup(v.as_dict()?, rest),
    }
}

fn section<T: for<'de> Deserialize<'de>>(
    raw: &Dict,
    name: &str,
    source: &SourceMap,
) -> Result<Option<T>> {
    let Some(value) = raw.get(name) else {
        return Ok(None);
    };
    if value.as_dict().is_none() {
        return Err(Error::invalid(name, "must be a table"));
    }
    let prefix = FieldPath::root().key(name);
    value.deserialize::<T>().map(Some).map_err(|e| {
        // The value carries no provider metadata: attribute each error to the file when its
        // key is there (a `--set experiment.…` override is not), so that it names file and line.
        let located = e
            .into_iter()
            .map(|mut err| {
                if source.contains(&prefix.join(&FieldPath::from_figment(&err.path))) {
                    err.metadata = Some(figment::Metadata::from("TOML file", source.file()));
                }
                err
            })
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .reduce(|earlier, later| earlier.chain(later))
            .expect("a figment error holds at least one error");
        figment_error(located, Some(source), &prefix)
    })
}

/// The format called `name`; `svg` needs the `plots` feature (plotters).
fn parse_format(name: &str) -> Result<OutputFormat> {
    let format = OutputFormat::ALL
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or_else(|| Error::UnknownName {
            field: "output.formats".into(),
            what: "output format".into(),
            name: name.into(),
            known: OutputFormat::ALL.iter().map(|f| f.name().into()).collect(),
        })?;
    if format == OutputFormat::Svg && !cfg!(feature = "plots") {
        return Err(Error::feature_disabled(
            "output.formats",
            "the `svg` output (plots)",
            "plots",
        ));
    }
    Ok(format)
}

/// Sets the values of the plain (not zipped) swept key `swept` in `raw`'s `[sweep]` to
/// `value`, replacing the key's values however they were written (a dotted name or nested
/// tables; both spell the same key).
pub(crate) fn set_swept(raw: &mut Dict, swept: &str, value: Value) {
    let sweep = raw
        .entry("sweep".to_string())
        .or_insert_with(|| Value::from(Dict::new()));
    let Value::Dict(_, sweep) = sweep else {
        // Not a table: the override replaces it (and `[sweep]` is then this key alone).
        *sweep = Value::from(Dict::from([(swept.to_string(), value)]));
        return;
    };
    let zip = sweep.remove("zip");
    let mut entries = Vec::new();
    flatten("", sweep, &mut entries);
    *sweep = (entries.into_iter()).filter(|(k, _)| k != swept).collect();
    sweep.insert(swept.to_string(), value);
    if let Some(zip) = zip {
        sweep.insert("zip".to_string(), zip);
    }
}

/// Flattens nested tables into dotted keys until a non-table value.
fn flatten(prefix: &str, dict: &Dict, out: &mut Vec<(String, Value)>) {
    for (k, v) in dict {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Dict(_, inner) if !inner.is_empty() => flatten(&key, inner, out),
            other => out.push((key, other.clone())),
        }
    }
}

/// The values of one swept key, validated: a non-empty list, of a configuration key.
fn values_of(key: &str, value: &Value, field: &str) -> Result<Vec<serde_json::Value>> {
    check_config_key(key, field)?;
    let Some(items) = value.as_array() else {
        return Err(Error::invalid(
            field,
            format!(
                "must be a list of values, e.g. [16, 32, 64]; got {}",
                serde_json::to_string(value).unwrap_or_else(|_| format!("{value:?}"))
            ),
        ));
    };
    if items.is_empty() {
        return Err(Error::invalid(field, "the list of values is empty"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            // JSON, in which a point is recorded, has no NaN or infinity (serde_json would
            // write `null`, which unsets an optional key: review Q).
            if let Some(x) = first_non_finite(v) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "value {} of the list is {x}: a sweep's values must be finite numbers, \
                         as every configuration value",
                        i + 1
                    ),
                ));
            }
            serde_json::to_value(v).map_err(|e| Error::invalid(field, e.to_string()))
        })
        .collect()
}

/// The first NaN or infinite number in `value` (at any depth), if any.
fn first_non_finite(value: &Value) -> Option<f64> {
    match value {
        Value::Num(_, n) => n.to_f64().filter(|x| !x.is_finite()),
        Value::Array(_, items) => items.iter().find_map(first_non_finite),
        Value::Dict(_, d) => d.values().find_map(first_non_finite),
        _ => None,
    }
}

fn parse_sweep(sweep: &Dict) -> Result<(Vec<Factor>, Vec<String>)> {
    let mut factors = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let seen = |key: &str, keys: &mut Vec<String>| -> Result<()> {
        if keys.iter().any(|k| k == key) {
            return Err(Error::invalid(
                sweep_field(key),
                "swept twice (in [sweep] and [sweep.zip], or in two zip groups)",
            ));
        }
        keys.push(key.to_string());
        Ok(())
    };
    let mut plain = Dict::new();
    let mut zips: Vec<Dict> = Vec::new();
    for (k, v) in sweep {
        if k == "zip" {
            match v {
                Value::Dict(_, d) => zips.push(d.clone()),
                Value::Array(_, groups) => {
                    for g in groups {
                        match g {
                            Value::Dict(_, d) => zips.push(d.clone()),
                            _ => {
                                return Err(Error::invalid(
                                    "sweep.zip",
                                    "must be a table or an array of tables",
                                ));
                            }
                        }
                    }
                }
                _ => {
                    return Err(Error::invalid(
                        "sweep.zip",
                        "must be a table or an array of tables",
                    ));
                }
            }
        } else {
            plain.insert(k.clone(), v.clone());
        }
    }
    let mut entries = Vec::new();
    flatten("", &plain, &mut entries);
    for (key, value) in &entries {
        let field = sweep_field(key);
        let values = values_of(key, value, &field)?;
        seen(key, &mut keys)?;
        if let Some(twice) = given_twice(values.iter()) {
            return Err(Error::invalid(
                field,
                format!(
                    "the value {twice} is given twice (the same run twice; \
                     experiment.repetitions repeats runs)"
                ),
            ));
        }
        factors.push(
            values
                .into_iter()
                .map(|v| vec![(key.clone(), v)])
                .collect::<Factor>(),
        );
    }
    for (g, zip) in zips.iter().enumerate() {
        let mut entries = Vec::new();
        flatten("", zip, &mut entries);
        if entries.is_empty() {
            continue;
        }
        let group = if zips.len() == 1 {
            "sweep.zip".to_string()
        } else {
            format!("sweep.zip[{g}]")
        };
        let mut columns = Vec::new();
        for (key, value) in &entries {
            let field = format!("{group}.\"{key}\"");
            columns.push((key.clone(), values_of(key, value, &field)?));
            seen(key, &mut keys)?;
        }
        let len = columns[0].1.len();
        if columns.iter().any(|(_, v)| v.len() != len) {
            let lengths: Vec<String> = columns
                .iter()
                .map(|(k, v)| format!("\"{k}\" has {}", v.len()))
                .collect();
            return Err(Error::invalid(
                group,
                format!(
                    "zipped lists must have equal lengths: {}",
                    lengths.join(", ")
                ),
            ));
        }
        let rows: Factor = (0..len)
            .map(|i| {
                columns
                    .iter()
                    .map(|(k, v)| (k.clone(), v[i].clone()))
                    .collect()
            })
            .collect();
        let tuples = rows
            .iter()
            .map(|row| serde_json::Value::from_iter(row.iter().map(|(_, v)| v.clone())));
        if let Some(twice) = given_twice(tuples.collect::<Vec<_>>().iter()) {
            let keys: Vec<&str> = columns.iter().map(|(k, _)| k.as_str()).collect();
            return Err(Error::invalid(
                group,
                format!(
                    "the values {twice} of {keys:?} are given twice (the same run twice; \
                     experiment.repetitions repeats runs)"
                ),
            ));
        }
        factors.push(rows);
    }
    Ok((factors, keys))
}

/// The first value met a second time, shown as JSON; numbers compare by value (`8` and
/// `8.0` are one value), in lists too.
fn given_twice<'a>(mut values: impl Iterator<Item = &'a serde_json::Value>) -> Option<String> {
    fn canonical(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Number(n) => n.as_f64().map_or_else(
                || v.clone(),
                |x| serde_json::Value::from(if x == 0.0 { 0.0 } else { x }),
            ),
            serde_json::Value::Array(items) => items.iter().map(canonical).collect(),
            other => other.clone(),
        }
    }
    let mut seen = std::collections::HashSet::new();
    values
        .find(|v| !seen.insert(canonical(v).to_string()))
        .map(|v| v.to_string())
}

/// A hint for a misspelt experiment section (`[experiments]`, `[sweeps]`, `[outputs]`).
pub(crate) fn section_hint(name: &str) -> Option<&'static str> {
    closest(name, SECTIONS.into_iter()).filter(|c| *c != name)
}
