r"""DMD on snapshot matrices through the small triangular factor :math:`R` (stateless).

The snapshots are the rows of :math:`S\in\mathbb C^{n\times d}`; the pairs are
:math:`X = S_{I_x}`, :math:`Y = S_{I_y}` (row index sets of length :math:`N`; for one
trajectory :math:`I_x = 0..n-2`, :math:`I_y = 1..n-1`). With the TSQR factor
:math:`S^\top = \mathcal Q R` (:func:`koop._spectral.tsqr.r_factor`),
:math:`X^\top = \mathcal Q R_x` and :math:`Y^\top = \mathcal Q R_y` with
:math:`R_x = R_{:,I_x}`, :math:`R_y = R_{:,I_y}` (:math:`k\times N`, :math:`k =
\min(n, d)`). Every DMD variant below is then :math:`O(n^3)` work on these small
matrices; the :math:`d`-long vectors (POD basis, modes) are :math:`S^\top C` for a thin
coefficient matrix :math:`C` (:func:`koop._spectral.tsqr.right_products`).

* exact DMD (Tu et al. 2014): :math:`R_x = U_R\Sigma V^*` truncated to rank :math:`r`,
  :math:`U = X^\top V\Sigma^{-1} = \mathcal Q U_R`,
  :math:`\tilde A = U^* Y^\top V\Sigma^{-1} = U_R^* R_y V\Sigma^{-1}`, exact modes
  :math:`\xi_j = Y^\top V\Sigma^{-1}w_j/\lambda_j` for :math:`\tilde A w_j=\lambda_j w_j`.
* forward-backward DMD (Dawson et al. 2016): in the POD coordinates
  :math:`\tilde x = U^*X^\top`, :math:`\tilde y = U^*Y^\top`, the forward
  :math:`\tilde A_f = \tilde y\tilde x^+` and backward :math:`\tilde A_b = \tilde x\tilde
  y^+` maps; noise biases :math:`\tilde A_f` and :math:`\tilde A_b^{-1}` in opposite
  directions to first order, and :math:`\tilde A = (\tilde A_f\tilde A_b^{-1})^{1/2}`
  (principal square root) cancels that bias.
* total-least-squares DMD (Hemati et al. 2017): the rank-:math:`r` right singular
  subspace :math:`V_z` of :math:`Z = [X^\top; Y^\top]` (that of the small
  :math:`[R_x; R_y]`) treats noise in :math:`X` and :math:`Y` alike; exact DMD of the
  projected pairs :math:`X^\top P, Y^\top P` with :math:`P = V_zV_z^*`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from koop._spectral.model import spectral_decomposition
from koop._spectral.truncation import select_rank

__all__ = ["SnapshotDMD", "snapshot_dmd", "METHODS"]

METHODS = ("exact", "fb", "tls")


@dataclass(frozen=True)
class SnapshotDMD:
    r"""The small-matrix result of :func:`snapshot_dmd`.

    Attributes
    ----------
    atilde : ndarray (r, r)
        :math:`\tilde A` in POD coordinates :math:`z = U^*x` (column convention,
        :math:`z_{n+1}\approx\tilde A z_n`).
    eigenvalues : ndarray (r,)
        Of :math:`\tilde A`, ordered as :func:`spectral_decomposition` orders them.
    eigenvectors : ndarray (r, r)
        :math:`w_j` in columns.
    pod_coefs : ndarray (n, r)
        :math:`U = S^\top` ``pod_coefs``.
    mode_coefs : ndarray (n, r)
        The DMD modes are :math:`S^\top` ``mode_coefs``.
    singular_values : ndarray
        All singular values of :math:`X`.
    x_coords, y_coords : ndarray (N, r)
        :math:`XU^{*\top}` and :math:`YU^{*\top}`, i.e. row :math:`m` is
        :math:`(U^*x_m)^\top`: the pairs in POD coordinates.
    left : ndarray (k, r)
        :math:`U_R`: the POD basis is :math:`U = \mathcal Q U_R` (so :math:`U = U_R` when
        :math:`R = S^\top`, :math:`\mathcal Q = I`).
    """

    atilde: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    pod_coefs: np.ndarray
    mode_coefs: np.ndarray
    singular_values: np.ndarray
    x_coords: np.ndarray
    y_coords: np.ndarray
    left: np.ndarray


    @property
    def rank(self) -> int:
        """Number of POD directions kept."""
        return int(self.atilde.shape[0])


def snapshot_dmd(R: np.ndarray, ix: np.ndarray, iy: np.ndarray, *, rank=None,
                 method: str = "exact", n_features: int | None = None,
                 n_pairs: int | None = None) -> SnapshotDMD:
    r"""Exact, forward-backward or total-least-squares DMD from the TSQR factor.

    Parameters
    ----------
    R : ndarray (k, n)
        :math:`S^\top = \mathcal Q R`.
    ix, iy : ndarray of int (N,)
        Rows of :math:`S` holding the :math:`x_m` and the :math:`y_m`.
    rank : int, float, "optimal" or None
        As :func:`koop._spectral.truncation.select_rank`.
    method : {"exact", "fb", "tls"}
    n_features : int, optional
        :math:`d` (for the numerical-rank tolerance; default :math:`k`).
    n_pairs : int, optional
        :math:`N`, the number of snapshot pairs the rank rules see (default ``len(ix)``;
        compressed pairs, :meth:`koop.estimators.DMD.partial_fit`, stand for more).

    Returns
    -------
    SnapshotDMD

    Examples
    --------
    >>> import numpy as np
    >>> S = np.array([[1.0, 0.0], [0.9, 0.1], [0.81, 0.17]])
    >>> R = np.linalg.qr(S.T, mode="r")
    >>> out = snapshot_dmd(R, np.arange(2), np.arange(1, 3))
    >>> np.round(np.sort(out.eigenvalues.real), 10).tolist()
    [0.8, 0.9]
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    ix = np.asarray(ix, dtype=np.int64)
    iy = np.asarray(iy, dtype=np.int64)
    n = R.shape[1]
    d = R.shape[0] if n_features is None else int(n_features)
    Rx, Ry = R[:, ix], R[:, iy]
    Rx0, Ry0 = Rx, Ry
    Ur, s, Vh = scipy.linalg.svd(Rx, full_matrices=False)
    r = select_rank(s, rank, (len(ix) if n_pairs is None else int(n_pairs), d))
    # r = 0 (all-zero snapshots) gives the empty model: every prediction is zero
    proj = None
    if method == "tls":
        _, _, Vzh = scipy.linalg.svd(np.vstack([Rx, Ry]), full_matrices=False)
        Vz = Vzh[:r].conj().T
        proj = Vz @ Vz.conj().T
        Rx, Ry = Rx @ proj, Ry @ proj
        Ur, s_p, Vh = scipy.linalg.svd(Rx, full_matrices=False)
        Ur, s_r, V = Ur[:, :r], s_p[:r], Vh[:r].conj().T
    else:
        Ur, s_r, V = Ur[:, :r], s[:r], Vh[:r].conj().T
    VS = V / s_r
    x_t = Ur.conj().T @ Rx  # r x N: U^* X^T (of the projected pairs for tls)
    y_t = Ur.conj().T @ Ry
    if method == "fb":
        forward = y_t @ VS
        backward = x_t @ np.linalg.pinv(y_t)
        try:
            atilde = scipy.linalg.sqrtm(forward @ np.linalg.inv(backward))
        except np.linalg.LinAlgError as exc:
            raise ValueError(
                "forward-backward DMD: the backward map is singular (Y has lower rank than "
                f"{r} in the POD basis of X); lower the rank or use method='exact'. ({exc})"
            ) from None
        atilde = np.asarray(atilde)
        if not (np.iscomplexobj(R) or np.iscomplexobj(atilde)):
            atilde = atilde.real
        elif not np.iscomplexobj(R) and np.abs(atilde.imag).max() < 1e-12 * max(
                np.abs(atilde).max(), 1.0):
            atilde = atilde.real
    else:
        atilde = y_t @ VS
    lam, Wr = spectral_decomposition(atilde.T)
    # right eigenvectors of atilde from those of its transpose (left ones)
    W = np.linalg.inv(Wr).T
    pod_coefs = np.zeros((n, r), dtype=np.result_type(R, VS))
    base = VS if proj is None else proj @ VS
    pod_coefs[ix] = base
    mode_coefs = np.zeros((n, r), dtype=np.complex128)
    if method == "fb":
        mode_coefs = pod_coefs @ W
    else:
        safe = np.where(np.abs(lam) > 0, lam, 1.0)
        mode_coefs[iy] = (base @ W) / safe
        zero = np.abs(lam) == 0
        if zero.any():  # exact modes undefined for lambda = 0: use the projected ones
            mode_coefs[:, zero] = (pod_coefs @ W)[:, zero]
    # the measured pairs in the POD coordinates (U = Q U_R in every method)
    x_c = (Ur.conj().T @ Rx0).T
    y_c = (Ur.conj().T @ Ry0).T
    return SnapshotDMD(atilde, lam, W, pod_coefs, mode_coefs, s, x_c, y_c, Ur)
