//! Serial and parallel assembly of `-div(k grad u) + c u = f` into a fixed pattern.
//!
//! Both assemblers run the same per-cell kernel over blocks of consecutive cells; fields are
//! evaluated once per block in batch. The parallel assembler colours the blocks so that no two
//! blocks of one colour share a node, then runs each colour's blocks concurrently: every matrix
//! row and right-hand-side entry has one writer at a time, so no locks or atomics are needed,
//! and the result is independent of the thread count. Sums reach each entry in a different
//! order than in the serial pass, so values agree to rounding, patterns exactly.

use std::ops::Range;
use std::sync::Arc;

use femscale_core::{
    Assembler, AssemblyStats, EllipticForm, Error, LinearSystem, MeshView, Result, SparsityPattern,
};
use tracing::instrument;

use crate::boundary::{add_boundary_rhs, add_boundary_terms, check_boundary_parts};
use crate::coefficients::{Coefficients, Scratch};
use crate::element::{Element, Jacobian, Tables, cell_coords, with_shape};
use crate::pattern::build_pattern;

/// Cells per block: large enough to amortise batched field evaluation and task overhead,
/// small enough for many blocks per colour.
pub const DEFAULT_BLOCK_CELLS: usize = 512;

/// Quadrature degree used by default: exact for P1 mass matrices and linear data times basis.
/// Quadratic elements integrate with at least degree 4 (their mass matrices).
pub const DEFAULT_QUADRATURE_DEGREE: usize = 2;

/// Where cell contributions go: the pattern's value array and the right-hand side.
pub(crate) trait Target {
    /// Adds `v` to value slot `k`.
    fn add_value(&mut self, k: usize, v: f64);
    /// Adds `v` to right-hand-side entry `i`.
    fn add_rhs(&mut self, i: usize, v: f64);
}

pub(crate) struct SliceTarget<'a> {
    values: &'a mut [f64],
    rhs: &'a mut [f64],
}

impl Target for SliceTarget<'_> {
    #[inline]
    fn add_value(&mut self, k: usize, v: f64) {
        self.values[k] += v;
    }
    #[inline]
    fn add_rhs(&mut self, i: usize, v: f64) {
        self.rhs[i] += v;
    }
}

/// Raw views of the value array and right-hand side shared by the blocks of one colour.
#[derive(Clone, Copy)]
pub(crate) struct SharedTarget {
    pub(crate) values: *mut f64,
    pub(crate) values_len: usize,
    pub(crate) rhs: *mut f64,
    pub(crate) rhs_len: usize,
}

// SAFETY: blocks of one colour share no node, so they write disjoint rows of `values` and
// disjoint entries of `rhs`; colours run one after another (see `ParallelAssembler`).
unsafe impl Send for SharedTarget {}
unsafe impl Sync for SharedTarget {}

impl Target for SharedTarget {
    #[inline]
    fn add_value(&mut self, k: usize, v: f64) {
        assert!(k < self.values_len);
        // SAFETY: in bounds (checked above); exclusive per the colouring invariant.
        unsafe { *self.values.add(k) += v }
    }
    #[inline]
    fn add_rhs(&mut self, i: usize, v: f64) {
        assert!(i < self.rhs_len);
        // SAFETY: in bounds (checked above); exclusive per the colouring invariant.
        unsafe { *self.rhs.add(i) += v }
    }
}

/// Integrates the cells in `cells` and adds their contributions to `target`: matrix and load
/// vector, or with `with_matrix = false` the load vector only. `N` nodes per cell, dimension
/// `D`, `G` geometry nodes (see [`Tables`]).
fn assemble_block<const N: usize, const D: usize, const G: usize>(
    pass: &CellPass<'_>,
    cells: Range<usize>,
    scratch: &mut Scratch,
    target: &mut impl Target,
) -> Result<()> {
    let CellPass {
        mesh,
        pattern,
        element,
        coefs,
        with_matrix,
    } = *pass;
    let t = Tables::<N, D, G>::of(element);
    let nq = t.nq;
    if coefs.sampled_fields() > 0 {
        for (i, c) in cells.clone().enumerate() {
            let x = cell_coords::<D, G>(mesh, mesh.cell(c));
            t.map_points(&x, &mut scratch.points[i * nq..(i + 1) * nq]);
        }
        coefs.sample(mesh, cells.clone(), nq, scratch)?;
    }
    let (row_ptr, col_idx) = (pattern.row_ptr(), pattern.col_idx());
    // Affine cells whose gradients vary (order 2 on simplices) with one constant diffusion:
    // the reference stiffness tensor contracted with each cell's metric, no gradients per
    // point (the same rule's integral, rounded differently).
    let tensor = match coefs.constant_diffusion() {
        Some(k) if with_matrix => t.reference_stiffness().map(|tables| (tables, k)),
        _ => None,
    };
    for (i, c) in cells.enumerate() {
        let nodes = mesh.cell(c);
        let x = cell_coords::<D, G>(mesh, nodes);
        let mut ke = [[0.0; N]; N];
        let mut fe = [0.0; N];
        let mut jac = Jacobian::<D>::of(&x, &t.gdphi[0]);
        let mut min_det = jac.det;
        let mut grad = [[0.0; D]; N];
        // For P1 on affine cells the gradients are constant and dx scales with the weight, so
        // the stiffness is (sum_q k_q dx_q) times one Gram matrix of gradients.
        if t.constant_gradients {
            jac.gradients(&t.dphi[0], &mut grad);
        }
        let mut k_integral = 0.0;
        for q in 0..nq {
            if q > 0 && !t.affine {
                jac = Jacobian::of(&x, &t.gdphi[q]);
                min_det = min_det.min(jac.det);
            }
            let dx = t.weights[q] * jac.det;
            let phi = &t.phi[q];
            if with_matrix {
                let k = scratch.k[i * nq + q] * dx;
                if t.constant_gradients {
                    k_integral += k;
                } else if tensor.is_none() {
                    jac.gradients(&t.dphi[q], &mut grad);
                    add_gram(&mut ke, &grad, k);
                }
            }
            if with_matrix && coefs.has_reaction() {
                let cq = scratch.c[i * nq + q] * dx;
                for a in 0..N {
                    for b in a..N {
                        ke[a][b] += cq * phi[a] * phi[b];
                    }
                }
            }
            if coefs.has_source() {
                let fq = scratch.f[i * nq + q] * dx;
                for a in 0..N {
                    fe[a] += fq * phi[a];
                }
            }
        }
        if t.constant_gradients && with_matrix {
            add_gram(&mut ke, &grad, k_integral);
        }
        if let Some((tables, k)) = &tensor {
            add_metric(&mut ke, tables, &jac.metric(), k * jac.det);
        }
        // A non-positive Jacobian at any point means an inverted, degenerate or non-convex cell.
        if min_det.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(Error::Mesh {
                location: None,
                message: format!("cell {c} (nodes {nodes:?}) is degenerate or inverted"),
            });
        }
        for a in 0..N {
            let row = nodes[a];
            target.add_rhs(row, fe[a]);
            if !with_matrix {
                continue;
            }
            let start = row_ptr[row];
            let cols = &col_idx[start..row_ptr[row + 1]];
            for b in 0..N {
                let v = if b >= a { ke[a][b] } else { ke[b][a] };
                // Short rows (P1) are scanned; the long rows of quadratic elements searched.
                // A node beyond `u32` is in no pattern (`build_pattern` refuses such meshes).
                let node = u32::try_from(nodes[b]).unwrap_or(u32::MAX);
                let found = if N <= 8 {
                    cols.iter().position(|&j| j == node)
                } else {
                    cols.binary_search(&node).ok()
                };
                match found {
                    Some(k) => target.add_value(start + k, v),
                    None => return Err(pattern_mismatch(row, nodes[b])),
                }
            }
        }
    }
    Ok(())
}

/// One pass of the cell kernel over the mesh: matrix and load vector, or (`with_matrix =
/// false`) the load vector only.
#[derive(Clone, Copy)]
pub(crate) struct CellPass<'a> {
    pub mesh: &'a MeshView<'a>,
    pub pattern: &'a SparsityPattern,
    pub element: &'a Element,
    pub coefs: &'a Coefficients<'a>,
    pub with_matrix: bool,
}

impl CellPass<'_> {
    /// Integrates `cells` into `target` with the buffers `scratch`.
    pub(crate) fn block(
        &self,
        cells: Range<usize>,
        scratch: &mut Scratch,
        target: &mut impl Target,
    ) -> Result<()> {
        with_shape!(self.element, assemble_block(self, cells, scratch, target))
    }

    /// Integrates every cell, block after block, on this thread.
    fn serial(&self, target: &mut impl Target) -> Result<()> {
        let mut scratch = Scratch::new(DEFAULT_BLOCK_CELLS * self.element.nq, self.coefs);
        let n = self.mesh.num_cells();
        for start in (0..n).step_by(DEFAULT_BLOCK_CELLS) {
            self.block(
                start..(start + DEFAULT_BLOCK_CELLS).min(n),
                &mut scratch,
                target,
            )?;
        }
        Ok(())
    }
}

/// The checks and set-up both assemblers start with: the system fits the mesh, the boundary
/// parts exist, the coefficients are usable, the quadrature degree is supported.
pub(crate) fn prologue<'f>(
    mesh: &MeshView<'_>,
    form: &'f EllipticForm,
    system: &LinearSystem,
    degree: usize,
) -> Result<(Coefficients<'f>, Element)> {
    check_sizes(
        mesh,
        system.matrix.nrows(),
        system.matrix.ncols(),
        system.rhs.len(),
    )?;
    check_boundary_parts(mesh, form)?;
    Ok((Coefficients::new(form, mesh)?, element_for(mesh, degree)?))
}

/// [`prologue`] for load-vector-only assembly into `rhs`.
pub(crate) fn rhs_prologue<'f>(
    mesh: &MeshView<'_>,
    form: &'f EllipticForm,
    rhs: &[f64],
    degree: usize,
) -> Result<(Coefficients<'f>, Element)> {
    let n = mesh.num_nodes();
    check_sizes(mesh, n, n, rhs.len())?;
    check_boundary_parts(mesh, form)?;
    Ok((
        Coefficients::rhs_only(form, mesh)?,
        element_for(mesh, degree)?,
    ))
}

/// The element for `mesh` with a rule of `degree`, raised to `2 * order` (exact mass matrices
/// on affine cells) for quadratic elements.
///
/// # Errors
/// [`Error::InvalidInput`] (field `quadrature_degree`) for a degree the cell kind has no
/// rule for, or 0.
fn element_for(mesh: &MeshView<'_>, degree: usize) -> Result<Element> {
    let min = crate::quadrature::MIN_DEGREE;
    if degree < min {
        return Err(Error::invalid(
            "quadrature_degree",
            format!("must be at least {min}, got {degree}"),
        ));
    }
    Element::of_mesh(mesh, degree.max(2 * mesh.order.get()))
}

/// `ke[a][b] += scale * sum_p metric[p] tables[p][a][b]` for `b >= a` (see
/// [`Tables::reference_stiffness`]).
#[inline]
fn add_metric<const N: usize>(
    ke: &mut [[f64; N]; N],
    tables: &[[[f64; N]; N]],
    metric: &[f64],
    scale: f64,
) {
    for (t, m) in tables.iter().zip(metric) {
        let m = m * scale;
        for a in 0..N {
            for b in a..N {
                ke[a][b] += m * t[a][b];
            }
        }
    }
}

/// `ke[a][b] += scale * grad_a . grad_b` for `b >= a`.
#[inline]
fn add_gram<const N: usize, const D: usize>(
    ke: &mut [[f64; N]; N],
    grad: &[[f64; D]; N],
    scale: f64,
) {
    for a in 0..N {
        let ga = grad[a];
        for b in a..N {
            let gb = grad[b];
            let mut s = 0.0;
            for i in 0..D {
                s += ga[i] * gb[i];
            }
            ke[a][b] += scale * s;
        }
    }
}

fn pattern_mismatch(i: usize, j: usize) -> Error {
    Error::invalid(
        "pattern",
        format!("entry ({i}, {j}) needed by the mesh is not in the matrix pattern"),
    )
}

fn check_sizes(mesh: &MeshView<'_>, rows: usize, cols: usize, rhs: usize) -> Result<()> {
    mesh.validate()?;
    let n = mesh.num_nodes();
    if rows != n || cols != n || rhs != n {
        return Err(Error::invalid(
            "system",
            format!(
                "a {rows}x{cols} system with {rhs} rhs entries does not fit a mesh with {n} nodes"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn stats(
    name: &str,
    parallel: bool,
    mesh: &MeshView<'_>,
    element: &Element,
    coefs: &Coefficients<'_>,
    facets: usize,
) -> AssemblyStats {
    let mut stats = AssemblyStats::default();
    stats.assembler = name.into();
    stats.parallel = parallel;
    if parallel {
        femscale_core::record(femscale_core::Counter::ParallelAssemblies);
    }
    stats.threads = if parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    stats.cells = mesh.num_cells();
    stats.boundary_facets = facets;
    stats.field_evaluations = mesh.num_cells() * element.nq * coefs.sampled_fields();
    stats
}

/// Single-threaded assembly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialAssembler {
    /// Polynomial degree the quadrature integrates exactly (default 2; quadratic elements use at
    /// least 4).
    pub quadrature_degree: usize,
}

impl Default for SerialAssembler {
    fn default() -> Self {
        Self {
            quadrature_degree: DEFAULT_QUADRATURE_DEGREE,
        }
    }
}

impl Assembler for SerialAssembler {
    fn name(&self) -> &'static str {
        "serial"
    }

    #[instrument(skip_all, name = "fem.assemble.pattern", fields(assembler = "serial"))]
    fn pattern(&self, mesh: &MeshView<'_>) -> Result<SparsityPattern> {
        build_pattern(mesh, false)
    }

    #[instrument(skip_all, name = "fem.assemble.values", fields(assembler = "serial", cells = mesh.num_cells()))]
    fn assemble_into(
        &self,
        mesh: &MeshView<'_>,
        form: &EllipticForm,
        system: &mut LinearSystem,
    ) -> Result<AssemblyStats> {
        let (coefs, element) = prologue(mesh, form, system, self.quadrature_degree)?;
        let pattern = system.matrix.pattern().clone();
        system.matrix.values_mut().fill(0.0);
        system.rhs.fill(0.0);
        let pass = CellPass {
            mesh,
            pattern: &pattern,
            element: &element,
            coefs: &coefs,
            with_matrix: true,
        };
        pass.serial(&mut SliceTarget {
            values: system.matrix.values_mut(),
            rhs: &mut system.rhs,
        })?;
        let facets = add_boundary_terms(mesh, form, system)?;
        Ok(stats(self.name(), false, mesh, &element, &coefs, facets))
    }

    #[instrument(skip_all, name = "fem.assemble.rhs", fields(assembler = "serial", cells = mesh.num_cells()))]
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
            let pass = CellPass {
                mesh,
                pattern,
                element: &element,
                coefs: &coefs,
                with_matrix: false,
            };
            pass.serial(&mut SliceTarget {
                values: &mut [],
                rhs,
            })?;
        }
        let facets = add_boundary_rhs(mesh, form, rhs)?;
        Ok(stats(self.name(), false, mesh, &element, &coefs, facets))
    }
}
