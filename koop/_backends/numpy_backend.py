r"""The Gram build in plain numpy: the reference backend, and the complex-safe path.

:func:`numpy_sums` materialises :math:`\Psi_X, \Psi_Y` and forms
:math:`G = \Psi_X^* W\Psi_X`, :math:`A = \Psi_X^* W \Psi_Y`, :math:`L = \Psi_Y^* W\Psi_Y`,
:math:`C = \Psi_X^* W X` in one product each: the readable specification the other
backends are tested against. :func:`streamed_sums` forms the same sums chunk by chunk
(for dictionaries whose values are complex, which the real kernels do not handle).
"""

from __future__ import annotations

import numpy as np

from koop._backends.plan import GramPlan, RawSums

__all__ = ["numpy_sums", "streamed_sums"]


def numpy_sums(plan: GramPlan, *, verbose: bool = False) -> RawSums:
    """``G, A, L, C`` with the quadrature weights applied, psi materialised."""
    parts = list(plan.psi_chunks())
    PX = np.concatenate([p[0] for p in parts])
    PY = np.concatenate([p[1] for p in parts])
    Xs = np.concatenate([p[2] for p in parts])
    ww = plan.quadrature_weights()
    WPX = PX * ww[:, None]
    G = PX.conj().T @ WPX
    A = WPX.conj().T @ PY
    L = PY.conj().T @ (PY * ww[:, None])
    C = WPX.conj().T @ Xs
    return RawSums(G, A, L, C, normalised=True)


def streamed_sums(plan: GramPlan, chunk_size: int | None = None) -> RawSums:
    """Unnormalised ``G, A, L, C`` accumulated chunk by chunk (real or complex psi)."""
    M, d = plan.n_outputs, plan.n_features
    w = plan.weights
    G = A = L = C = None
    for PX, PY, Xs, sl in plan.psi_chunks(chunk_size):
        if G is None:
            dtype = np.result_type(PX.dtype, np.float64)
            G = np.zeros((M, M), dtype)
            A = np.zeros((M, M), dtype)
            L = np.zeros((M, M), dtype)
            C = np.zeros((M, d), dtype)
        if w is None:
            WPX, WPY = PX, PY
        else:
            wc = w[sl][:, None]
            WPX, WPY = PX * wc, PY * wc
        G += PX.conj().T @ WPX
        A += WPX.conj().T @ PY
        L += PY.conj().T @ WPY
        C += WPX.conj().T @ Xs
    return RawSums(G, A, L, C)
