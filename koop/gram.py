r"""Gram matrices of a dictionary over snapshot pairs, streamed over chunks.

For pairs :math:`(x_m, y_m)` with quadrature weights :math:`w_m` (default :math:`1/N`),
and :math:`\Psi_X`, :math:`\Psi_Y` the dictionary evaluated on the :math:`x_m` and
:math:`y_m` (one row per pair),

.. math::
    G = \Psi_X^* W \Psi_X, \qquad A = \Psi_X^* W \Psi_Y, \qquad L = \Psi_Y^* W \Psi_Y,
    \qquad C = \Psi_X^* W X,

with :math:`W = \operatorname{diag}(w)`. :math:`G_{ij} \approx \langle\psi_j,\psi_i\rangle`,
:math:`A_{ij} \approx \langle K\psi_j,\psi_i\rangle`, :math:`L_{ij} \approx \langle
K\psi_j, K\psi_i\rangle` in :math:`L^2(\mu)`; :math:`C` maps the dictionary back to the
state (it is the cross-moment with the identity observable).

Backends: ``"numba"`` (default: chunked evaluation and BLAS accumulation, memory
independent of the number of samples), ``"numpy"`` (materialises :math:`\Psi_X,\Psi_Y`:
the plain reference), ``"dask"`` (chunks on a cluster) and ``"torch"`` (GPU).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from koop._backends.numba_backend import numba_sums
from koop._backends.numpy_backend import numpy_sums
from koop._backends.plan import GramPlan, RawSums, _check_fitted_dictionary, hermitian_part
from koop.data import Trajectories, as_trajectories

__all__ = ["GramMatrices", "build_gram", "build_gram_inputs", "iter_chunks", "BACKENDS"]

BACKENDS = ("numba", "numpy", "dask", "torch")


@dataclass(frozen=True)
class GramMatrices:
    r"""The Gram matrices :math:`G, A, L` (and :math:`C`) of a dictionary on data.

    Attributes
    ----------
    G : ndarray (M, M)
        :math:`\Psi_X^* W \Psi_X`.
    A : ndarray (M, M)
        :math:`\Psi_X^* W \Psi_Y`.
    L : ndarray (M, M)
        :math:`\Psi_Y^* W \Psi_Y`.
    C : ndarray (M, d)
        :math:`\Psi_X^* W X`, the cross-moment with the state.
    n_samples : int
        Number of snapshot pairs.
    weights_sum : float
        Sum of the (unnormalised) quadrature weights; 1 for the default weights 1/N.
    backend : str
        Backend that built the matrices.
    """

    G: np.ndarray
    A: np.ndarray
    L: np.ndarray
    C: np.ndarray
    n_samples: int
    weights_sum: float
    backend: str = "numpy"
    extras: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_features(self) -> int:
        """Dictionary size M."""
        return int(self.G.shape[0])

    def __repr__(self) -> str:
        return (
            f"GramMatrices(M={self.n_features}, n_samples={self.n_samples}, "
            f"weights_sum={self.weights_sum:.6g}, backend={self.backend!r})"
        )

    # -- merging and streaming (online learning) ----------------------------------------
    @property
    def uniform(self) -> bool:
        """True when built with the default weights :math:`1/N` (the matrices are means).

        :func:`build_gram` records this in ``extras["weights"]``; for matrices made
        elsewhere it is inferred from ``weights_sum == 1``.
        """
        tag = self.extras.get("weights")
        return tag == "uniform" if tag is not None else self.weights_sum == 1.0

    def scaled(self, factor: float) -> GramMatrices:
        r"""The same samples with every weight multiplied by ``factor``.

        :math:`G, A, L, C` and ``weights_sum`` are multiplied; the result holds explicit
        weights (it no longer renormalises when merged). Exponential forgetting of
        everything seen so far is ``gm.scaled(rho ** n_new)``.
        """
        factor = float(factor)
        if not np.isfinite(factor) or factor < 0:
            raise ValueError(f"factor must be finite and >= 0, got {factor}.")
        return _with_weights(GramMatrices(self.G * factor, self.A * factor, self.L * factor,
                                          self.C * factor, self.n_samples,
                                          self.weights_sum * factor, self.backend,
                                          dict(self.extras)),
                             "given")

    def mean(self) -> GramMatrices:
        r"""The weighted means :math:`G/\sum_m w_m` etc.: for unit weights what
        :func:`build_gram` gives with its default weights :math:`1/N`."""
        c = 1.0 / self.weights_sum
        return _with_weights(GramMatrices(self.G * c, self.A * c, self.L * c, self.C * c,
                                          self.n_samples, 1.0, self.backend,
                                          dict(self.extras)), "uniform")

    def as_sums(self) -> GramMatrices:

        r"""Plain sums :math:`\sum_m w_m \psi(x_m)\psi(x_m)^*`: uniform matrices (means)
        times ``n_samples`` (unit weights); matrices with explicit weights unchanged."""
        if not self.uniform:
            return self
        return self.scaled(self.n_samples)

    def __add__(self, other: object) -> GramMatrices:
        r"""Merge the Gram matrices of two disjoint sets of snapshot pairs.

        The result equals one :func:`build_gram` on the union of the pairs with the same
        kind of weights: two uniform (default-weight) builds give the mean over all
        :math:`N_1 + N_2` pairs, :math:`(N_1 G_1 + N_2 G_2)/(N_1 + N_2)`; two builds with
        explicit weights give the sums, :math:`G_1 + G_2` (weights concatenated). Shards
        built on different machines or files thus combine exactly (up to rounding).

        Raises
        ------
        ValueError
            When the dictionary sizes or state dimensions differ, or one build used the
            default weights and the other explicit ones.

        Examples
        --------
        >>> import numpy as np
        >>> from koop.dictionaries import Polynomial
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> d = Polynomial(degree=2).fit(X)
        >>> merged = build_gram(d, X[:40]) + build_gram(d, X[39:])
        >>> bool(np.allclose(merged.G, build_gram(d, X).G, rtol=1e-13, atol=0))
        True
        """
        if not isinstance(other, GramMatrices):
            return NotImplemented
        if self.G.shape != other.G.shape or self.C.shape != other.C.shape:
            raise ValueError(
                f"Cannot merge Gram matrices of different sizes (M={self.n_features}, "
                f"{self.C.shape[1]} state(s) vs M={other.n_features}, {other.C.shape[1]}); "
                "build both with the same fitted dictionary."
            )
        if self.extras.get("n_inputs") != other.extras.get("n_inputs"):
            raise ValueError(
                f"Cannot merge Gram matrices with {self.extras.get('n_inputs')} and "
                f"{other.extras.get('n_inputs')} input column(s)."
            )
        if self.uniform != other.uniform:
            raise ValueError(
                "Cannot merge a Gram built with the default weights 1/N (a mean) with one "
                "built with explicit weights (a sum): the union's weights are undefined. "
                "Build both the same way, or convert with .as_sums()."
            )
        backend = self.backend if self.backend == other.backend else "merged"
        if self.uniform:
            n1, n2 = self.n_samples, other.n_samples
            a, b = n1 / (n1 + n2), n2 / (n1 + n2)
            merged = GramMatrices(a * self.G + b * other.G, a * self.A + b * other.A,
                                  a * self.L + b * other.L, a * self.C + b * other.C,
                                  n1 + n2, 1.0, backend, dict(self.extras))
            return _with_weights(merged, "uniform")
        merged = GramMatrices(self.G + other.G, self.A + other.A, self.L + other.L,
                              self.C + other.C, self.n_samples + other.n_samples,
                              self.weights_sum + other.weights_sum, backend,
                              dict(self.extras))
        return _with_weights(merged, "given")

    def __radd__(self, other: object) -> GramMatrices:
        if isinstance(other, int) and other == 0:  # sum([g1, g2, ...]) starts from 0
            return self
        return NotImplemented


def iter_chunks(
    dictionary: Any, data: Trajectories, chunk_size: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, slice]]:
    r"""Yield ``(Psi_X, Psi_Y, X_state, pair_slice)`` chunk by chunk, psi evaluated once.

    For trajectories, each chunk evaluates the dictionary on consecutive samples once
    (plus one overlap row shared with the next chunk), and ``Psi_X``/``Psi_Y`` are views
    of the same block shifted by one row. ``pair_slice`` locates the chunk's pairs in the
    global pair order (trajectory by trajectory), for the weights. (The chunks of
    :meth:`koop._backends.plan.GramPlan.psi_chunks`.)
    """
    return GramPlan.build(dictionary, data).psi_chunks(chunk_size)


def build_gram(
    dictionary: Any,
    data: Any,
    weights: Any = None,
    chunk_size: int | None = None,
    backend: str = "numba",
    *,
    y: Any = None,
    dt: float | None = None,
    verbose: bool = False,
    device: Any = None,
) -> GramMatrices:
    r"""Build :math:`G, A, L` (and :math:`C`) for a fitted dictionary on snapshot data.

    Parameters
    ----------
    dictionary : Dictionary
        A fitted koop dictionary.
    data : array-like, list of arrays, xarray, or Trajectories
        One trajectory, several, or the ``X`` of snapshot pairs (with ``y``).
    weights : array-like, optional
        Non-negative quadrature weight per pair (default :math:`1/N` each). Weights are
        used as given (not normalised); ``weights_sum`` records their total.
    chunk_size : int, optional
        Samples per chunk. Default: about 1 MiB of dictionary values per chunk on the
        numba backend (real states; a chunk stays in cache between its evaluation and
        the BLAS products), about 16 MiB elsewhere (8 times that on a GPU).
    backend : {"numba", "numpy", "dask", "torch"}
        ``"numpy"`` materialises :math:`\Psi_X, \Psi_Y` (reference path).
    y : array-like, optional
        Successors of ``data`` row by row (snapshot pairs).
    dt : float, optional
        Sampling interval (recorded only).
    verbose : bool
        Show a progress bar.
    device : str or torch.device, optional
        ``backend="torch"`` only: where psi and the products run (default: ``"cuda"``
        when torch sees a GPU, else ``"cpu"``).

    Returns
    -------
    GramMatrices

    Examples
    --------
    >>> import numpy as np
    >>> from koop.dictionaries import Identity
    >>> x = np.arange(5.0)
    >>> gm = build_gram(Identity().fit(x), x)
    >>> float(gm.G[0, 0]), float(gm.A[0, 0]), float(gm.L[0, 0])
    (3.5, 5.0, 7.5)
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if device is not None and backend != "torch":
        raise ValueError(f"device applies to backend='torch' only, got backend={backend!r}.")
    lazy = backend == "dask"
    traj = as_trajectories(data, y, dt=dt, name="data", lazy=lazy)
    plan = GramPlan.build(dictionary, traj, weights, chunk_size, lazy_weights=lazy)
    if backend == "dask":
        from koop._backends.dask_backend import dask_sums

        sums = dask_sums(plan, verbose=verbose)
    elif backend == "torch":
        from koop._backends.torch_backend import torch_sums

        sums = torch_sums(plan, verbose=verbose, device=device)
    elif backend == "numba":
        sums = numba_sums(plan, verbose=verbose)
    else:
        sums = numpy_sums(plan, verbose=verbose)
    return _finish(plan, sums, backend)


def _finish(plan: GramPlan, sums: RawSums, backend: str) -> GramMatrices:
    """Normalise raw sums (by N for the default weights) and make G, L Hermitian."""
    G, A, L, C = sums.G, sums.A, sums.L, sums.C
    if plan.weights is None and not sums.normalised:
        n = plan.n_pairs
        G, A, L, C = G / n, A / n, L / n, C / n
    total = plan.weights_sum if sums.weights_sum is None else sums.weights_sum
    gm = _checked(GramMatrices(hermitian_part(G), A, hermitian_part(L), C, plan.n_pairs,
                               total, backend))
    return _with_weights(gm, "uniform" if plan.weights is None else "given")


def _checked(gm: GramMatrices) -> GramMatrices:
    """Refuse Gram matrices with inf or NaN (NaN in lazy data, or an overflowing psi)."""
    for key in ("G", "A", "L", "C"):
        if not np.isfinite(getattr(gm, key)).all():
            raise ValueError(
                f"The Gram matrix {key} contains inf or NaN: the data hold NaN or inf (lazy "
                "dask arrays are checked only here), or the dictionary values or their "
                "products overflow float64 (near 1e308). Remove or impute NaN/inf; rescale "
                "the data (e.g. standardise each feature) or use a smaller polynomial degree "
                "/ a wider RBF width."
            )
    return gm


def build_gram_inputs(
    dictionary: Any,
    data: Any,
    u: Any = None,
    weights: Any = None,
    chunk_size: int | None = None,
    backend: str = "numba",
    *,
    y: Any = None,
    dt: float | None = None,
    verbose: bool = False,
    device: Any = None,
) -> GramMatrices:
    r"""Gram matrices of the lifted state and the inputs, :math:`\phi = [\psi(x), u]`.

    With :math:`\Phi_X = [\Psi_X, U]` (one row per snapshot pair: the dictionary on
    :math:`x_m` and the input :math:`u_m` that drives the step :math:`x_m \to y_m`),
    the blocks of the result are

    .. math::
        G = \Phi_X^* W \Phi_X = \begin{pmatrix} \Psi_X^*W\Psi_X & \Psi_X^*WU \\
        U^*W\Psi_X & U^*WU \end{pmatrix}, \qquad
        A_{:, :M} = \Phi_X^* W \Psi_Y, \qquad L_{:M, :M} = \Psi_Y^* W \Psi_Y, \qquad
        C_{:, :d} = \Phi_X^* W X,

    everything a lifted linear predictor :math:`\psi(y) \approx \psi(x) K + u K_u` and its
    residuals need, accumulated in a single pass over the data with any backend: the
    dictionary is composed with a pass-through of the inputs
    (:class:`~koop.dictionaries.InputPassThrough`). The remaining blocks
    (:math:`A_{:, M:}`, :math:`L_{M:, :}`, :math:`C_{:, d:}`) pair the successors with
    the same inputs and mean nothing. ``extras["n_inputs"]`` records :math:`m`.

    Parameters
    ----------
    dictionary : Dictionary
        A fitted koop dictionary of the state.
    data : array-like, list, xarray, or ControlledTrajectories
        States, as for :func:`build_gram`.
    u : array-like, list, xarray, str or list of str
        Inputs (see :func:`koop.data.as_controlled_trajectories`); not needed when
        ``data`` is a ``ControlledTrajectories``.
    weights, chunk_size, backend, y, dt, verbose, device
        As for :func:`build_gram`.

    Returns
    -------
    GramMatrices
        Of size :math:`M + m`.

    Examples
    --------
    >>> import numpy as np
    >>> from koop.dictionaries import Identity
    >>> x = np.arange(4.0)
    >>> gm = build_gram_inputs(Identity().fit(x), x, u=[1.0, 1.0, 1.0])
    >>> gm.G.tolist()  # [x, u] over the pairs x = 0, 1, 2 with u = 1: means of x^2, x u, u^2
    [[1.6666666666666667, 1.0], [1.0, 1.0]]
    """
    from koop.data import ControlledTrajectories, as_controlled_trajectories
    from koop.dictionaries import InputPassThrough

    if isinstance(data, ControlledTrajectories):
        if u is not None or y is not None:
            raise ValueError("Pass u and y only with array input, not with "
                             "ControlledTrajectories.")
        controlled = data
    else:
        controlled = as_controlled_trajectories(data, y, u=u, dt=dt, name="data")
    _check_fitted_dictionary(dictionary, controlled.data)
    m = controlled.n_inputs

    composed = InputPassThrough(dictionary, n_inputs=m).fit(
        controlled.augmented().trajectories[0][: int(getattr(dictionary, "n_lags", 0)) + 1])
    gm = build_gram(composed, controlled.augmented(), weights=weights, chunk_size=chunk_size,
                    backend=backend, verbose=verbose, device=device)
    gm.extras["n_inputs"] = m
    return gm


def _with_weights(gm: GramMatrices, kind: str) -> GramMatrices:
    """Record how ``gm`` was weighted ("uniform": default 1/N; "given": explicit)."""
    gm.extras["weights"] = kind
    return gm
