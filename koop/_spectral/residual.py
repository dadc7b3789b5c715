r"""Residuals of candidate eigenpairs :math:`(\lambda, g)` of the Koopman operator.

.. math::
    \operatorname{res}(\lambda, g) = \frac{\|\Psi_Y g - \lambda \Psi_X g\|_W}
    {\|\Psi_X g\|_W}
    = \sqrt{\frac{g^*(L - \lambda A^* - \bar\lambda A + |\lambda|^2 G)g}{g^* G g}}.

:func:`residuals_from_factor` evaluates the left form from the QR factor (full precision);
:func:`residuals_from_gram` the right one (relative accuracy about
:math:`\sqrt{\varepsilon}`: residuals below :math:`10^{-8}` are rounding noise).
"""

from __future__ import annotations

import numpy as np

from koop._spectral.factor import QRFactor

__all__ = ["residuals_from_factor", "residuals_from_gram"]


def _as_pairs(eigenvalues, vectors) -> tuple[np.ndarray, np.ndarray]:
    lam = np.atleast_1d(np.asarray(eigenvalues, dtype=np.complex128))
    V = np.asarray(vectors, dtype=np.complex128)
    if V.ndim == 1:
        V = V[:, None]
    if V.shape[1] != lam.shape[0]:
        raise ValueError(
            f"{lam.shape[0]} eigenvalue(s) but {V.shape[1]} vector(s); pass one coefficient "
            "vector (column) per eigenvalue."
        )
    return lam, V


def residuals_from_factor(factor: QRFactor, eigenvalues, vectors) -> np.ndarray:
    r""":math:`\|R\,[-\lambda g;\ g]\| / \|R_{11} g\|` for each column ``g`` of ``vectors``.

    Parameters
    ----------
    factor : QRFactor
    eigenvalues : array-like of complex, shape (k,)
    vectors : array-like, shape (M, k)
        Coefficient vectors in dictionary coordinates (:math:`\phi = \Psi g`).

    Returns
    -------
    ndarray of float, shape (k,)
    """
    lam, V = _as_pairs(eigenvalues, vectors)
    if V.shape[0] != factor.n_dictionary:
        raise ValueError(
            f"vectors have {V.shape[0]} rows but the dictionary has {factor.n_dictionary} "
            "functions."
        )
    X = factor.R11 @ V
    top = factor.R12 @ V - X * lam
    bottom = factor.R22 @ V
    num = np.sqrt(np.sum(np.abs(top) ** 2, axis=0) + np.sum(np.abs(bottom) ** 2, axis=0))
    den = np.linalg.norm(X, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.inf)


def residuals_from_gram(G, A, L, eigenvalues, vectors) -> np.ndarray:
    r"""The Gram quadratic form of the residual, clipped at zero.

    Parameters
    ----------
    G, A, L : ndarray (M, M)
    eigenvalues : array-like of complex, shape (k,)
    vectors : array-like, shape (M, k)

    Returns
    -------
    ndarray of float, shape (k,)
    """
    lam, V = _as_pairs(eigenvalues, vectors)
    GV = np.asarray(G) @ V
    gg = np.real(np.sum(V.conj() * GV, axis=0))
    ll = np.real(np.sum(V.conj() * (np.asarray(L) @ V), axis=0))
    ga = np.sum(V.conj() * (np.asarray(A) @ V), axis=0)
    num = ll - 2.0 * np.real(np.conj(lam) * ga) + np.abs(lam) ** 2 * gg
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gg > 0, np.sqrt(np.clip(num, 0.0, None) / gg), np.inf)
