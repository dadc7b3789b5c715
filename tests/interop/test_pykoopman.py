"""koop.interop.pykoopman: pykoopman observables as koop dictionaries (and back).

pykoopman itself cannot be installed next to koop's scikit-learn, so the adapters are
tested against stand-ins that mirror its observable API (the same attribute names and
the same column conventions); ``test_real_pykoopman`` runs where pykoopman is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import PolynomialFeatures

from koop import io, systems
from koop.dictionaries import Identity, Polynomial, TimeDelay
from koop.estimators import EDMD
from koop.interop import KoopObservable, PykoopmanObservable

pytestmark = pytest.mark.filterwarnings("ignore::koop.exceptions.RankDeficiencyWarning")


class PkPolynomial(TransformerMixin, BaseEstimator):
    """Mirrors pykoopman.observables.Polynomial (monomials via sklearn, bias first)."""

    def __init__(self, degree=2, include_bias=True):
        self.degree = degree
        self.include_bias = include_bias

    def fit(self, x, y=None):
        self.poly_ = PolynomialFeatures(self.degree, include_bias=self.include_bias).fit(x)
        self.n_input_features_ = x.shape[1]
        self.n_output_features_ = self.poly_.n_output_features_
        self.n_consumed_samples = 0
        self.measurement_matrix_ = np.zeros((x.shape[1], self.n_output_features_))
        start = 1 if self.include_bias else 0
        self.measurement_matrix_[:, start:start + x.shape[1]] = np.eye(x.shape[1])
        return self

    def transform(self, x):
        return self.poly_.transform(x)

    def get_feature_names(self, input_features=None):
        return list(self.poly_.get_feature_names_out(input_features))


class PkTimeDelay(TransformerMixin, BaseEstimator):
    """Mirrors pykoopman.observables.TimeDelay: [x(t), x(t-delay), ...], a property
    n_consumed_samples = delay * n_delays."""

    def __init__(self, delay=1, n_delays=2):
        self.delay = delay
        self.n_delays = n_delays

    @property
    def n_consumed_samples(self):
        return self.delay * self.n_delays

    def fit(self, x, y=None):
        self.n_input_features_ = x.shape[1]
        self.n_output_features_ = x.shape[1] * (1 + self.n_delays)
        self.measurement_matrix_ = np.zeros((x.shape[1], self.n_output_features_))
        self.measurement_matrix_[:, : x.shape[1]] = np.eye(x.shape[1])
        return self

    def transform(self, x):
        c = self.n_consumed_samples
        n = x.shape[0] - c
        return np.hstack([x[c - k * self.delay: c - k * self.delay + n]
                          for k in range(self.n_delays + 1)])

    def get_feature_names(self, input_features=None):
        names = input_features or [f"x{i}" for i in range(self.n_input_features_)]
        return [f"{n}(t-{k * self.delay})" for k in range(self.n_delays + 1) for n in names]


@pytest.fixture(scope="module")
def X():
    return systems.slow_manifold(300, mu=0.9, lam=0.5, x0=[1.0, 0.7])


def test_polynomial_observable_gives_koops_exact_spectrum(X):
    ours = EDMD(Polynomial(degree=2)).fit(X)
    theirs = EDMD(PykoopmanObservable(PkPolynomial(degree=2))).fit(X)
    # same span, so the same Koopman matrix up to a change of basis: equal spectra
    np.testing.assert_allclose(np.sort_complex(theirs.eigenvalues_),
                               np.sort_complex(ours.eigenvalues_), atol=1e-9)
    for exact in (1.0, 0.9, 0.81, 0.5):
        assert np.min(np.abs(theirs.eigenvalues_ - exact)) < 1e-9
    np.testing.assert_allclose(theirs.predict(X[:20]), ours.predict(X[:20]), atol=1e-10)
    d = theirs.dictionary_
    assert d.get_feature_names_out(["x", "y"]).tolist() == [
        "1", "x", "y", "x^2", "x y", "y^2"]
    assert d.measurement_matrix_.shape == (2, 6)


def test_time_delay_observable_is_a_lagged_dictionary():
    x = np.sin(0.3 * np.arange(400.0)) + 0.5 * np.cos(0.71 * np.arange(400.0))
    ours = EDMD(TimeDelay(n_delays=4)).fit(x)
    theirs = EDMD(PykoopmanObservable(PkTimeDelay(delay=1, n_delays=4))).fit(x)
    assert theirs.n_lags_ == 4
    np.testing.assert_allclose(np.sort_complex(theirs.eigenvalues_),
                               np.sort_complex(ours.eigenvalues_), atol=1e-9)
    # the signal is a sum of two sinusoids: eigenvalues e^{+-0.3i}, e^{+-0.71i}
    for w in (0.3, 0.71):
        assert np.min(np.abs(theirs.eigenvalues_ - np.exp(1j * w))) < 1e-8
    np.testing.assert_allclose(theirs.simulate(x[:5], 30), ours.simulate(x[:5], 30),
                               atol=1e-8)


def test_original_observable_is_left_unfitted(X):
    obs = PkPolynomial(degree=2)
    EDMD(PykoopmanObservable(obs)).fit(X)
    assert not hasattr(obs, "poly_")


def test_bad_observable_and_save_refused(X, tmp_path):
    with pytest.raises(TypeError, match="observable API"):
        PykoopmanObservable(object()).fit(X)
    model = EDMD(PykoopmanObservable(PkPolynomial(degree=1))).fit(X)
    with pytest.raises(TypeError, match="register"):
        io.save(model, tmp_path / "m.npz")


def test_koop_dictionary_with_pykoopman_api(X):
    obs = KoopObservable(Identity() + Polynomial(degree=2, include_bias=False)).fit(X)
    Psi = obs.transform(X)
    assert Psi.shape == (300, obs.n_output_features_) and obs.n_consumed_samples == 0
    np.testing.assert_allclose(obs.inverse(Psi), X, atol=1e-12)
    assert obs.get_feature_names(["x", "y"])[:2] == ["x", "y"]
    # and back again: a koop dictionary through both adapters is itself
    back = EDMD(PykoopmanObservable(KoopObservable(Polynomial(degree=2)))).fit(X)
    np.testing.assert_allclose(np.sort_complex(back.eigenvalues_),
                               np.sort_complex(EDMD(Polynomial(degree=2)).fit(X).eigenvalues_),
                               atol=1e-10)
