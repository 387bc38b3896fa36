//! Rules kept as tests: docs/configuration.md lists every key, and the defaults it and the config
//! structs' rustdoc claim are `Config::default()`'s.

use super::*;

#[test]
fn configuration_doc_lists_every_key() {
    let doc = include_str!("../../../../docs/configuration.md");
    let all = schema_keys();
    assert!(all.len() > 20, "{all:?}");
    let missing: Vec<_> = all
        .iter()
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md lacks {missing:?}"
    );
}

/// A default as `docs/configuration.md` writes it in a table's `default` column.
#[derive(Debug)]
enum Documented {
    /// `unset`, `unset (…)`, `none`, `by level`, `off in every preset`: no value (the
    /// key is `None`, or decided elsewhere).
    Unset,
    /// `empty`: an empty table or list.
    Empty,
    /// A literal: `` `auto` ``, `` `1e-8` ``, `20000`, `` `["memory"]` ``, ...
    Value(serde_json::Value, String),
}

fn documented(cell: &str) -> Option<Documented> {
    let cell = cell.trim();
    let unset = ["unset", "none", "by level", "off in every preset"];
    if unset.contains(&cell) || cell.starts_with("unset (") {
        return Some(Documented::Unset);
    }
    if cell == "empty" {
        return Some(Documented::Empty);
    }
    let literal = match cell.strip_prefix('`').and_then(|c| c.strip_suffix('`')) {
        Some(inner) if !inner.contains('`') => inner,
        Some(_) => return None,
        None if cell.parse::<f64>().is_ok() => cell,
        None => return None,
    };
    // A TOML value (number, quoted string, array, inline table), else a bare name.
    let value = Figment::from(Toml::string(&format!("v = {literal}")))
        .extract_inner::<serde_json::Value>("v")
        .unwrap_or_else(|_| serde_json::Value::from(literal));
    Some(Documented::Value(value, literal.to_string()))
}

/// Whether the documented `doc` (written as `text` when a number) is `actual`: equal, or a
/// number written rounded to its decimals (`0.6667` for 2/3); in a table, a key left out
/// is unset (`null`).
fn same(doc: &serde_json::Value, text: Option<&str>, actual: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (doc, actual) {
        (Value::Number(d), Value::Number(a)) => {
            let (d, a) = (
                d.as_f64().unwrap_or(f64::NAN),
                a.as_f64().unwrap_or(f64::NAN),
            );
            d == a
                || text
                    .and_then(|t| t.split_once('.'))
                    .is_some_and(|(_, decimals)| {
                        decimals.chars().all(|c| c.is_ascii_digit())
                            && format!("{a:.*}", decimals.len()) == text.unwrap_or_default()
                    })
        }
        (Value::Array(d), Value::Array(a)) => {
            d.len() == a.len() && d.iter().zip(a).all(|(d, a)| same(d, None, a))
        }
        // A key the documented table leaves out is unset.
        (Value::Object(d), Value::Object(a)) => {
            d.iter()
                .all(|(k, d)| a.get(k).is_some_and(|a| same(d, None, a)))
                && a.iter().all(|(k, a)| d.contains_key(k) || a.is_null())
        }
        (d, a) => d == a,
    }
}

/// The value of dotted `key` in `json`; `a.b[].c` looks `c` up in the first entry of the
/// array `a.b` of `entries` (the defaults of an entry whose keys are all left out).
fn lookup<'v>(
    json: &'v serde_json::Value,
    entries: &'v serde_json::Value,
    key: &str,
) -> Option<&'v serde_json::Value> {
    let (root, key) = match key.split_once("[].") {
        Some((array, rest)) => (pointer(entries, array)?.get(0)?, rest),
        None => (json, key),
    };
    pointer(root, key)
}

fn pointer<'v>(json: &'v serde_json::Value, dotted: &str) -> Option<&'v serde_json::Value> {
    json.pointer(&format!("/{}", dotted.replace('.', "/")))
}

/// Every row `key | type | default | meaning` of `doc`'s tables as (key, default cell).
fn documented_defaults(doc: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in doc.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split(" | ").collect();
        if !line.starts_with('|') {
            in_table = false;
        } else if cells.len() >= 3 && cells[0].trim() == "key" && cells[2].trim() == "default" {
            in_table = true;
        } else if in_table
            && let Some(key) = (cells[0].trim().strip_prefix('`')).and_then(|k| k.strip_suffix('`'))
        {
            rows.push((key.to_string(), cells[2].trim().to_string()));
        }
    }
    rows
}

/// The `default` column of `docs/configuration.md` against `Config::default()` serialised,
/// so that a documented default that is not the code's fails here (issue 16: rustdoc and
/// docs had drifted from the defaults).
#[test]
fn configuration_doc_defaults_are_the_codes() {
    let doc = include_str!("../../../../docs/configuration.md");
    let rows = documented_defaults(doc);
    let json = serde_json::to_value(Config::default()).unwrap();
    // An entry of `problem.boundary` whose keys are all left out.
    let entries =
        serde_json::to_value(Config::from_toml_str("[problem]\nboundary = [{}]").unwrap()).unwrap();
    let mut wrong = Vec::new();
    for (key, cell) in &rows {
        let actual = lookup(&json, &entries, key);
        let ok = match documented(cell) {
            None => {
                wrong.push(format!(
                    "`{key}`: cannot read the documented default {cell:?}"
                ));
                continue;
            }
            Some(Documented::Unset) => actual.is_none_or(serde_json::Value::is_null),
            Some(Documented::Empty) => actual.is_some_and(|a| {
                a.as_object().is_some_and(|m| m.is_empty())
                    || a.as_array().is_some_and(|v| v.is_empty())
            }),
            Some(Documented::Value(d, text)) => actual.is_some_and(|a| same(&d, Some(&text), a)),
        };
        if !ok {
            wrong.push(format!(
                "`{key}`: documented {cell}, Config::default() has {}",
                actual.map_or("nothing".to_string(), |a| a.to_string())
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/configuration.md:\n{}",
        wrong.join("\n")
    );
    // Every key of the schema has its row with a default.
    let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    let undocumented: Vec<_> = (schema_keys().into_iter())
        .filter(|k| !keys.contains(&k.as_str()))
        .collect();
    assert!(
        undocumented.is_empty(),
        "no default documented for {undocumented:?}"
    );
}

/// The sections of the configuration by the struct that holds them, with its source.
const SECTIONS: [(&str, &str, &str); 10] = [
    ("SolverConfig", "solver", include_str!("mod.rs")),
    ("AssemblyConfig", "assembly", include_str!("mod.rs")),
    ("ScalingConfig", "scaling", include_str!("../scaling.rs")),
    (
        "AdaptivityConfig",
        "adaptivity",
        include_str!("./adaptivity.rs"),
    ),
    ("CacheConfig", "cache", include_str!("../caching/mod.rs")),
    (
        "PluginsConfig",
        "plugins",
        include_str!("../plugins/mod.rs"),
    ),
    (
        "GmresOptions",
        "solver.gmres",
        include_str!("../../../solvers/src/options.rs"),
    ),
    (
        "AmgOptions",
        "solver.amg",
        include_str!("../../../solvers/src/options.rs"),
    ),
    (
        "SsorOptions",
        "solver.ssor",
        include_str!("../../../solvers/src/options.rs"),
    ),
    (
        "DirectOptions",
        "solver.direct",
        include_str!("../../../solvers/src/options.rs"),
    ),
];

/// The fields of `pub struct name` in `source` with their rustdoc, joined into one line.
fn field_docs(source: &str, name: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    let mut doc = String::new();
    for line in source.lines() {
        let line = line.trim();
        if line == format!("pub struct {name} {{") {
            inside = true;
        } else if inside && line == "}" {
            break;
        } else if inside && let Some(text) = line.strip_prefix("///") {
            doc.push_str(text);
            doc.push(' ');
        } else if inside
            && let Some((field, _)) = line.strip_prefix("pub ").and_then(|l| l.split_once(':'))
        {
            out.push((field.to_string(), std::mem::take(&mut doc)));
        } else if inside && !line.starts_with("#[") {
            doc.clear();
        }
    }
    out
}

/// The default a field's rustdoc claims, if it claims one: `` `auto` (default) ``,
/// `0 (default)`, `` `auto` (default: ...) ``, `(default 2/3)`, `` (default `1e-8`) ``,
/// `(default: none)`; `None` inside for `(default: see ...)`. Errors for a claim that
/// reads otherwise.
fn claimed_default(doc: &str) -> Option<std::result::Result<Option<Documented>, String>> {
    let at = doc.find("(default")?;
    let before = doc[..at].trim_end();
    let after = doc[at + "(default".len()..].trim_start();
    let token_before = || {
        if let Some(b) = before.strip_suffix('`') {
            b.rfind('`').map(|i| format!("`{}`", &b[i + 1..]))
        } else {
            before.rsplit(' ').next().map(str::to_string)
        }
    };
    let claim = if after.starts_with(')') || (after.starts_with(':') && before.ends_with('`')) {
        token_before()
    } else if let Some(rest) = after.strip_prefix(':') {
        let rest = rest.trim_start();
        if rest.starts_with("none") || rest.starts_with("never") {
            return Some(Ok(Some(Documented::Unset)));
        }
        if rest.starts_with("see") {
            return Some(Ok(None));
        }
        None
    } else {
        after
            .split_once(')')
            .map(|(value, _)| value.trim().to_string())
    };
    let Some(claim) = claim else {
        return Some(Err(format!("cannot read the default claimed in {doc:?}")));
    };
    // A fraction such as 2/3.
    if let Some((n, d)) = claim.split_once('/')
        && let (Ok(n), Ok(d)) = (n.parse::<f64>(), d.parse::<f64>())
    {
        return Some(Ok(Some(Documented::Value(
            serde_json::json!(n / d),
            String::new(),
        ))));
    }
    Some(
        documented(&claim)
            .map(Some)
            .ok_or_else(|| format!("cannot read the default {claim:?} claimed in {doc:?}")),
    )
}

/// The `(default …)` claims of the configuration structs' field docs (rustdoc) against
/// `Config::default()`, as the test above does for `docs/configuration.md`.
#[test]
fn rustdoc_default_claims_of_the_config_structs_are_the_codes() {
    let json = serde_json::to_value(Config::default()).unwrap();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (name, prefix, source) in SECTIONS {
        let fields = field_docs(source, name);
        assert!(!fields.is_empty(), "no fields found for {name}");
        for (field, doc) in fields {
            let key = format!("{prefix}.{field}");
            let actual = pointer(&json, &key);
            let ok = match claimed_default(&doc) {
                None | Some(Ok(None)) => continue,
                Some(Err(e)) => {
                    wrong.push(format!("{name}::{field}: {e}"));
                    continue;
                }
                Some(Ok(Some(Documented::Unset))) => actual.is_none_or(serde_json::Value::is_null),
                Some(Ok(Some(Documented::Empty))) => actual.is_some_and(|a| {
                    a.as_array().is_some_and(|v| v.is_empty())
                        || a.as_object().is_some_and(|m| m.is_empty())
                }),
                Some(Ok(Some(Documented::Value(d, text)))) => actual.is_some_and(|a| {
                    same(&d, Some(&text), a)
                        || (d.as_f64().zip(a.as_f64()))
                            .is_some_and(|(d, a)| (d - a).abs() <= 1e-15 * a.abs())
                }),
            };
            checked += 1;
            if !ok {
                wrong.push(format!(
                    "{name}::{field} (`{key}`): rustdoc claims {doc:?}, Config::default() has {}",
                    actual.map_or("nothing".to_string(), |a| a.to_string())
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked >= 30, "only {checked} claims found");
}

#[test]
fn documented_defaults_are_read_and_compared() {
    use serde_json::json;
    assert!(matches!(documented("unset (0)"), Some(Documented::Unset)));
    assert!(documented("some text").is_none());
    let Some(Documented::Value(v, text)) = documented("`0.6667`") else {
        panic!()
    };
    assert!(same(&v, Some(&text), &json!(2.0 / 3.0)));
    assert!(!same(&v, Some(&text), &json!(0.67)));
    let Some(Documented::Value(v, _)) = documented("`auto`") else {
        panic!()
    };
    assert_eq!(v, json!("auto"));
    let Some(Documented::Value(v, text)) = documented("20000") else {
        panic!()
    };
    assert!(same(&v, Some(&text), &json!(20_000)));
    assert!(!same(&v, Some(&text), &json!(2000)));
    let Some(Documented::Value(v, _)) = documented("`[\"memory\"]`") else {
        panic!()
    };
    assert!(same(&v, None, &json!(["memory"])));
    let Some(Documented::Value(v, _)) = documented("`[{ where = \"all\", value = 0.0 }]`") else {
        panic!()
    };
    assert!(same(
        &v,
        None,
        &json!([{"where": "all", "value": 0, "alpha": null}])
    ));
    assert!(!same(
        &v,
        None,
        &json!([{"where": "all", "value": 0, "alpha": 1}])
    ));
}
