"""Run under ``mpirun -n 4`` by ``test_mpi.py``: femscale across the ranks of mpi4py
communicators. Rank 0 writes what every rank saw to ``<out>/ranks.json``."""

import json
import pathlib
import sys

from mpi4py import MPI

import femscale
from femscale.errors import ConfigurationError

out = pathlib.Path(sys.argv[1])
world = MPI.COMM_WORLD


def problem(n, kind):
    return {
        "problem": {
            "dim": 2,
            "mesh": {"kind": "rectangle", "nx": n, "ny": n},
            "source": "2*pi^2*sin(pi*x)*sin(pi*y)",
            "exact": "sin(pi*x)*sin(pi*y)",
            "boundary": [{"where": "all", "kind": "dirichlet", "value": "0"}],
        },
        "solver": {"kind": kind, "preconditioner": "amg", "tolerance": 1e-10},
        "scaling": {"threads": 1},
    }


def summary(sol):
    m = sol.metrics
    ranks = m["linear_solve"].get("ranks")
    return {
        "l2": m["l2_error"],
        "iterations": m["iterations"],
        "solver": m["solver"],
        "ranks": ranks["ranks"] if ranks else 1,
        "nodes": len(sol.values),
        "sum": float(sol.values.sum()),
    }


seen = {}
# One problem across the four ranks, and the same problem in this process alone.
seen["world"] = summary(femscale.solve(problem(160, "distributed-cg"), comm=world))
seen["alone"] = summary(femscale.solve(problem(160, "cg")))
# The host's own messages on the same communicator are not mixed up with femscale's.
token = world.bcast({"from": "rank 0"} if world.rank == 0 else None, root=0)
seen["host_message"] = token
# Two sub-communicators of two ranks each solve different problems at the same time.
color = world.rank % 2
sub = world.Split(color, world.rank)
seen["sub"] = summary(femscale.solve(problem(64 + 8 * color, "distributed-cg"), comm=sub))
seen["sub_alone"] = summary(femscale.solve(problem(64 + 8 * color, "cg")))
seen["sub_size"] = sub.Get_size()
# One rank of its own: any solver.
seen["self"] = summary(femscale.solve(problem(16, "cg"), comm=MPI.COMM_SELF))
# A solver that would run the whole problem on every rank is refused, naming the key.
try:
    femscale.solve(problem(16, "cg"), comm=world)
    seen["refused"] = None
except ConfigurationError as e:
    seen["refused"] = {"field": e.field, "message": str(e)}
# Ranks that call with different problems all get an error instead of waiting for each other.
try:
    femscale.solve(problem(16 + world.rank, "distributed-cg"), comm=world)
    seen["mismatch"] = None
except femscale.FemscaleError as e:
    seen["mismatch"] = f"{type(e).__name__}: {e}"
# Data not finite on one part of the domain: the ranks owning it fail (in their assembly, in
# their error norms), the others are told so instead of waiting for them in a collective step.
for key, field in [("part_failed", "source"), ("norms_failed", "exact")]:
    bad = problem(16, "distributed-cg")
    bad["problem"][field] = "log(0.8 - x)"
    try:
        femscale.solve(bad, comm=world)
        seen[key] = None
    except femscale.FemscaleError as e:
        seen[key] = f"{type(e).__name__}: {e}"
# A step that fails on one rank alone before the distributed set-up — its configuration file
# missing (rank 1), its mesh file missing (rank 2), its arguments refused in Python (rank 3) —
# fails there, and the other ranks are told instead of waiting for it.
config_file = out / f"config_{world.rank}.toml"
if world.rank != 1:
    config_file.write_text('[solver]\nkind = "distributed-cg"\n')
disk = pathlib.Path(__file__).resolve().parents[3] / "mesh/tests/data/gmsh/disk_v41_ascii.msh"
on_disk = problem(16, "distributed-cg")
on_disk["problem"]["mesh"] = {
    "kind": "gmsh",
    "path": str(disk) if world.rank != 2 else str(out / "missing.msh"),
}
for key, call in [
    ("config_missing", lambda: femscale.solve(str(config_file), comm=world)),
    ("mesh_missing", lambda: femscale.solve(on_disk, comm=world)),
    (
        "arguments_refused",
        lambda: femscale.solve(
            problem(16, "distributed-cg"),
            comm=world,
            mesh="not a mesh" if world.rank == 3 else None,
        ),
    ),
]:
    try:
        call()
        seen[key] = None
    except femscale.FemscaleError as e:
        seen[key] = f"{type(e).__name__}: {e}"
# A communicator freed by the host, and MPI.COMM_NULL: typed errors, not a crash.
freed = world.Dup()
freed.Free()
for name, comm in [("freed", freed), ("null", MPI.COMM_NULL)]:
    try:
        femscale.solve(problem(16, "cg"), comm=comm)
        seen[name] = None
    except (TypeError, femscale.FemscaleError) as e:
        seen[name] = f"{type(e).__name__}: {e}"
# A sweep handed out over the ranks: rank 0 writes the results.
seen["run"] = femscale.run(
    sys.argv[2], output_dir=str(out / "sweep"), fresh=True, comm=world
)
gathered = world.gather(seen, root=0)
sub.Free()
if world.rank == 0:
    (out / "ranks.json").write_text(json.dumps(gathered))
