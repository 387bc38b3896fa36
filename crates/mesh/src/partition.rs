//! Partitioning meshes for distributed solves: recursive coordinate bisection
//! ([`recursive_bisection`], [`recursive_bisection_sized`]) and the mesh renumbered so that each
//! part's nodes are a contiguous block ([`Mesh::partitioned`]).

use femscale_core::{Error, Result};

use crate::mesh::Mesh;

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
    let n = points.len();
    let sizes: Vec<usize> = (0..parts)
        .map(|p| (n * (p + 1)).div_ceil(parts) - (n * p).div_ceil(parts))
        .collect();
    recursive_bisection_sized(points, &sizes)
}

/// [`recursive_bisection`] into parts of the given sizes (`sizes[p]` points in part `p`,
/// summing to the number of points): each cut gives each side the sum of its parts' sizes.
///
/// # Errors
/// [`Error::InvalidInput`] for no part, sizes that do not add up to the points, or a
/// non-finite coordinate.
pub fn recursive_bisection_sized(points: &[[f64; 3]], sizes: &[usize]) -> Result<Vec<usize>> {
    if sizes.is_empty() {
        return Err(Error::invalid(
            "parts",
            "a partition needs at least one part",
        ));
    }
    let total = sizes.iter().try_fold(0usize, |a, &s| a.checked_add(s));
    if total != Some(points.len()) {
        return Err(Error::invalid(
            "sizes",
            format!(
                "the part sizes do not add up to the {} points",
                points.len()
            ),
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
    bisect(points, &mut order, 0, sizes, &mut part);
    Ok(part)
}

fn bisect(
    points: &[[f64; 3]],
    items: &mut [usize],
    first: usize,
    sizes: &[usize],
    out: &mut [usize],
) {
    if sizes.len() == 1 || items.is_empty() {
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
    let left_parts = sizes.len() / 2;
    let left: usize = sizes[..left_parts].iter().sum();
    if left > 0 && left < items.len() {
        items.select_nth_unstable_by(left, |&a, &b| {
            points[a][axis].total_cmp(&points[b][axis]).then(a.cmp(&b))
        });
    }
    let (left_items, right_items) = items.split_at_mut(left.min(items.len()));
    bisect(points, left_items, first, &sizes[..left_parts], out);
    bisect(
        points,
        right_items,
        first + left_parts,
        &sizes[left_parts..],
        out,
    );
}

impl Mesh {
    /// The mesh with its nodes renumbered so that part `p` of a recursive coordinate bisection
    /// into `sizes.len()` parts of `sizes[p]` nodes holds the `p`-th block of node numbers
    /// (each part's nodes keep their relative order), and the permutation `new_of_old`. A
    /// distributed solve whose ranks own contiguous blocks of rows of these sizes then owns
    /// compact parts of the domain, whatever the original numbering (refined or read meshes
    /// number nodes far from their neighbours).
    ///
    /// # Errors
    /// As [`recursive_bisection_sized`].
    pub fn partitioned(&self, sizes: &[usize]) -> Result<(Mesh, Vec<usize>)> {
        let view = self.view();
        let points: Vec<[f64; 3]> = (0..self.num_nodes()).map(|i| view.point(i)).collect();
        let part = recursive_bisection_sized(&points, sizes)?;
        Ok(self.grouped_by_part(&part, sizes))
    }

    /// The mesh with its nodes renumbered so that the nodes of part `p` (`part[i]` is node
    /// `i`'s part, `sizes[p]` nodes in part `p`) hold the `p`-th block of node numbers, in
    /// their relative order, and the permutation `new_of_old`.
    fn grouped_by_part(&self, part: &[usize], sizes: &[usize]) -> (Mesh, Vec<usize>) {
        let mut next: Vec<usize> = sizes
            .iter()
            .scan(0, |start, &s| {
                let first = *start;
                *start += s;
                Some(first)
            })
            .collect();
        let new_of_old: Vec<usize> = part
            .iter()
            .map(|&p| {
                let new = next[p];
                next[p] += 1;
                new
            })
            .collect();
        (self.renumbered(&new_of_old), new_of_old)
    }

    /// The mesh with its nodes renumbered by a METIS k-way partition of its node graph (two
    /// nodes are adjacent when a cell holds both: the matrix's graph) into `parts` parts, each
    /// part a contiguous block of node numbers; the permutation `new_of_old` and the parts'
    /// sizes. METIS balances the sizes within 3 % and minimises the cut (the halo of a
    /// distributed product); the same mesh gives the same parts on every rank and in every run
    /// (fixed seed).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (`partition`) for zero parts, more parts than nodes, a graph too
    /// large for METIS's 32-bit indices, or a METIS failure.
    #[cfg(feature = "metis")]
    pub fn partitioned_metis(&self, parts: usize) -> Result<(Mesh, Vec<usize>, Vec<usize>)> {
        let part = crate::metis_partition::node_parts(self, parts)?;
        let mut sizes = vec![0usize; parts];
        for &p in &part {
            sizes[p] += 1;
        }
        if sizes.contains(&0) {
            return Err(Error::invalid(
                "partition",
                format!("METIS left a part of the {parts} parts empty"),
            ));
        }
        let (mesh, new_of_old) = self.grouped_by_part(&part, &sizes);
        Ok((mesh, new_of_old, sizes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RectangleSpec;

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
            let mut sizes = vec![0usize; parts];
            for &p in &part {
                sizes[p] += 1;
            }
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(hi - lo <= 1, "{parts}: {sizes:?}");
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
        assert!(recursive_bisection(&[], 3).unwrap().is_empty());
        // Empty parts stay empty, one point per part of size one.
        let three = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]];
        let part = recursive_bisection_sized(&three, &[1, 0, 1, 0, 1]).unwrap();
        assert_eq!(part, vec![0, 2, 4]);
    }

    #[test]
    fn sized_parts_get_exactly_their_sizes_and_bad_input_is_refused() {
        let points = grid(10);
        let sizes = [34, 33, 33];
        let part = recursive_bisection_sized(&points, &sizes).unwrap();
        for (p, &s) in sizes.iter().enumerate() {
            assert_eq!(part.iter().filter(|&&q| q == p).count(), s);
        }
        assert!(recursive_bisection_sized(&points, &[50, 49]).is_err());
        assert!(recursive_bisection_sized(&points, &[]).is_err());
        assert!(recursive_bisection(&points, 0).is_err());
        let mut bad = points.clone();
        bad[3][1] = f64::NAN;
        assert!(recursive_bisection(&bad, 2).is_err());
    }

    #[test]
    fn a_partitioned_mesh_has_each_part_contiguous_and_the_same_geometry() {
        let mesh = Mesh::rectangle(&RectangleSpec {
            nx: 9,
            ny: 7,
            ..Default::default()
        })
        .unwrap();
        let n = mesh.num_nodes();
        let sizes = [n / 3 + 1, n / 3, n - n / 3 - n / 3 - 1];
        let (parted, new_of_old) = mesh.partitioned(&sizes).unwrap();
        let (a, b) = (mesh.view(), parted.view());
        for c in 0..mesh.num_cells() {
            for (&old, &new) in a.cell(c).iter().zip(b.cell(c)) {
                assert_eq!(new_of_old[old], new);
                assert_eq!(a.point(old), b.point(new));
            }
        }
        // Part 0 is the nodes 0..sizes[0]: compact, so its x- or y-extent is about a third.
        let xs: Vec<f64> = (0..sizes[0]).map(|i| b.point(i)[0]).collect();
        let span = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            - xs.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(span < 0.5, "{span}");
    }
}
