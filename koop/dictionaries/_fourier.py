"""Random Fourier features (Rahimi & Recht)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.utils import check_random_state

from koop._params import POSITIVE_INT, POSITIVE_REAL, RANDOM_STATE
from koop.dictionaries._base import Dictionary
from koop.dictionaries._rbf import data_scale

__all__ = ["RandomFourier"]


class RandomFourier(Dictionary):
    r"""Random Fourier features, cosine and sine pairs.

    With frequencies :math:`\omega_k \sim \mathcal N(0, \sigma^{-2} I)`, :math:`k=1..D`,

    .. math::
        \psi(x) = D^{-1/2}\,\big(\cos(\omega_1^\top x), \dots, \cos(\omega_D^\top x),
        \sin(\omega_1^\top x), \dots, \sin(\omega_D^\top x)\big),

    so that :math:`\psi(x)^\top\psi(y) \to \exp(-\|x-y\|^2/(2\sigma^2))` as
    :math:`D \to \infty`. Note :math:`\cos^2 + \sin^2 = 1`: the Gram matrix of this
    dictionary is exactly singular in one direction per pair of a constant-sum; EDMD's
    rank-revealing solve handles that.

    Parameters
    ----------
    n_features : int, default=100
        Number of frequencies :math:`D`; the dictionary has ``2 * n_features`` functions.
    bandwidth : float, optional
        :math:`\sigma`; default: the mean distance of the data to their mean.
    random_state : int, RandomState or None

    Attributes
    ----------
    frequencies_ : ndarray of shape (n_features_in_, n_features)
    bandwidth_ : float

    Examples
    --------
    >>> import numpy as np
    >>> d = RandomFourier(n_features=3, bandwidth=1.0, random_state=0).fit(np.zeros((2, 2)))
    >>> d.transform(np.zeros((1, 2))).round(6).tolist()
    [[0.57735, 0.57735, 0.57735, 0.0, 0.0, 0.0]]
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_features": POSITIVE_INT, "bandwidth": [*POSITIVE_REAL, None],
        "random_state": RANDOM_STATE}
    size_param = "n_features"

    def __init__(
        self,
        n_features: int = 100,
        bandwidth: float | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_features = n_features
        self.bandwidth = bandwidth
        self.random_state = random_state

    def _fit(self, X: np.ndarray) -> None:
        rng = check_random_state(self.random_state)
        self.bandwidth_ = (
            float(self.bandwidth) if self.bandwidth is not None else data_scale(X)
        )
        omega = rng.normal(size=(X.shape[1], self.n_features)) / self.bandwidth_
        self.frequencies_ = np.ascontiguousarray(omega)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        phase = X @ self.frequencies_
        scale = np.sqrt(1.0 / self.n_features)
        return np.hstack([scale * np.cos(phase), scale * np.sin(phase)])

    def _n_output(self) -> int:
        return 2 * int(self.frequencies_.shape[1])

    def _feature_names(self, input_names: list[str]) -> list[str]:
        D = self.frequencies_.shape[1]
        return [f"cos(w{k}.x)" for k in range(D)] + [f"sin(w{k}.x)" for k in range(D)]

    def _kernel_spec(self) -> tuple[str, dict]:
        return "fourier", {
            "omega": self.frequencies_,
            "scale": float(np.sqrt(1.0 / self.frequencies_.shape[1])),
        }
