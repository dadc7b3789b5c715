"""Input checks shared by the metrics: the true series strictly, the model's for shape."""

from __future__ import annotations

import numpy as np

from koop.data import check_array


def _check_pair(true, other, name: str, *, same_length: bool = False, min_samples: int = 1):
    """Validate ``true`` strictly and ``other`` for shape; return ``(true, other, finite)``.

    ``other`` may hold NaN or inf (a diverged model); ``finite`` says whether it does not.
    """
    true = check_array(true, name="true", min_samples=min_samples)
    try:
        raw = np.asarray(other, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a numeric array of shape (n_samples, n_features)."
        ) from None
    if raw.ndim == 1:
        raw = raw.reshape(-1, 1)
    if raw.ndim != 2 or raw.shape[1] != true.shape[1]:
        raise ValueError(
            f"{name} has shape {raw.shape}, but true has {true.shape[1]} feature(s); pass "
            "arrays of shape (n_samples, n_features) with the same features."
        )
    if same_length and raw.shape[0] != true.shape[0]:
        raise ValueError(
            f"true has {true.shape[0]} samples and {name} has {raw.shape[0]}; this metric "
            "compares them sample by sample, so pass series of equal length."
        )
    if raw.shape[0] < 1:
        raise ValueError(f"{name} is empty.")
    return true, raw, bool(np.isfinite(raw).all())
