r"""Chunked Gram accumulation: numba fills reused psi buffers, BLAS accumulates.

For one trajectory :math:`x_0, \dots, x_n` the samples are cut into chunks of
``chunk_size`` psi rows. A chunk evaluates its rows plus the one row it shares with the
previous chunk (the only recomputation), into a reused buffer. With :math:`X` the
buffer's rows that start a pair and :math:`Y` the same block shifted by one row (both
views of the buffer, no copies),

.. math::
    G \mathrel{+}= X^\top X \ \text{(dsyrk)}, \qquad A \mathrel{+}= X^\top Y \
    \text{(dgemm)}, \qquad C \mathrel{+}= X^\top X_{\text{state}} \ \text{(dgemm)}.

With equal weights :math:`L` needs no product of its own: over one trajectory
:math:`L = G - \psi_0\psi_0^\top + \psi_n\psi_n^\top`. The first and last rows of the
trajectories are gathered in small blocks and folded in by dsyrk at the end, so
trajectories never pair across their boundaries and many short trajectories cost no
more than one long one. Its rounding was measured against L summed in extended
precision (Lorenz-63, monomials to degree 5, entries from 1 to 1e13): entrywise errors
relative to :math:`\sqrt{L_{ii}L_{jj}}` below 1e-15, the same as a direct dsyrk over the
shifted rows, which would cost a third more. With quadrature weights the rows are
scaled by :math:`\sqrt{w_m}` into two more buffers and :math:`L` gets its own dsyrk.

Parallelism: chunk k is accumulated into slot k mod S (S = 4 unless the partial sums
would pass 64 MB; never more than the chunks). With T > 1 cores, thread t of T takes the
slots t, t + T, ...: it evaluates their chunks' psi into its own buffer and accumulates
them with single-threaded BLAS, called through scipy's Cython pointers in a nogil kernel
(:mod:`koop._kernels.pointer_calls`; scipy's Python BLAS wrappers hold the GIL and would
make the threads take turns). Threads never wait on each other, and psi evaluation of one
thread overlaps the BLAS work of the other. Measured on the 2-core development machine
(N = 3e5, quiet): 500 RBFs 2.1-2.3 s against 2.9 s with multithreaded BLAS on one
stream of chunks (the previous scheme) and 2.0-2.8 s for the bare dsyrk + dgemm floor
with multithreaded BLAS. Slots are added in slot order at the end, so the sums are the
same to the last bit whatever the number of threads or BLAS threads. With one thread (or
inside a dask worker, see :func:`koop._kernels.threads.n_threads`) BLAS keeps its own
threads and the rows of each chunk's psi are split over the kernel threads. Memory: per
thread one psi buffer of ``chunk_size`` rows, three with weights (by default about 1 MiB,
so that it is still in the core's cache when BLAS reads it:
``koop._backends.plan.gram_chunk_size``), per slot the M x M partial sums, independent
of the number of samples.

Explicit snapshot pairs :math:`(x_m, y_m)` evaluate psi on both and accumulate
:math:`G, L` by dsyrk and :math:`A` by dgemm, chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from koop._kernels.pointer_calls import blas_pointer, gemm_rows, syrk_rows
from koop._kernels.threads import n_threads, run_rows

__all__ = ["accumulate_trajectories", "accumulate_pairs", "symmetrize_upper"]

_ENDS_BLOCK = 256  # first/last rows of this many trajectories are folded into L at once
_SLOTS = 4  # accumulation slots (chunk k goes to slot k % slots), whatever the threads
_SLOT_BYTES = 64 * 2**20  # at most this much memory in partial sums
_DSYRK, _DGEMM = blas_pointer("dsyrk"), blas_pointer("dgemm")


def _syrk(acc: np.ndarray, rows: np.ndarray) -> None:
    """``acc += rows.T @ rows`` on the upper triangle, in place (acc Fortran-ordered).

    Through scipy's Cython BLAS pointer in a nogil kernel: scipy's Python ``dsyrk``
    wrapper holds the GIL, which would serialise the per-slot threads.
    """
    if rows.shape[0]:
        assert acc.flags.f_contiguous and rows.flags.c_contiguous
        syrk_rows(acc, rows, _DSYRK)


def _gemm(acc: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
    """``acc += left.T @ right`` in place (acc Fortran-ordered, inputs C-contiguous rows)."""
    if left.shape[0]:
        assert acc.flags.f_contiguous and left.flags.c_contiguous and right.flags.c_contiguous
        gemm_rows(acc, left, right, _DGEMM)


def symmetrize_upper(S: np.ndarray) -> np.ndarray:
    """The symmetric matrix whose upper triangle is that of ``S`` (C-ordered copy)."""
    upper = np.triu(S)
    return upper + np.triu(S, 1).T


def _as_rows(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


class _Ends:
    """First and last psi rows of trajectories, for L = G - F^T F + E^T E, in blocks.

    Rows are kept as copies until ``_ENDS_BLOCK`` of a kind have gathered, then folded in
    by one dsyrk; nothing is allocated for a kind that never sees a row.
    """

    def __init__(self, M: int) -> None:
        self.M = M
        self.rows: dict[str, list] = {"first": [], "last": []}
        self.sums: dict[str, np.ndarray | None] = {"first": None, "last": None}

    def add(self, kind: str, row: np.ndarray) -> None:
        self.rows[kind].append(row.copy())
        if len(self.rows[kind]) == _ENDS_BLOCK:
            self._flush(kind)

    def _flush(self, kind: str) -> None:
        if not self.rows[kind]:
            return
        if self.sums[kind] is None:
            self.sums[kind] = np.zeros((self.M, self.M), order="F")
        _syrk(self.sums[kind], np.ascontiguousarray(np.vstack(self.rows[kind])))
        self.rows[kind] = []

    def correction(self) -> np.ndarray:
        self._flush("first")
        self._flush("last")
        out = np.zeros((self.M, self.M), order="F")
        if self.sums["last"] is not None:
            out += self.sums["last"]
        if self.sums["first"] is not None:
            out -= self.sums["first"]
        return out


class _Slot:
    """Partial sums of the chunks ``k`` with ``k % n_slots == id``, in chunk order."""

    def __init__(self, M: int, d: int, weighted: bool, need_state: bool) -> None:
        self.G = np.zeros((M, M), order="F")
        self.A = np.zeros((M, M), order="F")
        self.C = np.zeros((M, d), order="F") if need_state else None
        self.L = np.zeros((M, M), order="F") if weighted else None
        self.ends = None if weighted else _Ends(M)


class _Worker:
    """One thread's psi buffers; it accumulates each chunk into that chunk's slot."""

    def __init__(self, M: int, d: int, chunk: int, weighted: bool) -> None:
        self.buf = np.empty((chunk + 1, M))
        self.states = np.empty((chunk + 1, d))
        self.weighted = weighted
        if weighted:
            self.sx, self.sy = np.empty((chunk, M)), np.empty((chunk, M))
            self.s_states = np.empty((chunk, d))

    def chunk(self, slot: _Slot, evaluate, traj, s, e, n_lags, weights, pair0, last_chunk,
              inline):
        """Pairs starting at psi rows max(s-1, 0) .. e-2 of one trajectory."""
        buf, states = self.buf, self.states
        lo = 1 if s == 0 else 0  # later chunks recompute the one row they share
        X = _as_rows(traj[s - 1 + lo : e + n_lags])
        out = buf[lo : e - s + 1]
        if inline:
            run_rows(evaluate, X, out, n_lags)
        else:
            evaluate(X, out)
        c = e - s
        states[lo : c + 1] = X[n_lags:]
        rows = c - lo
        if self.weighted:
            if rows:
                p = pair0 + s - 1 + lo
                root = np.sqrt(weights[p : p + rows])[:, None]
                np.multiply(buf[lo:c], root, out=self.sx[:rows])
                np.multiply(buf[lo + 1 : c + 1], root, out=self.sy[:rows])
                _syrk(slot.G, self.sx[:rows])
                _syrk(slot.L, self.sy[:rows])
                _gemm(slot.A, self.sx[:rows], self.sy[:rows])
                if slot.C is not None:
                    np.multiply(states[lo:c], root, out=self.s_states[:rows])
                    _gemm(slot.C, self.sx[:rows], self.s_states[:rows])
            return rows
        _syrk(slot.G, buf[lo:c])
        _gemm(slot.A, buf[lo:c], buf[lo + 1 : c + 1])
        if slot.C is not None:
            _gemm(slot.C, buf[lo:c], states[lo:c])
        if s == 0:
            slot.ends.add("first", buf[1])
        if last_chunk:
            slot.ends.add("last", buf[c])
        return rows


def _n_slots(M: int, d: int, n_chunks: int, weighted: bool) -> int:
    """Accumulation slots: a fixed number (not the thread count), so that any number of
    threads produces bitwise the same sums; fewer when the partial sums would be large."""
    per_slot = 8 * M * (M * (3 if weighted else 2) + d)
    slots = _SLOTS
    while slots > 1 and slots * per_slot > _SLOT_BYTES:
        slots //= 2
    return max(1, min(slots, n_chunks))


def _chunks(trajectories, n_lags: int, chunk: int):
    """(trajectory, start, end, first pair index, is last) for every chunk, in order."""
    pair0 = 0
    for traj in trajectories:
        n_rows = traj.shape[0] - n_lags  # psi rows of this trajectory
        if n_rows < 2:
            continue
        for s in range(0, n_rows, chunk):
            e = min(s + chunk, n_rows)
            yield traj, s, e, pair0, e == n_rows
        pair0 += n_rows - 1


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

    Chunk ``k`` is accumulated into slot ``k % S`` (``S`` fixed by the sizes, not by the
    thread count). With several cores, thread ``t`` of ``T`` takes the slots
    ``t, t + T, ...`` (psi and its BLAS updates, BLAS itself on one thread): no thread
    ever waits on another. Slots are added in slot order at the end, so the result is
    bitwise the same for any number of threads.
    """
    M, d, chunk = int(n_outputs), int(trajectories[0].shape[1]), int(chunk_size)
    weighted = weights is not None
    jobs = list(_chunks(trajectories, n_lags, chunk))
    S = _n_slots(M, d, len(jobs), weighted)
    slots = [_Slot(M, d, weighted, need_state) for _ in range(S)]
    # with several slots and cores, each thread runs psi and serial BLAS on its own slots
    T = max(1, min(n_threads(), S))
    workers = [_Worker(M, d, chunk, weighted) for _ in range(T)]

    def run(t: int, inline: bool) -> None:
        w = workers[t]
        for k in range(t, S, T):  # this thread's slots, each in chunk order
            for traj, s, e, pair0, last in jobs[k::S]:
                rows = w.chunk(slots[k], evaluate, traj, s, e, n_lags, weights, pair0, last,
                               inline)
                if progress is not None:
                    progress(rows)

    if T == 1:
        run(0, inline=True)
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(T - 1) as pool:
            futures = [pool.submit(run, t, False) for t in range(1, T)]
            run(0, inline=False)
            for f in futures:
                f.result()
    G, A, C = slots[0].G, slots[0].A, slots[0].C
    for sl in slots[1:]:  # slot order: the same sums whatever the thread count
        G += sl.G
        A += sl.A
        if C is not None:
            C += sl.C
    if weighted:
        L = slots[0].L
        for sl in slots[1:]:
            L += sl.L
    else:
        L = G.copy(order="F")
        for sl in slots:
            L += sl.ends.correction()
    return G, A, L, C


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
