r"""Model predictive control with a lifted linear predictor (Korda & Mezić 2018).

A fitted :class:`~koop.estimators.EDMDc` or :class:`~koop.estimators.DMDc` predicts
the state over a horizon as an *affine* function of the input sequence: with reduced
coordinates :math:`h_0 = h(x_0)` and the column-convention matrices
:math:`\mathcal A = K_r^\top`, :math:`\mathcal B = B_r^\top`, :math:`\mathcal C = C_r^\top`,

.. math::
    \hat x_k = \mathcal C\mathcal A^k h_0 + \sum_{j<k}\mathcal C\mathcal A^{k-1-j}
    \mathcal B u_j, \qquad \hat{\mathbf x} = F h_0 + \Phi\,\mathbf u

(the *condensed* form: only the inputs are decision variables). The tracking cost

.. math::
    J(\mathbf u) = \sum_{k=1}^{N} (\hat x_k - r_k)^\top Q (\hat x_k - r_k)
    + \sum_{k=0}^{N-1} u_k^\top R\, u_k + \Delta u_k^\top R_\Delta \Delta u_k

is then a convex quadratic in :math:`\mathbf u`, and with bounds on the inputs a
bounded least-squares problem solved exactly by :func:`scipy.optimize.lsq_linear`
(BVLS); bounds on the predicted states are linear inequalities, and the problem is
solved exactly through non-negative least squares (Lawson & Hanson's LSI → LDP → NNLS). The
controller applies :math:`u_0` and re-plans from the next measured state (receding
horizon). The cost of a plan does not grow with the size of the lift beyond forming
:math:`F` and :math:`\Phi` once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.optimize
from sklearn.utils.validation import check_is_fitted

__all__ = ["MPC", "closed_loop"]


def _psd_root(M: np.ndarray, name: str) -> np.ndarray:
    """An upper factor :math:`L` with :math:`L^\\top L = M` for a symmetric PSD ``M``."""
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1] or not np.isfinite(M).all():
        raise ValueError(f"{name} must be a finite square matrix, got shape {M.shape}.")
    if not np.allclose(M, M.T, atol=1e-12 * max(np.abs(M).max(), 1.0)):
        raise ValueError(f"{name} must be symmetric.")
    s, V = np.linalg.eigh(M)
    if s.min() < -1e-12 * max(s.max(), 1.0):
        raise ValueError(f"{name} must be positive semi-definite (smallest eigenvalue "
                         f"{s.min():.3g}).")
    return (V * np.sqrt(np.clip(s, 0.0, None))).T


def _weight(value: Any, n: int, name: str) -> np.ndarray:
    if value is None:
        return np.eye(n)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr * np.eye(n)
    elif arr.ndim == 1:
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} entries; expected {n}.")
        arr = np.diag(arr)
    if arr.shape != (n, n):
        raise ValueError(f"{name} must be a number, {n} diagonal entries or an {n}x{n} "
                         f"matrix; got shape {arr.shape}.")
    return arr


def _bounds(value: Any, n: int, name: str, default: float) -> np.ndarray:
    if value is None:
        return np.full(n, default)
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()
    if np.isnan(arr).any():
        raise ValueError(f"{name} holds NaN; use +-inf for no bound.")
    return arr


class MPC:
    r"""Receding-horizon tracking controller on a fitted lifted linear predictor.

    Parameters
    ----------
    model : fitted EDMDc or DMDc
        The predictor (its reduced form: ``reduced_matrix_``, ``input_matrix_``,
        ``state_map_`` and the lift ``lift_reduced``).
    horizon : int
        Number of predicted steps :math:`N`.
    Q : float, array (d,) or (d, d), optional
        State (tracking) weight; default the identity. A diagonal with zeros tracks only
        some states.
    R : float, array (m,) or (m, m), default=0
        Weight on the inputs :math:`u_k^\top Ru_k`.
    R_delta : float, array (m,) or (m, m), default=1e-2
        Weight on the input increments :math:`\Delta u_k = u_k - u_{k-1}` (with
        :math:`u_{-1}` the input applied last): unlike ``R`` it does not pull the input
        away from the value that holds a set point, so it leaves no steady-state offset.
    u_min, u_max : float or array (m,), optional
        Input bounds (default none).
    x_min, x_max : float or array (d,), optional
        Bounds on the *predicted* states (default none). When no input sequence keeps
        the predictions inside them (after a disturbance, say), that plan keeps the input
        bounds only and ``n_infeasible`` counts it.

    Attributes
    ----------
    n_infeasible : int
        Plans whose state bounds could not be met.
    F : ndarray (N d, r)
        Free response :math:`\mathcal C\mathcal A^k`, stacked for :math:`k = 1..N`.
    Phi : ndarray (N d, N m)
        Forced response (block lower triangular, Toeplitz).

    Examples
    --------
    Drive a linear plant to the state (1, 0):

    >>> import numpy as np
    >>> from koop.estimators import DMDc
    >>> rng = np.random.default_rng(0)
    >>> A, B = np.array([[1.0, 0.1], [0.0, 0.9]]), np.array([[0.0], [0.1]])
    >>> U = rng.uniform(-1, 1, (300, 1)); X = np.zeros((301, 2))
    >>> for k in range(300):
    ...     X[k + 1] = A @ X[k] + B @ U[k]
    >>> mpc = MPC(DMDc().fit(X, u=U), horizon=30, Q=[1.0, 0.0], R=1e-4, u_min=-1, u_max=1)
    >>> states, inputs = closed_loop(mpc, lambda x, u: A @ x + B @ u, [0.0, 0.0],
    ...                              reference=[1.0, 0.0], n_steps=150)
    >>> bool(abs(states[-1, 0] - 1.0) < 1e-3 and np.abs(inputs).max() <= 1 + 1e-12)
    True
    """

    def __init__(self, model: Any, horizon: int, *, Q: Any = None, R: Any = 0.0,
                 R_delta: Any = 1e-2, u_min: Any = None, u_max: Any = None,
                 x_min: Any = None, x_max: Any = None) -> None:
        check_is_fitted(model, "input_matrix_")
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or (
                horizon < 1):
            raise ValueError(f"horizon must be a positive integer, got {horizon!r}.")
        self.model = model
        self.horizon = int(horizon)
        K = np.asarray(model.reduced_matrix_)
        Bm = np.asarray(model.input_matrix_)
        Cm = np.asarray(model.state_map_)
        if np.iscomplexobj(K) or np.iscomplexobj(Bm) or np.iscomplexobj(Cm):
            raise ValueError("MPC needs a real predictor; this model's matrices are complex.")
        self.n_states = int(Cm.shape[1])
        self.n_inputs = int(Bm.shape[0])
        d, m, N = self.n_states, self.n_inputs, self.horizon
        self.Q = _weight(Q, d, "Q")
        self.R = _weight(R, m, "R")
        self.R_delta = _weight(R_delta, m, "R_delta")
        self.u_min = _bounds(u_min, m, "u_min", -np.inf)
        self.u_max = _bounds(u_max, m, "u_max", np.inf)
        self.x_min = _bounds(x_min, d, "x_min", -np.inf)
        self.x_max = _bounds(x_max, d, "x_max", np.inf)
        if (self.u_min > self.u_max).any() or (self.x_min > self.x_max).any():
            raise ValueError("Each lower bound must not exceed its upper bound.")
        Ac, Bc, Cc = K.T, Bm.T, Cm.T
        # C A^k for k = 0..N (row k), then F = rows 1..N and Phi's blocks C A^{k-1-j} B
        powers = [Cc]
        for _ in range(N):
            powers.append(powers[-1] @ Ac)
        self.F = np.vstack(powers[1:])
        CAB = [P @ Bc for P in powers[:N]]
        Phi = np.zeros((N * d, N * m))
        for k in range(1, N + 1):
            for j in range(k):
                Phi[(k - 1) * d : k * d, j * m : (j + 1) * m] = CAB[k - 1 - j]
        self.Phi = Phi
        Lq = np.kron(np.eye(N), _psd_root(self.Q, "Q"))
        Lr = np.kron(np.eye(N), _psd_root(self.R, "R"))
        # increments u_k - u_{k-1} = D u - (u_prev, 0, ..., 0)
        D = np.kron(np.eye(N) - np.eye(N, k=-1), np.eye(m))
        Ld = np.kron(np.eye(N), _psd_root(self.R_delta, "R_delta"))
        self._Lq, self._Ld = Lq, Ld
        self._lsq = np.vstack([Lq @ Phi, Lr, Ld @ D])
        self._state_bounded = bool(np.isfinite(self.x_min).any() or
                                   np.isfinite(self.x_max).any())
        self.n_infeasible = 0

    def _reference(self, reference: Any) -> np.ndarray:
        d, N = self.n_states, self.horizon
        r = np.asarray(reference, dtype=np.float64)
        if r.ndim == 1:
            if r.shape[0] != d:
                raise ValueError(f"reference has {r.shape[0]} entries; the state has {d}.")
            r = np.broadcast_to(r, (N, d))
        if r.ndim != 2 or r.shape[1] != d or r.shape[0] < N:
            raise ValueError(f"reference must be ({d},) or (>= horizon={N}, {d}); got "
                             f"shape {r.shape}.")
        if not np.isfinite(r).all():
            raise ValueError("reference must be finite.")
        return r[:N]

    def plan(self, x: Any, reference: Any, disturbance: Any = None,
             u_prev: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """The optimal input sequence from state ``x`` and the states it predicts.

        Parameters
        ----------
        x : array-like (d,) (or the last ``n_lags_ + 1`` samples for a lagged lift)
        reference : array-like (d,) or (>= horizon, d)
            Target state, constant or per predicted step :math:`r_1, \\dots, r_N`.
        disturbance : array-like (m,), optional
            An estimated constant input disturbance :math:`\\hat d`: the predictions use
            :math:`u_k + \\hat d` (offset-free MPC, see :func:`closed_loop`).
        u_prev : array-like (m,), optional
            The input applied last (default zero), for the increment cost ``R_delta``.

        Returns
        -------
        inputs : ndarray (horizon, m)
        predicted : ndarray (horizon, d)
        """
        d, m, N = self.n_states, self.n_inputs, self.horizon
        h0 = np.real_if_close(self.model.lift_reduced(x))
        r = self._reference(reference).ravel()
        free = self.F @ h0
        if disturbance is not None:
            dist = np.asarray(disturbance, dtype=np.float64).ravel()
            free = free + self.Phi @ np.tile(dist, N)
        prev = np.zeros(N * m)
        if u_prev is not None:
            prev[:m] = np.asarray(u_prev, dtype=np.float64).ravel()
        b = np.concatenate([self._Lq @ (r - free), np.zeros(N * m), self._Ld @ prev])
        lb, ub = np.tile(self.u_min, N), np.tile(self.u_max, N)
        sol = scipy.optimize.lsq_linear(self._lsq, b, bounds=(lb, ub), method="bvls")
        u = sol.x
        if self._state_bounded:
            u = self._state_constrained(u, b, lb, ub, free)
        predicted = (free + self.Phi @ u).reshape(N, d)
        return u.reshape(N, m), predicted

    def _state_constrained(self, u0, b, lb, ub, free) -> np.ndarray:
        r"""Least squares with linear inequalities (LSI), exactly, via NNLS.

        :math:`\min\|Eu - f\|` s.t. :math:`Gu \ge h` (input and predicted-state bounds)
        is, with :math:`E = QR` and :math:`z = Ru - Q^\top f`, the least-distance problem
        :math:`\min\|z\|` s.t. :math:`GR^{-1}z \ge h - GR^{-1}Q^\top f`, whose solution
        comes from one non-negative least-squares problem (Lawson & Hanson 1974, ch. 23).
        Infeasible state bounds (the plant cannot be kept inside them) fall back to the
        input bounds alone, ``u0``.
        """
        E = self._lsq
        n = E.shape[1]
        Qe, Re = np.linalg.qr(np.vstack([E, 1e-9 * np.eye(n)]))
        f = np.concatenate([b, np.zeros(n)])
        xl = np.tile(self.x_min, self.horizon) - free
        xu = np.tile(self.x_max, self.horizon) - free
        lo, hi = np.isfinite(xl), np.isfinite(xu)
        ulo, uhi = np.isfinite(lb), np.isfinite(ub)
        eye = np.eye(n)
        G = np.vstack([self.Phi[lo], -self.Phi[hi], eye[ulo], -eye[uhi]])
        h = np.concatenate([xl[lo], -xu[hi], lb[ulo], -ub[uhi]])
        Rinv = np.linalg.inv(Re)
        Gt = G @ Rinv
        qf = Qe.T @ f
        ht = h - Gt @ qf
        M = np.vstack([Gt.T, ht[None, :]])
        e = np.zeros(n + 1)
        e[-1] = 1.0
        w, _ = scipy.optimize.nnls(M, e, maxiter=50 * M.shape[1])
        r = M @ w - e
        if abs(r[-1]) < 1e-12:  # no input sequence keeps the predictions in bounds
            self.n_infeasible += 1
            return u0
        z = -r[:n] / r[-1]
        return Rinv @ (z + qf)

    def control(self, x: Any, reference: Any, disturbance: Any = None,
                u_prev: Any = None) -> np.ndarray:
        """The input to apply now: the first of :meth:`plan`'s sequence, shape (m,)."""
        return self.plan(x, reference, disturbance, u_prev)[0][0]


def closed_loop(controller: MPC, step: Callable[[np.ndarray, np.ndarray], np.ndarray],
                x0: Any, reference: Any, n_steps: int, *,
                offset_free: bool = False) -> tuple[np.ndarray, np.ndarray]:
    r"""Run a controller against a plant ``x_{k+1} = step(x_k, u_k)``.

    Parameters
    ----------
    controller : MPC
    step : callable (x (d,), u (m,)) -> x_next (d,)
        The real plant (e.g. :func:`koop.systems.van_der_pol_control_step`).
    x0 : array-like (d,)
    reference : array-like (d,) or (n_steps + horizon, d)
        Target state, constant or per step (row ``k`` is the target at step ``k``).
    n_steps : int
    offset_free : bool, default=False
        Estimate a constant input disturbance :math:`\\hat d` from the one-step
        prediction errors, :math:`\\hat d \\leftarrow \\hat d + (x_k - \\hat x_{k|k-1})
        \\mathcal B_x^{+}` with :math:`\\mathcal B_x = B_rC_r` the inputs' one-step effect
        on the state, and plan with :math:`u + \\hat d` (the standard offset-free MPC with
        an integrating input disturbance): a biased predictor then leaves no steady-state
        tracking error.

    Returns
    -------
    states : ndarray (n_steps + 1, d)
        ``states[0]`` is ``x0``.
    inputs : ndarray (n_steps, m)
    """
    x = np.asarray(x0, dtype=np.float64).ravel()
    d, N = controller.n_states, controller.horizon
    r = np.asarray(reference, dtype=np.float64)
    if r.ndim == 1:
        r = np.broadcast_to(r, (n_steps + N + 1, d))
    if r.ndim != 2 or r.shape[0] < n_steps + N or r.shape[1] != d:
        raise ValueError(f"reference must be ({d},) or (n_steps + horizon, {d}) = "
                         f"({n_steps + N}, {d}); got shape {r.shape}.")
    states = np.empty((n_steps + 1, d))
    inputs = np.empty((n_steps, controller.n_inputs))
    states[0] = x
    dist = np.zeros(controller.n_inputs) if offset_free else None
    if offset_free:
        effect = np.real(controller.model.input_matrix_ @ controller.model.state_map_)
        to_input = np.linalg.pinv(effect)
    for k in range(n_steps):
        plan_u, predicted = controller.plan(x, r[k + 1 : k + 1 + N], dist,
                                            inputs[k - 1] if k else None)
        u = plan_u[0]
        x = np.asarray(step(x, u), dtype=np.float64).ravel()
        if offset_free:
            dist = dist + (x - predicted[0]) @ to_input
        states[k + 1] = x
        inputs[k] = u
    return states, inputs
