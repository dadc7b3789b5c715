"""Shared helpers of the reliability tests: hypothesis settings, matching, bad-data catalogue.

The settings are an object the test modules apply with ``@RELIABLE`` rather than a
loaded profile, so that they never change other test directories' hypothesis runs.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from scipy.optimize import linear_sum_assignment

from koop import systems

# derandomize: the same examples on every run, so CI is deterministic
RELIABLE = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,  # no replay of examples saved by earlier runs: the same run everywhere
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


def match_error(found, expected) -> float:
    """Largest distance between two multisets of eigenvalues, optimally paired."""
    found = np.asarray(found, dtype=complex)
    expected = np.asarray(expected, dtype=complex)
    assert found.shape == expected.shape, (found.shape, expected.shape)
    if found.size == 0:
        return 0.0
    cost = np.abs(found[:, None] - expected[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].max())


def nearest_error(found, expected) -> float:
    """Largest distance from an expected eigenvalue to the nearest found one."""
    found = np.asarray(found, dtype=complex)
    return float(max(np.min(np.abs(found - e)) for e in np.atleast_1d(expected)))


class Payload:
    """Unpickling this creates a directory: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return os.mkdir, (self.marker,)


# -- the catalogue of bad data shared by the hostile-input tests --------------------------
GOOD = systems.slow_manifold(40, x0=[0.8, -0.6])


def with_value(value, where=(3, 1)):
    X = GOOD.copy()
    X[where] = value
    return X


# name, factory, exception type(s), regex the message must match
BAD_DATA = [
    ("nan", lambda: with_value(np.nan), ValueError, "NaN or infinite"),
    ("+inf", lambda: with_value(np.inf), ValueError, "NaN or infinite"),
    ("-inf", lambda: with_value(-np.inf, (5, 0)), ValueError, "NaN or infinite"),
    ("all nan", lambda: np.full_like(GOOD, np.nan), ValueError, "NaN or infinite"),
    ("empty rows", lambda: np.zeros((0, 2)), ValueError, r"0 sample|snapshot pair"),
    ("empty 1-D", lambda: np.array([]), ValueError, r"0 sample|snapshot pair"),
    ("zero features", lambda: np.zeros((10, 0)), ValueError, "0 feature"),
    ("3-D", lambda: np.zeros((4, 5, 2)), ValueError, "2-D"),
    ("0-D", lambda: np.float64(3.0), ValueError, "2-D"),
    ("strings", lambda: np.array([["a", "b"]] * 5), TypeError, "numbers"),
    ("object", lambda: np.array([[1.0, None]] * 5, dtype=object), TypeError, "numbers"),
    ("datetime", lambda: np.arange(10).astype("datetime64[s]"), TypeError, "numbers"),
    ("complex", lambda: GOOD + 1j, TypeError, "complex"),
    ("None", lambda: None, TypeError, "None"),
    ("file name", lambda: "data.csv", TypeError, "string"),
    ("bytes", lambda: b"\x00\x01", TypeError, "string"),
    ("dict", lambda: {"x": [1.0, 2.0]}, TypeError, "numbers"),
    ("ragged", lambda: [[1.0, 2.0], [3.0]], (TypeError, ValueError), r"."),
]
# too little data: one sample gives no snapshot pair
SHORT_DATA = [("one sample", lambda: GOOD[:1], ValueError, r"pair|sample")]


def raises(call, exc, msg):
    with pytest.raises(exc, match=msg) as info:
        call()
    assert str(info.value), "an empty error message tells the user nothing"


def ids(cases):
    return [c[0] for c in cases]
