"""Figures in the complex plane: spectra, pseudospectra, and convergence curves."""

from __future__ import annotations

from typing import Any

import numpy as np

from koop.plot._common import _figure_and_axes, _unit_circle

__all__ = ["spectrum", "pseudospectrum", "convergence"]


def spectrum(model: Any, residuals: Any = None, *, ax: Any = None, tol: float | None = None,
             continuous: bool = False, cmap: str = "viridis_r", title: str | None = None):
    r"""Eigenvalues in the complex plane with the unit circle, coloured by residual.

    Parameters
    ----------
    model : fitted estimator or array of complex
        Its ``eigenvalues_`` (and ``residuals_`` when present) are drawn.
    residuals : array-like, optional
        One residual bound per eigenvalue (colour, log scale); overrides
        ``model.residuals_``.
    ax : matplotlib Axes, optional
    tol : float, optional
        Eigenvalues with residual > ``tol`` are drawn hollow (not verified).
    continuous : bool
        Plot ``continuous_eigenvalues_`` (:math:`\log\lambda/\Delta t`) instead, with the
        imaginary axis in place of the unit circle.
    cmap : str
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from koop import plot
    >>> fig = plot.spectrum(np.exp(1j * np.linspace(0, 3, 5)), residuals=np.logspace(-6, 0, 5))
    >>> len(fig.axes)  # the plane and the colour bar
    2
    """
    lam = getattr(model, "continuous_eigenvalues_" if continuous else "eigenvalues_", model)
    lam = np.asarray(lam, dtype=np.complex128).ravel()
    if residuals is None:
        residuals = getattr(model, "residuals_", None)
    fig, (ax,) = _figure_and_axes(ax, figsize=(5, 4.4))
    if continuous:
        ax.axvline(0, color="0.5", lw=0.8, ls="--")
        ax.set_xlabel(r"Re $\log\lambda/\Delta t$ (growth rate)")
        ax.set_ylabel(r"Im $\log\lambda/\Delta t$ (frequency)")
    else:
        _unit_circle(ax)
        ax.set_xlabel(r"Re $\lambda$")
        ax.set_ylabel(r"Im $\lambda$")
    if residuals is not None:
        from matplotlib.colors import LogNorm

        res = np.asarray(residuals, dtype=float).ravel()
        if res.shape != lam.shape:
            raise ValueError(f"residuals has {res.size} entries for {lam.size} eigenvalues.")
        floor = max(np.nanmin(res[res > 0]) if np.any(res > 0) else 1e-16, 1e-16)
        shown = np.clip(res, floor, None)
        norm = LogNorm(vmin=shown.min(), vmax=max(shown.max(), shown.min() * 10))
        verified = np.ones(lam.shape, bool) if tol is None else res <= tol
        sc = ax.scatter(lam.real[verified], lam.imag[verified], c=shown[verified],
                        cmap=cmap, norm=norm, s=22, zorder=3,
                        label="eigenvalues" if tol is None else f"residual <= {tol:g}")
        if (~verified).any():
            ax.scatter(lam.real[~verified], lam.imag[~verified], facecolors="none",
                       edgecolors=sc.cmap(norm(shown[~verified])), s=22, zorder=3,
                       label=f"residual > {tol:g}")
        fig.colorbar(sc, ax=ax, label="residual bound")
    else:
        ax.scatter(lam.real, lam.imag, s=18, zorder=3, color="C0", label="eigenvalues")
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(title or ("Continuous-time spectrum" if continuous else "Koopman spectrum"))
    return fig


def _grid_from(result: Any):
    """(real axis, imag axis, values 2-D [imag, real]) from a pseudospectrum result."""
    if hasattr(result, "to_xarray") and not hasattr(result, "dims"):
        result = result.to_xarray()
    if hasattr(result, "data_vars"):  # a Dataset: take its first 2-D variable
        names = [n for n, v in result.data_vars.items() if v.ndim == 2]
        if not names:
            raise ValueError("the Dataset holds no 2-D variable to contour.")
        result = result[names[0]]
    if hasattr(result, "dims"):
        if result.ndim != 2:
            raise ValueError(f"expected a 2-D grid, got dims {result.dims}.")
        y_dim, x_dim = result.dims
        x = np.asarray(result[x_dim].values, dtype=float)
        y = np.asarray(result[y_dim].values, dtype=float)
        return x, y, np.asarray(result.values, dtype=float)
    if isinstance(result, tuple) and len(result) == 3:
        x, y, z = (np.asarray(v, dtype=float) for v in result)
        return x, y, z
    raise TypeError(
        "pseudospectrum takes a 2-D DataArray (dims imag x real), a result with "
        "to_xarray(), or a tuple (real_axis, imag_axis, values)."
    )


def pseudospectrum(result: Any, *, levels: Any = None, eigenvalues: Any = None,
                   ax: Any = None, cmap: str = "magma_r", title: str | None = None):
    r"""Contours of the approximate pseudospectrum :math:`\tau(z)` (log-spaced levels).

    The :math:`\varepsilon`-pseudospectrum is the region :math:`\{z: \tau(z) <
    \varepsilon\}`, with :math:`\tau` the smallest residual over functions in the
    dictionary span (ResDMD); its contours nest around the true spectrum.

    Parameters
    ----------
    result : DataArray (imag x real), an object with ``to_xarray()``, or tuple
        The values :math:`\tau(z)` on a grid; a tuple is ``(re_axis, im_axis, values)``.
    levels : sequence of float, optional
        Contour levels :math:`\varepsilon` (default: powers of ten spanning the values).
    eigenvalues : array-like or fitted model, optional
        Drawn on top.
    ax : matplotlib Axes, optional
    cmap, title : str

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from koop import plot
    >>> axis = np.linspace(-1.5, 1.5, 31)
    >>> tau = np.abs(axis[None, :] + 1j * axis[:, None] - 0.5)  # one eigenvalue at 0.5
    >>> fig = plot.pseudospectrum((axis, axis, tau), eigenvalues=[0.5])
    >>> fig.axes[0].get_xlabel()
    'Re $z$'
    """
    x, y, z = _grid_from(result)
    if z.shape != (y.size, x.size):
        raise ValueError(f"values have shape {z.shape}, expected {(y.size, x.size)}.")
    fig, (ax,) = _figure_and_axes(ax, figsize=(5, 4.4))
    positive = z[np.isfinite(z) & (z > 0)]
    if levels is None:
        lo = np.floor(np.log10(positive.min())) if positive.size else -3
        hi = np.ceil(np.log10(positive.max())) if positive.size else 0
        levels = 10.0 ** np.arange(max(lo, hi - 4), hi + 0.25, 0.5)
        if len(levels) < 2:
            levels = np.array([levels[0] / 10, levels[0]])
    levels = np.sort(np.asarray(levels, dtype=float))
    from matplotlib.colors import LogNorm

    cs = ax.contour(x, y, np.clip(z, levels[0] / 10, None), levels=levels, cmap=cmap,
                    norm=LogNorm(vmin=levels[0], vmax=levels[-1]))
    fig.colorbar(cs, ax=ax, label=r"$\varepsilon$")
    _unit_circle(ax, adjustable="box")
    if eigenvalues is not None:
        lam = np.asarray(getattr(eigenvalues, "eigenvalues_", eigenvalues), complex).ravel()
        ax.scatter(lam.real, lam.imag, s=12, color="C0", zorder=3, label="eigenvalues")
        ax.legend(loc="upper right", fontsize="small")
    ax.set_xlim(x.min(), x.max())
    ax.set_ylim(y.min(), y.max())
    ax.set_xlabel(r"Re $z$")
    ax.set_ylabel(r"Im $z$")
    ax.set_title(title or r"Pseudospectrum: contours of $\tau(z)=\varepsilon$")
    return fig


def convergence(table: Any, *, x: str | None = None, ax: Any = None, logy: bool = True):
    """Convergence of estimates with sample count or dictionary size.

    Parameters
    ----------
    table : xarray.Dataset, DataArray or dict of 1-D arrays
        One coordinate (the sample count or dictionary size, ``x``) and one or more
        variables along it (errors, residuals, eigenvalue distances). Objects with
        ``to_xarray()`` are converted first.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from koop import plot
    >>> n = np.array([100, 1000, 10000])
    >>> fig = plot.convergence({"n_samples": n, "error": 1 / np.sqrt(n)})
    >>> fig.axes[0].get_xscale(), len(fig.axes[0].lines)
    ('log', 1)
    """
    if hasattr(table, "to_xarray") and not hasattr(table, "dims"):
        table = table.to_xarray()
    if isinstance(table, dict):
        import xarray as xr

        x = x or next(iter(table))
        table = xr.Dataset({k: ((x,), np.asarray(v)) for k, v in table.items() if k != x},
                           coords={x: np.asarray(table[x])})
    if hasattr(table, "to_dataset") and not hasattr(table, "data_vars"):
        table = table.to_dataset(name=table.name or "value")
    one_d = [n for n, v in table.data_vars.items() if v.ndim == 1
             and np.issubdtype(v.dtype, np.number)]
    if not one_d:
        raise ValueError("nothing 1-D to plot in the convergence table.")
    x = x or table[one_d[0]].dims[0]
    fig, (ax,) = _figure_and_axes(ax, figsize=(5.5, 4))
    for name in one_d:
        var = table[name]
        if var.dims != (x,):
            continue
        ax.plot(table[x].values, np.abs(var.values), marker="o", ms=3, label=name)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.legend(fontsize="small")
    ax.set_title("Convergence")
    return fig
