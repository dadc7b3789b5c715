r"""The one forecasting protocol: how any model is run from data, and the GTF scores.

Every place in koop that runs a model forward from data (PE(n), valid prediction times,
the comparison tables, the CLI) goes through :func:`forecast` and :func:`free_run`, so
that "start the model at sample t" means the same thing everywhere:

* a model's *state at sample t* is ``X[t]``, or for a model with ``n_lags_ = q > 0``
  (delay coordinates) the window ``X[t - q : t + 1]``; start points begin at ``q``;
* the model advances with ``simulate_batch(X0, n_steps)`` when it has one (all start
  points at once; koop's estimators and RNNs do), else ``simulate(x0, n_steps)`` per
  start point; a plain callable is a one-step map applied to a batch of states.

:func:`reconstruction_scores` is the evaluation of the GTF paper's code
(``src/evaluation.jl``): a free run of :math:`\lfloor 1.25\,T\rfloor` samples from the
first test state, the first :math:`\lfloor 0.25\,T\rfloor` dropped, the remaining
:math:`T` compared with the test set by :math:`D_{stsp}` and :math:`D_H`, and
:math:`PE(20)` from every test state.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np

from koop.data import check_array

__all__ = ["forecast", "free_run", "reconstruction_scores"]


def _lags(model: Any) -> int:
    if callable(model) and not (hasattr(model, "simulate") or hasattr(model, "simulate_batch")):
        return 0
    return int(getattr(model, "n_lags_", 0) or 0)


def _check_steps(n_steps: Any, name: str = "n_steps") -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, Integral) or n_steps < 1:
        raise ValueError(f"{name} must be a positive integer, got {n_steps!r}.")
    return int(n_steps)


def forecast(model: Any, X: Any, n_steps: int, *, starts: Any = None) -> np.ndarray:
    r"""Forecasts of ``X[t + 1 : t + n_steps + 1]`` from the model's state at each start ``t``.

    Parameters
    ----------
    model : fitted koop model, object with ``simulate(x0, n_steps)``, or callable
        A model with ``simulate_batch(X0, n_steps)`` is run on all starts at once; one
        with only ``simulate`` start by start; a callable ``f(states (m, d)) -> (m, d)``
        is iterated as a one-step map. A model with ``n_lags_ = q > 0`` starts from the
        window ``X[t - q : t + 1]``.
    X : array-like of shape (n_samples, n_features)
        The trajectory that supplies the initial states.
    n_steps : int
        Forecast horizon.
    starts : array-like of int, optional
        Start samples ``t`` (default: every ``t`` from ``n_lags_`` to
        ``n_samples - n_steps - 1``, so that every forecast has a target in ``X``).

    Returns
    -------
    ndarray of shape (n_starts, n_steps, n_features)
        ``out[i, k]`` forecasts ``X[starts[i] + k + 1]``; NaN or inf where the model
        diverges (no error is raised for a diverging model).

    Examples
    --------
    >>> import numpy as np
    >>> X = 0.5 ** np.arange(10.0)[:, None]
    >>> forecast(lambda x: 0.5 * x, X, 3, starts=[0, 4])[:, :, 0] * 2**7
    array([[64., 32., 16.],
           [ 4.,  2.,  1.]])
    """
    X = check_array(X, name="X", min_samples=1)
    n_steps = _check_steps(n_steps)
    lags = _lags(model)
    if starts is None:
        if X.shape[0] <= n_steps + lags:
            raise ValueError(
                f"X has {X.shape[0]} samples; forecasts of {n_steps} step(s) from a model "
                f"with {lags} lag(s) need more than {n_steps + lags}."
            )
        starts = np.arange(lags, X.shape[0] - n_steps)
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    if starts.size and (starts.min() < lags or starts.max() >= X.shape[0]):
        raise ValueError(
            f"start samples must lie in [{lags}, {X.shape[0] - 1}] (the model needs {lags} "
            "past sample(s) per start)."
        )
    with np.errstate(all="ignore"):
        if hasattr(model, "simulate_batch"):
            X0 = X[starts] if lags == 0 else np.stack([X[t - lags : t + 1] for t in starts])
            out = np.asarray(model.simulate_batch(X0, n_steps))
            return np.real(out).reshape(starts.size, n_steps, -1)
        if hasattr(model, "simulate"):
            out = np.empty((starts.size, n_steps, X.shape[1]))
            for row, t in enumerate(starts):
                x0 = X[t - lags : t + 1] if lags else X[t]
                traj = np.asarray(model.simulate(x0, n_steps))
                out[row] = np.real(traj).reshape(n_steps, -1)
            return out
        if callable(model):
            out = np.empty((starts.size, n_steps, X.shape[1]))
            state = X[starts]
            for k in range(n_steps):
                state = np.asarray(model(state), dtype=float).reshape(starts.size, -1)
                out[:, k] = state
            return out
    raise TypeError(
        "model must have a simulate(x0, n_steps) or simulate_batch(X0, n_steps) method or be "
        f"a callable one-step map; got {type(model).__name__}."
    )


def free_run(model: Any, X: Any, n_samples: int) -> np.ndarray:
    r"""A generated trajectory of ``n_samples`` samples that starts at the first state of ``X``.

    Row 0 is the initial state itself (``X[q]`` for a model with ``q = n_lags_`` lags,
    which starts from the window ``X[0 : q + 1]``), rows ``1..n_samples - 1`` the model's
    run after it, as the GTF code's ``generate``.

    Parameters
    ----------
    model : fitted koop model or object with ``simulate``, or a one-step callable
    X : array-like (n_samples_X, n_features)
        Supplies the initial state (or window).
    n_samples : int
        Length of the returned trajectory.

    Returns
    -------
    ndarray (n_samples, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> free_run(lambda x: -x, np.array([[1.0], [3.0]]), 4)[:, 0]
    array([ 1., -1.,  1., -1.])
    """
    X = check_array(X, name="X", min_samples=1)
    n_samples = _check_steps(n_samples, "n_samples")
    lags = _lags(model)
    if X.shape[0] < lags + 1:
        raise ValueError(f"X has {X.shape[0]} samples; the model's first state needs "
                         f"{lags + 1}.")
    first = X[lags : lags + 1]
    if n_samples == 1:
        return first.copy()
    run = forecast(model, X[: lags + 1], n_samples - 1, starts=[lags])[0]
    return np.vstack([first, run])


def reconstruction_scores(model: Any, test: Any, *, n_bins: int = 30,
                          smoothing: float = 20.0, pe_steps: int = 20, pe_stride: int = 1,
                          length_factor: float = 1.25, transient: float = 0.25,
                          ) -> dict:
    r"""The GTF paper's scores of a model on a test trajectory of :math:`T` samples.

    A free run (:func:`free_run`) of :math:`\lfloor \text{length\_factor}\cdot T\rfloor`
    samples from the first test state; the first :math:`\lfloor\text{transient}\cdot
    T\rfloor` are dropped and the next :math:`T` compared with the test set:
    :math:`D_{stsp}` (:func:`~koop.metrics.state_space_divergence`, binning with
    ``n_bins`` per dimension below 6 dimensions, Gaussian mixtures above),
    :math:`D_H` (:func:`~koop.metrics.power_spectrum_distance` with ``smoothing``), and
    :math:`PE(n)` (:func:`~koop.metrics.prediction_error`, ``n = pe_steps``, every
    ``pe_stride``-th test state). A model with ``q`` lags starts from the first ``q + 1``
    test samples, so its run and its targets begin at sample ``q``.

    Returns
    -------
    dict
        ``D_stsp``, ``D_H``, ``PE`` (floats; NaN for a diverged run) and ``generated``
        (the compared ``(T, d)`` part of the run).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(4000) * 0.05
    >>> X = np.column_stack([np.cos(t), np.sin(t)])
    >>> c, s = np.cos(0.05), np.sin(0.05)
    >>> exact = lambda x: x @ np.array([[c, s], [-s, c]])  # the true rotation
    >>> scores = reconstruction_scores(exact, X, pe_stride=10)
    >>> scores["D_H"] < 0.01, scores["PE"] < 1e-20  # spectra of equal circles; exact steps
    (True, True)
    """
    from koop.metrics._forecast import prediction_error
    from koop.metrics._invariant import power_spectrum_distance, state_space_divergence

    test = check_array(test, name="test", min_samples=pe_steps + 2)
    T = test.shape[0]
    if not (length_factor >= 1.0 and 0.0 <= transient < length_factor):
        raise ValueError("length_factor must be >= 1 and 0 <= transient < length_factor.")
    lags = _lags(model)
    n_run, skip = int(np.floor(length_factor * T)), int(np.floor(transient * T))
    n_compare = T - lags
    with np.errstate(all="ignore"):
        run = free_run(model, test, max(n_run - lags, skip + n_compare))
    generated = run[skip : skip + n_compare]
    reference = test[lags:]
    return {
        "D_stsp": state_space_divergence(reference, generated, n_bins=n_bins),
        "D_H": power_spectrum_distance(reference, generated, smoothing=smoothing),
        "PE": prediction_error(model, test, pe_steps, stride=pe_stride),
        "generated": generated,
    }
