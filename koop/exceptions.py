"""Warnings and errors koop raises (besides ValueError / TypeError for bad input)."""

from sklearn.exceptions import NotFittedError

__all__ = ["NotFittedError", "RankDeficiencyWarning", "KoopWarning"]


class KoopWarning(UserWarning):
    """Base class of koop's warnings."""


class RankDeficiencyWarning(KoopWarning):
    """The Gram matrix is numerically singular: some dictionary directions were dropped."""
