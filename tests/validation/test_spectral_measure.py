"""Spectral measures: the shift example and the order of the rational kernels."""

import numpy as np
import pytest

from koop.dictionaries import Custom
from koop.estimators import ResDMD
from koop.validation import spectral_measure, spectral_measure_moments

SHIFT_INTEGRAL = -0.023176565271898  # int cos(5 t)/(2 + cos t) dnu (ResDMD repo's check)
THETA = np.linspace(-np.pi, np.pi, 4096, endpoint=False)


def _shift_moments(N):
    k = np.arange(1, N + 1)
    return np.concatenate([[1 / (2 * np.pi**2)], np.sin(k) / (2 * np.pi**2 * k)])


def _integral(nu):
    phi = np.cos(5 * THETA) / (2 + np.cos(THETA))
    return float(np.sum(phi * nu.values) * 2 * np.pi / THETA.size)


@pytest.mark.parametrize(
    ("filt", "order"), [("fejer", 1), ("cosine", 2), ("vandeven", 4)])
def test_shift_moments_converge_at_filter_order(filt, order):
    """Error of the filtered series against the exact integral decays like N^-order."""
    err = [abs(_integral(spectral_measure_moments(moments=_shift_moments(N), theta=THETA,
                                                  filter=filt)) - SHIFT_INTEGRAL)
           for N in (100, 1000)]
    rate = np.log10(err[0] / err[1])
    assert order - 0.2 < rate < order + 0.3


def test_shift_moments_bump_filter_machine_precision():
    nu = spectral_measure_moments(moments=_shift_moments(100), theta=THETA)
    assert abs(_integral(nu) - SHIFT_INTEGRAL) < 1e-13
    # the density at theta = 0 is 1 / (2 pi)
    at0 = spectral_measure_moments(moments=_shift_moments(1000), theta=[0.0], filter="bump")
    assert abs(float(at0[0]) - 1 / (2 * np.pi)) < 1e-3


def test_ergodic_moments_of_a_rotation():
    """x_n = e^{i n omega}: moments e^{ik omega}/(2 pi), an atom at omega."""
    omega = 1.0
    series = np.exp(1j * omega * np.arange(5000))
    nu = spectral_measure_moments(series, THETA, n_moments=200, filter="cosine")
    assert abs(THETA[np.argmax(nu.values)] - omega) < 2 * np.pi / THETA.size + 1e-12
    assert abs(float(nu.integrate("theta")) - 1.0) < 1e-6


@pytest.fixture(scope="module")
def rotation_model():
    th = np.linspace(0, 2 * np.pi, 128, endpoint=False)[:, None]
    d = Custom(lambda X: np.hstack([np.ones_like(X), np.cos(X), np.sin(X), np.cos(2 * X),
                                    np.sin(2 * X)]))
    return ResDMD(d).fit(th, (th + 1.0) % (2 * np.pi))


@pytest.mark.parametrize("order", [1, 2, 4])
def test_resolvent_measure_converges_at_kernel_order(rotation_model, order):
    """cos(theta) under the rotation by 1 has atoms 1/4 at +-1; smoothed integrals of a
    smooth test function converge like epsilon^order."""
    test = np.exp(np.cos(THETA)) * np.sin(2 * THETA + 0.3)
    exact = 0.25 * (np.exp(np.cos(1.0)) * (np.sin(2.3) + np.sin(-2 + 0.3)))
    errs = []
    for eps in (0.1, 0.05):
        nu = spectral_measure(rotation_model, 1, THETA, epsilon=eps, order=order)
        errs.append(abs(np.sum(test * nu.values) * 2 * np.pi / THETA.size - exact))
    rate = np.log2(errs[0] / errs[1])
    assert order - 0.5 < rate < order + 0.5  # O(eps^m log(1/eps)): a bit below m


def test_resolvent_measure_mass(rotation_model):
    nu = spectral_measure(rotation_model, 1, THETA, epsilon=0.05, order=4)
    assert abs(float(nu.integrate("theta")) - 0.5) < 1e-6  # ||cos||^2 on the circle


def test_bad_arguments(rotation_model):
    with pytest.raises(ValueError):
        spectral_measure(rotation_model, 1, epsilon=0.0)
    with pytest.raises(ValueError):
        spectral_measure(rotation_model, 1, order=0)
    with pytest.raises(ValueError):
        spectral_measure(rotation_model, np.ones(3))
    with pytest.raises(ValueError):
        spectral_measure_moments()
    with pytest.raises(ValueError):
        spectral_measure_moments(moments=[1.0, 0.5], filter="gauss")
