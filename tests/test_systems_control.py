"""The forced Van der Pol plant: one RK4 step of Korda & Mezic's vector field."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from koop import systems


def test_step_matches_an_accurate_integration_with_the_input_held():
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, u = rng.uniform(-1, 1, 2), rng.uniform(-1, 1)
        exact = solve_ivp(lambda t, z, u=u: systems.van_der_pol_control_rhs(z, np.array([u])),
                          (0.0, 0.01), x, method="DOP853", rtol=1e-13, atol=1e-13).y[:, -1]
        # classical RK4: local error O(dt^5)
        np.testing.assert_allclose(systems.van_der_pol_control_step(x, u), exact, atol=1e-9)


def test_step_is_vectorised_over_trajectories():
    rng = np.random.default_rng(1)
    x, u = rng.uniform(-1, 1, (7, 2)), rng.uniform(-1, 1, (7, 1))
    batch = systems.van_der_pol_control_step(x, u)
    one = np.array([systems.van_der_pol_control_step(x[i], u[i]) for i in range(7)])
    np.testing.assert_array_equal(batch, one)


def test_trajectory_follows_the_step_and_the_default_protocol():
    X, U = systems.van_der_pol_control(50, random_state=3)
    assert X.shape == (50, 2) and U.shape == (49, 1)
    assert np.abs(X[0]).max() <= 1 and np.abs(U).max() <= 1
    np.testing.assert_array_equal(X[1], systems.van_der_pol_control_step(X[0], U[0]))
    again, _ = systems.van_der_pol_control(50, random_state=3)
    np.testing.assert_array_equal(X, again)
    Y, V = systems.van_der_pol_control(5, x0=[0.5, 0.5], u=np.zeros(4))
    np.testing.assert_array_equal(V, 0.0)
    assert Y[0].tolist() == [0.5, 0.5]


@pytest.mark.parametrize("kw, exc", [({"n_steps": 0}, ValueError), ({"dt": -0.1}, ValueError),
                                     ({"u": np.zeros(3)}, ValueError),
                                     ({"x0": [1.0]}, ValueError),
                                     ({"u": [np.nan] * 9}, ValueError)])
def test_bad_arguments(kw, exc):
    args = {"n_steps": 10, **kw}
    with pytest.raises(exc):
        systems.van_der_pol_control(**args)
