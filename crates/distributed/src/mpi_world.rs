//! MPI's world communicator (feature `mpi`): [`MpiWorld`].

use femscale_core::{Error, Result};
use mpi::collective::SystemOperation;
use mpi::environment::{Threading, Universe};
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::traits::{
    CommunicatorCollectives as _, Destination as _, MatchedReceiveVec as _, Source as _,
};

use crate::comm::{Communicator, Message, Tag, check_send};

/// The ranks of an MPI job (`MPI_COMM_WORLD`). MPI is initialised by [`MpiWorld::initialize`]
/// and finalised when the value is dropped, once per process.
///
/// Errors of the MPI library itself follow MPI's default handler (`MPI_ERRORS_ARE_FATAL`: the
/// job aborts, and `mpirun` reports which rank failed); the errors returned here are the
/// protocol's own (a rank out of range, a message too big).
pub struct MpiWorld {
    /// Held by every call: MPI is initialised with `MPI_THREAD_SERIALIZED`, so any thread may
    /// call it, one at a time.
    serial: std::sync::Mutex<()>,
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    ranks_on_node: usize,
    node_name: String,
    // Dropped last: finalises MPI.
    _universe: Universe,
}

impl std::fmt::Debug for MpiWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiWorld")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .field("ranks_on_node", &self.ranks_on_node)
            .field("node_name", &self.node_name)
            .finish()
    }
}

impl MpiWorld {
    /// Initialises MPI (`MPI_Init_thread` asking for `MPI_THREAD_SERIALIZED`: any thread may
    /// call MPI, one at a time, which every method of this type ensures with a lock; the
    /// pipeline solves on its pool's threads). A process started without a launcher is a job
    /// of one rank (MPI's singleton start).
    ///
    /// # Errors
    /// [`Error::Communication`] when MPI was initialised already in this process, or the
    /// library provides less than `MPI_THREAD_SERIALIZED`.
    pub fn initialize() -> Result<Self> {
        let (universe, threading) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| Error::Communication {
                message: "MPI was initialised already in this process (one MpiWorld per process)"
                    .into(),
            })?;
        if threading < Threading::Serialized {
            return Err(Error::Communication {
                message: format!(
                    "the MPI library provides thread support {threading:?}; femscale needs \
                     MPI_THREAD_SERIALIZED (its ranks compute on threads, any of which may talk \
                     to MPI, one at a time)"
                ),
            });
        }
        let world = universe.world();
        let ranks_on_node = world.split_shared(world.rank()).size().max(1) as usize;
        let node_name = mpi::environment::processor_name().unwrap_or_else(|_| "unknown".into());
        // MPI ranks are in 0..size, never negative.
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        Ok(Self {
            serial: std::sync::Mutex::new(()),
            world,
            rank,
            size,
            ranks_on_node,
            node_name,
            _universe: universe,
        })
    }
}

impl MpiWorld {
    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guard protects no data: a panic while holding it leaves nothing inconsistent.
        self.serial
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A blocking receive from `from` (the lock held by the caller).
    fn receive_from_locked(&self, from: usize, tag: Tag) -> Message {
        let probed = self
            .world
            .process_at_rank(from as i32)
            .matched_probe_with_tag(tag);
        let (bytes, _) = probed.matched_receive_vec::<u8>();
        Message {
            source: from,
            tag,
            bytes,
        }
    }
}

// SAFETY: MPI is initialised with MPI_THREAD_SERIALIZED (checked in `initialize`), which lets
// any thread make MPI calls as long as no two make them at once; every method that calls MPI
// holds `serial` for the duration of its calls, and the handles (`world`, `_universe`) are
// only used through those methods.
unsafe impl Send for MpiWorld {}
// SAFETY: as for `Send`: shared references only reach MPI through methods that hold `serial`.
unsafe impl Sync for MpiWorld {}

impl Communicator for MpiWorld {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn ranks_on_node(&self) -> usize {
        self.ranks_on_node
    }

    fn node_name(&self) -> String {
        self.node_name.clone()
    }

    fn send(&self, to: usize, tag: Tag, bytes: &[u8]) -> Result<()> {
        check_send(self.size(), self.rank(), to, bytes.len())?;
        let _serial = self.lock();
        // `to < size` and `size` is an MPI `int`: the conversion cannot truncate.
        self.world
            .process_at_rank(to as i32)
            .send_with_tag(bytes, tag);
        Ok(())
    }

    fn receive(&self, tag: Tag) -> Result<Message> {
        let _serial = self.lock();
        let probed = self.world.any_process().matched_probe_with_tag(tag);
        let source = probed.1.source_rank() as usize;
        let (bytes, _) = probed.matched_receive_vec::<u8>();
        Ok(Message { source, tag, bytes })
    }

    fn receive_from(&self, from: usize, tag: Tag) -> Result<Message> {
        if from >= self.size() {
            return Err(Error::Communication {
                message: format!(
                    "rank {} waits for rank {from}, but there are {} ranks",
                    self.rank(),
                    self.size()
                ),
            });
        }
        let _serial = self.lock();
        Ok(self.receive_from_locked(from, tag))
    }

    fn exchange(&self, tag: Tag, sends: &[(usize, &[u8])], from: &[usize]) -> Result<Vec<Vec<u8>>> {
        for (to, bytes) in sends {
            check_send(self.size(), self.rank(), *to, bytes.len())?;
        }
        let _serial = self.lock();
        mpi::request::scope(|scope| {
            // Non-blocking sends: every rank receives while its own sends are in flight.
            let requests: Vec<_> = sends
                .iter()
                .map(|(to, bytes)| {
                    self.world
                        .process_at_rank(*to as i32)
                        .immediate_send_with_tag(scope, *bytes, tag)
                })
                .collect();
            let received = from
                .iter()
                .map(|&rank| {
                    if rank >= self.size() {
                        return Err(Error::Communication {
                            message: format!(
                                "rank {} waits for rank {rank}, but there are {} ranks",
                                self.rank(),
                                self.size()
                            ),
                        });
                    }
                    Ok(self.receive_from_locked(rank, tag).bytes)
                })
                .collect();
            for request in requests {
                request.wait();
            }
            received
        })
    }

    fn abort_job(&self, code: i32) {
        // No lock: another thread may hold it, blocked in a receive that will never complete.
        self.world.abort(code)
    }

    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
        let local = values.to_vec();
        let _serial = self.lock();
        self.world
            .all_reduce_into(&local[..], values, SystemOperation::sum());
        Ok(())
    }

    fn try_receive(&self, tag: Tag) -> Result<Option<Message>> {
        let _serial = self.lock();
        let Some(probed) = self
            .world
            .any_process()
            .immediate_matched_probe_with_tag(tag)
        else {
            return Ok(None);
        };
        let source = probed.1.source_rank() as usize;
        let (bytes, _) = probed.matched_receive_vec::<u8>();
        Ok(Some(Message { source, tag, bytes }))
    }
}
