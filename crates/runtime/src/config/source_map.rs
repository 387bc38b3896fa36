//! Structured key paths ([`FieldPath`]) and where each key of a TOML file is ([`SourceMap`]),
//! recorded once when the file is parsed, from the spans of `toml_edit`'s parser (the parser
//! figment reads TOML with).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use femscale_core::{Error, Result};
pub use femscale_core::{FieldPath, Step};
use toml_edit::{ImDocument, InlineTable, Item, Table, Value};

/// A place in a text file: 1-based line and column (the column counts characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// Where each key of one TOML file is: the position of every table key, array-of-tables
/// entry, array element and inline-table key, by [`FieldPath`]. Built once when the file is
/// loaded (a configuration file by [`Config::load`](super::Config::load), an experiment
/// file by the experiment loader) and kept for error messages.
///
/// A key's position is where its name is written: `nx` in `mesh = { nx = 0 }`, `dim` in
/// `dim = 2`, `a` in `params.a = 1`. A table defined by a header (`[solver]`) is at its
/// header, an entry of an array of tables (`[[problem.boundary]]`) at its header, and an
/// element of an inline array at the element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMap {
    file: PathBuf,
    positions: BTreeMap<FieldPath, Position>,
}

impl SourceMap {
    /// A map of `file` that knows no keys (the file could not be parsed).
    pub fn empty(file: impl Into<PathBuf>) -> Self {
        Self {
            file: file.into(),
            positions: BTreeMap::new(),
        }
    }

    /// Parses `text`, the contents of `file`.
    ///
    /// # Errors
    /// [`Error::Config`] for a TOML syntax error, naming `FILE:LINE:COLUMN`.
    pub fn parse(file: impl Into<PathBuf>, text: &str) -> Result<Self> {
        let file = file.into();
        let lines = LineIndex::new(text);
        let doc = ImDocument::parse(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let p = lines.position(s.start);
                    format!(":{}:{}", p.line, p.column)
                })
                .unwrap_or_default();
            Error::Config {
                key: None,
                message: format!("{}{at}: {}", file.display(), e.message()),
            }
        })?;
        let mut walker = Walker {
            lines: &lines,
            positions: BTreeMap::new(),
        };
        walker.table(doc.as_table(), &FieldPath::root());
        Ok(Self {
            file,
            positions: walker.positions,
        })
    }

    /// Reads and parses `file`.
    ///
    /// # Errors
    /// [`Error::Config`] for an unreadable file or a TOML syntax error, naming the file.
    pub fn read(file: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::Config {
            key: None,
            message: format!("`{}` cannot be read: {e}", file.display()),
        })?;
        Self::parse(file, &text)
    }

    /// The file this map describes.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Where `path` is written in the file, if it is.
    pub fn get(&self, path: &FieldPath) -> Option<Position> {
        self.positions.get(path).copied()
    }

    /// Whether the file writes `path`.
    pub fn contains(&self, path: &FieldPath) -> bool {
        self.positions.contains_key(path)
    }

    /// Where `path` is written in the file, else where the nearest table or array above it
    /// is (`[solver]` for a `solver.tolerance` the file leaves out); `None` when nothing on
    /// the way is in the file.
    pub fn locate(&self, path: &FieldPath) -> Option<Position> {
        let mut path = path.clone();
        loop {
            if let Some(p) = self.get(&path) {
                return Some(p);
            }
            path = path.parent()?;
        }
    }

    /// Every key of the file with its position, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&FieldPath, Position)> {
        self.positions.iter().map(|(k, v)| (k, *v))
    }

    /// The number of keys, entries and elements recorded.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether no key is recorded.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

/// Byte offsets of line starts, to turn spans into lines and columns.
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// Whether each line is ASCII (its columns are byte offsets: no counting along a line of
    /// 10⁵ array entries for each of them).
    ascii: Vec<bool>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let ascii = (starts.iter().enumerate())
            .map(|(k, &start)| {
                let end = starts.get(k + 1).copied().unwrap_or(text.len());
                text.as_bytes()[start..end].is_ascii()
            })
            .collect();
        Self {
            text,
            starts,
            ascii,
        }
    }

    fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = if self.ascii[line - 1] {
            offset - start
        } else {
            (self.text.get(start..offset)).map_or(offset - start, |s| s.chars().count())
        } + 1;
        Position { line, column }
    }
}

struct Walker<'a> {
    lines: &'a LineIndex<'a>,
    positions: BTreeMap<FieldPath, Position>,
}

impl Walker<'_> {
    fn record(&mut self, path: FieldPath, span: Option<Range<usize>>) {
        if let Some(span) = span {
            // The first place wins: a table's header over keys written below it.
            self.positions
                .entry(path)
                .or_insert_with(|| self.lines.position(span.start));
        }
    }

    fn table(&mut self, table: &Table, path: &FieldPath) {
        for (name, item) in table.iter() {
            let child = path.key(name);
            // A table given by its own header is at the header (its key may have been met
            // first in the header of a sub-table: `[problem.mesh]` before `[problem]`).
            let header = match item {
                Item::Table(t) if !t.is_implicit() => t.span(),
                _ => None,
            };
            let key_span = table.key(name).and_then(toml_edit::Key::span);
            self.record(child.clone(), header.or(key_span));
            self.item(item, &child);
        }
    }

    fn item(&mut self, item: &Item, path: &FieldPath) {
        match item {
            Item::Table(t) => self.table(t, path),
            Item::ArrayOfTables(entries) => {
                for (i, t) in entries.iter().enumerate() {
                    let entry = path.index(i);
                    self.record(entry.clone(), t.span());
                    self.table(t, &entry);
                }
            }
            Item::Value(v) => self.value(v, path),
            Item::None => {}
        }
    }

    fn value(&mut self, value: &Value, path: &FieldPath) {
        match value {
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let entry = path.index(i);
                    self.record(entry.clone(), v.span());
                    self.value(v, &entry);
                }
            }
            Value::InlineTable(t) => self.inline_table(t, path),
            _ => {}
        }
    }

    fn inline_table(&mut self, table: &InlineTable, path: &FieldPath) {
        for (name, v) in table.iter() {
            let child = path.key(name);
            self.record(
                child.clone(),
                table.key(name).and_then(toml_edit::Key::span),
            );
            self.value(v, &child);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(dotted: &str) -> FieldPath {
        FieldPath::parse(dotted)
    }

    #[test]
    fn columns_count_characters_on_lines_that_are_not_ascii() {
        let text = "a = 1\nb = \"\u{e9}\u{e9}\", c = 2\nd = [1, 2]\n";
        let lines = LineIndex::new(text);
        let at = |needle: &str| lines.position(text.find(needle).unwrap());
        assert_eq!(
            at("c ="),
            Position {
                line: 2,
                column: 11
            }
        );
        assert_eq!(at("2]"), Position { line: 3, column: 9 });
        assert_eq!(at("a"), Position { line: 1, column: 1 });
    }

    #[test]
    fn paths_parse_and_display_in_the_dotted_form() {
        let path = p("problem.boundary[1].where");
        assert_eq!(
            path.steps(),
            &[
                Step::Key("problem".into()),
                Step::Key("boundary".into()),
                Step::Index(1),
                Step::Key("where".into()),
            ]
        );
        assert_eq!(path.to_string(), "problem.boundary[1].where");
        let sweep = p("sweep.zip[0].\"problem.mesh.nx\"");
        assert_eq!(
            sweep.steps(),
            &[
                Step::Key("sweep".into()),
                Step::Key("zip".into()),
                Step::Index(0),
                Step::Key("problem.mesh.nx".into()),
            ]
        );
        assert_eq!(sweep.to_string(), "sweep.zip[0].\"problem.mesh.nx\"");
        assert_eq!(p("a[0][2].b").steps().len(), 4);
        assert_eq!(p("a[0][2].b").to_string(), "a[0][2].b");
        // The schema's "every entry" form and the top level.
        assert_eq!(p("problem.boundary[].where"), p("problem.boundary.where"));
        assert!(p("").is_empty());
        assert_eq!(FieldPath::root().to_string(), "");
        // Quotes with escapes round-trip.
        let odd = FieldPath::root().key("a \"b\"").key("c");
        assert_eq!(odd.to_string(), r#""a \"b\"".c"#);
        assert_eq!(p(&odd.to_string()), odd);
        // Builders, parents, prefixes.
        let built = FieldPath::root().key("problem").key("boundary").index(1);
        assert_eq!(built.key("where"), path);
        assert_eq!(path.parent(), Some(built.clone()));
        assert!(path.starts_with(&built) && !built.starts_with(&path));
        assert_eq!(
            path.strip_prefix(&built),
            Some(&[Step::Key("where".into())][..])
        );
        assert_eq!(FieldPath::root().parent(), None);
        assert_eq!(
            FieldPath::from_figment(&["problem", "boundary", "0", "kind"]),
            p("problem.boundary[0].kind")
        );
        assert_eq!(
            "solver.kind".parse::<FieldPath>().unwrap(),
            p("solver.kind")
        );
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
"quoted.key" = 3

[solver]
kind = "cg"

[solver.amg]
sweeps = 2

[[case]]
name = "first"

[[case]]
name = "second"
files = { "c.toml" = "x" }
[case.env]
A = "1"
"#;

    fn line(map: &SourceMap, dotted: &str) -> Option<usize> {
        map.get(&p(dotted)).map(|p| p.line)
    }

    #[test]
    fn keys_of_tables_inline_tables_arrays_and_dotted_keys_are_found() {
        let map = SourceMap::parse("c.toml", TEXT).unwrap();
        assert_eq!(map.file(), Path::new("c.toml"));
        assert_eq!(line(&map, "problem"), Some(2));
        assert_eq!(line(&map, "problem.dim"), Some(3));
        assert_eq!(line(&map, "problem.mesh"), Some(4));
        assert_eq!(line(&map, "problem.mesh.nx"), Some(4));
        assert_eq!(line(&map, "problem.boundary"), Some(5));
        assert_eq!(line(&map, "problem.boundary[0]"), Some(6));
        assert_eq!(line(&map, "problem.boundary[1].where"), Some(7));
        assert_eq!(line(&map, "problem.boundary[0].value"), Some(6));
        assert_eq!(line(&map, "problem.params"), Some(9));
        assert_eq!(line(&map, "problem.params.a"), Some(9));
        assert_eq!(line(&map, "problem.\"quoted.key\""), Some(10));
        assert_eq!(line(&map, "solver"), Some(12));
        assert_eq!(line(&map, "solver.kind"), Some(13));
        assert_eq!(line(&map, "solver.amg"), Some(15));
        assert_eq!(line(&map, "solver.amg.sweeps"), Some(16));
        // Arrays of tables: each entry at its header, its keys below it.
        assert_eq!(line(&map, "case[0]"), Some(18));
        assert_eq!(line(&map, "case[0].name"), Some(19));
        assert_eq!(line(&map, "case[1]"), Some(21));
        assert_eq!(line(&map, "case[1].files.\"c.toml\""), Some(23));
        assert_eq!(line(&map, "case[1].env"), Some(24));
        assert_eq!(line(&map, "case[1].env.A"), Some(25));
        // Columns count characters from 1.
        assert_eq!(
            map.get(&p("problem.mesh.nx")),
            Some(Position {
                line: 4,
                column: 30
            })
        );
        assert_eq!(
            map.get(&p("problem.boundary[1]")),
            Some(Position { line: 7, column: 5 })
        );
    }

    #[test]
    fn keys_absent_from_the_file_fall_back_to_the_table_or_array_above() {
        let map = SourceMap::parse("c.toml", TEXT).unwrap();
        for absent in ["solver.tolerance", "problem.boundary[5]", "case[7].name"] {
            assert!(!map.contains(&p(absent)), "{absent}");
        }
        let located = |d: &str| map.locate(&p(d)).map(|p| p.line);
        assert_eq!(located("solver.tolerance"), Some(12));
        assert_eq!(located("solver.amg.max_levels"), Some(15));
        assert_eq!(located("problem.mesh.ny"), Some(4));
        assert_eq!(located("problem.boundary[1].alpha"), Some(7));
        assert_eq!(located("problem.boundary[5].where"), Some(5));
        // An array of tables is at its first header.
        assert_eq!(located("case[7].name"), Some(18));
        assert_eq!(located("scaling.threads"), None);
        assert_eq!(located(""), None);
    }

    #[test]
    fn a_table_header_wins_over_an_earlier_sub_table_header() {
        let map = SourceMap::parse(
            "c.toml",
            "[problem.mesh]\nnx = 4\n\n[problem]\ndim = 1\n[problem.params]\na = 1\n",
        )
        .unwrap();
        assert_eq!(line(&map, "problem"), Some(4));
        assert_eq!(line(&map, "problem.mesh"), Some(1));
        assert_eq!(line(&map, "problem.mesh.nx"), Some(2));
        assert_eq!(line(&map, "problem.dim"), Some(5));
        assert_eq!(line(&map, "problem.params.a"), Some(7));
        // Implicit tables (`[a.b.c]` defines `a` and `a.b`) are at the header naming them.
        let map = SourceMap::parse("c.toml", "x = 1\n[a.b.c]\nd = 2\n").unwrap();
        assert_eq!(line(&map, "a"), Some(2));
        assert_eq!(line(&map, "a.b"), Some(2));
        assert_eq!(line(&map, "a.b.c.d"), Some(3));
        assert_eq!(map.len(), 5);
    }

    #[test]
    fn inline_arrays_nested_arrays_and_multi_byte_text() {
        let map = SourceMap::parse(
            "c.toml",
            "x = [[1, 2], [3,\n 4]]\n# é\n\"ü\" = { a = [{ b = 1 }] }\n",
        )
        .unwrap();
        assert_eq!(line(&map, "x[1]"), Some(1));
        assert_eq!(line(&map, "x[1][1]"), Some(2));
        assert_eq!(line(&map, "\"ü\".a[0].b"), Some(4));
        assert_eq!(
            map.get(&FieldPath::root().key("ü").key("a")),
            Some(Position { line: 4, column: 9 })
        );
        assert!(!map.is_empty());
        assert!(map.iter().any(|(k, _)| k == &p("x[0][0]")));
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let e = SourceMap::parse("bad.toml", "[problem]\nmesh = {\n").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("bad.toml:"), "{text}");
        let e = SourceMap::parse("dup.toml", "a = 1\na = 2\n").unwrap_err();
        assert!(e.to_string().contains("dup.toml"), "{e}");
        assert!(SourceMap::read(Path::new("/nonexistent/x.toml")).is_err());
        assert!(SourceMap::empty("e.toml").is_empty());
    }
}
