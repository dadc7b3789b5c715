r"""VAMP scores of EDMD-family models (Wu & Noé 2020), and a scikit-learn scorer.

For functions :math:`f = \psi Q` (a model's ``basis_``) the VAMP-:math:`r` score is

.. math::
    \mathcal R_r = \sum_i \sigma_i^r, \qquad
    \sigma_i = \text{singular values of } (Q^*GQ)^{-1/2}\,Q^*AQ\,(Q^*LQ)^{-1/2},

with :math:`G = C_{00}`, :math:`A = C_{01}`, :math:`L = C_{11}` the dictionary's Gram
matrices on the data (:func:`koop.gram.build_gram`). It measures how much of the
dynamics (the singular values of the Koopman operator) the model's subspace captures:
larger is better. On *test* data it is the cross-validated VAMP score of Wu & Noé: a
subspace fitted to noise captures little of the test dynamics. The same subspace is
used at both times (the reversible form: for reversible dynamics, such as the
overdamped Langevin and Ornstein–Uhlenbeck processes, left and right singular
functions coincide). If the subspace contains the constant function (a dictionary
with a bias term) the score includes its singular value 1, as in Wu & Noé's
convention without mean-free features.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import scipy.linalg

__all__ = ["vamp_score", "vamp_scorer", "make_vamp_scorer"]


def _inv_sqrt(S: np.ndarray, epsilon: float) -> np.ndarray:
    s, V = scipy.linalg.eigh(0.5 * (S + S.conj().T))
    keep = s > epsilon * max(s.max(), 0.0) if s.size else s > 0
    if not keep.any():
        raise ValueError("The model's functions vanish on the data: their Gram matrix is "
                         "zero, so no VAMP score can be computed.")
    return V[:, keep] / np.sqrt(s[keep])


def _gram_of(model: Any, X: Any, y: Any, weights: Any):
    name = type(model).__name__
    if not (hasattr(model, "basis_") and hasattr(model, "dictionary_")):
        raise TypeError(
            f"vamp_score needs a fitted EDMD-family koop model (one with a dictionary and "
            f"the Gram matrices G, A, L = C00, C01, C11: EDMD, RRR, KernelRRR, ResDMD, "
            f"KernelEDMD, ...); {name} has no dictionary_/basis_ (not fitted, or not "
            "a Gram-based model)."
        )
    if X is not None:
        from koop.gram import build_gram

        backend = getattr(model, "backend", "numba")
        backend = backend if backend in ("numba", "numpy") else "numba"
        km = getattr(model, "model_", None)
        if km is not None and km.reduction is not None:  # a field: its POD coordinates
            X, y = km.data_on(X, y), None
        return build_gram(model.dictionary_, X, y=y, weights=weights, backend=backend)
    gram = getattr(model, "gram_", None)
    if gram is None and hasattr(model, "factor_"):
        G, A, L, _ = model.factor_.gram()
        return SimpleNamespace(G=G, A=A, L=L)
    if gram is None or getattr(gram, "L", None) is None:
        raise TypeError(
            f"{name} keeps no Gram matrices A and L (gram_) from its training data; pass "
            "data X to score it on, or use an EDMD-family model that keeps gram_."
        )
    return gram


def vamp_score(model: Any, X: Any = None, y: Any = None, *, r: float = 2,
               weights: Any = None, epsilon: float = 1e-10) -> float:
    r"""VAMP-:math:`r` score of a fitted model's subspace on data (default: its training data).

    Parameters
    ----------
    model : fitted EDMD-family estimator
        Anything with ``basis_`` and ``dictionary_`` (EDMD, RRR, KernelRRR, ResDMD,
        KernelEDMD, DMD, ...).
    X : array-like, list of arrays or xarray, optional
        Data to score on (trajectories, or the X of pairs with ``y``); default: the
        model's training Gram matrices ``gram_``.
    y : array-like, optional
        Successors of ``X`` row by row.
    r : float, default=2
        VAMP-1 (sum of singular values) or VAMP-2 (sum of squares, Wu & Noé's default).
    weights : array-like, optional
        Quadrature weights for ``X``.
    epsilon : float, default=1e-10
        Relative eigenvalue cut-off when inverting :math:`Q^*GQ` and :math:`Q^*LQ`.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If the model is not an EDMD-family model, or keeps no :math:`A, L` and no ``X``
        is given.

    References
    ----------
    H. Wu, F. Noé, "Variational approach for learning Markov processes from time series
    data", J. Nonlinear Sci. 30 (2020).

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> from koop.dictionaries import Polynomial
    >>> from koop.estimators import EDMD
    >>> X = systems.ornstein_uhlenbeck(50000, dt=0.5, random_state=0)
    >>> model = EDMD(Polynomial(degree=2)).fit(X)
    >>> exact = 1 + np.exp(-1.0) + np.exp(-2.0)   # sum of lambda_k^2, k = 0, 1, 2
    >>> bool(abs(vamp_score(model) - exact) < 0.05)
    True
    """
    if isinstance(r, bool) or not isinstance(r, int | float) or r <= 0:
        raise ValueError(f"r must be a positive number (1 or 2 for VAMP-1/VAMP-2), got {r!r}.")
    gram = _gram_of(model, X, y, weights)
    Q = np.asarray(model.basis_)
    if Q.shape[0] != np.asarray(gram.G).shape[0]:
        raise ValueError(f"the model's basis has {Q.shape[0]} rows but its dictionary gives "
                         f"{np.asarray(gram.G).shape[0]} functions.")
    Qh = Q.conj().T
    G0 = Qh @ gram.G @ Q
    A0 = Qh @ gram.A @ Q
    L0 = Qh @ gram.L @ Q
    Kv = _inv_sqrt(G0, epsilon).conj().T @ A0 @ _inv_sqrt(L0, epsilon)
    s = scipy.linalg.svdvals(Kv)
    return float(np.sum(s**r))


def make_vamp_scorer(r: float = 2, epsilon: float = 1e-10):
    """A scikit-learn scorer ``scorer(estimator, X, y=None)`` for the VAMP-``r`` score.

    Use it as ``GridSearchCV(..., scoring=make_vamp_scorer(2), cv=...)`` with a
    trajectory-aware splitter (:class:`koop.model_selection.TrajectoryKFold`).

    Parameters
    ----------
    r : float, default=2
    epsilon : float, default=1e-10

    Returns
    -------
    callable

    Examples
    --------
    >>> scorer = make_vamp_scorer(1)
    >>> scorer.__name__
    'vamp1_scorer'
    """
    if isinstance(r, bool) or not isinstance(r, int | float) or r <= 0:
        raise ValueError(f"r must be a positive number, got {r!r}.")

    def scorer(estimator: Any, X: Any, y: Any = None) -> float:
        return vamp_score(estimator, X, y, r=r, epsilon=epsilon)

    scorer.__name__ = f"vamp{r:g}_scorer"
    scorer.__doc__ = f"VAMP-{r:g} score of ``estimator`` on held-out ``X`` (see vamp_score)."
    return scorer


def vamp_scorer(estimator: Any, X: Any, y: Any = None) -> float:
    """The VAMP-2 scorer: ``vamp_score(estimator, X, y)``, for ``scoring=`` in scikit-learn.

    Parameters
    ----------
    estimator : fitted EDMD-family estimator
    X : held-out trajectories (or the X of pairs)
    y : successors of X, optional

    Returns
    -------
    float

    Examples
    --------
    >>> from koop import systems
    >>> from koop.dictionaries import Polynomial
    >>> from koop.estimators import RRR
    >>> X = systems.ornstein_uhlenbeck(4000, dt=0.5, random_state=0)
    >>> model = RRR(Polynomial(degree=3), rank=2).fit(X[:2000])
    >>> 1.0 < vamp_scorer(model, X[2000:]) <= 2.0
    True
    """
    return vamp_score(estimator, X, y)
