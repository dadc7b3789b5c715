r"""Systems driven by a control input: the forced Van der Pol oscillator of Korda & Mezić.

A controlled system is a discrete-time map :math:`x_{k+1} = F(x_k, u_k)`: the input is
held constant over each sampling interval (zero-order hold) and the ODE is advanced by
one classical Runge-Kutta step, exactly the plant of Korda & Mezić's experiments
(their code integrates with RK4 at :math:`\Delta t = 0.01`). The one-step map
(``*_step``) is vectorised over leading axes, so that many trajectories advance at once
and a closed-loop controller can drive the plant sample by sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from koop.systems._common import check_dt, check_steps

__all__ = ["van_der_pol_control", "van_der_pol_control_step", "van_der_pol_control_rhs"]


def van_der_pol_control_rhs(x: np.ndarray, u: np.ndarray) -> np.ndarray:
    r"""Vector field of the forced Van der Pol oscillator (Korda & Mezić 2018, §8.1).

    .. math::
        \dot x_1 = 2x_2, \qquad \dot x_2 = -0.8x_1 + 2x_2 - 10x_1^2x_2 + u.

    Parameters
    ----------
    x : ndarray (..., 2)
    u : ndarray (..., 1) or broadcastable to x[..., 0]

    Returns
    -------
    ndarray (..., 2)

    Examples
    --------
    >>> import numpy as np
    >>> van_der_pol_control_rhs(np.array([1.0, 1.0]), np.array([0.5])).tolist()
    [2.0, -8.3]
    """
    x = np.asarray(x, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    u = u[..., 0] if u.ndim == x.ndim else u
    x1, x2 = x[..., 0], x[..., 1]
    return np.stack([2.0 * x2, -0.8 * x1 + 2.0 * x2 - 10.0 * x1**2 * x2 + u], axis=-1)


def van_der_pol_control_step(x: Any, u: Any, dt: float = 0.01) -> np.ndarray:
    r"""One sampling interval of the forced Van der Pol oscillator: :math:`F(x, u)`.

    The input is held over the interval and the state advanced by one classical RK4 step
    of :func:`van_der_pol_control_rhs` (the discretisation Korda & Mezić use).

    Parameters
    ----------
    x : array-like (..., 2)
        States (any leading shape: several trajectories at once).
    u : array-like (..., 1), (...,) or scalar
        Inputs, one per state.
    dt : float, default=0.01

    Returns
    -------
    ndarray (..., 2)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((3, 2))
    >>> van_der_pol_control_step(x, np.ones((3, 1))).shape
    (3, 2)
    """
    dt = check_dt(dt)
    x = np.asarray(x, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    if u.ndim == x.ndim:
        u = u[..., 0]
    u = np.broadcast_to(u, x.shape[:-1])
    if x.shape[-1] != 2:
        raise ValueError(f"x must have 2 state columns, got shape {x.shape}.")
    if not (np.isfinite(x).all() and np.isfinite(u).all()):
        raise ValueError("x and u must be finite.")
    k1 = van_der_pol_control_rhs(x, u)
    k2 = van_der_pol_control_rhs(x + 0.5 * dt * k1, u)
    k3 = van_der_pol_control_rhs(x + 0.5 * dt * k2, u)
    k4 = van_der_pol_control_rhs(x + dt * k3, u)
    return x + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def van_der_pol_control(n_steps: int, dt: float = 0.01, x0: Any = None,
                        random_state: Any = None, u: Any = None) -> tuple[np.ndarray, np.ndarray]:
    r"""A trajectory of the forced Van der Pol oscillator and the inputs that drove it.

    Korda & Mezić's data protocol by default: the initial state uniform in
    :math:`[-1, 1]^2` and the input uniform in :math:`[-1, 1]`, drawn afresh every step.

    Parameters
    ----------
    n_steps : int
        Number of states returned (``n_steps - 1`` transitions).
    dt : float, default=0.01
    x0 : array-like (2,), optional
        Initial state (default: uniform in :math:`[-1, 1]^2` from ``random_state``).
    random_state : int, Generator, RandomState or None
        Seed for the default initial state and inputs.
    u : array-like (n_steps - 1,) or (n_steps - 1, 1), optional
        Inputs (default: i.i.d. uniform in :math:`[-1, 1]`).

    Returns
    -------
    X : ndarray (n_steps, 2)
        States; ``X[0]`` is ``x0``.
    U : ndarray (n_steps - 1, 1)
        ``U[k]`` drives the step ``X[k] -> X[k+1]``.

    Examples
    --------
    >>> import numpy as np
    >>> X, U = van_der_pol_control(100, random_state=0)
    >>> X.shape, U.shape, bool(np.abs(U).max() <= 1)
    ((100, 2), (99, 1), True)
    """
    n_steps = check_steps(n_steps)
    dt = check_dt(dt)
    rng = random_state if isinstance(random_state, np.random.Generator) else (
        check_random_state(random_state))
    uniform = rng.uniform
    if x0 is None:
        x0 = uniform(-1.0, 1.0, size=2)
    x0 = np.asarray(x0, dtype=np.float64).ravel()
    if x0.shape != (2,) or not np.isfinite(x0).all():
        raise ValueError(f"x0 must be 2 finite numbers, got {x0!r}.")
    if u is None:
        U = uniform(-1.0, 1.0, size=(n_steps - 1, 1))
    else:
        U = np.asarray(u, dtype=np.float64).reshape(-1, 1)
        if U.shape[0] != n_steps - 1:
            raise ValueError(f"u must hold n_steps - 1 = {n_steps - 1} inputs (one per "
                             f"transition), got {U.shape[0]}.")
        if not np.isfinite(U).all():
            raise ValueError("u must be finite.")
    X = np.empty((n_steps, 2))
    X[0] = x0
    for k in range(n_steps - 1):
        X[k + 1] = van_der_pol_control_step(X[k], U[k], dt)
    return X, U
