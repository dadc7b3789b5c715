"""Reduced-rank regression (RRR) of the Koopman / transfer operator on a dictionary."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from koop._reduction import REDUCTION_CONSTRAINTS
from koop.base import KoopmanEstimator
from koop.dictionaries import POD, Dictionary
from koop.estimators._edmd import fit_dictionary
from koop.estimators._rrr_solvers import rrr_solve
from koop.gram import BACKENDS, build_gram

__all__ = ["RRR"]

# shared by RRR and KernelRRR
_SOLVER_CONSTRAINTS: dict = {
    "rank": [Interval(Integral, 1, None, closed="left"), None],
    "regularization": [Interval(Real, 0, None, closed="left")],
    "solver": [StrOptions({"dense", "randomized"})],
    "backend": [StrOptions(set(BACKENDS))],
    "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
    "n_oversamples": [Interval(Integral, 0, None, closed="left")],
    "iterated_power": [Interval(Integral, 0, None, closed="left")],
    "random_state": ["random_state"],
}


class RRR(KoopmanEstimator):
    r"""Reduced-rank regression of the Koopman operator (Kostic et al. 2022).

    Regresses the dictionary one step ahead on the dictionary now with a rank
    constraint, :math:`\min_{\operatorname{rank}K\le r}\|\Psi_Y - \Psi_XK\|_W^2 +
    \gamma\|K\|_F^2`, whose solution is :math:`K = UU^*A` with

    .. math::
        A A^* u_i = \sigma_i^2 (G + \gamma I) u_i, \qquad U^*(G+\gamma I)U = I,

    from the Gram matrices :math:`G, A` of :func:`koop.gram.build_gram` (so it streams
    and runs on every backend; see :func:`koop.estimators._rrr_solvers.rrr_solve`).
    The eigenvalues are those of :math:`U^*AU`. Where EDMD with ``rank`` (principal
    component regression) keeps the directions of largest variance of the dictionary,
    RRR keeps those whose future it explains best, which estimates the leading spectrum
    better at equal rank (Kostic et al. 2022). The regression error is measured in the
    dictionary's own coordinates, so RRR depends on how the dictionary is scaled:
    raw monomials of high degree dominate it; kernel (Nyström) features, which are
    orthonormal in the RKHS (:class:`~koop.estimators.KernelRRR`), or RBFs of equal
    height, do not.

    Parameters
    ----------
    dictionary : Dictionary, optional
        Observables; default :class:`~koop.dictionaries.Identity`. Cloned and fitted.
    rank : int, optional
        :math:`r`; must not exceed the dictionary size. None: no rank constraint
        (ridge-regularised EDMD).
    regularization : float, default=0.0
        Tikhonov :math:`\gamma`.
    solver : {"dense", "randomized"}, default="dense"
        ``"randomized"`` sketches the regression with ``rank + n_oversamples`` columns
        (for large dictionaries; needs :math:`G+\gamma I` positive definite).
    backend : {"numba", "numpy", "dask", "torch"}, default="numba"
        How the Gram matrices are built.
    chunk_size : int, optional
        Samples per chunk of the streamed Gram build.
    rcond : float, optional
        Relative eigenvalue cut-off of :math:`G + \gamma I` (default :math:`M\varepsilon`).
    n_oversamples, iterated_power : int
        Randomized solver: extra sketch columns, power iterations.
    random_state : int, RandomState or None
        Randomized solver's sketch.
    reduce : POD, optional
        Fit on the POD coordinates :math:`z = U^*x` of a field (see
        :class:`~koop.estimators.EDMD`); modes come back on the full state.
    reduce_split : float in (0, 1), optional
        The first fraction of every trajectory fits the POD basis, the rest the model.

    Attributes
    ----------
    dictionary_ : Dictionary
    gram_ : GramMatrices
        :math:`G, A, L, C` of the training data (residuals, VAMP scores).
    singular_values_ : ndarray (rank_,)
        :math:`\sigma_i`, descending.
    rank_ : int
        The rank fitted (``rank`` unless :math:`G` had fewer independent directions).
    eigenvalues_, eigenvectors_, modes_, continuous_eigenvalues_
        See :class:`~koop.base.KoopmanEstimator`.
    n_features_in_ : int

    References
    ----------
    V. Kostic, P. Novelli, A. Maurer, C. Ciliberto, L. Rosasco, M. Pontil, "Learning
    dynamical systems via Koopman operator regression in reproducing kernel Hilbert
    spaces", NeurIPS 2022. G. Turri, V. Kostic, P. Novelli, M. Pontil, "A randomized
    algorithm to solve reduced rank operator regression", 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> from koop.dictionaries import Polynomial
    >>> X = systems.ornstein_uhlenbeck(20000, dt=0.5, random_state=0)
    >>> model = RRR(Polynomial(degree=3), rank=4).fit(X)
    >>> exact = systems.ornstein_uhlenbeck_spectrum(4, dt=0.5)
    >>> bool(np.abs(model.eigenvalues_ - exact).max() < 0.02)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "dictionary": [Dictionary, None],
        "rcond": [Interval(Real, 0, 1, closed="left"), None],
        **_SOLVER_CONSTRAINTS,
        **REDUCTION_CONSTRAINTS,
    }

    def __init__(
        self,
        dictionary: Dictionary | None = None,
        rank: int | None = None,
        regularization: float = 0.0,
        solver: str = "dense",
        backend: str = "numba",
        chunk_size: int | None = None,
        rcond: float | None = None,
        n_oversamples: int = 10,
        iterated_power: int = 2,
        random_state: Any = None,
        reduce: POD | None = None,
        reduce_split: float | None = None,
    ) -> None:
        self.dictionary = dictionary
        self.rank = rank
        self.regularization = regularization
        self.solver = solver
        self.backend = backend
        self.chunk_size = chunk_size
        self.rcond = rcond
        self.n_oversamples = n_oversamples
        self.iterated_power = iterated_power
        self.random_state = random_state
        self.reduce = reduce
        self.reduce_split = reduce_split

    def fit(self, X: Any, y: Any = None, *, dt: float | None = None,
            weights: Any = None) -> RRR:
        """Fit the dictionary, build :math:`G, A, L` and solve the reduced-rank regression.

        Parameters
        ----------
        X : array-like, list of arrays or xarray
            One trajectory (n_samples, n_features), several, or the X of snapshot pairs.
        y : array-like, optional
            Successors of X row by row.
        dt : float, optional
            Sampling interval (for ``continuous_eigenvalues_``).
        weights : array-like, optional
            Quadrature weight per snapshot pair (default 1/N).

        Returns
        -------
        self
        """
        data = self._start_fit(X, y, dt, lazy=self.backend == "dask")
        self.dictionary_ = fit_dictionary(self.dictionary, data)
        M = self.dictionary_.n_output_features_
        if self.rank is not None and self.rank > M:
            raise ValueError(
                f"rank={self.rank} is larger than the dictionary ({M} functions on "
                f"{data.n_features} feature(s)): use rank <= {M} or a larger dictionary."
            )
        self.gram_ = build_gram(self.dictionary_, data, weights=weights,
                                chunk_size=self.chunk_size, backend=self.backend)
        model = rrr_solve(self.gram_.G, self.gram_.A, self.gram_.C, rank=self.rank,
                          regularization=self.regularization, solver=self.solver,
                          rcond=self.rcond, n_oversamples=self.n_oversamples,
                          iterated_power=self.iterated_power,
                          random_state=self.random_state)
        self.singular_values_ = model.singular_values
        self.n_dropped_directions_ = model.n_dropped
        self.rank_ = int(model.basis.shape[1])
        self._set_reduced_model(model.basis, model.reduced, model.state_map, data.dt)
        return self

    @property
    def koopman_matrix_(self) -> np.ndarray:  # type: ignore[override]
        r""":math:`K = UU^*A` (M x M), of rank ``rank_``."""
        check_is_fitted(self, "reduced_matrix_")
        U = self.basis_
        return U @ (U.conj().T @ self.gram_.A)
