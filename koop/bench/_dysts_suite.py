"""The dysts forecasting benchmark: Koopman models on every chaotic system of dysts."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

import numpy as np

from koop.bench._dysts_data import import_dysts, list_systems, make_dataset
from koop.bench._methods import ForecastMethod, MethodUnavailable, default_methods
from koop.bench._workers import run_isolated
from koop.metrics import rmse, smape, valid_prediction_time

__all__ = ["dysts_suite", "QUICK_SYSTEMS", "SMAPE_SCALE", "VPT_THRESHOLD"]

#: Systems of ``quick=True``: two classic flows, a hyperchaotic one and a delay system.
QUICK_SYSTEMS = ("Lorenz", "Rossler", "HyperRossler", "MackeyGlass")
#: sMAPE factor: 200, the dysts 2021 convention of the published baselines (range 0-200).
SMAPE_SCALE = 200.0
#: Valid prediction time: first step whose NRMSE (per-feature std of the history) > 0.4.
VPT_THRESHOLD = 0.4

_METHOD_VARS = ("smape", "vpt", "rmse", "fit_time", "predict_time", "residual_median",
                "residual_max", "verified_fraction", "n_modes")


def _protocol(quick: bool, n_periods, pts_per_period, tol) -> dict:
    if quick:
        base = dict(n_periods=12, pts_per_period=25, n_reference=300, tol=1e-9)
    else:
        base = dict(n_periods=12, pts_per_period=100, n_reference=1000, tol=1e-12)
    if n_periods is not None:
        base["n_periods"] = int(n_periods)
    if pts_per_period is not None:
        base["pts_per_period"] = int(pts_per_period)
    if tol is not None:
        base["tol"] = float(tol)
    return base


def _residual_stats(model, X_valid, tol: float) -> tuple[dict, str]:
    """ResDMD residual statistics of a fitted model on validation data."""
    try:
        from koop.validation import residuals
    except ImportError:
        return {}, "residuals: koop.validation.residuals not available"
    try:
        with np.errstate(all="ignore"):
            res = np.asarray(residuals(model, X=X_valid), dtype=float).ravel()
    except Exception as exc:  # a model outside the EDMD family, or bad numerics
        return {}, f"residuals: {type(exc).__name__}: {exc}"
    res = res[np.isfinite(res)]
    if res.size == 0:
        return {}, "residuals: none finite"
    return {"residual_median": float(np.median(res)), "residual_max": float(res.max()),
            "verified_fraction": float(np.mean(res <= tol)), "n_modes": float(res.size)}, ""


def _evaluate(method: ForecastMethod, data, variant, protocol, residual_tol) -> dict:
    rec = {"status": "ok", "reason": ""}
    sel = slice(0, 1) if variant == "univariate" else slice(None)
    test, train = data.test[:, sel], data.train[:, sel]
    n_total = test.shape[0]
    n_forecast = n_total // 6  # 2 of 12 periods: fit on 1000 points, forecast 200
    history, target = test[: n_total - n_forecast], test[n_total - n_forecast :]
    try:
        pred, model, to_model_space, fit_time, predict_time = method.run(
            history, n_forecast, dt=data.dt, pts_per_period=protocol["pts_per_period"])
    except MethodUnavailable as exc:
        return {"status": "failed", "reason": str(exc)}
    except Exception as exc:
        return {"status": "failed", "reason": f"fit/forecast: {type(exc).__name__}: {exc}"}
    rec.update(fit_time=fit_time, predict_time=predict_time)
    if pred.shape != target.shape:
        return {**rec, "status": "failed",
                "reason": f"forecast has shape {pred.shape}, expected {target.shape}"}
    if not np.isfinite(pred).all():
        rec.update(status="diverged", reason="forecast overflowed to inf/NaN")
        pred = np.where(np.isfinite(pred), pred, np.inf)  # worst sMAPE term, not a NaN
    rec["smape"] = smape(target, pred, scale=SMAPE_SCALE)
    with np.errstate(all="ignore"):
        rec["rmse"] = rmse(target, np.where(np.isfinite(pred), pred, np.nan))
    lyap = data.lyapunov_exponent
    if np.isfinite(lyap) and lyap > 0:
        scale = np.where(history.std(0) > 0, history.std(0), 1.0)
        rec["vpt"] = valid_prediction_time(target, pred, dt=data.dt, lyapunov_exponent=lyap,
                                           threshold=VPT_THRESHOLD, scale=scale)
    stats, note = _residual_stats(model, to_model_space(train), residual_tol)
    rec.update(stats)
    if note:
        rec["reason"] = "; ".join(r for r in (rec["reason"], note) if r)
    return rec


def _run_system(name, variant, protocol, methods, integrator, time_limit, random_state,
                cache_dir, residual_tol) -> dict:
    out = {"system": name, "methods": {}}
    try:
        data = make_dataset(name, n_periods=protocol["n_periods"],
                            pts_per_period=protocol["pts_per_period"],
                            n_reference=protocol["n_reference"], method=integrator,
                            tol=protocol["tol"], time_limit=time_limit,
                            random_state=random_state, cache_dir=cache_dir)
    except Exception as exc:
        reason = f"data: {type(exc).__name__}: {exc}"
        out["data_reason"] = reason
        out["methods"] = {m.name: {"status": "failed", "reason": reason} for m in methods}
        return out
    out.update(lyapunov_exponent=data.lyapunov_exponent, dt=data.dt, period=data.period,
               n_features=data.train.shape[1], integrator=data.integrator,
               generation_time=data.generation_time, data_reason="")
    for m in methods:
        try:
            out["methods"][m.name] = _evaluate(m, data, variant, protocol, residual_tol)
        except Exception as exc:  # never let one method stop the sweep
            out["methods"][m.name] = {
                "status": "failed",
                "reason": f"{type(exc).__name__}: {exc} "
                          f"({traceback.format_exc(limit=1).splitlines()[-1]})"}
    return out


def _warm_up(methods, variant, protocol) -> None:
    """Fit every method once on a small series, so numba compiles before any timing."""
    n = protocol["n_periods"] * protocol["pts_per_period"]
    t = np.arange(n) * 2 * np.pi / protocol["pts_per_period"]
    X = np.column_stack([np.sin(t), np.cos(1.3 * t), np.sin(0.7 * t)])
    X = X[:, :1] if variant == "univariate" else X
    for m in methods:
        if not m.warm_up:
            continue
        try:
            m.run(X[: n - n // 6], 5, dt=0.1, pts_per_period=protocol["pts_per_period"])
        except Exception:  # the real run records the failure and its reason
            pass


class _SystemTask:
    """``_run_system`` with the sweep's fixed arguments (picklable for worker processes)."""

    def __init__(self, args):
        self.args = args

    def __call__(self, name):
        return _run_system(name, *self.args)


class _WarmUp:
    def __init__(self, methods, variant, protocol):
        self.methods, self.variant, self.protocol = methods, variant, protocol

    def __call__(self):
        import_dysts()  # seconds of imports (gluonts, pandas) outside any system's timer
        _warm_up(self.methods, self.variant, self.protocol)


def _run_all(names, args, n_jobs, timeout, progress):
    """Run systems inline (timeout None, n_jobs 1) or in worker processes with a limit."""
    warm = _WarmUp(args[2], args[0], args[1])
    if n_jobs == 1 and timeout is None:
        warm()
        results = []
        for name in names:
            results.append(_run_system(name, *args))
            progress(results[-1])
        return results

    def on_result(name, res):
        if "crash" in res:
            res.update(_crash_record(name, res["crash"], args[2]))
        progress(res)

    return run_isolated(_SystemTask(args), list(names), init=warm, n_jobs=n_jobs,
                        timeout=timeout, on_result=on_result)


def _crash_record(name, reason, methods) -> dict:
    return {"system": name, "data_reason": reason,
            "methods": {m.name: {"status": "failed", "reason": reason} for m in methods}}


def _to_dataset(results, method_names, attrs):
    import xarray as xr

    systems = [r["system"] for r in results]
    shape = (len(systems), len(method_names))
    data_vars = {v: (("system", "model"), np.full(shape, np.nan)) for v in _METHOD_VARS}
    status = np.full(shape, "failed", dtype=object)
    reason = np.full(shape, "", dtype=object)
    for i, r in enumerate(results):
        for j, m in enumerate(method_names):
            rec = r["methods"].get(m, {"status": "failed", "reason": "not run"})
            status[i, j], reason[i, j] = rec["status"], rec.get("reason", "")
            for v in _METHOD_VARS:
                if v in rec:
                    data_vars[v][1][i, j] = rec[v]
    data_vars["status"] = (("system", "model"), status.astype(str))
    data_vars["reason"] = (("system", "model"), reason.astype(str))
    for v, default in (("lyapunov_exponent", np.nan), ("dt", np.nan), ("period", np.nan),
                       ("n_features", np.nan), ("generation_time", np.nan)):
        data_vars[v] = (("system",), np.array([r.get(v, default) for r in results], float))
    for v in ("integrator", "data_reason"):
        data_vars[v] = (("system",), np.array([str(r.get(v, "")) for r in results]))
    ds = xr.Dataset(data_vars, coords={"system": systems, "model": list(method_names)},
                    attrs=attrs)
    units = {"smape": f"percent, 0-{SMAPE_SCALE:g} scale (dysts 2021: 200 mean(|x-y|/(|x|+|y|)))",
             "vpt": "Lyapunov times", "fit_time": "s", "predict_time": "s",
             "generation_time": "s", "rmse": "data units"}
    for v, u in units.items():
        ds[v].attrs["units"] = u
    return ds


def dysts_suite(
    systems=None,
    *,
    quick: bool = False,
    variant: str = "univariate",
    methods=None,
    n_periods: int | None = None,
    pts_per_period: int | None = None,
    tol: float | None = None,
    integrator: str = "DOP853",
    time_limit: float = 120.0,
    timeout: float | None = None,
    n_jobs: int = 1,
    cache_dir: str | Path | None = None,
    random_state: int = 0,
    residual_tol: float = 0.1,
    verbose: bool = False,
):
    r"""Forecast every dysts chaotic system with Koopman models (the 2021 protocol).

    For each system: a train and a test trajectory of 12 periods x 100 points from
    separate initial conditions on the attractor (:mod:`koop.bench._dysts_data`); each
    method is fit on the first 1000 points of the test trajectory and forecasts the last
    200; the train trajectory is the held-out data on which the ResDMD residual of every
    eigenpair is computed (:func:`koop.validation.residuals`). Failures (integration,
    fit, a forecast that overflows) are recorded with their reason, never raised.

    Metrics: sMAPE on the dysts 2021 scale ``200 mean(|x-y|/(|x|+|y|))`` (0-200; halve it
    for dysts HEAD's 0-100 numbers) in the original units; valid prediction time in
    Lyapunov times (first step whose NRMSE, normalised by the per-feature std of the
    fitted history, exceeds 0.4; each system's own ``maximum_lyapunov_estimated``); RMSE;
    fit and forecast wall times; residual median, maximum, and the fraction of eigenpairs
    with residual <= ``residual_tol``.

    Parameters
    ----------
    systems : sequence of str, optional
        dysts flow names (default: all, or :data:`QUICK_SYSTEMS` when ``quick``).
    quick : bool
        Small data for tests and CI: 12 periods x 25 points, tolerance 1e-9.
    variant : {"univariate", "multivariate"}
        Forecast the first coordinate only (as the published univariate baselines), or
        the full state.
    methods : sequence of ForecastMethod, optional
        Default: EDMD, HankelDMD and HAVOK (:func:`koop.bench.default_methods`).
    n_periods, pts_per_period, tol : optional
        Override the protocol's trajectory length, density and integration tolerance.
    integrator : str
        ``"DOP853"`` (default, falls back to Radau on stiff systems) or ``"Radau"``
        (dysts' own integrator, much slower).
    time_limit : float
        Seconds allowed for integrating one system.
    timeout : float, optional
        Hard wall-clock limit per system (data and all methods). When set, or when
        ``n_jobs > 1``, systems run in spawned worker processes (the methods must then be
        picklable: module-level builders).
    n_jobs : int
        Systems run at once.
    cache_dir : path, optional
        Cache generated trajectories here (e.g. ``~/.cache/koop/dysts``).
    random_state : int
        Seed of the initial conditions.
    residual_tol : float
        Residual bound counted as verified in ``verified_fraction``.
    verbose : bool
        Print one line per system.

    Returns
    -------
    xarray.Dataset
        Dimensions ``system`` x ``model``: ``smape``, ``vpt``, ``rmse``, ``fit_time``,
        ``predict_time``, ``residual_median``, ``residual_max``, ``verified_fraction``,
        ``n_modes``, ``status`` ("ok" | "diverged" | "failed"), ``reason``; per system
        ``lyapunov_exponent``, ``dt``, ``period``, ``n_features``, ``integrator``,
        ``generation_time``, ``data_reason``. ``ds.to_dataframe()`` is the tidy table.

    Examples
    --------
    >>> ds = dysts_suite(["Lorenz"], quick=True)
    >>> ds["smape"].dims, sorted(ds["model"].values.tolist())
    (('system', 'model'), ['EDMD', 'HAVOK', 'HankelDMD'])
    >>> bool(((ds["smape"] >= 0) & (ds["smape"] <= 200)).all())
    True
    """
    import_dysts()
    if variant not in ("univariate", "multivariate"):
        raise ValueError(f"variant must be 'univariate' or 'multivariate', got {variant!r}.")
    if int(n_jobs) != n_jobs or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, got {n_jobs!r}.")
    protocol = _protocol(quick, n_periods, pts_per_period, tol)
    if protocol["n_periods"] * protocol["pts_per_period"] < 60:
        raise ValueError("n_periods * pts_per_period must be at least 60 samples.")
    available = list_systems()
    if systems is None:
        names = list(QUICK_SYSTEMS) if quick else available
    else:
        names = [systems] if isinstance(systems, str) else list(systems)
        unknown = [s for s in names if s not in available]
        if unknown:
            raise ValueError(f"unknown dysts system(s) {unknown}; choose from "
                             f"{', '.join(available[:5])}, ... (koop.bench.list_systems()).")
    if methods is None:
        methods = default_methods(variant, protocol["pts_per_period"])
    method_names = [m.name for m in methods]
    if len(set(method_names)) != len(method_names):
        raise ValueError(f"method names must be unique, got {method_names}.")
    args = (variant, protocol, list(methods), integrator, float(time_limit), int(random_state),
            cache_dir, float(residual_tol))

    done = []

    def progress(res):
        done.append(res)
        if verbose:
            parts = [f"{k}={v.get('smape', np.nan):.1f}" if v["status"] != "failed"
                     else f"{k}=failed" for k, v in res["methods"].items()]
            print(f"[{len(done)}/{len(names)}] {res['system']}: {' '.join(parts)}", flush=True)

    n_total = protocol["n_periods"] * protocol["pts_per_period"]
    start = time.monotonic()
    results = _run_all(names, args, int(n_jobs), timeout, progress)
    from importlib.metadata import PackageNotFoundError, version

    try:
        dysts_version = version("dysts")
    except PackageNotFoundError:  # pragma: no cover - a source checkout of dysts
        dysts_version = "unknown"
    attrs = {
        "title": "koop dysts forecasting benchmark",
        "protocol": "Gilpin 2021: separate train/test trajectories of "
                    f"{protocol['n_periods']} periods x {protocol['pts_per_period']} points; "
                    "fit on the first 5/6 of the test trajectory, forecast the last 1/6",
        "variant": variant,
        "n_fit": n_total - n_total // 6,
        "n_forecast": n_total // 6,
        "smape_scale": SMAPE_SCALE,
        "vpt_criterion": f"first step with NRMSE > {VPT_THRESHOLD} (per-feature std of the "
                         "history), in Lyapunov times",
        "residual_tol": float(residual_tol),
        "integrator": f"{integrator} rtol=atol={protocol['tol']:g} (Radau fallback)",
        "dysts_version": dysts_version,
        "random_state": int(random_state),
        "wall_time_s": float(time.monotonic() - start),
        "quick": int(bool(quick)),
    }
    from koop import __version__

    attrs["koop_version"] = __version__
    return _to_dataset(results, method_names, attrs)
