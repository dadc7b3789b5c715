"""Spectral measures of measure-preserving Koopman operators."""

from __future__ import annotations

from typing import Any

import numpy as np

from koop._spectral.measure import FILTERS, ergodic_moments, moment_measure
from koop._spectral.model import as_koopman_model

__all__ = ["spectral_measure", "spectral_measure_moments"]


def _theta(theta: Any) -> np.ndarray:
    if theta is None:
        return np.linspace(-np.pi, np.pi, 512, endpoint=False)
    theta = np.asarray(theta, dtype=float)
    if not np.isfinite(theta).all():
        raise ValueError("theta contains NaN or inf.")
    return theta


def _check_eps_order(epsilon: Any, order: Any) -> None:
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not 0 < epsilon < 1:
        raise ValueError(f"epsilon must be a number in (0, 1), got {epsilon!r}.")
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= 10:
        raise ValueError(f"order must be an int in [1, 10], got {order!r}.")


def spectral_measure(model: Any, observable: Any, theta: Any = None, *, epsilon: float = 0.1,
                     order: int = 2, X: Any = None, y: Any = None):
    r"""Smoothed spectral measure :math:`\nu_f^\varepsilon` by the resolvent method.

    For a measure-preserving system the Koopman operator is an isometry and
    :math:`\langle \mathcal K^k f, f\rangle = \int e^{ik\theta}d\nu_f(\theta)`. Colbrook &
    Townsend's rational kernels of order :math:`m` (poles
    :math:`e^{i\theta}(1+\varepsilon\delta_j)` outside the unit disc) give

    .. math::
        \nu_f^\varepsilon(\theta) = -\frac{1}{2\pi}\sum_{j=1}^m\operatorname{Re}\Big[
        c_j\bar\lambda_j\overline{\langle(\mathcal K-\lambda_j)^{-1}f,f\rangle}
        + d_j\langle \mathcal K(\mathcal K-\lambda_j)^{-1}f, f\rangle\Big],

    which converges as :math:`O(\varepsilon^m\log(1/\varepsilon))` where the density is
    smooth (:math:`m = 1` is the Poisson kernel). Resolvents come from one Schur form of the
    Galerkin matrix in an orthonormal basis. The dictionary must be rich enough for the
    chosen :math:`\varepsilon` (smaller :math:`\varepsilon` needs a larger dictionary).

    Parameters
    ----------
    model : fitted EDMD-family estimator
    observable : array-like (M,) or int
        Dictionary coefficients :math:`c` of :math:`f = \Psi c`, or one function's index.
    theta : array-like, optional
        Angles; default 512 points on :math:`[-\pi, \pi)`.
    epsilon : float, default=0.1
    order : int, default=2
    X, y : optional
        Independent data for the Galerkin matrices.

    Returns
    -------
    xarray.DataArray over ``theta``

    Examples
    --------
    >>> import numpy as np
    >>> from koop.dictionaries import Custom
    >>> from koop.estimators import ResDMD
    >>> th = np.linspace(0, 2 * np.pi, 128, endpoint=False)[:, None]
    >>> fourier = Custom(lambda X: np.hstack([np.ones_like(X), np.cos(X), np.sin(X)]))
    >>> model = ResDMD(fourier).fit(th, (th + 1.0) % (2 * np.pi))
    >>> nu = spectral_measure(model, 1, epsilon=0.05, order=4)
    >>> float(nu.integrate("theta")).__round__(6)  # total mass = ||cos||^2 = 1/2
    0.5
    """
    _check_eps_order(epsilon, order)
    theta = _theta(theta)
    km = as_koopman_model(model)
    nu = km.spectral_measure(observable, theta, epsilon, order, X, y)
    import xarray as xr

    return xr.DataArray(nu, dims=("theta",), coords={"theta": theta}, name="spectral_measure",
                        attrs={"method": "resolvent", "epsilon": float(epsilon),
                               "order": int(order)})


def spectral_measure_moments(series: Any = None, theta: Any = None, *,
                             n_moments: int | None = None, filter: str = "bump",
                             moments: Any = None):
    r"""Spectral measure from autocorrelations (the moment / filter method).

    With :math:`\hat\nu(k) = \frac{1}{2\pi}\langle\mathcal K^k f, f\rangle`, estimated from
    one trajectory :math:`f(x_0), f(x_1), \dots` by ergodic averages
    :math:`\frac{1}{2\pi(N-k)}\sum_j f(x_{j+k})\overline{f(x_j)}`,

    .. math::
        \nu_N(\theta) = \sum_{|k|<N}\varphi(|k|/N)\,\hat\nu(k)\,e^{-ik\theta},
        \qquad \hat\nu(-k) = \overline{\hat\nu(k)},

    so that an eigenfunction :math:`\mathcal K f = e^{i\omega}f` gives an atom at
    :math:`\theta = \omega`.

    The filter :math:`\varphi` sets the convergence rate for smooth test functions:
    ``"fejer"`` :math:`O(N^{-1})`, ``"cosine"`` :math:`O(N^{-2})`, ``"vandeven"``
    :math:`O(N^{-4})`, ``"sharp_cosine"`` :math:`O(N^{-8})`, ``"bump"`` (default) faster
    than any power.

    Parameters
    ----------
    series : array-like (n_samples,), optional
        Values of the observable along one trajectory (complex allowed).
    theta : array-like, optional
    n_moments : int, optional
        :math:`N`; default ``min(len(series) // 10, 1000)``.
    filter : {"bump", "fejer", "cosine", "vandeven", "sharp_cosine"}
    moments : array-like, optional
        Known moments :math:`\hat\nu(0), \dots, \hat\nu(N)` instead of ``series``.

    Returns
    -------
    xarray.DataArray over ``theta``

    Examples
    --------
    >>> import numpy as np
    >>> k = np.arange(1, 101)
    >>> mu = np.concatenate([[1 / (2 * np.pi**2)], np.sin(k) / (2 * np.pi**2 * k)])
    >>> nu = spectral_measure_moments(moments=mu, theta=[0.0])
    >>> round(float(nu[0]) * 2 * np.pi, 6)  # the density of the shift example at 0
    1.0
    """
    if filter not in FILTERS:
        raise ValueError(f"filter must be one of {sorted(FILTERS)}, got {filter!r}.")
    if (series is None) == (moments is None):
        raise ValueError("Pass exactly one of series (a trajectory of the observable) or "
                         "moments.")
    theta = _theta(theta)
    if moments is None:
        x = np.asarray(series)
        if x.dtype.kind not in "biufc" or (x.ndim != 1 and not (x.ndim == 2 and x.shape[1] == 1)):
            raise ValueError("series must be a 1-D numeric array (one observable over time).")
        x = x.ravel()
        if n_moments is None:
            n_moments = min(x.size // 10, 1000)
        if isinstance(n_moments, bool) or not isinstance(n_moments, int) or n_moments < 1:
            raise ValueError(f"n_moments must be a positive int, got {n_moments!r}.")
        mu = ergodic_moments(x, n_moments)
        if np.isrealobj(x):
            mu = mu.real
    else:
        mu = np.asarray(moments)
    nu = moment_measure(mu, theta, filter)
    import xarray as xr

    return xr.DataArray(nu, dims=("theta",), coords={"theta": theta}, name="spectral_measure",
                        attrs={"method": "moments", "filter": filter,
                               "n_moments": int(mu.shape[0] - 1)})
