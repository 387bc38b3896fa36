"""The solver class of the original design: ``EnhancedFEMSolver`` and its factory."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Optional, Sequence

from . import _native
from collections import OrderedDict

from ._config import (
    SCALING_OPTION_KEYS,
    SOLVER_OPTION_KEYS,
    adapt_callable,
    as_list,
    count,
    in_callback,
    overrides_from_options,
    names,
    pair,
    real,
)
from .errors import ConfigurationError, FemscaleError

#: The scaling levels: presets of threads and the six toggles (``auto`` plans per solve).
SCALING_LEVELS = ("minimal", "standard", "aggressive", "auto")

#: Solvers with overrides (scaling contexts, parallel-assembly flags) kept for reuse; each holds
#: its own thread pools, so the least recently used beyond this many are dropped.
MAX_VARIANTS = 8


class EnhancedFEMSolver:
    """femscale's solver with the original design's API.

    ``solver_options`` (``max_iterations``, ``tolerance``, ``memory_limit_mb``,
    ``timeout_seconds``, ``linear_solver``, ``preconditioner``) and ``scaling_options``
    (``scaling_level``, ``threads``, ``enable_jit``, ``enable_caching``, ``enable_parallel``,
    ``enable_autoscaling``, ``enable_adaptive_mesh``, ``enable_memory_pooling``) may also hold
    any dotted configuration key (``"solver.amg.cycle": "v"``). ``config`` is a TOML file
    loaded first (defaults < file < ``FEMSCALE_*`` variables < options < ``overrides``).

    The ``*_enhanced`` methods are coroutines: the solve runs on this solver's worker thread
    with the GIL released, so the event loop stays responsive. ``shutdown()`` stops the
    worker threads; a solver is also a context manager that shuts down on exit.
    """

    def __init__(
        self,
        solver_options: Optional[Mapping[str, Any]] = None,
        scaling_options: Optional[Mapping[str, Any]] = None,
        *,
        scaling_level: Optional[str] = None,
        config: Optional[os.PathLike | str] = None,
        overrides: Sequence[str] = (),
        max_workers: int = 1,
    ):
        self.solver_options = dict(solver_options or {})
        self.scaling_options = dict(scaling_options or {})
        if scaling_level is not None:
            self.scaling_options["scaling_level"] = scaling_level
        options = overrides_from_options(self.solver_options, "solver option")
        options += overrides_from_options(self.scaling_options, "scaling option")
        self._native = _native.Solver(
            os.fspath(config) if config is not None else None, options + as_list(overrides)
        )
        # The solver of the innermost active scaling_context, per context (thread or task).
        self._scoped: contextvars.ContextVar = contextvars.ContextVar(
            f"femscale_scope_{id(self)}", default=None
        )
        self._variants: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._executor: Optional[ThreadPoolExecutor] = None
        self._max_workers = count("max_workers", max_workers, minimum=1)
        if self._max_workers > 1024:
            # Threads of the async solves' pool: beyond this, a typo rather than a plan.
            raise ConfigurationError(
                f"invalid `max_workers`: {self._max_workers} threads (at most 1024)",
                field="max_workers",
                kind="InvalidInput",
                reason="out of range",
            )
        self._closed = False

    # -- configuration -------------------------------------------------------------------

    @property
    def config(self) -> dict:
        """The effective configuration (the active ``scaling_context`` included)."""
        return self._active().config()

    def _active(self) -> "_native.Solver":
        if self._closed:
            raise FemscaleError("this solver was shut down", kind="Shutdown")
        return self._scoped.get() or self._native

    def _variant(self, overrides: tuple) -> "_native.Solver":
        """The active solver with ``overrides`` (built once per set, sharing the cache)."""
        base = self._active()
        if not overrides:
            return base
        # Keyed by the base's id, and the entry holds the base: while an entry lives, no other
        # solver can take that id (a freed variant's address reused by a new one found the old
        # one's derived variants, with their options).
        key = (id(base), overrides)
        found = None
        with self._lock:
            entry = self._variants.get(key)
            if entry is not None and entry[0] is base:
                self._variants.move_to_end(key)
                found = entry[1]
        if found is None:
            found = base.with_overrides(list(overrides))
            with self._lock:
                self._variants[key] = (base, found)
                while len(self._variants) > MAX_VARIANTS:
                    self._variants.popitem(last=False)
        return found

    # -- the original design's solves ----------------------------------------------------

    def solve_1d_laplace(
        self,
        x_start: float = 0.0,
        x_end: float = 1.0,
        num_elements: int = 100,
        diffusion_coeff: Any = 1.0,
        left_bc: float = 0.0,
        right_bc: float = 0.0,
        source_function: Any = None,
        *,
        exact_solution: Any = None,
        linear_solver: Optional[str] = None,
        enable_adaptive_refinement: bool = False,
        return_metrics: bool = False,
    ):
        """``-(k u')' = f`` on ``[x_start, x_end]``, ``u`` given at both ends.

        ``diffusion_coeff`` and ``source_function`` are numbers, expressions of ``x``
        (``"sin(pi*x)"``, compiled) or callables evaluated on NumPy arrays of points (one call
        per batch). Returns ``(nodes, solution)``, and ``metrics`` third when
        ``return_metrics``.
        """
        out = self._solve_1d(
            x_start, x_end, num_elements, diffusion_coeff, left_bc, right_bc, source_function,
            exact_solution=exact_solution, linear_solver=linear_solver,
            enable_adaptive_refinement=enable_adaptive_refinement, metrics=return_metrics,
        )
        return out if return_metrics else out[:2]

    def _solve_1d(
        self,
        x_start,
        x_end,
        num_elements,
        diffusion_coeff,
        left_bc,
        right_bc,
        source_function,
        *,
        exact_solution=None,
        linear_solver=None,
        enable_adaptive_refinement=False,
        solver=None,
        metrics=True,
    ):
        return (solver or self._active()).solve_1d(
            [real("x_start", x_start), real("x_end", x_end)],
            count("num_elements", num_elements),
            adapt_callable(diffusion_coeff, 1),
            adapt_callable(source_function, 1),
            real("left_bc", left_bc),
            real("right_bc", right_bc),
            adapt_callable(exact_solution, 1),
            linear_solver,
            bool(enable_adaptive_refinement),
            metrics=metrics,
        )

    async def solve_1d_laplace_enhanced(
        self,
        x_start: float = 0.0,
        x_end: float = 1.0,
        num_elements: int = 100,
        diffusion_coeff: Any = 1.0,
        left_bc: float = 0.0,
        right_bc: float = 0.0,
        source_function: Any = None,
        *,
        exact_solution: Any = None,
        linear_solver: Optional[str] = None,
        enable_adaptive_refinement: bool = False,
        enable_parallel_assembly: Optional[bool] = None,
    ):
        """The 1D solve as a coroutine, with metrics: ``(nodes, solution, metrics)``.

        ``metrics`` holds sizes, phase timings, the solver and its iterations, the verified
        residual, errors against ``exact_solution``, ``adaptive_refinement_used`` and the
        adaptive steps, the features used and the cache reuse.
        """
        solver = self._variant(_parallel_override(enable_parallel_assembly))
        call = functools.partial(
            self._solve_1d,
            x_start,
            x_end,
            num_elements,
            diffusion_coeff,
            left_bc,
            right_bc,
            source_function,
            exact_solution=exact_solution,
            linear_solver=linear_solver,
            enable_adaptive_refinement=enable_adaptive_refinement,
            solver=solver,
        )
        return await self._offload(call)

    def solve_2d_laplace(
        self,
        x_range: Sequence[float] = (0.0, 1.0),
        y_range: Sequence[float] = (0.0, 1.0),
        nx: int = 32,
        ny: int = 32,
        diffusion_coeff: Any = 1.0,
        source_function: Any = None,
        boundary_values: Optional[Mapping[str, float]] = None,
        *,
        exact_solution: Any = None,
        linear_solver: Optional[str] = None,
        enable_adaptive_refinement: bool = False,
        enable_parallel_assembly: Optional[bool] = None,
        cells: str = "triangle",
        return_metrics: bool = False,
    ):
        """``-div(k grad u) = f`` on a rectangle of ``nx`` × ``ny`` squares (two triangles
        each, or ``cells="quadrilateral"``), ``u`` given per side in ``boundary_values``
        (``left``, ``right``, ``bottom``, ``top``; missing sides are 0). Callables take
        ``(x, y)`` arrays or one ``(n, 2)`` array. Returns ``(nodes, solution)`` with
        ``nodes`` of shape ``(n, 2)``, and ``metrics`` third when ``return_metrics``."""
        solver = self._variant(_parallel_override(enable_parallel_assembly))
        out = _solve_2d(
            solver, x_range, y_range, nx, ny, diffusion_coeff, source_function,
            boundary_values, exact_solution, linear_solver, enable_adaptive_refinement, cells,
            metrics=return_metrics,
        )
        return out if return_metrics else out[:2]

    async def solve_2d_laplace_enhanced(
        self,
        x_range: Sequence[float] = (0.0, 1.0),
        y_range: Sequence[float] = (0.0, 1.0),
        nx: int = 32,
        ny: int = 32,
        diffusion_coeff: Any = 1.0,
        source_function: Any = None,
        boundary_values: Optional[Mapping[str, float]] = None,
        enable_adaptive_refinement: bool = False,
        enable_parallel_assembly: Optional[bool] = None,
        *,
        exact_solution: Any = None,
        linear_solver: Optional[str] = None,
        cells: str = "triangle",
    ):
        """:meth:`solve_2d_laplace` as a coroutine run off the event loop, returning
        ``(nodes, solution, metrics)``."""
        solver = self._variant(_parallel_override(enable_parallel_assembly))
        call = functools.partial(
            _solve_2d, solver, x_range, y_range, nx, ny, diffusion_coeff, source_function,
            boundary_values, exact_solution, linear_solver, enable_adaptive_refinement, cells,
        )
        return await self._offload(call)

    async def _offload(self, call):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), call)

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._closed:
                raise FemscaleError("this solver was shut down", kind="Shutdown")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._max_workers, thread_name_prefix="femscale-solve"
                )
            return self._executor

    # -- scaling -------------------------------------------------------------------------

    def get_scaling_metrics(self) -> dict:
        """Counters so far: cache hits and misses per level, what the cache let solves reuse,
        expression compilations, parallel assemblies, pool reuses, worker-pool decisions."""
        return self._active().scaling_metrics()

    def optimize_for_problem_size(self, estimated_dofs: int) -> dict:
        """How a 2D P1 problem of ``estimated_dofs`` unknowns would run on this machine now:
        the toggles, the execution plan (threads, memory estimate and budget, rationale) and
        the solver ``auto`` resolves to."""
        return self._active().optimize_for_problem_size(count("estimated_dofs", estimated_dofs))

    def scaling_context(self, **overrides) -> "ScalingContext":
        """Options (the keys of ``solver_options`` and ``scaling_options``, or dotted
        configuration keys as ``solver__amg__cycle`` or via ``overrides=[...]``) that hold
        inside a ``with`` or ``async with`` block, for this thread or task only."""
        extra = as_list(overrides.pop("overrides", None))
        options = {k.replace("__", "."): v for k, v in overrides.items()}
        return ScalingContext(self, tuple(overrides_from_options(options, "option") + extra))

    # -- lifetime ------------------------------------------------------------------------

    def shutdown(self, wait: bool = True) -> None:
        """Stops the worker threads (after the running solve when ``wait``); the solver cannot
        solve afterwards. Called from a coefficient or source callable (inside a solve), it
        does not wait for that solve, which would never end."""
        if getattr(in_callback, "active", 0):
            wait = False
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
            self._variants.clear()
        if executor is not None:
            executor.shutdown(wait=wait)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False

    def __repr__(self):
        state = "shut down" if self._closed else "ready"
        level = self._native.config()["scaling"]["level"]
        return f"EnhancedFEMSolver(scaling_level={level!r}, {state})"


def _solve_2d(
    solver, x_range, y_range, nx, ny, diffusion_coeff, source_function, boundary_values,
    exact_solution, linear_solver, enable_adaptive_refinement, cells, metrics=True,
):
    if boundary_values is not None and not isinstance(boundary_values, Mapping):
        raise ConfigurationError(
            "invalid `boundary_values`: a dict by side (left, right, bottom, top)",
            field="boundary_values",
            kind="InvalidInput",
        )
    return solver.solve_2d(
        pair("x_range", x_range),
        pair("y_range", y_range),
        count("nx", nx),
        count("ny", ny),
        adapt_callable(diffusion_coeff, 2),
        adapt_callable(source_function, 2),
        {str(k): real(f"boundary_values.{k}", v) for k, v in (boundary_values or {}).items()},
        adapt_callable(exact_solution, 2),
        linear_solver,
        bool(enable_adaptive_refinement),
        cells,
        metrics=metrics,
    )


def _parallel_override(flag: Optional[bool]) -> tuple:
    return () if flag is None else (f"scaling.enable_parallel={'true' if flag else 'false'}",)


class ScalingContext:
    """What :meth:`EnhancedFEMSolver.scaling_context` returns: a sync and async context
    manager; inside it, the solver's solves use the overrides."""

    def __init__(self, owner: EnhancedFEMSolver, overrides: tuple):
        self._owner = owner
        self._overrides = overrides
        # What this object's entries set, per thread or task (one object may be entered by
        # several at once: a list on the object let one exit pop another's entry).
        self._entered: contextvars.ContextVar = contextvars.ContextVar(
            f"femscale_entered_{id(self)}", default=()
        )

    def __enter__(self) -> EnhancedFEMSolver:
        solver = self._owner._variant(self._overrides)
        token = self._owner._scoped.set(solver)
        self._entered.set(self._entered.get() + ((token, solver),))
        return self._owner

    def __exit__(self, *exc):
        entered = self._entered.get()
        if not entered:
            raise RuntimeError("scaling_context exited more often than it was entered")
        token, solver = entered[-1]
        if self._owner._scoped.get() is not solver:
            raise RuntimeError(
                "scaling contexts must end in the reverse order of their start (an inner "
                "context is still active)"
            )
        self._entered.set(entered[:-1])
        self._owner._scoped.reset(token)
        return False

    async def __aenter__(self) -> EnhancedFEMSolver:
        return self.__enter__()

    async def __aexit__(self, *exc):
        return self.__exit__(*exc)


def create_enhanced_fem_solver(
    scaling_level: str = "auto",
    solver_options: Optional[Mapping[str, Any]] = None,
    scaling_options: Optional[Mapping[str, Any]] = None,
    **kwargs,
) -> EnhancedFEMSolver:
    """A solver at ``scaling_level`` (``minimal``, ``standard``, ``aggressive`` or ``auto``)."""
    level = getattr(scaling_level, "value", scaling_level)
    if level not in SCALING_LEVELS:
        raise ConfigurationError(
            f"unknown scaling level `{level}` in `scaling_level`; known: {', '.join(SCALING_LEVELS)}",
            field="scaling_level",
            kind="UnknownName",
            name=level,
            known=list(SCALING_LEVELS),
        )
    return EnhancedFEMSolver(
        solver_options, scaling_options, scaling_level=level, **kwargs
    )


class ScalingBenchmark:
    """The scaling benchmark of the original design: 2D P1 Poisson problems of ``sizes``
    squares per side × scaling ``levels`` (× ``solvers``), timed ``repetitions`` times each.

    ``run()`` returns ``{"cores", "repetitions", "rows": [...], "best": [...]}``: each row
    has the size, DOFs, level, solver, threads, every repetition's seconds and their median;
    ``best`` names the fastest configuration per size and how far ``auto`` was from it.
    """

    def __init__(
        self,
        sizes: Sequence[int] = (64, 256, 1024),
        levels: Sequence[str] = SCALING_LEVELS,
        solvers: Sequence[str] = (),
        repetitions: int = 3,
        min_seconds: float = 0.3,
        caching: bool = False,
        overrides: Sequence[str] = (),
    ):
        # Checked like the solves' parameters (review D: `sizes=[8.9]` ran 8, `solvers="cg"`
        # named the solvers `c` and `g`, a negative size raised OverflowError).
        self.sizes = [count(f"sizes[{i}]", s, minimum=1) for i, s in enumerate(sizes)]
        self.levels = names("levels", levels)
        self.solvers = names("solvers", solvers)
        self.repetitions = count("repetitions", repetitions, minimum=1)
        self.min_seconds = real("min_seconds", min_seconds)
        self.caching = bool(caching)
        self.overrides = as_list(overrides)
        self.results: Optional[dict] = None

    def run(self) -> dict:
        self.results = _native.scaling_benchmark(
            self.sizes,
            self.levels,
            self.solvers,
            self.repetitions,
            self.min_seconds,
            self.caching,
            self.overrides,
        )
        return self.results

    async def run_async(self) -> dict:
        return await asyncio.get_running_loop().run_in_executor(None, self.run)


__all__ = [
    "EnhancedFEMSolver",
    "ScalingContext",
    "ScalingBenchmark",
    "create_enhanced_fem_solver",
    "SCALING_LEVELS",
    "SOLVER_OPTION_KEYS",
    "SCALING_OPTION_KEYS",
]
