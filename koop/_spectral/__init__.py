"""Numerical core of the fitted model: truncation, ResDMD, pseudospectra, measures.

Private: the estimators (:mod:`koop.estimators`) and :mod:`koop.validation` wrap these
functions and the fitted :class:`~koop._spectral.model.KoopmanModel` (public as
``koop.base.KoopmanModel``). They depend on numpy, scipy, :mod:`koop.data` and the Gram
plan (:mod:`koop._backends.plan`) only.
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
