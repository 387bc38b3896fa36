"""Beyond the original design: solve a configuration, run an experiment, get the operator."""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Union

import numpy as np

from . import _native
from ._config import adapt_callable, as_list, count, overrides_from_dict
from .errors import ConfigurationError

ConfigLike = Union[str, os.PathLike, Mapping[str, Any], None]


class _SolutionTuple(NamedTuple):
    nodes: np.ndarray
    values: np.ndarray
    metrics: dict


class Solution(_SolutionTuple):
    """A solution: node coordinates (``(n,)`` in 1D, ``(n, dim)`` otherwise), one value per
    node, and the metrics of the solve (a dict); unpacks as ``nodes, values, metrics``.
    ``mesh`` is the :class:`femscale.Mesh` solved on (its ``cells`` for plotting on
    unstructured meshes, its markers)."""

    mesh: "_native.Mesh"

    def __new__(cls, nodes, values, metrics, mesh=None):
        self = super().__new__(cls, nodes, values, metrics)
        self.mesh = mesh
        return self


def _solver(
    config: ConfigLike, overrides: Iterable[str] | str | None, comm: Any = None
) -> "_native.Solver":
    extra = as_list(overrides)
    if config is None:
        return _native.Solver(None, extra, comm)
    if isinstance(config, Mapping):
        return _native.Solver(None, overrides_from_dict(config) + extra, comm)
    return _native.Solver(os.fspath(config), extra, comm)


def _fields(fields: Mapping[str, Any], dim: Optional[int]) -> dict:
    return {k: adapt_callable(v, dim) for k, v in fields.items()}


def solve(
    config: ConfigLike = None,
    *,
    overrides: Iterable[str] | str | None = None,
    mesh: Optional["_native.Mesh"] = None,
    comm: Any = None,
    **fields: Any,
) -> Solution:
    """Solves the ``[problem]`` of ``config`` — a TOML file, a dict of sections
    (``{"problem": {...}, "solver": {...}}``) or ``None`` for the defaults — with
    ``overrides`` (``"key=value"``) on top, on ``mesh`` (a :class:`femscale.Mesh`) when given.
    ``diffusion``, ``reaction``, ``source`` and ``exact`` keyword arguments replace the
    configured fields: numbers, expressions, callables of the coordinates or dicts by
    subdomain.

    ``comm`` (an ``mpi4py.MPI.Intracomm``, e.g. ``MPI.COMM_WORLD``; the package built with
    MPI) solves across its ranks: every rank calls ``solve`` with the same arguments,
    ``solver.kind`` is ``"distributed-cg"`` (or ``-gmres``, ``-bicgstab``) on several ranks,
    each rank assembles the cells of its rows, and every rank gets the whole solution.

    >>> import femscale
    >>> sol = femscale.solve({"problem": {"mesh": {"kind": "interval", "x": [0, 1], "nx": 8},
    ...                                  "boundary": [{"where": "all", "kind": "dirichlet", "value": "0"}],
    ...                                  "source": "1"}})
    >>> round(float(sol.values.max()), 6)
    0.125
    """
    solver = _solver(config, overrides, comm)
    try:
        _check_mesh(mesh)
        dim = mesh.dim if mesh is not None else _dim_of(solver)
        fields = _fields(fields, dim)
    except Exception as e:
        # On ranks, the others would wait for this one in the solve.
        solver._abandon(f"{type(e).__name__}: {e}")
        raise
    return Solution(*solver.solve(mesh, fields))


def assemble(
    config: ConfigLike = None,
    *,
    overrides: Iterable[str] | str | None = None,
    mesh: Optional["_native.Mesh"] = None,
    **fields: Any,
):
    """The operator of the problem :func:`solve` would solve: ``(A, b)`` with ``A`` a
    ``scipy.sparse.csr_matrix`` (Dirichlet rows and columns eliminated, unit diagonal there)
    and ``b`` the right-hand side with the boundary values lifted."""
    import scipy.sparse as sp

    solver = _solver(config, overrides)
    _check_mesh(mesh)
    dim = mesh.dim if mesh is not None else _dim_of(solver)
    indptr, indices, data, shape, rhs = solver.assemble(mesh, _fields(fields, dim))
    return sp.csr_matrix((data, indices, indptr), shape=shape, copy=False), rhs


def run(
    experiment: Union[str, os.PathLike],
    *,
    overrides: Iterable[str] | str | None = None,
    output_dir: Union[str, os.PathLike, None] = None,
    parallel_runs: Optional[int] = None,
    fresh: bool = False,
    comm: Any = None,
) -> dict:
    """Runs an experiment file as ``femscale run`` does (sweep × repetitions, resumable,
    ``results.jsonl``, ``summary.csv``, VTU and SVG outputs); returns its report: ``total``,
    ``ran``, ``skipped``, ``failed``, ``all_ok``, paths, ``records`` (one dict per run) and
    ``summary`` (one dict per point).

    ``comm`` (an ``mpi4py.MPI.Intracomm``; the package built with MPI) hands the runs out over
    its ranks as ``mpirun -n P femscale run`` does: every rank calls ``run``, rank 0 alone
    writes the output directory and returns the report, the other ranks return
    ``{"rank": r, "runs": n}``."""
    return _native.run_experiment(
        os.fspath(experiment),
        as_list(overrides),
        os.fspath(output_dir) if output_dir is not None else None,
        count("parallel_runs", parallel_runs) if parallel_runs is not None else None,
        fresh,
        comm,
    )


def _check_mesh(mesh) -> None:
    if mesh is not None and not isinstance(mesh, _native.Mesh):
        raise ConfigurationError(
            f"invalid `mesh`: a femscale.Mesh (femscale.Mesh(points, cells) or "
            f"femscale.Mesh.read(path)), not {type(mesh).__name__}",
            field="mesh",
            kind="InvalidInput",
        )


def _dim_of(solver) -> Optional[int]:
    problem = solver.config()["problem"]
    if problem.get("dim"):
        return problem["dim"]
    kind = problem["mesh"].get("kind")
    return {"interval": 1, "rectangle": 2, "box": 3}.get(kind)


__all__ = ["Solution", "solve", "assemble", "run"]
