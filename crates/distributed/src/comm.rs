//! The communicator: what a rank-parallel algorithm needs from the processes it runs on.
//!
//! [`Communicator`] is point-to-point messages of bytes with a tag, addressed by rank, and a
//! non-blocking probe. Two implementations: [`ThreadRanks`](crate::ThreadRanks), ranks as
//! threads of one process (tests, and a single process that wants the same code path), and
//! `MpiWorld` (feature `mpi`), MPI's world communicator. Messages between one pair of ranks
//! with one tag arrive in the order they were sent (MPI's non-overtaking rule; the in-process
//! ranks keep it too).

use femscale_core::{Error, Result};

/// A message tag: which kind of message this is, in the protocol that uses it.
pub type Tag = i32;

/// The largest message a [`Communicator`] sends: 1 GiB (MPI counts are 32-bit; a protocol with
/// bigger payloads splits them).
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The rank that sent it.
    pub source: usize,
    /// Its tag.
    pub tag: Tag,
    /// Its payload.
    pub bytes: Vec<u8>,
}

/// Ranks `0..size()` exchanging tagged byte messages.
///
/// A rank may call it from any of its threads (MPI is initialised with
/// `MPI_THREAD_SERIALIZED`, and `MpiWorld` serialises the calls), so the halo of a product can
/// be in flight on one thread while another computes.
pub trait Communicator: Sync {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;

    /// How many ranks there are.
    fn size(&self) -> usize;

    /// How many ranks share this rank's node (its memory and cores), this one included.
    fn ranks_on_node(&self) -> usize;

    /// The threads each rank of this node should compute on: the node's cores divided by
    /// the ranks on it, at least one (`P` ranks each on every core would oversubscribe `P`×).
    fn threads_per_rank(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / self.ranks_on_node().max(1)).max(1)
    }

    /// A name for this rank's node (the host name under MPI).
    fn node_name(&self) -> String;

    /// Sends `bytes` to rank `to` with `tag`; returns once the buffer may be reused.
    ///
    /// # Errors
    /// [`Error::Communication`] for a rank out of range, a message over
    /// [`MAX_MESSAGE_BYTES`], or a transport failure.
    fn send(&self, to: usize, tag: Tag, bytes: &[u8]) -> Result<()>;

    /// Waits for the next message with `tag` from any rank.
    ///
    /// # Errors
    /// [`Error::Communication`] when no message can arrive any more (the in-process ranks: every
    /// other rank is gone) or the transport fails.
    fn receive(&self, tag: Tag) -> Result<Message>;

    /// The next message with `tag` from any rank, if one has arrived; never waits.
    ///
    /// # Errors
    /// As [`Communicator::receive`].
    fn try_receive(&self, tag: Tag) -> Result<Option<Message>>;

    /// Waits for the next message with `tag` from rank `from`.
    ///
    /// # Errors
    /// As [`Communicator::receive`].
    fn receive_from(&self, from: usize, tag: Tag) -> Result<Message>;

    /// Sends each `sends[i].1` to rank `sends[i].0` and receives one message with `tag` from
    /// each rank of `from`, returned in the order of `from`: a neighbour exchange that cannot
    /// deadlock whatever the message sizes (the sends do not wait for the receives).
    ///
    /// # Errors
    /// As [`Communicator::send`] and [`Communicator::receive`].
    fn exchange(&self, tag: Tag, sends: &[(usize, &[u8])], from: &[usize]) -> Result<Vec<Vec<u8>>>;

    /// Replaces `values` on every rank by their element-wise sum over the ranks: the same bits
    /// on every rank, and the same bits in every call with the same inputs and rank count.
    ///
    /// # Errors
    /// [`Error::Communication`] when the ranks pass different lengths (detected where the
    /// transport can), or the transport fails.
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()>;

    /// Ends every rank of the job after an unrecoverable error on this one (MPI_Abort), so
    /// that no rank waits forever in a collective operation this one will not join. The
    /// default returns: in-process ranks need not (a rank waiting for one that ended gets an
    /// error).
    fn abort_job(&self, code: i32) {
        let _ = code;
    }
}

/// Tags at and above this value are the communicators' own (collectives); protocols use tags
/// below it (MPI guarantees tags up to 32767).
pub const RESERVED_TAGS: Tag = 32000;

/// [`Communicator::all_reduce_sum`] over point-to-point messages: rank 0 adds the ranks'
/// values in rank order and sends the sums back, so every rank gets the same bits.
pub(crate) fn all_reduce_sum_by_messages(
    comm: &dyn Communicator,
    values: &mut [f64],
) -> Result<()> {
    const TAG: Tag = RESERVED_TAGS;
    let bytes = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let read = |b: &[u8], into: &mut [f64], from: usize| -> Result<()> {
        if b.len() != into.len() * 8 {
            return Err(Error::Communication {
                message: format!(
                    "all-reduce: rank {from} passed {} values, rank {} {}",
                    b.len() / 8,
                    comm.rank(),
                    into.len()
                ),
            });
        }
        for (x, chunk) in into.iter_mut().zip(b.chunks_exact(8)) {
            *x = f64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        }
        Ok(())
    };
    if comm.rank() == 0 {
        let mut part = vec![0.0; values.len()];
        for rank in 1..comm.size() {
            let message = comm.receive_from(rank, TAG)?;
            read(&message.bytes, &mut part, rank)?;
            for (v, p) in values.iter_mut().zip(&part) {
                *v += p;
            }
        }
        let sums = bytes(values);
        for rank in 1..comm.size() {
            comm.send(rank, TAG, &sums)?;
        }
        Ok(())
    } else {
        comm.send(0, TAG, &bytes(values))?;
        let message = comm.receive_from(0, TAG)?;
        read(&message.bytes, values, 0)
    }
}

/// Checks a destination rank and a message length against `size` and [`MAX_MESSAGE_BYTES`].
pub(crate) fn check_send(size: usize, from: usize, to: usize, len: usize) -> Result<()> {
    if to >= size {
        return Err(Error::Communication {
            message: format!("rank {from} sent to rank {to}, but there are {size} ranks"),
        });
    }
    if len > MAX_MESSAGE_BYTES {
        return Err(Error::Communication {
            message: format!(
                "rank {from} sent {len} bytes to rank {to}, more than the {MAX_MESSAGE_BYTES} \
                 bytes of one message"
            ),
        });
    }
    Ok(())
}

/// The 64-bit FNV-1a hash of `text`: what the ranks compare to agree on names and
/// configurations (the same on every machine and build).
pub fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
