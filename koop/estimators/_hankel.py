"""Hankel DMD: exact DMD on delay coordinates."""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import scipy.linalg

from koop._params import POSITIVE_INT, RANK
from koop._reduction import REDUCTION_CONSTRAINTS
from koop._spectral.truncation import select_rank
from koop.base import KoopmanEstimator
from koop.dictionaries import POD, TimeDelay
from koop.estimators._delay_embedding import hankel_pair_factor
from koop.estimators._edmd import BACKEND
from koop.estimators._online import FORGETTING_FACTOR, OnlineMixin
from koop.estimators._rsums import RSums
from koop.gram import GramMatrices, build_gram

__all__ = ["HankelDMD", "delay_rank"]


def delay_rank(s: np.ndarray, rank: Any, shape: tuple[int, int]) -> int:
    r"""Rank for a Hankel SVD: an integer is honoured down to :math:`M\varepsilon\sigma_1`.

    Delay embeddings of smooth signals have singular values that decay geometrically
    far below :func:`~koop.estimators._solvers.select_rank`'s :math:`\max(N, M)
    \varepsilon` cut-off (HAVOK's forcing on Lorenz-63 is at :math:`\sigma_{15} \approx
    3.5\cdot 10^{-13}\sigma_1` with :math:`N = 2\cdot 10^5`), yet a backward-stable SVD
    of the :math:`N\times M` matrix resolves them down to about :math:`M\varepsilon
    \sigma_1`; so an explicit integer rank is capped only there. Other ``rank`` values
    (None, a float energy fraction, ``"optimal"``) follow ``select_rank``.
    """
    if isinstance(rank, Integral) and not isinstance(rank, bool):
        return select_rank(s, rank, shape, cutoff=shape[1] * np.finfo(float).eps)
    return select_rank(s, rank, shape)


class HankelDMD(OnlineMixin, KoopmanEstimator):
    r"""Hankel DMD (Arbabi & Mezić 2017): exact DMD on delay coordinates.

    Each sample is replaced by its delay window :math:`\psi(x_n) = (x_n, x_{n-1}, \dots,
    x_{n-q})` (the :class:`~koop.dictionaries.TimeDelay` dictionary, ``dictionary_``);
    the windows of each trajectory form the rows of a Hankel matrix :math:`H`, and
    consecutive windows are the snapshot pairs :math:`X = H_{0:N-1}`, :math:`Y =
    H_{1:N}` (stacked per trajectory, never across a boundary). With the SVD
    :math:`X = V\Sigma U^\top` truncated to rank :math:`r`, the reduced model on
    :math:`h = \sqrt{N}\,\psi U_r\Sigma_r^{-1}` (functions with unit empirical
    :math:`L^2` norm) is

    .. math::
        K_r = \Sigma_r^{-1} (X U_r)^\top (Y U_r)\, \Sigma_r^{-1} = \tilde U_r^\top T
        U_r\Sigma_r^{-1},

    the least-squares map :math:`h(x_{n+1}) \approx h(x_n) K_r`. Both come from one
    factor: the R of the rows :math:`(H_{i,:}, x_{i+q+1})` (a window and the sample
    after it, which hold both windows of a pair), computed by TSQR on the strided Hankel
    view (:func:`~koop.estimators._delay_embedding.hankel_pair_factor`):
    :math:`R_{:, :m} = \tilde U\Sigma U^\top` and :math:`X^\top Y = R_{:, :m}^\top T`,
    so the SVD is as accurate as one of :math:`X` itself. The same factor makes
    :meth:`partial_fit` exact, delay windows across calls included. Its eigenvalues are
    those of exact DMD on the delay coordinates and of EDMD with the ``TimeDelay``
    dictionary projected on the leading :math:`r` POD directions. Eigenvectors
    (``eigenvectors_``) are coefficients in ``TimeDelay`` coordinates, so
    :func:`koop.validation.residuals` applies with ``gram_``.

    For a signal :math:`y_n = \sum_{j=1}^{r} c_j \mu_j^n`, :math:`q + 1 \ge r`, the
    Hankel matrix has rank :math:`r` and the eigenvalues are exactly the :math:`\mu_j`;
    on a scalar observable of a linear system they are the system's (observable)
    eigenvalues.

    Parameters
    ----------
    n_delays : int, default=10
        Number of delays :math:`q` (windows of :math:`q + 1` samples), as in ``TimeDelay``.
    rank : int, float, "optimal" or None, default=None
        Truncation of the SVD of :math:`X`: an integer (honoured down to singular values
        :math:`(q+1)d\,\varepsilon\sigma_1`), an energy fraction in (0, 1), Gavish-Donoho's
        ``"optimal"`` hard threshold, or None (numerical rank).
    backend : {"numba", "numpy", "dask", "torch"}, default="numba"
        How ``gram_`` is built (:func:`koop.gram.build_gram`).
    compute_gram : bool, default=True
        Build ``gram_`` (needed by :mod:`koop.validation`; one more pass over the data in
        ``fit``; :meth:`partial_fit` recovers it from ``window_factor_``).
    forgetting_factor : float in (0, 1], optional
        Exponential forgetting for :meth:`partial_fit` (see
        :mod:`koop.estimators._online`).
    reduce : POD, optional
        Delay-embed the POD coordinates :math:`z = U^*x` of a field instead of the state
        (see :class:`~koop.estimators.EDMD`); modes come back on the full state.
    reduce_split : float in (0, 1), optional
        The first fraction of every trajectory fits the POD basis, the rest the model.

    Attributes
    ----------
    dictionary_ : TimeDelay
        The fitted delay dictionary (``n_lags_ = n_delays``).
    singular_values_ : ndarray
        All singular values of :math:`X`.
    delay_modes_ : ndarray ((q+1) d, rank_)
        Leading right singular vectors :math:`U_r` (POD modes of the windows).
    rank_ : int
    window_factor_ : RSums
        :math:`R` of the rows :math:`(H_{i,:}, x_{i+q+1})` with unit weights (the
        statistic :meth:`partial_fit` updates).
    gram_ : GramMatrices
        :math:`G, A, L` of the ``TimeDelay`` dictionary on the training data.
    eigenvalues_, eigenvectors_, modes_, continuous_eigenvalues_
        See :class:`~koop.base.KoopmanEstimator`; ``modes_`` reconstruct the newest
        sample of the window.

    References
    ----------
    H. Arbabi, I. Mezić, "Ergodic theory, dynamic mode decomposition, and computation of
    spectral properties of the Koopman operator", SIAM J. Appl. Dyn. Syst. 16 (2017).

    Examples
    --------
    >>> import numpy as np
    >>> t = 0.1 * np.arange(400)
    >>> x = np.sin(t) + 0.5 * np.sin(np.sqrt(2) * t)
    >>> model = HankelDMD(n_delays=8, rank=4).fit(x, dt=0.1)
    >>> np.round(np.sort(model.continuous_eigenvalues_.imag), 6).tolist()
    [-1.414214, -1.0, 1.0, 1.414214]
    """

    _accepts_complex = True
    _parameter_constraints: ClassVar[dict] = {
        "n_delays": POSITIVE_INT, "rank": RANK, "backend": BACKEND, "compute_gram": ["boolean"],
        "forgetting_factor": FORGETTING_FACTOR, **REDUCTION_CONSTRAINTS}
    # online learning: the window factor (koop.estimators._online)
    _stream_kind = "qr"
    _stats_attribute = "window_factor_"
    _pairs_allowed = False

    def __init__(self, n_delays: int = 10, rank: int | float | str | None = None,
                 backend: str = "numba", compute_gram: bool = True,
                 reduce: POD | None = None, reduce_split: float | None = None,
                 forgetting_factor: float | None = None) -> None:
        self.n_delays = n_delays
        self.rank = rank
        self.backend = backend
        self.compute_gram = compute_gram
        self.reduce = reduce
        self.reduce_split = reduce_split
        self.forgetting_factor = forgetting_factor

    def _min_samples(self) -> int:
        return int(self.n_delays) + 2

    def fit(self, X: Any, y: Any = None, *, dt: float | None = None) -> HankelDMD:
        """Fit DMD on the delay windows of one or several trajectories.

        Parameters
        ----------
        X : array-like (n_samples,) or (n_samples, n_features), list of arrays, or xarray
            A scalar or vector series, or several (lengths may differ).
        y : None
            Snapshot pairs cannot be delay-embedded; pass trajectories.
        dt : float, optional
            Sampling interval (for ``continuous_eigenvalues_``).

        Returns
        -------
        self
        """
        data = self._start_fit(X, y, dt, pairs=False)
        self._start_stream(None)
        q = int(self.n_delays)
        n_pairs = data.n_pairs(q)
        if n_pairs < 2:
            raise ValueError(
                f"n_delays={q} leaves {n_pairs} pair(s) of delay windows (trajectory "
                f"lengths {list(data.lengths)}); each trajectory needs at least "
                f"{q + 2} samples. Use fewer delays or longer trajectories."
            )
        self.dictionary_ = self._fit_dictionary(data)
        self._solve_window_factor(self._batch_sums(data, None), True, data.dt)
        if self.compute_gram:
            self.gram_ = build_gram(self.dictionary_, data, backend=self.backend)
        return self

    # -- the hooks of fit, partial_fit and merge (koop.estimators._online) --------------
    def _fit_dictionary(self, data) -> TimeDelay:
        q = int(self.n_delays)
        x = np.asarray(data.trajectories[0][: q + 1])
        return TimeDelay(n_delays=q).fit(x.astype(np.result_type(x.dtype, np.float64)))

    def _batch_sums(self, data, weights) -> RSums:
        trajs = [np.asarray(t) for t in data.trajectories]
        trajs = [t.astype(np.result_type(t.dtype, np.float64), copy=False) for t in trajs]
        q = int(self.n_delays)
        n = data.n_pairs(q)
        R = hankel_pair_factor(trajs, q, weights)
        return RSums(R, n, float(n) if weights is None else float(np.sum(weights)),
                     weights is None)

    def _solve_sums(self, sums: RSums, uniform: bool, dt: float | None) -> None:
        self._solve_window_factor(sums, uniform, dt)
        if self.compute_gram:  # recovered from the factor (build_gram's to rounding)
            self.gram_ = self._gram_from_factor(sums, uniform)

    def _solve_window_factor(self, sums: RSums, uniform: bool, dt: float | None) -> None:
        self.window_factor_ = RSums(sums.R, sums.n_samples, sums.weights_sum, uniform)
        d = self.dictionary_.n_features_in_  # the state (or its POD coordinates)
        m = self.dictionary_.n_output_features_
        R = sums.R
        Ut, s, Vh = scipy.linalg.svd(R[:, :m], full_matrices=False, lapack_driver="gesdd")
        U = Vh.conj().T
        # the entry of largest modulus of each mode real and positive (z/|z| if complex)
        sign = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(U.shape[1])]).conj()
        U, Ut = U * sign, Ut * sign
        self.singular_values_ = s
        r = delay_rank(s, self.rank, (sums.n_samples, m))
        self.rank_ = r
        U_r, s_r = U[:, :r], s[:r]
        self.delay_modes_ = U_r
        # X^T Y = R_X^T T with T = (R[:, m:], R[:, :m-d]) (the next window is the next
        # sample followed by the window's older part), so K_r = Ut_r^T T U_r / s_r
        T = np.hstack([R[:, m:], R[:, : m - d]])
        reduced = (Ut[:, :r].conj().T @ T @ U_r) / s_r
        scale = np.sqrt(sums.weights_sum)
        basis = U_r * (scale / s_r)
        state_map = (s_r[:, None] * U_r.conj().T / scale)[:, :d]
        self._set_reduced_model(basis, reduced, state_map, dt)

    def _gram_from_factor(self, sums: RSums, uniform: bool) -> GramMatrices:
        d = self.dictionary_.n_features_in_  # the state (or its POD coordinates)
        m = self.dictionary_.n_output_features_
        R = sums.R
        T = np.hstack([R[:, m:], R[:, : m - d]])
        c = 1.0 / sums.weights_sum if uniform else 1.0
        G = c * (R[:, :m].conj().T @ R[:, :m])
        L = c * (T.conj().T @ T)
        return GramMatrices(0.5 * (G + G.conj().T), c * (R[:, :m].conj().T @ T),
                            0.5 * (L + L.conj().T),
                            G[:, :d].copy(), sums.n_samples,
                            1.0 if uniform else sums.weights_sum, "qr",
                            {"weights": "uniform" if uniform else "given"})

