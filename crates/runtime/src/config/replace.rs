//! Tables whose keys are names a user chooses — per-subdomain coefficients, parameters, mesh
//! parts, plugin options — are values, not structures: a layer that sets one whole (`--set
//! 'problem.diffusion={ a = 1.0 }'`, a variable, a sweep value) replaces it. Figment merges
//! tables key by key, which kept the file's `b = 5` beside the new `a = 1` (and mixed the
//! file's names with the override's marker numbers); so the layers below a replacing one drop
//! the table first. Settings tables (`problem.mesh`, `solver.amg`) still merge key by key.

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

use super::NAMED_TABLES;

/// Which of a stack of layers (`key`, `value`, lowest first) survive, and which tables the
/// base below them (the file) loses: a layer setting a named table whole to a table drops that
/// table from the base and every lower layer that sets it or a key in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableReplacements {
    /// Tables the base provider drops.
    pub dropped: Vec<&'static str>,
    /// One flag per layer: whether it is merged (a replaced layer is not).
    pub keep: Vec<bool>,
}

impl TableReplacements {
    /// The plan for `layers`, lowest first.
    pub fn of<'a>(layers: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Self {
        let layers: Vec<(&str, &Value)> = layers.into_iter().collect();
        let mut keep = vec![true; layers.len()];
        let mut dropped = Vec::new();
        for (i, (key, value)) in layers.iter().enumerate() {
            let Some(table) = replaced_table(key, value) else {
                continue;
            };
            if !dropped.contains(&table) {
                dropped.push(table);
            }
            for (j, (lower, _)) in layers[..i].iter().enumerate() {
                if within(lower, table) {
                    keep[j] = false;
                }
            }
        }
        Self { dropped, keep }
    }
}

/// The named table `key` sets whole, when `value` is a table.
fn replaced_table(key: &str, value: &Value) -> Option<&'static str> {
    let table = NAMED_TABLES.iter().copied().find(|t| *t == key)?;
    matches!(value, Value::Dict(..)).then_some(table)
}

/// Whether `key` is `table` or a key inside it.
fn within(key: &str, table: &str) -> bool {
    key.strip_prefix(table)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
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
