"""Built-in systems: shapes, determinism, known invariants."""

import numpy as np
import pytest

from koop import systems


@pytest.mark.parametrize("name, d", [("lorenz63", 3), ("rossler", 3), ("duffing", 2),
                                     ("pendulum", 2), ("van_der_pol", 2)])
def test_signature_and_determinism(name, d):
    f = getattr(systems, name)
    a = f(50, random_state=3)
    b = f(50, random_state=3)
    assert a.shape == (50, d)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all()


def test_pendulum_conserves_energy():
    X = systems.pendulum(400, dt=0.1, x0=[2.0, 0.0])
    energy = 0.5 * X[:, 1] ** 2 - np.cos(X[:, 0])
    assert np.ptp(energy) < 1e-9


def test_lorenz_on_attractor_and_rhs():
    X = systems.lorenz63(3000, dt=0.01)
    assert 10 < X[:, 2].mean() < 35 and np.abs(X[:, 0]).max() < 25
    # finite-difference derivative matches the vector field
    dX = (X[2:] - X[:-2]) / 0.02
    x, y, z = X[1:-1].T
    f = np.column_stack([10 * (y - x), x * (28 - z) - y, x * y - 8 / 3 * z])
    assert np.abs(dX - f).max() / np.abs(f).max() < 1e-2


def test_slow_manifold_eigenfunctions_exact():
    X = systems.slow_manifold(20, mu=0.8, lam=0.3, x0=[0.7, -0.2])
    phi = systems.slow_manifold_eigenfunctions(X)
    for key, lam in (("mu", 0.8), ("lam", 0.3), ("mu^2", 0.64)):
        np.testing.assert_allclose(phi[key][1:], lam * phi[key][:-1], atol=1e-15)


def test_as_xarray_roundtrip():
    from koop.data import as_trajectories

    da = systems.as_xarray(systems.lorenz63(20), dt=0.01)
    data = as_trajectories(da)
    assert data.dt == pytest.approx(0.01) and data.feature_names == ("x", "y", "z")


def test_bad_arguments():
    with pytest.raises(ValueError):
        systems.lorenz63(0)
    with pytest.raises(TypeError):
        systems.lorenz63(10.5)
    with pytest.raises(ValueError):
        systems.lorenz63(10, dt=-1)
    with pytest.raises(ValueError):
        systems.linear(np.ones((2, 3)), 5)


def test_single_step_returns_initial_state():
    assert systems.lorenz63(1, x0=[1.0, 2.0, 3.0]).tolist() == [[1.0, 2.0, 3.0]]
    assert systems.lorenz63(1).shape == (1, 3)
