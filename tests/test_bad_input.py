"""Catalogue of bad input: every case raises a clear ValueError/TypeError."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from koop.dictionaries import RBF, Identity, Polynomial, TimeDelay
from koop.estimators import DMD, EDMD
from koop.gram import build_gram

GOOD = np.random.default_rng(0).normal(size=(20, 2))


def _nan():
    X = GOOD.copy()
    X[3, 1] = np.nan
    return X


def _inf():
    X = GOOD.copy()
    X[0, 0] = np.inf
    return X


FIT_CASES = [
    ("nan", lambda: (_nan(), None), ValueError, "NaN or infinite"),
    ("inf", lambda: (_inf(), None), ValueError, "NaN or infinite"),
    ("one sample", lambda: (GOOD[:1], None), ValueError, "snapshot pair"),
    ("X/y row mismatch", lambda: (GOOD, GOOD[:-1]), ValueError, "same shape"),
    ("empty list", lambda: ([], None), ValueError, "empty list"),
    ("feature mismatch", lambda: ([GOOD, GOOD[:, :1]], None), ValueError, "share their number"),
    ("non numeric", lambda: (np.array([["a", "b"], ["c", "d"]]), None), TypeError, "numbers"),
    ("3-D", lambda: (np.zeros((3, 4, 2)), None), ValueError, "2-D"),
    ("None", lambda: (None, None), TypeError, "None"),
    ("ragged", lambda: ([[1.0, 2.0], [3.0]], None), (TypeError, ValueError), ""),
    ("string", lambda: ("data.csv", None), TypeError, "string"),
    ("complex", lambda: (GOOD + 1j, None), TypeError, "complex"),
]


@pytest.mark.parametrize("estimator", [EDMD(Polynomial(2)), DMD()], ids=["EDMD", "DMD"])
@pytest.mark.parametrize("case", FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_fit_rejects(estimator, case):
    name, make, exc, msg = case
    X, y = make()
    if name == "complex" and isinstance(estimator, DMD):  # complex snapshots are native
        assert estimator.fit(X, y).eigenvalues_.dtype == np.complex128
        return
    with pytest.raises(exc, match=msg):
        estimator.fit(X, y)


@pytest.mark.parametrize("estimator", [EDMD(Polynomial(2)), DMD()], ids=["EDMD", "DMD"])
def test_unfitted_model_raises_not_fitted(estimator):
    for call in (lambda: estimator.predict(GOOD), lambda: estimator.simulate(GOOD[0], 3),
                 lambda: estimator.eigenfunctions(GOOD), lambda: estimator.score(GOOD)):
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize("estimator", [EDMD(Polynomial(2)), DMD()], ids=["EDMD", "DMD"])
def test_wrong_feature_count_after_fit(estimator):
    estimator.fit(GOOD)
    with pytest.raises(ValueError, match="fitted with 2"):
        estimator.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="fitted with 2"):
        estimator.simulate(np.zeros(3), 4)
    with pytest.raises(ValueError, match="NaN"):
        estimator.predict(_nan())
    with pytest.raises(TypeError, match="n_steps"):
        estimator.simulate(GOOD[0], 2.5)
    with pytest.raises(ValueError, match="n_steps"):
        estimator.simulate(GOOD[0], -1)


@pytest.mark.parametrize(
    "params, exc",
    [
        ({"rank": 0}, ValueError),
        ({"rank": "big"}, TypeError),
        ({"regularization": -1.0}, ValueError),
        ({"regularization": "a"}, TypeError),
        ({"backend": "cuda"}, ValueError),
        ({"dictionary": "poly"}, TypeError),
    ],
)
def test_edmd_parameter_constraints(params, exc):
    with pytest.raises(exc):
        EDMD(**params).fit(GOOD)


@pytest.mark.parametrize(
    "dictionary, exc",
    [
        (Polynomial(degree=-1), ValueError),
        (Polynomial(degree=1.5), TypeError),
        (RBF(n_centers=0), ValueError),
        (RBF(n_centers=5, kernel="cubic"), ValueError),
        (RBF(n_centers=5, width=-1.0), ValueError),
        (RBF(n_centers=50), ValueError),  # more centers than samples
        (TimeDelay(n_delays=-1), ValueError),
        (TimeDelay(stride=0), ValueError),
    ],
)
def test_dictionary_parameter_constraints(dictionary, exc):
    with pytest.raises(exc):
        dictionary.fit(GOOD)


def test_unfitted_dictionary():
    with pytest.raises(NotFittedError):
        Polynomial(2).transform(GOOD)
    with pytest.raises(NotFittedError):
        build_gram(Polynomial(2), GOOD)


def test_build_gram_bad_input():
    d = Identity().fit(GOOD)
    with pytest.raises(ValueError, match="backend"):
        build_gram(d, GOOD, backend="gpu")
    with pytest.raises(ValueError, match="feature"):
        build_gram(d, GOOD[:, :1])
    with pytest.raises(ValueError, match="chunk_size"):
        build_gram(d, GOOD, chunk_size=0)
    with pytest.raises(ValueError, match="weights"):
        build_gram(d, GOOD, weights=np.ones(3))
    with pytest.raises(ValueError, match="snapshot pairs"):
        build_gram(TimeDelay(2).fit(GOOD), GOOD, y=GOOD)


def test_too_short_for_delays():
    with pytest.raises(ValueError):
        EDMD(TimeDelay(n_delays=30)).fit(GOOD)
