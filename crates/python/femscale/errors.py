"""femscale's exceptions: one class per kind of failure, carrying the data of the Rust error.

Every exception derives from :class:`FemscaleError`; where a built-in exception means the same
thing, the class derives from it too, so ``except MemoryError`` or ``except TimeoutError``
catches femscale's as well.

Attributes (``None`` where the Rust error has no such datum):

* ``field``: the parameter or configuration key at fault (``"num_elements"``,
  ``"solver.tolerance"``, ``"problem.boundary[0].where"``);
* ``iterations``, ``residual`` (the last relative residual), ``tolerance``, ``report`` (the
  linear solve report as a dict, with ``residual_history``) for solver failures;
* ``elapsed_seconds``, ``limit_seconds``, ``phase`` for timeouts;
* ``needed_mb``, ``limit_mb`` for memory limits;
* ``plugin`` for plugin failures; ``path``, ``section``, ``line`` for mesh files.
"""

from __future__ import annotations


class FemscaleError(Exception):
    """Base class of every error femscale raises."""

    #: Which Rust error this is (``"InvalidInput"``, ``"NotConverged"``, ...).
    kind = None
    field = None
    report = None

    def __init__(self, message, **data):
        super().__init__(message)
        self.message = message
        for key, value in data.items():
            setattr(self, key, value)


class ConfigurationError(FemscaleError, ValueError):
    """Invalid parameter, configuration key, name or expression (``field`` names it)."""


class MeshError(FemscaleError, ValueError):
    """An invalid mesh, or a mesh file that cannot be read (``path``, ``section``, ``line``)."""


class ConvergenceError(FemscaleError):
    """The linear solver did not converge, broke down, or returned an unverifiable solution.

    ``iterations``, ``residual``, ``tolerance`` and ``report`` say how far it got.
    """


class MemoryLimitError(FemscaleError, MemoryError):
    """The estimated memory need exceeds ``solver.memory_limit_mb`` (``needed_mb``, ``limit_mb``)."""


class SolveTimeoutError(FemscaleError, TimeoutError):
    """The wall-clock budget ``solver.timeout_seconds`` was spent (``phase``, ``elapsed_seconds``)."""


class PluginError(FemscaleError):
    """A solver plugin failed to load or returned an error (``plugin`` names it)."""


class CacheError(FemscaleError):
    """A cache level failed."""


class FemscaleIOError(FemscaleError, OSError):
    """A file could not be read or written (``path``)."""


class SolveError(FemscaleError):
    """Another failure of the linear solve (a singular matrix in a factorisation, ...)."""


__all__ = [
    "FemscaleError",
    "ConfigurationError",
    "MeshError",
    "ConvergenceError",
    "MemoryLimitError",
    "SolveTimeoutError",
    "PluginError",
    "CacheError",
    "FemscaleIOError",
    "SolveError",
]
