"""Dictionaries against hand-computed values."""

import numpy as np
import pytest
from scipy.special import comb
from sklearn.base import clone
from sklearn.preprocessing import PolynomialFeatures

from koop.dictionaries import RBF, Concat, Custom, Identity, Polynomial, RandomFourier, TimeDelay


def test_polynomial_by_hand():
    X = np.array([[2.0, 3.0], [-1.0, 0.5]])
    out = Polynomial(degree=3).fit_transform(X)
    x, y = X[:, 0], X[:, 1]
    expected = np.column_stack([np.ones(2), x, y, x * x, x * y, y * y,
                                x**3, x * x * y, x * y * y, y**3])
    np.testing.assert_allclose(out, expected, rtol=1e-15)


@pytest.mark.parametrize(
    "degree, d, bias", [(1, 3, True), (4, 3, True), (5, 3, False), (3, 5, True)]
)
def test_polynomial_matches_sklearn_order_and_count(degree, d, bias):
    X = np.random.default_rng(0).normal(size=(7, d))
    ours = Polynomial(degree, include_bias=bias).fit(X)
    ref = PolynomialFeatures(degree, include_bias=bias).fit(X)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-13)
    assert ours.n_output_features_ == comb(d + degree, degree, exact=True) - (not bias)
    assert list(ours.get_feature_names_out()) == [
        n.replace(" ", " ") for n in ref.get_feature_names_out()
    ]


def test_rbf_gaussian_and_thinplate_by_hand():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 4.0]])
    d = RBF(n_centers=3, width=2.0, center_method="random", random_state=0).fit(X)
    c = d.centers_
    r2 = ((X[:, None, :] - c[None]) ** 2).sum(-1)
    np.testing.assert_allclose(d.transform(X), np.exp(-r2 / 8.0), rtol=1e-14)
    t = RBF(n_centers=3, kernel="thinplate", width=2.0, center_method="random",
            random_state=0).fit(X)
    r = np.sqrt(r2) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(r > 0, r**2 * np.log(r), 0.0)
    np.testing.assert_allclose(t.transform(X), expected, rtol=1e-14, atol=1e-300)
    # the thin-plate value at (3,4) from center (0,0): r = 5/2
    k = int(np.argmin(np.abs(c).sum(1)))
    assert t.transform(X[2:3])[0, k] == pytest.approx(6.25 * np.log(2.5), rel=1e-14)


def test_rbf_default_width_is_mean_distance_to_mean():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    d = RBF(n_centers=2, center_method="random", random_state=0).fit(X)
    assert d.width_ == pytest.approx(0.5)


def test_rbf_kmeans_centers_are_cluster_means():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.01, (50, 2)), rng.normal(5, 0.01, (50, 2))])
    c = RBF(n_centers=2, random_state=0).fit(X).centers_
    np.testing.assert_allclose(np.sort(c[:, 0]), [0, 5], atol=0.01)


def test_random_fourier_kernel_approximation_and_identity():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 2))
    d = RandomFourier(n_features=20000, bandwidth=1.5, random_state=0).fit(X)
    P = d.transform(X)
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1) / (2 * 1.5**2))
    np.testing.assert_allclose(P @ P.T, K, atol=0.03)
    # cos^2 + sin^2 = 1 row by row: ||psi(x)||^2 = 1
    np.testing.assert_allclose((P**2).sum(1), 1.0, rtol=1e-12)
    w = d.frequencies_
    np.testing.assert_allclose(P[:, 0], np.cos(X @ w[:, 0]) / np.sqrt(20000), rtol=1e-12)


def test_time_delay_rows_and_names():
    X = np.arange(12.0).reshape(6, 2)
    d = TimeDelay(n_delays=2, stride=2).fit(X)
    out = d.transform(X)
    assert d.n_lags == 4 and out.shape == (2, 6)
    np.testing.assert_array_equal(out[0], [8, 9, 4, 5, 0, 1])
    assert list(d.get_feature_names_out(["a", "b"])) == [
        "a(t)", "b(t)", "a(t-2)", "b(t-2)", "a(t-4)", "b(t-4)"]


def test_custom_and_concat():
    X = np.linspace(0, 1, 5)[:, None]
    d = Identity() + Custom(lambda Z: np.hstack([np.sin(Z), np.cos(Z)]), ["s", "c"])
    assert isinstance(d, Concat)
    out = d.fit_transform(X)
    np.testing.assert_allclose(out, np.hstack([X, np.sin(X), np.cos(X)]))
    assert list(d.get_feature_names_out()) == ["x0", "s", "c"]
    lagged = Identity() + TimeDelay(1)
    out = lagged.fit_transform(X)
    np.testing.assert_allclose(out, np.hstack([X[1:], X[1:], X[:-1]]))


def test_custom_bad_output_is_reported():
    with pytest.raises(ValueError, match="one row per sample"):
        Custom(lambda Z: Z[:1]).fit(np.ones((4, 1)))
    with pytest.raises(ValueError, match="NaN"):
        Custom(lambda Z: np.log(Z - 1)).fit(np.zeros((3, 1)))
    with pytest.raises(TypeError, match="callable"):
        Custom(3).fit(np.ones((3, 1)))


def test_nested_params_and_clone():
    from koop.estimators import EDMD

    est = EDMD(Polynomial(degree=2))
    assert est.get_params()["dictionary__degree"] == 2
    est.set_params(dictionary__degree=4)
    assert est.dictionary.degree == 4
    c = clone(est)
    assert c.dictionary is not est.dictionary and c.dictionary.degree == 4
