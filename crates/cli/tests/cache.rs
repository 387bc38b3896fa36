//! `femscale cache` against a disk level filled by `femscale solve` in separate processes, a
//! real `redis-server` holding foreign keys, and levels that are missing or unreachable.

use std::path::Path;
use std::process::{Command, Output};

use femscale::cache::testing::RedisServer;

fn femscale(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_femscale"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn solves_fill_the_disk_level_and_cache_commands_inspect_and_clear_it() {
    let dir = tempfile::tempdir().unwrap();
    let disk = format!("cache.disk_dir={:?}", dir.path().display().to_string());
    let base = [
        "--set",
        "cache.levels=[\"disk\"]",
        "--set",
        &disk,
        "--set",
        "scaling.enable_caching=true",
        "--set",
        "problem.mesh.nx=8",
    ];
    let solve = |source: &str| {
        let mut args = vec!["solve", "--json", "--set"];
        let s = format!("problem.source={source:?}");
        args.push(&s);
        args.extend(base);
        let v: serde_json::Value = serde_json::from_str(&stdout(&femscale(&args))).unwrap();
        // `[{"artefact": "solution", "level": "disk"}]` as `["solution@disk"]`.
        let reused = v["cache_reused"]
            .as_array()
            .expect("cache_reused is an array");
        reused
            .iter()
            .map(|r| {
                format!(
                    "{}@{}",
                    r["artefact"].as_str().unwrap(),
                    r["level"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    assert!(solve("1").is_empty());
    // A second process finds the solution, a third the operator.
    assert_eq!(solve("1"), ["solution@disk"]);
    assert_eq!(solve("x"), ["system@disk"]);
    // The human summary says so, and reports what the lookup used, not the stored solve.
    let mut args = vec!["solve", "--set", "problem.source=\"1\""];
    args.extend(base);
    let summary = stdout(&femscale(&args));
    assert!(
        summary.contains(
            "cache       reused solution@disk (the solution was computed by an earlier solve"
        ),
        "{summary}"
    );
    let mut json_args = vec!["solve", "--json", "--set", "problem.source=\"1\""];
    json_args.extend(base);
    let v: serde_json::Value = serde_json::from_str(&stdout(&femscale(&json_args))).unwrap();
    assert_eq!(v["phases"]["solve"], 0.0);
    assert!(v["peak_rss_mb"].as_f64().is_some());

    let stats = stdout(&femscale(&[&["cache", "stats"][..], &base].concat()));
    assert!(stats.contains("disk: 3 entries"), "{stats}");
    assert!(
        stats.contains("solution") && stats.contains("system"),
        "{stats}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&femscale(
        &[&["cache", "stats", "--json"][..], &base].concat(),
    )))
    .unwrap();
    assert_eq!(json[0]["level"], "disk");
    assert_eq!(json[0]["kinds"]["solution"][0], 2);

    let out = stdout(&femscale(
        &[&["cache", "invalidate", "solution_*"][..], &base].concat(),
    ));
    assert!(out.contains("removed 2 entries"), "{out}");
    assert_eq!(solve("1"), ["system@disk"]);
    let out = stdout(&femscale(&[&["cache", "clear"][..], &base].concat()));
    assert!(out.contains("removed 2 entries"), "{out}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // An unknown level is a typed error naming the key.
    let o = femscale(&["cache", "stats", "--set", "cache.levels=[\"s3\"]"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cache.levels") && err.contains("s3"), "{err}");
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `femscale cache <command…>` with `sets` as `--set` overrides.
fn cache_cmd(command: &[&str], sets: &[String]) -> Output {
    let mut args: Vec<&str> = vec!["cache"];
    args.extend(command);
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    femscale(&args)
}

fn disk_sets(dir: &Path) -> Vec<String> {
    vec![
        "cache.levels=[\"disk\"]".into(),
        format!("cache.disk_dir={:?}", dir.display().to_string()),
    ]
}

/// Fails with a message naming `needles`, exit status non-zero and not a panic.
fn assert_fails_naming(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_ne!(o.status.code(), Some(101), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks `{n}`: {err}");
    }
}

#[test]
fn stats_and_clear_do_not_create_a_missing_disk_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("never-used");
    let sets = disk_sets(&dir);
    let out = stdout(&cache_cmd(&["stats"], &sets));
    assert!(out.contains("disk: 0 entries"), "{out}");
    assert!(out.contains("does not exist"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&cache_cmd(&["stats", "--json"], &sets))).unwrap();
    assert_eq!(json[0]["level"], "disk");
    assert_eq!(json[0]["kinds"], serde_json::json!({}));
    let out = stdout(&cache_cmd(&["clear"], &sets));
    assert!(out.contains("removed 0 entries"), "{out}");
    let out = stdout(&cache_cmd(&["invalidate", "solution_*"], &sets));
    assert!(out.contains("removed 0 entries"), "{out}");
    assert!(!dir.exists(), "a cache command created {}", dir.display());
}

#[test]
fn empty_or_blocked_disk_dirs_are_errors_naming_the_key_and_path() {
    let tmp = tempfile::tempdir().unwrap();
    let sets = vec![
        "cache.levels=[\"disk\"]".to_string(),
        "cache.disk_dir=\"\"".to_string(),
    ];
    for command in [&["stats"][..], &["clear"], &["invalidate", "*"]] {
        assert_fails_naming(&cache_cmd(command, &sets), &["cache.disk_dir", "empty"]);
    }
    // Also when the disk level is not enabled, and for a solve.
    let o = femscale(&["solve", "--set", "cache.disk_dir=\"\""]);
    assert_fails_naming(&o, &["cache.disk_dir"]);

    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let path = file.display().to_string();
    for target in [file.clone(), file.join("below")] {
        let sets = disk_sets(&target);
        for command in [&["stats"][..], &["clear"], &["invalidate", "*"]] {
            let o = cache_cmd(command, &sets);
            assert_fails_naming(&o, &["cache.disk_dir", &path, "not a directory"]);
        }
        // A solve with the disk level enabled refuses too, instead of running uncached.
        let mut args = vec!["solve", "--set", "scaling.enable_caching=true"];
        for s in &sets {
            args.extend(["--set", s.as_str()]);
        }
        assert_fails_naming(&femscale(&args), &["cache.disk_dir", &path]);
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"not a directory");
}

#[test]
fn an_unreachable_redis_level_fails_naming_level_and_address_after_the_other_levels() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("disk");
    // One entry on disk, written by a solve.
    let mut sets = disk_sets(&disk);
    let mut solve = vec!["solve", "--set", "scaling.enable_caching=true"];
    for s in &sets {
        solve.extend(["--set", s.as_str()]);
    }
    stdout(&femscale(&solve));
    sets[0] = "cache.levels=[\"disk\", \"redis\"]".into();
    sets.push("cache.redis_url=\"redis://127.0.0.1:1/\"".into());
    sets.push("cache.redis_timeout_seconds=0.5".into());

    let o = cache_cmd(&["stats"], &sets);
    assert_fails_naming(&o, &["redis", "redis://127.0.0.1:1/", "unreachable"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("disk: 2 entries"),
        "the reachable level is shown: {out}"
    );

    let o = cache_cmd(&["invalidate", "system_*"], &sets);
    assert_fails_naming(&o, &["`redis`", "redis://127.0.0.1:1/", "unreachable"]);
    let o = cache_cmd(&["clear"], &sets);
    assert_fails_naming(&o, &["`redis`", "redis://127.0.0.1:1/", "unreachable"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("disk: removed 1 entries"), "{out}");
    assert!(!out.contains("\nremoved"), "no success line: {out}");

    // Redis alone, and the password kept out of the message.
    let sets = vec![
        "cache.levels=[\"redis\"]".to_string(),
        "cache.redis_url=\"redis://:hunter2@127.0.0.1:1/\"".to_string(),
    ];
    let o = cache_cmd(&["clear"], &sets);
    assert_fails_naming(&o, &["`redis`", "127.0.0.1:1"]);
    assert!(!stderr(&o).contains("hunter2"), "{}", stderr(&o));
}

#[test]
fn invalid_redis_prefixes_are_refused_naming_the_key() {
    for prefix in ["", "*", "fem*", "a?", "[x]", "a\\\\b", "two words"] {
        let sets = vec![
            "cache.levels=[\"redis\"]".to_string(),
            format!("cache.redis_prefix={prefix:?}"),
        ];
        for command in [&["stats"][..], &["clear"], &["invalidate", "*"]] {
            assert_fails_naming(&cache_cmd(command, &sets), &["cache.redis_prefix"]);
        }
    }
}

#[test]
fn clear_leaves_foreign_redis_keys_alone() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut raw = server.raw();
    let set = |conn: &mut redis::Connection, k: &str, v: &[u8]| {
        let () = redis::cmd("SET").arg(k).arg(v).query(conn).unwrap();
    };
    let sets = vec![
        "cache.levels=[\"redis\"]".to_string(),
        format!("cache.redis_url={:?}", server.url()),
        "cache.redis_prefix=\"fem:\"".to_string(),
        "scaling.enable_caching=true".to_string(),
    ];
    let mut solve = vec!["solve"];
    for s in &sets {
        solve.extend(["--set", s.as_str()]);
    }
    stdout(&femscale(&solve));
    let foreign = [
        "fem:solution_not-ours",
        "fem:config",
        "session:42",
        "other:system_1",
    ];
    for k in foreign {
        set(&mut raw, k, b"someone else's data");
    }
    let out = stdout(&cache_cmd(&["stats"], &sets));
    assert!(
        out.contains("redis: 2 entries"),
        "only ours are counted: {out}"
    );
    let out = stdout(&cache_cmd(&["clear"], &sets));
    assert!(out.contains("redis: removed 2 entries"), "{out}");
    let left: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut raw).unwrap();
    let mut left = left;
    left.sort();
    let mut expected: Vec<String> = foreign.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(left, expected);
}
