//! [`ParallelAssembler`]: the block-coloured, lock-free multi-threaded assembler.

use std::ops::Range;
use std::sync::Arc;

use femscale_core::{
    Assembler, AssemblyStats, EllipticForm, LinearSystem, MeshView, Result, SparsityPattern,
};
use rayon::prelude::*;
use tracing::instrument;

use crate::assemble::{
    CellPass, DEFAULT_BLOCK_CELLS, DEFAULT_QUADRATURE_DEGREE, SharedTarget, prologue, rhs_prologue,
    stats,
};
use crate::boundary::{add_boundary_rhs, add_boundary_terms};
use crate::coefficients::Scratch;
use crate::pattern::build_pattern;

/// Multi-threaded assembly on the current rayon pool (lock-free, by block colouring).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParallelAssembler {
    /// Polynomial degree the quadrature integrates exactly (default 2; quadratic elements use at
    /// least 4).
    pub quadrature_degree: usize,
    /// Cells per block (default [`DEFAULT_BLOCK_CELLS`]).
    pub block_cells: usize,
}

impl Default for ParallelAssembler {
    fn default() -> Self {
        Self {
            quadrature_degree: DEFAULT_QUADRATURE_DEGREE,
            block_cells: DEFAULT_BLOCK_CELLS,
        }
    }
}

/// Greedy colouring of cell blocks so that blocks of one colour share no node. Returns the
/// blocks (as cell ranges) grouped by colour.
///
/// Meshes whose cells are numbered along their nodes (generated ones, renumbered ones) take
/// [`colour_by_node_ranges`]; the others the exact greedy colouring by node, which marks every
/// node (8 bytes each) in one serial pass over the cells.
pub(crate) fn colour_blocks(mesh: &MeshView<'_>, block_cells: usize) -> Vec<Vec<Range<usize>>> {
    if let Some(colours) = colour_by_node_ranges(mesh, block_cells) {
        return colours;
    }
    let n = mesh.num_cells();
    let mut node_colours = vec![0u64; mesh.num_nodes()];
    // Colour 64 stands for "conflicts with all 64 colours": those blocks run alone, in order.
    let mut colours: Vec<Vec<Range<usize>>> = vec![Vec::new(); 65];
    for start in (0..n).step_by(block_cells) {
        let cells = start..(start + block_cells).min(n);
        let block_nodes =
            &mesh.cells[cells.start * mesh.nodes_per_cell()..cells.end * mesh.nodes_per_cell()];
        let used = block_nodes.iter().fold(0u64, |m, &v| m | node_colours[v]);
        let colour = (!used).trailing_zeros() as usize;
        if colour < 64 {
            for &v in block_nodes {
                node_colours[v] |= 1 << colour;
            }
        }
        colours[colour].push(cells);
    }
    let serial = colours.pop().unwrap_or_default();
    colours.retain(|c| !c.is_empty());
    colours.extend(serial.into_iter().map(|b| vec![b]));
    colours
}

/// At most this many colours from node ranges; a mesh that needs more is coloured by node.
const MAX_RANGE_COLOURS: usize = 8;

/// Colours blocks by the range of node numbers each one touches: blocks whose ranges are
/// disjoint share no node. When the ranges' first nodes do not decrease from block to block,
/// a colour is free for a block exactly when the highest node of its blocks so far lies below
/// the block's lowest (interval colouring, greedy in block order). The ranges come from one
/// parallel pass over the cells; no array per node. `None` when the first nodes decrease
/// somewhere or more than [`MAX_RANGE_COLOURS`] colours would be needed.
fn colour_by_node_ranges(
    mesh: &MeshView<'_>,
    block_cells: usize,
) -> Option<Vec<Vec<Range<usize>>>> {
    let (n, per_cell) = (mesh.num_cells(), mesh.nodes_per_cell());
    let blocks: Vec<Range<usize>> = (0..n)
        .step_by(block_cells)
        .map(|start| start..(start + block_cells).min(n))
        .collect();
    let ranges: Vec<(usize, usize)> = blocks
        .par_iter()
        .map(|cells| {
            let nodes = &mesh.cells[cells.start * per_cell..cells.end * per_cell];
            nodes
                .iter()
                .fold((usize::MAX, 0), |(lo, hi), &v| (lo.min(v), hi.max(v)))
        })
        .collect();
    if ranges.windows(2).any(|w| w[1].0 < w[0].0) {
        return None;
    }
    // Per colour: the highest node of its blocks so far, and the blocks.
    let mut reach: Vec<usize> = Vec::new();
    let mut colours: Vec<Vec<Range<usize>>> = Vec::new();
    for (cells, (lo, hi)) in blocks.into_iter().zip(ranges) {
        let colour = match reach.iter().position(|&r| r < lo) {
            Some(c) => c,
            None if reach.len() < MAX_RANGE_COLOURS => {
                colours.push(Vec::new());
                reach.push(0);
                reach.len() - 1
            }
            None => return None,
        };
        reach[colour] = hi;
        colours[colour].push(cells);
    }
    Some(colours)
}

/// Runs `pass` over the blocks of each colour concurrently, colour after colour.
fn coloured(
    pass: &CellPass<'_>,
    colours: &[Vec<Range<usize>>],
    block_cells: usize,
    shared: SharedTarget,
) -> Result<()> {
    let span = tracing::Span::current();
    for blocks in colours {
        blocks.par_iter().try_for_each_init(
            || {
                (
                    Scratch::new(block_cells * pass.element.nq, pass.coefs),
                    span.clone(),
                )
            },
            |(scratch, span), cells| {
                let _entered = span.enter();
                let mut target = shared;
                pass.block(cells.clone(), scratch, &mut target)
            },
        )?;
    }
    Ok(())
}

impl Assembler for ParallelAssembler {
    fn name(&self) -> &'static str {
        "parallel"
    }

    #[instrument(
        skip_all,
        name = "fem.assemble.pattern",
        fields(assembler = "parallel")
    )]
    fn pattern(&self, mesh: &MeshView<'_>) -> Result<SparsityPattern> {
        build_pattern(mesh, true)
    }

    #[instrument(skip_all, name = "fem.assemble.values", fields(assembler = "parallel", cells = mesh.num_cells()))]
    fn assemble_into(
        &self,
        mesh: &MeshView<'_>,
        form: &EllipticForm,
        system: &mut LinearSystem,
    ) -> Result<AssemblyStats> {
        let (coefs, element) = prologue(mesh, form, system, self.quadrature_degree)?;
        let block_cells = self.block_cells.clamp(1, mesh.num_cells().max(1));
        let pattern = system.matrix.pattern().clone();
        let colours = colour_blocks(mesh, block_cells);
        let LinearSystem { matrix, rhs } = system;
        let values = matrix.values_mut();
        values.par_iter_mut().for_each(|v| *v = 0.0);
        rhs.fill(0.0);
        let shared = SharedTarget {
            values: values.as_mut_ptr(),
            values_len: values.len(),
            rhs: rhs.as_mut_ptr(),
            rhs_len: rhs.len(),
        };
        let pass = CellPass {
            mesh,
            pattern: &pattern,
            element: &element,
            coefs: &coefs,
            with_matrix: true,
        };
        coloured(&pass, &colours, block_cells, shared)?;
        let facets = add_boundary_terms(mesh, form, system)?;
        Ok(stats(self.name(), true, mesh, &element, &coefs, facets))
    }

    #[instrument(skip_all, name = "fem.assemble.rhs", fields(assembler = "parallel", cells = mesh.num_cells()))]
    fn assemble_rhs(
        &self,
        mesh: &MeshView<'_>,
        form: &EllipticForm,
        pattern: &Arc<SparsityPattern>,
        rhs: &mut [f64],
    ) -> Result<AssemblyStats> {
        let (coefs, element) = rhs_prologue(mesh, form, rhs, self.quadrature_degree)?;
        rhs.fill(0.0);
        if coefs.has_source() {
            let block_cells = self.block_cells.clamp(1, mesh.num_cells().max(1));
            let shared = SharedTarget {
                values: std::ptr::NonNull::<f64>::dangling().as_ptr(),
                values_len: 0,
                rhs: rhs.as_mut_ptr(),
                rhs_len: rhs.len(),
            };
            let pass = CellPass {
                mesh,
                pattern,
                element: &element,
                coefs: &coefs,
                with_matrix: false,
            };
            coloured(
                &pass,
                &colour_blocks(mesh, block_cells),
                block_cells,
                shared,
            )?;
        }
        let facets = add_boundary_rhs(mesh, form, rhs)?;
        Ok(stats(self.name(), true, mesh, &element, &coefs, facets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use femscale_mesh::{Mesh, RectangleSpec};

    /// Every cell in exactly one block, and no node shared by two blocks of one colour.
    fn assert_valid(mesh: &MeshView<'_>, colours: &[Vec<Range<usize>>]) {
        let mut covered = vec![0u8; mesh.num_cells()];
        for blocks in colours {
            let mut owner = vec![usize::MAX; mesh.num_nodes()];
            for (b, cells) in blocks.iter().enumerate() {
                for c in cells.clone() {
                    covered[c] += 1;
                    for &v in mesh.cell(c) {
                        assert!(owner[v] == usize::MAX || owner[v] == b, "node {v} shared");
                        owner[v] = b;
                    }
                }
            }
        }
        assert!(covered.iter().all(|&k| k == 1));
    }

    #[test]
    fn ordered_meshes_are_coloured_by_node_ranges_and_others_by_node() {
        let line = Mesh::interval(0.0, 1.0, 10_000).unwrap();
        let square = Mesh::rectangle(&RectangleSpec {
            nx: 60,
            ny: 40,
            ..Default::default()
        })
        .unwrap();
        for (mesh, block) in [(&line, 64), (&line, 1), (&square, 64), (&square, 200)] {
            let view = mesh.view();
            let colours = colour_by_node_ranges(&view, block).expect("an ordered mesh");
            assert!(colours.len() <= MAX_RANGE_COLOURS);
            assert_valid(&view, &colours);
            assert_valid(&view, &colour_blocks(&view, block));
        }
        // Blocks of 7 triangles: each one's node range reaches over a grid line, across more
        // blocks than there are range colours; the exact colouring takes over.
        let view = square.view();
        assert!(colour_by_node_ranges(&view, 7).is_none());
        assert_valid(&view, &colour_blocks(&view, 7));
        // Cells in reverse order: the first nodes decrease, the exact colouring takes over.
        let view = line.view();
        let reversed: Vec<usize> = view.cells.chunks(2).rev().flatten().copied().collect();
        let reversed = MeshView {
            cells: &reversed,
            ..view
        };
        assert!(colour_by_node_ranges(&reversed, 64).is_none());
        assert_valid(&reversed, &colour_blocks(&reversed, 64));
    }
}
