//! Parallel sparse products: row-wise SpGEMM with a dense accumulator per worker and the
//! Galerkin triple product `A_c = Pᵀ A P = R (A P)`.
//!
//! Rows are split into blocks of [`CHUNK`] rows; each block is computed independently into its
//! own buffers (so workers never synchronise) and the blocks are then copied, in parallel, into
//! one matrix ([`assemble_blocks`]) — except the intermediate `A P` of the Galerkin product,
//! which the second product reads from its blocks ([`Blocks`]): copying it would hold it
//! twice at the setup's peak of memory.

use std::ops::Range;

use rayon::prelude::*;

use super::csr::Mat;
use crate::kernels::CHUNK;

/// Rows `first..first + ends.len()` of a matrix under construction.
#[derive(Debug)]
pub(crate) struct RowBlock {
    pub first: usize,
    /// End of each row in `ci`/`v` (local offsets).
    pub ends: Vec<usize>,
    pub ci: Vec<u32>,
    pub v: Vec<f64>,
}

impl RowBlock {
    /// An empty block starting at row `first`, sized for `rows` rows and `nnz` entries.
    pub fn new(first: usize, rows: usize, nnz: usize, values: bool) -> Self {
        Self {
            first,
            ends: Vec::with_capacity(rows),
            ci: Vec::with_capacity(nnz),
            v: Vec::with_capacity(if values { nnz } else { 0 }),
        }
    }
}

/// The row ranges processed as one block.
pub(crate) fn row_blocks(n: usize) -> Vec<Range<usize>> {
    (0..n.div_ceil(CHUNK))
        .map(|b| b * CHUNK..((b + 1) * CHUNK).min(n))
        .collect()
}

/// Concatenates row blocks (in row order) into one matrix. Blocks without values give a
/// pattern-only matrix (empty `v`).
pub(crate) fn assemble_blocks(nrows: usize, ncols: usize, blocks: Vec<RowBlock>) -> Mat {
    let nnz: usize = blocks.iter().map(|b| b.ci.len()).sum();
    let with_values = blocks.iter().any(|b| !b.v.is_empty());
    let mut rp = Vec::with_capacity(nrows + 1);
    rp.push(0);
    let mut offset = 0;
    for b in &blocks {
        debug_assert_eq!(b.first, rp.len() - 1);
        rp.extend(b.ends.iter().map(|e| offset + e));
        offset += b.ci.len();
    }
    debug_assert_eq!(rp.len(), nrows + 1);
    let mut ci = vec![0u32; nnz];
    let mut v = vec![0.0; if with_values { nnz } else { 0 }];
    let mut jobs = Vec::with_capacity(blocks.len());
    let (mut ci_rest, mut v_rest) = (&mut ci[..], &mut v[..]);
    for b in &blocks {
        let (c, cr) = ci_rest.split_at_mut(b.ci.len());
        let vlen = if with_values { b.v.len() } else { 0 };
        let (w, wr) = v_rest.split_at_mut(vlen);
        ci_rest = cr;
        v_rest = wr;
        jobs.push((c, w, b));
    }
    jobs.into_par_iter().for_each(|(c, w, b)| {
        c.copy_from_slice(&b.ci);
        w.copy_from_slice(&b.v);
    });
    Mat {
        nrows,
        ncols,
        rp: rp.into(),
        ci: ci.into(),
        v: v.into(),
    }
}

/// Row access for the factors of a product: an assembled [`Mat`], [`Blocks`], or a
/// single-precision transfer matrix (the products compute in `f64` either way).
pub(crate) trait Rows: Sync {
    /// The stored value type (`f64`, or `f32` for prolongators and restrictors).
    type Value: Copy + Into<f64> + Sync;
    fn nrows(&self) -> usize;
    fn ncols(&self) -> usize;
    fn nnz(&self) -> usize;
    /// Row `i`'s columns (sorted) and values.
    fn row(&self, i: usize) -> (&[u32], &[Self::Value]);
}

impl Rows for Mat {
    type Value = f64;

    fn nrows(&self) -> usize {
        self.nrows
    }
    fn ncols(&self) -> usize {
        self.ncols
    }
    fn nnz(&self) -> usize {
        Mat::nnz(self)
    }
    fn row(&self, i: usize) -> (&[u32], &[f64]) {
        Mat::row(self, i)
    }
}

/// A matrix left in the row blocks a product computed ([`row_blocks`]: block `b` holds rows
/// `b * CHUNK..`), read in place.
#[derive(Debug)]
pub(crate) struct Blocks {
    nrows: usize,
    ncols: usize,
    blocks: Vec<RowBlock>,
}

impl Rows for Blocks {
    type Value = f64;

    fn nrows(&self) -> usize {
        self.nrows
    }
    fn ncols(&self) -> usize {
        self.ncols
    }
    fn nnz(&self) -> usize {
        self.blocks.iter().map(|b| b.ci.len()).sum()
    }
    fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let block = &self.blocks[i / CHUNK];
        let local = i - block.first;
        let start = if local == 0 { 0 } else { block.ends[local - 1] };
        let end = block.ends[local];
        (&block.ci[start..end], &block.v[start..end])
    }
}

/// Sorts one row's entries by column (rows are short: insertion sort).
#[inline]
pub(crate) fn sort_row(ci: &mut [u32], v: &mut [f64]) {
    for k in 1..ci.len() {
        let (c, x) = (ci[k], v[k]);
        let mut m = k;
        while m > 0 && ci[m - 1] > c {
            ci[m] = ci[m - 1];
            v[m] = v[m - 1];
            m -= 1;
        }
        ci[m] = c;
        v[m] = x;
    }
}

/// Per-worker dense accumulator: for each column, the row that last touched it and where
/// its entry is in the current block.
struct Accumulator {
    row: Vec<usize>,
    pos: Vec<usize>,
}

/// `C = A B`, parallel over row blocks; rows of `C` are sorted.
pub(crate) fn spgemm(a: &impl Rows, b: &impl Rows) -> Mat {
    let c = spgemm_blocks(a, b);
    assemble_blocks(c.nrows, c.ncols, c.blocks)
}

/// [`spgemm`] left in its row blocks.
fn spgemm_blocks(a: &impl Rows, b: &impl Rows) -> Blocks {
    assert_eq!(a.ncols(), b.nrows(), "spgemm: inner dimensions differ");
    let ncols = b.ncols();
    let avg = (b.nnz() / b.nrows().max(1)).max(1);
    let a_avg = a.nnz() / a.nrows().max(1);
    let blocks: Vec<RowBlock> = row_blocks(a.nrows())
        .into_par_iter()
        .map_init(
            || Accumulator {
                row: vec![usize::MAX; ncols],
                pos: vec![0; ncols],
            },
            |acc, rows| {
                let guess = rows.len() * (2 * avg + a_avg);
                let mut block = RowBlock::new(rows.start, rows.len(), guess, true);
                for i in rows {
                    let start = block.ci.len();
                    let (acols, avals) = a.row(i);
                    for (&j, &aij) in acols.iter().zip(avals) {
                        let aij: f64 = aij.into();
                        let (bcols, bvals) = b.row(j as usize);
                        for (&k, &bjk) in bcols.iter().zip(bvals) {
                            let bjk: f64 = bjk.into();
                            let ku = k as usize;
                            if acc.row[ku] == i {
                                block.v[acc.pos[ku]] += aij * bjk;
                            } else {
                                acc.row[ku] = i;
                                acc.pos[ku] = block.ci.len();
                                block.ci.push(k);
                                block.v.push(aij * bjk);
                            }
                        }
                    }
                    sort_row(&mut block.ci[start..], &mut block.v[start..]);
                    block.ends.push(block.ci.len());
                }
                // The guess over-reserves (it bounds fill-in); a block kept as `A P` of the
                // Galerkin product would hold the rest until the coarse matrix is done.
                block.ci.shrink_to_fit();
                block.v.shrink_to_fit();
                block
            },
        )
        .collect();
    Blocks {
        nrows: a.nrows(),
        ncols,
        blocks,
    }
}

/// The CSR arrays `(row pointers, columns, values)` of `Mᵀ` (rows sorted by construction).
pub(crate) fn transpose_parts<M: Rows>(m: &M) -> (Vec<usize>, Vec<u32>, Vec<M::Value>)
where
    M::Value: Default,
{
    let (n, nc) = (m.nrows(), m.ncols());
    let mut rp = vec![0usize; nc + 1];
    for i in 0..n {
        for &c in m.row(i).0 {
            rp[c as usize + 1] += 1;
        }
    }
    for k in 0..nc {
        rp[k + 1] += rp[k];
    }
    let mut next = rp[..nc].to_vec();
    let mut ci = vec![0u32; m.nnz()];
    let mut v = vec![M::Value::default(); m.nnz()];
    for i in 0..n {
        let (cols, vals) = m.row(i);
        for (&c, &x) in cols.iter().zip(vals) {
            let slot = &mut next[c as usize];
            ci[*slot] = i as u32;
            v[*slot] = x;
            *slot += 1;
        }
    }
    (rp, ci, v)
}

/// `Mᵀ` as an explicit CSR matrix (the hierarchy transposes its single-precision prolongators,
/// `TransferMatrix::transpose`).
#[cfg(test)]
pub(crate) fn transpose(m: &Mat) -> Mat {
    let (rp, ci, v) = transpose_parts(m);
    Mat {
        nrows: m.ncols,
        ncols: m.nrows,
        rp: rp.into(),
        ci: ci.into(),
        v: v.into(),
    }
}

/// The Galerkin coarse operator `R (A P)` with `R = Pᵀ` given explicitly; `A P` is read from
/// its row blocks, never copied into one matrix.
pub(crate) fn galerkin(a: &Mat, p: &impl Rows, r: &impl Rows) -> Mat {
    let ap = spgemm_blocks(a, p);
    spgemm(r, &ap)
}
