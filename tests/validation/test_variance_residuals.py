"""Variance-aware residuals (Colbrook, Li, Raut & Townsend) on the OU process: exact truth."""

import math

import numpy as np
import pytest
from numpy.polynomial import hermite_e

from koop import systems
from koop.dictionaries import RBF, Polynomial
from koop.estimators import EDMD
from koop.validation import residuals, variance_residuals
from koop.validation.variance import batched_gram

DT = 0.5
DEG = 4


@pytest.fixture(scope="module")
def batched():
    X = systems.ornstein_uhlenbeck(100_000, dt=DT, random_state=11)
    Y = systems.ornstein_uhlenbeck_successors(X, 2, dt=DT, random_state=12)
    return X, Y


def _hermite_coefficients(k: int) -> np.ndarray:
    """Coefficients of He_k / sqrt(k!) on the monomials 1, x, ..., x^DEG."""
    c = np.zeros(k + 1)
    c[k] = 1.0
    mono = hermite_e.herme2poly(c) / math.sqrt(math.factorial(k))
    out = np.zeros(DEG + 1)
    out[: mono.size] = mono
    return out


def test_batched_gram_equals_plain_numpy(batched):
    X, Y = batched
    X, Y = X[:3000], Y[:, :3000]
    d = Polynomial(degree=2).fit(X)
    G, A, L, H = batched_gram(d, X, [Y[0], Y[1], Y[0] * 0.5], chunk_size=700)
    P0, P1, P2 = (d.transform(Z) for Z in (Y[0], Y[1], Y[0] * 0.5))
    PX = d.transform(X)
    n = len(X)
    np.testing.assert_allclose(G, PX.T @ PX / n, rtol=1e-12)
    np.testing.assert_allclose(A, PX.T @ (P0 + P1 + P2) / (3 * n), rtol=1e-12)
    np.testing.assert_allclose(L, (P0.T @ P0 + P1.T @ P1 + P2.T @ P2) / (3 * n), rtol=1e-12)
    cross = sum(Pa.T @ Pb for i, Pa in enumerate((P0, P1, P2))
                for j, Pb in enumerate((P0, P1, P2)) if i != j)
    np.testing.assert_allclose(H, cross / (6 * n), rtol=1e-11, atol=1e-14)


def test_exact_eigenpairs_have_zero_residual_and_the_known_variance(batched):
    X, Y = batched
    model = EDMD(Polynomial(degree=DEG)).fit(X[:2000])
    lam = systems.ornstein_uhlenbeck_spectrum(DEG + 1, dt=DT)
    V = np.column_stack([_hermite_coefficients(k) for k in range(DEG + 1)])
    out = variance_residuals(model, X, Y, eigenvalues=lam, vectors=V)
    # ||(K - lambda) He_k|| = 0; Var(He_k(X_1) | X_0) integrates to 1 - lambda_k^2.
    # res^2 is estimated with error O(N^-1/2), so res itself has a floor O(N^-1/4)
    assert out.residuals.max() < 0.08
    # sampling error grows with the degree (He_k^2 has heavy tails): 0.03 up to k = 3
    np.testing.assert_allclose(out.variances[:4], 1 - lam[:4] ** 2, atol=0.03)
    np.testing.assert_allclose(out.plain_residuals[:4], np.sqrt(1 - lam[:4] ** 2), atol=0.03)
    np.testing.assert_allclose(out.variances[4], 1 - lam[4] ** 2, atol=0.1)


def test_wrong_eigenvalue_gives_residual_equal_to_the_shift(batched):
    X, Y = batched
    model = EDMD(Polynomial(degree=DEG)).fit(X[:2000])
    lam = systems.ornstein_uhlenbeck_spectrum(3, dt=DT)
    V = np.column_stack([_hermite_coefficients(k) for k in range(3)])
    for shift in (0.1, 0.3):
        out = variance_residuals(model, X, Y, eigenvalues=lam + shift, vectors=V)
        np.testing.assert_allclose(out.residuals, shift, atol=0.03)


def test_true_pairs_are_told_apart_from_spurious_ones_where_plain_residuals_cannot(batched):
    X, Y = batched
    dictionary = Polynomial(degree=DEG) + RBF(10, width=0.3, random_state=0)
    # few training samples: EDMD on the RBF part gives spurious eigenpairs
    model = EDMD(dictionary).fit(systems.ornstein_uhlenbeck(400, dt=DT, random_state=3))
    M = model.dictionary_.n_output_features_
    exact = systems.ornstein_uhlenbeck_spectrum(DEG + 1, dt=DT)
    V_true = np.zeros((M, DEG + 1))
    V_true[: DEG + 1] = np.column_stack([_hermite_coefficients(k) for k in range(DEG + 1)])
    true = variance_residuals(model, X, Y, eigenvalues=exact, vectors=V_true)
    learned = variance_residuals(model, X, Y)
    # spurious: EDMD eigenvalues at least 0.1 away from the exact spectrum {exp(-k dt)}
    dist = np.abs(learned.eigenvalues[:, None] - np.exp(-DT * np.arange(40))).min(axis=1)
    spurious = dist > 0.1
    assert spurious.sum() >= 3
    # the variance-aware residual bounds the distance to the spectrum (K is self-adjoint)
    assert (learned.residuals[spurious] >= dist[spurious] - 0.03).all()
    assert true.residuals.max() < learned.residuals[spurious].min()
    # the plain residual ranks true pairs above spurious ones: it cannot separate them
    assert true.plain_residuals.max() > learned.plain_residuals[spurious].min()


def test_plain_residuals_match_resdmd_on_one_successor(batched):
    X, Y = batched
    model = EDMD(Polynomial(degree=2)).fit(X[:5000])
    out = variance_residuals(model, X[:5000], [Y[0, :5000], Y[0, :5000]])
    ref = residuals(model, X[:5000], Y[0, :5000])
    np.testing.assert_allclose(out.plain_residuals, ref, atol=1e-6)


def test_bad_batches_are_refused(batched):
    X, Y = batched
    model = EDMD(Polynomial(degree=2)).fit(X[:500])
    with pytest.raises(ValueError, match="B >= 2"):
        variance_residuals(model, X[:10], Y[:1, :10])
    with pytest.raises(ValueError, match="rows"):
        variance_residuals(model, X[:10], Y[:, :9])
    with pytest.raises(ValueError, match="both"):
        variance_residuals(model, X[:10], Y[:, :10], eigenvalues=[1.0])
    with pytest.raises(ValueError, match="shape"):
        variance_residuals(model, X[:10], Y[:, :10], eigenvalues=[1.0], vectors=np.ones(5))
