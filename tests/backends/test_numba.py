"""The numba backend's one dispatch rule: Polynomial dictionaries to the fused kernel.

Truth: the streamed path (psi in a buffer, dsyrk + dgemm; itself tested against the
numpy reference in tests/test_gram.py) on the same data, to 1e-12 relative to the
Cauchy-Schwarz scale of each entry (:math:`\\sqrt{G_{ii}G_{jj}}`, :math:`\\sqrt{G_{ii}
L_{jj}}` for A), and EDMD's eigenvalues from the numpy path.
"""

import numpy as np
import pytest

import koop._backends.numba_backend as nb
from koop import systems
from koop._backends.plan import GramPlan
from koop._kernels import poly_gram as pg
from koop.data import as_trajectories
from koop.dictionaries import RBF, Identity, Polynomial, TimeDelay
from koop.estimators import EDMD
from koop.gram import build_gram

RTOL = 1e-12


def _plan(dic, X, **kw):
    return GramPlan.build(dic, as_trajectories(X, kw.pop("y", None)), **kw)


def _scaled(got, ref, left, right):
    scale = np.sqrt(np.outer(np.abs(left), np.abs(right)))
    return float(np.max(np.abs(got - ref) / np.where(scale > 0, scale, 1.0)))


@pytest.fixture(scope="module")
def lorenz():
    X = systems.lorenz63(2001, random_state=0)
    return (X - X.mean(axis=0)) / X.std(axis=0)


@pytest.fixture
def calls(monkeypatch):
    """Count the builds that went through the fused kernel."""
    seen = []
    real = nb._fused_sums

    def spy(plan, moments, progress):
        seen.append(moments)
        return real(plan, moments, progress)

    monkeypatch.setattr(nb, "_fused_sums", spy)
    return seen


@pytest.mark.parametrize("d,p,bias", [(1, 3, True), (2, 4, False), (3, 5, True), (4, 2, True)])
def test_exponents_from_the_kernel_spec_are_the_dictionarys_powers(d, p, bias):
    dic = Polynomial(degree=p, include_bias=bias).fit(np.zeros((2, d)))
    spec = dic.kernel_spec()[1]
    np.testing.assert_array_equal(nb.polynomial_exponents(spec["parent"], spec["var"], d),
                                  dic.powers_)


def test_the_rule_sends_polynomials_whose_moments_are_cheaper_and_nothing_else():
    X = np.random.default_rng(0).normal(size=(50, 3))
    fused = nb.fused_polynomial_plan(_plan(Polynomial(degree=3).fit(X), X))
    assert isinstance(fused, pg.MomentPlan)
    assert fused.n_outputs == 20 and fused.n_moments == 84  # 1.5 * 84 < 20 * 21 / 2
    # degree 1 in 3 variables: 10 distinct sums, 10 products: the products stay
    assert nb.fused_polynomial_plan(_plan(Polynomial(degree=1).fit(X), X)) is None
    for other in (Identity(), RBF(5, center_method="random", random_state=0),
                  TimeDelay(n_delays=2), Polynomial(degree=2) + TimeDelay(n_delays=1)):
        assert nb.fused_polynomial_plan(_plan(other.fit(X), X)) is None
    # explicit pairs and weights qualify too
    w = np.ones(49)
    assert nb.fused_polynomial_plan(_plan(Polynomial(3).fit(X), X[:-1], y=X[1:], weights=w))


def _streamed(monkeypatch, *args, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(nb, "fused_polynomial_plan", lambda plan: None)
        return build_gram(*args, **kwargs)


@pytest.mark.parametrize("dic", [Polynomial(degree=5), Polynomial(degree=3, include_bias=False)])
def test_fused_build_equals_the_streamed_path(dic, lorenz, calls, monkeypatch):
    dic.fit(lorenz)
    trajs = [lorenz[:900], lorenz[900:902], lorenz[902:]]
    n_pairs = sum(len(t) - 1 for t in trajs)
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 1.5, n_pairs)
    wp = rng.uniform(0.5, 1.5, 1000)
    cases = [((lorenz,), {}), ((trajs,), {"weights": w}), ((trajs,), {"chunk_size": 77}),
             ((lorenz[:1000],), {"y": lorenz[1:1001]}),
             ((lorenz[:1000],), {"y": lorenz[1:1001], "weights": wp})]
    for args, kw in cases:
        got = build_gram(dic, *args, **kw)
        ref = _streamed(monkeypatch, dic, *args, **kw)
        gd, ld = np.diag(ref.G), np.diag(ref.L)
        assert _scaled(got.G, ref.G, gd, gd) < RTOL
        assert _scaled(got.L, ref.L, ld, ld) < RTOL
        assert _scaled(got.A, ref.A, gd, ld) < RTOL
        np.testing.assert_allclose(got.C, ref.C, rtol=RTOL, atol=RTOL * np.abs(ref.C).max())
        assert (got.n_samples, got.weights_sum, got.backend) == (
            ref.n_samples, ref.weights_sum, "numba")
        np.testing.assert_array_equal(got.G, got.G.T)
    assert len(calls) == len(cases)


def test_the_sample_check_falls_back_to_the_products(lorenz, calls, monkeypatch):
    """A zero tolerance makes the moments disagree on the sample: the kernel then takes
    the products on the same blocks, and build_gram still equals the streamed path."""
    dic = Polynomial(degree=4).fit(lorenz)
    ref = _streamed(monkeypatch, dic, lorenz)
    monkeypatch.setattr(pg, "_SAMPLE_RTOL", 0.0)
    methods = []
    real = pg.polynomial_gram
    monkeypatch.setattr(nb, "polynomial_gram",
                        lambda *a, **k: methods.append(real(*a, **k)) or methods[-1])
    got = build_gram(dic, lorenz)
    assert [s.method for s in methods] == ["products"] and len(calls) == 1
    for name in "GALC":
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=RTOL,
                                   atol=RTOL * np.abs(getattr(ref, name)).max(), err_msg=name)


def test_edmd_on_the_fused_path_has_the_numpy_eigenvalues(lorenz, calls):
    """Tolerance as tests/test_gram.py's test_edmd_eigenvalues_equal_the_numpy_path
    (standardised state, cond(G) ~ 4e5: rounding moves the eigenvalues by ~1e-12)."""
    dic = Polynomial(degree=3)
    fast = EDMD(dic).fit(lorenz)
    ref = EDMD(dic, backend="numpy").fit(lorenz)
    assert len(calls) == 1
    np.testing.assert_allclose(fast.eigenvalues_, ref.eigenvalues_, rtol=0, atol=1e-10)


# -- the streamed path's chunk size -------------------------------------------------------
def test_the_default_chunk_is_cache_sized():
    from koop._backends.plan import default_chunk_size, gram_chunk_size

    assert gram_chunk_size(500) == 262  # 1 MiB of psi: in a core's cache when BLAS reads it
    assert gram_chunk_size(500) * 500 * 8 <= 2**20 < default_chunk_size(500) * 500 * 8
    assert gram_chunk_size(5000) == 256  # never fewer rows than BLAS needs for its rate
    assert gram_chunk_size(5000, n_lags=1000) == 2002  # a chunk holds its delay window


def test_the_default_chunk_changes_only_rounding(lorenz):
    """The default is the cache-sized chunk; the old 16 MiB chunk agrees to rounding."""
    from koop._backends.plan import default_chunk_size, gram_chunk_size

    X = np.vstack([lorenz] * 4)  # 8004 samples: 31 chunks of 262 rows, 1 of 16 MiB
    rbf = RBF(60, center_method="random", random_state=0).fit(X)
    n_out = rbf.n_output_features_
    new = build_gram(rbf, X)
    explicit = build_gram(rbf, X, chunk_size=gram_chunk_size(n_out))
    old = build_gram(rbf, X, chunk_size=default_chunk_size(n_out))
    assert gram_chunk_size(n_out) < X.shape[0] < default_chunk_size(n_out)
    for k in "GALC":
        np.testing.assert_array_equal(getattr(new, k), getattr(explicit, k))
    assert _scaled(new.G, old.G, np.diag(old.G), np.diag(old.G)) < RTOL
    assert _scaled(new.A, old.A, np.diag(old.G), np.diag(old.L)) < RTOL
    assert _scaled(new.L, old.L, np.diag(old.L), np.diag(old.L)) < RTOL
    np.testing.assert_allclose(new.C, old.C, rtol=0, atol=RTOL * np.abs(old.C).max())
