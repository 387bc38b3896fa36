//! The shared argument and budget checks of solvers, plugin adapters and planners: does a
//! matrix fit its vectors, does an allocation fit the memory budget.
//!
//! **Units.** Every `*_mb` quantity in femscale (`solver.memory_limit_mb`, `cache.memory_mb`,
//! estimates in [`SolveError::MemoryBudget`] and [`ExecutionPlan`](crate::ExecutionPlan)) is
//! in MiB, `1 MB = 1024 × 1024 bytes` ([`MIB`]); convert with [`bytes_to_mb`] and
//! [`mb_to_bytes`] rather than by hand.
//!
//! ```
//! use femscale_core::checks::{bytes_to_mb, check_memory};
//! assert_eq!(bytes_to_mb(3 << 20), 3.0);
//! assert!(check_memory(Some(2.0), bytes_to_mb(3 << 20), || "factor".into()).is_err());
//! assert!(check_memory(None, f64::INFINITY, || "factor".into()).is_ok());
//! ```

use crate::error::SolveError;
use crate::sparse::CsrMatrix;

/// Bytes per MB (`1024 × 1024`: femscale's MB is the MiB).
pub const MIB: f64 = 1024.0 * 1024.0;

/// `bytes` in MB ([`MIB`]).
pub fn bytes_to_mb(bytes: usize) -> f64 {
    bytes as f64 / MIB
}

/// `mb` MB in bytes ([`MIB`]), saturating: NaN and negative sizes give 0, sizes beyond
/// `u64::MAX` bytes give `u64::MAX`.
pub fn mb_to_bytes(mb: f64) -> u64 {
    // `as` from f64 saturates and maps NaN to 0.
    (mb * MIB) as u64
}

/// The one "does this fit" test: [`SolveError::MemoryBudget`] (naming the consumer `what`,
/// evaluated only on failure) if `needed_mb` exceeds `limit_mb`; no limit always fits.
///
/// # Errors
/// [`SolveError::MemoryBudget`] with the need and the limit.
pub fn check_memory(
    limit_mb: Option<f64>,
    needed_mb: f64,
    what: impl FnOnce() -> String,
) -> Result<(), SolveError> {
    match limit_mb {
        Some(limit_mb) if needed_mb > limit_mb => Err(SolveError::MemoryBudget {
            what: what(),
            needed_mb,
            limit_mb,
        }),
        _ => Ok(()),
    }
}

/// [`check_memory`] for an allocation of `bytes`.
///
/// # Errors
/// [`SolveError::MemoryBudget`] with the need (in MB) and the limit.
pub fn check_memory_bytes(
    limit_mb: Option<f64>,
    bytes: usize,
    what: impl FnOnce() -> String,
) -> Result<(), SolveError> {
    check_memory(limit_mb, bytes_to_mb(bytes), what)
}

/// A solver's work space of `bytes` against `limit_mb` (`solver.memory_limit_mb`), or without
/// one against what no allocation can exceed ([`crate::scaler::memory_ceiling_mb`]): a basis
/// of 10⁴ vectors is a typed error, not an aborted process.
///
/// # Errors
/// [`SolveError::MemoryBudget`] naming `what` (and, without a limit, the machine's memory).
pub fn check_work_space(
    limit_mb: Option<f64>,
    bytes: usize,
    what: impl FnOnce() -> String,
) -> Result<(), SolveError> {
    match limit_mb {
        Some(limit) => check_memory_bytes(Some(limit), bytes, what),
        None => check_memory_bytes(crate::scaler::memory_ceiling_mb(), bytes, || {
            format!(
                "{} (no solver.memory_limit_mb: the machine's memory)",
                what()
            )
        }),
    }
}

/// [`SolveError::DimensionMismatch`] unless `a` is square.
///
/// # Errors
/// [`SolveError::DimensionMismatch`] with `len` the column count.
pub fn check_square(a: &CsrMatrix) -> Result<(), SolveError> {
    if a.nrows() == a.ncols() {
        Ok(())
    } else {
        Err(SolveError::DimensionMismatch {
            rows: a.nrows(),
            cols: a.ncols(),
            len: a.ncols(),
        })
    }
}

/// [`SolveError::DimensionMismatch`] unless `a` is square and `b` and `x` (checked in that
/// order) have one entry per row.
///
/// # Errors
/// [`SolveError::DimensionMismatch`] with the first offending length.
pub fn check_system(a: &CsrMatrix, b: &[f64], x: &[f64]) -> Result<(), SolveError> {
    check_square(a)?;
    for len in [b.len(), x.len()] {
        if len != a.nrows() {
            return Err(SolveError::DimensionMismatch {
                rows: a.nrows(),
                cols: a.ncols(),
                len,
            });
        }
    }
    Ok(())
}

/// The number of right-hand sides in the column-major block `b` (`b.len() = n · k` for an
/// `n × n` matrix `a`), checking that `x` has the same shape; `0` for an empty block.
///
/// # Errors
/// [`SolveError::DimensionMismatch`] unless `a` is square, `b.len()` is a multiple of `n`
/// (nothing for `n = 0`) and `x.len() == b.len()`, with the offending length.
pub fn check_block(a: &CsrMatrix, b: &[f64], x: &[f64]) -> Result<usize, SolveError> {
    check_square(a)?;
    let n = a.nrows();
    let mismatch = |len| SolveError::DimensionMismatch {
        rows: n,
        cols: a.ncols(),
        len,
    };
    // (`0` is the only multiple of `0`.)
    if !b.len().is_multiple_of(n) {
        return Err(mismatch(b.len()));
    }
    if x.len() != b.len() {
        return Err(mismatch(x.len()));
    }
    Ok(b.len().checked_div(n).unwrap_or(0))
}

/// [`SolveError::DimensionMismatch`] unless `a` is `n × n` (the new matrix of
/// `update_values` against the size a solver was prepared for).
///
/// # Errors
/// [`SolveError::DimensionMismatch`] with `len = n`.
pub fn check_size(n: usize, a: &CsrMatrix) -> Result<(), SolveError> {
    if a.nrows() == n && a.ncols() == n {
        Ok(())
    } else {
        Err(SolveError::DimensionMismatch {
            rows: a.nrows(),
            cols: a.ncols(),
            len: n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparse::SparsityPattern;

    fn matrix(rows: usize, cols: usize) -> CsrMatrix {
        let pattern = SparsityPattern::try_new(rows, cols, vec![0; rows + 1], vec![]).unwrap();
        CsrMatrix::try_from_pattern_and_values(pattern.into(), vec![]).unwrap()
    }

    #[test]
    fn memory_fits_up_to_the_limit_in_mib() {
        assert_eq!(MIB, 1_048_576.0);
        assert_eq!(bytes_to_mb(1 << 20), 1.0);
        assert_eq!(mb_to_bytes(1.5), 3 << 19);
        assert_eq!(mb_to_bytes(f64::NAN), 0);
        assert_eq!(mb_to_bytes(-1.0), 0);
        assert_eq!(mb_to_bytes(1e300), u64::MAX);
        // Exactly the limit fits; one byte more does not.
        check_memory_bytes(Some(1.0), 1 << 20, || unreachable!()).unwrap();
        match check_memory_bytes(Some(1.0), (1 << 20) + 1, || "a factor".into()) {
            Err(SolveError::MemoryBudget {
                what,
                needed_mb,
                limit_mb,
            }) => {
                assert_eq!(what, "a factor");
                assert!(needed_mb > 1.0 && needed_mb < 1.001, "{needed_mb}");
                assert_eq!(limit_mb, 1.0);
            }
            other => panic!("expected MemoryBudget, got {other:?}"),
        }
        // No limit: anything fits; a decimal megabyte (10⁶ bytes) fits in 1 MB.
        check_memory(None, f64::INFINITY, || unreachable!()).unwrap();
        check_memory_bytes(Some(1.0), 1_000_000, || unreachable!()).unwrap();
    }

    #[test]
    fn dimensions_name_the_offending_length() {
        let square = matrix(3, 3);
        check_system(&square, &[0.0; 3], &[0.0; 3]).unwrap();
        check_size(3, &square).unwrap();
        let mismatch = |r: Result<(), SolveError>| match r {
            Err(SolveError::DimensionMismatch { rows, cols, len }) => (rows, cols, len),
            other => panic!("expected DimensionMismatch, got {other:?}"),
        };
        assert_eq!(
            mismatch(check_system(&square, &[0.0; 2], &[0.0; 3])),
            (3, 3, 2)
        );
        assert_eq!(
            mismatch(check_system(&square, &[0.0; 3], &[0.0; 4])),
            (3, 3, 4)
        );
        assert_eq!(mismatch(check_square(&matrix(2, 3))), (2, 3, 3));
        assert_eq!(mismatch(check_system(&matrix(2, 3), &[], &[])), (2, 3, 3));
        assert_eq!(mismatch(check_size(4, &square)), (3, 3, 4));
    }
}
