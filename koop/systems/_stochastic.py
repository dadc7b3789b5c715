r"""Stochastic systems with known spectra: Ornstein–Uhlenbeck and the Prinz potential.

* :func:`ornstein_uhlenbeck`: :math:`dX = -\Theta X\,dt + \Sigma\,dW` with diagonal
  :math:`\Theta, \Sigma` in any dimension. Its transition is Gaussian, so trajectories are
  sampled *exactly* (no integration step): the Koopman eigenvalues over the sampling
  interval are exactly :math:`e^{-(k\cdot\theta)\Delta t}` for the data too
  (:func:`ornstein_uhlenbeck_spectrum`), with Hermite eigenfunctions
  (:func:`ornstein_uhlenbeck_eigenfunctions`).
* :func:`prinz_potential`: an overdamped Langevin particle in the four-well potential of
  Prinz et al. (2011) as deeptime and kooplearn define it, integrated by Euler–Maruyama
  with step ``step``; its reference spectrum (:func:`prinz_potential_spectrum`) comes from
  a fine-grid discretisation of the generator, with a convergence estimate.

Randomness only through ``random_state``; ``x0=None`` draws the first state from the
stationary distribution, so trajectories are stationary from their first sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import scipy.linalg
from numpy.polynomial import hermite_e
from sklearn.utils import check_random_state

from koop.systems._common import check_dt, check_steps

__all__ = [
    "ornstein_uhlenbeck",
    "ornstein_uhlenbeck_spectrum",
    "ornstein_uhlenbeck_eigenfunctions",
    "ornstein_uhlenbeck_successors",
    "prinz_potential",
    "prinz_potential_energy",
    "prinz_potential_spectrum",
    "LangevinSpectrum",
]


# -- Ornstein-Uhlenbeck ----------------------------------------------------------------
def _ou_parameters(theta: Any, sigma: Any) -> tuple[np.ndarray, np.ndarray]:
    th = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    sg = np.atleast_1d(np.asarray(sigma, dtype=np.float64))
    if th.ndim != 1 or sg.ndim != 1:
        raise ValueError("theta and sigma must be numbers or 1-D sequences (one per "
                         "coordinate).")
    try:
        th, sg = np.broadcast_arrays(th, sg)
    except ValueError:
        raise ValueError(f"theta has {th.size} entries but sigma has {sg.size}; give one "
                         "per coordinate or a single number.") from None
    if not (np.isfinite(th).all() and (th > 0).all()):
        raise ValueError(f"theta must be positive and finite (a mean-reverting process), "
                         f"got {theta!r}.")
    if not (np.isfinite(sg).all() and (sg > 0).all()):
        raise ValueError(f"sigma must be positive and finite, got {sigma!r}.")
    return th.copy(), sg.copy()


def _ou_transition(theta: np.ndarray, sigma: np.ndarray, dt: float):
    a = np.exp(-theta * dt)
    s = sigma * np.sqrt(-np.expm1(-2.0 * theta * dt) / (2.0 * theta))
    return a, s


def ornstein_uhlenbeck(n_steps: int, dt: float = 0.1, x0: Any = None,
                       random_state: Any = None, theta: Any = 1.0,
                       sigma: Any = math.sqrt(2.0)) -> np.ndarray:
    r"""Ornstein–Uhlenbeck process :math:`dX_i = -\theta_i X_i\,dt + \sigma_i\,dW_i`.

    Sampled exactly: :math:`x_{n+1} = e^{-\theta\Delta t} x_n + \sigma
    \sqrt{(1 - e^{-2\theta\Delta t})/(2\theta)}\,\xi_n` with standard normal
    :math:`\xi_n` (the transition of the SDE is Gaussian, so there is no integration
    error). The stationary law is :math:`\mathcal N(0, \sigma_i^2/(2\theta_i))` per
    coordinate; the defaults make it the standard normal.

    Parameters
    ----------
    n_steps : int
        Number of samples.
    dt : float, default=0.1
        Sampling interval (the Koopman lag :math:`\tau`).
    x0 : array-like, optional
        First state; default: a draw from the stationary distribution.
    random_state : int, RandomState or None
        Seed for the noise (and for ``x0`` when it is drawn).
    theta, sigma : float or sequence of float
        Mean-reversion rates and noise amplitudes, one per coordinate (or one for all);
        their length sets the dimension (``theta=(1.0, 2.0)``: a 2-D process).

    Returns
    -------
    ndarray of shape (n_steps, n_features)

    Examples
    --------
    >>> X = ornstein_uhlenbeck(20000, dt=0.1, random_state=0)
    >>> X.shape, bool(abs(X.var() - 1.0) < 0.1)
    ((20000, 1), True)
    """
    n_steps = check_steps(n_steps)
    dt = check_dt(dt)
    th, sg = _ou_parameters(theta, sigma)
    d = th.size
    rng = check_random_state(random_state)
    std = sg / np.sqrt(2.0 * th)
    if x0 is None:
        x = std * rng.standard_normal(d)
    else:
        x = np.asarray(x0, dtype=np.float64).ravel()
        if x.shape != (d,) or not np.isfinite(x).all():
            raise ValueError(f"x0 must be {d} finite number(s), got {x0!r}.")
    a, s = _ou_transition(th, sg, dt)
    noise = rng.standard_normal((n_steps - 1, d)) * s
    out = np.empty((n_steps, d))
    out[0] = x
    for n in range(1, n_steps):
        x = a * x + noise[n - 1]
        out[n] = x
    return out


def ornstein_uhlenbeck_successors(X: Any, n_successors: int = 2, dt: float = 0.1,
                                  random_state: Any = None, theta: Any = 1.0,
                                  sigma: Any = math.sqrt(2.0)) -> np.ndarray:
    r"""Independent one-step successors of every state: batched snapshots.

    For each row :math:`x_m` of ``X``, draws ``n_successors`` independent samples of
    :math:`X_{\Delta t}` given :math:`X_0 = x_m` (exact Gaussian transition). This is the
    data the variance-aware residual of Colbrook, Li, Raut & Townsend needs
    (:func:`koop.validation.variance_residuals`).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_successors : int, default=2
    dt, random_state, theta, sigma
        As in :func:`ornstein_uhlenbeck`.

    Returns
    -------
    ndarray of shape (n_successors, n_samples, n_features)

    Examples
    --------
    >>> X = ornstein_uhlenbeck(5, random_state=0)
    >>> ornstein_uhlenbeck_successors(X, 3, random_state=1).shape
    (3, 5, 1)
    """
    th, sg = _ou_parameters(theta, sigma)
    dt = check_dt(dt)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1 and th.size == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2 or X.shape[1] != th.size or not np.isfinite(X).all():
        raise ValueError(f"X must be a finite array (n_samples, {th.size}), got shape "
                         f"{np.shape(X)}.")
    if isinstance(n_successors, bool) or not isinstance(n_successors, int | np.integer) or (
            n_successors < 1):
        raise ValueError(f"n_successors must be a positive int, got {n_successors!r}.")
    rng = check_random_state(random_state)
    a, s = _ou_transition(th, sg, dt)
    return a * X[None] + s * rng.standard_normal((int(n_successors), *X.shape))


def _ou_multi_indices(theta: np.ndarray, n: int) -> list[tuple[int, ...]]:
    """The ``n`` multi-indices k with the smallest decay rate k·theta (ties: lexicographic)."""
    d = theta.size
    kmax = n  # k·theta <= the n-th smallest rate needs |k|_inf <= n
    if d == 1:
        return [(k,) for k in range(n)]
    cands = []
    limit = None
    for total in range(n * d + 1):
        # enumerate by total degree until the smallest rates are certainly found
        for k in product(range(min(total, kmax) + 1), repeat=d):
            if sum(k) == total:
                cands.append(k)
        if len(cands) >= n:
            rates = sorted(float(np.dot(k, theta)) for k in cands)
            limit = rates[n - 1]
            if total * theta.min() > limit:
                break
    cands.sort(key=lambda k: (float(np.dot(k, theta)), k))
    return cands[:n]


def ornstein_uhlenbeck_spectrum(n_eigenvalues: int, dt: float = 0.1,
                                theta: Any = 1.0) -> np.ndarray:
    r"""The exact leading Koopman eigenvalues :math:`e^{-(k\cdot\theta)\Delta t}`.

    The generator :math:`\mathcal L f = \sum_i(-\theta_i x_i\partial_i f +
    \tfrac{\sigma_i^2}{2}\partial_i^2 f)` has eigenvalues :math:`-k\cdot\theta`,
    :math:`k \in \mathbb N^d`, independent of :math:`\sigma`.

    Parameters
    ----------
    n_eigenvalues : int
    dt : float, default=0.1
    theta : float or sequence

    Returns
    -------
    ndarray of shape (n_eigenvalues,)
        Sorted descending (ties in the order of
        :func:`ornstein_uhlenbeck_eigenfunctions`).

    Examples
    --------
    >>> import numpy as np
    >>> np.round(ornstein_uhlenbeck_spectrum(3, dt=0.5, theta=1.0), 6).tolist()
    [1.0, 0.606531, 0.367879]
    """
    n = check_steps(n_eigenvalues)
    dt = check_dt(dt)
    th, _ = _ou_parameters(theta, 1.0)
    ks = _ou_multi_indices(th, n)
    return np.exp(-dt * np.array([np.dot(k, th) for k in ks], dtype=np.float64))


def ornstein_uhlenbeck_eigenfunctions(X: Any, n_eigenfunctions: int, theta: Any = 1.0,
                                      sigma: Any = math.sqrt(2.0)) -> np.ndarray:
    r"""Exact eigenfunctions: products of normalised probabilists' Hermite polynomials.

    :math:`\phi_k(x) = \prod_i \mathrm{He}_{k_i}(z_i)/\sqrt{k_i!}` with
    :math:`z_i = x_i\sqrt{2\theta_i}/\sigma_i`; unit norm in :math:`L^2` of the stationary
    law, in the order of :func:`ornstein_uhlenbeck_spectrum`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_eigenfunctions : int
    theta, sigma : float or sequence

    Returns
    -------
    ndarray of shape (n_samples, n_eigenfunctions)

    Examples
    --------
    >>> import numpy as np
    >>> ornstein_uhlenbeck_eigenfunctions(np.array([[0.0], [1.0]]), 3).round(6).tolist()
    [[1.0, 0.0, -0.707107], [1.0, 1.0, 0.0]]
    """
    n = check_steps(n_eigenfunctions)
    th, sg = _ou_parameters(theta, sigma)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1 and th.size == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2 or X.shape[1] != th.size:
        raise ValueError(f"X must have shape (n_samples, {th.size}), got {np.shape(X)}.")
    Z = X * np.sqrt(2.0 * th) / sg
    ks = _ou_multi_indices(th, n)
    top = max(max(k) for k in ks)
    # He_j(z)/sqrt(j!) for every coordinate and degree
    H = np.empty((top + 1, *Z.shape))
    for j in range(top + 1):
        c = np.zeros(j + 1)
        c[j] = 1.0
        H[j] = hermite_e.hermeval(Z, c) / math.sqrt(math.factorial(j))
    out = np.ones((X.shape[0], n))
    for col, k in enumerate(ks):
        for i, ki in enumerate(k):
            out[:, col] *= H[ki][:, i]
    return out


# -- Prinz potential --------------------------------------------------------------------
# V(x) = 4 (x^8 + 0.8 e^{-80 x^2} + 0.2 e^{-80 (x-0.5)^2} + 0.5 e^{-40 (x+0.5)^2})
_PRINZ_POLY = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0])
_PRINZ_AMP = np.array([3.2, 0.8, 2.0])
_PRINZ_RATE = np.array([80.0, 80.0, 40.0])
_PRINZ_CENTER = np.array([0.0, 0.5, -0.5])


def prinz_potential_energy(x: Any) -> np.ndarray:
    r"""The Prinz potential :math:`V(x) = 4(x^8 + 0.8e^{-80x^2} + 0.2e^{-80(x-0.5)^2}
    + 0.5e^{-40(x+0.5)^2})`.

    Examples
    --------
    >>> round(float(prinz_potential_energy(0.0)), 6)
    3.200091
    """
    x = np.asarray(x, dtype=np.float64)
    out = 4.0 * x**8
    for a, r, c in zip(_PRINZ_AMP, _PRINZ_RATE, _PRINZ_CENTER, strict=True):
        out = out + a * np.exp(-r * (x - c) ** 2)
    return out


def _check_positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer |
                                                  np.floating):
        raise TypeError(f"{name} must be a positive number, got {value!r}.")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be positive and finite, got {value}.")
    return float(value)


@dataclass(frozen=True)
class LangevinSpectrum:
    r"""Reference spectrum of a 1-D overdamped Langevin generator on a fine grid.

    Attributes
    ----------
    eigenvalues : ndarray (k,)
        Koopman eigenvalues :math:`e^{\mu_j\Delta t}` over the lag, descending.
    rates : ndarray (k,)
        Generator eigenvalues :math:`\mu_j \le 0`, descending.
    grid : ndarray (n_grid,)
    eigenfunctions : ndarray (n_grid, k)
        Koopman eigenfunctions on the grid, unit norm in :math:`L^2(\pi)`.
    density : ndarray (n_grid,)
        Stationary density :math:`\pi \propto e^{-V/k_BT}` on the grid.
    error_estimate : ndarray (k,)
        :math:`|\lambda_j(n) - \lambda_j(n/2)|/3`: the Richardson estimate of the
        discretisation error of ``eigenvalues`` (the scheme is second order).
    """

    eigenvalues: np.ndarray
    rates: np.ndarray
    grid: np.ndarray
    eigenfunctions: np.ndarray
    density: np.ndarray
    error_estimate: np.ndarray


def _prinz_bound(kT: float) -> float:
    # 4 x^8 / kT = 70 there: the density is e^{-70} of its peak at the boundary
    return max(1.2, (70.0 * kT / 4.0) ** 0.125)


def _generator_eigs(V, kT, friction, lo, hi, n, k):
    r"""Largest ``k`` eigenvalues of the square-root approximation of the generator.

    On a uniform grid with spacing :math:`h` the rate from cell :math:`i` to a neighbour
    :math:`j` is :math:`\frac{k_BT}{\gamma h^2}\sqrt{\pi_j/\pi_i}` (Lie, Fackeldey & Weber
    2013), reflecting at the ends: a reversible Markov generator whose symmetrisation
    :math:`\Pi^{1/2} Q \Pi^{-1/2}` is tridiagonal with constant off-diagonal.
    """
    x = np.linspace(lo, hi, n)
    h = x[1] - x[0]
    v = V(x) / kT
    c = kT / (friction * h * h)
    up = np.exp(-0.5 * (v[1:] - v[:-1]))    # sqrt(pi_{i+1}/pi_i)
    diag = np.zeros(n)
    diag[:-1] -= c * up
    diag[1:] -= c / up
    off = np.full(n - 1, c)
    mu, S = scipy.linalg.eigh_tridiagonal(diag, off, select="i",
                                          select_range=(n - k, n - 1))
    mu, S = mu[::-1], S[:, ::-1]
    logpi = -(v - v.min())
    pi = np.exp(logpi)
    pi /= pi.sum() * h
    # Koopman eigenfunctions f = Pi^{-1/2} s, normalised in L2(pi)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        F = S / np.sqrt(pi)[:, None]
    F = np.where(np.isfinite(F), F, 0.0)
    norms = np.sqrt(np.sum(F**2 * pi[:, None], axis=0) * h)
    F = F / norms
    F = F * np.sign(F[np.argmax(pi)] + 1e-300)
    mu[0] = 0.0  # the constant: Q 1 = 0 exactly; the solver returns rounding noise
    return mu, x, F, pi


def prinz_potential_spectrum(n_eigenvalues: int = 5, dt: float = 5e-3, kT: float = 1.0,
                             friction: float = 1.0, n_grid: int = 20_001) -> LangevinSpectrum:
    r"""Reference Koopman spectrum of the Prinz particle from its generator on a fine grid.

    The generator :math:`\mathcal L f = \gamma^{-1}(-V'f' + k_BT f'')` is discretised by
    the square-root approximation (a reversible finite-volume scheme, second order on a
    uniform grid) on :math:`[-b, b]`, where :math:`V(\pm b)/k_BT \approx 70`, and its
    largest eigenvalues :math:`\mu_j` give :math:`\lambda_j = e^{\mu_j \Delta t}`. The
    same computation on a grid half as fine gives ``error_estimate``; with the default
    grid it is below :math:`10^{-7}` for the default parameters (the error falls by 4
when the grid spacing halves). This is the spectrum of the
    SDE; Euler–Maruyama data with step ``h`` carry an extra :math:`O(h)` bias (measured
    in the tests).

    Parameters
    ----------
    n_eigenvalues : int, default=5
    dt : float, default=5e-3
        Lag time.
    kT, friction : float
        As in :func:`prinz_potential`.
    n_grid : int, default=20001

    Returns
    -------
    LangevinSpectrum

    Examples
    --------
    >>> spec = prinz_potential_spectrum(4, dt=5e-3)
    >>> spec.eigenvalues.round(4).tolist()
    [1.0, 0.994, 0.9613, 0.9261]
    """
    k = check_steps(n_eigenvalues)
    dt = check_dt(dt)
    kT = _check_positive(kT, "kT")
    friction = _check_positive(friction, "friction")
    if isinstance(n_grid, bool) or not isinstance(n_grid, int | np.integer) or n_grid < 64:
        raise ValueError(f"n_grid must be an int >= 64, got {n_grid!r}.")
    if k > n_grid // 4:
        raise ValueError(f"n_eigenvalues={k} is too many for n_grid={n_grid}.")
    b = _prinz_bound(kT)
    mu, x, F, pi = _generator_eigs(prinz_potential_energy, kT, friction, -b, b, int(n_grid), k)
    mu2 = _generator_eigs(prinz_potential_energy, kT, friction, -b, b,
                          int(n_grid) // 2 + 1, k)[0]
    lam = np.exp(mu * dt)
    err = np.abs(lam - np.exp(mu2 * dt)) / 3.0
    return LangevinSpectrum(lam, mu, x, F, pi, err)


def prinz_potential(n_steps: int, dt: float = 5e-3, x0: Any = None, random_state: Any = None,
                    kT: float = 1.0, friction: float = 1.0, step: float = 1e-5) -> np.ndarray:
    r"""Overdamped Langevin particle in the Prinz four-well potential.

    :math:`dX = -\gamma^{-1} V'(X)\,dt + \sqrt{2k_BT/\gamma}\,dW` with
    :math:`V` = :func:`prinz_potential_energy`, integrated by Euler–Maruyama with step
    ``step`` (:math:`x \leftarrow x - hV'(x)/\gamma + \sqrt{2k_BTh/\gamma}\,\xi`) and
    sampled every ``dt`` (``dt/step`` steps, rounded). The defaults are deeptime's
    ``prinz_potential()`` (kT = mass = damping = 1, h = 1e-5, 500 steps per sample).
    kooplearn's ``make_prinz_potential(gamma=g, sigma=s)`` is ``friction=g``,
    ``kT=s**2/(2*g)``.

    Parameters
    ----------
    n_steps : int
        Number of samples.
    dt : float, default=5e-3
        Sampling interval.
    x0 : float, optional
        First state; default: a draw from the stationary density
        :math:`\propto e^{-V/k_BT}` (inverse CDF on a fine grid).
    random_state : int, RandomState or None
    kT : float, default=1.0
        Temperature :math:`k_BT`.
    friction : float, default=1.0
        :math:`\gamma` (deeptime's mass times damping).
    step : float, default=1e-5
        Euler–Maruyama step :math:`h`. Stability needs :math:`h/\gamma \lesssim 4\cdot
        10^{-3}` (the curvature of :math:`V` reaches about 500).

    Returns
    -------
    ndarray of shape (n_steps, 1)

    Examples
    --------
    >>> X = prinz_potential(100, random_state=0)
    >>> X.shape, bool(abs(X).max() < 1.2)
    ((100, 1), True)
    """
    from koop._kernels.langevin import langevin_em

    n_steps = check_steps(n_steps)
    dt = check_dt(dt)
    kT = _check_positive(kT, "kT")
    friction = _check_positive(friction, "friction")
    step = _check_positive(step, "step")
    if step > dt:
        raise ValueError(f"step ({step}) must not exceed dt ({dt}).")
    n_sub = max(round(dt / step), 1)
    h = dt / n_sub
    rng = check_random_state(random_state)
    if x0 is None:
        x = float(_sample_stationary(kT, rng))
    else:
        x = np.asarray(x0, dtype=np.float64).ravel()
        if x.shape != (1,) or not np.isfinite(x).all():
            raise ValueError(f"x0 must be one finite number, got {x0!r}.")
        x = float(x[0])
    out = np.empty(n_steps)
    out[0] = x
    drift = h / friction
    diffusion = math.sqrt(2.0 * kT * h / friction)
    block = max(1, 2_000_000 // n_sub)  # bounded memory for the pre-drawn noise
    i = 1
    while i < n_steps:
        m = min(block, n_steps - i)
        noise = rng.standard_normal((m, n_sub))
        x = langevin_em(x, noise, drift, diffusion, _PRINZ_POLY, _PRINZ_AMP, _PRINZ_RATE,
                        _PRINZ_CENTER, out[i:i + m])
        i += m
    if not np.isfinite(out).all():
        raise RuntimeError(f"Euler-Maruyama diverged: step={step} is too large for "
                           f"kT={kT}, friction={friction}; use a smaller step.")
    return out.reshape(-1, 1)


def _sample_stationary(kT: float, rng: np.random.RandomState) -> float:
    b = _prinz_bound(kT)
    x = np.linspace(-b, b, 8193)
    v = prinz_potential_energy(x) / kT
    p = np.exp(-(v - v.min()))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]))])
    cdf /= cdf[-1]
    return float(np.interp(rng.uniform(), cdf, x))
