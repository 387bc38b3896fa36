//! `Solver`: a `FemSolver` (configuration, registry, cache) and the solves it runs.

use std::path::PathBuf;
use std::sync::Arc;

use femscale::prelude::*;
use femscale::runtime::config::{ConfigSources, schema_keys};
use femscale::runtime::{Laplace1d, Laplace2d};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::errors::to_py;
use crate::fields::{CallbackErrors, field_spec};
use crate::json_to_py;
use crate::mesh::Mesh;

/// A femscale solver: its configuration (defaults < file < `FEMSCALE_*` < overrides), the
/// component registry with its plugins, and its cache.
#[pyclass(frozen, module = "femscale._native")]
pub struct Solver {
    pub(crate) inner: Arc<FemSolver>,
}

/// Runs `f` without the GIL; a callable's exception wins over the error it caused.
pub(crate) fn detached<T: Send>(
    py: Python<'_>,
    errors: &CallbackErrors,
    f: impl FnOnce() -> femscale::Result<T> + Send,
) -> PyResult<T> {
    let result = py.detach(f);
    if let Some(err) = errors.take() {
        return Err(err);
    }
    // A Ctrl-C during the solve: raise KeyboardInterrupt now rather than return.
    py.check_signals()?;
    result.map_err(to_py)
}

/// `(nodes, values, metrics)`: nodes `(n,)` in 1D, `(n, dim)` otherwise; `metrics` a dict, or
/// `None` when not `with_metrics` (converting them costs about 30 µs).
fn solution_tuple<'py>(
    py: Python<'py>,
    sol: Solution,
    with_metrics: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, solution_parts(py, sol, with_metrics)?)
}

/// `[nodes, values, metrics]` of [`solution_tuple`], for callers that add to them.
fn solution_parts<'py>(
    py: Python<'py>,
    sol: Solution,
    with_metrics: bool,
) -> PyResult<[Bound<'py, PyAny>; 3]> {
    let dim = sol.mesh.dim();
    let nodes = PyArray1::from_slice(py, sol.mesh.coords());
    let nodes = if dim == 1 {
        nodes.into_any()
    } else {
        nodes.reshape([sol.mesh.num_nodes(), dim])?.into_any()
    };
    let values = PyArray1::from_vec(py, sol.values).into_any();
    let metrics = if with_metrics {
        json_to_py(py, &sol.metrics)?
    } else {
        py.None().into_bound(py)
    };
    Ok([nodes, values, metrics])
}

#[pymethods]
impl Solver {
    /// A solver configured by the TOML file `config` (or the defaults) with `overrides`
    /// (`"key=value"`, values read as TOML) on top.
    ///
    /// With `comm` (an mpi4py intra-communicator; the package built with the `mpi` feature)
    /// the solver runs on its ranks: every rank of `comm` creates it and calls the same
    /// solves, `solver.kind` must be a distributed solver on several ranks, and each rank gets
    /// the whole solution.
    #[new]
    #[pyo3(signature = (config=None, overrides=Vec::new(), comm=None))]
    fn new(
        py: Python<'_>,
        config: Option<PathBuf>,
        overrides: Vec<String>,
        comm: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let sources = ConfigSources {
            file: config,
            overrides,
        };
        // On ranks: the communicator first (collective), then the configuration, which may
        // fail on one rank alone (a file missing there); all agree before any solve.
        let ranks = comm
            .map(|c| crate::ranks::communicator(py, c))
            .transpose()?;
        let inner = detached(py, &CallbackErrors::default(), || {
            let config = Config::load(&sources);
            match ranks {
                Some(ranks) => {
                    let local = config.and_then(|c| femscale::ranks::solver_on(c, ranks.clone()));
                    femscale::ranks::agreed(ranks.as_ref(), "create its solver", local)
                }
                None => config.and_then(FemSolver::from_config),
            }
        })?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// A solver like this one with `overrides` applied; this one is unchanged. It shares this
    /// solver's cache when `[cache]` is unchanged.
    fn with_overrides(&self, py: Python<'_>, overrides: Vec<String>) -> PyResult<Self> {
        let refs: Vec<&str> = overrides.iter().map(String::as_str).collect();
        let inner = detached(py, &CallbackErrors::default(), || {
            self.inner.with_overrides(&refs)
        })?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Tells the other ranks of a solver on ranks that this rank's next solve failed before
    /// it began (`reason`; e.g. its arguments were refused), so that they fail too instead
    /// of waiting for it. Collective with that solve on the other ranks; nothing without
    /// ranks.
    fn _abandon(&self, py: Python<'_>, reason: &str) {
        py.detach(|| self.inner.abandon_solve(None, reason));
    }

    /// The effective configuration as a dict.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, self.inner.config())
    }

    /// Solves `-(k u')' = f` on `x_range` with Dirichlet values at both ends.
    #[pyo3(signature = (x_range, num_elements, diffusion, source, left_bc, right_bc, exact=None, linear_solver=None, adaptive=false, metrics=true))]
    #[allow(clippy::too_many_arguments)]
    fn solve_1d<'py>(
        &self,
        py: Python<'py>,
        x_range: [f64; 2],
        num_elements: usize,
        diffusion: &Bound<'py, PyAny>,
        source: Option<&Bound<'py, PyAny>>,
        left_bc: f64,
        right_bc: f64,
        exact: Option<&Bound<'py, PyAny>>,
        linear_solver: Option<String>,
        adaptive: bool,
        metrics: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut errors = CallbackErrors::default();
        let kind = linear_solver.clone();
        let p = (|| {
            Ok(Laplace1d {
                x_range,
                num_elements,
                diffusion: field_spec("diffusion_coeff", 1, Some(diffusion), &mut errors)?
                    .unwrap_or(FieldSpec::Constant(1.0)),
                source: field_spec("source_function", 1, source, &mut errors)?,
                left_bc,
                right_bc,
                exact: field_spec("exact_solution", 1, exact, &mut errors)?,
                linear_solver,
                enable_adaptive_refinement: adaptive,
            })
        })();
        let p = self.built(py, p, kind.as_deref())?;
        let sol = detached(py, &errors, || self.inner.solve_1d_laplace(&p))?;
        solution_tuple(py, sol, metrics)
    }

    /// Solves `-div(k grad u) = f` on a rectangle with Dirichlet values per side
    /// (`boundary_values` by `left`, `right`, `bottom`, `top`; missing sides are 0).
    #[pyo3(signature = (x_range, y_range, nx, ny, diffusion, source, boundary_values, exact=None, linear_solver=None, adaptive=false, cells="triangle", metrics=true))]
    #[allow(clippy::too_many_arguments)]
    fn solve_2d<'py>(
        &self,
        py: Python<'py>,
        x_range: [f64; 2],
        y_range: [f64; 2],
        nx: usize,
        ny: usize,
        diffusion: &Bound<'py, PyAny>,
        source: Option<&Bound<'py, PyAny>>,
        boundary_values: Option<&Bound<'py, PyDict>>,
        exact: Option<&Bound<'py, PyAny>>,
        linear_solver: Option<String>,
        adaptive: bool,
        cells: &str,
        metrics: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut errors = CallbackErrors::default();
        let kind = linear_solver.clone();
        let p = (|| {
            let cells = match cells {
                "triangle" => femscale::mesh::RectangleCells::Triangle,
                "quadrilateral" => femscale::mesh::RectangleCells::Quadrilateral,
                other => {
                    return Err(to_py(femscale::Error::UnknownName {
                        field: "cells".into(),
                        what: "cell kind".into(),
                        name: other.into(),
                        known: vec!["triangle".into(), "quadrilateral".into()],
                    }));
                }
            };
            let mut p = Laplace2d {
                x_range,
                y_range,
                nx,
                ny,
                cells,
                diffusion: field_spec("diffusion_coeff", 2, Some(diffusion), &mut errors)?
                    .unwrap_or(FieldSpec::Constant(1.0)),
                source: field_spec("source_function", 2, source, &mut errors)?,
                exact: field_spec("exact_solution", 2, exact, &mut errors)?,
                linear_solver,
                enable_adaptive_refinement: adaptive,
                ..Default::default()
            };
            if let Some(values) = boundary_values {
                for (side, value) in values.iter() {
                    let side: String = side.extract()?;
                    let value: f64 = value.extract()?;
                    let slot = match side.as_str() {
                        "left" => &mut p.left_bc,
                        "right" => &mut p.right_bc,
                        "bottom" => &mut p.bottom_bc,
                        "top" => &mut p.top_bc,
                        _ => {
                            return Err(to_py(femscale::Error::UnknownName {
                                field: "boundary_values".into(),
                                what: "side".into(),
                                name: side,
                                known: ["left", "right", "bottom", "top"]
                                    .map(String::from)
                                    .to_vec(),
                            }));
                        }
                    };
                    *slot = value;
                }
            }
            Ok(p)
        })();
        let p = self.built(py, p, kind.as_deref())?;
        // The façade names the sides' values `left_bc`, ...; here they are `boundary_values`.
        let by_side = |e: femscale::Error| {
            e.map_field(|f| match f.to_string().strip_suffix("_bc") {
                Some(side @ ("left" | "right" | "bottom" | "top")) => {
                    format!("boundary_values.{side}").as_str().into()
                }
                _ => f,
            })
        };
        let sol = detached(py, &errors, || {
            self.inner.solve_2d_laplace(&p).map_err(by_side)
        })?;
        solution_tuple(py, sol, metrics)
    }

    /// Solves the configuration's `[problem]`, on `mesh` when given, with `fields`
    /// (`diffusion`, `reaction`, `source`, `exact`: numbers, expressions, callables or dicts by
    /// subdomain) replacing the configured ones: `(nodes, values, metrics, mesh)`, `mesh` the
    /// one solved on (shared, not copied).
    #[pyo3(signature = (mesh=None, fields=None))]
    fn solve<'py>(
        &self,
        py: Python<'py>,
        mesh: Option<&Mesh>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut errors = CallbackErrors::default();
        let problem = self.problem(mesh, fields, &mut errors);
        let problem = self.built(py, problem, None)?;
        let sol = detached(py, &errors, || self.inner.solve(&problem))?;
        let mesh = Mesh {
            inner: sol.mesh.clone(),
        };
        let [nodes, values, metrics] = solution_parts(py, sol, true)?;
        PyTuple::new(
            py,
            [nodes, values, metrics, Bound::new(py, mesh)?.into_any()],
        )
    }

    /// The assembled operator of the configuration's `[problem]` (on `mesh`, with `fields`, as
    /// [`Solver::solve`]): `(indptr, indices, data, shape, rhs)` with the Dirichlet rows
    /// eliminated, as SciPy's CSR arrays.
    #[pyo3(signature = (mesh=None, fields=None))]
    fn assemble<'py>(
        &self,
        py: Python<'py>,
        mesh: Option<&Mesh>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut errors = CallbackErrors::default();
        // No collective step follows on the other ranks: nothing to abandon.
        let problem = self.problem(mesh, fields, &mut errors)?;
        let op = detached(py, &errors, || self.inner.assemble(&problem))?;
        let shape = (op.matrix.nrows(), op.matrix.ncols());
        // SciPy wants int32 or int64 indices: the index arrays are converted (int32 when the
        // entries fit); the values and the right-hand side move into NumPy without a copy when
        // no cache level holds the operator.
        let (pattern, values) = match Arc::try_unwrap(op.matrix) {
            Ok(matrix) => matrix.into_parts(),
            Err(shared) => (shared.pattern().clone(), shared.values().to_vec()),
        };
        let largest = pattern.nnz().max(shape.0).max(shape.1);
        let indptr = index_array(py, pattern.row_ptr(), largest)?;
        let indices = index_array(py, pattern.col_idx(), largest)?;
        PyTuple::new(
            py,
            [
                indptr,
                indices,
                PyArray1::from_vec(py, values).into_any(),
                shape.into_pyobject(py)?.into_any(),
                PyArray1::from_vec(py, op.rhs).into_any(),
            ],
        )
    }

    /// Counters of caching, reuse and scaling decisions so far.
    fn scaling_metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.inner.scaling_metrics())
    }

    /// How a 2D P1 problem of `dofs` unknowns would run now: toggles, plan, solver.
    fn optimize_for_problem_size<'py>(
        &self,
        py: Python<'py>,
        dofs: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let decision = self.inner.optimize_for_problem_size(dofs);
        let out = PyDict::new(py);
        out.set_item("dofs", dofs)?;
        out.set_item("solver", &decision.solver)?;
        out.set_item("preconditioner", &decision.preconditioner)?;
        out.set_item("toggles", json_to_py(py, &decision.toggles)?)?;
        out.set_item("plan", json_to_py(py, &decision.plan)?)?;
        Ok(out)
    }
}

/// `values` as an int32 array when indices up to `max` fit, int64 otherwise (SciPy's rule).
fn index_array<'py, T>(py: Python<'py>, values: &[T], max: usize) -> PyResult<Bound<'py, PyAny>>
where
    T: Copy + TryInto<i32> + TryInto<i64>,
{
    // Every entry is at most `max`: it fits whichever type `max` fits.
    if i32::try_from(max).is_ok() {
        let v: Vec<i32> = (values.iter())
            .map(|&v| v.try_into().unwrap_or(i32::MAX))
            .collect();
        Ok(PyArray1::from_vec(py, v).into_any())
    } else {
        let v: Vec<i64> = (values.iter())
            .map(|&v| v.try_into().unwrap_or(i64::MAX))
            .collect();
        Ok(PyArray1::from_vec(py, v).into_any())
    }
}

impl Solver {
    /// `built` (what a solve is made of), or — for a solver on ranks — its error after
    /// telling the other ranks, which would otherwise wait for this one in the solve's first
    /// collective step (see `FemSolver::abandon_solve`; collective, so without the GIL).
    fn built<T>(&self, py: Python<'_>, built: PyResult<T>, kind: Option<&str>) -> PyResult<T> {
        built.inspect_err(|e| {
            let reason = e.to_string();
            py.detach(|| self.inner.abandon_solve(kind, &reason));
        })
    }

    fn problem(
        &self,
        mesh: Option<&Mesh>,
        fields: Option<&Bound<'_, PyDict>>,
        errors: &mut CallbackErrors,
    ) -> PyResult<Problem> {
        let mut problem = self.inner.config().problem.clone();
        if let Some(mesh) = mesh {
            // The configuration's refinements and parts apply to the given mesh (as to a file).
            problem.mesh = problem.mesh.on_mesh(mesh.inner.clone());
        }
        if let Some(fields) = fields {
            let dim = match (problem.dim, problem.mesh.dim()) {
                (_, Some(dim)) | (Some(dim), None) => dim,
                // A mesh file (maybe refined): read it now, so that callables see points of
                // its dimension.
                (None, None) => gmsh_dim(&mut problem.mesh).map_err(to_py)?,
            };
            for (key, value) in fields.iter() {
                let key: String = key.extract()?;
                let spec = field_spec(&key, dim, Some(&value), errors)?;
                match key.as_str() {
                    "diffusion" => problem.diffusion = spec.unwrap_or(FieldSpec::Constant(1.0)),
                    "reaction" => problem.reaction = spec,
                    "source" => problem.source = spec,
                    "exact" => problem.exact = spec,
                    _ => {
                        return Err(to_py(femscale::Error::UnknownName {
                            field: "fields".into(),
                            what: "field".into(),
                            name: key,
                            known: ["diffusion", "reaction", "source", "exact"]
                                .map(String::from)
                                .to_vec(),
                        }));
                    }
                }
            }
        }
        Ok(problem)
    }
}

/// The dimension of a mesh file's mesh (under any number of uniform refinements): the file is
/// read, and the innermost spec replaced by the mesh read, so it is not read again.
fn gmsh_dim(spec: &mut MeshSpec) -> femscale::Result<usize> {
    match spec {
        MeshSpec::Gmsh(path) => {
            let read = femscale::mesh::Mesh::read_gmsh(path.as_path())?;
            let dim = read.dim();
            *spec = MeshSpec::Mesh(Arc::new(read));
            Ok(dim)
        }
        MeshSpec::Refined { base, .. } | MeshSpec::Parts { base, .. } => gmsh_dim(base),
        other => other.dim().ok_or_else(|| {
            femscale::Error::invalid(
                "problem.dim",
                "the mesh's dimension is not known before it is built; set problem.dim",
            )
        }),
    }
}

/// Every configuration key, as `docs/configuration.md` lists them.
#[pyfunction]
pub fn config_keys() -> Vec<String> {
    schema_keys()
}

/// The baseline of the Python overhead benchmark: seconds of each of `repetitions` calls of
/// `FemSolver::solve_1d_laplace` on `num_elements` elements (`u(0) = 0`, `u(1) = 1`) made
/// from Rust, as `Solver.solve_1d` makes them from Python.
#[pyfunction]
pub fn rust_solve_1d_seconds(
    py: Python<'_>,
    solver: &Solver,
    num_elements: usize,
    repetitions: usize,
) -> PyResult<Vec<f64>> {
    let p = Laplace1d {
        num_elements,
        right_bc: 1.0,
        ..Default::default()
    };
    detached(py, &CallbackErrors::default(), || {
        (0..repetitions)
            .map(|_| {
                let start = std::time::Instant::now();
                let sol = solver.inner.solve_1d_laplace(&p)?;
                let seconds = start.elapsed().as_secs_f64();
                std::hint::black_box(sol);
                Ok(seconds)
            })
            .collect()
    })
}
