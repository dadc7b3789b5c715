"""Known-truth data for the ResDMD / validation tests."""

import numpy as np
import pytest
from numpy.polynomial import legendre

from koop.dictionaries import Custom

GAUSS_ALPHA = 2.0
GAUSS_BETA = -1.0 - np.exp(-2.0)


def gauss_map(x):
    return np.exp(-GAUSS_ALPHA * x**2) + GAUSS_BETA


def legendre_dictionary(n: int = 40) -> Custom:
    """Normalized Legendre polynomials sqrt(2j+1) P_j(2x+1) on [-1, 0] (orthonormal)."""

    def psi(X):
        t = 2.0 * X[:, 0] + 1.0
        return legendre.legvander(t, n - 1) * np.sqrt(2 * np.arange(n) + 1.0)

    return Custom(psi)


@pytest.fixture(scope="session")
def gauss_map_quadrature():
    """The ResDMD repo's Gauss-map setting: 100 Gauss-Legendre points on [-1, 0]."""
    x, w = legendre.leggauss(100)
    x = (x - 1.0) / 2.0
    w = w / 2.0
    return x[:, None], gauss_map(x)[:, None], w


@pytest.fixture(scope="session")
def legendre40():
    return legendre_dictionary(40)


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_blas():
    """Small dense LAPACK calls: threaded BLAS only adds contention on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield
