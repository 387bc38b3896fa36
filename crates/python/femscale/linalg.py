"""femscale's linear solvers for your own sparse matrices.

>>> import numpy as np, scipy.sparse as sp, femscale.linalg
>>> n = 100
>>> A = sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csr")
>>> x = femscale.linalg.solve(A, np.ones(n), method="cg", preconditioner="amg")
>>> bool(np.allclose(A @ x, 1.0))
True
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np

from . import _native
from ._config import as_list, count, real
from .errors import ConfigurationError


def _csr_arrays(A):
    """``(indptr, indices, data, shape)`` of ``A``: a SciPy sparse matrix or array (any
    format), a dense 2D array, or the tuple ``(indptr, indices, data, shape)``."""
    if isinstance(A, tuple) and len(A) == 4:
        indptr, indices, data, shape = A
    else:
        try:
            import scipy.sparse as sp
        except ImportError:  # pragma: no cover - scipy is optional
            sp = None
        if np.iscomplexobj(A if not (sp is not None and sp.issparse(A)) else A.data):
            raise ConfigurationError(
                "invalid `A`: complex matrices are not supported (femscale solves real systems)",
                field="A",
                kind="InvalidInput",
            )
        if sp is not None and sp.issparse(A):
            A = A.tocsr()
            if not A.has_canonical_format:
                A = A.copy()
                A.sum_duplicates()  # sorts the indices too
        elif sp is not None:
            A = sp.csr_matrix(np.asarray(A, dtype=np.float64))
        else:
            raise TypeError("femscale.linalg needs scipy for matrices that are not CSR tuples")
        indptr, indices, data, shape = A.indptr, A.indices, A.data, A.shape
    return (
        _indices("indptr", indptr),
        _indices("indices", indices),
        np.ascontiguousarray(data, dtype=np.float64),
        _shape(shape),
    )


def _shape(shape) -> tuple:
    """``(rows, columns)`` as whole numbers (``2.9`` is refused, not truncated)."""
    try:
        rows, cols = shape
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"invalid `A.shape`: must be (rows, columns), not {shape!r}",
            field="A.shape",
            kind="InvalidInput",
        ) from None
    return (count("A.shape[0]", rows), count("A.shape[1]", cols))


def _indices(name: str, value) -> np.ndarray:
    """An index array as int64: integers only (a float array would be truncated, 0.5 read
    as 0)."""
    a = np.asarray(value)
    if a.size and a.dtype.kind not in "iu":
        raise ConfigurationError(
            f"invalid `A.{name}`: must be an integer array, not {a.dtype}",
            field=f"A.{name}",
            kind="InvalidInput",
        )
    if a.dtype.kind == "u" and a.size and int(a.max()) > np.iinfo(np.int64).max:
        raise ConfigurationError(
            f"invalid `A.{name}`: an index does not fit in 64 bits",
            field=f"A.{name}",
            kind="InvalidInput",
        )
    return np.ascontiguousarray(a, dtype=np.int64)


def _options(rtol, atol, maxiter, overrides) -> list:
    """The stopping rule, then the caller's ``overrides`` (which win)."""
    out = []
    if rtol is not None:
        out.append(f"solver.tolerance={real('rtol', rtol)!r}")
    if atol is not None:
        out.append(f"solver.absolute_tolerance={real('atol', atol)!r}")
    if maxiter is not None:
        out.append(f"solver.max_iterations={count('maxiter', maxiter)}")
    return out + as_list(overrides)


def _vector(name: str, value, n: int) -> np.ndarray:
    """A real vector of length ``n`` (shape ``(n,)`` or ``(n, 1)``)."""
    if np.iscomplexobj(value):
        raise ConfigurationError(
            f"invalid `{name}`: complex vectors are not supported (femscale solves real systems)",
            field=name,
            kind="InvalidInput",
        )
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1 or v.shape[0] != n:
        raise ConfigurationError(
            f"invalid `{name}`: must have shape ({n},), not {v.shape}",
            field=name,
            kind="DimensionMismatch",
        )
    return np.ascontiguousarray(v)


class PreparedSolver:
    """A solver set up once for ``A`` (the factorization or AMG hierarchy is built here) that
    solves many right-hand sides: ``x = prepared.solve(b)``.

    ``method`` is a solver name (``cg``, ``gmres``, ``bicgstab``, ``direct``, ``amg``, or a
    plugin's ``plugin:<name>``), ``preconditioner`` one of ``none``, ``jacobi``, ``ssor``,
    ``ilu0``, ``ic0``, ``amg`` (by default ``amg`` for the Krylov methods and plugins, ``none``
    for ``direct`` and ``amg``, which take none). ``rtol``, ``atol`` and
    ``maxiter`` set the stopping rule; ``overrides`` any other ``solver.*`` key
    (``"solver.amg.cycle=\\"v\\""``). Every solution is checked (finite, true residual)
    before it is returned; failures raise :class:`femscale.errors.ConvergenceError` with the
    iterations and residual history.
    """

    def __init__(
        self,
        A: Any,
        method: str = "cg",
        preconditioner: Optional[str] = None,
        *,
        rtol: Optional[float] = 1e-8,
        atol: Optional[float] = None,
        maxiter: Optional[int] = None,
        overrides: Iterable[str] | str | None = None,
        config: Optional[str] = None,
    ):
        if preconditioner is None:
            preconditioner = _default_preconditioner(method)
        solver = _native.Solver(config, _options(rtol, atol, maxiter, overrides))
        indptr, indices, data, shape = _csr_arrays(A)
        self.shape = shape
        self.method = method
        self.preconditioner = preconditioner
        self._prepared = _native.Prepared(
            solver, indptr, indices, data, shape, method, preconditioner
        )
        #: The report of the last solve (iterations, residuals, timings).
        self.info: Optional[dict] = None

    @property
    def setup_seconds(self) -> float:
        return self._prepared.setup_seconds

    @property
    def memory_bytes(self) -> int:
        return self._prepared.memory_bytes

    def solve(self, b, x0=None, *, return_info: bool = False):
        """``x`` with ``A x = b`` (from the initial guess ``x0``); with ``return_info``,
        ``(x, info)`` where ``info`` is the solve report."""
        b = _vector("b", b, self.shape[0])
        if x0 is not None:
            x0 = _vector("x0", x0, self.shape[1])
        x, info = self._prepared.solve(b, x0)
        self.info = info
        return (x, info) if return_info else x

    def __repr__(self):
        return (
            f"PreparedSolver({self.method}+{self.preconditioner}, n={self.shape[0]}, "
            f"setup {self.setup_seconds:.3g}s)"
        )


def _default_preconditioner(method: Any) -> str:
    """``none`` for the methods that apply no preconditioner (review D: the default ``amg``
    made ``method="direct"`` an error), else ``amg``."""
    return "none" if method in ("direct", "amg") else "amg"


def solve(
    A: Any,
    b,
    method: str = "cg",
    preconditioner: Optional[str] = None,
    *,
    x0=None,
    rtol: Optional[float] = 1e-8,
    atol: Optional[float] = None,
    maxiter: Optional[int] = None,
    overrides: Iterable[str] | str | None = None,
    return_info: bool = False,
):
    """Solves ``A x = b`` once with femscale's ``method`` and ``preconditioner`` (see
    :class:`PreparedSolver`). Returns ``x``, or ``(x, info)`` with ``return_info``."""
    prepared = PreparedSolver(
        A, method, preconditioner, rtol=rtol, atol=atol, maxiter=maxiter, overrides=overrides
    )
    return prepared.solve(b, x0, return_info=return_info)


__all__ = ["PreparedSolver", "solve"]
