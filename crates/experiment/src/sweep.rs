//! Sweep expansion: factors (one per `[sweep]` key, one per `[sweep.zip]` group) multiplied out
//! into [`Point`]s with stable ids.

use std::collections::BTreeMap;

use femscale_core::{Error, Result};
use serde_json::Value;

use femscale_runtime::config::Config;

/// Most points one experiment may expand to (a guard against a runaway product).
pub const MAX_POINTS: usize = 1_000_000;

/// One factor of the cartesian product: its alternatives, each a list of `(key, value)`
/// assignments (one assignment for a `[sweep]` key, one per key for a `[sweep.zip]` group).
pub(crate) type Factor = Vec<Vec<(String, Value)>>;

/// One point of the sweep: the base configuration with `overrides` applied.
#[derive(Debug, Clone)]
pub struct Point {
    pub(crate) index: usize,
    pub(crate) id: String,
    /// SHA-256 of everything the point's result depends on (see `identity.rs`).
    pub(crate) identity: String,
    pub(crate) overrides: Vec<(String, Value)>,
    pub(crate) config: std::result::Result<Config, String>,
}

impl Point {
    /// Position of the point in the sweep (0-based, first factor varies slowest).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Stable id: 16 hex digits of FNV-1a over the canonical JSON of the overrides.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `(dotted key, value)` overrides of this point, in factor order.
    pub fn overrides(&self) -> &[(String, Value)] {
        &self.overrides
    }

    /// The value this point gives `key`, if it sweeps it.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.overrides
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The overrides as a sorted map (the `point` field of `results.jsonl`).
    pub fn as_map(&self) -> BTreeMap<String, Value> {
        self.overrides.iter().cloned().collect()
    }

    /// The resolved configuration (base < `--set` < this point's overrides), or `None` when
    /// the overrides do not fit the schema (see [`Point::config_error`]).
    pub fn config(&self) -> Option<&Config> {
        self.config.as_ref().ok()
    }

    /// Why the overrides do not give a valid configuration, naming the key.
    pub fn config_error(&self) -> Option<&str> {
        self.config.as_ref().err().map(String::as_str)
    }

    /// `key=value` pairs separated by spaces, for logs (`(base)` for a sweep without keys).
    pub fn label(&self) -> String {
        if self.overrides.is_empty() {
            return "(base)".into();
        }
        self.overrides
            .iter()
            .map(|(k, v)| format!("{k}={}", display_value(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What the point's result depends on, hashed (SHA-256, hex): its full effective
    /// configuration, the content of the plugin libraries it names and the femscale version.
    /// Unlike [`Point::id`], it changes when the base configuration does.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The id of repetition `repetition` of this point: 16 hex digits of SHA-256 over its
    /// [identity](Point::identity) and the repetition. A record of `results.jsonl` counts for
    /// this run only under this id.
    pub fn run_id(&self, repetition: usize) -> String {
        super::identity::run_id(&self.identity, repetition)
    }

    /// Unknowns of this point's mesh as configured, when known.
    pub fn estimated_dofs(&self) -> Option<f64> {
        self.config()?.problem.mesh.estimated_nodes()
    }

    /// The mesh size `h` of this point (largest cell width of the configured mesh), when
    /// defined.
    pub fn mesh_size(&self) -> Option<f64> {
        self.config()?.problem.mesh.max_cell_width()
    }
}

/// A value as shown in labels and CSV cells: strings without quotes, everything else as JSON.
pub(crate) fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => canonical_json(other),
    }
}

/// Multiplies the factors out; the first factor varies slowest. No factors give one point
/// without overrides.
pub(crate) fn expand(factors: &[Factor]) -> Result<Vec<Vec<(String, Value)>>> {
    let count = factors
        .iter()
        .try_fold(1usize, |acc, f| acc.checked_mul(f.len()))
        .filter(|&n| n <= MAX_POINTS)
        .ok_or_else(|| {
            Error::invalid(
                "sweep",
                format!("the sweep expands to more than {MAX_POINTS} points"),
            )
        })?;
    let mut points = Vec::with_capacity(count);
    for mut i in 0..count {
        let mut assignments = Vec::new();
        let mut digits = vec![0; factors.len()];
        for (d, f) in factors.iter().enumerate().rev() {
            digits[d] = i % f.len();
            i /= f.len();
        }
        for (f, &d) in factors.iter().zip(&digits) {
            assignments.extend(f[d].iter().cloned());
        }
        points.push(assignments);
    }
    Ok(points)
}

/// JSON with object keys sorted at every level, independent of serde_json's map order.
pub(crate) fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// 64-bit FNV-1a.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Canonical JSON of the overrides as one object with sorted keys.
fn overrides_json(overrides: &[(String, Value)]) -> Value {
    Value::Object(overrides.iter().cloned().collect())
}

/// The stable id of a point: hex FNV-1a of the canonical JSON of its overrides.
pub(crate) fn point_id(overrides: &[(String, Value)]) -> String {
    format!(
        "{:016x}",
        fnv1a(canonical_json(&overrides_json(overrides)).as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expansion_is_a_cartesian_product_with_the_first_factor_slowest() {
        let a: Factor = vec![vec![("a".into(), json!(1))], vec![("a".into(), json!(2))]];
        let z: Factor = vec![
            vec![("x".into(), json!(1)), ("y".into(), json!(10))],
            vec![("x".into(), json!(2)), ("y".into(), json!(20))],
            vec![("x".into(), json!(3)), ("y".into(), json!(30))],
        ];
        let pts = expand(&[a, z]).unwrap();
        assert_eq!(pts.len(), 6);
        assert_eq!(pts[0][0].1, json!(1));
        assert_eq!(pts[2][0].1, json!(1));
        assert_eq!(pts[3][0].1, json!(2));
        assert_eq!(pts[1][1].1, json!(2));
        assert_eq!(pts[1][2].1, json!(20));
        assert_eq!(expand(&[]).unwrap(), vec![Vec::new()]);
    }

    #[test]
    fn ids_are_stable_and_order_independent() {
        let p1 = vec![("b".to_string(), json!(1)), ("a".to_string(), json!("x"))];
        let p2 = vec![("a".to_string(), json!("x")), ("b".to_string(), json!(1))];
        assert_eq!(point_id(&p1), point_id(&p2));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": [1.5, {"d": 1, "c": 2}]})),
            r#"{"a":[1.5,{"c":2,"d":1}],"b":1}"#
        );
    }
}
