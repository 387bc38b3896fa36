#!/usr/bin/env python3
"""DOLFINx reference timings for issue 18's benchmarks, one rank, same problems as femscale's.

    ~/.pyenv/versions/3.12.1/bin/python -m venv venv-dolfinx
    venv-dolfinx/bin/pip install dolfinx-solver-real        # DOLFINx 0.11, PETSc 3.25
    venv-dolfinx/bin/python benches/scripts/dolfinx_poisson.py p1-3d 100
    venv-dolfinx/bin/python benches/scripts/dolfinx_poisson.py p2-2d 512

p1-3d N: unit cube, N^3 cubes of 6 tetrahedra, P1, -lap u = 3 pi^2 sin(pi x) sin(pi y) sin(pi z),
u = 0 on the boundary. p2-2d N: unit square, N x N squares of 2 triangles, P2,
-lap u = 2 pi^2 sin(pi x) sin(pi y), u = 0. Both: CG + GAMG to relative residual 1e-8.

Prints one JSON line: phase times (s), iterations, L2 error, peak RSS (MB). Forms are compiled
(and cached by FFCx) in a warm-up run on a small mesh first, so JIT time is not counted.
"""
import json
import resource
import sys
import time

import dolfinx_solver  # noqa: F401  (must come before dolfinx)
import numpy as np
import ufl
from dolfinx import fem, mesh
from dolfinx.fem.petsc import assemble_matrix, assemble_vector, apply_lifting, set_bc
from mpi4py import MPI
from petsc4py import PETSc


def run(case, n):
    comm = MPI.COMM_WORLD
    t = {}
    start = time.perf_counter()
    if case == "p1-3d":
        domain = mesh.create_unit_cube(comm, n, n, n, mesh.CellType.tetrahedron)
        degree, dim = 1, 3
    else:
        domain = mesh.create_unit_square(comm, n, n, mesh.CellType.triangle)
        degree, dim = 2, 2
    t["mesh"] = time.perf_counter() - start

    start = time.perf_counter()
    V = fem.functionspace(domain, ("Lagrange", degree))
    x = ufl.SpatialCoordinate(domain)
    exact = ufl.sin(ufl.pi * x[0]) * ufl.sin(ufl.pi * x[1])
    if dim == 3:
        exact = exact * ufl.sin(ufl.pi * x[2])
    f = dim * ufl.pi**2 * exact
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    L = fem.form(f * v * ufl.dx)
    domain.topology.create_connectivity(dim - 1, dim)
    facets = mesh.exterior_facet_indices(domain.topology)
    dofs = fem.locate_dofs_topological(V, dim - 1, facets)
    bc = fem.dirichletbc(PETSc.ScalarType(0), dofs, V)
    t["space_and_bcs"] = time.perf_counter() - start

    start = time.perf_counter()
    A = assemble_matrix(a, bcs=[bc])
    A.assemble()
    b = assemble_vector(L)
    apply_lifting(b, [a], bcs=[[bc]])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    set_bc(b, [bc])
    t["assembly"] = time.perf_counter() - start

    start = time.perf_counter()
    ksp = PETSc.KSP().create(comm)
    ksp.setOperators(A)
    ksp.setType("cg")
    ksp.getPC().setType("gamg")
    ksp.setTolerances(rtol=1e-8)
    uh = fem.Function(V)
    ksp.solve(b, uh.x.petsc_vec)
    uh.x.scatter_forward()
    t["solve"] = time.perf_counter() - start

    start = time.perf_counter()
    err = fem.form((uh - exact) ** 2 * ufl.dx)
    l2 = np.sqrt(comm.allreduce(fem.assemble_scalar(err), op=MPI.SUM))
    t["l2_error"] = time.perf_counter() - start
    return {
        "case": case,
        "n": n,
        "dofs": V.dofmap.index_map.size_global,
        "times": t,
        "before_solver": t["mesh"] + t["space_and_bcs"] + t["assembly"],
        "iterations": ksp.getIterationNumber(),
        "converged_reason": ksp.getConvergedReason(),
        "l2": l2,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main():
    case, n = sys.argv[1], int(sys.argv[2])
    if case not in ("p1-3d", "p2-2d"):
        sys.exit(f"unknown case {case}: p1-3d or p2-2d")
    run(case, 4)  # compile the forms
    print(json.dumps(run(case, n)))


if __name__ == "__main__":
    main()
