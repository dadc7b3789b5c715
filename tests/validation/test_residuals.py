"""koop.validation.residuals for any EDMD-family model."""

import numpy as np
import pytest

from koop import systems
from koop.dictionaries import Polynomial
from koop.estimators import DMD, EDMD, ResDMD
from koop.validation import residuals


def test_edmd_gram_form_and_factor_form(slow_manifold_data):
    model = EDMD(Polynomial(degree=3)).fit(slow_manifold_data)
    gram_form = residuals(model)
    exact = residuals(model, slow_manifold_data)
    assert gram_form.shape == model.eigenvalues_.shape
    np.testing.assert_allclose(gram_form, exact, atol=1e-7)
    true = exact < 1e-6
    assert true.sum() == 6 and exact[true].max() < 1e-12


def test_dmd_on_linear_system_residuals_vanish(stable_linear_map):
    A, _ = stable_linear_map
    X = systems.linear(A, 60, random_state=2)
    model = DMD().fit(X)
    assert residuals(model, X).max() < 1e-12
    assert residuals(model).max() < 1e-6  # Gram form: half the digits


def test_independent_data_and_pairs(slow_manifold_data):
    model = ResDMD(Polynomial(degree=2)).fit(slow_manifold_data)
    rng = np.random.default_rng(11)
    X = rng.uniform(-1, 1, (300, 2))
    Y = np.column_stack([0.9 * X[:, 0], 0.5 * X[:, 1] + (0.81 - 0.5) * X[:, 0] ** 2])
    r = residuals(model, X, Y)
    lam = model.eigenvalues_
    exact = np.isclose(lam, 1.0) | np.isclose(lam, 0.9) | np.isclose(lam, 0.81) | np.isclose(
        lam, 0.5)
    assert r[exact].max() < 1e-12 and r[~exact].min() > 1e-3


def test_weights_change_the_residuals(slow_manifold_data):
    model = ResDMD(Polynomial(degree=2)).fit(slow_manifold_data)
    X = np.vstack([t[:-1] for t in slow_manifold_data])
    Y = np.vstack([t[1:] for t in slow_manifold_data])
    w = np.linspace(0.1, 1.0, X.shape[0])
    base = residuals(model, X, Y)
    weighted = residuals(model, X, Y, weights=w)
    spurious = base > 1e-6
    assert not np.allclose(base[spurious], weighted[spurious])


def test_rejects_unfitted_or_foreign_objects():
    with pytest.raises(TypeError, match="not a fitted"):
        residuals(EDMD())
    with pytest.raises(TypeError):
        residuals(np.eye(3))
