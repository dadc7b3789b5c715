"""What ``koop demo`` and ``koop analyze`` do with one fitted model: tables, figures, files.

Residuals, pseudospectra and the validation report come from :mod:`koop.validation`;
models that keep neither Gram matrices nor a QR factor (HAVOK) have none, and the
report says so.
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np

from koop._cli._report import Report, eigenvalue_table

__all__ = ["describe_model", "step", "validation_report"]


@contextmanager
def step(label: str, verbose: bool):
    """Print what runs and how long it took (the long steps also show tqdm bars)."""
    t0 = time.perf_counter()
    if verbose:
        print(f"[koop] {label} ...", flush=True)
    yield
    if verbose:
        print(f"[koop] {label}: {time.perf_counter() - t0:.1f} s", flush=True)


def _has_residuals(model: Any) -> bool:
    """Whether the model keeps what residuals need (Gram matrices or a QR factor)."""
    return model.model_.residual_source is not None


def model_residuals(model: Any, X: Any = None) -> np.ndarray | None:
    """Residual bound per eigenpair: the model's own, else computed on ``X`` (held-out
    data) or, without ``X``, from the model's Gram matrices; None for models without."""
    res = getattr(model, "residuals_", None)
    if res is not None:
        return np.asarray(res, dtype=float)
    if not _has_residuals(model):
        return None
    from koop.validation import residuals

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return residuals(model, X)


def _pseudospectrum_grid(model: Any, n_grid: int, verbose: bool):
    """tau(z) on a square grid around the unit disc (:func:`koop.validation.pseudospectrum`)."""
    if not _has_residuals(model):
        return None
    from koop.validation import pseudospectrum

    x = np.linspace(-1.3, 1.3, n_grid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pseudospectrum(model, (x, x), verbose=verbose)


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
    layout = getattr(model, "field_", None)
    if layout is not None and figures:
        _field_mode_figures(report, model, res, save_prefix)
    elif X_test is not None and figures:
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
        summary.update(_forecast(report, model, X_test, dt, save_prefix, feature_names,
                                 figure=layout is None))
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


def _field_mode_figures(report: Report, model: Any, res: np.ndarray | None,
                        save_prefix: str, n_pairs: int = 3) -> None:
    """The leading oscillating modes of a field on its grid (real part and phase), each
    titled with its frequency and, when known, its residual."""
    from koop import plot

    if len(model.field_.dims) != 2:
        report.text(f"no mode figure: the field has {len(model.field_.dims)} spatial dims "
                    "(the figures draw 2-D fields).")
        return
    lam = np.asarray(model.eigenvalues_)
    # the oscillating modes (one per conjugate pair) that carry most of the field:
    # |b_j| ||xi_j|| with the amplitudes of a DMD, else ||xi_j|| (unit-norm eigenfunctions)
    weight = np.linalg.norm(model.modes_, axis=0)
    if getattr(model, "amplitudes_", None) is not None:
        weight = weight * np.abs(model.amplitudes_)
    upper = [j for j in np.argsort(-weight, kind="stable") if lam[j].imag > 0]
    chosen = upper[:n_pairs] or list(range(min(n_pairs, lam.size)))
    for j in chosen:
        caption = f"mode {j}: lambda = {lam[j]:.4f}"
        if getattr(model, "dt_", None):
            caption += f", frequency {np.angle(lam[j]) / (2 * np.pi * model.dt_):.4g} per unit time"
        if res is not None:
            caption += f", residual {res[j]:.2e}"
        report.figure(plot.field_modes(model, [j]), f"{save_prefix}_mode{j}", caption)


def _forecast(report: Report, model: Any, X_test: np.ndarray, dt: float | None,
              save_prefix: str, feature_names: Any, figure: bool = True) -> dict:
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
    if report.figures and figure:
        from koop import plot

        report.figure(plot.forecast(truth, pred, dt=dt, feature_names=feature_names),
                      f"{save_prefix}_forecast", "Forecast (dashed) vs truth")
    return {"forecast_nrmse": float(err[:k].mean() / scale)}


def validation_report(report: Report, model: Any, X_test: Any, save_prefix: str,
                      verbose: bool, convergence: dict | None = None) -> Any:
    """koop.validation.report on held-out data (plus a convergence study when asked);
    print it, and write it as netCDF."""
    from koop import io
    from koop.validation import report as validate

    if not _has_residuals(model):
        report.text(f"no validation report for {type(model).__name__}: it keeps neither "
                    "Gram matrices nor a QR factor.")
        return None
    with step("validation report on held-out data", verbose), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = validate(model, X_test)
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

    from koop.validation import convergence_study

    settings = dict(settings)
    X = settings.pop("X")
    label = (f"convergence study: N in {settings.get('n_samples')}, dictionary size in "
             f"{settings.get('dictionary_sizes')}")
    with step(label, verbose), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conv = convergence_study(clone(model), X, verbose=verbose, **settings)
    rep = rep.with_convergence(conv, tol=float(settings.get("tol", 1e-2)))
    ds = rep.to_xarray()
    if report.figures:
        from koop import plot

        table = {"n_samples": ds["n_samples"].values}
        for m in ds["dictionary_size"].values:
            sel = ds.sel(dictionary_size=m)
            table[f"max residual, size {m:g}"] = sel["conv_max_residual"].values
        report.figure(plot.convergence(table, x="n_samples"), "convergence",
                      "Largest residual of the leading eigenpairs vs sample count, per "
                      "dictionary size")
    return rep
