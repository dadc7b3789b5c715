"""Figures of Koopman models (matplotlib, imported on first use; ``pip install koop[plot]``).

Every function draws into ``ax`` when one is given (so that figures compose in user
scripts and notebooks) and otherwise creates a new :class:`matplotlib.figure.Figure`
without touching pyplot's global state; it returns the figure. Save with
``fig.savefig(path)``.
"""

from koop.plot._fields import field_modes
from koop.plot._functions import eigenfunctions, forecast, havok_forcing, modes
from koop.plot._spectral import convergence, pseudospectrum, spectrum

__all__ = [
    "spectrum",
    "pseudospectrum",
    "eigenfunctions",
    "modes",
    "forecast",
    "havok_forcing",
    "convergence",
    "field_modes",
]
