"""The default Gram build: numba kernels fill reused psi buffers, BLAS accumulates.

Memory does not grow with the number of samples (see :mod:`koop._kernels.stream` for
the chunk scheduling and the threads). Dictionaries without a kernel are evaluated by
their ``transform`` chunk by chunk; complex-valued ones go through plain numpy products
(:func:`koop._backends.numpy_backend.streamed_sums`). Polynomial dictionaries whose
distinct moment sums cost less than the products go to the fused kernel
(:mod:`koop._kernels.poly_gram`: psi never leaves the cache); :func:`fused_polynomial_plan`
is the one place that decides.
"""

from __future__ import annotations

import numpy as np

from koop._backends.numpy_backend import streamed_sums
from koop._backends.plan import ComplexPsi, GramPlan, RawSums, gram_chunk_size
from koop._kernels.poly_gram import MomentPlan, moment_plan, polynomial_gram
from koop._kernels.stream import accumulate_pairs, accumulate_trajectories, symmetrize_upper

__all__ = ["numba_sums", "fused_polynomial_plan", "polynomial_exponents"]


def polynomial_exponents(parent: np.ndarray, var: np.ndarray, n_features: int) -> np.ndarray:
    r"""Exponents :math:`\alpha_i` of the monomials of a ``"polynomial"`` kernel spec.

    Row ``i`` is ``1`` when ``var[i] < 0``, ``x[var[i]]`` when ``parent[i] < 0``, else row
    ``parent[i]`` times ``x[var[i]]`` (parents come first), so
    :math:`\alpha_i = \alpha_{\mathrm{parent}(i)} + e_{\mathrm{var}(i)}`.

    Examples
    --------
    >>> polynomial_exponents(np.array([-1, -1, -1, 1]), np.array([-1, 0, 1, 1]), 2)
    array([[0, 0],
           [1, 0],
           [0, 1],
           [1, 1]])
    """
    parent = np.asarray(parent, dtype=np.int64)
    var = np.asarray(var, dtype=np.int64)
    E = np.zeros((parent.shape[0], int(n_features)), dtype=np.int64)
    for i, (p, v) in enumerate(zip(parent, var, strict=True)):
        if v < 0:
            continue
        if p >= 0:
            E[i] = E[p]
        E[i, v] += 1
    return E


def fused_polynomial_plan(plan: GramPlan) -> MomentPlan | None:
    """The moment plan when ``plan`` goes to the fused polynomial kernel, else None.

    The one rule: the dictionary's kernel is ``"polynomial"`` (a :class:`Polynomial`),
    it needs no past samples, and its distinct moment sums cost less than the products
    (:attr:`koop._kernels.poly_gram.MomentPlan.moments_are_faster`). Trajectories and
    explicit pairs, with or without weights, all qualify. Inside the kernel a second rule
    checks the moments against the direct products on a sample of the data and falls
    back to the products (on the same cache-resident blocks) if they disagree.
    """
    spec = plan.kernel_spec
    if spec is None or spec[0] != "polynomial" or plan.n_lags:
        return None
    exponents = polynomial_exponents(spec[1]["parent"], spec[1]["var"], plan.n_features)
    moments = moment_plan(exponents)
    return moments if moments.moments_are_faster else None


def numba_sums(plan: GramPlan, *, verbose: bool = False) -> RawSums:
    """Unnormalised ``G, A, L, C`` of ``plan`` with the numba kernels and BLAS."""
    complex_data = np.dtype(plan.data.dtype).kind == "c"  # the kernels stream real states
    moments = None if complex_data else fused_polynomial_plan(plan)
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=plan.n_pairs, desc="Gram", unit="pair")
    progress = bar.update if bar else None
    try:
        if moments is not None:
            return _fused_sums(plan, moments, progress)
        return _streamed_sums(plan, progress)
    finally:
        if bar is not None:
            bar.close()


def _fused_sums(plan: GramPlan, moments: MomentPlan, progress) -> RawSums:
    data = plan.data
    sums = polynomial_gram(
        data.trajectories, moments, plan.weights,
        successors=data.successors if data.is_pairs else None,
        chunk_size=plan.chunk_size, progress=progress,
    )
    return RawSums(sums.G, sums.A, sums.L, sums.C)


def _streamed_sums(plan: GramPlan, progress) -> RawSums:
    ev = plan.evaluator()
    chunk = plan.chunk_size
    complex_states = np.dtype(plan.data.dtype).kind == "c"
    if chunk is None:
        chunk = gram_chunk_size(ev.n_outputs, plan.n_lags, complex_states)
        if plan.weighted and not complex_states:  # two more buffers per thread for the
            chunk = max(256, chunk // 2)  # sqrt(w)-scaled rows
    if complex_states:  # the kernels stream real states
        return streamed_sums(plan, chunk)
    need_state = ev.state_columns is None
    data = plan.data
    try:
        if data.is_pairs:
            G, A, L, C = accumulate_pairs(
                ev.evaluate, data.trajectories, data.successors, ev.n_outputs, plan.weights,
                chunk, progress, need_state,
            )
        else:
            G, A, L, C = accumulate_trajectories(
                ev.evaluate, data.trajectories, ev.n_outputs, plan.n_lags, plan.weights,
                chunk, progress, need_state,
            )
    except ComplexPsi:  # complex psi from real states: numpy's products, larger chunks
        return streamed_sums(plan, plan.chunk_size or gram_chunk_size(
            ev.n_outputs, plan.n_lags, complex_states=True))
    G, L = symmetrize_upper(G), symmetrize_upper(L)
    # psi holds the state itself (Identity, Polynomial, TimeDelay): C is a block of G
    C = G[:, ev.state_columns] if C is None else np.ascontiguousarray(C)
    return RawSums(G, np.ascontiguousarray(A), L, C)
