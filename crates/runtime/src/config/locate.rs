//! Where a configuration value came from ([`Origin`]): the layer that set a key or one of its
//! parents, else the key's line in the file, looked up in the file's [`SourceMap`]
//! ([`Attribution`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use femscale_core::error::shown_token;
use figment::value::Value;

use super::source_map::{FieldPath, SourceMap, Step};

/// Where the value of a configuration key came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A named layer: `--set key=value`, `environment variable FEMSCALE_…` or
    /// `sweep value key = value`.
    Layer(String),
    /// The configuration file, at `line` when the key (or a table or array holding it) is
    /// written there.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key (or of the table or array holding it).
        line: Option<usize>,
        /// 1-based column of the key (or of the table or array holding it), in characters.
        column: Option<usize>,
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
                ..
            } => format!("{}:{l}", path.display()),
            Self::File { path, .. } => path.display().to_string(),
        }
    }

    /// The file origin of `path` in the file `map` describes: its line and column, or those
    /// of the nearest table or array above it ([`SourceMap::locate`]).
    pub fn in_file(map: &SourceMap, path: &FieldPath) -> Self {
        let position = map.locate(path);
        Self::File {
            path: map.file().to_path_buf(),
            line: position.map(|p| p.line),
            column: position.map(|p| p.column),
        }
    }
}

impl fmt::Display for Origin {
    /// `from --set key=value` or `in FILE:LINE`: the form used after a message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Layer(name) => write!(f, "from {}", shown_token(name)),
            Self::File { .. } => write!(f, "in {}", self.label()),
        }
    }
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
/// for an error in `problem.boundary[1].where`), else the file's line, from the file's
/// [`SourceMap`] built when it was loaded.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    source: Option<Arc<SourceMap>>,
    /// Named layers, lowest priority first.
    layers: Vec<(String, FieldPath, Value)>,
}

impl Attribution {
    /// Attribution to the file `source` describes alone (no named layers yet); `None` when
    /// there is no file.
    pub fn new(source: Option<Arc<SourceMap>>) -> Self {
        Self {
            source,
            layers: Vec::new(),
        }
    }

    /// The source map of the file, if there is one.
    pub fn source_map(&self) -> Option<&SourceMap> {
        self.source.as_deref()
    }

    /// Adds a named layer setting dotted `key` to `value`, above the layers added before.
    pub fn push(&mut self, name: impl Into<String>, key: &str, value: Value) {
        self.layers
            .push((name.into(), FieldPath::parse(key), value));
    }

    /// Where the value of `field` (an error's field, `problem.boundary[1].where`) came from:
    /// [`Attribution::origin_of`] its [`FieldPath`].
    pub fn origin(&self, field: &str) -> Option<Origin> {
        self.origin_of(&FieldPath::parse(field))
    }

    /// Where the value of `field` came from: the highest named layer that set it or a parent
    /// holding it, else a named layer that set a key below it, else the file (with the line
    /// of the key, or of the nearest table or array above it written in the file). `None`
    /// when there is no file and no layer mentions the key.
    pub fn origin_of(&self, field: &FieldPath) -> Option<Origin> {
        if field.is_empty() {
            return None;
        }
        let by_parent = self.layers.iter().rev().find(|(_, key, value)| {
            field
                .strip_prefix(key)
                .is_some_and(|rest| holds(value, rest))
        });
        // A whole section (`problem`: an error about the problem as a whole, such as data out
        // of double precision's range) is not attributed to whichever key below it a layer set
        // (review R: `--set problem.mesh.nx=8` was named for an overflowing diffusion).
        let by_child = || {
            (field.steps().len() > 1)
                .then(|| (self.layers.iter().rev()).find(|(_, key, _)| key.starts_with(field)))
                .flatten()
        };
        if let Some((name, ..)) = by_parent.or_else(by_child) {
            return Some(Origin::Layer(name.clone()));
        }
        let map = self.source.as_deref()?;
        Some(Origin::in_file(map, field))
    }
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
        let file = std::path::Path::new("dir/c.toml");
        let map = SourceMap::parse(file, TEXT).unwrap();
        let mut a = Attribution::new(Some(Arc::new(map)));
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
        let long = Origin::Layer(format!(
            "--set problem.source=\"{}\u{1b}\"",
            "x+".repeat(1000)
        ));
        let shown = long.to_string();
        assert!(
            shown.chars().count() <= femscale_core::error::SHOWN_TOKEN + 6,
            "{shown}"
        );
        assert!(shown.ends_with('…') && !shown.contains('\u{1b}'), "{shown}");
        // A key the file leaves out is at the table holding it; nothing on the way: no line.
        assert_eq!(
            origin("solver.tolerance"),
            Some(format!("{}:11", file.display()))
        );
        assert_eq!(
            a.origin("scaling.threads"),
            Some(Origin::File {
                path: file.to_path_buf(),
                line: None,
                column: None
            })
        );
        assert_eq!(a.origin(""), None);
        // The problem as a whole is the file's section, whatever a layer set below it.
        assert_eq!(origin("problem"), Some(format!("{}:2", file.display())));
        let mut only_set = Attribution::default();
        only_set.push("--set problem.mesh.nx=8", "problem.mesh.nx", value("8"));
        assert_eq!(only_set.origin("problem"), None);
        assert!(only_set.origin("problem.mesh").is_some());
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
}
