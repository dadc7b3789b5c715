"""EDMD with control: the lifted linear predictor of Korda & Mezić for MPC."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from koop._params import CHUNK_SIZE, NON_NEGATIVE_REAL, RANK, RCOND
from koop.data import check_array
from koop.dictionaries import Dictionary
from koop.estimators._control import (
    ControlledKoopmanEstimator,
    edmdc_solve,
    input_residuals_from_gram,
)
from koop.estimators._edmd import BACKEND, DICTIONARY, fit_dictionary
from koop.estimators._online import FORGETTING_FACTOR
from koop.gram import GramMatrices, build_gram_inputs

__all__ = ["EDMDc"]


class EDMDc(ControlledKoopmanEstimator):
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
    rank : int, float in (0, 1), "optimal" or None
        Truncation of :math:`G_{xx}` (a PCA of the lift), as in
        :class:`~koop.estimators.EDMD` (:func:`~koop._spectral.truncation.select_rank`).
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
        "dictionary": DICTIONARY,
        "rank": RANK,
        "regularization": NON_NEGATIVE_REAL,
        "backend": BACKEND,
        "chunk_size": CHUNK_SIZE,
        "rcond": RCOND,
        "forgetting_factor": FORGETTING_FACTOR,
    }
    _stream_kind = "gram"
    _stats_attribute = "augmented_gram_"

    def __init__(
        self,
        dictionary: Dictionary | None = None,
        rank: int | float | str | None = None,
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
        cd = self._start_controlled_fit(X, y, u, dt, weights)
        self.dictionary_ = self._fit_dictionary(cd.data)
        self._solve_gram(self._gram(cd, weights), cd.data.dt)
        return self

    # -- hooks of fit, partial_fit and merge (koop.estimators._online) -----------------
    def _fit_dictionary(self, data) -> Dictionary:
        return fit_dictionary(self.dictionary, data)

    def _gram(self, controlled, weights) -> GramMatrices:
        return build_gram_inputs(self.dictionary_, controlled, weights=weights,
                                 chunk_size=self.chunk_size, backend=self.backend)

    def _batch_sums(self, controlled, weights) -> GramMatrices:
        gram = self._gram(controlled, weights)
        return gram.as_sums() if weights is None else gram

    def _solve_sums(self, sums: GramMatrices, uniform: bool, dt: float | None) -> None:
        self._solve_gram(sums.mean() if uniform else sums, dt)

    def _solve_gram(self, gram: GramMatrices, dt: float | None) -> None:
        m = int(gram.extras["n_inputs"])
        M = gram.n_features - m
        d = gram.C.shape[1] - m
        self.augmented_gram_ = gram
        self.gram_ = GramMatrices(gram.G[:M, :M], gram.A[:M, :M], gram.L[:M, :M],
                                  gram.C[:M, :d], gram.n_samples, gram.weights_sum,
                                  gram.backend, {"weights": "uniform" if gram.uniform
                                                 else "given"})
        model, B_r = edmdc_solve(gram.G, gram.A, gram.C, m, rank=self.rank,
                                 regularization=self.regularization, rcond=self.rcond,
                                 n_samples=gram.n_samples)
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
        return self.model_.real_if_real(
            self.basis_ @ self.reduced_matrix_ @ self._left_inverse()).T

    @property
    def B_(self) -> np.ndarray:
        """:math:`B` (M x n_inputs): the input's push on the lifted state."""
        check_is_fitted(self, "input_matrix_")
        return self.model_.real_if_real(self.input_matrix_ @ self._left_inverse()).T

    @property
    def C_(self) -> np.ndarray:
        r""":math:`C` (n_features x M): :math:`x \approx C\psi(x)`."""
        check_is_fitted(self, "input_matrix_")
        return self.model_.real_if_real(self.basis_ @ self.state_map_).T


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
