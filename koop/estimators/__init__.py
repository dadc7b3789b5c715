"""Koopman estimators: DMD, EDMD, KernelEDMD, ResDMD, HankelDMD, HAVOK, RRR, KernelRRR;
DMDc and EDMDc for systems driven by inputs.

All share the scikit-learn contract of :class:`koop.base.KoopmanEstimator`.
"""

from koop.estimators._analog import AnalogEDMD
from koop.estimators._bopdmd import BOPDMD
from koop.estimators._dmd import DMD
from koop.estimators._dmdc import DMDc
from koop.estimators._edmd import EDMD
from koop.estimators._edmdc import EDMDc
from koop.estimators._hankel import HankelDMD
from koop.estimators._havok import HAVOK
from koop.estimators._kernel_edmd import KernelEDMD
from koop.estimators._kernel_rrr import KernelRRR
from koop.estimators._mpedmd import MPEDMD
from koop.estimators._resdmd import ResDMD
from koop.estimators._rrr import RRR

__all__ = ["DMD", "EDMD", "ResDMD", "MPEDMD", "KernelEDMD", "HankelDMD", "HAVOK",
           "RRR", "KernelRRR", "DMDc", "EDMDc", "AnalogEDMD", "BOPDMD"]
