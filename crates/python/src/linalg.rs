//! femscale's linear solvers for the caller's own sparse matrices (SciPy CSR arrays).

use std::sync::{Arc, Mutex};

use femscale::core::verify::{confirm_solution, verify_solution};
use femscale::core::{CsrMatrix, NoMonitor, PreparedSolver};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::fields::CallbackErrors;
use crate::json_to_py;
use crate::solver::{Solver, detached};

/// A solver set up for one matrix (factorization, AMG hierarchy): solve many right-hand sides.
#[pyclass(frozen, module = "femscale._native")]
pub struct Prepared {
    prepared: Mutex<Box<dyn PreparedSolver>>,
    matrix: Arc<CsrMatrix>,
    options: femscale::core::SolverOptions,
    method: String,
    preconditioner: String,
    setup_seconds: f64,
}

/// `values` as indices of type `T` (`usize` row pointers, `u32` columns), or an error on
/// `field` naming the first negative or too large one.
fn to_index<T: TryFrom<i64>>(values: &[i64], field: &str) -> femscale::Result<Vec<T>> {
    values
        .iter()
        .map(|&v| {
            T::try_from(v).map_err(|_| {
                let why = if v < 0 { "negative" } else { "too large" };
                femscale::Error::invalid(field, format!("{why} entry {v}"))
            })
        })
        .collect()
}

#[pymethods]
impl Prepared {
    /// Sets up `method` with `preconditioner` (registry names, as `solver.kind` and
    /// `solver.preconditioner`) for the CSR matrix `(indptr, indices, data)` of `shape`, with
    /// the options of `solver`'s `[solver]` section. The arrays are checked (sorted, unique
    /// columns in range, finite values).
    #[new]
    #[pyo3(signature = (solver, indptr, indices, data, shape, method, preconditioner))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        solver: &Solver,
        indptr: PyReadonlyArray1<'_, i64>,
        indices: PyReadonlyArray1<'_, i64>,
        data: PyReadonlyArray1<'_, f64>,
        shape: (usize, usize),
        method: String,
        preconditioner: String,
    ) -> PyResult<Self> {
        let indptr = indptr.as_array().to_vec();
        let indices = indices.as_array().to_vec();
        let data = data.as_array().to_vec();
        let fem = solver.inner.clone();
        let (m, pc) = (method.clone(), preconditioner.clone());
        let built = detached(py, &CallbackErrors::default(), move || {
            let row_ptr = to_index::<usize>(&indptr, "indptr")?;
            let col_idx = to_index::<u32>(&indices, "indices")?;
            let matrix = Arc::new(CsrMatrix::try_from_csr_parts(
                shape.0, shape.1, row_ptr, col_idx, data,
            )?);
            let config = fem.config();
            let registry = fem.registry();
            registry.check_preconditioner_use(&m, &pc)?;
            let threads = rayon::current_num_threads();
            let options = config.solver.options(threads);
            let linear = registry.solver(&m, &pc, &config.solver.method_options())?;
            let start = std::time::Instant::now();
            let prepared = linear.prepare(matrix.clone(), &options)?;
            Ok((prepared, matrix, options, start.elapsed().as_secs_f64()))
        })?;
        let (prepared, matrix, options, setup_seconds) = built;
        Ok(Self {
            prepared: Mutex::new(prepared),
            matrix,
            options,
            method,
            preconditioner,
            setup_seconds,
        })
    }

    /// Solves `A x = b` from the initial guess `x0` (zeros by default); the solution is
    /// checked (finite, true residual) before it is returned. Returns `(x, report)`.
    #[pyo3(signature = (b, x0=None))]
    fn solve<'py>(
        &self,
        py: Python<'py>,
        b: PyReadonlyArray1<'py, f64>,
        x0: Option<PyReadonlyArray1<'py, f64>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let b = b.as_array().to_vec();
        let mut x = match x0 {
            Some(x0) => x0.as_array().to_vec(),
            None => vec![0.0; self.matrix.ncols()],
        };
        let (x, report) = detached(py, &CallbackErrors::default(), || {
            let mut prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
            let mut report = prepared.solve(&b, &mut x, &mut NoMonitor)?;
            let check = verify_solution(&self.matrix, &b, &x, &report, &self.options)?;
            confirm_solution(
                &self.matrix,
                &b,
                &x,
                &check,
                &report,
                &self.options,
                |r, delta| prepared.solve(r, delta, &mut NoMonitor),
            )?;
            report.setup_seconds = self.setup_seconds;
            Ok((x, (report, check.relative_residual, check.backward_error)))
        })?;
        let (report, verified, backward) = report;
        let dict = json_to_py(py, &report)?;
        dict.set_item("verified_relative_residual", verified)?;
        dict.set_item("verified_backward_error", backward)?;
        dict.set_item("method", &self.method)?;
        dict.set_item("preconditioner", &self.preconditioner)?;
        PyTuple::new(py, [PyArray1::from_vec(py, x).into_any(), dict])
    }

    /// Unknowns of the matrix.
    #[getter]
    fn n(&self) -> usize {
        self.matrix.nrows()
    }

    /// Seconds spent in set-up (factorization, AMG hierarchy).
    #[getter]
    fn setup_seconds(&self) -> f64 {
        self.setup_seconds
    }

    /// Bytes held by the prepared solver (factors, hierarchy), without the matrix.
    #[getter]
    fn memory_bytes(&self) -> usize {
        self.prepared
            .lock()
            .map(|p| p.memory_bytes())
            .unwrap_or_default()
    }
}
