"""The dictionary contract: a scikit-learn transformer x -> psi(x) in R^M."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from koop._params import ParamValidation
from koop.data import check_array

__all__ = ["Dictionary"]


class Dictionary(ParamValidation, TransformerMixin, BaseEstimator):
    r"""Base class of observable dictionaries :math:`\psi: \mathbb{R}^d \to \mathbb{R}^M`.

    A dictionary is a scikit-learn transformer. ``fit(X)`` learns whatever the
    dictionary needs from the data (centers, widths, frequencies) and sets
    ``n_features_in_`` and ``n_output_features_``; ``transform(X)`` returns
    :math:`\Psi` with one row per sample.

    Lagged dictionaries (:class:`~koop.dictionaries.TimeDelay`) need ``n_lags`` past
    samples for each row: ``transform`` of ``n`` samples returns ``n - n_lags`` rows, row
    ``i`` belonging to sample ``i + n_lags``. Pointwise dictionaries have ``n_lags = 0``.

    ``d1 + d2`` concatenates two dictionaries (:class:`~koop.dictionaries.Concat`).

    Subclasses declare ``_parameter_constraints`` (scikit-learn's mechanism, checked
    when ``fit`` starts), implement ``_fit(X)`` (optional), ``_transform(X)``,
    ``_n_output()``, ``_feature_names(input_names)`` and, where a numba kernel exists,
    ``_kernel_spec()``; ``size_param`` names the parameter that sets the number of
    functions (what :func:`koop.validation.convergence_study` varies).
    """

    #: the constructor parameter that sets the dictionary size (None: no such parameter)
    size_param: ClassVar[str | None] = None
    #: complex states accepted (linear dictionaries and user callables)
    _accepts_complex: ClassVar[bool] = False

    @property
    def n_lags(self) -> int:
        """Number of past samples each row of ``transform`` needs (0: pointwise)."""
        return 0

    @property
    def accepts_complex(self) -> bool:
        """Whether complex states are accepted (Identity, TimeDelay, POD, Custom and
        concatenations of them); the others refuse them with a TypeError."""
        return bool(self._accepts_complex)

    # -- scikit-learn API -------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> Dictionary:
        """Learn the dictionary's data-dependent parameters from samples ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        X = self._check_states(X, min_samples=1)
        self.n_features_in_ = X.shape[1]
        self._fit(np.asarray(X, dtype=_work_dtype(X)))
        self.n_output_features_ = int(self._n_output())
        return self

    def transform(self, X: Any) -> np.ndarray:
        r"""Evaluate :math:`\Psi(X)`, one row per sample (from sample ``n_lags`` on).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples - n_lags, n_output_features_)
        """
        check_is_fitted(self, "n_output_features_")
        X = self._check_states(X, n_features=self.n_features_in_, min_samples=self.n_lags + 1)
        out = self._transform(np.asarray(X, dtype=_work_dtype(X)))
        if not np.isfinite(out).all():  # finite input, so the values overflowed
            raise ValueError(
                f"{type(self).__name__} gives inf or NaN on finite data (values beyond "
                "float64's range, ~1e308). Rescale the data (e.g. standardise each feature) "
                "or use a smaller degree / a wider width."
            )
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the dictionary functions, e.g. ``['1', 'x0', 'x0^2']``.

        Parameters
        ----------
        input_features : list of str, optional
            Names of the state variables; default ``x0, x1, ...``.

        Returns
        -------
        ndarray of str, shape (n_output_features_,)
        """
        check_is_fitted(self, "n_output_features_")
        if input_features is None:
            input_features = [f"x{i}" for i in range(self.n_features_in_)]
        input_features = [str(f) for f in input_features]
        if len(input_features) != self.n_features_in_:
            raise ValueError(
                f"input_features has {len(input_features)} names, expected "
                f"{self.n_features_in_}."
            )
        names = list(self._feature_names(input_features))
        return np.asarray(names, dtype=object)

    def __add__(self, other: Dictionary) -> Dictionary:
        from koop.dictionaries._combine import Concat

        if not isinstance(other, Dictionary):
            return NotImplemented
        left = list(self.dictionaries) if isinstance(self, Concat) else [self]
        right = list(other.dictionaries) if isinstance(other, Concat) else [other]
        return Concat(left + right)

    def kernel_spec(self) -> tuple[str, dict] | None:
        """The numba kernel that evaluates this fitted dictionary, as ``(name, params)``.

        None when there is none (the Gram builders then call :meth:`transform` chunk by
        chunk). The names are those of :mod:`koop._kernels.dispatch`.

        Examples
        --------
        >>> import numpy as np
        >>> from koop.dictionaries import Identity
        >>> Identity().fit(np.zeros((2, 3))).kernel_spec()
        ('identity', {})
        """
        check_is_fitted(self, "n_output_features_")
        return self._kernel_spec()

    def _check_states(self, X: Any, **kwargs: Any) -> np.ndarray:
        if not self._accepts_complex and np.iscomplexobj(X):
            raise TypeError(
                f"{type(self).__name__} takes real states and X is complex. Identity, "
                "TimeDelay, POD and Custom dictionaries take complex snapshots; or split "
                "real and imaginary parts into separate features."
            )
        return check_array(X, name="X", allow_complex=self._accepts_complex, **kwargs)

    # -- hooks for subclasses ---------------------------------------------------------
    def _fit(self, X: np.ndarray) -> None:
        """Learn data-dependent parameters (default: nothing)."""

    def _transform(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _n_output(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _feature_names(self, input_names: list[str]) -> list[str]:
        return [f"psi{i}" for i in range(self._n_output())]

    def _kernel_spec(self) -> tuple[str, dict] | None:
        """Describe the numba kernel that evaluates this dictionary (None: use transform)."""
        return None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags


def _work_dtype(X: np.ndarray) -> type:
    """complex128 for complex states, else float64."""
    return np.complex128 if np.iscomplexobj(X) else np.float64
