r"""Stateless solvers behind the estimators (testable without the classes).

All solvers return a *reduced* representation of the learned Koopman operator on an
orthonormal (in :math:`L^2(\mu)`) basis of the retained dictionary span:

* ``basis`` :math:`Q \in \mathbb{C}^{M\times r}` with :math:`Q^* G Q = I` (when not
  regularised): the functions :math:`h = \Psi Q`;
* ``reduced`` :math:`K_r \in \mathbb{C}^{r\times r}`: :math:`K h \approx h K_r`, i.e. rows
  evolve as :math:`h(x_{n+1}) = h(x_n) K_r`;
* ``state_map`` :math:`C_r \in \mathbb{C}^{r\times d}`: the state :math:`x \approx h(x) C_r`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from koop._spectral.model import spectral_decomposition
from koop._spectral.truncation import numerical_rank, optimal_svht_coef, select_rank
from koop.exceptions import RankDeficiencyWarning

__all__ = ["ReducedModel", "edmd_solve", "select_rank", "optimal_svht_coef",
           "spectral_decomposition"]
# select_rank and optimal_svht_coef live in koop._spectral.truncation (the one truncation
# rule) and spectral_decomposition in koop._spectral.model; re-exported for the solvers'
# callers


@dataclass
class ReducedModel:
    basis: np.ndarray
    reduced: np.ndarray
    state_map: np.ndarray
    n_dropped: int = 0


# mean squares below this come from products near float64's subnormal range (2.2e-308)
_UNDERFLOW = 1e-300


def edmd_solve(G, A, C, *, rank=None, regularization: float = 0.0, rcond: float | None = None,
               warn: bool = True, n_samples: int | None = None) -> ReducedModel:
    r"""EDMD, :math:`K = G^{+}A`, by a rank-revealing eigendecomposition of :math:`G`.

    With :math:`G + \gamma I` (``regularization`` :math:`\gamma`) scaled to unit diagonal,
    :math:`D^{-1}(G + \gamma I)D^{-1} = U S U^*` with :math:`D^2 = \operatorname{diag}(G +
    \gamma I)`, keep the eigenpairs with :math:`s_i > \mathrm{rcond}\cdot s_{\max}` (and of
    those the ``rank`` leading ones, :func:`~koop._spectral.truncation.select_rank`), set
    :math:`Q = D^{-1} U_r S_r^{-1/2}` and return
    :math:`K_r = Q^* A Q`, :math:`C_r = Q^* C`. Then :math:`Q^* G Q = I`,
    :math:`K = Q Q^* A = G^+ A` on the retained span, and the eigenvalues of :math:`K_r` are
    those of :math:`G^+A` without the spurious zeros of the dropped null space.

    The diagonal scaling makes the rank decision independent of the units of each
    dictionary function (monomials of data in millimetres or kilometres keep the same
    span). With ``rank`` (an int, an energy fraction of :math:`\operatorname{tr} G`, or
    ``"optimal"`` with ``n_samples`` for the aspect ratio) the truncation is a PCA of the
    dictionary as given, so it is not rescaled. Functions whose mean square is zero or
    below :math:`10^{-300}` (products near float64's subnormal range,
    :math:`2.2\cdot 10^{-308}`, keep only a few digits) are dropped as vanishing on the
    data.

    ``rcond`` defaults to :math:`M \varepsilon`: directions with smaller relative
    eigenvalue are indistinguishable from the rounding error of forming :math:`G`.

    Raises
    ------
    ValueError
        If :math:`G` or :math:`A` hold inf or NaN (the dictionary overflows on the data),
        or if every dictionary function vanishes (or underflows) on the data.
    """
    G = np.asarray(G)
    A = np.asarray(A)
    M = G.shape[0]
    if not (np.isfinite(G).all() and np.isfinite(A).all()):
        raise ValueError(
            "The Gram matrices G, A contain inf or NaN: the dictionary overflows on the data "
            "(float64 reaches inf near 1e308). Rescale the data (e.g. standardise each "
            "feature) or use a smaller polynomial degree / a wider RBF width."
        )
    Greg = G + regularization * np.eye(M) if regularization else G
    diag = np.real(np.diag(Greg)).copy()
    vanishing = ~(diag > _UNDERFLOW)
    if vanishing.all():
        raise ValueError(
            "The Gram matrix G is zero: the dictionary vanishes on the data"
            + (" (or its values underflow float64: mean squares below 1e-300)"
               if (diag > 0).any() else "")
            + ". Check the dictionary (e.g. RBF width) and the data, or rescale the data."
        )
    scale = np.sqrt(np.where(vanishing, 1.0, diag)) if rank is None else np.ones(M)
    Gs = Greg / np.outer(scale, scale)
    if vanishing.any():  # zero (or underflowed) functions span nothing: drop them
        Gs = Gs.copy()
        Gs[vanishing, :] = 0.0
        Gs[:, vanishing] = 0.0
    s, U = scipy.linalg.eigh(Gs)
    order = np.argsort(s)[::-1]
    s, U = s[order], U[:, order]
    if rcond is None:
        rcond = M * np.finfo(float).eps
    keep = numerical_rank(s, rcond)
    n_dropped = M - keep
    if warn and n_dropped > 0:
        n_zero = int(np.count_nonzero(vanishing))
        why = (f"; {n_zero} of them vanish or underflow on the data" if n_zero else "")
        warnings.warn(
            f"G is numerically singular: dropped {n_dropped} of {M} dictionary direction(s) "
            f"whose eigenvalue is below rcond={rcond:.1e} times the largest (linearly "
            "dependent dictionary functions on the data, e.g. duplicate features or "
            f"cos^2 + sin^2 = 1{why}). The fit uses the remaining span (G^+ A).",
            RankDeficiencyWarning,
            stacklevel=3,
        )
    if rank is not None:
        shape = None if n_samples is None else (int(n_samples), M)
        keep = select_rank(s, rank, shape, cutoff=rcond, squared=True)
    U_r = U[:, :keep]
    Q = (U_r / np.sqrt(s[:keep])) / scale[:, None]
    reduced = Q.conj().T @ A @ Q
    state_map = Q.conj().T @ np.asarray(C)
    return ReducedModel(Q, reduced, state_map, n_dropped)
