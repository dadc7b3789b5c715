"""Exact DMD against a linear system and noisy low-rank data."""

import numpy as np
import pytest

from koop import systems
from koop.estimators import DMD
from koop.estimators._solvers import optimal_svht_coef, select_rank


def test_linear_system(stable_linear_map):
    A, lam = stable_linear_map
    X = systems.linear(A, 60, random_state=0)
    model = DMD().fit(X, dt=0.1)
    np.testing.assert_allclose(np.sort_complex(model.eigenvalues_), np.sort_complex(lam),
                               atol=1e-10)
    # exact DMD modes are eigenvectors of A
    for j, l in enumerate(model.eigenvalues_):
        v = model.modes_[:, j]
        np.testing.assert_allclose(A @ v, l * v, atol=1e-9 * np.linalg.norm(v))
    np.testing.assert_allclose(model.simulate(X[0], 10), X[1:11], atol=1e-9)
    assert model.continuous_eigenvalues_.shape == (3,)


def test_rank_options_on_noisy_low_rank_data():
    rng = np.random.default_rng(0)
    n, d, r = 400, 40, 3
    A = np.diag([0.99, 0.9, 0.8])
    Z = systems.linear(A, n, random_state=0)
    lift = np.linalg.qr(rng.normal(size=(d, r)))[0].T
    X = Z @ lift * 10 + 1e-3 * rng.normal(size=(n, d))
    assert DMD(rank=3).fit(X).rank_ == 3
    assert DMD(rank="optimal").fit(X).rank_ == 3
    assert DMD(rank=0.999).fit(X).rank_ <= 3
    m = DMD(rank="optimal").fit(X)
    np.testing.assert_allclose(np.sort(m.eigenvalues_.real), [0.8, 0.9, 0.99], atol=1e-3)


def test_gavish_donoho_coefficient():
    # square matrices: omega(1) ~ 2.858 (Gavish & Donoho 2014, Table/eq. (5) approx.)
    assert optimal_svht_coef(1.0) == pytest.approx(2.86, abs=0.01)
    s = np.array([10.0, 5.0, 1.0, 1.0, 1.0])
    assert select_rank(s, 2, (10, 5)) == 2
    assert select_rank(s, 0.5, (10, 5)) == 1
    with pytest.raises(ValueError):
        select_rank(s, "best", (10, 5))
