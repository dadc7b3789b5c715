"""Saving, loading and labelling koop models.

* :func:`save` / :func:`load` — a fitted estimator (dictionary state included) as one
  ``.npz`` file of arrays plus JSON metadata; exact round trip, never pickle.
* :func:`to_xarray` — spectra and modes as a labelled :class:`xarray.Dataset`.
* :func:`to_netcdf` / :func:`open_netcdf` — Datasets (reports, spectra) as netCDF files.
* :func:`read_series` — one trajectory from a ``.npy``, ``.npz``, ``.csv`` or netCDF file.
"""

from koop.io._codec import register_class, register_codec
from koop.io._labelled import merge_complex, open_netcdf, split_complex, to_netcdf, to_xarray
from koop.io._model import FORMAT_NAME, FORMAT_VERSION, load, read_metadata, save
from koop.io._series import read_series

__all__ = [
    "save",
    "load",
    "read_metadata",
    "to_xarray",
    "to_netcdf",
    "open_netcdf",
    "split_complex",
    "merge_complex",
    "register_class",
    "register_codec",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "read_series",
]
