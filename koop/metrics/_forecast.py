"""Short-term forecast errors: PE(n), valid prediction time, sMAPE, RMSE."""

from __future__ import annotations

import numpy as np

from koop.data import check_array
from koop.metrics._checks import _check_pair

__all__ = ["prediction_error", "valid_prediction_time", "smape", "rmse"]


def prediction_error(model_or_step_fn, X, n_steps: int = 20, *, stride: int = 1) -> float:
    r"""n-step prediction error :math:`PE(n)`.

    From every test point :math:`t \le T - n` (every ``stride``-th), initialise the model
    at :math:`x_t` from the data, iterate ``n_steps`` steps, and average the squared error
    against :math:`x_{t+n}` over start points and features:
    :math:`PE(n) = \frac{1}{|S| d}\sum_{t\in S} \|\hat x_{t+n} - x_{t+n}\|^2`.

    Parameters
    ----------
    model_or_step_fn : object with ``simulate(x0, n_steps)``, or callable
        A fitted model (``simulate`` returns the ``n_steps`` states after ``x0``), or a
        one-step map applied to a batch: ``f(states (m, d)) -> successors (m, d)``.
        A model with ``n_lags_ > 0`` (a delay dictionary, HankelDMD) is initialised with
        the window ``X[t - n_lags_ : t + 1]``, so its start points begin at ``n_lags_``.
        The model is run by :func:`koop.metrics.forecast` (all start points at once when
        it has ``simulate_batch``).
    X : array-like of shape (n_samples, n_features)
        The test trajectory.
    n_steps : int
        Forecast horizon :math:`n` (the GTF default 20).
    stride : int
        Use every ``stride``-th start point (1 = all, as in the GTF code).

    Returns
    -------
    float
        :math:`PE(n)`; inf or NaN when the model diverges.

    Examples
    --------
    >>> import numpy as np
    >>> X = 0.5 ** np.arange(50.0)
    >>> prediction_error(lambda x: 0.5 * x, X, n_steps=5)  # the exact map: no error
    0.0
    """
    from koop.metrics._protocol import forecast

    X = check_array(X, name="X", min_samples=2)
    if isinstance(stride, bool) or int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}.")
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
    n_steps = int(n_steps)
    is_model = hasattr(model_or_step_fn, "simulate") or hasattr(model_or_step_fn,
                                                                "simulate_batch")
    if not is_model and not callable(model_or_step_fn):
        raise TypeError(
            "model_or_step_fn must have a simulate(x0, n_steps) (or simulate_batch) method "
            f"or be a callable one-step map; got {type(model_or_step_fn).__name__}."
        )
    lags = int(getattr(model_or_step_fn, "n_lags_", 0) or 0) if is_model else 0
    if X.shape[0] <= n_steps + lags:
        raise ValueError(
            f"X has {X.shape[0]} samples; PE({n_steps}) of a model with {lags} lag(s) needs "
            f"more than {n_steps + lags}."
        )
    starts = np.arange(lags, X.shape[0] - n_steps, int(stride))
    pred = forecast(model_or_step_fn, X, n_steps, starts=starts)[:, -1]
    with np.errstate(all="ignore"):
        return float(np.mean((pred - X[starts + n_steps]) ** 2))


def _forecast_error(true, pred, kind: str, scale) -> np.ndarray:
    diff = pred - true
    if kind == "nrmse":
        if scale is None:
            scale = true.std(axis=0)
        scale = np.asarray(scale, dtype=float).reshape(-1)
        if scale.size not in (1, true.shape[1]) or np.any(scale <= 0):
            raise ValueError(
                "scale must be positive, one value per feature; a constant true feature "
                "has std 0, so pass scale= (for example the training data's std)."
            )
        return np.sqrt(np.mean((diff / scale) ** 2, axis=1))
    if kind == "smape":
        return _smape_terms(true, pred, 200.0).mean(axis=1)
    if kind == "cumulative_smape":
        terms = _smape_terms(true, pred, 200.0)
        terms[np.isinf(pred)] = 200.0  # as smape: an infinite forecast, the largest term
        return np.cumsum(terms.mean(axis=1)) / np.arange(1, true.shape[0] + 1)
    raise ValueError(f"error must be one of {_ERRORS}, got {kind!r}.")


_ERRORS = ("nrmse", "smape", "cumulative_smape")


def valid_prediction_time(
    true,
    predicted,
    *,
    dt: float,
    lyapunov_exponent: float,
    threshold: float | None = None,
    error: str = "nrmse",
    scale=None,
) -> float:
    r"""Valid prediction time, in Lyapunov times :math:`\lambda_{max} t`.

    ``predicted[k]`` is the forecast ``k + 1`` steps after the initial condition. With a
    pointwise error :math:`e_k`, let :math:`k^*` be the first index with
    :math:`e_k > \varepsilon`; the forecast was valid for :math:`k^*` steps, and
    :math:`VPT = \lambda_{max}\, k^* \Delta t` (the full horizon ``len(predicted) * dt``
    times :math:`\lambda_{max}` if the error never exceeds :math:`\varepsilon`; then the
    value is a lower bound).

    Errors (``error``):

    * ``"nrmse"`` (default, :math:`\varepsilon = 0.4`):
      :math:`e_k = \sqrt{\frac1d\sum_i ((\hat x_{k,i} - x_{k,i})/\sigma_i)^2}` with
      :math:`\sigma_i` the standard deviation of each true feature over the given window
      (or ``scale``). This is the normalised-error criterion of Pathak et al. (PRL 120,
      024102, 2018, :math:`\varepsilon = 0.4`), with per-feature standard deviations in
      place of their RMS state norm, as in Vlachas et al. (Neural Networks 2020, who use
      :math:`\varepsilon = 0.5`).
    * ``"smape"`` (:math:`\varepsilon = 30`): :math:`e_k` is the sMAPE of step :math:`k`
      over features on the 0-200 scale. Gilpin (PRR 2023) reports forecast horizons in
      Lyapunov times with an sMAPE threshold; the exact value of :math:`\varepsilon` in that
      paper could not be checked here, so 30 is this library's choice, not a citation.
    * ``"cumulative_smape"`` (:math:`\varepsilon = 30`): :math:`e_k` is the sMAPE of steps
      :math:`0..k` together (a running mean, so one bad early step ends the valid time and
      a late one does not): the ``vpt_smape`` of the Gilpin lab's code
      (williamgilpin/dysts_data, ``benchmark_results/scripts/utils.py``).

    Parameters
    ----------
    true, predicted : array-like of shape (n_steps, n_features)
        Aligned true and forecast trajectories.
    dt : float
        Sampling interval.
    lyapunov_exponent : float
        Largest Lyapunov exponent :math:`\lambda_{max} > 0` (per unit time).
    threshold : float, optional
        :math:`\varepsilon`; the default depends on ``error`` (0.4 or 30).
    error : {"nrmse", "smape", "cumulative_smape"}
        Pointwise (or running) error.
    scale : float or array of shape (n_features,), optional
        Per-feature normalisation for ``"nrmse"`` (default: std of ``true``).

    Returns
    -------
    float
        Valid prediction time in Lyapunov times; 0 if the first step already fails (a
        diverged, NaN forecast fails there).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(1, 101) * 0.1  # forecast times (k + 1) dt
    >>> true = np.sin(t)
    >>> pred = true + 1e-3 * np.exp(t)  # error 1e-3 e^t crosses 0.4 at t = ln 400 = 5.99
    >>> round(valid_prediction_time(true, pred, dt=0.1, lyapunov_exponent=1.0, scale=1.0), 6)
    5.9
    """
    true, pred, _ = _check_pair(true, predicted, "predicted", same_length=True)
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number, got {dt!r}.")
    if not (np.isfinite(lyapunov_exponent) and lyapunov_exponent > 0):
        raise ValueError(
            f"lyapunov_exponent must be positive (a chaotic system), got {lyapunov_exponent!r}."
        )
    if error not in _ERRORS:
        raise ValueError(f"error must be one of {_ERRORS}, got {error!r}.")
    if threshold is None:
        threshold = 0.4 if error == "nrmse" else 30.0
    with np.errstate(all="ignore"):
        e = _forecast_error(true, pred, error, scale)
    # NaN errors (a diverged forecast) count as exceeding the threshold.
    exceeded = np.flatnonzero(~(e <= threshold))
    k_star = int(exceeded[0]) if exceeded.size else e.size
    return float(k_star * dt * lyapunov_exponent)


def _smape_terms(true: np.ndarray, pred: np.ndarray, scale: float) -> np.ndarray:
    num = np.abs(pred - true)
    den = np.abs(pred) + np.abs(true)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    terms[np.isnan(pred)] = np.nan
    return scale * terms


def smape(true, predicted, *, scale: float = 200.0) -> float:
    r"""Symmetric mean absolute percentage error.

    :math:`sMAPE = \frac{c}{n}\sum \frac{|\hat x - x|}{|\hat x| + |x|}`, the mean over all
    time steps and features, with terms where :math:`\hat x = x = 0` counted as 0.

    The factor :math:`c` is the convention to watch: ``scale=200`` (default) is the dysts
    2021 benchmark's (range 0-200; the published baselines use it); ``scale=100`` is dysts
    HEAD's ``smape(scaled=True)`` (range 0-100). Values differ by exactly a factor 2.

    Parameters
    ----------
    true, predicted : array-like of shape (n_samples, n_features) or (n_samples,)
    scale : float
        The factor :math:`c`.

    Returns
    -------
    float
        NaN if ``predicted`` holds NaN; inf values give the maximal term :math:`c`.

    Examples
    --------
    >>> smape([1.0, 2.0], [1.0, 4.0])  # 200 * mean([0, 2/6])
    33.33333333333333
    """
    true, pred, finite = _check_pair(true, predicted, "predicted", same_length=True)
    if not scale > 0:
        raise ValueError(f"scale must be positive (200 or 100), got {scale!r}.")
    if np.isnan(pred).any():
        return float("nan")
    terms = _smape_terms(true, pred, float(scale))
    if not finite:
        # |inf - x| / (|inf| + |x|) -> 1: an infinite forecast gets the largest term.
        terms[np.isinf(pred)] = scale
    return float(terms.mean())


def rmse(true, predicted) -> float:
    r"""Root-mean-square error :math:`\sqrt{\frac1{nd}\sum (\hat x - x)^2}` over all entries.

    Examples
    --------
    >>> rmse([0.0, 0.0], [3.0, 4.0])  # sqrt((9 + 16) / 2)
    3.5355339059327378
    """
    true, pred, _ = _check_pair(true, predicted, "predicted", same_length=True)
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.mean((pred - true) ** 2)))
