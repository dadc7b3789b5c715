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

from koop._spectral.tsqr import householder_r
from koop.data import Trajectories

__all__ = ["RSums", "pair_rows", "stack_r"]


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
        if float(factor) == 1.0:  # no forgetting: no copy of a factor that may be large
            return RSums(self.R, self.n_samples, self.weights_sum)
        return RSums(self.R * np.sqrt(float(factor)), self.n_samples,
                     self.weights_sum * float(factor))

    def __add__(self, other: object) -> RSums:
        if not isinstance(other, RSums):
            return NotImplemented
        if self.R.shape[1] != other.R.shape[1]:
            raise ValueError(f"Cannot merge factors of {self.R.shape[1]} and "
                             f"{other.R.shape[1]} columns.")
        return RSums(stack_r(self.R, other.R),
                     self.n_samples + other.n_samples, self.weights_sum + other.weights_sum)


def stack_r(R: np.ndarray, B: np.ndarray) -> np.ndarray:
    r"""The economy R factor of :math:`[R; B]` for an upper-trapezoidal ``R``.

    A wide ``R`` (:math:`k` rows < :math:`n` columns: fewer rows summarised than columns,
    e.g. DMD's pair rows of a field) is updated in :math:`O(bkn)` work instead of the
    :math:`O(k^2 n)` of re-factoring the stack: LAPACK ``tpqrt`` folds the first
    :math:`k` columns of the :math:`b` new rows into the triangle :math:`R_{:, :k}`,
    ``tpmqrt`` applies the same reflections to the other columns, and the :math:`b`
    rows left over are factored on their own (they are zero in the first :math:`k`
    columns). Otherwise (:math:`k \ge n`, or no rows yet) the stack is re-factored.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> R = householder_r(rng.normal(size=(3, 8)), square=False)
    >>> B = rng.normal(size=(2, 8))
    >>> S = stack_r(R, B)
    >>> S.shape, bool(np.allclose(S.T @ S, R.T @ R + B.T @ B))
    ((5, 8), True)
    """
    import scipy.linalg

    k, n = R.shape
    if k == 0 or k >= n or B.shape[0] == 0:
        return householder_r(np.vstack([R, B]), square=False)
    dtype = np.result_type(R.dtype, B.dtype, np.float64)
    # copies: LAPACK overwrites them, and neither input may change
    A1, A2 = (np.array(R[:, :k], dtype=dtype, order="F"),
              np.array(R[:, k:], dtype=dtype, order="F"))
    B1, B2 = (np.array(B[:, :k], dtype=dtype, order="F"),
              np.array(B[:, k:], dtype=dtype, order="F"))
    tpqrt, tpmqrt = scipy.linalg.get_lapack_funcs(("tpqrt", "tpmqrt"), (A1,))
    nb = max(1, min(32, k))
    A1, V, T, info = tpqrt(0, nb, A1, B1, overwrite_a=True, overwrite_b=True)
    if info != 0:  # pragma: no cover - LAPACK argument errors only
        raise np.linalg.LinAlgError(f"tpqrt failed with info={info}.")
    trans = "C" if np.iscomplexobj(A1) else "T"
    A2, B2, info = tpmqrt(0, V, T, A2, B2, side="L", trans=trans, overwrite_a=True,
                          overwrite_b=True)
    if info != 0:  # pragma: no cover
        raise np.linalg.LinAlgError(f"tpmqrt failed with info={info}.")
    rest = householder_r(B2, square=False)
    out = np.zeros((k + rest.shape[0], n), dtype=dtype)
    out[:k, :k] = np.triu(A1)
    out[:k, k:] = A2
    out[k:, k:] = rest
    return out


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
