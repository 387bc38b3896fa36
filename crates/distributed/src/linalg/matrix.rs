//! A row-distributed sparse matrix with its halo: [`DistMatrix`].

use femscale_core::{CsrMatrix, Error, Result};

use super::RowPartition;
use super::halo::Halo;
use crate::comm::{Communicator, Tag};

/// Tag of the halo's values before each product.
const HALO_VALUES: Tag = 101;

/// This rank's rows of a square matrix distributed by rows ([`RowPartition`]).
///
/// The owned rows are stored with local column numbers: the owned columns first (`0..owned`,
/// global column `start + j`), then the ghost columns (`owned..owned + ghosts`, the global
/// columns of [`DistMatrix::ghosts`], increasing). A product first receives the ghost entries
/// of `x` from their owners (the halo exchange: one message per neighbouring rank each way),
/// then multiplies locally.
#[derive(Debug)]
pub struct DistMatrix {
    partition: RowPartition,
    rank: usize,
    /// Owned rows × (owned + ghost) columns.
    local: CsrMatrix,
    /// The ghost columns and the messages that bring their entries.
    halo: Halo,
    /// Rows that couple to owned columns only: their products run while the halo is in flight.
    interior: Vec<usize>,
    /// Rows with ghost columns: their products wait for the halo.
    boundary: Vec<usize>,
    /// What one product moves over all ranks (summed when the halo is set up).
    volume: HaloVolume,
    /// The row products of the last product, kept for their allocation.
    interior_values: std::sync::Mutex<Vec<f64>>,
}

/// What one product moves between ranks, summed over all ranks.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct HaloVolume {
    /// Messages per product (one per ordered pair of neighbouring ranks).
    pub messages: usize,
    /// Bytes per product (8 per ghost entry).
    pub bytes: usize,
}

impl DistMatrix {
    /// The rows this rank owns of a matrix, given with global column numbers: `row_ptr` (one
    /// more entry than owned rows), `cols` and `values` as in CSR, columns in any order within a
    /// row, each at most once. Collective: every rank calls it (to set the halo up).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for arrays that do not describe this rank's rows (lengths,
    /// columns beyond the partition's rows, repeated or non-finite entries);
    /// [`Error::Communication`] when the ranks' partitions disagree or messages fail.
    pub fn from_owned_rows(
        comm: &dyn Communicator,
        partition: RowPartition,
        row_ptr: &[usize],
        cols: &[usize],
        values: &[f64],
    ) -> Result<Self> {
        let rank = comm.rank();
        if partition.ranks() != comm.size() {
            return Err(Error::Communication {
                message: format!(
                    "a partition over {} ranks used on {} ranks",
                    partition.ranks(),
                    comm.size()
                ),
            });
        }
        let own = partition.range(rank);
        let owned = own.len();
        let valid = row_ptr.len() == owned + 1
            && row_ptr.first() == Some(&0)
            && row_ptr.windows(2).all(|w| w[0] <= w[1])
            && row_ptr.last() == Some(&cols.len())
            && cols.len() == values.len();
        if !valid {
            return Err(Error::invalid(
                "row_ptr",
                format!("does not describe {owned} rows of {} entries", cols.len()),
            ));
        }
        let n = partition.rows();
        if let Some(&c) = cols.iter().find(|&&c| c >= n) {
            return Err(Error::invalid(
                "cols",
                format!("column {c} of a matrix with {n} rows"),
            ));
        }
        let ghosts: Vec<usize> = cols.iter().copied().filter(|c| !own.contains(c)).collect();
        let halo = Halo::new(comm, &partition, ghosts)?;
        let local_col = |c: usize| halo.local(c).expect("every column is owned or a ghost");
        // Rows with local columns, sorted (owned columns keep their order, ghosts go last).
        let mut local_cols = Vec::with_capacity(cols.len());
        let mut local_values = Vec::with_capacity(values.len());
        let mut entries: Vec<(usize, f64)> = Vec::new();
        for row in row_ptr.windows(2) {
            entries.clear();
            entries.extend((row[0]..row[1]).map(|k| (local_col(cols[k]), values[k])));
            entries.sort_unstable_by_key(|e| e.0);
            // Below `owned + ghosts`, which the matrix below refuses beyond MAX_COLUMNS
            // (before reading any column).
            local_cols.extend(entries.iter().map(|e| e.0 as u32));
            local_values.extend(entries.iter().map(|e| e.1));
        }
        let local = CsrMatrix::try_from_csr_parts(
            owned,
            owned + halo.ghosts().len(),
            row_ptr.to_vec(),
            local_cols,
            local_values,
        )?;
        let (interior, boundary): (Vec<usize>, Vec<usize>) = (0..owned).partition(|&row| {
            // Columns are sorted, ghosts last: the row's last column tells.
            local
                .pattern()
                .row(row)
                .last()
                .is_none_or(|&c| (c as usize) < owned)
        });
        let mut matrix = Self {
            partition,
            rank,
            local,
            halo,
            interior,
            boundary,
            volume: HaloVolume::default(),
            interior_values: std::sync::Mutex::default(),
        };
        let local = matrix.local_halo();
        let mut sums = [local.messages as f64, local.bytes as f64];
        comm.all_reduce_sum(&mut sums)?;
        matrix.volume = HaloVolume {
            messages: sums[0] as usize,
            bytes: sums[1] as usize,
        };
        Ok(matrix)
    }

    /// This rank's rows of `global` (every rank holds the whole matrix, e.g. assembled on a
    /// replicated mesh). Collective.
    ///
    /// # Errors
    /// As [`DistMatrix::from_owned_rows`]; a matrix whose size is not the partition's.
    pub fn from_global(
        comm: &dyn Communicator,
        partition: RowPartition,
        global: &CsrMatrix,
    ) -> Result<Self> {
        if global.nrows() != partition.rows() || global.ncols() != partition.rows() {
            return Err(Error::invalid(
                "matrix",
                format!(
                    "is {} x {}, the partition has {} rows",
                    global.nrows(),
                    global.ncols(),
                    partition.rows()
                ),
            ));
        }
        let own = partition.range(comm.rank());
        let ptr = global.pattern().row_ptr();
        let (first, last) = (ptr[own.start], ptr[own.end]);
        let row_ptr: Vec<usize> = ptr[own.start..=own.end].iter().map(|p| p - first).collect();
        let cols: Vec<usize> = (global.pattern().col_idx()[first..last].iter())
            .map(|&j| j as usize)
            .collect();
        let values = &global.values()[first..last];
        Self::from_owned_rows(comm, partition, &row_ptr, &cols, values)
    }

    /// The partition of the rows.
    pub fn partition(&self) -> &RowPartition {
        &self.partition
    }

    /// Rows this rank owns.
    pub fn owned_rows(&self) -> usize {
        self.local.nrows()
    }

    /// Global columns of the ghost entries this rank receives before each product.
    pub fn ghosts(&self) -> &[usize] {
        self.halo.ghosts()
    }

    /// This rank.
    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    /// The ghost columns' halo.
    pub(crate) fn halo(&self) -> &Halo {
        &self.halo
    }

    /// Owned rows with local columns (owned, then ghosts).
    pub(crate) fn local(&self) -> &CsrMatrix {
        &self.local
    }

    /// The block of owned rows and owned columns (what block-Jacobi preconditions with).
    pub fn diagonal_block(&self) -> Result<CsrMatrix> {
        let owned = self.owned_rows();
        let (ptr, cols, values) = (
            self.local.pattern().row_ptr(),
            self.local.pattern().col_idx(),
            self.local.values(),
        );
        let mut row_ptr = Vec::with_capacity(owned + 1);
        row_ptr.push(0);
        let (mut block_cols, mut block_values) = (Vec::new(), Vec::new());
        for row in ptr.windows(2) {
            // Owned columns come first in each row.
            for k in row[0]..row[1] {
                if (cols[k] as usize) < owned {
                    block_cols.push(cols[k]);
                    block_values.push(values[k]);
                }
            }
            row_ptr.push(block_cols.len());
        }
        CsrMatrix::try_from_csr_parts(owned, owned, row_ptr, block_cols, block_values)
    }

    /// This rank's part of the halo: (messages, bytes) it sends per product.
    pub fn local_halo(&self) -> HaloVolume {
        let (messages, bytes) = self.halo.sent();
        HaloVolume { messages, bytes }
    }

    /// What one product moves over all ranks (the same on every rank).
    pub fn halo_volume(&self) -> HaloVolume {
        self.volume
    }

    /// `y = A x` on this rank's rows, `x` and `y` this rank's entries. Collective.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for lengths other than the owned rows; a failing transport.
    pub fn mul(
        &self,
        comm: &dyn Communicator,
        x: &[f64],
        y: &mut [f64],
        work: &mut Vec<f64>,
    ) -> Result<()> {
        self.mul_timed(comm, x, y, work).map(|_| ())
    }

    /// [`DistMatrix::mul`], returning the seconds spent in the halo exchange (packing,
    /// messages and waiting; not the local product). With more than one thread in the pool,
    /// the rows that need no ghost entry are multiplied in the pool while this thread
    /// exchanges the halo, the others after it arrived.
    ///
    /// # Errors
    /// As [`DistMatrix::mul`].
    pub fn mul_timed(
        &self,
        comm: &dyn Communicator,
        x: &[f64],
        y: &mut [f64],
        work: &mut Vec<f64>,
    ) -> Result<f64> {
        let exchange = std::time::Instant::now();
        let owned = self.owned_rows();
        if x.len() != owned || y.len() != owned {
            return Err(Error::invalid(
                "x",
                format!(
                    "rank {} owns {owned} rows; x has {}, y {} entries",
                    self.rank,
                    x.len(),
                    y.len()
                ),
            ));
        }
        let packed = self.halo.pack(x);
        let (sends, from) = self.halo.messages(&packed);
        // With a thread to spare, the pool multiplies the interior rows while this thread
        // exchanges the halo (on this thread: it may block, never on a pool thread another rank
        // of the same process needs); with one thread, the whole product follows the exchange.
        // (With nothing to exchange, nothing to overlap: one plain product.)
        let overlap = rayon::current_num_threads() > 1 && !self.halo.is_empty();
        // The interior products land in a buffer kept between products (no 8 bytes per row
        // of fresh, page-faulting memory each time).
        let mut interior = std::mem::take(
            &mut *self
                .interior_values
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let (received, exchange) = rayon::in_place_scope(|scope| {
            if overlap {
                scope.spawn(|_| self.row_products(&self.interior, x, &mut interior));
            }
            let result = comm.exchange(HALO_VALUES, &sends, &from);
            (result, exchange.elapsed().as_secs_f64())
        });
        let received = received?;
        for (&row, value) in self.interior.iter().zip(&interior) {
            y[row] = *value;
        }
        self.with_ghosts(x, &received, work)?;
        if overlap {
            self.row_products(&self.boundary, work, &mut interior);
            for (&row, value) in self.boundary.iter().zip(&interior) {
                y[row] = *value;
            }
        } else {
            femscale_solvers::kernels::spmv(&self.local, work, y);
        }
        *self
            .interior_values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = interior;
        Ok(exchange)
    }

    /// `work = [x, the ghost entries of x]` (this rank's columns in the local numbering), by
    /// one halo exchange; returns its seconds. Collective.
    ///
    /// # Errors
    /// A failing transport.
    pub(crate) fn gather_ghosts(
        &self,
        comm: &dyn Communicator,
        x: &[f64],
        work: &mut Vec<f64>,
    ) -> Result<f64> {
        let start = std::time::Instant::now();
        let packed = self.halo.pack(x);
        let (sends, from) = self.halo.messages(&packed);
        let received = comm.exchange(HALO_VALUES, &sends, &from)?;
        self.with_ghosts(x, &received, work)?;
        Ok(start.elapsed().as_secs_f64())
    }

    /// `work = [x, the ghost entries]`, the ghosts unpacked from the halo's `received`
    /// messages.
    fn with_ghosts(&self, x: &[f64], received: &[Vec<u8>], work: &mut Vec<f64>) -> Result<()> {
        let owned = self.owned_rows();
        work.clear();
        work.extend_from_slice(&x[..owned]);
        work.resize(owned + self.halo.ghosts().len(), 0.0);
        self.halo.unpack(received, &mut work[owned..])
    }

    /// One Gauss–Seidel sweep over this rank's rows, forward or backward, on `xg` (owned
    /// entries, then ghosts: [`DistMatrix::gather_ghosts`]), whose ghost entries stay as they
    /// are: `x_i += dinv_i (b_i − (A x)_i)` row after row. The ranks' sweeps together are the
    /// hybrid smoother (Gauss–Seidel within a rank, Jacobi across ranks); a forward sweep and a
    /// backward one after fresh ghosts make a symmetric one.
    pub(crate) fn gauss_seidel_sweep(
        &self,
        b: &[f64],
        xg: &mut [f64],
        dinv: &[f64],
        forward: bool,
    ) {
        let (ptr, cols, values) = (
            self.local.pattern().row_ptr(),
            self.local.pattern().col_idx(),
            self.local.values(),
        );
        let mut row = |i: usize| {
            let ax: f64 = (ptr[i]..ptr[i + 1])
                .map(|k| values[k] * xg[cols[k] as usize])
                .sum();
            xg[i] += dinv[i] * (b[i] - ax);
        };
        let n = self.owned_rows();
        if forward {
            (0..n).for_each(&mut row);
        } else {
            (0..n).rev().for_each(&mut row);
        }
    }

    /// What verifying `x` needs on this rank's rows, `r = b − A x`: `Σ rᵢ²`, `Σ bᵢ²` and the
    /// componentwise backward error `maxᵢ |rᵢ| / (Σⱼ |aᵢⱼ| |xⱼ| + |bᵢ|)` (a row whose
    /// denominator is 0 counts only when its residual is not, then as infinity). Collective:
    /// one halo exchange.
    ///
    /// # Errors
    /// As [`DistMatrix::mul`].
    pub(crate) fn residual_parts(
        &self,
        comm: &dyn Communicator,
        b: &[f64],
        x: &[f64],
        work: &mut Vec<f64>,
    ) -> Result<(f64, f64, f64)> {
        let owned = self.owned_rows();
        if x.len() != owned || b.len() != owned {
            return Err(Error::invalid(
                "x",
                format!(
                    "rank {} owns {owned} rows; x has {}, b {} entries",
                    self.rank,
                    x.len(),
                    b.len()
                ),
            ));
        }
        self.gather_ghosts(comm, x, work)?;
        let (ptr, cols, values) = (
            self.local.pattern().row_ptr(),
            self.local.pattern().col_idx(),
            self.local.values(),
        );
        let (mut r2, mut b2, mut omega) = (0.0, 0.0, 0.0f64);
        for (i, &bi) in b.iter().enumerate() {
            let terms = (ptr[i]..ptr[i + 1]).map(|k| values[k] * work[cols[k] as usize]);
            let (r, w) = femscale_core::verify::row_residual(bi, terms);
            r2 += r * r;
            b2 += bi * bi;
            // A NaN stays.
            omega = if w.is_nan() || omega.is_nan() {
                f64::NAN
            } else {
                omega.max(w)
            };
        }
        Ok((r2, b2, omega))
    }

    /// `(A x)[row]` for each of `rows`, in parallel; `x` covers every column the rows use.
    fn row_products(&self, rows: &[usize], x: &[f64], out: &mut Vec<f64>) {
        use rayon::prelude::*;
        let (ptr, cols, values) = (
            self.local.pattern().row_ptr(),
            self.local.pattern().col_idx(),
            self.local.values(),
        );
        rows.par_iter()
            .with_min_len(1024)
            .map(|&row| {
                (ptr[row]..ptr[row + 1])
                    .map(|k| values[k] * x[cols[k] as usize])
                    .sum()
            })
            .collect_into_vec(out);
    }

    /// Rows whose product runs while the halo is in flight, and rows that wait for it.
    pub fn interior_and_boundary_rows(&self) -> (usize, usize) {
        (self.interior.len(), self.boundary.len())
    }
}
