//! Worker pool tests. No timed assertions: the tests wait (with generous deadlines) for states
//! the pool must reach, and gate jobs with channels instead of sleeping.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rayon::prelude::*;

use super::*;

/// Polls `cond` every millisecond for up to ten seconds.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn config(min: usize, max: usize, cores: usize) -> WorkerPoolConfig {
    WorkerPoolConfig {
        cores,
        sample_interval: Duration::from_millis(2),
        scale_up_after: 2,
        scale_down_after: 3,
        name: "test-worker".into(),
        ..WorkerPoolConfig::default()
    }
    .with_workers(min, max)
}

fn quiet() -> Arc<dyn LoadSource> {
    Arc::new(FixedLoad(LoadSample::new(Some(0.0), Some(64_000.0))))
}

#[test]
fn results_come_back_in_order_and_panics_are_per_job() {
    let pool = WorkerPool::with_load_source(config(2, 2, 2), quiet()).unwrap();
    let out = pool.map(0..20usize, |i| {
        assert!(i != 7, "job seven fails");
        i * 10
    });
    for (i, r) in out.iter().enumerate() {
        if i == 7 {
            match r {
                Err(JobError::Panicked { message }) => assert!(message.contains("seven")),
                other => panic!("expected a panic error, got {other:?}"),
            }
        } else {
            assert_eq!(r.as_ref().unwrap(), &(i * 10));
        }
    }
    // The pool survived the panic.
    assert_eq!(pool.submit(|| 5).join().unwrap(), 5);
    let mut seen: Vec<usize> = pool
        .map_unordered(0..8usize, |i| i + 1)
        .map(|(i, r)| {
            assert_eq!(r.unwrap(), i + 1);
            i
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..8).collect::<Vec<_>>());
    let stats = pool.shutdown();
    assert_eq!((stats.jobs_submitted, stats.jobs_completed), (29, 29));
    assert_eq!(stats.jobs_panicked, 1);
}

#[test]
fn scales_up_under_a_deep_queue_and_down_when_idle() {
    let pool = WorkerPool::with_load_source(config(1, 3, 3), quiet()).unwrap();
    assert_eq!(pool.stats().current_workers, 1);
    // Jobs that block until released: the queue stays deep until then.
    let (release_tx, release_rx) = unbounded::<()>();
    let handles: Vec<_> = (0..12)
        .map(|_| {
            let rx = release_rx.clone();
            pool.submit(move || rx.recv().is_ok())
        })
        .collect();
    eventually("three workers", || pool.stats().current_workers == 3);
    eventually("three busy workers", || pool.stats().busy == 3);
    let up = pool.stats();
    assert_eq!(up.scale_ups, 2);
    assert_eq!(up.peak_workers, 3);
    for _ in 0..12 {
        release_tx.send(()).unwrap();
    }
    for h in handles {
        assert!(h.join().unwrap());
    }
    eventually("the pool back at its minimum", || {
        pool.stats().current_workers == 1
    });
    let stats = pool.stats();
    assert_eq!(stats.scale_downs, 2);
    assert_eq!(stats.peak_workers, 3, "never above max_workers");
    let events = pool.events();
    assert_eq!(events.len(), 4);
    assert!(
        events[..2]
            .iter()
            .all(|e| e.up && e.reason == ScaleReason::DeepQueue)
    );
    assert!(
        events[2..]
            .iter()
            .all(|e| !e.up && e.reason == ScaleReason::Idle)
    );
    assert_eq!(events.last().unwrap().workers, 1);
}

#[test]
fn never_runs_more_cpu_threads_than_cores() {
    // 4 cores, 2 threads per job: at most 2 workers.
    let mut cfg = config(1, 2, 4);
    cfg.threads_per_job = 2;
    let pool = WorkerPool::with_load_source(cfg, quiet()).unwrap();
    assert_eq!(pool.threads_per_job(), 2);
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (Arc::clone(&running), Arc::clone(&peak));
    let results = pool.map(0..24usize, move |_| {
        let threads = rayon::current_num_threads();
        let now = r.fetch_add(threads, Ordering::SeqCst) + threads;
        p.fetch_max(now, Ordering::SeqCst);
        // Nested rayon work runs in the job's own pool.
        let s: usize = (0..10_000usize).into_par_iter().sum();
        std::thread::sleep(Duration::from_millis(2));
        r.fetch_sub(threads, Ordering::SeqCst);
        (threads, s)
    });
    for r in results {
        assert_eq!(r.unwrap(), (2, 49_995_000));
    }
    let stats = pool.shutdown();
    assert!(peak.load(Ordering::SeqCst) <= 4, "peak {peak:?}");
    assert!(stats.peak_cpu_threads <= stats.cores, "{stats:?}");
    assert!(stats.peak_workers <= 2);
}

#[test]
fn a_busy_machine_gets_no_extra_workers() {
    let busy: Arc<dyn LoadSource> = Arc::new(FixedLoad(LoadSample::new(Some(0.95), None)));
    let pool = WorkerPool::with_load_source(config(1, 2, 2), busy).unwrap();
    let (release_tx, release_rx) = unbounded::<()>();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let rx = release_rx.clone();
            pool.submit(move || rx.recv().is_ok())
        })
        .collect();
    // Many controller samples with a deep queue, none of which may add a worker.
    eventually("50 samples", || pool.stats().samples >= 50);
    assert_eq!(pool.stats().current_workers, 1);
    assert_eq!(pool.stats().scale_ups, 0);
    drop(release_tx);
    for h in handles {
        assert!(!h.join().unwrap());
    }
}

#[test]
fn a_fixed_size_pool_has_no_controller_and_invalid_configs_fail() {
    let pool = WorkerPool::with_load_source(config(2, 2, 2), quiet()).unwrap();
    assert_eq!(pool.stats().current_workers, 2);
    assert_eq!(pool.stats().samples, 0);
    drop(pool);
    let err = WorkerPool::with_load_source(config(1, 3, 2), quiet()).unwrap_err();
    assert!(matches!(err, ScalingError::InvalidConfig { ref field, .. } if field == "max_workers"));
    // Dropping the pool runs what is still queued.
    let done = Arc::new(AtomicUsize::new(0));
    let pool = WorkerPool::with_load_source(config(1, 1, 1), quiet()).unwrap();
    for _ in 0..5 {
        let d = Arc::clone(&done);
        drop(pool.submit(move || d.fetch_add(1, Ordering::SeqCst)));
    }
    drop(pool);
    assert_eq!(done.load(Ordering::SeqCst), 5);
}

#[test]
fn a_pool_started_wide_shrinks_when_idle() {
    let mut cfg = config(1, 2, 2);
    cfg.initial_workers = Some(2);
    let pool = WorkerPool::with_load_source(cfg, quiet()).unwrap();
    assert_eq!(pool.stats().current_workers, 2);
    assert_eq!(pool.stats().peak_workers, 2);
    eventually("one idle worker retired", || {
        pool.stats().current_workers == 1
    });
    let events = pool.events();
    assert_eq!(events.len(), 1);
    assert!(!events[0].up && events[0].reason == ScaleReason::Idle);
    // Still runs jobs, and grows again under a deep queue.
    let (release_tx, release_rx) = unbounded::<()>();
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let rx = release_rx.clone();
            pool.submit(move || rx.recv().is_ok())
        })
        .collect();
    eventually("two workers again", || pool.stats().current_workers == 2);
    drop(release_tx);
    for h in handles {
        assert!(!h.join().unwrap());
    }
}
