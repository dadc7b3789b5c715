"""What ``koop demo`` and ``koop analyze`` do with one fitted model: tables, figures, files.

The validation tools (residuals, pseudospectra, reports) are used when the model and
this koop provide them; each step is optional so that a report is written for every
estimator.
"""

from __future__ import annotations

import importlib
import time
import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np

from koop._cli._report import Report, eigenvalue_table

__all__ = ["describe_model", "optional", "step"]


def optional(module: str, name: str) -> Any:
    """``module.name`` if this koop has it, else None."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


@contextmanager
def step(label: str, verbose: bool):
    """Print what runs and how long it took (the long steps also show tqdm bars)."""
    t0 = time.perf_counter()
    if verbose:
        print(f"[koop] {label} ...", flush=True)
    yield
    if verbose:
        print(f"[koop] {label}: {time.perf_counter() - t0:.1f} s", flush=True)


def model_residuals(model: Any, X: Any = None) -> np.ndarray | None:
    """Residual bound per eigenpair: the model's own, else computed on ``X`` (held-out
    data) or, without ``X``, from the model's Gram matrices."""
    res = getattr(model, "residuals_", None)
    if res is not None:
        return np.asarray(res, dtype=float)
    residuals = optional("koop.validation", "residuals")
    if residuals is None or not hasattr(model, "gram_"):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = residuals(model, X)
    except (TypeError, ValueError, NotImplementedError):
        return None
    out = np.asarray(getattr(out, "values", out), dtype=float).ravel()
    return out if out.shape == np.shape(model.eigenvalues_) else None


def _pseudospectrum_grid(model: Any, n_grid: int, verbose: bool):
    """tau(z) on a square grid around the unit disc (ResDMD's method, else validation's)."""
    method = getattr(model, "pseudospectrum", None)
    if method is None:
        function = optional("koop.validation", "pseudospectrum")
        if function is None or not hasattr(model, "gram_"):
            return None

        def method(grid, **kw):
            return function(model, grid, **kw)
    x = np.linspace(-1.3, 1.3, n_grid)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return method((x, x), verbose=verbose)
            except TypeError:
                return method((x, x))
    except (TypeError, ValueError, NotImplementedError):
        return None


def describe_model(report: Report, model: Any, *, name: str, X_test: np.ndarray | None,
                   dt: float | None, save_prefix: str, n_grid: int = 40,
                   tol: float = 0.05, verbose: bool = True, feature_names=None,
                   exact: str | None = None, forecast: bool = True,
                   coords: tuple = (0, 1)) -> dict:
    """Add a fitted model's spectrum, residuals, figures and files to the report."""
    from koop import io, plot

    summary: dict[str, Any] = {"estimator": type(model).__name__}
    lam = np.asarray(model.eigenvalues_)
    res = model_residuals(model, X_test)
    report.table(eigenvalue_table(lam, dt, res, exact=exact))
    summary["eigenvalues"] = lam[:10]
    if res is not None:
        n_ok = int(np.count_nonzero(res <= tol))
        report.text(f"{n_ok} of {res.size} eigenpairs have residual <= {tol:g} "
                    "(verified: the true spectrum has a point within that distance).")
        summary["residuals"] = res[:10]
        summary["n_verified"] = n_ok
    figures = report.figures
    if figures:
        report.figure(plot.spectrum(model, residuals=res, tol=tol if res is not None else None,
                                    title=f"{name}: spectrum"),
                      f"{save_prefix}_spectrum",
                      "Eigenvalues with the unit circle"
                      + (", coloured by residual bound (hollow: not verified)"
                         if res is not None else ""))
    if n_grid and res is not None and figures:
        with step(f"{name}: pseudospectrum on a {n_grid}x{n_grid} grid", verbose):
            ps = _pseudospectrum_grid(model, n_grid, verbose)
        if ps is not None:
            report.figure(plot.pseudospectrum(ps, eigenvalues=model,
                                              title=f"{name}: pseudospectrum"),
                          f"{save_prefix}_pseudospectrum",
                          "Contours of the smallest residual tau(z) = eps over the "
                          "dictionary span")
    if X_test is not None and figures:
        try:
            fig = plot.eigenfunctions(model, X_test[:4000], n=4, coords=coords,
                                      feature_names=feature_names)
            report.figure(fig, f"{save_prefix}_eigenfunctions",
                          "Leading eigenfunctions (real part) on test samples")
        except (ValueError, TypeError, AttributeError) as exc:
            report.text(f"no eigenfunction figure: {exc}")
        report.figure(plot.modes(model, feature_names=feature_names),
                      f"{save_prefix}_modes", "|Koopman modes| (feature x mode)")
    if X_test is not None and forecast:
        summary.update(_forecast(report, model, X_test, dt, save_prefix, feature_names))
    try:
        path = io.save(model, report.out / f"{save_prefix}_model.npz")
        report.file(path, "the fitted model (koop.io.load reads it back)")
    except TypeError as exc:
        report.text(f"model not saved: {exc}")
    spectrum = model.to_xarray()
    if feature_names is not None and len(feature_names) == spectrum.sizes["feature"]:
        spectrum = spectrum.assign_coords(feature=[str(n) for n in feature_names])
    if res is not None and "residual" not in spectrum:
        spectrum["residual"] = ("mode", res)
    path = io.to_netcdf(spectrum, report.out / f"{save_prefix}_spectrum.nc")
    report.file(path, "eigenvalues, residuals and modes (netCDF; koop.io.open_netcdf)")
    return summary


def _forecast(report: Report, model: Any, X_test: np.ndarray, dt: float | None,
              save_prefix: str, feature_names: Any) -> dict:
    """Simulate from the first held-out state; report the error and draw it."""
    lags = int(getattr(model, "n_lags_", 0))
    horizon = min(len(X_test) - lags - 1, 300)
    if horizon <= 5:
        return {}
    from koop.metrics import forecast

    pred = forecast(model, X_test, horizon, starts=[lags])[0]
    truth = X_test[lags + 1: lags + 1 + horizon]
    err = np.sqrt(np.mean((pred - truth) ** 2, axis=1))
    scale = float(np.sqrt(np.mean(np.var(X_test, axis=0)))) or 1.0
    k = min(horizon, 10)
    report.text(f"forecast from the first held-out state: RMSE / std {err[:k].mean() / scale:.3g}"
                f" over the first {k} steps, {err.mean() / scale:.3g} over {horizon} steps.")
    if report.figures:
        from koop import plot

        report.figure(plot.forecast(truth, pred, dt=dt, feature_names=feature_names),
                      f"{save_prefix}_forecast", "Forecast (dashed) vs truth")
    return {"forecast_nrmse": float(err[:k].mean() / scale)}


def validation_report(report: Report, model: Any, X_test: Any, save_prefix: str,
                      verbose: bool, convergence: dict | None = None) -> Any:
    """koop.validation.report on held-out data (plus a convergence study when asked);
    print it, and write it as netCDF."""
    make = optional("koop.validation", "report")
    if make is None:
        return None
    from koop import io

    with step("validation report on held-out data", verbose), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rep = make(model, X_test)
        except (TypeError, ValueError, NotImplementedError) as exc:
            report.text(f"no validation report for {type(model).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            return None
    if convergence is not None:
        rep = _with_convergence(report, rep, model, convergence, verbose)
    report.table(repr(rep))
    path = io.to_netcdf(rep.to_xarray(), report.out / f"{save_prefix}_validation.nc")
    report.file(path, "the ValidationReport (netCDF; koop.io.open_netcdf reads it)")
    return rep


def _with_convergence(report: Report, rep: Any, model: Any, settings: dict,
                      verbose: bool) -> Any:
    """Add a convergence study in sample count and dictionary size to the report."""
    from sklearn.base import clone

    from koop.validation import ValidationReport, convergence_study

    settings = dict(settings)
    X = settings.pop("X")
    label = (f"convergence study: N in {settings.get('n_samples')}, dictionary size in "
             f"{settings.get('dictionary_sizes')}")
    with step(label, verbose), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conv = convergence_study(clone(model), X, verbose=verbose, **settings)
    ds = rep.to_xarray()
    conv = conv.rename({"eigenvalue": "conv_eigenvalue", "residual": "conv_residual",
                        "mode": "conv_mode", "n_verified": "conv_n_verified",
                        "max_residual": "conv_max_residual"})
    ds = ds.merge(conv, combine_attrs="drop_conflicts")
    ds.attrs["conv_tol"] = float(settings.get("tol", 1e-2))
    if report.figures:
        from koop import plot

        table = {"n_samples": ds["n_samples"].values}
        for m in ds["dictionary_size"].values:
            sel = ds.sel(dictionary_size=m)
            table[f"max residual, size {m:g}"] = sel["conv_max_residual"].values
        report.figure(plot.convergence(table, x="n_samples"), "convergence",
                      "Largest residual of the leading eigenpairs vs sample count, per "
                      "dictionary size")
    return ValidationReport(ds)
