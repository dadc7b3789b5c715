"""Neural dictionary / EDMD-DL: learns the missing observable of the slow-manifold map."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from koop import systems  # noqa: E402
from koop.dictionaries import Polynomial  # noqa: E402
from koop.dictionaries.neural import NeuralDictionary  # noqa: E402
from koop.estimators import EDMD  # noqa: E402
from koop.estimators.neural import EDMDDL  # noqa: E402

MU, LAM = 0.9, 0.5


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def trajectories():
    rng = np.random.default_rng(0)
    return [systems.slow_manifold(20, mu=MU, lam=LAM, x0=rng.uniform(-1, 1, 2))
            for _ in range(50)]


@pytest.fixture(scope="module")
def edmd_dl(trajectories):
    return EDMDDL(n_trainable=4, hidden_layers=(32, 32), n_iterations=10, n_epochs=10,
                  batch_size=64, random_state=0).fit(trajectories)


def _distance_to(eigenvalues, target):
    return float(np.min(np.abs(eigenvalues - target)))


def test_edmd_dl_recovers_eigenvalues_that_linear_edmd_misses(edmd_dl, trajectories):
    # span{1, x, y} is not invariant (y' involves x^2): linear EDMD gets lambda wrong by
    # ~0.09 and has no mu^2. The learned observables approach x^2 (measured: 0.828, 0.485
    # after 10 iterations; 0.815, 0.502 after 30).
    lam = edmd_dl.eigenvalues_
    assert _distance_to(lam, 1.0) < 1e-8
    assert _distance_to(lam, MU) < 1e-6
    assert _distance_to(lam, MU**2) < 0.03
    assert _distance_to(lam, LAM) < 0.03
    linear = EDMD(Polynomial(degree=1)).fit(trajectories).eigenvalues_
    assert _distance_to(linear, LAM) > 0.05 and _distance_to(linear, MU**2) > 0.05


def test_training_loss_decreases(edmd_dl):
    losses = edmd_dl.dictionary_.loss_history_
    assert losses.shape == (10,)
    assert losses[-1] < losses[0] / 5
    assert np.all(np.diff(losses) < 0)


def test_dictionary_contract(edmd_dl, trajectories):
    psi = edmd_dl.dictionary_
    X = trajectories[0]
    out = psi.transform(X)
    assert out.shape == (20, 1 + 2 + 4) == (20, psi.n_output_features_)
    np.testing.assert_array_equal(out[:, 0], 1.0)
    np.testing.assert_array_equal(out[:, 1:3], X)
    assert list(psi.get_feature_names_out(["x", "y"])) == ["1", "x", "y", "nn0", "nn1",
                                                           "nn2", "nn3"]
    # the Gram matrices of the final solve are those of the learned dictionary
    from koop.gram import build_gram

    gram = build_gram(psi, trajectories, backend="numpy")
    np.testing.assert_allclose(gram.G, edmd_dl.gram_.G, rtol=1e-10, atol=1e-13)
    assert edmd_dl.n_parameters_ == psi.n_parameters_ + 7 * 7


def test_neural_dictionary_inside_edmd_is_deterministic(trajectories):
    kw = dict(n_trainable=2, hidden_layers=(8,), n_iterations=2, n_epochs=1, random_state=1)
    a = EDMD(NeuralDictionary(**kw)).fit(trajectories[0])
    b = EDMD(NeuralDictionary(**kw)).fit(trajectories[0])
    # equal up to BLAS rounding (results can depend on memory alignment at the 1e-16 level)
    np.testing.assert_allclose(a.eigenvalues_, b.eigenvalues_, rtol=1e-9, atol=1e-12)
    assert a.dictionary_.n_output_features_ == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_trainable": 0}, "n_trainable"), ({"activation": "sigmoid"}, "activation"),
     ({"learning_rate": -1.0}, "learning_rate"), ({"regularization": -1.0}, "regularization")],
)
def test_bad_parameters_raise(kwargs, match, trajectories):
    with pytest.raises(ValueError, match=match):
        NeuralDictionary(**kwargs).fit(trajectories[0])


def test_resdmd_residuals_certify_the_exact_eigenpairs(edmd_dl, trajectories):
    # 1 and x are exact eigenfunctions (lambda = 1, mu): residual ~ 0; the learned pairs
    # are approximate, so their residuals are positive but small after training
    from koop.estimators import ResDMD
    from koop.validation import residuals

    res = residuals(edmd_dl, trajectories)
    lam = edmd_dl.eigenvalues_
    for target in (1.0, MU):
        j = int(np.argmin(np.abs(lam - target)))
        assert res[j] < 1e-6
    j = int(np.argmin(np.abs(lam - MU**2)))
    assert res[j] < 0.1
    model = ResDMD(NeuralDictionary(n_trainable=2, hidden_layers=(8,), n_iterations=2,
                                    n_epochs=1, random_state=0)).fit(trajectories)
    assert np.all(np.isfinite(model.residuals_))
    j = int(np.argmin(np.abs(model.eigenvalues_ - MU)))
    assert model.residuals_[j] < 1e-6
