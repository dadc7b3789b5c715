r"""Lowest eigenpair of the shifted Hermitian matrices :math:`H(z)` of a pseudospectrum.

For every point :math:`z` of a path,

.. math::
    H(z) = L_h - zK^* - \bar zK + |z|^2 I

(the ResDMD pencil in an orthonormal basis, :mod:`koop._spectral.pseudospectrum`) is
formed in one fused pass, factored :math:`H = U^*U` by LAPACK ``zpotrf`` (:math:`r^3/3`
complex flops: the bulk of a point's cost), and its lowest eigenvector is found by block
Lanczos on :math:`H^{-1}` (``zpotrs`` with a block of right-hand sides, full
reorthogonalisation, restarted from the current Ritz vectors), started from the previous
point's Ritz vectors. Neighbouring points have nearby low eigenspaces, and a block (not
one vector) keeps the iteration converging where the low eigenvalues of :math:`H(z)`
cluster, as they do wherever a dictionary approximates continuous spectrum.

LAPACK is called through scipy's ``cython_lapack`` function pointers, passed in as
integers (so the kernel is cached on disk like the others) and called without the GIL:
threads over disjoint stretches of the path run in parallel, which scipy's Python
wrappers (holding the GIL) do not allow.

The reference is the SVD of the rectangular form
(:func:`koop._spectral.pseudospectrum.smallest_residuals` with ``method="svd"``); tests
compare the two.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import get_cython_function_address

from koop._kernels.pointer_calls import call5 as _call5
from koop._kernels.pointer_calls import call8 as _call8
from koop._kernels.pointer_calls import call23 as _call23

__all__ = ["lowest_eigvecs", "lapack_pointers"]


def lapack_pointers() -> np.ndarray:
    """Addresses of scipy's ``zpotrf``, ``zpotrs`` and ``cheevr`` (Fortran convention)."""
    return np.array([get_cython_function_address("scipy.linalg.cython_lapack", name)
                     for name in ("zpotrf", "zpotrs", "cheevr")], dtype=np.int64)


@numba.njit(cache=True, nogil=True)
def _fill_upper(out, LhT, K, KT, z):  # pragma: no cover - numba
    r"""``out`` (C order, which LAPACK reads transposed) gets the upper triangle of
    :math:`H(z)`: ``out[j, i] = H[i, j]`` for ``i <= j``, rounded to ``out``'s precision
    (complex128 for the Cholesky path, complex64 for the single-precision dense solve)."""
    r = K.shape[0]
    zc = np.conj(z)
    s = z.real * z.real + z.imag * z.imag
    for j in range(r):
        for i in range(j + 1):
            # H[i, j] = Lh[i, j] - z conj(K[j, i]) - conj(z) K[i, j]
            out[j, i] = LhT[j, i] - z * np.conj(K[j, i]) - zc * KT[j, i]
        out[j, j] = out[j, j].real + s


@numba.njit(cache=True, nogil=True)
def _orthonormal_rows(W, S, m):  # pragma: no cover - numba
    """Rows of ``W`` made orthonormal and orthogonal to the first ``m`` rows of ``S``."""
    for _ in range(2):  # twice is enough (Kahan)
        if m > 0:
            C = W @ np.conj(S[:m]).T
            W = W - C @ S[:m]
        Q, _R = np.linalg.qr(np.ascontiguousarray(W.T))
        W = np.ascontiguousarray(Q.T)
    return W


@numba.njit(cache=True, nogil=True)
def _apply_h(V, Lh, K, Kh, z):  # pragma: no cover - numba
    r""":math:`H(z)V^T` for a block of rows ``V``, as rows."""
    X = np.ascontiguousarray(V.T)
    HX = Lh @ X - z * (Kh @ X) - np.conj(z) * (K @ X) + (z.real * z.real + z.imag * z.imag) * X
    return np.ascontiguousarray(HX.T)


@numba.njit(cache=True, nogil=True)
def _lanczos(fac, S, HS, W, start, b, depth, tol, potrs_ptr, uplo, n_arr, b_arr, info
             ):  # pragma: no cover - numba
    """Block Lanczos on :math:`H^{-1}` (``fac``: its Cholesky factor) from ``start``.

    Returns (converged, block steps, the ``b`` leading Ritz vectors as rows, the last
    one the lowest eigenvector's estimate).
    """
    S[:b] = start
    prev = 0.0
    m = 0
    Y = np.zeros((1, 1), np.complex128)
    done = False
    steps = 0
    while m < b * depth:
        W[:, :] = S[m : m + b]
        _call8(potrs_ptr, uplo, n_arr, b_arr, fac, n_arr, W, n_arr, info)
        HS[m : m + b] = W
        m += b
        steps += 1
        T = np.conj(S[:m]) @ HS[:m].T
        T = 0.5 * (T + np.conj(T.T))
        theta, Y = np.linalg.eigh(T)
        top = theta[m - 1]
        if m > b and abs(top - prev) <= tol * abs(top):
            done = True
            break
        prev = top
        if m < b * depth:
            S[m : m + b] = _orthonormal_rows(W.copy(), S, m)
    ritz = np.ascontiguousarray(Y[:, m - b :].T) @ S[:m]
    return done, steps, ritz


@numba.njit(cache=True, nogil=True)
def lowest_eigvecs(K, Lh, zs, V0, tol, depth, ptrs):  # pragma: no cover - numba
    r"""Lowest eigenvector of :math:`H(z)` for each ``z`` of ``zs``, in order.

    Each point first tries Cholesky and block Lanczos on :math:`H^{-1}` (``depth`` block
    steps). Where that stalls (a tightly packed low spectrum), the point takes a dense
    single-precision eigensolve (``cheevr``) for the lowest ``b`` eigenvectors instead,
    followed by a double-precision Rayleigh-Ritz step on their span; the eigenvalue of
    the result is then accurate to second order in the single-precision vectors' error.
    After a stall the next few points go straight to the dense solve (stalls come in
    regions), waiting twice as long after each further stall.

    Parameters
    ----------
    K, Lh : complex128 (r, r), C-contiguous; ``Lh`` Hermitian.
    zs : complex128 (n,), a path (consecutive points close together).
    V0 : complex128 (b, r): the starting block (rows; ``b * depth < r``).
    tol : float
        Lanczos stops when the top Ritz value of :math:`H^{-1}` changes by less than
        ``tol`` times itself from one block step to the next.
    depth : int
        Block steps before giving up on Lanczos at this point.
    ptrs : int64 (3,)
        :func:`lapack_pointers`.

    Returns
    -------
    U : complex128 (n, r), unit rows: the eigenvectors.
    dense : bool (n,), the point took the dense solve.
    steps : int32 (n,), Lanczos block solves taken.
    """
    r = K.shape[0]
    n = zs.shape[0]
    b = V0.shape[0]
    LhT = np.ascontiguousarray(Lh.T)
    KT = np.ascontiguousarray(K.T)
    Kh = np.ascontiguousarray(np.conj(KT))
    U = np.zeros((n, r), np.complex128)
    dense = np.zeros(n, np.bool_)
    steps = np.zeros(n, np.int32)
    fac = np.empty((r, r), np.complex128)
    fac32 = np.empty((r, r), np.complex64)
    S = np.empty((b * (depth + 1), r), np.complex128)
    HS = np.empty((b * depth, r), np.complex128)
    W = np.empty((b, r), np.complex128)
    uplo = np.array([ord("U")], np.uint8)
    n_arr = np.array([r], np.int32)
    b_arr = np.array([b], np.int32)
    info = np.zeros(1, np.int32)
    # cheevr("V", "I", "U", r, a, r, vl, vu, 1, b, 0, m, w, Z, r, isuppz, work...)
    jobz = np.array([ord("V")], np.uint8)
    rng_i = np.array([ord("I")], np.uint8)
    fzero = np.zeros(1, np.float32)
    il = np.array([1], np.int32)
    m_out = np.zeros(1, np.int32)
    w32 = np.empty(r, np.float32)
    Z32 = np.empty((b, r), np.complex64)
    isuppz = np.empty(2 * b, np.int32)
    lwork = np.array([65 * r], np.int32)
    work = np.empty(lwork[0], np.complex64)
    lrwork = np.array([24 * r + 64 * r], np.int32)
    rwork = np.empty(lrwork[0], np.float32)
    liwork = np.array([10 * r + 64 * r], np.int32)
    iwork = np.empty(liwork[0], np.int32)
    start = _orthonormal_rows(V0.copy(), S, 0)
    skip = 0
    backoff = 4
    for p in range(n):
        z = zs[p]
        ok = False
        if skip == 0:
            _fill_upper(fac, LhT, K, KT, z)
            _call5(ptrs[0], uplo, n_arr, fac, n_arr, info)
            if info[0] == 0:
                ok, steps[p], ritz = _lanczos(fac, S, HS, W, start, b, depth, tol, ptrs[1],
                                              uplo, n_arr, b_arr, info)
            if ok:
                backoff = 4
            else:
                skip = backoff
                backoff = min(2 * backoff, 64)
        else:
            skip -= 1
        if not ok:
            dense[p] = True
            _fill_upper(fac32, LhT, K, KT, z)
            _call23(ptrs[2], jobz, rng_i, uplo, n_arr, fac32, n_arr, fzero, fzero, il,
                    b_arr, fzero, m_out, w32, Z32, n_arr, isuppz, work, lwork, rwork,
                    lrwork, iwork, liwork, info)
            V = _orthonormal_rows(Z32.astype(np.complex128), S, 0)
            T = np.conj(V) @ _apply_h(V, Lh, K, Kh, z).T
            T = 0.5 * (T + np.conj(T.T))
            _, Y = np.linalg.eigh(T)
            ritz = np.ascontiguousarray(Y[:, ::-1].T) @ V  # lowest last
        u = ritz[b - 1]
        U[p] = u / np.sqrt(np.sum(u.real * u.real + u.imag * u.imag))
        start = _orthonormal_rows(ritz, S, 0)
    return U, dense, steps
