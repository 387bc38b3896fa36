"""What careless or hostile input must not do: crash, hang, leak, or give a wrong answer."""

import asyncio
import threading

import numpy as np
import pytest

import femscale
import femscale.linalg as fl
from femscale.solver import MAX_VARIANTS

sp = pytest.importorskip("scipy.sparse")


def tridiagonal(n):
    return sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csr")


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_extreme_scales_are_solved_or_refused_never_zeroed(solver, scale):
    """Norms computed without underflow: a right-hand side of 1e-200 is not mistaken for 0."""
    try:
        nodes, u = solver.solve_1d_laplace(0, 1, 10, 1.0, scale, 2 * scale, None, linear_solver="cg")
    except femscale.FemscaleError:
        return  # a typed refusal is acceptable; a silent zero is not
    np.testing.assert_allclose(u, scale * (1 + nodes), rtol=1e-8)


def test_linalg_tiny_systems_are_not_answered_with_zero():
    A = tridiagonal(20)
    expected = fl.solve(A, np.ones(20), "direct", "none")
    try:
        x = fl.solve(A * 1e-200, np.ones(20) * 1e-200, "cg", "none")
    except femscale.FemscaleError:
        return
    np.testing.assert_allclose(x, expected, rtol=1e-6)


@pytest.mark.parametrize(
    "source",
    [
        lambda x, y: x,  # a strided column view
        lambda p: p[:, 0],
        lambda x, y: np.broadcast_to(1.0, x.shape),
        lambda x, y: np.ones_like(x)[::-1],
        lambda x, y: (x + y).reshape(-1, 1),
        lambda x, y: np.ones(x.shape, dtype=np.int32),
    ],
)
def test_callables_may_return_any_layout(solver, source):
    _, u = solver.solve_2d_laplace((0, 1), (0, 1), 8, 8, 1.0, source)
    assert np.isfinite(u).all() and np.abs(u).max() > 0


def test_callables_returning_wrong_shapes_or_complex_values_are_refused(solver):
    with pytest.raises(ValueError, match="shape"):
        solver.solve_2d_laplace((0, 1), (0, 1), 8, 8, 1.0, lambda x, y: np.ones((2, x.size // 2)))
    with pytest.raises(TypeError, match="real numbers"):
        solver.solve_2d_laplace((0, 1), (0, 1), 8, 8, 1.0, lambda x, y: x + 1j)


def test_numpy_scalars_and_arrays_are_configuration_values():
    s = femscale.EnhancedFEMSolver(
        solver_options={"tolerance": np.float64(1e-9), "max_iterations": np.int64(50)},
        scaling_options={"enable_caching": np.bool_(False)},
    )
    assert s.config["solver"]["tolerance"] == 1e-9 and s.config["solver"]["max_iterations"] == 50
    with s.scaling_context(tolerance=np.float32(1e-3)):
        assert abs(s.config["solver"]["tolerance"] - 1e-3) < 1e-10
    sol = femscale.solve(
        {"problem": {"mesh": {"kind": "interval", "x": np.linspace(0, 2, 2), "nx": np.int32(4)}}}
    )
    assert sol.metrics["num_elements"] == 4 and sol.nodes[-1] == 2.0
    s.shutdown()


def test_keys_and_overrides_cannot_smuggle_settings():
    with pytest.raises(femscale.ConfigurationError):
        femscale.solve({"problem": {"mesh.nx=3 #": 1}})
    with pytest.raises(femscale.ConfigurationError, match="several lines"):
        femscale.solve(overrides=['solver.tolerance=1e-3\nsolver.kind="direct"'])
    # The caller's overrides win over linalg's own stopping rule.
    A = tridiagonal(50)
    _, info = fl.solve(A, np.ones(50), "cg", "none", overrides=["solver.tolerance=1e-2"], return_info=True)
    assert info["tolerance"] == 1e-2


def test_linalg_vector_shapes_and_complex_input():
    A = tridiagonal(10)
    x = fl.solve(A, np.ones((10, 1)), "direct", "none")
    assert x.shape == (10,)
    with pytest.raises(femscale.ConfigurationError):
        fl.solve(A, np.ones((10, 2)))
    with pytest.raises(femscale.ConfigurationError):
        fl.solve(A, np.ones(10) + 1j)
    with pytest.raises(femscale.ConfigurationError):
        fl.solve(A.astype(complex), np.ones(10))


@pytest.mark.parametrize("value", [2**64, -1, 1.5, "10", True, 1e300, None])
def test_counts_are_whole_numbers_in_range(solver, value):
    with pytest.raises(femscale.ConfigurationError) as info:
        solver.solve_1d_laplace(num_elements=value)
    assert info.value.field == "num_elements"


def test_count_errors_state_the_range_and_run_checks_parallel_runs(solver, tmp_path):
    with pytest.raises(femscale.ConfigurationError, match=r"out of range \(0 to 9223372036854775807\)"):
        solver.solve_1d_laplace(num_elements=2**64)
    experiment = tmp_path / "e.toml"
    experiment.write_text('[experiment]\nname = "e"\n[sweep]\n"problem.mesh.nx" = [4]\n')
    for value in [-1, 10**20, True, 1.5]:
        # They were OverflowError and TypeError (True ran as 1).
        with pytest.raises(femscale.ConfigurationError) as info:
            femscale.run(experiment, output_dir=tmp_path / "out", parallel_runs=value)
        assert info.value.field == "parallel_runs"


def test_non_square_matrices_and_problem_wide_errors_are_said_so(solver):
    with pytest.raises(Exception, match="matrix is 3x4, not square"):
        fl.solve(np.ones((3, 4)), np.ones(3))
    # An overflowing right-hand side concerns the problem as a whole (it named no field).
    with pytest.raises(femscale.ConfigurationError) as info:
        solver.solve_1d_laplace(0, 1, 3, 1.0, 0, 1e308, "1e308")
    assert info.value.field == "problem"


def test_ranges_and_boundary_values_are_checked(solver):
    with pytest.raises(femscale.ConfigurationError) as info:
        solver.solve_2d_laplace(x_range="01")
    assert info.value.field == "x_range"
    with pytest.raises(femscale.ConfigurationError) as info:
        solver.solve_2d_laplace(boundary_values={"left": "abc"})
    assert info.value.field == "boundary_values.left"
    with pytest.raises(femscale.ConfigurationError):
        solver.solve_2d_laplace(boundary_values=[1, 2])
    # A value that is not finite: named by the parameter given, not the façade's `top_bc`.
    with pytest.raises(femscale.ConfigurationError) as info:
        solver.solve_2d_laplace(nx=4, ny=4, boundary_values={"top": float("nan")})
    assert info.value.field == "boundary_values.top", info.value


def test_scaling_contexts_end_in_order_and_variants_are_bounded():
    s = femscale.EnhancedFEMSolver()
    a, b = s.scaling_context(tolerance=1e-6), s.scaling_context(tolerance=1e-7)
    a.__enter__()
    b.__enter__()
    with pytest.raises(RuntimeError, match="reverse order"):
        a.__exit__(None, None, None)
    b.__exit__(None, None, None)
    a.__exit__(None, None, None)
    with pytest.raises(RuntimeError):
        a.__exit__(None, None, None)
    threads_before = threading.active_count()
    for tol in np.logspace(-12, -4, 3 * MAX_VARIANTS):
        with s.scaling_context(tolerance=float(tol)):
            s.solve_1d_laplace(num_elements=20)
    assert len(s._variants) <= MAX_VARIANTS
    assert threading.active_count() <= threads_before + 1
    s.shutdown()


def test_a_variant_is_never_found_under_a_freed_solver_s_id():
    """Review D: variants were cached by `id()` of the solver they derive from; a freed
    variant's address, reused by a new one, found the old one's derived variants (with their
    options: 77 iterations and Jacobi inside a context asking for 300 and none)."""
    s = femscale.EnhancedFEMSolver()
    inner = s.scaling_context(linear_solver="gmres")
    for attempt in range(40):
        with s.scaling_context(preconditioner="jacobi", max_iterations=77):
            with inner:
                pass
            for k in range(MAX_VARIANTS - 2):
                with s.scaling_context(max_iterations=1000 + 10 * attempt + k):
                    pass
            with inner:
                pass
            # The first variant leaves the cache and is freed.
            with s.scaling_context(max_iterations=5000 + attempt):
                pass
        with s.scaling_context(preconditioner="none", max_iterations=300):
            with inner:
                cfg = s.config["solver"]
                assert (cfg["max_iterations"], cfg["preconditioner"]) == (300, "none"), attempt
                assert cfg["kind"] == "gmres"
    s.shutdown()


def test_one_scaling_context_entered_by_two_threads_at_once():
    """Review D: the entries of one context object were a list on the object, so the thread
    that left first popped the other's entry; both raised, and the options stayed on."""
    import time

    s = femscale.EnhancedFEMSolver()
    ctx = s.scaling_context(linear_solver="gmres")
    errors = []

    def worker():
        try:
            with ctx:
                assert s.config["solver"]["kind"] == "gmres"
                time.sleep(0.3)
        except Exception as e:  # noqa: BLE001 - any error fails the test below
            errors.append(e)

    t = threading.Thread(target=worker)
    t.start()
    time.sleep(0.1)
    with ctx:
        time.sleep(0.4)
    t.join()
    assert errors == []
    assert s.config["solver"]["kind"] != "gmres"
    s.shutdown()


def test_shutdown_from_a_callable_does_not_deadlock():
    s = femscale.EnhancedFEMSolver()

    def source(x, y):
        s.shutdown()
        return np.ones_like(x)

    result = {}

    def run():
        try:
            result["value"] = asyncio.run(
                s.solve_2d_laplace_enhanced((0, 1), (0, 1), 8, 8, 1.0, source)
            )
        except Exception as e:  # noqa: BLE001 - whatever it is, it must come back
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(timeout=60)
    assert not t.is_alive(), "shutdown() inside a solve deadlocked"
    assert "value" in result or "error" in result


def test_mesh_arrays_of_any_integer_dtype_and_layout():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    for cells in (
        np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int32),
        np.array([[0, 1, 2], [0, 2, 3]], dtype=np.uint64),
        [[0, 1, 2], [0, 2, 3]],
        np.asfortranarray(np.array([[0, 1, 2], [0, 2, 3]])),
    ):
        mesh = femscale.Mesh(points, cells, cell_markers=np.array([1, 2]))
        assert mesh.num_cells == 2 and mesh.subdomains == {1: None, 2: None}
    line = femscale.Mesh(np.linspace(0, 1, 5), np.c_[np.arange(4), np.arange(1, 5)])
    assert line.dim == 1 and line.num_cells == 4
    with pytest.raises(femscale.ConfigurationError) as info:
        femscale.Mesh(points, np.array([[0.0, 1, 2]]))
    assert info.value.field == "cells"
    with pytest.raises(femscale.ConfigurationError) as info:
        femscale.Mesh(points, [[0, 1, 2]], cell_markers=np.array([2**40]))
    assert info.value.field == "cell_markers"
    with pytest.raises(femscale.ConfigurationError):
        femscale.Mesh(points, np.array([[0, 1, 2**64 - 1]], dtype=np.uint64))


def test_devices_are_not_read_as_mesh_files():
    with pytest.raises(OSError, match="not a regular file"):
        femscale.Mesh.read("/dev/zero")


def test_callables_on_gmsh_meshes_see_their_dimension(gmsh_dir):
    path = str(gmsh_dir / "lshape_v41_ascii.msh")
    config = {"problem": {"mesh": {"kind": "gmsh", "path": path},
                          "boundary": [{"where": "all", "kind": "dirichlet", "value": "0"}]}}
    a = femscale.solve(config, source=lambda x, y: np.ones_like(x))
    b = femscale.solve(config, source="1")
    np.testing.assert_allclose(a.values, b.values, atol=1e-12)
    config["problem"]["mesh"]["refinements"] = 1
    c = femscale.solve(config, source=lambda x, y: np.ones_like(x))
    assert c.metrics["num_elements"] == 4 * a.metrics["num_elements"]
    with pytest.raises(femscale.ConfigurationError) as info:
        femscale.solve(config, mesh="foo")
    assert info.value.field == "mesh"


def test_max_workers_is_a_bounded_whole_number():
    for bad in (-5, 0, 2**70, 1.5, "2"):
        with pytest.raises(femscale.ConfigurationError) as info:
            femscale.EnhancedFEMSolver(max_workers=bad)
        assert info.value.field == "max_workers", bad
    assert femscale.EnhancedFEMSolver(max_workers=3)._max_workers == 3


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"sizes": [8.9]}, "sizes[0]"),
        ({"sizes": [True]}, "sizes[0]"),
        ({"sizes": [-4]}, "sizes[0]"),
        ({"repetitions": -1}, "repetitions"),
        ({"repetitions": 2**64}, "repetitions"),
        ({"solvers": "cg"}, "solvers"),
        ({"levels": "minimal"}, "levels"),
    ],
)
def test_scaling_benchmark_parameters_are_checked(kwargs, field):
    """Review D: coerced (`sizes=[8.9]` ran 8) or refused untyped (OverflowError)."""
    with pytest.raises(femscale.errors.ConfigurationError) as info:
        femscale.ScalingBenchmark(**kwargs)
    assert info.value.field == field, info.value


def test_a_number_beyond_a_double_names_its_parameter():
    with pytest.raises(femscale.errors.ConfigurationError) as info:
        femscale.EnhancedFEMSolver().solve_1d_laplace(0, 2**1100, 4)
    assert info.value.field == "x_end", info.value
