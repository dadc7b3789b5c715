"""Exact dynamic mode decomposition."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from koop._params import RANK
from koop.base import KoopmanEstimator
from koop.dictionaries import Identity
from koop.estimators._solvers import dmd_solve
from koop.gram import build_gram

__all__ = ["DMD"]


class DMD(KoopmanEstimator):
    r"""Exact DMD (Schmid 2010; Tu et al. 2014) with optional rank truncation.

    With samples in rows, :math:`X^\top = U\Sigma V^*` truncated to rank :math:`r` and
    :math:`\tilde A = U^* Y^\top V\Sigma^{-1}` (the best-fit linear map :math:`y \approx
    Ax` projected on the POD modes :math:`U`). Eigenpairs :math:`\tilde A w = \lambda w`
    give the *exact* DMD modes :math:`\xi = Y^\top V\Sigma^{-1} w / \lambda`
    (``modes_``). Predictions and simulations use the projected model
    :math:`x_{n+1} = U\tilde A U^* x_n`.

    Parameters
    ----------
    rank : int, float, "optimal" or None
        Truncation: an integer rank; a float in (0, 1), the smallest rank capturing that
        fraction of :math:`\sum\sigma_i^2`; ``"optimal"``, Gavish & Donoho's optimal hard
        threshold :math:`\omega(\beta)\sigma_{\mathrm{med}}`; None, the numerical rank.

    Attributes
    ----------
    eigenvalues_, modes_, eigenvectors_, continuous_eigenvalues_
        See :class:`~koop.base.KoopmanEstimator`; ``modes_`` are the exact DMD modes.
    singular_values_ : ndarray
        All singular values of :math:`X`.
    rank_ : int
        The rank used.
    koopman_matrix_ : ndarray (d, d)
        :math:`K` with :math:`x_{n+1}^\top \approx x_n^\top K` (i.e. :math:`A^\top`
        projected on the POD modes).
    gram_ : GramMatrices
        :math:`G, A, L` of the identity dictionary (for residuals).

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> X = systems.linear(np.array([[0.9, 0.2], [0.0, 0.5]]), 50, x0=[1.0, 1.0])
    >>> np.round(DMD().fit(X).eigenvalues_.real, 10).tolist()
    [0.9, 0.5]
    """

    _parameter_constraints: ClassVar[dict] = {"rank": RANK}

    def __init__(self, rank: int | float | str | None = None) -> None:
        self.rank = rank

    def fit(self, X: Any, y: Any = None, *, dt: float | None = None) -> DMD:
        """Fit exact DMD on trajectories or snapshot pairs.

        Parameters
        ----------
        X : array-like, list of arrays or xarray
        y : array-like, optional
            Successors of X row by row.
        dt : float, optional

        Returns
        -------
        self
        """
        data = self._start_fit(X, y, dt)
        Xp, Yp = data.pairs()
        Xp = np.asarray(Xp, dtype=np.float64)
        Yp = np.asarray(Yp, dtype=np.float64)
        self.dictionary_ = Identity().fit(Xp[:1])
        model, YVS, s = dmd_solve(Xp, Yp, rank=self.rank)
        self.singular_values_ = s
        self.rank_ = model.basis.shape[1]
        self._set_reduced_model(model.basis, model.reduced, model.state_map, data.dt)
        # exact DMD modes from the eigenvectors w of Atilde (= left eigvecs of reduced)
        lam = self.eigenvalues_
        W = np.linalg.inv(self._eigvecs_reduced_).T
        safe = np.where(np.abs(lam) > 0, lam, 1.0)
        exact = (YVS @ W) / safe
        zero = np.abs(lam) == 0
        if zero.any():  # exact modes undefined for lambda = 0: use projected ones
            exact[:, zero] = (model.basis @ W)[:, zero]
        self.modes_ = exact.astype(np.complex128)
        self.gram_ = build_gram(self.dictionary_, data)
        return self
