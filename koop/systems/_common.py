"""Argument checks shared by the built-in systems."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["check_steps", "check_dt", "initial_state"]


def check_steps(n_steps: Any) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer):
        raise TypeError(f"n_steps must be a positive integer, got {n_steps!r}.")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}.")
    return int(n_steps)


def check_dt(dt: Any) -> float:
    if isinstance(dt, bool) or not isinstance(dt, int | float | np.integer | np.floating):
        raise TypeError(f"dt must be a positive number, got {dt!r}.")
    if not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be positive and finite, got {dt}.")
    return float(dt)


def initial_state(x0: Any, default: np.ndarray, random_state: Any, spread: float) -> np.ndarray:
    if x0 is not None:
        x0 = np.asarray(x0, dtype=np.float64).ravel()
        if x0.shape != default.shape or not np.isfinite(x0).all():
            raise ValueError(
                f"x0 must be {default.shape[0]} finite numbers, got {x0!r}."
            )
        return x0
    if random_state is None:
        return default.copy()
    rng = check_random_state(random_state)
    return default + spread * rng.standard_normal(default.shape)
