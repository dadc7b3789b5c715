"""Verified spectra for any EDMD-family model: residuals, pseudospectra, spectral measures.

``residuals`` gives each eigenpair a bound :math:`\\|(\\mathcal K - \\lambda)\\phi\\|/\\|\\phi\\|`
(ResDMD); ``pseudospectrum`` the minimal residual :math:`\\tau(z)`; ``spectral_estimate``
the spectrum with an error bound ("Limits and Powers of Koopman Learning");
``spectral_measure`` / ``spectral_measure_moments`` the spectral measures of
measure-preserving systems; ``convergence_study`` and ``report`` the summaries.
For stochastic dynamics: ``vamp_score`` (and the scikit-learn scorers
``vamp_scorer``, ``make_vamp_scorer``) and ``variance_residuals`` (projection residual
and variance apart, from batched snapshots).
"""

from koop.validation.convergence import convergence_study
from koop.validation.pseudospectrum import SpectralEstimate, pseudospectrum, spectral_estimate
from koop.validation.report import ValidationReport, report
from koop.validation.residuals import residuals
from koop.validation.spectral_measure import spectral_measure, spectral_measure_moments
from koop.validation.vamp import make_vamp_scorer, vamp_score, vamp_scorer
from koop.validation.variance import VarianceResiduals, variance_residuals

__all__ = [
    "residuals",
    "pseudospectrum",
    "spectral_estimate",
    "SpectralEstimate",
    "spectral_measure",
    "spectral_measure_moments",
    "convergence_study",
    "report",
    "ValidationReport",
    "vamp_score",
    "vamp_scorer",
    "make_vamp_scorer",
    "variance_residuals",
    "VarianceResiduals",
]
