r"""Labelled fields: xarray snapshots with spatial dimensions, flattened and restored.

A *field* is an :class:`xarray.DataArray` with a ``time`` dimension and two or more
dimensions after it, e.g. ``(time, y, x)`` or ``(time, lat, lon)``; one dimension before
``time`` (``(run, time, y, x)``) holds trajectories. The spatial dimensions are flattened
(C order) into features and remembered in a :class:`FieldLayout`, so that results
(``modes_``, predictions, reconstructions) come back on the original grid.

Masked points (land in a sea-surface temperature, the inside of an obstacle) are the
points that are NaN at *every* time of every trajectory: they are dropped before the fit
and restored as NaN. A NaN anywhere else is an error, as is a different mask at predict
time. The ``time`` coordinate must increase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FieldLayout", "is_field", "is_field_of", "split_field", "flatten_field", "unflatten",
           "modes_dataarray", "field_dataset"]

TIME_DIM = "time"


@dataclass(frozen=True)
class FieldLayout:
    """How a field's spatial dims map to features.

    Attributes
    ----------
    dims : tuple of str
        Spatial dimensions, in order.
    shape : tuple of int
        Their sizes.
    coords : dict of str -> ndarray
        One-dimensional coordinates of the spatial dimensions (those the input had).
    valid : ndarray of bool, shape ``shape``
        True where a point is a feature; False where it is masked (NaN at every time).
    """

    dims: tuple
    shape: tuple
    coords: dict
    valid: np.ndarray

    @property
    def n_features(self) -> int:
        """Number of unmasked points."""
        return int(self.valid.sum())


def is_field(obj: Any) -> bool:
    """True for a DataArray with a ``time`` dim followed by two or more dims."""
    dims = getattr(obj, "dims", None)
    if not hasattr(obj, "coords") or dims is None or TIME_DIM not in dims or not hasattr(
            obj, "values") or hasattr(obj, "data_vars"):
        return False
    return len(dims) - list(dims).index(TIME_DIM) - 1 >= 2


def is_field_of(obj: Any, layout: FieldLayout) -> bool:
    """True for a DataArray (a field, a window of it or one snapshot) that carries the
    spatial dims of ``layout``."""
    dims = getattr(obj, "dims", None)
    if dims is None or not hasattr(obj, "coords") or hasattr(obj, "data_vars"):
        return False
    return set(layout.dims) <= set(dims)


def _check_time(obj: Any, name: str) -> None:
    if TIME_DIM not in obj.coords:
        return
    t = np.asarray(obj[TIME_DIM].values)
    if t.size < 2 or not (np.issubdtype(t.dtype, np.number)
                          or np.issubdtype(t.dtype, np.datetime64)):
        return
    steps = np.diff(t)
    if not (steps > np.zeros((), dtype=steps.dtype)).all():
        raise ValueError(f"The '{TIME_DIM}' coordinate of {name} does not increase "
                         "monotonically; sort it first (da.sortby('time')).")


def split_field(obj: Any, name: str = "X", lazy: bool = False) -> tuple[list, FieldLayout]:
    """Flatten a field into trajectories ``(n_time, n_valid)`` and its layout.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> v = np.arange(24.0).reshape(2, 3, 4)
    >>> v[:, 0, 0] = np.nan  # a masked point
    >>> da = xr.DataArray(v, dims=("time", "y", "x"), coords={"x": [0, 1, 2, 3]})
    >>> arrays, layout = split_field(da)
    >>> arrays[0].shape, layout.dims, layout.n_features
    ((2, 11), ('y', 'x'), 11)
    """
    _check_time(obj, name)
    dims = list(obj.dims)
    k = dims.index(TIME_DIM)
    before, spatial = dims[:k], dims[k + 1:]
    if len(before) > 1:
        raise ValueError(f"{name} has dims {tuple(dims)}: at most one dimension (the "
                         f"trajectories) may come before '{TIME_DIM}'.")
    data = obj.data if lazy and _is_dask(obj.data) else np.asarray(obj.values)
    n_time = obj.sizes[TIME_DIM]
    shape = tuple(int(obj.sizes[d]) for d in spatial)
    runs = [data] if not before else [data[i] for i in range(data.shape[0])]
    flat = [r.reshape(n_time, -1) for r in runs]
    if _is_dask(data):
        valid = np.ones(int(np.prod(shape)), dtype=bool)  # checked block by block later
    else:
        nan = np.stack([np.isnan(f) if f.dtype.kind in "fc" else np.zeros(f.shape, bool)
                        for f in flat])
        always = nan.all(axis=(0, 1))
        partial = nan.any(axis=(0, 1)) & ~always
        if partial.any():
            n_bad = int(nan[:, :, partial].sum())
            raise ValueError(
                f"{name} has {n_bad} NaN value(s) at {int(partial.sum())} point(s) that are "
                "valid at other times: only a declared mask (points NaN at every time) is "
                "dropped. Fill the gaps (e.g. da.interpolate_na('time')) or set those "
                "points to NaN at every time to mask them."
            )
        valid = ~always
        if not valid.any():
            raise ValueError(f"{name} is NaN everywhere: nothing to fit.")
    coords = {d: np.asarray(obj[d].values) for d in spatial if d in obj.coords}
    layout = FieldLayout(tuple(spatial), shape, coords, valid.reshape(shape))
    if not valid.all():
        flat = [f[:, valid] for f in flat]
    return flat, layout


def _is_dask(x: Any) -> bool:
    return type(x).__module__.startswith("dask.") and hasattr(x, "__dask_graph__")


def flatten_field(obj: Any, layout: FieldLayout, name: str = "X") -> np.ndarray:
    """A field (or one snapshot, without ``time``) as rows of valid points, checked
    against the layout seen in ``fit``."""
    dims = tuple(d for d in obj.dims if d != TIME_DIM)
    if dims != layout.dims or tuple(obj.sizes[d] for d in dims) != layout.shape:
        got = {d: int(obj.sizes[d]) for d in dims}
        fitted = dict(zip(layout.dims, layout.shape, strict=True))
        raise ValueError(f"{name} has spatial dims {got}; the model was fitted on {fitted}.")
    _check_time(obj, name)
    values = np.asarray(obj.transpose(*([TIME_DIM] if TIME_DIM in obj.dims else []),
                                      *layout.dims).values)
    flat = values.reshape(-1, int(np.prod(layout.shape)))
    nan = np.isnan(flat) if flat.dtype.kind in "fc" else np.zeros(flat.shape, bool)
    mask = ~layout.valid.ravel()
    if (nan.any(axis=0) != mask).any() or not (nan[:, mask].all()):
        raise ValueError(
            f"The NaN mask of {name} differs from the one seen in fit "
            f"({int(mask.sum())} masked points): pass the field on the same grid with the "
            "same masked points (NaN at every time) and no other NaN."
        )
    return flat[:, ~mask]


def unflatten(values: np.ndarray, layout: FieldLayout, lead_dims: tuple = (),
              lead_coords: dict | None = None, name: str | None = None):
    """Rows of valid points ``(..., n_valid)`` back onto the grid, NaN where masked."""
    import xarray as xr

    values = np.asarray(values)
    full = np.full((*values.shape[:-1], layout.valid.size), np.nan,
                   dtype=np.result_type(values.dtype, np.float64))
    full[..., layout.valid.ravel()] = values
    full = full.reshape(values.shape[:-1] + layout.shape)
    coords = dict(layout.coords)
    coords.update(lead_coords or {})
    return xr.DataArray(full, dims=tuple(lead_dims) + layout.dims, coords=coords, name=name)


def modes_dataarray(model: Any):
    """``modes_`` of a model fitted on a field, as a DataArray ``(mode, *spatial)``."""
    return unflatten(np.asarray(model.modes_).T, model.field_, ("mode",),
                     {"mode": np.arange(model.modes_.shape[1])}, name="modes")


def field_dataset(model: Any):
    """The spectrum of a model fitted on a field, modes on the original grid.

    Variables: ``eigenvalue``, ``modulus``, ``modes`` (mode, *spatial), and when ``dt``
    is known ``continuous_eigenvalue``, ``frequency`` (cycles per unit of time),
    ``growth_rate`` (per unit of time); ``amplitude`` where the model has amplitudes.
    """
    import xarray as xr

    lam = np.asarray(model.eigenvalues_, dtype=np.complex128)
    ds = xr.Dataset({"eigenvalue": ("mode", lam), "modulus": ("mode", np.abs(lam))},
                    coords={"mode": np.arange(lam.size)})
    ds["modes"] = modes_dataarray(model)
    cont = getattr(model, "continuous_eigenvalues_", None)
    if cont is not None and getattr(model, "dt_", None) is not None:
        ds["continuous_eigenvalue"] = ("mode", np.asarray(cont))
        ds["frequency"] = ("mode", np.asarray(cont).imag / (2 * np.pi),
                           {"units": "cycles per unit time",
                            "long_name": "Im(log lambda)/(2 pi dt)"})
        ds["growth_rate"] = ("mode", np.asarray(cont).real,
                             {"units": "1/time", "long_name": "Re(log lambda)/dt"})
    if getattr(model, "amplitudes_", None) is not None:
        ds["amplitude"] = ("mode", np.asarray(model.amplitudes_))
    ds.attrs = {"estimator": type(model).__name__, "spatial_dims": list(model.field_.dims)}
    if getattr(model, "dt_", None) is not None:
        ds.attrs["dt"] = float(model.dt_)
    return ds
