"""Dynamic mode decomposition on snapshots of any width, by a streamed tall-skinny QR."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from koop._params import RANK, Interval, StrOptions
from koop._reduction import MAX_UNREDUCED_FEATURES
from koop.base import KoopmanEstimator
from koop.data import as_trajectories, is_dask_array
from koop.dictionaries import Identity
from koop.estimators._online import FORGETTING_FACTOR, OnlineMixin, StreamState
from koop.estimators._rsums import RSums, pair_rows
from koop.estimators._snapshots import METHODS, snapshot_dmd
from koop.gram import GramMatrices

__all__ = ["DMD", "SnapshotStream"]


def _trimmed(Q: np.ndarray, B: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    r"""New directions ``Q`` (orthonormal) with their rows ``B``, without those the data
    do not reach: :math:`QB = (QW)(\Sigma V^*)` for the SVD :math:`B = W\Sigma V^*`, keeping
    :math:`\sigma > \varepsilon\,` ``scale`` (``scale`` :math:`\ge \|S\|_F`). The dropped
    part is below rounding of the data, and below the numerical-rank cutoff
    :math:`\max(N, d)\,\varepsilon\sigma_1` of :func:`~koop._spectral.truncation.select_rank`,
    so DMD is unchanged; ``Q`` then grows with the rank of the data, not their count."""
    if B.size == 0:
        return Q, B
    W, sig, Vh = np.linalg.svd(B, full_matrices=False)
    keep = sig > np.finfo(float).eps * scale
    return Q @ W[:, keep], sig[keep, None] * Vh[keep]


@dataclass(frozen=True)
class SnapshotStream:
    r"""The online statistic of DMD on a field: every snapshot seen, factored.

    :math:`S^\top = QR` for the snapshots (columns of :math:`S^\top`) with :math:`Q`
    (:math:`d\times k`) orthonormal and :math:`R` (:math:`k\times n`); the pairs are the
    columns ``ix`` (the :math:`x_m`) and ``iy`` (the :math:`y_m`) with weights ``w``.
    New snapshots :math:`B` are added by projecting them on :math:`Q` (classical
    Gram-Schmidt, twice) and factoring the rest: :math:`O(dkb)` work for :math:`b`
    snapshots. Directions the data do not reach (below rounding of :math:`\|S\|_F`) are
    dropped, so :math:`k` is the numerical rank of the snapshots, at most :math:`n`:
    memory :math:`O(dk)`, at most about the data's. DMD is then solved on
    :math:`R` alone (:func:`koop.estimators._snapshots.snapshot_dmd`, :math:`O(n^3)`),
    and the :math:`d`-long vectors are :math:`Q` times small matrices.
    """

    Q: np.ndarray
    R: np.ndarray
    ix: np.ndarray
    iy: np.ndarray
    w: np.ndarray
    n_samples: int
    weights_sum: float

    @staticmethod
    def of(data, weights: np.ndarray | None = None) -> SnapshotStream:
        """The stream of one batch (trajectories or pairs, :func:`snapshot_rows`)."""
        parts, ix, iy = snapshot_rows(data)
        S = np.vstack([np.asarray(p) for p in parts])
        S = S.astype(np.result_type(S.dtype, np.float64), copy=False)
        Q, R = _trimmed(*np.linalg.qr(S.T), np.linalg.norm(S))
        w = np.ones(len(ix)) if weights is None else np.asarray(weights, dtype=np.float64)
        return SnapshotStream(Q, R, ix, iy, w, len(ix), float(w.sum()))

    def as_sums(self) -> SnapshotStream:
        return self

    def scaled(self, factor: float) -> SnapshotStream:
        """Every pair weight multiplied by ``factor`` (forgetting)."""
        f = float(factor)
        return SnapshotStream(self.Q, self.R, self.ix, self.iy, self.w * f, self.n_samples,
                              self.weights_sum * f)

    def __add__(self, other: object) -> SnapshotStream:
        if not isinstance(other, SnapshotStream):
            return NotImplemented
        Q1, R1, Q2, R2 = self.Q, self.R, other.Q, other.R
        if Q1.shape[0] != Q2.shape[0]:
            raise ValueError(f"Cannot merge snapshots of {Q1.shape[0]} and {Q2.shape[0]} "
                             "features.")
        dtype = np.result_type(Q1, Q2, R1, R2)
        n1, d = R1.shape[1], Q1.shape[0]
        C = Q1.conj().T @ Q2
        E = Q2 - Q1 @ C
        C2 = Q1.conj().T @ E  # the second Gram-Schmidt pass keeps Q orthonormal to eps
        E -= Q1 @ C2
        C += C2
        if Q1.shape[1] + Q2.shape[1] <= d:
            Qe, Re = np.linalg.qr(E)
            # E may be tiny (snapshots already in the span): orthogonalise its basis once
            # more, so that Q stays orthonormal to rounding
            C3 = Q1.conj().T @ Qe
            Qe -= Q1 @ C3
            Qe, Rq = np.linalg.qr(Qe)
            C, Re = C + C3 @ Re, Rq @ Re
            top = np.hstack([R1, C @ R2])
            scale = np.sqrt(np.linalg.norm(top) ** 2 + np.linalg.norm(Re @ R2) ** 2)
            Qe, B = _trimmed(Qe, Re @ R2, scale)
            Q = np.hstack([Q1, Qe]).astype(dtype, copy=False)
            bottom = np.hstack([np.zeros((B.shape[0], n1), dtype=dtype), B])
            R = np.vstack([top, bottom])
        else:  # the span is the whole space: refactor [Q1, E] (d x (k1 + k2))
            Q, T = np.linalg.qr(np.hstack([Q1, E]))
            R = T @ np.vstack([np.hstack([R1, C @ R2]),
                               np.hstack([np.zeros((E.shape[1], n1), dtype=dtype), R2])])
        return SnapshotStream(Q, R, np.concatenate([self.ix, other.ix + n1]),
                              np.concatenate([self.iy, other.iy + n1]),
                              np.concatenate([self.w, other.w]),
                              self.n_samples + other.n_samples,
                              self.weights_sum + other.weights_sum)

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


class DMD(OnlineMixin, KoopmanEstimator):
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
    forgetting_factor : float in (0, 1], optional
        Exponential forgetting for :meth:`partial_fit` (see
        :mod:`koop.estimators._online`); ``fit`` weighs its data uniformly.

    Notes
    -----
    **Online learning** (:meth:`partial_fit`, :meth:`merge`; the rules of
    :mod:`koop.estimators._online`). Every DMD variant depends on the pairs only through
    :math:`X^*X, X^*Y, Y^*Y` up to a common unitary acting on the samples: for the pair
    rows :math:`M = [X, Y]` (one row :math:`[x_m, y_m]` per pair) with :math:`M = QR`,
    the rows of :math:`R_x = R_{:, :d}` and :math:`R_y = R_{:, d:}` are *compressed
    pairs* with :math:`X = QR_x`, :math:`Y = QR_y`, and DMD of the compressed pairs is
    DMD of all pairs (the same :math:`\tilde A`, eigenvalues, modes up to a phase per
    mode, singular values; the rank rules see the true number of pairs). The stream
    keeps :math:`R` (:class:`~koop.estimators._rsums.RSums`, ``statistics_``): new
    pairs are stacked under it and re-factored, shards merge by stacking, forgetting
    scales it. :math:`R` has :math:`\min(N, 2d)` rows of :math:`2d` values: :math:`O(d^2)`
    memory with few features; a wide :math:`R` (:math:`N < 2d`) is updated in
    :math:`O(bNd)` for :math:`b` new pairs (:func:`~koop.estimators._rsums.stack_r`), but
    each solve then costs :math:`O(N^2 d)`. Beyond 10 000 features (a field) the stream
    keeps every snapshot factored instead, :math:`S^\top = QR`
    (:class:`SnapshotStream`): :math:`b` new snapshots cost :math:`O(Nbd)` (projected on
    :math:`Q`), the solve :math:`O(N^3)` on :math:`R` plus :math:`O(Nrd)` for the modes,
    and memory is :math:`O(Nd)`, about the data's. ``fit`` keeps the pair factor only
    when :math:`d \le N` and :math:`d \le 10\,000` (it is then small); after ``fit`` on
    a field a ``partial_fit`` is refused: start the stream with ``partial_fit``
    instead. After ``partial_fit``, ``amplitudes_`` fit the first snapshot ever seen
    (``initial_snapshot_``) and ``mode_coefficients_`` is absent (the compressed pairs
    are not the data: :meth:`write_modes` needs a ``fit``).

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
    initial_snapshot_ : ndarray (n_features_in_,)
        The first training snapshot (the one ``amplitudes_`` fit).
    statistics_ : RSums or SnapshotStream
        What :meth:`partial_fit` updates and :meth:`merge` adds (see Notes).

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

    The same field arriving in batches (each continues the trajectory):

    >>> stream = DMD(rank=2)
    >>> for start in (0, 100):
    ...     _ = stream.partial_fit(F[start : start + 100], dt=0.1)
    >>> bool(np.allclose(np.sort_complex(stream.eigenvalues_),
    ...                  np.sort_complex(model.eigenvalues_), atol=1e-10))
    True
    """

    _accepts_complex = True
    _parameter_constraints: ClassVar[dict] = {
        "rank": RANK,
        "method": [StrOptions(set(METHODS))],
        "block_bytes": [None, Interval(Integral, 1, None, closed="left")],
        "forgetting_factor": FORGETTING_FACTOR,
    }
    # online learning: the R factor of the pair rows [x, y] (koop.estimators._online)
    _stream_kind = "qr"

    def __init__(self, rank: int | float | str | None = None, method: str = "exact",
                 block_bytes: int | None = None,
                 forgetting_factor: float | None = None) -> None:
        self.rank = rank
        self.method = method
        self.block_bytes = block_bytes
        self.forgetting_factor = forgetting_factor

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
        data = self._start_fit(X, y, dt, lazy=True)
        parts, ix, iy = snapshot_rows(data)
        if np.dtype(data.dtype).kind == "c":
            parts = [p.astype(np.complex128) for p in parts]
        x0 = parts[0][0]
        self._solve_snapshots(parts, ix, iy, len(ix), 1.0 / len(ix), 1.0, data.dt,
                              np.asarray(x0.compute() if is_dask_array(x0) else x0))
        # the online statistic (pair rows' R factor), kept when small: d <= N
        sums = None
        if data.n_features <= min(len(ix), MAX_UNREDUCED_FEATURES) and not any(
                is_dask_array(p) for p in parts):
            sums = RSums.of(pair_rows(data))
        self.stream_ = StreamState(sums, True)
        return self

    def _solve_snapshots(self, parts: list, ix: np.ndarray, iy: np.ndarray, n_pairs: int,
                         scale: float, weights_sum: float, dt: float | None,
                         x0: np.ndarray, stream: SnapshotStream | None = None) -> None:
        """DMD of the snapshot rows ``parts`` with pairs ``(ix, iy)`` (``n_pairs`` for the
        rank rules; ``gram_`` is ``scale`` times the sums over the pairs), or of a
        :class:`SnapshotStream` (``parts`` unused: its weighted pairs, factored)."""
        from koop._spectral.tsqr import BLOCK_BYTES, SnapshotSource, right_products, snapshot_factor
        from koop.dictionaries import POD

        d = int(parts[0].shape[1]) if stream is None else int(stream.Q.shape[0])
        if isinstance(self.rank, Integral) and self.rank > min(n_pairs, d):
            raise ValueError(
                f"rank={self.rank} exceeds min(n_pairs, n_features) = "
                f"{min(n_pairs, d)} ({n_pairs} snapshot pairs, {d} features); DMD "
                "cannot resolve more modes than that. Lower the rank or pass more "
                "snapshots."
            )
        if stream is not None:  # S^T = Q Rp for the weighted pairs: no pass over data
            sq = np.sqrt(stream.w)
            Rp = np.hstack([stream.R[:, stream.ix] * sq, stream.R[:, stream.iy] * sq])
            N = len(stream.ix)
            sol = snapshot_dmd(Rp, np.arange(N), np.arange(N, 2 * N), rank=self.rank,
                               method=self.method, n_features=d, n_pairs=n_pairs)
            U = stream.Q @ sol.left  # U = Q U_R: orthonormal
            M = Rp @ sol.mode_coefs
            if np.iscomplexobj(stream.Q):
                modes = stream.Q @ M
            else:  # real Q: two real products, no complex copy of Q
                modes = stream.Q @ M.real + 1j * (stream.Q @ M.imag)
            source = None
        else:
            source = SnapshotSource(parts, self.block_bytes or BLOCK_BYTES)
            R = snapshot_factor(source)
            sol = snapshot_dmd(R, ix, iy, rank=self.rank, method=self.method, n_features=d,
                               n_pairs=n_pairs)
        r = sol.rank
        # one more pass: the POD basis U and the modes
        if source is None:
            pass
        elif np.dtype(source.dtype).kind != "c":  # real data: U real; one real GEMM
            m = sol.mode_coefs
            both = right_products(source, np.hstack([sol.pod_coefs.real, m.real, m.imag]))
            U = both[:, :r].copy()
            modes = both[:, r:2 * r] + 1j * both[:, 2 * r:]
        else:
            both = right_products(source, np.hstack([sol.pod_coefs, sol.mode_coefs]))
            U, modes = both[:, :r].copy(), both[:, r:]
        if source is not None:
            del both
        if source is not None and d <= source.n_rows:  # R = S^T (Q = I): U from the SVD
            U = np.ascontiguousarray(sol.left.astype(U.dtype, copy=False))
        self.reduction_ = POD.from_basis(U, sol.singular_values)
        self.singular_values_ = sol.singular_values
        self.rank_ = r
        atilde, coefs = sol.atilde, sol.mode_coefs
        if r == 0:  # all-zero snapshots: one zero mode, eigenvalue 0 (predicts zeros)
            U = np.zeros((d, 1), dtype=U.dtype)
            U[0] = 1.0
            self.reduction_ = POD.from_basis(U, sol.singular_values)
            atilde, modes = np.zeros((1, 1), dtype=U.dtype), np.zeros((d, 1), complex)
            coefs = np.zeros((coefs.shape[0], 1), dtype=complex)
        k = atilde.shape[0]
        self.dictionary_ = Identity().fit(np.zeros((1, k), dtype=U.dtype))
        # exact DMD is EDMD with the identity on the POD coordinates z = U^* x; the model
        # is lifted to the state (state map U^T) and carries the exact modes
        self._set_reduced_model(np.eye(k, dtype=U.dtype), atilde.T,
                                np.eye(k, dtype=U.dtype), dt, modes=modes)
        self.mode_coefficients_ = coefs
        self.initial_snapshot_ = np.asarray(x0)
        self.amplitudes_ = np.linalg.lstsq(self.modes_, x0.astype(np.complex128),
                                           rcond=None)[0]
        Px, Py = sol.x_coords, sol.y_coords
        if r == 0:
            Px = Py = np.zeros((Px.shape[0], 1), dtype=U.dtype)
        G = scale * Px.conj().T @ Px
        self.gram_ = GramMatrices(
            G=G, A=scale * Px.conj().T @ Py, L=scale * Py.conj().T @ Py, C=G.copy(),
            n_samples=n_pairs, weights_sum=weights_sum, backend="tsqr",
        )

    # -- the hooks of partial_fit and merge (koop.estimators._online) --------------------
    def _validate_batch(self, X, y, u, dt, fitted):
        data = as_trajectories(X, y, dt=dt, name="X", min_pairs=0, allow_complex=True)
        layout = self.__dict__.get("field_") if fitted else None
        if fitted and data.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {data.n_features} feature(s), but the model was fitted with "
                f"{self.n_features_in_}; every partial_fit batch needs the same columns "
                "(a field: the same grid and mask)."
            )
        if fitted and layout is not None and data.layout is not None and not (
                data.layout.dims == layout.dims and data.layout.shape == layout.shape
                and np.array_equal(data.layout.valid, layout.valid)):
            raise ValueError("This batch is a field on another grid or with another mask "
                             f"({data.layout.dims} {data.layout.shape}) than the first "
                             f"({layout.dims} {layout.shape}); pass the same field.")
        if not fitted:
            if data.layout is not None:
                self.field_ = data.layout
            else:
                self.__dict__.pop("field_", None)
        return data

    def _fit_dictionary(self, data) -> Identity:
        # a placeholder until the first solve (then the identity on the POD coordinates)
        x = np.asarray(data.trajectories[0][:1])
        self.initial_snapshot_ = x[0].copy()
        return Identity().fit(x)

    def _fit_sums(self, uniform: bool) -> RSums:
        raise ValueError(
            f"DMD.fit on a field ({self.n_features_in_} features, more than its "
            f"{self.gram_.n_samples} snapshot pairs) keeps no online statistic: the R factor "
            "of the pairs would be as large as the data. Start the stream with "
            "partial_fit instead (DMD().partial_fit(X1).partial_fit(X2) equals a fit on "
            "all the data, in memory O(N d)), or refit on all the data."
        )

    def _batch_sums(self, data, weights) -> RSums | SnapshotStream:
        if self.n_features_in_ > MAX_UNREDUCED_FEATURES:  # a field: every snapshot, factored
            return SnapshotStream.of(data, weights)
        return RSums.of(pair_rows(data), weights)

    def _solve_sums(self, sums: RSums | SnapshotStream, uniform: bool,
                    dt: float | None) -> None:
        scale = 1.0 / sums.weights_sum if uniform else 1.0
        if isinstance(sums, SnapshotStream):
            self._solve_snapshots([], sums.ix, sums.iy, sums.n_samples, scale,
                                  1.0 if uniform else sums.weights_sum, dt,
                                  self.initial_snapshot_, stream=sums)
            self.__dict__.pop("mode_coefficients_", None)
            return
        R = sums.R
        d = self.n_features_in_
        k = R.shape[0]
        scale = 1.0 / sums.weights_sum if uniform else 1.0
        x0 = self.initial_snapshot_
        self._solve_snapshots([R[:, :d], R[:, d:]], np.arange(k), np.arange(k, 2 * k),
                              sums.n_samples, scale, 1.0 if uniform else sums.weights_sum,
                              dt, x0)
        self.__dict__.pop("mode_coefficients_", None)  # the compressed pairs are not data

    def merge(self, other: Any) -> DMD:
        """Add the data of another DMD fitted on another shard: equal to one ``fit`` on
        both shards as separate trajectories (see :class:`OnlineMixin.merge
        <koop.estimators._online.OnlineMixin>`).

        Parameters
        ----------
        other : DMD
            Fitted with the same parameters on data with the same features.

        Returns
        -------
        self
        """
        check_is_fitted(self, "reduced_matrix_")
        check_is_fitted(other, "reduced_matrix_")
        if type(other) is not type(self):
            raise TypeError(f"Cannot merge a {type(other).__name__} into a DMD.")
        if self.get_params() != other.get_params() or (
                self.n_features_in_ != other.n_features_in_):
            raise ValueError("Both models must have the same parameters and number of "
                             "features to merge.")
        mine = self._stream()
        sums = mine.sums + other._stream().sums
        self.stream_ = StreamState(sums, mine.uniform)
        self._solve_sums(sums, mine.uniform, self.__dict__.get("dt_"))
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

        check_is_fitted(self, "reduced_matrix_")
        if "mode_coefficients_" not in self.__dict__:
            raise ValueError("write_modes needs a model from fit: after partial_fit or merge "
                             "the modes are in memory (modes_), and the compressed pairs "
                             "they come from are not the data. Refit to stream them to disk.")
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
