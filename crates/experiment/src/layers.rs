//! Configuration layers of an experiment: defaults < the file's config sections < `--set`
//! overrides < one point's sweep values, as figment providers whose metadata lets errors name
//! the key and where its value came from (file and line, `--set ...`, or `sweep ...`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use femscale_core::{Error, Result};
use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::spec::SECTIONS;
use femscale_runtime::config::{
    Attribution, Config, FieldPath, Origin, Provenance, SourceMap, located_config_error,
    provenance_of,
};

const SET_NAME: &str = "--set";
const SWEEP_NAME: &str = "sweep";

/// Reads a TOML file (once) into a dictionary and the [`SourceMap`] of its keys.
///
/// # Errors
/// [`Error::Io`] for a missing or unreadable file, [`Error::Config`] naming the file and, for
/// syntax errors, the line and column.
pub(crate) fn read_toml(path: &Path) -> Result<(Dict, SourceMap)> {
    let text = femscale_runtime::config::read_text_file(path, "experiment file")?;
    let mut data = Toml::string(&text).data().map_err(|e| Error::Config {
        key: None,
        message: format!("{}: {}", path.display(), e.kind),
    })?;
    let source = SourceMap::parse(path, &text)?;
    Ok((data.remove(&Profile::Default).unwrap_or_default(), source))
}

/// The configuration sections of the experiment file, as a provider that reports the file as
/// its source, with the file's source map.
#[derive(Debug, Clone)]
pub(crate) struct FileLayer {
    pub path: PathBuf,
    pub dict: Dict,
    pub source: Arc<SourceMap>,
}

impl Provider for FileLayer {
    fn metadata(&self) -> Metadata {
        Metadata::from("TOML file", self.path.as_path())
    }

    fn data(&self) -> std::result::Result<Map<Profile, Dict>, figment::Error> {
        Ok(Map::from([(Profile::Default, self.dict.clone())]))
    }
}

/// One `key = value` layer (a `--set` override or a sweep value) with a name for errors.
pub(crate) type KeyLayer = femscale_runtime::config::Layer;

/// A `--set key=value` override as a layer.
pub(crate) fn set_layer(item: &str) -> Result<KeyLayer> {
    let (key, value) = parse_override(item)?;
    Ok(KeyLayer {
        name: format!("{SET_NAME} {item}"),
        key,
        value,
    })
}

/// A sweep value as a layer.
pub(crate) fn sweep_layer(key: &str, value: &serde_json::Value) -> Result<KeyLayer> {
    let v = Value::serialize(value).map_err(|e| Error::invalid(sweep_field(key), e.to_string()))?;
    Ok(KeyLayer {
        name: format!(
            "{SWEEP_NAME} value {key} = {}",
            super::sweep::canonical_json(value)
        ),
        key: key.to_string(),
        value: v,
    })
}

/// The error field of a sweep key: `sweep."problem.mesh.nx"`.
pub(crate) fn sweep_field(key: &str) -> String {
    format!("sweep.\"{key}\"")
}

pub(crate) use femscale_runtime::config::parse_override;

/// Sets `dotted` in `dict`, creating tables on the way.
pub(crate) fn insert_dotted(dict: &mut Dict, dotted: &str, value: Value) {
    match dotted.split_once('.') {
        None => {
            dict.insert(dotted.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = dict
                .entry(head.to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if entry.as_dict().is_none() {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert_dotted(inner, rest, value);
            }
        }
    }
}

/// The layered figment: file < `FEMSCALE_*` environment < `layers` in order; keys no layer sets
/// take the schema's defaults when extracted (as for `femscale solve`).
fn figment(file: &FileLayer, layers: &[KeyLayer]) -> Result<Figment> {
    // The `FEMSCALE_*` environment sits between the file and `--set`, as for `femscale solve`;
    // a layer that sets a named table whole replaces it (`config::stacked`).
    let mut all = femscale_runtime::config::env_layers_over(&Figment::from(file.clone()))?;
    all.extend(layers.iter().cloned());
    femscale_runtime::config::stacked(Some(file.clone()), all)
}

/// Extracts the configuration: defaults < file < `FEMSCALE_*` environment < `layers` in order.
/// The values are checked against their bounds ([`Config::check_bounds`]) and for
/// contradictions; errors name the key
/// and the layer its value came from.
pub(crate) fn extract_config(file: &FileLayer, layers: &[KeyLayer]) -> Result<Config> {
    let fig = figment(file, layers)?;
    let config = fig
        .extract::<Config>()
        .map_err(|e| figment_error(e, Some(&file.source), &FieldPath::root()))?;
    (config.check_loaded())
        .and_then(|()| femscale_runtime::config::check_finite_values(&fig))
        .map_err(|e| located_config_error(e, &attribution(&file.source, layers)))?;
    Ok(config)
}

/// The `--set` layers of `overrides` that apply to the configuration (not to `[experiment]`,
/// `[sweep]` or `[output]`); malformed ones are left out (loading reports them).
fn config_set_layers(overrides: &[String]) -> Vec<KeyLayer> {
    overrides
        .iter()
        .filter_map(|item| set_layer(item).ok())
        .filter(|l| {
            let head = l.key.split('.').next().unwrap_or_default();
            !SECTIONS.contains(&head)
        })
        .collect()
}

impl super::Experiment {
    /// Whether the TOML file at `path` is an experiment file: it has an `[experiment]`,
    /// `[sweep]` or `[output]` section.
    ///
    /// # Errors
    /// As [`super::Experiment::load`] for unreadable files and syntax errors.
    pub fn is_experiment_file(path: &Path) -> Result<bool> {
        Ok(read_toml(path)?
            .0
            .keys()
            .any(|k| SECTIONS.contains(&k.as_str())))
    }

    /// Every value of the base configuration (defaults < the file's configuration sections <
    /// `FEMSCALE_*` < `--set`, no sweep values) with the layer it came from, as
    /// [`Config::provenance`] gives it for a configuration file.
    ///
    /// # Errors
    /// A malformed `FEMSCALE_*` variable.
    pub fn base_provenance(&self) -> Result<Vec<Provenance>> {
        let fig = figment(&self.file, &config_set_layers(&self.overrides))?;
        provenance_of(&fig, &self.base, Some(&self.file.source))
    }
}

/// Where the value of `field` in the configuration of the point with sweep values `point`
/// came from: its sweep value, a `--set` override (of the key or of a parent holding it), a
/// `FEMSCALE_*` variable, or the experiment file's line (from its `source` map).
pub(crate) fn point_origin(
    source: &Arc<SourceMap>,
    overrides: &[String],
    point: &[(String, serde_json::Value)],
    field: &FieldPath,
) -> Option<Origin> {
    let mut layers = config_set_layers(overrides);
    layers.extend(point.iter().filter_map(|(k, v)| sweep_layer(k, v).ok()));
    attribution(source, &layers).origin_of(field)
}

/// Where each key of a point's configuration came from: the file (its `source` map), the
/// `FEMSCALE_*` environment, then `layers` (`--set` overrides and sweep values) in order.
pub(crate) fn attribution(source: &Arc<SourceMap>, layers: &[KeyLayer]) -> Attribution {
    let mut attribution = Attribution::new(Some(Arc::clone(source)));
    for layer in femscale_runtime::config::env_layers().unwrap_or_default() {
        attribution.push(layer.name, &layer.key, layer.value);
    }
    for layer in layers {
        attribution.push(layer.name.clone(), &layer.key, layer.value.clone());
    }
    attribution
}

pub(crate) use femscale_runtime::config::closest;
pub(crate) use femscale_runtime::config::figment_error;

/// Checks that `key` names a configuration key by walking the serialised default
/// configuration (any key under `problem.params` or `plugins.options.<component>` is allowed).
///
/// # Errors
/// [`Error::InvalidInput`] for `field`, listing the valid keys at the level that failed.
pub(crate) fn check_config_key(key: &str, field: &str) -> Result<()> {
    let schema = serde_json::to_value(Config::default()).map_err(|e| Error::Config {
        key: None,
        message: format!("cannot serialise the default configuration: {e}"),
    })?;
    let parts: Vec<&str> = key.split('.').collect();
    let mut node = &schema;
    for (i, part) in parts.iter().enumerate() {
        let here = parts[..i].join(".");
        if here == "plugins.options" {
            // `plugins.options.<component>.<option>`: options are the plugin's own, checked
            // by the plugin when the point's solver is built.
            if parts[i..].iter().all(|p| !p.is_empty()) {
                return Ok(());
            }
            return Err(Error::invalid(
                field,
                format!("`{key}`: expected `plugins.options.<component>.<option>`"),
            ));
        }
        if here == "problem.params" {
            if i + 1 == parts.len() && !part.is_empty() {
                return Ok(());
            }
            return Err(Error::invalid(
                field,
                format!("`{key}`: a parameter name cannot contain dots"),
            ));
        }
        if here == "problem.mesh" {
            // Checked against the mesh kind once the base configuration is known
            // ([`check_mesh_keys_of_kind`]).
            return Ok(());
        }
        let Some(map) = node.as_object() else {
            return Err(Error::invalid(
                field,
                format!("`{key}` is not a configuration key: `{here}` has no sub-keys"),
            ));
        };
        match map.get(*part) {
            Some(next) => node = next,
            None => {
                let hint = closest(part, map.keys().map(String::as_str))
                    .map(|c| format!(" (did you mean `{}`?)", join(&here, c)))
                    .unwrap_or_default();
                let level = if here.is_empty() {
                    "the top level".to_string()
                } else {
                    format!("`{here}`")
                };
                let known: Vec<&str> = map.keys().map(String::as_str).collect();
                return Err(Error::invalid(
                    field,
                    format!(
                        "`{key}` is not a configuration key{hint}; keys of {level}: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Checks every swept key under `problem.mesh` against the keys the base configuration's mesh
/// of `kind` takes ([`femscale_runtime::MeshSpec::config_keys_of`]; the default
/// configuration's rectangle shows only its own, and a sweep over `nz` of a box is as valid as
/// one over `nx`) — or, when the sweep also sets the kind (`problem.mesh.kind`, whole
/// `problem.mesh` or `problem` tables), against the keys of any kind, each point's table then
/// being checked as it is read.
///
/// # Errors
/// [`Error::InvalidInput`] for the swept key (`sweep."problem.mesh.nz"`), naming the kind and
/// its keys, with a suggestion.
pub(crate) fn check_mesh_keys_of_kind(swept: &[String], kind: &str) -> Result<()> {
    let sets_kind = swept
        .iter()
        .any(|k| k == "problem" || k == "problem.mesh" || k == "problem.mesh.kind");
    let (keys, owner) = match femscale_runtime::MeshSpec::config_keys_of(kind) {
        Some(keys) if !sets_kind => (
            keys,
            format!("the configuration's {kind} mesh (kind = \"{kind}\")"),
        ),
        _ => (
            femscale_runtime::MeshSpec::config_keys(),
            "a mesh of any kind".to_string(),
        ),
    };
    for key in swept {
        if let Some(rest) = key.strip_prefix("problem.mesh.") {
            let rest: Vec<&str> = rest.split('.').collect();
            check_mesh_key(key, &rest, keys, &owner, !sets_kind)?;
        }
    }
    Ok(())
}

/// Checks `rest`, the parts of `key` after `problem.mesh`, against `keys` (those of `owner`).
fn check_mesh_key(
    key: &str,
    rest: &[&str],
    keys: &[&str],
    owner: &str,
    kind_fixed: bool,
) -> Result<()> {
    let field = sweep_field(key);
    match rest {
        [part] if keys.contains(part) => Ok(()),
        // A named boundary part's predicate: `problem.mesh.parts.<name>`.
        ["parts", name] if keys.contains(&"parts") && !name.is_empty() => Ok(()),
        ["parts", ..] if keys.contains(&"parts") => Err(Error::invalid(
            field,
            format!(
                "`{key}` is not a configuration key: a boundary part's predicate is \
                 `problem.mesh.parts.<name>`"
            ),
        )),
        [part, ..] if keys.contains(part) => Err(Error::invalid(
            field,
            format!("`{key}` is not a configuration key: `problem.mesh.{part}` has no sub-keys"),
        )),
        [part, ..] => {
            let same_but_case = keys.iter().find(|k| k.eq_ignore_ascii_case(part));
            let hint = (same_but_case.copied())
                .or_else(|| closest(part, keys.iter().copied()))
                .map(|c| format!(" (did you mean `problem.mesh.{c}`?)"))
                .unwrap_or_default();
            let change = if kind_fixed {
                "; sweep `problem.mesh.kind` too to change the kind"
            } else {
                ""
            };
            Err(Error::invalid(
                field,
                format!(
                    "`{key}` is not a key of {owner}{hint}; its keys: {}{change}",
                    keys.join(", ")
                ),
            ))
        }
        [] => Ok(()),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys_are_checked_against_the_schema() {
        assert!(check_config_key("problem.mesh.nx", "f").is_ok());
        assert!(check_config_key("solver.kind", "f").is_ok());
        assert!(check_config_key("problem.params.a", "f").is_ok());
        assert!(check_config_key("problem.source", "f").is_ok());
        // Keys of every mesh kind, not only the default rectangle's (review N: a box's `nz`,
        // an interval's `nodes` and a Gmsh file's `path` were refused).
        let swept = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        for (kind, key) in [
            ("box", "nz"),
            ("box", "z"),
            ("interval", "nodes"),
            ("gmsh", "path"),
            ("rectangle", "cell"),
            ("gmsh", "refinements"),
            ("box", "parts.inlet"),
        ] {
            let key = format!("problem.mesh.{key}");
            assert!(check_config_key(&key, "f").is_ok(), "{key}");
            assert!(
                check_mesh_keys_of_kind(&swept(&[&key]), kind).is_ok(),
                "{key}"
            );
        }
        let e = check_mesh_keys_of_kind(&swept(&["problem.mesh.nzz"]), "rectangle").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("sweep.\"problem.mesh.nzz\""), "{text}");
        // Suggestions among the kind's keys (review P: `nzz` suggested a box's `nz`).
        assert!(text.contains("did you mean `problem.mesh.nx`"), "{text}");
        assert!(
            text.contains("rectangle mesh") && !text.contains("nodes"),
            "{text}"
        );
        let e = check_mesh_keys_of_kind(&swept(&["problem.mesh.NX"]), "box").unwrap_err();
        assert!(
            e.to_string().contains("did you mean `problem.mesh.nx`"),
            "{e}"
        );
        for bad in [
            "problem.mesh.nx.y",
            "problem.mesh.parts.a.b",
            "problem.mesh.parts.",
        ] {
            let e = check_mesh_keys_of_kind(&swept(&[bad]), "rectangle").unwrap_err();
            assert!(
                !e.to_string().contains("`problem.mesh.parts` has no"),
                "{e}"
            );
        }
        // With the kind set by the sweep, any kind's keys.
        for kind_key in ["problem.mesh.kind", "problem.mesh", "problem"] {
            assert!(
                check_mesh_keys_of_kind(&swept(&[kind_key, "problem.mesh.nz"]), "rectangle")
                    .is_ok()
            );
        }
        assert!(check_config_key("solver.kind.x", "f").is_err());
        assert!(check_config_key("nothing", "f").is_err());
    }

    #[test]
    fn dotted_insertion_creates_tables() {
        let mut d = Dict::new();
        insert_dotted(&mut d, "a.b.c", Value::from(1));
        insert_dotted(&mut d, "a.d", Value::from(2));
        let a = d["a"].as_dict().unwrap();
        assert_eq!(a["d"].to_i128(), Some(2));
        assert_eq!(a["b"].as_dict().unwrap()["c"].to_i128(), Some(1));
    }
}
