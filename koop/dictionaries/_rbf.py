"""Radial basis functions centred on data points."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.utils import check_random_state

from koop._params import POSITIVE_INT, POSITIVE_REAL, RANDOM_STATE, StrOptions
from koop.dictionaries._base import Dictionary

__all__ = ["RBF", "data_scale"]

_MAX_KMEANS_SAMPLES = 50_000


def data_scale(X: np.ndarray) -> float:
    r"""Mean distance of the samples to their mean, :math:`\frac1N\sum_m \|x_m-\bar x\|`.

    The width Colbrook & Townsend use for RBF dictionaries when none is given (and the
    default bandwidth of :class:`RandomFourier` and of kernel EDMD).

    Examples
    --------
    >>> import numpy as np
    >>> data_scale(np.array([[0.0, 0.0], [2.0, 0.0]]))
    1.0
    """
    scale = float(np.mean(np.linalg.norm(X - X.mean(axis=0), axis=1)))
    return scale if scale > 0 else 1.0


class RBF(Dictionary):
    r"""Radial basis functions :math:`\psi_k(x) = \phi(\|x - c_k\| / w)`.

    * ``kernel="gaussian"``: :math:`\phi(r) = \exp(-r^2 / 2)`,
      i.e. :math:`\psi_k(x) = \exp(-\|x-c_k\|^2 / (2 w^2))`;
    * ``kernel="thinplate"``: :math:`\phi(r) = r^2 \log r` (0 at :math:`r = 0`).

    Parameters
    ----------
    n_centers : int, default=100
        Number of centers :math:`c_k`.
    kernel : {"gaussian", "thinplate"}, default="gaussian"
    width : float, optional
        Width :math:`w`; default: the mean distance of the data to their mean.
    center_method : {"kmeans", "random"}, default="kmeans"
        k-means cluster centres (on at most 50 000 samples) or a random subset of samples.
    random_state : int, RandomState or None
        Seed for the choice of centers.

    Attributes
    ----------
    centers_ : ndarray of shape (n_centers, n_features_in_)
    width_ : float

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> d = RBF(n_centers=5, width=1.0, random_state=0).fit(X)
    >>> Psi = d.transform(d.centers_[:1])
    >>> float(Psi[0, 0])
    1.0
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_centers": POSITIVE_INT,
        "kernel": [StrOptions({"gaussian", "thinplate"})],
        "width": [*POSITIVE_REAL, None],
        "center_method": [StrOptions({"kmeans", "random"})],
        "random_state": RANDOM_STATE,
    }
    size_param = "n_centers"

    def __init__(
        self,
        n_centers: int = 100,
        kernel: str = "gaussian",
        width: float | None = None,
        center_method: str = "kmeans",
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_centers = n_centers
        self.kernel = kernel
        self.width = width
        self.center_method = center_method
        self.random_state = random_state

    def _fit(self, X: np.ndarray) -> None:
        rng = check_random_state(self.random_state)
        n = X.shape[0]
        if self.n_centers > n:
            raise ValueError(
                f"n_centers={self.n_centers} exceeds the number of samples ({n})."
            )
        if self.center_method == "random":
            centers = X[np.sort(rng.choice(n, self.n_centers, replace=False))]
        else:
            from sklearn.cluster import KMeans

            sample = X
            if n > _MAX_KMEANS_SAMPLES:
                sample = X[np.sort(rng.choice(n, _MAX_KMEANS_SAMPLES, replace=False))]
            km = KMeans(
                n_clusters=self.n_centers,
                n_init=1,
                random_state=rng.randint(np.iinfo(np.int32).max),
            )
            centers = km.fit(sample).cluster_centers_
        self.centers_ = np.ascontiguousarray(centers, dtype=np.float64)
        self.width_ = float(self.width) if self.width is not None else data_scale(X)

    def _squared_distances(self, X: np.ndarray) -> np.ndarray:
        # one feature at a time: memory n x K, not the n x K x d of all differences
        d2 = np.zeros((X.shape[0], self.centers_.shape[0]))
        for j in range(X.shape[1]):
            d2 += (X[:, j, None] - self.centers_[None, :, j]) ** 2
        return d2

    def _transform(self, X: np.ndarray) -> np.ndarray:
        r2 = self._squared_distances(X) / self.width_**2
        if self.kernel == "gaussian":
            return np.exp(-0.5 * r2)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 0.5 * r2 * np.log(r2)
        out[r2 == 0] = 0.0
        return out

    def _n_output(self) -> int:
        return int(self.centers_.shape[0])

    def _feature_names(self, input_names: list[str]) -> list[str]:
        return [f"rbf{k}" for k in range(self._n_output())]

    def _kernel_spec(self) -> tuple[str, dict]:
        if self.kernel == "gaussian":
            return "rbf_gaussian", {
                "centers": self.centers_,
                "gamma": 0.5 / self.width_**2,
            }
        return "rbf_thinplate", {"centers": self.centers_, "inv_width2": 1.0 / self.width_**2}
