r"""HAVOK: Hankel alternative view of Koopman (Brunton et al. 2017)."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import scipy.linalg
from sklearn.utils.validation import check_is_fitted

from koop._params import POSITIVE_INT, RANK
from koop._reduction import REDUCTION_CONSTRAINTS
from koop._spectral.truncation import select_rank
from koop.base import KoopmanEstimator
from koop.data import check_array
from koop.dictionaries import POD, TimeDelay
from koop.estimators._delay_embedding import central_difference, hankel_svd, project_windows
from koop.estimators._forcing import (
    FORCING_THRESHOLD_RMS,
    ForcingStatistics,
    PrecursorTest,
    _iterate,
    foh_discretization,
    forcing_statistics,
    precursor_test,
)
from koop.estimators._hankel import delay_rank
from koop.exceptions import RankDeficiencyWarning

__all__ = ["HAVOK"]


class HAVOK(KoopmanEstimator):
    r"""HAVOK (Brunton, Brunton, Proctor, Kaiser & Kutz 2017): a linear model in delay
    coordinates driven by an intermittent forcing.

    The delay windows of the series (``TimeDelay(n_delays)``, rows of the Hankel matrix
    :math:`H`) are decomposed as :math:`H = V\Sigma U^\top` (TSQR on the strided view;
    :mod:`koop.estimators._delay_embedding`); the first :math:`r` columns of :math:`V`
    are the *eigen-time-delay coordinates* :math:`v_1, \dots, v_r` (unit norm over the
    training windows, the paper's scaling). Their derivatives are taken by the
    fourth-order central difference

    .. math::
        \dot v(t_i) \approx \frac{-v_{i+2} + 8v_{i+1} - 8v_{i-1} + v_{i-2}}{12\,\Delta t}

    (per trajectory, interior windows only), and a least-squares regression gives

    .. math::
        \dot v_{1:r-1} = A\, v_{1:r-1} + B\, v_r,

    with the last coordinate :math:`v_r` (``forcing_``) treated as an input. It is
    intermittent: mostly quiet, with bursts where the dynamics leave the linear regime
    (lobe switches of Lorenz-63). Simulations with a measured forcing use the exact
    first-order-hold discretisation (:func:`foh_discretization`; the same as
    :func:`scipy.signal.lsim`).

    The inherited spectral attributes describe the unforced linear part:
    ``eigenvalues_`` are those of :math:`e^{A\Delta t}` and ``continuous_eigenvalues_``
    those of :math:`A`; ``eigenfunctions`` are :math:`\phi_j = v_{1:r-1} w_j`.

    Parameters
    ----------
    n_delays : int, default=99
        Number of delays :math:`q` (windows of :math:`q+1` samples, as in ``TimeDelay``);
        the paper's Hankel matrix with 100 rows is ``n_delays=99``.
    rank : int, float in (0, 1), "optimal" or None, default=15
        Number :math:`r` of delay coordinates, the forcing included (``rank >= 2``). An
        integer is used as given (the paper's :math:`r`), with a
        :class:`~koop.exceptions.RankDeficiencyWarning` when :math:`\sigma_r \le
        (q+1)d\,\varepsilon\sigma_1` (the forcing is then rounding noise); an energy
        fraction, ``"optimal"`` (Gavish-Donoho) or None (the numerical rank) selects it
        from the singular values (:func:`~koop._spectral.truncation.select_rank`).
    reduce : POD, optional
        Delay-embed the POD coordinates :math:`z = U^*x` of a field instead of the state
        (see :class:`~koop.estimators.EDMD`); modes come back on the full state.
    reduce_split : float in (0, 1), optional
        The first fraction of every trajectory fits the POD basis, the rest the model.

    Attributes
    ----------
    A_ : ndarray (r-1, r-1)
        Linear dynamics of :math:`v_{1:r-1}`.
    B_ : ndarray (r-1, 1)
        Input matrix of the forcing.
    forcing_ : ndarray (n_windows,)
        :math:`v_r` on the training windows (all trajectories, concatenated).
    delay_coordinates_ : ndarray (n_windows, r)
        :math:`v_1, \dots, v_r`; row ``i`` of trajectory ``k`` is the window ending at its
        sample ``i + n_delays``.
    n_windows_ : tuple of int
        Windows per trajectory (rows of ``delay_coordinates_``).
    singular_values_ : ndarray
        All singular values of :math:`H`.
    delay_modes_ : ndarray ((q+1)d, r)
        :math:`U_r`, window :math:`\approx \sum_i v_i\sigma_i U_{:,i}`.
    rank_ : int
    derivative_r2_ : ndarray (r-1,)
        :math:`R^2` of the regression of each :math:`\dot v_i`.
    dictionary_ : TimeDelay
    eigenvalues_, eigenvectors_, modes_, continuous_eigenvalues_
        Of the unforced linear part; see :class:`~koop.base.KoopmanEstimator`.

    References
    ----------
    S. L. Brunton, B. W. Brunton, J. L. Proctor, E. Kaiser, J. N. Kutz, "Chaos as an
    intermittently forced linear system", Nat. Commun. 8, 19 (2017).

    Examples
    --------
    >>> from koop import systems
    >>> x = systems.lorenz63(20000, dt=0.005)[:, 0]
    >>> model = HAVOK(n_delays=19, rank=10).fit(x, dt=0.005)
    >>> model.A_.shape, model.B_.shape, model.forcing_.shape
    ((9, 9), (9, 1), (19981,))
    >>> bool(model.forcing_statistics().excess_kurtosis > 3)
    True
    """

    _parameter_constraints: ClassVar[dict] = {"n_delays": POSITIVE_INT, "rank": RANK,
                                              **REDUCTION_CONSTRAINTS}

    def __init__(self, n_delays: int = 99, rank: int | float | str = 15,
                 reduce: POD | None = None, reduce_split: float | None = None) -> None:
        self.n_delays = n_delays
        self.rank = rank
        self.reduce = reduce
        self.reduce_split = reduce_split

    # -- fitting ----------------------------------------------------------------------
    def _min_samples(self) -> int:
        return int(self.n_delays) + 5  # 5 windows for the derivative stencil

    def fit(self, X: Any, y: Any = None, *, dt: float | None = None) -> HAVOK:
        """Fit the forced linear model on one or several scalar or vector series.

        Parameters
        ----------
        X : array-like (n_samples,) or (n_samples, n_features), list of arrays, or xarray
        y : None
            Not used (delay windows need consecutive samples).
        dt : float
            Sampling interval (required unless X is an xarray with a time coordinate).

        Returns
        -------
        self
        """
        data = self._start_fit(X, y, dt, pairs=False)
        if data.dt is None:
            raise ValueError(
                "HAVOK needs the sampling interval for its derivatives: pass dt= (or an "
                "xarray with a uniform 'time' coordinate)."
            )
        q = int(self.n_delays)
        trajs = [np.asarray(t, dtype=np.float64) for t in data.trajectories]
        short = [n for n in data.lengths if n < q + 5]
        if short:
            raise ValueError(
                f"HAVOK with n_delays={q} needs at least {q + 5} samples per trajectory "
                f"(5 windows for the derivative stencil); got lengths {list(data.lengths)}."
            )
        self.dictionary_ = TimeDelay(n_delays=q).fit(trajs[0][: q + 1])
        m = self.dictionary_.n_output_features_
        s, U = hankel_svd(trajs, q)
        n_windows = tuple(n - q for n in data.lengths)
        if isinstance(self.rank, int | np.integer) and not isinstance(self.rank, bool):
            # an explicit rank is the paper's r: honoured even below the resolution
            # M eps sigma_1, with a warning, since v_r is then rounding noise
            r = select_rank(s, self.rank, cutoff=None)
            if r >= 2 and s[r - 1] <= s[0] * m * np.finfo(float).eps:
                warnings.warn(
                    f"sigma_{r} / sigma_1 = {s[r - 1] / s[0]:.1e} is below the resolution "
                    f"{m * np.finfo(float).eps:.1e} of the SVD: the forcing v_{r} is "
                    "rounding noise (the data have rank < r). Use a smaller rank for a "
                    "meaningful forcing.",
                    RankDeficiencyWarning,
                    stacklevel=2,
                )
        else:
            r = delay_rank(s, self.rank, (sum(n_windows), m))
        if r < 2:
            raise ValueError(
                f"HAVOK needs at least 2 delay coordinates (r-1 linear + 1 forcing); the "
                f"rank setting {self.rank!r} gave {r}. Pass an integer rank >= 2."
            )
        self.singular_values_, self.rank_, self.n_windows_ = s, r, n_windows
        U_r, s_r = U[:, :r], s[:r]
        self.delay_modes_ = U_r
        coords = project_windows(trajs, q, U_r / s_r)
        self.delay_coordinates_ = _stack(coords)
        dv = _stack([central_difference(v[:, : r - 1], data.dt) for v in coords])
        vi = _stack([v[2:-2] for v in coords])
        coef, *_ = scipy.linalg.lstsq(vi, dv)
        self.A_ = np.ascontiguousarray(coef[: r - 1].T)
        self.B_ = np.ascontiguousarray(coef[r - 1 :].T)
        resid = dv - vi @ coef
        self.derivative_r2_ = 1.0 - resid.var(axis=0) / dv.var(axis=0)
        self._phi, self._g0, self._g1, self._gzoh = foh_discretization(
            self.A_, self.B_, data.dt)
        d = data.n_features
        # the newest sample of a window is its first d entries
        self._forcing_state = s_r[-1] * U_r[:d, -1]
        self._coord_map = U_r / s_r
        self._set_reduced_model(self._coord_map[:, : r - 1], self._phi.T,
                                (s_r[:-1, None] * U_r[:d, :-1].T), data.dt)
        if "reduction_" in self.__dict__:  # the forcing's state direction, on the grid
            self._forcing_state = self._forcing_state @ self.reduction_.components_.T
        return self

    @property
    def forcing_(self) -> np.ndarray:
        """The forcing :math:`v_r` on the training windows."""
        check_is_fitted(self, "delay_coordinates_")
        return self.delay_coordinates_[:, -1]

    # -- delay coordinates of new data --------------------------------------------------
    def coordinates(self, X: Any) -> np.ndarray:
        r"""Delay coordinates :math:`v_1..v_r` of a series: windows times :math:`U_r
        \Sigma_r^{-1}`.

        Parameters
        ----------
        X : array-like (n_samples, n_features_in_) or (n_samples,)
            One trajectory (at least ``n_delays + 1`` samples).

        Returns
        -------
        ndarray (n_samples - n_delays, rank_)
            Row ``i`` belongs to the window ending at sample ``i + n_delays``.
        """
        check_is_fitted(self, "delay_coordinates_")
        X = self._states(X, "X", min_samples=self.n_lags_ + 1)
        return project_windows([X], self.n_lags_, self._coord_map)[0]

    # -- forced dynamics -----------------------------------------------------------------
    def simulate_coordinates(self, v0: Any, forcing: Any) -> np.ndarray:
        r"""Integrate :math:`\dot v = Av + Bv_r` driven by a given forcing.

        Parameters
        ----------
        v0 : array-like (rank_,) or (rank_ - 1,)
            Initial delay coordinates (e.g. a row of ``delay_coordinates_`` or of
            :meth:`coordinates`); the forcing at the initial time is ``v0[-1]`` when given
            (else 0).
        forcing : array-like (n_steps,)
            :math:`v_r` at the ``n_steps`` sampling times after ``v0``.

        Returns
        -------
        ndarray (n_steps, rank_ - 1)
            :math:`v_{1:r-1}` at those times (first-order-hold exact discretisation).
        """
        check_is_fitted(self, "delay_coordinates_")
        r = self.rank_
        v0 = np.asarray(v0, dtype=np.float64).ravel()
        if v0.shape[0] not in (r, r - 1) or not np.isfinite(v0).all():
            raise ValueError(
                f"v0 must hold {r} (or {r - 1}) finite delay coordinates, got shape "
                f"{v0.shape}."
            )
        u = check_array(forcing, name="forcing", min_samples=0)
        if u.shape[1] != 1:
            raise ValueError(f"forcing must be 1-D (one value per step), got {u.shape}.")
        u0 = v0[r - 1] if v0.shape[0] == r else 0.0
        u = np.concatenate([[u0], u[:, 0]])
        drive = np.outer(u[:-1], self._g0[:, 0]) + np.outer(u[1:], self._g1[:, 0])
        return _iterate(self._phi, v0[: r - 1], drive)

    def simulate(self, x0: Any, n_steps: int, forcing: Any = None) -> np.ndarray:
        r"""Simulate the state from a delay window, driven by ``forcing`` (or unforced).

        Parameters
        ----------
        x0 : array-like (n_delays + 1, n_features_in_) or (n_delays + 1,)
            The last ``n_delays + 1`` samples (oldest first).
        n_steps : int
        forcing : array-like (n_steps,), optional
            :math:`v_r` at the ``n_steps`` times after ``x0`` (e.g. measured with
            :meth:`coordinates`); None simulates the unforced linear part (:math:`v_r = 0`).

        Returns
        -------
        ndarray (n_steps, n_features_in_)
            :math:`x \approx \sum_{i \le r} \sigma_i v_i U_{\mathrm{newest}, i}`.
        """
        check_is_fitted(self, "delay_coordinates_")
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer):
            raise TypeError(f"n_steps must be a non-negative integer, got {n_steps!r}.")
        if n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}.")
        x0 = check_array(x0, name="x0", n_features=self.n_features_in_,
                         min_samples=self.n_lags_ + 1)
        v0 = self.coordinates(x0[-(self.n_lags_ + 1):])[-1]  # reduced there, if reduced
        if forcing is None:
            u = np.zeros(n_steps)
            v0 = v0[:-1]
        else:
            u = check_array(forcing, name="forcing", min_samples=0)[:, 0]
            if u.shape[0] != n_steps:
                raise ValueError(
                    f"forcing has {u.shape[0]} values but n_steps={n_steps}; pass one "
                    "value of v_r per simulated step."
                )
        v = self.simulate_coordinates(v0, u)
        return v @ self.state_map_ + np.outer(u, self._forcing_state)

    def predict(self, X: Any) -> np.ndarray:
        r"""One-step-ahead state with the forcing held over the step (zero-order hold).

        :math:`v_{1:r-1}(t+\Delta t) = e^{A\Delta t}v_{1:r-1}(t) + \Gamma v_r(t)`, with
        :math:`v` from the window ending at each row.

        Parameters
        ----------
        X : array-like (n_samples, n_features_in_)
            Consecutive samples of one trajectory.

        Returns
        -------
        ndarray (n_samples - n_delays, n_features_in_)
        """
        v = self.coordinates(X)
        nxt = v[:, :-1] @ self._phi.T + np.outer(v[:, -1], self._gzoh[:, 0])
        out = nxt @ self.state_map_ + np.outer(v[:, -1], self._forcing_state)
        return self._field_out(out, X, self.n_lags_)

    # -- forcing ------------------------------------------------------------------------
    def _threshold(self, threshold: Any) -> float:
        check_is_fitted(self, "delay_coordinates_")
        if threshold is None:
            return FORCING_THRESHOLD_RMS * float(np.sqrt(np.mean(self.forcing_**2)))
        if isinstance(threshold, bool) or not isinstance(
            threshold, int | float | np.integer | np.floating
        ) or not np.isfinite(threshold) or threshold < 0:
            raise ValueError(f"threshold must be a non-negative number, got {threshold!r}.")
        return float(threshold)

    def forcing_active(self, threshold: float | None = None) -> np.ndarray:
        r"""Whether the forcing is active, :math:`|v_r| > \tau`, per training window.

        Parameters
        ----------
        threshold : float, optional
            :math:`\tau`; default ``0.9 * RMS(v_r)`` (``FORCING_THRESHOLD_RMS``), the
            paper's :math:`v_{15}^2 > 4\cdot10^{-6}` expressed in RMS units (0.894 RMS
            for its 200 000 unit-norm samples), so it carries over to any series length.

        Returns
        -------
        ndarray of bool (n_windows,)
        """
        return np.abs(self.forcing_) > self._threshold(threshold)

    def forcing_statistics(self, threshold: float | None = None) -> ForcingStatistics:
        """Active fraction, excess kurtosis and tail weight of the forcing.

        Parameters
        ----------
        threshold : float, optional
            As in :meth:`forcing_active`.

        Returns
        -------
        ForcingStatistics
        """
        return forcing_statistics(self.forcing_, self._threshold(threshold))

    def forcing_precedes(
        self, events: Any, window: int, threshold: float | None = None,
        n_permutations: int = 999, random_state: Any = None,
    ) -> PrecursorTest:
        r"""Test whether active forcing concentrates in the ``window`` samples before events.

        The window ending at sample :math:`s` uses samples up to :math:`s` only, so the
        statistic looks at windows ending in :math:`[e - w, e)` for an event at sample
        :math:`e`: strictly the past. The null circularly shifts the activity series
        (see :class:`~koop.estimators._forcing.PrecursorTest`).

        Parameters
        ----------
        events : array-like of int, or a list of them (one per training trajectory)
            Sample indices of the events (e.g. sign changes of Lorenz's :math:`x`) in the
            training series.
        window : int
            :math:`w`, samples before each event.
        threshold : float, optional
            As in :meth:`forcing_active`.
        n_permutations : int, default=999
        random_state : int, Generator or None

        Returns
        -------
        PrecursorTest
        """
        active = self.forcing_active(threshold)
        if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}.")
        if isinstance(n_permutations, bool) or not isinstance(
            n_permutations, int | np.integer
        ) or n_permutations < 1:
            raise ValueError(f"n_permutations must be a positive integer, got "
                             f"{n_permutations!r}.")
        n_traj = len(self.n_windows_)
        if n_traj == 1 and not (isinstance(events, list | tuple) and len(events)
                                and np.ndim(events[0]) == 1):
            events = [events]
        if len(events) != n_traj:
            raise ValueError(f"Pass one array of events per training trajectory ({n_traj}).")
        bounds = np.cumsum((0, *self.n_windows_))
        acts = [active[bounds[k] : bounds[k + 1]] for k in range(n_traj)]
        # event at sample e -> the window ending there has index e - n_delays
        idx = [np.asarray(e, dtype=np.int64).ravel() - self.n_lags_ for e in events]
        return precursor_test(acts, idx, int(window), int(n_permutations), random_state)


def _stack(parts: list) -> np.ndarray:
    """Rows of all trajectories; a single trajectory's array is used as is (no copy)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
