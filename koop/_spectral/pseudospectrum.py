r"""Pseudospectrum kernels: :math:`\tau(z) = \min_{g}\operatorname{res}(z, g)` at many points.

In the orthonormal basis of a :class:`~koop._spectral.factor.Pencil`,

.. math::
    \tau(z) = \sigma_{\min}\begin{pmatrix} K - zI \\ R_c \end{pmatrix}
    = \sqrt{\lambda_{\min}(H(z))},\qquad H(z) = L_h - zK^* - \bar zK + |z|^2 I.

``method="cholesky"`` (default) walks the points along a snake path (row by row, back
and forth, so consecutive points are neighbours) in the nogil numba kernel
:func:`koop._kernels.lowest_eig.lowest_eigvecs`: per point it forms :math:`H(z)` in one
fused pass, factors :math:`H = R^*R` (one LAPACK ``zpotrf``, :math:`r^3/3` flops, against
the :math:`\sim 9r^3` of a generalized Hermitian eigensolve) and runs block Lanczos on
:math:`H^{-1}` started from the previous point's Ritz vectors. Where the low spectrum of
:math:`H(z)` is tightly packed (a dictionary approximating continuous spectrum) Lanczos
stalls; that point and the next few then take a dense single-precision eigensolve
(``cheevr``) for the four lowest eigenvectors and a double-precision Rayleigh-Ritz step
on their span. ``n_jobs`` threads work on disjoint stretches of the path in parallel
(the kernel calls LAPACK without the GIL). Small pencils (:math:`r \le 96`) take a dense
double-precision eigensolve per point in Python. Either way :math:`\tau` is then the
Rayleigh quotient in the rectangular form :math:`\|(K - zI)u\|^2 + \|R_cu\|^2`, which
does not cancel: the value is accurate to second order in the eigenvector's error; below
:math:`10^{-6}` of :math:`H`'s scale, where the eigenvector is rounding noise, the point
takes the SVD. For a real pencil, :math:`\tau(\bar z) = \tau(z)`, so only one
half-plane is computed. ``method="svd"`` takes the SVD of the :math:`2r\times r` matrix
at every point (the reference, several times slower).

``method="torch"`` is the batched form for a GPU (or torch on the CPU): a batch of points
forms its :math:`H(z)` stack at once, factors it by one batched Cholesky
(``torch.linalg.cholesky_ex``), builds a block Krylov space of :math:`H(z)^{-1}` (block
of 8, up to 10 steps: ``cholesky_solve`` and block Gram-Schmidt per step) and takes the
Rayleigh-Ritz step on the whole space.
A point is accepted when the bound :math:`\|r\|^2/\delta` of its Ritz value's error
(:math:`r` the eigen-residual, :math:`\delta` the gap to the next Ritz value) and the
Ritz value's change since the previous Rayleigh-Ritz step are both below ``tol`` times
the Ritz value; the rest (packed low spectra, a failed Cholesky) take a
batched dense ``eigh``, and points below :math:`10^{-6}` of :math:`H`'s scale the SVD,
as above. :math:`\tau` is again the rectangular Rayleigh quotient.
"""

from __future__ import annotations

import contextlib

import numpy as np
import scipy.linalg

from koop._spectral.factor import Pencil

__all__ = ["smallest_residuals"]

_METHODS = ("cholesky", "svd", "torch")
_SMALL = 96  # below this size a dense double-precision eigensolve per point is cheapest
_BLOCK = 4  # block size of the kernel's Lanczos and of its dense fallback
_DEPTH = 10  # block Lanczos steps before the kernel falls back to a dense solve


def _rq(pencil: Pencil, z: complex, u: np.ndarray) -> float:
    top = pencil.K @ u - z * u
    bottom = pencil.Rc @ u
    num = np.vdot(top, top).real + np.vdot(bottom, bottom).real
    return float(np.sqrt(max(num, 0.0) / np.vdot(u, u).real))


def _svd_min(Mz: np.ndarray) -> tuple[float, np.ndarray]:
    _, s, Vh = scipy.linalg.svd(Mz, full_matrices=False)
    return float(s[-1]), Vh[-1].conj()


def _dense_min(H: np.ndarray) -> np.ndarray:
    """Smallest eigenvector of a small ``H`` by a dense double-precision eigensolve."""
    return scipy.linalg.eigh(H, subset_by_index=[0, 0], check_finite=False)[1][:, 0]


def _block(pencil: Pencil, zs: np.ndarray, method: str, want_vectors: bool, tol: float,
           bar) -> tuple[np.ndarray, np.ndarray | None]:
    """Point by point in Python: the SVD reference, and small pencils (``r <= _SMALL``)."""
    r = pencil.rank
    K, Kh, Lh = pencil.K, pencil.K.conj().T, pencil.L
    tau = np.empty(zs.shape[0])
    vecs = np.empty((r, zs.shape[0]), dtype=np.complex128) if want_vectors else None
    diag = np.arange(r)
    for i, z in enumerate(zs):
        if method == "svd":
            tau[i], u = _svd_min(np.vstack([K - z * np.eye(r), pencil.Rc]))
        else:
            H = Lh - z * Kh - np.conj(z) * K
            H[diag, diag] += abs(z) ** 2
            u = _dense_min(H)
            tau[i] = _rq(pencil, z, u)
            if tau[i] < 1e-6 * np.sqrt(np.max(H[diag, diag].real)):
                # below sqrt(eps) the eigenvector is rounding noise: take the SVD
                tau[i], u = _svd_min(np.vstack([K - z * np.eye(r), pencil.Rc]))
        if want_vectors:
            vecs[:, i] = u
        if bar is not None:
            bar.update(1)
    return tau, vecs


def _svd_where_tiny(pencil: Pencil, zs: np.ndarray, tau: np.ndarray, U: np.ndarray) -> None:
    """In place: points whose tau is below sqrt(eps) of H(z)'s scale take the SVD.

    There the eigenvector of :math:`H(z)` is rounding noise, so the Rayleigh quotient is
    too; the SVD of the :math:`2r\times r` matrix is not.
    """
    K = np.asarray(pencil.K)
    hdiag = (np.real(np.diag(pencil.L))[:, None] - 2 * np.real(np.conj(zs) * np.diag(K)[:, None])
             + np.abs(zs) ** 2)
    eye = np.eye(pencil.rank)
    for i in np.flatnonzero(tau < 1e-6 * np.sqrt(np.max(hdiag, axis=0))):
        tau[i], U[:, i] = _svd_min(np.vstack([K - zs[i] * eye, pencil.Rc]))


def _path_kernel(pencil: Pencil, zs: np.ndarray, want_vectors: bool, tol: float, bar
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """``method="cholesky"`` for ``r > _SMALL``: the nogil numba kernel along the path."""
    from koop._kernels.lowest_eig import lapack_pointers, lowest_eigvecs

    r = pencil.rank
    K = np.ascontiguousarray(pencil.K, dtype=np.complex128)
    Lh = np.ascontiguousarray(pencil.L, dtype=np.complex128)
    rng = np.random.default_rng(0)
    V0 = rng.standard_normal((_BLOCK, r)) + 1j * rng.standard_normal((_BLOCK, r))
    U = lowest_eigvecs(K, Lh, np.ascontiguousarray(zs), V0, tol, _DEPTH,
                       lapack_pointers())[0].T
    # tau from the cancellation-free rectangular Rayleigh quotient, batched
    top = pencil.K @ U - U * zs
    bottom = pencil.Rc @ U
    tau = np.sqrt(np.sum(np.abs(top) ** 2, axis=0) + np.sum(np.abs(bottom) ** 2, axis=0))
    _svd_where_tiny(pencil, zs, tau, U)
    if bar is not None:
        bar.update(zs.size)
    return tau, (U if want_vectors else None)


_TORCH_BLOCK = 8  # block size of the batched block Krylov space of H(z)^{-1}
_TORCH_STEPS = 10  # its most steps (the space: at most 88 vectors, and fewer than r)
_TORCH_MIN_STEPS = 4  # steps before the first Rayleigh-Ritz test
_TORCH_BYTES = 2**28  # H(z) stacks per batch on the CPU (x16 on a GPU)


def _torch_batched(pencil: Pencil, zs: np.ndarray, want_vectors: bool, tol: float, bar,
                   device) -> tuple[np.ndarray, np.ndarray | None]:
    """``method="torch"``: batched Cholesky + block Krylov on a torch device."""
    from koop._backends.torch_backend import resolve_device

    dev = resolve_device(device)
    import torch

    c128 = torch.complex128
    r = pencil.rank
    K = torch.as_tensor(np.asarray(pencil.K, dtype=np.complex128), device=dev)
    Lh = torch.as_tensor(np.asarray(pencil.L, dtype=np.complex128), device=dev)
    Rc = torch.as_tensor(np.asarray(pencil.Rc, dtype=np.complex128), device=dev)
    Kh = K.conj().T
    eye = torch.eye(r, dtype=c128, device=dev)
    p = min(_TORCH_BLOCK, max(r // 4, 1))
    steps = max(1, min(_TORCH_STEPS, (r - p) // p - 1))
    gen = torch.Generator(device=dev).manual_seed(0)
    V0 = torch.randn(r, p, dtype=c128, device=dev, generator=gen)
    budget = _TORCH_BYTES * (16 if dev.type == "cuda" else 1)
    batch = max(1, budget // (3 * 16 * r * r))
    tau = np.empty(zs.size)
    U = np.empty((r, zs.size), dtype=np.complex128)
    for s in range(0, zs.size, batch):
        z = torch.as_tensor(zs[s : s + batch], device=dev)
        zb = z[:, None, None]
        H = Lh - zb * Kh - zb.conj() * K + (z.abs() ** 2)[:, None, None] * eye
        H = 0.5 * (H + H.mH)
        chol, info = torch.linalg.cholesky_ex(H)
        chol[info != 0] = eye  # no Cholesky (H singular to rounding): the dense eigh below
        Q = torch.linalg.qr(V0.expand(z.shape[0], r, p)).Q
        rq_last = torch.full((z.shape[0],), float("inf"), dtype=torch.float64, device=dev)
        last = Q
        for step in range(1, steps + 1):  # block Krylov space of H^{-1}, orthonormal
            W = torch.cholesky_solve(last, chol)
            for _ in range(2):  # block Gram-Schmidt, twice, then again after normalising:
                W = W - Q @ (Q.mH @ W)  # a block that (nearly) vanished (an invariant
            W = torch.linalg.qr(W).Q  # subspace found) is rounding noise until then
            last = torch.linalg.qr(W - Q @ (Q.mH @ W)).Q
            Q = torch.cat([Q, last], dim=2)
            if step < min(_TORCH_MIN_STEPS, steps) - 1:  # two tests at least: the change
                continue
            T = Q.mH @ (H @ Q)  # Rayleigh-Ritz on the whole space
            theta, S = torch.linalg.eigh(0.5 * (T + T.mH))
            u = Q @ S[:, :, :1]
            u = u / torch.linalg.vector_norm(u, dim=1, keepdim=True)
            Hu = H @ u
            rq = (u.mH @ Hu)[:, 0, 0].real
            res = torch.linalg.vector_norm((Hu - rq[:, None, None] * u)[..., 0], dim=1)
            # accepted: the residual bound res^2/gap and the change since the last
            # Rayleigh-Ritz step both below tol relative to the Ritz value
            ok = (info == 0) & torch.isfinite(res) & (
                res**2 <= tol * rq.clamp(min=0) * (theta[:, 1] - theta[:, 0])) & (
                (rq_last - rq).abs() <= tol * rq.abs())
            rq_last = rq
            if bool(ok.all()):
                break
        u = u[..., 0]
        redo = torch.nonzero(~ok).flatten()
        if redo.numel():  # packed low spectrum or no Cholesky: a dense eigensolve there
            u[redo] = torch.linalg.eigh(H[redo]).eigenvectors[:, :, 0]
        top = u @ K.T - z[:, None] * u
        bottom = u @ Rc.T
        t = torch.sqrt((top.abs() ** 2).sum(1) + (bottom.abs() ** 2).sum(1))
        tau[s : s + z.shape[0]] = t.cpu().numpy()
        U[:, s : s + z.shape[0]] = u.T.cpu().numpy()
        if bar is not None:
            bar.update(int(z.shape[0]))
    _svd_where_tiny(pencil, zs, tau, U)
    return tau, (U if want_vectors else None)


def smallest_residuals(
    pencil: Pencil,
    z,
    *,
    method: str = "cholesky",
    vectors: bool = False,
    n_jobs: int | None = None,
    tol: float = 1e-8,
    verbose: bool = False,
    device=None,
) -> tuple[np.ndarray, np.ndarray | None]:
    r""":math:`\tau(z)` (and the minimising coefficients) at every point of ``z``.

    Parameters
    ----------
    pencil : Pencil
    z : array-like of complex, shape (k,)
    method : {"cholesky", "svd", "torch"}
        ``"torch"``: batched on a torch device (see the module docstring).
    vectors : bool
        Also return the :math:`\varepsilon`-pseudoeigenfunctions as dictionary coefficient
        vectors :math:`g = Qu` (unit :math:`L^2` norm on the data), shape (M, k).
    n_jobs : int, optional
        Threads working on contiguous stretches of the path (the kernel calls LAPACK
        without the GIL); BLAS itself runs single-threaded meanwhile. ``-1``: one per CPU.
    tol : float
        Relative change of the lowest Ritz value between block Lanczos steps at which the
        iteration stops (``r > 96``); :math:`\tau` itself is the Rayleigh quotient of the
        Ritz vector, accurate to second order in it.
    verbose : bool
        Progress bar.
    device : str or torch.device, optional
        ``method="torch"`` only: where to compute (default: CUDA when available, else
        the CPU).

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
    # and back (a snake path), so that consecutive points are always close
    order = np.lexsort((uniq.real, uniq.imag))
    rows = np.unique(uniq.imag[order], return_inverse=True)[1]
    for row in range(1, int(rows.max(initial=0)) + 1, 2):
        sel = np.flatnonzero(rows == row)
        order[sel] = order[sel][::-1]
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
    work = _block
    from numba import config

    # the kernel calls LAPACK through compiled-only intrinsics: not under NUMBA_DISABLE_JIT
    if method == "cholesky" and pencil.rank > _SMALL and not config.DISABLE_JIT:
        def work(pencil, zs, method, vectors, tol, bar):
            return _path_kernel(pencil, zs, vectors, tol, bar)
    elif method == "cholesky":
        n_jobs = 1  # small per-point Python work: threads only contend for the GIL
    if method == "torch":
        n_jobs = 1  # one batched stream of points; torch uses its own threads

        def work(pencil, zs, method, vectors, tol, bar):
            return _torch_batched(pencil, zs, vectors, tol, bar, device)
    elif device is not None:
        raise ValueError("device is for method='torch' only.")
    try:
        with threadpool_limits(1) if method != "torch" else contextlib.nullcontext():
            if n_jobs == 1:
                tau_u, vec_u = work(pencil, todo, method, vectors, tol, bar)
            else:
                from concurrent.futures import ThreadPoolExecutor

                parts = np.array_split(np.arange(todo.size), n_jobs)
                with ThreadPoolExecutor(n_jobs) as pool:
                    results = list(pool.map(
                        lambda idx: work(pencil, todo[idx], method, vectors, tol, bar),
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
