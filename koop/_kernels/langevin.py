r"""Euler–Maruyama for an overdamped Langevin particle in a one-dimensional potential.

The potential is a polynomial plus Gaussian wells and bumps,

.. math::
    V(x) = \sum_j p_j x^j + \sum_k a_k e^{-r_k (x - c_k)^2},

which covers the Prinz potential (deeptime, kooplearn) and the usual double and triple
wells. The SDE :math:`dX = -V'(X)/\gamma\,dt + \sqrt{2 k_BT/\gamma}\,dW` is stepped as

.. math::
    x \leftarrow x - \frac{h}{\gamma} V'(x) + \sqrt{\frac{2 k_BT h}{\gamma}}\,\xi,

with the standard normal :math:`\xi` drawn beforehand by the caller (so the seed lives in
one place, ``random_state``, and the kernel and its twin see the same noise). A sample
is kept every ``n_sub`` steps. The loop is sequential by nature: numba runs it at C
speed, the twin is the readable specification.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["langevin_em", "langevin_em_twin", "potential_gradient"]


def potential_gradient(x: np.ndarray, poly: np.ndarray, amp: np.ndarray, rate: np.ndarray,
                       center: np.ndarray) -> np.ndarray:
    r""":math:`V'(x)` for the polynomial-plus-Gaussians potential (numpy, vectorised)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    for j in range(1, poly.shape[0]):
        out += j * poly[j] * x ** (j - 1)
    for k in range(amp.shape[0]):
        u = x - center[k]
        out -= 2.0 * rate[k] * amp[k] * u * np.exp(-rate[k] * u * u)
    return out


@njit(cache=True)
def _gradient(x, poly, amp, rate, center):
    g = 0.0
    xp = 1.0  # x**(j-1)
    for j in range(1, poly.shape[0]):
        g += j * poly[j] * xp
        xp *= x
    for k in range(amp.shape[0]):
        u = x - center[k]
        g -= 2.0 * rate[k] * amp[k] * u * np.exp(-rate[k] * u * u)
    return g


@njit(cache=True)
def langevin_em(x0, noise, drift, diffusion, poly, amp, rate, center, out):  # pragma: no cover
    """Fill ``out[i]`` with the state after ``(i + 1) * n_sub`` steps from ``x0``.

    ``noise`` has shape ``(len(out), n_sub)``; ``drift = h / gamma``,
    ``diffusion = sqrt(2 kT h / gamma)``. Returns the final state.
    """
    x = x0
    n_sub = noise.shape[1]
    for i in range(out.shape[0]):
        for s in range(n_sub):
            x = x - drift * _gradient(x, poly, amp, rate, center) + diffusion * noise[i, s]
        out[i] = x
    return x


def langevin_em_twin(x0: float, noise: np.ndarray, drift: float, diffusion: float,
                     poly: np.ndarray, amp: np.ndarray, rate: np.ndarray,
                     center: np.ndarray) -> np.ndarray:
    """numpy twin of :func:`langevin_em` (a plain loop; the specification)."""
    x = float(x0)
    out = np.empty(noise.shape[0])
    for i in range(noise.shape[0]):
        for s in range(noise.shape[1]):
            g = potential_gradient(np.array(x), poly, amp, rate, center)
            x = x - drift * float(g) + diffusion * noise[i, s]
        out[i] = x
    return out
