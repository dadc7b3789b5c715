r"""The Koopman forecasters of the dysts benchmark: untuned defaults and search spaces.

A :class:`ForecastMethod` names an estimator family, its untuned defaults, and the
ordered list of candidate hyperparameters (``space``) that tuning searches, first to
last, within a budget (:mod:`koop.bench._tuning`). Every method sees the same thing
(:func:`koop.bench._protocol.forecast`): a history z-scored with its own mean and
standard deviation, optionally embedded in delay vectors, and forecasts from the end of
the history. ``p`` below is the number of points per period (100 in the protocol).

Untuned defaults (fixed for every system; the numbers of the first benchmark runs):

* ``EDMD``: monomials of degree <= 2 (:class:`~koop.dictionaries.Polynomial`) of the
  state; for a univariate series, of its delay vector :math:`(x_t, x_{t-s}, \dots,
  x_{t-5s})`, :math:`s = \max(1, \lfloor p/25 \rfloor)` (a window of a fifth of a period).
* ``HankelDMD``: ``n_delays = p // 2`` (half a period), ``rank = 20``.
* ``HAVOK``: ``n_delays = p // 2``, ``rank = 15`` (Brunton et al. 2017 use r = 15 for
  Lorenz); the unknown future forcing is set to zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ForecastMethod", "default_methods", "tuned_methods"]


@dataclass(frozen=True)
class ForecastMethod:
    """A named recipe: build an estimator, fit it on a history, forecast from its end.

    Parameters
    ----------
    name : str
        Label in the results table.
    build : callable
        ``build(pts_per_period, n_features, **params) -> estimator`` (unfitted); must be
        a module-level function or class for runs in worker processes.
    defaults : dict
        Untuned parameters. Besides ``build``'s keywords, three keys belong to the
        protocol (:func:`koop.bench._protocol.forecast`): ``delays`` (``(n_delays,
        stride)``: embed the history in delay vectors before fitting), ``forecast``
        (``"simulate"`` or ``"modes"``) and ``residual_tol`` (with ``"modes"``: forecast
        only with the eigenpairs whose ResDMD residual is at most this).
    space : callable, optional
        ``space(pts_per_period, n_features) -> list of dict``: the candidates tuning
        tries, in order (a budget of ``k`` tries the first ``k``). None: never tuned.
    fit_kwargs : dict
        Extra keyword arguments of ``fit``.
    warm_up : bool
        Fit once on a small series before the sweep so that numba compiles outside the
        timings (leave it off for anything slow or stateful).

    Examples
    --------
    >>> import numpy as np
    >>> from koop.bench._protocol import forecast
    >>> from koop.estimators import DMD
    >>> method = ForecastMethod("DMD", lambda pts_per_period, n_features: DMD())
    >>> t = 2 * np.pi * np.arange(120) / 25  # whole periods in the 100-point history
    >>> x = np.column_stack([np.cos(t), 2 * np.sin(t)])  # a rotation: DMD is exact
    >>> out = forecast(method, x[:100], 20, pts_per_period=25)
    >>> bool(np.allclose(out.prediction, x[100:], atol=1e-6))
    True
    """

    name: str
    build: Callable[..., Any]
    defaults: dict = field(default_factory=dict)
    space: Callable[[int, int], list[dict]] | None = None
    fit_kwargs: dict = field(default_factory=dict)
    warm_up: bool = False

    def candidates(self, pts_per_period: int, n_features: int) -> list[dict]:
        """The tuning candidates (empty when the method is not tuned)."""
        return [] if self.space is None else list(self.space(pts_per_period, n_features))


# -- builders (module level, so that methods pickle into worker processes) -------------
def _edmd(pts_per_period: int, n_features: int, degree: int = 2,
          regularization: float = 0.0, rank: int | None = None):
    from koop.dictionaries import Polynomial
    from koop.estimators import EDMD

    return EDMD(Polynomial(degree=degree), rank=rank, regularization=regularization)


def _hankel(pts_per_period: int, n_features: int, n_delays: int | None = None,
            rank: int | float | str | None = 20):
    from koop.estimators import HankelDMD

    q = max(2, pts_per_period // 2) if n_delays is None else n_delays
    return HankelDMD(n_delays=q, rank=rank)


def _havok(pts_per_period: int, n_features: int, n_delays: int | None = None,
           rank: int = 15):
    from koop.estimators import HAVOK

    q = max(2, pts_per_period // 2) if n_delays is None else n_delays
    return HAVOK(n_delays=q, rank=rank)


def _resdmd(pts_per_period: int, n_features: int, n_delays: int = 10, stride: int = 1,
            rank: int | None = None):
    from koop.dictionaries import TimeDelay
    from koop.estimators import ResDMD

    return ResDMD(TimeDelay(n_delays=n_delays, stride=stride), rank=rank)


def _mpedmd(pts_per_period: int, n_features: int, n_delays: int = 10, stride: int = 1,
            rank: int | None = None):
    from koop.dictionaries import TimeDelay
    from koop.estimators import MPEDMD

    return MPEDMD(TimeDelay(n_delays=n_delays, stride=stride), rank=rank)


def _kernel_edmd(pts_per_period: int, n_features: int, width: float | None = None,
                 n_components: int = 300, rank: int | None = None):
    from koop.estimators import KernelEDMD

    return KernelEDMD(kernel="gaussian", width=width, n_components=n_components, rank=rank,
                      random_state=0)


def _edmd_delays(variant: str, pts_per_period: int):
    return (5, max(1, pts_per_period // 25)) if variant == "univariate" else None


def default_methods(variant: str, pts_per_period: int) -> list[ForecastMethod]:
    """The three untuned methods for ``variant`` ("univariate" or "multivariate").

    Examples
    --------
    >>> [m.name for m in default_methods("univariate", 100)]
    ['EDMD', 'HankelDMD', 'HAVOK']
    """
    return [
        ForecastMethod("EDMD", _edmd, {"delays": _edmd_delays(variant, pts_per_period)},
                       warm_up=True),
        ForecastMethod("HankelDMD", _hankel, warm_up=True),
        ForecastMethod("HAVOK", _havok, warm_up=True),
    ]


# -- search spaces (module level, ordered: a budget of k tries the first k) ------------
# Designed on seed-1 data of every other system (separate initial conditions from the
# scored seed-0 runs): long windows and high ranks for the delay models, delay vectors
# spanning 0.4-0.8 of a period for the kernel (docs/dysts_benchmark.md, "Tuning").
def _interleave(*groups):
    """Round-robin over candidate groups, so a small budget still spans each group."""
    out = []
    for i in range(max((len(g) for g in groups), default=0)):
        out += [g[i] for g in groups if i < len(g)]
    return out


def _windows(p: int, n_features: int, fractions, cap: int) -> list[int]:
    """Delay counts at these fractions of a period, with at most ``cap`` coordinates."""
    sizes = dict.fromkeys(max(2, round(f * p)) for f in fractions)
    return [q for q in sizes if (q + 1) * n_features <= cap]


def _delay_models(p, n_features, fractions, cap, ranks, extras=({},)) -> list[dict]:
    """(n_delays, rank, extras) candidates, round-robin over the windows; a system too
    wide for every window at ``fractions`` gets one shorter window (a quarter or a tenth
    of a period) instead."""
    windows = (_windows(p, n_features, fractions, cap)
               or _windows(p, n_features, (0.25, 0.1), cap)[:1])
    return _interleave(*[[{"n_delays": q, "rank": r, **extra} for extra in extras
                          for r in ranks if r <= (q + 1) * n_features] for q in windows])


# Window caps in delay coordinates ((q + 1) * n_features): every univariate window of the
# spaces fits; a multivariate state gets the shorter windows only, which keeps the cost of
# a multivariate sweep near the univariate one.
def _hankel_space(p: int, n_features: int) -> list[dict]:
    return _delay_models(p, n_features, (2, 1, 3, 0.5), 400, (64, 128, 32, 16))


def _resdmd_space(p: int, n_features: int) -> list[dict]:
    gates = [{"forecast": "modes", "residual_tol": tol} for tol in (0.1, 0.05, 0.2)]
    return _delay_models(p, n_features, (2, 1), 210, (64, 32), gates)


def _havok_space(p: int, n_features: int) -> list[dict]:
    return _delay_models(p, n_features, (0.5, 1, 2), 400, (25, 15, 5, 40))


def _mpedmd_space(p: int, n_features: int) -> list[dict]:
    return _delay_models(p, n_features, (0.5, 1, 2), 210, (16, 8, 32))


def _delays(p: int, pairs) -> list[tuple[int, int]]:
    """(count, stride) pairs with strides given as fractions of a period."""
    return list(dict.fromkeys((k, max(1, round(f * p))) for k, f in pairs))


def _edmd_space(p: int, n_features: int) -> list[dict]:
    if n_features == 1:
        pairs = ((6, 0.02), (4, 0.1), (2, 0.02), (6, 0.1), (4, 0.05), (2, 0.1))
    else:
        pairs = ((0, 0.1), (1, 0.1), (1, 0.05), (2, 0.05), (1, 0.2), (2, 0.1))
    return _interleave(*[[{"delays": d, "regularization": reg} for d in _delays(p, pairs)]
                         for reg in (0.0, 1e-4)])


def _kernel_space(p: int, n_features: int) -> list[dict]:
    if n_features == 1:
        pairs = ((4, 0.1), (8, 0.1), (4, 0.2), (8, 0.05))
    else:
        pairs = ((2, 0.1), (4, 0.1), (2, 0.2), (4, 0.05))
    widths = (2.0, 1.0, 4.0) if n_features == 1 else (2.0, 1.0)
    groups = []
    for k, s in _delays(p, pairs):
        # z-scored coordinates: the mean distance to the mean is about sqrt(dimension)
        scale = ((k + 1) * n_features) ** 0.5
        groups.append([{"delays": (k, s), "width": c * scale, "rank": r}
                       for c in widths for r in (50, None)])
    return _interleave(*groups)


def tuned_methods(variant: str, pts_per_period: int) -> list[ForecastMethod]:
    """The six tuned method families for ``variant`` ("univariate" or "multivariate").

    Each starts from the untuned defaults and has a search space (``space``) that
    :func:`koop.bench.tune` searches per system on the train trajectory:

    * ``HankelDMD``: ``n_delays`` from half a period to three periods, ``rank`` 16-128
      (16 candidates);
    * ``EDMD``: quadratic monomials of delay vectors (6 counts and strides), with and
      without Tikhonov regularisation (12);
    * ``ResDMD``: the ``TimeDelay`` dictionary of one or two periods, rank 32 or 64,
      forecasting only with the eigenpairs whose ResDMD residual on the history is at
      most ``residual_tol`` (0.05, 0.1, 0.2; 12);
    * ``HAVOK``: ``n_delays`` and ``rank`` (zero forcing in the forecast; 12);
    * ``KernelEDMD``: a Gaussian kernel on delay vectors spanning 0.4-0.8 of a period
      (300 Nystrom centres), width 1-4 times the data's scale, rank 50 or all (24);
    * ``MPEDMD``: the measure-preserving (unitary) truncation on the ``TimeDelay``
      dictionary (9).

    Examples
    --------
    >>> methods = tuned_methods("univariate", 100)
    >>> [m.name for m in methods]
    ['HankelDMD', 'EDMD', 'ResDMD', 'HAVOK', 'KernelEDMD', 'MPEDMD']
    >>> methods[0].candidates(100, 1)[0]
    {'n_delays': 200, 'rank': 64}
    """
    edmd_defaults = {"delays": _edmd_delays(variant, pts_per_period)}
    q = max(2, pts_per_period // 2)
    return [
        ForecastMethod("HankelDMD", _hankel, space=_hankel_space, warm_up=True),
        ForecastMethod("EDMD", _edmd, edmd_defaults, space=_edmd_space, warm_up=True),
        ForecastMethod("ResDMD", _resdmd, {"n_delays": q, "rank": 20, "forecast": "modes",
                                           "residual_tol": 0.2},
                       space=_resdmd_space, warm_up=True),
        ForecastMethod("HAVOK", _havok, space=_havok_space, warm_up=True),
        ForecastMethod("KernelEDMD", _kernel_edmd, edmd_defaults, space=_kernel_space),
        ForecastMethod("MPEDMD", _mpedmd, {"n_delays": q, "rank": 16}, space=_mpedmd_space,
                       warm_up=True),
    ]
