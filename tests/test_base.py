"""The fitted model every estimator produces (koop.base.KoopmanModel), against numpy."""

import dataclasses

import numpy as np
import pytest

from koop import systems
from koop.base import KoopmanModel
from koop.dictionaries import Polynomial
from koop.estimators import DMD, EDMD, HAVOK, ResDMD
from koop.validation import pseudospectrum, residuals


@pytest.fixture(scope="module")
def lorenz():
    X = systems.lorenz63(800, dt=0.01, random_state=0)
    return (X - X.mean(axis=0)) / X.std(axis=0)


def test_model_is_immutable_and_is_what_the_estimator_publishes(lorenz):
    est = EDMD(Polynomial(degree=2)).fit(lorenz, dt=0.01)
    model = est.model_
    assert isinstance(model, KoopmanModel)
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.basis = None
    for name, attr in (("eigenvalues", "eigenvalues_"), ("modes", "modes_"),
                       ("eigenvectors", "eigenvectors_"), ("basis", "basis_"),
                       ("reduced", "reduced_matrix_"), ("state_map", "state_map_")):
        assert getattr(model, name) is getattr(est, attr)
    np.testing.assert_array_equal(model.continuous_eigenvalues, est.continuous_eigenvalues_)
    # the one derivation of the spectrum: K_r W = W Lambda, W Xi^T = C_r
    K, W = model.reduced, model.eigvecs
    np.testing.assert_allclose(K @ W, W * model.eigenvalues, atol=1e-10)
    np.testing.assert_allclose(W @ model.modes.T, model.state_map, atol=1e-10)


@pytest.mark.parametrize("make", [lambda: EDMD(Polynomial(degree=1)),
                                  lambda: ResDMD(Polynomial(degree=1)), lambda: DMD()],
                         ids=["EDMD", "ResDMD", "DMD"])
def test_koopman_matrix_is_G_inverse_A_when_nothing_is_truncated(lorenz, make):
    est = make().fit(lorenz)
    G, A = est.gram_.G, est.gram_.A
    np.testing.assert_allclose(est.koopman_matrix_, np.linalg.solve(G, A), atol=1e-9)


def test_truncated_koopman_matrix_is_the_reduced_matrix_on_the_span_and_zero_off_it(lorenz):
    est = EDMD(Polynomial(degree=2), rank=4).fit(lorenz)
    K, Q, G = est.koopman_matrix_, est.basis_, est.gram_.G
    assert Q.shape[1] == 4
    np.testing.assert_allclose(K @ Q, Q @ est.reduced_matrix_, atol=1e-10)
    # a coefficient vector L2(mu)-orthogonal to the span maps to zero
    c = np.random.default_rng(0).normal(size=Q.shape[0])
    c -= Q @ np.linalg.solve(Q.T @ G @ Q, Q.T @ G @ c)
    assert np.abs(K @ c).max() < 1e-9 * np.abs(K).max() * np.abs(c).max()


def test_the_gram_pencil_lives_on_the_span_the_fit_kept(lorenz):
    """A truncated EDMD's pseudospectrum minimises over the fitted span (it used to take
    G's own span), so at a fitted eigenvalue it is at most that eigenpair's residual."""
    est = EDMD(Polynomial(degree=2), rank=5).fit(lorenz)
    pencil = est.model_.pencil()
    Q = est.basis_
    both = np.linalg.matrix_rank(np.hstack([Q, pencil.basis]), tol=1e-8)
    assert pencil.basis.shape[1] == Q.shape[1] == both == 5
    tau = pseudospectrum(est, est.eigenvalues_).values
    assert np.all(tau <= residuals(est) + 1e-8)


def test_validation_takes_the_model_object(lorenz):
    est = ResDMD(Polynomial(degree=2)).fit(lorenz)
    np.testing.assert_array_equal(residuals(est.model_), residuals(est))
    np.testing.assert_array_equal(residuals(est.model_), est.training_residuals_)
    assert est.model_.residual_source == "QR factor"


def test_a_model_without_gram_or_factor_has_no_residuals(lorenz):
    est = HAVOK(n_delays=10, rank=4).fit(lorenz[:, 0], dt=0.01)
    assert est.model_.residual_source is None
    with pytest.raises(TypeError, match="neither"):
        residuals(est)


def test_the_gram_pencil_keeps_what_the_scaled_fit_kept():
    """EDMD decides its span on G scaled to unit diagonal (units do not matter); the Gram
    pencil of validation used G unscaled and dropped the small-scale functions the fit
    kept. It is now the fit's own basis: same span, K = the fit's reduced matrix."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 2)) * np.array([1.0, 1e-6])  # y in micro-units
    est = EDMD(Polynomial(degree=3)).fit(X[:-1], X[1:] * 0.9)
    pencil = est.model_.pencil()
    assert pencil.basis.shape[1] == est.basis_.shape[1] == 10  # nothing dropped
    np.testing.assert_array_equal(pencil.K, est.reduced_matrix_)
    assert pencil.n_dropped == est.n_dropped_directions_ == 0
    from koop._spectral.factor import pencil_from_gram

    g = est.gram_
    assert pencil_from_gram(g.G, g.A, g.L).basis.shape[1] < 10  # what it used to be
