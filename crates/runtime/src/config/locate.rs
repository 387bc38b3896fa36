//! Where a configuration value came from: the line of a key in a TOML file ([`locate_key`]) and
//! the layer that set a key or one of its parents ([`Attribution`]).

use std::fmt;
use std::path::{Path, PathBuf};

use figment::value::Value;

/// Where the value of a configuration key came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A named layer: `--set key=value`, `environment variable FEMSCALE_…` or
    /// `sweep value key = value`.
    Layer(String),
    /// The configuration file, at `line` when the key could be found in it.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key (or of the table or array holding it).
        line: Option<usize>,
    },
}

impl Origin {
    /// `--set key=value`, `FILE:LINE` or `FILE`: the form used as a prefix of messages.
    pub fn label(&self) -> String {
        match self {
            Self::Layer(name) => name.clone(),
            Self::File {
                path,
                line: Some(l),
            } => format!("{}:{l}", path.display()),
            Self::File { path, line: None } => path.display().to_string(),
        }
    }
}

impl fmt::Display for Origin {
    /// `from --set key=value` or `in FILE:LINE`: the form used after a message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Layer(name) => write!(f, "from {name}"),
            Self::File { .. } => write!(f, "in {}", self.label()),
        }
    }
}

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `problem.boundary[1].where` as steps.
fn steps(dotted: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in dotted.split('.') {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            let (key, indices) = rest.split_at(open);
            if !key.is_empty() {
                out.push(Step::Key(key.trim_matches('"').to_string()));
            }
            rest = indices;
            for index in rest.split(['[', ']']).filter(|s| !s.is_empty()) {
                match index.parse() {
                    Ok(i) => out.push(Step::Index(i)),
                    Err(_) => out.push(Step::Key(index.to_string())),
                }
            }
        } else if !rest.is_empty() {
            out.push(Step::Key(rest.trim_matches('"').to_string()));
        }
    }
    out
}

/// Whether `value` holds the path `rest`: a table holds its keys, an array its indices (and,
/// as it replaces the whole array when merged, everything below them), a leaf everything
/// below it (the error is about the leaf's type).
fn holds(value: &Value, rest: &[Step]) -> bool {
    let Some((first, tail)) = rest.split_first() else {
        return true;
    };
    match (value, first) {
        (Value::Dict(_, dict), Step::Key(k)) => dict.get(k).is_some_and(|v| holds(v, tail)),
        (Value::Dict(..), Step::Index(_)) => false,
        // Arrays and leaves replace what was below them.
        _ => true,
    }
}

/// The layers of one effective configuration, to say where the value of a key came from:
/// the highest layer that set the key or a parent holding it (`--set problem.boundary=[…]`
/// for an error in `problem.boundary[1].where`), else the file's line.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    file: Option<PathBuf>,
    /// Named layers, lowest priority first.
    layers: Vec<(String, Vec<Step>, Value)>,
}

impl Attribution {
    /// Attribution to `file` alone (no named layers yet).
    pub fn new(file: Option<&Path>) -> Self {
        Self {
            file: file.map(Path::to_path_buf),
            layers: Vec::new(),
        }
    }

    /// Adds a named layer setting dotted `key` to `value`, above the layers added before.
    pub fn push(&mut self, name: impl Into<String>, key: &str, value: Value) {
        self.layers.push((name.into(), steps(key), value));
    }

    /// Where the value of `field` (a dotted key, `problem.boundary[1].where`) came from:
    /// the highest named layer that set it or a parent holding it, else a named layer that set
    /// a key below it, else the file (with the line when the key can be found there). `None`
    /// when there is no file and no layer mentions the key.
    pub fn origin(&self, field: &str) -> Option<Origin> {
        let field = steps(field);
        if field.is_empty() {
            return None;
        }
        let prefix_of =
            |key: &[Step], of: &[Step]| key.len() <= of.len() && key == &of[..key.len()];
        let by_parent =
            self.layers.iter().rev().find(|(_, key, value)| {
                prefix_of(key, &field) && holds(value, &field[key.len()..])
            });
        let by_child = || {
            self.layers
                .iter()
                .rev()
                .find(|(_, key, _)| prefix_of(&field, key))
        };
        if let Some((name, ..)) = by_parent.or_else(by_child) {
            return Some(Origin::Layer(name.clone()));
        }
        let path = self.file.as_ref()?;
        let dotted = field
            .iter()
            .map(|s| match s {
                Step::Key(k) => format!(".{k}"),
                Step::Index(i) => format!("[{i}]"),
            })
            .collect::<String>();
        let line = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| locate_key(&t, dotted.trim_start_matches('.')));
        Some(Origin::File {
            path: path.clone(),
            line,
        })
    }
}

/// The 1-based line of `dotted_key` (e.g. `problem.mesh.nx` or `problem.boundary[0].where`) in
/// TOML `text`, found from table headers, dotted keys, inline tables and multi-line arrays of
/// inline tables. A best effort for error messages: `None` when the key cannot be found.
pub fn locate_key(text: &str, dotted_key: &str) -> Option<usize> {
    let segments: Vec<&str> = dotted_key
        .split(['.', '[', ']'])
        .filter(|p| !p.is_empty())
        .collect();
    let index = segments.iter().find_map(|p| p.parse::<usize>().ok());
    let parts: Vec<&str> = segments
        .iter()
        .copied()
        .filter(|p| p.parse::<usize>().is_err())
        .collect();
    let (&last, parents) = parts.split_last()?;
    let is =
        |path: &[String], want: &[&str]| path.iter().map(String::as_str).eq(want.iter().copied());
    let mentions =
        |rhs: &str| rhs.contains(&format!("{last} =")) || rhs.contains(&format!("{last}="));
    let mut table: Vec<String> = Vec::new();
    let mut fallback = None;
    // Inside a multi-line array of inline tables: its key path, bracket depth, entry index.
    let mut array: Option<(Vec<String>, i64, i64)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if let Some((path, depth, entry)) = array.as_mut() {
            for c in line.chars() {
                match c {
                    '{' => *entry += 1,
                    '[' => *depth += 1,
                    ']' => *depth -= 1,
                    _ => {}
                }
            }
            let hit =
                is(path, parents) && index.is_none_or(|k| k as i64 == *entry) && mentions(line);
            if *depth <= 0 {
                array = None;
            }
            if hit {
                return Some(i + 1);
            }
            continue;
        }
        if let Some(h) = line.strip_prefix('[') {
            let h = h
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim_end_matches(']');
            table = h.split('.').map(|s| s.trim().to_string()).collect();
            if is(&table, &parts) {
                fallback.get_or_insert(i + 1);
            }
            continue;
        }
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let mut path = table.clone();
        path.extend(
            lhs.split('.')
                .map(|s| s.trim().trim_matches('"').to_string()),
        );
        if is(&path, &parts) {
            return Some(i + 1);
        }
        let rhs = rhs.trim();
        let opens = rhs.matches('[').count() as i64 - rhs.matches(']').count() as i64;
        if rhs.starts_with('[') && opens > 0 {
            let entries = rhs.matches('{').count() as i64 - 1;
            if is(&path, parents)
                && index.is_none_or(|k| k as i64 == entries)
                && entries >= 0
                && mentions(rhs)
            {
                return Some(i + 1);
            }
            array = Some((path, opens, entries));
            continue;
        }
        // Inline table or single-line array holding the key: `mesh = { nx = 0 }`.
        if path.len() <= parents.len()
            && is(&path, &parents[..path.len()])
            && !parents.is_empty()
            && mentions(rhs)
        {
            return Some(i + 1);
        }
    }
    fallback
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(toml: &str) -> Value {
        figment::Figment::from(
            <figment::providers::Toml as figment::providers::Format>::string(&format!(
                "v = {toml}"
            )),
        )
        .extract_inner("v")
        .unwrap()
    }

    #[test]
    fn the_highest_layer_holding_the_key_or_a_parent_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, TEXT).unwrap();
        let mut a = Attribution::new(Some(&file));
        a.push(
            "environment variable FEMSCALE_SOLVER__KIND",
            "solver.kind",
            value("\"cg\""),
        );
        a.push(
            "--set problem.boundary=[…]",
            "problem.boundary",
            value("[{ where = \"north\" }]"),
        );
        a.push(
            "--set problem.mesh={ nx = 0 }",
            "problem.mesh",
            value("{ nx = 0 }"),
        );
        let origin = |f: &str| a.origin(f).map(|o| o.label());
        assert_eq!(
            origin("problem.boundary[0].where").as_deref(),
            Some("--set problem.boundary=[…]")
        );
        assert_eq!(
            origin("problem.mesh.nx").as_deref(),
            Some("--set problem.mesh={ nx = 0 }")
        );
        // The override of `problem.mesh` does not hold `kind`: that comes from the file.
        assert_eq!(
            origin("problem.mesh.kind"),
            Some(format!("{}:4", file.display()))
        );
        assert_eq!(
            origin("solver.kind").as_deref(),
            Some("environment variable FEMSCALE_SOLVER__KIND")
        );
        assert_eq!(origin("problem.dim"), Some(format!("{}:3", file.display())));
        assert_eq!(
            a.origin("problem.boundary[0].where").unwrap().to_string(),
            "from --set problem.boundary=[…]"
        );
        assert_eq!(Attribution::default().origin("solver.kind"), None);
    }

    const TEXT: &str = r#"
[problem]
dim = 2
mesh = { kind = "rectangle", nx = 0 }
boundary = [
    { where = "left", value = 0.0 },
    { where = "north", value = 1.0 },
]
params.a = 1.0

[solver]
kind = "cg"
"#;

    #[test]
    fn locate_key_finds_tables_inline_tables_and_array_entries() {
        assert_eq!(locate_key(TEXT, "problem.dim"), Some(3));
        assert_eq!(locate_key(TEXT, "problem.mesh.nx"), Some(4));
        assert_eq!(locate_key(TEXT, "problem.boundary[1].where"), Some(7));
        assert_eq!(locate_key(TEXT, "problem.boundary[0].value"), Some(6));
        assert_eq!(locate_key(TEXT, "problem.params.a"), Some(9));
        assert_eq!(locate_key(TEXT, "solver.kind"), Some(12));
        assert_eq!(locate_key(TEXT, "solver"), Some(11));
        assert_eq!(locate_key(TEXT, "solver.tolerance"), None);
        assert_eq!(
            locate_key(
                "[problem]\nboundary = [{ where = \"x\" }]\n",
                "problem.boundary[0].where"
            ),
            Some(2)
        );
    }
}
