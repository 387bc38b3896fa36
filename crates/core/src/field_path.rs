//! [`FieldPath`]: the structured path of a parameter or configuration key that errors carry
//! (`problem.boundary[1].where`), so that layers can prefix and rename it without parsing
//! strings.

use std::fmt;

/// One step of a [`FieldPath`]: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// A key of a table (`where` in `problem.boundary[1].where`).
    Key(String),
    /// An index into an array (`1` in `problem.boundary[1].where`).
    Index(usize),
}

/// The path of a configuration key as steps: `problem.boundary[1].where` is
/// `[Key("problem"), Key("boundary"), Index(1), Key("where")]`.
///
/// Displayed in the dotted form, with keys that are not bare TOML keys quoted
/// (`sweep."problem.mesh.nx"`); [`FieldPath::parse`] reads that form back.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath {
    steps: Vec<Step>,
}

impl FieldPath {
    /// The empty path (the top level of a file).
    pub fn root() -> Self {
        Self::default()
    }

    /// Reads the dotted form: `problem.boundary[1].where`, `sweep."problem.mesh.nx"`,
    /// `sweep.zip[0]."problem.mesh.ny"`. Bare keys end at `.` or `[`; quoted keys may hold
    /// dots and brackets (`\"` and `\\` are escapes); `[N]` is an index. The form of error
    /// fields, so reading never fails: an unclosed quote takes the rest of the text, a
    /// bracket that holds no number is read as a key and `[]` (the schema's "every entry",
    /// `problem.boundary[].where`) is skipped.
    pub fn parse(dotted: &str) -> Self {
        let mut steps = Vec::new();
        let mut chars = dotted.chars().peekable();
        let mut bare = String::new();
        let end_bare = |bare: &mut String, steps: &mut Vec<Step>| {
            let key = bare.trim();
            if !key.is_empty() {
                steps.push(Step::Key(key.to_string()));
            }
            bare.clear();
        };
        while let Some(c) = chars.next() {
            match c {
                '.' => end_bare(&mut bare, &mut steps),
                '"' if bare.trim().is_empty() => {
                    bare.clear();
                    let mut key = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => key.extend(chars.next()),
                            c => key.push(c),
                        }
                    }
                    steps.push(Step::Key(key));
                }
                '[' => {
                    end_bare(&mut bare, &mut steps);
                    let mut inside = String::new();
                    for c in chars.by_ref() {
                        if c == ']' {
                            break;
                        }
                        inside.push(c);
                    }
                    let inside = inside.trim();
                    match inside.parse() {
                        Ok(i) => steps.push(Step::Index(i)),
                        Err(_) if inside.is_empty() => {}
                        Err(_) => steps.push(Step::Key(inside.trim_matches('"').to_string())),
                    }
                }
                c => bare.push(c),
            }
        }
        end_bare(&mut bare, &mut steps);
        Self { steps }
    }

    /// The path of a figment error (`["problem", "boundary", "0", "where"]`): figment names
    /// array entries by their index, so all-digit steps are read as indices.
    pub fn from_figment<S: AsRef<str>>(path: &[S]) -> Self {
        let steps = path
            .iter()
            .map(|s| {
                let s = s.as_ref();
                match s.parse() {
                    Ok(i) if s.bytes().all(|b| b.is_ascii_digit()) => Step::Index(i),
                    _ => Step::Key(s.to_string()),
                }
            })
            .collect();
        Self { steps }
    }

    /// The steps, outermost first.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Whether this is the empty path.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// This path followed by table key `key`.
    #[must_use]
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.steps.push(Step::Key(key.into()));
        p
    }

    /// This path followed by array index `index`.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut p = self.clone();
        p.steps.push(Step::Index(index));
        p
    }

    /// This path followed by the steps of `rest`.
    #[must_use]
    pub fn join(&self, rest: &FieldPath) -> Self {
        let mut p = self.clone();
        p.steps.extend(rest.steps.iter().cloned());
        p
    }

    /// The path without its last step (`None` for the empty path).
    pub fn parent(&self) -> Option<Self> {
        let (_, parent) = self.steps.split_last()?;
        Some(Self {
            steps: parent.to_vec(),
        })
    }

    /// Whether `prefix` is this path or a path above it.
    pub fn starts_with(&self, prefix: &FieldPath) -> bool {
        self.steps.starts_with(&prefix.steps)
    }

    /// The steps below `prefix`, when `prefix` is a path above this one (or this one).
    pub fn strip_prefix(&self, prefix: &FieldPath) -> Option<&[Step]> {
        self.steps.strip_prefix(prefix.steps.as_slice())
    }
}

impl From<&str> for FieldPath {
    fn from(dotted: &str) -> Self {
        Self::parse(dotted)
    }
}

impl std::str::FromStr for FieldPath {
    type Err = std::convert::Infallible;

    fn from_str(dotted: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Self::parse(dotted))
    }
}

/// Whether `key` can be written without quotes in a dotted path.
fn is_bare(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for FieldPath {
    /// `problem.boundary[1].where`; keys that are not bare are quoted: `sweep."problem.mesh.nx"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare(k) {
                        f.write_str(k)?;
                    } else {
                        write!(f, "\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\""))?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl From<String> for FieldPath {
    fn from(dotted: String) -> Self {
        Self::parse(&dotted)
    }
}

impl From<&String> for FieldPath {
    fn from(dotted: &String) -> Self {
        Self::parse(dotted)
    }
}

impl From<&FieldPath> for FieldPath {
    fn from(path: &FieldPath) -> Self {
        path.clone()
    }
}

/// Compares with the dotted form (`path == "problem.mesh.nx"`).
impl PartialEq<str> for FieldPath {
    fn eq(&self, dotted: &str) -> bool {
        *self == Self::parse(dotted)
    }
}

impl PartialEq<&str> for FieldPath {
    fn eq(&self, dotted: &&str) -> bool {
        *self == Self::parse(dotted)
    }
}

impl From<&[Step]> for FieldPath {
    fn from(steps: &[Step]) -> Self {
        Self {
            steps: steps.to_vec(),
        }
    }
}
