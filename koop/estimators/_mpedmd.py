"""Measure-preserving EDMD (mpEDMD): a unitary Koopman approximation with residuals."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from koop.estimators._resdmd import ResDMD

__all__ = ["MPEDMD"]


class MPEDMD(ResDMD):
    r"""mpEDMD (Colbrook 2023): the measure-preserving truncation of the Koopman operator.

    In the basis :math:`h = \Psi Q` orthonormal on the data, EDMD's matrix :math:`K`
    is replaced by the unitary :math:`U` solving the orthogonal Procrustes problem
    :math:`\min_{U^*U = I}\|\sqrt W(h_Y - h_X U)\|_F`, i.e. the polar factor of
    :math:`K = W\Sigma V^*`, :math:`U = WV^*`. Every eigenvalue lies on the unit circle,
    the eigenfunctions are orthonormal, and the spectral measure of :math:`f` is atomic
    with weights :math:`|\langle f, \phi_j\rangle|^2` that sum to :math:`\|f\|^2`; these
    converge to the Koopman operator's spectral measures for measure-preserving systems.
    Same parameters and residual machinery as :class:`ResDMD` (a choice made so that the
    mpEDMD eigenpairs can be verified like any other); use it for measure-preserving
    dynamics sampled from the invariant measure (or with quadrature weights for it).

    Attributes
    ----------
    eigenvalues_ : ndarray of complex
        :math:`e^{i\theta_j}`, ordered by :math:`|\theta_j|` (closest to 1 first).
    residuals_, training_residuals_, factor_, gram_, eigenvectors_, modes_
        As in :class:`ResDMD`.

    References
    ----------
    M. J. Colbrook, "The mpEDMD algorithm for data-driven computations of measure-preserving
    dynamical systems", SIAM J. Numer. Anal. 61(3) (2023).

    Examples
    --------
    >>> import numpy as np
    >>> from koop.dictionaries import Custom
    >>> theta = np.linspace(0, 2 * np.pi, 64, endpoint=False)[:, None]
    >>> fourier = Custom(lambda X: np.hstack([np.cos(k * X) for k in range(4)]
    ...                                      + [np.sin(k * X) for k in range(1, 4)]))
    >>> model = MPEDMD(fourier).fit(theta, (theta + 0.3) % (2 * np.pi))
    >>> bool(np.allclose(np.abs(model.eigenvalues_), 1.0, atol=1e-14))
    True
    >>> np.round(np.sort(np.angle(model.eigenvalues_)), 10).tolist()
    [-0.9, -0.6, -0.3, 0.0, 0.3, 0.6, 0.9]
    """

    _unitary = True
    _stream_kind = "qr"  # partial_fit as ResDMD's (the same factor, the unitary solve)

    def spectral_measure_weights(self, observable: Any):
        r"""The atoms of the mpEDMD spectral measure of :math:`f = \Psi c`.

        :math:`\nu_f \approx \sum_j |\langle f, \phi_j\rangle|^2\,\delta_{\theta_j}`.

        Parameters
        ----------
        observable : array-like (M,) or int
            Dictionary coefficients, or the index of one dictionary function.

        Returns
        -------
        xarray.DataArray
            Weights over a ``mode`` dimension with coordinates ``theta`` (the angles) and
            ``eigenvalue``.
        """
        check_is_fitted(self, "factor_")
        import xarray as xr

        model = self.model_
        f = model.observable_coordinates(observable, model.pencil())
        w = np.abs(model.eigvecs.conj().T @ f) ** 2
        return xr.DataArray(
            w, dims=("mode",),
            coords={"theta": ("mode", np.angle(self.eigenvalues_)),
                    "eigenvalue": ("mode", self.eigenvalues_)},
            name="spectral_weight",
        )
