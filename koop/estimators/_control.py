r"""Koopman models with control inputs: the shared contract and the stateless solvers.

A controlled model extends the reduced model of :class:`koop.base.KoopmanEstimator`
(functions :math:`h(x) = \psi(x) Q`, state :math:`x \approx h(x) C_r`) by an input term:

.. math::
    h(x_{n+1}) \approx h(x_n) K_r + u_n B_r,

with ``reduced_matrix_`` :math:`K_r` (:math:`r\times r`) and ``input_matrix_`` :math:`B_r`
(:math:`m\times r`). The eigenvalues and eigenfunctions are those of the *autonomous*
part :math:`K_r` (the dynamics with :math:`u = 0`); an eigenfunction
:math:`\phi_j = h v_j` obeys :math:`\phi_j(x_{n+1}) \approx \lambda_j\phi_j(x_n) +
u_n\beta_j` with :math:`\beta_j = B_r v_j`.

Residuals (ResDMD-style, from the data, not from the projection): with inputs acting
on the training data the quantity computed is

.. math::
    \operatorname{res}_j = \frac{\|\Psi_Y g_j - \lambda_j\Psi_X g_j - U\beta_j\|_W}
    {\|\Psi_X g_j\|_W},

how far :math:`\phi_j` is from obeying the control-affine relation above along the data.
With :math:`u = 0` it is Colbrook & Townsend's residual of the autonomous Koopman operator;
:func:`koop.validation.residuals` on data recorded without input gives exactly that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_is_fitted

from koop._spectral.truncation import select_rank
from koop.base import KoopmanEstimator
from koop.data import as_controlled_trajectories, check_array, check_inputs
from koop.estimators._online import OnlineMixin
from koop.estimators._solvers import edmd_solve

__all__ = ["ControlledKoopmanEstimator", "edmdc_solve", "dmdc_solve",
           "input_residuals_from_gram", "input_residuals_from_r"]


# -- solvers ----------------------------------------------------------------------------
def _pinvh(S: np.ndarray) -> np.ndarray:
    """Pseudo-inverse of a Hermitian PSD matrix (cut-off ``size * eps`` relative)."""
    S = 0.5 * (S + S.conj().T)
    if not np.any(S):
        return np.zeros_like(S)
    return scipy.linalg.pinvh(S, rtol=S.shape[0] * np.finfo(float).eps)


def edmdc_solve(G: np.ndarray, A: np.ndarray, C: np.ndarray, n_inputs: int, *, rank=None,
                regularization: float = 0.0, rcond: float | None = None,
                n_samples: int | None = None):
    r"""The lifted linear predictor (Korda & Mezić 2018) from the Gram of :math:`[\psi, u]`.

    Least squares :math:`\min \|\Psi_Y - \Psi_X K - U K_u\|_W` over both :math:`K` and
    :math:`K_u`, written in the basis :math:`Q` of :func:`~koop.estimators._solvers.
    edmd_solve` (:math:`Q^*(G_{xx} + \gamma I)Q = I`, the same rank decisions as EDMD).
    By the Frisch–Waugh–Lovell theorem the state block solves EDMD on the Gram matrices
    with the inputs partialled out,

    .. math::
        (I - W G_{uu}^{+} W^*) K_r = Q^* A_{xx} Q - W G_{uu}^{+} A_{ux} Q, \qquad
        B_r = G_{uu}^{+}(A_{ux}Q - W^* K_r), \qquad W = Q^* G_{xu},

    and the state map is EDMD's :math:`C_r = Q^* C` (the state is regressed on the lifted
    state alone).

    Parameters
    ----------
    G, A, C : ndarray
        Blocks of :func:`koop.gram.build_gram_inputs`: ``G`` of size ``M + m``, ``A`` of
        shape ``(M + m, M + m)`` (only the first ``M`` columns are used), ``C`` of shape
        ``(M + m, d + m)`` (only ``C[:M, :d]`` is used).
    n_inputs : int
        :math:`m`.
    rank, regularization, rcond, n_samples
        As for :func:`~koop.estimators._solvers.edmd_solve` (on :math:`G_{xx}`).

    Returns
    -------
    model : ReducedModel
        ``basis`` :math:`Q`, ``reduced`` :math:`K_r`, ``state_map`` :math:`C_r`.
    B_r : ndarray (m, r)
    """
    m = int(n_inputs)
    M = G.shape[0] - m
    d = C.shape[1] - m
    Gxx, Gxu, Guu = G[:M, :M], G[:M, M:], G[M:, M:]
    Axx, Aux = A[:M, :M], A[M:, :M]
    model = edmd_solve(Gxx, Axx, C[:M, :d], rank=rank, regularization=regularization,
                       rcond=rcond, n_samples=n_samples)
    Q = model.basis
    P = _pinvh(Guu)
    W = Q.conj().T @ Gxu
    AuQ = Aux @ Q
    S = np.eye(Q.shape[1]) - W @ P @ W.conj().T
    T = Q.conj().T @ Axx @ Q - W @ P @ AuQ
    try:
        K_r = np.linalg.solve(S, T)
    except np.linalg.LinAlgError:  # an input equal to a lifted function: minimum norm
        K_r = np.linalg.lstsq(S, T, rcond=None)[0]
    model.reduced = K_r
    B_r = P @ (AuQ - W.conj().T @ K_r)
    return model, B_r


def dmdc_solve(R: np.ndarray, n_features: int, n_inputs: int, *, rank=None,
               input_rank=None, shape: tuple[int, int] | None = None):
    r"""DMD with control (Proctor, Brunton & Kutz 2016) from the R factor of the data.

    With pairs in rows, :math:`\sqrt W[X, U, Y] = \mathcal Q R`, the input space
    :math:`\Omega^* = \sqrt W[X, U]` has the SVD :math:`\Omega^* = (\mathcal Q\tilde U')
    \tilde\Sigma\tilde U^*` from the SVD :math:`R_{:, :d+m} = \tilde U'\tilde\Sigma\tilde
    U^*`, truncated to ``input_rank`` :math:`p`; the output space :math:`\sqrt W Y` has
    right singular vectors :math:`\hat U` from the SVD of :math:`R_{:, d+m:}`, truncated
    to ``rank`` :math:`r` (the two truncations of the paper). Then

    .. math::
        \tilde A = \hat U^* \bar G \tilde U_1^* \hat U, \qquad
        \tilde B = \hat U^* \bar G \tilde U_2^*, \qquad
        \bar G = R_{:, d+m:}^* \tilde U' \tilde\Sigma^{-1},

    where :math:`\tilde U_1, \tilde U_2` are the state and input rows of :math:`\tilde U`
    and :math:`\bar G = Y^*\sqrt W\,\tilde V\tilde\Sigma^{-1}`: exactly the paper's
    operators, with singular values and vectors as accurate as an SVD of the data
    (Householder QR is backward stable), whatever the number of samples.

    Returns
    -------
    Atilde : ndarray (r, r)
    Btilde : ndarray (r, m)
    Uhat : ndarray (d, r)
    s_in, s_out : ndarray
        All singular values of the input and output spaces.
    p : int
        The input rank used.
    """
    d, m = int(n_features), int(n_inputs)
    R_in, R_out = R[:, : d + m], R[:, d + m :]
    n_rows = shape[0] if shape is not None else R.shape[0]
    Up, s_in, Vh = scipy.linalg.svd(R_in, full_matrices=False, lapack_driver="gesdd")
    p = select_rank(s_in, input_rank, (n_rows, d + m))
    _, s_out, Wh = scipy.linalg.svd(R_out, full_matrices=False, lapack_driver="gesdd")
    r = select_rank(s_out, rank, (n_rows, d))
    Uhat = Wh[:r].conj().T
    Ut = Vh[:p].conj().T
    Gbar = R_out.conj().T @ (Up[:, :p] / s_in[:p])
    Atilde = Uhat.conj().T @ Gbar @ Ut[:d].conj().T @ Uhat
    Btilde = Uhat.conj().T @ Gbar @ Ut[d:].conj().T
    return Atilde, Btilde, Uhat, s_in, s_out, p


def input_residuals_from_gram(G, A, L, n_inputs: int, eigenvalues, vectors,
                              input_coefficients) -> np.ndarray:
    r""":math:`\|\Psi_Y g - \lambda\Psi_X g - U\beta\|_W / \|\Psi_X g\|_W` from the Gram of
    :math:`[\psi, u]` (a quadratic form: residuals below about :math:`10^{-8}` are
    rounding noise, as for :func:`~koop._spectral.residual.residuals_from_gram`)."""
    m = int(n_inputs)
    M = G.shape[0] - m
    lam = np.asarray(eigenvalues, dtype=np.complex128)
    V = np.asarray(vectors, dtype=np.complex128)
    c = np.vstack([V * lam, np.asarray(input_coefficients, dtype=np.complex128)])
    ll = np.real(np.sum(V.conj() * (L[:M, :M] @ V), axis=0))
    cross = np.real(np.sum(c.conj() * (A[:, :M] @ V), axis=0))
    cc = np.real(np.sum(c.conj() * (G @ c), axis=0))
    gg = np.real(np.sum(V.conj() * (G[:M, :M] @ V), axis=0))
    num = np.maximum(ll - 2.0 * cross + cc, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gg > 0, np.sqrt(num / gg), np.inf)


def input_residuals_from_r(R, n_features: int, eigenvalues, vectors,
                           input_coefficients) -> np.ndarray:
    r"""The same residual to full precision from :math:`R` of :math:`\sqrt W[X, U, Y]`:
    :math:`\|R\,[-\lambda g; -\beta; g]\| / \|R_{:, :d}\, g\|`."""
    d = int(n_features)
    lam = np.asarray(eigenvalues, dtype=np.complex128)
    V = np.asarray(vectors, dtype=np.complex128)
    v = np.vstack([-V * lam, -np.asarray(input_coefficients, dtype=np.complex128), V])
    num = np.linalg.norm(R @ v, axis=0)
    den = np.linalg.norm(R[:, :d] @ V, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.inf)


# -- the estimator contract -------------------------------------------------------------
class ControlledKoopmanEstimator(OnlineMixin, KoopmanEstimator):
    r"""Base class of Koopman models with inputs (:class:`DMDc`, :class:`EDMDc`).

    Subclasses set the reduced model with ``_set_reduced_model`` (the autonomous part)
    and ``_set_input_model(B_r)``; this class turns them into ``predict(X, u)``,
    ``simulate(x0, n_steps, u)`` and ``score(X, y, u=)``. Every controlled model learns
    online (:class:`~koop.estimators._online.OnlineMixin`, with inputs).

    Attributes
    ----------
    input_matrix_ : ndarray (n_inputs_, rank)
        :math:`B_r`: :math:`h(x_{n+1}) \approx h(x_n)K_r + u_nB_r`.
    n_inputs_ : int
    residuals_ : ndarray (n_modes,)
        Residual of each autonomous eigenpair with the fitted input term removed (see
        :mod:`koop.estimators._control`).
    """

    _has_inputs = True


    def _start_controlled_fit(self, X: Any, y: Any, u: Any, dt: Any, weights: Any):
        """What every controlled ``fit`` does first (as the base's ``_start_fit``, with
        inputs): check the parameters, validate states and inputs, record
        ``n_features_in_`` and the feature names, start afresh the online stream.
        Returns the ControlledTrajectories."""
        self._validate_params()
        controlled = as_controlled_trajectories(X, y, u=u, dt=dt, min_pairs=2, name="X")
        self.n_features_in_ = controlled.data.n_features
        self._set_feature_names(controlled.data)
        self._start_stream(weights)
        return controlled

    def _set_input_model(self, input_matrix: np.ndarray) -> None:
        self.input_matrix_ = np.asarray(input_matrix)
        self.n_inputs_ = int(self.input_matrix_.shape[0])

    def _input_coefficients(self) -> np.ndarray:
        r""":math:`\beta_j = B_r v_j`, the input's push on each eigenfunction (m, n_modes)."""
        return self.input_matrix_ @ self._eigvecs_reduced_

    def _inputs_for(self, u: Any, n_rows: int, what: str) -> np.ndarray:
        check_is_fitted(self, "input_matrix_")
        return check_inputs(u, n_rows, self.n_inputs_, what=what)

    def predict(self, X: Any, u: Any = None) -> np.ndarray:
        r"""One step ahead under the given inputs: :math:`\hat x_{n+1} = (h(x_n)K_r +
        u_nB_r)C_r`.

        Parameters
        ----------
        X : array-like (n_samples, n_features_in_)
            States (for a lagged dictionary, consecutive samples of one trajectory).
        u : array-like (n_samples, n_inputs_)
            The input applied at each row of ``X`` (for a lagged dictionary the first
            ``n_lags_`` rows are not used).

        Returns
        -------
        ndarray (n_samples - n_lags_, n_features_in_)
        """
        check_is_fitted(self, "input_matrix_")
        X = check_array(X, name="X", n_features=self.n_features_in_,
                        min_samples=self.n_lags_ + 1)
        U = self._inputs_for(u, X.shape[0], "row of X")[self.n_lags_ :]
        model = self.model_
        nxt = model.lift(self._psi(X)) @ self.reduced_matrix_ + U @ self.input_matrix_
        return model.real_if_real(nxt @ self.state_map_)

    def simulate(self, x0: Any, n_steps: int, u: Any = None) -> np.ndarray:
        r"""Run the linear predictor from ``x0`` under an input sequence.

        :math:`h_0 = \psi(x_0)Q`, :math:`h_k = h_{k-1}K_r + u_{k-1}B_r`,
        :math:`x_k = h_kC_r`.

        Parameters
        ----------
        x0 : array-like (n_features_in_,) or (n_lags_ + 1, n_features_in_)
        n_steps : int
        u : array-like (n_steps, n_inputs_)
            ``u[k]`` drives the step to state ``k + 1``.

        Returns
        -------
        ndarray (n_steps, n_features_in_)
        """
        check_is_fitted(self, "input_matrix_")
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer):
            raise TypeError(f"n_steps must be a non-negative integer, got {n_steps!r}.")
        if n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}.")
        U = self._inputs_for(u, int(n_steps), "step (n_steps)")
        h = self.lift_reduced(x0)
        K, B, Cr = self.reduced_matrix_, self.input_matrix_, self.state_map_
        out = np.empty((n_steps, Cr.shape[1]), dtype=np.result_type(h, K, B, Cr))
        for k in range(n_steps):
            h = h @ K + U[k] @ B
            out[k] = h @ Cr
        return self.model_.real_if_real(out)

    def lift_reduced(self, x0: Any) -> np.ndarray:
        r""":math:`h(x_0) = \psi(x_0)Q`, the reduced coordinates of one initial state.

        ``x0`` is a state, or for a lagged dictionary its last ``n_lags_ + 1`` samples.
        """
        check_is_fitted(self, "reduced_matrix_")
        lags = self.n_lags_
        x0 = np.asarray(x0, dtype=float) if isinstance(x0, list) else np.asarray(x0)
        if x0.ndim == 1:
            x0 = (x0.reshape(-1, 1) if self.n_features_in_ == 1 and lags > 0
                  and x0.shape[0] > 1 else x0.reshape(1, -1))
        if x0.ndim == 2 and x0.shape[0] < lags + 1:
            raise ValueError(f"x0 needs the last {lags + 1} samples for this lagged "
                             f"dictionary (n_lags_={lags}); got {x0.shape[0]}.")
        if x0.ndim == 2:
            x0 = x0[-(lags + 1):]
        return self.model_.lift(self._psi(x0, name="x0"))[-1]


    def score(self, X: Any, y: Any = None, sample_weight: Any = None, *,
              u: Any = None) -> float:
        """R^2 of one-step predictions under the recorded inputs.

        Parameters
        ----------
        X : array-like, list of arrays or xarray
            Trajectories, or the ``X`` of snapshot pairs.
        y : array-like, optional
            Successors of ``X`` row by row.
        sample_weight : ignored
        u : array-like, list or xarray
            The inputs, as for ``fit``.

        Returns
        -------
        float
        """
        check_is_fitted(self, "input_matrix_")
        cd = as_controlled_trajectories(X, y, u=u, name="X")
        if cd.n_inputs != self.n_inputs_:
            raise ValueError(f"u has {cd.n_inputs} input(s); the model was fitted with "
                             f"{self.n_inputs_}.")
        lags = self.n_lags_
        preds, truth = [], []
        data = cd.data
        if data.is_pairs:
            if lags:
                raise ValueError("A lagged dictionary needs trajectories, not pairs.")
            for xb, yb, ub in zip(data.trajectories, data.successors, cd.inputs,
                                  strict=True):
                preds.append(self.predict(xb, ub))
                truth.append(yb)
        else:
            for t, ub in zip(data.trajectories, cd.inputs, strict=True):
                if t.shape[0] < lags + 2:
                    continue
                preds.append(self.predict(t[:-1], ub[:-1]))
                truth.append(t[lags + 1 :])
        if not preds:
            raise ValueError("X is too short to score: no snapshot pairs.")
        return float(r2_score(np.concatenate(truth), np.concatenate(preds).real))
