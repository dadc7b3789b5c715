"""Pseudospectra: fast path against the SVD reference and the direct generalized eigensolve."""

import numpy as np
import pytest
import scipy.linalg

from koop.estimators import EDMD, ResDMD
from koop.validation import pseudospectrum, spectral_estimate


@pytest.fixture(scope="module")
def gauss_model(gauss_map_quadrature, legendre40):
    x, y, w = gauss_map_quadrature
    return ResDMD(legendre40).fit(x, y, weights=w)


def _direct(G, A, L, z):
    """The direct way: a generalized Hermitian eigensolve per point."""
    from threadpoolctl import threadpool_limits

    out = []
    with threadpool_limits(1):
        for zz in np.ravel(z):
            H = L - zz * A.conj().T - np.conj(zz) * A + abs(zz) ** 2 * G
            out.append(np.sqrt(max(scipy.linalg.eigh(H, G, eigvals_only=True,
                                                     subset_by_index=[0, 0])[0], 0.0)))
    return np.array(out)


def test_fast_path_matches_svd_and_direct(gauss_model):
    x = np.linspace(-1.5, 1.5, 9)
    tau = pseudospectrum(gauss_model, (x, x))
    ref = pseudospectrum(gauss_model, (x, x), method="svd")
    np.testing.assert_allclose(tau.values, ref.values, atol=1e-12, rtol=1e-10)
    g = gauss_model.gram_
    direct = _direct(g.G, g.A, g.L, (x[None, :] + 1j * x[:, None]))
    np.testing.assert_allclose(tau.values.ravel(), direct, atol=1e-8)


def test_reference_values_gauss_map(gauss_model):
    """REFERENCES.md 3.2 [computed]: tau(1) = 0, tau(0.5) = 2.59e-4, tau(-1) = 0.233."""
    tau = pseudospectrum(gauss_model, [1.0, 0.5, -1.0])
    assert tau.values[0] < 1e-12
    np.testing.assert_allclose(tau.values[1:], [2.59405e-4, 0.232890], rtol=1e-4)


def test_grid_layout_threads_and_mirror(gauss_model):
    xr_, yi = np.linspace(-1, 1, 7), np.linspace(-0.6, 0.6, 5)
    tau = pseudospectrum(gauss_model, (xr_, yi))
    assert tau.dims == ("imag", "real") and tau.shape == (5, 7)
    np.testing.assert_allclose(tau.values, tau.values[::-1], atol=1e-14)  # tau(conj z)
    par = pseudospectrum(gauss_model, (xr_, yi), n_jobs=2)
    np.testing.assert_allclose(par.values, tau.values, atol=1e-12, rtol=1e-10)
    one = pseudospectrum(gauss_model, 0.5 + 0.1j)
    assert one.ndim == 0
    assert abs(float(one) - float(pseudospectrum(gauss_model, 0.5 + 0.1j, method="svd"))) < 1e-12


def test_complex_dictionary_no_mirror():
    """With complex dictionaries tau(conj z) != tau(z) in general: no mirroring."""
    from koop.dictionaries import Custom

    th = np.linspace(0, 2 * np.pi, 64, endpoint=False)[:, None]
    d = Custom(lambda X: np.hstack([np.exp(1j * k * X) for k in range(-3, 4)]))
    model = ResDMD(d).fit(th, (th + 0.5) % (2 * np.pi))
    z = np.exp(0.5j)
    tau = pseudospectrum(model, [z, np.conj(z)], method="cholesky")
    ref = pseudospectrum(model, [z, np.conj(z)], method="svd")
    np.testing.assert_allclose(tau.values, ref.values, atol=1e-12)
    assert tau.values[0] < 1e-12 and tau.values[1] < 1e-12  # e^{-0.5i} is an eigenvalue too
    tau2 = pseudospectrum(model, [0.9 * z, 0.9 * np.conj(z)])
    np.testing.assert_allclose(tau2.values, pseudospectrum(model, [0.9 * z, 0.9 * np.conj(z)],
                                                           method="svd").values, atol=1e-12)


def test_pseudoeigenfunctions_and_independent_data(gauss_model, gauss_map_quadrature):
    x, y, w = gauss_map_quadrature
    tau, g = pseudospectrum(gauss_model, [0.5, -0.5], vectors=True)
    assert g.dims == ("point", "dictionary")
    from koop._spectral.residual import residuals_from_factor

    r = residuals_from_factor(gauss_model.factor_, [0.5, -0.5], g.values.T)
    np.testing.assert_allclose(r, tau.values, rtol=1e-9)
    again = pseudospectrum(gauss_model, [0.5, -0.5], X=x, y=y, weights=w)
    np.testing.assert_allclose(again.values, tau.values, rtol=1e-9)
    assert again.attrs["independent_data"]


def test_plain_edmd_uses_gram(slow_manifold_data):
    from koop.dictionaries import Polynomial

    model = EDMD(Polynomial(2)).fit(slow_manifold_data)
    tau = pseudospectrum(model, [0.9, 0.7])
    assert tau.attrs["source"] == "gram"
    assert tau.values[0] < 1e-6 and tau.values[1] > 1e-3


def test_spectral_estimate_gauss_map(gauss_model):
    x = np.linspace(-1.2, 1.2, 49)
    est = spectral_estimate(gauss_model, (x, x))
    # eigenvalue 1 and the low-residual real eigenvalues are found; the error is small
    assert np.min(np.abs(est.eigenvalues - 1.0)) < 1e-12
    assert est.error < 0.5
    # the EDMD error (max residual of EDMD's own pairs) is much larger
    assert est.edmd_error > 0.2
    assert est.grid.dims == ("imag", "real")
    mp = spectral_estimate(gauss_model, (x, x), measure_preserving=True)
    assert np.all(np.abs(np.abs(mp.eigenvalues) - 1.0) <= mp.dist + 1e-12)


def test_bad_points(gauss_model):
    with pytest.raises(ValueError):
        pseudospectrum(gauss_model, [[0.1, 0.2], [0.3, 0.4]])
    with pytest.raises(ValueError):
        pseudospectrum(gauss_model, [np.nan])
    with pytest.raises(TypeError):
        pseudospectrum(gauss_model, "grid")
    with pytest.raises(ValueError, match="method"):
        pseudospectrum(gauss_model, [0.1], method="eig")


def test_large_pencil_paths_match_svd():
    """r > 96: the Cholesky-Lanczos and the single-precision dense paths, against the SVD."""
    from koop import systems
    from koop.dictionaries import RBF

    X = systems.lorenz63(3000, dt=0.01, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = ResDMD(RBF(150, width=0.3, random_state=0)).fit(X)
    assert model._pencil_.rank > 96
    x = np.linspace(-1.4, 1.4, 7)
    fast = pseudospectrum(model, (x, x[3:]))
    ref = pseudospectrum(model, (x, x[3:]), method="svd")
    np.testing.assert_allclose(fast.values, ref.values, atol=1e-9, rtol=0)
