r"""Unnormalised Gram sums over one block of samples, the unit of work of a dask task.

A block is a contiguous window of one trajectory (or a block of explicit pairs) that
fits in memory. Its sums

.. math::
    G_b = \sum_{m \in b} w_m \psi(x_m)\psi(x_m)^*, \quad A_b = \sum_{m \in b} w_m
    \psi(x_m)\psi(y_m)^*, \quad L_b = \sum_{m \in b} w_m \psi(y_m)\psi(y_m)^*, \quad
    C_b = \sum_{m \in b} w_m \psi(x_m) x_m^\top

add up over blocks to the raw sums of the build (:class:`~koop._backends.plan.RawSums`),
so a cluster computes them block by block and reduces. Each block runs the same numba kernels and
BLAS accumulation as the in-memory path (:mod:`koop._kernels.stream`); dictionaries
without a kernel go through ``transform``, and complex-valued ones through plain numpy
products. Real results keep only the upper triangles of :math:`G_b, L_b` (as the
kernels fill them); :func:`finish` symmetrises once, after the reduction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koop._backends.plan import (
    ComplexPsi,
    Psi,
    RawSums,
    gram_chunk_size,
    hermitian_part,
)
from koop._kernels.stream import accumulate_pairs, accumulate_trajectories, symmetrize_upper

__all__ = ["BlockSums", "window_sums", "pair_sums", "add", "finish"]


@dataclass
class BlockSums:
    """Raw sums of one block (or of many, once added) and the weight diagnostics."""

    G: np.ndarray
    A: np.ndarray
    L: np.ndarray
    C: np.ndarray
    n_pairs: int
    weights_sum: float
    weights_min: float
    upper_only: bool  # G, L hold only their upper triangles (real kernel path)


def _weight_stats(w: np.ndarray | None, n: int) -> tuple[float, float]:
    if w is None:
        return float(n), 1.0
    if w.shape[0] != n:
        raise ValueError(f"A block of {n} pairs got {w.shape[0]} weights.")
    if not np.isfinite(w).all():
        return float("nan"), float("nan")
    return float(w.sum()), (float(w.min()) if n else np.inf)


def _zeros(M: int, d: int, n: int, wsum: float, wmin: float) -> BlockSums:
    z = np.zeros((M, M))
    return BlockSums(z, z.copy(), z.copy(), np.zeros((M, d)), n, wsum, wmin, True)


def _numpy_sums(PX, PY, X, w) -> tuple:
    ww = np.ones(PX.shape[0]) if w is None else w
    WPX = PX * ww[:, None]
    return (
        PX.conj().T @ WPX,
        WPX.conj().T @ PY,
        PY.conj().T @ (PY * ww[:, None]),
        WPX.conj().T @ X,
    )


def window_sums(
    psi: Psi,
    head: np.ndarray | None,
    block: np.ndarray,
    weights: np.ndarray | None,
    chunk_size: int | None,
) -> BlockSums:
    """Sums over the pairs whose successor lies in ``block``, one trajectory piece.

    ``head`` holds the ``n_lags + 1`` samples before ``block`` (fewer at a trajectory's
    start, ``None`` for its first block), so the pair that straddles the block boundary
    and lagged dictionaries are handled exactly. The block is not copied: the pairs that
    touch ``head`` come from a small window ``head + block[:n_lags + 1]``, the others from
    ``block`` itself, two pieces that the kernels treat like two trajectories.
    ``weights``: one per pair, in order, or ``None`` (weight 1 each).
    """
    lags = psi.n_lags
    dtype = np.result_type(block.dtype, np.float64)  # complex states stay complex
    block = np.ascontiguousarray(block, dtype=dtype)
    pieces = [block]
    if head is not None and head.shape[0]:
        pieces.insert(0, np.concatenate([head, block[: lags + 1]]).astype(dtype))
    n = sum(max(p.shape[0] - lags - 1, 0) for p in pieces)
    wsum, wmin = _weight_stats(weights, n)
    M, d = psi.n_outputs, block.shape[1]
    if n == 0 or not wmin >= 0:  # nothing to sum, or bad weights that finish() reports
        return _zeros(M, d, n, wsum, wmin)
    ev = psi.evaluator(d)
    chunk = chunk_size or gram_chunk_size(ev.n_outputs, lags, dtype.kind == "c")
    try:
        if dtype.kind == "c":  # the kernels stream real states
            raise ComplexPsi
        G, A, L, C = accumulate_trajectories(ev.evaluate, pieces, ev.n_outputs, lags,
                                             weights, chunk)
        upper = True
    except ComplexPsi:
        sums = []
        for p in pieces:
            if p.shape[0] - lags - 1 > 0:
                values = psi.dictionary.transform(p)
                sums.append((values[:-1], values[1:], p[lags:-1]))
        G, A, L, C = _numpy_sums(*(np.concatenate(parts) for parts in zip(*sums,
                                                                             strict=True)),
                                 weights)
        upper = False
    return BlockSums(G, A, L, C, n, wsum, wmin, upper)


def pair_sums(
    psi: Psi,
    xb: np.ndarray,
    yb: np.ndarray,
    weights: np.ndarray | None,
    chunk_size: int | None,
) -> BlockSums:
    """Sums over explicit pairs ``(xb[m], yb[m])`` (psi evaluated on both)."""
    dtype = np.result_type(xb.dtype, yb.dtype, np.float64)
    xb = np.ascontiguousarray(xb, dtype=dtype)
    yb = np.ascontiguousarray(yb, dtype=dtype)
    n = xb.shape[0]
    wsum, wmin = _weight_stats(weights, n)
    if not wmin >= 0:
        return _zeros(psi.n_outputs, xb.shape[1], n, wsum, wmin)
    ev = psi.evaluator(xb.shape[1])
    chunk = chunk_size or gram_chunk_size(ev.n_outputs, 0, dtype.kind == "c")
    try:
        if dtype.kind == "c":
            raise ComplexPsi
        G, A, L, C = accumulate_pairs(ev.evaluate, [xb], [yb], ev.n_outputs, weights, chunk)
        upper = True
    except ComplexPsi:
        G, A, L, C = _numpy_sums(psi.dictionary.transform(xb), psi.dictionary.transform(yb),
                                 xb, weights)
        upper = False
    return BlockSums(G, A, L, C, n, wsum, wmin, upper)


def add(*parts: BlockSums) -> BlockSums:
    """Sum of block sums, left to right (the reduction order is fixed by the caller)."""
    first = parts[0]
    G, A, L, C = first.G, first.A, first.L, first.C
    upper = first.upper_only
    for p in parts[1:]:
        pG, pL = p.G, p.L
        if p.upper_only != upper:  # a real block met a complex one: add full matrices
            G, L = _full(G, upper), _full(L, upper)
            pG, pL = _full(pG, p.upper_only), _full(pL, p.upper_only)
            upper = False
        G, A, L, C = G + pG, A + p.A, L + pL, C + p.C
    return BlockSums(
        G, A, L, C,
        sum(p.n_pairs for p in parts),
        float(sum(p.weights_sum for p in parts)),
        float(min(p.weights_min for p in parts)),
        upper,
    )


def _full(S: np.ndarray, upper_only: bool) -> np.ndarray:
    return symmetrize_upper(S) if upper_only else S


def finish(total: BlockSums, weighted: bool) -> RawSums:
    """The reduced sums as a build's raw sums, G and L made Hermitian; with weights, their
    total (lazy weights are checked here, after the workers have seen them)."""
    if weighted:
        if not np.isfinite(total.weights_sum) or total.weights_min < 0:
            raise ValueError("weights must be finite and non-negative.")
        if total.weights_sum <= 0:
            raise ValueError("weights sum to zero; at least one pair must carry weight.")
    G = hermitian_part(_full(total.G, total.upper_only))
    L = hermitian_part(_full(total.L, total.upper_only))
    A, C = np.ascontiguousarray(total.A), np.ascontiguousarray(total.C)
    return RawSums(G, A, L, C, weights_sum=total.weights_sum if weighted else None)
