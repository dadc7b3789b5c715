"""The default Gram build: numba kernels fill reused psi buffers, BLAS accumulates.

Memory does not grow with the number of samples (see :mod:`koop._kernels.stream` for
the chunk scheduling and the threads). Dictionaries without a kernel are evaluated by
their ``transform`` chunk by chunk; complex-valued ones go through plain numpy products
(:func:`koop._backends.numpy_backend.streamed_sums`).
"""

from __future__ import annotations

import numpy as np

from koop._backends.numpy_backend import streamed_sums
from koop._backends.plan import ComplexPsi, GramPlan, RawSums, default_chunk_size
from koop._kernels.stream import accumulate_pairs, accumulate_trajectories, symmetrize_upper

__all__ = ["numba_sums"]


def numba_sums(plan: GramPlan, *, verbose: bool = False) -> RawSums:
    """Unnormalised ``G, A, L, C`` of ``plan`` with the numba kernels and BLAS."""
    ev = plan.evaluator()
    chunk = plan.chunk_size
    if chunk is None:
        chunk = default_chunk_size(ev.n_outputs, plan.n_lags)
        if plan.weighted:  # two more buffers per thread for the sqrt(w)-scaled rows
            chunk = max(256, chunk // 2)
    if np.dtype(plan.data.dtype).kind == "c":  # the kernels stream real states
        return streamed_sums(plan, chunk)
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=plan.n_pairs, desc="Gram", unit="pair")
    need_state = ev.state_columns is None
    data = plan.data
    try:
        if data.is_pairs:
            G, A, L, C = accumulate_pairs(
                ev.evaluate, data.trajectories, data.successors, ev.n_outputs, plan.weights,
                chunk, bar.update if bar else None, need_state,
            )
        else:
            G, A, L, C = accumulate_trajectories(
                ev.evaluate, data.trajectories, ev.n_outputs, plan.n_lags, plan.weights,
                chunk, bar.update if bar else None, need_state,
            )
    except ComplexPsi:
        return streamed_sums(plan, chunk)
    finally:
        if bar is not None:
            bar.close()
    G, L = symmetrize_upper(G), symmetrize_upper(L)
    # psi holds the state itself (Identity, Polynomial, TimeDelay): C is a block of G
    C = G[:, ev.state_columns] if C is None else np.ascontiguousarray(C)
    return RawSums(G, np.ascontiguousarray(A), L, C)
