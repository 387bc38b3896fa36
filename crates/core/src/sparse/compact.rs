//! Dropping the exact zeros an assembled matrix stores.
//!
//! Assembly stores every coupling the mesh allows, and many are exactly zero: P1 couplings
//! across the hypotenuse of right triangles, the face and body diagonals of a structured
//! tetrahedral cube (the stencil is the 7-point one), the rows and columns Dirichlet
//! elimination clears. Every product with the matrix reads them, so dropping them once after
//! assembly cuts the memory and the traffic of every later product.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::{CsrMatrix, SparsityPattern};

impl CsrMatrix {
    /// Removes the stored off-diagonal entries that are exactly zero together with their
    /// mirror (`a_ij = 0` and `a_ji = 0` or not stored) and returns how many were removed.
    ///
    /// Diagonal entries always stay; a structurally symmetric pattern stays structurally
    /// symmetric (an entry whose mirror is non-zero, even by round-off, is kept), so a
    /// symmetric matrix stays symmetric. A zero below the diagonal whose mirror is not
    /// stored is kept (only entries above the diagonal look up their mirror). The arrays are
    /// compacted in place when this matrix is the only holder of its pattern, otherwise a
    /// new pattern is built for it.
    pub fn drop_stored_zeros(&mut self) -> usize {
        let drop = self.droppable();
        if drop.count == 0 {
            return 0;
        }
        self.compact_flagged(drop)
    }

    /// [`CsrMatrix::drop_stored_zeros`] unless the zeros are few ([`few_stored_zeros`]), in
    /// which case the matrix is left as it is and 0 returned. Removing entries moves every
    /// entry after the first removed one; so few zeros (the eliminated rows of a 1D problem:
    /// 4 of 3·10⁷ entries) cost the products less than moving the matrix would.
    pub fn drop_many_stored_zeros(&mut self) -> usize {
        let drop = self.droppable();
        if drop.count == 0 || few_stored_zeros(drop.count, self.nnz()) {
            return 0;
        }
        self.compact_flagged(drop)
    }

    /// Removes the entries `drop` flags.
    fn compact_flagged(&mut self, drop: Droppable) -> usize {
        let dropped = drop.count;
        if Arc::get_mut(&mut self.pattern).is_none() {
            self.pattern = Arc::new((*self.pattern).clone());
        }
        let pattern = Arc::get_mut(&mut self.pattern).expect("the pattern was just made unique");
        compact(pattern, &mut self.values, &drop.flags);
        dropped
    }

    /// The entries [`CsrMatrix::drop_stored_zeros`] removes, one flag per entry, decided in
    /// parallel over rows. Only zeros above the diagonal look up their mirror, and flag it
    /// too when it is zero; a zero below the diagonal without a stored mirror is kept.
    fn droppable(&self) -> Droppable {
        let p = &*self.pattern;
        let mut owned = vec![false; p.nnz()];
        // SAFETY: `AtomicBool` has the size, alignment and bit validity of `bool`, and `owned`
        // is borrowed mutably (so by nothing else) for as long as `flags` lives.
        let flags: &[AtomicBool] = unsafe {
            &*(std::ptr::from_mut::<[bool]>(owned.as_mut_slice()) as *const [AtomicBool])
        };
        let count = (0..p.nrows)
            .into_par_iter()
            .with_min_len(ROW_CHUNK)
            .map(|i| {
                let mut dropped = 0;
                for k in p.row_ptr[i]..p.row_ptr[i + 1] {
                    // The value first: a matrix with few zeros is then read once, not its
                    // column indices too.
                    if self.values[k] != 0.0 {
                        continue;
                    }
                    let j = p.col_idx[k] as usize;
                    if j <= i {
                        continue;
                    }
                    match p.find(j, i) {
                        Some(m) if self.values[m] != 0.0 => continue,
                        Some(m) => {
                            flags[m].store(true, Ordering::Relaxed);
                            dropped += 1;
                        }
                        None => {}
                    }
                    flags[k].store(true, Ordering::Relaxed);
                    dropped += 1;
                }
                dropped
            })
            .sum();
        // Written by relaxed stores in the tasks above, read after they were joined.
        Droppable {
            flags: owned,
            count,
        }
    }
}

/// Stored zeros are few when at most one entry in this many is one ([`few_stored_zeros`]).
pub const FEW_STORED_ZEROS: usize = 1024;

/// Whether `zeros` stored zeros among `entries` are few: at most one entry in
/// [`FEW_STORED_ZEROS`]. [`CsrMatrix::drop_many_stored_zeros`] keeps so few (counting the
/// zeros it would drop), and AMG shares the values of a matrix with so few (counting every
/// zero off the diagonal) rather than copy them.
pub fn few_stored_zeros(zeros: usize, entries: usize) -> bool {
    zeros <= entries / FEW_STORED_ZEROS
}

struct Droppable {
    flags: Vec<bool>,
    count: usize,
}

/// Rows per parallel task of [`compact`].
const ROW_CHUNK: usize = 4096;

/// Removes the flagged entries in place, keeping the order: each chunk of rows first moves
/// its kept entries to the front of its own range (in parallel: the ranges are disjoint, and
/// a write never passes the read it follows; chunks without a flag skip this), then the
/// chunks' blocks move down to their final offsets ([`Blocks::move_down`]: in parallel when
/// few entries go, else in order; the blocks before the first dropped entry stay) and the
/// tail is released.
fn compact(p: &mut SparsityPattern, values: &mut Vec<f64>, drop: &[bool]) {
    let n = p.nrows;
    let starts: Vec<usize> = (0..n.div_ceil(ROW_CHUNK))
        .map(|c| p.row_ptr[c * ROW_CHUNK])
        .collect();
    let mut tasks = Vec::with_capacity(starts.len());
    let (mut cols, mut vals, mut ends) = (&mut p.col_idx[..], &mut values[..], &mut p.row_ptr[1..]);
    for (c, &first) in starts.iter().enumerate() {
        let rows = ROW_CHUNK.min(n - c * ROW_CHUNK);
        let len = ends[rows - 1] - first;
        let (row_ends, rest) = std::mem::take(&mut ends).split_at_mut(rows);
        let (c_cols, rest_cols) = std::mem::take(&mut cols).split_at_mut(len);
        let (c_vals, rest_vals) = std::mem::take(&mut vals).split_at_mut(len);
        (ends, cols, vals) = (rest, rest_cols, rest_vals);
        tasks.push((first, row_ends, c_cols, c_vals));
    }
    // Within each chunk: kept entries to the front; row ends become counts within the chunk.
    let kept: Vec<usize> = tasks
        .into_par_iter()
        .map(|(first, row_ends, cols, vals)| {
            let flags = &drop[first..first + cols.len()];
            if !flags.contains(&true) {
                // Nothing dropped here (most chunks): the entries stay, the row ends become
                // counts within the chunk.
                row_ends.iter_mut().for_each(|end| *end -= first);
                return cols.len();
            }
            let (mut out, mut start) = (0, 0);
            for end in row_ends.iter_mut() {
                let end_local = *end - first;
                // Branch-free: every entry is written, only kept ones advance the output.
                for k in start..end_local {
                    cols[out] = cols[k];
                    vals[out] = vals[k];
                    out += usize::from(!flags[k]);
                }
                start = end_local;
                *end = out;
            }
            out
        })
        .collect();
    // The chunks' blocks to their final offsets.
    let mut offsets = Vec::with_capacity(kept.len());
    let mut out = 0;
    for &count in &kept {
        offsets.push(out);
        out += count;
    }
    let blocks = Blocks {
        starts: &starts,
        kept: &kept,
        offsets: &offsets,
    };
    blocks.move_down(&mut p.col_idx);
    blocks.move_down(values);
    p.row_ptr[1..]
        .par_chunks_mut(ROW_CHUNK)
        .zip(offsets)
        .for_each(|(ends, offset)| ends.iter_mut().for_each(|e| *e += offset));
    p.col_idx.truncate(out);
    p.col_idx.shrink_to_fit();
    values.truncate(out);
    values.shrink_to_fit();
}

/// The blocks of [`compact`]: block `c` keeps `kept[c]` entries at `starts[c]` and goes to
/// `offsets[c]` (the prefix sums of `kept`, so `offsets[c] <= starts[c]`).
struct Blocks<'a> {
    starts: &'a [usize],
    kept: &'a [usize],
    offsets: &'a [usize],
}

impl Blocks<'_> {
    /// Whether [`Blocks::move_down`] saves the tails and moves in parallel (see there).
    fn in_parallel(&self, len: usize) -> bool {
        let saved: usize = (0..self.kept.len()).map(|c| self.tail(c)).sum();
        self.kept.len() >= 2 && saved <= len / 64
    }

    /// How much of block `c`'s source later blocks overwrite: its last `min(k, d)` entries.
    fn tail(&self, c: usize) -> usize {
        self.kept[c].min(self.starts[c] - self.offsets[c])
    }

    /// Moves every block of `data` to its offset.
    ///
    /// Block `c`'s destination `[o, o + k)` holds the head of its own source `[s, s + k)`
    /// (shift `d = s - o`) and, when `d > 0`, the source tails of earlier blocks; its own
    /// source tail `[s + k - t, s + k)`, `t = min(k, d)`, lies in later blocks' destinations.
    /// So once every tail is saved, each block touches only its own destination (`memmove`
    /// the head of its source down, copy its saved tail after it) and the blocks move in
    /// parallel. Saving costs `sum(t)` entries: when that is more than 1/64 of `data` (many
    /// dropped entries, whose shift passes whole blocks), the blocks move one after the other
    /// instead, in order (destinations never pass sources).
    fn move_down<T: Copy + Send + Sync>(&self, data: &mut [T]) {
        let blocks = self.kept.len();
        let tail = |c: usize| self.tail(c);
        if !self.in_parallel(data.len()) {
            for c in 0..blocks {
                let (from, to, count) = (self.starts[c], self.offsets[c], self.kept[c]);
                if from != to {
                    data.copy_within(from..from + count, to);
                }
            }
            return;
        }
        let mut saved = Vec::with_capacity((0..blocks).map(tail).sum());
        for c in 0..blocks {
            let end = self.starts[c] + self.kept[c];
            saved.extend_from_slice(&data[end - tail(c)..end]);
        }
        // The destinations tile `data` from 0 in block order.
        let mut moves = Vec::with_capacity(blocks);
        let (mut rest, mut saved_rest) = (&mut data[..], &saved[..]);
        for c in 0..blocks {
            let (dest, more) = std::mem::take(&mut rest).split_at_mut(self.kept[c]);
            let (saved_tail, more_saved) = saved_rest.split_at(tail(c));
            (rest, saved_rest) = (more, more_saved);
            moves.push((dest, self.starts[c] - self.offsets[c], saved_tail));
        }
        moves.into_par_iter().for_each(|(dest, shift, saved_tail)| {
            if shift == 0 {
                return; // in place already (no tail either)
            }
            let k = dest.len();
            if shift < k {
                dest.copy_within(shift..k, 0);
            }
            dest[k - saved_tail.len()..].copy_from_slice(saved_tail);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dense(a: &CsrMatrix) -> Vec<Vec<f64>> {
        (0..a.nrows())
            .map(|i| (0..a.ncols()).map(|j| a.get(i, j)).collect())
            .collect()
    }

    #[test]
    fn drops_zero_pairs_keeps_diagonal_and_round_off_mirrors() {
        let a = CsrMatrix::try_from_triplets(
            3,
            3,
            &[
                (0, 0, 0.0),
                (0, 1, 0.0),
                (1, 0, 0.0),
                (1, 1, 2.0),
                (1, 2, 0.0),
                (2, 1, 1e-300),
                (2, 2, 1.0),
                (0, 2, 0.0),
            ],
        )
        .unwrap();
        let mut b = a.clone();
        // (0,1)/(1,0) are a zero pair and (0,2) has no mirror; (1,2) mirrors a non-zero.
        assert_eq!(b.drop_stored_zeros(), 3);
        assert_eq!(b.nnz(), 5);
        assert_eq!(b.pattern().find(0, 0), Some(0));
        assert!(b.pattern().find(1, 2).is_some());
        assert_eq!(dense(&a), dense(&b));
        assert!(b.pattern().is_structurally_symmetric());
        // The shared pattern of `a` is left alone.
        let shared = a.clone();
        let mut c = a.clone();
        c.drop_stored_zeros();
        assert_eq!(shared.nnz(), 8);
        assert_eq!(c, b);
        assert_eq!(b.clone().drop_stored_zeros(), 0);
        // A zero below the diagonal without a mirror stays.
        let mut lower =
            CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 1.0), (1, 0, 0.0), (1, 1, 1.0)]).unwrap();
        assert_eq!(lower.drop_stored_zeros(), 0);
    }

    #[test]
    fn few_zeros_are_kept_when_only_many_are_worth_dropping() {
        // A tridiagonal matrix whose first `zeros` couplings are zero (both triangles).
        let n = 3 * FEW_STORED_ZEROS;
        let tridiagonal = |zeros: usize| {
            let mut t = Vec::new();
            for i in 0..n {
                t.push((i, i, 2.0));
                if i + 1 < n {
                    let v = if i < zeros { 0.0 } else { -1.0 };
                    t.extend([(i, i + 1, v), (i + 1, i, v)]);
                }
            }
            CsrMatrix::try_from_triplets(n, n, &t).unwrap()
        };
        // 3n - 2 entries: two zeros per zero coupling, at most (3n - 2) / FEW_STORED_ZEROS = 8.
        let few = tridiagonal(4);
        let mut kept = few.clone();
        assert_eq!(kept.drop_many_stored_zeros(), 0);
        assert_eq!(kept, few);
        assert_eq!(kept.drop_stored_zeros(), 8);
        let many = tridiagonal(5);
        let mut dropped = many.clone();
        assert_eq!(dropped.drop_many_stored_zeros(), 10);
        assert_eq!(dropped.nnz(), many.nnz() - 10);
        let x: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
        let (mut ya, mut yb) = (vec![0.0; n], vec![0.0; n]);
        many.mul_vec_into(&x, &mut ya);
        dropped.mul_vec_into(&x, &mut yb);
        assert_eq!(ya, yb);
    }

    #[test]
    fn many_row_chunks() {
        // A tridiagonal matrix over several entry chunks with every third coupling zero.
        let n = 5 * ROW_CHUNK / 2;
        let mut t = Vec::new();
        for i in 0..n {
            t.push((i, i, 2.0));
            if i + 1 < n {
                let v = if i % 3 == 0 { 0.0 } else { -1.0 };
                t.push((i, i + 1, v));
                t.push((i + 1, i, v));
            }
        }
        let a = CsrMatrix::try_from_triplets(n, n, &t).unwrap();
        let mut b = a.clone();
        assert_eq!(b.drop_stored_zeros(), 2 * (n - 1).div_ceil(3));
        let x: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
        let (mut ya, mut yb) = (vec![0.0; n], vec![0.0; n]);
        a.mul_vec_into(&x, &mut ya);
        b.mul_vec_into(&x, &mut yb);
        assert_eq!(ya, yb);
        assert!(b.is_symmetric(0.0));
    }

    #[test]
    fn chunks_without_zeros_keep_their_entries_and_move_as_blocks() {
        // Zeros only in some chunks: both ends (as a 1D Dirichlet elimination leaves them),
        // only the last chunk, only the first.
        let n = 7 * ROW_CHUNK / 2;
        let cases: [&dyn Fn(usize) -> bool; 3] = [
            &|i| i < 2 || i + 3 > n,
            &|i| i + ROW_CHUNK / 2 > n && i % 5 == 0,
            &|i| i < ROW_CHUNK && i % 2 == 0,
        ];
        for zero_after in cases {
            let mut t = Vec::new();
            for i in 0..n {
                t.push((i, i, 2.0));
                if i + 1 < n {
                    let v = if zero_after(i) { 0.0 } else { -1.0 };
                    t.push((i, i + 1, v));
                    t.push((i + 1, i, v));
                }
            }
            let a = CsrMatrix::try_from_triplets(n, n, &t).unwrap();
            let zeros = (0..n - 1).filter(|&i| zero_after(i)).count();
            let mut b = a.clone();
            assert_eq!(b.drop_stored_zeros(), 2 * zeros);
            assert_eq!(b.nnz(), a.nnz() - 2 * zeros);
            for i in [
                0,
                1,
                ROW_CHUNK - 1,
                ROW_CHUNK,
                2 * ROW_CHUNK + 3,
                n - 2,
                n - 1,
            ] {
                let kept: Vec<(usize, f64)> = (a.pattern().row(i).iter())
                    .map(|&j| (j as usize, a.get(i, j as usize)))
                    .filter(|&(j, v)| v != 0.0 || j == i)
                    .collect();
                let got: Vec<(usize, f64)> = (b.pattern().row(i).iter())
                    .map(|&j| (j as usize, b.get(i, j as usize)))
                    .collect();
                assert_eq!(got, kept, "row {i}");
            }
        }
    }

    /// Blocks moved down in parallel (few entries dropped, as a 1D Dirichlet elimination
    /// leaves them) and one after the other (many) end where the kept entries of each block,
    /// concatenated in order, belong.
    #[test]
    fn blocks_move_down_alike_in_parallel_and_in_order() {
        let blocks = 64;
        // Block 5 holds 2 entries: fewer than the shift before it in the second case.
        let lengths: Vec<usize> = (0..blocks).map(|c| if c == 5 { 2 } else { 1000 }).collect();
        let kept_with = |drops: &dyn Fn(usize) -> usize| -> Vec<usize> {
            (0..blocks).map(|c| lengths[c] - drops(c)).collect()
        };
        let cases: [(Vec<usize>, bool); 6] = [
            (kept_with(&|_| 0), true),
            // At both ends.
            (
                kept_with(&|c| if c == 1 || c == blocks - 1 { 3 } else { 0 }),
                true,
            ),
            (kept_with(&|c| usize::from(c == 1) * 5), true),
            // The short block keeps nothing; the blocks before it stay in place.
            (kept_with(&|c| usize::from(c == 5) * 2), true),
            // One in every block: the tails to save grow past 1/64 of the entries.
            (kept_with(&|c| usize::from(c > 0 && c != 5)), false),
            (kept_with(&|c| usize::from(c == 1) * 995), false),
        ];
        let len: usize = lengths.iter().sum();
        let mut starts = vec![0];
        for &l in &lengths[..blocks - 1] {
            starts.push(starts.last().unwrap() + l);
        }
        for (k, (kept, parallel)) in cases.into_iter().enumerate() {
            let mut offsets = vec![0];
            for &count in &kept[..blocks - 1] {
                offsets.push(offsets.last().unwrap() + count);
            }
            let b = Blocks {
                starts: &starts,
                kept: &kept,
                offsets: &offsets,
            };
            assert_eq!(b.in_parallel(len), parallel, "case {k}");
            let mut data: Vec<u64> = (0..len as u64).collect();
            let expected: Vec<u64> = (starts.iter().zip(&kept))
                .flat_map(|(&s, &count)| s as u64..(s + count) as u64)
                .collect();
            b.move_down(&mut data);
            assert_eq!(data[..expected.len()], expected[..], "case {k}");
        }
    }

    proptest! {
        #[test]
        fn products_and_symmetry_survive(
            n in 1usize..12,
            entries in proptest::collection::vec((0usize..12, 0usize..12, -2i8..3), 0..60),
        ) {
            let mut triplets = Vec::new();
            for (i, j, v) in entries {
                let (i, j) = (i % n, j % n);
                triplets.push((i, j, f64::from(v)));
                triplets.push((j, i, f64::from(v)));
            }
            let a = CsrMatrix::try_from_triplets(n, n, &triplets).unwrap();
            let mut b = a.clone();
            let dropped = b.drop_stored_zeros();
            prop_assert_eq!(a.nnz() - dropped, b.nnz());
            prop_assert_eq!(dense(&a), dense(&b));
            prop_assert!(b.is_symmetric(0.0));
            prop_assert!(b.pattern().is_structurally_symmetric());
            let off_zeros = (0..n)
                .flat_map(|i| b.pattern().row(i).iter().map(move |&j| (i, j as usize)))
                .filter(|&(i, j)| i != j && b.get(i, j) == 0.0)
                .count();
            prop_assert_eq!(off_zeros, 0);
            let x: Vec<f64> = (0..n).map(|i| i as f64 - 3.5).collect();
            let (mut ya, mut yb) = (vec![0.0; n], vec![0.0; n]);
            a.mul_vec_into(&x, &mut ya);
            b.mul_vec_into(&x, &mut yb);
            prop_assert_eq!(ya, yb);
        }
    }
}
