r"""The estimator contract shared by every Koopman model in koop.

A fit ends in one immutable :class:`~koop.base.KoopmanModel` (see
:mod:`koop.estimators._solvers` for the reduced form): functions
:math:`h(x) = \psi(x) Q` (``basis_``), their evolution :math:`h(x_{n+1}) \approx h(x_n)
K_r` (``reduced_matrix_``), the state reconstruction :math:`x \approx h(x) C_r`
(``state_map_``) and the Gram matrices or QR factor they came from. Eigenvalues,
eigenfunctions, modes, the Koopman matrix, prediction, simulation and what validation
needs follow from the model, in one place; the estimator publishes its arrays as fitted
attributes and returns it as ``model_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_is_fitted

from koop._fields import flatten_field, is_field_of, unflatten
from koop._params import ParamValidation
from koop._reduction import MAX_UNREDUCED_FEATURES, fit_reduction
from koop._spectral.model import KoopmanModel
from koop.data import as_trajectories, check_array

__all__ = ["KoopmanEstimator", "KoopmanModel"]


class KoopmanEstimator(ParamValidation, BaseEstimator):
    """Base class: fit / predict / simulate / score and the spectral attributes.

    Subclasses declare ``_parameter_constraints`` (scikit-learn's mechanism; ``fit``
    starts with ``self._validate_params()``), implement ``fit`` and hand their solve to
    :meth:`_set_reduced_model`, which builds the fitted :class:`KoopmanModel` and sets
    ``basis_``, ``reduced_matrix_``, ``state_map_`` and the spectral attributes; they set
    ``dictionary_`` (a fitted dictionary; for DMD the identity), ``n_features_in_`` and,
    where they have them, ``gram_`` / ``factor_`` (the source of residuals and pencils).

    Attributes
    ----------
    model_ : KoopmanModel
        The fitted model (immutable; a view of the fitted attributes below).
    eigenvalues_ : ndarray of complex, shape (n_modes,)
        Discrete-time Koopman eigenvalues, sorted by modulus (descending).
    eigenvectors_ : ndarray of complex, shape (n_dictionary, n_modes)
        Coefficients :math:`g_j` of the eigenfunctions :math:`\\phi_j = \\Psi g_j`.
    modes_ : ndarray of complex, shape (n_features_in_, n_modes)
        Koopman modes: :math:`x \\approx \\sum_j \\phi_j(x)\\,\\xi_j` (column ``j`` is
        :math:`\\xi_j`).
    continuous_eigenvalues_ : ndarray of complex
        :math:`\\log(\\lambda_j)/\\Delta t`, when ``dt`` is known (else absent).
    dt_ : float or None
        Sampling interval seen in ``fit``.
    """

    _estimator_type = "regressor"
    #: complex snapshots accepted (complex Gram matrices / factors end to end)
    _accepts_complex: bool = False

    # -- helpers for subclasses -------------------------------------------------------
    def _validate_training_data(self, X: Any, y: Any, dt: Any, lazy: bool = False):
        return as_trajectories(X, y, dt=dt, name="X", min_pairs=2, lazy=lazy,
                               allow_complex=self._accepts_complex)

    def _min_samples(self) -> int:
        """Samples a trajectory needs for this estimator (after ``reduce_split``)."""
        return 2

    def _start_fit(self, X: Any, y: Any, dt: Any, *, lazy: bool = False,
                   pairs: bool = True):
        """What every ``fit`` does first: check the parameters, validate the data, record
        ``n_features_in_``, the feature names and a field's layout (``field_``), and, for
        an estimator with ``reduce=POD(...)``, fit the reduction (``reduction_``).
        ``pairs=False``: the estimator needs trajectories (delay windows) and refuses a
        ``y``. Returns the Trajectories the solve runs on: the data, or their POD
        coordinates (:meth:`_min_samples` per trajectory left after ``reduce_split``)."""
        self._validate_params()
        reduce = self.get_params(deep=False).get("reduce")
        data = self._validate_training_data(X, y if pairs else None, dt,
                                            lazy=lazy or reduce is not None)
        if not pairs:
            self._refuse_pairs(y, data.n_features)
        self.n_features_in_ = data.n_features
        self._set_feature_names(data)
        if data.layout is not None:
            self.field_ = data.layout
        else:
            self.__dict__.pop("field_", None)
        if "reduce" not in self.get_params(deep=False):
            return data
        if reduce is None:
            self.__dict__.pop("reduction_", None)
            if data.n_features > MAX_UNREDUCED_FEATURES:
                raise ValueError(
                    f"X has {data.n_features} features: {type(self).__name__} would build "
                    "matrices with a side of at least that many. Fit on POD coordinates "
                    f"of the field instead: {type(self).__name__}(..., reduce=POD(rank=20))"
                    " (koop.dictionaries.POD), or use DMD."
                )
            return data
        self.reduction_, data = fit_reduction(reduce, self.reduce_split, data,
                                              min_rest=self._min_samples())
        return data

    def _refuse_pairs(self, y: Any, n_features: int) -> None:
        """For estimators on delay windows: a ``y`` (snapshot pairs) is refused."""
        if y is not None:
            raise ValueError(
                f"{type(self).__name__} needs trajectories (delay windows of consecutive "
                f"samples), not snapshot pairs: got X with {n_features} feature(s) "
                "and a y; pass X only."
            )

    def _fit_coordinates(self, X: Any, y: Any = None, name: str = "validation_data") -> Any:
        """Data (``X`` or a tuple ``(X, y)``) in the coordinates the solve runs on: as
        given, or reduced by ``reduction_`` (streamed); None stays None."""
        reduction = self.__dict__.get("reduction_")
        if X is None or reduction is None:
            return X
        if isinstance(X, tuple) and len(X) == 2 and y is None:
            X, y = X
        data = as_trajectories(X, y, name=name, min_pairs=1,
                               allow_complex=self._accepts_complex, lazy=True)
        return reduction.reduce(data)

    def _set_reduced_model(self, basis, reduced, state_map, dt, *,
                           eig: tuple | None = None, unitary: bool = False,
                           modes: np.ndarray | None = None) -> None:
        """Hand a solve to the base: build the :class:`KoopmanModel` (the spectrum and the
        modes are derived there) and publish its arrays as fitted attributes.

        ``eig``: a decomposition of ``reduced`` the solve made itself, with ``unitary``
        when its eigenvectors are orthonormal (mpEDMD); ``modes``: modes the solve made
        itself (exact DMD modes, on the full state), in the order of ``eig``. With a
        reduction (``reduction_``) ``state_map`` is on the reduced coordinates and the
        model is lifted to the state (:meth:`KoopmanModel.lifted`).
        """
        reduction = self.__dict__.get("reduction_")
        model = KoopmanModel.from_reduced(
            self.__dict__.get("dictionary_"), basis, reduced, state_map, dt=dt, eig=eig,
            unitary=unitary, modes=modes if reduction is None else None)
        if reduction is not None:
            model = model.lifted(reduction, modes)
        self._publish(model)

    def _publish(self, model: KoopmanModel) -> None:
        """Set the fitted attributes from a model (``model_`` reads them back); a model
        solved on reduced coordinates is lifted to the state first."""
        reduction = self.__dict__.get("reduction_")
        if reduction is not None and model.reduction is None:
            model = model.lifted(reduction)
        self.basis_ = model.basis
        self.reduced_matrix_ = model.reduced
        self.state_map_ = model.state_map
        self.eigenvalues_ = model.eigenvalues
        self._eigvecs_reduced_ = model.eigvecs
        self.eigenvectors_ = model.eigenvectors
        self.modes_ = model.modes
        self.dt_ = model.dt
        if model.dt is not None:
            self.continuous_eigenvalues_ = model.continuous_eigenvalues

    @property
    def model_(self) -> KoopmanModel:
        """The fitted :class:`KoopmanModel`: basis, reduced matrix, state map, spectrum,
        and the Gram matrices / QR factor the fit came from."""
        check_is_fitted(self, "reduced_matrix_")
        d = self.__dict__
        rank = getattr(self, "rank", None)
        return KoopmanModel(
            d.get("dictionary_"), self.basis_, self.reduced_matrix_, self.state_map_,
            self.eigenvalues_, self._eigvecs_reduced_, self.modes_, self.eigenvectors_,
            d.get("dt_"),
            gram=d.get("gram_"), factor=d.get("factor_"), rcond=getattr(self, "rcond", None),
            rank=rank if isinstance(rank, int) else None, fitted_pencil=d.get("_pencil_"),
            name=type(self).__name__, reduction=d.get("reduction_"))

    @property
    def dictionary_size_param(self) -> str | None:
        """The parameter that sets the dictionary size, for ``set_params`` (e.g.
        ``"dictionary__n_centers"``); None when there is none.
        :func:`koop.validation.convergence_study` varies it."""
        d = getattr(self, "dictionary", None)
        size = getattr(d, "size_param", None)
        return None if size is None else f"dictionary__{size}"

    def _set_feature_names(self, data) -> None:
        """``feature_names_in_`` from labelled input (an xarray feature coordinate), as
        scikit-learn does for DataFrames; removed when the input carries no names."""
        if data.feature_names is not None:
            self.feature_names_in_ = np.asarray(data.feature_names, dtype=object)
        elif "feature_names_in_" in self.__dict__:
            del self.feature_names_in_

    def _io_check(self) -> None:
        """Refuse a loaded model whose fitted attributes contradict each other.

        Called by :func:`koop.io.load` after decoding: a file edited by hand (or damaged)
        may still decode into arrays of the wrong shape or a missing dictionary, which
        would otherwise surface as a wrong answer or an obscure error at predict time.
        """
        if "reduced_matrix_" not in self.__dict__:
            return
        shapes = {}
        for name in ("basis_", "reduced_matrix_", "state_map_", "eigenvalues_",
                     "eigenvectors_", "modes_"):
            value = self.__dict__.get(name)
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "fc":
                raise ValueError(f"fitted attribute {name} is {type(value).__name__}, "
                                 "not a float or complex array.")
            shapes[name] = value.shape
        r = shapes["reduced_matrix_"][0] if len(shapes["reduced_matrix_"]) == 2 else -1
        M = shapes["basis_"][0] if len(shapes["basis_"]) == 2 else -1
        d = shapes["state_map_"][1] if len(shapes["state_map_"]) == 2 else -1
        expected = {"reduced_matrix_": (r, r), "basis_": (M, r), "state_map_": (r, d),
                    "eigenvalues_": (r,), "eigenvectors_": (M, r), "modes_": (d, r)}
        for name, shape in expected.items():
            if shapes[name] != shape or min(shape) < 1:
                raise ValueError(f"fitted attribute {name} has shape {shapes[name]}, "
                                 f"inconsistent with the others (expected {shape}).")
        n_in = self.__dict__.get("n_features_in_")
        if n_in is not None and n_in != d:
            raise ValueError(f"n_features_in_ = {n_in} but the state map has {d} columns.")
        if "dictionary_" in self.__dict__:
            dictionary = self.__dict__["dictionary_"]
            if dictionary is None or not hasattr(dictionary, "transform"):
                raise ValueError("fitted attribute dictionary_ is missing or not a "
                                 "dictionary.")
            n_out = getattr(dictionary, "n_output_features_", None)
            if n_out is not None and n_out != M:
                raise ValueError(f"the dictionary has {n_out} outputs but basis_ has {M} "
                                 "rows.")

    @property
    def n_lags_(self) -> int:
        """Past samples the dictionary needs per row (0 for pointwise dictionaries)."""
        check_is_fitted(self, "reduced_matrix_")
        return int(getattr(self.dictionary_, "n_lags", 0))

    @property
    def koopman_matrix_(self) -> np.ndarray:
        r"""The Koopman matrix on dictionary coefficients (M x M), :math:`QK_rQ^+`.

        A function :math:`g = \Psi c` is mapped to :math:`Kg \approx \Psi (K c)`; with an
        invertible :math:`G` and nothing truncated this is :math:`G^{-1}A`. See
        :meth:`KoopmanModel.koopman_matrix`.
        """
        return self.model_.koopman_matrix()

    def _states(self, X: Any, name: str = "X", min_samples: int = 1) -> np.ndarray:
        """Rows of states as the solve saw them: a field flattened (its grid and mask
        checked against ``field_``), validated, and in POD coordinates when the model has
        a reduction (``reduction_``)."""
        check_is_fitted(self, "reduced_matrix_")
        layout = self.__dict__.get("field_")
        if layout is not None and is_field_of(X, layout):
            X = flatten_field(X, layout, name)
        # complex states for a model fitted on complex data (a real model refuses them)
        X = check_array(X, name=name, n_features=self.n_features_in_,
                        min_samples=min_samples, allow_complex=np.iscomplexobj(self.state_map_))
        reduction = self.__dict__.get("reduction_")
        return X if reduction is None else reduction.transform(X)

    def _psi(self, X: Any, name: str = "X") -> np.ndarray:
        return self.dictionary_.transform(self._states(X, name, self.n_lags_ + 1))

    def _field_out(self, values: np.ndarray, X: Any, lags: int = 0) -> Any:
        """``values`` (rows of states) on the grid when ``X`` was a field: times advanced
        by one step from the rows they follow (``lags`` rows consumed by a window)."""
        layout = self.__dict__.get("field_")
        if layout is None or not is_field_of(X, layout):
            return values
        coords = {}
        if "time" in getattr(X, "coords", {}) and self.dt_ is not None and X["time"].ndim:
            coords["time"] = np.asarray(X["time"].values)[lags:] + self.dt_
        return unflatten(values, layout, ("time",), coords, name=getattr(X, "name", None))

    # -- public API -------------------------------------------------------------------
    def eigenfunctions(self, X: Any) -> np.ndarray:
        r"""Evaluate the Koopman eigenfunctions :math:`\phi_j(x) = \psi(x) g_j` on samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of complex, shape (n_samples - n_lags_, n_modes)
            Column ``j`` belongs to ``eigenvalues_[j]``; with the default weights the
            eigenfunctions have unit empirical :math:`L^2` norm on the training data.
        """
        return self.model_.eigenfunctions(self._psi(X))

    def _refuse_inputs(self, u: Any) -> None:
        if u is not None:
            raise ValueError(
                f"u was given, but this {type(self).__name__} was fitted without inputs; "
                "fit koop.estimators.DMDc or EDMDc on data with inputs (fit(X, u=U))."
            )

    def predict(self, X: Any, u: Any = None) -> np.ndarray:
        r"""One-step-ahead state for each row: :math:`\hat x_{n+1} = h(x_n) K_r C_r`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            For a lagged dictionary, consecutive samples of one trajectory.
        u : None
            Models without inputs refuse inputs (see :class:`~koop.estimators.EDMDc`).

        Returns
        -------
        ndarray of shape (n_samples - n_lags_, n_features_in_), or for a model fitted on
        a field and ``X`` a field on its grid, a DataArray ``(time, *spatial)`` with the
        times advanced by ``dt``
        """
        self._refuse_inputs(u)
        return self._field_out(self.model_.predict(self._psi(X)), X, self.n_lags_)

    def simulate(self, x0: Any, n_steps: int, u: Any = None) -> np.ndarray:
        r"""Iterate the linear Koopman model from ``x0``.

        :math:`h_0 = \psi(x_0) Q`, :math:`h_{k} = h_{k-1} K_r`, :math:`x_k = h_k C_r`.

        Parameters
        ----------
        x0 : array-like of shape (n_features_in_,) or (n_lags_ + 1, n_features_in_)
            Initial state; for a lagged dictionary, its last ``n_lags_ + 1`` samples
            (oldest first).
        n_steps : int
            Number of steps.
        u : None
            Models without inputs refuse inputs (see :class:`~koop.estimators.EDMDc`).

        Returns
        -------
        ndarray of shape (n_steps, n_features_in_)
            The states after ``x0``; a DataArray ``(time, *spatial)`` when ``x0`` is a
            snapshot of the field the model was fitted on.
        """
        check_is_fitted(self, "reduced_matrix_")
        self._refuse_inputs(u)
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer):
            raise TypeError(f"n_steps must be a non-negative integer, got {n_steps!r}.")
        if n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}.")
        layout = self.__dict__.get("field_")
        field_in = layout is not None and is_field_of(x0, layout)
        if field_in:  # a snapshot (or a window) of the field: its last time starts the run
            t = np.atleast_1d(np.asarray(x0["time"].values)) if "time" in x0.coords else None
            x0 = flatten_field(x0, layout, "x0")
        x0 = np.asarray(x0) if not isinstance(x0, list) else np.asarray(x0, dtype=float)
        if x0.ndim == 1:
            if self.n_features_in_ == 1 and self.n_lags_ > 0 and x0.shape[0] > 1:
                x0 = x0.reshape(-1, 1)
            else:
                x0 = x0.reshape(1, -1)
        lags = self.n_lags_
        if x0.ndim == 2 and x0.shape[0] < lags + 1:
            raise ValueError(
                f"x0 needs the last {lags + 1} samples for this lagged dictionary "
                f"(n_lags_={lags}); got {x0.shape[0]}."
            )
        x0 = np.asarray(x0)[-(lags + 1):] if x0.ndim == 2 else x0
        model = self.model_
        out = model.simulate(model.lift(self._psi(x0, name="x0"))[-1], int(n_steps))
        if not field_in:
            return out
        coords = {}
        if t is not None and self.dt_ is not None and np.issubdtype(t.dtype, np.number):
            coords["time"] = t[-1] + self.dt_ * np.arange(1, int(n_steps) + 1)
        return unflatten(out, layout, ("time",), coords)

    def simulate_batch(self, X0: Any, n_steps: int) -> np.ndarray:
        r"""Runs of ``n_steps`` states from many initial states at once.

        The same iteration as :meth:`simulate`, on all starts together (one matrix
        product per step); an estimator that overrides :meth:`simulate` is run start by
        start through it.

        Parameters
        ----------
        X0 : array-like (n_starts, n_features_in_), or (n_starts, n_lags_ + 1, n_features_in_)
            Initial states; windows (oldest first) for a lagged dictionary.
        n_steps : int

        Returns
        -------
        ndarray (n_starts, n_steps, n_features_in_)
            ``out[i, k]`` is the state ``k + 1`` steps after start ``i``.
        """
        check_is_fitted(self, "reduced_matrix_")
        X0 = np.asarray(X0, dtype=float)
        if type(self).simulate is not KoopmanEstimator.simulate:
            return np.stack([np.asarray(self.simulate(x0, n_steps)) for x0 in X0])
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
            raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}.")
        lags, model = self.n_lags_, self.model_
        if lags:
            if X0.ndim != 3 or X0.shape[1] < lags + 1:
                raise ValueError(f"X0 must hold windows of {lags + 1} samples "
                                 "(n_starts, n_lags_ + 1, n_features) for this dictionary.")
            H = np.stack([model.lift(self._psi(w[-(lags + 1):], name="X0"))[-1] for w in X0])
        else:
            H = model.lift(self._psi(X0.reshape(X0.shape[0], -1), name="X0"))
        return model.simulate_batch(H, int(n_steps))

    def to_xarray(self):
        """The fitted spectrum as a labelled :class:`xarray.Dataset` (dims ``mode``,
        ``feature``); see :func:`koop.io.to_xarray`."""
        from koop._labelled_model import spectrum_dataset

        return spectrum_dataset(self)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """R^2 of one-step predictions (on consecutive samples, or on pairs ``(X, y)``).

        Parameters
        ----------
        X : array-like, list of arrays or xarray
            Trajectories (pairs are consecutive samples) or the ``X`` of snapshot pairs.
        y : array-like, optional
            Successors of ``X`` row by row.
        sample_weight : ignored

        Returns
        -------
        float
            scikit-learn's ``r2_score`` (uniform average over state variables).
        """
        check_is_fitted(self, "reduced_matrix_")
        data = as_trajectories(X, y, name="X", min_pairs=1)
        lags = self.n_lags_
        preds, truth = [], []
        if data.is_pairs:
            if lags:
                raise ValueError("A lagged dictionary needs trajectories, not pairs.")
            for xb, yb in zip(data.trajectories, data.successors, strict=True):
                preds.append(self.predict(xb))
                truth.append(yb)
        else:
            for t in data.trajectories:
                if t.shape[0] < lags + 2:
                    continue
                preds.append(self.predict(t[:-1]))
                truth.append(t[lags + 1:])
        if not preds:
            raise ValueError("X is too short to score: no snapshot pairs.")
        return float(r2_score(np.concatenate(truth), np.concatenate(preds).real))
