//! The solve cache through the runtime: what is reused, from which level, and that reuse never
//! changes a result (a stored artefact gives bit-identical solutions with the direct solver).

use std::path::Path;
use std::sync::Arc;

use femscale_runtime::{Config, FemSolver, FieldSpec, Laplace2d, Problem, SolveCache, WarmUp};

fn config(levels: &[&str], disk: Option<&Path>) -> Config {
    let mut c = Config::default();
    c.scaling.enable_caching = Some(true);
    c.solver.kind = "direct".into();
    c.cache.levels = levels.iter().map(|s| s.to_string()).collect();
    if let Some(d) = disk {
        c.cache.disk_dir = d.to_path_buf();
    }
    c
}

fn problem(source: &str, k: f64, top: f64) -> Problem {
    Laplace2d {
        nx: 24,
        ny: 20,
        diffusion: FieldSpec::Constant(k),
        source: Some(FieldSpec::Expr(source.into())),
        top_bc: top,
        ..Default::default()
    }
    .to_problem()
}

fn solve(s: &FemSolver, p: &Problem) -> (Vec<f64>, Vec<String>) {
    let sol = s.solve(p).unwrap();
    let reused = sol.metrics.cache_reused.iter().map(ToString::to_string);
    (sol.values, reused.collect())
}

#[test]
fn memory_level_reuses_operator_for_new_sources_and_returns_repeated_solutions() {
    let cached = FemSolver::from_config(config(&["memory"], None)).unwrap();
    let fresh = FemSolver::from_config(config(&[], None)).unwrap();
    let (v1, r1) = solve(&cached, &problem("sin(pi*x)", 1.0, 0.0));
    assert!(r1.is_empty(), "{r1:?}");
    // Another source and another Dirichlet value on the same nodes: operator reused.
    let p2 = problem("x*y + 3", 1.0, 2.5);
    let (v2, r2) = solve(&cached, &p2);
    assert_eq!(r2, ["system@memory", "prepared_solver@memory"]);
    assert_eq!(v2, solve(&fresh, &p2).0, "reuse must not change the result");
    assert_ne!(v1, v2);
    // The same problem again: the stored solution.
    let (v3, r3) = solve(&cached, &p2);
    assert_eq!(r3, ["solution@memory"]);
    assert_eq!(v3, v2);
    let m = cached.scaling_metrics();
    assert_eq!(m.cache_reuse.solutions, 1);
    assert_eq!(m.cache_reuse.systems, 1);
    assert_eq!(m.cache_reuse.prepared_solvers, 1);
    assert_eq!(m.cache_levels[0].level, "memory");
    assert!(m.cache_levels[0].hits >= 3);
    // Nothing is reused without caching.
    assert!(solve(&fresh, &p2).1.is_empty());
    assert!(fresh.scaling_metrics().cache_levels.is_empty());
}

#[test]
fn a_changed_coefficient_value_is_a_miss() {
    let s = FemSolver::from_config(config(&["memory"], None)).unwrap();
    solve(&s, &problem("1", 1.0, 0.0));
    let (_, reused) = solve(&s, &problem("1", 1.0 + 1e-12, 0.0));
    assert!(reused.is_empty(), "stale operator reused: {reused:?}");
    // A solver setting is part of the prepared key, not of the system key.
    let tighter = s.with_overrides(&["solver.tolerance=1e-10"]).unwrap();
    let (_, reused) = solve(&tighter, &problem("1", 1.0, 0.0));
    assert_eq!(reused, ["system@memory"]);
}

#[test]
fn disk_level_serves_another_solver_like_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let first = FemSolver::from_config(config(&["disk"], Some(dir.path()))).unwrap();
    let p = problem("exp(x)", 2.0, 1.0);
    let (v, _) = solve(&first, &p);
    // A new solver has an empty memory; the disk has the solution and the operator.
    let second = FemSolver::from_config(config(&["memory", "disk"], Some(dir.path()))).unwrap();
    let served = second.solve(&p).unwrap();
    let (v2, r) = (&served.values, &served.metrics.cache_reused);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].to_string(), "solution@disk");
    assert_eq!(*v2, v);
    // The report's counters and plan are the lookup's, not the stored solve's (review S: they
    // showed no cache hit and three misses next to the hit).
    let m = &served.metrics;
    assert!(m.counters.cache_hits >= 1, "{:?}", m.counters);
    assert!(
        m.plan_rationale.starts_with("served from the cache"),
        "{}",
        m.plan_rationale
    );
    let p2 = problem("exp(y)", 2.0, 1.0);
    let (v3, r) = solve(&second, &p2);
    assert_eq!(r, ["system@disk"]);
    assert_eq!(
        v3,
        solve(&FemSolver::from_config(config(&[], None)).unwrap(), &p2).0
    );
    // Promoted to memory: now a memory hit, prepared solver included.
    let (_, r) = solve(&second, &problem("exp(x*y)", 2.0, 1.0));
    assert_eq!(r, ["system@memory", "prepared_solver@memory"]);
}

#[test]
fn corrupted_disk_entries_are_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&["disk"], Some(dir.path()));
    let p = problem("1 + x", 1.0, 0.0);
    let reference = solve(&FemSolver::from_config(cfg.clone()).unwrap(), &p).0;
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "a solution and a system: {files:?}");
    for (i, f) in files.iter().enumerate() {
        let mut bytes = std::fs::read(f).unwrap();
        if i == 0 {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x40; // flipped byte
        } else {
            bytes.truncate(bytes.len() - 9); // truncated file
        }
        std::fs::write(f, bytes).unwrap();
    }
    let s = FemSolver::from_config(cfg).unwrap();
    let (v, reused) = solve(&s, &p);
    assert!(reused.is_empty(), "damaged entries used: {reused:?}");
    assert_eq!(v, reference);
    // Recomputed and stored again, intact.
    let (_, reused) = solve(
        &FemSolver::from_config(config(&["disk"], Some(dir.path()))).unwrap(),
        &p,
    );
    assert_eq!(reused, ["solution@disk"]);
}

#[test]
fn invalidation_patterns_and_clear_act_on_every_level() {
    let dir = tempfile::tempdir().unwrap();
    let s = FemSolver::from_config(config(&["memory", "disk"], Some(dir.path()))).unwrap();
    let p = problem("y", 1.0, 0.0);
    solve(&s, &p);
    let cache = s.shared_cache().unwrap();
    assert_eq!(cache.invalidate("solution_*").unwrap(), 1);
    let (_, r) = solve(&s, &p);
    assert_eq!(r, ["system@memory", "prepared_solver@memory"]);
    // `system_*` removes the operator from memory and disk; the prepared solver stays live
    // under its own key but is only consulted after a system hit or a fresh assembly.
    cache.invalidate("system_*").unwrap();
    cache.invalidate("solution_*").unwrap();
    let (_, r) = solve(&s, &p);
    assert_eq!(r, ["prepared_solver@memory"]);
    assert!(cache.clear().unwrap() >= 2);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let (_, r) = solve(&s, &p);
    assert!(r.is_empty());
}

#[test]
fn warm_up_precomputes_operators_and_solutions() {
    let s = FemSolver::from_config(config(&["memory"], None)).unwrap();
    let ops = [problem("1", 3.0, 0.0), problem("1", 4.0, 0.0)];
    assert_eq!(s.warm_up(&ops, WarmUp::Operator).unwrap(), 2);
    assert_eq!(
        s.warm_up(&ops, WarmUp::Operator).unwrap(),
        0,
        "already stored"
    );
    let (_, r) = solve(&s, &problem("x", 4.0, 1.0));
    assert_eq!(r, ["system@memory", "prepared_solver@memory"]);
    let p = problem("x", 3.0, 0.0);
    assert_eq!(
        s.warm_up(std::slice::from_ref(&p), WarmUp::Solution)
            .unwrap(),
        1
    );
    assert_eq!(solve(&s, &p).1, ["solution@memory"]);
    let off = FemSolver::from_config(config(&[], None)).unwrap();
    assert!(off.warm_up(&ops, WarmUp::Operator).is_err());
}

#[test]
fn solvers_sharing_one_cache_reuse_each_others_work_from_many_threads() {
    let shared = Arc::new(
        SolveCache::from_config(
            &config(&["memory"], None).cache,
            &femscale_runtime::Registry::with_builtins(),
        )
        .unwrap(),
    );
    let reference = FemSolver::from_config(config(&[], None)).unwrap();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let shared = shared.clone();
            let reference = &reference;
            scope.spawn(move || {
                let s = FemSolver::from_config(config(&["memory"], None))
                    .unwrap()
                    .with_cache(shared);
                for i in 0..6 {
                    let p = problem(&format!("{}*x + {t}", i % 3), 1.0, 0.0);
                    assert_eq!(solve(&s, &p).0, solve(reference, &p).0);
                }
            });
        }
    });
    let reuse = shared.reuse();
    assert!(reuse.solutions + reuse.systems >= 20, "{reuse:?}");
}

#[test]
fn bad_cache_configuration_names_the_key() {
    let mut c = config(&["memory", "s3"], None);
    let e = FemSolver::from_config(c.clone()).unwrap_err().to_string();
    assert!(e.contains("cache.levels") && e.contains("s3"), "{e}");
    c.cache.levels = vec!["memory".into(), "memory".into()];
    let e = FemSolver::from_config(c.clone()).unwrap_err().to_string();
    assert!(e.contains("cache.levels") && e.contains("twice"), "{e}");
    c.cache.levels = vec!["memory".into()];
    c.cache.memory_mb = f64::NAN;
    let e = FemSolver::from_config(c).unwrap_err().to_string();
    assert!(e.contains("cache.memory_mb"), "{e}");
}

/// The Redis level (cargo feature `redis`), against a `redis-server` started per test.
#[cfg(feature = "redis")]
mod redis {
    use femscale_cache::testing::RedisServer;
    use femscale_core::{Artefact, CacheReuse};
    use femscale_runtime::WritePolicyConfig;

    use super::*;

    #[test]
    fn redis_level_round_trips_and_a_dead_server_degrades_to_the_other_levels() {
        let Some(mut server) = RedisServer::start() else {
            return;
        };
        let mut c = config(&["redis"], None);
        c.cache.redis_url = server.url();
        c.cache.redis_prefix = "rt-test:".into();
        c.cache.write_policy = WritePolicyConfig::All;
        let p = problem("sin(x)", 1.0, 0.0);
        let (v, _) = solve(&FemSolver::from_config(c.clone()).unwrap(), &p);
        let (v2, r) = solve(&FemSolver::from_config(c.clone()).unwrap(), &p);
        assert_eq!(r, ["solution@redis"]);
        assert_eq!(v2, v);
        // Memory + Redis; the server dies: one warning, solves go on from memory and compute.
        let mut both = c.clone();
        both.cache.levels = vec!["memory".into(), "redis".into()];
        let s = FemSolver::from_config(both.clone()).unwrap();
        assert_eq!(solve(&s, &p).1, ["solution@redis"]);
        assert_eq!(solve(&s, &problem("cos(x)", 1.0, 0.0)).1, ["system@redis"]);
        server.kill();
        assert_eq!(solve(&s, &p).1, ["solution@memory"]);
        let p3 = problem("cos(y)", 1.0, 0.0);
        let (v3, r) = solve(&s, &p3);
        assert_eq!(r, ["system@memory", "prepared_solver@memory"]);
        assert_eq!(
            v3,
            solve(&FemSolver::from_config(config(&[], None)).unwrap(), &p3).0
        );
        // A server that is down when the cache opens: the level is reported unavailable.
        let s = FemSolver::from_config(both).unwrap();
        assert_eq!(solve(&s, &p).0, v);
        let unavailable = s.scaling_metrics().cache_unavailable;
        assert_eq!(unavailable.len(), 1);
        assert_eq!(unavailable[0].0, "redis");
    }

    #[test]
    fn redis_round_trip_of_a_million_entry_operator() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let mut c = config(&["redis"], None);
        c.cache.redis_url = server.url();
        let big = |source: &str| {
            Laplace2d {
                // 5 entries per row once the stored zeros are dropped.
                nx: 460,
                ny: 460,
                source: Some(FieldSpec::Expr(source.into())),
                ..Default::default()
            }
            .to_problem()
        };
        let writer = FemSolver::from_config(c.clone()).unwrap();
        let first = writer.solve(&big("1")).unwrap();
        assert!(first.metrics.nnz >= 1_000_000, "nnz {}", first.metrics.nnz);
        // Another process's view: nothing in memory, the operator comes from Redis.
        let reader = FemSolver::from_config(c).unwrap();
        let p = big("x");
        let hit = reader.solve(&p).unwrap();
        assert_eq!(
            hit.metrics.cache_reused,
            [CacheReuse::new(Artefact::System, "redis")]
        );
        let fresh = FemSolver::from_config(config(&[], None))
            .unwrap()
            .solve(&p)
            .unwrap();
        assert_eq!(hit.values, fresh.values);
    }
}
