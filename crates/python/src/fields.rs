//! Coefficients, sources and exact solutions from Python: numbers, expression strings
//! (compiled by femscale, evaluated without the GIL), per-subdomain dicts, or callables
//! evaluated on NumPy arrays of points, one call per batch.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use femscale::core::ScalarField;
use femscale::prelude::FieldSpec;
use numpy::PyArrayMethods;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// A Python callable `f(points) -> values`: `points` an `(n, dim)` float array, `values` `n`
/// numbers (a scalar is broadcast). Called with the GIL taken, from whichever thread assembles;
/// the first exception it raises (or a wrong result) is kept and re-raised after the solve,
/// and every value after it is NaN.
pub struct PyField {
    name: String,
    dim: usize,
    func: Py<PyAny>,
    error: Arc<Mutex<Option<PyErr>>>,
}

impl std::fmt::Debug for PyField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "python:{}", self.name)
    }
}

impl PyField {
    fn failed(&self) -> bool {
        self.error.lock().map(|e| e.is_some()).unwrap_or(true)
    }

    fn record(&self, err: PyErr) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(err);
        }
    }

    fn call(&self, py: Python<'_>, points: &[[f64; 3]], out: &mut [f64]) -> PyResult<()> {
        let flat: Vec<f64> = points
            .iter()
            .flat_map(|p| p[..self.dim].iter().copied())
            .collect();
        let array = numpy::PyArray1::from_vec(py, flat).reshape([points.len(), self.dim])?;
        let result = self.func.bind(py).call1((array,))?;
        if let Ok(value) = result.extract::<f64>() {
            out.fill(value);
            return Ok(());
        }
        let np = py.import("numpy")?;
        let values = np.call_method1("asarray", (&result,))?;
        let kind: String = values.getattr("dtype")?.getattr("kind")?.extract()?;
        if !matches!(kind.as_str(), "f" | "i" | "u" | "b") {
            return Err(PyTypeError::new_err(format!(
                "`{}` returned an array of dtype {} for {} points; it must return real numbers",
                self.name,
                values.getattr("dtype")?.str()?,
                out.len()
            )));
        }
        let shape: Vec<usize> = values.getattr("shape")?.extract()?;
        let fits = match shape.as_slice() {
            [] => true,
            [n] | [n, 1] => *n == out.len(),
            _ => false,
        };
        if !fits {
            return Err(PyValueError::new_err(format!(
                "`{}` returned an array of shape {shape:?} for {} points; it must return {} \
                 values (shape ({},)) or one number",
                self.name,
                out.len(),
                out.len(),
                out.len()
            )));
        }
        // Any layout (strided, broadcast, reversed): a contiguous float64 copy when needed.
        let values = np
            .call_method1("ascontiguousarray", (values, "float64"))?
            .call_method1("reshape", (-1,))?;
        let values = values.cast_into::<numpy::PyArray1<f64>>()?;
        let values = values.readonly();
        let values = values.as_slice()?;
        if values.len() == 1 && out.len() != 1 {
            out.fill(values[0]);
            return Ok(());
        }
        out.copy_from_slice(values);
        Ok(())
    }
}

impl ScalarField for PyField {
    fn eval(&self, p: [f64; 3]) -> f64 {
        let mut out = [0.0];
        self.eval_batch(&[p], &mut out);
        out[0]
    }

    fn eval_batch(&self, points: &[[f64; 3]], out: &mut [f64]) {
        if self.failed() {
            out.fill(f64::NAN);
            return;
        }
        let result = Python::attach(|py| self.call(py, points, out));
        if let Err(err) = result {
            out.fill(f64::NAN);
            self.record(err);
        }
    }

    /// Central differences, batched: `2 dim` calls per batch.
    fn gradient_batch(&self, points: &[[f64; 3]], out: &mut [[f64; 3]]) {
        let mut shifted = points.to_vec();
        let (mut plus, mut minus) = (vec![0.0; points.len()], vec![0.0; points.len()]);
        for g in out.iter_mut() {
            *g = [0.0; 3];
        }
        for d in 0..self.dim {
            let step = |p: &[f64; 3]| 1e-5 * (1.0 + p[d].abs());
            for (s, p) in shifted.iter_mut().zip(points) {
                s[d] = p[d] + step(p);
            }
            self.eval_batch(&shifted, &mut plus);
            for (s, p) in shifted.iter_mut().zip(points) {
                s[d] = p[d] - step(p);
            }
            self.eval_batch(&shifted, &mut minus);
            for (i, p) in points.iter().enumerate() {
                out[i][d] = (plus[i] - minus[i]) / (2.0 * step(p));
                shifted[i][d] = p[d];
            }
        }
    }

    fn gradient(&self, p: [f64; 3]) -> [f64; 3] {
        let mut out = [[0.0; 3]];
        self.gradient_batch(&[p], &mut out);
        out[0]
    }

    fn describe(&self) -> String {
        format!("python:{}", self.name)
    }
}

/// The errors Python callables raised during one solve.
#[derive(Default)]
pub struct CallbackErrors(Vec<Arc<Mutex<Option<PyErr>>>>);

impl CallbackErrors {
    /// The first error a callable raised, if any.
    pub fn take(&self) -> Option<PyErr> {
        self.0
            .iter()
            .find_map(|slot| slot.lock().ok().and_then(|mut e| e.take()))
    }
}

/// `value` as a field: `None` → `None`; a number; a string (an expression of x, y, z); a
/// callable on `(n, dim)` point arrays; a dict by subdomain name of those.
pub fn field_spec(
    name: &str,
    dim: usize,
    value: Option<&Bound<'_, PyAny>>,
    errors: &mut CallbackErrors,
) -> PyResult<Option<FieldSpec>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Some(FieldSpec::Expr(s.extract::<String>()?)));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut pieces = BTreeMap::new();
        for (key, piece) in dict.iter() {
            let key: String = key.str()?.extract()?;
            let label = format!("{name}[{key}]");
            let spec = field_spec(&label, dim, Some(&piece), errors)?
                .ok_or_else(|| PyValueError::new_err(format!("`{label}` is None")))?;
            pieces.insert(key, spec);
        }
        return Ok(Some(FieldSpec::BySubdomain(pieces)));
    }
    if value.is_callable() {
        let error = Arc::new(Mutex::new(None));
        errors.0.push(error.clone());
        let field = PyField {
            name: name.to_string(),
            dim,
            func: value.clone().unbind(),
            error,
        };
        return Ok(Some(FieldSpec::field(Arc::new(field))));
    }
    if let Ok(number) = value.extract::<f64>() {
        return Ok(Some(FieldSpec::Constant(number)));
    }
    Err(PyTypeError::new_err(format!(
        "`{name}` must be a number, an expression string, a callable f(points) -> values or a \
         dict by subdomain, not {}",
        value.get_type().name()?
    )))
}
