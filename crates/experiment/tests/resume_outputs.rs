//! What an output directory holds after a run under another configuration, an interrupted
//! run or a killed writer: nothing that the results log does not back.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use femscale_experiment::{
    Experiment, OUTPUT_STAMPS_DIR, ProgressEvent, RunOptions, SUMMARY_FILE, VTU_DIR,
};

const EXPERIMENT: &str = r#"
[problem]
mesh = { kind = "rectangle", nx = 6, ny = 6, cell = "triangle" }
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"

[solver]
kind = "direct"

[output]
formats = ["jsonl", "csv", "vtu"]

[sweep]
"problem.mesh.nx" = [4, 6]
"#;

fn experiment(dir: &Path) -> PathBuf {
    let text = format!("{EXPERIMENT}\n[experiment]\nrepetitions = 1\n",).replace(
        "[output]\n",
        &format!(
            "[output]\ndir = {:?}\n",
            dir.join("out").display().to_string()
        ),
    );
    let path = dir.join("exp.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn quiet() -> RunOptions {
    RunOptions {
        parallel_runs: Some(1),
        ..Default::default()
    }
}

fn load(path: &Path, overrides: &[&str]) -> Experiment {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Experiment::load(path, &overrides).unwrap_or_else(|e| panic!("{e}"))
}

/// X, then Y (another source) over the same directory, then X again: X's points are finished
/// in the log, so they are skipped, and the VTU files Y wrote under their names must not pass
/// for X's. They are removed (X's own are gone with Y's run of repetition 0).
#[test]
fn outputs_written_under_another_configuration_are_not_kept_as_current() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path());
    let out = dir.path().join("out");
    let x = load(&path, &[]);
    assert!(x.run(&quiet()).unwrap().all_ok());
    let vtu = |e: &Experiment| {
        out.join(VTU_DIR)
            .join(format!("{}.vtu", e.points()[0].id()))
    };
    let x_bytes = std::fs::read(vtu(&x)).unwrap();
    let y = load(&path, &["problem.source=\"1\""]);
    assert!(y.run(&quiet()).unwrap().all_ok());
    assert_ne!(std::fs::read(vtu(&y)).unwrap(), x_bytes);
    let again = x.run(&quiet()).unwrap();
    assert!(again.all_ok());
    for point in x.points() {
        let file = out.join(VTU_DIR).join(format!("{}.vtu", point.id()));
        assert!(
            !file.exists() || std::fs::read(&file).unwrap() == x_bytes,
            "{}: another configuration's VTU file kept",
            point.id()
        );
        assert!(!out.join(OUTPUT_STAMPS_DIR).join(point.id()).exists());
    }
    // Run from scratch, X's files are X's and stamped.
    let fresh = RunOptions {
        fresh: true,
        ..quiet()
    };
    assert!(x.run(&fresh).unwrap().all_ok());
    assert_eq!(std::fs::read(vtu(&x)).unwrap(), x_bytes);
    let stamp = std::fs::read_to_string(out.join(OUTPUT_STAMPS_DIR).join(x.points()[0].id()));
    assert_eq!(stamp.unwrap().trim(), x.points()[0].run_id(0));
}

/// An invocation that stops before its end (here: its progress callback panics after the first
/// run) leaves no summary of the invocation before, whose runs it was replacing.
#[test]
fn an_interrupted_run_leaves_no_summary_of_the_earlier_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path());
    let summary = dir.path().join("out").join(SUMMARY_FILE);
    assert!(load(&path, &[]).run(&quiet()).unwrap().all_ok());
    assert!(summary.is_file());
    let stopping = RunOptions {
        progress: Some(Arc::new(|e: &ProgressEvent<'_>| {
            if matches!(e, ProgressEvent::RunFinished { .. }) {
                panic!("interrupted");
            }
        })),
        ..quiet()
    };
    let other = load(&path, &["solver.tolerance=1e-6"]);
    let interrupted =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| other.run(&stopping)));
    assert!(interrupted.is_err());
    assert!(
        !summary.exists(),
        "the earlier invocation's summary was left"
    );
    // The next complete invocation writes it again.
    assert!(other.run(&quiet()).unwrap().all_ok());
    assert!(summary.is_file());
}

/// Temporary files of writers killed mid-write are removed when a run starts, once an hour old;
/// those of a live process, and recent ones, are left.
#[cfg(unix)]
#[test]
fn temporary_files_of_killed_writers_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path());
    let out = dir.path().join("out");
    let exp = load(&path, &[]);
    assert!(exp.run(&quiet()).unwrap().all_ok());
    // A pid that no process has (above the kernel's pid range).
    let dead = 4_194_305;
    let vtu = out.join(VTU_DIR);
    let abandoned = [
        vtu.join(format!(".p.vtu.tmp-{dead}-3")),
        out.join(format!(".results.jsonl.tmp-{dead}-0")),
    ];
    // The parent (cargo, or the harness): alive, and not this process.
    let live = vtu.join(format!(
        ".q.vtu.tmp-{}-0",
        std::os::unix::process::parent_id()
    ));
    let recent = vtu.join(format!(".r.vtu.tmp-{dead}-1"));
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for f in abandoned.iter().chain([&live, &recent]) {
        std::fs::write(f, b"partial").unwrap();
        if *f != recent {
            let file = std::fs::File::options().write(true).open(f).unwrap();
            file.set_modified(two_hours_ago).unwrap();
        }
    }
    assert!(exp.run(&quiet()).unwrap().all_ok());
    for f in &abandoned {
        assert!(!f.exists(), "{} left", f.display());
    }
    assert!(live.exists() && recent.exists());
}

/// Outputs without a record (written before femscale kept them) are kept, also once other
/// points of the directory have records; outputs whose record says their run did not finish
/// them are removed.
#[test]
fn unrecorded_outputs_are_kept_and_unfinished_ones_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path());
    let out = dir.path().join("out");
    let exp = load(&path, &[]);
    assert!(exp.run(&quiet()).unwrap().all_ok());
    let vtu = |id: &str| out.join(VTU_DIR).join(format!("{id}.vtu"));
    let [first, second] = [&exp.points()[0], &exp.points()[1]];
    // `first` as written before stamps; `second` as if its run was killed while writing.
    std::fs::remove_file(out.join(OUTPUT_STAMPS_DIR).join(first.id())).unwrap();
    let unfinished = format!("unfinished {}\n", second.run_id(0));
    std::fs::write(out.join(OUTPUT_STAMPS_DIR).join(second.id()), unfinished).unwrap();
    let more = load(&path, &["sweep.problem.mesh.nx=[4, 6, 8]"]);
    assert!(more.run(&quiet()).unwrap().all_ok());
    assert!(
        vtu(first.id()).is_file(),
        "an unrecorded point's VTU file was removed"
    );
    assert!(
        !vtu(second.id()).exists(),
        "an unfinished point's VTU file was kept"
    );
}

/// What the invocation would refuse is judged before it removes or moves anything: a plot path
/// that is a directory leaves `summary.csv` and the log where they were, also with `--fresh`;
/// a `.outputs` that is not a directory is refused naming it.
#[test]
fn a_refused_invocation_removes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path());
    let out = dir.path().join("out");
    assert!(load(&path, &[]).run(&quiet()).unwrap().all_ok());
    let svg = load(
        &path,
        &["output.formats=[\"jsonl\", \"csv\", \"vtu\", \"svg\"]"],
    );
    std::fs::create_dir(out.join(femscale_experiment::ERROR_PLOT)).unwrap();
    for fresh in [false, true] {
        let options = RunOptions { fresh, ..quiet() };
        let e = svg.run(&options).unwrap_err().to_string();
        assert!(
            e.contains("error_vs_h.svg") && e.contains("not a regular file"),
            "{e}"
        );
        assert!(out.join(SUMMARY_FILE).is_file());
        assert!(out.join("results.jsonl").is_file());
    }
    // Without `svg` the plot path is not written, so not judged.
    assert!(
        load(&path, &["solver.tolerance=1e-9"])
            .run(&quiet())
            .is_ok()
    );
    std::fs::remove_dir_all(out.join(OUTPUT_STAMPS_DIR)).unwrap();
    std::fs::write(out.join(OUTPUT_STAMPS_DIR), b"x").unwrap();
    let e = load(&path, &[]).run(&quiet()).unwrap_err().to_string();
    assert!(
        e.contains(".outputs") && e.contains("not a directory"),
        "{e}"
    );
}

/// An adaptive run that fails after some steps (its deadline passes) leaves none of the step
/// files it wrote.
#[test]
fn a_failed_adaptive_run_leaves_no_step_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path());
    let exp = load(
        &path,
        &[
            "adaptivity.enabled=true",
            "adaptivity.max_steps=60",
            "adaptivity.max_dofs=5000000",
            "adaptivity.target_error=1e-12",
            "solver.timeout_seconds=0.5",
        ],
    );
    let report = exp.run(&quiet()).unwrap();
    assert!(
        report.failed_total > 0,
        "no run failed: the deadline was not reached"
    );
    for (point, record) in exp.points().iter().zip(&report.records) {
        if record.ok {
            continue;
        }
        let steps = dir.path().join("out").join(VTU_DIR).join(point.id());
        let left: Vec<_> = std::fs::read_dir(&steps)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{}: {left:?}", point.id());
    }
}

/// An output directory that is a file, or a `summary.csv` that is a directory, is refused
/// before any run (the second failed the invocation after all its runs).
#[test]
fn unwritable_output_paths_are_refused_before_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path());
    let out = dir.path().join("out");
    std::fs::write(&out, b"a file").unwrap();
    let e = load(&path, &[]).run(&quiet()).unwrap_err().to_string();
    assert!(e.contains("is not a directory"), "{e}");
    std::fs::remove_file(&out).unwrap();
    std::fs::create_dir_all(out.join(SUMMARY_FILE)).unwrap();
    let exp = load(&path, &[]);
    let e = exp.run(&quiet()).unwrap_err().to_string();
    assert!(
        e.contains("summary.csv") && e.contains("not a regular file"),
        "{e}"
    );
    assert!(
        femscale_experiment::read_results(&out.join("results.jsonl"))
            .unwrap()
            .is_empty()
    );
}

/// A point that failed under X and was then run under Y keeps none of Y's files when X
/// resumes (a failed point is not run again by a resume, so the files stayed).
#[test]
fn outputs_of_another_configuration_go_also_for_failed_points() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path());
    let out = dir.path().join("out");
    let x = load(&path, &["problem.exact=\"1/(x-x)\""]);
    assert_eq!(x.run(&quiet()).unwrap().failed_total, 2);
    let y = load(&path, &[]);
    assert!(y.run(&quiet()).unwrap().all_ok());
    let vtu = |id: &str| out.join(VTU_DIR).join(format!("{id}.vtu"));
    assert!(vtu(y.points()[0].id()).is_file());
    x.run(&quiet()).unwrap();
    for point in x.points() {
        assert!(
            !vtu(point.id()).exists(),
            "{}: Y's VTU file kept",
            point.id()
        );
    }
}

/// A `vtu` path that is not a directory is refused before the runs (each run of repetition 0
/// failed, and `--fresh` had moved the log aside first).
#[test]
fn a_vtu_directory_that_is_a_file_is_refused_before_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path());
    let out = dir.path().join("out");
    assert!(load(&path, &[]).run(&quiet()).unwrap().all_ok());
    std::fs::remove_dir_all(out.join(VTU_DIR)).unwrap();
    std::fs::write(out.join(VTU_DIR), b"x").unwrap();
    let fresh = RunOptions {
        fresh: true,
        ..quiet()
    };
    let e = load(&path, &[]).run(&fresh).unwrap_err().to_string();
    assert!(e.contains("vtu") && e.contains("not a directory"), "{e}");
    assert!(out.join("results.jsonl").is_file());
}

/// A run whose formats no longer ask for `summary.csv` removes the one an earlier invocation
/// wrote, whether it runs anything (a new point) or only resumes: it would otherwise describe
/// runs this invocation's log does not back (review S).
#[test]
fn a_summary_no_format_asks_for_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path());
    let summary = dir.path().join("out").join(SUMMARY_FILE);
    assert!(load(&path, &[]).run(&quiet()).unwrap().all_ok());
    assert!(summary.is_file());
    // The same points, nothing to run: the summary goes with the format.
    let jsonl = load(&path, &["output.formats=[\"jsonl\"]"]);
    let report = jsonl.run(&quiet()).unwrap();
    assert_eq!(report.ran, 0);
    assert!(!summary.exists(), "a summary no format asked for was kept");
    // With csv again it comes back; a point fewer and jsonl only removes it again.
    assert!(load(&path, &[]).run(&quiet()).unwrap().all_ok());
    assert!(summary.is_file());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("= [4, 6]", "= [4, 5]")).unwrap();
    let fewer = load(&path, &["output.formats=[\"jsonl\"]"]);
    let report = fewer.run(&quiet()).unwrap();
    assert_eq!(report.ran, 1);
    assert!(!summary.exists(), "a summary no format asked for was kept");
}
