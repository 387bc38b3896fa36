//! The layers above the file: `--set key=value` overrides and `FEMSCALE_*` variables, each a
//! figment provider named for where its value came from, and how they stack.

use std::path::PathBuf;

use femscale_core::error::shown_token;
use femscale_core::{Error, Result};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};

use super::replace::{self, Dropping, TableReplacements};
use super::{ENV_PREFIX, FieldPath};

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

/// One provider per `FEMSCALE_SECTION__KEY` variable, sorted by name (see [`Config::figment`](super::Config::figment)).
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
pub(super) const NAMED_TABLES: [&str; 7] = [
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

pub(super) const OVERRIDE_NAME: &str = "--set";
/// What errors call an override of [`FemSolver::with_overrides`](crate::FemSolver::with_overrides).
pub(crate) const OVERRIDE_API_NAME: &str = "override";
pub(crate) const ENV_NAME: &str = "environment variable";

/// A TOML file's text, read once, as the figment provider of that file (what
/// `Toml::file_exact` gives, without reading the file a second time).
#[derive(Clone)]
pub(super) struct TomlText {
    pub(super) path: PathBuf,
    pub(super) text: String,
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
///
/// # Errors
/// [`Error::Config`] for a layer that sets a key under one that a layer below set to a value
/// that is not a table: it would replace that value, and its error, silently (review A:
/// `--set adaptivity=1 --set adaptivity.theta=0.5` solved without adaptivity).
pub fn stacked(base: Option<impl figment::Provider>, layers: Vec<Layer>) -> Result<Figment> {
    stack(base, layers, true)
}

/// [`stacked`] over a whole configuration's values (`base`: every key, defaults included,
/// of a solver built in code): a layer is checked against the layers below it, not against
/// `base`, whose scalar defaults (`diffusion = 1.0`) a subdomain key replaces as it does over
/// the schema's defaults (review C).
///
/// # Errors
/// As [`stacked`], among the layers.
pub(crate) fn stacked_over_values(
    base: impl figment::Provider,
    layers: Vec<Layer>,
) -> Result<Figment> {
    stack(Some(base), layers, false)
}

fn stack(
    base: Option<impl figment::Provider>,
    layers: Vec<Layer>,
    check_base: bool,
) -> Result<Figment> {
    let plan = TableReplacements::of(layers.iter().map(|l| (l.key.as_str(), &l.value)));
    let mut fig = Figment::new();
    // What the checks read: everything, or the layers alone.
    let mut below = Figment::new();
    if let Some(base) = base {
        fig = fig.merge(Dropping {
            inner: base,
            dropped: plan.dropped,
        });
    }
    for ((mut layer, keep), pruned) in layers.into_iter().zip(plan.keep).zip(plan.pruned) {
        if keep {
            check_under_a_table(if check_base { &fig } else { &below }, &layer)?;
            layer.value = replace::pruned_value(layer.value, &pruned);
            if !check_base {
                below = below.merge(layer.clone());
            }
            fig = fig.merge(layer);
        }
    }
    Ok(fig)
}

/// Every key `layer` sets a value under is a table in `fig` (or unset).
fn check_under_a_table(fig: &Figment, layer: &Layer) -> Result<()> {
    let segments: Vec<&str> = layer.key.split('.').collect();
    for end in 1..segments.len() {
        let parent = segments[..end].join(".");
        let Ok(value) = fig.find_value(&parent) else {
            return Ok(());
        };
        if !matches!(value, figment::value::Value::Dict(..)) {
            let by = (fig.find_metadata(&parent)).map_or_else(
                || "a layer below".to_string(),
                |m| match &m.source {
                    Some(figment::Source::File(path)) => path.display().to_string(),
                    _ => m.name.to_string(),
                },
            );
            return Err(Error::Config {
                key: Some(FieldPath::parse(&parent)),
                message: format!(
                    "{}: sets a key under `{parent}`, which {by} sets to a value that is not a \
                     table; the value would be replaced unseen (to replace it by a table, set \
                     the table whole: `{parent}={{ {} = ... }}`)",
                    layer.name, segments[end]
                ),
            });
        }
    }
    Ok(())
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

#[cfg(test)]
mod nesting_tests {
    use super::*;

    fn layers(items: &[&str]) -> Vec<Layer> {
        (items.iter())
            .map(|item| {
                let (key, value) = parse_override(item).unwrap();
                let name = format!("{OVERRIDE_NAME} {item}");
                Layer { name, key, value }
            })
            .collect()
    }

    /// A key set under a value that is not a table is refused, naming both layers (review A:
    /// the first value's error vanished); keys under a table, and a table replacing a value,
    /// stack as before.
    #[test]
    fn a_key_under_a_value_that_is_not_a_table_is_refused() {
        let file = || Toml::string("[adaptivity]\nenabled = true\n[problem]\ndiffusion = 1.0\n");
        let e = stacked(
            Some(file()),
            layers(&["adaptivity=1", "adaptivity.theta=0.5"]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--set adaptivity.theta=0.5")
                && e.contains("`adaptivity`")
                && e.contains("--set adaptivity=1"),
            "{e}"
        );
        let e = stacked(Some(file()), layers(&["problem.diffusion.copper=2"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`problem.diffusion`"), "{e}");
        let fig = stacked(
            Some(file()),
            layers(&["adaptivity.theta=0.5", "problem.diffusion={ copper = 2 }"]),
        )
        .unwrap();
        assert_eq!(fig.extract_inner::<f64>("adaptivity.theta").unwrap(), 0.5);
        assert!(fig.extract_inner::<bool>("adaptivity.enabled").unwrap());
        assert_eq!(
            fig.extract_inner::<f64>("problem.diffusion.copper")
                .unwrap(),
            2.0
        );
    }
}
