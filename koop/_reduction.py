r"""A linear reduction of the state before the estimator: POD coordinates of a field.

An EDMD-family estimator with ``reduce=POD(r)`` fits the POD basis :math:`U` of the
snapshots first (a streamed tall-skinny QR, never a :math:`d\times d` matrix), then runs
unchanged on the coordinates :math:`z = U^*x` (:math:`r` columns instead of :math:`d`);
its model is lifted back to the state by :meth:`koop.base.KoopmanModel.lifted`
(:math:`C_r \mapsto C_rU^\top`, modes :math:`\xi \mapsto U\xi`), so modes come back on the
grid. ``reduce_split`` is Colbrook & Townsend's two-split scheme for high-dimensional
ResDMD: the first fraction of every trajectory builds the basis, the rest gives
:math:`G, A, L` and the residuals, which then do not reuse the data that chose the
dictionary.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from koop._params import Interval, RealNotInt, instance_of
from koop.dictionaries import POD

__all__ = ["REDUCTION_CONSTRAINTS", "MAX_UNREDUCED_FEATURES", "split_snapshots",
           "fit_reduction"]

#: the ``reduce`` / ``reduce_split`` parameters of the EDMD family
REDUCTION_CONSTRAINTS = {
    "reduce": [instance_of(POD, "a koop.dictionaries.POD (the reduction)"), None],
    "reduce_split": [Interval(RealNotInt, 0, 1, closed="neither"), None],
}

#: beyond this many features an unreduced Gram or QR factor (d x d or wider) is refused
MAX_UNREDUCED_FEATURES = 10_000


def split_snapshots(data: Any, fraction: float, min_rest: int = 2) -> tuple[Any, Any]:
    """The first ``fraction`` of every trajectory (or pair block), and the rest.

    Raises
    ------
    ValueError
        When a part would be too short (the rest needs ``min_rest`` samples per
        trajectory, one pair per block).

    Examples
    --------
    >>> import numpy as np
    >>> from koop.data import as_trajectories
    >>> first, rest = split_snapshots(as_trajectories(np.zeros((10, 3))), 0.3)
    >>> first.lengths, rest.lengths
    ((3,), (7,))
    """
    def cut(n: int) -> int:
        k = round(fraction * n)
        need = 1 if data.is_pairs else min_rest
        if k < 1 or n - k < need:
            raise ValueError(
                f"reduce_split={fraction} cuts a block of {n} samples into {k} and "
                f"{n - k}: the basis needs at least 1 sample and the operator {need}. "
                "Pass longer trajectories or another reduce_split."
            )
        return k

    ks = [cut(int(t.shape[0])) for t in data.trajectories]
    head = tuple(t[:k] for t, k in zip(data.trajectories, ks, strict=True))
    tail = tuple(t[k:] for t, k in zip(data.trajectories, ks, strict=True))
    succ_head = succ_tail = None
    if data.is_pairs:
        succ_head = tuple(t[:k] for t, k in zip(data.successors, ks, strict=True))
        succ_tail = tuple(t[k:] for t, k in zip(data.successors, ks, strict=True))
    return (dataclasses.replace(data, trajectories=head, successors=succ_head),
            dataclasses.replace(data, trajectories=tail, successors=succ_tail))


def fit_reduction(reduce: POD, split: float | None, data: Any, *,
                  min_rest: int = 2) -> tuple[POD, Any]:
    """Fit a clone of ``reduce`` on the snapshots (the first ``split`` of each trajectory
    when given) and return it with the rest of the data in its coordinates."""
    from sklearn.base import clone

    basis_part, rest = (data, data) if split is None else split_snapshots(data, split,
                                                                          min_rest)
    rows = list(basis_part.trajectories) + list(basis_part.successors or ())
    pod = clone(reduce).fit(rows)
    return pod, pod.reduce(rest)
