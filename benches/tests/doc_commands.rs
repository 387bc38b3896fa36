//! `docs/performance.md` names the command behind every table: each example, benchmark, script
//! and criterion table it names must exist, so that a renamed or deleted example breaks this test
//! instead of leaving a figure nobody can regenerate.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ sits in the workspace")
        .to_path_buf()
}

fn doc() -> String {
    std::fs::read_to_string(root().join("docs/performance.md")).expect("docs/performance.md")
}

/// `word` without the markdown and shell punctuation around it.
fn bare(word: &str) -> &str {
    word.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'))
}

/// The words following each occurrence of `flag` (the next whitespace-separated token, bare).
fn after<'a>(text: &'a str, flag: &str) -> Vec<&'a str> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| bare(w[1]))
        .collect()
}

#[test]
fn every_example_named_in_the_doc_exists() {
    let doc = doc();
    let names = after(&doc, "--example");
    assert!(names.len() >= 10, "the doc names only {names:?}");
    for name in names {
        let candidates = [
            root().join(format!("benches/examples/{name}.rs")),
            root().join(format!("crates/solvers/examples/{name}.rs")),
        ];
        assert!(
            candidates.iter().any(|p| p.is_file()),
            "docs/performance.md runs `--example {name}`, which exists nowhere"
        );
    }
}

#[test]
fn every_benchmark_named_in_the_doc_exists() {
    let doc = doc();
    for name in after(&doc, "--bench") {
        let candidates = [
            root().join(format!("benches/benches/{name}.rs")),
            root().join(format!("crates/expr/benches/{name}.rs")),
        ];
        assert!(
            candidates.iter().any(|p| p.is_file()),
            "docs/performance.md runs `--bench {name}`, which exists nowhere"
        );
    }
}

#[test]
fn every_script_and_criterion_table_named_in_the_doc_exists() {
    let doc = doc();
    let scripts: Vec<&str> = doc
        .split(|c: char| c.is_whitespace() || c == '`')
        .filter(|w| w.starts_with("benches/scripts/"))
        .collect();
    assert!(
        scripts.len() >= 5,
        "the doc names only the scripts {scripts:?}"
    );
    for script in scripts {
        assert!(
            root().join(script).is_file(),
            "docs/performance.md runs {script}, which does not exist"
        );
    }
    let criterion = std::fs::read_to_string(root().join("benches/scripts/criterion_table.py"))
        .expect("the criterion table script");
    let words: Vec<&str> = doc.split_whitespace().collect();
    for w in words.windows(3) {
        if w[0].ends_with("criterion_table.py") {
            let table = bare(if w[1] == "--run" { w[2] } else { w[1] });
            assert!(
                criterion.contains(&format!("\"{table}\": (")),
                "docs/performance.md asks criterion_table.py for {table:?}, which it does not print"
            );
        }
    }
}

#[test]
fn the_doc_has_a_regeneration_section_and_no_blanket_median_claim() {
    let doc = doc();
    assert!(doc.contains("## How to regenerate"));
    assert!(
        !doc.contains("All numbers are medians"),
        "say per table how many runs each figure is the median of"
    );
}
