//! Figment's errors as [`Error::Config`]: the key, where its value came from, and a
//! suggestion for a misspelt key.

use femscale_core::Error;
use femscale_core::error::shown_token;

use super::layers::{ENV_NAME, OVERRIDE_API_NAME, OVERRIDE_NAME};
use super::{FieldPath, Origin, SourceMap, kind_text};

/// Turns figment's error into [`Error::Config`], with the file and line of each key.
pub(super) fn config_error(err: figment::Error, source: Option<&SourceMap>) -> Error {
    figment_error(err, source, &FieldPath::root())
}

/// Layer names that say by themselves where a value came from (`--set k=v`, `environment
/// variable FEMSCALE_…`, `sweep value k = v`).
const NAMED_LAYERS: [&str; 4] = [OVERRIDE_NAME, OVERRIDE_API_NAME, ENV_NAME, "sweep"];

/// Turns figment's error into [`Error::Config`]: one line per problem, naming the key (under
/// `prefix`) and where the value came from (`file:line` from the file's `source` map, or the
/// named layer), with a suggestion for misspelt keys.
pub fn figment_error(err: figment::Error, source: Option<&SourceMap>, prefix: &FieldPath) -> Error {
    let mut lines = Vec::new();
    let mut first_key = None;
    for e in err {
        let path: Vec<&str> = e
            .path
            .iter()
            .map(String::as_str)
            .filter(|k| *k != "default")
            .collect();
        let field = prefix.join(&FieldPath::from_figment(&path));
        let dotted = field.to_string();
        if first_key.is_none() && !dotted.is_empty() {
            first_key = Some(field.clone());
        }
        let named = e.metadata.as_ref().map(|m| m.name.to_string());
        let location = match (&named, source) {
            (Some(n), _) if NAMED_LAYERS.iter().any(|l| n.starts_with(l)) => {
                format!("{}: ", shown_token(n))
            }
            (_, Some(map)) if from_file(&e) => {
                format!("{}: ", Origin::in_file(map, &field).label())
            }
            _ => String::new(),
        };
        let key_part = if dotted.is_empty() {
            String::new()
        } else {
            format!("`{}`: ", shown_token(&dotted))
        };
        // Figment quotes the offending key or value whole (a 10 MB `--set` would be echoed).
        let mut kind = kind_text::kind_text(&e.kind);
        if let figment::error::Kind::UnknownField(name, expected) = &e.kind
            && let Some(close) = closest(name, expected.iter().copied())
        {
            kind.push_str(&format!(" (did you mean `{}`?)", shown_token(close)));
        }
        lines.push(format!("{location}{key_part}{kind}"));
    }
    Error::Config {
        key: first_key,
        message: lines.join("\n"),
    }
}

fn from_file(e: &figment::Error) -> bool {
    e.metadata
        .as_ref()
        .is_some_and(|m| matches!(m.source, Some(figment::Source::File(_))))
}

/// The candidate closest to `name` (edit distance at most 3): the suggestion of "did you
/// mean" hints.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= 3)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
