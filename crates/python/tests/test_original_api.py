"""The original design's API, its README snippets run almost verbatim."""

import asyncio
import threading

import numpy as np
import pytest

import femscale
from femscale import EnhancedFEMSolver, ScalingBenchmark, create_enhanced_fem_solver


def test_readme_quick_start_1d():
    solver = EnhancedFEMSolver()
    nodes, solution = solver.solve_1d_laplace(
        x_start=0.0, x_end=1.0, num_elements=100, diffusion_coeff=1.0, left_bc=0.0, right_bc=1.0
    )
    assert isinstance(nodes, np.ndarray) and nodes.shape == (101,)
    assert solution.shape == (101,) and solution.dtype == np.float64
    # u = x exactly: P1 reproduces linear solutions to round-off.
    np.testing.assert_allclose(solution, nodes, atol=1e-12)
    solver.shutdown()


def test_readme_enhanced_async_1d_and_2d(no_leaked_threads):
    async def main():
        solver = create_enhanced_fem_solver(scaling_level="aggressive")
        nodes, solution, metrics = await solver.solve_1d_laplace_enhanced(
            x_start=0.0,
            x_end=1.0,
            num_elements=1000,
            diffusion_coeff=1.0,
            left_bc=0.0,
            right_bc=0.0,
            source_function=lambda x: np.pi**2 * np.sin(np.pi * x),
        )
        assert np.abs(solution - np.sin(np.pi * nodes)).max() < 1e-5
        assert metrics["num_elements"] == 1000
        assert metrics["scaling_level"] == "aggressive"
        nodes2, solution2, metrics2 = await solver.solve_2d_laplace_enhanced(
            x_range=(0.0, 1.0),
            y_range=(0.0, 1.0),
            nx=64,
            ny=64,
            diffusion_coeff=1.0,
            source_function="2*pi^2*sin(pi*x)*sin(pi*y)",
            boundary_values={"left": 0.0, "right": 0.0, "bottom": 0.0, "top": 0.0},
            enable_adaptive_refinement=False,
            enable_parallel_assembly=True,
        )
        assert nodes2.shape == (65 * 65, 2)
        exact = np.sin(np.pi * nodes2[:, 0]) * np.sin(np.pi * nodes2[:, 1])
        assert np.abs(solution2 - exact).max() < 1e-3
        assert metrics2["dofs"] == 65 * 65
        assert metrics2["adaptive_refinement_used"] is False
        print("solved", metrics2["dofs"], "dofs in", metrics2["total_solve_time"], "s")
        solver.shutdown()

    asyncio.run(main())


def test_enhanced_solves_run_off_the_event_loop(solver):
    """While a solve runs on the worker thread (GIL released), the loop keeps ticking."""

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.ensure_future(ticker())
        result = await solver.solve_2d_laplace_enhanced(
            (0, 1), (0, 1), 256, 256, 1.0, "1", boundary_values={}
        )
        task.cancel()
        return result, ticks

    (_, _, metrics), ticks = asyncio.run(main())
    assert metrics["dofs"] == 257 * 257
    assert ticks >= 3, "the event loop was blocked during the solve"


def test_adaptive_refinement_from_the_original_keyword(solver):
    async def main():
        return await solver.solve_2d_laplace_enhanced(
            (0, 1), (0, 1), 8, 8, 1.0, "1", boundary_values={}, enable_adaptive_refinement=True
        )

    nodes, solution, metrics = asyncio.run(main())
    assert metrics["adaptive_refinement_used"] is True
    assert metrics["num_elements"] > 2 * 8 * 8
    assert len(metrics["adaptivity"]["steps"]) >= 2
    assert nodes.shape[0] == solution.shape[0] == metrics["dofs"]


def test_callables_are_called_per_batch_and_see_coordinates(solver):
    calls = []

    def source(x, y):
        calls.append(x.shape)
        return 2 * np.pi**2 * np.sin(np.pi * x) * np.sin(np.pi * y)

    nodes, u, metrics = solver.solve_2d_laplace(
        (0, 1), (0, 1), 32, 32, 1.0, source, exact_solution=lambda p: np.sin(np.pi * p[:, 0]) * np.sin(np.pi * p[:, 1]),
        return_metrics=True,
    )
    assert metrics["l2_error"] < 2e-3
    quadrature_points = sum(shape[0] for shape in calls)
    assert len(calls) < quadrature_points / 50, "the callable should see batches, not points"


def test_expression_and_callable_give_the_same_solution(solver):
    _, a = solver.solve_1d_laplace(0, 2, 64, "1 + x", 0, 1, "sin(x)")
    _, b = solver.solve_1d_laplace(0, 2, 64, lambda x: 1 + x, 0, 1, np.sin)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_scaling_metrics_and_optimize(solver):
    solver.solve_1d_laplace(num_elements=50)
    metrics = solver.get_scaling_metrics()
    assert {"cache_levels", "cache_reuse", "expressions", "counters"} <= set(metrics)
    small = solver.optimize_for_problem_size(1_000)
    large = solver.optimize_for_problem_size(4_000_000)
    assert small["solver"] == "direct" and large["solver"] == "cg"
    assert large["preconditioner"] == "amg"
    assert large["plan"]["threads"] >= small["plan"]["threads"]


def test_options_dicts_with_the_original_keys():
    solver = EnhancedFEMSolver(
        solver_options={"linear_solver": "cg", "tolerance": 1e-10, "max_iterations": 500},
        scaling_options={"enable_caching": False, "enable_parallel": False},
    )
    config = solver.config
    assert config["solver"]["kind"] == "cg" and config["solver"]["tolerance"] == 1e-10
    assert config["scaling"]["enable_caching"] is False
    _, _, metrics = solver.solve_1d_laplace(num_elements=20, right_bc=1, return_metrics=True)
    assert metrics["solver"] == "cg"
    with pytest.raises(femscale.ConfigurationError) as info:
        EnhancedFEMSolver(solver_options={"tolerence": 1e-3})
    assert info.value.field == "tolerence" and "tolerance" in info.value.known
    solver.shutdown()


def test_scaling_context_sync_and_async(solver):
    with solver.scaling_context(linear_solver="gmres", preconditioner="jacobi"):
        _, _, inner = solver.solve_1d_laplace(num_elements=30, right_bc=1, return_metrics=True)
        with solver.scaling_context(solver__gmres__restart=5):
            assert solver.config["solver"]["gmres"]["restart"] == 5
            assert solver.config["solver"]["kind"] == "gmres"
    _, _, outer = solver.solve_1d_laplace(num_elements=30, right_bc=1, return_metrics=True)
    assert inner["solver"] == "gmres" and inner["preconditioner"] == "jacobi"
    assert outer["solver"] != "gmres"

    async def main():
        async def scoped():
            async with solver.scaling_context(linear_solver="bicgstab"):
                await asyncio.sleep(0.01)
                return (await solver.solve_1d_laplace_enhanced(num_elements=30, right_bc=1))[2]

        async def unscoped():
            await asyncio.sleep(0.005)
            return (await solver.solve_1d_laplace_enhanced(num_elements=30, right_bc=1))[2]

        return await asyncio.gather(scoped(), unscoped())

    scoped, unscoped = asyncio.run(main())
    assert scoped["solver"] == "bicgstab"
    assert unscoped["solver"] != "bicgstab", "a scope leaked into a concurrent task"


def test_shutdown_leaves_no_threads(no_leaked_threads):
    solver = EnhancedFEMSolver(max_workers=2)

    async def main():
        await asyncio.gather(
            *(solver.solve_1d_laplace_enhanced(num_elements=100 + i) for i in range(4))
        )

    asyncio.run(main())
    assert any(t.name.startswith("femscale-solve") for t in threading.enumerate())
    solver.shutdown()
    assert not any(t.name.startswith("femscale-solve") for t in threading.enumerate())
    with pytest.raises(femscale.FemscaleError):
        solver.solve_1d_laplace()


def test_solver_as_context_manager(no_leaked_threads):
    with EnhancedFEMSolver() as solver:
        asyncio.run(solver.solve_1d_laplace_enhanced(num_elements=10))
    with pytest.raises(femscale.FemscaleError):
        solver.get_scaling_metrics()


def test_create_with_every_level():
    for level in femscale.SCALING_LEVELS:
        s = create_enhanced_fem_solver(scaling_level=level)
        assert s.config["scaling"]["level"] == level
        s.shutdown()
    with pytest.raises(femscale.ConfigurationError) as info:
        create_enhanced_fem_solver(scaling_level="turbo")
    assert info.value.field == "scaling_level"


def test_scaling_benchmark():
    bench = ScalingBenchmark(sizes=[8, 16], levels=["minimal", "auto"], repetitions=2, min_seconds=0.0)
    results = bench.run()
    assert len(results["rows"]) == 4
    assert [b["size"] for b in results["best"]] == [8, 16]
    for row in results["rows"]:
        assert len(row["seconds"]) >= 2 and row["median_seconds"] > 0
