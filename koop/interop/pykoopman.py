r"""pykoopman interop: its observables as koop dictionaries, and the other way round.

Nothing from pykoopman is imported here: the adapters use its observable API by duck
typing — ``fit(x, y=None)``, ``transform(x)``, ``get_feature_names(input_features)``,
``n_input_features_``, ``n_output_features_``, ``n_consumed_samples`` (rows that time
delays consume) and ``measurement_matrix_`` (``x = psi(x) @ measurement_matrix_.T``).
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from koop._params import ParamValidation, Satisfies, instance_of
from koop.data import check_array
from koop.dictionaries import Dictionary

__all__ = ["PykoopmanObservable", "KoopObservable"]

_OBSERVABLE_API = ("fit", "transform", "get_feature_names")


def _copy(obj: Any) -> Any:
    try:
        return clone(obj)
    except TypeError:  # not a scikit-learn estimator: a plain deep copy
        return copy.deepcopy(obj)


def _consumed(observable: Any) -> int:
    value = getattr(observable, "n_consumed_samples", 0)
    return int(value() if callable(value) else value or 0)


class PykoopmanObservable(Dictionary):
    r"""A pykoopman observable used as a koop dictionary.

    Wraps any object with pykoopman's observable API (``pykoopman.observables.
    Polynomial``, ``RadialBasisFunction``, ``TimeDelay``, ``RandomFourierFeatures``,
    ``CustomObservables``, their concatenations...) so that koop's estimators, Gram
    builders and validation tools run on it: :math:`\psi(x)` = ``observable.transform(x)``.
    Time-delay observables become lagged dictionaries (``n_lags`` =
    ``n_consumed_samples``).

    Parameters
    ----------
    observable : pykoopman observable
        Copied (``sklearn.clone``) and fitted on the training data; the original is left
        untouched.

    Attributes
    ----------
    observable_ : the fitted copy
    measurement_matrix_ : ndarray (n_features_in_, n_output_features_)
        pykoopman's linear map back to the state, :math:`x = C\psi(x)`.

    Notes
    -----
    Models built on a wrapped pykoopman observable cannot be written by
    :func:`koop.io.save` (that would need pickle); re-create them instead.

    Examples
    --------
    A stand-in with pykoopman's API (a real ``pykoopman.observables.Polynomial`` works
    the same way):

    >>> import numpy as np
    >>> class Square:  # psi(x) = (x, x^2)
    ...     def fit(self, x, y=None):
    ...         self.n_input_features_ = x.shape[1]
    ...         self.n_output_features_ = 2 * x.shape[1]
    ...         self.n_consumed_samples = 0
    ...         d = x.shape[1]
    ...         self.measurement_matrix_ = np.hstack([np.eye(d), np.zeros((d, d))])
    ...         return self
    ...     def transform(self, x):
    ...         return np.hstack([x, x**2])
    ...     def get_feature_names(self, input_features=None):
    ...         names = input_features or [f"x{i}" for i in range(self.n_input_features_)]
    ...         return list(names) + [f"{n}^2" for n in names]
    >>> d = PykoopmanObservable(Square()).fit(np.array([[1.0], [2.0]]))
    >>> d.transform(np.array([[3.0]])).tolist(), d.get_feature_names_out().tolist()
    ([[3.0, 9.0]], ['x0', 'x0^2'])
    """

    _parameter_constraints: ClassVar[dict] = {"observable": [Satisfies(
        lambda v: all(hasattr(v, m) for m in _OBSERVABLE_API),
        "an object with pykoopman's observable API (fit, transform, get_feature_names)")]}

    def __init__(self, observable: Any = None) -> None:
        self.observable = observable

    @property
    def n_lags(self) -> int:  # type: ignore[override]
        fitted = self.__dict__.get("observable_")
        return _consumed(fitted if fitted is not None else self.observable)

    def _fit(self, X: np.ndarray) -> None:
        obs = _copy(self.observable)
        fitted = obs.fit(X)
        self.observable_ = fitted if fitted is not None else obs
        probe = self._call(X[: self.n_lags + 1])
        self._n_out = int(getattr(self.observable_, "n_output_features_", probe.shape[1]))
        if probe.shape[1] != self._n_out:
            raise ValueError(
                f"observable.transform returns {probe.shape[1]} columns but "
                f"n_output_features_ is {self._n_out}."
            )
        C = getattr(self.observable_, "measurement_matrix_", None)
        if C is not None:
            self.measurement_matrix_ = np.asarray(C, dtype=np.float64)

    def _call(self, X: np.ndarray) -> np.ndarray:
        out = np.asarray(self.observable_.transform(X))
        if out.ndim == 1:
            out = out.reshape(-1, 1)
        expected = X.shape[0] - self.n_lags
        if out.ndim != 2 or out.shape[0] != expected:
            raise ValueError(
                f"observable.transform returned shape {out.shape} for {X.shape[0]} samples; "
                f"expected ({expected}, M)."
            )
        if np.iscomplexobj(out):
            if np.any(out.imag != 0):
                raise ValueError("observable.transform returned complex values; koop "
                                 "dictionaries are real-valued.")
            out = out.real
        return np.ascontiguousarray(out, dtype=np.float64)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self._call(X)

    def _n_output(self) -> int:
        return self._n_out

    def _feature_names(self, input_names: list[str]) -> list[str]:
        try:
            names = self.observable_.get_feature_names(input_features=list(input_names))
        except (TypeError, ValueError, AttributeError):
            names = None
        if names is None or len(names) != self._n_out:
            return [f"psi{i}" for i in range(self._n_out)]
        return [str(n) for n in names]


class KoopObservable(ParamValidation, TransformerMixin, BaseEstimator):
    r"""A koop dictionary with pykoopman's observable API (for ``pykoopman.Koopman``).

    ``fit`` / ``transform`` / ``inverse`` / ``get_feature_names`` and the attributes
    pykoopman reads (``n_input_features_``, ``n_output_features_``,
    ``n_consumed_samples``, ``measurement_matrix_``). The measurement matrix is the
    least-squares map from :math:`\psi(x)` back to :math:`x` on the fitting data, exact
    when the dictionary contains the state (``Identity() + ...``).

    Parameters
    ----------
    dictionary : koop Dictionary

    Examples
    --------
    >>> import numpy as np
    >>> from koop.dictionaries import Identity, Polynomial
    >>> obs = KoopObservable(Identity() + Polynomial(degree=2, include_bias=False))
    >>> X = np.random.default_rng(0).normal(size=(50, 2))
    >>> Psi = obs.fit(X).transform(X)
    >>> bool(np.allclose(obs.inverse(Psi), X))
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "dictionary": [instance_of(Dictionary, "a koop dictionary (koop.dictionaries)")]}

    def __init__(self, dictionary: Dictionary | None = None) -> None:
        self.dictionary = dictionary

    def fit(self, x: Any, y: Any = None) -> KoopObservable:
        """Fit the koop dictionary and the measurement matrix on samples ``x``."""
        self._validate_params()
        x = check_array(x, name="x")
        self.dictionary_ = clone(self.dictionary).fit(x)
        Psi = self.dictionary_.transform(x)
        lags = self.dictionary_.n_lags
        coef = np.linalg.lstsq(Psi, x[lags:], rcond=None)[0]
        self.measurement_matrix_ = np.ascontiguousarray(coef.T)
        self.n_input_features_ = x.shape[1]
        self.n_output_features_ = int(self.dictionary_.n_output_features_)
        self.n_consumed_samples = lags
        return self

    def transform(self, x: Any) -> np.ndarray:
        """:math:`\\psi(x)`, one row per sample (from sample ``n_consumed_samples`` on)."""
        check_is_fitted(self, "dictionary_")
        return self.dictionary_.transform(x)

    def inverse(self, y: Any) -> np.ndarray:
        """The state from observables: ``y @ measurement_matrix_.T``."""
        check_is_fitted(self, "measurement_matrix_")
        y = np.asarray(y)
        return (y.reshape(1, -1) if y.ndim == 1 else y) @ self.measurement_matrix_.T

    def get_feature_names(self, input_features: Any = None) -> list[str]:
        """Names of the observables."""
        check_is_fitted(self, "dictionary_")
        return [str(n) for n in self.dictionary_.get_feature_names_out(input_features)]
