//! How the mesh builder's errors name cells and nodes: [`Names`].

/// Cells and nodes by their 0-based indices in the mesh, or, for a mesh read from a file, by
/// the file's element and node tags (a Gmsh user looks for `element 102`, not for the cell
/// the builder numbered 1).
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    cells: Tags,
    nodes: Tags,
}

/// A list of tags stored as runs of consecutive tags (a Gmsh block's elements and a file's
/// nodes mostly are: a few runs instead of a copy of every tag).
#[derive(Debug, Clone, Default)]
struct Tags {
    /// `(first index, its tag)` of each run, by index.
    runs: Vec<(usize, u64)>,
    len: usize,
}

impl Tags {
    fn new(tags: impl IntoIterator<Item = u64>) -> Self {
        let mut runs: Vec<(usize, u64)> = Vec::new();
        let mut len = 0;
        for tag in tags {
            let continues =
                (runs.last()).is_some_and(|&(i, t)| t.checked_add((len - i) as u64) == Some(tag));
            if !continues {
                runs.push((len, tag));
            }
            len += 1;
        }
        Self { runs, len }
    }

    fn get(&self, i: usize) -> Option<u64> {
        if i >= self.len {
            return None;
        }
        let (first, tag) = self.runs[self.runs.partition_point(|r| r.0 <= i) - 1];
        Some(tag + (i - first) as u64)
    }
}

impl Names {
    /// Names from a file: the element tag of each cell and the tag of each node, in order.
    pub(crate) fn tags(
        cells: impl IntoIterator<Item = u64>,
        nodes: impl IntoIterator<Item = u64>,
    ) -> Self {
        Self {
            cells: Tags::new(cells),
            nodes: Tags::new(nodes),
        }
    }

    /// `cell 3`, or `element 104`.
    pub(crate) fn cell(&self, c: usize) -> String {
        match self.cells.get(c) {
            Some(tag) => format!("element {tag}"),
            None => format!("cell {c}"),
        }
    }

    /// `cells 3 and 5`, or `elements 104 and 106`, the first named first.
    pub(crate) fn cell_pair(&self, a: usize, b: usize) -> String {
        match (self.cells.get(a), self.cells.get(b)) {
            (Some(ta), Some(tb)) => format!("elements {ta} and {tb}"),
            _ => format!("cells {a} and {b}"),
        }
    }

    /// A list of cells: `cells [3, 5, 8]`, or `elements [104, 106, 109]`.
    pub(crate) fn cell_list(&self, cells: impl IntoIterator<Item = usize>) -> String {
        let cells: Vec<usize> = cells.into_iter().collect();
        match (cells.iter().map(|&c| self.cells.get(c))).collect::<Option<Vec<u64>>>() {
            Some(tags) => format!("elements {tags:?}"),
            None => format!("cells {cells:?}"),
        }
    }

    /// Node `n`'s number: its index, or its tag.
    pub(crate) fn node(&self, n: usize) -> u64 {
        self.nodes.get(n).unwrap_or(n as u64)
    }

    /// `[0, 1, 3]`: the nodes' numbers.
    pub(crate) fn nodes(&self, nodes: &[usize]) -> String {
        let numbers: Vec<u64> = nodes.iter().map(|&n| self.node(n)).collect();
        format!("{numbers:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn indices_without_tags_and_tags_with_them() {
        let plain = Names::default();
        assert_eq!(plain.cell(1), "cell 1");
        assert_eq!(plain.cell_pair(0, 2), "cells 0 and 2");
        assert_eq!(plain.cell_list([0, 2, 3]), "cells [0, 2, 3]");
        assert_eq!(plain.nodes(&[0, 1, 3]), "[0, 1, 3]");
        let file = Names::tags([101, 102, 103, 104], [11, 12, 13, 14]);
        assert_eq!(file.cell(1), "element 102");
        assert_eq!(file.cell_pair(0, 2), "elements 101 and 103");
        assert_eq!(file.cell_list([0, 2, 3]), "elements [101, 103, 104]");
        assert_eq!(file.nodes(&[0, 1, 3]), "[11, 12, 14]");
        assert_eq!(file.node(2), 13);
        // Runs: consecutive tags are stored once; beyond the list, the index.
        let gaps = Names::tags([5, 6, 7, 20, 21, 3, 9], []);
        assert_eq!(gaps.cells.runs.len(), 4);
        let found: Vec<String> = (0..8).map(|c| gaps.cell(c)).collect();
        assert_eq!(
            found,
            [
                "element 5",
                "element 6",
                "element 7",
                "element 20",
                "element 21",
                "element 3",
                "element 9",
                "cell 7"
            ]
        );
        assert_eq!(gaps.node(4), 4);
    }
}
