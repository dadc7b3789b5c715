"""Dynamic mode decomposition with control (Proctor, Brunton & Kutz 2016)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from koop._params import RANK
from koop.data import check_array, check_weights
from koop.dictionaries import Identity
from koop.estimators._control import (
    ControlledKoopmanEstimator,
    dmdc_solve,
    input_residuals_from_r,
)
from koop.estimators._online import FORGETTING_FACTOR
from koop.estimators._rsums import RSums, pair_rows
from koop.gram import GramMatrices

__all__ = ["DMDc"]


class DMDc(ControlledKoopmanEstimator):
    r"""DMD with control (Proctor, Brunton & Kutz 2016): :math:`x_{n+1} \approx Ax_n + Bu_n`.

    With the snapshot pairs in columns, :math:`X' \approx AX + BU = G\Omega`,
    :math:`\Omega = [X; U]`. The input space :math:`\Omega = \tilde U\tilde\Sigma\tilde V^*`
    is truncated to rank :math:`p` (``input_rank``) and the output space
    :math:`X' = \hat U\hat\Sigma\hat V^*` to rank :math:`r` (``rank``); the reduced model
    on :math:`\tilde x = \hat U^*x` is

    .. math::
        \tilde A = \hat U^*X'\tilde V\tilde\Sigma^{-1}\tilde U_1^*\hat U, \qquad
        \tilde B = \hat U^*X'\tilde V\tilde\Sigma^{-1}\tilde U_2^*,

    :math:`\tilde x_{n+1} = \tilde A\tilde x_n + \tilde Bu_n` (:math:`\tilde U_1,
    \tilde U_2`: the state and input rows of :math:`\tilde U`), and
    :math:`A \approx \hat U\tilde A\hat U^*`, :math:`B \approx \hat U\tilde B`. Both
    SVDs come from the R factor of the (weighted) data rows :math:`[x_n, u_n, x_{n+1}]`,
    streamed over chunks (:func:`~koop.estimators._control.dmdc_solve`), which also
    makes :meth:`partial_fit` exact. ``eigenvalues_`` are those of :math:`\tilde A` (the
    autonomous part); ``residuals_`` are computed from the factor to full precision.

    Parameters
    ----------
    rank : int, float, "optimal" or None, default=None
        Truncation :math:`r` of the output space (int; energy fraction in (0, 1);
        Gavish-Donoho's ``"optimal"`` hard threshold; None: numerical rank).
    input_rank : int, float, "optimal" or None, default=None
        Truncation :math:`p` of the input space :math:`[X; U]`, same choices.
    forgetting_factor : float in (0, 1], optional
        Exponential forgetting for :meth:`partial_fit`
        (see :class:`~koop.estimators._online.OnlineMixin`).

    Attributes
    ----------
    A_ : ndarray (n_features_in_, n_features_in_)
        :math:`\hat U\tilde A\hat U^*`.
    B_ : ndarray (n_features_in_, n_inputs_)
        :math:`\hat U\tilde B`.
    C_ : ndarray (n_features_in_, n_features_in_)
        The identity: the lifted state of DMDc is the state itself.
    reduced_A_, reduced_B_ : ndarray
        :math:`\tilde A` (r x r) and :math:`\tilde B` (r x m).
    rank_, input_rank_ : int
        The ranks :math:`r` and :math:`p` used.
    singular_values_, input_singular_values_ : ndarray
        All singular values of :math:`X'` and of :math:`\Omega`.
    row_factor_ : RSums
        :math:`R` of the weighted rows :math:`[x_n, u_n, x_{n+1}]` (what ``fit`` solved
        from; ``partial_fit`` stacks new rows under it).
    gram_ : GramMatrices
        :math:`G = X^*WX`, :math:`A = X^*WY`, :math:`L = Y^*WY`, :math:`C = G` (the
        dictionary of DMDc is the state), recovered from ``row_factor_``, for
        :mod:`koop.validation` (whose residuals count the inputs' effect as error, as
        for :class:`~koop.estimators.EDMDc`).
    residuals_ : ndarray (n_modes,)
    input_matrix_, n_inputs_, eigenvalues_, eigenvectors_, modes_, continuous_eigenvalues_
        See :class:`~koop.estimators._control.ControlledKoopmanEstimator`.

    References
    ----------
    J. L. Proctor, S. L. Brunton, J. N. Kutz, "Dynamic mode decomposition with control",
    SIAM J. Appl. Dyn. Syst. 15 (2016).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A, B = np.array([[0.9, 0.2], [0.0, 0.7]]), np.array([[0.0], [1.0]])
    >>> U = rng.uniform(-1, 1, (200, 1))
    >>> X = np.zeros((201, 2))
    >>> for k in range(200):
    ...     X[k + 1] = A @ X[k] + B @ U[k]
    >>> model = DMDc().fit(X, u=U)
    >>> np.round(model.eigenvalues_.real, 10).tolist()
    [0.9, 0.7]
    >>> (np.round(model.B_.ravel(), 10) + 0.0).tolist()
    [0.0, 1.0]
    """

    _parameter_constraints: ClassVar[dict] = {
        "rank": RANK,
        "input_rank": RANK,
        "forgetting_factor": FORGETTING_FACTOR,
    }
    _stream_kind = "qr"
    _stats_attribute = "row_factor_"

    def __init__(self, rank: int | float | str | None = None,
                 input_rank: int | float | str | None = None,
                 forgetting_factor: float | None = None) -> None:
        self.rank = rank
        self.input_rank = input_rank
        self.forgetting_factor = forgetting_factor

    def fit(self, X: Any, y: Any = None, *, u: Any = None, dt: float | None = None,
            weights: Any = None) -> DMDc:
        """Fit DMDc on states ``X`` driven by inputs ``u``.

        Parameters
        ----------
        X : array-like, list of arrays or xarray
            One trajectory, several, or the X of snapshot pairs.
        y : array-like, optional
            Successors of X row by row.
        u : array-like, list of arrays, xarray, or name(s) of Dataset variables
            For a trajectory of n samples, n - 1 rows (one per transition) or n (one per
            sample, the last unused); for pairs one row per pair.
        dt : float, optional
        weights : array-like, optional
            Weight per snapshot pair (default: equal weights).

        Returns
        -------
        self
        """
        cd = self._start_controlled_fit(X, y, u, dt, weights)
        self.dictionary_ = self._fit_dictionary(cd.data)
        self._solve_stats(self._batch_sums(cd, weights), cd.data.dt)
        return self

    # -- hooks of fit, partial_fit and merge (koop.estimators._online) -------------------
    def _fit_dictionary(self, data) -> Identity:
        return Identity().fit(np.asarray(data.trajectories[0][:1], dtype=np.float64))

    def _batch_sums(self, controlled, weights) -> RSums:
        rows = pair_rows(controlled.data, controlled.inputs)
        return RSums.of(rows, check_weights(weights, rows.shape[0]))

    def _solve_sums(self, sums: RSums, uniform: bool, dt: float | None) -> None:
        self._solve_stats(RSums(sums.R, sums.n_samples, sums.weights_sum, uniform), dt)

    def _solve_stats(self, stats: RSums, dt: float | None) -> None:
        self.row_factor_ = stats
        d = self.n_features_in_
        m = stats.R.shape[1] - 2 * d
        At, Bt, Uhat, s_in, s_out, p = dmdc_solve(
            stats.R, d, m, rank=self.rank, input_rank=self.input_rank,
            shape=(stats.n_samples, d + m))
        self.singular_values_ = s_out
        self.input_singular_values_ = s_in
        self.rank_ = int(Uhat.shape[1])
        self.input_rank_ = int(p)
        self.reduced_A_ = At
        self.reduced_B_ = Bt
        # row convention of the base: h = x Uhat evolves as h' = h At^T + u Bt^T
        self._set_reduced_model(Uhat, At.T, Uhat.conj().T, dt)
        self._set_input_model(Bt.T)
        self.residuals_ = input_residuals_from_r(stats.R, d, self.eigenvalues_,
                                                 self.eigenvectors_,
                                                 self._input_coefficients())
        # the state's Gram matrices (means for default weights), for koop.validation
        R, c = stats.R, 1.0 / stats.weights_sum if stats.uniform else 1.0
        Rx, Ry = R[:, :d], R[:, d + m :]
        G = c * (Rx.T @ Rx)
        self.gram_ = GramMatrices(G, c * (Rx.T @ Ry), c * (Ry.T @ Ry), G.copy(),
                                  stats.n_samples, 1.0 if stats.uniform else stats.weights_sum,
                                  "qr", {"weights": "uniform" if stats.uniform else "given"})

    # -- the state-space form -----------------------------------------------------------
    @property
    def A_(self) -> np.ndarray:
        r""":math:`A \approx \hat U\tilde A\hat U^*` (d x d)."""
        check_is_fitted(self, "reduced_A_")
        return self.model_.real_if_real(self.basis_ @ self.reduced_A_ @ self.basis_.conj().T)

    @property
    def B_(self) -> np.ndarray:
        r""":math:`B \approx \hat U\tilde B` (d x m)."""
        check_is_fitted(self, "reduced_B_")
        return self.model_.real_if_real(self.basis_ @ self.reduced_B_)


    @property
    def C_(self) -> np.ndarray:
        """The identity (d x d): the lifted state of DMDc is the state."""
        check_is_fitted(self, "reduced_A_")
        return np.eye(self.n_features_in_)

    def lift(self, X: Any) -> np.ndarray:
        """The state itself (the coordinates of ``A_``, ``B_``, ``C_``).

        Parameters
        ----------
        X : array-like (n_samples, n_features_in_)

        Returns
        -------
        ndarray (n_samples, n_features_in_)
        """
        check_is_fitted(self, "reduced_A_")
        return check_array(X, name="X", n_features=self.n_features_in_)
