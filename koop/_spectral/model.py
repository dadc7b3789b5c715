r"""The fitted Koopman model: one immutable object from which everything is derived.

Every koop estimator's solve ends in the same reduced form (see
:mod:`koop.estimators._solvers`): functions :math:`h(x) = \psi(x)Q` (``basis``), their
evolution :math:`h(x_{n+1}) \approx h(x_n)K_r` (``reduced``), the state
:math:`x \approx h(x)C_r` (``state_map``), and the Gram matrices or QR factor the solve
came from (``gram``, ``factor``). :class:`KoopmanModel` holds them and derives, in this
one place, the eigenpairs and modes, the Koopman matrix on dictionary coefficients,
predictions and simulations, and what validation needs: the residual source, the ResDMD
pencil, residuals, pseudospectra and spectral measures.

Estimators keep their scikit-learn shell and publish the model's arrays as fitted
attributes (``eigenvalues_``, ``modes_``, ...); ``estimator.model_`` returns the model,
and :mod:`koop.validation` takes any fitted estimator through it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.linalg

from koop._spectral.factor import (
    Pencil,
    QRFactor,
    build_factor,
    pencil_from_factor,
    pencil_in_basis,
)
from koop._spectral.labels import label_values, label_vectors, parse_points
from koop._spectral.measure import observable_vector, resolvent_measure
from koop._spectral.pseudospectrum import smallest_residuals
from koop._spectral.residual import residuals_from_factor, residuals_from_gram
from koop.data import as_trajectories

__all__ = ["KoopmanModel", "as_koopman_model", "spectral_decomposition"]


def spectral_decomposition(reduced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (sorted by modulus, descending; conjugate pairs positive imaginary part
    first) and right eigenvectors of the reduced matrix."""
    lam, V = scipy.linalg.eig(reduced)
    order = np.lexsort((-lam.imag, -np.abs(lam).round(13)))
    return lam[order].astype(np.complex128), V[:, order].astype(np.complex128)


@dataclass(frozen=True, eq=False)
class KoopmanModel:
    r"""A fitted Koopman model: :math:`h = \psi Q` evolves as :math:`h \mapsto hK_r`.

    Build one with :meth:`from_reduced` (which derives the spectrum); estimators return
    theirs as ``estimator.model_``.

    Attributes
    ----------
    dictionary : fitted Dictionary
        :math:`\psi`.
    basis : ndarray (M, r)
        :math:`Q`.
    reduced : ndarray (r, r)
        :math:`K_r`.
    state_map : ndarray (r, d)
        :math:`C_r`.
    eigenvalues : ndarray of complex (r,)
        Of :math:`K_r`, sorted by modulus (descending) unless the estimator chose another
        order.
    eigvecs : ndarray of complex (r, r)
        Right eigenvectors :math:`W` of :math:`K_r` (:math:`K_rW = W\Lambda`).
    modes : ndarray of complex (d, r)
        Koopman modes :math:`\Xi` with :math:`W\Xi^\top = C_r`: :math:`x \approx \sum_j
        \phi_j(x)\xi_j`.
    eigenvectors : ndarray of complex (M, r)
        Dictionary coefficients :math:`g_j = Qw_j` of the eigenfunctions.
    dt : float or None
    gram : GramMatrices or None
        :math:`G, A, L, C` of the training data.
    factor : QRFactor or None
        The streamed QR factor of :math:`\sqrt W[\Psi_X, \Psi_Y, X]`, when the solve used
        it (ResDMD): residuals and pencils then come from it at full precision.
    rcond, rank
        The truncation used for pencils on new data (see :meth:`pencil`).
    fitted_pencil : Pencil or None
        The pencil the solve itself used (ResDMD), returned by :meth:`pencil`.
    name : str
        The estimator's class name (for messages).
    reduction : fitted POD or None
        A linear reduction :math:`z = U^*x` applied to the state before the dictionary
        (a field's POD coordinates, see :meth:`lifted`): the dictionary, ``basis``,
        ``gram``, ``factor`` and the pencil live on :math:`z`; ``state_map`` and ``modes``
        on the full state :math:`x`. Residuals on new data reduce it first
        (:meth:`data_on`), so no :math:`d`-column factor is ever formed.

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> from koop.estimators import EDMD
    >>> X = systems.linear([[0.9, 0.0], [0.0, 0.5]], 30, x0=[1.0, 1.0])
    >>> model = EDMD().fit(X).model_
    >>> np.round(model.eigenvalues.real, 12).tolist(), model.residual_source
    ([0.9, 0.5], 'Gram quadratic form')
    >>> np.round(model.koopman_matrix(), 12) + 0.0  # K = G^{-1}A: here the map's transpose
    array([[0.9, 0. ],
           [0. , 0.5]])
    """

    dictionary: Any
    basis: np.ndarray
    reduced: np.ndarray
    state_map: np.ndarray
    eigenvalues: np.ndarray
    eigvecs: np.ndarray
    modes: np.ndarray
    eigenvectors: np.ndarray
    dt: float | None = None
    gram: Any = None
    factor: QRFactor | None = None
    rcond: float | None = None
    rank: int | None = None
    fitted_pencil: Pencil | None = None
    name: str = "model"
    reduction: Any = None

    @classmethod
    def from_reduced(cls, dictionary: Any, basis: np.ndarray, reduced: np.ndarray,
                     state_map: np.ndarray, *, dt: float | None = None,
                     eig: tuple[np.ndarray, np.ndarray] | None = None,
                     unitary: bool = False, modes: np.ndarray | None = None,
                     **source: Any) -> KoopmanModel:
        r"""The model of a solve: the spectrum and the modes are derived here, once.

        Parameters
        ----------
        dictionary, basis, reduced, state_map, dt
            See the attributes.
        eig : (eigenvalues, eigenvectors), optional
            A decomposition of ``reduced`` the solve computed itself (mpEDMD's unitary
            one); default :func:`spectral_decomposition`.
        unitary : bool
            The eigenvectors are orthonormal: the modes are :math:`W^*C_r`.
        modes : ndarray (d, r), optional
            Modes the solve computed itself (exact DMD modes, which differ from the
            projected :math:`W^{-1}C_r`); their columns follow ``eig``.
        **source
            ``gram``, ``factor``, ``rcond``, ``rank``, ``fitted_pencil``, ``name``.
        """
        basis, reduced, state_map = (np.asarray(a) for a in (basis, reduced, state_map))
        lam, V = spectral_decomposition(reduced) if eig is None else eig
        if modes is not None:
            modes = np.asarray(modes).T
        elif unitary:
            modes = V.conj().T @ state_map
        else:
            try:
                modes = np.linalg.solve(V, state_map)
            except np.linalg.LinAlgError:
                modes = np.linalg.lstsq(V, state_map, rcond=None)[0]
        modes = np.ascontiguousarray(modes.T.astype(np.complex128))
        return cls(dictionary, basis, reduced, state_map, lam, V, modes, basis @ V, dt,
                   **source)

    def lifted(self, reduction: Any, modes: np.ndarray | None = None) -> KoopmanModel:
        r"""The model of a solve on reduced coordinates :math:`z = U^*x`, mapped back to
        the full state: :math:`C_r \mapsto C_rU^\top` (rows: :math:`x \approx zU^\top`)
        and :math:`\xi_j \mapsto U\xi_j`, or the given full-state ``modes`` (exact DMD
        modes, which need not lie in the span of :math:`U`).

        Examples
        --------
        >>> import numpy as np
        >>> from koop.dictionaries import POD
        >>> U = np.linalg.qr(np.random.default_rng(0).normal(size=(50, 2)))[0]
        >>> pod = POD.from_basis(U, np.ones(2))
        >>> m = KoopmanModel.from_reduced(None, np.eye(2), np.diag([0.9, 0.5]), np.eye(2))
        >>> big = m.lifted(pod)
        >>> big.state_map.shape, bool(np.allclose(big.modes, U @ m.modes))
        ((2, 50), True)
        """
        U = np.asarray(reduction.components_)
        state_map = self.state_map @ U.T
        modes = U @ self.modes if modes is None else np.asarray(modes, dtype=np.complex128)
        return replace(self, state_map=state_map, modes=np.ascontiguousarray(modes),
                       reduction=reduction)

    # -- the spectrum ---------------------------------------------------------------------
    @property
    def continuous_eigenvalues(self) -> np.ndarray | None:
        r""":math:`\log(\lambda_j)/\Delta t` (None without ``dt``)."""
        if self.dt is None:
            return None
        with np.errstate(divide="ignore"):
            return np.log(self.eigenvalues.astype(np.complex128)) / self.dt

    def reordered(self, order: np.ndarray) -> KoopmanModel:
        """The same model with its eigenpairs (and modes) in the given order."""
        return replace(self, eigenvalues=self.eigenvalues[order],
                       eigvecs=self.eigvecs[:, order], modes=self.modes[:, order],
                       eigenvectors=self.eigenvectors[:, order])

    def koopman_matrix(self) -> np.ndarray:
        r"""The Koopman matrix on dictionary coefficients, :math:`K = QK_rQ^+` (M x M).

        A function :math:`g = \Psi c` maps to :math:`Kg \approx \Psi(Kc)`. :math:`Q^+` is
        the :math:`L^2(\mu)`-orthogonal left inverse :math:`(Q^*GQ)^{-1}Q^*G` of the
        basis (the Euclidean :math:`Q^+` when the model keeps no Gram matrix), so that
        :math:`K` acts as :math:`K_r` on the retained span and as zero on its complement
        in :math:`L^2(\mu)`; with an invertible :math:`G` and nothing truncated it is
        EDMD's :math:`G^{-1}A`.
        """
        Q = self.basis
        G = self._gram_matrix()
        if G is None:
            return Q @ self.reduced @ np.linalg.pinv(Q)
        QG = Q.conj().T @ G
        return Q @ self.reduced @ np.linalg.solve(QG @ Q, QG)

    def _gram_matrix(self) -> np.ndarray | None:
        if self.gram is not None:
            return np.asarray(self.gram.G)
        if self.factor is not None:
            return self.factor.gram()[0]
        return None

    # -- predictions ----------------------------------------------------------------------
    def real_if_real(self, Z: np.ndarray) -> np.ndarray:
        """``Z.real`` when the model is real (a real :math:`K_r` and :math:`C_r`)."""
        if np.iscomplexobj(Z) and not (
            np.iscomplexobj(self.reduced) or np.iscomplexobj(self.state_map)
        ):
            return Z.real
        return Z

    def lift(self, psi: np.ndarray) -> np.ndarray:
        r""":math:`h = \psi Q` for dictionary values ``psi`` (rows)."""
        return psi @ self.basis

    def eigenfunctions(self, psi: np.ndarray) -> np.ndarray:
        r""":math:`\phi_j = \psi Q w_j` for dictionary values ``psi`` (rows)."""
        return self.lift(psi) @ self.eigvecs

    def predict(self, psi: np.ndarray) -> np.ndarray:
        r"""One-step states :math:`\psi Q K_r C_r` for dictionary values ``psi`` (rows)."""
        return self.real_if_real(self.lift(psi) @ self.reduced @ self.state_map)

    def simulate(self, h: np.ndarray, n_steps: int) -> np.ndarray:
        r"""States :math:`x_k = hK_r^kC_r`, :math:`k = 1..n`, from lifted ``h`` (r,)."""
        return self.simulate_batch(np.asarray(h)[None, :], n_steps)[0]

    def simulate_batch(self, H: np.ndarray, n_steps: int) -> np.ndarray:
        r"""Runs :math:`x^{(i)}_k = h_i K_r^k C_r` from many lifted starts ``H`` (n, r) at
        once (one matrix product per step); shape (n, n_steps, n_features)."""
        K, Cr = self.reduced, self.state_map
        out = np.empty((H.shape[0], n_steps, Cr.shape[1]), dtype=np.result_type(H, K, Cr))
        for k in range(n_steps):
            H = H @ K
            out[:, k] = H @ Cr
        return self.real_if_real(out)

    # -- validation -----------------------------------------------------------------------
    @property
    def residual_source(self) -> str | None:
        """Where residuals come from: ``"QR factor"``, ``"Gram quadratic form"`` or None."""
        if self.factor is not None:
            return "QR factor"
        if self.gram is not None:
            return "Gram quadratic form"
        return None

    def _require_source(self) -> None:
        """Residuals and pencils need the Gram matrices or the QR factor of the fit."""
        if self.residual_source is None:
            raise TypeError(f"{self.name} keeps neither factor_ nor gram_; cannot compute "
                            "residuals.")

    def data_on(self, X: Any, y: Any = None):
        """Validated data ``X`` [, ``y``] in the coordinates the dictionary acts on: the
        state itself, or its reduced coordinates :math:`z = U^*x` (a field's POD
        coordinates, streamed for arrays on disk)."""
        reduced = self.reduction is not None
        data = as_trajectories(X, y, name="X", min_pairs=1, allow_complex=True, lazy=reduced)
        return self.reduction.reduce(data) if reduced else data

    def factor_on(self, X: Any, y: Any = None, weights: Any = None,
                  verbose: bool = False) -> QRFactor:
        r"""The QR factor of the model's dictionary on (independent) data ``X`` [, ``y``]
        (:math:`\sqrt W[\Psi_X, \Psi_Y, Z]` with :math:`Z` the reduced coordinates for
        a reduced model, never the :math:`d` columns of a field)."""
        return build_factor(self.dictionary, self.data_on(X, y), weights=weights,
                            verbose=verbose)

    def pencil(self, X: Any = None, y: Any = None, weights: Any = None) -> Pencil:
        r"""The ResDMD pencil (an orthonormal basis, :math:`K`, :math:`L_h`, :math:`R_c`).

        With ``X``: from the QR factor of the dictionary on that data, truncated with
        ``rcond`` and ``rank``. Without: the pencil the fit used (ResDMD), else the one of
        the training QR factor, else the one of the Gram matrices on the span the fit
        retained (:func:`~koop._spectral.factor.pencil_in_basis`).
        """
        self._require_source()
        if X is not None:
            return pencil_from_factor(self.factor_on(X, y, weights), rcond=self.rcond,
                                      rank=self.rank)
        if self.fitted_pencil is not None:
            return self.fitted_pencil
        if self.factor is not None:
            return pencil_from_factor(self.factor, rcond=self.rcond, rank=self.rank)
        g = self.gram
        return pencil_in_basis(self.basis, g.G, g.A, g.L, g.C, rcond=self.rcond,
                               rank=self.rank)

    def residuals(self, X: Any = None, y: Any = None, weights: Any = None) -> np.ndarray:
        r""":math:`\|\Psi_Yg_j - \lambda_j\Psi_Xg_j\|_W / \|\Psi_Xg_j\|_W` per eigenpair
        (see :func:`koop.validation.residuals`)."""
        self._require_source()
        lam, V = self.eigenvalues, self.eigenvectors
        if X is not None:
            return residuals_from_factor(self.factor_on(X, y, weights), lam, V)
        if self.factor is not None:
            return residuals_from_factor(self.factor, lam, V)
        g = self.gram
        return residuals_from_gram(g.G, g.A, g.L, lam, V)

    def observable_coordinates(self, observable: Any, pencil: Pencil, X: Any = None,
                               y: Any = None) -> np.ndarray:
        r"""Coordinates :math:`Q_p^*Gc` of :math:`f = \Psi c` in the pencil's orthonormal
        basis :math:`Q_p` (``observable``: coefficients :math:`c` or one index); :math:`G`
        on ``X`` when given."""
        c = observable_vector(observable, pencil.basis.shape[0])
        G = self.factor_on(X, y).gram()[0] if X is not None else self._gram_matrix()
        return pencil.basis.conj().T @ (G @ c)

    def spectral_measure(self, observable: Any, theta: np.ndarray, epsilon: float,
                         order: int, X: Any = None, y: Any = None) -> np.ndarray:
        r"""The smoothed spectral measure :math:`\nu_f^\varepsilon(\theta)` of
        :math:`f = \Psi c` by the resolvent method (values at ``theta``)."""
        pencil = self.pencil(X, y)
        f = self.observable_coordinates(observable, pencil, X, y)
        return resolvent_measure(pencil.K, f, theta, float(epsilon), int(order))

    def pseudospectrum(self, points_or_grid: Any, *, X: Any = None, y: Any = None,
                       weights: Any = None, vectors: bool = False, method: str = "cholesky",
                       n_jobs: int | None = None, verbose: bool = False, device: Any = None):
        r""":math:`\tau(z)` at points or on a grid, labelled (see
        :func:`koop.validation.pseudospectrum`)."""
        pencil = self.pencil(X, y, weights)
        z, layout = parse_points(points_or_grid)
        tau, g = smallest_residuals(pencil, z, method=method, vectors=vectors,
                                    n_jobs=n_jobs, verbose=verbose, device=device)
        attrs = {"long_name": "min residual tau(z)", "method": method,
                 "source": pencil.source, "independent_data": X is not None}
        out = label_values(tau, layout, "tau", attrs)
        if vectors:
            return out, label_vectors(g, layout, "pseudoeigenfunction", attrs)
        return out


def as_koopman_model(model: Any) -> KoopmanModel:
    """The :class:`KoopmanModel` of a fitted estimator (or the model itself).

    Raises
    ------
    TypeError
        Unless ``model`` is a fitted koop estimator or a KoopmanModel.
    """
    if isinstance(model, KoopmanModel):
        return model
    km = getattr(model, "model_", None)
    if not isinstance(km, KoopmanModel):
        raise TypeError(
            f"{type(model).__name__} is not a fitted EDMD-family model; fit an EDMD, "
            "ResDMD, KernelEDMD or HankelDMD first."
        )
    return km
