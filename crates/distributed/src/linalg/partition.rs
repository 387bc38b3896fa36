//! Which rank owns which rows: [`RowPartition`].

use femscale_core::{Error, Result};

/// Rows `0..n` split into one contiguous range per rank: rank `r` owns
/// `starts[r]..starts[r + 1]`. Unknowns are numbered so that each rank's are contiguous
/// (a mesh partition renumbers them that way), as in PETSc's `PetscLayout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowPartition {
    starts: Vec<usize>,
}

impl RowPartition {
    /// `n` rows over `ranks` ranks, the first `n % ranks` ranks one row more than the others.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for zero ranks.
    pub fn balanced(n: usize, ranks: usize) -> Result<Self> {
        if ranks == 0 {
            return Err(Error::invalid(
                "ranks",
                "a partition needs at least one rank",
            ));
        }
        let (base, extra) = (n / ranks, n % ranks);
        let counts = (0..ranks).map(|r| base + usize::from(r < extra));
        Self::from_counts(counts)
    }

    /// Rank `r` owns the next `counts[r]` rows.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when there are no ranks or the total overflows.
    pub fn from_counts(counts: impl IntoIterator<Item = usize>) -> Result<Self> {
        let mut starts = vec![0usize];
        for count in counts {
            let end = starts
                .last()
                .copied()
                .unwrap_or(0)
                .checked_add(count)
                .ok_or_else(|| Error::invalid("counts", "the row counts overflow"))?;
            starts.push(end);
        }
        if starts.len() < 2 {
            return Err(Error::invalid(
                "counts",
                "a partition needs at least one rank",
            ));
        }
        Ok(Self { starts })
    }

    /// Ranks.
    pub fn ranks(&self) -> usize {
        self.starts.len() - 1
    }

    /// Rows in all.
    pub fn rows(&self) -> usize {
        self.starts[self.ranks()]
    }

    /// Rank `rank`'s rows.
    pub fn range(&self, rank: usize) -> std::ops::Range<usize> {
        self.starts[rank]..self.starts[rank + 1]
    }

    /// The rank that owns `row` (`row < rows()`).
    pub fn owner(&self, row: usize) -> usize {
        // The last start <= row; empty ranks share their start with the next one.
        self.starts.partition_point(|&s| s <= row) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_ranges_cover_every_row_once_and_owners_agree() {
        for (n, p) in [(10, 3), (3, 5), (0, 2), (1000, 7)] {
            let part = RowPartition::balanced(n, p).unwrap();
            assert_eq!((part.ranks(), part.rows()), (p, n));
            let sizes: Vec<usize> = (0..p).map(|r| part.range(r).len()).collect();
            assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            for r in 0..p {
                for row in part.range(r) {
                    assert_eq!(part.owner(row), r);
                }
            }
        }
        assert!(RowPartition::balanced(5, 0).is_err());
        assert!(RowPartition::from_counts([usize::MAX, 1]).is_err());
    }
}
