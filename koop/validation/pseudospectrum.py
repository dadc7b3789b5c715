"""Pseudospectra and the verified spectrum estimate of "Limits and Powers"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from koop._spectral.labels import parse_points
from koop._spectral.model import as_koopman_model

__all__ = ["pseudospectrum", "spectral_estimate", "SpectralEstimate"]


def pseudospectrum(
    model: Any,
    points_or_grid: Any,
    *,
    X: Any = None,
    y: Any = None,
    weights: Any = None,
    vectors: bool = False,
    method: str = "cholesky",
    n_jobs: int | None = None,
    verbose: bool = False,
    device: Any = None,
):
    r"""Minimal residual :math:`\tau(z)` over the dictionary span, at points or on a grid.

    .. math::
        \tau(z) = \min_{g \ne 0}\frac{\|\Psi_Y g - z\Psi_X g\|_W}{\|\Psi_X g\|_W}
        = \sqrt{\lambda_{\min}\big(L - zA^* - \bar zA + |z|^2G,\ G\big)},

    so :math:`\{z : \tau(z) < \varepsilon\}` approximates the
    :math:`\varepsilon`-pseudospectrum of the Koopman operator from data, free of spectral
    pollution (Colbrook & Townsend 2024). The minimiser :math:`g` is an
    :math:`\varepsilon`-pseudoeigenfunction (``vectors=True``).

    Speed: one factorisation up front (SVD of :math:`R_{11}` or eigendecomposition of
    :math:`G`), then per point a Cholesky factorisation of the :math:`r\times r` Hermitian
    :math:`H(z)`, a few Lanczos steps on :math:`H(z)^{-1}` warm-started from the
    neighbouring point, and a cancellation-free Rayleigh quotient; only half the plane for
    real dictionaries (:math:`\tau(\bar z) = \tau(z)`); ``n_jobs`` threads.

    Parameters
    ----------
    model : fitted EDMD-family estimator
        Its pencil (:meth:`koop.base.KoopmanModel.pencil`): the QR factor when it has one
        (``factor_``), else its Gram matrices on the span the fit retained.
    points_or_grid : complex array-like, or tuple (real_values, imag_values)
        Points (0-D or 1-D), or a grid given by its real and imaginary axes.
    X, y, weights : optional
        Evaluate on independent data instead (the dictionary is the model's).
    vectors : bool
        Also return the pseudoeigenfunctions (dictionary coefficients, unit norm on data).
    method : {"cholesky", "svd", "torch"}
        ``"svd"`` is the slow reference (an SVD of the :math:`2r\times r` matrix per point);
        ``"torch"`` batches the points on a torch device (a GPU: one batched Cholesky and
        block inverse iteration for many points at once; needs ``koop[torch]``).
    n_jobs : int, optional
        Threads.
    verbose : bool
        Progress bar.
    device : str or torch.device, optional
        ``method="torch"`` only (default: CUDA when available, else the CPU).

    Returns
    -------
    xarray.DataArray
        ``tau`` with dims ``("imag", "real")`` for a grid, ``("point",)`` (coordinate
        ``z``) for points; with ``vectors=True`` a second DataArray with a trailing
        ``dictionary`` dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> from koop.estimators import ResDMD
    >>> X = systems.linear([[0.9, 0.0], [0.0, 0.5]], 30, x0=[1.0, 1.0])
    >>> tau = pseudospectrum(ResDMD().fit(X), [0.9, 0.7, 0.5])
    >>> bool(tau[0] < 1e-12 and tau[2] < 1e-12 and tau[1] > 0.05)  # 0.9, 0.5: eigenvalues
    True
    """
    return as_koopman_model(model).pseudospectrum(
        points_or_grid, X=X, y=y, weights=weights, vectors=vectors, method=method,
        n_jobs=n_jobs, verbose=verbose, device=device)


@dataclass(frozen=True)
class SpectralEstimate:
    """The verified spectrum estimate and its error bound.

    Attributes
    ----------
    eigenvalues : ndarray of complex
        Selected local minimisers of DIST on the grid: the spectral estimate.
    error : float
        :math:`\\max` DIST over the selection: every estimate lies within (about) this
        distance of the spectrum (for normal operators, exactly).
    dist : ndarray
        DIST at each selected point.
    edmd_error : float
        :math:`\\max_j \\operatorname{res}(\\lambda_j, g_j)` of the model's own eigenpairs
        (on the test data if given), shown for comparison: it need not converge.
    grid : xarray.DataArray
        DIST on the whole grid.

    Examples
    --------
    See :func:`spectral_estimate`.
    """

    eigenvalues: np.ndarray
    error: float
    dist: np.ndarray
    edmd_error: float
    grid: Any

    def __repr__(self) -> str:
        return (f"SpectralEstimate({self.eigenvalues.size} points, error={self.error:.3g}, "
                f"EDMD error={self.edmd_error:.3g})")


def select_local_minima(z: np.ndarray, dist: np.ndarray, radius_factor: float = 5.0,
                        threshold: float = 1.0) -> np.ndarray:
    r"""Indices of the local minimisers of DIST: for each :math:`z` with DIST < threshold,
    the grid point of least DIST within radius ``radius_factor`` * DIST(z)."""
    from scipy.spatial import cKDTree

    pts = np.column_stack([z.real, z.imag])
    tree = cKDTree(pts)
    chosen = set()
    for i in np.flatnonzero(dist < threshold):
        near = tree.query_ball_point(pts[i], radius_factor * dist[i])
        near = np.asarray(near if near else [i])
        chosen.add(int(near[np.argmin(dist[near])]))
    return np.array(sorted(chosen), dtype=int)


def spectral_estimate(
    model: Any,
    grid: Any,
    *,
    X: Any = None,
    y: Any = None,
    X_test: Any = None,
    y_test: Any = None,
    measure_preserving: bool = False,
    radius_factor: float = 5.0,
    n_jobs: int | None = None,
    verbose: bool = False,
) -> SpectralEstimate:
    r"""Spectrum with an error bound, by local minimisation of :math:`\tau` (Colbrook,
    Mezić & Stepanenko, "Limits and Powers of Koopman Learning").

    DIST(:math:`z`) = :math:`\tau(z)` on the grid; for measure-preserving systems the
    spectrum lies on the unit circle, so DIST = :math:`\max(\tau(z), |1 - |z||)`. For every
    grid point with DIST < 1 the point of least DIST within ``radius_factor`` * DIST is
    kept; the union is the estimate and :math:`\max` DIST over it the error. The EDMD error,
    :math:`\max_j \operatorname{res}(\lambda_j, g_j)` on independent data, is returned
    beside it.

    Parameters
    ----------
    model : fitted EDMD-family estimator
    grid : tuple (real_values, imag_values) or complex points
    X, y : optional
        Data for :math:`\tau` (default: the model's factor / Gram matrices).
    X_test, y_test : optional
        Independent data for the EDMD error (default: ``X``, else the training data).
    measure_preserving : bool
    radius_factor : float, default=5
    n_jobs : int, optional
    verbose : bool

    Returns
    -------
    SpectralEstimate

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> from koop.estimators import ResDMD
    >>> X = systems.linear([[0.9, 0.0], [0.0, 0.5]], 30, x0=[1.0, 1.0])
    >>> est = spectral_estimate(ResDMD().fit(X), (np.linspace(0, 1, 21), [0.0]))
    >>> np.round(est.eigenvalues.real, 6).tolist(), est.error < 1e-12
    ([0.5, 0.9], True)
    """
    km = as_koopman_model(model)
    tau = km.pseudospectrum(grid, X=X, y=y, n_jobs=n_jobs, verbose=verbose)
    z, _ = parse_points(grid)
    dist = np.asarray(tau.values, dtype=float).ravel()
    if measure_preserving:
        dist = np.maximum(dist, np.abs(1.0 - np.abs(z)))
    idx = select_local_minima(z, dist, radius_factor)
    grid_da = tau.copy(data=dist.reshape(tau.shape))
    grid_da.name = "dist"
    tx, ty = (X_test, y_test) if X_test is not None else (X, y)
    res = km.residuals(tx, ty)
    edmd_error = float(np.max(res)) if res.size else float("nan")
    return SpectralEstimate(z[idx], float(dist[idx].max()) if idx.size else float("nan"),
                            dist[idx], edmd_error, grid_da)
