#!/usr/bin/env python3
"""A notebook-style tour of femscale from Python: solve, look at the result, run a sweep.

    pip install ./crates/python          # once, from the repository root
    python crates/python/examples/notebook.py [--out DIR]

Plots are written as PNG files when matplotlib is installed, and skipped otherwise.
"""

import argparse
import asyncio
import math
import pathlib

import numpy as np

import femscale

parser = argparse.ArgumentParser()
parser.add_argument("--out", default="results/python-notebook", help="where plots and the sweep go")
out = pathlib.Path(parser.parse_args().out)
out.mkdir(parents=True, exist_ok=True)

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no plots")

# %% 1. The original design's quick start: -u'' = pi^2 sin(pi x), u(0) = u(1) = 0.
solver = femscale.create_enhanced_fem_solver(scaling_level="auto")
nodes, u = solver.solve_1d_laplace(
    x_start=0.0,
    x_end=1.0,
    num_elements=200,
    diffusion_coeff=1.0,
    left_bc=0.0,
    right_bc=0.0,
    source_function=lambda x: np.pi**2 * np.sin(np.pi * x),  # called on arrays, not per point
)
print(f"1D: max nodal error {np.abs(u - np.sin(np.pi * nodes)).max():.2e}")

# %% 2. A 2D solve with a variable coefficient, as a coroutine (the solve leaves the GIL).
async def solve_2d():
    return await solver.solve_2d_laplace_enhanced(
        x_range=(0.0, 1.0),
        y_range=(0.0, 1.0),
        nx=128,
        ny=128,
        diffusion_coeff="1 + 0.5*sin(2*pi*x)",  # an expression: compiled, no Python calls
        source_function=lambda x, y: np.exp(-50 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)),
        boundary_values={"left": 0.0, "right": 1.0},
        enable_parallel_assembly=True,
    )


nodes2, u2, metrics = asyncio.run(solve_2d())
print(
    f"2D: {metrics['dofs']:,} unknowns, {metrics['solver']} + {metrics['preconditioner']}, "
    f"{metrics['iterations']} iterations, verified residual {metrics['verified_relative_residual']:.1e}, "
    f"{metrics['total_solve_time'] * 1e3:.1f} ms"
)
if plt is not None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(nodes, u, label="$u_h$")
    a.plot(nodes, np.sin(np.pi * nodes), "--", label="exact")
    a.set_title("1D")
    a.legend()
    t = b.tricontourf(nodes2[:, 0], nodes2[:, 1], u2, levels=30)
    fig.colorbar(t, ax=b)
    b.set_title("2D, k = 1 + 0.5 sin(2πx)")
    fig.savefig(out / "solutions.png", dpi=100)
    print(f"plot: {out / 'solutions.png'}")

# %% 3. A small convergence sweep: P1 and P2 on four meshes, errors and rates.
rows = []
for order in (1, 2):
    for n in (8, 16, 32, 64):
        sol = femscale.solve(
            overrides=[
                f"problem.mesh.nx={n}",
                f"problem.mesh.ny={n}",
                f"problem.order={order}",
                'problem.source="2*pi^2*sin(pi*x)*sin(pi*y)"',
                'problem.exact="sin(pi*x)*sin(pi*y)"',
            ]
        )
        rows.append((order, n, sol.metrics["dofs"], sol.metrics["l2_error"], sol.metrics["h1_error"]))
print(f"{'order':>5} {'n':>4} {'dofs':>7} {'L2 error':>10} {'rate':>5} {'H1 error':>10} {'rate':>5}")
for i, (order, n, dofs, l2, h1) in enumerate(rows):
    prev = rows[i - 1] if i % 4 else None
    rate = lambda e, j: f"{math.log2(prev[j] / e):5.2f}" if prev else "    -"  # noqa: E731
    print(f"{order:>5} {n:>4} {dofs:>7} {l2:10.3e} {rate(l2, 3)} {h1:10.3e} {rate(h1, 4)}")
for order in (1, 2):
    last, before = rows[4 * order - 1], rows[4 * order - 2]
    assert math.log2(before[3] / last[3]) > order + 0.8, "L2 rate below optimal"

if plt is not None:
    fig, ax = plt.subplots()
    for order in (1, 2):
        sel = [r for r in rows if r[0] == order]
        ax.loglog([r[2] for r in sel], [r[3] for r in sel], "o-", label=f"P{order} L2")
    ax.set_xlabel("DOFs")
    ax.set_ylabel("error")
    ax.legend()
    fig.savefig(out / "convergence.png", dpi=100)

# %% 4. The same sweep as an experiment file: resumable, with results.jsonl and summary.csv.
experiment = out / "sweep.toml"
experiment.write_text(
    """[experiment]
name = "python-sweep"
[problem]
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"
[sweep.zip]
"problem.mesh.nx" = [16, 32, 64]
"problem.mesh.ny" = [16, 32, 64]
[output]
formats = ["jsonl", "csv"]
"""
)
report = femscale.run(experiment, output_dir=out / "sweep")
print(f"experiment: {report['ran']} ran, {report['skipped']} resumed, summary {report['summary_path']}")
solver.shutdown()
