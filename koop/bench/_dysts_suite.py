"""The dysts forecasting benchmark: Koopman models on every chaotic system of dysts."""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

import numpy as np

from koop.bench._dysts_data import (
    check_systems,
    import_dysts,
    list_systems,
    make_dataset,
    system_facts,
)
from koop.bench._methods import default_methods, tuned_methods
from koop.bench._protocol import (
    SMAPE_SCALE,
    VPT_SMAPE_THRESHOLD,
    VPT_THRESHOLD,
    forecast,
    holdout,
    score,
)
from koop.bench._results import to_dataset
from koop.bench._tuning import DEFAULT_BUDGET, DEFAULT_ORIGINS, TuningError, tune
from koop.bench._workers import run_isolated

__all__ = ["dysts_suite", "chosen_params", "QUICK_SYSTEMS", "BEST"]

#: Systems of ``quick=True``: two classic flows, a hyperchaotic one and a delay system.
QUICK_SYSTEMS = ("Lorenz", "Rossler", "HyperRossler", "MackeyGlass")
#: Name of the per-system choice among the tuned methods by validation sMAPE.
BEST = "BestOfKoop"

_PROTOCOLS = ("standard", "long")
#: The tuning window: the standard protocol's 12 periods of the train trajectory.
_TUNE_PERIODS = 12


def _protocol(quick: bool, n_periods, pts_per_period, tol, horizon: str = "standard") -> dict:
    if quick:
        base = dict(n_periods=12, pts_per_period=25, n_reference=300, tol=1e-9)
    else:
        base = dict(n_periods=12, pts_per_period=100, n_reference=1000, tol=1e-12)
    if horizon == "long":
        base["n_periods"] = 60
    if n_periods is not None:
        base["n_periods"] = int(n_periods)
    if pts_per_period is not None:
        base["pts_per_period"] = int(pts_per_period)
    if tol is not None:
        base["tol"] = float(tol)
    n = base["n_periods"] * base["pts_per_period"]
    if horizon == "long":  # fit on the first sixth, forecast the rest (dysts "long")
        base["origin"] = n // 6
    else:  # fit on the first 5/6, forecast the last sixth (Gilpin 2021)
        base["origin"] = n - n // 6
    base["horizon"] = n - base["origin"]
    base["name"] = horizon
    return base


def blas_description() -> str:
    """The BLAS kernels in use (they decide the last bits of the integration, so the
    initial conditions: see docs/dysts_benchmark.md) and the OpenBLAS variables."""
    import os

    import scipy.linalg  # noqa: F401  (loads scipy's own OpenBLAS, to list it too)
    from threadpoolctl import threadpool_info

    libs = sorted({f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                   for i in threadpool_info() if i.get("user_api") == "blas"})
    env = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
           if k in os.environ]
    return "; ".join(libs) + (f" ({', '.join(env)})" if env else "")


def _residual_stats(model, X_valid, tol: float) -> tuple[dict, str]:
    """ResDMD residual statistics of a fitted model on held-out data."""
    from koop.validation import residuals

    if not (hasattr(model, "gram_") or hasattr(model, "factor_")):
        return {}, (f"residuals: {type(model).__name__} keeps no Gram matrices or QR "
                    "factor")
    try:
        with np.errstate(all="ignore"):
            res = np.asarray(residuals(model, X=X_valid), dtype=float).ravel()
    except (ValueError, np.linalg.LinAlgError) as exc:  # e.g. a held-out set too short
        return {}, f"residuals: {type(exc).__name__}: {exc}"
    res = res[np.isfinite(res)]
    if res.size == 0:
        return {}, "residuals: none finite"
    return {"residual_median": float(np.median(res)), "residual_max": float(res.max()),
            "verified_fraction": float(np.mean(res <= tol)), "n_modes": float(res.size)}, ""


def _evaluate(method, data, variant, protocol, settings) -> dict:
    rec = {"status": "ok", "reason": ""}
    sel = slice(0, 1) if variant == "univariate" else slice(None)
    test, train = data.test[:, sel], data.train[:, sel]
    ppp = protocol["pts_per_period"]
    params = None
    chosen = settings.get("chosen", {}).get((data.name, method.name))
    if chosen is not None:  # hyperparameters chosen by an earlier run's tuning
        params, val = chosen
        rec.update(val_smape=val, tune_time=0.0, n_tried=0, params=json.dumps(params))
    elif settings["tune"] and method.space is not None:
        n_tune = _TUNE_PERIODS * ppp
        try:
            tuned = tune(method, train[:n_tune], pts_per_period=ppp, dt=data.dt,
                         horizon=n_tune // 6, origins=settings["origins"],
                         budget=settings["budget"])
        except TuningError as exc:
            return {"status": "failed", "reason": f"tuning: {exc}"}
        params = tuned.params
        rec.update(val_smape=tuned.score, tune_time=tuned.time, n_tried=tuned.n_tried,
                   params=json.dumps(params))
    history, target = holdout(test, protocol["horizon"], protocol["origin"])
    try:
        out = forecast(method, history, protocol["horizon"], params, pts_per_period=ppp,
                       dt=data.dt)
    except Exception as exc:
        return {**rec, "status": "failed",
                "reason": f"fit/forecast: {type(exc).__name__}: {exc}"}
    rec.update(fit_time=out.fit_time, predict_time=out.predict_time)
    pred = out.prediction
    if pred.shape != target.shape:
        return {**rec, "status": "failed",
                "reason": f"forecast has shape {pred.shape}, expected {target.shape}"}
    if not np.isfinite(pred).all():
        rec.update(status="diverged", reason="forecast overflowed to inf/NaN")
    rec.update(score(target, pred, history=history, dt=data.dt,
                     lyapunov_exponent=data.lyapunov_exponent))
    stats, note = _residual_stats(out.model, out.to_model_space(train), settings["res_tol"])
    rec.update(stats)
    if note:
        rec["reason"] = "; ".join(r for r in (rec["reason"], note) if r)
    return rec


def chosen_params(results) -> dict:
    """``{(system, method): (params, validation sMAPE)}`` from a tuned run's results.

    Parameters
    ----------
    results : xarray.Dataset or path
        The output of a tuned :func:`dysts_suite` (or its ``results.nc``).

    Returns
    -------
    dict
        For every (system, method) whose tuning succeeded; ``BestOfKoop`` is left out (it
        is recomputed from the validation scores).
    """
    import xarray as xr

    ds = results if isinstance(results, xr.Dataset) else xr.load_dataset(results)
    if "params" not in ds:
        raise ValueError("these results hold no tuned hyperparameters (a run with "
                         "tune=False, or an older format).")
    out = {}
    for system in ds["system"].values:
        for model in ds["model"].values:
            if model == BEST:
                continue
            cell = ds.sel(system=system, model=model)
            text = str(cell["params"].values)
            if text and str(cell["status"].values) != "failed":
                out[(str(system), str(model))] = (json.loads(text),
                                                  float(cell["val_smape"].values))
    return out


def _best_of(records: dict, tuned_names: list[str]) -> dict:
    """The tuned method with the lowest validation sMAPE on this system (ties: first)."""
    best, best_val = None, np.inf
    for name in tuned_names:
        val = records.get(name, {}).get("val_smape", np.nan)
        if records.get(name, {}).get("status") != "failed" and val < best_val:
            best, best_val = name, val
    if best is None:
        return {"status": "failed", "reason": "no tuned method has a validation score"}
    chosen = dict(records[best])
    chosen["reason"] = "; ".join(r for r in (f"chose {best}", chosen.get("reason", "")) if r)
    chosen["params"] = json.dumps({"method": best, **json.loads(chosen.get("params", "{}"))})
    return chosen


def _run_system(name, variant, protocol, methods, integrator, time_limit, random_state,
                cache_dir, settings) -> dict:
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
               generation_time=data.generation_time, rhs_evaluations=data.rhs_evaluations,
               data_reason="", **system_facts(name))
    for m in methods:
        try:
            out["methods"][m.name] = _evaluate(m, data, variant, protocol, settings)
        except Exception as exc:  # never let one method stop the sweep
            out["methods"][m.name] = {
                "status": "failed",
                "reason": f"{type(exc).__name__}: {exc} "
                          f"({traceback.format_exc(limit=1).splitlines()[-1]})"}
    tuned = [m.name for m in methods if (settings["tune"] and m.space is not None)
             or any(key[1] == m.name for key in settings.get("chosen", {}))]
    if settings["best"]:
        out["methods"][BEST] = _best_of(out["methods"], tuned)
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
            forecast(m, X[: n - n // 6], 5, pts_per_period=protocol["pts_per_period"],
                     dt=0.1)
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
        # Every import a system's task makes (dysts pulls in gluonts and pandas; the
        # estimators and residuals are imported lazily) happens here, before a worker's
        # clock starts: seconds on a loaded machine that no system's timeout should count.
        import koop.estimators
        import koop.validation  # noqa: F401

        import_dysts()
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


def dysts_suite(
    systems=None,
    *,
    quick: bool = False,
    variant: str = "univariate",
    horizon: str = "standard",
    methods=None,
    tune: bool = True,
    budget: int = DEFAULT_BUDGET,
    params_from=None,
    origins=DEFAULT_ORIGINS,
    n_periods: int | None = None,
    pts_per_period: int | None = None,
    tol: float | None = None,
    integrator: str = "auto",
    time_limit: float = 600.0,
    timeout: float | None = None,
    n_jobs: int = 1,
    cache_dir: str | Path | None = None,
    random_state: int = 0,
    residual_tol: float = 0.1,
    verbose: bool = False,
):
    r"""Forecast every dysts chaotic system with Koopman models (Gilpin's protocol).

    For each system: a train and a test trajectory from separate initial conditions on
    the attractor (:func:`koop.bench.make_dataset`). With ``tune`` (default), each
    method's hyperparameters are chosen per system on the **train** trajectory (its
    first 5/6 forecast its last sixth; :func:`koop.bench.tune`, ``budget`` candidates).
    Then each method is fit on the first 1000 points of the **test** trajectory and
    forecasts the last 200 (``horizon="long"``: 60 periods, fit on the first 1000,
    forecast 5000); the train trajectory is also the held-out data of the ResDMD
    residual of every eigenpair (:func:`koop.validation.residuals`). With tuning and two
    or more tuned methods, ``BestOfKoop`` is the method with the lowest validation sMAPE
    on each system. Failures (integration, tuning, fit, a forecast that overflows) are
    recorded with their reason, never raised.

    Metrics: sMAPE on the dysts 2021 scale ``200 mean(|x-y|/(|x|+|y|))`` (0-200; halve it
    for dysts HEAD's 0-100 numbers) in the original units; valid prediction times in
    Lyapunov times, by the NRMSE criterion (``vpt``: first step whose error, normalised
    by the per-feature std of the history, exceeds 0.4) and by the Gilpin lab's
    cumulative sMAPE criterion (``vpt_smape``: first step at which the sMAPE of the
    forecast so far exceeds 30), with each system's ``maximum_lyapunov_estimated``;
    RMSE; fit and forecast wall times; residual median, maximum, and the fraction of
    eigenpairs with residual <= ``residual_tol``.

    Parameters
    ----------
    systems : str or sequence of str, optional
        dysts flow names (default: all, or :data:`QUICK_SYSTEMS` when ``quick``).
    quick : bool
        Small data for tests and CI: 25 points per period, tolerance 1e-9.
    variant : {"univariate", "multivariate"}
        Forecast the first coordinate only (as the published univariate baselines), or
        the full state.
    horizon : {"standard", "long"}
        Forecast the last 2 of 12 periods, or 50 periods after the first 10 of 60.
    methods : sequence of ForecastMethod, optional
        Default: :func:`koop.bench.tuned_methods` with ``tune``, else
        :func:`koop.bench.default_methods` (EDMD, HankelDMD, HAVOK, untuned).
    tune : bool
        Choose hyperparameters per system on the train trajectory.
    budget : int
        Candidates tried per method and system (a count, so every machine makes the
        same choice; the time it took is ``tune_time``).
    params_from : xarray.Dataset or path, optional
        Results of an earlier tuned run (e.g. the standard horizon): each system and
        method takes the hyperparameters chosen there instead of tuning again, as
        Gilpin's long-horizon runs reuse the 12-period tuning.
    origins : sequence
        Validation forecast origins on the train trajectory (fractions or indices).
    n_periods, pts_per_period, tol : optional
        Override the protocol's trajectory length, density and integration tolerance.
    integrator : str
        ``"auto"`` (DOP853, Radau for stiff systems by a fixed rule; see
        :func:`koop.bench.make_dataset`) or a solve_ivp method used for every system.
    time_limit : float
        Seconds allowed for integrating one system (over it, the system fails).
    timeout : float, optional
        Hard wall-clock limit per system (data, tuning and all methods). When set, or
        when ``n_jobs > 1``, systems run in spawned worker processes (the methods must
        then be picklable: module-level builders).
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
        Dimensions ``system`` x ``model``: ``smape``, ``vpt``, ``vpt_smape``, ``rmse``,
        ``fit_time``, ``predict_time``, ``val_smape``, ``tune_time``, ``n_tried``,
        ``params`` (JSON of the chosen hyperparameters), ``residual_median``,
        ``residual_max``, ``verified_fraction``, ``n_modes``, ``status`` ("ok" |
        "diverged" | "failed"), ``reason``; per system ``lyapunov_exponent``, ``dt``,
        ``period``, ``n_features``, ``integrator``, ``rhs_evaluations``,
        ``generation_time``, ``data_reason``. ``ds.to_dataframe()`` is the tidy table.

    Examples
    --------
    >>> ds = dysts_suite(["Lorenz"], quick=True, tune=False)
    >>> ds["smape"].dims, sorted(ds["model"].values.tolist())
    (('system', 'model'), ['EDMD', 'HAVOK', 'HankelDMD'])
    >>> bool(((ds["smape"] >= 0) & (ds["smape"] <= 200)).all())
    True
    """
    import_dysts()
    if variant not in ("univariate", "multivariate"):
        raise ValueError(f"variant must be 'univariate' or 'multivariate', got {variant!r}.")
    if horizon not in _PROTOCOLS:
        raise ValueError(f"horizon must be one of {_PROTOCOLS}, got {horizon!r}.")
    if isinstance(n_jobs, bool) or int(n_jobs) != n_jobs or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, got {n_jobs!r}.")
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 0:
        raise ValueError(f"budget must be a non-negative integer, got {budget!r}.")
    protocol = _protocol(quick, n_periods, pts_per_period, tol, horizon)
    n_total = protocol["n_periods"] * protocol["pts_per_period"]
    if n_total < 60:
        raise ValueError("n_periods * pts_per_period must be at least 60 samples.")
    if tune and protocol["n_periods"] < _TUNE_PERIODS:
        raise ValueError(f"tuning uses the first {_TUNE_PERIODS} periods of the train "
                         f"trajectory; n_periods={protocol['n_periods']} is shorter "
                         "(pass tune=False).")
    if systems is None:
        names = list(QUICK_SYSTEMS) if quick else list_systems()
    else:
        names = check_systems(systems)
    if methods is None:
        methods = (tuned_methods if tune else default_methods)(variant,
                                                               protocol["pts_per_period"])
    method_names = [m.name for m in methods]
    if len(set(method_names)) != len(method_names) or BEST in method_names:
        raise ValueError(f"method names must be unique and not {BEST!r}, got "
                         f"{method_names}.")
    n_tuned = sum(m.space is not None for m in methods) if tune else 0
    chosen = {} if params_from is None else chosen_params(params_from)
    if chosen:
        n_tuned = len({key[1] for key in chosen} & set(method_names))
    settings = {"tune": bool(tune), "budget": int(budget), "origins": tuple(origins),
                "res_tol": float(residual_tol), "best": n_tuned >= 2, "chosen": chosen}
    if settings["best"]:
        method_names.append(BEST)
    args = (variant, protocol, list(methods), integrator, float(time_limit), int(random_state),
            cache_dir, settings)

    done = []

    def progress(res):
        done.append(res)
        if verbose:
            parts = [f"{k}={v.get('smape', np.nan):.1f}" if v["status"] != "failed"
                     else f"{k}=failed" for k, v in res["methods"].items()]
            print(f"[{len(done)}/{len(names)}] {res['system']}: {' '.join(parts)}", flush=True)

    start = time.monotonic()
    results = _run_all(names, args, int(n_jobs), timeout, progress)
    from importlib.metadata import PackageNotFoundError, version

    from koop import __version__

    try:
        dysts_version = version("dysts")
    except PackageNotFoundError:  # pragma: no cover - a source checkout of dysts
        dysts_version = "unknown"
    split = ("fit on the first 5/6 of the test trajectory, forecast the last 1/6"
             if horizon == "standard" else
             "fit on the first 1/6 of the test trajectory, forecast the remaining 5/6")
    attrs = {
        "title": "koop dysts forecasting benchmark",
        "protocol": f"Gilpin 2021 ({horizon}): separate train/test trajectories of "
                    f"{protocol['n_periods']} periods x {protocol['pts_per_period']} points; "
                    + split,
        "variant": variant,
        "horizon": horizon,
        "n_fit": protocol["origin"],
        "n_forecast": protocol["horizon"],
        "tuned": int(bool(tune)),
        "tuning": ("hyperparameters chosen by an earlier run's tuning" if chosen else
                   f"per system on the train trajectory's first {_TUNE_PERIODS} periods "
                   f"(5/6 split), origins {list(settings['origins'])}, budget "
                   f"{settings['budget']} candidates per method" if tune else "none"),
        "smape_scale": SMAPE_SCALE,
        "vpt_criterion": f"first step with NRMSE > {VPT_THRESHOLD} (per-feature std of the "
                         "history), in Lyapunov times",
        "vpt_smape_criterion": f"first step at which the sMAPE of the forecast so far "
                               f"exceeds {VPT_SMAPE_THRESHOLD:g}, in Lyapunov times",
        "residual_tol": float(residual_tol),
        "integrator": (f"{integrator} rtol=atol={protocol['tol']:g}"
                       + (" (DOP853; Radau over the evaluation cap)"
                          if integrator == "auto" else "")),
        "dysts_version": dysts_version,
        "random_state": int(random_state),
        "wall_time_s": float(time.monotonic() - start),
        "quick": int(bool(quick)),
        "koop_version": __version__,
        "blas": blas_description(),
    }
    return to_dataset(results, method_names, attrs)
