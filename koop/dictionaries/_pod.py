r"""POD coordinates of a field: :math:`\psi(x) = U^* x`, streamed over feature blocks."""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from koop._params import RANK, Interval
from koop.data import check_array
from koop.dictionaries._base import Dictionary

__all__ = ["POD"]


class POD(Dictionary):
    r"""Proper orthogonal decomposition: the leading left singular vectors of the snapshots.

    With snapshots in the rows of :math:`X\in\mathbb C^{n\times d}` and
    :math:`X^\top = U\Sigma V^*` truncated to rank :math:`r`,
    :math:`\psi(x) = (U^*x)^\top \in \mathbb C^r` (for rows: :math:`\Psi = X\bar U`).
    :math:`U` is computed without a :math:`d\times d` matrix: the TSQR factor of
    :math:`X^\top` over feature blocks gives :math:`V, \Sigma`, then one more pass gives
    :math:`U = X^\top V\Sigma^{-1}` (:mod:`koop._spectral.tsqr`). No centring: for
    fluctuations, subtract the mean first.

    Parameters
    ----------
    rank : int, float in (0, 1), "optimal" or None
        As for :class:`~koop.estimators.DMD`.
    block_bytes : int, optional
        Memory budget of one feature block (default 64 MiB).

    Attributes
    ----------
    components_ : ndarray (n_features_in_, rank_)
        :math:`U`, orthonormal columns.
    singular_values_ : ndarray
        All singular values of :math:`X`.
    rank_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.outer(np.arange(1.0, 6.0), np.ones(1000))
    >>> pod = POD().fit(X)
    >>> pod.rank_, np.abs(pod.transform(X[:2])).round(6).ravel().tolist()
    (1, [31.622777, 63.245553])
    """

    _accepts_complex = True
    _parameter_constraints: ClassVar[dict] = {
        "rank": RANK,
        "block_bytes": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, rank: int | float | str | None = None,
                 block_bytes: int | None = None) -> None:
        self.rank = rank
        self.block_bytes = block_bytes

    def fit(self, X: Any, y: Any = None) -> POD:
        """Compute the POD basis of the snapshots ``X`` (rows).

        Parameters
        ----------
        X : array-like (n_samples, n_features): numpy, memmap, zarr or dask; or a list
            of such arrays (row blocks of one snapshot matrix, never concatenated)
        y : ignored

        Returns
        -------
        self
        """
        from koop._spectral.truncation import select_rank
        from koop._spectral.tsqr import BLOCK_BYTES, SnapshotSource, right_products, snapshot_factor

        self._validate_params()
        parts = list(X) if isinstance(X, list | tuple) else [X]
        if not parts:
            raise ValueError("X is empty: POD needs snapshots.")
        parts = [check_array(p, name="X", allow_complex=True, lazy=True) for p in parts]
        d = parts[0].shape[1]
        if any(p.shape[1] != d for p in parts):
            raise ValueError(f"the row blocks of X have {sorted({p.shape[1] for p in parts})} "
                             "features; every block needs the same features.")
        parts = [p.astype(np.complex128) if np.dtype(p.dtype).kind == "c" else p
                 for p in parts]
        source = SnapshotSource(parts, self.block_bytes or BLOCK_BYTES)
        R = snapshot_factor(source)
        _, s, Vh = np.linalg.svd(R, full_matrices=False)
        r = select_rank(s, self.rank, (source.n_rows, d))
        if r == 0:
            raise ValueError("X is zero: POD needs a non-zero field.")
        U = right_products(source, Vh[:r].conj().T / s[:r])
        if source.dtype.kind != "c":
            U = U.real
        return _set_basis(self, U, s)

    def reduce(self, data: Any) -> Any:
        """Validated data (:class:`koop.data.Trajectories`) in POD coordinates: every
        trajectory (and successor block) ``X`` becomes ``X @ conj(U)``, streamed over
        feature blocks for arrays on disk; the structure (pairs, dt) is kept, the field
        layout and feature names are dropped (the coordinates are not grid points).

        Examples
        --------
        >>> import numpy as np
        >>> from koop.data import as_trajectories
        >>> X = np.outer(np.arange(1.0, 6.0), np.ones(1000))
        >>> z = POD().fit(X).reduce(as_trajectories(X))
        >>> z.n_features, z.trajectories[0].shape
        (1, (5, 1))
        """
        import dataclasses

        from koop._spectral.tsqr import BLOCK_BYTES, SnapshotSource, left_products

        check_is_fitted(self, "components_")
        if data.n_features != self.n_features_in_:
            raise ValueError(f"the data have {data.n_features} features; the POD was "
                             f"fitted on {self.n_features_in_}.")
        Ubar = self.components_.conj()
        budget = self.block_bytes or BLOCK_BYTES

        def coords(blocks):
            if blocks is None:
                return None
            out = []
            for b in blocks:
                if isinstance(b, np.ndarray):
                    out.append(np.ascontiguousarray(b @ Ubar))
                else:  # dask / zarr / memmap: stream feature blocks
                    out.append(left_products(SnapshotSource([b], budget), Ubar))
            return tuple(out)

        return dataclasses.replace(data, trajectories=coords(data.trajectories),
                                   successors=coords(data.successors), feature_names=None,
                                   layout=None)

    @classmethod
    def from_basis(cls, U: np.ndarray, singular_values: np.ndarray) -> POD:
        """A fitted POD with the given orthonormal basis (as DMD computes it).

        Examples
        --------
        >>> import numpy as np
        >>> POD.from_basis(np.eye(3)[:, :2], np.array([2.0, 1.0])).rank_
        2
        """
        return _set_basis(cls(rank=int(U.shape[1])), U, singular_values)

    def transform(self, X: Any) -> np.ndarray:
        r""":math:`\Psi = X\bar U`, the POD coordinates of each row.

        Parameters
        ----------
        X : array-like (n_samples, n_features_in_), real or complex

        Returns
        -------
        ndarray (n_samples, rank_)
        """
        check_is_fitted(self, "components_")
        X = check_array(X, name="X", n_features=self.n_features_in_, allow_complex=True)
        return X @ self.components_.conj()

    def _n_output(self) -> int:
        return self.rank_

    def _feature_names(self, input_names: list[str]) -> list[str]:
        return [f"pod{i}" for i in range(self.rank_)]


def _set_basis(pod: POD, U: np.ndarray, s: np.ndarray) -> POD:
    """Make ``pod`` a fitted POD with basis ``U`` and singular values ``s``."""
    pod.components_ = np.asarray(U)
    pod.singular_values_ = np.asarray(s)
    pod.rank_ = int(U.shape[1])
    pod.n_features_in_ = int(U.shape[0])
    pod.n_output_features_ = pod.rank_
    return pod
