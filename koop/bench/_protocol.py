r"""The one forecasting protocol of the dysts benchmark: split, fit, forecast, score.

Every number the benchmark reports goes through these functions, for tuning (on the
train trajectory) and for the final score (on the test trajectory) alike:

* :func:`holdout` cuts a series at ``origin`` into the history a model sees and the
  ``horizon`` samples it must forecast (Gilpin 2021: origin 1000, horizon 200, i.e. the
  last sixth of 12 periods x 100 points; the long-horizon variant: origin 1000 of 60
  periods, horizon 5000);
* :func:`forecast` z-scores the history with its own mean and standard deviation,
  optionally embeds it in delay vectors, fits the estimator, and forecasts from the end
  of the history with koop's one forecasting protocol, :func:`koop.metrics.forecast`
  (start at the last sample, or its window for a lagged model), either by iterating the
  fitted linear model (``"simulate"``) or from its eigenpairs (``"modes"``:
  :func:`mode_forecast`, with growing modes held on the unit circle and, with
  ``residual_tol``, only the eigenpairs whose ResDMD residual on the history is at most
  that);
* :func:`score` returns sMAPE (0-200, dysts 2021), the valid prediction times and RMSE,
  all from :mod:`koop.metrics`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from koop.dictionaries import TimeDelay
from koop.metrics import forecast as run_forecast
from koop.metrics import rmse, smape, valid_prediction_time

__all__ = ["holdout", "forecast", "mode_forecast", "score", "Forecast", "SMAPE_SCALE",
           "VPT_THRESHOLD", "VPT_SMAPE_THRESHOLD"]

#: sMAPE factor: 200, the dysts 2021 convention of the published baselines (range 0-200).
SMAPE_SCALE = 200.0
#: Valid prediction time: first step whose NRMSE (per-feature std of the history) > 0.4.
VPT_THRESHOLD = 0.4
#: Valid prediction time of the Gilpin lab's code: first step whose sMAPE over all steps
#: so far (0-200 scale) exceeds 30.
VPT_SMAPE_THRESHOLD = 30.0

_PROTOCOL_KEYS = ("delays", "forecast", "residual_tol")


def holdout(series: np.ndarray, horizon: int, origin: int | None = None):
    """``(history, target)``: ``series[:origin]`` and the next ``horizon`` samples.

    ``origin`` defaults to ``len(series) - horizon`` (forecast the end of the series).

    Examples
    --------
    >>> h, t = holdout(np.arange(12.0)[:, None], 2)
    >>> h.shape, t.ravel().tolist()
    ((10, 1), [10.0, 11.0])
    """
    n = series.shape[0]
    origin = n - horizon if origin is None else int(origin)
    if not 0 < origin <= n - horizon:
        raise ValueError(f"origin {origin} leaves no room for a {horizon}-step target in "
                         f"{n} samples.")
    return series[:origin], series[origin:origin + horizon]


@dataclass(frozen=True)
class Forecast:
    """A fitted model's forecast (original units) and what it cost.

    ``to_model_space`` maps a series in original units to what the model was fit on
    (z-scored, delay-embedded), e.g. for residuals on held-out data.
    """

    prediction: np.ndarray
    model: object
    to_model_space: object
    fit_time: float
    predict_time: float


def mode_forecast(model, window: np.ndarray, n_steps: int, *, keep=None,
                  stabilize: bool = True) -> np.ndarray:
    r"""Forecast from the eigenpairs: :math:`\hat x_k = \sum_j \phi_j(x_0)\mu_j^k\xi_j`.

    With every eigenpair and ``stabilize=False`` this is ``model.simulate``. With
    ``stabilize``, an eigenvalue outside the unit circle is replaced by
    :math:`\lambda/|\lambda|` (a growing mode keeps its frequency and its amplitude);
    ``keep`` (a boolean mask or indices) forecasts with a subset of the eigenpairs.

    Parameters
    ----------
    model : fitted koop estimator
        With ``eigenvalues_``, ``modes_`` and ``eigenfunctions``.
    window : ndarray (n, n_features)
        The end of the history (at least ``model.n_lags_ + 1`` samples).
    n_steps : int

    Returns
    -------
    ndarray (n_steps, n_features), real

    Examples
    --------
    >>> from koop.estimators import HankelDMD
    >>> x = np.cos(0.3 * np.arange(60.0))
    >>> model = HankelDMD(n_delays=3, rank=2).fit(x)
    >>> np.allclose(mode_forecast(model, x[-4:, None], 5).ravel(),
    ...             np.cos(0.3 * np.arange(60.0, 65.0)))
    True
    """
    phi = model.eigenfunctions(window)[-1]
    lam = np.asarray(model.eigenvalues_, dtype=complex)
    if stabilize:
        mod = np.abs(lam)
        lam = np.where(mod > 1.0, lam / np.where(mod > 0, mod, 1.0), lam)
    xi = model.modes_
    if keep is not None:
        phi, lam, xi = phi[keep], lam[keep], xi[:, keep]
    powers = lam[None, :] ** np.arange(1, n_steps + 1)[:, None]
    return ((powers * phi) @ xi.T).real


class _ModeRunner:
    """A fitted model run by :func:`mode_forecast` (for :func:`koop.metrics.forecast`)."""

    def __init__(self, model, keep):
        self.model, self.keep = model, keep
        self.n_lags_ = int(getattr(model, "n_lags_", 0) or 0)

    def simulate(self, x0, n_steps: int) -> np.ndarray:
        window = np.asarray(x0, dtype=float).reshape(self.n_lags_ + 1, -1)
        return mode_forecast(self.model, window, n_steps, keep=self.keep)


def _embedding(params: dict):
    delays = params.get("delays")
    if delays is None:
        return None
    n_delays, stride = delays
    return TimeDelay(n_delays=int(n_delays), stride=int(stride))


def forecast(method, history: np.ndarray, horizon: int, params: dict | None = None, *,
             pts_per_period: int, dt: float | None = None) -> Forecast:
    """Fit ``method`` (with ``params``) on ``history`` and forecast ``horizon`` steps.

    Parameters
    ----------
    method : ForecastMethod
    history : ndarray (n, n_features)
        Original units.
    horizon : int
    params : dict, optional
        One candidate of ``method.space`` (default: the method's untuned defaults).
        ``delays``, ``forecast`` and ``residual_tol`` are read here; every other key is
        passed to ``method.build``.
    pts_per_period : int
    dt : float, optional
        Sampling interval, passed to ``fit``.

    Returns
    -------
    Forecast

    Examples
    --------
    >>> from koop.bench import tuned_methods
    >>> hankel = tuned_methods("univariate", 20)[0]
    >>> x = np.cos(2 * np.pi * np.arange(120.0) / 20)[:, None]
    >>> out = forecast(hankel, x[:100], 20, {"n_delays": 10, "rank": 2}, pts_per_period=20)
    >>> bool(np.allclose(out.prediction, x[100:], atol=1e-8)), out.prediction.shape
    (True, (20, 1))
    """
    params = dict(method.defaults if params is None else params)
    mean, std = history.mean(axis=0), history.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    delay = _embedding(params)

    def to_model_space(series):
        z = (np.asarray(series, dtype=float) - mean) / std
        return delay.fit_transform(z) if delay is not None else z

    build_params = {k: v for k, v in params.items() if k not in _PROTOCOL_KEYS}
    estimator = method.build(pts_per_period, history.shape[1], **build_params)
    X = to_model_space(history)
    rule = params.get("forecast", "simulate")
    if rule not in ("simulate", "modes"):
        raise ValueError(f"forecast must be 'simulate' or 'modes', got {rule!r}.")
    tol = params.get("residual_tol")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # rank-deficiency warnings are expected here: monomials of a chaotic orbit
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model = estimator.fit(X, dt=dt, **method.fit_kwargs)
        keep = None
        if rule == "modes" and tol is not None:
            from koop.validation import residuals

            keep = residuals(model, X=X) <= tol
            if not keep.any():
                raise ValueError(f"no eigenpair has a residual <= {tol} on the history")
        t1 = time.perf_counter()
        runner = model if rule == "simulate" else _ModeRunner(model, keep)
        pred = run_forecast(runner, X, horizon, starts=[X.shape[0] - 1])[0]
        t2 = time.perf_counter()
    pred = pred[:, : history.shape[1]]
    return Forecast(pred * std + mean, model, to_model_space, t1 - t0, t2 - t1)


def score(target: np.ndarray, prediction: np.ndarray, *, history: np.ndarray, dt: float,
          lyapunov_exponent: float) -> dict:
    """sMAPE, valid prediction times (Lyapunov times) and RMSE of one forecast.

    A forecast with inf/NaN entries (a diverged model) scores the worst sMAPE term
    (200) there. ``vpt`` is the NRMSE criterion (per-feature std of the history, 0.4);
    ``vpt_smape`` the cumulative-sMAPE one (``error="cumulative_smape"`` of
    :func:`koop.metrics.valid_prediction_time`); both are
    absent without a positive Lyapunov exponent.

    Examples
    --------
    >>> t = np.ones((10, 1))
    >>> out = score(t, 1.5 * t, history=np.arange(20.0)[:, None], dt=0.1,
    ...             lyapunov_exponent=2.0)
    >>> round(out["smape"], 1), out["vpt_smape"], round(out["rmse"], 2)
    (40.0, 0.0, 0.5)
    """
    pred = np.where(np.isfinite(prediction), prediction, np.inf)
    out = {"smape": smape(target, pred, scale=SMAPE_SCALE)}
    with np.errstate(all="ignore"):
        out["rmse"] = rmse(target, np.where(np.isfinite(pred), pred, np.nan))
    if np.isfinite(lyapunov_exponent) and lyapunov_exponent > 0:
        scale = history.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        out["vpt"] = valid_prediction_time(target, pred, dt=dt,
                                           lyapunov_exponent=lyapunov_exponent,
                                           threshold=VPT_THRESHOLD, scale=scale)
        out["vpt_smape"] = valid_prediction_time(target, pred, dt=dt,
                                                 lyapunov_exponent=lyapunov_exponent,
                                                 threshold=VPT_SMAPE_THRESHOLD,
                                                 error="cumulative_smape")
    return out
