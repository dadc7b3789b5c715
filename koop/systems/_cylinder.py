"""Flow past a circular cylinder: a lattice-Boltzmann field generator (no downloads)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

__all__ = ["cylinder_wake"]


def _positive(value, name: str, kind=Integral, minimum=1) -> None:
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
        raise ValueError(f"{name} must be {'an integer' if kind is Integral else 'a number'}"
                         f" >= {minimum}, got {value!r}.")


def cylinder_wake(n_snapshots: int = 200, *, reynolds: float = 100.0, nx: int = 400,
                  ny: int = 100, diameter: int = 20, u_inflow: float = 0.1,
                  sample_every: int = 50, n_transient: int = 20_000,
                  backend: str = "numba"):
    r"""Vorticity snapshots of the wake behind a cylinder, from a D2Q9 lattice Boltzmann run.

    A uniform inflow :math:`U` (lattice units, ``u_inflow``) passes a cylinder of
    ``diameter`` :math:`D` nodes centred at :math:`(4D, n_y/2)` in an ``nx`` x ``ny``
    box, periodic across the flow (an array of cylinders :math:`n_y` apart: blockage
    :math:`D/n_y`), zero-gradient outflow. The viscosity is :math:`\nu = UD/\mathrm{Re}`
    and the BGK relaxation rate :math:`\omega = 1/(3\nu + 1/2)`
    (:mod:`koop._kernels.lbm`). A small sinusoidal perturbation of the inflow (relative
    :math:`10^{-2}`) breaks the symmetry so that shedding starts within the transient.
    Above :math:`\mathrm{Re}\approx 47` the wake sheds vortices periodically with the
    Strouhal number :math:`\mathrm{St} = fD/U` (about 0.164-0.167 at Re = 100 in an
    unconfined flow; see the Fields page of the docs for what this lattice gives).

    Parameters
    ----------
    n_snapshots : int
        Number of vorticity snapshots returned, ``sample_every`` steps apart.
    reynolds : float
        :math:`\mathrm{Re} = UD/\nu`.
    nx, ny, diameter : int
        Grid and cylinder size in lattice nodes.
    u_inflow : float
        Inflow speed in lattice units (Mach number :math:`U\sqrt3`; keep it below ~0.15
        for a nearly incompressible flow).
    sample_every : int
        Lattice steps between snapshots.
    n_transient : int
        Steps discarded before the first snapshot (shedding must be established).
    backend : {"numba", "numpy"}
        The compiled kernel or its numpy twin (slow; for checking).

    Returns
    -------
    xarray.DataArray, dims (time, y, x)
        Vorticity :math:`\partial_x u_y - \partial_y u_x` in units of :math:`U/D`; the
        cylinder's nodes are NaN at every time (a mask that koop drops and restores).
        Coordinates in cylinder diameters, origin at the
        cylinder centre; ``time`` in convective units :math:`D/U` (so a frequency in
        cycles per unit time is the Strouhal number). ``attrs`` hold the lattice
        parameters.

    Examples
    --------
    >>> w = cylinder_wake(4, nx=80, ny=30, diameter=6, u_inflow=0.1, reynolds=20,
    ...                   sample_every=10, n_transient=20)
    >>> w.dims, w.shape
    (('time', 'y', 'x'), (4, 30, 80))
    """
    import xarray as xr

    from koop._kernels.lbm import equilibrium, lbm_step, lbm_step_twin, macroscopic

    for value, name in ((n_snapshots, "n_snapshots"), (nx, "nx"), (ny, "ny"),
                        (diameter, "diameter"), (sample_every, "sample_every")):
        _positive(value, name)
    _positive(n_transient, "n_transient", minimum=0)
    for value, name in ((reynolds, "reynolds"), (u_inflow, "u_inflow")):
        if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}.")
    if u_inflow >= 0.3:
        raise ValueError(f"u_inflow={u_inflow} is too fast for the lattice (Mach "
                         f"{u_inflow * 3**0.5:.2f}); use u_inflow <= 0.15.")
    if backend not in ("numba", "numpy"):
        raise ValueError(f"backend must be 'numba' or 'numpy', got {backend!r}.")
    cx, cy = 4 * diameter, ny // 2
    if cx + diameter >= nx or diameter >= ny - 2:
        raise ValueError(f"a cylinder of diameter {diameter} does not fit a {nx} x {ny} grid "
                         f"(it needs nx > {5 * diameter} and ny > {diameter + 2}).")
    nu = u_inflow * diameter / reynolds
    omega = 1.0 / (3.0 * nu + 0.5)
    if omega >= 1.99:
        raise ValueError(f"Re={reynolds} needs viscosity {nu:.2g} on this lattice "
                         f"(relaxation rate {omega:.3f} >= 1.99: unstable); use a larger "
                         "diameter or a faster inflow.")
    X, Y = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    obstacle = (X - cx) ** 2 + (Y - cy) ** 2 < (diameter / 2) ** 2
    u_in = u_inflow * (1 + 1e-2 * np.sin(2 * np.pi * np.arange(ny) / ny))
    u0 = np.zeros((2, nx, ny))
    u0[0] = u_in[None, :]
    f = equilibrium(np.ones((nx, ny)), u0)
    scratch = np.empty_like(f)

    def advance(f, steps):
        if backend == "numba":
            for _ in range(steps):
                lbm_step(f, scratch, obstacle, u_in, omega)
            return f
        for _ in range(steps):
            f = lbm_step_twin(f, obstacle, u_in, omega)
        return f

    f = advance(f, n_transient)
    out = np.empty((n_snapshots, ny, nx))
    for k in range(n_snapshots):
        f = advance(f, sample_every)
        if not np.isfinite(f).all():
            raise FloatingPointError("the lattice-Boltzmann run diverged; lower u_inflow or "
                                     "raise the resolution (diameter).")
        _, u = macroscopic(f)
        vort = np.gradient(u[1], axis=0) - np.gradient(u[0], axis=1)
        vort[obstacle] = np.nan  # a declared mask: NaN at every time
        out[k] = (vort * diameter / u_inflow).T
    t_unit = diameter / u_inflow  # lattice steps per convective time D/U
    times = (n_transient + sample_every * np.arange(1, n_snapshots + 1)) / t_unit
    return xr.DataArray(
        out, dims=("time", "y", "x"), name="vorticity",
        coords={"time": times, "y": (np.arange(ny) - cy) / diameter,
                "x": (np.arange(nx) - cx) / diameter},
        attrs={"long_name": "vorticity", "units": "U/D", "reynolds": float(reynolds),
               "diameter_nodes": int(diameter), "u_inflow_lattice": float(u_inflow),
               "mach": float(u_inflow * 3**0.5), "blockage": diameter / ny,
               "omega_bgk": float(omega), "lattice_steps_per_snapshot": int(sample_every),
               "time_units": "D/U", "length_units": "D"},
    )
