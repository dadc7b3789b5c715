r"""Fused Gram sums of a polynomial dictionary: psi never leaves the cache.

For monomials :math:`\psi_i(x) = x^{\alpha_i}` (``exponents[i] = alpha_i``) and pairs
:math:`(x_m, y_m)` with weights :math:`w_m` (1 each when not given),

.. math::
    G_{ij} = \sum_m w_m\, x_m^{\alpha_i + \alpha_j}, \quad
    A_{ij} = \sum_m w_m\, x_m^{\alpha_i} y_m^{\alpha_j}, \quad
    L_{ij} = \sum_m w_m\, y_m^{\alpha_i + \alpha_j}, \quad
    C_{ij} = \sum_m w_m\, x_m^{\alpha_i + e_j}.

:math:`G`, :math:`L` and :math:`C` depend on :math:`\alpha_i + \alpha_j` only: for all
monomials of degree :math:`\le p` in :math:`d` variables they hold
:math:`\binom{d + 2p}{d}` distinct sums instead of :math:`M(M+1)/2` products (286 instead
of 1596 for :math:`d = 3, p = 5`). :math:`A` has no such structure (every pair
:math:`(\alpha_i, \alpha_j)` is distinct) and stays a matrix product.

The kernel cuts the samples into blocks of ``_LANES`` samples and, per block, (1)
evaluates the monomials lane-major (row ``r`` of a small buffer holds one monomial on
the block's samples, one multiplication per value from a lower monomial), (2) adds each
distinct sum :math:`\gamma` as the dot product of the two monomial rows of one
representative pair :math:`(a, c)` with :math:`\alpha_a + \alpha_c = \gamma` (chosen so
that few rows ``a`` serve many sums, which are then added four at a time), and (3) adds
:math:`A` by one dgemm on a row-major copy of the block (through scipy's Cython BLAS
pointer, GIL released; OpenBLAS runs 1.4x faster on it than on the lane-major buffer).
The buffers (56 monomials x 257 samples, 115 kB each, for :math:`d = 3, p = 5`) stay in
the L2 cache; nothing of size :math:`N` is written.

Accuracy. Each distinct sum is accumulated from the product of two dictionary values,
i.e. from exactly one of the direct products :math:`\psi_a\psi_c` it replaces, so its
rounding is that of the direct path: per term the chain's :math:`|\alpha_a| + |\alpha_c|
- 1` multiplications, then the sum. Measured against sums in 80-bit precision (Gaussian
data, :math:`d = 3`, :math:`p` up to 8, offsets up to 1000 standard deviations): entry
errors relative to :math:`\sqrt{G_{ii}G_{jj}}` of 1e-15 to 4e-15 for the moments against
5e-16 to 1e-15 for a BLAS product, and the same relative errors in the smallest
eigenvalues of :math:`G` (both lose the same digits once :math:`\operatorname{cond}(G)`
passes 1e13). :func:`polynomial_gram` with ``method="auto"`` still checks the moments
against the direct products on a sample of the data and takes the products when they
disagree by more than ``_SAMPLE_RTOL`` (see :func:`moments_agree_on_sample`).

:math:`L` for trajectories with equal weights is :math:`G` plus the last sample's sums
minus the first sample's, trajectory by trajectory, as in :mod:`koop._kernels.stream`.
With weights, or for explicit pairs, the sums of :math:`y` are accumulated on their own.

Determinism: chunk ``k`` (``chunk_size`` pairs) goes to slot ``k mod S`` with ``S`` fixed
by the number of chunks only; a thread owns whole slots and adds its chunks in order;
slots are added in slot order. The sums are therefore bitwise the same for any number of
threads. BLAS runs on one thread inside the kernel (a 56 x 56 x 256 dgemm is below the
size where OpenBLAS's threads pay off, and a threaded BLAS would make the bits depend on
its thread count).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit

from koop._kernels.pointer_calls import blas_pointer, gemm_rows, syrk_rows
from koop._kernels.threads import n_threads

__all__ = [
    "MomentPlan",
    "PolynomialSums",
    "moment_plan",
    "moments_agree_on_sample",
    "polynomial_gram",
    "polynomial_gram_twin",
]

_LANES = 256  # samples per block: a 56 x 256 dgemm runs near peak, the buffer fits L2
_CHUNK = 1 << 15  # pairs per chunk (the unit dealt to slots)
_SLOTS = 4
_MOMENT_COST = 1.5  # one distinct sum against one dsyrk product: ~1 measured at M = 56; 1.5
# leaves the products where the two are close (dsyrk gains on larger M)
_COVER_PAIRS = 4_000_000  # row pairs the greedy cover looks at (32 MB of ids)
_SAMPLE = 2048  # rows of the sample that checks the moments against the products
_SAMPLE_RTOL = 1e-13  # relative to sqrt(G_ii G_jj); measured agreement is ~1e-15
_DSYRK, _DGEMM = blas_pointer("dsyrk"), blas_pointer("dgemm")


# -- the plan: monomial chain and distinct sums ------------------------------------------
@dataclass(frozen=True)
class MomentPlan:
    """How to evaluate the monomials and which distinct sums give G, L and C.

    Rows ``0 .. M-1`` of the evaluation buffer are the dictionary's monomials in order;
    rows ``M ..`` are helpers (lower monomials a chain needs, and the state ``x_j`` when
    the dictionary lacks it). Row ``r`` is ``row[parent[r]] * x[var[r]]`` (``x[var[r]]``
    itself when ``parent[r] < 0``; 1 when ``var[r] < 0``), evaluated in ``order``.
    """

    exponents: np.ndarray  # (M, d) int64
    parent: np.ndarray  # (R,)
    var: np.ndarray  # (R,)
    order: np.ndarray  # (R,) rows by degree
    linear: np.ndarray  # (d,) row holding x_j
    n_moments: int  # K: distinct sums of G and C
    g_index: np.ndarray  # (M, M) distinct sum of G_ij
    c_index: np.ndarray  # (M, d) distinct sum of C_ij
    # the distinct sums in groups of four sharing their first factor: sum k = gk[g, t] is
    # row ga[g] times row gc[g, t]; padding goes to the spare sum K
    ga: np.ndarray
    gc: np.ndarray
    gk: np.ndarray
    # C alone (for the direct-product path): C_ij = row i times x_j, flattened i * d + j
    cga: np.ndarray
    cgc: np.ndarray
    cgk: np.ndarray

    @property
    def n_outputs(self) -> int:
        return int(self.exponents.shape[0])

    @property
    def moments_are_faster(self) -> bool:
        """Whether the distinct sums cost less than the products of a dsyrk for G."""
        M = self.n_outputs
        return _MOMENT_COST * self.n_moments < M * (M + 1) / 2


def moment_plan(exponents: np.ndarray) -> MomentPlan:
    """The :class:`MomentPlan` of monomials with the given exponents (cached by value:
    a Gram build per fit reuses it).

    Parameters
    ----------
    exponents : array of shape (M, d), non-negative integers
        Row ``i`` is :math:`\\alpha_i` (a Polynomial dictionary's ``powers_``).

    Examples
    --------
    >>> import numpy as np
    >>> E = np.array([[a, b, c] for a in range(6) for b in range(6) for c in range(6)
    ...               if a + b + c <= 5])
    >>> plan = moment_plan(E)
    >>> plan.n_outputs, plan.n_moments, plan.moments_are_faster
    (56, 286, True)
    """
    E = np.asarray(exponents)
    if E.ndim != 2 or E.shape[0] < 1 or E.shape[1] < 1:
        raise ValueError(f"exponents must be a 2-D array (M, d), got shape {E.shape}.")
    if not np.issubdtype(E.dtype, np.integer) or (E < 0).any():
        raise ValueError("exponents must be non-negative integers.")
    E = np.ascontiguousarray(E, dtype=np.int64)
    return _cached_plan(E.shape, E.tobytes())


@lru_cache(maxsize=16)
def _cached_plan(shape: tuple, data: bytes) -> MomentPlan:
    return _build_plan(np.frombuffer(data, dtype=np.int64).reshape(shape).copy())


def _build_plan(E: np.ndarray) -> MomentPlan:
    """Chain of the monomials (helpers added), distinct sums and their representatives."""
    M, d = E.shape
    rows = [tuple(int(v) for v in e) for e in E]
    index: dict[tuple, int] = {}
    for r, e in enumerate(rows):
        index.setdefault(e, r)

    def row_of(e: tuple) -> int:
        if e not in index:
            index[e] = len(rows)
            rows.append(e)
        return index[e]

    linear = np.array([row_of(tuple(int(k == j) for k in range(d))) for j in range(d)])
    parent, var = [], []
    r = 0
    while r < len(rows):  # rows grows while helpers are added
        e = rows[r]
        nz = [j for j in range(d) if e[j] > 0]
        if not nz:
            parent.append(-1)
            var.append(-1)
        else:
            v = nz[-1]
            var.append(v)
            lower = tuple(e[k] - (k == v) for k in range(d))
            parent.append(-1 if sum(lower) == 0 else row_of(lower))
        r += 1
    degree = np.array([sum(e) for e in rows])
    order = np.argsort(degree, kind="stable")

    # distinct sums of G (the pairs i <= j) and of C (alpha_i + e_j, some new)
    iu, ju = np.triu_indices(M)
    E_all = np.array(rows, dtype=np.int64)
    key = _sum_keys(E_all, d)
    uniq, inverse = np.unique(key(iu, ju), return_inverse=True)
    g_index = np.empty((M, M), dtype=np.int64)
    g_index[iu, ju] = inverse.reshape(-1)
    g_index[ju, iu] = inverse.reshape(-1)
    c_keys = key(np.repeat(np.arange(M), d), None, np.tile(np.arange(d), M))
    extra = np.setdiff1d(c_keys, uniq)
    all_keys = np.concatenate([uniq, extra])  # ids: G's sums sorted, then C's new ones
    order_keys = np.argsort(all_keys, kind="stable")
    c_index = order_keys[np.searchsorted(all_keys, c_keys, sorter=order_keys)]
    K = all_keys.size
    R = len(rows)
    i64 = np.int64

    def ids_of(ia, ic):  # id of the sum of rows ia + ic, -1 where it is not needed
        pk = key(ia, ic)
        pos = np.minimum(np.searchsorted(all_keys, pk, sorter=order_keys), K - 1)
        return np.where(all_keys[order_keys[pos]] == pk, order_keys[pos], -1)

    if R * R <= _COVER_PAIRS:
        ia, ic = np.divmod(np.arange(R * R), R)
        ga, gc, gk = _cover_in_groups(ids_of(ia, ic).reshape(R, R), K)
    else:  # thousands of monomials: the first pair of each sum, grouped as they come
        first = np.unique(inverse.reshape(-1), return_index=True)[1]
        a, c = iu[first], ju[first]
        cm = np.setdiff1d(np.arange(K), inverse)  # C's own sums: row i times x_j
        ci = np.flatnonzero(np.isin(c_index, cm))
        a = np.concatenate([a, ci // d])
        c = np.concatenate([c, linear[ci % d]])
        k, once = np.unique(ids_of(a, c), return_index=True)  # C's sums repeat
        ga, gc, gk = _groups_of_four(a[once], c[once], k, K)
    pivots = np.repeat(linear, M)  # C alone: pivot x_j, partners every row i
    partners = np.tile(np.arange(M), d)
    flat = partners * d + np.repeat(np.arange(d), M)
    cga, cgc, cgk = _groups_of_four(pivots, partners, flat, M * d)
    return MomentPlan(
        E, np.array(parent, i64), np.array(var, i64), order.astype(i64), linear.astype(i64),
        int(K), g_index, c_index.reshape(M, d).astype(i64), ga, gc, gk, cga, cgc, cgk,
    )


def _sum_keys(E: np.ndarray, d: int):
    """``key(i, j)``: an integer naming the exponent ``E[i] + E[j]`` (or, with ``unit``,
    ``E[i] + e_unit``). Mixed radix where the exponents' range allows, else a name per
    distinct sum shared by all calls of this ``key``."""
    base = 2 * int(E.max(initial=0)) + 2
    if d * np.log2(base) < 62:
        radix = base ** np.arange(d, dtype=np.int64)
        code = E @ radix

        def key(i, j, unit=None):
            return code[i] + (code[j] if unit is None else radix[unit])

        return key

    names: dict[bytes, int] = {}  # more than ~15 variables of high degree

    def key(i, j, unit=None):
        S = E[i] + (E[j] if unit is None else np.eye(d, dtype=np.int64)[unit])
        return np.array([names.setdefault(row.tobytes(), len(names)) for row in S])

    return key


def _cover_in_groups(ids: np.ndarray, K: int):
    """Representatives of the sums, chosen so that few rows are first factors (greedy
    cover: take the row that gives most of the sums still missing, repeat), in groups of
    four sharing the first factor: the kernel then loads that row once for four sums
    (measured 1.35x faster than one pair per sum)."""
    covered = np.zeros(K + 1, dtype=bool)
    covered[K] = True  # ids == -1 read the spare slot: never missing
    a_list, c_list, k_list = [], [], []
    while not covered[:K].all():
        missing = ~covered[ids]
        a = int(np.argmax(missing.sum(axis=1)))
        cs = np.flatnonzero(missing[a])
        if cs.size == 0:  # pragma: no cover - every sum has its defining pair
            raise RuntimeError("a distinct sum has no pair of rows; report this bug")
        got, first = np.unique(ids[a, cs], return_index=True)
        covered[got] = True
        a_list.append(np.full(got.size, a))
        c_list.append(cs[first])
        k_list.append(got)
    return _groups_of_four(np.concatenate(a_list), np.concatenate(c_list),
                           np.concatenate(k_list), K)


def _groups_of_four(a: np.ndarray, c: np.ndarray, k: np.ndarray, spare: int):
    """Sums ``k = row a * row c``, grouped by ``a`` in fours (padded: ``c = a``, ``k =
    spare``)."""
    ga, gc, gk = [], [], []
    for pivot in dict.fromkeys(a.tolist()):
        sel = np.flatnonzero(a == pivot)
        for t in range(0, sel.size, 4):
            part = sel[t : t + 4]
            pad = 4 - part.size
            ga.append(pivot)
            gc.append(np.concatenate([c[part], np.full(pad, pivot)]))
            gk.append(np.concatenate([k[part], np.full(pad, spare)]))
    i64 = np.int64
    return np.array(ga, i64), np.array(gc, i64).reshape(-1, 4), np.array(gk, i64).reshape(-1, 4)


# -- numba kernels -----------------------------------------------------------------------
_jit = njit(cache=True, nogil=True)


@_jit
def _evaluate(X, s, n, parent, var, order, linear, P):  # pragma: no cover - numba
    """``P[r, b]`` = monomial ``r`` of sample ``X[s + b]``, ``b < n`` (lane-major)."""
    for t in range(order.shape[0]):
        r = order[t]
        v = var[r]
        row = P[r]
        if v < 0:
            for b in range(n):
                row[b] = 1.0
        elif parent[r] < 0:
            for b in range(n):
                row[b] = X[s + b, v]
        else:
            up = P[parent[r]]
            xv = P[linear[v]]
            for b in range(n):
                row[b] = up[b] * xv[b]


# The only reassociation in koop's kernels: LLVM vectorises the four dot products into a
# fixed number of partial sums each. The order is fixed by the compiled code, so results
# stay bitwise reproducible for a given machine and independent of the thread count.
@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _dot4(u, v0, v1, v2, v3, n):  # pragma: no cover - numba
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for b in range(n):
        x = u[b]
        s0 += x * v0[b]
        s1 += x * v1[b]
        s2 += x * v2[b]
        s3 += x * v3[b]
    return s0, s1, s2, s3


@_jit
def _add_sums(left, l0, right, r0, ga, gc, gk, n, out):  # pragma: no cover - numba
    """``out[gk[g, t]] += sum_b left[ga[g], l0 + b] * right[gc[g, t], r0 + b]``, b < n."""
    for g in range(ga.shape[0]):
        c = gc[g]
        s0, s1, s2, s3 = _dot4(left[ga[g], l0 : l0 + n], right[c[0], r0 : r0 + n],
                               right[c[1], r0 : r0 + n], right[c[2], r0 : r0 + n],
                               right[c[3], r0 : r0 + n], n)
        k = gk[g]
        out[k[0]] += s0
        out[k[1]] += s1
        out[k[2]] += s2
        out[k[3]] += s3


@_jit
def _transpose(P, c0, M, n, T):  # pragma: no cover - numba
    """``T[b, i] = P[i, c0 + b]`` for ``i < M``, ``b < n``: BLAS is ~40% faster on
    row-major psi (dgemm "N","T" on 56 x 256 blocks) than on the lane-major buffer.
    Strided reads and contiguous writes: 3x faster here than the other loop orders."""
    for b in range(n):
        t = T[b]
        for i in range(M):
            t[i] = P[i, c0 + b]


@_jit
def _chunk(X, Y, w, parent, var, order, linear, ga, gc, gk, M, moments, want_y, want_A,
           buf_p, buf_q, buf_lx, buf_ly, buf_t, buf_u, buf_wl, buf_wr, wl,
           mom_x, mom_y, cm_x, cm_y, G, L, A, dsyrk, dgemm):  # pragma: no cover - numba
    """Add one chunk's pairs into a slot.

    ``Y`` empty: pairs ``(X[r], X[r + 1])`` (a stretch of one trajectory); else
    ``(X[r], Y[r])``. ``w`` empty: weight 1 each. ``moments``: G (and L) as distinct sums
    (grouped ``ga, gc, gk``) into ``mom_x`` (``mom_y``); else by dsyrk into ``G`` (``L``),
    and the groups list C's sums only. The chunk's sums are gathered in ``cm_x, cm_y`` first
    (two-level summation), then added to the slot's.

    Buffers: ``buf_p`` (``buf_q``) psi of the x (y) samples lane-major; ``buf_lx``,
    ``buf_ly`` their weighted copies; ``buf_t``, ``buf_u`` psi of x, y row-major for BLAS;
    ``buf_wl``, ``buf_wr`` the weighted row-major factors.
    """
    shifted = Y.shape[0] == 0
    n_pairs = X.shape[0] - 1 if shifted else X.shape[0]
    weighted = w.shape[0] > 0
    K = cm_x.shape[0]
    for k in range(K):
        cm_x[k] = 0.0
        cm_y[k] = 0.0
    R = buf_p.shape[0]
    lanes = buf_p.shape[1] - 1
    for s in range(0, n_pairs, lanes):
        nb = min(lanes, n_pairs - s)
        # psi lane-major: y lanes are the x lanes shifted by one, or their own buffer
        if shifted:
            _evaluate(X, s, nb + 1, parent, var, order, linear, buf_p)
            P, y0, Q = buf_p, 1, buf_p
        else:
            _evaluate(X, s, nb, parent, var, order, linear, buf_p)
            _evaluate(Y, s, nb, parent, var, order, linear, buf_q)
            P, y0, Q = buf_p, 0, buf_q
        # left and right factors: w on the left for the moments, sqrt(w) on both for dsyrk
        lx, rx, ly, ly0, ry, ry0 = P, P, Q, y0, Q, y0
        if weighted:
            for b in range(nb):
                wl[b] = w[s + b] if moments else np.sqrt(w[s + b])
            for r in range(R):
                for b in range(nb):
                    buf_lx[r, b] = wl[b] * P[r, b]
            lx = buf_lx
            if want_y or not moments:
                for r in range(R):
                    for b in range(nb):
                        buf_ly[r, b] = wl[b] * Q[r, y0 + b]
                ly, ly0 = buf_ly, 0
            if not moments:
                rx, ry, ry0 = buf_lx, buf_ly, 0
        _add_sums(lx, 0, rx, 0, ga, gc, gk, nb, cm_x)
        if moments and want_y:
            _add_sums(ly, ly0, ry, ry0, ga, gc, gk, nb, cm_y)
        if want_A or not moments:
            # row-major copies for BLAS: tx = left factor of x, ty = right factor of y
            if weighted:
                _transpose(lx, 0, M, nb, buf_wl)
                tx = buf_wl[:nb]
                _transpose(ry, ry0, M, nb, buf_wr)
                ty = buf_wr[:nb]
            elif shifted:
                _transpose(P, 0, M, nb + 1, buf_t)
                tx, ty = buf_t[:nb], buf_t[1 : nb + 1]
            else:
                _transpose(P, 0, M, nb, buf_t)
                _transpose(Q, 0, M, nb, buf_u)
                tx, ty = buf_t[:nb], buf_u[:nb]
            if want_A:
                gemm_rows(A, tx, ty, dgemm)
            if not moments:
                syrk_rows(G, tx, dsyrk)
                if want_y:
                    syrk_rows(L, ty, dsyrk)
    for k in range(K):
        mom_x[k] += cm_x[k]
        mom_y[k] += cm_y[k]


# -- driver ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PolynomialSums:
    """Unnormalised sums :math:`G, A, L, C` (C-ordered, G and L symmetric)."""

    G: np.ndarray
    A: np.ndarray
    L: np.ndarray
    C: np.ndarray
    n_pairs: int
    method: str  # "moments" or "products"


class _Slot:
    def __init__(self, M: int, K: int, moments: bool, want_y: bool) -> None:
        self.mom_x, self.mom_y = np.zeros(K), np.zeros(K)
        self.A = np.zeros((M, M), order="F")
        # unused ones are 2 x 2: numba types a 0 x 0 array as C-ordered (a recompile)
        self.G = np.zeros((2, 2) if moments else (M, M), order="F")
        self.L = np.zeros((M, M) if want_y and not moments else (2, 2), order="F")


class _Buffers:
    """One thread's scratch: everything of one block, a few hundred kB (cache-resident)."""

    def __init__(self, R: int, M: int, K: int, lanes: int, pairs: bool, weighted: bool
                 ) -> None:
        def buf(shape, needed=True):
            return np.empty(shape if needed else (0, 0))

        self.P = buf((R, lanes + 1))
        self.Q = buf((R, lanes), pairs)
        self.LX = buf((R, lanes), weighted)
        self.LY = buf((R, lanes), weighted)
        self.T = buf((lanes + 1, M))
        self.U = buf((lanes, M), pairs)
        self.WL = buf((lanes, M), weighted)
        self.WR = buf((lanes, M), weighted)
        self.wl = np.empty(lanes if weighted else 0)
        self.cm_x, self.cm_y = np.empty(K), np.empty(K)


_EMPTY2 = np.empty((0, 0))


def _rows(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _groups(plan: MomentPlan, moments: bool):
    """The grouped sums the kernel adds and their count (plus the spare slot)."""
    if moments:
        return (plan.ga, plan.gc, plan.gk), plan.n_moments + 1
    return (plan.cga, plan.cgc, plan.cgk), plan.n_outputs * plan.exponents.shape[1] + 1


def _run_chunk(plan, groups, moments, want_y, want_A, buf, slot, X, Y, w):
    _chunk(X, Y, w, plan.parent, plan.var, plan.order, plan.linear, *groups,
           plan.n_outputs, moments, want_y, want_A, buf.P, buf.Q, buf.LX, buf.LY, buf.T, buf.U,
           buf.WL, buf.WR, buf.wl,
           slot.mom_x, slot.mom_y, buf.cm_x, buf.cm_y, slot.G, slot.L, slot.A,
           _DSYRK, _DGEMM)


def _row_sums(plan: MomentPlan, rows: np.ndarray, moments: bool):
    """Sums over single samples (no pairs): the distinct sums, or G by dsyrk."""
    groups, K = _groups(plan, moments)
    R, M = plan.parent.shape[0], plan.n_outputs
    slot = _Slot(M, K, moments, False)
    buf = _Buffers(R, M, K, _LANES, True, False)
    X = _rows(rows)
    if X.shape[0]:
        _run_chunk(plan, groups, moments, False, False, buf, slot, X, X, np.empty(0))
    return slot


_controller = None


def _one_blas_thread():
    """BLAS on one thread for the duration (the kernels call it from their own threads).

    The controller is made once: ``threadpool_limits`` rescans the loaded libraries on
    every call (3-12 ms measured here).
    """
    global _controller
    if threading.current_thread() is not threading.main_thread():
        return nullcontext()  # a caller's worker thread: leave the process-wide BLAS alone
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def moments_agree_on_sample(plan: MomentPlan, X: np.ndarray, rtol: float | None = None
                            ) -> tuple[bool, float]:
    """Whether G from the distinct sums equals G from the direct products on samples ``X``.

    Returns the verdict and the largest :math:`|G^{mom}_{ij} - G^{prod}_{ij}| /
    \\sqrt{G_{ii}G_{jj}}` (the products' diagonal), which rounding keeps near 1e-15;
    ``rtol`` defaults to ``_SAMPLE_RTOL`` (1e-13).
    """
    rtol = _SAMPLE_RTOL if rtol is None else rtol
    with _one_blas_thread():
        mom = _row_sums(plan, X, True)
        prod = _row_sums(plan, X, False)
    Gm = mom.mom_x[plan.g_index]
    Gp = np.triu(prod.G) + np.triu(prod.G, 1).T
    diag = np.sqrt(np.abs(np.diag(Gp)))
    scale = np.outer(diag, diag)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(scale > 0, np.abs(Gm - Gp) / scale, np.abs(Gm - Gp))
    worst = float(np.nanmax(err)) if np.isfinite(err).all() else float("inf")
    return worst <= rtol, worst


def _sample_rows(blocks: Sequence[np.ndarray], shifted: bool, n: int) -> np.ndarray:
    """About ``n`` pair-start rows spread evenly over all blocks."""
    sizes = [max(b.shape[0] - shifted, 0) for b in blocks]
    total = sum(sizes)
    step = max(1, total // n)
    picked, offset = [], 0
    for b, size in zip(blocks, sizes, strict=True):
        first = (-offset) % step
        if first < size:
            picked.append(np.asarray(b[first:size:step]))
        offset += size
    return _rows(np.concatenate(picked)) if picked else np.empty((0, blocks[0].shape[1]))


def _accumulate(plan, blocks, ys, w, jobs, moments, progress):
    """Run the chunks on their slots (threads own whole slots); sums per slot, and the
    first and last samples' sums when L is G corrected at the trajectory ends."""
    pairs = bool(ys)
    groups, K = _groups(plan, moments)
    want_y = pairs or w is not None
    M, R = plan.n_outputs, plan.parent.shape[0]
    S = max(1, min(_SLOTS, len(jobs)))
    slots = [_Slot(M, K, moments, want_y) for _ in range(S)]
    T = max(1, min(n_threads(), S))
    bufs = [_Buffers(R, M, K, _LANES, pairs, w is not None) for _ in range(T)]
    no_w = np.empty(0)

    def run(t: int) -> None:
        buf = bufs[t]
        for k in range(t, S, T):
            for i, s, e, p0 in jobs[k::S]:
                X = _rows(blocks[i][s : e if pairs else e + 1])
                Y = _rows(ys[i][s:e]) if pairs else _EMPTY2
                wc = no_w if w is None else w[p0 + s : p0 + e]
                _run_chunk(plan, groups, moments, want_y, True, buf, slots[k], X, Y, wc)
                if progress is not None:
                    progress(e - s)

    if T == 1:
        run(0)
    else:
        with ThreadPoolExecutor(T - 1) as pool:
            futures = [pool.submit(run, t) for t in range(1, T)]
            run(0)
            for f in futures:
                f.result()
    first = last = None
    if not want_y:  # L = G + (last samples' sums) - (first samples' sums)
        long = [b for b in blocks if b.shape[0] >= 2]
        first = _row_sums(plan, np.array([b[0] for b in long]), moments)
        last = _row_sums(plan, np.array([b[-1] for b in long]), moments)
    return slots, first, last


def polynomial_gram(
    trajectories: Sequence[np.ndarray] | np.ndarray,
    exponents: np.ndarray | MomentPlan,
    weights: np.ndarray | None = None,
    *,
    successors: Sequence[np.ndarray] | None = None,
    method: str = "auto",
    chunk_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> PolynomialSums:
    r"""Unnormalised :math:`G, A, L, C` of the monomials ``exponents`` in one fused pass.

    Parameters
    ----------
    trajectories : array (n, d) or sequence of arrays (n_i, d)
        Trajectories (pairs :math:`(x_k, x_{k+1})` within each), or the ``x`` blocks of
        explicit pairs when ``successors`` is given.
    exponents : array (M, d) of non-negative integers, or a MomentPlan
        :math:`\alpha_i`: the dictionary is :math:`\psi_i(x) = x^{\alpha_i}`.
    weights : array (n_pairs,), optional
        Weight of each pair, trajectory by trajectory (default 1 each).
    successors : sequence of arrays, optional
        The ``y`` blocks of explicit pairs, row by row with ``trajectories``.
    method : {"auto", "moments", "products"}
        ``"moments"``: G, L and C from the distinct sums; ``"products"``: G and L by dsyrk
        on the same cache-resident blocks. ``"auto"`` takes the moments when they are the
        cheaper (:attr:`MomentPlan.moments_are_faster`) and agree with the products on a
        sample of the data (:func:`moments_agree_on_sample`).
    chunk_size : int, optional
        Pairs per chunk (the unit dealt to threads; default 32768). The sums do not
        depend on the number of threads; they may differ in the last bits with the chunk
        size.
    progress : callable, optional
        Called with the number of pairs of each finished chunk.

    Returns
    -------
    PolynomialSums
        ``G = Psi_X^T W Psi_X``, ``A = Psi_X^T W Psi_Y``, ``L = Psi_Y^T W Psi_Y``,
        ``C = Psi_X^T W X``, not divided by anything.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0], [2.0], [3.0]])
    >>> s = polynomial_gram(x, np.array([[0], [1]]), method="moments")
    >>> s.G, s.A, s.n_pairs
    (array([[2., 3.],
           [3., 5.]]), array([[2., 5.],
           [3., 8.]]), 2)
    """
    plan = exponents if isinstance(exponents, MomentPlan) else moment_plan(exponents)
    if method not in ("auto", "moments", "products"):
        raise ValueError(f"method must be 'auto', 'moments' or 'products', got {method!r}.")
    blocks = [trajectories] if isinstance(trajectories, np.ndarray) else list(trajectories)
    pairs = successors is not None
    ys = list(successors) if pairs else []
    d = plan.exponents.shape[1]
    for b in blocks + ys:
        if np.ndim(b) != 2 or b.shape[1] != d:
            raise ValueError(f"every block must be a 2-D array with {d} columns "
                             f"(the exponents' width), got shape {np.shape(b)}.")
    if pairs and [b.shape[0] for b in ys] != [b.shape[0] for b in blocks]:
        raise ValueError("successors must match trajectories block by block, row by row.")
    chunk = _CHUNK if chunk_size is None else int(chunk_size)
    if chunk < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk}.")
    jobs = []  # (block, start, end, first pair index)
    pair0 = 0
    for t, b in enumerate(blocks):
        n = b.shape[0] if pairs else b.shape[0] - 1
        for s in range(0, max(n, 0), chunk):
            jobs.append((t, s, min(s + chunk, n), pair0))
        pair0 += max(n, 0)
    n_pairs = pair0
    if n_pairs < 1:
        raise ValueError("The data give no snapshot pairs.")
    w = None if weights is None else _rows(weights).reshape(-1)
    if w is not None and w.shape[0] != n_pairs:
        raise ValueError(f"weights must have one value per pair ({n_pairs}), got {w.shape[0]}.")
    with _one_blas_thread():
        moments = method == "moments" or (method == "auto" and plan.moments_are_faster)
        if method == "auto" and moments:
            sample = _sample_rows(blocks, not pairs, _SAMPLE)
            moments = moments_agree_on_sample(plan, sample)[0]
        slots, first, last = _accumulate(plan, blocks, ys, w, jobs, moments, progress)
    want_y = bool(ys) or w is not None
    M = plan.n_outputs
    top = slots[0]
    for sl in slots[1:]:  # slot order: the same sums whatever the thread count
        top.mom_x += sl.mom_x
        top.mom_y += sl.mom_y
        top.A += sl.A
        top.G += sl.G
        top.L += sl.L
    if moments:
        G = top.mom_x[plan.g_index]
        if want_y:
            L = top.mom_y[plan.g_index]
        else:
            L = G + (last.mom_x - first.mom_x)[plan.g_index]
        C = top.mom_x[plan.c_index]
    else:
        G = np.triu(top.G) + np.triu(top.G, 1).T
        if want_y:
            L = np.triu(top.L) + np.triu(top.L, 1).T
        else:
            corr = last.G - first.G
            L = G + (np.triu(corr) + np.triu(corr, 1).T)
        C = top.mom_x[: M * d].reshape(M, d)
    return PolynomialSums(G, np.ascontiguousarray(top.A), L, np.ascontiguousarray(C),
                          n_pairs, "moments" if moments else "products")


def polynomial_gram_twin(
    trajectories: Sequence[np.ndarray] | np.ndarray,
    exponents: np.ndarray,
    weights: np.ndarray | None = None,
    successors: Sequence[np.ndarray] | None = None,
) -> PolynomialSums:
    """The numpy twin of :func:`polynomial_gram`: psi in full, then the products."""
    E = np.asarray(exponents)
    blocks = [trajectories] if isinstance(trajectories, np.ndarray) else list(trajectories)

    def psi(X):
        X = np.asarray(X, dtype=np.float64)
        return np.prod(X[:, None, :] ** E[None, :, :], axis=2)

    if successors is None:
        xs = [b[:-1] for b in blocks if b.shape[0] >= 2]
        ys = [b[1:] for b in blocks if b.shape[0] >= 2]
    else:
        xs, ys = blocks, list(successors)
    X = np.concatenate(xs).astype(np.float64)
    PX, PY = psi(X), psi(np.concatenate(ys))
    w = np.ones(X.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    WX = PX * w[:, None]
    return PolynomialSums(PX.T @ WX, WX.T @ PY, PY.T @ (PY * w[:, None]), WX.T @ X,
                          X.shape[0], "twin")
