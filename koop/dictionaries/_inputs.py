r"""A dictionary on the state, with control inputs passed through: :math:`[\psi(x), u]`.

Used by :func:`koop.gram.build_gram_inputs` so that the Gram matrices of the lifted
state and the inputs, :math:`[\Psi_X, U]^* W [\Psi_X, U]` and the rest, stream in one
pass over ``[x, u]`` rows with every backend; the inputs are never lifted (Korda & Mezić:
inputs enter the lifted predictor linearly).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone

from koop._params import POSITIVE_INT, instance_of
from koop.dictionaries._base import Dictionary
from koop.dictionaries._combine import Identity

__all__ = ["InputPassThrough"]


class InputPassThrough(Dictionary):
    r""":math:`\psi_{\mathrm{aug}}([x, u]) = [\psi(x), u]` for rows holding state then inputs.

    Parameters
    ----------
    dictionary : Dictionary, optional
        The dictionary of the state (default :class:`~koop.dictionaries.Identity`). If it
        is fitted already it is used as is (the inputs must not change a dictionary
        fitted on states); otherwise a clone is fitted on the state columns.
    n_inputs : int, default=1
        Number of input columns at the right of each row.

    Examples
    --------
    >>> import numpy as np
    >>> from koop.dictionaries import Polynomial
    >>> d = InputPassThrough(Polynomial(degree=2, include_bias=False), n_inputs=1)
    >>> d.fit_transform(np.array([[2.0, -1.0]])).tolist()
    [[2.0, 4.0, -1.0]]
    """

    _parameter_constraints: ClassVar[dict] = {
        "dictionary": [instance_of(Dictionary, "a koop dictionary (koop.dictionaries)"),
                       None],
        "n_inputs": POSITIVE_INT,
    }

    def __init__(self, dictionary: Dictionary | None = None, n_inputs: int = 1) -> None:
        self.dictionary = dictionary
        self.n_inputs = n_inputs

    @property
    def n_lags(self) -> int:  # type: ignore[override]
        inner = getattr(self, "dictionary_", None) or self.dictionary
        return int(getattr(inner, "n_lags", 0))

    def _fit(self, X: np.ndarray) -> None:
        d = X.shape[1] - int(self.n_inputs)
        if d < 1:
            raise ValueError(
                f"Rows have {X.shape[1]} column(s), not more than n_inputs={self.n_inputs}."
            )
        inner = Identity() if self.dictionary is None else self.dictionary
        if hasattr(inner, "n_output_features_"):

            if inner.n_features_in_ != d:
                raise ValueError(f"The dictionary was fitted on {inner.n_features_in_} "
                                 f"feature(s); the rows hold {d} state column(s).")
            self.dictionary_ = inner
        else:
            self.dictionary_ = clone(inner).fit(X[:, :d])
        self.n_state_ = d

    def _transform(self, X: np.ndarray) -> np.ndarray:
        d = self.n_state_
        psi = self.dictionary_.transform(np.ascontiguousarray(X[:, :d]))
        u = X[self.n_lags :, d:]
        return np.hstack([psi, u.astype(psi.dtype, copy=False)])

    def _n_output(self) -> int:
        return int(self.dictionary_.n_output_features_) + int(self.n_inputs)

    def _feature_names(self, input_names: list[str]) -> list[str]:
        d = self.n_state_
        names = list(self.dictionary_.get_feature_names_out(input_names[:d]))
        return names + list(input_names[d:])

    def _kernel_spec(self) -> Any:
        return None  # the inner dictionary's kernel runs inside transform
