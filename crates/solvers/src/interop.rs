//! Conversions between femscale's [`CsrMatrix`] and faer's sparse matrices
//! ([`faer::sparse::SparseRowMat`]/[`faer::sparse::SparseColMat`] with `usize` indices, the
//! types the direct solver hands to faer), in both directions, by copy: femscale's column
//! indices are `u32` and faer takes one index type for pointers and indices. sprs conversions are in core
//! ([`CsrMatrix::try_from_sprs`], [`CsrMatrix::to_sprs`]).
//!
//! faer is re-exported as `femscale_solvers::faer`, so a program names these types without pinning a
//! matching faer version itself.
//!
//! ```
//! use femscale_core::CsrMatrix;
//! use femscale_solvers::interop::{from_faer_csc, from_faer_csr, to_faer_csc, to_faer_csr};
//!
//! let a = CsrMatrix::try_from_triplets(2, 3, &[(0, 0, 2.0), (0, 2, -1.0), (1, 1, 4.0)])?;
//! let csr = to_faer_csr(&a); // faer::sparse::SparseRowMat<usize, f64>
//! let csc = to_faer_csc(&a)?; // faer::sparse::SparseColMat<usize, f64>
//! assert_eq!(from_faer_csr(csr.as_ref())?, a);
//! assert_eq!(from_faer_csc(csc.as_ref())?, a);
//! # Ok::<(), femscale_core::Error>(())
//! ```

use faer::sparse::{
    SparseColMat, SparseColMatRef, SparseRowMat, SparseRowMatRef, SymbolicSparseColMat,
    SymbolicSparseRowMat,
};
use femscale_core::{CsrMatrix, Result};

/// An owned faer copy of `a` in row-major (CSR) storage.
pub fn to_faer_csr(a: &CsrMatrix) -> SparseRowMat<usize, f64> {
    let p = a.pattern();
    let symbolic = SymbolicSparseRowMat::new_checked(
        p.nrows(),
        p.ncols(),
        p.row_ptr().to_vec(),
        None,
        p.wide_col_idx(),
    );
    SparseRowMat::new(symbolic, a.values().to_vec())
}

/// An owned faer copy of `a` in column-major (CSC) storage (row indices sorted in each
/// column).
///
/// # Errors
/// [`femscale_core::Error::InvalidInput`] when the `ncols + 1` column pointers cannot be
/// allocated (a wide matrix whose CSR arrays are small).
pub fn to_faer_csc(a: &CsrMatrix) -> Result<SparseColMat<usize, f64>> {
    let (nrows, ncols, p) = (a.nrows(), a.ncols(), a.pattern());
    let mut col_ptr = femscale_core::sparse::try_zeroed_indices(ncols + 1, "sparsity_pattern")?;
    for &j in p.col_idx() {
        col_ptr[j as usize + 1] += 1;
    }
    for j in 0..ncols {
        col_ptr[j + 1] += col_ptr[j];
    }
    let mut next = col_ptr.clone();
    let (mut row_idx, mut values) = (vec![0usize; a.nnz()], vec![0.0; a.nnz()]);
    for i in 0..nrows {
        for k in p.row_ptr()[i]..p.row_ptr()[i + 1] {
            let j = p.col_idx()[k] as usize;
            row_idx[next[j]] = i;
            values[next[j]] = a.values()[k];
            next[j] += 1;
        }
    }
    // Rows visited in increasing order: sorted, unique, in range by construction.
    let symbolic = SymbolicSparseColMat::new_checked(nrows, ncols, col_ptr, None, row_idx);
    Ok(SparseColMat::new(symbolic, values))
}

/// Builds a [`CsrMatrix`] from a faer row-major matrix (`m.as_ref()` of a
/// [`faer::sparse::SparseRowMat`]),
/// copying it. Rows may be unsorted or non-compact (faer's `row_nnz`); they are sorted.
///
/// # Errors
/// As [`CsrMatrix::try_from_csr_parts`]: an entry stored twice, a non-finite value.
pub fn from_faer_csr(m: SparseRowMatRef<'_, usize, f64>) -> Result<CsrMatrix> {
    let (symbolic, val) = m.parts();
    let (nrows, ncols) = (symbolic.nrows(), symbolic.ncols());
    let mut row_ptr = Vec::with_capacity(nrows + 1);
    let (mut col_idx, mut values) = (Vec::new(), Vec::new());
    row_ptr.push(0);
    let mut pairs = Vec::new();
    for i in 0..nrows {
        let range = symbolic.row_range(i);
        let cols = &symbolic.col_idx()[range.clone()];
        if cols.is_sorted() {
            col_idx.extend_from_slice(cols);
            values.extend_from_slice(&val[range]);
        } else {
            pairs.clear();
            pairs.extend(cols.iter().copied().zip(val[range].iter().copied()));
            pairs.sort_by_key(|&(j, _)| j);
            col_idx.extend(pairs.iter().map(|&(j, _)| j));
            values.extend(pairs.iter().map(|&(_, v)| v));
        }
        row_ptr.push(col_idx.len());
    }
    let col_idx = femscale_core::narrow_indices(&col_idx, "sparsity_pattern")?;
    CsrMatrix::try_from_csr_parts(nrows, ncols, row_ptr, col_idx, values)
}

/// Builds a [`CsrMatrix`] from a faer column-major matrix (`m.as_ref()` of a
/// [`faer::sparse::SparseColMat`]), copying and transposing its storage. Columns may be unsorted or
/// non-compact (faer's `col_nnz`).
///
/// # Errors
/// As [`CsrMatrix::try_from_csc_parts`]: an entry stored twice, a non-finite value.
pub fn from_faer_csc(m: SparseColMatRef<'_, usize, f64>) -> Result<CsrMatrix> {
    let (symbolic, val) = m.parts();
    let (nrows, ncols, col_ptr) = (symbolic.nrows(), symbolic.ncols(), symbolic.col_ptr());
    // Arrays usable as they are: compact, starting at 0, no entries past the last column.
    let plain = symbolic.col_nnz().is_none()
        && col_ptr[0] == 0
        && col_ptr[ncols] == symbolic.row_idx().len()
        && val.len() == symbolic.row_idx().len();
    if plain {
        return CsrMatrix::try_from_csc_parts(nrows, ncols, col_ptr, symbolic.row_idx(), val);
    }
    let (mut rows, mut vals) = (Vec::new(), Vec::new());
    let mut compact_ptr = Vec::with_capacity(ncols + 1);
    compact_ptr.push(0);
    for j in 0..ncols {
        let range = symbolic.col_range(j);
        rows.extend_from_slice(&symbolic.row_idx()[range.clone()]);
        vals.extend_from_slice(&val[range]);
        compact_ptr.push(rows.len());
    }
    CsrMatrix::try_from_csc_parts(nrows, ncols, &compact_ptr, &rows, &vals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CsrMatrix {
        CsrMatrix::try_from_triplets(
            4,
            3,
            &[
                (0, 0, 1.0),
                (0, 2, -0.5),
                (1, 1, f64::MIN_POSITIVE),
                (3, 0, 3.25),
                (3, 1, -1e300),
                (3, 2, 0.1),
            ],
        )
        .unwrap()
    }

    #[test]
    fn faer_csc_with_offset_column_pointers_is_read_by_its_ranges() {
        // Compact, but column 0 starts at entry 1 and an unused entry trails the last column.
        let (col_ptr, row_idx) = ([1usize, 2, 4], [7usize, 0, 0, 1, 9]);
        let symbolic =
            faer::sparse::SymbolicSparseColMatRef::new_checked(2, 2, &col_ptr, None, &row_idx);
        let values = [f64::NAN, 2.0, -1.0, 3.0, f64::NAN];
        let m = from_faer_csc(SparseColMatRef::new(symbolic, &values)).unwrap();
        let expected =
            CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 2.0), (0, 1, -1.0), (1, 1, 3.0)]);
        assert_eq!(m, expected.unwrap());
    }

    #[test]
    fn stated_dimensions_too_large_to_allocate_are_errors_not_aborts() {
        // faer accepts 2^50 rows without entries; the CSR pointers would not fit.
        let col_ptr = [0usize, 0];
        let symbolic =
            faer::sparse::SymbolicSparseColMatRef::new_checked(1 << 50, 1, &col_ptr, None, &[]);
        let tall = SparseColMatRef::new(symbolic, &[] as &[f64]);
        assert!(from_faer_csc(tall).is_err());
    }

    #[test]
    fn faer_round_trips_are_exact() {
        let a = sample();
        let csr = to_faer_csr(&a);
        assert_eq!(from_faer_csr(csr.as_ref()).unwrap(), a);
        let csc = to_faer_csc(&a).unwrap();
        assert_eq!(csc.to_dense(), csr.to_dense());
        assert_eq!(from_faer_csc(csc.as_ref()).unwrap(), a);
        // faer's own transposition agrees with ours.
        let faer_csc = csr.to_col_major().unwrap();
        assert_eq!(faer_csc.symbolic().col_ptr(), csc.symbolic().col_ptr());
        assert_eq!(faer_csc.val(), csc.val());
    }

    #[test]
    fn unsorted_faer_input_is_sorted_and_bad_values_refused() {
        let symbolic =
            SymbolicSparseRowMat::new_unsorted_checked(2, 3, vec![0, 2, 3], None, vec![2, 0, 1]);
        let m = SparseRowMat::new(symbolic, vec![5.0, 4.0, 3.0]);
        let a = from_faer_csr(m.as_ref()).unwrap();
        assert_eq!(a.pattern().col_idx(), &[0, 2, 1]);
        assert_eq!(a.values(), &[4.0, 5.0, 3.0]);

        let symbolic = SymbolicSparseColMat::new_checked(2, 1, vec![0, 1], None, vec![1]);
        let m = SparseColMat::new(symbolic, vec![f64::NAN]);
        let e = from_faer_csc(m.as_ref()).unwrap_err();
        assert!(
            matches!(&e, femscale_core::Error::InvalidInput { .. })
                && e.to_string().starts_with("invalid `values`"),
            "{e}"
        );
    }
}
