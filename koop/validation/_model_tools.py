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
    if isinstance(observable, int | np.integer) and not isinstance(observable, bool):
        if not 0 <= observable < M:
            raise ValueError(f"observable index must be in [0, {M}), got {observable}.")
        c = np.zeros(M)
        c[observable] = 1.0
    else:
        c = np.asarray(observable)
        if c.shape != (M,):
            raise ValueError(f"observable must be {M} dictionary coefficients or an index, "
                             f"got shape {c.shape}.")
        if c.dtype.kind not in "biufc":
            raise TypeError(f"observable coefficients must be numbers, got dtype {c.dtype}.")
        if not np.isfinite(c).all():
            raise ValueError("observable coefficients contain NaN or inf.")
    if G is None:
        from koop._spectral.model import factor_on

        G = factor_on(model, X, y).gram()[0]
    return Q.conj().T @ (G @ c)
