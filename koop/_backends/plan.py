r"""The plan of a Gram build: what is summed, decided once for every backend.

A :class:`GramPlan` fixes, for a fitted dictionary on validated data, everything the
backends share: the lags the dictionary needs, the number :math:`N` of snapshot pairs
(pairs never cross a trajectory), the quadrature weights (validated, one per pair, or
``None`` for :math:`1/N` each), the chunk size asked for, how psi is evaluated on a
chunk (the dictionary's numba kernel, or its ``transform``) and the windows of samples
a chunk covers. The numba, numpy, dask and torch backends and the streamed QR factor
receive the plan and return raw sums (:class:`RawSums`); :func:`koop.gram.build_gram`
normalises them once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError

from koop._kernels.dispatch import ChunkEvaluator, chunk_evaluator
from koop.data import Trajectories, check_weights, is_dask_array

__all__ = ["GramPlan", "Psi", "Window", "RawSums", "ComplexPsi", "default_chunk_size",
           "gram_chunk_size", "hermitian_part"]

_CHUNK_BYTES = 16 * 2**20  # memory budget of one psi chunk
# The numba Gram stream's psi chunk: each thread evaluates a chunk and hands it at once to
# dsyrk/dgemm, so a chunk that stays in the core's cache between the two is read from
# cache, not memory. Measured on the 2-core machine (benchmarks/gram_profile.py --sweep,
# benchmarks/results/gram_limit_2026-12-03.md): 1 MiB takes 0.80x the time of 16 MiB for
# 100 RBFs and 0.86-0.92x for 500; for 2000 RBFs and random Fourier features, no change.
_GRAM_CHUNK_BYTES = 2**20


def default_chunk_size(n_output_features: int, n_lags: int = 0) -> int:
    """Rows per chunk so that one chunk of psi takes about 16 MiB."""
    return max(256, _CHUNK_BYTES // (8 * max(n_output_features, 1)), 2 * n_lags + 2)


def gram_chunk_size(n_output_features: int, n_lags: int = 0,
                    complex_states: bool = False) -> int:
    """Rows per chunk of the numba Gram stream: about 1 MiB of psi, at least 256 rows.

    Small enough that a thread's chunk is still in its cache when BLAS reads it (two
    threads' 16 MiB chunks do not fit together in a 32 MiB L3), large enough that dsyrk
    and dgemm run at their full rate (K = 256 rows already does). Complex states (or
    psi) go through numpy's products chunk by chunk instead: they keep
    :func:`default_chunk_size`, fewer and larger chunks.
    """
    if complex_states:
        return default_chunk_size(n_output_features, n_lags)
    return max(256, _GRAM_CHUNK_BYTES // (8 * max(n_output_features, 1)), 2 * n_lags + 2)


def hermitian_part(S: np.ndarray) -> np.ndarray:
    """:math:`(S + S^*)/2`: removes the rounding asymmetry of an accumulated G or L."""
    return 0.5 * (S + S.conj().T)


class ComplexPsi(Exception):
    """A dictionary's ``transform`` returned complex values: use the complex-safe path."""


@dataclass(frozen=True)
class RawSums:
    r"""Unnormalised sums :math:`\sum_m w_m\psi(x_m)\psi(x_m)^*` etc. of one backend.

    Attributes
    ----------
    G, A, L, C : ndarray
    normalised : bool
        The sums already carry the default weights :math:`1/N` (the numpy reference
        multiplies by them before the products).
    weights_sum : float, optional
        The total weight, when only the backend knows it (lazy dask weights).
    """

    G: np.ndarray
    A: np.ndarray
    L: np.ndarray
    C: np.ndarray
    normalised: bool = False
    weights_sum: float | None = None


def _check_chunk_size(chunk_size: Any) -> int | None:
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
        raise TypeError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
    return int(chunk_size)


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


def _check_lazy_weights(w: Any, n: int) -> Any:
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(
            f"weights has shape {tuple(w.shape)} but the data give {n} snapshot pairs; "
            "pass one weight per pair, in order."
        )
    if np.dtype(w.dtype).kind not in "biuf":
        raise TypeError(f"weights must be real numbers, got dtype {w.dtype}.")
    return w.astype(np.float64)


@dataclass(frozen=True)
class Psi:
    """How to evaluate a fitted dictionary on chunks: small enough to ship to workers."""

    dictionary: Any
    kernel_spec: tuple | None
    n_lags: int
    n_outputs: int

    def evaluator(self, n_features: int) -> ChunkEvaluator:
        """The numba kernel for inputs with ``n_features`` columns, else ``transform``.

        The ``transform`` fallback raises :class:`ComplexPsi` on complex values, for the
        caller to switch to a complex-safe path.
        """
        if self.kernel_spec is not None:
            return chunk_evaluator(self.kernel_spec, n_features)
        transform = self.dictionary.transform

        def evaluate(X: np.ndarray, out: np.ndarray) -> None:
            psi = transform(X)
            if np.iscomplexobj(psi):
                raise ComplexPsi
            out[...] = psi

        return ChunkEvaluator("transform", self.n_lags, self.n_outputs, evaluate, transform)


@dataclass(frozen=True)
class Window:
    """The samples of one chunk: psi of ``x`` (and of ``y`` for explicit pairs).

    For a trajectory, ``x`` holds samples ``s .. n_lags + e`` and gives pairs
    ``s .. e-1``: :math:`\\Psi_X` is psi of ``x`` without its last row, :math:`\\Psi_Y`
    without its first, and the states are ``x[n_lags:-1]``. For explicit pairs, ``x``
    and ``y`` are the rows ``s .. e-1`` of a pair block. ``pairs`` locates the chunk's
    pairs in the global pair order (trajectory by trajectory), for the weights.
    """

    x: np.ndarray
    y: np.ndarray | None
    pairs: slice


@dataclass(frozen=True)
class GramPlan:
    """What a Gram build sums over: built once by :meth:`build`, read by every backend.

    Attributes
    ----------
    dictionary : fitted Dictionary
    data : Trajectories
    n_lags : int
        Past samples each psi row needs.
    n_outputs : int
        Dictionary size :math:`M`.
    n_pairs : int
        :math:`N`, at least 1.
    weights : ndarray, dask array or None
        One per pair, in pair order (None: :math:`1/N` each).
    chunk_size : int or None
        As asked for (None: each backend's default).
    kernel_spec : tuple or None
        The dictionary's numba kernel (``Dictionary.kernel_spec()``), if it has one.
    """

    dictionary: Any
    data: Trajectories
    n_lags: int
    n_outputs: int
    n_pairs: int
    weights: Any
    chunk_size: int | None
    kernel_spec: tuple | None

    @classmethod
    def build(cls, dictionary: Any, data: Trajectories, weights: Any = None,
              chunk_size: Any = None, *, lazy_weights: bool = False) -> GramPlan:
        """Check a fitted dictionary against validated data and fix the sums' terms.

        Raises
        ------
        TypeError, NotFittedError, ValueError
            For a dictionary that is not one or not fitted, data it does not fit, no
            snapshot pairs, or bad weights / chunk size.
        """
        chunk_size = _check_chunk_size(chunk_size)
        _check_fitted_dictionary(dictionary, data)
        lags = int(getattr(dictionary, "n_lags", 0))
        n = data.n_pairs(lags)
        if n < 1:
            raise ValueError("The data give no snapshot pairs for this dictionary.")
        if lazy_weights and is_dask_array(weights):
            w = _check_lazy_weights(weights, n)
        else:
            w = check_weights(weights, n)
        spec_of = getattr(dictionary, "kernel_spec", None)
        # the numba kernels evaluate real states; complex ones go through transform
        # (complex psi: the complex-safe numpy sums)
        spec = spec_of() if callable(spec_of) and np.dtype(data.dtype).kind != "c" else None
        return cls(dictionary, data, lags, int(dictionary.n_output_features_), n, w,
                   chunk_size, spec)

    @property
    def n_features(self) -> int:
        """Number of state variables :math:`d`."""
        return self.data.n_features

    @property
    def weighted(self) -> bool:
        """True when quadrature weights were given (else :math:`1/N` each)."""
        return self.weights is not None

    @property
    def weights_sum(self) -> float:
        """Total weight: 1 for the default weights."""
        return 1.0 if self.weights is None else float(self.weights.sum())

    def quadrature_weights(self) -> np.ndarray:
        """One weight per pair: the given ones, or :math:`1/N` each."""
        if self.weights is None:
            return np.full(self.n_pairs, 1.0 / self.n_pairs)
        return self.weights

    def rows(self, default: int) -> int:
        """Samples per chunk: the size asked for, else ``default``."""
        return default if self.chunk_size is None else self.chunk_size

    def psi(self) -> Psi:
        """The dictionary's evaluation, without the data (for dask tasks)."""
        return Psi(self.dictionary, self.kernel_spec, self.n_lags, self.n_outputs)

    def evaluator(self) -> ChunkEvaluator:
        """How psi is evaluated on a chunk (see :meth:`Psi.evaluator`)."""
        return self.psi().evaluator(self.n_features)

    def windows(self, chunk_size: int) -> Iterator[Window]:
        """The chunks of at most ``chunk_size`` pairs, trajectory by trajectory."""
        lags, data = self.n_lags, self.data
        offset = 0
        if data.is_pairs:
            for xb, yb in zip(data.trajectories, data.successors, strict=True):
                for s in range(0, xb.shape[0], chunk_size):
                    e = min(s + chunk_size, xb.shape[0])
                    yield Window(xb[s:e], yb[s:e], slice(offset + s, offset + e))
                offset += xb.shape[0]
            return
        for traj in data.trajectories:
            n_pairs = traj.shape[0] - 1 - lags
            if n_pairs <= 0:
                continue
            for s in range(0, n_pairs, chunk_size):
                e = min(s + chunk_size, n_pairs)
                # samples lags+s .. lags+e (inclusive) give pairs s..e-1
                yield Window(traj[s : lags + e + 1], None, slice(offset + s, offset + e))
            offset += n_pairs

    def psi_chunks(self, chunk_size: int | None = None
                   ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, slice]]:
        r"""``(Psi_X, Psi_Y, X_state, pair_slice)`` chunk by chunk, psi evaluated once
        (``chunk_size`` pairs per chunk; default about 16 MiB of psi).

        For trajectories each chunk evaluates ``transform`` once on consecutive samples
        (plus one row shared with the next chunk); ``Psi_X``, ``Psi_Y`` are views of
        that block shifted by one row.
        """
        rows = chunk_size if chunk_size is not None else default_chunk_size(
            self.n_outputs, self.n_lags)
        transform = self.dictionary.transform
        lags = self.n_lags
        for win in self.windows(int(rows)):
            x = np.asarray(win.x)
            if win.y is not None:
                yield transform(x), transform(np.asarray(win.y)), x, win.pairs
            else:
                psi = transform(x)
                yield psi[:-1], psi[1:], x[lags:-1], win.pairs
