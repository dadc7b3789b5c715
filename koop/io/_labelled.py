"""Labelled results: a fitted model's spectrum as an xarray Dataset, and netCDF files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["to_xarray", "to_netcdf", "open_netcdf", "split_complex", "merge_complex"]

_COMPLEX_ATTR = "koop_complex_part"


def to_xarray(obj: Any):
    """A labelled copy of a result: a fitted model's spectrum, or a report.

    For a fitted estimator, a :class:`xarray.Dataset` with dimensions ``mode`` and
    ``feature`` holding ``eigenvalue`` (complex), ``modulus``, ``modes``
    (feature x mode), ``continuous_eigenvalue`` and ``frequency`` (when ``dt`` is
    known) and ``residual`` (for models that carry ``residuals_``); ``attrs`` record the
    estimator, its parameters, ``dt`` and the koop version. Objects with their own
    ``to_xarray`` (validation reports, pseudospectra) are converted by it.

    Parameters
    ----------
    obj : fitted KoopmanEstimator, or an object with ``to_xarray()``

    Returns
    -------
    xarray.Dataset or xarray.DataArray

    Examples
    --------
    >>> from koop import io, systems
    >>> from koop.estimators import DMD
    >>> ds = io.to_xarray(DMD().fit(systems.slow_manifold(40, x0=[1.0, 0.5]), dt=0.1))
    >>> sorted(ds.sizes.items())
    [('feature', 2), ('mode', 2)]
    """
    if hasattr(obj, "to_xarray"):
        return obj.to_xarray()
    raise TypeError(
        f"to_xarray takes a fitted koop estimator or a koop result, got {type(obj).__name__}."
    )


def split_complex(ds):
    """Replace each complex variable ``v`` by ``v_real`` and ``v_imag`` (netCDF3 has no
    complex type); :func:`merge_complex` undoes it.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"lam": ("mode", [1 + 2j, 3 - 1j])})
    >>> sorted(split_complex(ds).data_vars)
    ['lam_imag', 'lam_real']
    >>> merge_complex(split_complex(ds)).lam.values.tolist()
    [(1+2j), (3-1j)]
    """
    import xarray as xr

    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name=ds.name or "data")
    out = ds.copy()
    for name in list(ds.variables):
        var = ds[name]
        if np.iscomplexobj(var.values):
            if name in ds.coords:
                raise ValueError(f"complex coordinate {name!r} cannot be written to netCDF.")
            out = out.drop_vars(name)
            for part in ("real", "imag"):
                values = getattr(var, part)
                out[f"{name}_{part}"] = values.assign_attrs(
                    {**var.attrs, _COMPLEX_ATTR: part}
                )
    return out


def merge_complex(ds):
    """Inverse of :func:`split_complex` (see its example)."""
    out = ds.copy()
    for name in list(ds.data_vars):
        if ds[name].attrs.get(_COMPLEX_ATTR) != "real" or not name.endswith("_real"):
            continue
        base = name[: -len("_real")]
        imag = f"{base}_imag"
        if imag not in ds:
            continue
        attrs = {k: v for k, v in ds[name].attrs.items() if k != _COMPLEX_ATTR}
        out = out.drop_vars([name, imag])
        out[base] = (ds[name] + 1j * ds[imag]).astype(np.complex128).assign_attrs(attrs)
    return out


def _netcdf_attrs(attrs: dict) -> dict:
    clean = {}
    for k, v in attrs.items():
        if isinstance(v, bool | np.bool_):
            clean[k] = int(v)
        elif isinstance(v, str | int | float | np.integer | np.floating):
            clean[k] = v
        elif isinstance(v, list | tuple | np.ndarray) and np.asarray(v).dtype.kind in "if":
            clean[k] = np.asarray(v)
        elif v is not None:
            clean[k] = str(v)
    return clean


def to_netcdf(obj: Any, path: str | os.PathLike) -> Path:
    """Write a Dataset (or anything :func:`to_xarray` accepts) to a netCDF file.

    Uses xarray's ``scipy`` engine (netCDF3, no extra dependency): complex variables are
    split into ``_real``/``_imag`` parts and attributes that netCDF cannot hold (dicts,
    None) are stored as strings. :func:`open_netcdf` reads the file back.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> from koop import io, systems
    >>> from koop.estimators import DMD
    >>> model = DMD().fit(systems.slow_manifold(40, x0=[1.0, 0.5]), dt=0.1)
    >>> path = io.to_netcdf(model, os.path.join(tempfile.mkdtemp(), "spectrum.nc"))
    >>> back = io.open_netcdf(path)
    >>> bool((back.eigenvalue.values == model.eigenvalues_).all()), back.eigenvalue.dtype
    (True, dtype('complex128'))
    """
    import xarray as xr

    ds = obj if isinstance(obj, xr.Dataset | xr.DataArray) else to_xarray(obj)
    ds = split_complex(ds)
    ds.attrs = _netcdf_attrs(ds.attrs)
    for name in ds.variables:
        ds[name].attrs = _netcdf_attrs(ds[name].attrs)
        if ds[name].dtype == np.int64:
            ds[name] = ds[name].astype(np.int32)
        elif ds[name].dtype == bool:
            ds[name] = ds[name].astype(np.int8)
    path = Path(os.fspath(path))
    ds.to_netcdf(path, engine="scipy")
    return path


def open_netcdf(path: str | os.PathLike):
    """Read a file written by :func:`to_netcdf` (complex variables merged back; see its
    example).

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    try:
        with xr.open_dataset(path, engine="scipy") as ds:
            loaded = ds.load()
    except Exception as exc:
        raise ValueError(f"{path} is not a readable netCDF3 file ({exc}).") from None
    return merge_complex(loaded)
