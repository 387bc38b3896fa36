//! femscale's errors as the Python exceptions of `femscale.errors`, with their data.

use femscale::Error;
use femscale::core::{FilePosition, SolveError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// The exception for `e`: an instance of the class of `femscale.errors` that matches its kind,
/// with the error's data as attributes.
pub fn to_py(e: Error) -> PyErr {
    Python::attach(|py| match build(py, &e) {
        Ok(err) => err,
        // The package's error module could not be imported (a broken install): still raise,
        // with the message.
        Err(import_error) => {
            let err = pyo3::exceptions::PyRuntimeError::new_err(e.to_string());
            err.set_cause(py, Some(import_error));
            err
        }
    })
}

fn build(py: Python<'_>, e: &Error) -> PyResult<PyErr> {
    let data = PyDict::new(py);
    data.set_item("kind", variant_name(e))?;
    if let Some(field) = e.field_name() {
        data.set_item("field", field)?;
    }
    let class = match e {
        Error::InvalidInput { reason, .. } => {
            data.set_item("reason", reason)?;
            "ConfigurationError"
        }
        Error::UnknownName {
            what, name, known, ..
        } => {
            data.set_item("what", what)?;
            data.set_item("name", name)?;
            data.set_item("known", known.clone())?;
            "ConfigurationError"
        }
        Error::Expression {
            text,
            column,
            message,
            ..
        } => {
            data.set_item("text", text)?;
            data.set_item("column", column)?;
            data.set_item("reason", message)?;
            "ConfigurationError"
        }
        Error::FeatureDisabled { feature, .. } => {
            data.set_item("feature", feature)?;
            "ConfigurationError"
        }
        Error::Config { .. } => "ConfigurationError",
        Error::Mesh { location, .. } => {
            data.set_item("location", location.clone())?;
            "MeshError"
        }
        Error::MeshFile {
            path,
            section,
            position,
            ..
        } => {
            data.set_item("path", path.display().to_string())?;
            data.set_item("section", section)?;
            match position {
                FilePosition::Line(line) => data.set_item("line", line)?,
                FilePosition::Byte(offset) => data.set_item("byte_offset", offset)?,
            }
            "MeshError"
        }
        Error::Solve(s) => solve_class(py, s, &data)?,
        Error::Io { path, .. } => {
            data.set_item("path", path.display().to_string())?;
            "FemscaleIOError"
        }
        Error::Cache { .. } => "CacheError",
        Error::Plugin { plugin, .. } => {
            data.set_item("plugin", plugin)?;
            "PluginError"
        }
        Error::Timeout {
            phase,
            elapsed_seconds,
            limit_seconds,
        } => {
            data.set_item("phase", phase)?;
            data.set_item("elapsed_seconds", elapsed_seconds)?;
            data.set_item("limit_seconds", limit_seconds)?;
            "SolveTimeoutError"
        }
        _ => "FemscaleError",
    };
    let module = py.import("femscale.errors")?;
    let instance = module
        .getattr(class)?
        .call(PyTuple::new(py, [e.to_string()])?, Some(&data))?;
    Ok(PyErr::from_value(instance))
}

fn solve_class(py: Python<'_>, s: &SolveError, data: &Bound<'_, PyDict>) -> PyResult<&'static str> {
    if let Some(report) = s.report() {
        data.set_item("iterations", report.iterations)?;
        data.set_item("residual", report.final_relative_residual)?;
        data.set_item("tolerance", report.tolerance)?;
        data.set_item("solver", &report.solver)?;
        data.set_item("report", crate::json_to_py(py, report)?)?;
    }
    Ok(match s {
        SolveError::NotConverged { .. } | SolveError::Stopped { .. } => "ConvergenceError",
        SolveError::Breakdown { method, detail, .. } => {
            data.set_item("method", method)?;
            data.set_item("reason", detail)?;
            "ConvergenceError"
        }
        SolveError::Unverified {
            solver,
            reported_relative_residual,
            verified_relative_residual,
            tolerance,
            ..
        } => {
            data.set_item("solver", solver)?;
            data.set_item("residual", verified_relative_residual)?;
            data.set_item("reported_residual", reported_relative_residual)?;
            data.set_item("tolerance", tolerance)?;
            "ConvergenceError"
        }
        SolveError::Undetermined {
            solver,
            verified_relative_residual,
            relative_correction,
            ..
        } => {
            data.set_item("solver", solver)?;
            data.set_item("residual", verified_relative_residual)?;
            data.set_item("relative_correction", relative_correction)?;
            "ConvergenceError"
        }
        SolveError::Inaccurate {
            solver,
            verified_relative_residual,
            backward_error,
            refinements,
            ..
        } => {
            data.set_item("solver", solver)?;
            data.set_item("residual", verified_relative_residual)?;
            data.set_item("backward_error", backward_error)?;
            data.set_item("refinements", refinements)?;
            "ConvergenceError"
        }
        SolveError::NonFiniteSolution { solver, count, .. } => {
            data.set_item("solver", solver)?;
            data.set_item("non_finite_entries", count)?;
            "ConvergenceError"
        }
        SolveError::Timeout {
            elapsed_seconds,
            limit_seconds,
            ..
        } => {
            data.set_item("phase", "solve")?;
            data.set_item("elapsed_seconds", elapsed_seconds)?;
            data.set_item("limit_seconds", limit_seconds)?;
            "SolveTimeoutError"
        }
        SolveError::MemoryBudget {
            what,
            needed_mb,
            limit_mb,
        } => {
            data.set_item("what", what)?;
            data.set_item("needed_mb", needed_mb)?;
            data.set_item("limit_mb", limit_mb)?;
            data.set_item("field", "solver.memory_limit_mb")?;
            "MemoryLimitError"
        }
        SolveError::InvalidOption { option, reason } => {
            data.set_item("field", option)?;
            data.set_item("reason", reason)?;
            "ConfigurationError"
        }
        SolveError::DimensionMismatch { rows, cols, len } => {
            data.set_item("shape", (rows, cols))?;
            data.set_item("length", len)?;
            "ConfigurationError"
        }
        _ => "SolveError",
    })
}

fn variant_name(e: &Error) -> &'static str {
    match e {
        Error::InvalidInput { .. } => "InvalidInput",
        Error::UnknownName { .. } => "UnknownName",
        Error::Expression { .. } => "Expression",
        Error::FeatureDisabled { .. } => "FeatureDisabled",
        Error::Mesh { .. } => "Mesh",
        Error::MeshFile { .. } => "MeshFile",
        Error::Config { .. } => "Config",
        Error::Solve(s) => match s {
            SolveError::DimensionMismatch { .. } => "DimensionMismatch",
            SolveError::NotConverged { .. } => "NotConverged",
            SolveError::Breakdown { .. } => "Breakdown",
            SolveError::Timeout { .. } => "Timeout",
            SolveError::MemoryBudget { .. } => "MemoryBudget",
            SolveError::Factorization { .. } => "Factorization",
            SolveError::InvalidOption { .. } => "InvalidOption",
            SolveError::NonFiniteSolution { .. } => "NonFiniteSolution",
            SolveError::Unverified { .. } => "Unverified",
            SolveError::Undetermined { .. } => "Undetermined",
            SolveError::Inaccurate { .. } => "Inaccurate",
            SolveError::Stopped { .. } => "Stopped",
            _ => "Solve",
        },
        Error::Io { .. } => "Io",
        Error::Cache { .. } => "Cache",
        Error::Plugin { .. } => "Plugin",
        Error::Communication { .. } => "Communication",
        Error::Timeout { .. } => "Timeout",
        _ => "Other",
    }
}
