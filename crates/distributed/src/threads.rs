//! Ranks as threads of one process: [`ThreadRanks`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use femscale_core::{Error, Result};

use crate::comm::{Communicator, Message, Tag, check_send};

/// One rank of a group of in-process ranks, each used from its own thread: the same
/// protocols as over MPI, without MPI (tests, and a process that runs them alone).
///
/// Messages are queued per receiving rank; a rank waiting for a message while every other rank
/// of the group has been dropped gets [`Error::Communication`] instead of waiting forever.
#[derive(Debug)]
pub struct ThreadRanks {
    rank: usize,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    mailboxes: Vec<Mailbox>,
    /// Ranks not yet dropped.
    alive: AtomicUsize,
    /// Which ranks were dropped: a receive from one of them fails once its queue is empty.
    ended: Vec<std::sync::atomic::AtomicBool>,
}

#[derive(Debug, Default)]
struct Mailbox {
    queue: Mutex<VecDeque<Message>>,
    arrived: Condvar,
}

impl ThreadRanks {
    /// A group of `size` ranks (at least one), rank `r` at index `r`: move each to its thread.
    pub fn group(size: usize) -> Vec<ThreadRanks> {
        let size = size.max(1);
        let shared = Arc::new(Shared {
            mailboxes: (0..size).map(|_| Mailbox::default()).collect(),
            alive: AtomicUsize::new(size),
            ended: (0..size)
                .map(|_| std::sync::atomic::AtomicBool::new(false))
                .collect(),
        });
        (0..size)
            .map(|rank| ThreadRanks {
                rank,
                shared: shared.clone(),
            })
            .collect()
    }

    fn queue(&self, rank: usize) -> MutexGuard<'_, VecDeque<Message>> {
        // A rank that panicked while holding its queue leaves it consistent (push/remove only).
        self.shared.mailboxes[rank]
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(queue: &mut VecDeque<Message>, tag: Tag, from: Option<usize>) -> Option<Message> {
        let at = queue
            .iter()
            .position(|m| m.tag == tag && from.is_none_or(|f| m.source == f))?;
        queue.remove(at)
    }

    /// Waits for the first message with `tag` (from `from`, if given).
    fn wait_for(&self, tag: Tag, from: Option<usize>) -> Result<Message> {
        let mailbox = &self.shared.mailboxes[self.rank];
        let mut queue = self.queue(self.rank);
        loop {
            if let Some(message) = Self::take(&mut queue, tag, from) {
                return Ok(message);
            }
            if let Some(from) = from
                && self
                    .shared
                    .ended
                    .get(from)
                    .is_some_and(|e| e.load(Ordering::Acquire))
            {
                return Err(Error::Communication {
                    message: format!(
                        "rank {} waits for a message (tag {tag}) from rank {from}, which has \
                         ended (it failed or returned early)",
                        self.rank
                    ),
                });
            }
            if self.shared.alive.load(Ordering::Acquire) <= 1 {
                return Err(Error::Communication {
                    message: format!(
                        "rank {} waits for a message (tag {tag}) but every other rank has ended",
                        self.rank
                    ),
                });
            }
            queue = mailbox
                .arrived
                .wait(queue)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

impl Communicator for ThreadRanks {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.mailboxes.len()
    }

    fn ranks_on_node(&self) -> usize {
        self.size()
    }

    fn node_name(&self) -> String {
        "localhost".into()
    }

    fn send(&self, to: usize, tag: Tag, bytes: &[u8]) -> Result<()> {
        check_send(self.size(), self.rank, to, bytes.len())?;
        self.queue(to).push_back(Message {
            source: self.rank,
            tag,
            bytes: bytes.to_vec(),
        });
        self.shared.mailboxes[to].arrived.notify_all();
        Ok(())
    }

    fn receive(&self, tag: Tag) -> Result<Message> {
        self.wait_for(tag, None)
    }

    fn try_receive(&self, tag: Tag) -> Result<Option<Message>> {
        Ok(Self::take(&mut self.queue(self.rank), tag, None))
    }

    fn receive_from(&self, from: usize, tag: Tag) -> Result<Message> {
        self.wait_for(tag, Some(from))
    }

    fn exchange(&self, tag: Tag, sends: &[(usize, &[u8])], from: &[usize]) -> Result<Vec<Vec<u8>>> {
        // Sends only queue: they never wait for the receiver.
        for (to, bytes) in sends {
            self.send(*to, tag, bytes)?;
        }
        from.iter()
            .map(|&rank| self.receive_from(rank, tag).map(|m| m.bytes))
            .collect()
    }

    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
        crate::comm::all_reduce_sum_by_messages(self, values)
    }
}

impl Drop for ThreadRanks {
    fn drop(&mut self) {
        self.shared.ended[self.rank].store(true, Ordering::Release);
        self.shared.alive.fetch_sub(1, Ordering::AcqRel);
        // Wake every waiting rank so that it notices (lock first: no missed wake-up between its
        // check of `alive` and its wait).
        for (rank, mailbox) in self.shared.mailboxes.iter().enumerate() {
            drop(self.queue(rank));
            mailbox.arrived.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_for_a_rank_that_ended_is_an_error_while_others_live() {
        let mut ranks = ThreadRanks::group(3);
        let two = ranks.pop().unwrap();
        let one = ranks.pop().unwrap();
        let zero = ranks.pop().unwrap();
        one.send(0, 5, b"sent before ending").unwrap();
        drop(one);
        // A message sent before the end still arrives; then waiting for more fails.
        assert_eq!(
            zero.receive_from(1, 5).unwrap().bytes,
            b"sent before ending"
        );
        let err = zero.receive_from(1, 5).unwrap_err().to_string();
        assert!(err.contains("rank 1") && err.contains("ended"), "{err}");
        // An all-reduce with a rank gone fails instead of waiting.
        let mut v = [1.0];
        assert!(zero.all_reduce_sum(&mut v).is_err());
        drop(two);
    }

    #[test]
    fn messages_keep_their_order_per_tag_and_skip_other_tags() {
        let mut ranks = ThreadRanks::group(2).into_iter();
        let (a, b) = (ranks.next().unwrap(), ranks.next().unwrap());
        a.send(1, 7, b"first").unwrap();
        a.send(1, 9, b"other tag").unwrap();
        a.send(1, 7, b"second").unwrap();
        assert_eq!(b.receive(7).unwrap().bytes, b"first");
        assert_eq!(b.try_receive(7).unwrap().unwrap().bytes, b"second");
        assert_eq!(b.try_receive(7).unwrap(), None);
        let m = b.receive(9).unwrap();
        assert_eq!(
            (m.source, m.tag, m.bytes.as_slice()),
            (0, 9, &b"other tag"[..])
        );
    }

    #[test]
    fn threads_exchange_messages() {
        let ranks = ThreadRanks::group(4);
        let sums: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = ranks
                .into_iter()
                .map(|comm| {
                    s.spawn(move || {
                        if comm.rank() == 0 {
                            let mut sum = 0u64;
                            for _ in 1..comm.size() {
                                let m = comm.receive(1).unwrap();
                                sum += u64::from(m.bytes[0]) * m.source as u64;
                            }
                            sum
                        } else {
                            comm.send(0, 1, &[10]).unwrap();
                            0
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(sums[0], 10 * (1 + 2 + 3));
    }

    #[test]
    fn waiting_alone_is_an_error_not_a_hang() {
        let mut ranks = ThreadRanks::group(2);
        let other = ranks.pop().unwrap();
        let me = ranks.pop().unwrap();
        let waiter = std::thread::spawn(move || me.receive(3));
        drop(other);
        let err = waiter.join().unwrap().unwrap_err();
        assert!(
            err.to_string().contains("every other rank has ended"),
            "{err}"
        );
    }

    #[test]
    fn bad_destinations_are_typed_errors() {
        let ranks = ThreadRanks::group(1);
        let err = ranks[0].send(3, 0, b"x").unwrap_err();
        assert!(matches!(err, Error::Communication { .. }), "{err}");
        assert!(err.to_string().contains("rank 3"), "{err}");
    }
}
