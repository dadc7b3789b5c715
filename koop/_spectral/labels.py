"""Points and grids in the complex plane, and their labelled (xarray) results."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["parse_points", "label_values", "label_vectors"]


def parse_points(points_or_grid: Any) -> tuple[np.ndarray, dict]:
    """Flatten points or a grid ``(real_values, imag_values)`` into a vector of ``z``.

    Returns the flat points and a layout used by :func:`label_values`.
    """
    if isinstance(points_or_grid, tuple) and len(points_or_grid) == 2:
        x = np.asarray(points_or_grid[0], dtype=float).ravel()
        y = np.asarray(points_or_grid[1], dtype=float).ravel()
        if x.size == 0 or y.size == 0 or not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("A grid is (real_values, imag_values): two finite, non-empty "
                             "1-D arrays.")
        Z = x[None, :] + 1j * y[:, None]
        return Z.ravel(), {"kind": "grid", "real": x, "imag": y}
    try:
        z = np.asarray(points_or_grid, dtype=np.complex128)
    except (TypeError, ValueError):
        raise TypeError(
            "points_or_grid must be complex points (array-like) or a grid given as the tuple "
            f"(real_values, imag_values); got {type(points_or_grid).__name__}."
        ) from None
    if z.ndim > 1:
        raise ValueError(f"points must be 0-D or 1-D, got shape {z.shape}; for a grid pass "
                         "(real_values, imag_values).")
    if not np.isfinite(z).all():
        raise ValueError("points contain NaN or inf.")
    return z.ravel(), {"kind": "points", "z": z, "scalar": z.ndim == 0}


def label_values(values: np.ndarray, layout: dict, name: str, attrs: dict):
    """An xarray.DataArray of one value per point, laid out like the input."""
    import xarray as xr

    if layout["kind"] == "grid":
        x, y = layout["real"], layout["imag"]
        data = np.asarray(values).reshape(y.size, x.size)
        return xr.DataArray(data, dims=("imag", "real"), coords={"imag": y, "real": x},
                            name=name, attrs=attrs)
    z = np.atleast_1d(layout["z"])
    da = xr.DataArray(np.asarray(values), dims=("point",),
                      coords={"z": ("point", z)}, name=name, attrs=attrs)
    return da.isel(point=0) if layout["scalar"] else da


def label_vectors(vectors: np.ndarray, layout: dict, name: str, attrs: dict):
    """Coefficient vectors (M, k) as a DataArray with a trailing ``dictionary`` dimension."""
    import xarray as xr

    M = vectors.shape[0]
    if layout["kind"] == "grid":
        x, y = layout["real"], layout["imag"]
        data = vectors.T.reshape(y.size, x.size, M)
        return xr.DataArray(data, dims=("imag", "real", "dictionary"),
                            coords={"imag": y, "real": x}, name=name, attrs=attrs)
    z = np.atleast_1d(layout["z"])
    da = xr.DataArray(vectors.T, dims=("point", "dictionary"),
                      coords={"z": ("point", z)}, name=name, attrs=attrs)
    return da.isel(point=0) if layout["scalar"] else da
