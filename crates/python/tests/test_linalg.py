"""femscale's solvers for SciPy matrices."""

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")
spla = pytest.importorskip("scipy.sparse.linalg")

import femscale
import femscale.linalg as fl


def poisson_2d(n):
    """The 5-point Laplacian on an n x n grid of interior points (SPD)."""
    t = sp.diags([-np.ones(n - 1), 4 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1])
    i = sp.identity(n)
    off = sp.diags([-np.ones(n - 1), -np.ones(n - 1)], [-1, 1])
    return (sp.kron(i, t) + sp.kron(off, i)).tocsr()


@pytest.mark.parametrize(
    "method,preconditioner",
    [("cg", "amg"), ("cg", "jacobi"), ("cg", "ic0"), ("gmres", "ilu0"), ("bicgstab", "none"), ("direct", "none")],
)
def test_solve_matches_scipy(method, preconditioner):
    A = poisson_2d(30)
    b = np.random.default_rng(1).standard_normal(A.shape[0])
    x, info = fl.solve(A, b, method=method, preconditioner=preconditioner, rtol=1e-10, return_info=True)
    reference = spla.spsolve(A.tocsc(), b)
    assert np.linalg.norm(x - reference) <= 1e-7 * np.linalg.norm(reference)
    assert info["verified_relative_residual"] <= 1e-8
    assert info["method"] == method


@pytest.mark.parametrize("method", ["cg", "gmres", "direct", "amg"])
def test_every_method_runs_with_the_default_preconditioner(method):
    """Review D: the default `amg` preconditioner made `method="direct"` and `"amg"` errors."""
    A = poisson_2d(20)
    b = np.ones(A.shape[0])
    x, info = fl.solve(A, b, method=method, rtol=1e-10, return_info=True)
    reference = spla.spsolve(A.tocsc(), b)
    assert np.linalg.norm(x - reference) <= 1e-7 * np.linalg.norm(reference)
    assert info["method"] == method


def test_prepared_solver_reuses_the_hierarchy():
    A = poisson_2d(40)
    prepared = fl.PreparedSolver(A, "cg", "amg", rtol=1e-9)
    assert prepared.setup_seconds > 0 and prepared.memory_bytes > 0
    rng = np.random.default_rng(2)
    for _ in range(3):
        b = rng.standard_normal(A.shape[0])
        x = prepared.solve(b)
        assert np.linalg.norm(A @ x - b) <= 1e-8 * np.linalg.norm(b)
        assert prepared.info["iterations"] < 30
    # An exact initial guess converges at once.
    x2, info = prepared.solve(b, x0=x, return_info=True)
    assert info["iterations"] <= 1


def test_input_formats_and_checks():
    A = poisson_2d(10)
    b = np.ones(A.shape[0])
    expected = spla.spsolve(A.tocsc(), b)
    for form in (A.tocoo(), A.tocsc(), A.toarray(), (A.indptr, A.indices, A.data, A.shape)):
        np.testing.assert_allclose(fl.solve(form, b, "direct", "none"), expected, rtol=1e-10)
    # Duplicate and unsorted entries are summed and sorted, as SciPy means them.
    coo = sp.coo_matrix((np.r_[A.tocoo().data, [1.0]], (np.r_[A.tocoo().row, [0]], np.r_[A.tocoo().col, [0]])), shape=A.shape)
    x = fl.solve(coo, b, "direct", "none")
    np.testing.assert_allclose((A + sp.coo_matrix(([1.0], ([0], [0])), shape=A.shape)) @ x, b, atol=1e-10)
    bad = A.copy()
    bad.data[3] = np.nan
    with pytest.raises(femscale.ConfigurationError) as info:
        fl.solve(bad, b)
    assert info.value.field == "values"
    with pytest.raises(femscale.ConfigurationError):
        fl.solve(A, np.ones(3))
    # Index arrays of floats are refused, not truncated.
    with pytest.raises(femscale.ConfigurationError) as info:
        fl.solve((A.indptr + 0.5, A.indices, A.data, A.shape), b)
    assert info.value.field == "A.indptr"
    with pytest.raises(femscale.ConfigurationError) as info:
        fl.solve((A.indptr, A.indices, A.data, (A.shape[0] + 0.9, A.shape[1])), b)
    assert info.value.field == "A.shape[0]"
    with pytest.raises(femscale.ConfigurationError) as info:
        fl.solve(A, b, method="conjugate")
    assert "cg" in info.value.known


def test_non_convergence_raises_with_data():
    A = poisson_2d(30)
    with pytest.raises(femscale.ConvergenceError) as info:
        fl.solve(A, np.ones(A.shape[0]), "cg", "none", maxiter=5)
    assert info.value.iterations == 5 and info.value.residual > 1e-8
