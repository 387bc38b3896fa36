"""femscale across the ranks of mpi4py communicators (``comm=``), under a real ``mpirun``.

Needs the package built with MPI (``"mpi" in femscale.features``), ``mpirun`` and mpi4py;
without them the test skips with a loud message, and fails when ``FEMSCALE_REQUIRE_MPI=1``
(CI)."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import femscale
from femscale.errors import ConfigurationError

HERE = pathlib.Path(__file__).resolve().parent
REQUIRED = os.environ.get("FEMSCALE_REQUIRE_MPI", "").strip() not in ("", "0", "false", "no")
SWEEP = """
[problem]
mesh = {{ kind = "rectangle", nx = 16, ny = 16 }}
source = "2*pi^2*sin(pi*x)*sin(pi*y)"
exact = "sin(pi*x)*sin(pi*y)"

[solver]
kind = "cg"
preconditioner = "amg"
tolerance = 1e-10

[scaling]
threads = 1

[experiment]
name = "python_ranks"

[sweep.zip]
"problem.mesh.nx" = {sizes}
"problem.mesh.ny" = {sizes}

[output]
formats = ["jsonl"]
"""
SIZES = [16, 20, 24, 28, 32, 36]


def _missing():
    if "mpi" not in femscale.features:
        return 'the package was built without MPI (MATURIN_PEP517_ARGS="--features mpi")'
    if shutil.which("mpirun") is None:
        return "mpirun is not on PATH"
    try:
        import mpi4py  # noqa: F401  (not mpi4py.MPI: that would initialise MPI here)
    except ImportError:
        return "mpi4py is not installed (pip install mpi4py)"
    return None


def _require_mpi():
    why = _missing()
    if why is None:
        return
    if REQUIRED:
        pytest.fail(f"FEMSCALE_REQUIRE_MPI is set but {why}")
    sys.stderr.write(f"\nSKIPPED: femscale across mpi4py ranks: {why}\n")
    pytest.skip(why)


def test_comm_must_be_an_mpi4py_intracommunicator():
    if "mpi" in femscale.features:
        with pytest.raises(TypeError, match="mpi4py intra-communicator"):
            femscale.solve(None, comm=object())
    else:
        with pytest.raises(ConfigurationError) as e:
            femscale.solve(None, comm=object())
        assert e.value.field == "comm" and e.value.kind == "FeatureDisabled"


def test_solves_and_sweeps_across_mpi4py_ranks(tmp_path):
    _require_mpi()
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(SWEEP.format(sizes=SIZES))
    command = ["mpirun", "--oversubscribe", "-n", "4"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(1, "--allow-run-as-root")
    command += [sys.executable, str(HERE / "mpi" / "ranks_script.py"), str(tmp_path), str(sweep)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    ranks = json.loads((tmp_path / "ranks.json").read_text())
    assert len(ranks) == 4

    for rank, seen in enumerate(ranks):
        # One problem over the four ranks: the single-process solution's error to 6 digits.
        world, alone = seen["world"], seen["alone"]
        assert world["ranks"] == 4 and world["solver"].startswith("distributed-cg"), world
        # 25,921 unknowns: past the size the distributed AMG gathers, so a real Krylov solve.
        assert 1 < world["iterations"] <= 15, world
        assert world["nodes"] == alone["nodes"] == 161 * 161
        assert world["l2"] == pytest.approx(alone["l2"], rel=1e-6)
        assert world["sum"] == pytest.approx(alone["sum"], rel=1e-8)
        assert world == ranks[0]["world"], f"rank {rank} saw another solution"
        # The host's broadcast on the same communicator arrived intact.
        assert seen["host_message"] == {"from": "rank 0"}
        # Sub-communicators of two ranks: each pair solved its own problem.
        sub, sub_alone = seen["sub"], seen["sub_alone"]
        assert seen["sub_size"] == 2 and sub["ranks"] == 2
        assert sub["nodes"] == (64 + 8 * (rank % 2) + 1) ** 2
        assert sub["l2"] == pytest.approx(sub_alone["l2"], rel=1e-6)
        assert sub == ranks[rank % 2]["sub"]
        assert seen["self"]["ranks"] == 1 and seen["self"]["l2"] < 1e-2
        assert seen["refused"]["field"] == "solver.kind", seen["refused"]
        assert "4 ranks" in seen["refused"]["message"]
        assert "the ranks prepare different systems" in seen["mismatch"], seen["mismatch"]
        assert "names no communicator" in seen["freed"], seen["freed"]
        # Every rank raised, none waited for the ranks whose part of the data is not finite.
        for key in ["part_failed", "norms_failed"]:
            message = seen[key]
            assert message is not None, key
            causes = [
                "NaN",
                "not finite",
                "failed in the error norms",
                "failed before the distributed set-up",
            ]
            assert any(cause in message for cause in causes), message
        assert seen["null"].startswith("TypeError"), seen["null"]
        # One rank failed alone; it says why, the others name it.
        for key, failed, own in [
            ("config_missing", 1, "config_1.toml"),
            ("mesh_missing", 2, "missing.msh"),
            ("arguments_refused", 3, "invalid `mesh`"),
        ]:
            message = seen[key]
            assert message is not None, key
            expected = own if rank == failed else f"rank {failed} failed"
            assert expected in message, (key, rank, message)

    # Some ranks own the part where the source is not finite, some are told about it.
    failed = ["failed before the distributed set-up" in seen["part_failed"] for seen in ranks]
    assert 0 < sum(failed) < 4, [seen["part_failed"] for seen in ranks]
    # The sweep: rank 0 has the report and wrote every record; the others ran their share.
    report = ranks[0]["run"]
    assert report["total"] == report["ran"] == len(SIZES) and report["all_ok"], report
    workers = [seen["run"] for seen in ranks[1:]]
    assert [w["rank"] for w in workers] == [1, 2, 3]
    assert sum(w["runs"] for w in workers) <= len(SIZES)
    lines = (tmp_path / "sweep" / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(SIZES)
    # The same sweep in this process alone gives the same errors, point by point.
    one = femscale.run(str(sweep), output_dir=str(tmp_path / "one"), fresh=True)
    by_point = lambda r: {rec["point"]["problem.mesh.nx"]: rec["metrics"]["l2_error"] for rec in r["records"]}  # noqa: E731
    assert by_point(one) == pytest.approx(by_point(report), rel=1e-10)
