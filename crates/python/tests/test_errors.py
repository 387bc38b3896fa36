"""Typed exceptions carrying the data of the Rust errors."""

import numpy as np
import pytest

import femscale
from femscale import errors


def test_invalid_parameter_names_the_field(solver):
    with pytest.raises(femscale.ConfigurationError) as info:
        solver.solve_1d_laplace(num_elements=0)
    assert isinstance(info.value, ValueError)
    assert info.value.field == "num_elements"
    assert info.value.kind == "InvalidInput"


def test_unknown_configuration_key_and_bad_expression():
    with pytest.raises(femscale.ConfigurationError) as info:
        femscale.solve(overrides=["solver.tolerence=1e-3"])
    assert "tolerance" in str(info.value)
    assert info.value.field == "solver.tolerence"
    # A value out of range names its key as data too.
    with pytest.raises(femscale.ConfigurationError) as info:
        femscale.EnhancedFEMSolver(scaling_options={"threads": -1})
    assert info.value.field == "scaling.threads", info.value
    with pytest.raises(femscale.ConfigurationError) as info:
        femscale.solve(overrides=['problem.source="sin(pi*x"'])
    assert info.value.kind == "Expression" and info.value.column > 0


def test_convergence_error_carries_iterations_and_residuals():
    with pytest.raises(femscale.ConvergenceError) as info:
        femscale.solve(
            overrides=[
                'solver.kind="cg"',
                'solver.preconditioner="none"',
                "solver.max_iterations=3",
                'problem.source="1"',
            ]
        )
    e = info.value
    assert e.kind == "NotConverged" and e.iterations == 3
    assert e.residual > e.tolerance == 1e-8
    assert len(e.report["residual_history"]) >= 3


def test_memory_limit_is_a_memory_error():
    with pytest.raises(MemoryError) as info:
        femscale.solve(overrides=["solver.memory_limit_mb=0.001", 'solver.kind="direct"'])
    e = info.value
    assert isinstance(e, femscale.MemoryLimitError)
    assert e.needed_mb > e.limit_mb == 0.001
    assert e.field == "solver.memory_limit_mb"


def test_timeout_is_a_timeout_error():
    with pytest.raises(TimeoutError) as info:
        femscale.solve(
            overrides=["solver.timeout_seconds=0.001", "problem.mesh.nx=512", "problem.mesh.ny=512"]
        )
    e = info.value
    assert isinstance(e, femscale.SolveTimeoutError)
    assert e.limit_seconds == 0.001 and e.phase


def test_plugin_error_names_the_plugin():
    with pytest.raises(femscale.PluginError) as info:
        femscale.solve(overrides=['plugins.paths=["/nonexistent/libsolver.so"]'])
    assert "libsolver.so" in info.value.plugin


def test_mesh_errors(gmsh_dir):
    with pytest.raises(femscale.MeshError) as info:
        femscale.Mesh(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), np.array([[0, 1, 2]]))
    assert "degenerate" in str(info.value) or "zero" in str(info.value)
    with pytest.raises(OSError):
        femscale.Mesh.read(gmsh_dir / "does_not_exist.msh")
    broken = sorted((gmsh_dir / "broken").glob("*.msh"))
    assert broken
    for path in broken:
        with pytest.raises(femscale.MeshError) as info:
            femscale.Mesh.read(path)
        assert info.value.path.endswith(path.name) and info.value.section


def test_callable_errors_propagate(solver):
    def broken(x):
        raise KeyError("from the callable")

    with pytest.raises(KeyError, match="from the callable"):
        solver.solve_1d_laplace(source_function=broken)
    with pytest.raises(ValueError, match=r"shape \[2\]"):
        solver.solve_1d_laplace(source_function=lambda x: np.ones(2))
    with pytest.raises(TypeError):
        solver.solve_1d_laplace(source_function=object())
    # The solver is still usable afterwards.
    _, u = solver.solve_1d_laplace(num_elements=4, right_bc=1)
    np.testing.assert_allclose(u, [0, 0.25, 0.5, 0.75, 1.0], atol=1e-14)


def test_every_error_class_derives_from_the_base():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), femscale.FemscaleError)
