"""The nogil pseudospectrum kernel against numpy's dense eigensolver, on both its paths."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from koop._kernels.lowest_eig import lapack_pointers, lowest_eigvecs


def _pencil(r, seed, cluster):
    """K and L_h = K*K + E with E positive semidefinite; ``cluster`` packs H's low end."""
    rng = np.random.default_rng(seed)
    K = (rng.standard_normal((r, r)) + 1j * rng.standard_normal((r, r))) / np.sqrt(2 * r)
    if cluster:  # a normal K with eigenvalues filling a disc: continuous-like spectrum
        Q = np.linalg.qr(rng.standard_normal((r, r)) + 1j * rng.standard_normal((r, r)))[0]
        lam = np.sqrt(rng.uniform(0, 1, r)) * np.exp(2j * np.pi * rng.uniform(0, 1, r))
        K = (Q * lam) @ Q.conj().T
    C = rng.standard_normal((r, r)) * 0.05
    Lh = K.conj().T @ K + C.T @ C
    return np.ascontiguousarray(K), np.ascontiguousarray(0.5 * (Lh + Lh.conj().T))


def _h(K, Lh, z):
    return Lh - z * K.conj().T - np.conj(z) * K + abs(z) ** 2 * np.eye(K.shape[0])


@pytest.mark.parametrize("cluster", [False, True])
def test_kernel_lowest_eigenvalue_matches_eigvalsh(cluster):
    """Rayleigh quotient of the kernel's vector = lowest eigenvalue (rtol 1e-9), both paths."""
    K, Lh = _pencil(120, 0, cluster)
    x = np.linspace(-0.9, 0.9, 6)
    zs = (x[None, :] + 1j * np.array([0.1, 0.4])[:, None]).ravel()
    V0 = np.random.default_rng(1).standard_normal((4, 120)) + 0j
    U, dense, steps = lowest_eigvecs(K, Lh, zs, V0, 1e-9, 10, lapack_pointers())
    for i, z in enumerate(zs):
        H = _h(K, Lh, z)
        u = U[i]
        assert abs(np.linalg.norm(u) - 1) < 1e-12
        rq = np.vdot(u, H @ u).real
        low = np.linalg.eigvalsh(H)[0]
        assert abs(rq - low) <= 1e-9 * abs(low)
    if cluster:
        assert dense.any()  # the packed low end sends points to the dense solve
    else:
        assert not dense.all() and steps.max() >= 1


def test_kernel_dense_path_alone():
    """depth 1: Lanczos can never converge, every point is solved densely (cheevr + RR)."""
    K, Lh = _pencil(100, 2, True)
    zs = np.array([0.2 + 0.1j, 0.25 + 0.1j, -0.5 + 0.3j])
    V0 = np.random.default_rng(3).standard_normal((4, 100)) + 0j
    U, dense, _ = lowest_eigvecs(K, Lh, zs, V0, 1e-9, 1, lapack_pointers())
    assert dense.all()
    for i, z in enumerate(zs):
        H = _h(K, Lh, z)
        low = np.linalg.eigvalsh(H)[0]
        assert abs(np.vdot(U[i], H @ U[i]).real - low) <= 1e-9 * low


def test_kernel_is_thread_safe():
    """Two threads on two stretches of the path (concurrently, the kernel holds no GIL)
    give the same eigenvalues as one thread over the whole path."""
    K, Lh = _pencil(110, 4, True)
    zs = np.linspace(-0.8, 0.8, 12) + 0.2j
    V0 = np.random.default_rng(5).standard_normal((4, 110)) + 0j
    ptrs = lapack_pointers()
    one = lowest_eigvecs(K, Lh, zs, V0, 1e-9, 10, ptrs)[0]
    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(lambda s: lowest_eigvecs(K, Lh, zs[s], V0, 1e-9, 10, ptrs)[0],
                              [slice(0, 6), slice(6, 12)]))
    two = np.vstack(parts)
    for i, z in enumerate(zs):
        H = _h(K, Lh, z)
        assert abs(np.vdot(one[i], H @ one[i]) - np.vdot(two[i], H @ two[i])) <= 1e-9
