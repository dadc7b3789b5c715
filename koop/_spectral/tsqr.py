r"""Snapshot matrices with many more features than samples, streamed over feature blocks.

A field of :math:`n` snapshots of :math:`d \gg n` values is the matrix
:math:`S \in \mathbb{C}^{n\times d}` (snapshots in rows). DMD and POD need the right
singular vectors and singular values of :math:`S` (or of row subsets of it) and, for the
kept rank only, products :math:`S^\top C` with a thin :math:`C \in \mathbb{C}^{n\times k}`.
Both stream over blocks of *columns* (features), the transpose of what
:mod:`koop.gram` streams over samples:

* :func:`r_factor`: the triangular factor of the tall-skinny QR
  :math:`S^\top = \mathcal Q R` by TSQR: each feature block :math:`S_b^\top` is stacked
  under the current :math:`R` and re-factored, :math:`[R;\ S_b^\top] = \mathcal Q' R'`.
  Householder QR is backward stable, so :math:`R` carries the singular values of
  :math:`S` to full relative precision (:math:`R^*R = SS^*` is never formed; the
  condition number is not squared), and :math:`R` is :math:`n\times n` whatever
  :math:`d`. A subset of rows of :math:`S` (the :math:`X` or the :math:`Y` of snapshot
  pairs) has :math:`S_I^\top = \mathcal Q R_{:,I}`: its SVD is the SVD of the small
  :math:`R_{:,I}` with left vectors :math:`\mathcal Q\,U_R`.
* :func:`right_products`: :math:`S^\top C`, block by block, into memory or into an
  array on disk (a zarr array, a memmap) when :math:`d\times k` does not fit.

Memory is one block (``block_bytes``, default 64 MiB) plus :math:`O(n^2)`; the source
may be a numpy array, a memmap, a zarr array or a dask array (each block is computed on
its own, aligned with the source's chunks along features).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import scipy.linalg

from koop.data import is_dask_array

__all__ = ["SnapshotSource", "r_factor", "snapshot_factor", "right_products", "left_products",
           "BLOCK_BYTES"]

BLOCK_BYTES = 64 * 2**20
_TP_ROWS = 4096


class SnapshotSource:
    r"""Row blocks sharing their columns, read as one matrix :math:`S` in column slabs.

    Parameters
    ----------
    parts : sequence of 2-D arrays (numpy, memmap, zarr or dask), shape (n_i, d)
        :math:`S` is their vertical concatenation; nothing is concatenated in memory.
    block_bytes : int
        Memory budget of one column slab of :math:`S` (all rows, some columns).

    Examples
    --------
    >>> import numpy as np
    >>> src = SnapshotSource([np.ones((2, 5)), np.zeros((1, 5))], block_bytes=48)
    >>> [(s.start, s.stop) for s in src.slabs()]
    [(0, 2), (2, 4), (4, 5)]
    """

    def __init__(self, parts: Sequence[Any], block_bytes: int = BLOCK_BYTES) -> None:
        self.parts = list(parts)
        self.n_features = int(self.parts[0].shape[1])
        self.n_rows = int(sum(p.shape[0] for p in self.parts))
        self.dtype = np.result_type(*[np.dtype(p.dtype) for p in self.parts])
        if self.dtype.kind not in "fc":
            self.dtype = np.dtype(np.float64)
        self.block_bytes = int(block_bytes)

    def _chunk_edges(self) -> np.ndarray | None:
        """Column boundaries of the source's own chunks (dask/zarr), to align slabs."""
        part = self.parts[0]
        if is_dask_array(part):
            sizes = part.chunks[1]
        else:
            chunks = getattr(part, "chunks", None)
            if not (isinstance(chunks, tuple) and len(chunks) == 2
                    and isinstance(chunks[1], int | np.integer)):
                return None
            step = int(chunks[1])
            sizes = [step] * (self.n_features // step)
            if self.n_features % step:
                sizes.append(self.n_features % step)
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def slabs(self) -> Iterator[slice]:
        """Column slices of at most ``block_bytes`` (at least one column; whole source
        chunks where the source is chunked)."""
        width = max(1, self.block_bytes // (max(self.n_rows, 1) * self.dtype.itemsize))
        edges = self._chunk_edges()
        if edges is None:
            for a in range(0, self.n_features, width):
                yield slice(a, min(a + width, self.n_features))
            return
        a = 0
        while a < self.n_features:
            # the furthest chunk edge within the budget (at least one whole chunk)
            ok = edges[(edges > a) & (edges <= a + width)]
            b = int(ok[-1]) if ok.size else int(edges[np.searchsorted(edges, a, "right")])
            yield slice(a, b)
            a = b

    def block(self, cols: slice) -> np.ndarray:
        """Rows of every part for the columns ``cols``, as one finite numpy array."""
        pieces = []
        for p in self.parts:
            piece = p[:, cols]
            if is_dask_array(piece):
                piece = piece.compute()
            pieces.append(np.asarray(piece))
        out = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=0)
        if not np.isfinite(out).all():
            bad = int(np.count_nonzero(~np.isfinite(out)))
            raise ValueError(
                f"The snapshots contain {bad} NaN or infinite value(s) in features "
                f"{cols.start}..{cols.stop - 1}; remove or impute them (for a field with "
                "land or a mask, pass an xarray DataArray whose masked points are NaN at "
                "every time)."
            )
        return out.astype(self.dtype, copy=False)


def r_factor(source: SnapshotSource) -> np.ndarray:
    r"""The triangular factor :math:`R` of :math:`S^\top = \mathcal Q R` by TSQR.

    Until :math:`R` is square, each feature block is stacked under it and refactored
    (LAPACK ``geqrf``); from then on each block :math:`B` updates :math:`R` by the
    triangular-pentagonal QR of :math:`[R; B]` (LAPACK ``tpqrt``), which skips the
    zeros below :math:`R`: :math:`2cn^2` flops for a block of :math:`c` features.

    Returns
    -------
    ndarray, shape (min(n, d), n)
        Upper triangular (trapezoidal when :math:`d < n`); :math:`R^*R = SS^*` up to
        rounding of a backward-stable QR (the product itself is never formed).

    Examples
    --------
    >>> import numpy as np
    >>> S = np.random.default_rng(0).normal(size=(4, 1000))
    >>> R = r_factor(SnapshotSource([S], block_bytes=4 * 8 * 100))
    >>> bool(np.allclose(R.T @ R, S @ S.T))
    True
    """
    n = source.n_rows
    R = np.zeros((0, n), dtype=source.dtype, order="F")
    tpqrt = None
    for cols in source.slabs():
        block = source.block(cols)
        if R.shape[0] < n:
            head, block = block[:, : n - R.shape[0]], block[:, n - R.shape[0]:]
            stacked = np.empty((R.shape[0] + head.shape[1], n), dtype=source.dtype, order="F")
            stacked[: R.shape[0]] = R
            stacked[R.shape[0]:] = head.T
            R = np.asfortranarray(householder_r(stacked, square=False), dtype=source.dtype)
            if block.shape[1] == 0:
                continue
        if tpqrt is None:
            (tpqrt,) = scipy.linalg.get_lapack_funcs(("tpqrt",), (R,))
        # sub-blocks of a few thousand features keep tpqrt's panels in cache
        for a in range(0, block.shape[1], _TP_ROWS):
            B = np.asfortranarray(block[:, a:a + _TP_ROWS].T)
            R, _, _, info = tpqrt(0, min(32, n), R, B, overwrite_a=True, overwrite_b=True)
            if info != 0:  # pragma: no cover - LAPACK argument errors only
                raise RuntimeError(f"LAPACK tpqrt failed (info={info}).")
    return np.triu(R)


def snapshot_factor(source: SnapshotSource) -> np.ndarray:
    r"""A small :math:`R` with :math:`S^\top = \mathcal Q R`, :math:`\mathcal Q` with
    orthonormal columns: the TSQR factor when :math:`d > n`; :math:`S^\top` itself
    (:math:`\mathcal Q = I`) when :math:`d \le n`, so that data with few features go the
    direct way (no QR rounding between :math:`X` and :math:`Y`), as plain SVD-based DMD.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.arange(6.0).reshape(3, 2)
    >>> snapshot_factor(SnapshotSource([S])).shape
    (2, 3)
    """
    if source.n_features <= source.n_rows:
        return np.ascontiguousarray(source.block(slice(0, source.n_features)).T)
    return r_factor(source)


def householder_r(B: np.ndarray, *, square: bool = True) -> np.ndarray:
    """The R factor of a Householder QR of ``B`` (``B`` may be overwritten).

    One LAPACK ``geqrf`` with an explicit workspace on Fortran-ordered data (the
    wrapper's default workspace runs the unblocked, BLAS-2 algorithm; ``numpy.linalg.qr``
    also copies): the one tall-skinny QR step of the feature-chunk TSQR of fields, ResDMD's
    :func:`build_factor` and the row factors of online learning. ``square``: pad ``R``
    with zero rows to ``n_columns x n_columns``; else the economy ``min(rows, columns) x
    columns``.
    """
    n = B.shape[1]
    k = min(B.shape[0], n)
    if B.shape[0] == 0:
        R = np.zeros((n if square else 0, n), dtype=np.result_type(B.dtype, np.float64))
        return R
    B = np.asfortranarray(B, dtype=np.result_type(B.dtype, np.float64))
    (geqrf,) = scipy.linalg.get_lapack_funcs(("geqrf",), (B,))
    qr, _, _, info = geqrf(B, lwork=max(64 * n, 1), overwrite_a=True)
    if info != 0:  # pragma: no cover - LAPACK argument error
        raise np.linalg.LinAlgError(f"geqrf failed with info={info}.")
    if not square:
        return np.triu(qr[:k])
    R = np.zeros((n, n), dtype=qr.dtype)
    R[:k] = np.triu(qr[:k])
    return R


def right_products(source: SnapshotSource, coefs: np.ndarray, out: Any = None) -> Any:
    r""":math:`S^\top C` (one row per feature), streamed over feature blocks.

    Parameters
    ----------
    source : SnapshotSource
    coefs : ndarray, shape (n, k)
    out : array-like of shape (d, k), optional
        Where to write (a zarr array or memmap for results larger than memory); default
        a new numpy array.

    Returns
    -------
    ``out`` (or the new array)

    Examples
    --------
    >>> import numpy as np
    >>> S = np.arange(12.0).reshape(3, 4)
    >>> bool(np.allclose(right_products(SnapshotSource([S], 24), np.eye(3)), S.T))
    True
    """
    coefs = np.asarray(coefs)
    dtype = np.result_type(source.dtype, coefs.dtype)
    k = coefs.shape[1]
    split = source.dtype.kind != "c" and coefs.dtype.kind == "c"
    if split:  # real data, complex coefficients: one real product, no complex copy
        coefs = np.hstack([coefs.real, coefs.imag])
    if out is None:
        out = np.empty((source.n_features, k), dtype=dtype)
    for cols in source.slabs():
        block = source.block(cols).T @ coefs
        out[cols] = block[:, :k] + 1j * block[:, k:] if split else block
    return out


def left_products(source: SnapshotSource, M: np.ndarray) -> np.ndarray:
    r""":math:`S M` for a thin :math:`M\in\mathbb C^{d\times k}` (e.g. POD coordinates
    :math:`S\bar U`), accumulated over feature blocks.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.arange(12.0).reshape(3, 4)
    >>> out = left_products(SnapshotSource([S], 24), np.ones((4, 1)))
    >>> bool(np.allclose(out, S.sum(1, keepdims=True)))
    True
    """
    M = np.asarray(M)
    out = np.zeros((source.n_rows, M.shape[1]), dtype=np.result_type(source.dtype, M.dtype))
    for cols in source.slabs():
        out += source.block(cols) @ M[cols]
    return out
