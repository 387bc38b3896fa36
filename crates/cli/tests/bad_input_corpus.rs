//! The bad-input corpus: every `tests/corpus/*.toml` case runs the real `femscale` binary on a
//! bad input and checks that it fails the way the case records — exit code, the key, file or
//! plugin named on stderr, no panic, within a time bound.
//!
//! # Case files
//!
//! One file per area (`cli.toml`, `problem.toml`, `experiment.toml`, `config.toml`, ...), each a
//! list of `[[case]]` tables:
//!
//! ```toml
//! [[case]]
//! name = "solver-timeout-huge"          # kebab-case, unique within the file
//! args = ["solve", "--config", "{dir}/c.toml", "--set", "solver.timeout_seconds=1e300"]
//! exit = 2                              # expected exit code
//! stderr = ["solver.timeout_seconds"]   # substrings that must all appear on stderr
//! stdout = []                           # optional: substrings that must appear on stdout
//! timeout_seconds = 30                  # optional, default 30, at most 600
//! max_stderr_bytes = 2000               # optional: stderr at most this long
//! env = { FEMSCALE_SOLVER__KIND = "cg" } # optional extra environment
//! cwd = "{dir}"                         # optional working directory (default `{dir}`)
//! [case.files]                          # optional text files written into `{dir}`
//! "c.toml" = '''
//! [problem]
//! mesh = { kind = "interval", nx = 8 }
//! '''
//! [case.binary_files]                   # optional: files given as bytes (non-UTF-8 input)
//! "bad.toml" = [0x5b, 0xff, 0x5d]
//! ```
//!
//! Unknown fields, duplicate names, an empty `stderr` list on a failing case, empty substrings
//! and file names leaving `{dir}` are refused, naming the file and the case; a file that is not
//! valid TOML fails the test naming the file.
//!
//! # Placeholders
//!
//! In `args`, `env` values, `cwd`, file contents and the expected substrings:
//! `{dir}` the case's fresh temporary directory, `{repo}` the workspace root,
//! `{plugin:<crate_name>}` the cdylib of a workspace plugin crate (`femscale_plugin_chebyshev`),
//! found next to this test binary, and `{cplugin:<name>}` a C library from [`C_LIBRARIES`].
//! An unknown placeholder fails the case.
//!
//! **Adding a fixture plugin:** a Rust cdylib needs only a dev-dependency line in
//! `crates/cli/Cargo.toml` (so that it is built before this test); a C library additionally one
//! line in [`C_LIBRARIES`] naming the path constant its crate exports.
//!
//! # Every case also asserts
//!
//! Exit code not 101 and not a signal, no `panicked` or `RUST_BACKTRACE` on stderr, and an end
//! within `timeout_seconds` (the process group is killed on overrun and the case reported).
//! Cases run with stdin closed, `FEMSCALE_*`, `RUST_LOG` and `RUST_BACKTRACE` removed from the
//! environment (a case's `env` adds its own), and `HOME`, `XDG_CACHE_HOME` and `TMPDIR` inside
//! the case's temporary root, so no case touches the user's files or cache. All failing cases
//! are reported at once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// C plugin libraries by placeholder name: `{cplugin:<name>}`. One line per library.
const C_LIBRARIES: &[(&str, &str)] = &[
    ("c-cg", femscale_plugin_c_cg::LIBRARY_PATH),
    // A shared library that is no plugin (the fixture crate's generic "broken" library).
    (
        "fixture-c-broken",
        femscale_plugin_fixture_c_broken::NOT_A_PLUGIN,
    ),
    (
        "fixture-c-broken/not-a-plugin",
        femscale_plugin_fixture_c_broken::NOT_A_PLUGIN,
    ),
    (
        "fixture-c-broken/missing-symbols",
        femscale_plugin_fixture_c_broken::MISSING_SYMBOLS,
    ),
    (
        "fixture-c-broken/future-abi",
        femscale_plugin_fixture_c_broken::FUTURE_ABI,
    ),
    // The C interface fixtures: a constructor that writes a marker file, a version-1 library,
    // a monitor called from a foreign thread.
    (
        "fixture-c-interface/marker",
        femscale_plugin_fixture_c_interface::MARKER,
    ),
    (
        "fixture-c-interface/v1",
        femscale_plugin_fixture_c_interface::V1,
    ),
    (
        "fixture-c-interface/foreign-thread",
        femscale_plugin_fixture_c_interface::FOREIGN_THREAD,
    ),
    // Isolation fixtures: plugins that crash, loop or abort in solve.
    (
        "fixture-c-segfault",
        femscale_plugin_fixture_c_segfault::LIBRARY_PATH,
    ),
    (
        "fixture-c-loop",
        femscale_plugin_fixture_c_loop::LIBRARY_PATH,
    ),
    (
        "fixture-c-abort",
        femscale_plugin_fixture_c_abort::LIBRARY_PATH,
    ),
];

/// Fewest cases the whole corpus may hold (issue 13).
const MIN_TOTAL_CASES: usize = 150;

/// Fewest cases per area file, when the file exists; files not listed need [`DEFAULT_MIN_CASES`].
/// The numbers are the files' current counts: raise one when cases are added, lower it only on
/// purpose, so that the corpus cannot shrink unnoticed.
const MIN_CASES_PER_FILE: &[(&str, usize)] = &[
    ("cache.toml", 32),
    ("cli.toml", 92),
    ("config.toml", 70),
    ("experiment.toml", 55),
    ("expr.toml", 47),
    ("isolation.toml", 16),
    ("plugins.toml", 48),
    ("problem.toml", 130),
];

/// Fewest cases of an area file not listed in [`MIN_CASES_PER_FILE`].
const DEFAULT_MIN_CASES: usize = 5;

/// Time bound of a case that gives none.
const DEFAULT_TIMEOUT_SECONDS: f64 = 30.0;

/// Cases run at once (the CI machine has few cores; each case is one short process).
const PARALLEL_CASES: usize = 3;

/// Lines of stderr shown for a failing case.
const STDERR_TAIL_LINES: usize = 25;

/// One `[[case]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    args: Vec<String>,
    exit: i32,
    #[serde(default)]
    stderr: Vec<String>,
    #[serde(default)]
    stdout: Vec<String>,
    timeout_seconds: Option<f64>,
    /// The most bytes stderr may hold (untrusted input is not echoed whole).
    max_stderr_bytes: Option<usize>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<String>,
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    binary_files: BTreeMap<String, Vec<u8>>,
}

/// One case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    case: Vec<Case>,
}

/// A validated case and the file it came from.
struct LoadedCase {
    file: String,
    case: Case,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// Reads and validates every case file; panics listing every problem found.
fn load_corpus() -> Vec<(String, Vec<LoadedCase>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("crates/cli/tests/corpus exists")
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{file}: cannot read: {e}"));
                continue;
            }
        };
        let parsed: CaseFile = match toml::from_str(&text) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("{file}: not a valid case file: {e}"));
                continue;
            }
        };
        let mut names = BTreeSet::new();
        for case in &parsed.case {
            if !names.insert(case.name.clone()) {
                problems.push(format!("{file}: duplicate case name `{}`", case.name));
            }
            problems.extend(
                validate(case)
                    .into_iter()
                    .map(|p| format!("{file}: case `{}`: {p}", case.name)),
            );
        }
        let cases = parsed
            .case
            .into_iter()
            .map(|case| LoadedCase {
                file: file.clone(),
                case,
            })
            .collect();
        files.push((file, cases));
    }
    assert!(
        problems.is_empty(),
        "invalid corpus files:\n  {}",
        problems.join("\n  ")
    );
    files
}

/// What is wrong with one case, as messages.
fn validate(case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let kebab = !case.name.is_empty()
        && case
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !case.name.starts_with('-')
        && !case.name.ends_with('-');
    if !kebab {
        problems.push("name must be non-empty kebab-case (a-z, 0-9, -)".into());
    }
    if case.exit == 101 || !(0..=255).contains(&case.exit) {
        problems.push(format!(
            "exit = {} is not a valid expectation (101 is a panic)",
            case.exit
        ));
    }
    if case.exit != 0 && case.stderr.is_empty() {
        problems.push("a failing case must list what stderr names (`stderr = [...]`)".into());
    }
    if case.exit == 0 && case.stderr.is_empty() && case.stdout.is_empty() {
        problems.push("a case exiting 0 must expect something on stderr or stdout".into());
    }
    if case.stderr.iter().chain(&case.stdout).any(String::is_empty) {
        problems.push("an empty expected substring matches anything".into());
    }
    if let Some(t) = case.timeout_seconds
        && !(t > 0.0 && t <= 600.0)
    {
        problems.push(format!("timeout_seconds = {t} is not in (0, 600]"));
    }
    for key in case.env.keys() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            problems.push(format!("env key `{key}` is not a variable name"));
        }
    }
    for name in case.files.keys().chain(case.binary_files.keys()) {
        let inside = !name.is_empty()
            && Path::new(name)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            problems.push(format!(
                "file name `{name}` must be a relative path inside {{dir}}"
            ));
        }
        if case.files.contains_key(name) && case.binary_files.contains_key(name) {
            problems.push(format!("file `{name}` is given twice"));
        }
    }
    let placeholders = case
        .args
        .iter()
        .chain(case.env.values())
        .chain(&case.cwd)
        .chain(case.files.values())
        .chain(&case.stderr)
        .chain(&case.stdout);
    for text in placeholders {
        if let Err(e) = substitute(text, Path::new("/d"), Path::new("/r")) {
            problems.push(e);
        }
    }
    problems
}

/// Replaces the placeholders in `text`. A `{...}` counts as a placeholder when it holds a
/// lower-case word, optionally followed by `:` and a name (so TOML inline tables pass).
fn substitute(text: &str, dir: &Path, repo: &Path) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let inner = &after[..close];
        match placeholder(inner, dir, repo)? {
            Some(value) => {
                out.push_str(&value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of placeholder `inner` (`dir`, `plugin:name`), `None` if it is not one.
fn placeholder(inner: &str, dir: &Path, repo: &Path) -> Result<Option<String>, String> {
    let (word, arg) = match inner.split_once(':') {
        Some((w, a)) => (w, Some(a)),
        None => (inner, None),
    };
    let is_word = !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    let is_name = arg.is_none_or(|a| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
    });
    if !is_word || !is_name {
        return Ok(None);
    }
    let value = match (word, arg) {
        ("dir", None) => dir.display().to_string(),
        ("repo", None) => repo.display().to_string(),
        ("plugin", Some(krate)) => rust_plugin(krate)?.display().to_string(),
        ("cplugin", Some(name)) => C_LIBRARIES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, path)| path.to_string())
            .ok_or_else(|| {
                let known: Vec<&str> = C_LIBRARIES.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown placeholder {{cplugin:{name}}} (known: {}; add a line to \
                     C_LIBRARIES in bad_input_corpus.rs)",
                    known.join(", ")
                )
            })?,
        _ => return Err(format!("unknown placeholder {{{inner}}}")),
    };
    Ok(Some(value))
}

/// The cdylib of workspace plugin crate `krate`, built next to this test binary because the
/// crate is a dev-dependency of femscale-cli.
fn rust_plugin(krate: &str) -> Result<PathBuf, String> {
    use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
    let file = format!("{DLL_PREFIX}{krate}{DLL_SUFFIX}");
    let exe = std::env::current_exe().map_err(|e| format!("the test binary's path: {e}"))?;
    let deps = exe.parent().expect("target/<profile>/deps");
    [deps.join(&file), deps.join("..").join(&file)]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "unknown placeholder {{plugin:{krate}}}: {file} was not built next to {} \
                 (is the crate a dev-dependency of femscale-cli?)",
                deps.display()
            )
        })
}

/// How one run of the binary ended.
struct Outcome {
    status: Option<ExitStatus>,
    timed_out: bool,
    elapsed: Duration,
    stdout: String,
    stderr: String,
}

/// Runs `case` in a fresh temporary root; returns the failure report, if any.
fn run_case(loaded: &LoadedCase, repo: &Path) -> Option<String> {
    let case = &loaded.case;
    let root = tempfile::Builder::new()
        .prefix("femscale-corpus-")
        .tempdir()
        .expect("a temporary directory");
    let dir = root.path().join("work");
    let home = root.path().join("home");
    let tmp = root.path().join("tmp");
    for d in [&dir, &home, &tmp] {
        std::fs::create_dir_all(d).expect("temporary directories");
    }
    let fail = |what: String| Some(format!("{} :: {}\n    {what}", loaded.file, case.name));
    let sub = |text: &str| substitute(text, &dir, repo);
    let prepared = (|| -> Result<_, String> {
        for (name, content) in &case.files {
            write_file(&dir.join(name), sub(content)?.as_bytes())?;
        }
        for (name, bytes) in &case.binary_files {
            write_file(&dir.join(name), bytes)?;
        }
        let args: Vec<String> = case.args.iter().map(|a| sub(a)).collect::<Result<_, _>>()?;
        let env: Vec<(String, String)> = case
            .env
            .iter()
            .map(|(k, v)| Ok((k.clone(), sub(v)?)))
            .collect::<Result<_, String>>()?;
        let cwd = match &case.cwd {
            Some(c) => PathBuf::from(sub(c)?),
            None => dir.clone(),
        };
        let stderr: Vec<String> = case
            .stderr
            .iter()
            .map(|s| sub(s))
            .collect::<Result<_, _>>()?;
        let stdout: Vec<String> = case
            .stdout
            .iter()
            .map(|s| sub(s))
            .collect::<Result<_, _>>()?;
        Ok((args, env, cwd, stderr, stdout))
    })();
    let (args, env, cwd, want_stderr, want_stdout) = match prepared {
        Ok(p) => p,
        Err(e) => return fail(e),
    };

    let mut command = Command::new(env!("CARGO_BIN_EXE_femscale"));
    command
        .args(&args)
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("FEMSCALE_") || key == "RUST_LOG" || key == "RUST_BACKTRACE" {
            command.env_remove(&*key);
        }
    }
    command
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("TMPDIR", &tmp)
        .envs(env);
    let timeout = Duration::from_secs_f64(case.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS));
    let outcome = match run_bounded(command, timeout) {
        Ok(o) => o,
        Err(e) => return fail(format!("cannot run femscale: {e}")),
    };

    let mut errors = Vec::new();
    let code = outcome.status.and_then(|s| s.code());
    if outcome.timed_out {
        errors.push(format!(
            "did not finish within {:.1} s (killed)",
            timeout.as_secs_f64()
        ));
    } else if code.is_none() {
        errors.push(format!("ended by a signal: {}", describe(outcome.status)));
    } else if code != Some(case.exit) {
        errors.push(format!(
            "exit code: expected {}, got {}",
            case.exit,
            describe(outcome.status)
        ));
    }
    if code == Some(101) {
        errors.push("exit code 101 (a panic)".into());
    }
    for marker in ["panicked", "RUST_BACKTRACE"] {
        if outcome.stderr.contains(marker) {
            errors.push(format!("stderr contains `{marker}`"));
        }
    }
    for want in &want_stderr {
        if !outcome.stderr.contains(want.as_str()) {
            errors.push(format!("stderr lacks {want:?}"));
        }
    }
    if let Some(max) = case.max_stderr_bytes
        && outcome.stderr.len() > max
    {
        errors.push(format!(
            "stderr holds {} bytes, more than {max}",
            outcome.stderr.len()
        ));
    }
    for want in &want_stdout {
        if !outcome.stdout.contains(want.as_str()) {
            errors.push(format!("stdout lacks {want:?}"));
        }
    }
    if errors.is_empty() {
        return None;
    }
    let mut report = format!(
        "{} :: {}\n    command: femscale {}\n    cwd: {}  ({:.2} s)\n    - {}",
        loaded.file,
        case.name,
        shell_words(&args),
        cwd.display(),
        outcome.elapsed.as_secs_f64(),
        errors.join("\n    - ")
    );
    report.push_str(&format!(
        "\n    stderr (tail):\n{}",
        tail(&outcome.stderr, STDERR_TAIL_LINES)
    ));
    if !want_stdout.is_empty() {
        report.push_str(&format!(
            "\n    stdout (tail):\n{}",
            tail(&outcome.stdout, 10)
        ));
    }
    Some(report)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs `command` to its end or until `timeout`, when its process group is killed.
fn run_bounded(mut command: Command, timeout: Duration) -> std::io::Result<Outcome> {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let start = Instant::now();
    let mut child = command.spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() >= timeout {
            timed_out = true;
            kill_group(&mut child);
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = start.elapsed();
    // Processes the case started may outlive it and hold the pipes: they get until the
    // deadline, then the group is killed (it still exists while they do, so its id is theirs).
    while !(stdout.is_finished() && stderr.is_finished()) {
        if start.elapsed() >= timeout {
            timed_out = true;
            kill_group(&mut child);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(Outcome {
        status,
        timed_out,
        elapsed,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Kills the child's process group (the child and anything it started).
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let pgid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) with a negative pid signals the process group the child leads (it
        // was spawned with process_group(0)); it touches no memory of ours.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
}

fn describe(status: Option<ExitStatus>) -> String {
    match status {
        None => "no status".into(),
        Some(s) => match s.code() {
            Some(c) => format!("exit code {c}"),
            None => {
                #[cfg(unix)]
                {
                    use std::os::unix::process::ExitStatusExt;
                    format!("signal {}", s.signal().unwrap_or(0))
                }
                #[cfg(not(unix))]
                {
                    format!("{s}")
                }
            }
        },
    }
}

fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out: Vec<String> = all[start..]
        .iter()
        .map(|l| format!("      | {l}"))
        .collect();
    if start > 0 {
        out.insert(0, format!("      | ... ({start} lines above)"));
    }
    if out.is_empty() {
        out.push("      | (empty)".into());
    }
    out.join("\n")
}

#[test]
fn the_corpus_is_well_formed_and_does_not_shrink() {
    let files = load_corpus();
    let total: usize = files.iter().map(|(_, cases)| cases.len()).sum();
    let mut problems = Vec::new();
    if total < MIN_TOTAL_CASES {
        problems.push(format!(
            "the corpus has {total} cases, at least {MIN_TOTAL_CASES} expected"
        ));
    }
    for (file, cases) in &files {
        let min = MIN_CASES_PER_FILE
            .iter()
            .find(|(f, _)| f == file)
            .map_or(DEFAULT_MIN_CASES, |(_, n)| *n);
        if cases.len() < min {
            problems.push(format!(
                "{file} has {} cases, at least {min} expected",
                cases.len()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_bad_input_is_refused_as_the_corpus_records() {
    let cases: Vec<LoadedCase> = load_corpus()
        .into_iter()
        .flat_map(|(_, cases)| cases)
        .collect();
    let repo = repo_root();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_CASES {
            scope.spawn(|| {
                while let Some(case) = cases.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Some(report) = run_case(case, &repo) {
                        failures.lock().unwrap().push(report);
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    eprintln!(
        "bad-input corpus: {} cases, {} failed, {:.1} s",
        cases.len(),
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn placeholders_are_substituted_and_unknown_ones_refused() {
    let dir = Path::new("/tmp/case");
    let repo = Path::new("/repo");
    assert_eq!(
        substitute("{dir}/c.toml in {repo}", dir, repo).unwrap(),
        "/tmp/case/c.toml in /repo"
    );
    // TOML inline tables and expressions are no placeholders.
    let toml = "mesh = { kind = \"interval\" } x = {} {a=1}";
    assert_eq!(substitute(toml, dir, repo).unwrap(), toml);
    assert_eq!(
        substitute("{cplugin:c-cg}", dir, repo).unwrap(),
        femscale_plugin_c_cg::LIBRARY_PATH
    );
    let chebyshev = substitute("{plugin:femscale_plugin_chebyshev}", dir, repo).unwrap();
    assert!(Path::new(&chebyshev).is_file(), "{chebyshev}");
    for unknown in [
        "{plugin:femscale_plugin_nonexistent}",
        "{cplugin:nonexistent}",
        "{tmpdir}",
    ] {
        let e = substitute(unknown, dir, repo).unwrap_err();
        assert!(e.contains("unknown placeholder"), "{e}");
    }
}
