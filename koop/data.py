"""Input normalisation and validation: the one boundary through which data enters koop.

Every public entry point (estimators, dictionaries, :func:`koop.gram.build_gram`,
validation) turns its input into a :class:`Trajectories` or a checked array here, so that
the rest of the library can trust its inputs.

Accepted forms
--------------
* one trajectory, an array ``(n_samples, n_features)`` (a 1-D array is one feature);
* a list (or tuple) of trajectories of different lengths, same number of features;
* snapshot pairs ``(X, y)``: row ``m`` of ``y`` is the successor of row ``m`` of ``X``;
* an :class:`xarray.DataArray` with a ``time`` dimension (``dt`` from its coordinate) and
  optionally a trajectory dimension (any third dimension); an :class:`xarray.Dataset` whose
  data variables share the ``time`` dimension (each variable becomes features).

Snapshot pairs never cross a trajectory boundary: a trajectory of ``n`` samples gives
``n - 1`` pairs ``(x_k, x_{k+1})``.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Trajectories", "as_trajectories", "check_array", "is_dask_array", "TIME_DIM",
           "ControlledTrajectories", "as_controlled_trajectories", "check_inputs"]

TIME_DIM = "time"


def is_dask_array(x: object) -> bool:
    """Return True for a dask array (without importing dask)."""
    return type(x).__module__.startswith("dask.") and hasattr(x, "__dask_graph__")


def _from_torch(x: object) -> object:
    """A torch tensor on any device (CUDA, MPS, CPU) as a numpy array; anything else as is.

    ``np.asarray`` fails on a GPU tensor; here it is detached and copied to the host once,
    at the boundary (koop's CPU paths read numpy; the torch backend moves chunks to its
    device itself). torch is looked up in ``sys.modules``, never imported: a tensor can
    only exist if torch already is. bfloat16, which numpy lacks, becomes float32.
    """
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(x, torch.Tensor):
        return x
    t = x.detach()
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.cpu().resolve_conj().resolve_neg().numpy()


def _describe(x: object) -> str:
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return type(x).__name__


def check_array(
    X: object,
    *,
    name: str = "X",
    n_features: int | None = None,
    min_samples: int = 1,
    allow_1d: bool = True,
    dtype: object = None,
    allow_complex: bool = False,
    lazy: bool = False,
) -> np.ndarray:
    """Validate one array of samples and return it as a 2-D floating array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
        Samples in rows. A 1-D array is read as one feature.
    name : str
        The argument's name, used in error messages.
    n_features : int, optional
        Required number of columns (for example the count seen in ``fit``).
    min_samples : int
        Minimum number of rows.
    allow_1d : bool
        Whether a 1-D array is accepted as a single feature.
    dtype : numpy dtype, optional
        Output dtype; default keeps float32/float64 (and complex if allowed) and converts
        integers and booleans to float64.
    allow_complex : bool
        Accept complex input.
    lazy : bool
        Keep a dask array lazy (finite values are then checked chunk by chunk downstream).

    Returns
    -------
    numpy.ndarray of shape (n_samples, n_features)

    Raises
    ------
    TypeError
        For non-numeric input.
    ValueError
        For a wrong number of dimensions or features, too few samples, NaN or inf.

    Examples
    --------
    >>> check_array([1.0, 2.0, 3.0]).shape
    (3, 1)
    """
    if X is None:
        raise TypeError(f"{name} is None; pass an array of shape (n_samples, n_features).")
    if isinstance(X, str | bytes):
        raise TypeError(f"{name} must be a numeric array, got a string.")
    dask = lazy and is_dask_array(X)
    if not dask:
        if hasattr(X, "values") and hasattr(X, "dims"):  # xarray: take the values
            X = X.values
        X = _from_torch(X)
        try:
            arr = np.asarray(X)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(
                f"{name} could not be converted to a numeric array ({exc}); pass a "
                "rectangular array of numbers, or a list of such arrays for several "
                "trajectories."
            ) from None
    else:
        arr = X
    kind = np.dtype(arr.dtype).kind
    if kind == "c" and not allow_complex:
        raise TypeError(
            f"{name} is complex ({arr.dtype}); koop expects real-valued states. Split real "
            "and imaginary parts into separate features."
        )
    if kind not in "biufc":
        raise TypeError(
            f"{name} must hold numbers, got dtype {arr.dtype!r} ({_describe(X)}). Convert it "
            "with np.asarray(X, dtype=float) after removing non-numeric columns."
        )
    if arr.ndim == 1 and allow_1d:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features){' or 1-D' if allow_1d else ''}, "
            f"got {arr.ndim}-D with shape {tuple(arr.shape)}."
        )
    if dtype is None:
        if kind in "biu":
            target = np.float64
        else:
            target = arr.dtype
    else:
        target = dtype
    if arr.dtype != target:
        arr = arr.astype(target)
    n, d = arr.shape
    if n < min_samples:
        raise ValueError(
            f"{name} has {n} sample(s); at least {min_samples} are needed."
        )
    if d == 0:
        raise ValueError(
            f"{name} has 0 feature(s) (shape={tuple(arr.shape)}) while a minimum of 1 is "
            "required."
        )
    if n_features is not None and d != n_features:
        raise ValueError(
            f"{name} has {d} feature(s), but the model was fitted with {n_features}. "
            "Pass data with the same columns as in fit."
        )
    if not dask and not _all_finite(arr):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); remove or impute them "
            "before fitting (koop never silently drops samples)."
        )
    return arr


def _all_finite(arr: np.ndarray, block_bytes: int = 16 * 2**20) -> bool:
    """``np.isfinite(arr).all()`` in row blocks: no boolean copy of a large field."""
    step = max(1, block_bytes // max(arr.itemsize * arr.shape[1], 1))
    return all(np.isfinite(arr[a:a + step]).all() for a in range(0, arr.shape[0], step))


@dataclass(frozen=True)
class Trajectories:
    """Validated time-series data: trajectories, or explicit snapshot pairs.

    Attributes
    ----------
    trajectories : tuple of ndarray
        Each of shape ``(n_i, n_features)``. In pair mode these are the ``X`` blocks.
    successors : tuple of ndarray or None
        In pair mode, the ``y`` blocks (row ``m`` is the successor of row ``m`` of the
        matching ``X`` block); ``None`` for trajectories, whose pairs are consecutive rows.
    dt : float or None
        Sampling interval, when known.
    feature_names : tuple of str or None
        Names of the state variables, when the input carried them (xarray).
    layout : koop._fields.FieldLayout or None
        For a labelled field (``(time, y, x)``...), how features map to the grid.
    """

    trajectories: tuple
    successors: tuple | None = None
    dt: float | None = None
    feature_names: tuple | None = field(default=None)
    layout: object = None

    @property
    def is_pairs(self) -> bool:
        """True when the data are explicit snapshot pairs."""
        return self.successors is not None

    @property
    def n_features(self) -> int:
        """Number of state variables."""
        return int(self.trajectories[0].shape[1])

    @property
    def n_trajectories(self) -> int:
        """Number of trajectories (or pair blocks)."""
        return len(self.trajectories)

    @property
    def lengths(self) -> tuple:
        """Number of samples in each trajectory."""
        return tuple(int(t.shape[0]) for t in self.trajectories)

    @property
    def dtype(self) -> np.dtype:
        """Common floating dtype of the data."""
        return np.result_type(*[t.dtype for t in self.trajectories])

    def n_pairs(self, n_lags: int = 0) -> int:
        """Number of snapshot pairs for a dictionary that needs ``n_lags`` past samples."""
        if self.is_pairs:
            return sum(t.shape[0] for t in self.trajectories)
        return sum(max(t.shape[0] - 1 - n_lags, 0) for t in self.trajectories)

    def stacked(self) -> np.ndarray:
        """All samples stacked into one array (for fitting dictionaries)."""
        blocks = list(self.trajectories)
        if self.is_pairs:
            blocks += list(self.successors)
        if len(blocks) == 1:
            return np.asarray(blocks[0])
        return np.concatenate([np.asarray(b) for b in blocks], axis=0)

    def pairs(self, n_lags: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Materialise the snapshot pairs ``(X, Y)`` (the plain reference path).

        For ``n_lags > 0`` the rows are the *windows* needed by a lagged dictionary: each
        trajectory ``x_0..x_{n-1}`` contributes ``X = x_0..x_{n-2}`` and ``Y = x_1..x_{n-1}``
        and the pairs count only from sample ``n_lags`` on, which callers handle by
        transforming each trajectory as a whole; see :meth:`segments`.
        """
        if self.is_pairs:
            X = np.concatenate([np.asarray(t) for t in self.trajectories], axis=0)
            Y = np.concatenate([np.asarray(t) for t in self.successors], axis=0)
            return X, Y
        xs, ys = [], []
        for t in self.trajectories:
            t = np.asarray(t)
            if t.shape[0] - 1 - n_lags <= 0:
                continue
            xs.append(t[n_lags:-1])
            ys.append(t[n_lags + 1 :])
        if not xs:
            raise ValueError(
                f"No snapshot pairs: every trajectory is shorter than {n_lags + 2} samples."
            )
        return np.concatenate(xs, axis=0), np.concatenate(ys, axis=0)


def _dt_from_time_coord(coord: np.ndarray, name: str) -> float | None:
    t = np.asarray(coord)
    if t.size < 2:
        return None
    if np.issubdtype(t.dtype, np.datetime64) or np.issubdtype(t.dtype, np.timedelta64):
        steps = np.diff(t).astype("timedelta64[ns]").astype(np.float64) * 1e-9
    elif np.issubdtype(t.dtype, np.number):
        steps = np.diff(t.astype(np.float64))
    else:
        return None
    step = float(np.median(steps))
    if step <= 0 or not np.allclose(steps, step, rtol=1e-6, atol=0):
        raise ValueError(
            f"The '{TIME_DIM}' coordinate of {name} is not uniformly spaced increasing "
            f"(steps between {steps.min():g} and {steps.max():g}); resample to a uniform "
            "grid first (e.g. DataArray.interp)."
        )
    return step


def _from_xarray(obj, name: str, lazy: bool):
    """Return (list of arrays, dt, feature names, field layout or None) from a DataArray
    or Dataset."""
    import xarray as xr  # core dependency; imported here to keep data.py light

    if isinstance(obj, xr.Dataset):
        if not obj.data_vars:
            raise ValueError(f"{name} is an empty Dataset (no data variables).")
        parts, names = [], []
        for var_name, var in obj.data_vars.items():
            if TIME_DIM not in var.dims:
                raise ValueError(
                    f"Data variable {var_name!r} of {name} has no '{TIME_DIM}' dimension."
                )
            extra = [d for d in var.dims if d != TIME_DIM]
            if len(extra) == 0:
                var = var.expand_dims("feature", axis=-1)
                names.append(str(var_name))
            else:
                names.extend(f"{var_name}[{i}]" for i in range(var.sizes[extra[-1]]))
            parts.append(var)
        obj = xr.concat(
            [p.rename({p.dims[-1]: "feature"}) if p.dims[-1] != TIME_DIM else p for p in parts],
            dim="feature",
        ).assign_coords(feature=names)
    if not isinstance(obj, xr.DataArray):
        raise TypeError(f"{name} must be a DataArray or Dataset, got {type(obj).__name__}.")
    from koop._fields import is_field, split_field

    if is_field(obj):  # (time, y, x, ...): spatial dims flattened, NaN mask dropped
        arrays, layout = split_field(obj, name, lazy)
        coord = obj[TIME_DIM].values if TIME_DIM in obj.coords else None
        return arrays, (None if coord is None else _dt_from_time_coord(coord, name)), None, \
            layout
    if TIME_DIM not in obj.dims:
        raise ValueError(
            f"{name} has dimensions {obj.dims} but no '{TIME_DIM}' dimension; rename the "
            f"sample dimension to '{TIME_DIM}' (da.rename({{'t': '{TIME_DIM}'}}))."
        )
    dt = _dt_from_time_coord(obj[TIME_DIM].values, name) if TIME_DIM in obj.coords else None
    others = [d for d in obj.dims if d != TIME_DIM]
    if len(others) > 2:
        raise ValueError(
            f"{name} has dimensions {obj.dims}; expected ('{TIME_DIM}',), "
            f"('{TIME_DIM}', feature) or (trajectory, '{TIME_DIM}', feature)."
        )
    feature_dim = None
    traj_dim = None
    if len(others) == 2:
        # the last non-time dimension holds features, the other trajectories
        traj_dim, feature_dim = others[0], others[1]
    elif len(others) == 1:
        feature_dim = others[0]
    order = [d for d in (traj_dim, TIME_DIM, feature_dim) if d is not None]
    obj = obj.transpose(*order)
    feature_names = None
    if feature_dim is not None and feature_dim in obj.coords:
        feature_names = tuple(str(v) for v in obj[feature_dim].values)
    data = obj.data if lazy and is_dask_array(obj.data) else obj.values
    if traj_dim is None:
        arrays = [data]
    else:
        arrays = [data[i] for i in range(data.shape[0])]
    return arrays, dt, feature_names, None


def _is_xarray(obj: object) -> bool:
    mod = type(obj).__module__
    return mod.startswith("xarray.")


def as_trajectories(
    X: object,
    y: object = None,
    *,
    dt: float | None = None,
    min_pairs: int = 1,
    name: str = "X",
    lazy: bool = False,
    allow_complex: bool = False,
) -> Trajectories:
    """Validate time-series input and return it as :class:`Trajectories`.

    Parameters
    ----------
    X : array-like, list of array-like, xarray.DataArray or xarray.Dataset
        One trajectory ``(n_samples, n_features)``, a list of trajectories (lengths may
        differ), or labelled xarray data with a ``time`` dimension.
    y : array-like, optional
        Successors of ``X`` row by row (snapshot pairs). Must match ``X`` in shape.
    dt : float, optional
        Sampling interval. Overrides nothing: if xarray input carries a time coordinate
        and ``dt`` is also given, they must agree.
    min_pairs : int
        Minimum number of snapshot pairs required.
    name : str
        Name used in error messages.
    lazy : bool
        Keep dask arrays lazy (for the dask backend).
    allow_complex : bool
        Accept complex snapshots (complex128 kept end to end).

    Returns
    -------
    Trajectories

    Examples
    --------
    >>> import numpy as np
    >>> data = as_trajectories([np.zeros((5, 2)), np.ones((3, 2))], dt=0.1)
    >>> data.n_pairs(), data.n_trajectories, data.dt
    (6, 2, 0.1)
    """
    feature_names = None
    layout = None
    if dt is not None:
        if isinstance(dt, bool) or not isinstance(dt, numbers.Real):
            raise TypeError(f"dt must be a positive number, got {dt!r}.")
        dt = float(dt)
        if not np.isfinite(dt) or dt <= 0:
            raise ValueError(f"dt must be a positive finite number, got {dt!r}.")
    if isinstance(X, Trajectories):
        if y is not None:
            raise ValueError("Pass y only with array input, not with Trajectories.")
        if dt is not None and X.dt is not None and not np.isclose(dt, X.dt):
            raise ValueError(f"dt={dt} disagrees with the data's dt={X.dt}.")
        data = X if dt is None or X.dt is not None else Trajectories(
            X.trajectories, X.successors, dt, X.feature_names
        )
        _check_count(data, min_pairs, name)
        return data
    if _is_xarray(X):
        arrays, coord_dt, feature_names, layout = _from_xarray(X, name, lazy)
        if coord_dt is not None:
            if dt is not None and not np.isclose(dt, coord_dt, rtol=1e-6):
                raise ValueError(
                    f"dt={dt} disagrees with the time coordinate of {name} (step {coord_dt})."
                )
            dt = coord_dt
    elif isinstance(X, list | tuple):
        if len(X) == 0:
            raise ValueError(f"{name} is an empty list; pass at least one trajectory.")
        if all(isinstance(v, numbers.Number) for v in X):
            arrays = [X]
        elif all(
            isinstance(v, list | tuple) and all(isinstance(e, numbers.Number) for e in v)
            for v in X
        ):
            # nested Python lists of numbers are one array (as ``X.tolist()`` gives), the
            # way numpy reads them; several trajectories are a list of arrays
            arrays = [X]
        else:
            arrays = list(X)
    else:
        arrays = [X]

    blocks = [
        check_array(a, name=f"{name}[{i}]" if len(arrays) > 1 else name, lazy=lazy,
                    allow_complex=allow_complex)
        for i, a in enumerate(arrays)
    ]
    n_features = blocks[0].shape[1]
    for i, b in enumerate(blocks):
        if b.shape[1] != n_features:
            raise ValueError(
                f"Trajectories must share their number of features: {name}[0] has "
                f"{n_features}, {name}[{i}] has {b.shape[1]}."
            )
    successors = None
    if y is not None:
        y_arrays = list(y) if isinstance(y, list | tuple) and len(arrays) > 1 else [y]
        if _is_xarray(y):
            y_arrays = _from_xarray(y, "y", lazy)[0]
        if len(y_arrays) != len(blocks):
            raise ValueError(
                f"y has {len(y_arrays)} block(s) but {name} has {len(blocks)}; pass the "
                "successors in the same structure as X."
            )
        successors = []
        for i, (xb, yb) in enumerate(zip(blocks, y_arrays, strict=True)):
            yb = check_array(yb, name="y", lazy=lazy, allow_complex=allow_complex)
            if yb.shape != xb.shape:
                raise ValueError(
                    f"X and y must have the same shape (row m of y is the successor of row "
                    f"m of X); block {i}: X {tuple(xb.shape)} vs y {tuple(yb.shape)}."
                )
            successors.append(yb)
        successors = tuple(successors)
    data = Trajectories(tuple(blocks), successors, dt, feature_names, layout)
    _check_count(data, min_pairs, name)
    return data


def _check_count(data: Trajectories, min_pairs: int, name: str) -> None:
    n = data.n_pairs()
    if n < min_pairs:
        if data.is_pairs:
            raise ValueError(f"{name} has {n} snapshot pair(s); at least {min_pairs} needed.")
        raise ValueError(
            f"{name} gives {n} snapshot pair(s) (trajectory lengths {list(data.lengths)}); "
            f"at least {min_pairs} needed. A trajectory of n samples gives n - 1 pairs."
        )


def check_weights(weights: object, n_pairs: int) -> np.ndarray | None:
    """Validate quadrature weights: one non-negative finite value per snapshot pair."""
    if weights is None:
        return None
    weights = _from_torch(weights)
    if isinstance(weights, Sequence) and not isinstance(weights, np.ndarray) and len(
        weights
    ) and not np.isscalar(weights[0]):
        weights = np.concatenate([np.ravel(np.asarray(w, dtype=float)) for w in weights])
    w = np.asarray(weights)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"weights must be real numbers, got dtype {w.dtype}.")
    w = np.ravel(w).astype(np.float64)
    if w.shape[0] != n_pairs:
        raise ValueError(
            f"weights has {w.shape[0]} entries but the data give {n_pairs} snapshot pairs; "
            "pass one weight per pair, in order."
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and non-negative.")
    if w.sum() <= 0:
        raise ValueError("weights sum to zero; at least one pair must carry weight.")
    return w


# -- control inputs -------------------------------------------------------------------
# Kept apart from the state-only functions above: a controlled data set is a
# Trajectories of states plus one input block per trajectory (or pair block).


@dataclass(frozen=True)
class ControlledTrajectories:
    r"""Validated states with the control inputs that drive them.

    ``inputs[i]`` is aligned with ``data.trajectories[i]`` row by row: for trajectories,
    row ``k`` is the input :math:`u_k` acting on the step :math:`x_k \to x_{k+1}` (one
    row per *sample*; the last row drives no step in the data and is never used); for
    snapshot pairs, row ``m`` is the input of pair ``m``.

    Attributes
    ----------
    data : Trajectories
        The states.
    inputs : tuple of ndarray
        One ``(n_i, n_inputs)`` block per trajectory or pair block.
    input_names : tuple of str or None
        Names of the inputs, when the input carried them (xarray).
    per_transition : bool
        Whether some block came with one row per transition (its last row was then
        filled in by repeating the one before; no pair uses it).
    """

    data: Trajectories
    inputs: tuple
    input_names: tuple | None = None
    per_transition: bool = False

    @property
    def n_inputs(self) -> int:
        """Number of input variables."""
        return int(self.inputs[0].shape[1])

    def augmented(self) -> Trajectories:
        """States and inputs side by side, ``[x, u]`` per row, as one :class:`Trajectories`.

        For snapshot pairs the successors get the same inputs (``[y, u]``); those columns
        stand for no data and callers discard what they produce.
        """
        d = self.data
        blocks = tuple(np.hstack([np.asarray(x), u.astype(np.result_type(x.dtype, u.dtype))])
                       for x, u in zip(d.trajectories, self.inputs, strict=True))
        succ = None
        if d.is_pairs:
            succ = tuple(np.hstack([np.asarray(y), u.astype(np.result_type(y.dtype, u.dtype))])
                         for y, u in zip(d.successors, self.inputs, strict=True))
        return Trajectories(blocks, succ, d.dt, None)

    def input_pairs(self, n_lags: int = 0) -> np.ndarray:
        """The input of every snapshot pair, in the order of :meth:`Trajectories.pairs`."""
        d = self.data
        if d.is_pairs:
            return np.concatenate(self.inputs, axis=0)
        parts = [u[n_lags : t.shape[0] - 1] for t, u in
                 zip(d.trajectories, self.inputs, strict=True) if t.shape[0] - 1 - n_lags > 0]
        if not parts:
            raise ValueError(
                f"No snapshot pairs: every trajectory is shorter than {n_lags + 2} samples."
            )
        return np.concatenate(parts, axis=0)


def _input_rows_error(name: str, k: int, n: int, pairs: bool, where: str) -> ValueError:
    if pairs:
        return ValueError(
            f"u{where} has {k} row(s) but {name}{where} has {n} snapshot pair(s); pass one "
            "input row per pair."
        )
    return ValueError(
        f"u{where} has {k} row(s) but {name}{where} has {n} sample(s); pass {n - 1} rows (one "
        f"input per transition x_k -> x_k+1) or {n} (one per sample; the last is unused)."
    )


def _split_input_variables(X: object, u: object, name: str):
    """``u`` as names of data variables of an xarray Dataset ``X``: split them off."""
    import xarray as xr

    names = [u] if isinstance(u, str) else list(u)
    if not isinstance(X, xr.Dataset):
        raise TypeError(
            f"u={u!r} names input variables, which needs {name} to be an xarray Dataset; "
            f"got {type(X).__name__}. Pass the inputs as an array instead."
        )
    missing = [v for v in names if v not in X.data_vars]
    if missing:
        raise ValueError(
            f"u names {missing}, which are not data variables of {name} "
            f"(it has {list(X.data_vars)})."
        )
    state = X.drop_vars(names)
    if not state.data_vars:
        raise ValueError(f"u takes every data variable of {name}; no state variables are left.")
    return state, X[names]


def as_controlled_trajectories(
    X: object,
    y: object = None,
    *,
    u: object,
    dt: float | None = None,
    min_pairs: int = 1,
    name: str = "X",
) -> ControlledTrajectories:
    """Validate states and control inputs; return them as :class:`ControlledTrajectories`.

    Parameters
    ----------
    X : array-like, list of array-like, xarray.DataArray or xarray.Dataset
        States, in any form :func:`as_trajectories` accepts.
    y : array-like, optional
        Successors of ``X`` row by row (snapshot pairs).
    u : array-like, list of array-like, xarray object, str or list of str
        Inputs: an array ``(n_rows, n_inputs)`` (1-D: one input), a list with one array
        per trajectory, an xarray DataArray/Dataset with a ``time`` dimension, or the
        name(s) of data variables of ``X`` (an xarray Dataset) that are inputs rather
        than states. For a trajectory of ``n`` samples, ``u`` has ``n - 1`` rows (one per
        transition, pykoopman's convention) or ``n`` (one per sample, the last unused);
        for snapshot pairs one row per pair.
    dt : float, optional
        Sampling interval.
    min_pairs : int
        Minimum number of snapshot pairs.
    name : str
        Name of ``X`` in error messages.

    Returns
    -------
    ControlledTrajectories
        Inputs stored one row per sample (per-transition inputs get their last row
        repeated, which no pair uses).

    Raises
    ------
    ValueError
        When ``u`` is missing, has the wrong number of rows or blocks, or holds NaN/inf.
    TypeError
        For non-numeric or complex inputs.

    Examples
    --------
    >>> import numpy as np
    >>> cd = as_controlled_trajectories(np.zeros((5, 2)), u=np.ones(4))
    >>> cd.n_inputs, cd.inputs[0].shape, cd.input_pairs().shape
    (1, (5, 1), (4, 1))
    """
    if u is None:
        raise ValueError(
            "u is None: this model learns how inputs drive the state; pass the inputs as "
            "u= (one row per transition or per sample)."
        )
    input_names = None
    if isinstance(u, str) or (isinstance(u, list | tuple) and u
                              and all(isinstance(v, str) for v in u)):
        X, u = _split_input_variables(X, u, name)
    data = as_trajectories(X, y, dt=dt, min_pairs=min_pairs, name=name)
    if _is_xarray(u):
        arrays, _, input_names, _ = _from_xarray(u, "u", lazy=False)
    elif isinstance(u, list | tuple) and len(u) and not _is_number_rows(u):
        arrays = list(u)
    else:
        arrays = [u]
    if len(arrays) != data.n_trajectories:
        raise ValueError(
            f"u has {len(arrays)} block(s) but {name} has {data.n_trajectories} "
            f"{'pair block(s)' if data.is_pairs else 'trajectories'}; pass one input "
            "array per trajectory, in the same order."
        )
    multi = len(arrays) > 1
    blocks = []
    n_inputs = None
    per_transition = False
    for i, (x, a) in enumerate(zip(data.trajectories, arrays, strict=True)):
        where = f"[{i}]" if multi else ""
        ub = check_array(a, name=f"u{where}")
        if n_inputs is None:
            n_inputs = ub.shape[1]
        elif ub.shape[1] != n_inputs:
            raise ValueError(
                f"Input blocks must share their number of inputs: u[0] has {n_inputs}, "
                f"u{where} has {ub.shape[1]}."
            )
        n = x.shape[0]
        k = ub.shape[0]
        if data.is_pairs:
            if k != n:
                raise _input_rows_error(name, k, n, True, where)
        elif k == n - 1:
            ub = np.vstack([ub, ub[-1:]]) if k else np.zeros((1, ub.shape[1]), ub.dtype)
            per_transition = True
        elif k != n:
            raise _input_rows_error(name, k, n, False, where)
        blocks.append(ub)
    return ControlledTrajectories(data, tuple(blocks), input_names, per_transition)


def _is_number_rows(u: Sequence) -> bool:
    """A Python list of numbers, or of lists of numbers: one array (as numpy reads it)."""
    return all(isinstance(v, numbers.Number) for v in u) or all(
        isinstance(v, list | tuple) and all(isinstance(e, numbers.Number) for e in v)
        for v in u)


def check_inputs(u: object, n_rows: int, n_inputs: int, *, name: str = "u",
                 what: str = "row of X") -> np.ndarray:
    """Validate the inputs of a prediction: ``n_rows`` rows of ``n_inputs`` numbers.

    Examples
    --------
    >>> check_inputs([0.5, -0.5], 2, 1).shape
    (2, 1)
    """
    if u is None:
        raise ValueError(
            f"u is None, but this model was fitted with {n_inputs} input(s); pass u with "
            f"one row per {what} (shape ({n_rows}, {n_inputs}))."
        )
    arr = np.asarray(u) if not _is_xarray(u) else u
    if n_inputs > 1 and getattr(arr, "ndim", 0) == 1 and arr.shape[0] == n_inputs and (
            n_rows == 1):
        arr = arr.reshape(1, -1)
    out = check_array(arr, name=name, n_features=None, min_samples=0)
    if out.shape[1] != n_inputs:
        raise ValueError(
            f"{name} has {out.shape[1]} input column(s), but the model was fitted with "
            f"{n_inputs}."
        )
    if out.shape[0] != n_rows:
        raise ValueError(
            f"{name} has {out.shape[0]} row(s); pass one per {what} ({n_rows})."
        )
    return out
