"""Hankel DMD: exact DMD on delay coordinates."""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np

from koop._params import POSITIVE_INT, RANK
from koop._reduction import REDUCTION_CONSTRAINTS
from koop._spectral.truncation import select_rank
from koop.base import KoopmanEstimator
from koop.dictionaries import POD, TimeDelay
from koop.estimators._delay_embedding import hankel_blocks, hankel_svd
from koop.estimators._edmd import BACKEND
from koop.gram import build_gram

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


class HankelDMD(KoopmanEstimator):
    r"""Hankel DMD (Arbabi & Mezić 2017): exact DMD on delay coordinates.

    Each sample is replaced by its delay window :math:`\psi(x_n) = (x_n, x_{n-1}, \dots,
    x_{n-q})` (the :class:`~koop.dictionaries.TimeDelay` dictionary, ``dictionary_``);
    the windows of each trajectory form the rows of a Hankel matrix :math:`H`, and
    consecutive windows are the snapshot pairs :math:`X = H_{0:N-1}`, :math:`Y =
    H_{1:N}` (stacked per trajectory, never across a boundary). With the SVD
    :math:`X = V\Sigma U^\top` truncated to rank :math:`r` (computed by TSQR on the
    strided Hankel view, see :mod:`koop.estimators._delay_embedding`), the reduced model
    on :math:`h = \sqrt{N}\,\psi U_r\Sigma_r^{-1}` (functions with unit empirical
    :math:`L^2` norm) is

    .. math::
        K_r = \Sigma_r^{-1} (X U_r)^\top (Y U_r)\, \Sigma_r^{-1},

    the least-squares map :math:`h(x_{n+1}) \approx h(x_n) K_r`; its eigenvalues are
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
        Build ``gram_`` (needed by :mod:`koop.validation`; one more pass over the data).
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
        **REDUCTION_CONSTRAINTS}

    def __init__(self, n_delays: int = 10, rank: int | float | str | None = None,
                 backend: str = "numba", compute_gram: bool = True,
                 reduce: POD | None = None, reduce_split: float | None = None) -> None:
        self.n_delays = n_delays
        self.rank = rank
        self.backend = backend
        self.compute_gram = compute_gram
        self.reduce = reduce
        self.reduce_split = reduce_split

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
        q = int(self.n_delays)
        trajs = [np.asarray(t, dtype=np.result_type(t.dtype, np.float64))
                 for t in data.trajectories]
        n_pairs = data.n_pairs(q)
        if n_pairs < 2:
            raise ValueError(
                f"n_delays={q} leaves {n_pairs} pair(s) of delay windows (trajectory "
                f"lengths {list(data.lengths)}); each trajectory needs at least "
                f"{q + 2} samples. Use fewer delays or longer trajectories."
            )
        self.dictionary_ = TimeDelay(n_delays=q).fit(trajs[0][: q + 1])
        m = self.dictionary_.n_output_features_
        s, U = hankel_svd(trajs, q, stop=1)
        self.singular_values_ = s
        r = delay_rank(s, self.rank, (n_pairs, m))
        self.rank_ = r
        U_r, s_r = U[:, :r], s[:r]
        self.delay_modes_ = U_r
        # K_r is the least-squares map between the projected windows Z = H U_r, with
        # X rows Z[:-1] and Y rows Z[1:] of each trajectory
        ZxZx = np.zeros((r, r), dtype=U_r.dtype)
        ZxZy = np.zeros((r, r), dtype=U_r.dtype)
        for _, _, block in hankel_blocks(trajs, q, stop=1, overlap=1):
            Z = block @ U_r
            ZxZx += Z[:-1].conj().T @ Z[:-1]
            ZxZy += Z[:-1].conj().T @ Z[1:]
        gxx = ZxZx / np.outer(s_r, s_r)  # V^T V, the identity up to rounding
        gxy = ZxZy / np.outer(s_r, s_r)
        reduced = np.linalg.solve(gxx, gxy)
        scale = np.sqrt(n_pairs)
        basis = U_r * (scale / s_r)
        state_map = (s_r[:, None] * U_r.conj().T / scale)[:, : data.n_features]
        self._set_reduced_model(basis, reduced, state_map, data.dt)
        if self.compute_gram:
            self.gram_ = build_gram(self.dictionary_, data, backend=self.backend)
        return self
