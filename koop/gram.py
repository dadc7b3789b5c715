r"""Gram matrices of a dictionary over snapshot pairs, streamed over chunks.

For pairs :math:`(x_m, y_m)` with quadrature weights :math:`w_m` (default :math:`1/N`),
and :math:`\Psi_X`, :math:`\Psi_Y` the dictionary evaluated on the :math:`x_m` and
:math:`y_m` (one row per pair),

.. math::
    G = \Psi_X^* W \Psi_X, \qquad A = \Psi_X^* W \Psi_Y, \qquad L = \Psi_Y^* W \Psi_Y,
    \qquad C = \Psi_X^* W X,

with :math:`W = \operatorname{diag}(w)`. :math:`G_{ij} \approx \langle\psi_j,\psi_i\rangle`,
:math:`A_{ij} \approx \langle K\psi_j,\psi_i\rangle`, :math:`L_{ij} \approx \langle
K\psi_j, K\psi_i\rangle` in :math:`L^2(\mu)`; :math:`C` maps the dictionary back to the
state (it is the cross-moment with the identity observable).

Backends: ``"numba"`` (default: chunked evaluation and BLAS accumulation, memory
independent of the number of samples), ``"numpy"`` (materialises :math:`\Psi_X,\Psi_Y`:
the plain reference), ``"dask"`` (chunks on a cluster) and ``"torch"`` (GPU).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from koop._backends.numba_backend import numba_sums
from koop._backends.numpy_backend import numpy_sums
from koop._backends.plan import GramPlan, RawSums, hermitian_part
from koop.data import Trajectories, as_trajectories

__all__ = ["GramMatrices", "build_gram", "iter_chunks", "BACKENDS"]

BACKENDS = ("numba", "numpy", "dask", "torch")


@dataclass(frozen=True)
class GramMatrices:
    r"""The Gram matrices :math:`G, A, L` (and :math:`C`) of a dictionary on data.

    Attributes
    ----------
    G : ndarray (M, M)
        :math:`\Psi_X^* W \Psi_X`.
    A : ndarray (M, M)
        :math:`\Psi_X^* W \Psi_Y`.
    L : ndarray (M, M)
        :math:`\Psi_Y^* W \Psi_Y`.
    C : ndarray (M, d)
        :math:`\Psi_X^* W X`, the cross-moment with the state.
    n_samples : int
        Number of snapshot pairs.
    weights_sum : float
        Sum of the (unnormalised) quadrature weights; 1 for the default weights 1/N.
    backend : str
        Backend that built the matrices.
    """

    G: np.ndarray
    A: np.ndarray
    L: np.ndarray
    C: np.ndarray
    n_samples: int
    weights_sum: float
    backend: str = "numpy"
    extras: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_features(self) -> int:
        """Dictionary size M."""
        return int(self.G.shape[0])

    def __repr__(self) -> str:
        return (
            f"GramMatrices(M={self.n_features}, n_samples={self.n_samples}, "
            f"weights_sum={self.weights_sum:.6g}, backend={self.backend!r})"
        )


def iter_chunks(
    dictionary: Any, data: Trajectories, chunk_size: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, slice]]:
    r"""Yield ``(Psi_X, Psi_Y, X_state, pair_slice)`` chunk by chunk, psi evaluated once.

    For trajectories, each chunk evaluates the dictionary on consecutive samples once
    (plus one overlap row shared with the next chunk), and ``Psi_X``/``Psi_Y`` are views
    of the same block shifted by one row. ``pair_slice`` locates the chunk's pairs in the
    global pair order (trajectory by trajectory), for the weights. (The chunks of
    :meth:`koop._backends.plan.GramPlan.psi_chunks`.)
    """
    return GramPlan.build(dictionary, data).psi_chunks(chunk_size)


def build_gram(
    dictionary: Any,
    data: Any,
    weights: Any = None,
    chunk_size: int | None = None,
    backend: str = "numba",
    *,
    y: Any = None,
    dt: float | None = None,
    verbose: bool = False,
    device: Any = None,
) -> GramMatrices:
    r"""Build :math:`G, A, L` (and :math:`C`) for a fitted dictionary on snapshot data.

    Parameters
    ----------
    dictionary : Dictionary
        A fitted koop dictionary.
    data : array-like, list of arrays, xarray, or Trajectories
        One trajectory, several, or the ``X`` of snapshot pairs (with ``y``).
    weights : array-like, optional
        Non-negative quadrature weight per pair (default :math:`1/N` each). Weights are
        used as given (not normalised); ``weights_sum`` records their total.
    chunk_size : int, optional
        Samples per chunk (default: about 16 MiB of dictionary values per chunk).
    backend : {"numba", "numpy", "dask", "torch"}
        ``"numpy"`` materialises :math:`\Psi_X, \Psi_Y` (reference path).
    y : array-like, optional
        Successors of ``data`` row by row (snapshot pairs).
    dt : float, optional
        Sampling interval (recorded only).
    verbose : bool
        Show a progress bar.
    device : str or torch.device, optional
        ``backend="torch"`` only: where psi and the products run (default: ``"cuda"``
        when torch sees a GPU, else ``"cpu"``).

    Returns
    -------
    GramMatrices

    Examples
    --------
    >>> import numpy as np
    >>> from koop.dictionaries import Identity
    >>> x = np.arange(5.0)
    >>> gm = build_gram(Identity().fit(x), x)
    >>> float(gm.G[0, 0]), float(gm.A[0, 0]), float(gm.L[0, 0])
    (3.5, 5.0, 7.5)
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if device is not None and backend != "torch":
        raise ValueError(f"device applies to backend='torch' only, got backend={backend!r}.")
    lazy = backend == "dask"
    traj = as_trajectories(data, y, dt=dt, name="data", lazy=lazy)
    plan = GramPlan.build(dictionary, traj, weights, chunk_size, lazy_weights=lazy)
    if backend == "dask":
        from koop._backends.dask_backend import dask_sums

        sums = dask_sums(plan, verbose=verbose)
    elif backend == "torch":
        from koop._backends.torch_backend import torch_sums

        sums = torch_sums(plan, verbose=verbose, device=device)
    elif backend == "numba":
        sums = numba_sums(plan, verbose=verbose)
    else:
        sums = numpy_sums(plan, verbose=verbose)
    return _finish(plan, sums, backend)


def _finish(plan: GramPlan, sums: RawSums, backend: str) -> GramMatrices:
    """Normalise raw sums (by N for the default weights) and make G, L Hermitian."""
    G, A, L, C = sums.G, sums.A, sums.L, sums.C
    if plan.weights is None and not sums.normalised:
        n = plan.n_pairs
        G, A, L, C = G / n, A / n, L / n, C / n
    total = plan.weights_sum if sums.weights_sum is None else sums.weights_sum
    return _checked(GramMatrices(hermitian_part(G), A, hermitian_part(L), C, plan.n_pairs,
                                 total, backend))


def _checked(gm: GramMatrices) -> GramMatrices:
    """Refuse Gram matrices with inf or NaN (NaN in lazy data, or an overflowing psi)."""
    for key in ("G", "A", "L", "C"):
        if not np.isfinite(getattr(gm, key)).all():
            raise ValueError(
                f"The Gram matrix {key} contains inf or NaN: the data hold NaN or inf (lazy "
                "dask arrays are checked only here), or the dictionary values or their "
                "products overflow float64 (near 1e308). Remove or impute NaN/inf; rescale "
                "the data (e.g. standardise each feature) or use a smaller polynomial degree "
                "/ a wider RBF width."
            )
    return gm
