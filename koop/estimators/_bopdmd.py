r"""Optimized DMD by variable projection, with bagging (BOP-DMD)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import scipy.optimize
from sklearn.utils.validation import check_is_fitted

from koop._params import RANK, Interval
from koop._spectral.truncation import select_rank
from koop.base import KoopmanEstimator
from koop.data import as_trajectories
from koop.dictionaries import Identity

__all__ = ["BOPDMD", "optdmd"]


def _exp_matrix(alpha: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.exp(np.outer(t, alpha))


def optdmd(t: np.ndarray, Z: np.ndarray, alpha0: np.ndarray, *, max_nfev: int = 200,
           tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Optimized DMD (Askham & Kutz 2018): :math:`\min_{\alpha,B}\|Z - \Phi(\alpha)B\|_F`.

    :math:`\Phi(\alpha)_{ij} = e^{\alpha_j t_i}` for samples at any times :math:`t_i`.
    Variable projection eliminates :math:`B = \Phi^+Z`: the residual is
    :math:`r(\alpha) = P^\perp_\Phi Z`, minimised over the real and imaginary parts of
    :math:`\alpha` by Levenberg-Marquardt (MINPACK) with the Golub-Pereyra Jacobian
    :math:`\partial r = -(P^\perp\,\partial\Phi\,B + (\Phi^+)^*\,\partial\Phi^*\,r)`.

    Parameters
    ----------
    t : ndarray (N,)
        Sample times (any spacing, increasing).
    Z : ndarray (N, r)
        Samples in rows (e.g. POD coordinates of a field).
    alpha0 : ndarray of complex (k,)
        Initial continuous-time eigenvalues.

    Returns
    -------
    alpha : ndarray of complex (k,)
    B : ndarray (k, r)
        Amplitudes: :math:`Z \approx \Phi(\alpha)B`.
    rel_residual : float
        :math:`\|Z - \Phi B\|_F/\|Z\|_F`.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.sort(np.random.default_rng(0).uniform(0, 10, 80))  # irregular times
    >>> Z = np.column_stack([np.exp(-0.1 * t) * np.cos(2 * t), np.exp(-0.1 * t) * np.sin(2 * t)])
    >>> alpha, B, res = optdmd(t, Z, np.array([-0.3 + 1.8j, -0.3 - 1.8j]))
    >>> np.round(np.sort_complex(alpha), 8).tolist()
    [(-0.1-2j), (-0.1+2j)]
    """
    t = np.asarray(t, dtype=np.float64)
    Z = np.asarray(Z)
    Zc = Z.astype(np.complex128)
    k = alpha0.size
    N = t.size

    def split(theta):
        return theta[:k] + 1j * theta[k:]

    def solve(alpha):
        Phi = _exp_matrix(alpha, t)
        Q, Rp = np.linalg.qr(Phi)
        B = scipy.linalg.solve_triangular(Rp, Q.conj().T @ Zc) if np.all(
            np.abs(np.diag(Rp)) > 0) else np.linalg.lstsq(Phi, Zc, rcond=None)[0]
        return Phi, Q, Rp, B

    def residual(theta):
        Phi, _, _, B = solve(split(theta))
        r = Zc - Phi @ B
        return np.concatenate([r.real.ravel(), r.imag.ravel()])

    def jacobian(theta):
        alpha = split(theta)
        Phi, Q, Rp, B = solve(alpha)
        r = Zc - Phi @ B
        pinv_star = Q @ np.linalg.inv(Rp).conj().T  # (Phi^+)^*, N x k
        J = np.empty((2 * N * Z.shape[1], 2 * k))
        for j in range(k):
            dphi = t * Phi[:, j]
            perp = dphi - Q @ (Q.conj().T @ dphi)
            for c, col in ((1.0, j), (1j, k + j)):
                d = -(np.outer(c * perp, B[j]) + np.outer(pinv_star[:, j],
                                                          np.conj(c) * (dphi.conj() @ r)))
                J[:, col] = np.concatenate([d.real.ravel(), d.imag.ravel()])
        return J

    theta0 = np.concatenate([alpha0.real, alpha0.imag])
    if N * Z.shape[1] < k:
        raise ValueError(f"optdmd needs at least {k} values to fit {k} eigenvalues.")
    sol = scipy.optimize.least_squares(residual, theta0, jac=jacobian, method="lm",
                                       xtol=tol, ftol=tol, gtol=tol, max_nfev=max_nfev)
    alpha = split(sol.x)
    _, _, _, B = solve(alpha)
    rel = float(np.linalg.norm(Zc - _exp_matrix(alpha, t) @ B) / max(np.linalg.norm(Zc),
                                                                      1e-300))
    return alpha, B, rel


def _trapezoid_guess(t: np.ndarray, Z: np.ndarray, k: int) -> np.ndarray:
    """Eigenvalues of the linear ODE fitted by the trapezoidal rule (any spacing)."""
    h = np.diff(t)[:, None]
    dZ = (Z[1:] - Z[:-1]) / h
    Zm = (Z[1:] + Z[:-1]) / 2
    A = np.linalg.lstsq(Zm, dZ, rcond=None)[0]
    return np.linalg.eigvals(A)[:k].astype(np.complex128)


class BOPDMD(KoopmanEstimator):
    r"""Optimized DMD with bagging (Askham & Kutz 2018; Sashidhar & Kutz 2022).

    Fits :math:`x(t) \approx \sum_j b_j e^{\alpha_j t}\xi_j` to snapshots at *any* times
    :math:`t_i` by variable projection (:func:`optdmd`) on the rank-``rank`` POD
    coordinates of the snapshots (streamed TSQR, no :math:`d\times d` matrix). Optimized
    DMD treats all snapshots alike, so measurement noise does not bias the eigenvalues
    toward damping as it does for exact DMD. Bagging refits ``n_bags`` times on random
    subsets of ``bag_fraction`` of the snapshots (started from the full fit) and reports
    the mean and the standard deviation of each eigenvalue over the bags.

    Parameters
    ----------
    rank : int, float, "optimal" or None
        Number of eigenvalues (= POD rank); as for :class:`~koop.estimators.DMD`.
    n_bags : int, default=50
        Bagging trials; 0 gives plain optimized DMD (no standard deviations).
    bag_fraction : float in (0, 1], default=0.6
        Fraction of the snapshots in each bag.
    random_state : int, Generator or None
    block_bytes : int, optional
        Memory budget of one block of features (default 64 MiB).

    Attributes
    ----------
    eigenvalues_, continuous_eigenvalues_, modes_, amplitudes_
        Of the optimized-DMD fit on all snapshots: :math:`\alpha_j`
        (``continuous_eigenvalues_``), :math:`e^{\alpha_j\Delta t}` (``dt_``: the
        median sample spacing), modes :math:`\xi_j` (unit norm) and amplitudes
        :math:`b_j`; the bags only give the standard deviations.
    continuous_eigenvalues_std_ : ndarray of complex
        Standard deviation over the bags of :math:`\operatorname{Re}\alpha_j` (real part)
        and of :math:`\operatorname{Im}\alpha_j` (imaginary part).
    eigenvalues_std_ : ndarray of complex
        The same for the discrete eigenvalues.
    times_ : ndarray
        The sample times used.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.sort(np.random.default_rng(1).uniform(0, 20, 150))
    >>> x = np.linspace(0, 1, 400)
    >>> F = np.outer(np.cos(2 * t), np.sin(3 * x)) + np.outer(np.sin(2 * t), x)
    >>> model = BOPDMD(rank=2, n_bags=10, random_state=0).fit(F, t=t)
    >>> np.round(np.sort(model.continuous_eigenvalues_.imag), 6).tolist()
    [-2.0, 2.0]
    """

    _parameter_constraints: ClassVar[dict] = {
        "rank": RANK,
        "n_bags": [Interval(Integral, 0, None, closed="left")],
        "bag_fraction": [Interval(Real, 0, 1, closed="right")],
        "random_state": ["random_state"],
        "block_bytes": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, rank: int | float | str | None = None, n_bags: int = 50,
                 bag_fraction: float = 0.6, random_state: Any = None,
                 block_bytes: int | None = None) -> None:
        self.rank = rank
        self.n_bags = n_bags
        self.bag_fraction = bag_fraction
        self.random_state = random_state
        self.block_bytes = block_bytes

    def fit(self, X: Any, y: Any = None, *, dt: float | None = None,
            t: Any = None) -> BOPDMD:
        """Fit optimized DMD (and the bags) to snapshots at times ``t``.

        Parameters
        ----------
        X : array-like (n_samples, n_features), xarray (a non-uniform ``time``
            coordinate gives ``t``) or dask array; one trajectory, real or complex.
        y : None
            Snapshot pairs are not used by optimized DMD.
        dt : float, optional
            Uniform spacing (``t = dt * arange(n)``) when ``t`` is not given.
        t : array-like (n_samples,), optional
            Increasing sample times, any spacing.

        Returns
        -------
        self
        """
        from koop._spectral.tsqr import BLOCK_BYTES, SnapshotSource, right_products, snapshot_factor
        from koop.dictionaries import POD

        self._validate_params()
        if y is not None:
            raise ValueError("BOPDMD fits one trajectory at sample times t; pass y=None.")
        if t is None and hasattr(X, "dims") and "time" in getattr(X, "coords", {}):
            tc = np.asarray(X["time"].values)
            if np.issubdtype(tc.dtype, np.number):
                t = tc
                X = X.drop_vars("time")
        data = as_trajectories(X, dt=dt if t is None else None, name="X", min_pairs=2,
                               lazy=True, allow_complex=True)
        if data.n_trajectories != 1:
            raise ValueError("BOPDMD fits one trajectory; pass a single array.")
        S = data.trajectories[0]
        n = S.shape[0]
        if t is None:
            t = np.arange(n) * (dt if dt is not None else 1.0)
        t = np.asarray(t, dtype=np.float64).ravel()
        if t.shape != (n,) or not np.isfinite(t).all():
            raise ValueError(f"t must hold {n} finite times (one per snapshot), got shape "
                             f"{t.shape}.")
        if not (np.diff(t) > 0).all():
            raise ValueError("t must increase strictly (sort the snapshots by time).")
        kind = np.dtype(S.dtype)
        if kind.kind == "c":
            S = S.astype(np.complex128)
        elif kind not in (np.float32, np.float64):  # float16, ints: LAPACK needs float
            S = S.astype(np.float64)
        source = SnapshotSource([S], self.block_bytes or BLOCK_BYTES)
        R = snapshot_factor(source)
        _, s, Vh = np.linalg.svd(R, full_matrices=False)
        r = select_rank(s, self.rank, S.shape)
        if isinstance(self.rank, Integral) and self.rank > min(S.shape):
            raise ValueError(f"rank={self.rank} exceeds min(n_samples, n_features) = "
                             f"{min(S.shape)}.")
        V = Vh[:r].conj().T
        Z = V.conj() * s[:r]  # POD coordinates of the snapshots, rows
        U = right_products(source, V / s[:r])
        if np.dtype(source.dtype).kind != "c":
            U = U.real
        step = float(np.median(np.diff(t)))
        alpha0 = _trapezoid_guess(t, Z, r)
        alpha, B, rel = optdmd(t, Z, alpha0)
        rng = np.random.default_rng(self.random_state) if not isinstance(
            self.random_state, np.random.RandomState) else np.random.default_rng(
            self.random_state.randint(2**31))
        bags = []
        n_bag = max(round(self.bag_fraction * n), r + 1)
        for _ in range(self.n_bags):
            idx = np.sort(rng.choice(n, size=min(n_bag, n), replace=False))
            a_k, _, _ = optdmd(t[idx], Z[idx], alpha)
            bags.append(a_k)
        if bags:
            bags = np.array(bags)
            std = bags.real.std(axis=0, ddof=1) + 1j * bags.imag.std(axis=0, ddof=1)
            lam_bags = np.exp(bags * step)
            lam_std = lam_bags.real.std(axis=0, ddof=1) + 1j * lam_bags.imag.std(axis=0, ddof=1)
        else:
            std, lam_std = None, None
        # the linear model in POD coordinates: z(t + dt) = z(t) B^+ diag(e^{alpha dt}) B
        lam = np.exp(alpha * step)
        reduced = np.linalg.pinv(B) @ (lam[:, None] * B)
        real_data = np.dtype(source.dtype).kind != "c"
        self.n_features_in_ = int(S.shape[1])
        self._set_feature_names(data)
        if data.layout is not None:
            self.field_ = data.layout
        elif "field_" in self.__dict__:
            del self.field_
        self.reduction_ = POD.from_basis(U, s)
        self.dictionary_ = Identity().fit(np.zeros((1, r), dtype=U.dtype))
        # real data: conjugate pairs make the reduced map real (up to the fit's rounding);
        # the model on the POD coordinates is lifted to the state (state map U^T)
        self._set_reduced_model(np.eye(r), reduced.real if real_data else reduced,
                                np.eye(r), step)
        # align the bagged statistics and modes with the base's eigenvalue order
        order = scipy.optimize.linear_sum_assignment(
            np.abs(self.eigenvalues_[:, None] - lam[None, :]))[1]
        self.eigenvalues_ = lam[order]
        self.continuous_eigenvalues_ = alpha[order]
        modes = (B @ U.T).T  # d x r
        amps = np.linalg.norm(modes, axis=0)
        self.modes_ = (modes / np.where(amps > 0, amps, 1.0))[:, order].astype(np.complex128)
        self.amplitudes_ = amps[order].astype(np.complex128)
        if std is not None:
            self.continuous_eigenvalues_std_ = std[order]
            self.eigenvalues_std_ = lam_std[order]
        else:
            for name in ("continuous_eigenvalues_std_", "eigenvalues_std_"):
                self.__dict__.pop(name, None)
        self.times_ = t
        self.rank_ = r
        self.relative_residual_ = rel
        return self

    def reconstruct(self, t: Any) -> np.ndarray:
        r""":math:`x(t) = \sum_j b_j e^{\alpha_j t}\xi_j` at any times ``t``.

        Parameters
        ----------
        t : array-like (n,)

        Returns
        -------
        ndarray (n, n_features_in_)
        """
        check_is_fitted(self, "amplitudes_")
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        out = (np.exp(np.outer(t, self.continuous_eigenvalues_)) * self.amplitudes_) @ \
            self.modes_.T
        return self.model_.real_if_real(out)
