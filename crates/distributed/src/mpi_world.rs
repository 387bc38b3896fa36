//! MPI's world communicator (feature `mpi`): [`MpiWorld`].

use femscale_core::{Error, Result};
use mpi::collective::SystemOperation;
use mpi::environment::{Threading, Universe};
use mpi::raw::FromRaw as _;
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::traits::{
    CommunicatorCollectives as _, Destination as _, MatchedReceiveVec as _, Source as _,
};

use crate::comm::{Communicator, Message, Tag, check_send};

/// The ranks of an MPI communicator: the whole job's (`MPI_COMM_WORLD`, MPI initialised by
/// [`MpiWorld::initialize`] and finalised when the value is dropped, once per process), or a
/// private duplicate of a communicator the host program owns ([`MpiWorld::duplicate_fortran`]:
/// the host, e.g. mpi4py, initialised MPI and finalises it).
///
/// Errors of the MPI library itself follow MPI's default handler (`MPI_ERRORS_ARE_FATAL`: the
/// job aborts, and `mpirun` reports which rank failed); the errors returned here are the
/// protocol's own (a rank out of range, a message too big).
pub struct MpiWorld {
    /// Held by every call of this value's; with less than `MPI_THREAD_MULTIPLE` (any thread may
    /// call MPI, one at a time) the lock is [`PROCESS_SERIAL`] instead, shared by every value.
    serial: std::sync::Mutex<()>,
    /// Whether the library allows concurrent calls (`MPI_THREAD_MULTIPLE`).
    multiple: bool,
    /// Freed in `drop` unless MPI was finalised already (a host's communicator may outlive
    /// MPI: Python collects objects after mpi4py's exit handler finalised it).
    world: std::mem::ManuallyDrop<SimpleCommunicator>,
    rank: usize,
    size: usize,
    ranks_on_node: usize,
    node_name: String,
    /// Dropped after `world`: finalises MPI when this value initialised it.
    _universe: Option<Universe>,
}

impl Drop for MpiWorld {
    fn drop(&mut self) {
        if !mpi::environment::is_finalized() {
            // Nothing else uses this value; other values may be calling MPI.
            let _serial = (!self.multiple).then(process_serial);
            // SAFETY: `world` is dropped exactly once, here, and not used afterwards.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.world) };
        }
    }
}

/// Serialises the MPI calls of every [`MpiWorld`] of the process when the library provides
/// `MPI_THREAD_SERIALIZED` only: two communicators (say, one per Python solver) must not call
/// MPI at once then.
static PROCESS_SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn process_serial() -> std::sync::MutexGuard<'static, ()> {
    // The guard protects no data: a panic while holding it leaves nothing inconsistent.
    PROCESS_SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        Ok(Self::on(universe.world(), Some(universe)))
    }

    /// The ranks of a communicator the host program owns, given by its Fortran handle (mpi4py:
    /// `comm.py2f()`): femscale talks on a duplicate of it (`MPI_Comm_dup`, collective over the
    /// communicator's ranks), so its messages never match the host's own, and frees the
    /// duplicate when dropped. MPI stays the host's to finalise.
    ///
    /// # Errors
    /// [`Error::Communication`] when MPI is not initialised (or finalised already), provides
    /// less than `MPI_THREAD_SERIALIZED`, or `handle` names no intra-communicator (a null or
    /// unknown handle, or an inter-communicator).
    ///
    /// # Safety
    /// `handle` must be a handle this process's MPI library gave out for a communicator that is
    /// still alive (not freed); a freed handle may be reused by the library for another.
    pub unsafe fn duplicate_fortran(handle: i32) -> Result<Self> {
        let fail = |message: String| Error::Communication { message };
        if !mpi::environment::is_initialized() || mpi::environment::is_finalized() {
            return Err(fail(
                "MPI is not initialised in this process (import mpi4py's MPI module first, \
                 or let femscale start MPI with MpiWorld::initialize)"
                    .into(),
            ));
        }
        let threading = mpi::environment::threading_support();
        if threading < Threading::Serialized {
            return Err(fail(format!(
                "MPI was initialised with thread support {threading:?}; femscale needs \
                 MPI_THREAD_SERIALIZED or more (mpi4py: leave mpi4py.rc.thread_level at \
                 \"multiple\" or set it to \"serialized\")"
            )));
        }
        // Other values may be talking to MPI on other threads.
        let _serial = (threading < Threading::Multiple).then(process_serial);
        // SAFETY: MPI is initialised and not finalised; `RSMPI_Comm_f2c` converts any integer
        // (an unknown one to a null handle or MPI_COMM_NULL in the MPI libraries we know), and
        // the result is checked before use.
        let raw = unsafe { mpi::ffi::RSMPI_Comm_f2c(handle) };
        // Open MPI answers an unknown handle with a null pointer, MPICH's handles are
        // integers of which 0 is none: both are the zeroed value.
        // SAFETY: `MPI_Comm` is a pointer or an integer, for which all zeros is a valid value;
        // RSMPI_COMM_NULL is a constant of the initialised library.
        let zeroed: mpi::ffi::MPI_Comm = unsafe { std::mem::zeroed() };
        if raw == zeroed || raw == unsafe { mpi::ffi::RSMPI_COMM_NULL } {
            return Err(fail(format!(
                "the Fortran handle {handle} names no communicator"
            )));
        }
        let mut inter = 0;
        // SAFETY: `raw` is a live communicator by the caller's contract; `inter` is written.
        unsafe { mpi::ffi::MPI_Comm_test_inter(raw, &mut inter) };
        if inter != 0 {
            return Err(fail(
                "the communicator is an inter-communicator; femscale's ranks need an \
                 intra-communicator (one group)"
                    .into(),
            ));
        }
        let mut duplicate = std::mem::MaybeUninit::uninit();
        // SAFETY: `raw` is a live intra-communicator; MPI_Comm_dup writes the new handle.
        let duplicate = unsafe {
            mpi::ffi::MPI_Comm_dup(raw, duplicate.as_mut_ptr());
            duplicate.assume_init()
        };
        // SAFETY: a new communicator from MPI_Comm_dup, owned (and freed) by this value alone;
        // neither MPI_COMM_WORLD nor MPI_COMM_SELF nor an inter-communicator.
        let world = unsafe { SimpleCommunicator::from_raw(duplicate) };
        Ok(Self::on(world, None))
    }

    /// This rank's view of `world`; `universe` when this value initialised MPI.
    fn on(world: SimpleCommunicator, universe: Option<Universe>) -> Self {
        let ranks_on_node = world.split_shared(world.rank()).size().max(1) as usize;
        let node_name = mpi::environment::processor_name().unwrap_or_else(|_| "unknown".into());
        // MPI ranks are in 0..size, never negative.
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        Self {
            serial: std::sync::Mutex::new(()),
            multiple: mpi::environment::threading_support() >= Threading::Multiple,
            world: std::mem::ManuallyDrop::new(world),
            rank,
            size,
            ranks_on_node,
            node_name,
            _universe: universe,
        }
    }
}

impl MpiWorld {
    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        if !self.multiple {
            return process_serial();
        }
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

// SAFETY: MPI provides at least MPI_THREAD_SERIALIZED (checked by both constructors), which
// lets any thread make MPI calls as long as no two make them at once; every method that calls
// MPI holds the process-wide lock for the duration of its calls (its own lock only under
// MPI_THREAD_MULTIPLE, which allows concurrent calls on different communicators), and the
// handles (`world`, `_universe`) are only used through those methods.
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
