"""ResDMD against known truth: exact eigenpairs, spurious ones, the Gauss map."""

import numpy as np
import pytest
from numpy.polynomial import legendre

from koop import systems
from koop.dictionaries import Custom, Identity, Polynomial
from koop.estimators import EDMD, ResDMD
from koop.validation import residuals


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_blas():
    """Small dense LAPACK calls: threaded BLAS only adds contention on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield



def gauss_map(x):
    return np.exp(-2.0 * x**2) - 1.0 - np.exp(-2.0)


def legendre_dictionary(n):
    """Normalized Legendre polynomials sqrt(2j+1) P_j(2x+1), orthonormal on [-1, 0]."""

    def psi(X):
        return legendre.legvander(2.0 * X[:, 0] + 1.0, n - 1) * np.sqrt(2 * np.arange(n) + 1.0)

    return Custom(psi)


@pytest.fixture(scope="module")
def gauss_map_quadrature():
    x, w = legendre.leggauss(100)
    x = (x - 1.0) / 2.0
    return x[:, None], gauss_map(x)[:, None], w / 2.0

SLOW_TRUE = [1.0, 0.9, 0.81, 0.729, 0.5, 0.45]  # mu^a lam^b with a + 2b <= 3


@pytest.fixture(scope="module")
def slow_model(slow_manifold_data):
    return ResDMD(Polynomial(degree=3)).fit(slow_manifold_data)


def test_linear_system_residuals_full_precision(stable_linear_map):
    A, lam = stable_linear_map
    X = systems.linear(A, 200, random_state=0)
    model = ResDMD(Identity()).fit(X)
    assert np.max([np.min(np.abs(model.eigenvalues_ - t)) for t in lam]) < 1e-12
    # exact eigenpairs: residuals at rounding level (the Gram form stops near 1e-8)
    assert model.residuals_.max() < 1e-12


def test_slow_manifold_exact_pairs_and_spurious_flagged(slow_model):
    lam, res = slow_model.eigenvalues_, slow_model.residuals_
    true = np.array([np.min(np.abs(np.asarray(SLOW_TRUE) - v)) < 1e-9 for v in lam])
    assert true.sum() == len(SLOW_TRUE)
    assert res[true].max() < 1e-10
    assert res[~true].min() > 1e-3
    kept = slow_model.verified(1e-8)
    np.testing.assert_allclose(np.sort(kept.eigenvalues.real), np.sort(SLOW_TRUE), atol=1e-10)
    assert len(kept) == len(SLOW_TRUE)
    np.testing.assert_array_equal(kept.index, np.flatnonzero(true))


def test_residuals_match_edmd_spectrum_and_gram_form(slow_manifold_data, slow_model):
    edmd = EDMD(Polynomial(degree=3)).fit(slow_manifold_data)
    np.testing.assert_allclose(np.sort_complex(edmd.eigenvalues_),
                               np.sort_complex(slow_model.eigenvalues_), atol=1e-9)
    gram_form = residuals(edmd)  # Gram quadratic form: accurate to ~1e-8 only
    np.testing.assert_allclose(np.sort(gram_form), np.sort(slow_model.residuals_), atol=1e-7)
    # the QR path on the training data gives the full-precision values for EDMD too
    np.testing.assert_allclose(np.sort(residuals(edmd, slow_manifold_data)),
                               np.sort(slow_model.residuals_), atol=1e-12)


def test_sort_by_residual_orders_modes(slow_manifold_data, slow_model):
    model = ResDMD(Polynomial(degree=3), sort_by="residual").fit(slow_manifold_data)
    assert np.all(np.diff(model.residuals_) >= 0)
    np.testing.assert_allclose(np.sort_complex(model.eigenvalues_),
                               np.sort_complex(slow_model.eigenvalues_), atol=1e-12)
    # reordered consistently: eigenfunctions still satisfy phi(x_{n+1}) = lam phi(x_n)
    fresh = systems.slow_manifold(20, x0=[0.3, -0.6])
    phi = model.eigenfunctions(fresh)[:, 0]
    np.testing.assert_allclose(phi[1:], model.eigenvalues_[0] * phi[:-1], atol=1e-10)


def test_validation_data_gives_independent_residuals(slow_manifold_data):
    rng = np.random.default_rng(7)
    other = [systems.slow_manifold(10, x0=x0) for x0 in rng.uniform(-1, 1, (20, 2))]
    model = ResDMD(Polynomial(degree=3), validation_data=other).fit(slow_manifold_data)
    assert not np.allclose(model.residuals_, model.training_residuals_)
    assert model.verified(1e-9).eigenvalues.size == len(SLOW_TRUE)
    np.testing.assert_allclose(model.residuals_, residuals(model, other), rtol=1e-12)


def test_gauss_map_quadrature(gauss_map_quadrature):
    """ResDMD repo's Gauss_map_example: N=40 Legendre, 100 Gauss-Legendre points."""
    x, y, w = gauss_map_quadrature
    model = ResDMD(legendre_dictionary(40)).fit(x, y, weights=w)
    lam, res = model.eigenvalues_, model.residuals_
    one = np.argmin(np.abs(lam - 1.0))
    assert abs(lam[one] - 1.0) < 1e-11 and res[one] < 1e-11
    # spurious complex pairs near the unit circle carry residuals > 1e-2
    near_circle = (np.abs(lam) > 0.9) & (np.abs(lam.imag) > 1e-3)
    assert near_circle.sum() >= 6
    assert res[near_circle].min() > 1e-2
    # counts of REFERENCES.md section 3.2 (numpy leggauss, eig of G^-1 A)
    assert (res < 1e-3).sum() == 14 and (res < 1e-2).sum() == 16 and (res > 0.1).sum() == 20
    tau = model.pseudospectrum([0.5, 0.5j, -0.5, -1.0])
    np.testing.assert_allclose(tau.values, [2.59e-4, 3.07e-2, 9.45e-2, 0.233], rtol=5e-3)


def test_residual_is_a_bound_checked_on_ten_times_more_samples():
    """Monte Carlo data: residuals from N samples match those on 10 N independent ones.

    Stated tolerance: relative difference below 5 / sqrt(N) (Monte Carlo error of the two
    quadratures), for pairs whose residual exceeds 1e-3.
    """
    rng = np.random.default_rng(3)
    n = 2000
    x = rng.uniform(-1, 0, (n, 1))
    model = ResDMD(legendre_dictionary(20)).fit(x, gauss_map(x))
    x10 = rng.uniform(-1, 0, (10 * n, 1))
    r10 = residuals(model, x10, gauss_map(x10))
    big = r10 > 1e-3
    assert big.sum() >= 10
    rel = np.abs(model.residuals_[big] - r10[big]) / r10[big]
    assert rel.max() < 5 / np.sqrt(n)
    exact = np.argmin(np.abs(model.eigenvalues_ - 1.0))
    assert model.residuals_[exact] < 1e-12 and r10[exact] < 1e-12


def test_pseudospectrum_vectors_attain_tau(slow_model):
    tau, g = slow_model.pseudospectrum(([0.2, 0.6, 0.95], [0.0, 0.1]), vectors=True)
    assert tau.dims == ("imag", "real") and g.dims == ("imag", "real", "dictionary")
    z = (tau["real"].values[None, :] + 1j * tau["imag"].values[:, None]).ravel()
    G = g.values.reshape(-1, g.sizes["dictionary"]).T
    res = np.array([residuals_one(slow_model, z[i], G[:, i]) for i in range(z.size)])
    np.testing.assert_allclose(res, tau.values.ravel(), rtol=1e-8, atol=1e-12)


def residuals_one(model, z, g):
    from koop._spectral.residual import residuals_from_factor

    return residuals_from_factor(model.factor_, [z], g[:, None])[0]


def test_spectral_measure_method_returns_dataarray(slow_model):
    nu = slow_model.spectral_measure(1, theta=np.linspace(-np.pi, np.pi, 16), epsilon=0.2)
    assert nu.dims == ("theta",) and np.isfinite(nu.values).all()


@pytest.mark.parametrize(
    ("params", "exc"),
    [({"sort_by": "size"}, ValueError), ({"rank": 0}, ValueError), ({"rank": 1.5}, ValueError),
     ({"rcond": 2.0}, ValueError), ({"chunk_size": 0}, ValueError),
     ({"dictionary": "poly"}, TypeError), ({"validation_data": "file.csv"}, TypeError)],
)
def test_bad_parameters_are_rejected(params, exc, slow_manifold_data):
    with pytest.raises(exc):
        ResDMD(**params).fit(slow_manifold_data)


def test_verified_rejects_bad_tol(slow_model):
    with pytest.raises(ValueError, match="tol"):
        slow_model.verified(-1.0)


def test_lagged_dictionary_and_small_chunks_match_lstsq():
    """Delay coordinates of Lorenz x (G has condition ~1e10): the QR path agrees with a
    least-squares reference on the materialised Psi_X, Psi_Y; EDMD through G loses digits."""
    from koop.dictionaries import TimeDelay

    x = systems.lorenz63(600, dt=0.01, random_state=1)[:, :1]
    psi = TimeDelay(n_delays=4).fit(x).transform(x)
    ref = np.linalg.eigvals(np.linalg.lstsq(psi[:-1], psi[1:], rcond=None)[0])
    res = ResDMD(TimeDelay(n_delays=4), chunk_size=37).fit(x)
    np.testing.assert_allclose(np.sort_complex(res.eigenvalues_), np.sort_complex(ref),
                               atol=1e-9)
    edmd = EDMD(TimeDelay(n_delays=4)).fit(x)
    np.testing.assert_allclose(np.sort_complex(edmd.eigenvalues_), np.sort_complex(ref),
                               atol=1e-5)
    np.testing.assert_allclose(res.gram_.G, edmd.gram_.G, rtol=1e-10, atol=1e-10)


def test_float_rank_is_the_energy_fraction_of_the_svd():
    """The one rank contract on ResDMD: a float in (0, 1) keeps the fewest leading
    singular directions of sqrt(W) Psi_X holding that fraction of sum(sigma^2)."""
    X = systems.lorenz63(1500, dt=0.01, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    psi = Polynomial(degree=2).fit(X).transform(X)
    PX, PY = psi[:-1], psi[1:]
    N = PX.shape[0]
    _, s, Vh = np.linalg.svd(PX / np.sqrt(N), full_matrices=False)
    k = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), 0.9) + 1)
    Q = Vh[:k].T / s[:k]
    ref = np.linalg.eigvals(Q.T @ (PX.T @ PY / N) @ Q)
    model = ResDMD(Polynomial(degree=2), rank=0.9).fit(X)
    assert model.eigenvalues_.shape == (k,)
    assert max(np.min(np.abs(model.eigenvalues_ - e)) for e in ref) < 1e-9
