"""Observable dictionaries psi: R^d -> R^M (scikit-learn transformers).

``d1 + d2`` concatenates dictionaries. The neural dictionary (EDMD-DL) lives in
:mod:`koop.dictionaries.neural` and needs the ``torch`` extra.
"""

from koop.dictionaries._base import Dictionary
from koop.dictionaries._combine import Concat, Custom, Identity
from koop.dictionaries._delay import TimeDelay, delay_windows
from koop.dictionaries._fourier import RandomFourier
from koop.dictionaries._inputs import InputPassThrough
from koop.dictionaries._pod import POD
from koop.dictionaries._polynomial import Polynomial
from koop.dictionaries._rbf import RBF, data_scale

__all__ = [
    "Dictionary",
    "Identity",
    "Polynomial",
    "RBF",
    "RandomFourier",
    "TimeDelay",
    "Custom",
    "Concat",
    "POD",
    "InputPassThrough",
    "data_scale",
    "delay_windows",
]
