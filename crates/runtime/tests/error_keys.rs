//! Every configuration key the library's messages name exists in the schema.
//!
//! Scans the string literals of the library crates' sources for dotted names that start with
//! a configuration section (`solver.kind`, `problem.boundary[0].where`, ...) and checks each
//! against [`schema_keys`] (the list `docs/configuration.md` is checked against). An error
//! that names `assembly.kind` when the key is `assembly.parallel` sends users looking for a
//! key that does not exist.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use femscale_runtime::config::schema_keys;

/// Sources whose literals are not library messages: the ABI crate, and unit tests (which name
/// wrong keys on purpose).
fn skipped(path: &Path) -> bool {
    let p = path.to_string_lossy().replace('\\', "/");
    p.contains("/plugin-api/") || p.ends_with("/tests.rs") || p.contains("/tests/")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !skipped(&path) {
            out.push(path);
        }
    }
}

/// The contents of the ordinary string literals of `text` (escapes left as written), outside
/// comments; raw strings and char literals are skipped.
fn string_literals(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => i += 3,
            b'\'' if bytes.get(i + 1) == Some(&b'\\') => {
                i += 2;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            }
            b'r' if matches!(bytes.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) =>
            {
                let hashes = bytes[i + 1..].iter().take_while(|&&b| b == b'#').count();
                let close: String = std::iter::once('"')
                    .chain("#".repeat(hashes).chars())
                    .collect();
                let start = i + 2 + hashes;
                i = text[start.min(text.len())..]
                    .find(&close)
                    .map_or(bytes.len(), |e| start + e + close.len());
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                out.push(text[start..i.min(text.len())].to_string());
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// Dotted names in `literal` that start with one of `sections` followed by a dot, with array
/// indices written as `[]` (`problem.boundary[2].where` → `problem.boundary[].where`). Names
/// ending in `.` or `[` are prefixes (`"solver.{option}"`), not keys.
fn named_keys(literal: &str, sections: &BTreeSet<String>) -> Vec<String> {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']');
    let mut out = Vec::new();
    let chars: Vec<char> = literal.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // Not inside a longer name, a file path (`docs/plugins.md`) or a hyphenated word.
        let boundary = i == 0 || !(is_key_char(chars[i - 1]) || matches!(chars[i - 1], '-' | '/'));
        if boundary && chars[i].is_ascii_lowercase() {
            let end = (i..chars.len())
                .find(|&j| !is_key_char(chars[j]))
                .unwrap_or(chars.len());
            let token: String = chars[i..end].iter().collect();
            let section = token.split('.').next().unwrap_or_default();
            if token.contains('.')
                && sections.contains(section)
                && !token.ends_with('.')
                && !token.ends_with('[')
            {
                let mut key = String::new();
                let mut in_index = false;
                for c in token.chars() {
                    match c {
                        '[' => {
                            in_index = true;
                            key.push_str("[]");
                        }
                        ']' => in_index = false,
                        _ if in_index => {}
                        _ => key.push(c),
                    }
                }
                out.push(key);
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Whether `key` is a key of the schema, a table of it (`problem.mesh`), or an entry of a table
/// whose entries are the user's (`problem.params.a`, `plugins.sha256.my-solver`).
fn known(key: &str, schema: &[String]) -> bool {
    schema.iter().any(|k| {
        k == key
            || k.starts_with(&format!("{key}."))
            || k.starts_with(&format!("{key}[]"))
            || key.starts_with(&format!("{k}."))
    })
}

#[test]
fn every_key_named_in_library_messages_exists() {
    let mut schema = schema_keys();
    // A key the default configuration does not write (an unset option of the mesh table),
    // documented in docs/configuration.md.
    schema.push("problem.mesh.parts".into());
    let sections: BTreeSet<String> = schema
        .iter()
        .filter_map(|k| k.split('.').next())
        .map(str::to_string)
        .collect();
    assert!(
        sections.contains("solver") && sections.contains("assembly"),
        "{sections:?}"
    );
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for name in [
        "core", "mesh", "expr", "assembly", "solvers", "cache", "scaling", "runtime", "femscale",
        "cli",
    ] {
        rust_files(&crates.join(name).join("src"), &mut files);
    }
    assert!(files.len() > 50, "{} source files", files.len());
    let mut unknown = BTreeSet::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for literal in string_literals(&text) {
            for key in named_keys(&literal, &sections) {
                checked += 1;
                if !known(&key, &schema) {
                    unknown.insert(format!("{key} ({})", file.display()));
                }
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} keys found: is the scan broken?"
    );
    assert!(
        unknown.is_empty(),
        "keys named but not in the schema: {unknown:#?}"
    );
}

#[test]
fn the_scan_finds_keys_and_skips_prefixes() {
    let sections: BTreeSet<String> = ["solver", "problem"].map(String::from).into();
    let text = r#"let a = "solver.kind"; // "solver.ignored"
        let b = format!("solver.{option}: problem.boundary[3].where and `solver.amg.sweeps`");
        let c = '"'; let d = "problem.mesh.nx=4";"#;
    let keys: Vec<String> = string_literals(text)
        .iter()
        .flat_map(|l| named_keys(l, &sections))
        .collect();
    assert_eq!(
        keys,
        [
            "solver.kind",
            "problem.boundary[].where",
            "solver.amg.sweeps",
            "problem.mesh.nx"
        ]
    );
    let schema = schema_keys();
    assert!(known("problem.params.alpha", &schema));
    assert!(known("problem.mesh", &schema));
    assert!(!known("assembly.kind", &schema));
    assert!(!known("scaling.scaler", &schema));
}
