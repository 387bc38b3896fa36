"""Python values as femscale configuration overrides (``"key=value"``, the value as TOML)."""

from __future__ import annotations

import inspect
import json
import math
import os
from typing import Any, Iterable, Mapping

from .errors import ConfigurationError

#: The original design's solver options and the configuration keys they set.
SOLVER_OPTION_KEYS = {
    "max_iterations": "solver.max_iterations",
    "tolerance": "solver.tolerance",
    "absolute_tolerance": "solver.absolute_tolerance",
    "memory_limit_mb": "solver.memory_limit_mb",
    "timeout_seconds": "solver.timeout_seconds",
    "linear_solver": "solver.kind",
    "preconditioner": "solver.preconditioner",
}

#: The original design's scaling options (level, threads and the six toggles).
SCALING_OPTION_KEYS = {
    "scaling_level": "scaling.level",
    "threads": "scaling.threads",
    "enable_jit": "scaling.enable_jit",
    "enable_caching": "scaling.enable_caching",
    "enable_parallel": "scaling.enable_parallel",
    "enable_parallel_assembly": "scaling.enable_parallel",
    "enable_autoscaling": "scaling.enable_autoscaling",
    "enable_adaptive_mesh": "scaling.enable_adaptive_mesh",
    "enable_memory_pooling": "scaling.enable_memory_pooling",
}

OPTION_KEYS = {**SOLVER_OPTION_KEYS, **SCALING_OPTION_KEYS}


def toml_literal(value: Any, key: str) -> str:
    """``value`` written as a TOML value (numbers, strings, booleans, lists, dicts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (str, os.PathLike)):
        return json.dumps(os.fspath(value))
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{json.dumps(str(k))} = {toml_literal(v, f'{key}.{k}')}" for k, v in value.items()
        )
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_literal(v, f"{key}[{i}]") for i, v in enumerate(value)) + "]"
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return toml_literal(value.item(), key)
    raise ConfigurationError(
        f"invalid `{key}`: {type(value).__name__} cannot be a configuration value "
        "(numbers, strings, booleans, lists and dicts can)",
        field=key,
        kind="InvalidInput",
    )


def overrides_from_dict(config: Mapping[str, Any]) -> list[str]:
    """A configuration dict (``{"problem": {...}, "solver": {...}}``, or dotted keys) as
    overrides: each section's entries become ``section.key=value``."""
    out = []
    for section, body in config.items():
        if isinstance(body, Mapping) and "." not in section:
            for key, value in body.items():
                if value is not None:
                    out.append(f"{section}.{key}={toml_literal(value, f'{section}.{key}')}")
        elif body is not None:
            out.append(f"{section}={toml_literal(body, section)}")
    return out


def overrides_from_options(options: Mapping[str, Any] | None, what: str) -> list[str]:
    """The original design's option dicts (and dotted configuration keys) as overrides."""
    out = []
    for name, value in (options or {}).items():
        if value is None:
            continue
        key = OPTION_KEYS.get(name, name if "." in name else None)
        if key is None:
            raise ConfigurationError(
                f"unknown {what} `{name}`; known: {', '.join(sorted(OPTION_KEYS))} or a "
                "dotted configuration key such as `solver.amg.cycle`",
                field=name,
                kind="UnknownName",
                name=name,
                known=sorted(OPTION_KEYS),
            )
        if key == "scaling.level" and not isinstance(value, str):
            value = getattr(value, "value", value)
        out.append(f"{key}={toml_literal(value, name)}")
    return out


def as_list(overrides: Iterable[str] | str | None) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


def adapt_callable(value: Any, dim: int):
    """A user callable as femscale calls it, on an ``(n, dim)`` array of points.

    ``f(x)`` in 1D receives the ``(n,)`` array of x; ``f(x, y)`` / ``f(x, y, z)`` receive one
    array per coordinate; any other callable receives the ``(n, dim)`` array itself.
    """
    if value is None or isinstance(value, (int, float, str, Mapping)) or not callable(value):
        if isinstance(value, Mapping):
            return {k: adapt_callable(v, dim) for k, v in value.items()}
        return value
    try:
        params = [
            p
            for p in inspect.signature(value).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        count = len(params)
    except (TypeError, ValueError):  # builtins and ufuncs without a signature
        count = 1
    if dim == 1 and count == 1:
        wrapped = lambda points: value(points[:, 0])  # noqa: E731
    elif dim > 1 and count == dim:
        wrapped = lambda points: value(*(points[:, d] for d in range(dim)))  # noqa: E731
    else:
        return value
    wrapped.__name__ = getattr(value, "__name__", "callable")
    return wrapped
