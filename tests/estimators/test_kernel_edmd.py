"""KernelEDMD: kernel trick, Nystrom option and residuals through the induced dictionary."""

import numpy as np
import pytest
import scipy.linalg

from koop import systems
from koop.estimators import KernelEDMD
from koop.estimators._kernel_edmd import kernel_matrix


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_blas():
    """Small dense LAPACK calls: threaded BLAS only adds contention on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


LATENT = np.array([0.95, 0.7 + 0.2j, 0.7 - 0.2j])


@pytest.fixture(scope="module")
def lifted_linear():
    """A 3-D linear map with eigenvalues 0.95, 0.7 +- 0.2i seen through a random
    orthogonal map into 100 dimensions."""
    rng = np.random.default_rng(4)
    T = rng.normal(size=(3, 3))
    D = np.array([[0.95, 0.0, 0.0], [0.0, 0.7, 0.2], [0.0, -0.2, 0.7]])
    A = T @ D @ np.linalg.inv(T)
    U = np.linalg.qr(rng.normal(size=(100, 3)))[0]
    trajs = [systems.linear(A, 8, random_state=s) @ U.T for s in range(25)]
    return trajs, U


def _near(found, targets):
    return np.array([np.min(np.abs(found - t)) for t in targets])


def test_polynomial_kernel_recovers_lifted_linear_eigenvalues(lifted_linear):
    trajs, _ = lifted_linear
    model = KernelEDMD(kernel="polynomial", degree=2).fit(trajs)
    # degree-2 polynomials in the 3 latent coordinates: 1 + 3 + 6 functions, all
    # eigenfunctions with eigenvalues 1, lambda_i and lambda_i lambda_j
    products = [LATENT[i] * LATENT[j] for i in range(3) for j in range(i, 3)]
    truth = np.concatenate([[1.0], LATENT, products])
    assert model.eigenvalues_.size == truth.size
    assert _near(model.eigenvalues_, truth).max() < 1e-8
    assert model.residuals_.max() < 1e-8


def test_nystrom_option_same_eigenvalues(lifted_linear):
    trajs, _ = lifted_linear
    full = KernelEDMD(kernel="polynomial", degree=2).fit(trajs)
    low = KernelEDMD(kernel="polynomial", degree=2, n_components=30, random_state=0).fit(trajs)
    assert low.centers_.shape == (30, 100)
    np.testing.assert_allclose(np.sort_complex(low.eigenvalues_),
                               np.sort_complex(full.eigenvalues_), atol=1e-8)


def test_gaussian_kernel_equals_kernel_edmd_formula(lifted_linear):
    """Against Williams et al.'s K = S^{-1/2} U* A U S^{-1/2} with A_ij = k(y_i, x_j)."""
    trajs, _ = lifted_linear
    X = np.vstack([t[:-1] for t in trajs[:6]])
    Y = np.vstack([t[1:] for t in trajs[:6]])
    model = KernelEDMD(kernel="gaussian", width=2.0, cutoff=1e-10).fit(X, Y)
    Gh = kernel_matrix("gaussian", X, X, 2.0, 2)
    Ah = kernel_matrix("gaussian", Y, X, 2.0, 2)
    s, U = scipy.linalg.eigh(Gh)
    keep = s > 1e-10 * s.max()
    Q = U[:, keep] / np.sqrt(s[keep])
    ref = np.linalg.eigvals(Q.T @ Ah @ Q)
    top = ref[np.argsort(-np.abs(ref))][:5]
    assert _near(model.eigenvalues_, top).max() < 1e-6
    # 42 samples, Gaussian kernel: the latent eigenvalues are approximated to ~5e-3 and
    # appear among the eigenpairs verified at 1e-3
    good = model.verified(1e-3).eigenvalues
    assert _near(good, LATENT).max() < 1e-2


def test_kernel_bad_parameters(lifted_linear):
    trajs, _ = lifted_linear
    for params in ({"kernel": "cubic"}, {"width": -1.0}, {"degree": 0}, {"n_components": 0},
                   {"cutoff": 1.5}):
        with pytest.raises(ValueError):
            KernelEDMD(**params).fit(trajs)
