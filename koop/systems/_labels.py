"""Labelled copies of trajectories."""

from __future__ import annotations

from typing import Any

import numpy as np

from koop.systems._common import check_dt
from koop.systems._continuous import lorenz63  # noqa: F401  (used by the doctest)

__all__ = ["as_xarray"]


def as_xarray(array: Any, dt: float, names: Any = None, name: str = "state"):
    """A labelled copy of a trajectory: DataArray with dims ``(time, feature)``.

    Examples
    --------
    >>> da = as_xarray(lorenz63(4), dt=0.01)
    >>> da.dims, float(da.time[1])
    (('time', 'feature'), 0.01)
    """
    import xarray as xr

    arr = np.asarray(array)
    if arr.ndim == 1:
        arr = arr[:, None]
    dt = check_dt(dt)
    if names is None:
        names = ["x", "y", "z"][: arr.shape[1]] if arr.shape[1] <= 3 else [
            f"x{i}" for i in range(arr.shape[1])
        ]
    return xr.DataArray(
        arr.copy(),
        dims=("time", "feature"),
        coords={"time": dt * np.arange(arr.shape[0]), "feature": list(names)},
        name=name,
        attrs={"dt": dt},
    )
