r"""Residuals for stochastic dynamics: projection error and variance, apart.

For a stochastic system the Koopman operator is an expectation,
:math:`\mathcal K g(x) = \mathbb E[g(X_1)\mid X_0 = x]`. The ResDMD residual of a
candidate eigenpair computed from single snapshot pairs,

.. math::
    \operatorname{res}_{\mathrm{plain}}(\lambda, g)^2
    = \frac{g^*(L - \lambda A^* - \bar\lambda A + |\lambda|^2 G)g}{g^*Gg}
    \;\to\; \frac{\|(\mathcal K - \lambda)g\|^2 + \operatorname{Var}(g)}{\|g\|^2},

mixes the projection error with the variance
:math:`\operatorname{Var}(g) = \int \mathbb E[|g(X_1)|^2 \mid x] - |\mathcal K g(x)|^2\,d\mu`,
so even an exact eigenfunction has a large residual (for Ornstein–Uhlenbeck,
:math:`\sqrt{1 - \lambda^2}`). Colbrook, Li, Raut & Townsend separate the two with
*batched* snapshots: :math:`B \ge 2` independent successors :math:`y_m^{(b)}` of each
:math:`x_m`. With :math:`\Psi_b` the dictionary on the :math:`b`-th successors,

.. math::
    A = \tfrac1B\sum_b \Psi_X^*W\Psi_b,\quad L = \tfrac1B\sum_b \Psi_b^*W\Psi_b,\quad
    H = \tfrac{1}{B(B-1)}\sum_{b\ne b'} \Psi_b^*W\Psi_{b'},

:math:`H` estimates :math:`\langle\mathcal K\psi_j, \mathcal K\psi_i\rangle` without
the variance (independent successors decorrelate), so

.. math::
    \operatorname{res}(\lambda, g)^2 = \frac{g^*(H - \lambda A^* - \bar\lambda A +
    |\lambda|^2G)g}{g^*Gg} \to \frac{\|(\mathcal K-\lambda)g\|^2}{\|g\|^2},\qquad
    \operatorname{var}(g) = \frac{g^*(L - H)g}{g^*Gg}.

True eigenpairs have :math:`\operatorname{res}` near zero whatever the noise; spurious
ones do not. The squared residual is estimated with a statistical error
:math:`O(N^{-1/2})`, so :math:`\operatorname{res}` itself bottoms out near
:math:`N^{-1/4}` (about 0.05 at :math:`N = 10^5` for OU): compare residuals with that
floor, not with zero. For a self-adjoint :math:`\mathcal K` (reversible dynamics)
:math:`\operatorname{res}(\lambda, g) \ge \operatorname{dist}(\lambda,
\operatorname{Sp}\mathcal K)`, a rigorous check of every candidate. Both quadratic forms come from
:func:`koop._spectral.residual.residuals_from_gram` (one home for the formula).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from koop._spectral.model import as_koopman_model
from koop._spectral.residual import residuals_from_gram
from koop.data import check_array

__all__ = ["variance_residuals", "batched_gram", "VarianceResiduals"]


@dataclass(frozen=True)
class VarianceResiduals:
    r"""Residuals of a model's eigenpairs from batched snapshots.

    Attributes
    ----------
    eigenvalues : ndarray of complex (k,)
        The model's eigenvalues, in its order.
    residuals : ndarray (k,)
        :math:`\operatorname{res}(\lambda, g)`: the projection residual
        :math:`\|(\mathcal K - \lambda) g\|/\|g\|` (variance removed).
    plain_residuals : ndarray (k,)
        :math:`\operatorname{res}_{\mathrm{plain}}`: the single-successor ResDMD residual
        (squared residual plus variance).
    variances : ndarray (k,)
        :math:`\operatorname{var}(g) = g^*(L-H)g/g^*Gg`, the relative variance of
        :math:`g(X_1)` given :math:`X_0`.
    G, A, L, H : ndarray (M, M)
        The batched Gram matrices.
    """

    eigenvalues: np.ndarray
    residuals: np.ndarray
    plain_residuals: np.ndarray
    variances: np.ndarray
    G: np.ndarray
    A: np.ndarray
    L: np.ndarray
    H: np.ndarray


def _successor_batches(Y: Any, shape: tuple[int, int]) -> list[np.ndarray]:
    if isinstance(Y, list | tuple):
        batches = list(Y)
    else:
        arr = np.asarray(Y)
        if arr.ndim == 2 and shape[1] == 1 and arr.shape[1] == shape[0]:
            arr = arr[..., None]
        if arr.ndim != 3:
            raise ValueError(
                f"Y must hold B >= 2 successors of every row of X: an array of shape "
                f"(B, {shape[0]}, {shape[1]}) or a list of B arrays ({shape[0]}, "
                f"{shape[1]}); got shape {arr.shape}."
            )
        batches = list(arr)
    if len(batches) < 2:
        raise ValueError(
            f"Y holds {len(batches)} successor batch(es); the variance-aware residual needs "
            "B >= 2 independent successors of each state (batched snapshots)."
        )
    out = []
    for b, Yb in enumerate(batches):
        Yb = check_array(Yb, name=f"Y[{b}]", n_features=shape[1])
        if Yb.shape[0] != shape[0]:
            raise ValueError(f"Y[{b}] has {Yb.shape[0]} rows but X has {shape[0]}: each batch "
                             "holds one successor per row of X.")
        out.append(Yb)
    return out


def batched_gram(dictionary: Any, X: Any, Y: Any, weights: Any = None,
                 chunk_size: int = 8192) -> tuple[np.ndarray, ...]:
    r""":math:`G, A, L, H` from states ``X`` and ``B >= 2`` batches of successors ``Y``.

    Parameters
    ----------
    dictionary : fitted Dictionary (pointwise, no lags)
    X : array-like (n, d)
    Y : array-like (B, n, d) or list of B arrays (n, d)
    weights : array-like (n,), optional
        Quadrature weights (default :math:`1/n`).
    chunk_size : int
        Rows per chunk (memory :math:`O(B\cdot\mathrm{chunk}\cdot M)`).

    Returns
    -------
    G, A, L, H : ndarray (M, M)
    """
    if int(getattr(dictionary, "n_lags", 0)) > 0:
        raise ValueError("Batched residuals need a pointwise dictionary (no time delays): "
                         "each successor is one state.")
    X = check_array(X, name="X", n_features=dictionary.n_features_in_)
    batches = _successor_batches(Y, X.shape)
    n = X.shape[0]
    B = len(batches)
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"weights must be {n} finite non-negative numbers.")
    G = A = L = S2 = None
    for s in range(0, n, chunk_size):
        e = min(s + chunk_size, n)
        PX = dictionary.transform(X[s:e])
        ws = w[s:e][:, None]
        PYs = [dictionary.transform(Yb[s:e]) for Yb in batches]
        tot = sum(PYs)
        if G is None:
            M = PX.shape[1]
            dt = np.result_type(PX, np.float64)
            G, A, L, S2 = (np.zeros((M, M), dt) for _ in range(4))
        WPX = PX * ws
        G += PX.conj().T @ WPX
        A += WPX.conj().T @ tot
        for P in PYs:
            L += P.conj().T @ (P * ws)
        S2 += tot.conj().T @ (tot * ws)
    A /= B
    H = (S2 - L) / (B * (B - 1))  # sum over b != b' of Psi_b^* W Psi_b'
    L /= B
    herm = lambda S: 0.5 * (S + S.conj().T)  # noqa: E731
    return herm(G), A, herm(L), herm(H)


def variance_residuals(model: Any, X: Any, Y: Any, *, eigenvalues: Any = None,
                       vectors: Any = None, weights: Any = None) -> VarianceResiduals:
    r"""Variance-aware residuals (Colbrook, Li, Raut & Townsend) of a model's eigenpairs.

    Parameters
    ----------
    model : fitted EDMD-family estimator
        Its ``eigenvalues_``, ``eigenvectors_`` (coefficients :math:`g_j` on
        ``dictionary_``) are checked.
    X : array-like of shape (n, n_features)
        States :math:`x_m` (independent of the training data, ideally).
    Y : array-like of shape (B, n, n_features) or list of B arrays
        :math:`B \ge 2` independent successors of every state (e.g.
        :func:`koop.systems.ornstein_uhlenbeck_successors`).
    eigenvalues, vectors : array-like, optional
        Candidate pairs :math:`(\lambda_j, g_j)` to check instead of the model's (``vectors``
        of shape (M, k): coefficients on ``model.dictionary_``).
    weights : array-like, optional
        Quadrature weights (default :math:`1/n`).

    Returns
    -------
    VarianceResiduals
        ``residuals`` (projection error, variance removed), ``plain_residuals``
        (single-successor ResDMD: residual and variance mixed) and ``variances``.

    References
    ----------
    M. J. Colbrook, Q. Li, R. V. Raut, A. Townsend, "Beyond expectations: residual dynamic
    mode decomposition and variance for stochastic dynamical systems", Nonlinear Dyn. 112
    (2024), arXiv:2308.10697.

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> from koop.dictionaries import Polynomial
    >>> from koop.estimators import EDMD
    >>> X = systems.ornstein_uhlenbeck(20000, dt=0.5, random_state=0)
    >>> model = EDMD(Polynomial(degree=2)).fit(X)
    >>> Y = systems.ornstein_uhlenbeck_successors(X, 2, dt=0.5, random_state=1)
    >>> res = variance_residuals(model, X, Y)
    >>> bool(res.residuals.max() < 0.05), bool(res.plain_residuals[1:].min() > 0.7)
    (True, True)
    """
    km = as_koopman_model(model)
    if km.reduction is not None:  # a field's model: its dictionary acts on POD coordinates
        X = km.reduction.transform(X)
        Y = [km.reduction.transform(b) for b in (Y if isinstance(Y, list | tuple)
                                                  else np.asarray(Y))]
    G, A, L, H = batched_gram(km.dictionary, X, Y, weights)
    if (eigenvalues is None) != (vectors is None):
        raise ValueError("Pass both eigenvalues and vectors (candidate pairs), or neither.")
    if eigenvalues is None:
        lam, V = km.eigenvalues, km.eigenvectors
    else:
        lam = np.atleast_1d(np.asarray(eigenvalues, dtype=np.complex128))
        V = np.asarray(vectors, dtype=np.complex128)
        V = V[:, None] if V.ndim == 1 else V
        if V.ndim != 2 or V.shape[0] != G.shape[0]:
            raise ValueError(f"vectors must have shape ({G.shape[0]}, k): one coefficient "
                             f"column per candidate on the model's dictionary; got "
                             f"{np.shape(vectors)}.")
    res = residuals_from_gram(G, A, H, lam, V)
    plain = residuals_from_gram(G, A, L, lam, V)
    GV = G @ V
    gg = np.real(np.sum(V.conj() * GV, axis=0))
    var = np.real(np.sum(V.conj() * ((L - H) @ V), axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(gg > 0, np.clip(var, 0.0, None) / gg, np.inf)
    return VarianceResiduals(np.asarray(lam), res, plain, var, G, A, L, H)
