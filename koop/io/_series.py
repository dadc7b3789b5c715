"""Reading a time series from a file: ``.npy``, ``.npz``, ``.csv`` and netCDF."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["read_series"]


class _ReadError(ValueError):
    """A problem this module diagnosed itself (its message is already complete)."""

def _dt_from_axis(t: np.ndarray, where: str) -> float:
    steps = np.diff(np.asarray(t, dtype=float))
    if steps.size == 0:
        raise _ReadError(f"the time axis in {where} has a single sample.")
    step = float(np.median(steps))
    if step <= 0 or not np.allclose(steps, step, rtol=1e-6, atol=1e-12 * abs(step)):
        raise _ReadError(f"the time axis in {where} is not uniformly increasing; resample it "
                       "or drop it and pass --dt.")
    return step


def _select(names: list[str], wanted: str | None, where: str) -> list[int]:
    if not wanted:
        return list(range(len(names)))
    idx = []
    for w in (s.strip() for s in wanted.split(",") if s.strip()):
        if w not in names:
            raise _ReadError(f"no variable {w!r} in {where} (has: {', '.join(names)}).")
        idx.append(names.index(w))
    return idx


def _read_csv(path: Path, variables: str | None):
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
    if not header.strip():
        raise _ReadError(f"{path} is empty.")
    delimiter = ";" if header.count(";") > header.count(",") else ","
    cells = [c.strip().strip('"') for c in header.strip().split(delimiter)]
    has_header = any(_not_number(c) for c in cells)
    try:
        data = np.loadtxt(path, delimiter=delimiter, skiprows=int(has_header), ndmin=2)
    except ValueError as exc:
        raise _ReadError(f"{path} has non-numeric values ({exc}).") from None
    names = cells if has_header else [f"x{i}" for i in range(data.shape[1])]
    if len(names) != data.shape[1]:
        raise _ReadError(f"{path}: the header has {len(names)} names for {data.shape[1]} columns.")
    t = None
    for time_name in ("time", "t"):
        if time_name in names:
            k = names.index(time_name)
            t = data[:, k]
            data = np.delete(data, k, axis=1)
            names = names[:k] + names[k + 1:]
            break
    keep = _select(names, variables, str(path))
    return data[:, keep], [names[i] for i in keep], t


def _not_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


def _read_npz(path: Path, variables: str | None):
    with np.load(path, allow_pickle=False) as npz:
        files = list(npz.files)
        key = next((k for k in ("X", "x", "data") if k in files), None)
        arrays = [k for k in files if k not in ("t", "time", "dt")]
        if key is None:
            if len(arrays) != 1:
                raise _ReadError(f"{path} holds arrays {files}; name the data 'X' (and the "
                               "time axis 't').")
            key = arrays[0]
        X = npz[key]
        t = next((npz[k] for k in ("t", "time") if k in files), None)
        dt = float(npz["dt"]) if "dt" in files else None
    return X, t, dt


def _read_netcdf(path: Path, variables: str | None):
    import xarray as xr

    try:
        ds = xr.open_dataset(path).load()
    except Exception as exc:  # a damaged or foreign file; xarray's errors vary by engine
        hint = ""
        if path.read_bytes()[:4] == b"\x89HDF":
            hint = " It is netCDF4/HDF5: pip install h5netcdf (or netCDF4) to read it."
        raise _ReadError(f"cannot read {path} as netCDF ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}).{hint}") from None
    names = [str(n) for n, v in ds.data_vars.items() if "time" in v.dims]
    if not names:
        raise _ReadError(f"{path} has no variable with a 'time' dimension.")
    keep = [names[i] for i in _select(names, variables, str(path))]
    from koop._fields import is_field

    fields = [n for n in keep if is_field(ds[n])]
    if fields:  # a field (time, *spatial) is one variable on its own
        if len(keep) > 1:
            raise _ReadError(f"{path} holds the field(s) {', '.join(fields)} among "
                             f"{', '.join(keep)}; pick one with variables=NAME "
                             "(koop analyze: --variables NAME).")
        return ds[keep[0]]
    return ds[keep]


def read_series(path: str | os.PathLike, *, dt: float | None = None,
                variables: str | None = None, min_pairs: int = 1, field: bool = False):
    """Read one trajectory from a ``.npy``, ``.npz``, ``.csv`` or netCDF file.

    ``.npy``: an array ``(n_samples, n_features)``. ``.npz``: the array under
    ``X``/``x``/``data`` (or the only array), with optional ``t``/``time`` and ``dt``
    entries. ``.csv``: a header row (optional); a ``time`` or ``t`` column is the time
    axis. netCDF (``.nc``): the variables with a ``time`` dimension; a variable with
    spatial dims after ``time`` (``(time, y, x)``, ``(time, lat, lon)``) is a *field*
    and must be the only one selected.

    Parameters
    ----------
    path : str or path-like
    dt : float, optional
        Sampling interval; must agree with the file's time axis when it has one.
    variables : str, optional
        Comma-separated column / variable names to keep (``.csv`` and netCDF).
    min_pairs : int
        Fewest consecutive pairs accepted.
    field : bool, default=False
        Return a netCDF field as its (checked) DataArray ``(time, *spatial)``, with
        ``names`` None, so that a model fitted on it records the grid; by default a field
        comes back flattened to its valid (unmasked) points.

    Returns
    -------
    X : ndarray (n_samples, n_features), float64 (or a DataArray: ``field=True``)
    dt : float or None
    names : list of str (None for a field with ``field=True``)

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Unsupported type, unreadable content, NaN or inf values, a non-uniform time axis,
        or several trajectories; the message says which.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.csv")
    >>> np.savetxt(path, np.arange(6.0).reshape(3, 2), delimiter=",", header="a,b",
    ...            comments="")
    >>> X, dt, names = read_series(path)
    >>> X.shape, dt, names
    ((3, 2), None, ['a', 'b'])
    """
    from koop.data import as_trajectories

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise _ReadError(f"{path} is a folder; pass a data file.")
    suffix = path.suffix.lower()
    t = None
    file_dt = None
    names = None
    try:
        if suffix == ".csv":
            X, names, t = _read_csv(path, variables)
        elif suffix in (".npy", ".npz") and variables:
            raise _ReadError("variables selects named columns of .csv and .nc files; slice "
                           f"the array in {path.name} instead.")
        elif suffix == ".npy":
            X = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            X, t, file_dt = _read_npz(path, variables)
        elif suffix in (".nc", ".nc4", ".netcdf", ".cdf"):
            X = _read_netcdf(path, variables)
        else:
            raise _ReadError(f"unsupported file type {suffix or '(none)'!r}; use .nc, .csv, "
                           ".npy or .npz.")
    except _ReadError:
        raise
    except (ValueError, OSError, EOFError) as exc:  # numpy's or the parser's own errors
        raise ValueError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if t is not None:
        file_dt = _dt_from_axis(t, str(path))
    if dt is not None and file_dt is not None and not np.isclose(dt, file_dt, rtol=1e-6):
        raise _ReadError(f"dt={dt} disagrees with the time step {file_dt:g} of {path}.")
    data = as_trajectories(X, dt=dt if dt is not None else file_dt, name=path.name,
                           min_pairs=min_pairs)
    if data.n_trajectories != 1:
        raise _ReadError(f"{path} holds {data.n_trajectories} trajectories; select one.")
    if field and data.layout is not None:
        return X, data.dt, None
    names = list(data.feature_names or names or [f"x{i}" for i in range(data.n_features)])
    return np.asarray(data.trajectories[0], dtype=np.float64), data.dt, names


