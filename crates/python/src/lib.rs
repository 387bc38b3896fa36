//! `femscale._native`: the compiled part of the Python package. The Python modules of
//! `femscale` (the solver class of the original design, `solve`, `run`, `linalg`) wrap it;
//! every long call here runs with the GIL released.

mod errors;
mod fields;
mod linalg;
mod mesh;
mod ranks;
mod solver;
mod sweeps;

use pyo3::prelude::*;
use serde::Serialize;

/// `value` as Python objects (dicts, lists, numbers), through JSON.
pub(crate) fn json_to_py<'py>(
    py: Python<'py>,
    value: &impl Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("features", ranks::FEATURES.to_vec())?;
    // Load NumPy's C API now: loaded lazily on the first array, a Ctrl-C pending at that
    // moment would surface as a panic instead of KeyboardInterrupt.
    numpy::PyArray1::<f64>::zeros(m.py(), 0, false);
    m.add_class::<solver::Solver>()?;
    m.add_class::<mesh::Mesh>()?;
    m.add_class::<linalg::Prepared>()?;
    m.add_function(wrap_pyfunction!(sweeps::run_experiment, m)?)?;
    m.add_function(wrap_pyfunction!(sweeps::scaling_benchmark, m)?)?;
    m.add_function(wrap_pyfunction!(solver::config_keys, m)?)?;
    m.add_function(wrap_pyfunction!(solver::rust_solve_1d_seconds, m)?)?;
    Ok(())
}
