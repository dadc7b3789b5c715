r"""Pseudospectrum kernels: :math:`\tau(z) = \min_{g}\operatorname{res}(z, g)` at many points.

In the orthonormal basis of a :class:`~koop._spectral.factor.Pencil`,

.. math::
    \tau(z) = \sigma_{\min}\begin{pmatrix} K - zI \\ R_c \end{pmatrix}
    = \sqrt{\lambda_{\min}(H(z))},\qquad H(z) = L_h - zK^* - \bar zK + |z|^2 I.

``method="cholesky"`` (default) factors :math:`H(z) = R^*R` (one LAPACK ``potrf``,
:math:`r^3/3` flops, against the :math:`\sim 9r^3` of a generalized Hermitian
eigensolve), finds its smallest eigenvector by Lanczos on :math:`H(z)^{-1}` (a few
``potrs`` solves, started from the neighbouring point's vector). Where the low spectrum of
:math:`H(z)` is tightly packed Lanczos stalls; after 20 steps this point and the next few
take a dense standard eigensolve instead, in single precision for the lowest four
eigenvectors and a double-precision Rayleigh-Ritz step on their span (small pencils,
:math:`r \le 96`, always take a dense double-precision eigensolve). The method then evaluates
:math:`\tau` as the Rayleigh quotient in the rectangular form
:math:`\|(K - zI)u\|^2 + \|R_cu\|^2`, which does not cancel: the value is accurate to
second order in the eigenvector's error, even where :math:`H(z)` is numerically singular.
For a real pencil, :math:`\tau(\bar z) = \tau(z)`, so only one half-plane is computed.
``method="svd"`` takes the SVD of the :math:`2r\times r` matrix at every point (the
reference, several times slower).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from koop._spectral.factor import Pencil

__all__ = ["smallest_residuals"]

_METHODS = ("cholesky", "svd")
_MAX_STEPS = 20  # Lanczos steps before falling back to a dense eigensolve
_SMALL = 96  # below this size a dense double-precision eigensolve per point is cheapest
_SKIP = 4  # after a stall, points done densely before Lanczos is tried again (doubling)


def _rq(pencil: Pencil, z: complex, u: np.ndarray) -> float:
    top = pencil.K @ u - z * u
    bottom = pencil.Rc @ u
    num = np.vdot(top, top).real + np.vdot(bottom, bottom).real
    return float(np.sqrt(max(num, 0.0) / np.vdot(u, u).real))


def _svd_min(Mz: np.ndarray) -> tuple[float, np.ndarray]:
    _, s, Vh = scipy.linalg.svd(Mz, full_matrices=False)
    return float(s[-1]), Vh[-1].conj()


def _factor_h(H: np.ndarray) -> np.ndarray:
    """Cholesky factor of ``H``, shifting by a few ulps of its norm if it is singular."""
    (potrf,) = scipy.linalg.get_lapack_funcs(("potrf",), (H,))
    c, info = potrf(H, lower=False, clean=False, overwrite_a=False)
    if info == 0:
        return c
    scale = float(np.max(np.abs(np.diag(H)).real)) or 1.0
    shift = 1e-15 * scale * H.shape[0]
    for _ in range(8):
        Hs = H + shift * np.eye(H.shape[0])
        c, info = potrf(Hs, lower=False, clean=False)
        if info == 0:
            return c
        shift *= 100.0
    raise np.linalg.LinAlgError("H(z) could not be factored.")  # pragma: no cover


def _lanczos_min(c: np.ndarray, v0: np.ndarray, tol: float, max_steps: int
                 ) -> tuple[np.ndarray, bool]:
    """Smallest eigenvector of :math:`H = R^*R` (``c`` = R, upper) by Lanczos on
    :math:`H^{-1}` with full reorthogonalisation, started from ``v0``.

    Stops when the top Ritz pair of :math:`H^{-1}` has residual :math:`\beta_k|y_k|`
    below ``tol`` times its value; returns the Ritz vector and whether it converged.
    """
    (potrs,) = scipy.linalg.get_lapack_funcs(("potrs",), (c,))
    n = c.shape[0]
    steps = min(max_steps, n)
    Qm = np.empty((n, steps + 1), dtype=c.dtype)
    alpha = np.empty(steps)
    beta = np.empty(steps)
    Qm[:, 0] = v0 / np.linalg.norm(v0)
    y, k, ok = None, 0, False
    for k in range(steps):
        w, _ = potrs(c, Qm[:, k], lower=False)
        alpha[k] = np.vdot(Qm[:, k], w).real
        basis = Qm[:, : k + 1]
        w = w - basis @ (basis.conj().T @ w)
        w = w - basis @ (basis.conj().T @ w)  # twice is enough (Kahan)
        beta[k] = np.linalg.norm(w)
        last = k == steps - 1 or beta[k] == 0.0
        if k % 3 == 2 or last:
            T = np.diag(alpha[: k + 1]) + np.diag(beta[:k], 1) + np.diag(beta[:k], -1)
            vals, vecs = np.linalg.eigh(T)
            theta, y = vals[-1], vecs[:, -1]
            if beta[k] * abs(y[-1]) <= tol * theta or beta[k] == 0.0:
                ok = True
                break
        if last:
            break
        Qm[:, k + 1] = w / beta[k]
    if y is None or y.shape[0] != k + 1:  # pragma: no cover - defensive
        T = np.diag(alpha[: k + 1]) + np.diag(beta[:k], 1) + np.diag(beta[:k], -1)
        y = np.linalg.eigh(T)[1][:, -1]
    return Qm[:, : k + 1] @ y, ok


def _dense_min(H: np.ndarray) -> np.ndarray:
    """Smallest eigenvector of ``H`` by a dense eigensolve.

    Above ``_SMALL`` the eigensolve runs in single precision (half the cost) for the
    lowest few eigenvectors, followed by a Rayleigh-Ritz step in double precision on
    their span: the caller evaluates tau as the Rayleigh quotient of the result, whose
    error is quadratic in the vector's (about 1e-11 here against 1e-7 vectors).
    """
    r = H.shape[0]
    if r <= _SMALL:
        return scipy.linalg.eigh(H, subset_by_index=[0, 0], check_finite=False)[1][:, 0]
    low = np.complex64 if np.iscomplexobj(H) else np.float32
    b = min(4, r)
    V = scipy.linalg.eigh(H.astype(low), subset_by_index=[0, b - 1], driver="evr",
                          check_finite=False)[1]
    V = np.linalg.qr(V.astype(H.dtype))[0]
    T = V.conj().T @ (H @ V)
    return V @ np.linalg.eigh(0.5 * (T + T.conj().T))[1][:, 0]


def _block(pencil: Pencil, zs: np.ndarray, method: str, want_vectors: bool, tol: float,
           bar) -> tuple[np.ndarray, np.ndarray | None]:
    r = pencil.rank
    K, Kh, Lh = pencil.K, pencil.K.conj().T, pencil.L
    tau = np.empty(zs.shape[0])
    vecs = np.empty((r, zs.shape[0]), dtype=np.complex128) if want_vectors else None
    rng = np.random.default_rng(0)
    v = rng.standard_normal(r) + 1j * rng.standard_normal(r)
    diag = np.arange(r)
    skip = 0  # points left to do densely after Lanczos stalled (a packed low spectrum)
    backoff = _SKIP
    for i, z in enumerate(zs):
        if method == "svd":
            tau[i], u = _svd_min(np.vstack([K - z * np.eye(r), pencil.Rc]))
        else:
            H = Lh - z * Kh - np.conj(z) * K
            H[diag, diag] += abs(z) ** 2
            ok = False
            if skip == 0 and r > _SMALL:
                # start from the neighbour's vector, nudged so it is never deflated exactly
                start = v + 1e-3 * (rng.standard_normal(r) + 1j * rng.standard_normal(r)) / (
                    np.sqrt(r))
                u, ok = _lanczos_min(_factor_h(H), start, tol, max_steps=_MAX_STEPS)
                # stalls come in regions: wait longer after each one, reset on success
                skip, backoff = (backoff, min(2 * backoff, 64)) if not ok else (0, _SKIP)
            elif skip > 0:
                skip -= 1
            if not ok:
                u = _dense_min(H)
            u = u / np.linalg.norm(u)
            tau[i] = _rq(pencil, z, u)
            v = u
            if tau[i] < 1e-6 * np.sqrt(np.max(H[diag, diag].real)):
                # below sqrt(eps) the Cholesky vector is rounding noise: take the SVD
                tau[i], u = _svd_min(np.vstack([K - z * np.eye(r), pencil.Rc]))
        if want_vectors:
            vecs[:, i] = u
        if bar is not None:
            bar.update(1)
    return tau, vecs


def smallest_residuals(
    pencil: Pencil,
    z,
    *,
    method: str = "cholesky",
    vectors: bool = False,
    n_jobs: int | None = None,
    tol: float = 1e-8,
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    r""":math:`\tau(z)` (and the minimising coefficients) at every point of ``z``.

    Parameters
    ----------
    pencil : Pencil
    z : array-like of complex, shape (k,)
    method : {"cholesky", "svd"}
    vectors : bool
        Also return the :math:`\varepsilon`-pseudoeigenfunctions as dictionary coefficient
        vectors :math:`g = Qu` (unit :math:`L^2` norm on the data), shape (M, k).
    n_jobs : int, optional
        Threads working on contiguous blocks of points (LAPACK releases the GIL); BLAS
        itself runs single-threaded meanwhile. ``-1``: one per CPU.
    tol : float
        Relative residual at which Lanczos stops; :math:`\tau` itself is the Rayleigh
        quotient of the Ritz vector, accurate to second order in it.
    verbose : bool
        Progress bar.

    Returns
    -------
    tau : ndarray (k,)
    g : ndarray (M, k) or None
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")
    z = np.asarray(z, dtype=np.complex128).ravel()
    if z.size == 0:
        return np.empty(0), (np.empty((pencil.basis.shape[0], 0), complex) if vectors else None)
    if not np.isfinite(z).all():
        raise ValueError("z contains NaN or inf.")
    mirrored = np.zeros(z.shape, bool)
    canon = z
    if pencil.is_real:
        mirrored = z.imag < 0
        canon = np.where(mirrored, z.conj(), z)
    # grids are rarely exactly symmetric in floating point: merge points within ~1e-13
    scale = float(np.max(np.abs(canon))) or 1.0
    decimals = int(12 - np.floor(np.log10(scale)))
    key = np.round(canon.real, decimals) + 1j * np.round(canon.imag, decimals)
    uniq, inverse = np.unique(key, return_inverse=True)
    # walk the points row by row (constant imaginary part) so neighbours are adjacent
    order = np.lexsort((uniq.real, uniq.imag))
    todo = uniq[order]
    if n_jobs is not None and int(n_jobs) < 0:
        import os

        n_jobs = os.cpu_count() or 1
    n_jobs = 1 if n_jobs is None else max(int(n_jobs), 1)
    n_jobs = min(n_jobs, todo.size)
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=todo.size, desc="pseudospectrum", unit="pt")
    from threadpoolctl import threadpool_limits

    # per-point work is small LAPACK calls: threaded BLAS only adds contention there, so
    # BLAS runs single-threaded and the points are shared among n_jobs threads instead
    try:
        with threadpool_limits(1):
            if n_jobs == 1:
                tau_u, vec_u = _block(pencil, todo, method, vectors, tol, bar)
            else:
                from concurrent.futures import ThreadPoolExecutor

                parts = np.array_split(np.arange(todo.size), n_jobs)
                with ThreadPoolExecutor(n_jobs) as pool:
                    results = list(pool.map(
                        lambda idx: _block(pencil, todo[idx], method, vectors, tol, bar),
                        parts))
                tau_u = np.concatenate([t for t, _ in results])
                vec_u = np.hstack([v for _, v in results]) if vectors else None
    finally:
        if bar is not None:
            bar.close()
    back = np.empty_like(order)
    back[order] = np.arange(order.size)
    pos = back[inverse.ravel()]
    tau = tau_u[pos]
    if not vectors:
        return tau, None
    U = vec_u[:, pos]
    U[:, mirrored] = U[:, mirrored].conj()
    return tau, pencil.basis @ U
