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
def load_data(path_str: str, dt: float | None, variables: str | None):
    """Return (trajectory array (n, d), dt or None, feature names) (koop.io.read_series);
    a labelled field comes back as its DataArray, with names None."""
    from koop.io import read_series

    try:
        return read_series(path_str, dt=dt, variables=variables, min_pairs=10, field=True)
    except (ValueError, TypeError, OSError) as exc:
        raise CLIError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


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
