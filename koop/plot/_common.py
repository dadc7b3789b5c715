"""Shared helpers of koop.plot: lazy matplotlib, figures without pyplot state."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__: list[str] = []


def _mpl():
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "koop.plot needs matplotlib: pip install 'koop[plot]'."
        ) from None
    return matplotlib


def _figure_and_axes(ax: Any, n_panels: int = 1, figsize: tuple | None = None,
                     ncols: int | None = None):
    _mpl()
    if ax is not None:
        axes = list(np.ravel(ax)) if isinstance(ax, list | tuple | np.ndarray) else [ax]
        if len(axes) < n_panels:
            raise ValueError(f"this figure needs {n_panels} axes, got {len(axes)}.")
        return axes[0].figure, axes
    from matplotlib.figure import Figure

    ncols = ncols or min(n_panels, 3)
    nrows = -(-n_panels // ncols)
    fig = Figure(figsize=figsize or (4.2 * ncols, 3.4 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for extra in axes[n_panels:]:
        extra.set_visible(False)
    return fig, axes[:n_panels]


def _unit_circle(ax: Any, adjustable: str = "datalim") -> None:
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), color="0.5", lw=0.8, ls="--", label="unit circle")
    ax.set_aspect("equal", adjustable=adjustable)
    ax.axhline(0, color="0.85", lw=0.5, zorder=0)
    ax.axvline(0, color="0.85", lw=0.5, zorder=0)
