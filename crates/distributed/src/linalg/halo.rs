//! Which entries of a distributed vector a rank reads from its neighbours, and the messages
//! that bring them: [`Halo`].

use std::ops::Range;

use femscale_core::{Error, Result};

use super::RowPartition;
use crate::comm::{Communicator, Tag};

/// Tag of the halo set-up messages (which ghost entries a rank needs from an owner).
const HALO_SETUP: Tag = 100;

/// One owner's message of a forward exchange: its rank, the positions of its ghosts and the
/// bytes.
pub(crate) type Received = (usize, Range<usize>, Vec<u8>);

/// The ghost entries of a distributed vector that this rank reads (global indices owned by
/// other ranks, increasing), where they come from and which owned entries other ranks read.
///
/// Local numbering: owned entries `0..owned`, then ghost `g` at `owned + g`. A forward
/// exchange brings the ghosts' values from their owners (before a product); a reverse exchange
/// sends values accumulated at ghosts back to the owners, which add them (after a transposed
/// product). Each is one message per neighbouring rank each way.
#[derive(Debug, Clone)]
pub(crate) struct Halo {
    rank: usize,
    own: Range<usize>,
    ghosts: Vec<usize>,
    /// Per owner of some ghosts: its rank and the ghosts' positions (contiguous).
    receives: Vec<(usize, Range<usize>)>,
    /// Per rank that reads some owned entries: its rank and their local indices.
    sends: Vec<(usize, Vec<usize>)>,
}

impl Halo {
    /// The halo of the ghosts `ghosts` (global indices outside this rank's range, any order,
    /// repeats allowed). Collective: every rank calls it with its own ghosts.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an index beyond the partition or owned by this rank;
    /// [`Error::Communication`] when the ranks disagree or a message fails.
    pub fn new(
        comm: &dyn Communicator,
        partition: &RowPartition,
        mut ghosts: Vec<usize>,
    ) -> Result<Self> {
        let rank = comm.rank();
        let own = partition.range(rank);
        ghosts.sort_unstable();
        ghosts.dedup();
        if let Some(&g) = ghosts
            .iter()
            .find(|&&g| g >= partition.rows() || own.contains(&g))
        {
            return Err(Error::invalid(
                "ghosts",
                format!(
                    "entry {g} is not another rank's (rank {rank} owns {own:?} of {})",
                    partition.rows()
                ),
            ));
        }
        let receives = group_by_owner(&ghosts, partition);
        let sends = setup_sends(comm, partition, &ghosts, &receives)?;
        Ok(Self {
            rank,
            own,
            ghosts,
            receives,
            sends,
        })
    }

    /// Whether this rank neither sends nor receives anything.
    pub fn is_empty(&self) -> bool {
        self.sends.is_empty() && self.receives.is_empty()
    }

    /// Owned entries.
    pub fn owned(&self) -> usize {
        self.own.len()
    }

    /// Global indices of the ghosts, increasing.
    pub fn ghosts(&self) -> &[usize] {
        &self.ghosts
    }

    /// The local index of global index `g` (owned or ghost), if this rank has it.
    pub fn local(&self, g: usize) -> Option<usize> {
        if self.own.contains(&g) {
            Some(g - self.own.start)
        } else {
            self.ghosts
                .binary_search(&g)
                .ok()
                .map(|k| self.own.len() + k)
        }
    }

    /// The global index of local index `l` (`l < owned + ghosts`).
    pub fn global(&self, l: usize) -> usize {
        if l < self.own.len() {
            self.own.start + l
        } else {
            self.ghosts[l - self.own.len()]
        }
    }

    /// Messages and bytes this rank sends per forward exchange of one value per entry.
    pub fn sent(&self) -> (usize, usize) {
        let entries: usize = self.sends.iter().map(|(_, rows)| rows.len()).sum();
        (self.sends.len(), 8 * entries)
    }

    /// Forward exchange of bytes: `pack(rows)` packs the owned entries `rows` one neighbour
    /// reads; returns, per owner of ghosts, its rank, the ghosts' positions and its bytes.
    ///
    /// # Errors
    /// A failing transport.
    pub fn forward_bytes(
        &self,
        comm: &dyn Communicator,
        tag: Tag,
        pack: impl Fn(&[usize]) -> Vec<u8>,
    ) -> Result<Vec<Received>> {
        let packed: Vec<Vec<u8>> = self.sends.iter().map(|(_, rows)| pack(rows)).collect();
        let (sends, from) = self.messages(&packed);
        let received = comm.exchange(tag, &sends, &from)?;
        Ok(self
            .receives
            .iter()
            .zip(received)
            .map(|((rank, range), bytes)| (*rank, range.clone(), bytes))
            .collect())
    }

    /// Packs the values of `x` (owned entries) that each neighbour reads.
    pub fn pack(&self, x: &[f64]) -> Vec<Vec<u8>> {
        self.sends
            .iter()
            .map(|(_, rows)| pack_values(x, rows))
            .collect()
    }

    /// The forward exchange's sends for values packed by [`Halo::pack`], and the ranks it
    /// receives from.
    pub fn messages<'a>(&self, packed: &'a [Vec<u8>]) -> (Vec<(usize, &'a [u8])>, Vec<usize>) {
        let sends = self
            .sends
            .iter()
            .zip(packed)
            .map(|((to, _), bytes)| (*to, bytes.as_slice()))
            .collect();
        (sends, self.receives.iter().map(|(r, _)| *r).collect())
    }

    /// Stores the received values (in the order of [`Halo::messages`]) in `ghost_values`.
    ///
    /// # Errors
    /// [`Error::Communication`] for a message of the wrong length.
    pub fn unpack(&self, received: &[Vec<u8>], ghost_values: &mut [f64]) -> Result<()> {
        for ((rank, range), bytes) in self.receives.iter().zip(received) {
            self.check_length(*rank, bytes, range.len())?;
            unpack_values(bytes, &mut ghost_values[range.clone()]);
        }
        Ok(())
    }

    /// Forward exchange: `ghost_values[g]` becomes the owner's value of ghost `g`.
    ///
    /// # Errors
    /// A failing transport or a message of the wrong length.
    pub fn forward(
        &self,
        comm: &dyn Communicator,
        tag: Tag,
        x: &[f64],
        ghost_values: &mut [f64],
    ) -> Result<()> {
        let packed = self.pack(x);
        let (sends, from) = self.messages(&packed);
        let received = comm.exchange(tag, &sends, &from)?;
        self.unpack(&received, ghost_values)
    }

    /// Reverse exchange: each owner adds the values other ranks accumulated at its entries,
    /// `y[i] += Σ ghost_values` over the ranks that read `i` (in rank order: reproducible).
    ///
    /// # Errors
    /// A failing transport or a message of the wrong length.
    pub fn reverse_add(
        &self,
        comm: &dyn Communicator,
        tag: Tag,
        ghost_values: &[f64],
        y: &mut [f64],
    ) -> Result<()> {
        let packed: Vec<Vec<u8>> = self
            .receives
            .iter()
            .map(|(_, range)| {
                ghost_values[range.clone()]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect()
            })
            .collect();
        let sends: Vec<(usize, &[u8])> = self
            .receives
            .iter()
            .zip(&packed)
            .map(|((to, _), bytes)| (*to, bytes.as_slice()))
            .collect();
        let from: Vec<usize> = self.sends.iter().map(|(r, _)| *r).collect();
        let received = comm.exchange(tag, &sends, &from)?;
        for ((rank, rows), bytes) in self.sends.iter().zip(&received) {
            self.check_length(*rank, bytes, rows.len())?;
            for (&row, chunk) in rows.iter().zip(bytes.chunks_exact(8)) {
                y[row] += f64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            }
        }
        Ok(())
    }

    fn check_length(&self, from: usize, bytes: &[u8], entries: usize) -> Result<()> {
        if bytes.len() == 8 * entries {
            return Ok(());
        }
        Err(Error::Communication {
            message: format!(
                "rank {from} sent {} bytes of halo to rank {}, {} expected",
                bytes.len(),
                self.rank,
                8 * entries
            ),
        })
    }
}

/// `x[rows]` as little-endian bytes.
fn pack_values(x: &[f64], rows: &[usize]) -> Vec<u8> {
    rows.iter().flat_map(|&r| x[r].to_le_bytes()).collect()
}

/// Little-endian `f64`s from `bytes` into `out` (same count).
fn unpack_values(bytes: &[u8], out: &mut [f64]) {
    for (slot, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        *slot = f64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
}

/// The ghosts (increasing global indices) grouped by owning rank: contiguous runs.
fn group_by_owner(ghosts: &[usize], partition: &RowPartition) -> Vec<(usize, Range<usize>)> {
    let mut groups: Vec<(usize, Range<usize>)> = Vec::new();
    for (i, &g) in ghosts.iter().enumerate() {
        let owner = partition.owner(g);
        match groups.last_mut() {
            Some((rank, range)) if *rank == owner => range.end = i + 1,
            _ => groups.push((owner, i..i + 1)),
        }
    }
    groups
}

/// Tells each owner which of its entries this rank needs, and learns which of this rank's
/// entries each other rank needs (local indices).
fn setup_sends(
    comm: &dyn Communicator,
    partition: &RowPartition,
    ghosts: &[usize],
    receives: &[(usize, Range<usize>)],
) -> Result<Vec<(usize, Vec<usize>)>> {
    let (p, rank) = (comm.size(), comm.rank());
    // counts[owner * p + requester]: how many entries `requester` needs from `owner`.
    let mut counts = vec![0.0; p * p];
    for (owner, range) in receives {
        counts[owner * p + rank] = range.len() as f64;
    }
    comm.all_reduce_sum(&mut counts)?;
    let requesters: Vec<usize> = (0..p).filter(|&j| counts[rank * p + j] > 0.0).collect();
    let requests: Vec<Vec<u8>> = receives
        .iter()
        .map(|(_, range)| {
            ghosts[range.clone()]
                .iter()
                .flat_map(|&g| (g as u64).to_le_bytes())
                .collect()
        })
        .collect();
    let sends: Vec<(usize, &[u8])> = receives
        .iter()
        .zip(&requests)
        .map(|((owner, _), bytes)| (*owner, bytes.as_slice()))
        .collect();
    let received = comm.exchange(HALO_SETUP, &sends, &requesters)?;
    let own = partition.range(rank);
    requesters
        .into_iter()
        .zip(received)
        .map(|(requester, bytes)| {
            let rows =
                bytes
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")) as usize)
                    .map(|g| {
                        own.contains(&g).then(|| g - own.start).ok_or_else(|| Error::Communication {
                        message: format!(
                            "rank {requester} asked rank {rank} for entry {g}, which it does \
                             not own"
                        ),
                    })
                    })
                    .collect::<Result<Vec<usize>>>()?;
            Ok((requester, rows))
        })
        .collect()
}
