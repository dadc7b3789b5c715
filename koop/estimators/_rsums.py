r"""The R factor of weighted data rows, a statistic that adds up like the Gram matrices.

:math:`R^*R = \sum_m w_m r_m r_m^*` for rows :math:`r_m` (for DMD-type models the rows
:math:`[x_m, u_m, x_{m+1}]` of every snapshot pair, :func:`pair_rows`): two factors merge
by stacking one under the other and re-factoring (a tall-skinny QR), so the statistic of
all data is built batch by batch at the cost of the new rows, with singular values and
vectors as accurate as an SVD of the data (the Gram route would square the condition
number).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koop._spectral.factor import householder_r
from koop.data import Trajectories

__all__ = ["RSums", "pair_rows"]


@dataclass(frozen=True)
class RSums:
    r"""The R factor of weighted data rows: :math:`R^*R = \sum_m w_m r_m r_m^*`.

    ``R`` has at most as many rows as columns (economy QR), so it stays as small as the
    data it summarises allows; stacking two factors and re-factoring merges them
    (a tall-skinny QR).

    Attributes
    ----------
    R : ndarray (k, n_columns)
    n_samples : int
        Number of rows (snapshot pairs) summarised.
    weights_sum : float
        :math:`\sum_m w_m`.
    uniform : bool
        Built with the default weights (1 per row; unlike Gram matrices the factor is not
        divided by the count, so that singular values are those of the data).
    """

    R: np.ndarray
    n_samples: int
    weights_sum: float
    uniform: bool = False

    @staticmethod
    def of(rows: np.ndarray, weights: np.ndarray | None = None) -> RSums:
        """The factor of ``rows`` with weights (default 1 each); ``rows`` may be
        overwritten (pass a Fortran-ordered float64 array to avoid any copy)."""
        rows = np.asarray(rows)
        n = rows.shape[0]
        if weights is None:
            return RSums(householder_r(rows, square=False), n, float(n), True)
        w = np.asarray(weights, dtype=np.float64)
        return RSums(householder_r(rows * np.sqrt(w)[:, None], square=False), n,
                     float(w.sum()), False)

    def as_sums(self) -> RSums:
        """The same factor, read as plain weighted sums (weights of 1 per row if uniform)."""
        return RSums(self.R, self.n_samples, self.weights_sum, False)

    def scaled(self, factor: float) -> RSums:
        """Every weight multiplied by ``factor``."""
        return RSums(self.R * np.sqrt(float(factor)), self.n_samples,
                     self.weights_sum * float(factor))

    def __add__(self, other: object) -> RSums:
        if not isinstance(other, RSums):
            return NotImplemented
        if self.R.shape[1] != other.R.shape[1]:
            raise ValueError(f"Cannot merge factors of {self.R.shape[1]} and "
                             f"{other.R.shape[1]} columns.")
        return RSums(householder_r(np.vstack([self.R, other.R]), square=False),
                     self.n_samples + other.n_samples, self.weights_sum + other.weights_sum)


def pair_rows(data: Trajectories, inputs: tuple | None = None) -> np.ndarray:
    """The rows :math:`[x_k, u_k, x_{k+1}]` of every snapshot pair (without ``u`` when
    ``inputs`` is None), written once into a Fortran-ordered array for :meth:`RSums.of`.

    Examples
    --------
    >>> from koop.data import as_trajectories
    >>> pair_rows(as_trajectories(np.arange(4.0))).tolist()
    [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]]
    """
    d = data.n_features
    m = 0 if inputs is None else int(inputs[0].shape[1])
    dtype = np.result_type(np.float64, *(np.asarray(t[:1]).dtype for t in data.trajectories))
    rows = np.empty((data.n_pairs(), 2 * d + m), order="F", dtype=dtype)
    start = 0
    for i, x in enumerate(data.trajectories):
        x = np.asarray(x)
        if data.is_pairs:
            X, Y = x, np.asarray(data.successors[i])
        else:
            X, Y = x[:-1], x[1:]
        stop = start + X.shape[0]
        rows[start:stop, :d] = X
        if m:
            rows[start:stop, d : d + m] = inputs[i][: X.shape[0]]
        rows[start:stop, d + m :] = Y
        start = stop
    return rows
