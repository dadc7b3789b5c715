"""Stateless numerical core of ResDMD, pseudospectra, spectral measures and mpEDMD.

Private: the estimators (:mod:`koop.estimators`) and :mod:`koop.validation` wrap these
functions. They depend on numpy, scipy, :mod:`koop.data` and :mod:`koop.gram` only.
"""

from koop._spectral.factor import (
    Pencil,
    QRFactor,
    build_factor,
    pencil_from_factor,
    pencil_from_gram,
)
from koop._spectral.residual import residuals_from_factor, residuals_from_gram

__all__ = [
    "Pencil",
    "QRFactor",
    "build_factor",
    "pencil_from_factor",
    "pencil_from_gram",
    "residuals_from_factor",
    "residuals_from_gram",
]
