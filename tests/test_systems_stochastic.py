"""Stochastic systems: exact OU statistics and spectrum, the Prinz reference spectrum."""

import math

import numpy as np
import pytest

from koop import systems
from koop._kernels.langevin import langevin_em, langevin_em_twin, potential_gradient
from koop.systems._stochastic import (
    _PRINZ_AMP,
    _PRINZ_CENTER,
    _PRINZ_POLY,
    _PRINZ_RATE,
    _ou_multi_indices,
)


def test_ou_is_seeded_and_stationary_with_the_exact_autocorrelation():
    X = systems.ornstein_uhlenbeck(200_000, dt=0.3, random_state=1, theta=2.0, sigma=1.0)
    np.testing.assert_array_equal(
        X, systems.ornstein_uhlenbeck(200_000, dt=0.3, random_state=1, theta=2.0, sigma=1.0))
    var = 1.0 / (2 * 2.0)  # sigma^2 / (2 theta)
    assert abs(X.var() - var) < 0.02 * var * 3
    # lag-1 autocorrelation is exp(-theta dt) exactly (exact transition, no EM bias)
    rho = np.corrcoef(X[:-1, 0], X[1:, 0])[0, 1]
    assert abs(rho - math.exp(-0.6)) < 0.01


def test_ou_2d_spectrum_is_sorted_sums_of_rates():
    lam = systems.ornstein_uhlenbeck_spectrum(6, dt=0.1, theta=(1.0, 2.5))
    # rates k.theta: 0, 1, 2, 2.5, 3, 3.5
    np.testing.assert_allclose(lam, np.exp(-0.1 * np.array([0, 1, 2, 2.5, 3, 3.5])),
                               rtol=1e-15)
    assert _ou_multi_indices(np.array([1.0, 2.5]), 6) == [(0, 0), (1, 0), (2, 0), (0, 1),
                                                           (3, 0), (1, 1)]


def test_ou_eigenfunctions_are_orthonormal_and_eigen_for_the_data():
    theta, sigma, dt = (1.0, 0.5), (1.0, 2.0), 0.4
    X = systems.ornstein_uhlenbeck(400_000, dt=dt, random_state=3, theta=theta, sigma=sigma)
    Phi = systems.ornstein_uhlenbeck_eigenfunctions(X, 5, theta=theta, sigma=sigma)
    lam = systems.ornstein_uhlenbeck_spectrum(5, dt=dt, theta=theta)
    # orthonormal in L2 of the stationary law (independent draws from it)
    std = np.array(sigma) / np.sqrt(2 * np.array(theta))
    Z = std * np.random.default_rng(0).standard_normal((400_000, 2))
    Pz = systems.ornstein_uhlenbeck_eigenfunctions(Z, 5, theta=theta, sigma=sigma)
    np.testing.assert_allclose(Pz.T @ Pz / len(Z), np.eye(5), atol=0.02)
    # E[phi(x_{n+1}) phi(x_n)] = lambda: regression coefficient of each eigenfunction
    coef = np.sum(Phi[1:] * Phi[:-1], axis=0) / np.sum(Phi[:-1] ** 2, axis=0)
    np.testing.assert_allclose(coef, lam, atol=0.01)


def test_ou_successors_have_the_conditional_law():
    x = np.full((100_000, 1), 1.5)
    Y = systems.ornstein_uhlenbeck_successors(x, 2, dt=0.5, random_state=0)
    assert Y.shape == (2, 100_000, 1)
    assert abs(Y.mean() - 1.5 * math.exp(-0.5)) < 0.01
    assert abs(Y.var() - (1 - math.exp(-1.0))) < 0.01
    # the two batches are independent given x
    assert abs(np.corrcoef(Y[0, :, 0], Y[1, :, 0])[0, 1]) < 0.01


def test_langevin_kernel_equals_its_twin():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((40, 25))
    out = np.empty(40)
    last = langevin_em(0.3, noise, 1e-4, math.sqrt(2e-4), _PRINZ_POLY, _PRINZ_AMP,
                       _PRINZ_RATE, _PRINZ_CENTER, out)
    twin = langevin_em_twin(0.3, noise, 1e-4, math.sqrt(2e-4), _PRINZ_POLY, _PRINZ_AMP,
                            _PRINZ_RATE, _PRINZ_CENTER)
    np.testing.assert_allclose(out, twin, rtol=1e-12, atol=1e-14)
    assert last == out[-1]


def test_potential_gradient_matches_finite_differences():
    x = np.linspace(-1.1, 1.1, 41)
    h = 1e-6
    fd = (systems.prinz_potential_energy(x + h) - systems.prinz_potential_energy(x - h)) / (2 * h)
    g = potential_gradient(x, _PRINZ_POLY, _PRINZ_AMP, _PRINZ_RATE, _PRINZ_CENTER)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-5)


def test_prinz_reference_spectrum_converges_at_second_order():
    a = systems.prinz_potential_spectrum(5, dt=1e-2, kT=2.0, n_grid=2001).rates
    b = systems.prinz_potential_spectrum(5, dt=1e-2, kT=2.0, n_grid=4001).rates
    c = systems.prinz_potential_spectrum(5, dt=1e-2, kT=2.0, n_grid=8001).rates
    ratio = np.abs(a - b)[1:] / np.abs(b - c)[1:]
    np.testing.assert_allclose(ratio, 4.0, rtol=0.05)  # h^2 convergence
    spec = systems.prinz_potential_spectrum(5, dt=1e-2, kT=2.0)
    assert spec.eigenvalues[0] == 1.0 and (np.diff(spec.eigenvalues) < 0).all()
    assert spec.error_estimate.max() < 1e-7
    # eigenfunctions: orthonormal in L2(pi), the first is the constant
    h = spec.grid[1] - spec.grid[0]
    gram = (spec.eigenfunctions * spec.density[:, None]).T @ spec.eigenfunctions * h
    np.testing.assert_allclose(gram, np.eye(5), atol=1e-6)


def test_prinz_trajectory_samples_the_boltzmann_density_and_the_slowest_mode():
    spec = systems.prinz_potential_spectrum(2, dt=1e-2, kT=2.0)
    X = systems.prinz_potential(60_000, dt=1e-2, kT=2.0, step=1e-4, random_state=0)[:, 0]
    np.testing.assert_array_equal(X, systems.prinz_potential(60_000, dt=1e-2, kT=2.0,
                                                             step=1e-4, random_state=0)[:, 0])
    ref_mean = np.sum(spec.grid * spec.density) * (spec.grid[1] - spec.grid[0])
    assert abs(X.mean() - ref_mean) < 0.05
    # the slowest eigenfunction decorrelates at rate lambda_1 over one lag
    f = np.interp(X, spec.grid, spec.eigenfunctions[:, 1])
    rho = np.sum(f[1:] * f[:-1]) / np.sum(f[:-1] ** 2)
    assert abs(rho - spec.eigenvalues[1]) < 0.02


@pytest.mark.parametrize("call, match", [
    (lambda: systems.ornstein_uhlenbeck(10, theta=-1.0), "theta"),
    (lambda: systems.ornstein_uhlenbeck(10, theta=(1.0, 2.0), sigma=(1.0, 1.0, 1.0)),
     "entries"),
    (lambda: systems.ornstein_uhlenbeck(10, x0=[0.0, 1.0]), "x0"),
    (lambda: systems.prinz_potential(10, step=0.1, dt=0.01), "step"),
    (lambda: systems.prinz_potential(10, kT=0.0), "kT"),
    (lambda: systems.prinz_potential_spectrum(5, n_grid=10), "n_grid"),
    (lambda: systems.ornstein_uhlenbeck_successors(np.zeros((3, 2)), 2), "shape"),
])
def test_bad_parameters_are_refused(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
