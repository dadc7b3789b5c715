"""From a dictionary's kernel spec to a callable that fills a chunk of psi.

A dictionary describes its numba kernel with ``_kernel_spec() -> (name, params)`` (or
``None``: no kernel, use ``transform``). :func:`chunk_evaluator` turns the spec into a
:class:`ChunkEvaluator` once per Gram build, with the parameters already laid out as the
kernels want them (float64, contiguous, centers transposed), so that the per-chunk call
is a single kernel launch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from koop._kernels import features as F

__all__ = ["ChunkEvaluator", "chunk_evaluator", "KERNEL_NAMES"]

KERNEL_NAMES = ("identity", "polynomial", "rbf_gaussian", "rbf_thinplate", "fourier", "delay")


@dataclass(frozen=True)
class ChunkEvaluator:
    """Evaluate one dictionary on chunks: ``evaluate(X, out)`` and its numpy ``twin(X)``.

    ``X`` holds ``n_rows + n_lags`` samples (float64, C-contiguous); ``out`` is a float64
    ``(n_rows, n_outputs)`` view whose rows are contiguous.
    """

    name: str
    n_lags: int
    n_outputs: int
    evaluate: Callable[[np.ndarray, np.ndarray], None]
    twin: Callable[[np.ndarray], np.ndarray]
    #: columns of psi that equal the current state x_j exactly (j = 0..d-1), or None;
    #: then C = Psi_X^T W X is a block of G and needs no product of its own
    state_columns: np.ndarray | None = None


def _f64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _i64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def chunk_evaluator(spec: tuple[str, dict], n_features: int) -> ChunkEvaluator:
    """Prepare the kernel named by ``spec`` for inputs with ``n_features`` columns."""
    name, p = spec
    d = int(n_features)
    if name == "identity":
        return ChunkEvaluator(name, 0, d, F.identity, F.identity_twin, np.arange(d))
    if name == "polynomial":
        parent, var = _i64(p["parent"]), _i64(p["var"])
        linear = [np.flatnonzero((parent < 0) & (var == j)) for j in range(d)]
        state = np.array([c[0] for c in linear]) if all(c.size for c in linear) else None
        return ChunkEvaluator(
            name,
            0,
            parent.shape[0],
            lambda X, out: F.polynomial(X, parent, var, out),
            lambda X: F.polynomial_twin(X, parent, var),
            state,
        )
    if name in ("rbf_gaussian", "rbf_thinplate"):
        centers = _f64(p["centers"])
        centers_t = _f64(centers.T)
        kernel, twin = (
            (F.rbf_gaussian, F.rbf_gaussian_twin)
            if name == "rbf_gaussian"
            else (F.rbf_thinplate, F.rbf_thinplate_twin)
        )
        c = float(p["gamma"] if name == "rbf_gaussian" else p["inv_width2"])
        return ChunkEvaluator(
            name,
            0,
            centers.shape[0],
            lambda X, out: kernel(X, centers_t, c, out),
            lambda X: twin(X, centers, c),
        )
    if name == "fourier":
        omega, scale = _f64(p["omega"]), float(p["scale"])
        return ChunkEvaluator(
            name,
            0,
            2 * omega.shape[1],
            lambda X, out: F.fourier(X, omega, scale, out),
            lambda X: F.fourier_twin(X, omega, scale),
        )
    if name == "delay":
        q, s = int(p["n_delays"]), int(p["stride"])
        return ChunkEvaluator(
            name,
            q * s,
            d * (q + 1),
            lambda X, out: F.delay(X, q, s, out),
            lambda X: F.delay_twin(X, q, s),
            np.arange(d),
        )
    if name == "concat":
        return _concat_evaluator(p, d)
    raise ValueError(f"No numba kernel named {name!r}; known kernels: {KERNEL_NAMES}.")


def _concat_evaluator(p: dict, d: int) -> ChunkEvaluator:
    parts = [chunk_evaluator(s, d) for s in p["parts"]]
    lags = [int(lag) for lag in p["n_lags"]]
    n_lags = max(lags, default=0)
    # parts are aligned on the latest sample: part i skips n_lags - lags[i] samples
    skips = [n_lags - lag for lag in lags]
    offsets = np.cumsum([0] + [e.n_outputs for e in parts])

    def evaluate(X, out):
        for e, skip, lo, hi in zip(parts, skips, offsets[:-1], offsets[1:], strict=True):
            e.evaluate(X[skip:], out[:, lo:hi])

    def twin(X):
        return np.hstack([e.twin(X[skip:]) for e, skip in zip(parts, skips, strict=True)])

    state = next(
        (e.state_columns + lo for e, lo in zip(parts, offsets, strict=False)
         if e.state_columns is not None),
        None,
    )
    return ChunkEvaluator("concat", n_lags, int(offsets[-1]), evaluate, twin, state)
