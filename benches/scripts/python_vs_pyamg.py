#!/usr/bin/env python3
"""femscale's Python package against pyamg, and the Python call overhead (issue 20).

1. ``femscale.linalg.solve(A, b, "cg", "amg")`` against pyamg's smoothed aggregation + CG on
   the 2D P1 Poisson matrix of the unit square at n = 1024 (right triangles: the 5-point
   stencil, 1023² = 1,046,529 unknowns after eliminating the Dirichlet nodes), built by SciPy;
   relative tolerance 1e-8 for both; set-up + solve from the SciPy matrix, the two alternated
   ``--repeat`` times; medians, their ratio, iterations and true residuals.
2. The Python overhead of ``EnhancedFEMSolver.solve_1d_laplace`` on 100 elements: the median
   time of the Python call minus the median of the same Rust call timed inside Rust
   (``femscale._native.rust_solve_1d_seconds``), interleaved call by call.

    python benches/scripts/python_vs_pyamg.py [--n 1024] [--repeat 5] [--calls 5000]
"""

import argparse
import statistics
import time

import numpy as np
import scipy.sparse as sp

import femscale
import femscale.linalg


def poisson(n):
    m = n - 1
    main = 4.0 * np.ones(m)
    side = -np.ones(m - 1)
    t = sp.diags([side, main, side], [-1, 0, 1])
    off = sp.diags([side, side], [-1, 1])
    return (sp.kron(sp.identity(m), t) + sp.kron(off, sp.identity(m))).tocsr()


def time_femscale(A, b):
    start = time.perf_counter()
    x, info = femscale.linalg.solve(A, b, "cg", "amg", rtol=1e-8, return_info=True)
    return time.perf_counter() - start, x, info["iterations"]


def time_pyamg(A, b):
    import pyamg

    start = time.perf_counter()
    ml = pyamg.smoothed_aggregation_solver(A)
    residuals = []
    x = ml.solve(b, tol=1e-8, accel="cg", residuals=residuals)
    return time.perf_counter() - start, x, len(residuals) - 1


def linalg_benchmark(n, repeat):
    A = poisson(n)
    b = np.full(A.shape[0], 1.0 / n**2)
    print(f"2D P1 Poisson, n = {n}: {A.shape[0]:,} unknowns, {A.nnz:,} nonzeros")
    fem, amg = [], []
    for _ in range(repeat):
        for name, run, store in (("femscale", time_femscale, fem), ("pyamg", time_pyamg, amg)):
            seconds, x, its = run(A, b)
            residual = np.linalg.norm(b - A @ x) / np.linalg.norm(b)
            store.append(seconds)
            print(f"  {name:9s} {seconds:7.3f} s  {its:3d} iterations  true residual {residual:.2e}")
    f, p = statistics.median(fem), statistics.median(amg)
    print(f"median: femscale {f:.3f} s, pyamg {p:.3f} s, pyamg/femscale = {p / f:.2f}x")


def overhead_benchmark(calls):
    solver = femscale.EnhancedFEMSolver()
    for _ in range(300):
        solver.solve_1d_laplace(0.0, 1.0, 100, 1.0, 0.0, 1.0)
    rust, python = [], []
    for _ in range(calls):
        rust.extend(femscale._native.rust_solve_1d_seconds(solver._native, 100, 1))
        start = time.perf_counter()
        solver.solve_1d_laplace(0.0, 1.0, 100, 1.0, 0.0, 1.0)
        python.append(time.perf_counter() - start)
    r, p = statistics.median(rust), statistics.median(python)
    print(
        f"1D, 100 elements, {calls} calls each: Rust call {r * 1e6:.1f} us, Python call "
        f"{p * 1e6:.1f} us, overhead {(p - r) * 1e6:.1f} us"
    )
    solver.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    overhead_benchmark(args.calls)
    linalg_benchmark(args.n, args.repeat)
