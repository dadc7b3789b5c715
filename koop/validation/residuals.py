"""Residuals of the eigenpairs of any EDMD-family model."""

from __future__ import annotations

from typing import Any

import numpy as np

from koop._spectral.model import as_koopman_model

__all__ = ["residuals"]


def residuals(model: Any, X: Any = None, y: Any = None, *, weights: Any = None) -> np.ndarray:
    r"""ResDMD residual of every eigenpair :math:`(\lambda_j, g_j)` of a fitted model.

    .. math::
        \operatorname{res}(\lambda, g) = \frac{\|\Psi_Y g - \lambda\Psi_X g\|_W}
        {\|\Psi_X g\|_W},

    an estimate of :math:`\|(\mathcal K - \lambda)\phi\|/\|\phi\|` for the Koopman
    operator :math:`\mathcal K` itself (Colbrook & Townsend 2024).

    Where it is computed:

    * with ``X`` (independent data, as "Limits and Powers of Koopman Learning"
      recommends): from the QR factor of the model's dictionary on ``X`` — full precision;
    * else, if the model kept a QR factor (``factor_``: :class:`~koop.estimators.ResDMD`,
      :class:`~koop.estimators.KernelEDMD`, ``MPEDMD``): from it — full precision;
    * else (a plain EDMD, DMD, HankelDMD): from the Gram quadratic form
      :math:`g^*(L - \lambda A^* - \bar\lambda A + |\lambda|^2G)g / g^*Gg`. That form
      cancels: residuals below about :math:`10^{-8}` are rounding noise there. Pass the
      training data as ``X`` to get full precision.

    Parameters
    ----------
    model : fitted EDMD-family estimator
        A fitted koop estimator that keeps ``gram_`` or ``factor_`` (through its
        ``model_``, :meth:`koop.base.KoopmanModel.residuals`), or a KoopmanModel.
    X : array-like, list or xarray, optional
        Data on which to evaluate the residuals (trajectories, or the X of pairs).
    y : array-like, optional
        Successors of ``X`` row by row.
    weights : array-like, optional
        Quadrature weights for ``X`` (default :math:`1/N`).

    Returns
    -------
    ndarray of float, shape (n_modes,)
        Indexed like ``model.eigenvalues_``.

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> from koop.estimators import EDMD
    >>> X = systems.linear([[0.9, 0.1], [0.0, 0.5]], 50, x0=[1.0, 1.0])
    >>> model = EDMD().fit(X)
    >>> bool(residuals(model, X).max() < 1e-12)
    True
    """
    return as_koopman_model(model).residuals(X, y, weights)
