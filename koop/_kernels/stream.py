r"""Chunked Gram accumulation: numba fills a reused psi buffer, BLAS accumulates.

For one trajectory :math:`x_0, \dots, x_n` the dictionary is evaluated once per sample
into a buffer of ``chunk_size + 1`` rows. Row 0 carries the last psi row of the previous
chunk, so the pair that straddles a chunk boundary costs one row copy, not a second
evaluation. On each chunk, with :math:`X` the rows that start a pair and :math:`Y` the
same block shifted by one row (both views of the buffer, no copies),

.. math::
    G \mathrel{+}= X^\top X \ \text{(dsyrk)}, \qquad A \mathrel{+}= X^\top Y \
    \text{(dgemm)}, \qquad C \mathrel{+}= X^\top X_{\text{state}} \ \text{(dgemm)}.

With equal weights :math:`L` needs no product of its own: over one trajectory
:math:`L = G - \psi_0\psi_0^\top + \psi_n\psi_n^\top`. The first and last rows of each
trajectory are gathered in small blocks and folded in with two more dsyrk calls at the
end, so trajectories never pair across their boundaries and many short trajectories
cost no more than one long one. Its rounding was measured against L summed in extended
precision (Lorenz-63, monomials to degree 5, entries from 1 to 1e13): entrywise errors
relative to :math:`\sqrt{L_{ii}L_{jj}}` below 1e-15, the same as a direct dsyrk over the
shifted rows, which would cost a third more. With quadrature weights the rows are scaled by
:math:`\sqrt{w_m}` into two more buffers and :math:`L` gets its own dsyrk.

Explicit snapshot pairs :math:`(x_m, y_m)` evaluate psi on both and accumulate
:math:`G, L` by dsyrk and :math:`A` by dgemm. Memory: two or three psi buffers of
``chunk_size`` rows and the M x M results, independent of the number of samples. The
order of every sum is fixed by the chunking, so results are bitwise reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.linalg.blas import dgemm, dsyrk

from koop._kernels.threads import run_rows

__all__ = ["accumulate_trajectories", "accumulate_pairs", "symmetrize_upper"]

_ENDS_BLOCK = 256  # first/last rows of this many trajectories are folded into L at once


def _syrk(acc: np.ndarray, rows: np.ndarray) -> None:
    """``acc += rows.T @ rows`` on the upper triangle, in place (acc Fortran-ordered)."""
    if rows.shape[0]:
        # rows is C-contiguous, so rows.T is the Fortran (M, n) matrix dsyrk wants: no copy
        out = dsyrk(1.0, rows.T, beta=1.0, c=acc, trans=0, lower=0, overwrite_c=1)
        assert out is acc or np.shares_memory(out, acc)


def _gemm(acc: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
    """``acc += left.T @ right`` in place (acc Fortran-ordered, inputs C-contiguous rows)."""
    if left.shape[0]:
        out = dgemm(1.0, left.T, right.T, beta=1.0, c=acc, trans_b=1, overwrite_c=1)
        assert out is acc or np.shares_memory(out, acc)


def symmetrize_upper(S: np.ndarray) -> np.ndarray:
    """The symmetric matrix whose upper triangle is that of ``S`` (C-ordered copy)."""
    upper = np.triu(S)
    return upper + np.triu(S, 1).T


def _as_rows(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


class _Ends:
    """Blocks of first and last psi rows per trajectory, for L = G - F^T F + E^T E."""

    def __init__(self, M: int) -> None:
        self.first = np.empty((_ENDS_BLOCK, M))
        self.last = np.empty((_ENDS_BLOCK, M))
        self.count = 0
        self.plus = np.zeros((M, M), order="F")
        self.minus = np.zeros((M, M), order="F")

    def add(self, first: np.ndarray, last: np.ndarray) -> None:
        self.first[self.count] = first
        self.last[self.count] = last
        self.count += 1
        if self.count == _ENDS_BLOCK:
            self.flush()

    def flush(self) -> None:
        _syrk(self.minus, self.first[: self.count])
        _syrk(self.plus, self.last[: self.count])
        self.count = 0

    def correction(self) -> np.ndarray:
        self.flush()
        return self.plus - self.minus


def accumulate_trajectories(
    evaluate: Callable[[np.ndarray, np.ndarray], None],
    trajectories: Sequence[np.ndarray],
    n_outputs: int,
    n_lags: int,
    weights: np.ndarray | None,
    chunk_size: int,
    progress: Callable[[int], None] | None = None,
    need_state: bool = True,
):
    """Unnormalised ``G, A, L, C`` over consecutive pairs within each trajectory.

    ``evaluate(X, out)`` writes psi for samples ``n_lags..`` of ``X`` into ``out``.
    ``weights`` (one per pair, trajectory by trajectory) or ``None`` for weight 1 each.
    Returns Fortran-ordered ``G, L`` (upper triangles only), ``A``, ``C`` (``None``
    unless ``need_state``: skip it when psi contains the state, C is then a block of G).
    """
    M = int(n_outputs)
    d = int(trajectories[0].shape[1])
    chunk = int(chunk_size)
    buf = np.empty((chunk + 1, M))
    states = np.empty((chunk + 1, d))
    G = np.zeros((M, M), order="F")
    A = np.zeros((M, M), order="F")
    C = np.zeros((M, d), order="F")
    weighted = weights is not None
    if weighted:
        L = np.zeros((M, M), order="F")
        sx, sy = np.empty((chunk, M)), np.empty((chunk, M))
        s_states = np.empty((chunk, d))
    else:
        ends = _Ends(M)
    pair0 = 0  # index of the trajectory's first pair among all pairs (for the weights)
    for traj in trajectories:
        n_rows = traj.shape[0] - n_lags  # psi rows of this trajectory
        if n_rows < 2:
            continue
        for s in range(0, n_rows, chunk):
            e = min(s + chunk, n_rows)
            c = e - s
            X = _as_rows(traj[s : e + n_lags])
            run_rows(evaluate, X, buf[1 : c + 1], n_lags)
            states[1 : c + 1] = X[n_lags:]
            lo = 1 if s == 0 else 0  # row 0 holds the previous chunk's last row
            if s == 0 and not weighted:
                first = buf[1].copy()
            rows = c - lo  # pairs in this chunk: rows lo..c-1 with their successors
            if weighted and rows:
                p = pair0 + s - 1 + lo
                root = np.sqrt(weights[p : p + rows])[:, None]
                np.multiply(buf[lo:c], root, out=sx[:rows])
                np.multiply(buf[lo + 1 : c + 1], root, out=sy[:rows])
                np.multiply(states[lo:c], root, out=s_states[:rows])
                _syrk(G, sx[:rows])
                _syrk(L, sy[:rows])
                _gemm(A, sx[:rows], sy[:rows])
                if need_state:
                    _gemm(C, sx[:rows], s_states[:rows])
            else:
                _syrk(G, buf[lo:c])
                _gemm(A, buf[lo:c], buf[lo + 1 : c + 1])
                if need_state:
                    _gemm(C, buf[lo:c], states[lo:c])
            buf[0] = buf[c]
            states[0] = states[c]
            if progress is not None:
                progress(rows)
        if not weighted:
            ends.add(first, buf[0])
        pair0 += n_rows - 1
    if not weighted:
        L = G + ends.correction()
    return G, A, L, C if need_state else None


def accumulate_pairs(
    evaluate: Callable[[np.ndarray, np.ndarray], None],
    blocks_x: Sequence[np.ndarray],
    blocks_y: Sequence[np.ndarray],
    n_outputs: int,
    weights: np.ndarray | None,
    chunk_size: int,
    progress: Callable[[int], None] | None = None,
    need_state: bool = True,
):
    """Unnormalised ``G, A, L, C`` over explicit pairs ``(x_m, y_m)`` (psi on both)."""
    M = int(n_outputs)
    d = int(blocks_x[0].shape[1])
    chunk = int(chunk_size)
    bx, by = np.empty((chunk, M)), np.empty((chunk, M))
    states = np.empty((chunk, d))
    G = np.zeros((M, M), order="F")
    A = np.zeros((M, M), order="F")
    L = np.zeros((M, M), order="F")
    C = np.zeros((M, d), order="F")
    pair0 = 0
    for xb, yb in zip(blocks_x, blocks_y, strict=True):
        n = xb.shape[0]
        for s in range(0, n, chunk):
            e = min(s + chunk, n)
            c = e - s
            X = _as_rows(xb[s:e])
            run_rows(evaluate, X, bx[:c])
            run_rows(evaluate, _as_rows(yb[s:e]), by[:c])
            states[:c] = X
            if weights is not None:
                root = np.sqrt(weights[pair0 + s : pair0 + e])[:, None]
                bx[:c] *= root
                by[:c] *= root
                states[:c] *= root
            _syrk(G, bx[:c])
            _syrk(L, by[:c])
            _gemm(A, bx[:c], by[:c])
            if need_state:
                _gemm(C, bx[:c], states[:c])
            if progress is not None:
                progress(c)
        pair0 += n
    return G, A, L, C if need_state else None
