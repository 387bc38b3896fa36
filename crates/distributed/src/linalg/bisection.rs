//! Recursive coordinate bisection: [`recursive_bisection`] splits points (mesh nodes or cell
//! centroids) into compact parts of equal size; [`Renumbering`] numbers each part's items
//! contiguously, as a [`RowPartition`] needs.

use femscale_core::{CsrMatrix, Error, Result};

use super::RowPartition;

/// Splits `points` into `parts` parts of sizes differing by at most one: the set is cut
/// across its longest extent at the position that gives each side its share of the parts,
/// recursively (Berger–Bokhari recursive coordinate bisection). Compact parts, so the
/// interfaces (the halo of a product) are short: on an `m × m` grid four parts are 2 × 2
/// blocks with `2m` interface points, against `3m` for four strips.
///
/// Deterministic: ties in a coordinate are broken by the point's index, so the same points
/// give the same parts on every rank and in every run.
///
/// # Errors
/// [`Error::InvalidInput`] for zero parts or a non-finite coordinate.
pub fn recursive_bisection(points: &[[f64; 3]], parts: usize) -> Result<Vec<usize>> {
    if parts == 0 {
        return Err(Error::invalid(
            "parts",
            "a partition needs at least one part",
        ));
    }
    if let Some(i) = points.iter().position(|p| p.iter().any(|c| !c.is_finite())) {
        return Err(Error::invalid(
            "points",
            format!("point {i} has a non-finite coordinate: {:?}", points[i]),
        ));
    }
    let mut order: Vec<usize> = (0..points.len()).collect();
    let mut part = vec![0; points.len()];
    bisect(points, &mut order, 0, parts, &mut part);
    Ok(part)
}

fn bisect(points: &[[f64; 3]], items: &mut [usize], first: usize, parts: usize, out: &mut [usize]) {
    if parts == 1 || items.len() <= 1 {
        for &i in items.iter() {
            out[i] = first;
        }
        return;
    }
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for &i in items.iter() {
        for d in 0..3 {
            lo[d] = lo[d].min(points[i][d]);
            hi[d] = hi[d].max(points[i][d]);
        }
    }
    let axis = (0..3)
        .max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])).then(b.cmp(&a)))
        .unwrap_or(0);
    let left_parts = parts / 2;
    // The left side's share of the items, rounded so that sizes stay within one of each other.
    let left = (items.len() * left_parts).div_ceil(parts).min(items.len());
    if left > 0 && left < items.len() {
        items.select_nth_unstable_by(left, |&a, &b| {
            points[a][axis].total_cmp(&points[b][axis]).then(a.cmp(&b))
        });
    }
    let (left_items, right_items) = items.split_at_mut(left);
    bisect(points, left_items, first, left_parts, out);
    bisect(
        points,
        right_items,
        first + left_parts,
        parts - left_parts,
        out,
    );
}

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
            row.extend((ptr[old_row]..ptr[old_row + 1]).map(|k| (self.new[cols[k]], values[k])));
            row.sort_unstable_by_key(|e| e.0);
            new_cols.extend(row.iter().map(|e| e.0));
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

    fn grid(m: usize) -> Vec<[f64; 3]> {
        (0..m * m)
            .map(|k| [(k % m) as f64, (k / m) as f64, 0.0])
            .collect()
    }

    #[test]
    fn parts_are_balanced_compact_and_deterministic() {
        let points = grid(12);
        for parts in 1..=7 {
            let part = recursive_bisection(&points, parts).unwrap();
            let mut sizes = vec![0; parts];
            for &p in &part {
                sizes[p] += 1;
            }
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(max - min <= 1, "{parts} parts: {sizes:?}");
            assert_eq!(part, recursive_bisection(&points, parts).unwrap());
        }
        // Four parts of a square are its quadrants: each point's part is its quadrant's.
        let part = recursive_bisection(&points, 4).unwrap();
        let quadrant = |p: &[f64; 3]| (usize::from(p[0] >= 6.0), usize::from(p[1] >= 6.0));
        for (a, pa) in points.iter().zip(&part) {
            for (b, pb) in points.iter().zip(&part) {
                assert_eq!(quadrant(a) == quadrant(b), pa == pb, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(recursive_bisection(&grid(2), 0).is_err());
        assert!(recursive_bisection(&[[f64::NAN, 0.0, 0.0]], 2).is_err());
        assert!(recursive_bisection(&[], 3).unwrap().is_empty());
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
