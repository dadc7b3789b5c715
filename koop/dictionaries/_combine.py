"""Dictionaries built from others or from user code: Identity, Custom, Concat."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone

from koop._params import NON_NEGATIVE_INT, Satisfies
from koop.dictionaries._base import Dictionary

__all__ = ["Identity", "Custom", "Concat"]


class Identity(Dictionary):
    r"""The state itself: :math:`\psi(x) = x` (EDMD with it is exact DMD, untruncated).

    Examples
    --------
    >>> import numpy as np
    >>> Identity().fit_transform(np.array([[1.0, 2.0]]))
    array([[1., 2.]])
    """

    _accepts_complex = True

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return np.array(X, order="C", copy=True)

    def _n_output(self) -> int:
        return self.n_features_in_

    def _feature_names(self, input_names: list[str]) -> list[str]:
        return list(input_names)

    def _kernel_spec(self) -> tuple[str, dict]:
        return "identity", {}


class Custom(Dictionary):
    r"""A user callable as dictionary: :math:`\psi(x) = f(x)` evaluated on sample rows.

    Parameters
    ----------
    func : callable
        ``func(X) -> ndarray (n_samples, M)`` for ``X`` of shape ``(n_samples, d)``; it must
        act row by row (row ``i`` of the output depends only on row ``i`` of ``X``).
    feature_names : sequence of str, optional
        Names of the ``M`` functions.
    n_lags : int, default=0
        Number of past samples ``func`` consumes: ``func`` then returns
        ``n_samples - n_lags`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> d = Custom(lambda X: np.hstack([X, np.sin(X)]), feature_names=["x", "sin x"])
    >>> d.fit_transform(np.array([[0.0], [np.pi / 2]])).round(12)
    array([[0.        , 0.        ],
           [1.57079633, 1.        ]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "func": [callable], "feature_names": ["array-like", None], "n_lags": NON_NEGATIVE_INT}

    def __init__(
        self,
        func: Callable[[np.ndarray], np.ndarray] | None = None,
        feature_names: Sequence[str] | None = None,
        n_lags: int = 0,
    ) -> None:
        self.func = func
        self.feature_names = feature_names
        self.n_lags = n_lags

    # n_lags is a parameter here, so shadow the base-class property with the attribute
    n_lags = 0  # type: ignore[assignment]
    _accepts_complex = True  # the callable decides

    def _fit(self, X: np.ndarray) -> None:
        probe = X[: max(self.n_lags + 2, 2)] if X.shape[0] > self.n_lags + 1 else X
        out = self._call(probe)
        self._n_out = out.shape[1]
        if self.feature_names is not None and len(self.feature_names) != self._n_out:
            raise ValueError(
                f"feature_names has {len(self.feature_names)} names but func returns "
                f"{self._n_out} columns."
            )

    def _call(self, X: np.ndarray) -> np.ndarray:
        out = np.asarray(self.func(X))
        if out.ndim == 1:
            out = out.reshape(-1, 1)
        expected = X.shape[0] - self.n_lags
        if out.ndim != 2 or out.shape[0] != expected:
            raise ValueError(
                f"Custom func returned shape {out.shape} for {X.shape[0]} samples; expected "
                f"({expected}, M): one row per sample (minus n_lags={self.n_lags})."
            )
        if out.dtype.kind not in "biufc":
            raise TypeError(f"Custom func returned non-numeric dtype {out.dtype}.")
        if not np.isfinite(out).all():
            raise ValueError(
                "Custom func returned NaN or inf; the dictionary must be finite on the data."
            )
        return out if out.dtype.kind in "fc" else out.astype(np.float64)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        out = self._call(X)
        if out.shape[1] != self.n_output_features_:
            raise ValueError(
                f"Custom func returned {out.shape[1]} columns, {self.n_output_features_} at "
                "fit time."
            )
        return out

    def _n_output(self) -> int:
        return self._n_out

    def _feature_names(self, input_names: list[str]) -> list[str]:
        if self.feature_names is not None:
            return [str(n) for n in self.feature_names]
        return [f"f{i}" for i in range(self._n_out)]


class Concat(Dictionary):
    r"""Several dictionaries side by side: :math:`\psi = (\psi^{(1)}, \psi^{(2)}, \dots)`.

    Also written ``d1 + d2``. Lagged parts are aligned on the latest sample: the
    concatenation needs ``max(n_lags)`` past samples.

    Parameters
    ----------
    dictionaries : sequence of Dictionary

    Examples
    --------
    >>> import numpy as np
    >>> from koop.dictionaries import Identity, Polynomial
    >>> d = Identity() + Polynomial(degree=2, include_bias=False)
    >>> d.fit(np.zeros((3, 1))).get_feature_names_out().tolist()
    ['x0', 'x0', 'x0^2']
    """

    _parameter_constraints: ClassVar[dict] = {"dictionaries": [Satisfies(
        lambda v: isinstance(v, list | tuple) and len(v) > 0
        and all(isinstance(d, Dictionary) for d in v),
        "a non-empty list of koop dictionaries")]}

    def __init__(self, dictionaries: Sequence[Dictionary] = ()) -> None:
        self.dictionaries = dictionaries

    @property
    def n_lags(self) -> int:  # type: ignore[override]
        parts = getattr(self, "dictionaries_", None) or self.dictionaries
        return max((d.n_lags for d in parts), default=0)

    @property
    def _accepts_complex(self) -> bool:  # type: ignore[override]
        return all(d.accepts_complex for d in self.dictionaries)

    def _fit(self, X: np.ndarray) -> None:
        self.dictionaries_ = [clone(d).fit(X) for d in self.dictionaries]

    def _transform(self, X: np.ndarray) -> np.ndarray:
        lag = self.n_lags
        blocks = []
        for d in self.dictionaries_:
            blocks.append(d.transform(X[lag - d.n_lags :]))
        return np.hstack(blocks)

    def _n_output(self) -> int:
        return sum(d.n_output_features_ for d in self.dictionaries_)

    def _feature_names(self, input_names: list[str]) -> list[str]:
        names: list[str] = []
        for d in self.dictionaries_:
            names.extend(d.get_feature_names_out(input_names))
        return names

    def _kernel_spec(self) -> tuple[str, Any] | None:
        specs = [d.kernel_spec() for d in self.dictionaries_]
        if any(s is None for s in specs):
            return None
        return "concat", {"parts": specs, "n_lags": [d.n_lags for d in self.dictionaries_]}
