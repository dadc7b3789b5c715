"""Small helpers shared by the validation functions."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["observable_coordinates"]


def observable_coordinates(pencil, G, observable: Any, model: Any, X: Any = None,
                           y: Any = None) -> np.ndarray:
    r"""Coordinates :math:`Q^*Gc` of :math:`f = \Psi c` in the pencil's orthonormal basis."""
    Q = pencil.basis
    M = Q.shape[0]
    from koop._spectral.measure import observable_vector

    c = observable_vector(observable, M)
    if G is None:
        from koop._spectral.model import factor_on

        G = factor_on(model, X, y).gram()[0]
    return Q.conj().T @ (G @ c)
