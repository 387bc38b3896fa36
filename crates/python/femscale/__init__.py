"""femscale from Python: finite elements for ``-div(k grad u) + c u = f`` with Dirichlet,
Neumann and Robin boundaries, solved by femscale's Rust pipeline with NumPy arrays in and out.

* the original design's API: :class:`EnhancedFEMSolver` (``solve_1d_laplace``,
  ``solve_1d_laplace_enhanced``, ``solve_2d_laplace_enhanced``, ``get_scaling_metrics``,
  ``optimize_for_problem_size``, ``scaling_context``, ``shutdown``),
  :func:`create_enhanced_fem_solver`, :class:`ScalingBenchmark`;
* configurations and experiments: :func:`solve`, :func:`assemble`, :func:`run`;
* meshes from NumPy arrays or Gmsh files: :class:`Mesh`;
* femscale's solvers for SciPy matrices: :mod:`femscale.linalg`;
* typed exceptions: :mod:`femscale.errors`;
* across MPI ranks (``comm=`` an mpi4py communicator, in :func:`solve` and :func:`run`) when
  ``"mpi" in femscale.features`` (built with ``MATURIN_PEP517_ARGS="--features mpi"``).
"""

from . import errors, linalg
from ._native import Mesh, __version__, config_keys, features
from .api import Solution, assemble, run, solve
from .errors import (
    CacheError,
    ConfigurationError,
    ConvergenceError,
    FemscaleError,
    FemscaleIOError,
    MemoryLimitError,
    MeshError,
    PluginError,
    SolveError,
    SolveTimeoutError,
)
from .solver import (
    SCALING_LEVELS,
    EnhancedFEMSolver,
    ScalingBenchmark,
    ScalingContext,
    create_enhanced_fem_solver,
)

__all__ = [
    "EnhancedFEMSolver",
    "ScalingBenchmark",
    "ScalingContext",
    "create_enhanced_fem_solver",
    "SCALING_LEVELS",
    "Mesh",
    "Solution",
    "solve",
    "assemble",
    "run",
    "linalg",
    "errors",
    "config_keys",
    "features",
    *errors.__all__,
    "__version__",
]
