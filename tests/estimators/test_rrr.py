"""Reduced-rank regression: the solver against plain-numpy references, OU spectra, errors."""

import os
import tempfile

import numpy as np
import pytest
import scipy.linalg
from sklearn.base import clone

from koop import io, systems
from koop.dictionaries import RBF, Polynomial
from koop.estimators import EDMD, RRR, KernelRRR
from koop.estimators._rrr_solvers import rrr_solve
from koop.exceptions import RankDeficiencyWarning

DT = 0.5


@pytest.fixture(scope="module")
def ou():
    return systems.ornstein_uhlenbeck(20_000, dt=DT, random_state=0)


def _random_gram(M=12, seed=0):
    rng = np.random.default_rng(seed)
    PX = rng.standard_normal((400, M))
    PY = 0.7 * PX @ rng.standard_normal((M, M)) / np.sqrt(M) + 0.3 * rng.standard_normal((400, M))
    return PX.T @ PX / 400, PX.T @ PY / 400, PX.T @ rng.standard_normal((400, 2)) / 400


@pytest.mark.parametrize("reg", [0.0, 1e-3])
def test_solver_equals_the_truncated_svd_formula(reg):
    # Kostic et al.: K = G_reg^{-1/2} [[G_reg^{-1/2} A]]_r, computed independently here
    G, A, C = _random_gram()
    M, r = G.shape[0], 4
    s, V = np.linalg.eigh(G + reg * np.eye(M))
    Gmh = V @ np.diag(s**-0.5) @ V.T
    U, sv, Wh = np.linalg.svd(Gmh @ A)
    K_ref = Gmh @ (U[:, :r] * sv[:r]) @ Wh[:r]
    model = rrr_solve(G, A, C, rank=r, regularization=reg)
    K = model.basis @ model.basis.T @ A
    np.testing.assert_allclose(K, K_ref, atol=1e-10 * np.abs(K_ref).max())
    np.testing.assert_allclose(model.singular_values, sv[:r], rtol=1e-10)
    # and the generalised eigenproblem A A^T u = s^2 G_reg u (kooplearn's form)
    w = scipy.linalg.eigh(A @ A.T, G + reg * np.eye(M), eigvals_only=True)[::-1][:r]
    np.testing.assert_allclose(model.singular_values**2, w, rtol=1e-9)
    # U^* G_reg U = I
    Ub = model.basis
    np.testing.assert_allclose(Ub.T @ (G + reg * np.eye(M)) @ Ub, np.eye(r), atol=1e-10)


def test_full_rank_unregularised_rrr_is_edmd():
    G, A, C = _random_gram()
    model = rrr_solve(G, A, C, rank=None)
    lam = np.sort_complex(np.linalg.eigvals(model.reduced))
    np.testing.assert_allclose(lam, np.sort_complex(np.linalg.eigvals(np.linalg.solve(G, A))),
                               atol=1e-10)


def test_randomized_solver_equals_dense():
    G, A, C = _random_gram(M=40, seed=1)
    dense = rrr_solve(G, A, C, rank=5, regularization=1e-6)
    rand = rrr_solve(G, A, C, rank=5, regularization=1e-6, solver="randomized",
                     iterated_power=6, n_oversamples=20, random_state=0)
    np.testing.assert_allclose(rand.singular_values, dense.singular_values, rtol=1e-8)
    Kd = dense.basis @ dense.basis.T @ A
    Kr = rand.basis @ rand.basis.T @ A
    # the subspace is less well determined than the values (small gap after sigma_5)
    np.testing.assert_allclose(Kr, Kd, atol=1e-4 * np.abs(Kd).max())


def test_rrr_estimates_the_ou_spectrum_better_than_pcr_at_equal_rank(ou):
    exact = systems.ornstein_uhlenbeck_spectrum(5, dt=DT)
    errs = {}
    for name, est in (("rrr", RRR(RBF(50, width=0.5, random_state=0), rank=5,
                                  regularization=1e-8)),
                      ("pcr", EDMD(RBF(50, width=0.5, random_state=0), rank=5))):
        with pytest.warns(RankDeficiencyWarning) if name == "pcr" else _nothing():
            lam = est.fit(ou).eigenvalues_
        errs[name] = np.abs(np.sort(lam.real)[::-1] - exact).mean()
    assert errs["rrr"] < 0.03
    assert errs["rrr"] < 0.25 * errs["pcr"], errs


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_rrr_contract_predict_simulate_and_backends(ou):
    model = RRR(Polynomial(degree=3), rank=4).fit(ou)
    ref = RRR(Polynomial(degree=3), rank=4, backend="numpy").fit(ou)
    np.testing.assert_allclose(model.eigenvalues_, ref.eigenvalues_, atol=1e-10)
    assert model.rank_ == 4 and model.singular_values_.shape == (4,)
    # one-step prediction of the state is E[x_{n+1} | x_n] = exp(-dt) x_n
    x = np.linspace(-1.5, 1.5, 7)[:, None]
    np.testing.assert_allclose(model.predict(x), np.exp(-DT) * x, atol=0.02)
    sim = model.simulate(np.array([1.0]), 3)
    np.testing.assert_allclose(sim[:, 0], np.exp(-DT * np.arange(1, 4)), atol=0.03)
    K = model.koopman_matrix_
    assert np.linalg.matrix_rank(K, tol=1e-10) == 4
    Phi = model.eigenfunctions(ou[:100])
    assert Phi.shape == (100, 4)


def test_kernel_rrr_equals_plain_numpy_nystroem_rrr(ou):
    X = ou[:3000]
    model = KernelRRR(n_components=60, width=0.7, rank=4, regularization=1e-6,
                      cutoff=1e-9, random_state=0).fit(X)
    C = model.centers_
    k = lambda a, b: np.exp(-0.5 * (a[:, None, 0] - b[None, :, 0]) ** 2 / 0.7**2)  # noqa: E731
    s, V = np.linalg.eigh(k(C, C))
    keep = s > 1e-9 * s.max()
    P = V[:, keep] / np.sqrt(s[keep])
    PX, PY = k(X[:-1], C) @ P, k(X[1:], C) @ P
    n = len(PX)
    G, A = PX.T @ PX / n, PX.T @ PY / n
    _, U = scipy.linalg.eigh(A @ A.T, G + 1e-6 * np.eye(len(G)))
    U = U[:, ::-1][:, :4]
    lam_ref = np.linalg.eigvals(U.T @ A @ U)
    # P amplifies rounding in G by 1/cutoff = 1e9: the two agree to about 1e-5
    np.testing.assert_allclose(np.sort(model.eigenvalues_.real), np.sort(lam_ref.real),
                               atol=2e-5)


def test_kernel_rrr_randomized_and_kmeans_estimate_ou(ou):
    exact = systems.ornstein_uhlenbeck_spectrum(4, dt=DT)
    for kw in ({"solver": "randomized", "iterated_power": 4}, {"center_method": "kmeans"}):
        lam = KernelRRR(n_components=80, rank=4, random_state=0, **kw).fit(ou).eigenvalues_
        assert np.abs(np.sort(lam.real)[::-1] - exact).max() < 0.02, kw


@pytest.mark.parametrize("make, match", [
    (lambda X: RRR(Polynomial(degree=2), rank=4).fit(X), "larger than the dictionary"),
    (lambda X: KernelRRR(n_components=500).fit(X[:100]), "more than the 100 training"),
    (lambda X: KernelRRR(n_components=5, rank=8).fit(X), "larger than the Nyström"),
    (lambda X: RRR(Polynomial(degree=2) + Polynomial(degree=2), rank=2,
                   solver="randomized").fit(X), "positive definite"),
])
def test_bad_requests_get_clear_errors(ou, make, match):
    with pytest.raises(ValueError, match=match):
        make(ou[:2000])


@pytest.mark.parametrize("est, param, bad", [
    (RRR(), "rank", 0), (RRR(), "rank", 1.5), (RRR(), "regularization", -1.0),
    (RRR(), "solver", "qr"), (RRR(), "backend", "gpu"), (RRR(), "chunk_size", 0),
    (RRR(), "n_oversamples", -1), (RRR(), "iterated_power", -2), (RRR(), "rcond", 1.5),
    (RRR(), "dictionary", "poly"), (KernelRRR(), "kernel", "laplacian"),
    (KernelRRR(), "width", 0.0), (KernelRRR(), "n_components", 0),
    (KernelRRR(), "center_method", "grid"), (KernelRRR(), "cutoff", 1.0),
])
def test_every_declared_constraint_rejects_a_bad_value(ou, est, param, bad):
    with pytest.raises((ValueError, TypeError), match=param):
        clone(est).set_params(**{param: bad}).fit(ou[:200])


@pytest.mark.parametrize("est", [RRR(Polynomial(degree=3), rank=3),
                                 KernelRRR(n_components=30, rank=3, random_state=0)])
def test_save_load_roundtrips_exactly(ou, est):
    model = clone(est).fit(ou[:2000])
    path = os.path.join(tempfile.mkdtemp(), "m.npz")
    io.save(model, path)
    again = io.load(path)
    for name in ("eigenvalues_", "basis_", "reduced_matrix_", "state_map_",
                 "singular_values_"):
        a, b = getattr(model, name), getattr(again, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    np.testing.assert_array_equal(model.predict(ou[:50]), again.predict(ou[:50]))


@pytest.mark.parametrize("backend", ["dask", "torch"])
def test_rrr_runs_on_the_other_gram_backends(ou, backend):
    pytest.importorskip(backend)
    X = ou[:4000]
    ref = RRR(RBF(20, width=0.8, random_state=0), rank=4, regularization=1e-8).fit(X)
    other = RRR(RBF(20, width=0.8, random_state=0), rank=4, regularization=1e-8,
                backend=backend).fit(X)
    np.testing.assert_allclose(other.eigenvalues_, ref.eigenvalues_, atol=1e-8)


def test_resdmd_residuals_apply_to_rrr_and_show_the_ou_variance(ou):
    from koop.validation import residuals

    model = RRR(Polynomial(degree=3), rank=4).fit(ou)
    res = residuals(model, ou)
    # single-successor residual of an exact OU eigenpair is sqrt(1 - lambda^2)
    lam = np.abs(model.eigenvalues_)
    np.testing.assert_allclose(res, np.sqrt(1 - lam**2), atol=0.05)
