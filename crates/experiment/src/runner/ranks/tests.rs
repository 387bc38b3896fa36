//! Rank-parallel sweeps over in-process ranks (`ThreadRanks`): the same records and files as
//! one process, resume after a rank died, refused ranks, and untrusted result messages. The
//! same protocol runs under `mpirun` in the CLI's tests (`tests/mpi_sweep.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use femscale_distributed::ThreadRanks;

use crate::outputs::VTU_DIR;
use crate::runner::Job;

use super::files::collect_files;
use super::*;

/// An experiment of `points` small MMS points (`nx` from 8 on) with VTU output in `dir/out`.
fn experiment(dir: &Path, points: usize, name: &str) -> Experiment {
    let nx: Vec<String> = (0..points).map(|i| (8 + i).to_string()).collect();
    let text = format!(
        r#"
[problem]
mesh = {{ kind = "rectangle", nx = 8, ny = 8, cell = "triangle" }}
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"
[solver]
kind = "direct"
[scaling]
threads = 1
[sweep]
"problem.mesh.nx" = [{}]
[output]
dir = {:?}
formats = ["jsonl", "csv", "vtu"]
"#,
        nx.join(", "),
        dir.join("out").display().to_string()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    Experiment::load(&path, &[]).unwrap()
}

/// Runs `exps[r]` on rank `r` of in-process ranks; rank 0's report.
fn run_on_ranks(exps: &[&Experiment], options: &RunOptions) -> ExperimentReport {
    let comms = ThreadRanks::group(exps.len());
    let outcomes: Vec<RankOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = comms
            .into_iter()
            .zip(exps)
            .map(|(comm, exp)| s.spawn(move || exp.run_ranks(options, &comm).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut report = None;
    for outcome in outcomes {
        match outcome {
            RankOutcome::Coordinator(r) => report = Some(*r),
            RankOutcome::Worker { .. } => {}
        }
    }
    report.expect("rank 0 reports")
}

/// Every file under `dir`, relative path → bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = Vec::new();
    collect_files(dir, Path::new(""), &mut out).unwrap();
    out.into_iter().collect()
}

fn options(dir: &Path) -> RunOptions {
    RunOptions {
        output_dir: Some(dir.to_path_buf()),
        parallel_runs: Some(1),
        ..RunOptions::default()
    }
}

#[test]
fn three_ranks_record_what_one_process_records() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), 7, "exp");
    let serial = exp.run(&options(&dir.path().join("serial"))).unwrap();
    let ranked_dir = dir.path().join("ranks");
    let ranked = run_on_ranks(&[&exp, &exp, &exp], &options(&ranked_dir));

    assert!(ranked.all_ok(), "{:?}", ranked.records);
    assert_eq!((ranked.total, ranked.ran, ranked.skipped), (7, 7, 0));
    let ids = |r: &ExperimentReport| {
        let mut ids: Vec<String> = r.records.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&ranked), ids(&serial));
    // Same numbers per point: the solutions and norms are deterministic for a fixed thread
    // count (`scaling.threads = 1` here; by default a run's threads depend on the ranks).
    for (a, b) in serial.summary.iter().zip(&ranked.summary) {
        assert_eq!(a.point_id, b.point_id);
        assert_eq!(a.l2_error, b.l2_error, "point {}", a.point_id);
        assert_eq!(a.dofs, b.dofs);
    }
    // The same VTU files, byte for byte, written by rank 0 alone (the others staged theirs).
    let vtu = |d: &Path| files(&d.join(VTU_DIR));
    assert_eq!(vtu(&ranked_dir), vtu(&dir.path().join("serial")));
    assert_eq!(ranked.ranks.len(), 3);
    assert_eq!(ranked.ranks.iter().map(|r| r.runs).sum::<usize>(), 7);
    assert!(ranked.ranks.iter().all(|r| r.error.is_none()));
    assert!(!ranked_dir.join(crate::store::IN_FLIGHT_FILE).exists());
    let log = crate::store::read_results(&ranked_dir.join(crate::RESULTS_FILE)).unwrap();
    assert_eq!(log.len(), 7);

    // Resume: nothing left to run, on any number of ranks.
    let again = run_on_ranks(&[&exp, &exp], &options(&ranked_dir));
    assert_eq!((again.ran, again.skipped), (0, 7));
}

#[test]
fn a_rank_that_loaded_another_experiment_takes_no_runs() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), 4, "exp");
    let other = experiment(dir.path(), 5, "other");
    let report = run_on_ranks(&[&exp, &other, &exp], &options(&dir.path().join("out")));
    assert!(report.all_ok());
    assert_eq!(report.ran, 4);
    let refused = &report.ranks[1];
    assert_eq!(refused.runs, 0);
    assert!(
        refused
            .error
            .as_deref()
            .unwrap()
            .contains("another experiment"),
        "{refused:?}"
    );
}

#[test]
fn runs_left_in_flight_by_a_dead_rank_are_recorded_failed_then_retried() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), 3, "exp");
    let out = dir.path().join("out");
    // What rank 0 leaves behind when a rank dies with run 1 in flight (the job is gone).
    {
        let store = crate::store::Store::prepare(&out).unwrap();
        let job = exp.job(1);
        let journal = record(&job, None, Some("interrupted: rank 2 died".into()), 0.0);
        store.write_in_flight(&[journal]).unwrap();
    }
    let report = run_on_ranks(&[&exp, &exp], &options(&out));
    // The dead rank's run is reported failed, not rerun and not lost; the others ran.
    assert_eq!((report.ran, report.failed_total), (2, 1));
    let log = crate::store::read_results(&out.join(crate::RESULTS_FILE)).unwrap();
    let failed: Vec<_> = log.iter().filter(|r| !r.ok).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, exp.job(1).point.run_id(0));
    assert!(failed[0].error.as_deref().unwrap().contains("rank 2 died"));
    assert!(!out.join(crate::store::IN_FLIGHT_FILE).exists());

    let retried = run_on_ranks(
        &[&exp, &exp],
        &RunOptions {
            retry_failed: true,
            ..options(&out)
        },
    );
    assert_eq!(retried.ran, 1);
    assert!(retried.all_ok());
}

#[test]
fn result_messages_are_checked_not_trusted() {
    let record = record(&experiment_job(), None, Some("x".into()), 0.0);
    let files = vec![(PathBuf::from("vtu/a.vtu"), b"<VTKFile/>".to_vec())];
    let message = encode_outcome(3, &record, &files).unwrap();
    let (outcome, decoded) = decode_outcome(&message).unwrap();
    assert_eq!(outcome.index, 3);
    assert_eq!(
        decoded,
        vec![(PathBuf::from("vtu/a.vtu"), &b"<VTKFile/>"[..])]
    );
    // Every truncation, and extra bytes, are typed errors.
    for cut in 0..message.len() {
        let err = decode_outcome(&message[..cut]).unwrap_err();
        assert!(matches!(err, Error::Communication { .. }), "{err}");
    }
    let mut longer = message.clone();
    longer.push(0);
    assert!(decode_outcome(&longer).is_err());
    let mut huge = message;
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(decode_outcome(&huge).is_err());

    // Files must stay inside the output directory.
    let dir = tempfile::tempdir().unwrap();
    for bad in ["../escape.vtu", "/etc/passwd", "", "vtu/../../x"] {
        let err = write_files(dir.path(), &[(PathBuf::from(bad), b"x")]).unwrap_err();
        assert!(
            err.to_string().contains("not a path inside"),
            "{bad}: {err}"
        );
    }
}

/// A job of a throwaway experiment, for records.
fn experiment_job() -> Job<'static> {
    let dir = tempfile::tempdir().unwrap();
    let exp: &'static Experiment = Box::leak(Box::new(experiment(dir.path(), 1, "exp")));
    exp.job(0)
}
