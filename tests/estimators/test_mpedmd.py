"""mpEDMD: unitary by construction; the nonlinear pendulum of the ResDMD repo."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from koop.dictionaries import Custom
from koop.estimators import MPEDMD, ResDMD


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_blas():
    """Small dense LAPACK calls: threaded BLAS only adds contention on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


# eigenvalues listed in the ResDMD repo's pendulum_example.m (on the unit circle)
PENDULUM_LISTED = np.array([
    0.880347701848197 + 0.473226384533343j,
    0.558620606228836 + 0.826563250517901j,
    0.124674806328568 + 0.987209196182015j,
    -0.314745042094750 + 0.936136228237800j,
])


def _hermite_functions(n, p):
    """Orthonormal Hermite functions h_0..h_{n-1} by the stable three-term recurrence."""
    out = [np.pi**-0.25 * np.exp(-p**2 / 2)]
    if n > 1:
        out.append(np.sqrt(2.0) * p * out[0])
    for m in range(2, n):
        out.append(np.sqrt(2.0 / m) * p * out[-1] - np.sqrt((m - 1) / m) * out[-2])
    return out


def pendulum_dictionary(cross):
    """Fourier (cos, sin) in theta x Hermite functions in p, max(k, 1)(j + 1) <= cross."""
    pairs = [(k, j) for k in range(cross + 1) for j in range(cross) if max(k, 1) * (j + 1) <= cross]

    def psi(Z):
        t, p = Z[:, 0], Z[:, 1]
        H = _hermite_functions(cross, p)
        cols = []
        for k, j in pairs:
            if k == 0:
                cols.append(H[j] / np.sqrt(2 * np.pi))
            else:
                cols.append(np.cos(k * t) * H[j] / np.sqrt(np.pi))
                cols.append(np.sin(k * t) * H[j] / np.sqrt(np.pi))
        return np.stack(cols, axis=1)

    return Custom(psi)


@pytest.fixture(scope="module")
def pendulum_model():
    """theta'' = -sin(theta), dt = 0.5, on a tensor grid with trapezoid weights (Lebesgue
    measure on the cylinder is invariant, so the Koopman operator is unitary)."""
    n_theta, n_p, p_max = 64, 128, 8.5
    theta = -np.pi + 2 * np.pi * (np.arange(n_theta) + 0.5) / n_theta
    p = np.linspace(-p_max, p_max, n_p)
    T, P = (a.ravel() for a in np.meshgrid(theta, p, indexing="ij"))
    n = T.size

    def rhs(_, u):
        return np.concatenate([u[n:], -np.sin(u[:n])])

    sol = solve_ivp(rhs, (0.0, 0.5), np.concatenate([T, P]), method="DOP853", rtol=1e-11,
                    atol=1e-12)
    X = np.column_stack([T, P])
    Y = np.column_stack([sol.y[:n, -1], sol.y[n:, -1]])
    w = np.full(n, (2 * np.pi / n_theta) * (p[1] - p[0]))
    return MPEDMD(pendulum_dictionary(25)).fit(X, Y, weights=w, dt=0.5)


def test_pendulum_mpedmd_eigenvalues_on_unit_circle(pendulum_model):
    assert np.abs(np.abs(pendulum_model.eigenvalues_) - 1.0).max() < 1e-12
    Z = pendulum_model._eigvecs_reduced_
    np.testing.assert_allclose(Z.conj().T @ Z, np.eye(Z.shape[1]), atol=1e-12)


def test_pendulum_pseudospectrum_contains_listed_eigenvalues(pendulum_model):
    tau = pendulum_model.pseudospectrum(PENDULUM_LISTED)
    assert tau.dims == ("point",)
    assert np.all(tau.values < 0.25)
    # and points far from the unit circle are not in the 0.25-pseudospectrum
    assert np.all(pendulum_model.pseudospectrum([0.3, 0.5j, -1.6]).values > 0.25)


def test_mpedmd_measure_weights_sum_to_norm(pendulum_model):
    weights = pendulum_model.spectral_measure_weights(3)
    G = pendulum_model.gram_.G
    # the observable lies in the dictionary span: the weights sum to ||f||^2 = G_33
    assert abs(float(weights.sum()) - G[3, 3]) < 1e-10
    assert np.all(weights.values >= 0)


def test_circle_rotation_exact():
    omega = 0.7
    theta = np.linspace(0, 2 * np.pi, 40, endpoint=False)[:, None]
    fourier = Custom(lambda X: np.hstack([np.ones_like(X)] + [np.cos(k * X) for k in (1, 2, 3)]
                                         + [np.sin(k * X) for k in (1, 2, 3)]))
    model = MPEDMD(fourier).fit(theta, (theta + omega) % (2 * np.pi))
    expected = np.exp(1j * omega * np.array([0, 1, -1, 2, -2, 3, -3]))
    for e in expected:
        assert np.min(np.abs(model.eigenvalues_ - e)) < 1e-12
    assert model.residuals_.max() < 1e-12
    edmd = ResDMD(fourier).fit(theta, (theta + omega) % (2 * np.pi))
    np.testing.assert_allclose(np.sort_complex(edmd.eigenvalues_),
                               np.sort_complex(model.eigenvalues_), atol=1e-12)
