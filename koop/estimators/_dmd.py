"""Dynamic mode decomposition on snapshots of any width, by a streamed tall-skinny QR."""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from koop._params import RANK, Interval, StrOptions
from koop.base import KoopmanEstimator
from koop.data import as_trajectories, is_dask_array
from koop.dictionaries import Identity
from koop.estimators._snapshots import METHODS, snapshot_dmd
from koop.gram import GramMatrices

__all__ = ["DMD"]

def snapshot_rows(data) -> tuple[list, np.ndarray, np.ndarray]:
    """The snapshot matrix of validated data as row blocks, and the rows of X and Y."""
    parts, ix, iy = [], [], []
    offset = 0
    if data.is_pairs:
        parts = list(data.trajectories) + list(data.successors)
        n_x = sum(int(t.shape[0]) for t in data.trajectories)
        ix = np.arange(n_x)
        iy = np.arange(n_x, 2 * n_x)
        return parts, ix, iy
    for t in data.trajectories:
        n = int(t.shape[0])
        if n >= 2:
            parts.append(t)
            ix.append(offset + np.arange(n - 1))
            iy.append(offset + np.arange(1, n))
            offset += n
    return parts, np.concatenate(ix), np.concatenate(iy)


class DMD(KoopmanEstimator):
    r"""Dynamic mode decomposition: exact, forward-backward or total least squares.

    Snapshots :math:`x_m \mapsto y_m` (rows; one trajectory gives consecutive pairs) and
    :math:`X^\top = U\Sigma V^*` truncated to rank :math:`r`. Exact DMD (Schmid 2010; Tu
    et al. 2014) is :math:`\tilde A = U^* Y^\top V\Sigma^{-1}`, the best-fit linear map
    :math:`y\approx Ax` projected on the POD modes :math:`U`; eigenpairs
    :math:`\tilde Aw = \lambda w` give the exact DMD modes
    :math:`\xi = Y^\top V\Sigma^{-1}w/\lambda` (``modes_``). ``method="fb"``
    (forward-backward, Dawson et al. 2016) and ``method="tls"`` (total least squares,
    Hemati et al. 2017) remove the bias that noise in the snapshots puts on exact DMD
    (eigenvalues pulled toward the origin, i.e. spurious damping); their formulas are in
    :mod:`koop.estimators._snapshots`.

    No :math:`d\times d` matrix is formed, whatever the number of features :math:`d`: the
    snapshot matrix is factored by a tall-skinny QR streamed over blocks of features
    (exact: the condition number is not squared), every DMD variant is solved on the
    small triangular factor, and the :math:`d`-long vectors (POD basis, modes) come from
    one more pass over the data for the kept rank only. Memory is the data (or nothing,
    for a dask/zarr array on disk) plus one block (``block_bytes``) plus
    :math:`O(n^2 + rd)`. With few features the same code runs in one block.

    The model is EDMD with the identity dictionary on the POD coordinates
    :math:`z = U^*x`: ``reduction_`` is a fitted :class:`~koop.dictionaries.POD`,
    ``dictionary_`` the identity on :math:`z`, ``reduced_matrix_`` is
    :math:`\tilde A^\top` (rows evolve, :math:`z_{n+1} = z_n\tilde A^\top`) and
    ``state_map_`` is :math:`U^\top`. ``gram_`` holds :math:`G, A, L, C` of the POD
    coordinates (:math:`r\times r`), and :func:`koop.validation.residuals` on new data
    reduces them first, so residuals on a field never form a :math:`d`-column matrix.

    Parameters
    ----------
    rank : int, float, "optimal" or None
        Truncation: an integer rank (at most the number of snapshot pairs); a float in
        (0, 1), the smallest rank capturing that fraction of :math:`\sum\sigma_i^2`;
        ``"optimal"``, Gavish & Donoho's optimal hard threshold
        :math:`\omega(\beta)\sigma_{\mathrm{med}}`; None, the numerical rank.
    method : {"exact", "fb", "tls"}, default="exact"
        Exact DMD, forward-backward DMD or total-least-squares DMD. ``fb`` and ``tls``
        give projected modes :math:`Uw` (``fb``) or exact modes of the denoised pairs
        (``tls``).
    block_bytes : int, optional
        Memory budget of one block of features (default 64 MiB).

    Attributes
    ----------
    eigenvalues_, modes_, eigenvectors_, continuous_eigenvalues_
        See :class:`~koop.base.KoopmanEstimator`.
    amplitudes_ : ndarray of complex (rank_,)
        :math:`b` with :math:`x_0 \approx \sum_j b_j\xi_j` (least squares, first snapshot).
    singular_values_ : ndarray
        All singular values of :math:`X`.
    rank_ : int
        The rank used.
    mode_coefficients_ : ndarray of complex (n_snapshots, rank_)
        ``modes_`` :math:`= S^\top C` for the training snapshot matrix :math:`S` (rows as
        passed to ``fit``); :meth:`write_modes` recomputes the modes from it on disk.
    koopman_matrix_ : ndarray (rank_, rank_)
        The Koopman matrix on the dictionary (POD) coordinates, :math:`\tilde A^\top`
        (:math:`=G^{-1}A` of ``gram_`` for exact DMD); the :math:`d\times d`
        state-space matrix :math:`U\tilde AU^*` is never formed.
    reduction_ : POD
        The POD basis :math:`U` (``reduction_.components_``, :math:`d\times r`).
    gram_ : GramMatrices
        :math:`G, A, L, C` (:math:`r\times r`) of the POD coordinates, weights
        :math:`1/N`.
    field_ : FieldLayout
        For a labelled field: its grid and mask (modes and predictions come back on it).

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> X = systems.linear(np.array([[0.9, 0.2], [0.0, 0.5]]), 50, x0=[1.0, 1.0])
    >>> np.round(DMD().fit(X).eigenvalues_.real, 10).tolist()
    [0.9, 0.5]

    A field with many more values than snapshots (no d x d matrix is formed):

    >>> t = np.arange(200) * 0.1
    >>> grid = np.linspace(0, 1, 50_000)
    >>> F = np.outer(np.cos(2 * t), np.sin(3 * grid)) + np.outer(np.sin(2 * t), grid)
    >>> model = DMD(rank=2).fit(F, dt=0.1)
    >>> np.round(model.frequencies_ * 2 * np.pi, 6).tolist()
    [2.0, -2.0]
    """

    _accepts_complex = True
    _parameter_constraints: ClassVar[dict] = {
        "rank": RANK,
        "method": [StrOptions(set(METHODS))],
        "block_bytes": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, rank: int | float | str | None = None, method: str = "exact",
                 block_bytes: int | None = None) -> None:
        self.rank = rank
        self.method = method
        self.block_bytes = block_bytes

    def fit(self, X: Any, y: Any = None, *, dt: float | None = None) -> DMD:
        """Fit DMD on trajectories or snapshot pairs.

        Parameters
        ----------
        X : array-like, list of arrays, xarray, or dask/zarr-backed array
            Snapshots in rows, real or complex. A dask array (e.g.
            ``dask.array.from_zarr``) is streamed block by block, never loaded whole.
        y : array-like, optional
            Successors of X row by row.
        dt : float, optional

        Returns
        -------
        self
        """
        from koop._spectral.tsqr import BLOCK_BYTES, SnapshotSource, right_products, snapshot_factor
        from koop.dictionaries import POD

        data = self._start_fit(X, y, dt, lazy=True)
        parts, ix, iy = snapshot_rows(data)
        if np.dtype(data.dtype).kind == "c":
            parts = [p.astype(np.complex128) for p in parts]
        n_pairs, d = len(ix), data.n_features
        if isinstance(self.rank, Integral) and self.rank > min(n_pairs, d):
            raise ValueError(
                f"rank={self.rank} exceeds min(n_pairs, n_features) = "
                f"{min(n_pairs, d)} ({n_pairs} snapshot pairs, {d} features); DMD "
                "cannot resolve more modes than that. Lower the rank or pass more "
                "snapshots."
            )
        source = SnapshotSource(parts, self.block_bytes or BLOCK_BYTES)
        R = snapshot_factor(source)
        sol = snapshot_dmd(R, ix, iy, rank=self.rank, method=self.method, n_features=d)
        r = sol.rank
        # one more pass: the POD basis U and the modes
        if np.dtype(source.dtype).kind != "c":  # real data: U real; one real GEMM
            m = sol.mode_coefs
            both = right_products(source, np.hstack([sol.pod_coefs.real, m.real, m.imag]))
            U = both[:, :r].copy()
            modes = both[:, r:2 * r] + 1j * both[:, 2 * r:]
        else:
            both = right_products(source, np.hstack([sol.pod_coefs, sol.mode_coefs]))
            U, modes = both[:, :r].copy(), both[:, r:]
        del both
        if d <= source.n_rows:  # R = S^T (Q = I): U straight from the SVD, orthonormal
            U = np.ascontiguousarray(sol.left.astype(U.dtype, copy=False))
        self.reduction_ = POD.from_basis(U, sol.singular_values)
        self.dictionary_ = Identity().fit(np.zeros((1, r), dtype=U.dtype))
        self.singular_values_ = sol.singular_values
        self.rank_ = r
        # exact DMD is EDMD with the identity on the POD coordinates z = U^* x; the model
        # is lifted to the state (state map U^T) and carries the exact modes
        self._set_reduced_model(np.eye(r, dtype=U.dtype), sol.atilde.T,
                                np.eye(r, dtype=U.dtype), data.dt, modes=modes)
        self.mode_coefficients_ = sol.mode_coefs
        x0 = parts[0][0]
        x0 = np.asarray(x0.compute() if is_dask_array(x0) else x0)
        self.amplitudes_ = np.linalg.lstsq(self.modes_, x0.astype(np.complex128),
                                           rcond=None)[0]
        w = 1.0 / n_pairs
        Px, Py = sol.x_coords, sol.y_coords
        G = w * Px.conj().T @ Px
        self.gram_ = GramMatrices(
            G=G, A=w * Px.conj().T @ Py, L=w * Py.conj().T @ Py, C=G.copy(),
            n_samples=n_pairs, weights_sum=1.0, backend="tsqr",
        )
        return self

    def write_modes(self, X: Any, out: Any, y: Any = None) -> Any:
        """Recompute ``modes_`` from the training data into ``out``, block by block.

        For a field whose modes do not fit in memory: ``out`` is a zarr array (or a
        memmap) of shape ``(n_features_in_, rank_)``, complex; ``X`` (and ``y``) are the
        data passed to ``fit``, e.g. the same ``dask.array.from_zarr`` array.

        Returns
        -------
        ``out``
        """
        from koop._spectral.tsqr import BLOCK_BYTES, SnapshotSource, right_products

        check_is_fitted(self, "mode_coefficients_")
        data = as_trajectories(X, y, name="X", min_pairs=2, lazy=True, allow_complex=True)
        parts, _, _ = snapshot_rows(data)
        source = SnapshotSource(parts, self.block_bytes or BLOCK_BYTES)
        if (source.n_rows, source.n_features) != (self.mode_coefficients_.shape[0],
                                                  self.n_features_in_):
            raise ValueError(
                f"X has {source.n_rows} snapshots of {source.n_features} features; the "
                f"model was fitted on {self.mode_coefficients_.shape[0]} of "
                f"{self.n_features_in_}. Pass the data given to fit."
            )
        if tuple(out.shape) != (self.n_features_in_, self.rank_):
            raise ValueError(f"out has shape {tuple(out.shape)}; expected "
                             f"{(self.n_features_in_, self.rank_)}.")
        return right_products(source, self.mode_coefficients_, out=out)

    def reconstruct_field(self, n_steps: int):
        """:meth:`reconstruct` on the grid of the field seen in ``fit`` (an xarray
        DataArray ``(time, *spatial)``, time in steps of ``dt``, masked points NaN).

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> t = np.arange(30) * 0.1
        >>> v = np.cos(2 * t)[:, None, None] * np.ones((1, 3, 4))
        >>> v = v + np.sin(2 * t)[:, None, None] * np.arange(12.0).reshape(1, 3, 4)
        >>> da = xr.DataArray(v, dims=("time", "y", "x"), coords={"time": t})
        >>> DMD(rank=2).fit(da).reconstruct_field(5).dims
        ('time', 'y', 'x')
        """
        from koop._fields import unflatten

        check_is_fitted(self, "field_")
        values = self.reconstruct(n_steps)
        coords = {"time": np.arange(n_steps) * (self.dt_ if self.dt_ is not None else 1.0)}
        return unflatten(values, self.field_, ("time",), coords)

    @property
    def frequencies_(self) -> np.ndarray:
        r"""Oscillation frequencies :math:`\operatorname{Im}(\log\lambda_j)/(2\pi\Delta t)`,
        in cycles per unit of time (Hz when ``dt`` is in seconds); needs ``dt``."""
        return self._continuous("frequencies_").imag / (2 * np.pi)

    @property
    def growth_rates_(self) -> np.ndarray:
        r"""Growth rates :math:`\operatorname{Re}(\log\lambda_j)/\Delta t` per unit of time
        (negative: decay); needs ``dt``."""
        return self._continuous("growth_rates_").real

    def _continuous(self, name: str) -> np.ndarray:
        check_is_fitted(self, "reduced_matrix_")
        if getattr(self, "dt_", None) is None:
            raise AttributeError(f"{name} needs the sampling interval: fit with dt=... (or "
                                 "an xarray time coordinate).")
        return self.continuous_eigenvalues_

    def reconstruct(self, n_steps: int) -> np.ndarray:
        r"""The DMD reconstruction :math:`x_k = \sum_j b_j\lambda_j^k\xi_j`, :math:`k =
        0, \dots, n_\text{steps}-1`, from ``amplitudes_`` (the first training snapshot).

        Parameters
        ----------
        n_steps : int
            Number of snapshots to rebuild.

        Returns
        -------
        ndarray (n_steps, n_features_in_)
        """
        check_is_fitted(self, "amplitudes_")
        if isinstance(n_steps, bool) or not isinstance(n_steps, Integral) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
        powers = self.eigenvalues_[None, :] ** np.arange(n_steps)[:, None]
        out = (powers * self.amplitudes_) @ self.modes_.T
        return self.model_.real_if_real(out)
