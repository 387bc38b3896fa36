//! One `Experiment::run` at a time per output directory: a second run is refused while the
//! first holds the directory, or waits for it with `wait_for_lock` and then runs nothing twice.

use std::collections::HashSet;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use femscale_core::Error;
use femscale_experiment::{Experiment, ProgressEvent, ProgressFn, RunOptions, read_results};

const EXPERIMENT: &str = r#"
[problem]
mesh = { kind = "rectangle", nx = 8, ny = 8, cell = "triangle" }
source = "1"

[solver]
kind = "direct"

[experiment]
repetitions = 2

[sweep]
"problem.mesh.nx" = [4, 6, 8]
"#;

fn experiment(dir: &Path) -> Experiment {
    let path = dir.join("exp.toml");
    let text = format!(
        "{EXPERIMENT}\n[output]\ndir = {:?}\n",
        dir.join("out").display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    Experiment::load(&path, &[]).unwrap_or_else(|e| panic!("load: {e}"))
}

/// Progress that reports `Started` on `started` and then blocks until `release` says go.
fn paused_at_start(started: Sender<()>, release: Receiver<()>) -> ProgressFn {
    let release = Mutex::new(release);
    let started = Mutex::new(started);
    Arc::new(move |e: &ProgressEvent<'_>| {
        if let ProgressEvent::Started { .. } = e {
            started.lock().unwrap().send(()).unwrap();
            release.lock().unwrap().recv().unwrap();
        }
    })
}

#[test]
fn a_second_run_is_refused_or_waits_and_nothing_runs_twice() {
    let dir = tempfile::tempdir().unwrap();
    let exp = Arc::new(experiment(dir.path()));
    let out = dir.path().join("out");

    // Run A takes the lock and pauses before its first run.
    let (started_tx, started_rx) = channel();
    let (release_tx, release_rx) = channel();
    let a = {
        let exp = exp.clone();
        let progress = paused_at_start(started_tx, release_rx);
        std::thread::spawn(move || {
            exp.run(&RunOptions {
                parallel_runs: Some(1),
                progress: Some(progress),
                ..Default::default()
            })
        })
    };
    started_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("run A starts");

    // Run B is refused at once, naming the directory and the holder (a run of this same
    // process: another thread).
    let err = exp
        .run(&RunOptions {
            progress: Some(Arc::new(|_: &ProgressEvent<'_>| {})),
            ..Default::default()
        })
        .unwrap_err();
    match &err {
        Error::Io { path, source } => {
            assert_eq!(path, &out);
            assert_eq!(source.kind(), std::io::ErrorKind::WouldBlock);
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&out.display().to_string()), "{text}");
    assert!(text.contains("another run of this process"), "{text}");
    assert!(text.contains("--wait"), "{text}");
    assert!(read_results(&out.join("results.jsonl")).unwrap().is_empty());

    // Run C waits for A.
    let (c_started_tx, c_started_rx) = channel();
    let c = {
        let exp = exp.clone();
        let c_started_tx = Mutex::new(c_started_tx);
        std::thread::spawn(move || {
            exp.run(&RunOptions {
                wait_for_lock: true,
                progress: Some(Arc::new(move |e: &ProgressEvent<'_>| {
                    if let ProgressEvent::Started { .. } = e {
                        c_started_tx.lock().unwrap().send(()).unwrap();
                    }
                })),
                ..Default::default()
            })
        })
    };
    assert!(
        c_started_rx
            .recv_timeout(Duration::from_millis(500))
            .is_err(),
        "run C started while A holds the directory"
    );
    release_tx.send(()).unwrap();
    let a = a.join().unwrap().unwrap_or_else(|e| panic!("run A: {e}"));
    assert_eq!((a.ran, a.skipped, a.failed), (6, 0, 0));
    let c = c.join().unwrap().unwrap_or_else(|e| panic!("run C: {e}"));
    assert_eq!((c.ran, c.skipped), (0, 6), "C skips what A ran");

    let records = read_results(&out.join("results.jsonl")).unwrap();
    assert_eq!(records.len(), 6);
    let ids: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 6, "no run recorded twice");

    // Released: a later run needs no waiting.
    let d = exp
        .run(&RunOptions {
            progress: Some(Arc::new(|_: &ProgressEvent<'_>| {})),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(d.ran, 0);
}
