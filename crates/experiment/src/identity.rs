//! What a run's result depends on, hashed: the identity behind run ids.
//!
//! A run id covers everything that can change the run's result, so that resuming into an
//! output directory never reports a result computed from other inputs:
//!
//! * the point's full effective configuration (defaults < file < `FEMSCALE_*` environment <
//!   `--set` < the point's sweep values), as canonical JSON — editing `[problem]` or
//!   `[solver]` in the file, or passing another `--set`, gives every point a new identity;
//! * the content (SHA-256) of every plugin library the configuration names: each file of
//!   `plugins.paths` and each dynamic library found in `plugins.dirs` — a rebuilt plugin at
//!   the same path is another identity;
//! * the content (SHA-256) of the mesh file (`problem.mesh.path` of a Gmsh mesh) — an edited
//!   `.msh` file at the same path is another identity;
//! * the femscale version ([`FEMSCALE_VERSION`]), the build ([`BUILD_ID`]: a hash of the source
//!   of the crates that compute results, so that records of other code are not resumed as
//!   this code's) and the discretisation version of `femscale-assembly`
//!   ([`DISCRETISATION_VERSION`]);
//! * the repetition.
//!
//! A point whose configuration is invalid is identified by its overrides and the error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use femscale_assembly::DISCRETISATION_VERSION;

use super::sweep::canonical_json;
use femscale_runtime::config::Config;
use femscale_runtime::plugins::{PluginsConfig, file_sha256};
use femscale_runtime::{BUILD_ID, FEMSCALE_VERSION};

/// Content hashes of plugin and mesh files, computed once per experiment load.
#[derive(Debug, Default)]
pub(crate) struct PluginHashes {
    by_path: HashMap<PathBuf, String>,
}

impl PluginHashes {
    fn hash(&mut self, path: &Path) -> String {
        self.by_path
            .entry(path.to_path_buf())
            .or_insert_with(|| match file_sha256(path) {
                Ok(hex) => hex,
                Err(e) => format!("unreadable: {}", e.kind()),
            })
            .clone()
    }

    /// `[path, sha256]` of every library `plugins` names: its paths in order, then the
    /// dynamic libraries of each directory sorted by name.
    pub(crate) fn fingerprint(&mut self, plugins: &PluginsConfig) -> Value {
        let mut files: Vec<Value> = Vec::new();
        for path in &plugins.paths {
            files.push(json!([path.display().to_string(), self.hash(path)]));
        }
        for dir in &plugins.dirs {
            let mut libs: Vec<PathBuf> = match std::fs::read_dir(dir) {
                Ok(entries) => entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| femscale_runtime::plugins::is_dynamic_library(p))
                    .collect(),
                Err(e) => {
                    files.push(json!([
                        dir.display().to_string(),
                        format!("unreadable: {}", e.kind())
                    ]));
                    continue;
                }
            };
            libs.sort();
            for lib in libs {
                files.push(json!([lib.display().to_string(), self.hash(&lib)]));
            }
        }
        Value::Array(files)
    }
}

/// The identity of a point: SHA-256 (lower-case hex) of the canonical JSON of its effective
/// configuration (or its overrides and configuration error), its plugin libraries' content and
/// the femscale version, build and discretisation version.
pub(crate) fn point_identity(
    config: &std::result::Result<Config, String>,
    overrides: &[(String, Value)],
    hashes: &mut PluginHashes,
) -> String {
    identity_at(
        config,
        overrides,
        hashes,
        (FEMSCALE_VERSION, BUILD_ID, DISCRETISATION_VERSION),
    )
}

/// [`point_identity`] as femscale `versions.0` of build `versions.1` with discretisation
/// `versions.2` computes it.
fn identity_at(
    config: &std::result::Result<Config, String>,
    overrides: &[(String, Value)],
    hashes: &mut PluginHashes,
    (femscale, build, discretisation): (&str, &str, u32),
) -> String {
    let doc = match config {
        Ok(config) => {
            let mut doc = json!({
                "femscale": femscale,
                "build": build,
                "discretisation": discretisation,
                "config": serde_json::to_value(config).unwrap_or(Value::Null),
                "plugins": hashes.fingerprint(&config.plugins),
            });
            // Only where there is one (the identities of generated meshes stay as they were).
            if let Some(path) = config.problem.mesh.file() {
                doc["mesh_file"] = json!([path.display().to_string(), hashes.hash(path)]);
            }
            doc
        }
        Err(message) => json!({
            "femscale": femscale,
            "build": build,
            "discretisation": discretisation,
            "invalid": message,
            "overrides": Value::Object(overrides.iter().cloned().collect()),
        }),
    };
    sha256_hex(canonical_json(&doc).as_bytes())
}

/// The id of one repetition of a point with `identity`: the first 16 hex digits of
/// SHA-256 over `{"identity": .., "repetition": ..}`.
pub(crate) fn run_id(identity: &str, repetition: usize) -> String {
    let doc = json!({ "identity": identity, "repetition": repetition });
    sha256_hex(canonical_json(&doc).as_bytes())[..16].to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(config: &Config) -> String {
        point_identity(&Ok(config.clone()), &[], &mut PluginHashes::default())
    }

    #[test]
    fn every_section_of_the_configuration_changes_the_identity() {
        let base = Config::default();
        let id = identity(&base);
        assert_eq!(id, identity(&base), "stable");
        let mut c = base.clone();
        c.solver.tolerance = 1e-9;
        assert_ne!(identity(&c), id);
        let mut c = base.clone();
        c.problem.mesh = c.problem.mesh.clone().refined(1);
        assert_ne!(identity(&c), id);
        let mut c = base.clone();
        c.assembly.quadrature_degree = 7;
        assert_ne!(identity(&c), id);
        let mut c = base.clone();
        c.scaling.threads = 3;
        assert_ne!(identity(&c), id);
        assert_ne!(run_id(&id, 0), run_id(&id, 1));
        assert_eq!(run_id(&id, 0).len(), 16);
    }

    #[test]
    fn another_femscale_version_build_or_discretisation_is_another_identity() {
        let config = Ok(Config::default());
        let at = |versions| identity_at(&config, &[], &mut PluginHashes::default(), versions);
        let today = at((FEMSCALE_VERSION, BUILD_ID, DISCRETISATION_VERSION));
        assert_eq!(today, identity(&Config::default()));
        assert_ne!(at(("0.0.0-other", BUILD_ID, DISCRETISATION_VERSION)), today);
        assert_ne!(
            at((FEMSCALE_VERSION, "0123456789abcdef", DISCRETISATION_VERSION)),
            today,
            "the same version numbers, other code"
        );
        assert_ne!(
            at((FEMSCALE_VERSION, BUILD_ID, DISCRETISATION_VERSION + 1)),
            today
        );
    }

    #[test]
    fn plugin_library_content_changes_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libfake.so");
        std::fs::write(&lib, b"version one").unwrap();
        let mut c = Config::default();
        c.plugins.paths = vec![lib.clone()];
        let before = identity(&c);
        std::fs::write(&lib, b"version two").unwrap();
        assert_ne!(identity(&c), before, "a rebuilt library at the same path");
        // Directories: a new library appearing in a scanned directory changes it too.
        let mut d = Config::default();
        d.plugins.dirs = vec![dir.path().to_path_buf()];
        let before = identity(&d);
        std::fs::write(dir.path().join("libother.so"), b"x").unwrap();
        assert_ne!(identity(&d), before);
    }

    #[test]
    fn mesh_file_content_changes_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.msh");
        std::fs::write(&file, b"one mesh").unwrap();
        let mut c = Config::default();
        c.problem.mesh = femscale_runtime::MeshSpec::Gmsh(file.clone()).refined(1);
        let before = identity(&c);
        assert_eq!(identity(&c), before);
        std::fs::write(&file, b"the mesh edited").unwrap();
        assert_ne!(identity(&c), before, "an edited mesh file at the same path");
        // A generated mesh's identity has no file entry (it is what it was before files were
        // hashed).
        let plain = Config::default();
        let doc = json!({
            "femscale": FEMSCALE_VERSION,
            "build": BUILD_ID,
            "discretisation": DISCRETISATION_VERSION,
            "config": serde_json::to_value(&plain).unwrap(),
            "plugins": [],
        });
        assert_eq!(
            identity(&plain),
            sha256_hex(canonical_json(&doc).as_bytes())
        );
    }

    #[test]
    fn invalid_points_are_identified_by_overrides_and_error() {
        let o = vec![("problem.mesh.nx".to_string(), json!(-1))];
        let mut h = PluginHashes::default();
        let a = point_identity(&Err("bad nx".into()), &o, &mut h);
        let b = point_identity(&Err("bad nx".into()), &o, &mut h);
        assert_eq!(a, b);
        assert_ne!(a, point_identity(&Err("other".into()), &o, &mut h));
    }
}
