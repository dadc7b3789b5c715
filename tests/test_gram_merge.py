"""GramMatrices merge and scaling; the Gram of [psi(x), u] in one pass."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koop.dictionaries import RBF, Identity, Polynomial, TimeDelay
from koop.gram import GramMatrices, build_gram, build_gram_inputs

RELIABLE = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

RNG = np.random.default_rng(7)
X = RNG.normal(size=(120, 2))
POLY = Polynomial(degree=2).fit(X)


def _close(a, b, rtol=1e-12):
    for key in ("G", "A", "L", "C"):
        x, y = getattr(a, key), getattr(b, key)
        assert np.abs(x - y).max() <= rtol * max(np.abs(y).max(), 1e-300), key


@RELIABLE
@given(cuts=st.lists(st.integers(2, 117), min_size=1, max_size=4, unique=True))
def test_merged_shards_equal_one_build_on_the_union(cuts):
    # shards of one trajectory share their boundary sample, so their pairs are disjoint
    # and together are all pairs of the trajectory
    edges = [0, *sorted(cuts), X.shape[0] - 1]
    shards = [build_gram(POLY, X[a : b + 1]) for a, b in itertools.pairwise(edges)]
    merged = sum(shards)
    whole = build_gram(POLY, X)
    _close(merged, whole)
    assert merged.n_samples == whole.n_samples and merged.uniform and merged.weights_sum == 1.0


def test_explicit_weights_merge_as_concatenated_weights():
    w = RNG.uniform(0.1, 2.0, size=X.shape[0] - 1)
    a = build_gram(POLY, X[:61], weights=w[:60])
    b = build_gram(POLY, X[60:], weights=w[60:])
    whole = build_gram(POLY, X, weights=w)
    merged = a + b
    _close(merged, whole)
    assert not merged.uniform and np.isclose(merged.weights_sum, w.sum())


def test_merge_refuses_what_has_no_common_union():
    a = build_gram(POLY, X[:50])
    b = build_gram(POLY, X[50:], weights=np.ones(X.shape[0] - 51))
    with pytest.raises(ValueError, match="default weights"):
        a + b
    c = build_gram(Polynomial(degree=3).fit(X), X)
    with pytest.raises(ValueError, match="different sizes"):
        a + c
    # a uniform Gram read as sums is the plain sum of psi psi^* (unit weights)
    s = a.as_sums()
    np.testing.assert_allclose(s.G, a.G * a.n_samples, rtol=1e-15)
    assert s.weights_sum == a.n_samples and not s.uniform


def test_scaled_multiplies_every_weight():
    a = build_gram(POLY, X)
    s = a.scaled(0.25)
    np.testing.assert_array_equal(s.A, 0.25 * a.A)
    assert s.weights_sum == 0.25 and not s.uniform
    with pytest.raises(ValueError):
        a.scaled(-1.0)


def _reference_input_gram(dictionary, trajectories, inputs, lags=0):
    """Plain numpy: [Psi_X, U] over the pairs, Psi_Y, the states."""
    PX, PY, Us, Xs = [], [], [], []
    for x, u in zip(trajectories, inputs, strict=True):
        psi = dictionary.transform(x)
        PX.append(psi[:-1])
        PY.append(psi[1:])
        Us.append(u[lags : x.shape[0] - 1])
        Xs.append(x[lags:-1])
    PX, PY, Us, Xs = (np.concatenate(v) for v in (PX, PY, Us, Xs))
    Phi = np.hstack([PX, Us])
    n = Phi.shape[0]
    return Phi.T @ Phi / n, Phi.T @ PY / n, PY.T @ PY / n, Phi.T @ Xs / n


@pytest.mark.parametrize("dictionary", [Identity(), Polynomial(degree=2),
                                        RBF(5, random_state=0), TimeDelay(2)],
                         ids=["identity", "poly", "rbf", "delay"])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_input_gram_equals_the_numpy_reference(dictionary, backend):
    trajs = [RNG.normal(size=(40, 2)), RNG.normal(size=(30, 2))]
    inputs = [RNG.uniform(-1, 1, size=(39, 2)), RNG.uniform(-1, 1, size=(29, 2))]
    d = dictionary.fit(np.concatenate(trajs))
    gm = build_gram_inputs(d, trajs, u=inputs, backend=backend)
    padded = [np.vstack([u, u[-1:]]) for u in inputs]
    G, A, L, C = _reference_input_gram(d, trajs, padded, lags=d.n_lags)
    M = d.n_output_features_
    np.testing.assert_allclose(gm.G, G, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(gm.A[:, :M], A, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(gm.L[:M, :M], L, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(gm.C[:, :2], C, rtol=1e-12, atol=1e-13)
    assert gm.extras["n_inputs"] == 2 and gm.n_features == M + 2


def test_input_gram_of_snapshot_pairs():
    Xp, Yp = RNG.normal(size=(25, 2)), RNG.normal(size=(25, 2))
    u = RNG.normal(size=(25, 1))
    d = POLY
    gm = build_gram_inputs(d, Xp, u=u, y=Yp)
    Phi = np.hstack([d.transform(Xp), u])
    np.testing.assert_allclose(gm.G, Phi.T @ Phi / 25, rtol=1e-12)
    np.testing.assert_allclose(gm.A[:, :6], Phi.T @ d.transform(Yp) / 25, rtol=1e-12)


def test_input_grams_merge_like_state_grams():
    u = RNG.uniform(-1, 1, size=(X.shape[0], 1))
    whole = build_gram_inputs(POLY, X, u=u)
    merged = build_gram_inputs(POLY, X[:70], u=u[:70]) + build_gram_inputs(POLY, X[69:],
                                                                          u=u[69:])
    _close(merged, whole)
    assert merged.extras["n_inputs"] == 1
    other = build_gram_inputs(Identity().fit(X), X, u=np.hstack([u, u, u, u, u]))
    with pytest.raises(ValueError, match=r"different sizes|input column"):
        GramMatrices.__add__(whole, other)
