r"""D2Q9 lattice-Boltzmann step (BGK) for flow past an obstacle, with a numpy twin.

One time step on a grid of ``nx x ny`` nodes, populations ``f[i, x, y]``:

1. outflow (``x = nx-1``): the populations entering from the right are copied from
   ``x = nx-2`` (zero gradient);
2. moments :math:`\rho = \sum_i f_i`, :math:`\rho u = \sum_i c_i f_i`;
3. inflow (``x = 0``): :math:`u = u_\text{in}(y)` prescribed, :math:`\rho` from the
   known populations (Zou & He 1997), and the unknown populations set to equilibrium
   plus the non-equilibrium part of their opposites;
4. BGK collision :math:`f^\text{out} = f - \omega(f - f^\text{eq})`,
   :math:`f^\text{eq}_i = w_i\rho(1 + 3c_i\cdot u + \tfrac92(c_i\cdot u)^2 -
   \tfrac32|u|^2)`;
5. full bounce-back on obstacle nodes: :math:`f^\text{out}_i = f_{\bar i}`;
6. streaming :math:`f_i(x + c_i) = f^\text{out}_i(x)`, periodic in both directions
   (the inflow and outflow columns overwrite the wrap in ``x``).

Velocity ordering (as in Latt's Palabos example): :math:`c_i` for
:math:`i = 0..8` is (1,1), (1,0), (1,-1), (0,1), (0,0), (0,-1), (-1,1), (-1,0), (-1,-1);
the opposite of :math:`i` is :math:`8-i`. The numba kernel ``lbm_step`` and the twin
``lbm_step_twin`` compute the same step; the twin is the readable specification.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["C", "W", "equilibrium", "lbm_step", "lbm_step_twin", "macroscopic"]

C = np.array([[1, 1], [1, 0], [1, -1], [0, 1], [0, 0], [0, -1], [-1, 1], [-1, 0], [-1, -1]],
             dtype=np.int64)
W = np.array([1 / 36, 1 / 9, 1 / 36, 1 / 9, 4 / 9, 1 / 9, 1 / 36, 1 / 9, 1 / 36])
_RIGHT = np.array([0, 1, 2])  # c_x = +1
_MIDDLE = np.array([3, 4, 5])  # c_x = 0
_LEFT = np.array([6, 7, 8])  # c_x = -1


def macroscopic(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Density (nx, ny) and velocity (2, nx, ny) of populations ``f`` (9, nx, ny)."""
    rho = f.sum(axis=0)
    u = np.einsum("id,ixy->dxy", C.astype(np.float64), f) / rho
    return rho, u


def equilibrium(rho: np.ndarray, u: np.ndarray) -> np.ndarray:
    """BGK equilibrium populations (9, ...) for density ``rho`` and velocity ``u``."""
    cu = 3.0 * np.einsum("id,d...->i...", C.astype(np.float64), u)
    usqr = 1.5 * (u[0] ** 2 + u[1] ** 2)
    return rho[None] * W.reshape((9,) + (1,) * rho.ndim) * (1 + cu + 0.5 * cu**2 - usqr)


def lbm_step_twin(f: np.ndarray, obstacle: np.ndarray, u_in: np.ndarray,
                  omega: float) -> np.ndarray:
    """One step in plain numpy (see the module docstring); returns the new populations."""
    f = f.copy()
    f[_LEFT, -1, :] = f[_LEFT, -2, :]
    rho, u = macroscopic(f)
    u[0, 0, :] = u_in
    u[1, 0, :] = 0.0
    rho[0, :] = (f[_MIDDLE, 0, :].sum(axis=0) + 2 * f[_LEFT, 0, :].sum(axis=0)) / (1 - u_in)
    feq = equilibrium(rho, u)
    f[_RIGHT, 0, :] = feq[_RIGHT, 0, :] + f[8 - _RIGHT, 0, :] - feq[8 - _RIGHT, 0, :]
    fout = f - omega * (f - feq)
    for i in range(9):
        fout[i, obstacle] = f[8 - i, obstacle]
    new = np.empty_like(f)
    for i in range(9):
        new[i] = np.roll(np.roll(fout[i], C[i, 0], axis=0), C[i, 1], axis=1)
    return new


@njit(cache=True, nogil=True)
def lbm_step(f, fout, obstacle, u_in, omega):  # pragma: no cover - compiled
    """One step: reads ``f``, writes the new populations back into ``f``; ``fout`` is
    scratch of the same shape."""
    nx, ny = f.shape[1], f.shape[2]
    feq = np.empty(9)
    for y in range(ny):
        for i in range(6, 9):
            f[i, nx - 1, y] = f[i, nx - 2, y]
    for x in range(nx):
        for y in range(ny):
            rho = 0.0
            ux = 0.0
            uy = 0.0
            for i in range(9):
                rho += f[i, x, y]
                ux += C[i, 0] * f[i, x, y]
                uy += C[i, 1] * f[i, x, y]
            ux /= rho
            uy /= rho
            if x == 0:
                ux = u_in[y]
                uy = 0.0
                rho = (f[3, 0, y] + f[4, 0, y] + f[5, 0, y]
                       + 2.0 * (f[6, 0, y] + f[7, 0, y] + f[8, 0, y])) / (1.0 - ux)
            usqr = 1.5 * (ux * ux + uy * uy)
            for i in range(9):
                cu = 3.0 * (C[i, 0] * ux + C[i, 1] * uy)
                feq[i] = rho * W[i] * (1.0 + cu + 0.5 * cu * cu - usqr)
            if x == 0:
                for i in range(3):
                    f[i, 0, y] = feq[i] + f[8 - i, 0, y] - feq[8 - i]
            if obstacle[x, y]:
                for i in range(9):
                    fout[i, x, y] = f[8 - i, x, y]
            else:
                for i in range(9):
                    fout[i, x, y] = f[i, x, y] - omega * (f[i, x, y] - feq[i])
    for i in range(9):
        cx = C[i, 0]
        cy = C[i, 1]
        for x in range(nx):
            xs = x - cx
            xs = xs + nx if xs < 0 else (xs - nx if xs >= nx else xs)
            # interior rows without a modulo; the two wrapped rows apart
            for y in range(1, ny - 1):
                f[i, x, y] = fout[i, xs, y - cy]
            f[i, x, 0] = fout[i, xs, (0 - cy) % ny]
            if ny > 1:
                f[i, x, ny - 1] = fout[i, xs, (ny - 1 - cy) % ny]
