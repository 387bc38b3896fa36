//! [`Renumbering`] numbers each part's items contiguously, as a [`RowPartition`] needs — the
//! parts of a recursive coordinate bisection
//! ([`femscale_mesh::partition::recursive_bisection`], re-exported here) for instance.

use femscale_core::{CsrMatrix, Error, Result};

use super::RowPartition;

/// A numbering in which each part's items are contiguous (part 0's first, in their original
/// order), with the [`RowPartition`] of the parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renumbering {
    /// `new[old]`: the new number of each item.
    pub new: Vec<usize>,
    /// `old[new]`: the item at each new number.
    pub old: Vec<usize>,
    /// Part `r` owns new numbers `partition.range(r)`.
    pub partition: RowPartition,
}

impl Renumbering {
    /// Numbers the items of `part` (the part of each item, below `parts`) part by part.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a part number out of range or zero parts.
    pub fn by_part(part: &[usize], parts: usize) -> Result<Self> {
        let mut counts = vec![0usize; parts];
        for (i, &p) in part.iter().enumerate() {
            *counts.get_mut(p).ok_or_else(|| {
                Error::invalid("part", format!("item {i} is in part {p} of {parts}"))
            })? += 1;
        }
        let partition = RowPartition::from_counts(counts)?;
        let mut next: Vec<usize> = (0..parts).map(|r| partition.range(r).start).collect();
        let mut new = vec![0; part.len()];
        let mut old = vec![0; part.len()];
        for (i, &p) in part.iter().enumerate() {
            new[i] = next[p];
            old[next[p]] = i;
            next[p] += 1;
        }
        Ok(Self {
            new,
            old,
            partition,
        })
    }
}

impl Renumbering {
    /// `P A Pᵀ`: the square matrix `a` with rows and columns in the new numbering.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `a` is not square of this numbering's size.
    pub fn permute_matrix(&self, a: &CsrMatrix) -> Result<CsrMatrix> {
        let n = self.new.len();
        if a.nrows() != n || a.ncols() != n {
            return Err(Error::invalid(
                "matrix",
                format!(
                    "is {} x {}, the numbering has {n} items",
                    a.nrows(),
                    a.ncols()
                ),
            ));
        }
        let (ptr, cols, values) = (a.pattern().row_ptr(), a.pattern().col_idx(), a.values());
        let mut row_ptr = Vec::with_capacity(n + 1);
        row_ptr.push(0);
        let (mut new_cols, mut new_values) = (
            Vec::with_capacity(cols.len()),
            Vec::with_capacity(cols.len()),
        );
        let mut row: Vec<(usize, f64)> = Vec::new();
        for &old_row in &self.old {
            row.clear();
            row.extend(
                (ptr[old_row]..ptr[old_row + 1]).map(|k| (self.new[cols[k] as usize], values[k])),
            );
            row.sort_unstable_by_key(|e| e.0);
            // A new number is below n = a.ncols() <= MAX_COLUMNS.
            new_cols.extend(row.iter().map(|e| e.0 as u32));
            new_values.extend(row.iter().map(|e| e.1));
            row_ptr.push(new_cols.len());
        }
        CsrMatrix::try_from_csr_parts(n, n, row_ptr, new_cols, new_values)
    }

    /// `v` in the new numbering.
    pub fn permute_vector(&self, v: &[f64]) -> Vec<f64> {
        self.old.iter().map(|&i| v[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_refused() {
        assert!(Renumbering::by_part(&[0, 3], 2).is_err());
    }

    #[test]
    fn renumbering_makes_parts_contiguous() {
        let r = Renumbering::by_part(&[1, 0, 1, 0, 2], 3).unwrap();
        assert_eq!(r.new, vec![2, 0, 3, 1, 4]);
        assert_eq!(r.old, vec![1, 3, 0, 2, 4]);
        assert_eq!(r.partition.range(1), 2..4);
        // P A Pᵀ keeps every entry, moved to the new row and column.
        let a = CsrMatrix::try_from_triplets(
            5,
            5,
            &[
                (0, 0, 1.0),
                (0, 4, 2.0),
                (1, 2, 3.0),
                (3, 3, 4.0),
                (4, 1, 5.0),
                (2, 0, 6.0),
            ],
        )
        .unwrap();
        let b = r.permute_matrix(&a).unwrap();
        for i in 0..5 {
            for j in 0..5 {
                assert_eq!(b.get(r.new[i], r.new[j]), a.get(i, j));
            }
        }
        assert_eq!(
            r.permute_vector(&[10.0, 11.0, 12.0, 13.0, 14.0]),
            vec![11.0, 13.0, 10.0, 12.0, 14.0]
        );
    }
}
