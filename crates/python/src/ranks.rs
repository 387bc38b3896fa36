//! `comm=`: femscale's ranks on an mpi4py communicator (the package built with the cargo
//! feature `mpi`), so a Python program launched by `mpirun` solves one problem, or runs a sweep,
//! across its ranks.

use femscale::distributed::linalg::SharedCommunicator;
use pyo3::prelude::*;

/// femscale's ranks on `comm`, an `mpi4py.MPI.Intracomm`: a private duplicate of it
/// (collective: every rank of `comm` must make the same call).
#[cfg(feature = "mpi")]
pub fn communicator(py: Python<'_>, comm: &Bound<'_, PyAny>) -> PyResult<SharedCommunicator> {
    use crate::errors::to_py;
    // Importing mpi4py.MPI initialises MPI: not for an argument that cannot be a communicator.
    let module: String = comm.get_type().getattr("__module__")?.extract()?;
    if !module.starts_with("mpi4py") {
        return Err(not_a_communicator(comm));
    }
    let intracomm = py
        .import("mpi4py.MPI")
        .and_then(|m| m.getattr("Intracomm"))
        .map_err(|e| {
            let err = pyo3::exceptions::PyImportError::new_err(
                "`comm` needs mpi4py (pip install mpi4py), built for the MPI library femscale \
                 was built with",
            );
            err.set_cause(py, Some(e));
            err
        })?;
    if !comm.is_instance(&intracomm)? {
        return Err(not_a_communicator(comm));
    }
    let handle: i32 = comm.call_method0("py2f")?.extract()?;
    // Collective over `comm`'s ranks; the other ranks may still be computing: no GIL held.
    let world = py.detach(|| {
        // SAFETY: `handle` is the Fortran handle of a live mpi4py communicator (checked to be
        // one above, and referenced by the caller for the duration of this call).
        unsafe { femscale::distributed::MpiWorld::duplicate_fortran(handle) }
    });
    Ok(std::sync::Arc::new(world.map_err(to_py)?))
}

#[cfg(feature = "mpi")]
fn not_a_communicator(comm: &Bound<'_, PyAny>) -> PyErr {
    let name = comm
        .get_type()
        .name()
        .map_or_else(|_| "?".into(), |n| n.to_string());
    pyo3::exceptions::PyTypeError::new_err(format!(
        "`comm` must be an mpi4py intra-communicator (mpi4py.MPI.Intracomm, e.g. \
         MPI.COMM_WORLD), not {name}"
    ))
}

/// The cargo features this module was built with (`femscale.features`).
pub const FEATURES: &[&str] = &[
    #[cfg(feature = "mpi")]
    "mpi",
];

/// Without the `mpi` feature: a typed error naming `comm` and the feature.
#[cfg(not(feature = "mpi"))]
pub fn communicator(_py: Python<'_>, _comm: &Bound<'_, PyAny>) -> PyResult<SharedCommunicator> {
    Err(crate::errors::to_py(femscale::Error::feature_disabled(
        "comm",
        "solving across MPI ranks (this femscale was built without MPI: install it with \
         MATURIN_PEP517_ARGS=\"--features mpi\" pip install ./crates/python)",
        "mpi",
    )))
}
