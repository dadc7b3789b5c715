"""koop: Koopman and transfer operators from time-series data, with verified spectra.

``import koop`` is instant: it loads no numerical library. The subpackages
(``koop.data``, ``koop.dictionaries``, ``koop.estimators``, ``koop.gram``,
``koop.systems``, ``koop.validation``, ...) and the names below are imported on first
access (PEP 562 module ``__getattr__``), so ``koop.EDMD`` or ``from koop import EDMD``
load numpy, scipy, numba, xarray and scikit-learn then; torch, dask and matplotlib only
by the parts that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

from koop._version import __version__

#: Public names re-exported at the top level and the module each one lives in.
_ATTRIBUTES = {
    "DMD": "koop.estimators",
    "EDMD": "koop.estimators",
    "KernelEDMD": "koop.estimators",
    "ResDMD": "koop.estimators",
    "MPEDMD": "koop.estimators",
    "HankelDMD": "koop.estimators",
    "HAVOK": "koop.estimators",
    "GramMatrices": "koop.gram",
    "build_gram": "koop.gram",
}
#: Subpackages reachable as attributes of ``koop`` without their own import statement.
_SUBMODULES = ("data", "dictionaries", "estimators", "gram", "systems", "validation",
               "io", "metrics", "plot", "compare", "model_selection", "mpc", "rnn",
               "interop", "bench", "base", "exceptions")

__all__ = ["__version__", "data", "dictionaries", "estimators", "gram", "systems",
           "validation", "DMD", "EDMD", "KernelEDMD", "ResDMD", "MPEDMD", "HankelDMD",
           "HAVOK", "GramMatrices", "build_gram"]


def __getattr__(name: str) -> Any:
    """Import a subpackage or a re-exported name on first access."""
    if name in _ATTRIBUTES:
        value = getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"koop.{name}")
    else:
        raise AttributeError(f"module 'koop' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ATTRIBUTES) | set(_SUBMODULES))
