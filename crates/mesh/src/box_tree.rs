//! A bounding-box tree for point queries: [`BoxTree`].

use rayon::prelude::*;

/// An axis-aligned box: lowest and highest corner.
pub(crate) type Bounds = ([f64; 3], [f64; 3]);

/// Leaves of the tree hold this many items (the last one fewer).
const LEAF: usize = 8;

/// Items with boxes, sorted along a Morton (Z-order) curve of the boxes' centres, grouped in
/// leaves of [`LEAF`] consecutive items, and pairs of boxes merged level by level up to one
/// root. Point queries in O(log n) on meshes graded over any range of sizes, built in one
/// sort.
pub(crate) struct BoxTree<T> {
    items: Vec<(T, Bounds)>,
    /// `levels[0]` holds the leaves' boxes; `levels[k + 1][i]` merges `levels[k][2i]` and
    /// `levels[k][2i + 1]`; the last level is the root.
    levels: Vec<Vec<Bounds>>,
}

fn holds((lo, hi): &Bounds, p: [f64; 3]) -> bool {
    (0..3).all(|d| lo[d] <= p[d] && p[d] <= hi[d])
}

fn merge(a: &Bounds, b: &Bounds) -> Bounds {
    let (mut lo, mut hi) = *a;
    for d in 0..3 {
        lo[d] = lo[d].min(b.0[d]);
        hi[d] = hi[d].max(b.1[d]);
    }
    (lo, hi)
}

impl<T: Send> BoxTree<T> {
    /// The tree of `items`, each in the box `bounds` gives it.
    pub(crate) fn new(items: Vec<T>, bounds: impl Fn(&T) -> Bounds + Sync) -> Self {
        let mut items: Vec<(T, Bounds)> = (items.into_iter())
            .map(|item| {
                let b = bounds(&item);
                (item, b)
            })
            .collect();
        let all = (items.iter())
            .map(|(_, b)| *b)
            .reduce(|a, b| merge(&a, &b))
            .unwrap_or(([0.0; 3], [0.0; 3]));
        let code = |(_, (lo, hi)): &(T, Bounds)| {
            let mut cell = [0u64; 3];
            for d in 0..3 {
                let width = all.1[d] - all.0[d];
                let t = if width > 0.0 {
                    (0.5 * (lo[d] + hi[d]) - all.0[d]) / width
                } else {
                    0.0
                };
                // NaN (an infinite width) clamps to 0 through the cast.
                cell[d] = (t.clamp(0.0, 1.0) * 2_097_151.0) as u64;
            }
            morton(cell)
        };
        items.par_sort_by_cached_key(code);
        let mut levels = vec![
            (items.chunks(LEAF))
                .map(|leaf| {
                    (leaf.iter().map(|(_, b)| *b))
                        .reduce(|a, b| merge(&a, &b))
                        .unwrap_or(all)
                })
                .collect::<Vec<Bounds>>(),
        ];
        while let Some(last) = levels.last().filter(|l| l.len() > 1) {
            let up = (last.chunks(2))
                .map(|pair| pair.iter().skip(1).fold(pair[0], |a, b| merge(&a, b)))
                .collect();
            levels.push(up);
        }
        Self { items, levels }
    }

    /// Number of items.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The first item (in tree order) whose box holds `p` and that satisfies `hit`; adds the
    /// boxes and items it tested to `tested`.
    pub(crate) fn find(
        &self,
        p: [f64; 3],
        tested: &mut usize,
        hit: impl Fn(&T) -> bool,
    ) -> Option<&T> {
        if self.items.is_empty() {
            return None;
        }
        // (level, index) pairs; at most two pending per level.
        let mut stack = [(0usize, 0usize); 128];
        let mut top = 0;
        let root = self.levels.len() - 1;
        if holds(&self.levels[root][0], p) {
            stack[0] = (root, 0);
            top = 1;
        }
        while top > 0 {
            top -= 1;
            let (level, i) = stack[top];
            *tested += 1;
            if level == 0 {
                let leaf = &self.items[LEAF * i..(LEAF * (i + 1)).min(self.items.len())];
                *tested += leaf.len();
                if let Some((item, _)) = leaf.iter().find(|(item, b)| holds(b, p) && hit(item)) {
                    return Some(item);
                }
                continue;
            }
            let below = &self.levels[level - 1];
            for child in [2 * i + 1, 2 * i] {
                if child < below.len() && holds(&below[child], p) {
                    stack[top] = (level - 1, child);
                    top += 1;
                }
            }
        }
        None
    }
}

/// Interleaves the low 21 bits of three numbers (a 63-bit Morton code).
fn morton(cell: [u64; 3]) -> u64 {
    let spread = |mut x: u64| {
        x &= 0x1f_ffff;
        x = (x | (x << 32)) & 0x1f_0000_0000_ffff;
        x = (x | (x << 16)) & 0x1f_0000_ff00_00ff;
        x = (x | (x << 8)) & 0x100f_00f0_0f00_f00f;
        x = (x | (x << 4)) & 0x10c3_0c30_c30c_30c3;
        x = (x | (x << 2)) & 0x1249_2492_4924_9249;
        x
    };
    spread(cell[0]) | (spread(cell[1]) << 1) | (spread(cell[2]) << 2)
}
