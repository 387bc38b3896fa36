//! Jobs that borrow from the caller's stack: [`WorkerPool::scoped_for_each`].

use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, unbounded};

use super::{Job, JobError, WorkerPool, panic_error};

/// What [`WorkerPool::scoped_for_each`] reports to its callback, on the calling thread.
#[derive(Debug)]
pub enum ScopedEvent<T> {
    /// A worker picked up item `index`.
    Started(usize),
    /// Item `index` finished with this result.
    Finished(usize, Result<T, JobError>),
}

/// A message from a scoped job: started, finished, or skipped after a stop.
enum Message<T> {
    Started(usize),
    Finished(usize, Result<T, JobError>),
    Skipped,
}

/// Waits until every job of a scope has sent its last message, also when the caller unwinds.
struct WaitAll<'a, T> {
    rx: &'a Receiver<Message<T>>,
    /// Jobs whose final message (finished or skipped) has not arrived.
    pending: usize,
}

impl<T> Drop for WaitAll<'_, T> {
    fn drop(&mut self) {
        while self.pending > 0 {
            match self.rx.recv() {
                Ok(Message::Started(_)) => {}
                Ok(_) => self.pending -= 1,
                // Every sender is gone: no job can still run.
                Err(_) => break,
            }
        }
    }
}

/// Extends a job's lifetime to `'static`.
///
/// # Safety
/// The caller must keep everything the job borrows alive until the job has run or been dropped.
unsafe fn erase_lifetime<'a>(job: Box<dyn FnOnce() -> bool + Send + 'a>) -> Job {
    // SAFETY: only the lifetime bound of the trait object changes (same layout); the caller
    // guarantees the borrows outlive the job.
    unsafe { std::mem::transmute::<Box<dyn FnOnce() -> bool + Send + 'a>, Job>(job) }
}

impl WorkerPool {
    /// Runs `f` on every item on the pool, where `f` and the items may borrow from the caller,
    /// and calls `on_event` on the calling thread as items start and finish (in completion
    /// order). Returning `ControlFlow::Break` from `on_event` skips the items not yet started;
    /// those already running finish (their results are not reported). Returns how many items
    /// finished and were reported.
    ///
    /// The call returns only after every job is done with its borrows, even if `on_event`
    /// panics. Do not call it from a job running on the same pool: it would wait for workers
    /// that wait for it.
    pub fn scoped_for_each<'env, I, T, F, E>(
        &self,
        items: impl IntoIterator<Item = I>,
        f: F,
        mut on_event: E,
    ) -> usize
    where
        I: Send + 'env,
        T: Send + 'env,
        F: Fn(I) -> T + Sync + 'env,
        E: FnMut(ScopedEvent<T>) -> ControlFlow<()>,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = unbounded::<Message<T>>();
        let mut wait = WaitAll {
            rx: &rx,
            pending: 0,
        };
        let f = &f;
        for (index, item) in items.into_iter().enumerate() {
            let (tx, stop) = (tx.clone(), Arc::clone(&stop));
            let job = Box::new(move || -> bool {
                if stop.load(Ordering::Relaxed) {
                    drop(item);
                    let _ = tx.send(Message::Skipped);
                    return false;
                }
                let _ = tx.send(Message::Started(index));
                let result = catch_unwind(AssertUnwindSafe(|| f(item))).map_err(panic_error);
                let panicked = result.is_err();
                // Nothing borrowed from 'env is used after this send but `result`, which
                // moves into the channel (read below, before this function returns).
                let _ = tx.send(Message::Finished(index, result));
                panicked
            });
            // SAFETY: the job borrows data that lives at least as long as this call (`f`, and
            // `item` and `T` of lifetime 'env). `wait` blocks, before this function returns or
            // unwinds, until every enqueued job has sent its final message, after which a job
            // touches none of those borrows (only its own sender and stop flag, which are
            // 'static). A job that is dropped without running (the queue closed) drops its
            // borrows at once and its sender with it, which ends the wait. The pool cannot close
            // while `self` is borrowed here.
            let job = unsafe { erase_lifetime(job) };
            self.enqueue(job);
            wait.pending += 1;
        }
        drop(tx);
        let mut reported = 0;
        let mut stopped = false;
        while wait.pending > 0 {
            let Ok(message) = rx.recv() else { break };
            let event = match message {
                Message::Started(i) => ScopedEvent::Started(i),
                Message::Finished(i, r) => {
                    wait.pending -= 1;
                    ScopedEvent::Finished(i, r)
                }
                Message::Skipped => {
                    wait.pending -= 1;
                    continue;
                }
            };
            if stopped {
                continue;
            }
            if matches!(event, ScopedEvent::Finished(..)) {
                reported += 1;
            }
            if on_event(event).is_break() {
                stopped = true;
                stop.store(true, Ordering::Relaxed);
            }
        }
        reported
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::super::{FixedLoad, LoadSample, WorkerPoolConfig};
    use super::*;

    fn pool() -> WorkerPool {
        let config = WorkerPoolConfig {
            cores: 2,
            ..WorkerPoolConfig::default()
        }
        .with_workers(2, 2);
        WorkerPool::with_load_source(config, Arc::new(FixedLoad(LoadSample::default()))).unwrap()
    }

    #[test]
    fn scoped_jobs_borrow_from_the_caller() {
        let pool = pool();
        let words = ["alpha".to_string(), "beta".into(), "gamma".into()];
        let total = AtomicUsize::new(0);
        let mut lengths = vec![0; words.len()];
        let mut started = 0;
        let reported = pool.scoped_for_each(
            words.iter().enumerate(),
            |(i, w)| {
                total.fetch_add(w.len(), Ordering::SeqCst);
                assert!(i != 1, "beta fails");
                w.len()
            },
            |event| {
                match event {
                    ScopedEvent::Started(_) => started += 1,
                    ScopedEvent::Finished(i, Ok(len)) => lengths[i] = len,
                    ScopedEvent::Finished(i, Err(e)) => {
                        assert_eq!(i, 1);
                        assert!(e.to_string().contains("beta fails"));
                    }
                }
                ControlFlow::Continue(())
            },
        );
        assert_eq!(reported, 3);
        assert_eq!(started, 3);
        assert_eq!(lengths, vec![5, 0, 5]);
        assert_eq!(total.load(Ordering::SeqCst), 14);
    }

    #[test]
    fn breaking_skips_what_has_not_started() {
        let pool = pool();
        let ran = AtomicUsize::new(0);
        // Every job but the first waits until the first result has been reported, so none of
        // them can finish first; once released, the 2 999 of them would need 15 s on the two
        // workers to all start before the break is recorded (which happens right after the
        // release, on the calling thread).
        let released = AtomicBool::new(false);
        let reported = pool.scoped_for_each(
            0..3000usize,
            |i| {
                ran.fetch_add(1, Ordering::SeqCst);
                if i > 0 {
                    while !released.load(Ordering::SeqCst) {
                        std::thread::yield_now();
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                i
            },
            |event| match event {
                ScopedEvent::Finished(i, _) => {
                    // Released before asserting: a failing assert must not leave jobs waiting.
                    released.store(true, Ordering::SeqCst);
                    assert_eq!(i, 0, "only the first job can finish before the release");
                    ControlFlow::Break(())
                }
                ScopedEvent::Started(_) => ControlFlow::Continue(()),
            },
        );
        assert_eq!(reported, 1);
        assert!(ran.load(Ordering::SeqCst) < 3000, "the rest was skipped");
        // The pool still works afterwards.
        assert_eq!(pool.submit(|| 1).join().unwrap(), 1);
    }
}
