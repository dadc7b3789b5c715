r"""Built-in dynamical systems that generate data (no downloads).

Every continuous-time system integrates with :func:`scipy.integrate.solve_ivp` (DOP853,
``rtol=atol=1e-12``), discards a transient so that samples lie on the attractor, and
returns an array ``(n_steps, n_features)`` sampled every ``dt``. The signature is the same
for all: ``system(n_steps, dt=..., x0=None, random_state=None, **parameters)``.
Discrete maps (:func:`linear`, :func:`slow_manifold`) iterate exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp
from sklearn.utils import check_random_state

from koop.systems._common import check_dt, check_steps, initial_state

__all__ = [
    "lorenz63", "rossler", "duffing", "pendulum", "van_der_pol", "linear",
    "slow_manifold", "slow_manifold_eigenfunctions", "integrate",
]

_RTOL = 1e-12
_ATOL = 1e-12


def integrate(
    rhs: Callable[[float, np.ndarray], np.ndarray],
    x0: np.ndarray,
    n_steps: int,
    dt: float,
    transient: float = 0.0,
    rtol: float = _RTOL,
    atol: float = _ATOL,
) -> np.ndarray:
    """Integrate ``dx/dt = rhs(t, x)`` and sample ``n_steps`` states every ``dt`` after
    discarding ``transient`` time units (the first sample is at ``transient``)."""
    n_steps = check_steps(n_steps)
    dt = check_dt(dt)
    x0 = np.asarray(x0, dtype=np.float64)
    if transient > 0:
        sol = solve_ivp(rhs, (0.0, transient), x0, method="DOP853", rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"Integration of the transient failed: {sol.message}")
        x0 = sol.y[:, -1]
    if n_steps == 1:
        return x0.reshape(1, -1).copy()
    t_eval = dt * np.arange(n_steps)
    sol = solve_ivp(rhs, (0.0, t_eval[-1]), x0, method="DOP853", t_eval=t_eval,
                    rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"Integration failed: {sol.message}")
    return np.ascontiguousarray(sol.y.T)


def lorenz63(n_steps: int, dt: float = 0.01, x0: Any = None, random_state: Any = None,
             sigma: float = 10.0, rho: float = 28.0, beta: float = 8.0 / 3.0,
             transient: float = 20.0) -> np.ndarray:
    r"""Lorenz-63: :math:`\dot x=\sigma(y-x)`, :math:`\dot y=x(\rho-z)-y`,
    :math:`\dot z=xy-\beta z`.

    Returns ``(n_steps, 3)`` on the attractor (``transient`` time units discarded).

    Examples
    --------
    >>> lorenz63(10, dt=0.01).shape
    (10, 3)
    """
    def rhs(t, u):
        x, y, z = u
        return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]

    u0 = initial_state(x0, np.array([-8.0, 8.0, 27.0]), random_state, 1.0)
    return integrate(rhs, u0, n_steps, dt, transient if x0 is None else 0.0)


def rossler(n_steps: int, dt: float = 0.05, x0: Any = None, random_state: Any = None,
            a: float = 0.2, b: float = 0.2, c: float = 5.7,
            transient: float = 100.0) -> np.ndarray:
    r"""Rössler: :math:`\dot x=-y-z`, :math:`\dot y=x+ay`, :math:`\dot z=b+z(x-c)`.

    Examples
    --------
    >>> rossler(5).shape
    (5, 3)
    """
    def rhs(t, u):
        x, y, z = u
        return [-y - z, x + a * y, b + z * (x - c)]

    u0 = initial_state(x0, np.array([1.0, 1.0, 1.0]), random_state, 0.5)
    return integrate(rhs, u0, n_steps, dt, transient if x0 is None else 0.0)


def duffing(n_steps: int, dt: float = 0.25, x0: Any = None, random_state: Any = None,
            alpha: float = 1.0, beta: float = -1.0, delta: float = 0.0,
            transient: float = 0.0) -> np.ndarray:
    r"""Unforced Duffing oscillator :math:`\ddot x = -\delta\dot x - \beta x - \alpha x^3`.

    The defaults give Colbrook's double well :math:`\ddot x = x - x^3` (conservative).
    State ``(x, v)``.

    Examples
    --------
    >>> duffing(4, x0=[1.0, 0.0]).round(12).tolist()[0]
    [1.0, 0.0]
    """
    def rhs(t, u):
        x, v = u
        return [v, -delta * v - beta * x - alpha * x**3]

    u0 = initial_state(x0, np.array([0.5, 0.5]), random_state, 0.5)
    return integrate(rhs, u0, n_steps, dt, transient)


def pendulum(n_steps: int, dt: float = 0.5, x0: Any = None, random_state: Any = None,
             damping: float = 0.0, transient: float = 0.0) -> np.ndarray:
    r"""Nonlinear pendulum :math:`\ddot\theta = -\sin\theta - c\,\dot\theta`; state
    ``(theta, p)`` (undamped by default: measure preserving).

    Examples
    --------
    >>> pendulum(3, x0=[0.0, 0.0]).tolist()
    [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    """
    def rhs(t, u):
        th, p = u
        return [p, -np.sin(th) - damping * p]

    u0 = initial_state(x0, np.array([1.0, 0.0]), random_state, 0.5)
    return integrate(rhs, u0, n_steps, dt, transient)


def van_der_pol(n_steps: int, dt: float = 0.05, x0: Any = None, random_state: Any = None,
                mu: float = 1.0, transient: float = 50.0) -> np.ndarray:
    r"""Van der Pol oscillator :math:`\ddot x = \mu(1-x^2)\dot x - x`, on its limit cycle.

    Examples
    --------
    >>> van_der_pol(3).shape
    (3, 2)
    """
    def rhs(t, u):
        x, v = u
        return [v, mu * (1 - x**2) * v - x]

    u0 = initial_state(x0, np.array([2.0, 0.0]), random_state, 0.5)
    return integrate(rhs, u0, n_steps, dt, transient if x0 is None else 0.0)


def linear(matrix: Any, n_steps: int, x0: Any = None, random_state: Any = None,
           noise: float = 0.0) -> np.ndarray:
    r"""Iterate the linear map :math:`x_{n+1} = A x_n` (optionally plus Gaussian noise).

    The first returned sample is ``x0``. Without ``x0`` a random standard normal state is
    drawn from ``random_state``.

    Examples
    --------
    >>> linear([[0.5]], 3, x0=[1.0]).ravel().tolist()
    [1.0, 0.5, 0.25]
    """
    A = np.asarray(matrix, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.isfinite(A).all():
        raise ValueError(f"matrix must be a finite square 2-D array, got shape {A.shape}.")
    n_steps = check_steps(n_steps)
    rng = check_random_state(random_state)
    x = rng.standard_normal(A.shape[0]) if x0 is None else np.asarray(x0, float).ravel()
    if x.shape != (A.shape[0],):
        raise ValueError(f"x0 must have {A.shape[0]} entries, got {x.shape}.")
    out = np.empty((n_steps, A.shape[0]))
    for k in range(n_steps):
        out[k] = x
        x = A @ x
        if noise:
            x = x + noise * rng.standard_normal(x.shape)
    return out


def slow_manifold(n_steps: int, mu: float = 0.9, lam: float = 0.5, x0: Any = None,
                  random_state: Any = None) -> np.ndarray:
    r"""The discrete slow-manifold map with known Koopman eigenfunctions.

    .. math::
        x_{n+1} = \mu x_n, \qquad y_{n+1} = \lambda y_n + (\lambda - \mu^2)\,c\,x_n^2

    written here with :math:`c = 1`:
    :math:`y_{n+1} = \lambda y_n + (\mu^2 - \lambda) x_n^2` (Brunton et al. 2016's
    discrete analogue). Its Koopman operator leaves ``span{x, y, x^2}`` invariant with
    eigenfunctions :math:`\phi_\mu = x` (eigenvalue :math:`\mu`),
    :math:`\phi_\lambda = y - x^2` (:math:`\lambda`), :math:`\phi_{\mu^2} = x^2`
    (:math:`\mu^2`), and all their products (:math:`\mu^i\lambda^j`); see
    :func:`slow_manifold_eigenfunctions`.

    Examples
    --------
    >>> slow_manifold(2, mu=0.5, lam=0.25, x0=[1.0, 0.0]).tolist()
    [[1.0, 0.0], [0.5, 0.0]]
    """
    n_steps = check_steps(n_steps)
    if x0 is None:
        rng = check_random_state(random_state)
        state = rng.uniform(-1, 1, size=2)
    else:
        state = np.asarray(x0, dtype=np.float64).ravel()
        if state.shape != (2,) or not np.isfinite(state).all():
            raise ValueError(f"x0 must be two finite numbers, got {x0!r}.")
    out = np.empty((n_steps, 2))
    x, y = state
    for k in range(n_steps):
        out[k] = (x, y)
        x, y = mu * x, lam * y + (mu**2 - lam) * x**2
    return out


def slow_manifold_eigenfunctions(X: Any) -> dict[str, np.ndarray]:
    r"""The exact eigenfunctions of :func:`slow_manifold` on samples ``X`` (n, 2).

    Returns a dict ``{"mu": x, "lam": y - x^2, "mu^2": x^2}``.
    """
    X = np.asarray(X, dtype=np.float64)
    x, y = X[:, 0], X[:, 1]
    return {"mu": x, "lam": y - x**2, "mu^2": x**2}
