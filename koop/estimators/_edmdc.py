"""EDMD with control: the lifted linear predictor of Korda & Mezić for MPC."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from koop.data import as_controlled_trajectories, check_array
from koop.dictionaries import Dictionary, Identity
from koop.estimators._control import (
    ControlledKoopmanEstimator,
    edmdc_solve,
    input_residuals_from_gram,
)
from koop.estimators._online import OnlineMixin
from koop.gram import BACKENDS, GramMatrices, build_gram_inputs

__all__ = ["EDMDc"]


class EDMDc(OnlineMixin, ControlledKoopmanEstimator):
    r"""Lifted linear predictor with inputs (Korda & Mezić 2018), on any koop dictionary.

    The state is lifted by the dictionary, :math:`z = \psi(x)`; the inputs are not
    lifted and enter linearly:

    .. math::
        \psi(x_{n+1}) \approx A\,\psi(x_n) + B\,u_n, \qquad x_n \approx C\,\psi(x_n),

    with :math:`[A, B] = \Psi_Y^\top[\Psi_X, U]^{+\top}` (least squares over all pairs)
    and :math:`C` the least-squares map from the lifted state back to the state. For
    MPC this turns a nonlinear plant into a linear one: predictions are affine in the
    input sequence, so a quadratic cost with linear constraints is a convex QP
    (:mod:`koop.mpc`).

    The fit streams the Gram matrices of :math:`[\psi(x), u]` in one pass
    (:func:`koop.gram.build_gram_inputs`) and solves in the basis of
    :func:`~koop.estimators._solvers.edmd_solve` (same rank decisions as EDMD; see
    :func:`~koop.estimators._control.edmdc_solve`). ``eigenvalues_`` belong to the
    autonomous part :math:`A` (the plant with :math:`u = 0`); ``residuals_`` are
    ResDMD-style residuals with the fitted input term removed (see
    :mod:`koop.estimators._control`).

    Parameters
    ----------
    dictionary : Dictionary, optional
        Lifting of the state; default :class:`~koop.dictionaries.Identity` (then EDMDc is
        DMDc without truncation). Cloned and fitted on the training states.
    rank : int, optional
        Keep at most this many leading directions of :math:`G_{xx}` (a PCA of the lift).
    regularization : float, default=0.0
        Tikhonov parameter on the lifted state.
    backend : {"numba", "numpy", "dask", "torch"}, default="numba"
    chunk_size : int, optional
    rcond : float, optional
        Relative eigenvalue cut-off of :math:`G_{xx}` (default :math:`M\varepsilon`).
    forgetting_factor : float in (0, 1], optional
        Exponential forgetting for :meth:`partial_fit` (see :class:`OnlineMixin`).

    Attributes
    ----------
    A_ : ndarray (M, M)
        Lifted state matrix (column convention: :math:`z_{n+1} = A z_n + B u_n`).
    B_ : ndarray (M, n_inputs_)
    C_ : ndarray (n_features_in_, M)
    dictionary_ : Dictionary
    augmented_gram_ : GramMatrices
        Gram matrices of :math:`[\psi(x), u]` (size :math:`M + m`).
    gram_ : GramMatrices
        Their state blocks :math:`G, A, L, C` of :math:`\psi` alone, for
        :mod:`koop.validation` (whose residuals there count the inputs' effect as error;
        give :func:`koop.validation.residuals` data recorded with :math:`u = 0` for the
        residuals of the autonomous operator).
    residuals_ : ndarray (n_modes,)
    input_matrix_, n_inputs_, eigenvalues_, eigenvectors_, modes_, continuous_eigenvalues_
        See :class:`~koop.estimators._control.ControlledKoopmanEstimator`.

    References
    ----------
    M. Korda, I. Mezić, "Linear predictors for nonlinear dynamical systems: Koopman
    operator meets model predictive control", Automatica 93 (2018).

    Examples
    --------
    A linear plant is recovered exactly (the lift contains the state):

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A, B = np.array([[0.9, 0.2], [0.0, 0.7]]), np.array([[0.0], [1.0]])
    >>> U = rng.uniform(-1, 1, (200, 1))
    >>> X = np.zeros((201, 2))
    >>> for k in range(200):
    ...     X[k + 1] = A @ X[k] + B @ U[k]
    >>> model = EDMDc().fit(X, u=U)
    >>> (np.round(model.A_, 10) + 0.0).tolist()
    [[0.9, 0.2], [0.0, 0.7]]
    >>> (np.round(model.B_.ravel(), 10) + 0.0).tolist()
    [0.0, 1.0]
    """

    _parameter_constraints: ClassVar[dict] = {
        "dictionary": [Dictionary, None],
        "rank": [Interval(Integral, 1, None, closed="left"), None],
        "regularization": [Interval(Real, 0, None, closed="left")],
        "backend": [StrOptions(set(BACKENDS))],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "rcond": [Interval(Real, 0, 1, closed="left"), None],
        "forgetting_factor": [Interval(Real, 0, 1, closed="right"), None],
    }
    _stream_kind = "gram"
    _stats_attribute = "augmented_gram_"
    _has_inputs = True

    def __init__(
        self,
        dictionary: Dictionary | None = None,
        rank: int | None = None,
        regularization: float = 0.0,
        backend: str = "numba",
        chunk_size: int | None = None,
        rcond: float | None = None,
        forgetting_factor: float | None = None,
    ) -> None:
        self.dictionary = dictionary
        self.rank = rank
        self.regularization = regularization
        self.backend = backend
        self.chunk_size = chunk_size
        self.rcond = rcond
        self.forgetting_factor = forgetting_factor

    def fit(self, X: Any, y: Any = None, *, u: Any = None, dt: float | None = None,
            weights: Any = None) -> EDMDc:
        """Fit the lifted predictor on states ``X`` driven by inputs ``u``.

        Parameters
        ----------
        X : array-like, list of arrays or xarray
            One trajectory, several, or the X of snapshot pairs.
        y : array-like, optional
            Successors of X row by row.
        u : array-like, list of arrays, xarray, or name(s) of Dataset variables
            Inputs: for a trajectory of n samples, n - 1 rows (one per transition) or n
            (one per sample, the last unused); for pairs one row per pair.
        dt : float, optional
        weights : array-like, optional
            Quadrature weight per snapshot pair (default 1/N).

        Returns
        -------
        self
        """
        self._validate_params()
        self._reset_stream()
        cd = as_controlled_trajectories(X, y, u=u, dt=dt, min_pairs=2, name="X")
        self.n_features_in_ = cd.data.n_features
        self._set_feature_names(cd.data)
        self.dictionary_ = self._fit_dictionary(cd.data)
        self._solve_stats(self._batch_stats(cd, weights), cd.data.dt)
        return self

    # -- hooks used by fit and partial_fit --------------------------------------------
    def _fit_dictionary(self, data) -> Dictionary:
        dictionary = Identity() if self.dictionary is None else clone(self.dictionary)
        return dictionary.fit(data.stacked())

    def _batch_stats(self, controlled, weights) -> GramMatrices:
        return build_gram_inputs(self.dictionary_, controlled, weights=weights,
                                 chunk_size=self.chunk_size, backend=self.backend)

    def _solve_stats(self, gram: GramMatrices, dt: float | None) -> None:
        m = int(gram.extras["n_inputs"])
        M = gram.n_features - m
        d = gram.C.shape[1] - m
        self.augmented_gram_ = gram
        self.gram_ = GramMatrices(gram.G[:M, :M], gram.A[:M, :M], gram.L[:M, :M],
                                  gram.C[:M, :d], gram.n_samples, gram.weights_sum,
                                  gram.backend, {"weights": "uniform" if gram.uniform
                                                 else "given"})
        model, B_r = edmdc_solve(gram.G, gram.A, gram.C, m, rank=self.rank,
                                 regularization=self.regularization, rcond=self.rcond)
        self.n_dropped_directions_ = model.n_dropped
        self._set_reduced_model(model.basis, model.reduced, model.state_map, dt)
        self._set_input_model(B_r)
        self.residuals_ = input_residuals_from_gram(
            gram.G, gram.A, gram.L, m, self.eigenvalues_, self.eigenvectors_,
            self._input_coefficients())

    # -- the lifted predictor -----------------------------------------------------------
    def _left_inverse(self) -> np.ndarray:
        """:math:`Q^+ = Q^*(G_{xx} + \\gamma I)`: maps dictionary coordinates to ``h``."""
        G = self.gram_.G
        Greg = G + self.regularization * np.eye(G.shape[0]) if self.regularization else G
        return self.basis_.conj().T @ Greg

    @property
    def A_(self) -> np.ndarray:
        r""":math:`A` (M x M): :math:`\psi(x_{n+1}) \approx A\psi(x_n) + Bu_n` (transpose of
        the row-convention :math:`QK_rQ^+`)."""
        check_is_fitted(self, "input_matrix_")
        return self._real_if_real(self.basis_ @ self.reduced_matrix_ @ self._left_inverse()).T

    @property
    def B_(self) -> np.ndarray:
        """:math:`B` (M x n_inputs): the input's push on the lifted state."""
        check_is_fitted(self, "input_matrix_")
        return self._real_if_real(self.input_matrix_ @ self._left_inverse()).T

    @property
    def C_(self) -> np.ndarray:
        r""":math:`C` (n_features x M): :math:`x \approx C\psi(x)`."""
        check_is_fitted(self, "input_matrix_")
        return self._real_if_real(self.basis_ @ self.state_map_).T

    def lift(self, X: Any) -> np.ndarray:
        r"""The lifted state :math:`z = \psi(x)` of each row (the coordinates of ``A_``).

        Parameters
        ----------
        X : array-like (n_samples, n_features_in_)

        Returns
        -------
        ndarray (n_samples - n_lags_, M)
        """
        check_is_fitted(self, "input_matrix_")
        X = check_array(X, name="X", n_features=self.n_features_in_,
                        min_samples=self.n_lags_ + 1)
        return self.dictionary_.transform(X)
