r"""Nearest landmarks and Markov weights for :class:`koop.estimators.AnalogEDMD`.

For each row :math:`x` of ``X`` and landmarks :math:`c_1..c_m`, find the ``k`` nearest
landmarks (Euclidean; ties broken by the lower index) at distances
:math:`d_1 \le \dots \le d_k` and the weights
:math:`w_l = e^{-a (d_l/d_k)^2} / \sum_{l'} e^{-a (d_{l'}/d_k)^2}` (all equal when
:math:`d_k = 0`; :math:`w_1 = 1` when ``k = 1``). ``analog_step`` applies the re-lifted
map :math:`x \mapsto x + \sum_l w_l D_{j_l}` ``n_steps`` times. Brute force over the
landmarks: :math:`O(md)` per state, a few microseconds for the thousands of landmarks
the estimator uses, and no tree to store or rebuild. ``neighbour_weights_twin`` is the
numpy specification.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["neighbour_weights", "neighbour_weights_twin", "analog_run"]


@njit(cache=True, nogil=True)
def _nearest(x, C, k, dist, idx):
    m, d = C.shape
    for l in range(k):
        dist[l] = np.inf
        idx[l] = -1
    for j in range(m):
        s = 0.0
        for i in range(d):
            z = x[i] - C[j, i]
            s += z * z
        if s < dist[k - 1]:
            pos = k - 1
            while pos > 0 and dist[pos - 1] > s:
                dist[pos] = dist[pos - 1]
                idx[pos] = idx[pos - 1]
                pos -= 1
            dist[pos] = s
            idx[pos] = j


@njit(cache=True, nogil=True)
def _weights(dist, k, width, w):
    far = dist[k - 1]
    total = 0.0
    for l in range(k):
        w[l] = np.exp(-width * dist[l] / far) if far > 0 else 1.0
        total += w[l]
    for l in range(k):
        w[l] /= total


@njit(cache=True, nogil=True)
def neighbour_weights(X, C, k, width, weights, index):
    """Fill ``weights`` and ``index`` (n, k) for the rows of ``X`` (n, d)."""
    dist = np.empty(k)
    for r in range(X.shape[0]):
        _nearest(X[r], C, k, dist, index[r])
        _weights(dist, k, width, weights[r])


@njit(cache=True, nogil=True)
def analog_run(X0, C, D, k, width, n_steps, out):
    """Iterate ``x <- x + sum_l w_l D[j_l]`` from each row of ``X0``; ``out`` (n, n_steps, d)."""
    n, d = X0.shape
    dist = np.empty(k)
    idx = np.empty(k, dtype=np.int64)
    w = np.empty(k)
    x = np.empty(d)
    for r in range(n):
        for i in range(d):
            x[i] = X0[r, i]
        for t in range(n_steps):
            _nearest(x, C, k, dist, idx)
            _weights(dist, k, width, w)
            for l in range(k):
                for i in range(d):
                    x[i] += w[l] * D[idx[l], i]
            for i in range(d):
                out[r, t, i] = x[i]


def neighbour_weights_twin(X, C, k, width):
    """numpy specification of :func:`neighbour_weights`: ``(weights, index)``."""
    d2 = ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    index = np.argsort(d2, axis=1, kind="stable")[:, :k]
    dist = np.take_along_axis(d2, index, axis=1)
    far = dist[:, -1:]
    w = np.where(far > 0, np.exp(-width * dist / np.where(far > 0, far, 1.0)), 1.0)
    return w / w.sum(axis=1, keepdims=True), index
