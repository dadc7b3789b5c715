r"""mpEDMD's orthogonal Procrustes step (Colbrook, SIAM J. Numer. Anal. 2023).

In a basis :math:`h = \Psi Q` orthonormal in :math:`L^2(\mu)` the data give
:math:`\sqrt W h_X = \mathcal Q_1` (orthonormal columns) and
:math:`\sqrt W h_Y = \mathcal Q_1K + \mathcal Q_\perp R_c`. The measure-preserving
approximation is the unitary :math:`U` minimising :math:`\|\sqrt W(h_Y - h_XU)\|_F`,
i.e. :math:`\|K - U\|_F`: the unitary polar factor of :math:`K = W\Sigma V^*`,
:math:`U = WV^*`. Its eigenvectors come from the complex Schur form, which for a unitary
matrix is diagonal, so every eigenvalue lies on the unit circle and the eigenvectors are
orthonormal.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = ["procrustes_unitary", "unitary_eigh"]


def procrustes_unitary(K: np.ndarray) -> np.ndarray:
    """The unitary matrix nearest to ``K`` in the Frobenius norm (its polar factor)."""
    W, _, Vh = scipy.linalg.svd(np.asarray(K), full_matrices=False)
    return W @ Vh


def unitary_eigh(U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (normalised to modulus one) and orthonormal eigenvectors of a unitary."""
    T, Z = scipy.linalg.schur(np.asarray(U, dtype=np.complex128), output="complex")
    lam = np.diag(T).copy()
    lam /= np.abs(lam)
    return lam, Z
