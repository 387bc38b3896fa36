//! Two `femscale run` processes on one output directory: the second is refused (exit 2,
//! naming the directory and the first one's pid), or with `--wait` waits and then runs
//! nothing twice.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Twelve small runs: long enough to be caught holding the lock.
const EXPERIMENT: &str = r#"
[problem]
mesh = { kind = "rectangle", nx = 24, ny = 24, cell = "triangle" }
source = "1"

[solver]
kind = "direct"

[experiment]
repetitions = 2
parallel_runs = 1

[sweep]
"problem.mesh.nx" = [20, 21, 22, 23, 24, 25]

[output]
dir = "out"
"#;

fn femscale(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_femscale"));
    c.current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sends `signal` (`-STOP`, `-CONT`) to `child` with kill(1).
fn signal(child: &Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill(1) runs")
        .success();
    assert!(ok, "kill {signal} failed");
}

/// Ensures a stopped child does not outlive a failing test.
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Reaper {
    fn child(&self) -> &Child {
        self.0.as_ref().expect("running")
    }

    fn finish(mut self) -> Output {
        self.0.take().expect("running").wait_with_output().unwrap()
    }
}

#[test]
fn a_second_run_is_refused_and_a_waiting_one_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("exp.toml"), EXPERIMENT).unwrap();
    let out = dir.path().join("out");
    let lock = out.join(".femscale-run.lock");

    // A takes the lock (its pid appears in the lock file) and is frozen while holding it.
    let a = Reaper(Some(
        femscale(dir.path(), &["run", "exp.toml", "-q"])
            .spawn()
            .unwrap(),
    ));
    let a_pid = a.child().id().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&lock)
        .ok()
        .map(|s| s.trim().to_string())
        != Some(a_pid.clone())
    {
        assert!(Instant::now() < deadline, "run A never took the lock");
        sleep(Duration::from_millis(2));
    }
    signal(a.child(), "-STOP");

    // B is refused at once with exit 2, naming the directory and A's pid.
    let b = femscale(dir.path(), &["run", "exp.toml", "-q"])
        .output()
        .unwrap();
    let err = text(&b.stderr);
    assert_eq!(b.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("pid {a_pid}")), "{err}");
    assert!(err.contains("out"), "{err}");
    assert!(err.contains("--wait"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // C waits for A.
    let c = Reaper(Some(
        femscale(dir.path(), &["run", "exp.toml", "-q", "--wait"])
            .spawn()
            .unwrap(),
    ));
    sleep(Duration::from_millis(700));
    let mut c = c;
    assert!(
        c.0.as_mut().unwrap().try_wait().unwrap().is_none(),
        "run C finished while A held the directory"
    );
    signal(a.child(), "-CONT");
    let a = a.finish();
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert!(
        text(&a.stdout).contains("12 ran now, 0 already done"),
        "{}",
        text(&a.stdout)
    );
    let c = c.finish();
    assert!(c.status.success(), "{}", text(&c.stderr));
    assert!(
        text(&c.stdout).contains("0 ran now, 12 already done"),
        "{}",
        text(&c.stdout)
    );
    assert!(text(&c.stderr).contains("waiting"), "{}", text(&c.stderr));

    let log = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let ids: Vec<String> = log
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (12, 12), "{log}");
}

#[test]
fn a_killed_run_leaves_no_stale_lock() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("exp.toml"), EXPERIMENT).unwrap();
    let lock = dir.path().join("out").join(".femscale-run.lock");
    let mut a = Reaper(Some(
        femscale(dir.path(), &["run", "exp.toml", "-q"])
            .spawn()
            .unwrap(),
    ));
    let a_pid = a.child().id().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&lock)
        .ok()
        .map(|s| s.trim().to_string())
        != Some(a_pid.clone())
    {
        assert!(Instant::now() < deadline, "run A never took the lock");
        sleep(Duration::from_millis(2));
    }
    // Killed while holding the lock (the lock file still names it): the kernel released it.
    signal(a.child(), "-KILL");
    let _ = a.0.take().unwrap().wait();
    assert_eq!(std::fs::read_to_string(&lock).unwrap().trim(), a_pid);
    let b = femscale(dir.path(), &["run", "exp.toml", "-q"])
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", text(&b.stderr));
    assert!(text(&b.stdout).contains("12 runs"), "{}", text(&b.stdout));
}
