r"""The Gram build on torch tensors: psi evaluated and accumulated on the device (GPU or CPU).

Chunk by chunk, the samples move to the device once, the dictionary is evaluated there
(torch versions of the built-in dictionaries, read from the same kernel spec the numba
kernels use: Identity, Polynomial, RBF, RandomFourier, TimeDelay and their
concatenations; any other dictionary runs its numpy ``transform`` on the chunk and the
result moves to the device), and

.. math::
    G \mathrel{+}= \Psi_X^* W \Psi_X, \quad A \mathrel{+}= \Psi_X^* W \Psi_Y, \quad
    L \mathrel{+}= \Psi_Y^* W \Psi_Y, \quad C \mathrel{+}= \Psi_X^* W X

accumulate in float64 (complex128 for complex dictionaries) on the device. A chunk of
pairs :math:`s..e-1` of one trajectory evaluates psi on samples :math:`s..e+\ell`
(:math:`\ell` = ``n_lags``): :math:`\Psi_X, \Psi_Y` are the same block shifted by one
row, so the pair straddling two chunks costs one extra row. Only the four small matrices
come back to the host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from koop._backends.plan import GramPlan, RawSums, default_chunk_size

__all__ = ["torch_sums", "torch_features", "resolve_device"]

_GPU_CHUNK_FACTOR = 8  # a GPU wants bigger chunks than the 16 MiB CPU default


def _import_torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised with torch absent
        raise ImportError(
            "backend='torch' needs PyTorch: pip install koop[torch]."
        ) from exc
    return torch


def resolve_device(device: Any = None):
    """The torch device to use: ``device`` if given, else CUDA when available, else CPU."""
    torch = _import_torch()
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must name a torch device ('cpu', 'cuda', 'cuda:1', ...), got "
            f"{device!r}."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch sees no CUDA GPU; use "
            "device='cpu' or leave device=None to choose automatically."
        )
    return dev


def _polynomial(torch, p: dict, device) -> Callable:
    parent = np.asarray(p["parent"], dtype=np.int64)
    var = np.asarray(p["var"], dtype=np.int64)
    # group the monomials by depth in the parent chain: one vectorised product per level
    level = np.zeros(parent.shape[0], dtype=np.int64)
    for k in range(parent.shape[0]):
        level[k] = 0 if var[k] < 0 else (1 if parent[k] < 0 else level[parent[k]] + 1)
    const = torch.as_tensor(np.flatnonzero(var < 0), device=device)
    first = np.flatnonzero((var >= 0) & (parent < 0))
    first_t = torch.as_tensor(first, device=device)
    first_v = torch.as_tensor(var[first], device=device)
    steps = []
    for lev in range(2, int(level.max(initial=0)) + 1):
        ks = np.flatnonzero((level == lev) & (parent >= 0))
        steps.append(tuple(torch.as_tensor(a, device=device)
                           for a in (ks, parent[ks], var[ks])))
    # columns with parent >= 0 at level 1 (children of the constant)
    ones = np.flatnonzero((level == 1) & (parent >= 0))
    ones_t = (torch.as_tensor(ones, device=device),
              torch.as_tensor(parent[ones], device=device),
              torch.as_tensor(var[ones], device=device))
    M = parent.shape[0]

    def evaluate(X):
        out = torch.empty((X.shape[0], M), dtype=X.dtype, device=X.device)
        out[:, const] = 1.0
        out[:, first_t] = X[:, first_v]
        for ks, ps, vs in (ones_t, *steps):
            out[:, ks] = out[:, ps] * X[:, vs]
        return out

    return evaluate


def _squared_distances(torch, X, centers):
    # feature by feature, as the numba kernel and its twin sum them
    d2 = torch.zeros((X.shape[0], centers.shape[0]), dtype=X.dtype, device=X.device)
    for j in range(X.shape[1]):
        d2 += (X[:, j, None] - centers[None, :, j]) ** 2
    return d2


def torch_features(spec: tuple[str, dict], n_features: int, device) -> tuple[Callable, int]:
    """``(evaluate, n_lags)``: ``evaluate(X)`` is psi of a float64 tensor ``X`` on ``device``.

    ``spec`` is a dictionary's ``kernel_spec()``; rows of the result belong to samples
    ``n_lags..`` of ``X``, as for ``transform``.
    """
    torch = _import_torch()
    name, p = spec

    def t(a):
        return torch.as_tensor(np.ascontiguousarray(a, dtype=np.float64), device=device)

    if name == "identity":
        return (lambda X: X), 0
    if name == "polynomial":
        return _polynomial(torch, p, device), 0
    if name == "rbf_gaussian":
        centers, gamma = t(p["centers"]), float(p["gamma"])
        return (lambda X: torch.exp(-gamma * _squared_distances(torch, X, centers))), 0
    if name == "rbf_thinplate":
        centers, c = t(p["centers"]), float(p["inv_width2"])

        def thinplate(X):
            r2 = _squared_distances(torch, X, centers) * c
            safe = torch.where(r2 > 0, r2, torch.ones_like(r2))
            return torch.where(r2 > 0, 0.5 * r2 * torch.log(safe), torch.zeros_like(r2))

        return thinplate, 0
    if name == "fourier":
        omega, scale = t(p["omega"]), float(p["scale"])

        def fourier(X):
            phase = X @ omega
            return torch.cat([scale * torch.cos(phase), scale * torch.sin(phase)], dim=1)

        return fourier, 0
    if name == "delay":
        q, s = int(p["n_delays"]), int(p["stride"])
        lags = q * s

        def delay(X):
            n_rows = X.shape[0] - lags
            return torch.cat([X[lags - k * s : lags - k * s + n_rows] for k in range(q + 1)],
                             dim=1)

        return delay, lags
    if name == "concat":
        parts = [torch_features(sp, n_features, device)[0] for sp in p["parts"]]
        lags_i = [int(v) for v in p["n_lags"]]
        lags = max(lags_i, default=0)

        def concat(X):
            return torch.cat([f(X[lags - li :]) for f, li in zip(parts, lags_i, strict=True)],
                             dim=1)

        return concat, lags
    raise ValueError(f"No torch version of the dictionary kernel {name!r}.")


def _evaluator(plan: GramPlan, device) -> Callable:
    """``evaluate(X_numpy, X_tensor) -> psi`` on the device."""
    torch = _import_torch()
    if plan.kernel_spec is not None:
        f, _ = torch_features(plan.kernel_spec, plan.n_features, device)
        return lambda Xn, Xt: f(Xt)
    # no torch version: numpy transform on the host, then to the device
    transform = plan.dictionary.transform
    return lambda Xn, Xt: torch.as_tensor(np.asarray(transform(Xn)), device=device)


class _Sums:
    """G, A, L, C on the device, in the dtype of the first chunk (real or complex)."""

    def __init__(self, torch, M: int, d: int, device) -> None:
        self.torch, self.M, self.d, self.device = torch, M, d, device
        self.G = None

    def add(self, PX, PY, X, w) -> None:
        torch = self.torch
        if self.G is None or (PX.is_complex() and not self.G.is_complex()):
            dtype = torch.complex128 if PX.is_complex() else torch.float64
            zeros = (torch.zeros((self.M, self.M), dtype=dtype, device=self.device)
                     for _ in range(3))
            old = (self.G, self.A, self.L, self.C) if self.G is not None else None
            self.G, self.A, self.L = zeros
            self.C = torch.zeros((self.M, self.d), dtype=dtype, device=self.device)
            if old is not None:
                for new, prev in zip((self.G, self.A, self.L, self.C), old, strict=True):
                    new += prev
        PX, PY, X = PX.to(self.G.dtype), PY.to(self.G.dtype), X.to(self.G.dtype)
        WPX, WPY = (PX, PY) if w is None else (PX * w[:, None], PY * w[:, None])
        self.G.addmm_(PX.mH, WPX)
        self.A.addmm_(WPX.mH, PY)
        self.L.addmm_(PY.mH, WPY)
        self.C.addmm_(WPX.mH, X)

    def result(self) -> RawSums:
        G = 0.5 * (self.G + self.G.mH)
        L = 0.5 * (self.L + self.L.mH)
        return RawSums(*(S.cpu().numpy() for S in (G, self.A, L, self.C)))


def torch_sums(plan: GramPlan, *, verbose: bool = False, device: Any = None) -> RawSums:
    """The raw sums of ``plan`` with psi and the products on a torch device.

    Chunks of ``plan.chunk_size`` pairs (default: about 16 MiB of psi on CPU, 8 times
    that on a GPU) move to the device one at a time; ``device`` defaults to ``"cuda"``
    when torch sees a GPU, else ``"cpu"``. Equal to the numba backend up to rounding.
    """
    if np.dtype(plan.data.dtype).kind == "c":
        raise TypeError("the torch backend takes real states; for complex snapshots use "
                        "backend='numba' (its complex path), 'numpy' or 'dask'.")
    torch = _import_torch()
    dev = resolve_device(device)
    w = plan.weights
    w_t = None if w is None else torch.as_tensor(w, device=dev)
    M, d, lags = plan.n_outputs, plan.n_features, plan.n_lags
    chunk_size = plan.rows(default_chunk_size(M, lags) * (
        _GPU_CHUNK_FACTOR if dev.type == "cuda" else 1))
    evaluate = _evaluator(plan, dev)
    sums = _Sums(torch, M, d, dev)
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=plan.n_pairs, desc="Gram (torch)", unit="pair")

    def to_dev(a: np.ndarray):
        a = np.ascontiguousarray(a, dtype=np.float64)
        return torch.from_numpy(a).to(dev, non_blocking=True), a

    try:
        for win in plan.windows(chunk_size):
            wc = None if w_t is None else w_t[win.pairs]
            Xt, Xn = to_dev(win.x)
            if win.y is not None:
                Yt, Yn = to_dev(win.y)
                sums.add(evaluate(Xn, Xt), evaluate(Yn, Yt), Xt, wc)
            else:
                psi = evaluate(Xn, Xt)
                sums.add(psi[:-1], psi[1:], Xt[lags:-1], wc)
            if bar is not None:
                bar.update(win.pairs.stop - win.pairs.start)
    finally:
        if bar is not None:
            bar.close()
    return sums.result()
