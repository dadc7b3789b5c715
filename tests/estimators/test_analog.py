"""AnalogEDMD: the Markov kernel kernel against its twin, exact replay by the method of
analogues, staying on a limit cycle, the reduced model, save/load."""

import numpy as np
import pytest

from koop import io
from koop._kernels.analog import analog_run, neighbour_weights, neighbour_weights_twin
from koop.estimators import AnalogEDMD
from koop.estimators._analog import _WIDTH


@pytest.fixture(scope="module")
def circle():
    t = np.arange(2000) * 0.05
    return np.column_stack([np.cos(t), np.sin(t)])


def test_neighbour_kernel_equals_twin_and_tree_weights(circle):
    rng = np.random.default_rng(0)
    C = rng.normal(size=(300, 2))
    X = rng.normal(size=(50, 2))
    for k in (1, 4, 9):
        w, idx = np.empty((50, k)), np.empty((50, k), dtype=np.int64)
        neighbour_weights(X, C, k, _WIDTH, w, idx)
        tw, tidx = neighbour_weights_twin(X, C, k, _WIDTH)
        np.testing.assert_array_equal(idx, tidx)
        np.testing.assert_allclose(w, tw, rtol=1e-13)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-14)
    # the estimator's dictionary (k-d tree) finds the same neighbours and weights
    model = AnalogEDMD(n_centers=300, n_neighbors=4).fit(circle)
    C = model.dictionary_.centers_
    w_tree, i_tree = model.dictionary_.neighbours(X)
    tw, tidx = neighbour_weights_twin(X, C, 4, _WIDTH)
    np.testing.assert_array_equal(i_tree, tidx)
    np.testing.assert_allclose(w_tree, tw, rtol=1e-12)


def test_kernel_run_equals_repeated_step(circle):
    model = AnalogEDMD(n_centers=200, n_neighbors=5).fit(circle)
    X0 = circle[[3, 500, 1700]]
    runs = model.simulate_batch(X0, 30)
    x = X0.copy()
    for k in range(30):
        x = model.step(x)
        np.testing.assert_allclose(runs[:, k], x, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.predict(X0), runs[:, 0], rtol=1e-12)
    np.testing.assert_array_equal(model.simulate(X0[1], 30), runs[1])
    out = np.empty((1, 4, 2))
    analog_run(X0[:1].copy(), model.dictionary_.centers_, model.increment_map_, 5, _WIDTH,
               4, out)
    np.testing.assert_array_equal(out[0], runs[0, :4])


def test_every_sample_a_landmark_with_one_neighbour_replays_the_training_data():
    """Lorenz's method of analogues: with k = 1 and every training state a landmark, the
    increment attached to x_i is x_{i+1} - x_i (up to the 1e-8 ridge), so a run from the
    first sample retraces the training trajectory."""
    rng = np.random.default_rng(1)
    X = np.cumsum(rng.normal(size=(400, 3)), axis=0)  # distinct states, no revisits
    model = AnalogEDMD(n_centers=399, n_neighbors=1, rank=20).fit(X)
    np.testing.assert_allclose(model.simulate(X[0], 399), X[1:], rtol=0, atol=1e-5)


def test_relifted_run_stays_on_the_limit_cycle_and_linear_run_relaxes(circle):
    model = AnalogEDMD(n_centers=300, n_neighbors=4).fit(circle)
    run = model.simulate(circle[0], 5000)
    np.testing.assert_allclose(np.linalg.norm(run, axis=1), 1.0, atol=1e-2)
    # it keeps turning at the data's angular speed (0.05 per step): 5000 steps = 250 rad
    turns = np.unwrap(np.arctan2(run[:, 1], run[:, 0]))[-1] - np.arctan2(0, 1)
    assert abs(turns - 5000 * 0.05) < 0.05 * 250
    linear = AnalogEDMD(n_centers=300, n_neighbors=4, simulation="linear").fit(circle)
    far = linear.simulate(circle[0], 5000)[-1000:]
    assert np.linalg.norm(far, axis=1).max() < 0.5  # relaxes towards the mean, 0


def test_reduced_model_has_the_state_block_and_a_markov_eigenvalue_one(circle):
    """The kernel functions sum to 1 on every state, so on the full span (rank=None)
    G_p^+ A_p maps the constant to itself: eigenvalue 1 beside the state block's ones."""
    model = AnalogEDMD(n_centers=120, n_neighbors=4, rank=None).fit(circle)
    d = 2
    np.testing.assert_array_equal(model.reduced_matrix_[:d, :d], np.eye(d))
    np.testing.assert_array_equal(model.reduced_matrix_[:d, d:], 0.0)
    lam = np.sort(np.abs(model.eigenvalues_))[::-1]
    assert lam.size == d + 120
    np.testing.assert_allclose(lam[: d + 1], 1.0, atol=1e-8)
    assert lam[d + 1] < 1.0 - 1e-4
    assert model.n_parameters_ == 2 * 120 * 2
    compressed = AnalogEDMD(n_centers=120, n_neighbors=4, rank=30).fit(circle)
    assert compressed.eigenvalues_.size == d + 30


def test_save_load_round_trip_is_exact(circle, tmp_path):
    model = AnalogEDMD(n_centers=150, n_neighbors=3, rank=10).fit(circle)
    back = io.load(io.save(model, tmp_path / "analog.npz"))
    for name in ("increment_map_", "reduced_matrix_", "basis_", "state_map_", "eigenvalues_"):
        np.testing.assert_array_equal(getattr(back, name), getattr(model, name))
    np.testing.assert_array_equal(back.dictionary_.centers_, model.dictionary_.centers_)
    np.testing.assert_array_equal(back.simulate(circle[7], 50), model.simulate(circle[7], 50))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_neighbors=0), "n_neighbors"),
    (dict(simulation="exact"), "simulation"),
    (dict(n_centers=5000), "exceeds the 1999 training pairs"),
    (dict(n_centers=10, n_neighbors=20), "n_neighbors=20 exceeds n_centers=10"),
])
def test_bad_parameters_raise(circle, kwargs, match):
    with pytest.raises(ValueError, match=match):
        AnalogEDMD(**kwargs).fit(circle)
