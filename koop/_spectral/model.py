"""Duck-typed access to what a fitted EDMD-family model keeps, for the spectral tools."""

from __future__ import annotations

from typing import Any

from koop._spectral.factor import (
    Pencil,
    QRFactor,
    build_factor,
    pencil_from_factor,
    pencil_from_gram,
)
from koop.data import as_trajectories

__all__ = ["check_model", "model_pencil", "factor_on"]


def check_model(model: Any) -> None:
    """Raise a clear error unless ``model`` is a fitted EDMD-family model."""
    missing = [a for a in ("eigenvalues_", "eigenvectors_", "dictionary_") if
               not hasattr(model, a)]
    if missing:
        raise TypeError(
            f"{type(model).__name__} is not a fitted EDMD-family model (missing "
            f"{', '.join(missing)}); fit an EDMD, ResDMD, KernelEDMD or HankelDMD first."
        )
    if not (hasattr(model, "factor_") or hasattr(model, "gram_")):
        raise TypeError(f"{type(model).__name__} keeps neither factor_ nor gram_; cannot "
                        "compute residuals.")


def factor_on(model: Any, X: Any, y: Any = None, weights: Any = None,
              verbose: bool = False) -> QRFactor:
    """The QR factor of the model's dictionary on (independent) data ``X`` [, ``y``]."""
    data = as_trajectories(X, y, name="X", min_pairs=1)
    return build_factor(model.dictionary_, data, weights=weights, verbose=verbose)


def model_pencil(model: Any, X: Any = None, y: Any = None, weights: Any = None) -> Pencil:
    """The pencil of ``model``: on ``X`` if given, else its QR factor, else its Gram."""
    check_model(model)
    rcond = getattr(model, "rcond", None)
    rank = getattr(model, "rank", None)
    rank = rank if isinstance(rank, int) else None
    if X is not None:
        return pencil_from_factor(factor_on(model, X, y, weights), rcond=rcond, rank=rank)
    cached = getattr(model, "_pencil_", None)
    if cached is not None:
        return cached
    if hasattr(model, "factor_"):
        return pencil_from_factor(model.factor_, rcond=rcond, rank=rank)
    g = model.gram_
    return pencil_from_gram(g.G, g.A, g.L, g.C, rcond=rcond, rank=rank)
