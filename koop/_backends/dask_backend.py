r"""The Gram build on dask: one task per chunk along time, then a fixed-order tree sum.

The Gram matrices are sums over snapshot pairs, so a dask array (or dask-backed xarray:
``xr.open_zarr``, ``xr.open_dataset(..., chunks=...)``) maps onto them directly. For each
chunk :math:`[a, b)` of a trajectory, a task on the workers computes the unnormalised
partial sums :math:`G_b, A_b, L_b, C_b` of the pairs whose *successor* lies in the chunk,
with the numba kernels (:mod:`koop._backends._blocks`). Those pairs need the samples
:math:`a - \ell - 1, \dots, b - 1` (:math:`\ell` the dictionary's ``n_lags``): the
:math:`\ell + 1` rows before the chunk come from a small task that cuts the tail off
the previous chunk(s) where they live, so only :math:`\ell + 1` rows travel between
workers and every stored chunk is read once. Pairs never cross trajectories.

The partial sums (each :math:`M \times M`) are added in a tree with a fixed shape and
order, so the result does not depend on which worker finishes first. Nothing but the
small matrices reaches the client; the computation runs on whatever scheduler dask
would use, in particular the active ``dask.distributed`` Client.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from koop._backends import _blocks
from koop._backends.plan import GramPlan, RawSums
from koop.data import is_dask_array

__all__ = ["dask_sums"]

_SPLIT_EVERY = 8  # fan-in of the tree reduction
_NUMPY_BLOCKS = 16  # in-memory input is cut into this many blocks per trajectory
_TASK_PSI_BYTES = 4 * 2**20  # psi buffer of one task


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - exercised with dask absent
        raise ImportError(
            "backend='dask' needs dask: pip install koop[dask] "
            "(dask[array], distributed, zarr)."
        ) from exc
    return dask, da


def _as_dask(x: Any, rows: int, da) -> Any:
    """A dask array with one chunk across features and known chunk sizes along time."""
    if not is_dask_array(x):
        x = np.asarray(x)
        return da.from_array(x, chunks=(max(rows, 1), x.shape[1]))
    if any(np.isnan(c) for c in x.chunks[0]):
        raise ValueError(
            "The dask array has unknown chunk sizes along time; call "
            "x.compute_chunk_sizes() first (koop needs them to align the pairs)."
        )
    if x.numblocks[1] > 1:
        x = x.rechunk({1: -1})
    return x


def _tail(block: np.ndarray, start: int) -> np.ndarray:
    return np.array(block[start:])


def _window_task(psi, heads, block, weights, chunk_size) -> _blocks.BlockSums:
    head = np.concatenate(heads) if heads else None
    return _blocks.window_sums(psi, head, block, weights, chunk_size)


def _pairs_task(psi, xb, yb, weights, chunk_size) -> _blocks.BlockSums:
    return _blocks.pair_sums(psi, xb, yb, weights, chunk_size)


def _weights_slice(w, lo: int, hi: int):
    return None if w is None else w[lo:hi]


def _trajectory_tasks(delayed, psi, x, lags, w, pair0, chunk_size) -> list:
    """One task per chunk of trajectory ``x``; ``pair0`` indexes its first pair."""
    chunks = list(x.to_delayed().ravel())
    bounds = np.concatenate([[0], np.cumsum(x.chunks[0])]).astype(int)
    tasks = []
    for k in range(len(chunks)):
        a, b = int(bounds[k]), int(bounds[k + 1])
        lo = max(a - lags - 1, 0)
        p_end = b - lags - 1  # pairs lo .. p_end - 1 have their successor in [a, b)
        if p_end <= lo:
            continue
        heads = []
        j = k - 1
        while j >= 0 and bounds[j + 1] > lo:
            start = max(lo - int(bounds[j]), 0)
            heads.insert(0, delayed(_tail, pure=True)(chunks[j], start))
            j -= 1
        wk = _weights_slice(w, pair0 + lo, pair0 + p_end)
        tasks.append(
            delayed(_window_task, pure=True)(psi, heads, chunks[k], wk, chunk_size)
        )
    return tasks


def _pair_tasks(delayed, psi, x, y, w, pair0, chunk_size) -> list:
    y = y.rechunk({0: x.chunks[0], 1: -1})
    bounds = np.concatenate([[0], np.cumsum(x.chunks[0])]).astype(int)
    xs, ys = x.to_delayed().ravel(), y.to_delayed().ravel()
    return [
        delayed(_pairs_task, pure=True)(
            psi, xs[k], ys[k],
            _weights_slice(w, pair0 + int(bounds[k]), pair0 + int(bounds[k + 1])),
            chunk_size,
        )
        for k in range(len(xs))
        if bounds[k + 1] > bounds[k]
    ]


def _tree_sum(delayed, parts: list):
    while len(parts) > 1:
        parts = [
            delayed(_blocks.add, pure=True)(*parts[i : i + _SPLIT_EVERY])
            for i in range(0, len(parts), _SPLIT_EVERY)
        ]
    return parts[0]


def _compute(dask, total, verbose: bool):
    if not verbose:
        return dask.compute(total)[0]
    try:
        from distributed import get_client, progress

        client = get_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        future = client.compute(total)
        progress(future)
        return future.result()
    from dask.diagnostics import ProgressBar

    with ProgressBar():
        return dask.compute(total)[0]


def dask_sums(plan: GramPlan, *, verbose: bool = False) -> RawSums:
    """The raw sums of ``plan`` on dask: partial sums per chunk, tree-reduced.

    The plan's data may be dask arrays (kept lazy) or numpy arrays; its weights one per
    pair in pair order, a dask array staying lazy (validated on the workers). For numpy
    input, ``plan.chunk_size`` is the samples per dask chunk (default: each trajectory in
    16 chunks); dask input keeps its own chunks. Within a chunk, a task streams psi
    through a buffer of about 4 MiB, so a worker's memory is about its concurrent chunks
    plus 4 MiB per thread. ``verbose`` shows dask's progress bar (the distributed one when
    a Client is active). Equal to the numba backend up to summation order.
    """
    dask, da = _import_dask()
    delayed = dask.delayed
    lags, n, w = plan.n_lags, plan.n_pairs, plan.weights
    # many tasks run at once: each streams its chunk with a small psi buffer
    M = plan.n_outputs
    inner = max(_TASK_PSI_BYTES // (8 * max(M, 1)), 256, 2 * lags + 2)
    chunk_size = plan.chunk_size

    def rows_for(x) -> int:
        if chunk_size is not None:
            return int(chunk_size)
        return max(-(-x.shape[0] // _NUMPY_BLOCKS), lags + 2, 256)

    psi_d = delayed(plan.psi(), pure=True, traverse=False)
    data = plan.data
    tasks: list = []
    pair0 = 0
    if data.is_pairs:
        for x, y in zip(data.trajectories, data.successors, strict=True):
            xd = _as_dask(x, rows_for(x), da)
            yd = _as_dask(y, rows_for(x), da)
            tasks += _pair_tasks(delayed, psi_d, xd, yd, w, pair0, inner)
            pair0 += x.shape[0]
    else:
        for x in data.trajectories:
            n_x = max(x.shape[0] - 1 - lags, 0)
            if n_x:
                xd = _as_dask(x, rows_for(x), da)
                tasks += _trajectory_tasks(delayed, psi_d, xd, lags, w, pair0, inner)
            pair0 += n_x
    total = _compute(dask, _tree_sum(delayed, tasks), verbose)
    if total.n_pairs != n:  # pragma: no cover - a bookkeeping error, never user input
        raise RuntimeError(f"dask backend summed {total.n_pairs} pairs, expected {n}.")
    return _blocks.finish(total, plan.weighted)
