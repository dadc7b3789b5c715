"""koop.mpc: the condensed predictions, bounded plans, state bounds, offset-free loops."""

import numpy as np
import pytest
import scipy.optimize

from koop import systems
from koop.estimators import DMDc
from koop.mpc import MPC, closed_loop

A = np.array([[1.0, 0.1], [0.0, 0.9]])
B = np.array([[0.0], [0.1]])


def plant(x, u):
    return A @ x + B @ np.atleast_1d(u)


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    U = rng.uniform(-1, 1, (300, 1))
    X = np.zeros((301, 2))
    for k in range(300):
        X[k + 1] = plant(X[k], U[k])
    return DMDc().fit(X, u=U)


def test_predictions_are_the_models_simulation(model):
    mpc = MPC(model, horizon=15)
    u = np.random.default_rng(1).uniform(-1, 1, (15, 1))
    x0 = np.array([0.3, -0.2])
    pred = (mpc.F @ model.lift_reduced(x0) + mpc.Phi @ u.ravel()).reshape(15, 2)
    np.testing.assert_allclose(pred, model.simulate(x0, 15, u), atol=1e-12)


def test_unconstrained_plan_is_the_least_squares_optimum(model):
    mpc = MPC(model, horizon=10, Q=[1.0, 0.5], R=1e-2, R_delta=0.0)
    x0, ref = np.array([0.0, 0.0]), np.array([1.0, 0.0])
    plan, _ = mpc.plan(x0, ref)

    def cost(v):
        pred = model.simulate(x0, 10, v.reshape(10, 1))
        return np.sum((pred - ref) ** 2 * [1.0, 0.5]) + 1e-2 * np.sum(v**2)

    best = scipy.optimize.minimize(cost, np.zeros(10), method="BFGS", options={"gtol": 1e-10})
    assert cost(plan.ravel()) <= best.fun + 1e-10
    np.testing.assert_allclose(plan.ravel(), best.x, atol=1e-5)


def test_input_and_state_bounds_hold_in_the_plan(model):
    mpc = MPC(model, horizon=20, Q=[1.0, 0.0], u_min=-0.5, u_max=0.5,
              x_min=[-np.inf, -0.05], x_max=[np.inf, 0.05])
    plan, pred = mpc.plan([0.0, 0.0], [1.0, 0.0])
    assert np.abs(plan).max() <= 0.5 + 1e-9
    assert np.abs(pred[:, 1]).max() <= 0.05 + 1e-9
    # the same problem by a general-purpose solver: the LSI solution is optimal
    H = mpc._lsq.T @ mpc._lsq
    b = np.concatenate([mpc._Lq @ (np.tile([1.0, 0.0], 20) - mpc.F @ model.lift_reduced(
        [0.0, 0.0])), np.zeros(40)])
    g = mpc._lsq.T @ b
    cons = {"type": "ineq", "fun": lambda v: 0.05 - np.abs((mpc.Phi @ v).reshape(20, 2)[:, 1])}
    ref = scipy.optimize.minimize(lambda v: 0.5 * v @ H @ v - g @ v, np.zeros(20),
                                  jac=lambda v: H @ v - g, method="SLSQP",
                                  bounds=[(-0.5, 0.5)] * 20, constraints=[cons],
                                  options={"ftol": 1e-14, "maxiter": 1000})
    v = plan.ravel()
    assert 0.5 * v @ H @ v - g @ v <= ref.fun + 1e-8


def test_closed_loop_reaches_the_reference_within_bounds(model):
    mpc = MPC(model, horizon=30, Q=[1.0, 0.0], u_min=-1, u_max=1)
    states, inputs = closed_loop(mpc, plant, [0.0, 0.0], [1.0, 0.0], 150)
    assert abs(states[-1, 0] - 1.0) < 1e-3 and np.abs(inputs).max() <= 1 + 1e-12


def test_offset_free_loop_removes_a_model_bias():
    # the model believes the input is 30 % weaker than it is, and the plant has a leak
    rng = np.random.default_rng(2)
    U = rng.uniform(-1, 1, (300, 1))
    X = np.zeros((301, 2))
    for k in range(300):
        X[k + 1] = A @ X[k] + 0.7 * B @ U[k]
    wrong = DMDc().fit(X, u=U)

    def leaky(x, u):
        return plant(x, u) - np.array([0.0, 0.05])

    mpc = MPC(wrong, horizon=30, Q=[1.0, 0.0], R=1e-3, R_delta=0.0, u_min=-2, u_max=2)
    biased, _ = closed_loop(mpc, leaky, [0.0, 0.0], [1.0, 0.0], 300)
    fixed, _ = closed_loop(mpc, leaky, [0.0, 0.0], [1.0, 0.0], 300, offset_free=True)
    assert abs(biased[-1, 0] - 1.0) > 1e-2, biased[-1]
    assert abs(fixed[-1, 0] - 1.0) < 1e-4


def test_van_der_pol_tracking_with_the_true_plant():
    Xs, Us = [], []
    for seed in range(30):
        X, U = systems.van_der_pol_control(101, random_state=seed)
        Xs.append(X)
        Us.append(U)
    model = DMDc().fit(Xs, u=Us)
    mpc = MPC(model, horizon=30, Q=[1.0, 0.1], u_min=-1, u_max=1)
    states, inputs = closed_loop(mpc, systems.van_der_pol_control_step, [0.0, 0.0],
                                 [0.5, 0.0], 300, offset_free=True)
    assert abs(states[-1, 0] - 0.5) < 1e-3 and np.abs(inputs).max() <= 1 + 1e-12


@pytest.mark.parametrize("kw, match", [
    ({"horizon": 0}, "horizon"), ({"Q": [1.0]}, "Q"), ({"R": -1.0}, "positive semi"),
    ({"u_min": 1.0, "u_max": 0.0}, "lower bound"), ({"Q": np.ones((2, 3))}, "Q"),
])
def test_bad_settings_are_refused(model, kw, match):
    args = {"horizon": 5, **kw}
    with pytest.raises(ValueError, match=match):
        MPC(model, **args)


def test_bad_references_are_refused(model):
    mpc = MPC(model, horizon=5)
    with pytest.raises(ValueError, match="reference"):
        mpc.plan([0.0, 0.0], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="reference"):
        mpc.plan([0.0, 0.0], np.ones((3, 2)))
    with pytest.raises(ValueError, match="reference"):
        closed_loop(mpc, plant, [0.0, 0.0], np.ones((4, 2)), 10)
