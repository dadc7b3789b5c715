r"""Online learning: ``partial_fit`` through sufficient statistics that add up.

Every estimator here solves from statistics that are sums over snapshot pairs: the Gram
matrices :math:`G = \sum_m w_m\psi(x_m)\psi(x_m)^*, A, L, C`
(:class:`~koop.gram.GramMatrices`) or the R factor of the weighted data rows
(:class:`~koop.estimators._rsums.RSums`, :math:`R^*R = \sum_m w_m r_m r_m^*`). New data update a
model at the cost of the new pairs alone, and the result after any sequence of
``partial_fit`` calls equals one ``fit`` on all the data (up to rounding).

The rules (the same for every estimator with ``partial_fit``):

* **Trajectories across calls.** A batch given as one array (or a DataArray without a
  trajectory dimension) continues the trajectory of the previous ``partial_fit`` array:
  its first samples pair with the last ones of the previous batch (for a dictionary
  with ``n_lags`` the last ``n_lags + 1`` samples are kept, so that every delay window
  straddling the boundary is counted once). A list of trajectories, snapshot pairs
  ``(X, y)``, and ``fit`` are complete data: they pair with nothing before or after, so
  ``fit(X); partial_fit(X2)`` equals ``fit([X, X2])`` and ``partial_fit(X1);
  partial_fit(X2)`` equals ``fit(np.concatenate([X1, X2]))``.
* **Inputs across calls.** A continuing batch needs one input row per *sample*: the last
  row drives the step to the first sample of the next batch.
* **The dictionary is fixed by the first call.** A dictionary fitted to data (RBF
  centres, a width or scale from the data) is fitted on the first batch (or by ``fit``)
  and never refitted; a data-independent dictionary (Identity, Polynomial, TimeDelay)
  makes ``partial_fit`` equal ``fit`` on the concatenation exactly. To fix a
  data-dependent dictionary on representative data, call ``fit`` on them first.
* **Forgetting.** With ``forgetting_factor`` :math:`\rho < 1`, each ``partial_fit`` of
  :math:`n` new pairs multiplies the weight of everything seen before by
  :math:`\rho^{n}`; pair :math:`m` of :math:`N` seen so far thus weighs :math:`\rho^{N-1-m}`
  (exponentially weighted least squares, Zhang, Rowley, Deem & Cattafesta 2019). The
  effective window holds :math:`1/(1-\rho)` pairs and the estimate describes the system
  about :math:`\rho/(1-\rho)` steps in the past (the weighted mean age). ``fit`` weighs its
  own data as usual (uniformly, or by ``weights``); forgetting acts from the next
  ``partial_fit`` on.
* With default weights the model is solved from the weighted *mean* (as ``fit``); with
  ``weights`` (one per new pair, the boundary pairs included) from the weighted sums.

What each estimator keeps (``statistics_``): EDMD and EDMDc the Gram matrices
(:class:`~koop.gram.GramMatrices`, merged by ``+``); DMDc the R factor of the rows
:math:`[x_k, u_k, x_{k+1}]`, HankelDMD that of the rows :math:`[w_k, x_{k+q+1}]` (delay
window and next sample, which hold both windows of a pair) and ResDMD / mpEDMD that of
:math:`[\psi(x_k), \psi(x_{k+1}), x_k]` (:class:`~koop.estimators._rsums.RSums`, merged
by stacking one factor under the other and re-factoring: exact, and as accurate as a QR
of all the rows).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from koop._params import Interval, Real
from koop.data import (
    ControlledTrajectories,
    Trajectories,
    as_controlled_trajectories,
    as_trajectories,
    check_weights,
)

__all__ = ["OnlineMixin", "StreamState", "FORGETTING_FACTOR"]

#: the ``forgetting_factor`` parameter of the online estimators
FORGETTING_FACTOR = [Interval(Real, 0, 1, closed="right"), None]


@dataclass(frozen=True)
class StreamState:
    """What ``partial_fit`` keeps between calls (saved and loaded by :mod:`koop.io`).

    Attributes
    ----------
    sums : GramMatrices, RSums or None
        Weighted sums over every pair seen (explicit weights: forgetting included); None
        right after ``fit``: the statistics are the ones ``fit`` solved from.
    uniform : bool
        Default weights: the model is solved from ``sums`` divided by their weight.
    tail : ndarray or None
        The last ``n_lags + 1`` samples of the open trajectory (None: no open trajectory).
    tail_inputs : ndarray or None
        Their inputs (controlled models).
    """

    sums: Any
    uniform: bool
    tail: np.ndarray | None = None
    tail_inputs: np.ndarray | None = None


def _is_one_array(X: Any, y: Any) -> bool:
    """Whether a batch is one piece of a trajectory (continues the stream)."""
    if y is not None:
        return False
    if isinstance(X, list | tuple):
        return len(X) > 0 and (all(isinstance(v, numbers.Number) for v in X) or all(
            isinstance(v, list | tuple) and all(isinstance(e, numbers.Number) for e in v)
            for v in X))
    return True


def _same_function(d1: Any, d2: Any) -> bool:
    """Whether two fitted dictionaries give identical values (on random probe points)."""
    if type(d1) is not type(d2) or d1.n_features_in_ != d2.n_features_in_ or (
            d1.n_output_features_ != d2.n_output_features_):
        return False
    probe = np.random.default_rng(0).normal(size=(int(getattr(d1, "n_lags", 0)) + 8,
                                                  d1.n_features_in_))
    return bool(np.array_equal(d1.transform(probe), d2.transform(probe)))


def _refuse_reduction(model: Any, what: str) -> None:
    """``reduce=POD(...)``: the statistics live in coordinates fitted to the first data,
    so the online path does not apply; say what to do instead."""
    if model.get_params(deep=False).get("reduce") is not None:
        name = type(model).__name__
        raise ValueError(
            f"{name}.{what} does not work with reduce=POD(...): the POD basis is fitted to "
            "the data of fit and would have to change with new data. Fix the basis once "
            "(pod = POD(rank=r).fit(X0)) and stream its coordinates pod.transform(X) into "
            f"{name} without reduce, or use DMD.partial_fit, which updates a field exactly."
        )


class OnlineMixin:
    """``partial_fit`` and ``merge`` for estimators solved from additive statistics.

    An estimator opts in by setting ``_stream_kind`` in its own class body (subclasses
    that solve differently do not inherit ``partial_fit`` silently), declares
    ``forgetting_factor`` among its parameters, calls ``self._start_stream(weights)``
    in ``fit`` and provides the hooks:

    * ``_fit_dictionary(data)``: the dictionary, fitted on the first batch's states;
    * ``_batch_sums(batch, weights)``: the plain weighted sums of a batch (``weights``
      None: one per pair), a :class:`~koop.gram.GramMatrices` or
      :class:`~koop.estimators._rsums.RSums`;
    * ``_solve_sums(sums, uniform, dt)``: set the fitted attributes from the sums
      (``uniform``: default weights, solve from the mean as ``fit`` does);
    * ``_fit_sums(uniform)``: the statistics ``fit`` solved from, as plain sums (default:
      ``as_sums()`` of the fitted attribute named by ``_stats_attribute``).

    Controlled estimators set ``_has_inputs = True``. See this module's docstring for the
    rules (trajectories and inputs across calls, the dictionary, forgetting).
    """

    _stream_kind: ClassVar[str | None] = None
    _stats_attribute: ClassVar[str] = "gram_"
    _has_inputs: ClassVar[bool] = False
    #: False for estimators on delay windows (HankelDMD): snapshot pairs are refused
    _pairs_allowed: ClassVar[bool] = True

    # -- hooks ------------------------------------------------------------------------
    def _start_stream(self, weights: Any) -> None:
        """Called by ``fit``: its data are complete trajectories (no open stream), its
        statistics the fitted ones, with default weights when ``weights`` is None."""
        self.stream_ = StreamState(None, weights is None)

    def _fit_sums(self, uniform: bool) -> Any:
        return getattr(self, self._stats_attribute).as_sums()

    def _stream(self) -> StreamState:
        """The stream with its sums (materialised from the fitted statistics after fit)."""
        state = self.__dict__.get("stream_")
        if state is None:  # fitted by code that did not record the weights: infer them
            stats = getattr(self, self._stats_attribute)
            state = StreamState(None, bool(stats.uniform))
        if state.sums is None:
            state = replace(state, sums=self._fit_sums(state.uniform))
        return state

    @property
    def statistics_(self) -> Any:
        """The weighted sums over every snapshot pair in the model: what ``partial_fit``
        updates and ``merge`` adds (:class:`~koop.gram.GramMatrices` or
        :class:`~koop.estimators._rsums.RSums`; unit weights per pair with the default
        weights)."""
        check_is_fitted(self, "reduced_matrix_")
        return self._stream().sums

    # -- the public methods -----------------------------------------------------------
    def partial_fit(self, X: Any, y: Any = None, *, u: Any = None, dt: float | None = None,
                    weights: Any = None):
        """Update the model with a batch of new data (equal to refitting on all of it).

        Parameters
        ----------
        X : array-like, list of arrays or xarray
            An array continues the trajectory of the previous ``partial_fit`` array; a
            list holds complete trajectories; with ``y``, snapshot pairs.
        y : array-like, optional
            Successors of ``X`` row by row.
        u : array-like, list or xarray, optional
            Inputs (controlled estimators only): one row per sample for a continuing
            array (the last drives the step into the next batch).
        dt : float, optional
            Sampling interval (must agree with the one seen before).
        weights : array-like, optional
            Weight per new snapshot pair (the pairs across the boundary with the previous
            batch first). All calls must agree on default or explicit weights.

        Returns
        -------
        self
        """
        name = type(self).__name__
        if type(self).__dict__.get("_stream_kind") is None:
            raise NotImplementedError(
                f"{name} has no partial_fit yet: it solves from statistics that this "
                "online path does not update. Refit on all the data, or use EDMD, ResDMD, "
                "HankelDMD, DMDc or EDMDc for online learning."
            )
        if not self._has_inputs and u is not None:
            raise ValueError(f"{name} models no inputs, but u was given; use EDMDc or DMDc "
                             "for data with control inputs.")
        fitted = "reduced_matrix_" in self.__dict__
        if not fitted:
            self._validate_params()
        _refuse_reduction(self, "partial_fit")
        state = self._stream() if fitted else None
        rho = 1.0 if self.forgetting_factor is None else float(self.forgetting_factor)
        continuing = _is_one_array(X, y)
        batch = self._validate_batch(X, y, u, dt, fitted)
        data = batch.data if isinstance(batch, ControlledTrajectories) else batch
        if fitted and dt is not None and self.dt_ is not None and not np.isclose(dt, self.dt_):
            raise ValueError(f"dt={dt} disagrees with the dt={self.dt_} seen before.")
        if continuing and isinstance(batch, ControlledTrajectories) and batch.per_transition:
            raise ValueError(
                "A partial_fit array continues the trajectory, so u needs one row per "
                f"sample ({data.lengths[0]}), the last driving the step into the next batch; "
                f"got {data.lengths[0] - 1} (one per transition). Pass one more row, or a "
                "list [X] to add a complete trajectory."
            )
        if state is not None and state.uniform != (weights is None):
            raise ValueError(
                "partial_fit calls must agree on weights: the model so far used "
                f"{'default' if state.uniform else 'explicit'} weights, this batch "
                f"{'explicit' if weights is not None else 'default'} ones."
            )
        tail = tail_inputs = None
        if continuing and state is not None and state.tail is not None:
            batch = self._join_tail(batch, state)
            data = batch.data if isinstance(batch, ControlledTrajectories) else batch
        if not fitted:
            self.n_features_in_ = data.n_features
            self._set_feature_names(data)
            self.dictionary_ = self._fit_dictionary(data)
        lags = int(getattr(self.dictionary_, "n_lags", 0))
        if continuing:
            keep = lags + 1
            tail = np.asarray(data.trajectories[0][-keep:])
            if isinstance(batch, ControlledTrajectories):
                tail_inputs = batch.inputs[0][-keep:]
        n_new = data.n_pairs(lags)
        if not fitted and n_new < 1:
            raise ValueError(
                f"The first partial_fit batch gives no snapshot pair (trajectory lengths "
                f"{list(data.lengths)}, n_lags={lags}); it needs at least {lags + 2} "
                "consecutive samples."
            )
        uniform = weights is None
        if n_new > 0:
            w = None if weights is None else check_weights(weights, n_new)
            if rho < 1.0:
                decay = rho ** np.arange(n_new - 1, -1, -1, dtype=np.float64)
                w = decay if w is None else w * decay
            new = self._batch_sums(batch, w)
            sums = new if state is None else state.sums.scaled(rho**n_new) + new
        else:
            sums = state.sums
        self.stream_ = StreamState(sums, uniform, tail, tail_inputs)
        if n_new > 0:
            self._solve_sums(sums, uniform, data.dt if data.dt is not None
                             else self.__dict__.get("dt_"))
        return self

    def merge(self, other: Any):
        """Add the data of another model fitted on another shard (same dictionary).

        Both models' statistics are summed (:class:`~koop.gram.GramMatrices` ``+``, or
        the stacked R factors) and the model is solved again: the result equals one
        ``fit`` on both shards as separate trajectories. Forgetting does not apply here.

        Parameters
        ----------
        other : fitted estimator of the same class and parameters, whose dictionary is
            the same function (a data-fitted dictionary must be the same fitted one:
            fit it once, or fit the shards' models after fixing it with ``fit``).

        Returns
        -------
        self
        """
        name = type(self).__name__
        if type(self).__dict__.get("_stream_kind") is None:
            raise NotImplementedError(f"{name} has no merge yet (see partial_fit).")
        check_is_fitted(self, "reduced_matrix_")
        check_is_fitted(other, "reduced_matrix_")
        _refuse_reduction(self, "merge")
        if type(other) is not type(self):
            raise TypeError(f"Cannot merge a {type(other).__name__} into a {name}.")
        mine = {k: v for k, v in self.get_params(deep=False).items() if k != "dictionary"}
        theirs = {k: v for k, v in other.get_params(deep=False).items() if k != "dictionary"}
        if mine != theirs or self.n_features_in_ != other.n_features_in_ or (
                getattr(self, "n_inputs_", None) != getattr(other, "n_inputs_", None)):
            raise ValueError(f"Both models must have the same parameters and data shapes to "
                             f"merge ({mine} vs {theirs}).")
        if not _same_function(self.dictionary_, other.dictionary_):
            raise ValueError(
                "The two models' dictionaries differ (a dictionary fitted to each shard's "
                "data, e.g. RBF centres): their statistics do not add up. Fix the "
                "dictionary once and fit both shards with it."
            )
        mine_state = self._stream()
        if mine_state.uniform != other.stream_.uniform:
            raise ValueError("Cannot merge a model fitted with default weights with one "
                             "fitted with explicit weights.")
        sums = mine_state.sums + other.statistics_
        self.stream_ = StreamState(sums, mine_state.uniform)
        self._solve_sums(sums, mine_state.uniform, self.__dict__.get("dt_"))
        return self

    # -- helpers ------------------------------------------------------------------------
    def _validate_batch(self, X, y, u, dt, fitted):
        if self._has_inputs:
            batch = as_controlled_trajectories(X, y, u=u, dt=dt, name="X", min_pairs=0)
            if fitted and batch.n_inputs != self.n_inputs_:
                raise ValueError(f"u has {batch.n_inputs} input(s) but the model was "
                                 f"fitted with {self.n_inputs_}.")
            data = batch.data
        else:
            batch = data = as_trajectories(X, y if self._pairs_allowed else None, dt=dt,
                                           name="X", min_pairs=0)
            if not self._pairs_allowed:
                self._refuse_pairs(y, data.n_features)

        if fitted and data.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {data.n_features} feature(s), but the model was fitted with "
                f"{self.n_features_in_}; every partial_fit batch needs the same columns."
            )
        return batch

    @staticmethod
    def _join_tail(batch, state: StreamState):
        if isinstance(batch, ControlledTrajectories):
            d = batch.data
            x = np.vstack([state.tail, d.trajectories[0]])
            uu = np.vstack([state.tail_inputs, batch.inputs[0]])
            return ControlledTrajectories(Trajectories((x,), None, d.dt, d.feature_names),
                                          (uu,), batch.input_names, batch.per_transition)
        x = np.vstack([state.tail, batch.trajectories[0]])
        return Trajectories((x,), None, batch.dt, batch.feature_names)

    @property
    def n_samples_seen_(self) -> int:
        """Snapshot pairs in the model (after ``fit`` and every ``partial_fit``)."""
        check_is_fitted(self, "reduced_matrix_")
        state = self.__dict__.get("stream_")
        if state is not None and state.sums is not None:
            return int(state.sums.n_samples)
        return int(getattr(self, self._stats_attribute).n_samples)
