//! [`RedisCache`] against a real `redis-server` started per test.
//!
//! Without `redis-server` on `PATH` the tests print a loud `SKIPPED` line and pass, unless
//! `FEMSCALE_REQUIRE_REDIS=1` is set (CI), in which case they fail (see
//! [`femscale_cache::testing`]). No assertion here is on speed: the bounds on elapsed time
//! are hang guards far above the timeouts under test.
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use femscale_cache::{
    Cache, CacheKey, MAX_REDIS_TTL, MemoryCache, RedisCache, RedisOptions, TieredCache,
};

use femscale_cache::testing::{RedisServer as Server, free_port};

fn opts(prefix: &str) -> RedisOptions {
    RedisOptions {
        prefix: prefix.into(),
        ..RedisOptions::default()
    }
}

fn key(kind: &str, digest: &str) -> CacheKey {
    CacheKey::new(kind, digest)
}

#[test]
fn large_blob_round_trip_is_exact() {
    let Some(server) = Server::start() else {
        return;
    };
    let cache = RedisCache::connect(&server.url(), opts("t:")).unwrap();
    // A solution of a 1M-unknown, 3-component operator: 3e6 f64 = 24 MB.
    let blob: Vec<u8> = (0..3_000_000u64)
        .flat_map(|i| ((i as f64) * 0.5 - 7.25).to_le_bytes())
        .collect();
    let k = key("solution", "0123456789abcdef");
    assert_eq!(cache.get(&k).unwrap(), None);
    cache.put(&k, &blob).unwrap();
    let back = cache.get(&k).unwrap().expect("hit");
    assert_eq!(back.len(), blob.len());
    assert!(back == blob, "payload differs");
    let s = cache.stats();
    assert_eq!(
        (s.level.as_str(), s.hits, s.misses, s.writes),
        ("redis", 1, 1, 1)
    );
    assert!(cache.remove(&k).unwrap());
    assert!(!cache.remove(&k).unwrap());
    assert_eq!(cache.get(&k).unwrap(), None);
}

#[test]
fn prefixes_isolate_caches() {
    let Some(server) = Server::start() else {
        return;
    };
    let a = RedisCache::connect(&server.url(), opts("a:")).unwrap();
    let b = RedisCache::connect(&server.url(), opts("b:")).unwrap();
    let k = key("system", "ab");
    a.put(&k, b"from a").unwrap();
    assert_eq!(b.get(&k).unwrap(), None);
    b.put(&k, b"from b").unwrap();
    assert_eq!(a.get(&k).unwrap().as_deref(), Some(&b"from a"[..]));
    assert_eq!(b.get(&k).unwrap().as_deref(), Some(&b"from b"[..]));
    assert_eq!(a.invalidate("*").unwrap(), 1);
    assert_eq!(a.get(&k).unwrap(), None);
    assert_eq!(b.get(&k).unwrap().as_deref(), Some(&b"from b"[..]));
    // Stored under `<prefix><rendered key>`.
    let raw: Option<Vec<u8>> = redis::cmd("GET")
        .arg("b:system_ab")
        .query(&mut server.raw())
        .unwrap();
    assert!(raw.is_some_and(|v| v.ends_with(b"from b")));
    assert_eq!(b.redis_key(&k), "b:system_ab");
}

/// The remaining time to live of `rkey` in milliseconds (`-1`: none, `-2`: no such key).
fn pttl(conn: &mut redis::Connection, rkey: &str) -> i64 {
    redis::cmd("PTTL").arg(rkey).query(conn).unwrap()
}

#[test]
fn ttl_is_set_on_every_write_and_expired_entries_are_misses() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut raw = server.raw();
    let hour = Duration::from_secs(3600);
    let cache = RedisCache::connect(
        &server.url(),
        RedisOptions {
            ttl: Some(hour),
            ..opts("ttl:")
        },
    )
    .unwrap();
    let k = key("system", "ttl");
    let rkey = cache.redis_key(&k);
    cache.put(&k, b"short-lived").unwrap();
    let left = pttl(&mut raw, &rkey);
    assert!(left > 0 && left <= 3_600_000, "PTTL {left}");
    assert_eq!(cache.get(&k).unwrap().as_deref(), Some(&b"short-lived"[..]));
    // A rewrite starts a new lifetime.
    let () = redis::cmd("PEXPIRE")
        .arg(&rkey)
        .arg(60_000)
        .query::<i64>(&mut raw)
        .map(|_| ())
        .unwrap();
    cache.put(&k, b"rewritten").unwrap();
    let left = pttl(&mut raw, &rkey);
    assert!(left > 60_000 && left <= 3_600_000, "PTTL {left}");
    // Without a TTL, entries do not expire.
    let plain = RedisCache::connect(&server.url(), opts("plain:")).unwrap();
    plain.put(&k, b"kept").unwrap();
    assert_eq!(pttl(&mut raw, &plain.redis_key(&k)), -1);

    // Expiry itself is the server's: cut the entry's life to 1 ms and it becomes a miss.
    let () = redis::cmd("PEXPIRE")
        .arg(&rkey)
        .arg(1)
        .query::<i64>(&mut raw)
        .map(|_| ())
        .unwrap();
    let hang_guard = Instant::now() + Duration::from_secs(30);
    while cache.get(&k).unwrap().is_some() {
        assert!(Instant::now() < hang_guard, "the entry never expired");
        sleep(Duration::from_millis(2));
    }
    assert_eq!(pttl(&mut raw, &rkey), -2, "gone from the server");
    assert_eq!(plain.get(&k).unwrap().as_deref(), Some(&b"kept"[..]));
}

#[test]
fn invalidate_removes_only_matches() {
    let Some(server) = Server::start() else {
        return;
    };
    // Redis-special characters in keys are taken literally.
    let cache = RedisCache::connect(&server.url(), opts("p1:")).unwrap();
    let other = RedisCache::connect(&server.url(), opts("p2:")).unwrap();
    for i in 0..25 {
        cache.put(&key("system", &format!("{i:02}")), b"s").unwrap();
        cache
            .put(&key("solution", &format!("{i:02}")), b"u")
            .unwrap();
        other.put(&key("system", &format!("{i:02}")), b"o").unwrap();
    }
    cache.put(&key("sys[x]", "1"), b"b").unwrap();
    cache.put(&key("sys\\y", "1"), b"b").unwrap();
    let listed = cache.list("system_1?").unwrap().unwrap();
    assert_eq!(listed.len(), 10);
    assert_eq!(listed[0].0, "system_10");
    assert!(
        listed.iter().all(|(_, bytes)| *bytes > 1),
        "sizes include the header"
    );
    assert_eq!(cache.list("*").unwrap().unwrap().len(), 52);
    assert_eq!(cache.invalidate("system_1?").unwrap(), 10);
    assert_eq!(cache.get(&key("system", "15")).unwrap(), None);
    assert!(cache.get(&key("system", "05")).unwrap().is_some());
    assert_eq!(cache.invalidate("sys[x]_*").unwrap(), 1);
    assert_eq!(cache.invalidate("sys\\y_1").unwrap(), 1);
    assert_eq!(cache.invalidate("system_*").unwrap(), 15);
    assert_eq!(cache.invalidate("system_*").unwrap(), 0);
    assert!(cache.get(&key("solution", "07")).unwrap().is_some());
    assert_eq!(cache.invalidate("*").unwrap(), 25);
    // The other prefix (which `p[1]\*:` would match as a Redis pattern) is untouched.
    for i in 0..25 {
        let v = other.get(&key("system", &format!("{i:02}"))).unwrap();
        assert_eq!(v.as_deref(), Some(&b"o"[..]));
    }
}

#[test]
fn corrupted_value_is_a_miss_and_deleted() {
    let Some(server) = Server::start() else {
        return;
    };
    let cache = RedisCache::connect(&server.url(), opts("c:")).unwrap();
    let mut raw = server.raw();
    let k = key("system", "bad");
    let rkey = cache.redis_key(&k);
    let () = redis::cmd("SET")
        .arg(&rkey)
        .arg(&b"raw garbage, no header"[..])
        .query(&mut raw)
        .unwrap();
    assert_eq!(cache.get(&k).unwrap(), None);
    let exists: i64 = redis::cmd("EXISTS").arg(&rkey).query(&mut raw).unwrap();
    assert_eq!(exists, 0, "corrupt value was not deleted");

    // A good value with one flipped payload byte, and a good value copied under another key.
    cache.put(&k, b"good payload").unwrap();
    let mut v: Vec<u8> = redis::cmd("GET").arg(&rkey).query(&mut raw).unwrap();
    *v.last_mut().unwrap() ^= 0x01;
    let () = redis::cmd("SET")
        .arg(&rkey)
        .arg(&v)
        .query(&mut raw)
        .unwrap();
    assert_eq!(cache.get(&k).unwrap(), None);
    cache.put(&k, b"good payload").unwrap();
    let v: Vec<u8> = redis::cmd("GET").arg(&rkey).query(&mut raw).unwrap();
    let k2 = key("system", "copy");
    let () = redis::cmd("SET")
        .arg(cache.redis_key(&k2))
        .arg(&v)
        .query(&mut raw)
        .unwrap();
    assert_eq!(cache.get(&k2).unwrap(), None);
    assert_eq!(
        cache.get(&k).unwrap().as_deref(),
        Some(&b"good payload"[..])
    );
    let s = cache.stats();
    assert_eq!((s.hits, s.misses), (1, 3));
}

#[test]
fn dead_server_fails_fast_and_tiered_cache_keeps_working() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let redis = Arc::new(
        RedisCache::connect(
            &server.url(),
            RedisOptions {
                connect_timeout: Duration::from_millis(500),
                io_timeout: Duration::from_secs(1),
                ..opts("d:")
            },
        )
        .unwrap(),
    );
    let memory = Arc::new(MemoryCache::new(1 << 20));
    let tiered = TieredCache::new(vec![memory.clone(), redis.clone()]);
    let k1 = key("system", "one");
    tiered.put(&k1, b"v1").unwrap();
    assert_eq!(redis.get(&k1).unwrap().as_deref(), Some(&b"v1"[..]));

    server.kill();
    let start = Instant::now();
    let err = redis.get(&k1).unwrap_err().to_string();
    assert!(err.contains(&server.url()), "{err}");
    assert!(redis.put(&k1, b"x").is_err());
    assert!(redis.invalidate("*").is_err());
    let k2 = key("system", "two");
    tiered.put(&k2, b"v2").unwrap();
    assert_eq!(tiered.get(&k1).unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(tiered.get(&k2).unwrap().as_deref(), Some(&b"v2"[..]));
    assert_eq!(tiered.get(&key("system", "three")).unwrap(), None);
    assert_eq!(tiered.invalidate("system_t*").unwrap(), 1);
    assert_eq!(tiered.get(&k2).unwrap(), None);
    // A hang guard, not a speed check: each failing call above is bounded by the 0.5 s /
    // 1 s timeouts, where an unbounded one would wait for the operating system (minutes).
    let elapsed = start.elapsed();
    assert!(elapsed < HANG_GUARD, "took {elapsed:?}");
}

#[test]
fn reconnects_after_server_restart() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let cache = RedisCache::connect(&server.url(), opts("r:")).unwrap();
    let k = key("system", "r");
    cache.put(&k, b"before").unwrap();
    // A new server on the same port: the stale connection is replaced transparently.
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(5);
    let got = loop {
        match cache.get(&k) {
            Ok(v) => break v,
            Err(_) if Instant::now() < deadline => sleep(Duration::from_millis(50)),
            Err(e) => panic!("no reconnect: {e}"),
        }
    };
    assert_eq!(got, None, "fresh server has no data");
    cache.put(&k, b"after").unwrap();
    assert_eq!(cache.get(&k).unwrap().as_deref(), Some(&b"after"[..]));
}

/// Bound on calls that must fail rather than hang: far above the timeouts they are given
/// (≤ 1 s) and far below the operating system's own TCP timeouts (minutes), so it tells a
/// timeout that is honoured from one that is not without asserting anything is fast.
const HANG_GUARD: Duration = Duration::from_secs(30);

#[test]
fn unreachable_server_is_an_error_naming_the_url() {
    // No server needed, but keep the skip semantics uniform: this runs everywhere.
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let start = Instant::now();
    let err = RedisCache::connect(&url, RedisOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&url), "{err}");
    assert!(start.elapsed() < HANG_GUARD, "{:?}", start.elapsed());

    // A black-holed address: bounded by the 0.3 s connect timeout (or refused at once), where
    // the operating system's own connect timeout is about two minutes.
    let url = "redis://10.255.255.1:6379/";
    let start = Instant::now();
    let err = RedisCache::connect(
        url,
        RedisOptions {
            connect_timeout: Duration::from_millis(300),
            ..RedisOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains(url), "{err}");
    assert!(start.elapsed() < HANG_GUARD, "{:?}", start.elapsed());

    // Malformed URL and a password kept out of messages.
    let err = RedisCache::connect("not a url", RedisOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not a url"), "{err}");
    let url = format!("redis://:hunter2@127.0.0.1:{}/", free_port());
    let err = RedisCache::connect(&url, RedisOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        !err.contains("hunter2") && err.contains(":***@127.0.0.1"),
        "{err}"
    );
}

#[test]
fn invalid_prefixes_are_refused_before_connecting() {
    // No server needed: the prefix is checked first (port 1 would refuse the connection).
    for bad in [
        "",
        "*",
        "a*",
        "fem?",
        "p[1]",
        "a\\b",
        "with space",
        "\u{7f}",
    ] {
        let err = RedisCache::connect("redis://127.0.0.1:1/", opts(bad)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("prefix"), "{bad:?}: {text}");
        assert_eq!(err.field_name().as_deref(), Some("prefix"), "{bad:?}");
    }
}

#[test]
fn ttls_out_of_range_are_refused_before_connecting() {
    // No server needed: the options are checked first (port 1 would refuse the connection).
    for (ttl, says) in [
        (Duration::ZERO, "at least 1 ms"),
        (Duration::from_micros(999), "at least 1 ms"),
        (MAX_REDIS_TTL + Duration::from_nanos(1), "at most"),
        (Duration::from_secs(u64::MAX), "at most"),
        (Duration::MAX, "at most"),
    ] {
        let options = RedisOptions {
            ttl: Some(ttl),
            ..opts("ttl-range:")
        };
        let err = RedisCache::connect("redis://127.0.0.1:1/", options).unwrap_err();
        assert_eq!(err.field_name().as_deref(), Some("ttl"), "{ttl:?}: {err}");
        assert!(err.to_string().contains(says), "{ttl:?}: {err}");
    }
    // The longest TTL passes the check: the error is the unreachable server's.
    let options = RedisOptions {
        ttl: Some(MAX_REDIS_TTL),
        connect_timeout: Duration::from_millis(200),
        ..opts("ttl-range:")
    };
    let err = RedisCache::connect("redis://127.0.0.1:1/", options).unwrap_err();
    assert_eq!(err.field(), None, "{err}");
}

/// Sets `key` to `value` with a plain client.
fn raw_set(conn: &mut redis::Connection, key: &str, value: &[u8]) {
    let () = redis::cmd("SET").arg(key).arg(value).query(conn).unwrap();
}

fn raw_exists(conn: &mut redis::Connection, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query::<i64>(conn).unwrap() == 1
}

#[test]
fn clear_and_invalidate_leave_foreign_keys_alone() {
    let Some(server) = Server::start() else {
        return;
    };
    let cache = RedisCache::connect(&server.url(), opts("fem:")).unwrap();
    let mut raw = server.raw();
    for i in 0..30 {
        cache
            .put(&key("system", &format!("{i:02}")), b"ours")
            .unwrap();
    }
    // Foreign data under the prefix, some of it shaped like our keys, and outside it.
    raw_set(
        &mut raw,
        "fem:system_foreign",
        b"another application's value",
    );
    raw_set(&mut raw, "fem:system_short", b"FEMSREDS but no header");
    raw_set(&mut raw, "fem:", b"the bare prefix");
    raw_set(&mut raw, "other:system_00", b"outside the prefix");
    raw_set(&mut raw, "unrelated", b"x");
    let big = vec![7u8; 4 << 20];
    raw_set(&mut raw, "fem:system_big", &big);
    let () = redis::cmd("HSET")
        .arg("fem:system_hash")
        .arg("f")
        .arg("v")
        .query(&mut raw)
        .unwrap();
    let () = redis::cmd("RPUSH")
        .arg("fem:solution_list")
        .arg("x")
        .query::<i64>(&mut raw)
        .map(|_| ())
        .unwrap();
    // A value copied from one of ours to a foreign name outside the prefix.
    let ours: Vec<u8> = redis::cmd("GET")
        .arg("fem:system_00")
        .query(&mut raw)
        .unwrap();
    raw_set(&mut raw, "elsewhere:system_00", &ours);
    let foreign = [
        "fem:system_foreign",
        "fem:system_short",
        "fem:",
        "other:system_00",
        "unrelated",
        "fem:system_big",
        "fem:system_hash",
        "fem:solution_list",
        "elsewhere:system_00",
    ];

    // Listing counts only our entries.
    let listed = cache.list("*").unwrap().unwrap();
    assert_eq!(listed.len(), 30, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|(k, _)| k.starts_with("system_") && k.len() == 9)
    );

    assert_eq!(cache.invalidate("system_1*").unwrap(), 10);
    assert_eq!(cache.invalidate("system_*").unwrap(), 20);
    for i in 0..30 {
        cache
            .put(&key("solution", &format!("{i:02}")), b"ours")
            .unwrap();
    }
    assert_eq!(cache.invalidate("*").unwrap(), 30, "clear");
    assert_eq!(cache.invalidate("*").unwrap(), 0);
    assert_eq!(cache.list("*").unwrap().unwrap(), vec![]);
    for k in foreign {
        assert!(raw_exists(&mut raw, k), "foreign key `{k}` was deleted");
    }
    let big_back: Vec<u8> = redis::cmd("GET")
        .arg("fem:system_big")
        .query(&mut raw)
        .unwrap();
    assert!(big_back == big);
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut raw).unwrap();
    assert_eq!(dbsize, foreign.len() as i64);
}

#[test]
fn invalidate_is_not_fooled_by_a_concurrent_foreign_writer() {
    // A writer that keeps replacing one of our keys with foreign data while we invalidate:
    // whatever the interleaving, the key ends up either deleted while it held our entry or
    // holding the foreign value - never a foreign value deleted.
    let Some(server) = Server::start() else {
        return;
    };
    let cache = RedisCache::connect(&server.url(), opts("race:")).unwrap();
    let mut raw = server.raw();
    for round in 0..50 {
        let k = key("system", &format!("{round:02}"));
        cache.put(&k, b"ours").unwrap();
        let rkey = cache.redis_key(&k);
        let writer = {
            let mut conn = server.raw();
            let rkey = rkey.clone();
            std::thread::spawn(move || raw_set(&mut conn, &rkey, b"FOREIGN"))
        };
        let removed = cache.invalidate("system_*").unwrap();
        writer.join().unwrap();
        let value: Option<Vec<u8>> = redis::cmd("GET").arg(&rkey).query(&mut raw).unwrap();
        match (removed, value.as_deref()) {
            // Our entry deleted, then the foreign write landed; or the foreign write landed
            // first and survived.
            (1, Some(b"FOREIGN")) | (0, Some(b"FOREIGN")) => {}
            other => panic!("round {round}: {other:?}"),
        }
        let () = redis::cmd("DEL")
            .arg(&rkey)
            .query::<i64>(&mut raw)
            .map(|_| ())
            .unwrap();
    }
}
