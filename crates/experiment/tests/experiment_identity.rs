//! Results are never stale: a run's identity covers its full effective configuration (file,
//! `--set`), so editing the base configuration runs it again and sets the old records aside;
//! repetitions do the work they time (no solution served from the cache, no operator reused
//! from the same point's earlier repetition).

use std::path::{Path, PathBuf};

use femscale_experiment::{Experiment, RunOptions, RunRecord, read_results};

fn experiment(dir: &Path, solver: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"
[problem]
mesh = {{ kind = "rectangle", nx = 12, ny = 12 }}
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"

[solver]
{solver}

[output]
dir = {:?}
{extra}
"#,
        dir.join("out").display().to_string()
    );
    let path = dir.join("exp.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn one_at_a_time() -> RunOptions {
    RunOptions {
        parallel_runs: Some(1),
        ..Default::default()
    }
}

fn run(
    path: &Path,
    overrides: &[String],
    options: &RunOptions,
) -> femscale_experiment::ExperimentReport {
    Experiment::load(path, overrides)
        .unwrap_or_else(|e| panic!("{e}"))
        .run(options)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn editing_the_base_configuration_reruns_and_sets_old_records_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path(), r#"kind = "cg""#, "");
    let first = run(&path, &[], &one_at_a_time());
    assert_eq!((first.ran, first.skipped, first.set_aside), (1, 0, 0));

    // The same inputs: resumed, nothing runs.
    let again = run(&path, &[], &one_at_a_time());
    assert_eq!((again.ran, again.skipped, again.set_aside), (0, 1, 0));

    // The file's [solver] changes: the run is another one.
    let path = experiment(dir.path(), r#"kind = "direct""#, "");
    let edited = run(&path, &[], &one_at_a_time());
    assert_eq!((edited.ran, edited.skipped, edited.set_aside), (1, 0, 1));
    assert_eq!(edited.summary.len(), 1);
    assert_eq!(edited.summary[0].solver.as_deref(), Some("direct-cholesky"));

    // A `--set` of the base configuration is part of the identity too.
    let set = vec!["solver.tolerance=1e-11".to_string()];
    let with_set = run(&path, &set, &one_at_a_time());
    assert_eq!((with_set.ran, with_set.skipped), (1, 0));
    assert_eq!(
        with_set.set_aside, 2,
        "the cg run and the direct run without --set"
    );

    // Every record names the identity it was computed under.
    let records = read_results(&with_set.results_path).unwrap();
    assert_eq!(records.len(), 3);
    let identities: std::collections::HashSet<&str> =
        records.iter().map(|r| r.identity.as_str()).collect();
    assert_eq!(identities.len(), 3);
    assert!(records.iter().all(|r| r.identity.len() == 64));
}

/// Fewer repetitions than before: the extra records are of this configuration, not set
/// aside as another's.
#[test]
fn lowering_the_repetitions_sets_nothing_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path(), r#"kind = "direct""#, "");
    let three = vec!["experiment.repetitions=3".to_string()];
    let first = run(&path, &three, &one_at_a_time());
    assert_eq!((first.ran, first.set_aside), (3, 0));
    let one = vec!["experiment.repetitions=1".to_string()];
    let again = run(&path, &one, &one_at_a_time());
    assert_eq!((again.ran, again.skipped, again.set_aside), (0, 1, 0));
}

#[test]
fn fresh_moves_the_old_log_aside_and_runs_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(dir.path(), r#"kind = "direct""#, "");
    let first = run(&path, &[], &one_at_a_time());
    let fresh = run(
        &path,
        &[],
        &RunOptions {
            fresh: true,
            ..one_at_a_time()
        },
    );
    assert_eq!((fresh.ran, fresh.skipped, fresh.set_aside), (1, 0, 0));
    let old = fresh.previous_log.expect("the old log was moved");
    assert_eq!(old.parent(), first.results_path.parent());
    let kept = read_results(&old).unwrap();
    assert_eq!(kept.len(), 1, "nothing lost");
    assert_eq!(kept[0].id, first.records[0].id);
    assert_eq!(read_results(&fresh.results_path).unwrap().len(), 1);
}

fn by_point_and_repetition(records: &[RunRecord]) -> Vec<(String, usize, Vec<String>)> {
    let mut rows: Vec<_> = records
        .iter()
        .map(|r| {
            let m = r.metrics.as_ref().expect("ok run");
            (
                r.point_id.clone(),
                r.repetition,
                m.cache_reused.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn repetitions_do_the_work_they_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = experiment(
        dir.path(),
        r#"kind = "direct""#,
        // Caching on: without the rule, repetitions 2 and 3 were solution@memory hits.
        "[scaling]\nenable_caching = true\n[experiment]\nrepetitions = 3\n",
    );
    let report = run(&path, &[], &one_at_a_time());
    assert_eq!(report.ran, 3);
    for record in read_results(&report.results_path).unwrap() {
        let m = record.metrics.unwrap();
        assert!(
            m.cache_reused.is_empty(),
            "repetition {}: {:?}",
            record.repetition,
            m.cache_reused
        );
        assert!(!m.features_used.iter().any(|f| f.is_cache_hit()));
        assert!(m.phases.assembly > 0.0 && m.phases.setup > 0.0 && m.phases.solve > 0.0);
        assert!(m.verified_relative_residual < 1e-12);
    }
}

#[test]
fn operators_are_reused_across_points_within_a_repetition_only() {
    let dir = tempfile::tempdir().unwrap();
    // Two sources on one operator, two repetitions each.
    let path = experiment(
        dir.path(),
        r#"kind = "direct""#,
        "[scaling]\nenable_caching = true\n[experiment]\nrepetitions = 2\n[sweep]\n\"problem.source\" = [1.0, 2.0]\n",
    );
    let exp = Experiment::load(&path, &[]).unwrap();
    let (a, b) = (
        exp.points()[0].id().to_string(),
        exp.points()[1].id().to_string(),
    );
    let report = exp.run(&one_at_a_time()).unwrap();
    assert_eq!(report.ran, 4);
    let rows = by_point_and_repetition(&read_results(&report.results_path).unwrap());
    for (point, repetition, reused) in rows {
        if point == a {
            assert!(
                reused.is_empty(),
                "first point, repetition {repetition}: {reused:?}"
            );
        } else {
            assert_eq!(point, b);
            assert!(
                reused.iter().any(|r| r == "system@memory"),
                "second point, repetition {repetition}: {reused:?}"
            );
            assert!(
                !reused.iter().any(|r| r.starts_with("solution@")),
                "{reused:?}"
            );
        }
    }
}

/// With several repetitions no run reads a disk level (review S: repetition 0 of a second
/// invocation loaded the operators the first had stored, while repetition 1 assembled its own,
/// so the repetitions timed different work).
#[test]
fn repeated_runs_do_not_read_operators_an_earlier_invocation_stored() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("cache");
    let extra = format!(
        "[scaling]\nenable_caching = true\n[cache]\nlevels = [\"memory\", \"disk\"]\n\
         disk_dir = {:?}\n[experiment]\nrepetitions = 2\n[sweep]\n\"problem.source\" = [1.0, 2.0]\n",
        disk.display().to_string()
    );
    let path = experiment(dir.path(), r#"kind = "direct""#, &extra);
    let first = run(&path, &[], &one_at_a_time());
    assert_eq!(first.ran, 4);
    let fresh = RunOptions {
        fresh: true,
        ..one_at_a_time()
    };
    let second = run(&path, &[], &fresh);
    assert_eq!(second.ran, 4);
    let rows = by_point_and_repetition(&read_results(&second.results_path).unwrap());
    // Each repetition of the first point assembles; of the second, it reuses the first's
    // operator from memory: the same work in both repetitions.
    let reused: Vec<_> = rows
        .iter()
        .map(|(_, r, reused)| (*r, reused.clone()))
        .collect();
    for (repetition, reused) in &reused {
        assert!(
            !reused.iter().any(|r| r.ends_with("@disk")),
            "repetition {repetition}: {reused:?}"
        );
    }
    assert_eq!(
        reused.iter().filter(|(_, r)| r.is_empty()).count(),
        2,
        "{reused:?}"
    );
}

/// A point that runs again under another identity and now fails leaves no VTU file of the old
/// configuration under its name; a resume that asks for `vtu` after the points finished
/// says it writes none for them.
#[test]
fn a_rerun_point_leaves_no_stale_vtu_file() {
    let dir = tempfile::tempdir().unwrap();
    let formats = r#"formats = ["jsonl", "csv", "vtu"]"#;
    let path = experiment(dir.path(), r#"kind = "direct""#, formats);
    let first = run(&path, &[], &one_at_a_time());
    assert_eq!(first.failed_total, 0);
    let vtu_dir = dir.path().join("out").join("vtu");
    let files = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d).map_or(Vec::new(), |r| r.map(|e| e.unwrap().path()).collect())
    };
    assert_eq!(files(&vtu_dir).len(), 1);
    // Failing in the solve, or before it (the solver's options refused).
    for (k, failing) in [r#"problem.source="1/(x-x)""#, "solver.tolerance=3.0"]
        .into_iter()
        .enumerate()
    {
        if k > 0 {
            // The point's file again, under yet another identity.
            let again = vec![format!("solver.tolerance=1e-{}", 9 + k)];
            assert_eq!(run(&path, &again, &one_at_a_time()).failed_total, 0);
            assert_eq!(files(&vtu_dir).len(), 1);
        }
        let second = run(&path, &[failing.to_string()], &one_at_a_time());
        assert_eq!((second.ran, second.failed_total), (1, 1), "{failing}");
        assert!(
            files(&vtu_dir).is_empty(),
            "{failing}: {:?}",
            files(&vtu_dir)
        );
    }
}

/// A sweep value that sets a table of names whole replaces the file's table (the file's other
/// names stayed beside it), as `--set` does.
#[test]
fn a_swept_table_of_names_replaces_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exp.toml");
    std::fs::write(
        &path,
        r#"
[problem]
params = { a = 5.0, b = 5.0 }
[sweep]
"problem.params" = [{ a = 1.0 }, { c = 2.0 }]
"#,
    )
    .unwrap();
    let experiment = Experiment::load(&path, &[]).unwrap();
    let params: Vec<Vec<String>> = (experiment.points().iter())
        .map(|p| p.config().unwrap().problem.params.keys().cloned().collect())
        .collect();
    assert_eq!(params, [vec!["a".to_string()], vec!["c".to_string()]]);
}
