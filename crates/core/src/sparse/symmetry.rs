//! Symmetry and diagonal tests: the checks that decide whether a matrix may take a Cholesky
//! factorisation. Both run in parallel over fixed chunks of rows and allocate nothing; their
//! answers do not depend on the thread count (maxima, counts and conjunctions only).

use rayon::prelude::*;

use super::CsrMatrix;

/// Rows per parallel work item.
const ROW_CHUNK: usize = 8192;

/// What one chunk of rows contributed to [`CsrMatrix::is_symmetric`].
#[derive(Clone, Copy)]
struct Mirrors {
    /// Every entry above the diagonal has a stored mirror, and no difference is NaN.
    matched: bool,
    upper: usize,
    lower: usize,
    /// `max |a_ij|` over the chunk's entries.
    scale: f64,
    /// `max |a_ij - a_ji|` over the chunk's entries above the diagonal.
    worst: f64,
}

impl Mirrors {
    const EMPTY: Self = Self {
        matched: true,
        upper: 0,
        lower: 0,
        scale: 0.0,
        worst: 0.0,
    };

    fn join(self, other: Self) -> Self {
        Self {
            matched: self.matched && other.matched,
            upper: self.upper + other.upper,
            lower: self.lower + other.lower,
            scale: self.scale.max(other.scale),
            worst: self.worst.max(other.worst),
        }
    }
}

impl CsrMatrix {
    /// Whether `|a_ij - a_ji| <= tol * max|a|` for all entries (and the pattern is symmetric).
    ///
    /// One pass: every entry above the diagonal looks up its mirror (a binary search in the
    /// mirror's row), and as many entries lie below the diagonal as above, so each lower entry
    /// is some upper entry's mirror. Parallel over chunks of rows for large matrices.
    pub fn is_symmetric(&self, rel_tol: f64) -> bool {
        if self.nrows() != self.ncols() {
            return false;
        }
        let m = (0..self.nrows().div_ceil(ROW_CHUNK))
            .into_par_iter()
            .map(|c| self.mirrors(c * ROW_CHUNK..((c + 1) * ROW_CHUNK).min(self.nrows())))
            .reduce(|| Mirrors::EMPTY, Mirrors::join);
        m.matched && m.upper == m.lower && m.worst <= rel_tol * m.scale
    }

    fn mirrors(&self, rows: std::ops::Range<usize>) -> Mirrors {
        let p = &*self.pattern;
        let mut m = Mirrors::EMPTY;
        for i in rows {
            let (start, end) = (p.row_ptr[i], p.row_ptr[i + 1]);
            for (&j, &v) in p.col_idx[start..end].iter().zip(&self.values[start..end]) {
                let j = j as usize;
                m.scale = m.scale.max(v.abs());
                if j < i {
                    m.lower += 1;
                } else if j > i {
                    m.upper += 1;
                    let Some(k) = p.find(j, i) else {
                        m.matched = false;
                        return m;
                    };
                    let d = (v - self.values[k]).abs();
                    // NaN entries are not symmetric.
                    if d.is_nan() {
                        m.matched = false;
                        return m;
                    }
                    m.worst = m.worst.max(d);
                }
            }
        }
        m
    }

    /// Whether every diagonal entry is stored and strictly positive (NaN is not), in
    /// parallel over chunks of rows; allocates nothing (where [`CsrMatrix::diagonal`] would
    /// allocate the whole diagonal).
    pub fn has_positive_diagonal(&self) -> bool {
        let n = self.nrows().min(self.ncols());
        (0..n.div_ceil(ROW_CHUNK))
            .into_par_iter()
            .all(|c| (c * ROW_CHUNK..((c + 1) * ROW_CHUNK).min(n)).all(|i| self.get(i, i) > 0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tridiagonal(n: usize, lower: f64, upper: f64) -> CsrMatrix {
        let mut entries = Vec::new();
        for i in 0..n {
            entries.push((i, i, 2.0));
            if i > 0 {
                entries.push((i, i - 1, lower));
            }
            if i + 1 < n {
                entries.push((i, i + 1, upper));
            }
        }
        CsrMatrix::try_from_triplets(n, n, &entries).unwrap()
    }

    #[test]
    fn large_matrices_are_judged_over_every_chunk() {
        // Several chunks: the asymmetry sits in the last one.
        let n = 3 * ROW_CHUNK + 17;
        assert!(tridiagonal(n, -1.0, -1.0).is_symmetric(0.0));
        let mut a = tridiagonal(n, -1.0, -1.0);
        let k = a.pattern().find(n - 2, n - 1).unwrap();
        a.values_mut()[k] = -1.0 + 1e-9;
        assert!(!a.is_symmetric(1e-12));
        assert!(a.is_symmetric(1e-8));
        a.values_mut()[k] = f64::NAN;
        assert!(!a.is_symmetric(1.0));
    }

    #[test]
    fn a_missing_mirror_is_not_symmetric() {
        let a =
            CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 1.0), (0, 1, 0.0), (1, 1, 1.0)]).unwrap();
        assert!(!a.is_symmetric(1.0));
        let rect = CsrMatrix::try_from_triplets(1, 2, &[(0, 0, 1.0)]).unwrap();
        assert!(!rect.is_symmetric(1.0));
    }

    #[test]
    fn positive_diagonal_needs_every_entry_stored_and_positive() {
        let n = 2 * ROW_CHUNK + 3;
        assert!(tridiagonal(n, -1.0, -1.0).has_positive_diagonal());
        let mut a = tridiagonal(n, -1.0, -1.0);
        let k = a.pattern().find(n - 1, n - 1).unwrap();
        for bad in [0.0, -1.0, f64::NAN] {
            a.values_mut()[k] = bad;
            assert!(!a.has_positive_diagonal(), "{bad}");
        }
        let missing =
            CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 1.0), (0, 1, 1.0), (1, 0, 1.0)]).unwrap();
        assert!(!missing.has_positive_diagonal());
        assert!(
            CsrMatrix::try_from_triplets(0, 0, &[])
                .unwrap()
                .has_positive_diagonal()
        );
    }
}
