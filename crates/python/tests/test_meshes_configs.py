"""Meshes from arrays and Gmsh files, configurations, experiments, the assembled operator,
and the NumPy results checked against the Rust command line's."""

import json
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import femscale


def unit_square_mesh(n):
    """A structured triangle mesh of the unit square from NumPy arrays, as a user builds one."""
    x, y = np.meshgrid(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1))
    points = np.column_stack([x.ravel(), y.ravel()])
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    cells = np.vstack([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return points, cells


DIRICHLET_ALL = {"problem": {"boundary": [{"where": "all", "kind": "dirichlet", "value": "0"}]}}


def test_mesh_from_arrays_solves_the_manufactured_problem():
    points, cells = unit_square_mesh(32)
    mesh = femscale.Mesh(points, cells)
    assert (mesh.num_nodes, mesh.num_cells, mesh.dim, mesh.cell_kind) == (33 * 33, 2 * 32 * 32, 2, "triangle")
    np.testing.assert_array_equal(mesh.points, points)
    sol = femscale.solve(
        DIRICHLET_ALL,
        mesh=mesh,
        source=lambda x, y: 2 * np.pi**2 * np.sin(np.pi * x) * np.sin(np.pi * y),
        exact="sin(pi*x)*sin(pi*y)",
    )
    assert sol.metrics["l2_error"] < 2e-3
    np.testing.assert_allclose(
        sol.values, np.sin(np.pi * points[:, 0]) * np.sin(np.pi * points[:, 1]), atol=2e-3
    )


def test_reoriented_cells_are_counted_and_boundary_parts_by_predicate():
    points, cells = unit_square_mesh(4)
    cells[::3] = cells[::3, ::-1]  # clockwise: reoriented, not refused
    mesh = femscale.Mesh(points, cells)
    mesh, count = mesh.with_boundary_part("left", lambda p: np.isclose(p[:, 0], 0.0))
    assert count == 4 and len(mesh.boundary_parts["left"]) == 5
    sol = femscale.solve(
        {"problem": {"boundary": [{"where": "left", "kind": "dirichlet", "value": "1"}]}}, mesh=mesh
    )
    np.testing.assert_allclose(sol.values, 1.0, atol=1e-10)
    assert sol.metrics["mesh"]["reoriented_cells"] == int(np.ceil(len(cells) / 3))


def test_refinements_and_parts_of_the_configuration_apply_to_a_given_mesh(gmsh_dir):
    # They were dropped: the given mesh was solved on unrefined, and `where` could not find
    # the part the configuration names.
    points, cells = unit_square_mesh(2)
    mesh = femscale.Mesh(points, cells)
    config = {"problem": {"source": "1", "mesh": {"refinements": 2, "parts": {"lft": "x < 1e-9"}},
                          "boundary": [{"where": "lft", "kind": "dirichlet", "value": "0"}]}}
    sol = femscale.solve(config, mesh=mesh, source=lambda x, y: np.ones_like(x))
    assert sol.metrics["dofs"] == 9 * 9
    assert sol.metrics["num_elements"] == 16 * len(cells)
    np.testing.assert_allclose(sol.values[np.isclose(sol.nodes[:, 0], 0.0)], 0.0, atol=1e-12)
    # A Gmsh file with parts and a callable (its dimension read through the parts).
    path = str(gmsh_dir / "lshape_v41_ascii.msh")
    config["problem"]["mesh"] = {"kind": "gmsh", "path": path, "parts": {"lft": "x < 1e-9"}}
    femscale.solve(config, source=lambda x, y: np.ones_like(x))


def test_gmsh_file_with_subdomain_coefficients(gmsh_dir):
    mesh = femscale.Mesh.read(gmsh_dir / "annulus_v41_binary.msh")
    assert mesh.subdomains == {1: "copper", 2: "steel"}
    assert {"inner", "outer", "interface"} <= set(mesh.boundary_parts)
    config = {
        "problem": {
            "boundary": [
                {"where": "inner", "kind": "dirichlet", "value": "1"},
                {"where": "outer", "kind": "dirichlet", "value": "0"},
            ]
        }
    }
    sol = femscale.solve(config, mesh=mesh, diffusion={"copper": 400.0, "steel": lambda x, y: 16 + 0 * x})
    assert sol.values.min() >= -1e-12 and sol.values.max() <= 1 + 1e-12
    # The same through the configuration alone, the mesh named by path.
    config["problem"]["mesh"] = {"kind": "gmsh", "path": str(gmsh_dir / "annulus_v41_binary.msh")}
    config["problem"]["diffusion"] = {"copper": 400.0, "steel": "16"}
    again = femscale.solve(config)
    np.testing.assert_allclose(again.values, sol.values, atol=1e-10)
    # The mesh solved on comes with the solution: cells to plot, markers per cell.
    nodes, values, metrics = again
    assert again.mesh.num_cells == metrics["num_elements"] == 319
    assert again.mesh.cells.shape == (319, 3) and again.mesh.cells.max() < len(values)
    assert set(np.unique(again.mesh.cell_markers)) == {1, 2}


def test_assembled_operator_is_a_scipy_matrix_that_scipy_solves():
    sp = pytest.importorskip("scipy.sparse")
    spla = pytest.importorskip("scipy.sparse.linalg")
    config = {"problem": {"mesh": {"kind": "rectangle", "nx": 24, "ny": 16}, "source": "1", "boundary": [{"where": "all", "kind": "dirichlet", "value": "x"}]}}
    A, b = femscale.assemble(config)
    assert isinstance(A, sp.csr_matrix) and A.shape == (25 * 17, 25 * 17)
    assert A.indices.dtype == A.indptr.dtype == np.int32 and A.has_sorted_indices
    assert abs(A - A.T).max() < 1e-12
    x = spla.spsolve(A.tocsc(), b)
    sol = femscale.solve(config)
    np.testing.assert_allclose(sol.values, x, atol=1e-10)


def test_config_from_toml_file_and_overrides(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        '[problem]\nmesh = { kind = "interval", x = [0.0, 2.0], nx = 10 }\nsource = "0"\n'
        'boundary = [{ where = "left", kind = "dirichlet", value = "0" }, { where = "right", kind = "dirichlet", value = "4" }]\n'
    )
    sol = femscale.solve(path)
    np.testing.assert_allclose(sol.values, 2 * sol.nodes, atol=1e-12)
    finer = femscale.solve(path, overrides="problem.mesh.nx=40")
    assert finer.values.shape == (41,) and finer.metrics["num_elements"] == 40
    with pytest.raises(femscale.ConfigurationError) as info:
        femscale.solve(path, overrides="problem.mesh.nx=-3")
    assert "problem.mesh.nx" in str(info.value)


def test_run_an_experiment(tmp_path, repo):
    experiment = tmp_path / "sweep.toml"
    experiment.write_text(
        '[experiment]\nname = "py"\n[problem]\nmesh = { kind = "rectangle", nx = 8, ny = 8 }\n'
        'source = "2*pi^2*sin(pi*x)*sin(pi*y)"\nexact = "sin(pi*x)*sin(pi*y)"\n'
        '[sweep.zip]\n"problem.mesh.nx" = [8, 16]\n"problem.mesh.ny" = [8, 16]\n'
        '[output]\nformats = ["jsonl", "csv"]\n'
    )
    report = femscale.run(experiment, output_dir=tmp_path / "out")
    assert report["all_ok"] and report["ran"] == 2 and report["total"] == 2
    assert pathlib.Path(report["results_path"]).exists()
    lines = pathlib.Path(report["results_path"]).read_text().splitlines()
    assert len(lines) == 2
    again = femscale.run(experiment, output_dir=tmp_path / "out")
    assert again["ran"] == 0 and again["skipped"] == 2


def cli():
    """The femscale binary of this checkout, if one was built."""
    if os.environ.get("FEMSCALE_CLI"):
        return os.environ["FEMSCALE_CLI"]
    root = pathlib.Path(__file__).resolve().parents[3] / "target"
    for profile in ("release", "debug"):
        path = root / profile / "femscale"
        if path.exists():
            return str(path)
    return shutil.which("femscale")


def test_numpy_results_match_the_rust_command_line(tmp_path):
    binary = cli()
    if binary is None:
        pytest.skip("no femscale binary built (cargo build -p femscale-cli)")
    overrides = [
        "problem.mesh.nx=48",
        "problem.mesh.ny=40",
        'problem.source="2*pi^2*sin(pi*x)*sin(pi*y)"',
        'problem.exact="sin(pi*x)*sin(pi*y)"',
        'solver.kind="cg"',
        "solver.tolerance=1e-12",
    ]
    out = subprocess.run(
        [binary, "solve", "--json"] + [a for o in overrides for a in ("--set", o)],
        check=True,
        capture_output=True,
        text=True,
    )
    rust = json.loads(out.stdout)
    sol = femscale.solve(overrides=overrides)
    assert sol.metrics["dofs"] == rust["dofs"] == 49 * 41
    assert sol.metrics["l2_error"] == pytest.approx(rust["l2_error"], rel=1e-9)
    assert sol.metrics["h1_error"] == pytest.approx(rust["h1_error"], rel=1e-9)
    # The nodal values themselves: against the exact solution's interpolant error bound and
    # the Rust run's max nodal error.
    exact = np.sin(np.pi * sol.nodes[:, 0]) * np.sin(np.pi * sol.nodes[:, 1])
    assert np.abs(sol.values - exact).max() == pytest.approx(rust["max_nodal_error"], rel=1e-8)


def test_a_mesh_whose_halves_do_not_share_their_nodes_is_refused():
    # Two unit squares side by side, each with its own copy of the nodes on x = 1.
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    points = np.vstack([square, square + [1.0, 0.0]])
    cells = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    with pytest.raises(femscale.MeshError, match="not conforming"):
        femscale.Mesh(points, cells)
    # Shared: conforming, and it solves.
    shared = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    mesh = femscale.Mesh(shared, np.array([[0, 1, 2], [0, 2, 3], [1, 4, 5], [1, 5, 2]]))
    assert mesh.num_cells == 4
