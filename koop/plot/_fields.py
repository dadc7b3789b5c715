"""Modes of a 2-D field on its grid."""

from __future__ import annotations

from typing import Any

import numpy as np

from koop.plot._common import _figure_and_axes

__all__ = ["field_modes"]


def field_modes(model: Any, modes: Any = None, *, part: str = "both", cmap: str = "RdBu_r",
                ax: Any = None):
    r"""Draw Koopman/DMD modes of a model fitted on a 2-D field, on the field's grid.

    One row per mode: the real part :math:`\operatorname{Re}\xi_j` (symmetric colour
    scale) and the phase :math:`\arg\xi_j` (cyclic colours), with the grid's coordinates
    on the axes; masked points stay blank. The title names the eigenvalue and, when
    ``dt`` is known, the frequency in cycles per unit time.

    Parameters
    ----------
    model : fitted estimator with ``field_`` (fitted on an xarray field with 2 spatial dims)
    modes : sequence of int, optional
        Which modes (default: the first pair with positive frequency, else the first two).
    part : {"both", "real", "phase"}
    cmap : str
        Colour map of the real part.
    ax : matplotlib axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from koop import plot
    >>> from koop.estimators import DMD
    >>> t = np.arange(40) * 0.1
    >>> g = np.linspace(-1, 1, 12)
    >>> v = (np.cos(3 * t)[:, None, None] * np.cos(g)[None, :, None] * g[None, None, :]
    ...      + np.sin(3 * t)[:, None, None] * np.sin(g)[None, :, None])
    >>> da = xr.DataArray(v, dims=("time", "y", "x"), coords={"time": t, "y": g, "x": g})
    >>> fig = plot.field_modes(DMD(rank=2).fit(da))
    >>> len(fig.axes) >= 2
    True
    """
    from koop._fields import modes_dataarray

    layout = getattr(model, "field_", None)
    if layout is None or len(layout.dims) != 2:
        raise ValueError("field_modes needs a model fitted on an xarray field with two "
                         "spatial dimensions, e.g. dims (time, y, x).")
    if part not in ("both", "real", "phase"):
        raise ValueError(f"part must be 'both', 'real' or 'phase', got {part!r}.")
    da = modes_dataarray(model)
    lam = np.asarray(model.eigenvalues_)
    if modes is None:
        upper = [j for j in range(lam.size) if lam[j].imag > 0]
        modes = upper[:1] or list(range(min(2, lam.size)))
    modes = [int(j) for j in np.atleast_1d(modes)]
    parts = ["real", "phase"] if part == "both" else [part]
    fig, axes = _figure_and_axes(ax, len(modes) * len(parts), ncols=len(parts))
    ydim, xdim = layout.dims
    x = layout.coords.get(xdim, np.arange(layout.shape[1]))
    y = layout.coords.get(ydim, np.arange(layout.shape[0]))
    dt = getattr(model, "dt_", None)
    for k, j in enumerate(modes):
        xi = da.sel(mode=j).values
        for p, which in enumerate(parts):
            a = axes[k * len(parts) + p]
            if which == "real":
                vmax = np.nanmax(np.abs(xi.real)) or 1.0
                im = a.pcolormesh(x, y, xi.real, cmap=cmap, vmin=-vmax, vmax=vmax,
                                  shading="auto")
                label = r"Re $\xi$"
            else:
                im = a.pcolormesh(x, y, np.angle(xi), cmap="twilight", vmin=-np.pi,
                                  vmax=np.pi, shading="auto")
                label = r"arg $\xi$"
            fig.colorbar(im, ax=a, label=label)
            a.set_aspect("equal")
            a.set_xlabel(xdim)
            a.set_ylabel(ydim)
            title = rf"mode {j}: $\lambda$={lam[j].real:.3f}{lam[j].imag:+.3f}i"
            if dt is not None:
                title += f", f={np.angle(lam[j]) / (2 * np.pi * dt):.4g}"
            a.set_title(title, fontsize="small")
    return fig
