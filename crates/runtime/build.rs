//! Sets `FEMSCALE_BUILD_ID`: a hash of the source of every workspace crate that computes or
//! identifies a result, so that cache keys and run ids change with the code (review S: entries
//! and records of an older build were served by a newer one that computes other numbers,
//! because the version numbers they carried are bumped by hand).
//!
//! Hashed, in a fixed order: the workspace's `Cargo.toml` and `Cargo.lock` (dependency
//! versions), and of each crate in [`CRATES`] its `Cargo.toml`, `build.rs` and every file
//! under `src/`, each as its path relative to the crate, its length and its bytes. Outside the
//! workspace (a crate built from a registry) the crates that are not found are named as missing,
//! and the id still changes with this crate's version.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The crates whose code can change a solve's numbers or a run's identity.
const CRATES: &[&str] = &[
    "core",
    "expr",
    "mesh",
    "assembly",
    "solvers",
    "cache",
    "scaling",
    "plugin-api",
    "distributed",
    "runtime",
    "experiment",
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let crates_dir = manifest.parent().unwrap_or(&manifest).to_path_buf();
    let root = crates_dir.parent().unwrap_or(&crates_dir).to_path_buf();
    let mut hash = Sha256::new();
    hash.update(std::env::var("CARGO_PKG_VERSION").unwrap_or_default());
    for file in ["Cargo.toml", "Cargo.lock"] {
        add_file(&mut hash, &root, &root.join(file));
    }
    for name in CRATES {
        let dir = crates_dir.join(name);
        hash.update(format!("crate {name}\n"));
        if !dir.join("Cargo.toml").is_file() {
            hash.update("missing\n");
            continue;
        }
        for file in ["Cargo.toml", "build.rs"] {
            add_file(&mut hash, &dir, &dir.join(file));
        }
        let mut files = Vec::new();
        collect(&dir.join("src"), &mut files);
        files.sort();
        for file in &files {
            add_file(&mut hash, &dir, file);
        }
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    let digest = hash.finalize();
    let id: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=FEMSCALE_BUILD_ID={id}");
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.toml").display()
    );
}

/// Adds `file`'s path relative to `base`, its length and its bytes (or that it is absent).
fn add_file(hash: &mut Sha256, base: &Path, file: &Path) {
    let relative = file.strip_prefix(base).unwrap_or(file);
    hash.update(format!("file {}\n", relative.display()));
    match std::fs::read(file) {
        Ok(bytes) => {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(&bytes);
        }
        Err(_) => hash.update("absent\n"),
    }
}

/// Every regular file below `dir`.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect(&path, files),
            Ok(t) if t.is_file() => files.push(path),
            _ => {}
        }
    }
}
