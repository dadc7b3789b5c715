"""EDMD against known truth: linear maps and the slow manifold."""

import warnings

import numpy as np
import pytest

from koop import systems
from koop.dictionaries import Identity, Polynomial, RandomFourier, TimeDelay
from koop.estimators import EDMD
from koop.exceptions import RankDeficiencyWarning


def _match(found, expected):
    """Distance from each expected eigenvalue to the nearest found one."""
    return np.array([np.min(np.abs(found - e)) for e in expected])


def test_linear_system_eigenvalues_identity(stable_linear_map):
    A, lam = stable_linear_map
    X = systems.linear(A, 200, random_state=0)
    model = EDMD(Identity()).fit(X)
    assert _match(model.eigenvalues_, lam).max() < 1e-10
    np.testing.assert_allclose(model.koopman_matrix_, A.T, atol=1e-10)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_slow_manifold_eigenvalues_and_eigenfunctions(slow_manifold_data, backend):
    mu, lam = 0.9, 0.5
    model = EDMD(Polynomial(degree=4), backend=backend).fit(slow_manifold_data)
    truth = [1.0, mu, mu**2, mu**3, mu**4, lam, lam * mu, lam * mu**2, lam**2]
    assert _match(model.eigenvalues_, truth).max() < 1e-8
    fresh = systems.slow_manifold(30, mu=mu, lam=lam, x0=[0.4, -0.8])
    phi = model.eigenfunctions(fresh)
    for t in truth:
        j = int(np.argmin(np.abs(model.eigenvalues_ - t)))
        err = np.abs(phi[1:, j] - model.eigenvalues_[j] * phi[:-1, j]).max()
        assert err < 1e-8 * max(1.0, np.abs(phi[:, j]).max())
    # the recovered phi_lambda is proportional to y - x^2
    j = int(np.argmin(np.abs(model.eigenvalues_ - lam)))
    exact = systems.slow_manifold_eigenfunctions(fresh)["lam"]
    c = np.vdot(exact, phi[:, j]) / np.vdot(exact, exact)
    assert np.abs(phi[:, j] - c * exact).max() < 1e-8 * np.abs(phi[:, j]).max()


def test_multi_trajectory_fit_equals_concatenated_pairs(slow_manifold_data):
    a = EDMD(Polynomial(3)).fit(slow_manifold_data)
    X = np.vstack([t[:-1] for t in slow_manifold_data])
    Y = np.vstack([t[1:] for t in slow_manifold_data])
    b = EDMD(Polynomial(3)).fit(X, Y)
    np.testing.assert_allclose(a.gram_.G, b.gram_.G, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a.gram_.A, b.gram_.A, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.sort_complex(a.eigenvalues_), np.sort_complex(b.eigenvalues_),
                               atol=1e-10)


def test_predict_simulate_score_on_linear(stable_linear_map):
    A, _ = stable_linear_map
    X = systems.linear(A, 100, random_state=1)
    model = EDMD().fit(X)
    np.testing.assert_allclose(model.predict(X[:-1]), X[1:], atol=1e-9)
    sim = model.simulate(X[0], 20)
    np.testing.assert_allclose(sim, X[1:21], atol=1e-8)
    assert model.score(X) == pytest.approx(1.0, abs=1e-12)
    # modes reconstruct the state from eigenfunctions
    rec = model.eigenfunctions(X) @ model.modes_.T
    np.testing.assert_allclose(rec.real, X, atol=1e-9)


def test_continuous_eigenvalues_from_dt():
    w = 2.0
    t = np.arange(400) * 0.05
    X = np.column_stack([np.cos(w * t), np.sin(w * t)]) * np.exp(-0.1 * t)[:, None]
    model = EDMD().fit(X, dt=0.05)
    ce = model.continuous_eigenvalues_
    np.testing.assert_allclose(np.sort(ce.imag), [-w, w], atol=1e-9)
    np.testing.assert_allclose(ce.real, -0.1, atol=1e-9)


def test_singular_gram_warns_with_count():
    X = np.random.default_rng(0).normal(size=(300, 2))
    with pytest.warns(RankDeficiencyWarning, match="dropped 2 of 4"):
        model = EDMD(Identity() + Identity()).fit(X[:-1], X[1:])
    assert model.n_dropped_directions_ == 2
    assert np.isfinite(model.eigenvalues_).all()


def test_random_fourier_cos_sin_gram_is_handled():
    X = systems.van_der_pol(600)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficiencyWarning)
        model = EDMD(RandomFourier(n_features=50, random_state=0)).fit(X)
    assert np.isfinite(model.eigenvalues_).all()
    assert np.abs(model.eigenvalues_).max() < 1.05


def test_time_delay_scalar_observable_of_linear_system(stable_linear_map):
    A, lam = stable_linear_map
    X = systems.linear(A, 300, random_state=3)[:, :1]  # observe one coordinate
    model = EDMD(TimeDelay(n_delays=2)).fit(X)
    assert _match(model.eigenvalues_, lam).max() < 1e-8
    sim = model.simulate(X[:3], 10)
    np.testing.assert_allclose(sim, X[3:13], atol=1e-7)


def test_float32_input_is_accepted():
    X = systems.linear(np.diag([0.9, 0.5]), 100, random_state=0).astype(np.float32)
    model = EDMD().fit(X)
    np.testing.assert_allclose(np.sort(model.eigenvalues_.real), [0.5, 0.9], atol=1e-5)


def test_feature_names_from_xarray_are_kept_and_dropped():
    """Like scikit-learn with DataFrames: a labelled feature coordinate sets
    ``feature_names_in_``; a refit on a plain array removes it; to_xarray uses them."""
    import xarray as xr

    from koop import systems
    from koop.estimators import DMD

    X = systems.lorenz63(400, dt=0.01, random_state=0)
    da = xr.DataArray(X, dims=("time", "variable"),
                      coords={"time": np.arange(400) * 0.01, "variable": ["x", "y", "z"]})
    for model in (EDMD(), DMD()):
        model.fit(da)
        assert model.feature_names_in_.tolist() == ["x", "y", "z"]
        assert model.to_xarray()["feature"].values.tolist() == ["x", "y", "z"]
        model.fit(X)
        assert not hasattr(model, "feature_names_in_")


def _svd_truncated_spectrum(X, degree, fraction):
    """Independent reference: the EDMD eigenvalues on the leading right singular vectors
    of Psi_X / sqrt(N) that hold ``fraction`` of sum(sigma^2), in plain numpy."""
    psi = Polynomial(degree=degree).fit(X).transform(X)
    PX, PY = psi[:-1], psi[1:]
    N = PX.shape[0]
    _, s, Vh = np.linalg.svd(PX / np.sqrt(N), full_matrices=False)
    k = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), fraction) + 1)
    Q = Vh[:k].T / s[:k]  # Q^T G Q = I on the leading k directions
    K = Q.T @ (PX.T @ PY / N) @ Q
    return k, np.linalg.eigvals(K)


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.99999])
def test_float_rank_is_the_energy_fraction_of_the_svd(fraction):
    # rank=0.5 used to keep int(0.5) = 0 directions: an empty spectrum without a word
    X = systems.lorenz63(1500, dt=0.01, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    k, ref = _svd_truncated_spectrum(X, 2, fraction)
    model = EDMD(Polynomial(degree=2), rank=fraction).fit(X)
    assert model.basis_.shape[1] == k >= 1
    assert model.eigenvalues_.shape == (k,)
    assert _match(model.eigenvalues_, ref).max() < 1e-9
    # the same truncation as asking for those k directions
    same = EDMD(Polynomial(degree=2), rank=k).fit(X)
    np.testing.assert_array_equal(model.eigenvalues_, same.eigenvalues_)


def test_simulate_batch_equals_simulate_start_by_start():
    from koop.dictionaries import Polynomial
    from koop.estimators import HankelDMD

    X = 0.1 * np.cumsum(np.random.default_rng(0).normal(size=(80, 2)), axis=0)
    model = EDMD(Polynomial(degree=2)).fit(X)
    runs = model.simulate_batch(X[:3], 4)
    for i in range(3):
        np.testing.assert_allclose(runs[i], model.simulate(X[i], 4), rtol=0, atol=1e-13)
    hankel = HankelDMD(n_delays=3).fit(X)
    windows = np.stack([X[i : i + 4] for i in range(3)])
    runs = hankel.simulate_batch(windows, 5)
    for i in range(3):
        np.testing.assert_allclose(runs[i], hankel.simulate(windows[i], 5), rtol=0, atol=1e-13)
