r"""numba kernels that evaluate a dictionary on a chunk of samples, with numpy twins.

Every kernel writes :math:`\Psi` for the rows of ``X`` into a preallocated float64
C-contiguous ``out`` of shape ``(n_rows, M)`` and allocates nothing. Rows are
independent, so the caller may split them over threads and the result does not depend
on the number of threads. Each kernel ``<name>`` has a twin ``<name>_twin`` in plain numpy
that returns the same array: the twin is the readable specification, and the tests
compare the two.

Inputs are float64 and C-contiguous (the caller converts each chunk once); parameters
are plain arrays and scalars, never callables (those defeat numba's cache).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from koop._kernels.vexp import vexp

__all__ = [
    "identity",
    "identity_twin",
    "polynomial",
    "polynomial_twin",
    "rbf_gaussian",
    "rbf_gaussian_twin",
    "rbf_thinplate",
    "rbf_thinplate_twin",
    "fourier",
    "fourier_twin",
    "delay",
    "delay_twin",
    "delay_windows",
]

# Serial, GIL-free and cached: the callers run them on chunks in several threads.
# numba's own ``parallel=True`` was measured 100-1000x slower per call on a loaded
# machine (OpenMP workers spin-wait against BLAS's), and serial kernels also cache
# safely whatever the thread count (pynndescent#175). ``prange`` documents that the
# row loop is embarrassingly parallel; without ``parallel=True`` it is a plain range.
_jit = njit(cache=True, nogil=True)


# -- identity: psi(x) = x ---------------------------------------------------------------
@_jit
def identity(X, out):
    n, d = X.shape
    for i in prange(n):
        for j in range(d):
            out[i, j] = X[i, j]


def identity_twin(X):
    return np.array(X, dtype=np.float64)


# -- polynomial: column k = column parent[k] times x[var[k]] ----------------------------
@_jit
def polynomial(X, parent, var, out):
    n = X.shape[0]
    M = parent.shape[0]
    for i in prange(n):
        for k in range(M):
            v = var[k]
            if v < 0:
                out[i, k] = 1.0
            elif parent[k] < 0:
                out[i, k] = X[i, v]
            else:
                out[i, k] = out[i, parent[k]] * X[i, v]


def polynomial_twin(X, parent, var):
    out = np.empty((X.shape[0], parent.shape[0]))
    for k, (p, v) in enumerate(zip(parent, var, strict=True)):
        out[:, k] = 1.0 if v < 0 else (X[:, v] if p < 0 else out[:, p] * X[:, v])
    return out


# -- radial basis functions --------------------------------------------------------------
@njit(inline="always", cache=True)
def _squared_distances_row(X, i, centers_t, row):
    # sum over features outermost, so that the loop over centers is contiguous and SIMD
    d, K = centers_t.shape
    for k in range(K):
        row[k] = 0.0
    for j in range(d):
        xj = X[i, j]
        for k in range(K):
            t = xj - centers_t[j, k]
            row[k] += t * t


def _squared_distances_twin(X, centers):
    d2 = np.zeros((X.shape[0], centers.shape[0]))
    for j in range(X.shape[1]):
        d2 += (X[:, j, None] - centers[None, :, j]) ** 2
    return d2


@_jit
def rbf_gaussian(X, centers_t, gamma, out):
    """``out[i, k] = exp(-gamma * |X[i] - C[k]|^2)``; ``centers_t`` is ``C.T`` (d, K)."""
    n = X.shape[0]
    K = centers_t.shape[1]
    for i in prange(n):
        row = out[i]
        _squared_distances_row(X, i, centers_t, row)
        for k in range(K):
            row[k] = vexp(-gamma * row[k])


def rbf_gaussian_twin(X, centers, gamma):
    return np.exp(-gamma * _squared_distances_twin(X, centers))


@_jit
def rbf_thinplate(X, centers_t, inv_width2, out):
    """``r2 = |X[i] - C[k]|^2 * inv_width2``; ``out = r2 log(r2) / 2`` (0 where r2 = 0)."""
    n = X.shape[0]
    K = centers_t.shape[1]
    for i in prange(n):
        row = out[i]
        _squared_distances_row(X, i, centers_t, row)
        for k in range(K):
            r2 = row[k] * inv_width2
            row[k] = 0.5 * r2 * math.log(r2) if r2 > 0.0 else 0.0


def rbf_thinplate_twin(X, centers, inv_width2):
    r2 = _squared_distances_twin(X, centers) * inv_width2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 0.5 * r2 * np.log(r2)
    out[r2 == 0] = 0.0
    return out


# -- random Fourier features: (s cos(X omega), s sin(X omega)) ----------------------------
@_jit
def fourier(X, omega, scale, out):
    n, d = X.shape
    D = omega.shape[1]
    for i in prange(n):
        for k in range(D):
            out[i, k] = 0.0
        for j in range(d):
            xj = X[i, j]
            for k in range(D):
                out[i, k] += xj * omega[j, k]
        for k in range(D):
            phase = out[i, k]
            out[i, D + k] = scale * math.sin(phase)
            out[i, k] = scale * math.cos(phase)


def fourier_twin(X, omega, scale):
    phase = np.zeros((X.shape[0], omega.shape[1]))
    for j in range(X.shape[1]):  # same summation order as the kernel
        phase += X[:, j, None] * omega[None, j, :]
    return np.hstack([scale * np.cos(phase), scale * np.sin(phase)])


# -- time delays: row i holds sample i + n_lags and its past ------------------------------
@_jit
def delay(X, n_delays, stride, out):
    n_rows = out.shape[0]
    d = X.shape[1]
    n_lags = n_delays * stride
    for i in prange(n_rows):
        for lag in range(n_delays + 1):
            src = i + n_lags - lag * stride
            for j in range(d):
                out[i, lag * d + j] = X[src, j]


def delay_windows(x, n_delays: int, stride: int = 1) -> np.ndarray:
    r"""The delay windows of a series, newest sample first: the one delay embedding of koop.

    Window ``i`` ends at sample ``i + n_lags`` (:math:`n_\ell = qs`):
    ``windows[i, lag, j] = x[i + n_lags - lag * stride, j]``, i.e. the rows
    :math:`(x_t, x_{t-s}, \dots, x_{t-qs})` of :class:`~koop.dictionaries.TimeDelay`,
    Hankel DMD and HAVOK. A read-only strided view (no copy) of shape
    ``(n - n_lags, n_delays + 1, d)``; ``windows.reshape(len(windows), -1)`` gives the
    delay-major vectors ``x0(t), x1(t), ..., x0(t-s), ...``. Public as
    :func:`koop.dictionaries.delay_windows`.

    Examples
    --------
    >>> import numpy as np
    >>> delay_windows(np.arange(6.0), 2, stride=2)[:, :, 0].tolist()
    [[4.0, 2.0, 0.0], [5.0, 3.0, 1.0]]
    """
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    n_lags = int(n_delays) * int(stride)
    win = np.lib.stride_tricks.sliding_window_view(x, n_lags + 1, axis=0)
    # (n - n_lags, d, n_lags + 1), oldest first along the last axis: newest first, strided
    return np.moveaxis(win[:, :, ::-1][:, :, :: int(stride)], 2, 1)


def delay_twin(X, n_delays, stride):
    n_rows = X.shape[0] - n_delays * stride
    return np.asarray(delay_windows(X, n_delays, stride).reshape(n_rows, -1),
                      dtype=np.float64)
