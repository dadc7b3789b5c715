"""koop: Koopman and transfer operators from time-series data, with verified spectra.

Importing koop loads numpy, scipy, numba, xarray and scikit-learn only; torch, dask and
matplotlib are imported on first use by the parts that need them.
"""

from koop import data, dictionaries, estimators, gram, systems, validation
from koop._version import __version__
from koop.estimators import (
    DMD,
    EDMD,
    HAVOK,
    MPEDMD,
    HankelDMD,
    KernelEDMD,
    ResDMD,
)
from koop.gram import GramMatrices, build_gram

__all__ = [
    "__version__",
    "data",
    "dictionaries",
    "estimators",
    "gram",
    "systems",
    "validation",
    "DMD",
    "EDMD",
    "KernelEDMD",
    "ResDMD",
    "MPEDMD",
    "HankelDMD",
    "HAVOK",
    "GramMatrices",
    "build_gram",
]
