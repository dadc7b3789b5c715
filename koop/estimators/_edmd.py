"""Extended dynamic mode decomposition."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone

from koop._params import (
    CHUNK_SIZE,
    NON_NEGATIVE_REAL,
    RANK,
    RCOND,
    StrOptions,
    instance_of,
)
from koop._reduction import REDUCTION_CONSTRAINTS
from koop.base import KoopmanEstimator
from koop.dictionaries import POD, Dictionary, Identity
from koop.estimators._online import FORGETTING_FACTOR, OnlineMixin
from koop.estimators._solvers import ReducedModel, edmd_solve
from koop.gram import BACKENDS, GramMatrices, build_gram

__all__ = ["EDMD"]

#: the ``dictionary`` parameter of the EDMD family
DICTIONARY = [instance_of(Dictionary, "a koop dictionary (koop.dictionaries)"), None]
BACKEND = [StrOptions(set(BACKENDS))]


class EDMD(OnlineMixin, KoopmanEstimator):
    r"""Extended DMD (Williams, Kevrekidis & Rowley 2015): :math:`K = G^{+}A`.

    With the dictionary :math:`\psi` evaluated on snapshot pairs,
    :math:`G = \Psi_X^* W\Psi_X` and :math:`A = \Psi_X^* W \Psi_Y`
    (:func:`koop.gram.build_gram`), a function :math:`g = \Psi c` evolves as
    :math:`Kg \approx \Psi(Kc)`. :math:`G` is often singular (dependent dictionary
    functions on the data), so the pseudo-inverse is applied through a rank-revealing
    eigendecomposition of :math:`G + \gamma I` (see
    :func:`koop.estimators._solvers.edmd_solve`); dropped directions raise a
    :class:`~koop.exceptions.RankDeficiencyWarning` that says how many and why.

    Parameters
    ----------
    dictionary : Dictionary, optional
        Observables; default :class:`~koop.dictionaries.Identity` (exact DMD, untruncated).
        Cloned and fitted on the training data (``dictionary_``).
    rank : int, float in (0, 1), "optimal" or None
        Truncate to the leading directions of :math:`G` (a PCA of the dictionary): at
        most this many, the fewest holding this fraction of :math:`\operatorname{tr} G`,
        or Gavish-Donoho's hard threshold (see
        :func:`~koop._spectral.truncation.select_rank`); None keeps the numerical rank.
    regularization : float, default=0.0
        Tikhonov parameter :math:`\gamma` added to :math:`G`.
    backend : {"numba", "numpy", "dask", "torch"}, default="numba"
        How the Gram matrices are built.
    chunk_size : int, optional
        Samples per chunk for the streamed Gram build.
    rcond : float, optional
        Relative eigenvalue cut-off for :math:`G` (default :math:`M\varepsilon`).
    reduce : POD, optional
        Fit on the POD coordinates :math:`z = U^*x` of the state (a field: :math:`d \gg`
        the number of snapshots): the basis is fitted first by a streamed tall-skinny
        QR, the estimator runs on :math:`z`, and ``modes_`` (and predictions) come back
        on the full state, on the grid for a labelled field (:mod:`koop._reduction`).
        Required beyond 10 000 features.
    reduce_split : float in (0, 1), optional
        Two-split scheme (Colbrook & Townsend): the first fraction of every trajectory
        fits the POD basis, the rest the operator (and its residuals). Default: all data
        for both.
    forgetting_factor : float in (0, 1], optional
        Exponential forgetting for :meth:`partial_fit` (online learning: see
        :mod:`koop.estimators._online`); ``fit`` weighs its data as usual.

    Attributes
    ----------
    dictionary_ : Dictionary
        The fitted dictionary.
    gram_ : GramMatrices
        :math:`G, A, L, C` from the training data (kept for validation).
    eigenvalues_, eigenvectors_, modes_, continuous_eigenvalues_
        See :class:`~koop.base.KoopmanEstimator`.
    koopman_matrix_ : ndarray (M, M)
        :math:`QK_rQ^+` (:math:`G^{+}A` when nothing is truncated), see
        :meth:`koop.base.KoopmanModel.koopman_matrix`.
    n_features_in_ : int
    reduction_ : POD
        The fitted reduction, when ``reduce`` is given.

    References
    ----------
    M. O. Williams, I. G. Kevrekidis, C. W. Rowley, "A data-driven approximation of the
    Koopman operator: extending dynamic mode decomposition", J. Nonlinear Sci. 25 (2015).

    Examples
    --------
    >>> import numpy as np
    >>> from koop.dictionaries import Polynomial
    >>> from koop import systems
    >>> X = systems.slow_manifold(200, mu=0.9, lam=0.5, x0=[1.0, 1.0])
    >>> model = EDMD(Polynomial(degree=2)).fit(X)
    >>> np.round(sorted(model.eigenvalues_.real, reverse=True)[:3], 8).tolist()
    [1.0, 0.9, 0.81]
    """

    _accepts_complex = True
    _parameter_constraints: ClassVar[dict] = {
        "dictionary": DICTIONARY,
        "rank": RANK,
        "regularization": NON_NEGATIVE_REAL,
        "backend": BACKEND,
        "chunk_size": CHUNK_SIZE,
        "rcond": RCOND,
        **REDUCTION_CONSTRAINTS,
        "forgetting_factor": FORGETTING_FACTOR,
    }
    # online learning (partial_fit, merge: koop.estimators._online.OnlineMixin)
    _stream_kind = "gram"

    def __init__(
        self,
        dictionary: Dictionary | None = None,
        rank: int | float | str | None = None,
        regularization: float = 0.0,
        backend: str = "numba",
        chunk_size: int | None = None,
        rcond: float | None = None,
        reduce: POD | None = None,
        reduce_split: float | None = None,
        forgetting_factor: float | None = None,
    ) -> None:
        self.dictionary = dictionary
        self.rank = rank
        self.regularization = regularization
        self.backend = backend
        self.chunk_size = chunk_size
        self.rcond = rcond
        self.reduce = reduce
        self.reduce_split = reduce_split
        self.forgetting_factor = forgetting_factor

    def fit(self, X: Any, y: Any = None, *, dt: float | None = None,
            weights: Any = None) -> EDMD:
        """Fit the dictionary, build the Gram matrices and solve :math:`K = G^+A`.

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
        self._start_stream(weights)  # a fit starts afresh (and closes any open stream)
        self.dictionary_ = self._fit_dictionary(data)
        self._solve_gram(self._gram(data, weights), data.dt)
        return self

    # -- the hooks of fit, partial_fit and merge (koop.estimators._online) --------------
    def _fit_dictionary(self, data) -> Dictionary:
        return fit_dictionary(self.dictionary, data)

    def _gram(self, data, weights: Any) -> GramMatrices:
        return build_gram(self.dictionary_, data, weights=weights,
                          chunk_size=self.chunk_size, backend=self.backend)

    def _batch_sums(self, data, weights: Any) -> GramMatrices:
        gram = self._gram(data, weights)
        return gram.as_sums() if weights is None else gram

    def _solve_sums(self, sums: GramMatrices, uniform: bool, dt: float | None) -> None:
        self._solve_gram(sums.mean() if uniform else sums, dt)

    def _solve_gram(self, gram: GramMatrices, dt: float | None) -> None:

        self.gram_ = gram
        reduced = solve_gram(gram, rank=self.rank, regularization=self.regularization,
                             rcond=self.rcond)
        self.n_dropped_directions_ = reduced.n_dropped
        self._set_reduced_model(reduced.basis, reduced.reduced, reduced.state_map, dt)


def fit_dictionary(dictionary: Dictionary | None, data) -> Dictionary:
    """A fitted clone of ``dictionary`` (default Identity) on the samples of ``data``."""
    dictionary = Identity() if dictionary is None else clone(dictionary)
    return dictionary.fit(training_states(data))


def training_states(data) -> np.ndarray:
    """The samples a dictionary is fitted on: all of them, or evenly spaced rows of lazy
    (dask) data, so that fitting never loads a lazy data set whole."""
    return data.stacked() if not _is_lazy(data) else _sample(data)


def solve_edmd(dictionary: Dictionary, data, *, weights: Any = None,
               chunk_size: int | None = None, backend: str = "numba", rank: Any = None,
               regularization: float = 0.0, rcond: float | None = None
               ) -> tuple[GramMatrices, ReducedModel]:
    """The EDMD solve on a fitted dictionary: the Gram matrices and :math:`K = G^+A`.

    Shared by :class:`EDMD` and :class:`~koop.estimators.neural.EDMDDL` (which learns
    its dictionary first); see :func:`~koop.estimators._solvers.edmd_solve`.
    """
    gram = build_gram(dictionary, data, weights=weights, chunk_size=chunk_size,
                      backend=backend)
    return gram, solve_gram(gram, rank=rank, regularization=regularization, rcond=rcond)


def solve_gram(gram: GramMatrices, *, rank: Any = None, regularization: float = 0.0,
               rcond: float | None = None) -> ReducedModel:
    r""":math:`K = G^+A` from Gram matrices (built in one pass, or accumulated by
    ``partial_fit``); see :func:`~koop.estimators._solvers.edmd_solve`."""
    return edmd_solve(gram.G, gram.A, gram.C, rank=rank, regularization=regularization,
                      rcond=rcond, n_samples=gram.n_samples)



def _is_lazy(data) -> bool:
    from koop.data import is_dask_array

    return any(is_dask_array(t) for t in data.trajectories)


def _sample(data, max_rows: int = 200_000) -> np.ndarray:
    """Evenly spaced rows of lazy data, for fitting dictionaries on a bounded sample."""
    rows = []
    budget = max(max_rows // max(data.n_trajectories, 1), 2)
    for t in data.trajectories:
        step = max(t.shape[0] // budget, 1)
        rows.append(np.asarray(t[::step]))
    return np.concatenate(rows)
