r"""The Koopman forecasters of the dysts benchmark, with their default hyperparameters.

Every method sees the same thing: a history ``(n_fit, n_features)`` (z-scored with the
history's own mean and standard deviation), and must return the next ``n_forecast``
states in the original units. There is no hyperparameter search: the defaults below are
fixed for every system and scale with the sampling density ``pts_per_period`` only.

* ``EDMD``: monomials of degree <= 2 (:class:`~koop.dictionaries.Polynomial`) of the state;
  for a univariate series, of its delay vector :math:`(x_t, x_{t-s}, \dots, x_{t-5s})`
  with :math:`s = \max(1, \lfloor p/25 \rfloor)` (a window of a fifth of a period ``p``).
* ``HankelDMD``: ``n_delays = p // 2`` (half a period), ``rank = 20``.
* ``HAVOK``: ``n_delays = p // 2``, ``rank = 15`` (Brunton et al. 2017 use r = 15 for
  Lorenz); the unknown future forcing is set to zero.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ForecastMethod", "default_methods", "MethodUnavailable"]


class MethodUnavailable(RuntimeError):
    """The estimator a method needs is not importable in this koop build."""


def _estimator_class(name: str):
    import koop.estimators as est

    cls = getattr(est, name, None)
    if cls is None:
        raise MethodUnavailable("not available")
    return cls


def _embed(z: np.ndarray, n_delays: int, stride: int) -> np.ndarray:
    """Delay vectors (z_t, z_{t-s}, ..., z_{t-qs}) for every t with a full past."""
    lag = n_delays * stride
    return np.hstack([z[lag - k * stride : z.shape[0] - k * stride] for k in range(n_delays + 1)])


@dataclass
class ForecastMethod:
    """A named recipe: build an estimator, fit it on a history, forecast from its end.

    Parameters
    ----------
    name : str
        Label in the results table.
    build : callable
        ``build(pts_per_period, n_features) -> estimator`` (unfitted).
    delays : tuple of (n_delays, stride), optional
        Embed the (univariate) history in delay vectors before fitting (the EDMD recipe).
    fit_kwargs : dict
        Extra keyword arguments of ``fit``.
    warm_up : bool
        Fit once on a small series before the sweep so that numba compiles outside the
        timings (the defaults do; leave it off for anything slow or stateful).

    Examples
    --------
    >>> import numpy as np
    >>> from koop.estimators import DMD
    >>> method = ForecastMethod("DMD", lambda pts_per_period, n_features: DMD())
    >>> t = 2 * np.pi * np.arange(120) / 25  # whole periods in the 100-point history
    >>> x = np.column_stack([np.cos(t), 2 * np.sin(t)])  # a rotation: DMD is exact
    >>> pred, model, to_model_space, fit_s, predict_s = method.run(
    ...     x[:100], 20, dt=0.1, pts_per_period=25)
    >>> bool(np.allclose(pred, x[100:], atol=1e-6))
    True
    """

    name: str
    build: object
    delays: object = None
    fit_kwargs: dict = field(default_factory=dict)
    warm_up: bool = False

    def run(self, history: np.ndarray, n_forecast: int, *, dt: float, pts_per_period: int):
        """Fit on ``history`` and forecast ``n_forecast`` steps.

        Returns
        -------
        prediction : ndarray (n_forecast, n_features), original units
        model : the fitted estimator
        transform : callable mapping a series (original units) to the model's input space,
            for residuals on validation data
        fit_time, predict_time : float, seconds
        """
        mean, std = history.mean(axis=0), history.std(axis=0)
        std = np.where(std > 0, std, 1.0)

        def to_model_space(series):
            z = (np.asarray(series, dtype=float) - mean) / std
            return _embed(z, *self.delays) if self.delays else z

        estimator = self.build(pts_per_period, history.shape[1])
        X = to_model_space(history)
        t0 = time.perf_counter()
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # rank-deficiency warnings are expected here: monomials of a chaotic orbit
            warnings.simplefilter("ignore")
            model = estimator.fit(X, dt=dt, **self.fit_kwargs)
        t1 = time.perf_counter()
        with np.errstate(all="ignore"):
            pred = _simulate(model, X, n_forecast)
        t2 = time.perf_counter()
        pred = np.real(np.asarray(pred))[:, : history.shape[1]]
        return pred * std + mean, model, to_model_space, t1 - t0, t2 - t1


def _simulate(model, X: np.ndarray, n_steps: int) -> np.ndarray:
    from koop.metrics import forecast

    # from the last sample (its window for a lagged model); HAVOK's simulate without a
    # forcing runs the unforced linear part (future v_r unknown)
    return forecast(model, X, n_steps, starts=[X.shape[0] - 1])[0]


def _edmd(pts_per_period: int, n_features: int):
    from koop.dictionaries import Polynomial

    return _estimator_class("EDMD")(Polynomial(degree=2))


def _hankel(pts_per_period: int, n_features: int):
    return _estimator_class("HankelDMD")(n_delays=max(2, pts_per_period // 2), rank=20)


def _havok(pts_per_period: int, n_features: int):
    return _estimator_class("HAVOK")(n_delays=max(2, pts_per_period // 2), rank=15)


def default_methods(variant: str, pts_per_period: int) -> list[ForecastMethod]:
    """The three default methods for ``variant`` ("univariate" or "multivariate").

    Examples
    --------
    >>> [m.name for m in default_methods("univariate", 100)]
    ['EDMD', 'HankelDMD', 'HAVOK']
    """
    stride = max(1, pts_per_period // 25)
    delays = (5, stride) if variant == "univariate" else None
    return [
        ForecastMethod("EDMD", _edmd, delays=delays, warm_up=True),
        ForecastMethod("HankelDMD", _hankel, warm_up=True),
        ForecastMethod("HAVOK", _havok, warm_up=True),
    ]
