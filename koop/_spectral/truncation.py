r"""How many directions of a spectrum to keep: the one truncation rule of koop.

Every estimator truncates a decreasing spectrum — the singular values of a data matrix
(DMD, Hankel DMD, HAVOK) or the eigenvalues of a Gram matrix, i.e. squared singular
values (EDMD, ResDMD, kernel EDMD) — with the same contract for ``rank``:

* ``None``: the numerical rank, the values above ``cutoff`` times the largest;
* a positive int :math:`r`: the :math:`r` largest (never more than the numerical rank);
* a float :math:`f \in (0, 1)`: the smallest :math:`k` whose energy
  :math:`\sum_{i\le k}\sigma_i^2 / \sum_i\sigma_i^2` reaches :math:`f` (never more than
  the numerical rank);
* ``"optimal"``: Gavish & Donoho's hard threshold for unknown noise,
  :math:`\sigma > \omega(\beta)\,\sigma_{\mathrm{med}}` (:math:`\beta` the aspect ratio
  of the data matrix).

Only the ``cutoff`` — the resolution below which a value is rounding noise — differs
between callers, because it depends on how the spectrum was computed (an SVD of an
:math:`N\times M` matrix resolves :math:`\max(N, M)\varepsilon\sigma_1`; the eigenvalues
of :math:`G` are rounded at :math:`M\varepsilon` of the largest).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["select_rank", "numerical_rank", "optimal_svht_coef", "RANK_CONTRACT"]

RANK_CONTRACT = ("rank must be None, a positive int, an energy fraction in (0, 1) or "
                 "'optimal'")


def optimal_svht_coef(beta: float) -> float:
    r"""Gavish & Donoho's optimal hard-threshold coefficient for unknown noise.

    :math:`\tau = \omega(\beta)\,\sigma_{\mathrm{med}}` with
    :math:`\omega(\beta) \approx 0.56\beta^3 - 0.95\beta^2 + 1.82\beta + 1.43`, where
    :math:`\beta \le 1` is the aspect ratio of the matrix (IEEE Trans. Inf. Theory 2014).

    Examples
    --------
    >>> round(optimal_svht_coef(1.0), 2)
    2.86
    """
    return 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43


def numerical_rank(values: np.ndarray, cutoff: float | None) -> int:
    """Number of ``values`` (descending) above ``cutoff`` times the largest (all if None)."""
    v = np.asarray(values)
    if cutoff is None:
        return int(v.size)
    return int(np.count_nonzero(v > v[0] * cutoff)) if v.size else 0


def _check_rank(rank) -> None:
    if rank is None or (isinstance(rank, str) and rank == "optimal"):
        return
    if isinstance(rank, str):
        raise ValueError(f"{RANK_CONTRACT}; got {rank!r}.")
    if isinstance(rank, bool | np.bool_) or not isinstance(rank, numbers.Real):
        raise TypeError(f"{RANK_CONTRACT}; got {rank!r}.")
    if isinstance(rank, numbers.Integral):
        if rank < 1:
            raise ValueError(f"rank must be >= 1, got {rank}.")
    elif not 0 < rank < 1:
        raise ValueError(f"A float rank is an energy fraction in (0, 1), got {rank}.")


def select_rank(values: np.ndarray, rank=None, shape: tuple[int, int] | None = None, *,
                cutoff: float | None = None, squared: bool = False) -> int:
    r"""Number of leading directions of a decreasing spectrum to keep.

    Parameters
    ----------
    values : ndarray, descending
        Singular values, or (``squared=True``) eigenvalues of a Gram matrix.
    rank : None, int, float in (0, 1) or "optimal"
        See the module docstring.
    shape : (int, int), optional
        Shape of the data matrix: needed for ``"optimal"``, and the default ``cutoff``
        :math:`\max(N, M)\varepsilon` when ``cutoff`` is not given.
    cutoff : float, optional
        Relative resolution: values at or below ``cutoff * values[0]`` are rounding
        noise and never kept.
    squared : bool
        ``values`` are squared singular values (eigenvalues of a Gram matrix).

    Returns
    -------
    int
        0 only for an empty or all-zero spectrum; at least 1 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([4.0, 2.0, 1.0, 1e-20])
    >>> select_rank(s, None, (10, 4)), select_rank(s, 2, (10, 4))
    (3, 2)
    >>> select_rank(s, 0.9, (10, 4))  # 16 / 21 < 0.9 <= 20 / 21
    2
    """
    _check_rank(rank)
    v = np.asarray(values)
    if v.size == 0 or v[0] == 0:
        return 0
    if cutoff is None and shape is not None:
        cutoff = max(shape) * np.finfo(float).eps
    numerical = numerical_rank(v, cutoff)
    if rank is None:
        return max(numerical, 1)
    if isinstance(rank, str):
        if shape is None:
            raise ValueError("rank='optimal' needs the shape of the data matrix.")
        s = np.sqrt(np.clip(v, 0.0, None)) if squared else v
        beta = min(shape) / max(shape)
        tau = optimal_svht_coef(beta) * np.median(s)
        return max(int(np.count_nonzero(s > tau)), 1)
    if isinstance(rank, numbers.Integral):
        return max(min(int(rank), numerical), 1)
    energy = np.clip(v, 0.0, None) if squared else v**2
    fraction = np.cumsum(energy) / np.sum(energy)
    return max(min(int(np.searchsorted(fraction, rank) + 1), numerical), 1)
