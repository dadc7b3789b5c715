r"""The streamed QR factor of :math:`\sqrt W\,[\Psi_X, \Psi_Y, X]` and the ResDMD pencil.

ResDMD needs :math:`\|\Psi_Y g - \lambda\Psi_X g\|_W` for many :math:`(\lambda, g)`.
Through the Gram matrices this is the quadratic form
:math:`g^*(L - \lambda A^* - \bar\lambda A + |\lambda|^2 G)g`, whose cancellation loses
half the digits (residuals bottom out near :math:`10^{-8}`). Instead, with

.. math::
    \sqrt W\,[\Psi_X,\ \Psi_Y,\ X] = \mathcal Q R, \qquad
    R = \begin{pmatrix} R_{11} & R_{12} & R_{13}\\ 0 & R_{22} & R_{23}\\ 0&0&R_{33}
    \end{pmatrix},

:math:`\|\Psi_Y g - \lambda\Psi_X g\|_W = \|(R_{12} - \lambda R_{11})g\|^2 +
\|R_{22}g\|^2` holds to full precision. :math:`R` is
:math:`(2M+d)\times(2M+d)` and is built chunk by chunk (TSQR: each chunk is stacked under
the current :math:`R` and re-factored), so memory does not grow with the sample count.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from koop._backends.plan import GramPlan
from koop._spectral.truncation import numerical_rank, select_rank
from koop._spectral.tsqr import householder_r
from koop.data import Trajectories
from koop.exceptions import RankDeficiencyWarning

__all__ = ["QRFactor", "Pencil", "build_factor", "householder_r", "pencil_from_factor",
           "pencil_from_gram", "pencil_in_basis"]


@dataclass(frozen=True)
class QRFactor:
    r"""Upper-triangular :math:`R` of :math:`\sqrt W\,[\Psi_X, \Psi_Y, X]`.

    Attributes
    ----------
    R : ndarray, shape (2M + d, 2M + d)
    n_dictionary : int
        :math:`M`.
    n_samples : int
        Number of snapshot pairs.
    weights_sum : float
    """

    R: np.ndarray
    n_dictionary: int
    n_samples: int
    weights_sum: float

    @property
    def R11(self) -> np.ndarray:
        M = self.n_dictionary
        return self.R[:M, :M]

    @property
    def R12(self) -> np.ndarray:
        M = self.n_dictionary
        return self.R[:M, M : 2 * M]

    @property
    def R22(self) -> np.ndarray:
        M = self.n_dictionary
        return self.R[M : 2 * M, M : 2 * M]

    @property
    def R13(self) -> np.ndarray:
        M = self.n_dictionary
        return self.R[:M, 2 * M :]

    def gram(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:math:`G, A, L, C` recovered from the factor (for cross-checks)."""
        R11, R12, R22, R13 = self.R11, self.R12, self.R22, self.R13
        G = R11.conj().T @ R11
        A = R11.conj().T @ R12
        L = R12.conj().T @ R12 + R22.conj().T @ R22
        C = R11.conj().T @ R13
        return G, A, L, C

    def __repr__(self) -> str:
        return f"QRFactor(M={self.n_dictionary}, n_samples={self.n_samples})"


def build_factor(
    dictionary: Any,
    data: Trajectories,
    weights: Any = None,
    chunk_size: int | None = None,
    verbose: bool = False,
) -> QRFactor:
    r"""Stream :math:`R` of :math:`\sqrt W[\Psi_X, \Psi_Y, X]` over the chunks of ``data``.

    Parameters
    ----------
    dictionary : fitted Dictionary
    data : Trajectories
    weights : array-like, optional
        Quadrature weights :math:`w_m` (default :math:`1/N`); the factor uses
        :math:`\sqrt{w_m}` so that :math:`R^*R` reproduces :func:`koop.gram.build_gram`.
    chunk_size : int, optional
        Rows per chunk (default: at least four times the factor's width, to amortise the
        re-factorisation of :math:`R`).
    verbose : bool
        Progress bar over the pairs.
    """
    plan = GramPlan.build(dictionary, data, weights, chunk_size)
    M, lags, n, w = plan.n_outputs, plan.n_lags, plan.n_pairs, plan.weights
    width = 2 * M + data.n_features
    if chunk_size is None:
        # about 16 MiB of stacked rows, and at least 4x the factor's width so that
        # re-factoring R with each chunk costs little
        chunk_size = max(2 * 2**20 // width, 4 * width, 2 * lags + 2)
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="QR factor", unit="pair")
    R = None
    try:
        for PX, PY, Xs, sl in plan.psi_chunks(chunk_size):
            dtype = np.result_type(PX.dtype, PY.dtype, np.float64)
            rows = PX.shape[0]
            offset = 0 if R is None else width
            B = np.empty((offset + rows, width), dtype=dtype, order="F")
            if R is not None:
                B[:width] = R
            B[offset:, :M] = PX
            B[offset:, M : 2 * M] = PY
            B[offset:, 2 * M :] = Xs
            scale = np.full(rows, np.sqrt(1.0 / n)) if w is None else np.sqrt(w[sl])
            B[offset:] *= scale[:, None]
            R = householder_r(B)

            if bar is not None:
                bar.update(rows)
    finally:
        if bar is not None:
            bar.close()
    return QRFactor(np.ascontiguousarray(R), M, n, plan.weights_sum)


@dataclass(frozen=True)
class Pencil:
    r"""ResDMD in an orthonormal basis of the retained dictionary span.

    With :math:`h = \Psi Q` orthonormal in :math:`L^2(\mu)` (:math:`Q^*GQ = I`), a function
    :math:`g = Q c` has

    .. math::
        \|\Psi_Y g - z\Psi_X g\|_W^2 = \|(K - zI)c\|^2 + \|R_c c\|^2
        = c^*(L_h - zK^* - \bar z K + |z|^2 I)c, \qquad \|\Psi_X g\|_W = \|c\|,

    where :math:`K = Q^*AQ` is the EDMD matrix and :math:`R_c^*R_c = L_h - K^*K` measures
    how far :math:`K` maps out of the span.

    Attributes
    ----------
    basis : ndarray (M, r)
        :math:`Q`.
    K : ndarray (r, r)
    L : ndarray (r, r)
        :math:`L_h = Q^*LQ`.
    Rc : ndarray (r, r)
        A square root of :math:`L_h - K^*K` (triangular when built from a QR factor).
    state_map : ndarray (r, d) or None
        :math:`Q^*C`, the state in the basis.
    n_dropped : int
        Dictionary directions dropped as numerically dependent.
    source : {"qr", "gram"}
    """

    basis: np.ndarray
    K: np.ndarray
    L: np.ndarray
    Rc: np.ndarray
    state_map: np.ndarray | None
    n_dropped: int
    source: str

    @property
    def rank(self) -> int:
        return int(self.K.shape[0])

    @property
    def is_real(self) -> bool:
        return not (np.iscomplexobj(self.K) or np.iscomplexobj(self.L))


def _keep(sq: np.ndarray, M: int, rcond: float | None, rank, n_samples: int | None,
          warn: bool) -> int:
    """Directions kept: eigenvalues of G (``sq``, descending) above ``rcond`` times the
    top, truncated by ``rank`` (:func:`~koop._spectral.truncation.select_rank`)."""
    if sq.size == 0 or sq[0] <= 0:
        raise ValueError(
            "The Gram matrix G is zero: the dictionary vanishes on the data. Check the "
            "dictionary (e.g. RBF width) and the data."
        )
    rcond = M * np.finfo(float).eps if rcond is None else float(rcond)
    shape = None if n_samples is None else (int(n_samples), M)
    keep = select_rank(sq, rank, shape, cutoff=rcond, squared=True)
    resolved = numerical_rank(sq, rcond)
    # warn when the numerical cut-off, not the requested rank, decided the truncation
    if warn and resolved < M and (
            rank is None or select_rank(sq, rank, shape, squared=True) > resolved):
        warnings.warn(
            f"G is numerically singular: dropped {M - resolved} of {M} dictionary "
            "direction(s) whose squared singular value of sqrt(W) Psi_X is below rcond "
            "times the largest (linearly dependent dictionary functions on the data, "
            "e.g. duplicate features or cos^2 + sin^2 = 1). The fit uses the remaining "
            "span.",
            RankDeficiencyWarning,
            stacklevel=4,
        )
    return keep


def pencil_from_factor(factor: QRFactor, rcond: float | None = None, rank=None, *,
                       warn: bool = False) -> Pencil:
    r"""The pencil from :math:`R`: :math:`R_{11} = USV^*`, :math:`Q = V_rS_r^{-1}`.

    Then :math:`R_{11}Q = U_r`, :math:`K = U_r^*R_{12}Q` and the leakage
    :math:`R_c` is the triangular factor of :math:`[(I - U_rU_r^*)R_{12}Q;\ R_{22}Q]`. The
    retained span is the one EDMD keeps: eigenvalues :math:`s_i^2` of :math:`G` above
    ``rcond`` (default :math:`M\varepsilon`) times the largest, truncated by ``rank``
    (:func:`~koop._spectral.truncation.select_rank`); ``warn``: a
    :class:`~koop.exceptions.RankDeficiencyWarning` when directions are dropped as
    numerically dependent.
    """
    M = factor.n_dictionary
    U, s, Vh = scipy.linalg.svd(factor.R11, lapack_driver="gesvd")
    r = _keep(s**2, M, rcond, rank, factor.n_samples, warn)
    Ur = U[:, :r]
    Q = Vh[:r].conj().T / s[:r]
    P = factor.R12 @ Q
    K = Ur.conj().T @ P
    S = factor.R22 @ Q
    Lh = P.conj().T @ P + S.conj().T @ S
    Lh = 0.5 * (Lh + Lh.conj().T)
    Rc = householder_r(np.asfortranarray(np.vstack([P - Ur @ K, S])))[:r]
    state = Ur.conj().T @ factor.R13
    return Pencil(Q, K, Lh, Rc, state, M - r, "qr")


def pencil_from_gram(G: np.ndarray, A: np.ndarray, L: np.ndarray, C: np.ndarray | None = None,
                     rcond: float | None = None, rank=None, *,
                     span: np.ndarray | None = None) -> Pencil:
    r"""The pencil from :math:`G, A, L` alone: :math:`G = U S U^*`, :math:`Q = U_rS_r^{-1/2}`.

    Less accurate than :func:`pencil_from_factor` (forming :math:`G` squares the
    condition number, and :math:`L - K^*K` cancels), but available for any EDMD model.
    ``span``: restrict to the span of these columns (the basis a fit retained): with
    :math:`S = ` an orthonormal basis of it, the pencil of :math:`S^*GS, S^*AS, S^*LS`,
    mapped back (directions of the span that :math:`G` does not resolve are dropped).
    """
    G = np.asarray(G)
    M = G.shape[0]
    S = None
    if span is not None:
        S = np.linalg.qr(np.asarray(span))[0]
        G = S.conj().T @ G @ S
        A = S.conj().T @ np.asarray(A) @ S
        L = S.conj().T @ np.asarray(L) @ S
        C = None if C is None else S.conj().T @ np.asarray(C)
    s, U = scipy.linalg.eigh(0.5 * (G + G.conj().T))
    order = np.argsort(s)[::-1]
    s, U = s[order], U[:, order]
    r = _keep(s, M, rcond, rank, None, False)
    Q = U[:, :r] / np.sqrt(s[:r])
    pencil = _gram_pencil(Q, A, L, C, M - r)
    if S is None:
        return pencil
    return Pencil(S @ pencil.basis, pencil.K, pencil.L, pencil.Rc, pencil.state_map,
                  pencil.n_dropped, pencil.source)


def pencil_in_basis(basis: np.ndarray, G: np.ndarray, A: np.ndarray, L: np.ndarray,
                    C: np.ndarray | None = None, rcond: float | None = None,
                    rank=None) -> Pencil:
    r"""The pencil from :math:`G, A, L` on the span a fit retained (its ``basis`` Q).

    When :math:`Q^*GQ = I` to :math:`10^{-8}` (EDMD's basis, orthonormalised by the fit
    itself, with its scaling and truncation), the pencil is the fit's own:
    :math:`K = Q^*AQ`. Otherwise (a basis from an SVD of the data, as DMD and Hankel DMD
    have, which may hold directions :math:`G` cannot resolve), it is
    :func:`pencil_from_gram` restricted to the span of :math:`Q`.
    """
    Q = np.asarray(basis)
    B = Q.conj().T @ np.asarray(G) @ Q
    if np.abs(B - np.eye(B.shape[0])).max() <= _ORTHONORMAL:
        return _gram_pencil(Q, A, L, C, np.asarray(G).shape[0] - Q.shape[1])
    return pencil_from_gram(G, A, L, C, rcond=rcond, rank=rank, span=Q)


# a fitted basis with Q^*GQ = I to this accuracy is its own pencil's basis: Gram-based
# residuals are accurate to about sqrt(eps) anyway
_ORTHONORMAL = 1e-8


def _gram_pencil(Q: np.ndarray, A, L, C, n_dropped: int) -> Pencil:
    """The pencil in a :math:`G`-orthonormal basis :math:`Q`, from :math:`A, L` (and C)."""
    K = Q.conj().T @ np.asarray(A) @ Q
    Lh = Q.conj().T @ np.asarray(L) @ Q
    Lh = 0.5 * (Lh + Lh.conj().T)
    D = Lh - K.conj().T @ K
    d, V = scipy.linalg.eigh(0.5 * (D + D.conj().T))
    Rc = np.sqrt(np.clip(d, 0.0, None))[:, None] * V.conj().T
    state = None if C is None else Q.conj().T @ np.asarray(C)
    return Pencil(Q, K, Lh, Rc, state, n_dropped, "gram")
