"""The streamed numba Gram build equals the materialised numpy reference.

Truth: ``backend="numpy"`` (Psi_X, Psi_Y built in full, G = Psi_X^T W Psi_X etc.),
checked here at rtol 1e-12 over every chunk boundary, several trajectories, weights,
explicit pairs, float32 and non-contiguous input; plus memory that does not grow with N.
"""

import tracemalloc

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from koop import systems
from koop.dictionaries import RBF, Custom, Identity, Polynomial, RandomFourier, TimeDelay
from koop.estimators import EDMD
from koop.gram import build_gram

RTOL = 1e-12


def assert_gram_close(got, ref, rtol=RTOL):
    for name in "GALC":
        a, b = getattr(got, name), getattr(ref, name)
        scale = np.abs(b).max()
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=name)
    assert got.n_samples == ref.n_samples
    assert got.weights_sum == pytest.approx(ref.weights_sum, rel=1e-14)


@pytest.fixture(scope="module")
def lorenz():
    return systems.lorenz63(400, random_state=0) / 10.0


DICTIONARIES = {
    "identity": Identity(),
    "polynomial": Polynomial(degree=3),
    "rbf": RBF(n_centers=12, width=1.0, center_method="random", random_state=0),
    "thinplate": RBF(n_centers=6, kernel="thinplate", center_method="random", random_state=0),
    "fourier": RandomFourier(n_features=7, bandwidth=1.0, random_state=0),
    "delay": TimeDelay(n_delays=2, stride=3),
    "concat": Polynomial(degree=2) + TimeDelay(n_delays=1, stride=2),
    "custom": Custom(lambda X: np.hstack([np.sin(X), X[:, :1] ** 2])),
}


@pytest.mark.parametrize("name", list(DICTIONARIES))
def test_matches_numpy_on_trajectories_with_and_without_weights(name, lorenz):
    dic = DICTIONARIES[name].fit(lorenz)
    trajs = [lorenz[:150], lorenz[150:153], lorenz[153:]]  # the middle one is very short
    n_pairs = sum(max(len(t) - 1 - dic.n_lags, 0) for t in trajs)
    w = np.random.default_rng(1).uniform(0.0, 2.0, n_pairs)
    for data, weights in [(lorenz, None), (trajs, None), (trajs, w)]:
        ref = build_gram(dic, data, weights=weights, backend="numpy")
        for chunk_size in (None, 1, 2, 37):
            got = build_gram(dic, data, weights=weights, chunk_size=chunk_size)
            assert got.backend == "numba"
            assert_gram_close(got, ref)
            np.testing.assert_array_equal(got.G, got.G.T)
            np.testing.assert_array_equal(got.L, got.L.T)


@pytest.mark.parametrize("threads", ["1", "3"])
@pytest.mark.parametrize("name", ["polynomial", "delay"])
def test_every_chunk_boundary(name, threads, monkeypatch):
    """Both parallel schemes (rows split, multithreaded BLAS; or, with BLAS on one thread,
    chunks dealt to 1 or 3 threads) give the reference at every chunk boundary."""
    monkeypatch.setenv("NUMBA_NUM_THREADS", threads)
    X = np.random.default_rng(2).normal(size=(14, 2))
    dic = DICTIONARIES[name].fit(X)
    for weights in (None, np.arange(1.0, 14.0 - dic.n_lags)):
        ref = build_gram(dic, X, weights=weights, backend="numpy")
        for chunk_size in range(1, 15):
            assert_gram_close(build_gram(dic, X, weights=weights, chunk_size=chunk_size), ref)
            with threadpool_limits(limits=1, user_api="blas"):
                got = build_gram(dic, X, weights=weights, chunk_size=chunk_size)
            assert_gram_close(got, ref)


def test_trajectories_never_pair_across_boundaries():
    dic = Identity().fit(np.zeros((2, 1)))
    a, b = np.array([[1.0], [2.0], [3.0]]), np.array([[5.0], [7.0]])
    got = build_gram(dic, [a, b], chunk_size=2)
    # pairs (1,2) (2,3) (5,7); a pair (3,5) would change every entry
    assert got.G[0, 0] == pytest.approx((1 + 4 + 25) / 3, rel=1e-15)
    assert got.A[0, 0] == pytest.approx((2 + 6 + 35) / 3, rel=1e-15)
    assert got.L[0, 0] == pytest.approx((4 + 9 + 49) / 3, rel=1e-15)


@pytest.mark.parametrize("name", ["polynomial", "rbf", "custom"])
def test_explicit_pairs_and_odd_inputs(name, lorenz):
    dic = DICTIONARIES[name].fit(lorenz)
    X, Y = lorenz[:-1], lorenz[1:]
    w = np.random.default_rng(3).uniform(size=X.shape[0])
    for weights in (None, w):
        ref = build_gram(dic, X, y=Y, weights=weights, backend="numpy")
        assert_gram_close(build_gram(dic, X, y=Y, weights=weights, chunk_size=50), ref)
    # float32, Fortran order and strided views are converted chunk by chunk
    ref = build_gram(dic, lorenz.astype(np.float32), backend="numpy")
    assert_gram_close(build_gram(dic, np.asfortranarray(lorenz.astype(np.float32))), ref)
    strided = np.repeat(lorenz, 2, axis=0)[::2]
    assert not strided.flags.c_contiguous
    ref = build_gram(dic, lorenz, backend="numpy")
    assert_gram_close(build_gram(dic, strided, chunk_size=33), ref)


def test_complex_custom_dictionary_falls_back_to_the_complex_path(lorenz):
    dic = Custom(lambda X: np.exp(1j * X)).fit(lorenz)
    got, ref = build_gram(dic, lorenz, chunk_size=64), build_gram(dic, lorenz, backend="numpy")
    assert np.iscomplexobj(got.G)
    assert_gram_close(got, ref)


def test_L_from_the_rank_one_correction_is_as_accurate_as_a_direct_product():
    """L = G - psi_0 psi_0^T + psi_N psi_N^T against L summed in extended precision."""
    X = systems.lorenz63(5001, random_state=1)
    dic = Polynomial(degree=5).fit(X)  # entries from 1 to ~1e13: a hard case for cancellation
    got = build_gram(dic, X, chunk_size=700)
    P = dic.transform(X)[1:].astype(np.longdouble)
    exact = np.einsum("ni,nj->ij", P, P) / (len(X) - 1)
    d = np.sqrt(np.diag(exact).astype(float))
    err = np.abs((got.L - exact).astype(float)) / np.outer(d, d)
    assert err.max() < 1e-14


def test_bitwise_reproducible(lorenz):
    dic = RBF(n_centers=40, width=1.0, center_method="random", random_state=0).fit(lorenz)
    a, b = build_gram(dic, lorenz, chunk_size=90), build_gram(dic, lorenz, chunk_size=90)
    with threadpool_limits(limits=1, user_api="blas"):  # chunks dealt to threads
        c, e = build_gram(dic, lorenz, chunk_size=90), build_gram(dic, lorenz, chunk_size=90)
    for name in "GALC":
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        np.testing.assert_array_equal(getattr(c, name), getattr(e, name))


def test_peak_memory_does_not_grow_with_the_number_of_samples():
    dic = Polynomial(degree=4)  # M = 35
    peaks = []
    for n in (20_000, 160_000):
        X = np.random.default_rng(0).normal(size=(n, 3))
        dic.fit(X[:100])
        tracemalloc.start()
        build_gram(dic, X, chunk_size=2048)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    psi_bytes = 160_000 * 35 * 8  # what materialising Psi would take
    assert peaks[1] < 1.2 * peaks[0] + 50_000
    assert peaks[1] < psi_bytes / 20


def test_edmd_eigenvalues_equal_the_numpy_path():
    """Standardised state: cond(G) ~ 4e5, so rounding-level differences in G move the
    eigenvalues by ~1e-12 (unscaled, cond(G) ~ 1e7 and they move by ~1e-9: that is the
    conditioning of the problem, equal for any two summation orders)."""
    X = systems.lorenz63(3001, random_state=2)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    dic = Polynomial(degree=3)
    fast = EDMD(dic).fit(X)
    ref = EDMD(dic, backend="numpy").fit(X)
    np.testing.assert_allclose(fast.eigenvalues_, ref.eigenvalues_, rtol=0, atol=1e-10)
