"""Figures over state space and time: eigenfunctions, modes, forecasts, HAVOK forcing."""

from __future__ import annotations

from typing import Any

import numpy as np

from koop.plot._common import _figure_and_axes

__all__ = ["eigenfunctions", "modes", "forecast", "havok_forcing"]


def eigenfunctions(model: Any, X: Any, *, n: int = 4, which: Any = None, ax: Any = None,
                   part: str = "real", cmap: str = "RdBu_r", coords: tuple = (0, 1),
                   feature_names: Any = None):
    r"""The leading eigenfunctions :math:`\phi_j(x)` evaluated on samples ``X``.

    For two or more state variables each panel colours the samples (first two
    coordinates) by :math:`\phi_j`; for one variable it plots :math:`\phi_j` along the
    sample index.

    Parameters
    ----------
    model : fitted estimator
    X : array-like (n_samples, n_features_in_)
    n : int
        Number of eigenfunctions: the first ``n`` in ``eigenvalues_`` order, skipping the
        eigenvalue 1 and one of each complex-conjugate pair (whose real parts agree),
        when ``which`` is not given.
    which : sequence of int, optional
        Explicit mode indices.
    ax : sequence of Axes, optional
    part : {"real", "abs", "angle"}
    cmap : str
    coords : tuple of two int
        The state coordinates on the axes (for two or more variables).
    feature_names : sequence of str, optional
        Axis labels.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from koop import plot, systems
    >>> from koop.dictionaries import Polynomial
    >>> from koop.estimators import EDMD
    >>> X = systems.slow_manifold(100, x0=[1.0, 0.8])
    >>> fig = plot.eigenfunctions(EDMD(Polynomial(degree=2)).fit(X), X, n=2)
    >>> len([a for a in fig.axes if a.get_title()])
    2
    """
    if part not in ("real", "abs", "angle"):
        raise ValueError(f"part must be 'real', 'abs' or 'angle', got {part!r}.")
    lam = np.asarray(model.eigenvalues_)
    if which is None:
        order = [j for j in range(lam.size) if not np.isclose(lam[j], 1.0, atol=1e-6)
                 and not (lam[j].imag < 0 and np.isclose(lam, np.conj(lam[j])).any())]
        which = (order or list(range(lam.size)))[:n]
    which = [int(j) for j in which]
    Xa = np.asarray(getattr(X, "values", X), dtype=float)
    Xa = Xa.reshape(-1, 1) if Xa.ndim == 1 else Xa
    phi = np.asarray(model.eigenfunctions(Xa))
    lags = Xa.shape[0] - phi.shape[0]
    values = {"real": np.real, "abs": np.abs, "angle": np.angle}[part](phi)
    fig, axes = _figure_and_axes(ax, len(which))
    for a, j in zip(axes, which, strict=False):
        v = values[:, j]
        if Xa.shape[1] >= 2:
            i, k = coords
            names = feature_names or [f"x{q}" for q in range(Xa.shape[1])]
            # a symmetric colour scale (zero in the middle), robust to a few outliers
            lim = float(np.percentile(np.abs(v), 99)) or 1.0
            vmin = -lim if part == "real" else None
            sc = a.scatter(Xa[lags:, i], Xa[lags:, k], c=v, s=4, cmap=cmap, rasterized=True,
                           vmin=vmin, vmax=lim if part == "real" else None)
            fig.colorbar(sc, ax=a)
            a.set_xlabel(names[i])
            a.set_ylabel(names[k])
        else:
            a.plot(np.arange(lags, Xa.shape[0]), v, lw=0.8)
            a.set_xlabel("sample")
        a.set_title(rf"{part} $\phi_{{{j}}}$, $\lambda$={lam[j].real:.3f}{lam[j].imag:+.3f}i",
                    fontsize="small")
    return fig


def modes(model: Any, *, n: int = 10, ax: Any = None, feature_names: Any = None,
          cmap: str = "viridis"):
    r"""Magnitudes :math:`|\xi_{ij}|` of the Koopman modes (feature x mode heat map).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from koop import plot, systems
    >>> from koop.estimators import DMD
    >>> fig = plot.modes(DMD().fit(systems.slow_manifold(50, x0=[1.0, 0.5])))
    >>> fig.axes[0].get_title()
    'Koopman modes'
    """
    M = np.abs(np.asarray(model.modes_))[:, :n]
    fig, (ax,) = _figure_and_axes(ax, figsize=(max(4, 0.45 * M.shape[1] + 2), 0.5 * M.shape[0]
                                                + 2))
    im = ax.imshow(M, aspect="auto", cmap=cmap, interpolation="nearest")
    fig.colorbar(im, ax=ax, label=r"$|\xi|$")
    names = feature_names or [f"x{i}" for i in range(M.shape[0])]
    ax.set_yticks(range(M.shape[0]), names)
    ax.set_xticks(range(M.shape[1]))
    ax.set_xlabel("mode (eigenvalue order)")
    ax.set_title("Koopman modes")
    return fig


def forecast(truth: Any, prediction: Any, *, dt: float | None = None, ax: Any = None,
             feature_names: Any = None, max_features: int = 4):
    """A forecast against the truth, one panel per state variable.

    Parameters
    ----------
    truth, prediction : array-like (n_steps, n_features)
    dt : float, optional
        Time step for the horizontal axis (default: step index).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from koop import plot
    >>> t = np.linspace(0, 10, 200)
    >>> fig = plot.forecast(np.sin(t), np.sin(t) + 0.01 * t, dt=t[1] - t[0])
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['truth', 'Koopman forecast']
    """
    T = np.asarray(truth, dtype=float)
    P = np.real(np.asarray(prediction))
    T = T.reshape(-1, 1) if T.ndim == 1 else T
    P = P.reshape(-1, 1) if P.ndim == 1 else P
    n = min(T.shape[0], P.shape[0])
    d = min(T.shape[1], max_features)
    t = np.arange(n) * (dt or 1.0)
    fig, axes = _figure_and_axes(ax, d, ncols=1, figsize=(7, 1.9 * d + 0.6))
    names = feature_names or [f"x{i}" for i in range(d)]
    for i, a in enumerate(axes):
        a.plot(t, T[:n, i], color="k", lw=1.0, label="truth")
        a.plot(t, P[:n, i], color="C3", lw=1.0, ls="--", label="Koopman forecast")
        a.set_ylabel(names[i])
    axes[0].legend(loc="upper right", fontsize="small")
    axes[-1].set_xlabel("time" if dt else "step")
    return fig


def havok_forcing(model: Any, *, dt: float | None = None, threshold: float | None = None,
                  ax: Any = None, max_points: int = 20_000):
    r"""HAVOK: the first delay coordinate :math:`v_1` and the forcing :math:`v_r`, with the
    windows where the forcing is active shaded.

    Parameters
    ----------
    model : fitted :class:`~koop.estimators.HAVOK`
        Uses ``forcing_``, ``forcing_active(threshold)`` and, when present, the delay
        coordinates ``delay_coordinates_`` (else only the forcing is drawn).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from koop import plot, systems
    >>> from koop.estimators import HAVOK
    >>> x = systems.lorenz63(3000, dt=0.005)[:, 0]
    >>> fig = plot.havok_forcing(HAVOK(n_delays=19, rank=8).fit(x, dt=0.005))
    >>> len([a for a in fig.axes if a.get_visible()])
    2
    """
    v_r = np.real(np.asarray(model.forcing_)).ravel()
    active = np.asarray(model.forcing_active(threshold), dtype=bool).ravel()
    V = getattr(model, "delay_coordinates_", None)
    dt = dt or getattr(model, "dt_", None) or 1.0
    n = min(v_r.size, max_points)
    t = np.arange(n) * dt
    panels = 2 if V is not None else 1
    fig, axes = _figure_and_axes(ax, panels, ncols=1, figsize=(8, 2.4 * panels + 0.4))
    if V is not None:
        v1 = np.real(np.asarray(V))[:, 0][:n]
        axes[0].plot(t[: v1.size], v1, color="k", lw=0.8)
        axes[0].set_ylabel(r"$v_1$")
    a = axes[-1]
    a.plot(t, v_r[:n], color="C3", lw=0.8)
    a.set_ylabel(r"forcing $v_r$")
    a.set_xlabel("time")
    if active.size >= n:
        for axis in axes:
            axis.fill_between(t, 0, 1, where=active[:n], color="C1", alpha=0.25,
                              transform=axis.get_xaxis_transform(), lw=0,
                              label="forcing active")
        axes[0].legend(loc="upper right", fontsize="small")
    axes[0].set_title("HAVOK: dominant coordinate and intermittent forcing")
    return fig
