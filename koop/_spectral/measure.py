r"""Spectral measures of measure-preserving (isometric) Koopman operators.

For an isometry :math:`K` and an observable :math:`f`, the spectral measure
:math:`\nu_f` on :math:`[-\pi, \pi)` has moments
:math:`\hat\nu_f(k) = \frac{1}{2\pi}\langle K^k f, f\rangle` (the autocorrelations).

* Resolvent method (Colbrook & Townsend 2024): convolve :math:`\nu_f` with an
  :math:`m`-th order rational kernel built from resolvents at the poles
  :math:`\lambda_j = e^{i\theta}(1 + \varepsilon\delta_j)`,
  :math:`\delta_j = 1 + i(2j/(m+1) - 1)`, outside the unit disc:

  .. math::
      \nu_f^\varepsilon(\theta) = -\frac{1}{2\pi}\sum_{j=1}^m \operatorname{Re}\Big[
      c_j\bar\lambda_j\,\overline{\langle (K - \lambda_j)^{-1}f, f\rangle}
      + d_j\langle K(K - \lambda_j)^{-1}f, f\rangle\Big],

  with :math:`c, d` from the Vandermonde conditions
  :math:`\sum_j c_j\sigma_j^k = \sum_j d_j\delta_j^k = \delta_{k0}` (:math:`k < m`,
  :math:`\sigma_j = -\bar\delta_j/(1 + \varepsilon\bar\delta_j)`). For :math:`m = 1` this
  is the Poisson kernel. The error is :math:`O(\varepsilon^m\log(1/\varepsilon))` where
  the density is smooth. One Schur factorisation, then one triangular solve per pole.
* Moment method: :math:`\nu_N(\theta) = \sum_{|k|\le N}\varphi(|k|/N)\,\hat\nu(k)e^{-ik\theta}`
  (here :math:`\hat\nu(-k) = \overline{\hat\nu(k)}` and the density is
  :math:`\sum_k \overline{\hat\nu(k)}e^{ik\theta}`) with a filter :math:`\varphi`, the
  moments estimated from one trajectory by ergodic averages.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.signal

__all__ = ["kernel_coefficients", "resolvent_measure", "ergodic_moments", "moment_measure",
           "FILTERS"]


def _bump(x):
    x = np.abs(x)
    out = np.zeros_like(x, dtype=float)
    inside = (x > 0) & (x < 1)
    xi = x[inside]
    out[inside] = np.exp(-2.0 / (1.0 - xi) * np.exp(-0.109550455106347 / xi**4))
    out[x == 0] = 1.0
    return out


def _cosine(x):
    return 0.5 * (1.0 + np.cos(np.pi * np.abs(x)))


FILTERS = {
    "fejer": lambda x: 1.0 - np.abs(x),
    "cosine": _cosine,
    "vandeven": lambda x: 1.0 - x**4 * (-20 * np.abs(x) ** 3 + 70 * x**2 - 84 * np.abs(x) + 35),
    "sharp_cosine": lambda x: _cosine(x) ** 4 * (
        35 - 84 * _cosine(x) + 70 * _cosine(x) ** 2 - 20 * _cosine(x) ** 3),
    "bump": _bump,
}


def kernel_coefficients(order: int, epsilon: float):
    r"""Poles :math:`\delta_j` and weights :math:`c_j, d_j` of the order-``order`` kernel."""
    m = int(order)
    j = np.arange(1, m + 1)
    delta = 1.0 + 1j * (2.0 * j / (m + 1) - 1.0)
    sigma = -np.conj(delta) / (1.0 + epsilon * np.conj(delta))
    rhs = np.zeros(m, dtype=complex)
    rhs[0] = 1.0
    powers = np.arange(m)
    c = np.linalg.solve(sigma[None, :] ** powers[:, None], rhs)
    d = np.linalg.solve(delta[None, :] ** powers[:, None], rhs)
    return delta, c, d


def resolvent_measure(K: np.ndarray, f: np.ndarray, theta: np.ndarray, epsilon: float,
                      order: int = 2) -> np.ndarray:
    r"""Smoothed measure :math:`\nu_f^\varepsilon(\theta)` from the Galerkin matrix.

    Parameters
    ----------
    K : ndarray (r, r)
        :math:`\langle Kh_j, h_i\rangle` in an orthonormal basis :math:`h`.
    f : ndarray (r,)
        The observable's coordinates in that basis.
    theta : ndarray
        Angles in :math:`[-\pi, \pi]`.
    epsilon : float
        Smoothing parameter (distance of the poles from the circle).
    order : int
        Kernel order :math:`m`.
    """
    theta = np.asarray(theta, dtype=float)
    delta, c, d = kernel_coefficients(order, epsilon)
    S, Z = scipy.linalg.schur(np.asarray(K, dtype=np.complex128), output="complex")
    u = Z.conj().T @ np.asarray(f, dtype=np.complex128)
    v = S.conj().T @ u
    nu = np.zeros(theta.shape)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # many small triangular solves: threaded BLAS only contends
        _accumulate_measure(nu, theta, delta, c, d, S, u, v, epsilon)
    return nu


def _accumulate_measure(nu, theta, delta, c, d, S, u, v, epsilon) -> None:
    eye = np.eye(S.shape[0])
    for idx, th in np.ndenumerate(theta):
        total = 0.0
        for j in range(delta.size):
            lam = np.exp(1j * th) * (1.0 + epsilon * delta[j])
            y = scipy.linalg.solve_triangular(S - lam * eye, u, check_finite=False)
            x1 = np.vdot(u, y)  # <(K - lam)^{-1} f, f>
            x2 = np.vdot(v, y)  # <K (K - lam)^{-1} f, f>
            total += np.real(c[j] * np.conj(lam) * np.conj(x1) + d[j] * x2)
        nu[idx] = -total / (2.0 * np.pi)


def ergodic_moments(x: np.ndarray, n_moments: int) -> np.ndarray:
    r""":math:`\hat\nu(k) = \frac{1}{2\pi(N-k)}\sum_{j} x_{j+k}\bar x_j`, :math:`k=0..n`."""
    x = np.asarray(x).ravel()
    N = x.shape[0]
    if n_moments >= N:
        raise ValueError(f"n_moments={n_moments} needs more than {N} samples.")
    corr = scipy.signal.fftconvolve(x, np.conj(x[::-1]), mode="full")[N - 1 : N + n_moments]
    return corr / (2.0 * np.pi * (N - np.arange(n_moments + 1)))


def moment_measure(moments: np.ndarray, theta: np.ndarray, filter: str = "bump") -> np.ndarray:
    r"""Filtered Fourier series of the measure from moments :math:`\hat\nu(0..N)`.

    The end coefficients (:math:`|k| = N`) are zero for every filter.
    """
    if filter not in FILTERS:
        raise ValueError(f"filter must be one of {sorted(FILTERS)}, got {filter!r}.")
    mu = np.asarray(moments, dtype=np.complex128).ravel()
    N = mu.shape[0] - 1
    if N < 1:
        raise ValueError("At least two moments (k = 0, 1) are needed.")
    k = np.arange(N + 1)
    weights = FILTERS[filter](k / N) * mu
    weights[-1] = 0.0
    theta = np.asarray(theta, dtype=float)
    # density sum_k conj(nu_k) e^{ik theta} with nu_{-k} = conj(nu_k): atoms of K f = e^{iw} f
    # sit at theta = +w
    phase = np.exp(-1j * np.multiply.outer(theta, k[1:]))
    series = weights[0].real + 2.0 * np.real(phase @ weights[1:])
    return np.asarray(series)


def observable_vector(observable, M: int) -> np.ndarray:
    """Dictionary coefficients ``c`` of an observable ``f = Psi c`` given as coefficients
    or as the index of one dictionary function; validated (shape, numbers, finite)."""
    if isinstance(observable, int | np.integer) and not isinstance(observable, bool):
        if not 0 <= observable < M:
            raise ValueError(f"observable index must be in [0, {M}), got {observable}.")
        c = np.zeros(M)
        c[observable] = 1.0
        return c
    c = np.asarray(observable)
    if c.shape != (M,):
        raise ValueError(f"observable must be {M} dictionary coefficients or an index, "
                         f"got shape {c.shape}.")
    if c.dtype.kind not in "biufc":
        raise TypeError(f"observable coefficients must be numbers, got dtype {c.dtype}.")
    if not np.isfinite(c).all():
        raise ValueError("observable coefficients contain NaN or inf.")
    return c
