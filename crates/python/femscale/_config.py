"""Python values as femscale configuration overrides (``"key=value"``, the value as TOML)."""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
import re
import threading
from typing import Any, Iterable, Mapping

import numpy as np

from .errors import ConfigurationError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

#: Set while femscale calls a user callable on this thread (see ``adapt_callable``).
in_callback = threading.local()

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
    """``value`` written as a TOML value (numbers, strings, booleans, lists, dicts; NumPy
    scalars and arrays too)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, complex):
        raise ConfigurationError(
            f"invalid `{key}`: complex values are not configuration values", field=key,
            kind="InvalidInput",
        )
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
            f"{json.dumps(str(k))} = {toml_literal(v, f'{key}.{k}')}"
            for k, v in value.items()
            if v is not None
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
        check_key(section)
        if isinstance(body, Mapping) and "." not in section:
            for key, value in body.items():
                check_key(key, section)
                if value is not None:
                    out.append(f"{section}.{key}={toml_literal(value, f'{section}.{key}')}")
        elif body is not None:
            out.append(f"{section}={toml_literal(body, section)}")
    return out


def check_key(key: Any, parent: str = "") -> None:
    """Configuration keys are dotted names (letters, digits, ``_``, ``-``)."""
    name = f"{parent}.{key}" if parent else str(key)
    if not isinstance(key, str) or not all(_KEY.match(part) for part in key.split(".")):
        raise ConfigurationError(
            f"invalid configuration key {name!r}: keys are dotted names of letters, digits, "
            "`_` and `-`",
            field=name,
            kind="InvalidInput",
        )


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
    """``"key=value"`` overrides as a list (one string or an iterable of them)."""
    if overrides is None:
        return []
    items = [overrides] if isinstance(overrides, str) else list(overrides)
    for item in items:
        if not isinstance(item, str):
            raise ConfigurationError(
                f"overrides are `key=value` strings, not {type(item).__name__}",
                field="overrides",
                kind="InvalidInput",
            )
    return items


def count(name: str, value: Any, minimum: int = 0) -> int:
    """A whole number for parameter ``name`` (Python or NumPy integer; ``bool`` refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            value = int(value)
        else:
            raise ConfigurationError(
                f"invalid `{name}`: must be a whole number, not {value!r}",
                field=name,
                kind="InvalidInput",
                reason="not a whole number",
            )
    value = int(value)
    if not minimum <= value < 2**63:
        raise ConfigurationError(
            f"invalid `{name}`: {value} is out of range ({minimum} to {2**63 - 1})",
            field=name,
            kind="InvalidInput",
            reason="out of range",
        )
    return value


def real(name: str, value: Any) -> float:
    """A real number for parameter ``name`` (finite or not: femscale's checks name it)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigurationError(
            f"invalid `{name}`: must be a real number, not {value!r}",
            field=name,
            kind="InvalidInput",
            reason="not a real number",
        )
    try:
        return float(value)
    except OverflowError:
        # An integer beyond a double's range (review D: `x_end=2**1100` raised OverflowError).
        raise ConfigurationError(
            f"invalid `{name}`: {value} is out of the range of a double (about ±1.8e308)",
            field=name,
            kind="InvalidInput",
            reason="out of range",
        ) from None


def names(name: str, value: Any) -> list[str]:
    """A list of names for parameter ``name`` (a bare string is refused: iterating it would
    give its letters)."""
    items = [value] if isinstance(value, str) else None
    if items is None:
        try:
            items = [getattr(v, "value", v) for v in value]
        except TypeError:
            items = [value]
    for item in items:
        if not isinstance(item, str) or isinstance(value, str):
            raise ConfigurationError(
                f"invalid `{name}`: a list of names, not {value!r}",
                field=name,
                kind="InvalidInput",
                reason="not a list of names",
            )
    return items


def pair(name: str, value: Any) -> list:
    """Two real numbers (a range)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ConfigurationError(
            f"invalid `{name}`: must be two numbers (start, end), not {value!r}",
            field=name,
            kind="InvalidInput",
            reason="not a pair",
        )
    return [real(f"{name}[{i}]", v) for i, v in enumerate(value)]


def adapt_callable(value: Any, dim: int | None):
    """A user callable as femscale calls it, on an ``(n, dim)`` array of points (``dim`` None:
    the array's own).

    ``f(x)`` in 1D receives the ``(n,)`` array of x; ``f(x, y)`` / ``f(x, y, z)`` receive one
    array per coordinate; any other callable receives the ``(n, dim)`` array itself.
    """
    if value is None or isinstance(value, (numbers.Real, str, Mapping)) or not callable(value):
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
    def call(points):
        d = points.shape[1] if dim is None else dim
        if d == 1 and count == 1:
            return value(points[:, 0])
        if d > 1 and count == d:
            return value(*(points[:, k] for k in range(d)))
        return value(points)

    def wrapped(points):
        in_callback.active = getattr(in_callback, "active", 0) + 1
        try:
            return call(points)
        finally:
            in_callback.active -= 1

    wrapped.__name__ = getattr(value, "__name__", "callable")
    return wrapped
