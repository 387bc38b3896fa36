"""Type stubs of femscale's native module (see the Rust sources in crates/python/src)."""

from os import PathLike
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

__version__: str
features: list[str]

Field = Union[float, str, Callable[..., Any], Mapping[str, Any], None]
Path = Union[str, PathLike]

class Solver:
    def __init__(
        self, config: Optional[Path] = None, overrides: Sequence[str] = ..., comm: Any = None
    ) -> None: ...
    def with_overrides(self, overrides: Sequence[str]) -> "Solver": ...
    def config(self) -> dict: ...
    def solve_1d(
        self,
        x_range: Sequence[float],
        num_elements: int,
        diffusion: Field,
        source: Field,
        left_bc: float,
        right_bc: float,
        exact: Field = None,
        linear_solver: Optional[str] = None,
        adaptive: bool = False,
        metrics: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, Optional[dict]]: ...
    def solve_2d(
        self,
        x_range: Sequence[float],
        y_range: Sequence[float],
        nx: int,
        ny: int,
        diffusion: Field,
        source: Field,
        boundary_values: Optional[Mapping[str, float]],
        exact: Field = None,
        linear_solver: Optional[str] = None,
        adaptive: bool = False,
        cells: str = "triangle",
        metrics: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, Optional[dict]]: ...
    def solve(
        self, mesh: Optional["Mesh"] = None, fields: Optional[Mapping[str, Field]] = None
    ) -> tuple[np.ndarray, np.ndarray, dict, "Mesh"]: ...
    def assemble(
        self, mesh: Optional["Mesh"] = None, fields: Optional[Mapping[str, Field]] = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int], np.ndarray]: ...
    def scaling_metrics(self) -> dict: ...
    def optimize_for_problem_size(self, dofs: int) -> dict: ...

class Mesh:
    def __init__(
        self,
        points: npt.ArrayLike,
        cells: npt.ArrayLike,
        cell_kind: Optional[str] = None,
        cell_markers: Optional[npt.ArrayLike] = None,
        facets: Optional[npt.ArrayLike] = None,
        facet_markers: Optional[npt.ArrayLike] = None,
        subdomain_names: Optional[Mapping[int, str]] = None,
        boundary_names: Optional[Mapping[int, str]] = None,
    ) -> None: ...
    @staticmethod
    def read(path: Path) -> "Mesh": ...
    def with_boundary_part(
        self, name: str, predicate: Callable[[np.ndarray], npt.ArrayLike]
    ) -> tuple["Mesh", int]: ...
    @property
    def points(self) -> np.ndarray: ...
    @property
    def cells(self) -> np.ndarray: ...
    @property
    def cell_markers(self) -> np.ndarray: ...
    @property
    def dim(self) -> int: ...
    @property
    def num_nodes(self) -> int: ...
    @property
    def num_cells(self) -> int: ...
    @property
    def cell_kind(self) -> str: ...
    @property
    def boundary_parts(self) -> dict[str, np.ndarray]: ...
    @property
    def subdomains(self) -> dict[int, Optional[str]]: ...

class Prepared:
    def __init__(
        self,
        solver: Solver,
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        shape: tuple[int, int],
        method: str,
        preconditioner: str,
    ) -> None: ...
    def solve(self, b: np.ndarray, x0: Optional[np.ndarray] = None) -> tuple[np.ndarray, dict]: ...
    @property
    def n(self) -> int: ...
    @property
    def setup_seconds(self) -> float: ...
    @property
    def memory_bytes(self) -> int: ...

def run_experiment(
    path: Path,
    overrides: Sequence[str] = ...,
    output_dir: Optional[Path] = None,
    parallel_runs: Optional[int] = None,
    fresh: bool = False,
    comm: Any = None,
) -> dict: ...
def scaling_benchmark(
    sizes: Sequence[int],
    levels: Sequence[str],
    solvers: Sequence[str] = ...,
    repetitions: int = 3,
    min_seconds: float = 0.3,
    caching: bool = False,
    overrides: Sequence[str] = ...,
) -> dict: ...
def config_keys() -> list[str]: ...
def rust_solve_1d_seconds(solver: Solver, num_elements: int, repetitions: int) -> list[float]: ...
