"""The fused polynomial Gram kernel equals psi-then-products, at every boundary.

Truth: the numpy twin (psi in full, then ``Psi^T W Psi``) and ``build_gram(...,
backend="numpy")``; errors are measured relative to the Cauchy-Schwarz scale of each
entry, :math:`\\sqrt{G_{ii}G_{jj}}` (:math:`\\sqrt{G_{ii}L_{jj}}` for A), at 1e-12.
"""

import numpy as np
import pytest

from koop import systems
from koop._kernels import poly_gram as pg
from koop._kernels.poly_gram import (
    moment_plan,
    moments_agree_on_sample,
    polynomial_gram,
    polynomial_gram_twin,
)
from koop.dictionaries import Polynomial
from koop.gram import build_gram

RTOL = 1e-12


def _scaled_error(got, ref, left_diag, right_diag):
    scale = np.sqrt(np.outer(np.abs(left_diag), np.abs(right_diag)))
    return float(np.max(np.abs(got - ref) / np.where(scale > 0, scale, 1.0)))


def assert_sums_close(got, ref, X_state_sq=None, rtol=RTOL):
    gd, ld = np.diag(ref.G), np.diag(ref.L)
    assert _scaled_error(got.G, ref.G, gd, gd) < rtol
    assert _scaled_error(got.L, ref.L, ld, ld) < rtol
    assert _scaled_error(got.A, ref.A, gd, ld) < rtol
    np.testing.assert_allclose(got.C, ref.C, rtol=rtol, atol=rtol * np.abs(ref.C).max())
    assert got.n_pairs == ref.n_pairs
    np.testing.assert_array_equal(got.G, got.G.T)
    np.testing.assert_array_equal(got.L, got.L.T)


def _exponents(d, p, include_bias=True):
    return Polynomial(degree=p, include_bias=include_bias).fit(np.zeros((2, d))).powers_


def _cases(X, rng):
    """(data, weights, successors): one trajectory, several (lengths 1 and 2 among them),
    weights, explicit pairs with and without weights."""
    n = X.shape[0]
    trajs = [X[: n // 2], X[n // 2 : n // 2 + 1], X[n // 2 + 1 : n // 2 + 3], X[n // 2 + 3 :]]
    n_traj_pairs = sum(max(len(t) - 1, 0) for t in trajs)
    w = rng.uniform(0.0, 2.0, n_traj_pairs)
    h = n // 2
    wp = rng.uniform(0.0, 2.0, h)
    return [(X, None, None), (trajs, None, None), (trajs, w, None),
            ([X[:h]], None, [X[h : 2 * h]]), ([X[:h]], wp, [X[h : 2 * h]])]


@pytest.mark.parametrize("d,p", [(1, 1), (1, 6), (2, 3), (2, 6), (3, 5), (4, 2), (5, 1), (5, 3)])
@pytest.mark.parametrize("method", ["moments", "products"])
def test_equals_the_twin_for_every_kind_of_data(d, p, method):
    rng = np.random.default_rng(d * 10 + p)
    X = rng.normal(size=(301, d))
    E = _exponents(d, p)
    for data, w, succ in _cases(X, rng):
        got = polynomial_gram(data, E, w, successors=succ, method=method, chunk_size=53)
        assert got.method == method
        assert_sums_close(got, polynomial_gram_twin(data, E, w, succ))


def test_degree_six_in_five_variables_and_no_bias():
    """M = 462, 6188 distinct sums; a dictionary without the constant (C's sums then need
    the state rows the dictionary lacks as helpers, here it has them; degree-2-only
    exponents exercise the helpers)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5)) * 0.5
    E = _exponents(5, 6)
    assert moment_plan(E).n_moments == 6188
    assert_sums_close(polynomial_gram(X, E, method="moments"), polynomial_gram_twin(X, E))
    E2 = _exponents(3, 3, include_bias=False)
    X3 = rng.normal(size=(200, 3))
    assert_sums_close(polynomial_gram(X3, E2), polynomial_gram_twin(X3, E2))
    only_squares = np.array([[2, 0], [0, 2], [1, 1]])  # no constant, no state rows
    X2 = rng.normal(size=(90, 2))
    assert_sums_close(polynomial_gram(X2, only_squares, method="moments"),
                      polynomial_gram_twin(X2, only_squares))


def test_every_block_and_chunk_boundary():
    """Pairs counts around the 256-sample block, chunk sizes 1, 2 and around it."""
    rng = np.random.default_rng(1)
    E = _exponents(2, 3)
    for n_pairs in (1, 2, 255, 256, 257, 513):
        X = rng.normal(size=(n_pairs + 1, 2))
        w = rng.uniform(size=n_pairs)
        ref, ref_w = polynomial_gram_twin(X, E), polynomial_gram_twin(X, E, w)
        for chunk in (1, 2, 255, 256, 257, None):
            if n_pairs > 300 and chunk in (1, 2):
                continue
            assert_sums_close(polynomial_gram(X, E, chunk_size=chunk), ref)
            assert_sums_close(polynomial_gram(X, E, w, chunk_size=chunk), ref_w)


@pytest.mark.parametrize("dic", [Polynomial(degree=5), Polynomial(degree=2, include_bias=False)])
def test_equals_build_gram_on_lorenz(dic):
    """Against koop's reference path on the benchmark's system (standardised state: the
    well-conditioned case), trajectories and weights."""
    X = systems.lorenz63(3001, dt=0.01, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    dic.fit(X)
    w = np.random.default_rng(2).uniform(0.5, 1.5, 2999)
    for data, weights in [(X, None), ([X[:1500], X[1500:]], w)]:
        ref = build_gram(dic, data, weights=weights, backend="numpy")
        got = polynomial_gram(data if isinstance(data, list) else [data], dic.powers_,
                              weights, chunk_size=700)
        n = ref.n_samples
        norm = 1.0 / n if weights is None else 1.0
        gd, ld = np.diag(ref.G), np.diag(ref.L)
        assert _scaled_error(got.G * norm, ref.G, gd, gd) < RTOL
        assert _scaled_error(got.L * norm, ref.L, ld, ld) < RTOL
        assert _scaled_error(got.A * norm, ref.A, gd, ld) < RTOL
        np.testing.assert_allclose(got.C * norm, ref.C, rtol=RTOL,
                                   atol=RTOL * np.abs(ref.C).max())


@pytest.mark.parametrize("method", ["moments", "products"])
def test_bitwise_the_same_for_any_thread_count(method, monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 3))
    E = _exponents(3, 4)
    w = rng.uniform(size=2999)
    results = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("NUMBA_NUM_THREADS", threads)
        results.append([polynomial_gram(X, E, weights, method=method, chunk_size=311)
                        for weights in (None, w)])
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            for name in "GALC":
                np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_moments_keep_the_digits_of_the_products_far_from_the_origin():
    """The conditioning claim of the module: each distinct sum is accumulated from one of
    the direct products, so data 10 standard deviations off the origin at degree 6
    (cond(G) ~ 1e16 after diagonal scaling) lose no more in the moments than in the
    products; both against G summed in 80-bit precision."""
    rng = np.random.default_rng(4)
    X = 10.0 + rng.normal(size=(4001, 3))
    E = _exponents(3, 6)
    plan = moment_plan(E)
    ok, worst = moments_agree_on_sample(plan, X[:-1])
    assert ok and worst < 1e-14
    P = np.prod(X[:-1, None, :].astype(np.longdouble) ** E[None], axis=2)
    exact = np.einsum("ni,nj->ij", P, P)
    d = np.sqrt(np.diag(exact).astype(float))
    scale = np.outer(d, d)

    def err(G):
        return float(np.max(np.abs((G - exact).astype(float)) / scale))

    e_mom = err(polynomial_gram(X, plan, method="moments").G)
    e_prod = err(polynomial_gram(X, plan, method="products").G)
    assert e_mom < 1e-14 and e_prod < 1e-14
    assert e_mom < 10 * e_prod


def test_auto_falls_back_to_the_products_when_the_sample_disagrees(monkeypatch):
    """Both sides of the rule: agreement on the sample keeps the moments; disagreement
    (forced by a zero tolerance: any rounding difference disagrees) or a non-finite
    sample takes the direct products, bitwise the same as asking for them."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2000, 3))
    E = _exponents(3, 4)
    plan = moment_plan(E)
    assert polynomial_gram(X, plan).method == "moments"
    ok, worst = moments_agree_on_sample(plan, X)
    assert ok and 0.0 < worst < 1e-14
    assert not moments_agree_on_sample(plan, X, rtol=0.0)[0]
    monkeypatch.setattr(pg, "_SAMPLE_RTOL", 0.0)
    got = polynomial_gram(X, plan)
    assert got.method == "products"
    ref = polynomial_gram(X, plan, method="products")
    for name in "GALC":
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))
    monkeypatch.undo()
    bad = X.copy()
    bad[0, 0] = np.inf
    assert moments_agree_on_sample(plan, bad) == (False, np.inf)


def test_cheaper_rule_counts_distinct_sums_against_products():
    assert moment_plan(_exponents(3, 5)).moments_are_faster  # 286 sums against 1596
    assert not moment_plan(_exponents(4, 1)).moments_are_faster  # 15 against 15
    X = np.random.default_rng(6).normal(size=(50, 4))
    assert polynomial_gram(X, _exponents(4, 1)).method == "products"


def test_memory_does_not_grow_with_the_samples():
    import tracemalloc

    E = _exponents(3, 4)  # M = 35
    peaks = []
    for n in (20_000, 160_000):
        X = np.random.default_rng(0).normal(size=(n, 3))
        polynomial_gram(X[:1000], E)
        tracemalloc.start()
        polynomial_gram(X, E, chunk_size=2048)  # several chunks, every slot busy, both N
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.2 * peaks[0] + 50_000
    assert peaks[1] < 160_000 * 35 * 8 / 20  # far below psi in full


@pytest.mark.parametrize("bad,match", [
    (dict(exponents=np.array([1, 2])), "2-D"),
    (dict(exponents=np.array([[0.5, 1.0]])), "non-negative integers"),
    (dict(exponents=np.array([[-1, 0]])), "non-negative integers"),
    (dict(method="fast"), "method"),
    (dict(chunk_size=0), "chunk_size"),
    (dict(weights=np.ones(3)), "one value per pair"),
    (dict(trajectories=np.zeros((5, 3))), "3 columns|2 columns"),
    (dict(trajectories=np.zeros((1, 2))), "no snapshot pairs"),
    (dict(successors=[np.zeros((4, 2))]), "row by row"),
])
def test_bad_input_is_refused_with_a_clear_message(bad, match):
    kw = dict(trajectories=np.zeros((5, 2)), exponents=np.array([[0, 0], [1, 0], [0, 1]]))
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        polynomial_gram(kw.pop("trajectories"), kw.pop("exponents"), **kw)


def test_thousands_of_monomials_take_the_plain_representatives(monkeypatch):
    """Above _COVER_PAIRS row pairs the greedy cover is skipped (its pair table would
    grow as M^2); the sums are then the first pair of each, still exact."""
    monkeypatch.setattr(pg, "_COVER_PAIRS", 0)
    pg._cached_plan.cache_clear()
    rng = np.random.default_rng(7)
    try:
        for E, X in [(_exponents(3, 4), rng.normal(size=(400, 3))),
                     (np.array([[2, 0], [0, 2], [1, 1]]), rng.normal(size=(300, 2)))]:
            w = rng.uniform(size=X.shape[0] - 1)
            assert_sums_close(polynomial_gram(X, E, w, method="moments"),
                              polynomial_gram_twin(X, E, w))
    finally:
        pg._cached_plan.cache_clear()
