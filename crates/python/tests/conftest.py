import pathlib
import threading

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
GMSH = REPO / "crates" / "mesh" / "tests" / "data" / "gmsh"


@pytest.fixture
def repo():
    return REPO


@pytest.fixture
def gmsh_dir():
    return GMSH


@pytest.fixture
def solver():
    import femscale

    s = femscale.EnhancedFEMSolver()
    yield s
    s.shutdown()


@pytest.fixture
def no_leaked_threads():
    before = {t.ident for t in threading.enumerate()}
    yield
    leaked = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"
