//! Tables whose keys are names a user chooses — per-subdomain coefficients, parameters, mesh
//! parts, plugin options — are values, not structures: a layer that sets one whole (`--set
//! 'problem.diffusion={ a = 1.0 }'`, a variable, a sweep value) replaces it. Figment merges
//! tables key by key, which kept the file's `b = 5` beside the new `a = 1` (and mixed the
//! file's names with the override's marker numbers); so the layers below a replacing one drop
//! the table first. Settings tables (`problem.mesh`, `solver.amg`) still merge key by key.

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

use super::layers::NAMED_TABLES;

/// What replacing named tables does to a stack of layers (`key`, `value`, lowest first): the
/// tables the base below them (the file) drops, and the layers as they are merged — a layer
/// that sets a named table whole, by its key or inside a parent table's value (`--set
/// 'problem={ params = { c = 1 } }'`), drops that table from every lower layer (a layer of a
/// key in it goes; a parent layer's value loses it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableReplacements {
    /// Tables the base provider drops.
    pub dropped: Vec<&'static str>,
    /// One flag per layer: whether it is merged (a replaced layer is not).
    pub keep: Vec<bool>,
    /// Per layer, the tables (relative to its key) its value loses.
    pub pruned: Vec<Vec<String>>,
}

impl TableReplacements {
    /// The plan for `layers`, lowest first.
    pub fn of<'a>(layers: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Self {
        let layers: Vec<(&str, &Value)> = layers.into_iter().collect();
        let mut keep = vec![true; layers.len()];
        let mut pruned = vec![Vec::new(); layers.len()];
        let mut dropped = Vec::new();
        for (i, (key, value)) in layers.iter().enumerate() {
            for table in replaced_tables(key, value) {
                if !dropped.contains(&table) {
                    dropped.push(table);
                }
                for (j, (lower, _)) in layers[..i].iter().enumerate() {
                    if within(lower, table) {
                        keep[j] = false;
                    } else if let Some(rest) = inside(table, lower) {
                        pruned[j].push(rest.to_string());
                    }
                }
            }
        }
        Self {
            dropped,
            keep,
            pruned,
        }
    }
}

/// The named tables `key = value` sets whole: `key` itself when it is one and `value` a
/// table, and those inside `value` when `key` is a parent of them.
fn replaced_tables(key: &str, value: &Value) -> Vec<&'static str> {
    (NAMED_TABLES.iter().copied())
        .filter(|table| match inside(table, key) {
            Some(rest) => matches!(lookup(value, rest), Some(Value::Dict(..))),
            None => *table == key && matches!(value, Value::Dict(..)),
        })
        .collect()
}

/// Whether `key` is `table` or a key inside it.
fn within(key: &str, table: &str) -> bool {
    key.strip_prefix(table)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// `table`'s path below `parent` (`params` for `problem.params` in `problem`), when `parent`
/// is a proper parent of it.
fn inside<'t>(table: &'t str, parent: &str) -> Option<&'t str> {
    table.strip_prefix(parent)?.strip_prefix('.')
}

/// The value at dotted `path` inside `value`.
fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, step| match v {
        Value::Dict(_, dict) => dict.get(step),
        _ => None,
    })
}

/// `value` without the dotted keys `pruned` (relative to it).
pub(super) fn pruned_value(mut value: Value, pruned: &[String]) -> Value {
    if let Value::Dict(_, dict) = &mut value {
        for path in pruned {
            remove_dotted(dict, path);
        }
    }
    value
}

/// `inner` without the dotted keys `dropped`.
#[derive(Debug, Clone)]
pub struct Dropping<P> {
    /// The provider whose data loses the keys.
    pub inner: P,
    /// Dotted keys removed from its data.
    pub dropped: Vec<&'static str>,
}

impl<P: Provider> Provider for Dropping<P> {
    fn metadata(&self) -> Metadata {
        self.inner.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.inner.data()?;
        for dict in data.values_mut() {
            for key in &self.dropped {
                remove_dotted(dict, key);
            }
        }
        Ok(data)
    }
}

/// Removes `dotted` from `dict` (nothing when a table on the way is missing).
fn remove_dotted(dict: &mut Dict, dotted: &str) {
    match dotted.split_once('.') {
        None => {
            dict.remove(dotted);
        }
        Some((head, rest)) => {
            if let Some(Value::Dict(_, inner)) = dict.get_mut(head) {
                remove_dotted(inner, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, f64)]) -> Value {
        let dict: Dict = (pairs.iter())
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        Value::from(dict)
    }

    #[test]
    fn a_named_table_set_whole_drops_the_lower_ones() {
        let whole = table(&[("a", 1.0)]);
        let one = Value::from(2.0);
        let mesh = table(&[("nx", 8.0)]);
        // A key that only starts like the table (built here: no such key exists).
        let longer = format!("{}x", "problem.diffusion");
        let layers = [
            ("problem.diffusion.b", &one),
            ("problem.mesh", &mesh),
            ("problem.diffusion", &whole),
            ("problem.diffusion.c", &one),
            (longer.as_str(), &one),
        ];
        let plan = TableReplacements::of(layers);
        assert_eq!(plan.dropped, ["problem.diffusion"]);
        assert_eq!(plan.keep, [false, true, true, true, true]);
        // Set inside a parent's value, the table goes from the lower layers too, and a lower
        // parent layer loses it from its value.
        let problem = Value::from(Dict::from([("params".to_string(), whole.clone())]));
        let layers = [
            ("problem", &problem),
            ("problem.params.b", &one),
            ("problem", &problem),
        ];
        let plan = TableReplacements::of(layers);
        assert_eq!(plan.dropped, ["problem.params"]);
        assert_eq!(plan.keep, [true, false, true]);
        assert_eq!(plan.pruned[0], ["params"]);
        assert!(plan.pruned[1].is_empty() && plan.pruned[2].is_empty());
        // A number for the table (a constant coefficient) replaces it by itself.
        let plan = TableReplacements::of([("problem.diffusion", &one)]);
        assert!(plan.dropped.is_empty());
    }

    #[test]
    fn dropping_removes_nested_keys() {
        let mut dict = Dict::new();
        dict.insert(
            "problem".into(),
            Value::from(Dict::from([
                ("diffusion".to_string(), table(&[("a", 5.0), ("b", 5.0)])),
                ("source".to_string(), Value::from(1.0)),
            ])),
        );
        remove_dotted(&mut dict, "problem.diffusion");
        remove_dotted(&mut dict, "plugins.options");
        let problem = dict["problem"].as_dict().unwrap();
        assert!(!problem.contains_key("diffusion") && problem.contains_key("source"));
    }
}
