//! Essential (Dirichlet) conditions: symmetric elimination applied in place (the pattern never
//! changes, SPD stays SPD), and the record of that elimination ([`DirichletLift`]) that lets a
//! stored operator take new boundary values and sources without being assembled again.

use femscale_core::{BoundaryKind, CsrMatrix, EllipticForm, Error, LinearSystem, MeshView, Result};
use rayon::prelude::*;
use tracing::instrument;

use crate::boundary::{check_boundary_parts, finite};

/// Nodes with a prescribed value and those values.
#[derive(Debug, Clone, PartialEq)]
pub struct DirichletConditions {
    fixed: Vec<bool>,
    /// The value of each of `nodes` (not one per mesh node: a boundary is a small share).
    values: Vec<f64>,
    nodes: Vec<usize>,
}

impl DirichletConditions {
    /// Collects the Dirichlet conditions of `form` on `mesh`. Later conditions override earlier
    /// ones on shared nodes.
    ///
    /// # Errors
    /// Unknown boundary parts, non-finite boundary values.
    pub fn from_form(mesh: &MeshView<'_>, form: &EllipticForm) -> Result<Self> {
        mesh.validate()?;
        check_boundary_parts(mesh, form)?;
        let n = mesh.num_nodes();
        let mut fixed = vec![false; n];
        // (node, value) in the order of the conditions: a later one wins on a shared node.
        let mut prescribed: Vec<(usize, f64)> = Vec::new();
        for (i, bc) in form.boundary.iter().enumerate() {
            if let BoundaryKind::Dirichlet { value } = &bc.kind {
                let field = format!("boundary[{i}].value");
                let part = mesh.boundary_part(&bc.part).expect("checked above");
                let constant = value.as_constant();
                for &node in &part.nodes {
                    let p = mesh.point(node);
                    let v = finite(&field, constant.unwrap_or_else(|| value.eval(p)), p)?;
                    prescribed.push((node, v));
                    fixed[node] = true;
                }
            }
        }
        // Stable: equal nodes keep the conditions' order; the last of each run wins.
        prescribed.sort_by_key(|&(node, _)| node);
        let mut nodes = Vec::with_capacity(prescribed.len());
        let mut values = Vec::with_capacity(prescribed.len());
        for (k, &(node, v)) in prescribed.iter().enumerate() {
            if prescribed.get(k + 1).is_none_or(|next| next.0 != node) {
                nodes.push(node);
                values.push(v);
            }
        }
        Ok(Self {
            fixed,
            values,
            nodes,
        })
    }

    /// The constrained nodes, increasing.
    pub fn nodes(&self) -> &[usize] {
        &self.nodes
    }

    /// The prescribed value of each of [`DirichletConditions::nodes`].
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Number of constrained nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is constrained.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Writes the prescribed values into `x` (e.g. an initial guess).
    pub fn impose_on(&self, x: &mut [f64]) {
        for (&i, &v) in self.nodes.iter().zip(&self.values) {
            x[i] = v;
        }
    }

    /// `gᵀ A_DD g`: the energy of the prescribed values `g` in the block of `matrix` that
    /// couples constrained nodes with each other — the part of `uᵀ A u` that a symmetric
    /// elimination removes and does not record (its lift keeps the couplings of free rows).
    /// Call it on the assembled matrix, before [`DirichletConditions::apply`]; 0 when every
    /// prescribed value is 0.
    pub fn block_energy(&self, matrix: &CsrMatrix) -> f64 {
        if self.values.iter().all(|v| *v == 0.0) {
            return 0.0;
        }
        let (rp, ci, a) = (
            matrix.pattern().row_ptr(),
            matrix.pattern().col_idx(),
            matrix.values(),
        );
        let mut sum = 0.0;
        for (&d, &g) in self.nodes.iter().zip(&self.values) {
            let row: f64 = (rp[d]..rp[d + 1])
                .filter_map(|k| {
                    let e = self.nodes.binary_search(&(ci[k] as usize)).ok()?;
                    Some(a[k] * self.values[e])
                })
                .sum();
            sum += g * row;
        }
        sum
    }

    /// The value prescribed at `node`, which must be one of [`DirichletConditions::nodes`].
    fn value_at(&self, node: usize) -> f64 {
        self.nodes
            .binary_search(&node)
            .map_or(0.0, |k| self.values[k])
    }

    /// Eliminates the constrained unknowns symmetrically, in place: for a free row `i`,
    /// `b_i -= a_ij g_j` and `a_ij = 0` for every constrained `j`; a constrained row keeps only
    /// its diagonal `d` (1 if `d` is zero) with `b_i = d g_i`. Runs in parallel over rows.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if the system does not have one row per mesh node.
    #[instrument(skip_all, name = "fem.boundary.dirichlet", fields(nodes = self.nodes.len()))]
    pub fn apply(&self, system: &mut LinearSystem) -> Result<()> {
        self.eliminate(system, false).map(|_| ())
    }

    /// [`DirichletConditions::apply`], also returning what the elimination removed from the
    /// matrix, so that later right-hand sides (other sources, other boundary values on the same
    /// nodes) can be lifted without the original matrix: see [`DirichletLift::apply_rhs`].
    ///
    /// # Errors
    /// As [`DirichletConditions::apply`].
    #[instrument(skip_all, name = "fem.boundary.dirichlet", fields(nodes = self.nodes.len()))]
    pub fn apply_recording(&self, system: &mut LinearSystem) -> Result<DirichletLift> {
        self.eliminate(system, true)
    }

    fn eliminate(&self, system: &mut LinearSystem, record: bool) -> Result<DirichletLift> {
        let n = self.fixed.len();
        if system.matrix.nrows() != n || system.matrix.ncols() != n || system.rhs.len() != n {
            return Err(Error::invalid(
                "system",
                format!("{} rows for {n} nodes", system.matrix.nrows()),
            ));
        }
        let mut lift = DirichletLift {
            num_nodes: n,
            fixed_nodes: self.nodes.clone(),
            ..DirichletLift::default()
        };
        if self.nodes.is_empty() {
            return Ok(lift);
        }
        const ROWS: usize = 8192;
        let pattern = system.matrix.pattern().clone();
        let (rp, ci) = (pattern.row_ptr(), pattern.col_idx());
        let mut chunks = Vec::with_capacity(n / ROWS + 1);
        let mut values = system.matrix.values_mut();
        let mut rhs = system.rhs.as_mut_slice();
        for start in (0..n).step_by(ROWS) {
            let end = (start + ROWS).min(n);
            let (v, v_rest) = std::mem::take(&mut values).split_at_mut(rp[end] - rp[start]);
            let (b, b_rest) = std::mem::take(&mut rhs).split_at_mut(end - start);
            chunks.push((start, v, b));
            values = v_rest;
            rhs = b_rest;
        }
        let records: Vec<ChunkRecord> = chunks
            .into_par_iter()
            .map(|(start, v, b)| {
                let mut rec = ChunkRecord::default();
                let offset = rp[start];
                for (r, bi) in b.iter_mut().enumerate() {
                    let i = start + r;
                    let range = rp[i] - offset..rp[i + 1] - offset;
                    let cols = &ci[rp[i]..rp[i + 1]];
                    let row = &mut v[range];
                    if self.fixed[i] {
                        let mut d = 0.0;
                        for (a, &j) in row.iter_mut().zip(cols) {
                            if j as usize == i {
                                d = *a;
                            }
                            *a = 0.0;
                        }
                        if d == 0.0 || !d.is_finite() {
                            d = 1.0;
                        }
                        if let Ok(k) = cols.binary_search(&(i as u32)) {
                            // i < ncols <= MAX_COLUMNS
                            row[k] = d;
                        }
                        *bi = d * self.value_at(i);
                        if record {
                            rec.diagonal.push(d);
                        }
                    } else {
                        for (a, &j) in row.iter_mut().zip(cols) {
                            let j = j as usize;
                            if self.fixed[j] {
                                *bi -= *a * self.value_at(j);
                                if record {
                                    rec.rows.push(i);
                                    rec.cols.push(j);
                                    rec.values.push(*a);
                                }
                                *a = 0.0;
                            }
                        }
                    }
                }
                rec
            })
            .collect();
        for rec in records {
            lift.diagonal.extend(rec.diagonal);
            lift.rows.extend(rec.rows);
            lift.cols.extend(rec.cols);
            lift.values.extend(rec.values);
        }
        Ok(lift)
    }
}

/// What one chunk of rows of the elimination removed.
#[derive(Default)]
struct ChunkRecord {
    diagonal: Vec<f64>,
    rows: Vec<usize>,
    cols: Vec<usize>,
    values: Vec<f64>,
}

/// The record of a symmetric Dirichlet elimination: the matrix entries `a_ij` (free row `i`,
/// constrained column `j`) that were moved out of the matrix, and the diagonal kept on each
/// constrained row.
///
/// With it, an eliminated operator serves any right-hand side whose Dirichlet conditions fix
/// the same nodes — a sweep over sources or boundary values assembles only the load vector and
/// calls [`DirichletLift::apply_rhs`], which gives bit for bit the right-hand side that
/// [`DirichletConditions::apply`] would give on a freshly assembled system.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DirichletLift {
    num_nodes: usize,
    fixed_nodes: Vec<usize>,
    diagonal: Vec<f64>,
    rows: Vec<usize>,
    cols: Vec<usize>,
    values: Vec<f64>,
}

impl DirichletLift {
    /// Rebuilds a lift from its parts (as returned by the accessors), checking them.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (field `dirichlet_lift`) for inconsistent lengths, indices out of
    /// range, unsorted constrained nodes or non-finite values.
    pub fn from_parts(
        num_nodes: usize,
        fixed_nodes: Vec<usize>,
        diagonal: Vec<f64>,
        rows: Vec<usize>,
        cols: Vec<usize>,
        values: Vec<f64>,
    ) -> Result<Self> {
        let bad = |reason: String| Err(Error::invalid("dirichlet_lift", reason));
        if diagonal.len() != fixed_nodes.len() {
            return bad(format!(
                "{} diagonal entries for {} constrained nodes",
                diagonal.len(),
                fixed_nodes.len()
            ));
        }
        if rows.len() != cols.len() || rows.len() != values.len() {
            return bad(format!(
                "coupling arrays of lengths {}, {}, {}",
                rows.len(),
                cols.len(),
                values.len()
            ));
        }
        if fixed_nodes.windows(2).any(|w| w[0] >= w[1])
            || fixed_nodes.last().is_some_and(|&i| i >= num_nodes)
        {
            return bad("constrained nodes must be increasing and below the node count".into());
        }
        if rows.iter().chain(&cols).any(|&i| i >= num_nodes) {
            return bad(format!("a coupling index is >= the node count {num_nodes}"));
        }
        if cols.iter().any(|j| fixed_nodes.binary_search(j).is_err()) {
            return bad("a coupling column is not a constrained node".into());
        }
        if diagonal.iter().chain(&values).any(|v| !v.is_finite()) {
            return bad("non-finite value".into());
        }
        Ok(Self {
            num_nodes,
            fixed_nodes,
            diagonal,
            rows,
            cols,
            values,
        })
    }

    /// Rows (= nodes) of the eliminated system.
    pub fn num_nodes(&self) -> usize {
        self.num_nodes
    }

    /// The constrained nodes, increasing.
    pub fn fixed_nodes(&self) -> &[usize] {
        &self.fixed_nodes
    }

    /// The diagonal kept on each constrained row, in the order of [`Self::fixed_nodes`].
    pub fn diagonal(&self) -> &[f64] {
        &self.diagonal
    }

    /// The removed entries as `(rows, cols, values)`, row-major.
    pub fn couplings(&self) -> (&[usize], &[usize], &[f64]) {
        (&self.rows, &self.cols, &self.values)
    }

    /// Heap memory held, bytes.
    pub fn memory_bytes(&self) -> usize {
        8 * (self.fixed_nodes.len()
            + self.diagonal.len()
            + self.rows.len()
            + self.cols.len()
            + self.values.len())
    }

    /// Turns the assembled (not yet eliminated) right-hand side `rhs` into the one of the
    /// eliminated system for the boundary values of `conditions`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if `conditions` constrain other nodes than the elimination
    /// recorded here, or `rhs` has the wrong length.
    pub fn apply_rhs(&self, conditions: &DirichletConditions, rhs: &mut [f64]) -> Result<()> {
        if rhs.len() != self.num_nodes || conditions.fixed.len() != self.num_nodes {
            return Err(Error::invalid(
                "system",
                format!(
                    "{} rhs entries and {} nodes for a lift of {} nodes",
                    rhs.len(),
                    conditions.fixed.len(),
                    self.num_nodes
                ),
            ));
        }
        if conditions.nodes != self.fixed_nodes {
            return Err(Error::invalid(
                "boundary",
                "the stored operator was eliminated for another set of Dirichlet nodes",
            ));
        }
        for ((&i, &j), &a) in self.rows.iter().zip(&self.cols).zip(&self.values) {
            rhs[i] -= a * conditions.value_at(j);
        }
        // `conditions.nodes` are the fixed nodes (checked above): their values in order.
        for ((&i, &d), &g) in (self.fixed_nodes.iter())
            .zip(&self.diagonal)
            .zip(&conditions.values)
        {
            rhs[i] = d * g;
        }
        Ok(())
    }
}
