//! Compressed sparse row storage with a separable pattern.
//!
//! A [`SparsityPattern`] is built once per mesh and discretisation and shared (`Arc`) by every
//! matrix that uses it; a [`CsrMatrix`] is a pattern plus one value per stored entry. Refilling
//! values (new coefficients, new time step, new sweep point) never touches the pattern, and a
//! direct solver can reuse its symbolic analysis for as long as the pattern is the same `Arc`.
//!
//! Row pointers are `usize`; column indices are `u32` ([`MAX_COLUMNS`]): a stored entry takes
//! 12 bytes instead of 16, and products over the matrix, bound by memory bandwidth, read a
//! quarter fewer bytes. Interfaces that speak `usize` indices (sprs, faer, plugin ABIs) get a
//! copy of the columns, widened.

use std::sync::Arc;

use crate::error::{Error, Result};

mod compact;
mod symmetry;

pub use compact::{FEW_STORED_ZEROS, few_stored_zeros};

/// The largest row or column count of a matrix: the largest `n` for which `n + 1` pointers fit
/// in one allocation (`isize::MAX` bytes), so every pointer array and faer's index limit hold.
pub const MAX_DIMENSION: usize = isize::MAX as usize / std::mem::size_of::<usize>() - 1;

/// The largest column count of a matrix: every column index fits in a `u32`.
pub const MAX_COLUMNS: usize = u32::MAX as usize;

/// `indices` narrowed to `u32`, or [`Error::InvalidInput`] on `field` naming the first one that
/// does not fit (each is below a column count of at most [`MAX_COLUMNS`] when they are columns).
pub fn narrow_indices(indices: &[usize], field: &str) -> Result<Vec<u32>> {
    indices
        .iter()
        .enumerate()
        .map(|(k, &j)| {
            u32::try_from(j).map_err(|_| {
                Error::invalid(
                    field,
                    format!("index {j} at position {k} exceeds {}", u32::MAX),
                )
            })
        })
        .collect()
}

/// `len` zeros, or [`Error::InvalidInput`] on `field` when the allocation fails (a dimension
/// the caller stated, not one an array backs, must not abort the process).
pub fn try_zeroed_indices(len: usize, field: &str) -> Result<Vec<usize>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::invalid(
            field,
            format!("cannot allocate {len} indices for this dimension"),
        )
    })?;
    v.resize(len, 0);
    Ok(v)
}

/// The structure of a CSR matrix: row pointers and sorted, unique column indices per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparsityPattern {
    nrows: usize,
    ncols: usize,
    row_ptr: Vec<usize>,
    col_idx: Vec<u32>,
}

impl SparsityPattern {
    /// Builds a pattern after checking every invariant: `row_ptr` has `nrows + 1` non-decreasing
    /// entries starting at 0 and ending at `col_idx.len()`, and each row's columns are strictly
    /// increasing and below `ncols`, which is at most [`MAX_COLUMNS`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first violated invariant.
    pub fn try_new(
        nrows: usize,
        ncols: usize,
        row_ptr: Vec<usize>,
        col_idx: Vec<u32>,
    ) -> Result<Self> {
        let bad = |reason: String| Err(Error::invalid("sparsity_pattern", reason));
        check_dimensions(nrows, ncols)?;
        if row_ptr.len() != nrows + 1 {
            return bad(format!(
                "row_ptr has {} entries, expected nrows + 1 = {}",
                row_ptr.len(),
                nrows + 1
            ));
        }
        if row_ptr[0] != 0 || row_ptr[nrows] != col_idx.len() {
            return bad(format!(
                "row_ptr must start at 0 and end at nnz = {} (got {}..{})",
                col_idx.len(),
                row_ptr[0],
                row_ptr[nrows]
            ));
        }
        for i in 0..nrows {
            let (start, end) = (row_ptr[i], row_ptr[i + 1]);
            if end < start || end > col_idx.len() {
                return bad(format!("row_ptr decreases or exceeds nnz at row {i}"));
            }
            let row = &col_idx[start..end];
            if let Some(&last) = row.last()
                && last as usize >= ncols
            {
                return bad(format!("row {i} has column {last} >= ncols = {ncols}"));
            }
            if row.windows(2).any(|w| w[0] >= w[1]) {
                return bad(format!("columns of row {i} are not strictly increasing"));
            }
        }
        Ok(Self {
            nrows,
            ncols,
            row_ptr,
            col_idx,
        })
    }

    /// Builds a pattern without checking its invariants, for builders that produce sorted,
    /// unique rows by construction (the invariants are still checked in debug builds).
    ///
    /// # Safety
    /// The invariants of [`SparsityPattern::try_new`] must hold. Code relies on them for memory
    /// safety: parallel assembly writes rows from several threads, which is sound only because
    /// rows own disjoint ranges of the value array (`row_ptr` non-decreasing).
    ///
    /// # Panics
    /// In debug builds, if the invariants do not hold.
    pub unsafe fn from_sorted_parts_unchecked(
        nrows: usize,
        ncols: usize,
        row_ptr: Vec<usize>,
        col_idx: Vec<u32>,
    ) -> Self {
        if cfg!(debug_assertions) {
            return Self::try_new(nrows, ncols, row_ptr, col_idx)
                .expect("from_sorted_parts_unchecked given an invalid pattern: this is a bug");
        }
        Self {
            nrows,
            ncols,
            row_ptr,
            col_idx,
        }
    }

    /// Builds a pattern from (row, column) pairs in any order; duplicates are merged.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if an index is out of range.
    pub fn try_from_entries(
        nrows: usize,
        ncols: usize,
        entries: &[(usize, usize)],
    ) -> Result<Self> {
        check_dimensions(nrows, ncols)?;
        let mut counts = vec![0usize; nrows + 1];
        for &(i, j) in entries {
            if i >= nrows || j >= ncols {
                return Err(Error::invalid(
                    "sparsity_pattern",
                    format!("entry ({i}, {j}) outside a {nrows}x{ncols} matrix"),
                ));
            }
            counts[i + 1] += 1;
        }
        for i in 0..nrows {
            counts[i + 1] += counts[i];
        }
        let mut cols = vec![0u32; entries.len()];
        let mut next = counts.clone();
        for &(i, j) in entries {
            cols[next[i]] = j as u32; // below ncols <= MAX_COLUMNS, checked above
            next[i] += 1;
        }
        let mut row_ptr = Vec::with_capacity(nrows + 1);
        let mut col_idx = Vec::with_capacity(entries.len());
        row_ptr.push(0);
        for i in 0..nrows {
            let row = &mut cols[counts[i]..counts[i + 1]];
            row.sort_unstable();
            let mut prev = None;
            for &j in row.iter() {
                if prev != Some(j) {
                    col_idx.push(j);
                    prev = Some(j);
                }
            }
            row_ptr.push(col_idx.len());
        }
        Ok(Self {
            nrows,
            ncols,
            row_ptr,
            col_idx,
        })
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.ncols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.col_idx.len()
    }

    /// Row pointers (`nrows + 1` entries).
    pub fn row_ptr(&self) -> &[usize] {
        &self.row_ptr
    }

    /// Column indices of all rows, concatenated.
    pub fn col_idx(&self) -> &[u32] {
        &self.col_idx
    }

    /// The sorted column indices of row `i`.
    ///
    /// # Panics
    /// If `i >= nrows`.
    #[track_caller]
    pub fn row(&self, i: usize) -> &[u32] {
        &self.col_idx[self.row_ptr[i]..self.row_ptr[i + 1]]
    }

    /// All column indices widened to `usize`, for interfaces that take no other index type
    /// (faer, sprs, the plugin ABIs): a copy, 8 bytes per entry.
    pub fn wide_col_idx(&self) -> Vec<usize> {
        self.col_idx.iter().map(|&j| j as usize).collect()
    }

    /// The sorted column indices of row `i` as `usize`.
    ///
    /// # Panics
    /// If `i >= nrows`.
    #[track_caller]
    pub fn columns(&self, i: usize) -> impl ExactSizeIterator<Item = usize> + '_ {
        self.row(i).iter().map(|&j| j as usize)
    }

    /// Position of entry `(i, j)` in the value array, if it is stored.
    #[inline]
    pub fn find(&self, i: usize, j: usize) -> Option<usize> {
        if i >= self.nrows || j >= self.ncols {
            return None;
        }
        let start = self.row_ptr[i];
        // `j < ncols <= MAX_COLUMNS`: it fits.
        self.row(i)
            .binary_search(&(j as u32))
            .ok()
            .map(|k| start + k)
    }

    /// Position of each diagonal entry, or `None` for rows without one.
    pub fn diagonal_positions(&self) -> Vec<Option<usize>> {
        (0..self.nrows.min(self.ncols))
            .map(|i| self.find(i, i))
            .collect()
    }

    /// Whether entry `(i, j)` is stored exactly when `(j, i)` is.
    pub fn is_structurally_symmetric(&self) -> bool {
        self.nrows == self.ncols
            && (0..self.nrows)
                .all(|i| (self.row(i).iter()).all(|&j| self.find(j as usize, i).is_some()))
    }

    /// Heap memory used by the index arrays, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.row_ptr.len() * std::mem::size_of::<usize>()
            + self.col_idx.len() * std::mem::size_of::<u32>()
    }
}

/// [`Error::InvalidInput`] on `sparsity_pattern` unless `nrows <= MAX_DIMENSION` and
/// `ncols <= MAX_COLUMNS`.
fn check_dimensions(nrows: usize, ncols: usize) -> Result<()> {
    if nrows > MAX_DIMENSION || ncols > MAX_COLUMNS {
        return Err(Error::invalid(
            "sparsity_pattern",
            format!(
                "{nrows} x {ncols} exceeds the largest dimensions, \
                 {MAX_DIMENSION} rows and {MAX_COLUMNS} columns"
            ),
        ));
    }
    Ok(())
}

/// A sparse matrix in CSR form: a shared [`SparsityPattern`] plus one value per entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CsrMatrix {
    pattern: Arc<SparsityPattern>,
    values: Vec<f64>,
}

impl CsrMatrix {
    /// A matrix with the given pattern and all stored values zero.
    pub fn zeros(pattern: Arc<SparsityPattern>) -> Self {
        let values = vec![0.0; pattern.nnz()];
        Self { pattern, values }
    }

    /// Combines a pattern with values.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if `values.len() != pattern.nnz()`.
    pub fn try_from_pattern_and_values(
        pattern: Arc<SparsityPattern>,
        values: Vec<f64>,
    ) -> Result<Self> {
        if values.len() != pattern.nnz() {
            return Err(Error::invalid(
                "values",
                format!(
                    "{} values for a pattern with {} entries",
                    values.len(),
                    pattern.nnz()
                ),
            ));
        }
        Ok(Self { pattern, values })
    }

    /// Builds a matrix from `(row, col, value)` triplets; duplicate entries are summed.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if an index is out of range.
    pub fn try_from_triplets(
        nrows: usize,
        ncols: usize,
        triplets: &[(usize, usize, f64)],
    ) -> Result<Self> {
        let entries: Vec<_> = triplets.iter().map(|&(i, j, _)| (i, j)).collect();
        let pattern = Arc::new(SparsityPattern::try_from_entries(nrows, ncols, &entries)?);
        let mut m = Self::zeros(pattern);
        for &(i, j, v) in triplets {
            let k = m
                .pattern
                .find(i, j)
                .expect("entry is in the pattern built from it");
            m.values[k] += v;
        }
        Ok(m)
    }

    /// Builds a matrix from CSR arrays after checking them: the pattern's invariants (see
    /// [`SparsityPattern::try_new`]: `row_ptr` of `nrows + 1` non-decreasing entries from 0 to
    /// `col_idx.len()`, strictly increasing columns below `ncols` in each row), one value per
    /// entry and every value finite. The arrays are moved, not copied.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first violation: `sparsity_pattern` for the index
    /// arrays, `values` for a length mismatch or a non-finite value (with its row and column).
    pub fn try_from_csr_parts(
        nrows: usize,
        ncols: usize,
        row_ptr: Vec<usize>,
        col_idx: Vec<u32>,
        values: Vec<f64>,
    ) -> Result<Self> {
        let pattern = Arc::new(SparsityPattern::try_new(nrows, ncols, row_ptr, col_idx)?);
        let matrix = Self::try_from_pattern_and_values(pattern, values)?;
        matrix.check_finite()?;
        Ok(matrix)
    }

    /// Builds a matrix from CSC arrays (column pointers, the row indices of each column in any
    /// order, values), checked like [`CsrMatrix::try_from_csr_parts`]: `col_ptr` has `ncols + 1`
    /// non-decreasing entries from 0 to `row_idx.len()`, rows are below `nrows`, values finite;
    /// an entry stored twice is refused. The entries are transposed into CSR order (a counting
    /// sort, no comparison sort).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first violation (`sparsity_pattern` or `values`).
    pub fn try_from_csc_parts(
        nrows: usize,
        ncols: usize,
        col_ptr: &[usize],
        row_idx: &[usize],
        values: &[f64],
    ) -> Result<Self> {
        let bad = |reason: String| Err(Error::invalid("sparsity_pattern", reason));
        check_dimensions(nrows, ncols)?;
        if Some(col_ptr.len()) != ncols.checked_add(1) {
            return bad(format!(
                "col_ptr has {} entries, expected ncols + 1 = {}",
                col_ptr.len(),
                ncols.saturating_add(1)
            ));
        }
        if col_ptr[0] != 0 || col_ptr[ncols] != row_idx.len() {
            return bad(format!(
                "col_ptr must start at 0 and end at nnz = {} (got {}..{})",
                row_idx.len(),
                col_ptr[0],
                col_ptr[ncols]
            ));
        }
        if values.len() != row_idx.len() {
            return Err(Error::invalid(
                "values",
                format!(
                    "{} values for a pattern with {} entries",
                    values.len(),
                    row_idx.len()
                ),
            ));
        }
        // `nrows` is a stated number, not an array's length: allocate without aborting.
        let mut row_ptr = try_zeroed_indices(nrows + 1, "sparsity_pattern")?;
        for j in 0..ncols {
            let (start, end) = (col_ptr[j], col_ptr[j + 1]);
            if end < start || end > row_idx.len() {
                return bad(format!("col_ptr decreases or exceeds nnz at column {j}"));
            }
            for &i in &row_idx[start..end] {
                if i >= nrows {
                    return bad(format!("column {j} has row {i} >= nrows = {nrows}"));
                }
                row_ptr[i + 1] += 1;
            }
        }
        for i in 0..nrows {
            row_ptr[i + 1] += row_ptr[i];
        }
        let mut next = row_ptr.clone();
        let (mut col_idx, mut vals) = (vec![0u32; row_idx.len()], vec![0.0; row_idx.len()]);
        // Columns in increasing order, so each row's columns come out sorted; an entry stored
        // twice shows as a repeated column, which the pattern check refuses.
        for j in 0..ncols {
            for k in col_ptr[j]..col_ptr[j + 1] {
                let i = row_idx[k];
                col_idx[next[i]] = j as u32; // j < ncols <= MAX_COLUMNS
                vals[next[i]] = values[k];
                next[i] += 1;
            }
        }
        Self::try_from_csr_parts(nrows, ncols, row_ptr, col_idx, vals)
    }

    /// Builds a matrix from any sprs matrix with `usize` indices, CSR or CSC storage (a view:
    /// `m.view()`), copying its arrays, checked like [`CsrMatrix::try_from_csr_parts`] (sprs's
    /// unchecked constructors can build what femscale refuses: unsorted or out-of-range
    /// indices; non-finite values are refused too).
    ///
    /// ```
    /// use femscale_core::{CsrMatrix, sprs};
    /// let a = CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 2.0), (0, 1, -1.0), (1, 1, 2.0)])?;
    /// let s: sprs::CsMat<f64> = a.to_sprs();
    /// assert_eq!(CsrMatrix::try_from_sprs(s.view())?, a);
    /// let csc = s.to_csc();
    /// assert_eq!(CsrMatrix::try_from_sprs(csc.view())?, a);
    /// # Ok::<(), femscale_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`CsrMatrix::try_from_csr_parts`].
    pub fn try_from_sprs(m: sprs::CsMatView<'_, f64>) -> Result<Self> {
        let (nrows, ncols) = (m.rows(), m.cols());
        let mut ptr = Vec::with_capacity(m.outer_dims() + 1);
        let mut idx = Vec::with_capacity(m.nnz());
        let mut vals = Vec::with_capacity(m.nnz());
        ptr.push(0);
        for outer in m.outer_iterator() {
            idx.extend_from_slice(outer.indices());
            vals.extend_from_slice(outer.data());
            ptr.push(idx.len());
        }
        if m.is_csr() {
            check_dimensions(nrows, ncols)?;
            let idx = narrow_indices(&idx, "sparsity_pattern")?;
            Self::try_from_csr_parts(nrows, ncols, ptr, idx, vals)
        } else {
            Self::try_from_csc_parts(nrows, ncols, &ptr, &idx, &vals)
        }
    }

    /// An owned sprs copy of this matrix (CSR storage, `usize` indices). [`CsrMatrix::as_sprs`]
    /// borrows instead.
    pub fn to_sprs(&self) -> sprs::CsMat<f64> {
        sprs::CsMat::new(
            (self.nrows(), self.ncols()),
            self.pattern.row_ptr.clone(),
            self.pattern.wide_col_idx(),
            self.values.clone(),
        )
    }

    /// `Aᵀ`, by a counting sort of the entries (each row of `Aᵀ` comes out sorted); the values
    /// move as they are.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if `A` has more rows than a matrix may have columns
    /// ([`MAX_COLUMNS`]), or its `ncols + 1` row pointers cannot be allocated.
    pub fn try_transpose(&self) -> Result<Self> {
        let (nrows, ncols, p) = (self.nrows(), self.ncols(), &*self.pattern);
        check_dimensions(ncols, nrows)?;
        let mut row_ptr = try_zeroed_indices(ncols + 1, "sparsity_pattern")?;
        for &j in &p.col_idx {
            row_ptr[j as usize + 1] += 1;
        }
        for j in 0..ncols {
            row_ptr[j + 1] += row_ptr[j];
        }
        let mut next = row_ptr.clone();
        let (mut col_idx, mut values) = (vec![0u32; self.nnz()], vec![0.0; self.nnz()]);
        for i in 0..nrows {
            for k in p.row_ptr[i]..p.row_ptr[i + 1] {
                let j = p.col_idx[k] as usize;
                col_idx[next[j]] = i as u32; // i < nrows <= MAX_COLUMNS, checked above
                values[next[j]] = self.values[k];
                next[j] += 1;
            }
        }
        // Rows of `A` visited in increasing order: each row of `Aᵀ` strictly increasing.
        let pattern = SparsityPattern {
            nrows: ncols,
            ncols: nrows,
            row_ptr,
            col_idx,
        };
        Ok(Self {
            pattern: Arc::new(pattern),
            values,
        })
    }

    /// The first non-finite value, as [`Error::InvalidInput`] on `values` with its position.
    fn check_finite(&self) -> Result<()> {
        let Some(k) = self.values.iter().position(|v| !v.is_finite()) else {
            return Ok(());
        };
        let row = self.pattern.row_ptr.partition_point(|&start| start <= k) - 1;
        let col = self.pattern.col_idx[k];
        Err(Error::invalid(
            "values",
            format!(
                "entry ({row}, {col}) is {}: matrix values must be finite",
                self.values[k]
            ),
        ))
    }

    /// The shared pattern.
    pub fn pattern(&self) -> &Arc<SparsityPattern> {
        &self.pattern
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.pattern.nrows
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.pattern.ncols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Stored values, in pattern order.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Stored values, mutable (the pattern stays fixed).
    pub fn values_mut(&mut self) -> &mut [f64] {
        &mut self.values
    }

    /// Splits into the pattern and the value array.
    pub fn into_parts(self) -> (Arc<SparsityPattern>, Vec<f64>) {
        (self.pattern, self.values)
    }

    /// Value of entry `(i, j)`; zero if it is not stored.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.pattern.find(i, j).map_or(0.0, |k| self.values[k])
    }

    /// The diagonal (zero where no diagonal entry is stored).
    pub fn diagonal(&self) -> Vec<f64> {
        self.pattern
            .diagonal_positions()
            .into_iter()
            .map(|k| k.map_or(0.0, |k| self.values[k]))
            .collect()
    }

    /// `y = A x`, single-threaded. Solvers use their own parallel kernels.
    ///
    /// # Panics
    /// If `x.len() != ncols` or `y.len() != nrows`.
    #[track_caller]
    pub fn mul_vec_into(&self, x: &[f64], y: &mut [f64]) {
        assert_eq!(x.len(), self.ncols(), "x has the wrong length");
        assert_eq!(y.len(), self.nrows(), "y has the wrong length");
        let (rp, ci, v) = (&self.pattern.row_ptr, &self.pattern.col_idx, &self.values);
        for (i, yi) in y.iter_mut().enumerate() {
            let mut acc = 0.0;
            for k in rp[i]..rp[i + 1] {
                acc += v[k] * x[ci[k] as usize];
            }
            *yi = acc;
        }
    }

    /// A zero-copy sprs view of this matrix (`u32` column indices, `usize` row pointers).
    pub fn as_sprs(&self) -> sprs::CsMatViewI<'_, f64, u32, usize> {
        sprs::CsMatViewI::new(
            (self.nrows(), self.ncols()),
            &self.pattern.row_ptr,
            &self.pattern.col_idx,
            &self.values,
        )
    }

    /// Heap memory used by the pattern and the values, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.pattern.memory_bytes() + self.values.len() * std::mem::size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_unsorted_and_out_of_range_columns() {
        assert!(SparsityPattern::try_new(2, 2, vec![0, 2, 3], vec![1, 0, 1]).is_err());
        assert!(SparsityPattern::try_new(2, 2, vec![0, 1, 2], vec![0, 2]).is_err());
        assert!(SparsityPattern::try_new(2, 2, vec![0, 1], vec![0]).is_err());
    }

    #[test]
    fn triplets_sum_duplicates_and_sprs_view_agrees() {
        let a = CsrMatrix::try_from_triplets(
            2,
            2,
            &[
                (0, 0, 1.0),
                (0, 0, 2.5),
                (1, 0, -1.0),
                (0, 1, -1.0),
                (1, 1, 2.0),
            ],
        )
        .unwrap();
        assert_eq!(a.get(0, 0), 3.5);
        assert_eq!(a.nnz(), 4);
        assert!(a.is_symmetric(0.0));
        let s = a.as_sprs();
        assert_eq!(s.get(1, 0), Some(&-1.0));
        let mut y = [0.0; 2];
        a.mul_vec_into(&[1.0, 2.0], &mut y);
        assert_eq!(y, [1.5, 3.0]);
    }

    #[test]
    fn transpose_matches_the_dense_transpose() {
        let a = CsrMatrix::try_from_triplets(
            3,
            4,
            &[
                (0, 3, 1.5),
                (0, 0, -2.0),
                (1, 1, 3.0),
                (2, 0, 7.0),
                (2, 3, -0.1),
            ],
        )
        .unwrap();
        let t = a.try_transpose().unwrap();
        assert_eq!((t.nrows(), t.ncols(), t.nnz()), (4, 3, 5));
        for i in 0..3 {
            for j in 0..4 {
                assert_eq!(t.get(j, i), a.get(i, j), "({i}, {j})");
            }
        }
        let checked = SparsityPattern::try_new(
            4,
            3,
            t.pattern().row_ptr().to_vec(),
            t.pattern().col_idx().to_vec(),
        );
        assert_eq!(checked.unwrap(), **t.pattern());
        assert_eq!(t.try_transpose().unwrap(), a);
    }

    #[test]
    fn sprs_round_trips_exactly_in_both_storages() {
        let a = CsrMatrix::try_from_triplets(
            3,
            4,
            &[
                (0, 0, 1.5),
                (0, 3, -2.0),
                (1, 1, 1e-300),
                (2, 0, 7.0),
                (2, 2, -0.1),
            ],
        )
        .unwrap();
        let csr = a.to_sprs();
        assert!(csr.is_csr());
        assert_eq!(CsrMatrix::try_from_sprs(csr.view()).unwrap(), a);
        let csc = csr.to_csc();
        assert_eq!(CsrMatrix::try_from_sprs(csc.view()).unwrap(), a);
        // A row slice's index pointer does not start at zero.
        let rows = csr.slice_outer(1..3);
        let tail = CsrMatrix::try_from_sprs(rows).unwrap();
        assert_eq!(
            (tail.nrows(), tail.get(1, 0), tail.get(0, 1)),
            (2, 7.0, 1e-300)
        );
    }

    #[test]
    fn checked_parts_refuse_bad_input_with_typed_errors() {
        let field = |e: Error| match e {
            Error::InvalidInput { field, reason } => format!("{field}: {reason}"),
            other => panic!("{other}"),
        };
        let e = CsrMatrix::try_from_csr_parts(1, 2, vec![0, 1], vec![0], vec![f64::NAN]);
        assert!(field(e.unwrap_err()).starts_with("values: entry (0, 0) is NaN"));
        let e = CsrMatrix::try_from_csr_parts(1, 2, vec![0, 1], vec![2], vec![1.0]);
        assert!(field(e.unwrap_err()).starts_with("sparsity_pattern:"));
        let e = CsrMatrix::try_from_csr_parts(1, 2, vec![0, 1], vec![0], vec![]);
        assert!(field(e.unwrap_err()).starts_with("values:"));
        let e = CsrMatrix::try_from_csc_parts(2, 1, &[0, 1], &[5], &[1.0]);
        assert!(field(e.unwrap_err()).contains("row 5 >= nrows = 2"));
        let e = CsrMatrix::try_from_csc_parts(2, 1, &[0, 2], &[1, 1], &[1.0, 2.0]);
        assert!(field(e.unwrap_err()).contains("not strictly increasing"));
        let e = CsrMatrix::try_from_csc_parts(2, 2, &[0, 1], &[0], &[1.0]);
        assert!(field(e.unwrap_err()).contains("col_ptr has 2 entries"));
        let inf = CsrMatrix::try_from_csc_parts(2, 2, &[0, 1, 2], &[1, 0], &[1.0, f64::INFINITY]);
        assert!(field(inf.unwrap_err()).starts_with("values: entry (0, 1) is inf"));
    }

    #[test]
    fn huge_stated_dimensions_are_errors_not_panics_or_aborts() {
        let field = |e: Error| e.to_string();
        for (nrows, ncols) in [(usize::MAX, 1), (1, usize::MAX), (MAX_DIMENSION + 1, 1)] {
            let e = CsrMatrix::try_from_csc_parts(nrows, ncols, &[0, 0], &[], &[]).unwrap_err();
            assert!(
                field(e).contains("exceeds the largest dimension"),
                "{nrows} x {ncols}"
            );
            let e = SparsityPattern::try_new(nrows, ncols, vec![0, 0], vec![]).unwrap_err();
            assert!(
                field(e).contains("exceeds the largest dimension"),
                "{nrows} x {ncols}"
            );
        }
        // Within the bound, but 2^50 row pointers (8 PiB) cannot be allocated: an error.
        let e = CsrMatrix::try_from_csc_parts(1 << 50, 1, &[0, 0], &[], &[]).unwrap_err();
        assert!(field(e).contains("cannot allocate"));
        // A wide CSR matrix is fine up to the largest column count: its arrays are what the
        // caller passed. One column more cannot be indexed.
        let wide = CsrMatrix::try_from_csr_parts(
            1,
            MAX_COLUMNS,
            vec![0, 1],
            vec![u32::MAX - 1],
            vec![1.0],
        );
        assert_eq!(wide.unwrap().get(0, MAX_COLUMNS - 1), 1.0);
        let e = CsrMatrix::try_from_csr_parts(1, MAX_COLUMNS + 1, vec![0, 0], vec![], vec![]);
        assert!(field(e.unwrap_err()).contains("exceeds the largest dimensions"));
        let e = narrow_indices(&[3, 1 << 40], "col_idx").unwrap_err();
        assert!(field(e).contains("index 1099511627776 at position 1 exceeds 4294967295"));
    }

    proptest! {
        #[test]
        fn pattern_from_entries_is_valid_and_complete(
            entries in proptest::collection::vec((0usize..20, 0usize..15), 0..200)
        ) {
            let p = SparsityPattern::try_from_entries(20, 15, &entries).unwrap();
            let checked = SparsityPattern::try_new(20, 15, p.row_ptr().to_vec(), p.col_idx().to_vec());
            prop_assert!(checked.is_ok());
            for &(i, j) in &entries {
                prop_assert!(p.find(i, j).is_some());
            }
            let mut unique = entries.clone();
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(p.nnz(), unique.len());
        }

        /// The one-pass check agrees with the definition on dense copies: random patterns
        /// (mostly unsymmetric), their symmetrised versions, and those with one value nudged.
        #[test]
        fn is_symmetric_agrees_with_the_dense_definition(
            entries in proptest::collection::vec((0usize..6, 0usize..6, -3i32..4), 0..30),
            symmetrise in any::<bool>(),
            nudge in 0usize..40,
        ) {
            let mut triplets: Vec<(usize, usize, f64)> =
                entries.iter().map(|&(i, j, v)| (i, j, f64::from(v))).collect();
            if symmetrise {
                let mirrored: Vec<_> = triplets.iter().map(|&(i, j, v)| (j, i, v)).collect();
                triplets.extend(mirrored);
            }
            if let Some(t) = triplets.get_mut(nudge) {
                t.2 += 0.5;
            }
            let a = CsrMatrix::try_from_triplets(6, 6, &triplets).unwrap();
            let dense = |i: usize, j: usize| a.pattern().find(i, j).map(|k| a.values()[k]);
            let scale = a.values().iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let expected = (0..6).all(|i| (0..6).all(|j| match (dense(i, j), dense(j, i)) {
                (None, None) => true,
                (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * scale,
                _ => false,
            }));
            prop_assert_eq!(a.is_symmetric(1e-12), expected);
        }
    }
}
