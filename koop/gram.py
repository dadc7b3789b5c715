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
from sklearn.exceptions import NotFittedError

from koop._kernels.dispatch import ChunkEvaluator, chunk_evaluator
from koop._kernels.stream import accumulate_pairs, accumulate_trajectories, symmetrize_upper
from koop.data import Trajectories, as_trajectories, check_weights

__all__ = ["GramMatrices", "build_gram", "iter_chunks", "BACKENDS"]

BACKENDS = ("numba", "numpy", "dask", "torch")
_CHUNK_BYTES = 16 * 2**20  # memory budget of one psi chunk


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


def _check_fitted_dictionary(dictionary: Any, data: Trajectories) -> None:
    if not hasattr(dictionary, "transform"):
        raise TypeError(
            f"dictionary must be a koop dictionary (a transformer), got {dictionary!r}."
        )
    if not hasattr(dictionary, "n_output_features_"):
        raise NotFittedError(
            f"The dictionary {type(dictionary).__name__} is not fitted; call "
            "dictionary.fit(X) first (estimators do this for you)."
        )
    if dictionary.n_features_in_ != data.n_features:
        raise ValueError(
            f"The data have {data.n_features} feature(s) but the dictionary was fitted "
            f"on {dictionary.n_features_in_}."
        )
    if data.is_pairs and getattr(dictionary, "n_lags", 0) > 0:
        raise ValueError(
            f"{type(dictionary).__name__} needs {dictionary.n_lags} past samples per row "
            "and so works on trajectories, not on snapshot pairs (X, y)."
        )


def default_chunk_size(n_output_features: int, n_lags: int = 0) -> int:
    """Rows per chunk so that one chunk of psi takes about 16 MiB."""
    return max(256, _CHUNK_BYTES // (8 * max(n_output_features, 1)), 2 * n_lags + 2)


def iter_chunks(
    dictionary: Any, data: Trajectories, chunk_size: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, slice]]:
    r"""Yield ``(Psi_X, Psi_Y, X_state, pair_slice)`` chunk by chunk, psi evaluated once.

    For trajectories, each chunk evaluates the dictionary on consecutive samples once
    (plus one overlap row shared with the next chunk), and ``Psi_X``/``Psi_Y`` are views
    of the same block shifted by one row. ``pair_slice`` locates the chunk's pairs in the
    global pair order (trajectory by trajectory), for the weights.
    """
    lags = int(getattr(dictionary, "n_lags", 0))
    if chunk_size is None:
        chunk_size = default_chunk_size(dictionary.n_output_features_, lags)
    chunk_size = int(chunk_size)
    offset = 0
    if data.is_pairs:
        for xb, yb in zip(data.trajectories, data.successors, strict=True):
            for s in range(0, xb.shape[0], chunk_size):
                e = min(s + chunk_size, xb.shape[0])
                xs = np.asarray(xb[s:e])
                yield (
                    dictionary.transform(xs),
                    dictionary.transform(np.asarray(yb[s:e])),
                    xs,
                    slice(offset + s, offset + e),
                )
            offset += xb.shape[0]
        return
    for traj in data.trajectories:
        n_pairs = traj.shape[0] - 1 - lags
        if n_pairs <= 0:
            continue
        for s in range(0, n_pairs, chunk_size):
            e = min(s + chunk_size, n_pairs)
            # samples lags+s .. lags+e (inclusive) give pairs s..e-1
            window = np.asarray(traj[s : lags + e + 1])
            psi = dictionary.transform(window)
            yield psi[:-1], psi[1:], window[lags:-1], slice(offset + s, offset + e)
        offset += n_pairs


def _accumulate(dictionary, data, weights, chunk_size, materialise: bool):
    M = dictionary.n_output_features_
    d = data.n_features
    n = data.n_pairs(int(getattr(dictionary, "n_lags", 0)))
    if n < 1:
        raise ValueError("The data give no snapshot pairs for this dictionary.")
    w = check_weights(weights, n)
    chunks = iter_chunks(dictionary, data, None if materialise else chunk_size)
    if materialise:
        parts = list(chunks)
        PX = np.concatenate([p[0] for p in parts])
        PY = np.concatenate([p[1] for p in parts])
        Xs = np.concatenate([p[2] for p in parts])
        ww = np.full(n, 1.0 / n) if w is None else w
        WPX = PX * ww[:, None]
        G = PX.conj().T @ WPX
        A = WPX.conj().T @ PY
        L = PY.conj().T @ (PY * ww[:, None])
        C = WPX.conj().T @ Xs
        total = 1.0 if w is None else float(w.sum())
        return G, A, L, C, n, total
    dtype = np.float64
    G = A = L = C = None
    for PX, PY, Xs, sl in chunks:
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
    if w is None:
        G /= n
        A /= n
        L /= n
        C /= n
        total = 1.0
    else:
        total = float(w.sum())
    return G, A, L, C, n, total


class _ComplexPsi(Exception):
    """The dictionary's transform returned complex values: use the complex-safe path."""


def _transform_evaluator(dictionary: Any) -> ChunkEvaluator:
    """Fallback for dictionaries without a numba kernel: ``transform`` per chunk."""

    def evaluate(X: np.ndarray, out: np.ndarray) -> None:
        psi = dictionary.transform(X)
        if np.iscomplexobj(psi):
            raise _ComplexPsi
        out[...] = psi

    return ChunkEvaluator(
        "transform",
        int(getattr(dictionary, "n_lags", 0)),
        int(dictionary.n_output_features_),
        evaluate,
        dictionary.transform,
    )


def _fused_polynomial(dictionary, data: Trajectories, w, chunk_size, verbose: bool):
    """G, A, L, C of a Polynomial dictionary by the fused kernel, or None where the moment
    sums would not be the cheaper (then the streamed products are)."""
    from koop._kernels.poly_gram import moment_plan, polynomial_gram

    plan = moment_plan(dictionary.powers_)
    if not plan.moments_are_faster:
        return None
    n = data.n_pairs()
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="Gram", unit="pair")
    try:
        sums = polynomial_gram(
            data.trajectories, plan, w,
            successors=data.successors if data.is_pairs else None,
            chunk_size=chunk_size, progress=bar.update if bar else None,
        )
    finally:
        if bar is not None:
            bar.close()
    G, A, L, C = sums.G, sums.A, sums.L, sums.C
    if w is None:
        for S in (G, A, L, C):
            S /= n
        return G, A, L, C, n, 1.0
    return G, A, L, C, n, float(w.sum())


def _accumulate_numba(dictionary, data: Trajectories, weights, chunk_size, verbose: bool):
    """The default path: numba kernels fill a reused psi buffer, BLAS accumulates."""
    lags = int(getattr(dictionary, "n_lags", 0))
    n = data.n_pairs(lags)
    if n < 1:
        raise ValueError("The data give no snapshot pairs for this dictionary.")
    w = check_weights(weights, n)
    spec = dictionary._kernel_spec() if hasattr(dictionary, "_kernel_spec") else None
    # >>> fused polynomial Gram (issue 17), the only change in this function: re-apply at
    # >>> the GramPlan's dispatch point. Polynomials whose distinct moment sums are cheaper
    # >>> than the products go to koop._kernels.poly_gram (psi never written to memory).
    if spec is not None and spec[0] == "polynomial":
        fused = _fused_polynomial(dictionary, data, w, chunk_size, verbose)
        if fused is not None:
            return fused
    # <<< end of the fused polynomial dispatch
    ev = (
        _transform_evaluator(dictionary)
        if spec is None
        else chunk_evaluator(spec, data.n_features)
    )
    if chunk_size is None:
        chunk_size = default_chunk_size(ev.n_outputs, lags)
        if w is not None:  # two more buffers per thread for the sqrt(w)-scaled rows
            chunk_size = max(256, chunk_size // 2)
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="Gram", unit="pair")
    need_state = ev.state_columns is None
    try:
        if data.is_pairs:
            G, A, L, C = accumulate_pairs(
                ev.evaluate, data.trajectories, data.successors, ev.n_outputs, w,
                chunk_size, bar.update if bar else None, need_state,
            )
        else:
            G, A, L, C = accumulate_trajectories(
                ev.evaluate, data.trajectories, ev.n_outputs, lags, w, chunk_size,
                bar.update if bar else None, need_state,
            )
    except _ComplexPsi:
        return _accumulate(dictionary, data, weights, chunk_size, materialise=False)
    finally:
        if bar is not None:
            bar.close()
    G, L = symmetrize_upper(G), symmetrize_upper(L)
    # psi holds the state itself (Identity, Polynomial, TimeDelay): C is a block of G
    C = G[:, ev.state_columns] if C is None else np.ascontiguousarray(C)
    A = np.ascontiguousarray(A)
    if w is None:
        for S in (G, A, L, C):
            S /= n
        return G, A, L, C, n, 1.0
    return G, A, L, C, n, float(w.sum())


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
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
            raise TypeError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
    lazy = backend == "dask"
    traj = as_trajectories(data, y, dt=dt, name="data", lazy=lazy)
    _check_fitted_dictionary(dictionary, traj)
    if backend == "dask":
        from koop._backends.dask_backend import build_gram_dask

        return _checked(build_gram_dask(dictionary, traj, weights, chunk_size,
                                        verbose=verbose))
    if backend == "torch":
        from koop._backends.torch_backend import build_gram_torch

        return _checked(build_gram_torch(dictionary, traj, weights, chunk_size,
                                         verbose=verbose, device=device))
    if backend == "numba":
        G, A, L, C, n, total = _accumulate_numba(dictionary, traj, weights, chunk_size, verbose)
    else:
        G, A, L, C, n, total = _accumulate(dictionary, traj, weights, chunk_size, True)
    return _checked(GramMatrices(hermitian_part(G), A, hermitian_part(L), C, n, total, backend))


def hermitian_part(S: np.ndarray) -> np.ndarray:
    """:math:`(S + S^*)/2`: removes the rounding asymmetry of an accumulated G or L."""
    return 0.5 * (S + S.conj().T)


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
