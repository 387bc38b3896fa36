//! Arbitrary values for every configuration key never panic or hang.
//!
//! Each case sets one key (every key of the schema, [`schema_keys`], and every parent table of
//! one) to one TOML value — numbers of every magnitude, `-0`, integers beyond `u64`, NaN and
//! infinities, strings, arrays, tables, booleans — as a `--set key=value` override on a tiny
//! valid configuration file, and goes the way `femscale solve` goes: [`Config::load`], then
//! [`FemSolver::from_config`] and, when the mesh stays tiny, [`FemSolver::solve_configured`].
//! The same override is given to an experiment file ([`Experiment::load`]), which also covers
//! the `[experiment]` and `[output]` keys. A case passes when it returns (a value or an error)
//! without panicking within [`CASE_SECONDS`].
//!
//! Values of `cache.disk_dir` become directories the disk cache writes to, so the cases run
//! in a [`sandbox`]: the working directory is a deep directory under the target's temporary
//! directory (so relative values, `../..` included, stay inside it), and absolute values of
//! the path keys are moved below it.

use std::path::{Path, PathBuf};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use femscale_experiment::Experiment;
use femscale_runtime::config::schema_keys;
use femscale_runtime::{Config, ConfigSources, FemSolver};
use proptest::prelude::*;

/// Time bound of one case (load, build and a solve on a mesh of at most [`SOLVE_MAX_NODES`]).
const CASE_SECONDS: u64 = 20;

/// Solves only when the configured mesh has at most this many cells (a key such as
/// `problem.mesh.nx` can make it arbitrarily large; the size limits are tested elsewhere).
const SOLVE_MAX_NODES: f64 = 4096.0;

/// The tiny base of every case: CG on a 3 x 3 rectangle.
const BASE: &str = r#"
[problem]
mesh = { kind = "rectangle", nx = 3, ny = 3 }
source = "1"
boundary = [{ where = "all", kind = "dirichlet", value = 0.0 }]

[solver]
kind = "cg"
preconditioner = "jacobi"
timeout_seconds = 10
"#;

/// The second base, for the `solver`, `cache` and `scaling` keys: the AMG solver (its set-up
/// has its own deadline) on an interval, with the memory and disk cache levels on.
const AMG_BASE: &str = r#"
[problem]
mesh = { kind = "interval", nx = 8 }
source = "1"

[solver]
kind = "amg"
timeout_seconds = 10

[scaling]
level = "standard"
enable_caching = true

[cache]
levels = ["memory", "disk"]
ttl_seconds = 60
"#;

/// Hand-picked values for every key.
const ADVERSARIAL: &[&str] = &[
    "1e300",
    "-1e300",
    "1e19",
    "1.8e19",
    "1e-300",
    "5e-324",
    "-1",
    "0",
    "-0",
    "-0.0",
    "1.5",
    "2",
    "1024",
    "1025",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "nan",
    "inf",
    "-inf",
    "NaN",
    "\"1e300\"",
    "\"\"",
    "\"../..\"",
    "\"/abs\"",
    "\"a\\u0000b\"",
    "true",
    "false",
    "[]",
    "[1e300, -1]",
    "[[1]]",
    "[{}]",
    "{}",
    "{ a = 1e300 }",
    "\"sin(\"",
    "plain words",
    "\"amg\"",
    "\"gmres\"",
    "\"direct\"",
];

/// Every schema key and every parent table of one (`problem.mesh`, `problem.boundary`,
/// `solver`), with the keys of arrays of tables (`problem.boundary[].where`) kept as they are.
fn all_keys() -> Vec<String> {
    let mut keys = schema_keys();
    assert!(keys.len() > 40, "{keys:?}");
    let mut parents = Vec::new();
    for key in &keys {
        let plain = key.split("[]").next().unwrap_or(key);
        let mut prefix = String::new();
        for part in plain.split('.') {
            if !prefix.is_empty() {
                parents.push(prefix.clone());
                prefix.push('.');
            }
            prefix.push_str(part);
        }
        if plain != key {
            parents.push(plain.to_string());
        }
    }
    parents.sort();
    parents.dedup();
    parents.retain(|p| !keys.contains(p));
    keys.extend(parents);
    keys.extend(
        [
            "experiment.name",
            "experiment.repetitions",
            "experiment.parallel_runs",
            "output.dir",
            "output.formats",
        ]
        .map(String::from),
    );
    keys
}

/// The `--set` override giving `key` the TOML `value`: `problem.boundary[].where` becomes
/// `problem.boundary=[{ where = value }]`.
fn override_for(key: &str, value: &str) -> String {
    match key.split_once("[].") {
        Some((array, field)) => format!("{array}=[{{ {field} = {value} }}]"),
        None => format!("{key}={value}"),
    }
}

struct Files {
    _dir: tempfile::TempDir,
    config: PathBuf,
    experiment: PathBuf,
}

/// The base files: `base` as a configuration file and as an experiment file sweeping
/// `problem.mesh.nx`, with the disk cache and the results in a temporary directory.
fn files(base: &str) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let disk_dir = format!(
        "disk_dir = {:?}",
        dir.path().join("cache").display().to_string()
    );
    let base = if base.contains("[cache]\n") {
        base.replacen("[cache]\n", &format!("[cache]\n{disk_dir}\n"), 1)
    } else {
        format!("{base}\n[cache]\n{disk_dir}\n")
    };
    let config = dir.path().join("c.toml");
    std::fs::write(&config, &base).unwrap();
    let experiment = dir.path().join("e.toml");
    let results = dir.path().join("results");
    std::fs::write(
        &experiment,
        format!(
            "{base}\n[experiment]\nname = \"fuzz\"\n[sweep]\n\"problem.mesh.nx\" = [2, 3]\n\
             [output]\ndir = {:?}\n",
            results.display().to_string()
        ),
    )
    .unwrap();
    Files {
        _dir: dir,
        config,
        experiment,
    }
}

/// Nodes of the configured mesh (as a float: the product can exceed `usize`).
fn nodes(config: &Config) -> f64 {
    config
        .problem
        .mesh
        .estimated_nodes()
        .unwrap_or(f64::INFINITY)
}

/// What one case did, for the assertion message.
fn run_case(config_file: &Path, experiment_file: &Path, item: &str) -> String {
    let overrides = vec![item.to_string()];
    let mut outcome = match Experiment::load(experiment_file, &overrides) {
        Ok(e) => format!("experiment: {} points; ", e.points().len()),
        Err(e) => format!("experiment: {e}; "),
    };
    let sources = ConfigSources {
        file: Some(config_file.to_path_buf()),
        overrides,
    };
    let config = match Config::load(&sources) {
        Ok(c) => c,
        Err(e) => return outcome + &format!("load: {e}"),
    };
    let nodes = nodes(&config);
    let solver = match FemSolver::from_config(config) {
        Ok(s) => s,
        Err(e) => return outcome + &format!("build: {e}"),
    };
    if nodes > SOLVE_MAX_NODES {
        return outcome + &format!("built, not solved ({nodes:e} nodes)");
    }
    match solver.solve_configured() {
        Ok(s) => outcome.push_str(&format!("solved: {} dofs", s.metrics.dofs)),
        Err(e) => outcome.push_str(&format!("solve: {e}")),
    }
    outcome
}

/// Keys whose values name directories that a case may write to.
const WRITTEN_PATH_KEYS: [&str; 2] = ["cache.disk_dir", "output.dir"];

/// The directory the cases may write to; on first use, it is emptied and the process's
/// working directory is set to `<sandbox>/cwd/1/2/3/4/5/6/7/8` (deeper than any run of `..`
/// that a 12-character value can hold).
fn sandbox() -> &'static Path {
    static SANDBOX: OnceLock<PathBuf> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("config_fuzz_sandbox");
        let _ = std::fs::remove_dir_all(&root);
        let cwd = root.join("cwd/1/2/3/4/5/6/7/8");
        std::fs::create_dir_all(&cwd).unwrap();
        std::env::set_current_dir(&cwd).unwrap();
        root
    })
}

/// `value` for `key`, with an absolute path given to one of [`WRITTEN_PATH_KEYS`] moved into
/// the [`sandbox`] (`"/abs"` becomes `"<sandbox>/abs"`); every other value is unchanged.
fn confined(key: &str, value: &str) -> String {
    let root = sandbox();
    let text = value.trim_matches('"');
    if WRITTEN_PATH_KEYS.contains(&key) && text.starts_with('/') {
        let moved = root.join(text.trim_start_matches('/'));
        return format!("{:?}", moved.display().to_string());
    }
    value.to_string()
}

/// Runs the case `key = value` on its own thread: fails on a panic (the thread ends without
/// an answer) or when it takes longer than [`CASE_SECONDS`].
fn check(files: &Files, key: &str, value: &str) {
    let item = override_for(key, &confined(key, value));
    let (tx, rx) = mpsc::channel();
    let (config, experiment) = (files.config.clone(), files.experiment.clone());
    let case = item.clone();
    let start = Instant::now();
    std::thread::Builder::new()
        .name("fuzz-case".into())
        .spawn(move || {
            let outcome = run_case(&config, &experiment, &case);
            let _ = tx.send(outcome);
        })
        .unwrap();
    match rx.recv_timeout(Duration::from_secs(CASE_SECONDS)) {
        Ok(_outcome) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("--set {item}: no answer within {CASE_SECONDS} s")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
            "--set {item}: panicked after {:.2} s (see the panic message above)",
            start.elapsed().as_secs_f64()
        ),
    }
}

#[test]
fn every_key_takes_every_adversarial_value_without_panic_or_hang() {
    let (cg, amg) = (files(BASE), files(AMG_BASE));
    let keys = all_keys();
    let start = Instant::now();
    let mut cases = 0;
    for key in &keys {
        let amg_too = ["solver.", "cache.", "scaling."]
            .iter()
            .any(|p| key.starts_with(p));
        for value in ADVERSARIAL {
            check(&cg, key, value);
            if amg_too {
                check(&amg, key, value);
                cases += 1;
            }
            cases += 1;
        }
    }
    eprintln!(
        "{cases} cases ({} keys x {} values, on one or two bases) in {:.1} s",
        keys.len(),
        ADVERSARIAL.len(),
        start.elapsed().as_secs_f64()
    );
}

/// A TOML value: numbers of every magnitude and sign, integers of every size, NaN and
/// infinities, strings (quoted or bare), booleans, arrays and inline tables.
fn toml_value() -> impl Strategy<Value = String> {
    let float = (any::<bool>(), 1.0f64..10.0, -330i32..=310).prop_map(|(negative, m, e)| {
        let v = m * 10f64.powi(e);
        format!("{}{v:e}", if negative { "-" } else { "" })
    });
    let any_float = any::<f64>().prop_map(|v| format!("{v:?}"));
    let int = any::<i64>().prop_map(|v| v.to_string());
    let big = any::<u128>().prop_map(|v| v.to_string());
    let small = (0u32..5000).prop_map(|v| v.to_string());
    let text = "[ -~]{0,16}".prop_map(|s| format!("{s:?}"));
    let bare = "[a-z0-9_./-]{0,12}";
    let scalar = prop_oneof![
        float.clone(),
        any_float,
        int,
        big,
        small,
        text,
        bare,
        any::<bool>().prop_map(|b| b.to_string()),
    ];
    let array = prop::collection::vec(float.clone(), 0..4)
        .prop_map(|items| format!("[{}]", items.join(", ")));
    let table = ("[a-z_]{1,12}", float).prop_map(|(k, v)| format!("{{ {k} = {v} }}"));
    prop_oneof![4 => scalar, 1 => array, 1 => table]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_value_for_any_key_never_panics_or_hangs(
        index in any::<prop::sample::Index>(),
        value in toml_value(),
        amg in any::<bool>(),
    ) {
        thread_local! {
            static FILES: [Files; 2] = [files(BASE), files(AMG_BASE)];
        }
        let keys = all_keys();
        let key = &keys[index.index(keys.len())];
        FILES.with(|files| check(&files[usize::from(amg)], key, &value));
    }
}
