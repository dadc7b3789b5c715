"""Kernel EDMD for high-dimensional states, with ResDMD residuals."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.linalg
from sklearn.utils import check_random_state

from koop._params import (
    CHUNK_SIZE,
    POSITIVE_INT,
    POSITIVE_REAL,
    RANDOM_STATE,
    RANK,
    Interval,
    Real,
    StrOptions,
)
from koop._reduction import REDUCTION_CONSTRAINTS
from koop._spectral.truncation import select_rank
from koop.base import KoopmanEstimator
from koop.dictionaries import POD, Dictionary, data_scale
from koop.estimators._resdmd import _SORTS, VALIDATION_DATA, VerifiedSpectrum, solve_residual_dmd

__all__ = ["KernelEDMD"]

_KERNELS = ("gaussian", "laplacian", "polynomial")


def kernel_matrix(kernel: str, X: np.ndarray, C: np.ndarray, width: float,
                  degree: int) -> np.ndarray:
    r""":math:`k(x_i, c_j)` for the rows of ``X`` and ``C``."""
    if kernel == "polynomial":
        return (1.0 + (X @ C.T) / width**2) ** degree
    sq = (np.einsum("ij,ij->i", X, X)[:, None] + np.einsum("ij,ij->i", C, C)[None, :]
          - 2.0 * X @ C.T)
    sq = np.clip(sq, 0.0, None)
    if kernel == "gaussian":
        return np.exp(-0.5 * sq / width**2)
    return np.exp(-np.sqrt(sq) / width)


class _KernelFeatures(Dictionary):
    r"""The dictionary a kernel induces: :math:`\psi(x) = k(x, C)\,P`."""

    _parameter_constraints: ClassVar[dict] = {
        "kernel": [StrOptions(set(_KERNELS))], "width": POSITIVE_REAL, "degree": POSITIVE_INT,
        "centers": ["array-like", None], "projection": ["array-like", None]}

    def __init__(self, kernel="gaussian", width=1.0, degree=2, centers=None, projection=None):
        self.kernel = kernel
        self.width = width
        self.degree = degree
        self.centers = centers
        self.projection = projection

    def _transform(self, X: np.ndarray) -> np.ndarray:
        k = kernel_matrix(self.kernel, X, self.centers, self.width, self.degree)
        return k @ self.projection

    def _n_output(self) -> int:
        return int(self.projection.shape[1])

    def _feature_names(self, input_names: list[str]) -> list[str]:
        return [f"kernel{j}" for j in range(self._n_output())]


class KernelEDMD(VerifiedSpectrum, KoopmanEstimator):
    r"""Kernel EDMD (Williams, Rowley & Kevrekidis 2015) with ResDMD residuals.

    The kernel trick replaces the dictionary by snapshot Gram matrices: with centers
    :math:`c_1..c_n` (the training states, or a random subset of ``n_components`` of them
    for the Nyström/low-rank option) and :math:`\hat G = k(C, C) = U S U^*`, the kernel
    induces the dictionary

    .. math::
        \psi(x) = k(x, C)\,U_r S_r^{-1/2},

    keeping the eigenvalues above ``cutoff`` times the largest. With all training states
    as centers, EDMD on :math:`\psi` equals kernel EDMD's
    :math:`\hat K = S^{-1/2}U^*\hat A U S^{-1/2}`, :math:`\hat A_{ij} = k(y_i, x_j)`; with
    fewer centers it is its Nyström approximation, at cost :math:`O(Nn^2)` instead of
    :math:`O(N^3)`. Everything else (QR factor, residuals, pseudospectra, ``verified``) is
    the ResDMD solve on the induced dictionary
    (:func:`~koop.estimators._resdmd.solve_residual_dmd`), as in Colbrook & Townsend's
    kernelized ResDMD; pass ``validation_data`` for residuals independent of the
    centers.

    Parameters
    ----------
    kernel : {"gaussian", "laplacian", "polynomial"}, default="gaussian"
        :math:`e^{-\|x-y\|^2/(2w^2)}`, :math:`e^{-\|x-y\|/w}` or
        :math:`(1 + x\cdot y/w^2)^{p}`.
    width : float, optional
        :math:`w`; default: the mean distance of the states to their mean.
    degree : int, default=2
        :math:`p` of the polynomial kernel.
    n_components : int, optional
        Number of Nyström centers (default: every training state). The induced dictionary
        has up to that many functions and the QR factor is about twice that squared, so
        beyond a few thousand samples pass ``n_components``.
    cutoff : float, default=1e-12
        Relative eigenvalue cut-off of :math:`\hat G`.
    rank : int, float in (0, 1), "optimal" or None
        Truncation of the spectrum of :math:`\hat G` (after ``cutoff``), with the contract
        of :func:`~koop._spectral.truncation.select_rank`.
    chunk_size, validation_data, sort_by
        As in :class:`ResDMD`.
    random_state : int, RandomState or None
        Choice of the Nyström centers.
    reduce : POD, optional
        Fit on the POD coordinates :math:`z = U^*x` of the state (a field: :math:`d \gg`
        the number of snapshots): the basis is fitted first by a streamed tall-skinny
        QR, the estimator runs on :math:`z`, and ``modes_`` (and predictions) come back
        on the full state, on the grid for a labelled field (:mod:`koop._reduction`).
        Required beyond 10 000 features.
    reduce_split : float in (0, 1), optional
        Two-split scheme (Colbrook & Townsend): the first fraction of every trajectory
        fits the POD basis, the rest the operator (and its residuals). Default: all data
        for both.

    Attributes
    ----------
    centers_ : ndarray (n, n_features)
    dictionary_ : Dictionary
        The induced dictionary :math:`\psi`.
    residuals_, eigenvalues_, eigenvectors_, modes_, factor_, gram_
        As in :class:`ResDMD`.

    References
    ----------
    M. O. Williams, C. W. Rowley, I. G. Kevrekidis, "A kernel-based method for data-driven
    Koopman spectral analysis", J. Comput. Dyn. 2(2) (2015).

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> Q = np.linalg.qr(np.random.default_rng(0).normal(size=(50, 2)))[0]
    >>> X = systems.linear([[0.9, 0.0], [0.0, 0.5]], 40, x0=[1.0, 1.0]) @ Q.T
    >>> model = KernelEDMD(kernel="polynomial", degree=1).fit(X)
    >>> np.round(model.eigenvalues_.real, 8).tolist()
    [1.0, 0.9, 0.5]
    """

    def __init__(
        self,
        kernel: str = "gaussian",
        width: float | None = None,
        degree: int = 2,
        n_components: int | None = None,
        cutoff: float = 1e-12,
        rank: int | float | str | None = None,
        chunk_size: int | None = None,
        validation_data: Any = None,
        sort_by: str = "modulus",
        random_state: Any = None,
        reduce: POD | None = None,
        reduce_split: float | None = None,
    ) -> None:
        self.kernel = kernel
        self.width = width
        self.degree = degree
        self.n_components = n_components
        self.cutoff = cutoff
        self.rank = rank
        self.chunk_size = chunk_size
        self.validation_data = validation_data
        self.sort_by = sort_by
        self.random_state = random_state
        self.reduce = reduce
        self.reduce_split = reduce_split

    _parameter_constraints: ClassVar[dict] = {
        "kernel": [StrOptions(set(_KERNELS))],
        "width": [*POSITIVE_REAL, None],
        "degree": POSITIVE_INT,
        "n_components": [*POSITIVE_INT, None],
        "cutoff": [Interval(Real, 0, 1, closed="left")],
        "rank": RANK,
        "chunk_size": CHUNK_SIZE,
        "validation_data": VALIDATION_DATA,
        "sort_by": [StrOptions(set(_SORTS))],
        "random_state": RANDOM_STATE,
        **REDUCTION_CONSTRAINTS,
    }

    @property
    def dictionary_size_param(self) -> str:
        """The number of Nyström centers sets the size of the induced dictionary."""
        return "n_components"

    def fit(self, X: Any, y: Any = None, *, dt: float | None = None,
            weights: Any = None) -> KernelEDMD:
        """Build the kernel-induced dictionary, then ResDMD on it.

        Parameters
        ----------
        X : array-like, list of arrays or xarray
        y : array-like, optional
            Successors of X row by row.
        dt : float, optional
        weights : array-like, optional
            Quadrature weight per snapshot pair.

        Returns
        -------
        self
        """
        data = self._start_fit(X, y, dt)
        Xp, _ = data.pairs()
        Xp = np.asarray(Xp, dtype=np.float64)
        n = Xp.shape[0]
        if self.n_components is None or self.n_components >= n:
            centers = Xp
        else:
            rng = check_random_state(self.random_state)
            centers = Xp[np.sort(rng.choice(n, self.n_components, replace=False))]
        width = float(self.width) if self.width is not None else data_scale(Xp)
        Ghat = kernel_matrix(self.kernel, centers, centers, width, self.degree)
        s, U = scipy.linalg.eigh(0.5 * (Ghat + Ghat.T))
        order = np.argsort(s)[::-1]
        s, U = s[order], U[:, order]
        keep = select_rank(s, self.rank, (n, centers.shape[0]), cutoff=self.cutoff,
                           squared=True)
        P = U[:, :keep] / np.sqrt(s[:keep])
        self.centers_ = centers
        self.width_ = width
        self.dictionary_ = _KernelFeatures(self.kernel, width, self.degree, centers, P).fit(
            centers[:1])
        # the kernel's spectrum is truncated already: the pencil keeps the numerical rank
        self._set_residual_fit(solve_residual_dmd(
            self.dictionary_, data, weights, chunk_size=self.chunk_size, rcond=None,
            rank=None, validation_data=self._fit_coordinates(self.validation_data),
            sort_by=self.sort_by))
        return self
