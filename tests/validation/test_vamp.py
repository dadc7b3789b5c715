"""VAMP scores against the exact OU singular values; the scorer in GridSearchCV."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV

from koop import systems
from koop.dictionaries import RBF, Polynomial
from koop.estimators import EDMD, RRR, KernelRRR
from koop.model_selection import TrajectoryKFold, split_blocks
from koop.validation import make_vamp_scorer, vamp_score, vamp_scorer

DT = 0.5


@pytest.fixture(scope="module")
def ou():
    return systems.ornstein_uhlenbeck(60_000, dt=DT, random_state=0)


def test_vamp2_of_an_invariant_subspace_is_the_sum_of_squared_eigenvalues(ou):
    # OU is reversible and polynomials of degree <= p are invariant: the singular values
    # of K on them are exp(-k dt), k = 0..p, exactly
    for degree in (1, 2, 3):
        model = EDMD(Polynomial(degree=degree)).fit(ou)
        exact = np.sum(np.exp(-2 * DT * np.arange(degree + 1)))
        assert abs(vamp_score(model) - exact) < 0.03
        exact1 = np.sum(np.exp(-DT * np.arange(degree + 1)))
        assert abs(vamp_score(model, r=1) - exact1) < 0.03


def test_vamp_on_held_out_data_equals_a_plain_numpy_computation(ou):
    model = RRR(Polynomial(degree=3), rank=3).fit(ou[:30_000])
    test = ou[30_000:]
    psi = model.dictionary_.transform(test) @ model.basis_
    f0, f1 = psi[:-1], psi[1:]
    n = len(f0)
    C00, C01, C11 = f0.T @ f0 / n, f0.T @ f1 / n, f1.T @ f1 / n

    def isqrt(S):
        s, V = np.linalg.eigh(S)
        return V @ np.diag(s**-0.5) @ V.T

    ref = np.sum(np.linalg.svd(isqrt(C00) @ C01 @ isqrt(C11), compute_uv=False) ** 2)
    assert abs(vamp_score(model, test) - ref) < 1e-10
    assert abs(vamp_scorer(model, test) - ref) < 1e-10
    assert make_vamp_scorer(2)(model, test) == vamp_score(model, test)


def test_cross_validated_vamp_picks_a_width_that_generalises(ou):
    blocks = split_blocks(ou[:20_000], 5, gap=10)
    search = GridSearchCV(KernelRRR(n_components=60, rank=3, random_state=0),
                          {"width": [0.02, 0.5]}, scoring=vamp_scorer,
                          cv=TrajectoryKFold(5))
    search.fit(blocks)
    # a width far below the sample spacing fits noise: its subspace scores lower on
    # the held-out blocks
    assert search.best_params_["width"] == 0.5
    assert search.best_score_ > 1 + np.exp(-1.0) - 0.1


def test_cross_validated_vamp_grows_with_rank_up_to_the_true_processes(ou):
    blocks = split_blocks(ou[:20_000], 4)
    scores = []
    for rank in (1, 2, 3):
        search = GridSearchCV(RRR(RBF(30, width=0.8, random_state=0), rank=rank,
                                  regularization=1e-8), {"rank": [rank]},
                              scoring=vamp_scorer, cv=TrajectoryKFold(4))
        scores.append(search.fit(blocks).best_score_)
    assert scores[0] < scores[1] < scores[2]
    np.testing.assert_allclose(scores, np.cumsum(np.exp(-2 * DT * np.arange(3))), atol=0.06)


def test_scorer_on_a_model_without_a_and_l_is_refused(ou):
    lr = LinearRegression().fit(ou[:-1], ou[1:])
    with pytest.raises(TypeError, match="EDMD-family"):
        vamp_score(lr, ou)
    model = EDMD(Polynomial(degree=2)).fit(ou[:1000])
    del model.gram_
    with pytest.raises(TypeError, match="A and L"):
        vamp_score(model)
    assert vamp_score(model, ou[:1000]) > 1.0  # with data it builds its own G, A, L
    with pytest.raises(ValueError, match="positive"):
        vamp_score(model, ou, r=0)
