"""Koopman estimators: DMD, EDMD, KernelEDMD, ResDMD, HankelDMD, HAVOK.

All share the scikit-learn contract of :class:`koop.base.KoopmanEstimator`.
"""

from koop.estimators._dmd import DMD
from koop.estimators._edmd import EDMD

__all__ = ["DMD", "EDMD"]
