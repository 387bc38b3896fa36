//! `Mesh`: femscale's unstructured mesh from NumPy arrays or a Gmsh file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use femscale::core::CellKind;
use femscale::mesh::Mesh as RsMesh;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::to_py;
use crate::fields::CallbackErrors;
use crate::solver::detached;

/// An unstructured mesh of one cell kind with subdomain and boundary markers.
#[pyclass(frozen, module = "femscale._native")]
pub struct Mesh {
    pub(crate) inner: Arc<RsMesh>,
}

fn cell_kind(name: Option<&str>, dim: usize, nodes_per_cell: usize) -> femscale::Result<CellKind> {
    if let Some(name) = name {
        return CellKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| femscale::Error::UnknownName {
                field: "cell_kind".into(),
                what: "cell kind".into(),
                name: name.into(),
                known: CellKind::ALL.iter().map(|k| k.name().to_string()).collect(),
            });
    }
    CellKind::ALL
        .into_iter()
        .find(|k| k.dim() == dim && k.nodes_per_cell() == nodes_per_cell)
        .ok_or_else(|| {
            femscale::Error::invalid(
                "cells",
                format!(
                    "no first-order cell kind has {nodes_per_cell} nodes in {dim}D; give \
                     cell_kind (one of interval, triangle, quadrilateral, tetrahedron, hexahedron)"
                ),
            )
        })
}

/// `value` as a NumPy array (`np.asarray`), with its dtype kind and shape.
fn as_array<'py>(
    value: &Bound<'py, PyAny>,
    field: &str,
) -> PyResult<(Bound<'py, PyAny>, String, Vec<usize>)> {
    let array = value
        .py()
        .import("numpy")?
        .call_method1("asarray", (value,))
        .map_err(|e| {
            to_py(femscale::Error::invalid(
                field,
                format!("not convertible to an array: {e}"),
            ))
        })?;
    let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    let shape: Vec<usize> = array.getattr("shape")?.extract()?;
    Ok((array, kind, shape))
}

/// Finite-or-not real numbers (the mesh checks finiteness), C order.
fn float_array(value: &Bound<'_, PyAny>, field: &str) -> PyResult<(Vec<f64>, Vec<usize>)> {
    let (array, kind, shape) = as_array(value, field)?;
    if !matches!(kind.as_str(), "f" | "i" | "u") {
        return Err(to_py(femscale::Error::invalid(
            field,
            format!(
                "must hold real numbers, not dtype {}",
                array.getattr("dtype")?.str()?
            ),
        )));
    }
    let flat = array
        .call_method1("astype", ("float64",))?
        .call_method1("reshape", (-1,))?;
    Ok((flat.extract()?, shape))
}

/// The integers of an integer array as `i64`, C order (an unsigned entry above `i64::MAX` is
/// refused).
fn int64_values(array: &Bound<'_, PyAny>, kind: &str, field: &str) -> PyResult<Vec<i64>> {
    let size: usize = array.getattr("size")?.extract()?;
    if kind == "u" && size > 0 {
        let max: u128 = array.call_method0("max")?.extract()?;
        if max > i64::MAX as u128 {
            return Err(to_py(femscale::Error::invalid(
                field,
                format!("entry {max} out of range"),
            )));
        }
    }
    let flat = array
        .py()
        .import("numpy")?
        .call_method1("ascontiguousarray", (array, "int64"))?
        .call_method1("reshape", (-1,))?
        .cast_into::<numpy::PyArray1<i64>>()?;
    let values = flat.readonly();
    Ok(values.as_slice()?.to_vec())
}

/// Node indices: an integer array (any integer dtype), each in `0..=i64::MAX`.
fn index_array(value: &Bound<'_, PyAny>, field: &str) -> PyResult<(Vec<usize>, Vec<usize>)> {
    let (array, kind, shape) = as_array(value, field)?;
    if !matches!(kind.as_str(), "i" | "u") {
        return Err(to_py(femscale::Error::invalid(
            field,
            format!(
                "must hold integer node indices, not dtype {}",
                array.getattr("dtype")?.str()?
            ),
        )));
    }
    let indices = int64_values(&array, &kind, field)?
        .into_iter()
        .map(|v| {
            usize::try_from(v).map_err(|_| {
                to_py(femscale::Error::invalid(
                    field,
                    format!("negative node index {v}"),
                ))
            })
        })
        .collect::<PyResult<Vec<usize>>>()?;
    Ok((indices, shape))
}

/// Markers: integers in the range of `i32` (Gmsh's tags), one dimension.
fn marker_array(value: &Bound<'_, PyAny>, field: &str) -> PyResult<Vec<i32>> {
    let (array, kind, shape) = as_array(value, field)?;
    if !matches!(kind.as_str(), "i" | "u") || shape.len() != 1 {
        return Err(to_py(femscale::Error::invalid(
            field,
            format!(
                "must be a 1-D array of integers, not dtype {} of shape {shape:?}",
                array.getattr("dtype")?.str()?
            ),
        )));
    }
    int64_values(&array, &kind, field)?
        .into_iter()
        .map(|v| {
            i32::try_from(v).map_err(|_| {
                to_py(femscale::Error::invalid(
                    field,
                    format!("marker {v} does not fit in 32 bits"),
                ))
            })
        })
        .collect()
}

#[pymethods]
impl Mesh {
    /// A mesh from `points` (`(n, dim)`) and `cells` (`(m, nodes per cell)`, node indices),
    /// with optional `cell_markers` (one per cell), marked `facets` (`(k, nodes per facet)`)
    /// with `facet_markers`, and names for markers. Validated: indices in range, no degenerate
    /// or duplicate cells; cells given in the other orientation are reoriented. Exterior
    /// facets form the boundary part `all`.
    #[new]
    #[pyo3(signature = (points, cells, cell_kind=None, cell_markers=None, facets=None, facet_markers=None, subdomain_names=None, boundary_names=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        points: &Bound<'_, PyAny>,
        cells: &Bound<'_, PyAny>,
        cell_kind: Option<&str>,
        cell_markers: Option<&Bound<'_, PyAny>>,
        facets: Option<&Bound<'_, PyAny>>,
        facet_markers: Option<&Bound<'_, PyAny>>,
        subdomain_names: Option<HashMap<i32, String>>,
        boundary_names: Option<HashMap<i32, String>>,
    ) -> PyResult<Self> {
        let (coords, shape) = float_array(points, "points")?;
        let dim = match shape.as_slice() {
            [_] => 1,
            [_, d @ 1..=3] => *d,
            _ => {
                return Err(to_py(femscale::Error::invalid(
                    "points",
                    format!("must have shape (n, dim) with dim 1, 2 or 3, not {shape:?}"),
                )));
            }
        };
        let (connectivity, cell_shape) = index_array(cells, "cells")?;
        let [_, per_cell] = cell_shape[..] else {
            return Err(to_py(femscale::Error::invalid(
                "cells",
                format!("must have shape (cells, nodes per cell), not {cell_shape:?}"),
            )));
        };
        let kind = self::cell_kind(cell_kind, dim, per_cell).map_err(to_py)?;
        let mut builder = RsMesh::builder(dim, coords, kind, connectivity);
        if let Some(markers) = cell_markers {
            builder = builder.cell_markers(marker_array(markers, "cell_markers")?);
        }
        match (facets, facet_markers) {
            (Some(f), Some(m)) => {
                let (f, _) = index_array(f, "facets")?;
                builder = builder.facet_markers(f, marker_array(m, "facet_markers")?);
            }
            (None, None) => {}
            _ => {
                return Err(to_py(femscale::Error::invalid(
                    "facet_markers",
                    "facets and facet_markers come together",
                )));
            }
        }
        for (id, name) in subdomain_names.unwrap_or_default() {
            builder = builder.subdomain_name(id, name);
        }
        for (id, name) in boundary_names.unwrap_or_default() {
            builder = builder.boundary_name(id, name);
        }
        let mesh = detached(py, &CallbackErrors::default(), || builder.build())?;
        Ok(Self {
            inner: Arc::new(mesh),
        })
    }

    /// Reads a Gmsh `.msh` file (4.1 or 2.2, ASCII or binary); physical groups become named
    /// subdomains and boundary parts.
    #[staticmethod]
    fn read(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let mesh = detached(py, &CallbackErrors::default(), || RsMesh::read_gmsh(&path))?;
        Ok(Self {
            inner: Arc::new(mesh),
        })
    }

    /// A copy with a boundary part `name` made of the exterior facets whose nodes all
    /// satisfy `predicate(points) -> bool array` (called once, on every node).
    fn with_boundary_part(
        &self,
        py: Python<'_>,
        name: &str,
        predicate: &Bound<'_, PyAny>,
    ) -> PyResult<(Self, usize)> {
        let points = self.points(py)?;
        let mask = py
            .import("numpy")?
            .call_method1("asarray", (predicate.call1((points,))?, "bool"))?
            .call_method1("reshape", (-1,))?;
        let mask: Vec<bool> = mask.extract()?;
        if mask.len() != self.inner.num_nodes() {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "the predicate of boundary part `{name}` returned {} values for {} nodes",
                mask.len(),
                self.inner.num_nodes()
            )));
        }
        let dim = self.inner.dim();
        let on: HashMap<[u64; 3], bool> = (0..self.inner.num_nodes())
            .map(|i| (key(self.inner.view().point(i), dim), mask[i]))
            .collect();
        let mut mesh = (*self.inner).clone();
        let count = mesh
            .add_boundary_part_where(name, |p| on.get(&key(p, dim)).copied().unwrap_or(false))
            .map_err(to_py)?;
        Ok((
            Self {
                inner: Arc::new(mesh),
            },
            count,
        ))
    }

    /// Node coordinates, `(n, dim)`.
    #[getter]
    fn points<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyArray1::from_slice(py, self.inner.coords())
            .reshape([self.inner.num_nodes(), self.inner.dim()])?
            .into_any())
    }

    /// Cell connectivity, `(m, nodes per cell)`.
    #[getter]
    fn cells<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cells: Vec<i64> = self.inner.cells().iter().map(|&v| v as i64).collect();
        let m = self.inner.num_cells();
        let per = cells.len().checked_div(m).unwrap_or(0);
        Ok(PyArray1::from_vec(py, cells).reshape([m, per])?.into_any())
    }

    /// Subdomain marker per cell (empty without markers).
    #[getter]
    fn cell_markers<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i32>> {
        PyArray1::from_slice(py, self.inner.cell_markers())
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    #[getter]
    fn num_nodes(&self) -> usize {
        self.inner.num_nodes()
    }

    #[getter]
    fn num_cells(&self) -> usize {
        self.inner.num_cells()
    }

    #[getter]
    fn cell_kind(&self) -> &'static str {
        self.inner.cell_kind().name()
    }

    /// Boundary parts: name → node indices.
    #[getter]
    fn boundary_parts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for part in self.inner.boundary_parts() {
            let nodes: Vec<i64> = part.nodes.iter().map(|&v| v as i64).collect();
            out.set_item(&part.name, PyArray1::from_vec(py, nodes))?;
        }
        Ok(out)
    }

    /// Subdomains: marker → name (or None).
    #[getter]
    fn subdomains<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for s in self.inner.subdomains() {
            out.set_item(s.id, s.name.clone())?;
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!(
            "Mesh({} {} cells, {} nodes, {}D)",
            self.inner.num_cells(),
            self.inner.cell_kind().name(),
            self.inner.num_nodes(),
            self.inner.dim()
        )
    }
}

fn key(p: [f64; 3], dim: usize) -> [u64; 3] {
    let mut k = [0; 3];
    for d in 0..dim {
        k[d] = p[d].to_bits();
    }
    k
}
