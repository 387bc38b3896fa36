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
pub(crate) fn colour_blocks(mesh: &MeshView<'_>, block_cells: usize) -> Vec<Vec<Range<usize>>> {
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
