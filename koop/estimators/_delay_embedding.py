r"""Hankel matrices of delay windows, their SVD without forming the Gram matrix, and the
finite-difference derivative of delay coordinates (shared by HankelDMD and HAVOK).

Row ``i`` of the Hankel matrix of a trajectory :math:`x_0, \dots, x_{n-1}` is the delay
window ending at sample ``i + q`` (newest first, the column order of
:class:`~koop.dictionaries.TimeDelay`):

.. math::
    H_{i,:} = (x_{i+q}, x_{i+q-1}, \dots, x_{i}) \in \mathbb{R}^{(q+1)d}.

It is a strided view of the data (:func:`numpy.lib.stride_tricks.sliding_window_view`);
blocks of rows are materialised one at a time, so memory does not grow with the series.
The SVD :math:`H = V\Sigma U^\top` (time series :math:`V`, delay modes :math:`U`, as in
Brunton et al. 2017 with the matrix transposed) is computed by a tall-skinny QR
(TSQR): :math:`R` of :math:`H = QR` is accumulated block by block, :math:`R = \tilde U
\Sigma U^\top`, and :math:`V = H U \Sigma^{-1}` in a second pass. Householder QR is
backward stable, so singular values and vectors are as accurate as a LAPACK SVD of
the full matrix; the Gram route :math:`H^\top H` would square the condition number
and lose every singular value below :math:`\sqrt{\varepsilon}\,\sigma_1`
(HAVOK's forcing on Lorenz-63 sits at :math:`\sigma_{15}/\sigma_1 \approx 10^{-13}`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import scipy.linalg

from koop._spectral.tsqr import householder_r
from koop.dictionaries import delay_windows

__all__ = ["hankel_view", "hankel_blocks", "hankel_svd", "hankel_pair_factor",
           "project_windows", "central_difference"]

_BLOCK_BYTES = 16 * 2**20


def hankel_view(x: np.ndarray, n_delays: int) -> np.ndarray:
    """Strided (read-only, no copy) view ``(n - q, q + 1, d)`` of the delay windows.

    ``view[i, lag, j]`` is ``x[i + q - lag, j]``: window ``i`` ends at sample ``i + q``
    (:func:`koop.dictionaries.delay_windows` with stride 1).
    """
    return delay_windows(x, n_delays)


def _block_rows(n_columns: int) -> int:
    return max(_BLOCK_BYTES // (8 * max(n_columns, 1)), 2 * n_columns, 64)


def hankel_blocks(
    trajectories: Sequence[np.ndarray],
    n_delays: int,
    *,
    stop: int = 0,
    overlap: int = 0,
    block_rows: int | None = None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(trajectory, first_row, block)`` with contiguous Hankel rows in float64.

    Rows ``0 .. n_windows - stop - 1`` of each trajectory are covered; each block carries
    ``overlap`` extra rows after its last one (for shifted pairs), never crossing a
    trajectory boundary.
    """
    for k, traj in enumerate(trajectories):
        view = hankel_view(traj, n_delays)
        n_rows = view.shape[0] - stop
        if n_rows <= 0:
            continue
        m = view.shape[1] * view.shape[2]
        step = block_rows or _block_rows(m)
        for s in range(0, n_rows, step):
            e = min(s + step, n_rows)
            block = np.ascontiguousarray(view[s : e + overlap],
                                         dtype=np.result_type(view.dtype, np.float64))
            yield k, s, block.reshape(block.shape[0], m)


def hankel_svd(
    trajectories: Sequence[np.ndarray], n_delays: int, *, stop: int = 0,
    block_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Singular values and delay modes of the stacked Hankel matrices by TSQR.

    Parameters
    ----------
    trajectories : sequence of ndarray (n_i, d)
    n_delays : int
        :math:`q`; windows have :math:`(q+1)d` entries.
    stop : int
        Leave out the last ``stop`` windows of every trajectory (1 for the ``X`` of
        snapshot pairs).

    Returns
    -------
    s : ndarray (m,)
        Singular values, descending (:math:`m = \min(\text{rows}, (q+1)d)`).
    U : ndarray ((q+1)d, m)
        Right singular vectors (delay modes), columns signed (or, for complex data,
        rotated) so that their entry of largest modulus is real and positive.
    """
    R = None
    for _, _, block in hankel_blocks(trajectories, n_delays, stop=stop,
                                     block_rows=block_rows):
        stacked = block if R is None else np.vstack([R, block])
        R = householder_r(stacked, square=False)
    if R is None:
        raise ValueError(
            f"No delay windows: every trajectory is shorter than {n_delays + 1 + stop} "
            "samples. Use fewer delays or longer trajectories."
        )
    _, s, Ut = scipy.linalg.svd(R, full_matrices=False, lapack_driver="gesdd")
    U = Ut.conj().T
    pivot = np.argmax(np.abs(U), axis=0)
    U = U * np.sign(U[pivot, np.arange(U.shape[1])]).conj()  # z/|z| for complex data
    return s, U


def hankel_pair_factor(
    trajectories: Sequence[np.ndarray], n_delays: int, weights: np.ndarray | None = None,
    *, block_rows: int | None = None,
) -> np.ndarray:
    r"""R of the rows :math:`\sqrt{w_i}\,[H_{i,:},\ x_{i+q+1}]` of every pair of windows.

    A snapshot pair of delay windows is :math:`(H_{i,:}, H_{i+1,:})`, and
    :math:`H_{i+1,:} = (x_{i+q+1}, H_{i,:-d})`: the window and the sample after it hold
    both. So the factor :math:`R` of these rows (width :math:`(q+2)d`, by TSQR over
    blocks, never across a trajectory boundary) gives, with :math:`X = \mathcal Q R_X`,
    :math:`R_X = R_{:, :m}` (:math:`m = (q+1)d`), :math:`X^*WX = R_X^*R_X` and
    :math:`X^*WY = R_X^*T`, :math:`T = (R_{:, m:},\ R_{:, :m-d})`: everything Hankel DMD
    needs, to the accuracy of a QR of the data. Factors of disjoint pairs merge by
    stacking (online learning).

    Parameters
    ----------
    trajectories : sequence of ndarray (n_i, d)
    n_delays : int
        :math:`q`.
    weights : ndarray, optional
        One per pair (trajectory by trajectory); default 1 each.

    Returns
    -------
    R : ndarray (min(n_pairs, (q+2)d), (q+2)d)
    """
    R = None
    starts = np.cumsum([0] + [max(np.asarray(t).shape[0] - n_delays - 1, 0)
                              for t in trajectories])
    for k, s, block in hankel_blocks(trajectories, n_delays, stop=1, block_rows=block_rows):
        traj = trajectories[k]
        rows, m = block.shape
        offset = 0 if R is None else R.shape[0]
        B = np.empty((offset + rows, m + traj.shape[1]), order="F",
                     dtype=np.result_type(block.dtype, 0.0 if R is None else R.dtype))
        if R is not None:
            B[:offset] = R
        B[offset:, :m] = block
        B[offset:, m:] = traj[s + n_delays + 1 : s + n_delays + 1 + rows]
        if weights is not None:
            first = starts[k] + s
            B[offset:] *= np.sqrt(weights[first : first + rows])[:, None]
        R = householder_r(B, square=False)
    if R is None:
        raise ValueError(
            f"No pair of delay windows: every trajectory is shorter than {n_delays + 2} "
            "samples. Use fewer delays or longer trajectories."
        )
    return R


def project_windows(

    trajectories: Sequence[np.ndarray], n_delays: int, basis: np.ndarray,
) -> list[np.ndarray]:
    """``H_k @ basis`` for each trajectory's Hankel matrix, computed block by block."""
    out = []
    for traj in trajectories:
        n_rows = max(np.asarray(traj).shape[0] - n_delays, 0)
        out.append(np.empty((n_rows, basis.shape[1]), dtype=np.result_type(basis, float)))
    for k, s, block in hankel_blocks(trajectories, n_delays):
        out[k][s : s + block.shape[0]] = block @ basis
    return out


def central_difference(v: np.ndarray, dt: float) -> np.ndarray:
    r"""Fourth-order central difference of each column, at the interior rows.

    .. math::
        \dot v_i \approx \frac{-v_{i+2} + 8 v_{i+1} - 8 v_{i-1} + v_{i-2}}{12\,\Delta t},
        \qquad i = 2, \dots, n-3,

    with truncation error :math:`-\Delta t^4 v^{(5)}/30` (the scheme of Brunton et al.
    2017). Returns ``n - 4`` rows; row ``k`` is the derivative at row ``k + 2`` of ``v``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(10) * 0.5
    >>> np.allclose(central_difference(t[:, None] ** 4, 0.5)[:, 0], 4 * t[2:-2] ** 3)
    True
    """
    v = np.asarray(v)
    return (v[:-4] - v[4:] + 8.0 * (v[3:-1] - v[1:-3])) / (12.0 * dt)
