"""Hyperparameters per system, chosen on the train trajectory as Gilpin (2021) tunes.

The train trajectory is a separate run of the system (its own initial condition); the
test trajectory is never seen here. Each candidate of a method's search space is fit on
the first ``origin`` samples of the train trajectory and forecasts the next ``horizon``
(the 5/6 split: origin 1000, horizon 200; by default also origins 800 and 900, the same
horizon, to average out the luck of one window); the candidate with the lowest mean
sMAPE wins, ties to the earlier one. The
budget is a number of candidates, never seconds, so that the choice is the same on every
machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from koop.bench._protocol import SMAPE_SCALE, forecast, holdout
from koop.metrics import smape

__all__ = ["tune", "Tuned", "TuningError", "DEFAULT_BUDGET", "DEFAULT_ORIGINS"]

#: Candidates tried per method and system unless the caller says otherwise.
DEFAULT_BUDGET = 24
#: Forecast origins on the train trajectory, as fractions of its length: 5/6 is Gilpin's
#: split (fit on 1000 points, forecast 200); 2/3 and 3/4 add two validation windows of the
#: same horizon, which halves the luck of one window in the choice (measured on seed-1
#: data: docs/dysts_benchmark.md, "Tuning").
DEFAULT_ORIGINS = (2 / 3, 3 / 4, 5 / 6)


class TuningError(RuntimeError):
    """No candidate within the budget could be fit and scored."""


@dataclass(frozen=True)
class Tuned:
    """The outcome of :func:`tune`.

    Attributes
    ----------
    params : dict
        The winning candidate.
    score : float
        Its mean validation sMAPE (0-200).
    n_tried : int
        Candidates evaluated (the budget, or fewer when the space is smaller).
    n_failed : int
        Candidates that raised on some origin (scored as inf).
    time : float
        Wall-clock seconds of the whole search (information only).
    scores : list of float
        Every candidate's mean validation sMAPE, in the order tried.
    """

    params: dict
    score: float
    n_tried: int
    n_failed: int
    time: float
    scores: list


def tune(method, series: np.ndarray, *, pts_per_period: int, dt: float | None,
         horizon: int, origins=DEFAULT_ORIGINS, budget: int = DEFAULT_BUDGET) -> Tuned:
    """Choose ``method``'s hyperparameters on ``series`` (a train trajectory).

    Parameters
    ----------
    method : ForecastMethod
        With a non-empty ``space``.
    series : ndarray (n, n_features)
    pts_per_period : int
    dt : float or None
    horizon : int
        Forecast length of each validation window.
    origins : sequence of float or int
        Forecast origins: fractions of ``len(series)`` (floats in (0, 1)) or sample
        indices; each leaves ``horizon`` samples after it.
    budget : int
        Largest number of candidates to try (the first ones of ``method.space``).

    Returns
    -------
    Tuned

    Raises
    ------
    TuningError
        When the budget is 0 or every candidate tried fails.

    Examples
    --------
    >>> from koop.bench import tuned_methods
    >>> t = np.arange(240.0)
    >>> x = (np.sin(2 * np.pi * t / 20) + 0.3 * np.sin(2 * np.pi * t / 7.3))[:, None]
    >>> hankel = {m.name: m for m in tuned_methods("univariate", 20)}["HankelDMD"]
    >>> best = tune(hankel, x, pts_per_period=20, dt=0.1, horizon=40, budget=4)
    >>> best.n_tried, best.score < 1e-6
    (4, True)
    """
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 0:
        raise ValueError(f"budget must be a non-negative integer, got {budget!r}.")
    n = series.shape[0]
    cuts = sorted({round(o * n) if isinstance(o, float) else int(o) for o in origins})
    space = method.candidates(pts_per_period, series.shape[1])
    candidates = space[: int(budget)]
    if not candidates:
        why = ("give a budget of at least 1" if space else
               f"its search space is empty for {series.shape[1]} feature(s)")
        raise TuningError(f"{method.name}: a budget of {budget} candidate(s) tries nothing; "
                          f"{why}.")
    start = time.perf_counter()
    scores, first_error, n_failed = [], "", 0
    for params in candidates:
        total = 0.0
        for cut in cuts:
            try:
                history, target = holdout(series, horizon, cut)
                pred = forecast(method, history, horizon, params,
                                pts_per_period=pts_per_period, dt=dt).prediction
                total += smape(target, np.where(np.isfinite(pred), pred, np.inf),
                               scale=SMAPE_SCALE)
            except Exception as exc:  # a candidate the data cannot support
                first_error = first_error or f"{type(exc).__name__}: {exc}"
                total = np.inf
                n_failed += 1
                break
        scores.append(total / len(cuts))
    elapsed = time.perf_counter() - start
    finite = np.isfinite(scores)
    if not finite.any():
        raise TuningError(f"{method.name}: none of the {len(candidates)} candidate(s) "
                          f"within the budget could be fit ({first_error})")
    best = int(np.argmin(np.where(finite, scores, np.inf)))
    return Tuned(dict(candidates[best]), float(scores[best]), len(candidates), n_failed,
                 elapsed, [float(s) for s in scores])
