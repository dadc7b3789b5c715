r"""ResDMD residuals for DMD on a field: Colbrook & Townsend's two-split scheme (prototype).

On a field (:math:`d \gg n`) the dictionary must not be fitted to the snapshots on which
residuals are measured: with the POD of all snapshots as dictionary, the residuals are
those of the projected dynamics on the training data and say little about the Koopman
operator. Colbrook & Townsend (CPAM 2024, section on high-dimensional systems) split the
snapshot pairs: the first :math:`N_1` pairs build the dictionary (here the rank-:math:`r`
POD basis :math:`U` of :math:`X_1`, by the streamed TSQR of :mod:`koop._spectral.tsqr`);
the other :math:`N_2` pairs give :math:`\Psi_X = X_2\bar U`, :math:`\Psi_Y = Y_2\bar U`
(:math:`N_2\times r`), EDMD :math:`K = G^+A` on them, and the residual of each eigenpair
:math:`\|\Psi_Y g - \lambda\Psi_X g\| / \|\Psi_X g\|` from the QR factor of
:math:`[\Psi_X, \Psi_Y]` (full precision, :func:`koop._spectral.residual.residuals_from_factor`).
No :math:`d\times d` matrix is formed: two passes over the field's feature blocks.

Prototype for phase 2 of issue 20 (not yet wired into an estimator).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from koop._spectral.factor import QRFactor
from koop._spectral.residual import residuals_from_factor
from koop._spectral.tsqr import BLOCK_BYTES, SnapshotSource, left_products, r_factor, right_products

__all__ = ["two_split_residuals"]


def two_split_residuals(X: np.ndarray, Y: np.ndarray, *, rank: int, first: float = 0.5,
                        block_bytes: int = BLOCK_BYTES):
    r"""Eigenvalues, eigenvectors (POD coordinates) and residuals by the two-split scheme.

    Parameters
    ----------
    X, Y : array-like (N, d)
        Snapshot pairs in rows (numpy, memmap, zarr or dask).
    rank : int
        POD rank of the dictionary built from the first split.
    first : float in (0, 1)
        Fraction of the pairs in the first split.

    Returns
    -------
    eigenvalues : ndarray (r,)
    vectors : ndarray (r, r)
        Columns :math:`g_j`: eigenfunctions :math:`\phi_j(x) = (x\bar U) g_j`.
    residuals : ndarray (r,)
    basis : ndarray (d, r)
        :math:`U`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> lift = np.linalg.qr(rng.normal(size=(500, 2)))[0]
    >>> A = np.array([[0.9, -0.3], [0.3, 0.9]])
    >>> Z = np.zeros((80, 2)); Z[0] = [1.0, 0.0]
    >>> for k in range(1, 80): Z[k] = A @ Z[k - 1]
    >>> F = Z @ lift.T
    >>> lam, _, res, _ = two_split_residuals(F[:-1], F[1:], rank=2)
    >>> bool(res.max() < 1e-12)
    True
    """
    N = X.shape[0]
    n1 = round(first * N)
    if not 0 < n1 < N or rank < 1 or rank > n1:
        raise ValueError(f"need 1 <= rank <= first split ({n1} pairs) < {N} pairs.")
    src1 = SnapshotSource([X[:n1]], block_bytes)
    _, s, Vh = np.linalg.svd(r_factor(src1), full_matrices=False)
    U = right_products(src1, Vh[:rank].conj().T / s[:rank])
    src2 = SnapshotSource([X[n1:], Y[n1:]], block_bytes)
    coords = left_products(src2, U.conj())
    n2 = N - n1
    Px, Py = coords[:n2], coords[n2:]
    R = scipy.linalg.qr(np.hstack([Px, Py]) / np.sqrt(n2), mode="r")[0][: 2 * rank]
    factor = QRFactor(R, rank, n2, 1.0)
    G, A = factor.R11.conj().T @ factor.R11, factor.R11.conj().T @ factor.R12
    lam, V = scipy.linalg.eig(np.linalg.lstsq(G, A, rcond=None)[0])
    return lam, V, residuals_from_factor(factor, lam, V), U
