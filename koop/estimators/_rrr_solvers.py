r"""Reduced-rank regression of the Koopman operator from Gram matrices (stateless).

Kostic et al. (NeurIPS 2022) estimate the Koopman/transfer operator by regressing the
dictionary at the next step on the dictionary now, with a rank constraint:

.. math::
    \min_{\operatorname{rank} K \le r}\ \|\Psi_Y - \Psi_X K\|_W^2 + \gamma\|K\|_F^2 .

With :math:`G_\gamma = G + \gamma I` the solution is
:math:`K = G_\gamma^{-1/2}[\![G_\gamma^{-1/2}A]\!]_r` (:math:`[\![\cdot]\!]_r` the rank-:math:`r`
truncated SVD), i.e. :math:`K = U U^* A` where the columns of :math:`U` solve the
generalised eigenproblem :math:`A A^* u = \sigma^2 G_\gamma u`, normalised by
:math:`U^* G_\gamma U = I`. In koop's reduced representation (see
:mod:`koop.estimators._solvers`): ``basis`` :math:`Q = U`, ``reduced``
:math:`K_r = U^*AU` (the nonzero eigenvalues of :math:`K`), ``state_map``
:math:`C_r = U^*C`.

Principal-component regression (PCR, EDMD with ``rank``) keeps instead the leading
eigenvectors of :math:`G` alone, whatever their dynamics; RRR keeps the directions whose
*future* is best explained. Only :math:`G`, :math:`A` and :math:`C` are needed, so
the solver runs on Gram matrices from any :func:`koop.gram.build_gram` backend.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
from sklearn.utils import check_random_state

from koop.estimators._solvers import ReducedModel
from koop.exceptions import RankDeficiencyWarning

__all__ = ["RRRModel", "rrr_solve", "whiten"]


@dataclass
class RRRModel(ReducedModel):
    """A :class:`ReducedModel` plus the singular values :math:`\\sigma_i` of the
    regression (those of :math:`G_\\gamma^{-1/2}A`), kept ones first."""

    singular_values: np.ndarray = field(default_factory=lambda: np.empty(0))


def _check_finite(G: np.ndarray, A: np.ndarray) -> None:
    if not (np.isfinite(G).all() and np.isfinite(A).all()):
        raise ValueError(
            "The Gram matrices G, A contain inf or NaN: the dictionary overflows on the data. "
            "Rescale the data or use a smaller polynomial degree / a wider RBF width."
        )


def whiten(G: np.ndarray, regularization: float = 0.0,
           rcond: float | None = None) -> tuple[np.ndarray, int]:
    r""":math:`W` with :math:`W^* (G + \gamma I) W = I` on the numerically non-null span.

    Eigendecomposition :math:`G + \gamma I = V S V^*`; keep :math:`s_i > \mathrm{rcond}\,
    s_{\max}` (default :math:`M\varepsilon`) and return :math:`W = V_k S_k^{-1/2}` and
    the number of dropped directions.
    """
    M = G.shape[0]
    Greg = G + regularization * np.eye(M) if regularization else G
    s, V = scipy.linalg.eigh(0.5 * (Greg + Greg.conj().T))
    s, V = s[::-1], V[:, ::-1]
    if s[0] <= 0:
        raise ValueError("The Gram matrix G is zero: the dictionary vanishes on the data.")
    if rcond is None:
        rcond = M * np.finfo(float).eps
    keep = int(np.count_nonzero(s > rcond * s[0]))
    return V[:, :keep] / np.sqrt(s[:keep]), M - keep


def _dense(G, A, rank, regularization, rcond):
    W, n_dropped = whiten(G, regularization, rcond)
    B = W.conj().T @ A  # regression coefficients of psi(y) on the whitened inputs
    s2, V = scipy.linalg.eigh(B @ B.conj().T)
    s2, V = s2[::-1], V[:, ::-1]
    return W @ V[:, :rank], np.sqrt(np.clip(s2[:rank], 0.0, None)), n_dropped


def _randomized(G, A, rank, regularization, n_oversamples, iterated_power, random_state):
    r"""Randomized RRR (Turri, Kostic et al. 2023, primal form): a powered range finder for
    :math:`AA^*G_\gamma^{-1}`, then the pencil projected on the sketch."""
    M = G.shape[0]
    Greg = G + regularization * np.eye(M) if regularization else G
    try:
        chol = scipy.linalg.cho_factor(0.5 * (Greg + Greg.conj().T))
    except np.linalg.LinAlgError:
        raise ValueError(
            "solver='randomized' needs a positive definite G + regularization * I (a "
            "Cholesky factor); G is singular here (dependent dictionary functions on the "
            "data). Set regularization > 0 (e.g. 1e-8 times trace(G)/M) or use "
            "solver='dense'."
        ) from None
    rng = check_random_state(random_state)
    k = min(rank + n_oversamples, M)
    Omega = rng.standard_normal((M, k))
    for _ in range(iterated_power):
        Y = scipy.linalg.cho_solve(chol, Omega)
        Omega = A @ (A.conj().T @ Y)
        Omega, _ = scipy.linalg.qr(Omega, mode="economic")
    Y = scipy.linalg.cho_solve(chol, Omega)
    F0 = Y.conj().T @ Omega  # = Y^* G_reg Y
    AY = A.conj().T @ Y
    F1 = AY.conj().T @ AY   # = Y^* A A^* Y
    F0 = 0.5 * (F0 + F0.conj().T)
    F1 = 0.5 * (F1 + F1.conj().T)
    Wf, _ = whiten(F0)
    s2, V = scipy.linalg.eigh(Wf.conj().T @ F1 @ Wf)
    s2, V = s2[::-1], V[:, ::-1]
    return Y @ (Wf @ V[:, :rank]), np.sqrt(np.clip(s2[:rank], 0.0, None)), 0


def rrr_solve(G, A, C, *, rank: int | None, regularization: float = 0.0,
              solver: str = "dense", rcond: float | None = None, n_oversamples: int = 10,
              iterated_power: int = 2, random_state=None, warn: bool = True) -> RRRModel:
    r"""Reduced-rank regression :math:`K = U U^* A` with :math:`AA^*U = G_\gamma U\Sigma^2`.

    Parameters
    ----------
    G, A : ndarray (M, M)
        Gram matrices :math:`\Psi_X^*W\Psi_X`, :math:`\Psi_X^*W\Psi_Y`.
    C : ndarray (M, d)
        :math:`\Psi_X^*WX` (for the state map).
    rank : int or None
        :math:`r`; None keeps every direction (ridge-regularised EDMD).
    regularization : float
        Tikhonov :math:`\gamma`.
    solver : {"dense", "randomized"}
        ``"dense"``: whiten :math:`G_\gamma` by its eigendecomposition (directions below
        ``rcond`` dropped, so :math:`\gamma = 0` with a singular :math:`G` works), then
        the eigendecomposition of :math:`BB^*`, :math:`B = W^*A`; :math:`O(M^3)`.
        ``"randomized"``: a Cholesky factor of :math:`G_\gamma` and a powered randomized
        range finder with ``rank + n_oversamples`` columns (Turri et al. 2023); needs a
        positive definite :math:`G_\gamma`.
    rcond : float, optional
        Relative eigenvalue cut-off of :math:`G_\gamma` (dense solver).
    n_oversamples, iterated_power, random_state
        Randomized solver only.
    warn : bool
        Warn when fewer than ``rank`` directions are available.

    Returns
    -------
    RRRModel
        ``basis`` :math:`U` (:math:`U^*G_\gamma U = I`), ``reduced`` :math:`U^*AU`,
        ``state_map`` :math:`U^*C`, ``singular_values``.

    Raises
    ------
    ValueError
        If ``rank`` exceeds the dictionary size :math:`M`.
    """
    G = np.asarray(G)
    A = np.asarray(A)
    M = G.shape[0]
    _check_finite(G, A)
    if rank is not None and rank > M:
        raise ValueError(
            f"rank={rank} is larger than the dictionary ({M} functions): a rank-r "
            f"operator needs at least r dictionary functions. Use rank <= {M} or a larger "
            "dictionary."
        )
    r = M if rank is None else int(rank)
    if solver == "randomized":
        U, sv, n_dropped = _randomized(G, A, r, regularization, n_oversamples,
                                       iterated_power, random_state)
    elif solver == "dense":
        U, sv, n_dropped = _dense(G, A, r, regularization, rcond)
    else:
        raise ValueError(f"solver must be 'dense' or 'randomized', got {solver!r}.")
    if U.shape[1] < r and warn and rank is not None:
        warnings.warn(
            f"Only {U.shape[1]} of the requested rank={rank} directions are available: G "
            f"is numerically singular ({n_dropped} of {M} dictionary directions are "
            "dependent on the data). The fit uses rank "
            f"{U.shape[1]}.", RankDeficiencyWarning, stacklevel=3)
    reduced = U.conj().T @ A @ U
    state_map = U.conj().T @ np.asarray(C)
    return RRRModel(U, reduced, state_map, n_dropped, sv)
