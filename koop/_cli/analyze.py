"""``koop analyze FILE``: fit a Koopman model to a data file and write a report.

Reads ``.nc`` (netCDF, a ``time`` dimension), ``.csv`` (a header row; a ``time`` or ``t``
column is the time axis), ``.npy`` (an array ``(n_samples, n_features)``) and ``.npz``
(the array under ``X``/``x``/``data``, or the only array; optional ``t``/``time`` and
``dt`` entries). A netCDF variable with spatial dims after ``time`` (``(time, y, x)``,
``(time, lat, lon)``) is a *field*: it is fitted on its POD coordinates (DMD by default)
and the report draws the modes on the grid.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from koop.cli import CLIError

ESTIMATORS = ("edmd", "resdmd", "mpedmd", "kernel", "dmd", "hankel", "havok")
DICTIONARY_HELP = ("observables: identity, poly:DEGREE, rbf:N_CENTERS, fourier:N, "
                   "delay:N_DELAYS (default: poly:2 for edmd/resdmd/mpedmd, delay:50 for "
                   "hankel/havok; dmd and kernel take none)")


def _one_line_error(message: str) -> None:
    print(f"koop analyze: error: {message} (see koop analyze --help)", file=sys.stderr)
    raise SystemExit(2)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.error = _one_line_error  # a bad option: one line, not the usage block
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Fit a Koopman model to a time series file and write a report folder\n"
        "(eigenvalues with residual bounds, figures, netCDF files, index.html).\n\n"
        "examples:\n"
        "  koop analyze data.csv --dt 0.01\n"
        "  koop analyze run.nc --estimator resdmd --dictionary rbf:200\n"
        "  koop analyze x.npy --dt 0.001 --estimator havok --dictionary delay:99 --rank 15"
    )
    parser.add_argument("file", help="data file: .nc, .csv, .npy or .npz")
    parser.add_argument("--dt", type=float, default=None,
                        help="sampling interval (default: from the file's time axis)")
    parser.add_argument("--estimator", choices=ESTIMATORS, default=None,
                        help="model to fit (default: edmd; dmd for a field)")
    parser.add_argument("--dictionary", default=None, metavar="SPEC", help=DICTIONARY_HELP)
    parser.add_argument("--rank", type=int, default=None,
                        help="truncation rank (default: none for edmd; 10 for hankel/havok; "
                             "'optimal' for dmd on a field)")
    parser.add_argument("--pod-rank", type=int, default=20,
                        help="a field: POD coordinates the other estimators run on "
                             "(default: %(default)s)")
    parser.add_argument("--variables", default=None,
                        help="comma-separated columns / netCDF variables to use (default: all)")
    parser.add_argument("--test-fraction", type=float, default=0.2,
                        help="trailing fraction held out for forecasts (default: %(default)s)")
    parser.add_argument("--out", default="koop-report",
                        help="report folder (default: %(default)s)")
    parser.add_argument("--no-figures", action="store_true",
                        help="tables and data files only (faster; no matplotlib)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


# -- reading files --------------------------------------------------------------------
def _dt_from_axis(t: np.ndarray, where: str) -> float:
    steps = np.diff(np.asarray(t, dtype=float))
    if steps.size == 0:
        raise CLIError(f"the time axis in {where} has a single sample.")
    step = float(np.median(steps))
    if step <= 0 or not np.allclose(steps, step, rtol=1e-6, atol=1e-12 * abs(step)):
        raise CLIError(f"the time axis in {where} is not uniformly increasing; resample it "
                       "or drop it and pass --dt.")
    return step


def _select(names: list[str], wanted: str | None, where: str) -> list[int]:
    if not wanted:
        return list(range(len(names)))
    idx = []
    for w in (s.strip() for s in wanted.split(",") if s.strip()):
        if w not in names:
            raise CLIError(f"no variable {w!r} in {where} (has: {', '.join(names)}).")
        idx.append(names.index(w))
    return idx


def _read_csv(path: Path, variables: str | None):
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
    if not header.strip():
        raise CLIError(f"{path} is empty.")
    delimiter = ";" if header.count(";") > header.count(",") else ","
    cells = [c.strip().strip('"') for c in header.strip().split(delimiter)]
    has_header = any(_not_number(c) for c in cells)
    try:
        data = np.loadtxt(path, delimiter=delimiter, skiprows=int(has_header), ndmin=2)
    except ValueError as exc:
        raise CLIError(f"{path} has non-numeric values ({exc}).") from None
    names = cells if has_header else [f"x{i}" for i in range(data.shape[1])]
    if len(names) != data.shape[1]:
        raise CLIError(f"{path}: the header has {len(names)} names for {data.shape[1]} columns.")
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
                raise CLIError(f"{path} holds arrays {files}; name the data 'X' (and the "
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
        raise CLIError(f"cannot read {path} as netCDF ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}).{hint}") from None
    names = [str(n) for n, v in ds.data_vars.items() if "time" in v.dims]
    if not names:
        raise CLIError(f"{path} has no variable with a 'time' dimension.")
    keep = [names[i] for i in _select(names, variables, str(path))]
    from koop._fields import is_field

    fields = [n for n in keep if is_field(ds[n])]
    if fields:
        if len(keep) > 1:
            raise CLIError(f"{path} holds the field(s) {', '.join(fields)} among "
                           f"{', '.join(keep)}; pick one with --variables NAME.")
        return ds[keep[0]]
    return ds[keep]


def load_data(path_str: str, dt: float | None, variables: str | None):
    """Return (trajectory array (n, d), dt or None, feature names)."""
    from koop.data import as_trajectories

    path = Path(path_str)
    if not path.exists():
        raise CLIError(f"no such file: {path}")
    if path.is_dir():
        raise CLIError(f"{path} is a folder; pass a data file.")
    suffix = path.suffix.lower()
    t = None
    file_dt = None
    names = None
    try:
        if suffix == ".csv":
            X, names, t = _read_csv(path, variables)
        elif suffix in (".npy", ".npz") and variables:
            raise CLIError("--variables selects named columns of .csv and .nc files; slice "
                           f"the array in {path.name} instead.")
        elif suffix == ".npy":
            X = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            X, t, file_dt = _read_npz(path, variables)
        elif suffix in (".nc", ".nc4", ".netcdf", ".cdf"):
            X = _read_netcdf(path, variables)
        else:
            raise CLIError(f"unsupported file type {suffix or '(none)'!r}; use .nc, .csv, "
                           ".npy or .npz.")
    except CLIError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise CLIError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if t is not None:
        file_dt = _dt_from_axis(t, str(path))
    if dt is not None and file_dt is not None and not np.isclose(dt, file_dt, rtol=1e-6):
        raise CLIError(f"--dt {dt} disagrees with the file's time step {file_dt:g}.")
    try:
        data = as_trajectories(X, dt=dt if dt is not None else file_dt, name=path.name,
                               min_pairs=10)
    except (TypeError, ValueError) as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    if data.n_trajectories != 1:
        raise CLIError(f"{path} holds {data.n_trajectories} trajectories; koop analyze "
                       "takes one (select it first).")
    if data.layout is not None:  # a field: keep it labelled (the fit records its grid)
        return X, data.dt, None
    names = list(data.feature_names or names or [f"x{i}" for i in range(data.n_features)])
    return np.asarray(data.trajectories[0], dtype=np.float64), data.dt, names


# -- building the model ---------------------------------------------------------------
def parse_dictionary(spec: str | None, estimator: str):
    """``poly:3`` -> Polynomial(3), ``rbf:200`` -> RBF(200), ``delay:50``, ``fourier:100``,
    ``identity``. For hankel/havok returns the number of delays instead."""
    from koop.dictionaries import RBF, Identity, Polynomial, RandomFourier, TimeDelay

    delays_only = estimator in ("hankel", "havok")
    if spec is None:
        spec = "delay:50" if delays_only else "poly:2"
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "identity" and not arg:
        if delays_only:
            raise CLIError(f"--estimator {estimator} needs --dictionary delay:N.")
        return Identity()
    try:
        value = int(arg)
    except ValueError:
        raise CLIError(f"bad --dictionary {spec!r}: expected KIND:INTEGER, e.g. poly:3, "
                       "rbf:200, delay:50.") from None
    if value < 1:
        raise CLIError(f"bad --dictionary {spec!r}: the number must be >= 1.")
    if delays_only:
        if kind != "delay":
            raise CLIError(f"--estimator {estimator} uses delay coordinates: pass "
                           "--dictionary delay:N.")
        return value
    makers = {"poly": lambda n: Polynomial(degree=n), "rbf": lambda n: RBF(n, random_state=0),
              "fourier": lambda n: RandomFourier(n, random_state=0),
              "delay": lambda n: TimeDelay(n_delays=n)}
    if kind not in makers:
        raise CLIError(f"bad --dictionary kind {kind!r}; use identity, poly, rbf, fourier "
                       "or delay.")
    return makers[kind](value)


_KERNEL_CENTERS = 300


def build_estimator(name: str, dictionary: Any, rank: int | None, *,
                    pod_rank: int | None = None) -> Any:
    """The estimator of ``--estimator``; with ``pod_rank`` (a field) the EDMD family runs
    on that many POD coordinates, and the residual estimators use the two-split scheme
    (first half of the snapshots for the POD basis, second half for the residuals)."""
    import koop.estimators as est
    from koop.dictionaries import POD

    if pod_rank is not None and name != "dmd":
        model = build_estimator(name, dictionary, rank)
        split = 0.5 if name in ("resdmd", "mpedmd", "kernel") else None
        return model.set_params(reduce=POD(rank=pod_rank), reduce_split=split)
    if name == "dmd":
        return est.DMD(rank=rank)
    if name == "edmd":
        return est.EDMD(dictionary, rank=rank)
    cls = {"resdmd": "ResDMD", "mpedmd": "MPEDMD", "kernel": "KernelEDMD",
           "hankel": "HankelDMD", "havok": "HAVOK"}[name]
    if name in ("resdmd", "mpedmd"):
        return getattr(est, cls)(dictionary, rank=rank)
    if name == "kernel":  # Nystrom centers keep the kernel matrix small for long series
        return est.KernelEDMD(n_components=_KERNEL_CENTERS, rank=rank, random_state=0)
    return getattr(est, cls)(n_delays=dictionary, rank=rank or 10)


def run(args: argparse.Namespace) -> int:
    from koop._cli._pipeline import describe_model, validation_report
    from koop._cli._report import Report

    verbose = not args.quiet
    if args.rank is not None and args.rank < 1:
        raise CLIError("--rank must be >= 1.")
    if args.dt is not None and not (np.isfinite(args.dt) and args.dt > 0):
        raise CLIError("--dt must be a positive number.")
    if not 0 <= args.test_fraction < 0.9:
        raise CLIError("--test-fraction must be in [0, 0.9).")
    if args.pod_rank < 1:
        raise CLIError("--pod-rank must be >= 1.")
    X, dt, names = load_data(args.file, args.dt, args.variables)
    if names is None:  # a labelled field
        return _run_field(args, X, dt)
    args.estimator = args.estimator or "edmd"
    if args.estimator in ("dmd", "kernel") and args.dictionary is not None:
        raise CLIError(f"--estimator {args.estimator} builds its own observables; drop "
                       "--dictionary (or use --estimator edmd).")
    dictionary = parse_dictionary(args.dictionary, args.estimator)
    n_test = int(len(X) * args.test_fraction)
    X_train, X_test = (X[:-n_test], X[-n_test:]) if n_test > 10 else (X, None)
    model = build_estimator(args.estimator, dictionary, args.rank)
    if args.estimator == "kernel":
        model.set_params(n_components=min(_KERNEL_CENTERS, len(X_train) - 1))
    prefix = args.estimator
    report = Report(args.out, f"koop analyze {Path(args.file).name}", verbose=verbose,
                    figures=not args.no_figures)
    report.section(f"{type(model).__name__} on {Path(args.file).name}")
    report.text(f"{len(X)} samples of {X.shape[1]} variable(s) ({', '.join(names)}), "
                f"dt = {dt if dt is not None else 'unknown (pass --dt)'}; "
                f"{len(X_train)} for fitting, {0 if X_test is None else len(X_test)} held out.")
    _fit(model, X_train, dt, report, verbose)
    report.summary["model"] = describe_model(
        report, model, name=type(model).__name__, X_test=X_test, dt=dt, save_prefix=prefix,
        verbose=verbose, feature_names=names)
    if args.estimator == "havok" and report.figures:
        from koop import plot

        report.figure(plot.havok_forcing(model), f"{prefix}_forcing",
                      "HAVOK forcing v_r; shaded where active")
    if X_test is not None and hasattr(model, "gram_"):
        validation_report(report, model, X_test, prefix, verbose)
    report.write()
    return 0


def _fit(model: Any, X: Any, dt: float | None, report: Any, verbose: bool) -> None:
    """Fit with the CLI's error handling; warnings become report notes."""
    from koop._cli._pipeline import step

    with step(f"fit {type(model).__name__}", verbose), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            model.fit(X, dt=dt)
        except MemoryError:
            raise CLIError("not enough memory for this model; use a smaller --dictionary or "
                           "--rank, or fewer samples.") from None
        except (ValueError, TypeError, ArithmeticError, RuntimeError) as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CLIError(f"fitting failed: {text}") from None
    for message in dict.fromkeys(str(item.message) for item in w):
        report.text(f"note: {message}")


def _run_field(args: argparse.Namespace, da: Any, dt: float | None) -> int:
    """``koop analyze`` on a labelled field: POD coordinates, modes on the grid."""
    from koop._cli._pipeline import describe_model, validation_report
    from koop._cli._report import Report

    verbose = not args.quiet
    name = args.estimator or "dmd"
    if name in ("hankel", "havok") and args.dictionary is None:
        args.dictionary = "delay:4"  # a few delays of the POD coordinates
    if name == "dmd" and args.dictionary is not None:
        raise CLIError("--estimator dmd builds its own observables; drop --dictionary.")
    dictionary = None if name in ("dmd", "kernel") else parse_dictionary(
        args.dictionary or "identity", name)
    n = da.sizes["time"]
    n_test = int(n * args.test_fraction)
    train, test = (da.isel(time=slice(0, n - n_test)), da.isel(time=slice(n - n_test, None))) \
        if n_test > 10 else (da, None)
    rank = args.rank if args.rank is not None else ("optimal" if name == "dmd" else None)
    model = build_estimator(name, dictionary, rank, pod_rank=args.pod_rank)
    if name == "kernel":
        model.set_params(n_components=min(_KERNEL_CENTERS, train.sizes["time"] // 2 - 1))
    spatial = [d for d in da.dims if d != "time"]
    shape = " x ".join(f"{da.sizes[d]} {d}" for d in spatial)
    report = Report(args.out, f"koop analyze {Path(args.file).name}", verbose=verbose,
                    figures=not args.no_figures)
    report.section(f"{type(model).__name__} on the field {da.name or ''} of "
                   f"{Path(args.file).name}")
    reduced = "" if name == "dmd" else (f" on {args.pod_rank} POD coordinates"
                                         + (" (two-split: first half of the snapshots for "
                                            "the POD basis, second half for the operator "
                                            "and its residuals)"
                                            if model.get_params().get("reduce_split") else ""))
    report.text(f"{n} snapshots of a field on a {shape} grid, dt = "
                f"{dt if dt is not None else 'unknown (pass --dt)'}; "
                f"{train.sizes['time']} for fitting{reduced}, "
                f"{0 if test is None else test.sizes['time']} held out.")
    _fit(model, train, dt, report, verbose)
    masked = int((~model.field_.valid).sum())
    if masked:
        report.text(f"{masked} masked grid points (NaN at every time) dropped and restored.")
    from koop._fields import flatten_field

    X_test = None if test is None else flatten_field(test, model.field_, "the test part")
    report.summary["model"] = describe_model(
        report, model, name=type(model).__name__, X_test=X_test, dt=dt, save_prefix=name,
        verbose=verbose)
    if X_test is not None and model.model_.residual_source is not None:
        validation_report(report, model, X_test, name, verbose)
    report.write()
    return 0
