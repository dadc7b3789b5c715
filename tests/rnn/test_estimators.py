"""ShallowPLRNN / ALRNN estimators: training on a linear system, interface, determinism."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from koop.rnn import ALRNN, ShallowPLRNN  # noqa: E402

FAST = dict(n_epochs=30, batches_per_epoch=10, sequence_length=30,
            learning_rate=1e-2, final_learning_rate=1e-3, random_state=0)


@pytest.fixture(scope="module")
def rotation():
    """A slowly decaying rotation x_{t+1} = 0.999 R(0.1) x_t, standardized."""
    c, s = np.cos(0.1), np.sin(0.1)
    R = 0.999 * np.array([[c, -s], [s, c]])
    X = [np.array([1.0, 0.0])]
    for _ in range(999):
        X.append(R @ X[-1])
    X = np.array(X)
    return X / X.std(axis=0)


@pytest.fixture(scope="module")
def fitted_plrnn(rotation):
    return ShallowPLRNN(n_hidden=10, **FAST).fit(rotation)


@pytest.fixture(scope="module")
def fitted_alrnn(rotation):
    return ALRNN(n_latent=4, n_pwl=1, **FAST).fit(rotation)


def test_shplrnn_training_reduces_loss_on_linear_system(fitted_plrnn, rotation):
    # measured: loss falls 18x in 300 batches; one-step R^2 0.996
    hist = fitted_plrnn.loss_history_
    assert hist.shape == (30,)
    assert hist[-1] < hist[0] / 5
    assert fitted_plrnn.score(rotation) > 0.98
    assert fitted_plrnn.n_parameters_ == 2 + 2 * 10 + 10 * 2 + 2 + 10  # A, W1, W2, h1, h2


def test_alrnn_training_reduces_loss_on_linear_system(fitted_alrnn, rotation):
    # measured: loss falls ~200x; the AL-RNN is linear per subregion, so the fit is easy
    hist = fitted_alrnn.loss_history_
    assert hist[-1] < hist[0] / 20
    assert fitted_alrnn.score(rotation) > 0.99
    sim = fitted_alrnn.simulate(rotation[0], 50)
    assert np.abs(sim - rotation[1:51]).max() < 0.6
    # M + M^2 + M (A, W, h) and the initial-state map L of shape (M - N, N)
    assert fitted_alrnn.n_parameters_ == 4 + 16 + 4 + 2 * 2


def test_alpha_is_annealed_below_one(fitted_plrnn):
    alphas = fitted_plrnn.alpha_history_
    assert alphas[0] <= 1.0 and alphas[-1] < alphas[0]
    assert np.all((alphas >= 0) & (alphas <= 1))


def test_predict_simulate_consistent(fitted_plrnn, rotation):
    one = fitted_plrnn.predict(rotation[:5])
    for t in range(5):
        np.testing.assert_allclose(one[t], fitted_plrnn.simulate(rotation[t], 1)[0])
    sim = fitted_plrnn.simulate(rotation[0], 7)
    assert sim.shape == (7, 2)
    np.testing.assert_allclose(fitted_plrnn.predict_n_steps(rotation[:1], 7)[0], sim[-1])


def test_alrnn_symbolic_code_and_subregions(fitted_alrnn, rotation):
    codes = fitted_alrnn.symbolic_code(rotation)
    assert codes.shape == (len(rotation),)
    assert set(np.unique(codes)) <= {0, 1}
    z = fitted_alrnn.forced_latent_trajectory(rotation)
    np.testing.assert_array_equal(z[1:, :2], rotation[1:])  # observed units are the data
    np.testing.assert_array_equal(codes, (z[:, -1] > 0).astype(int))
    assert 1 <= len(fitted_alrnn.subregions_) <= 2
    assert sum(fitted_alrnn.subregion_counts_.values()) == fitted_alrnn.n_subregion_steps


def test_training_is_deterministic_given_random_state(rotation):
    kw = dict(n_hidden=5, n_epochs=2, batches_per_epoch=3, sequence_length=10, random_state=3)
    a = ShallowPLRNN(**kw).fit(rotation)
    b = ShallowPLRNN(**kw).fit(rotation)
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)
    for pa, pb in zip(a.model_.parameters(), b.model_.parameters(), strict=True):
        np.testing.assert_array_equal(pa.detach(), pb.detach())
    c = ShallowPLRNN(**{**kw, "random_state": 4}).fit(rotation)
    assert not np.array_equal(a.loss_history_, c.loss_history_)


def test_sparse_teacher_forcing_trains(rotation):
    m = ALRNN(n_latent=3, n_pwl=1, teacher_forcing="sparse", forcing_interval=5,
              **FAST).fit(rotation)
    assert m.loss_history_[-1] < m.loss_history_[0]
    assert np.all(m.alpha_history_ == 1.0)  # alpha is unused (and untouched) under STF


def test_list_of_trajectories_and_dt(rotation):
    m = ShallowPLRNN(n_hidden=4, n_epochs=1, batches_per_epoch=2, sequence_length=10,
                     random_state=0).fit([rotation[:300], rotation[300:]], dt=0.1)
    assert m.dt_ == 0.1 and m.n_features_in_ == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 1.5}, "alpha"),
        ({"teacher_forcing": "full"}, "teacher_forcing"),
        ({"n_hidden": 0}, "n_hidden"),
        ({"alpha_method": "guess"}, "alpha_method"),
        ({"n_latent": 1}, "latent dimension"),
        ({"sequence_length": 5000}, "sequence_length"),
    ],
)
def test_bad_parameters_raise(rotation, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ShallowPLRNN(n_epochs=1, batches_per_epoch=1, **kwargs).fit(rotation)


def test_alrnn_rejects_more_pwl_units_than_latent(rotation):
    with pytest.raises(ValueError, match="n_pwl"):
        ALRNN(n_latent=3, n_pwl=4, n_epochs=1).fit(rotation)


def test_pairs_rejected_and_cuda_without_gpu(rotation):
    with pytest.raises(ValueError, match="whole trajectories"):
        ShallowPLRNN(n_epochs=1).fit(rotation[:-1], rotation[1:])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            ShallowPLRNN(n_epochs=1, device="cuda").fit(rotation)


def test_unfitted_and_bad_simulate_arguments(fitted_plrnn, rotation):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ShallowPLRNN().simulate(rotation[0], 3)
    with pytest.raises(ValueError, match="n_steps"):
        fitted_plrnn.simulate(rotation[0], 0)
    with pytest.raises(ValueError, match="feature"):
        fitted_plrnn.predict(np.zeros((3, 5)))


def test_n_threads_is_restored_after_fit(rotation):
    torch.set_num_threads(2)
    try:
        m = ShallowPLRNN(n_hidden=3, n_epochs=1, batches_per_epoch=1, sequence_length=10,
                         n_threads=1, random_state=0).fit(rotation)
        assert torch.get_num_threads() == 2
        assert m.n_threads == 1
    finally:
        torch.set_num_threads(1)


def test_alrnn_defaults_follow_the_paper():
    # DurstewitzLab/ALRNN-DSR settings/lorenz63.json and the tutorial's use_best_model
    p = ALRNN().get_params()
    assert (p["n_latent"], p["n_pwl"], p["teacher_forcing"], p["forcing_interval"]) == (
        20, 2, "sparse", 16)
    assert (p["learning_rate"], p["final_learning_rate"], p["latent_regularization"]) == (
        1e-3, 1e-5, 0.0)
    assert (p["n_epochs"], p["batch_size"], p["sequence_length"]) == (2000, 16, 200)
    assert (p["checkpoint_interval"], p["subregion_threshold"]) == (25, 0.01)


def test_alrnn_subregions_use_the_occupancy_threshold(rotation):
    kw = dict(n_latent=4, n_pwl=2, n_epochs=2, batches_per_epoch=2, sequence_length=20,
              n_subregion_steps=300, random_state=0)
    every = ALRNN(subregion_threshold=0.0, **kw).fit(rotation)
    counts = every.subregion_counts_
    assert sorted(every.subregions_.tolist()) == sorted(counts)
    strict = ALRNN(subregion_threshold=0.5, **kw).fit(rotation)
    assert strict.subregion_counts_ == counts  # the same run, only the filter differs
    assert strict.subregions_.tolist() == [k for k, c in sorted(counts.items(),
                                                                key=lambda kc: -kc[1])
                                           if c > 0.5 * 300]


def test_alrnn_keeps_the_best_checkpoint(rotation):
    from koop.metrics import state_space_divergence

    kw = dict(n_latent=4, n_pwl=1, n_epochs=4, batches_per_epoch=3, sequence_length=20,
              learning_rate=5e-2, n_subregion_steps=400, random_state=1)
    seen = []
    m = ALRNN(checkpoint_interval=1, **kw).fit(
        rotation, callback=lambda e, model, h: seen.append(e))
    assert seen == [0, 1, 2, 3]  # the user's callback still runs every epoch
    np.testing.assert_array_equal(m.checkpoint_epochs_, [1, 2, 3, 4])
    assert m.best_epoch_ == m.checkpoint_epochs_[np.argmin(m.checkpoint_scores_)]
    gen = m.simulate(rotation[0], 400)
    assert state_space_divergence(rotation, gen, n_bins=30) == pytest.approx(
        m.checkpoint_scores_.min())
    final = ALRNN(checkpoint_interval=None, **kw).fit(rotation)
    assert final.best_epoch_ == 4 and final.checkpoint_scores_.size == 0
    np.testing.assert_array_equal(final.loss_history_, m.loss_history_)
    best = m.checkpoint_epochs_ == m.best_epoch_
    if m.best_epoch_ != 4:  # a selected earlier checkpoint differs from the final model
        assert not np.allclose(final.simulate(rotation[0], 5), m.simulate(rotation[0], 5))
    assert best.sum() == 1


def test_alrnn_checkpoints_stop_with_the_callback(rotation):
    m = ALRNN(n_latent=4, n_pwl=1, n_epochs=10, batches_per_epoch=2, sequence_length=20,
              checkpoint_interval=2, n_subregion_steps=100, random_state=0).fit(
        rotation, callback=lambda e, model, h: e == 4)
    assert len(m.loss_history_) == 5
    np.testing.assert_array_equal(m.checkpoint_epochs_, [2, 4])
    assert m.best_epoch_ in (2, 4, 5)
