"""Property-based tests (hypothesis): invariances and identities that hold for any data.

Truths checked, each for every example hypothesis draws:

* EDMD with the identity dictionary recovers any stable, diagonalisable linear map
  (eigenvalues and :math:`K = A^\\top`) from snapshot data that span the state space;
* :math:`G, A, L, C` do not depend on the order of the trajectories nor on
  ``chunk_size``, nor on the backend (relative 1e-12);
* the dictionaries' own data-derived scalings make EDMD spectra invariant: RBF with the
  default width (centres and width move with the data) under similarity maps
  :math:`x \\mapsto cQx + b`; random Fourier features with the default bandwidth under
  scaling and translation; polynomials under any invertible affine map (the span of
  monomials of degree :math:`\\le p` is unchanged);
* the residual quadratic form :math:`L - \\bar\\lambda A - \\lambda A^* + |\\lambda|^2 G` is
  positive semi-definite for every :math:`\\lambda` (it is
  :math:`(\\Psi_Y - \\lambda\\Psi_X)^* W (\\Psi_Y - \\lambda\\Psi_X)`), so residuals are >= 0;
* eigenfunctions satisfy their eigen-relation on the training data to exactly the
  residual computed from :math:`G, A, L` (and ``koop.validation.residuals`` /
  ``ResDMD.residuals_`` equal it), and the defect is orthogonal to the retained
  dictionary span (Galerkin);
* EDMD's Gram-matrix solve and ResDMD's QR solve give the same spectrum to
  eps * cond(G); ResDMD and kernel EDMD share the invariances.

Tolerances were checked on 200-1500 random (non-derandomized) examples per test.
"""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from koop import systems
from koop.dictionaries import RBF, Identity, Polynomial, RandomFourier, TimeDelay
from koop.estimators import DMD, EDMD, KernelEDMD, ResDMD
from koop.exceptions import RankDeficiencyWarning
from koop.gram import build_gram

from ._support import RELIABLE, match_error, nearest_error

MU, LAM = 0.9, 0.5


# -- strategies ---------------------------------------------------------------------------
@st.composite
def stable_diagonalisable_maps(draw):
    """A real d x d map T D T^{-1}, spectrum in the open unit disc, T well conditioned."""
    d = draw(st.integers(1, 4))
    radius = st.floats(0.0, 0.99)
    eigs: list[complex] = []
    blocks = []
    while len(eigs) < d:
        r = draw(radius)
        if d - len(eigs) >= 2 and draw(st.booleans()):
            theta = draw(st.floats(0.05, np.pi - 0.05))
            a, b = r * np.cos(theta), r * np.sin(theta)
            blocks.append(np.array([[a, b], [-b, a]]))
            eigs += [complex(a, b), complex(a, -b)]
        else:
            sign = draw(st.sampled_from([1.0, -1.0]))
            blocks.append(np.array([[sign * r]]))
            eigs.append(complex(sign * r))
    D = np.zeros((d, d))
    i = 0
    for blk in blocks:
        k = blk.shape[0]
        D[i:i + k, i:i + k] = blk
        i += k
    seed = draw(st.integers(0, 2**32 - 1))
    T = np.random.default_rng(seed).normal(size=(d, d)) + 2.0 * np.eye(d)
    if np.linalg.cond(T) > 1e3:
        T = np.eye(d) + 0.1 * T
    A = T @ D @ np.linalg.inv(T)
    return A, np.array(eigs), seed


@st.composite
def trajectory_sets(draw, d=2, min_traj=1, max_traj=5, min_len=3, max_len=30):
    """A list of random-walk-like trajectories of different lengths (seeded)."""
    n = draw(st.integers(min_traj, max_traj))
    lengths = draw(st.lists(st.integers(min_len, max_len), min_size=n, max_size=n))
    lengths[0] = max(lengths[0], 8)  # enough samples for the 6 RBF centres
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return [np.cumsum(rng.normal(size=(m, d)), axis=0) / np.sqrt(m) for m in lengths]


def _slow_manifold_set(seed, n_traj=25, n_steps=8):
    rng = np.random.default_rng(seed)
    return [systems.slow_manifold(n_steps, mu=MU, lam=LAM, x0=x0)
            for x0 in rng.uniform(-1, 1, size=(n_traj, 2))]


def _fit(est, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficiencyWarning)
        return est.fit(data, **kw)


def _rel(a, b) -> float:
    scale = max(np.abs(a).max(), np.abs(b).max(), 1e-300)
    return float(np.abs(a - b).max() / scale)


# -- 1. linear maps -----------------------------------------------------------------------
@RELIABLE
@given(stable_diagonalisable_maps())
def test_identity_edmd_recovers_any_stable_linear_map(case):
    A, eigs, seed = case
    d = A.shape[0]
    rng = np.random.default_rng(seed + 1)
    # d + 1 short trajectories from random states: the pairs span R^d whatever the spectrum
    trajs = [systems.linear(A, 6, x0=rng.normal(size=d)) for _ in range(d + 1)]
    model = EDMD(Identity()).fit(trajs)
    np.testing.assert_allclose(model.koopman_matrix_, A.T, atol=1e-10)
    assert match_error(model.eigenvalues_, eigs) < 1e-8
    assert np.all(np.diff(np.abs(model.eigenvalues_)) <= 1e-12)  # sorted by modulus
    # exact DMD on the same data agrees
    assert match_error(DMD().fit(trajs).eigenvalues_, eigs) < 1e-8
    # one-step predictions are exact for a linear map
    X = np.vstack([t[:-1] for t in trajs])
    np.testing.assert_allclose(model.predict(X), X @ A.T, atol=1e-10 * max(1, np.abs(X).max()))


# -- 2. order of trajectories and chunking ------------------------------------------------
_DICTIONARIES = {
    "identity": lambda: Identity(),
    "polynomial": lambda: Polynomial(degree=3),
    "rbf": lambda: RBF(n_centers=6, center_method="random", random_state=0),
    "fourier": lambda: RandomFourier(n_features=5, random_state=0),
    "delay": lambda: TimeDelay(n_delays=2),
}


@RELIABLE
@given(
    trajs=trajectory_sets(),
    name=st.sampled_from(sorted(_DICTIONARIES)),
    chunk_size=st.integers(1, 40),
    perm_seed=st.integers(0, 1000),
    weighted=st.booleans(),
)
def test_gram_invariant_to_trajectory_order_chunk_size_and_backend(
    trajs, name, chunk_size, perm_seed, weighted
):
    dic = _DICTIONARIES[name]().fit(np.vstack(trajs))
    lags = dic.n_lags
    n_pairs = [max(t.shape[0] - 1 - lags, 0) for t in trajs]
    if sum(n_pairs) == 0:
        return
    weights = None
    if weighted:
        w = np.random.default_rng(perm_seed).uniform(0.1, 2.0, size=sum(n_pairs))
        weights = np.split(w, np.cumsum(n_pairs)[:-1])
    perm = np.random.default_rng(perm_seed).permutation(len(trajs))
    ref = build_gram(dic, trajs, weights=None if weights is None else np.concatenate(weights),
                     backend="numpy")
    shuffled = [trajs[i] for i in perm]
    w_shuffled = None if weights is None else np.concatenate([weights[i] for i in perm])
    for backend in ("numba", "numpy"):
        gm = build_gram(dic, shuffled, weights=w_shuffled, chunk_size=chunk_size,
                        backend=backend)
        for key in ("G", "A", "L", "C"):
            err = _rel(getattr(gm, key), getattr(ref, key))
            assert err < 1e-12, (backend, key, err)
        assert gm.n_samples == ref.n_samples
        assert np.isclose(gm.weights_sum, ref.weights_sum, rtol=1e-12)


@RELIABLE
@given(seed=st.integers(0, 10_000), chunk_size=st.integers(1, 64),
       perm_seed=st.integers(0, 1000))
def test_edmd_spectrum_invariant_to_trajectory_order_and_chunk_size(seed, chunk_size,
                                                                    perm_seed):
    trajs = _slow_manifold_set(seed, n_traj=12)
    perm = np.random.default_rng(perm_seed).permutation(len(trajs))
    a = _fit(EDMD(Polynomial(degree=3)), trajs)
    b = _fit(EDMD(Polynomial(degree=3), chunk_size=chunk_size), [trajs[i] for i in perm])
    # eigenvalues in the invariant span {1, x, x^2, x^3, y, xy} are exact and well
    # conditioned; the rest move with the O(eps) changes of G and A, never more than 1e-9
    assert match_error(a.eigenvalues_, b.eigenvalues_) < 1e-9
    assert nearest_error(b.eigenvalues_, [1, MU, MU**2, MU**3, LAM, LAM * MU]) < 1e-9
    X = np.vstack(trajs)
    assert _rel(a.predict(X), b.predict(X)) < 1e-10


_FEW = settings(RELIABLE, max_examples=8)  # dask/torch cost ~0.1 s a build


@_FEW
@given(trajs=trajectory_sets(), name=st.sampled_from(sorted(_DICTIONARIES)),
       chunk_size=st.integers(1, 40), weighted=st.booleans())
def test_gram_backends_agree(trajs, name, chunk_size, weighted):
    import pytest

    dic = _DICTIONARIES[name]().fit(np.vstack(trajs))
    n = sum(max(t.shape[0] - 1 - dic.n_lags, 0) for t in trajs)
    if n == 0:
        return
    w = np.random.default_rng(n).uniform(0.1, 2.0, n) if weighted else None
    ref = build_gram(dic, trajs, weights=w, backend="numpy")
    for backend in ("dask", "torch"):
        pytest.importorskip(backend)
        gm = build_gram(dic, trajs, weights=w, chunk_size=chunk_size, backend=backend)
        for key in ("G", "A", "L", "C"):
            err = _rel(getattr(gm, key), getattr(ref, key))
            assert err < 1e-12, (backend, key, err)


@RELIABLE
@given(seed=st.integers(0, 10_000), chunk_size=st.integers(1, 64),
       perm_seed=st.integers(0, 1000))
def test_resdmd_invariant_to_trajectory_order_and_chunk_size(seed, chunk_size, perm_seed):
    trajs = _slow_manifold_set(seed, n_traj=12)
    perm = np.random.default_rng(perm_seed).permutation(len(trajs))
    a = _fit(ResDMD(Polynomial(degree=3)), trajs)
    b = _fit(ResDMD(Polynomial(degree=3), chunk_size=chunk_size), [trajs[i] for i in perm])
    assert match_error(a.eigenvalues_, b.eigenvalues_) < 1e-9
    # residuals: same to 1e-9 relative (exact eigenpairs have residuals ~1e-14)
    ia, ib = linear_sum_assignment(np.abs(a.eigenvalues_[:, None] - b.eigenvalues_[None]))
    np.testing.assert_allclose(a.residuals_[ia], b.residuals_[ib], rtol=1e-7, atol=1e-12)


@RELIABLE
@given(seed=st.integers(0, 10_000), degree=st.integers(1, 4), n_traj=st.integers(3, 30))
def test_edmd_from_gram_equals_resdmd_from_qr(seed, degree, n_traj):
    """Two independent solves of K = G^+ A: an eigendecomposition of the Gram matrix
    (EDMD) and a QR factor of the data (ResDMD). They agree to the rounding of the Gram
    route, eps * cond(G) (G scaled to unit diagonal, as EDMD does)."""
    trajs = _slow_manifold_set(seed, n_traj=n_traj, n_steps=8)
    a = _fit(EDMD(Polynomial(degree)), trajs)
    b = _fit(ResDMD(Polynomial(degree)), trajs)
    if a.n_dropped_directions_ or b.n_dropped_directions_:
        return  # the two may drop different near-null directions
    d = np.sqrt(np.diag(a.gram_.G))
    tol = 1e-13 + 1e3 * np.finfo(float).eps * np.linalg.cond(a.gram_.G / np.outer(d, d))
    assert match_error(a.eigenvalues_, b.eigenvalues_) < tol
    # the QR route is exact on the invariant span {1, x, x^2, ..., y, ...}
    truth = [1.0, MU] + ([MU**2, LAM] if degree >= 2 else [])
    assert nearest_error(b.eigenvalues_, truth) < 1e-10
    X = np.vstack(trajs)
    assert _rel(a.predict(X), b.predict(X)) < tol
    for key in ("G", "A", "L", "C"):
        assert _rel(getattr(a.gram_, key), getattr(b.gram_, key)) < 1e-12, key


# -- 3. the dictionaries' own scaling -----------------------------------------------------
@st.composite
def similarity_maps(draw, d=2):
    """x -> c Q x + b with c > 0, Q orthogonal (a rotation or reflection), b a shift."""
    c = draw(st.floats(0.05, 20.0))
    angle = draw(st.floats(0.0, 2 * np.pi))
    reflect = draw(st.booleans())
    Q = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    if reflect:
        Q = Q @ np.diag([1.0, -1.0])
    b = np.array(draw(st.lists(st.floats(-5.0, 5.0), min_size=d, max_size=d)))
    return c, Q, b


@RELIABLE
@given(similarity_maps(), st.integers(0, 10_000), st.sampled_from(["random", "kmeans"]))
def test_rbf_with_data_width_is_similarity_equivariant(tf, seed, center_method):
    c, Q, b = tf
    trajs = _slow_manifold_set(seed)
    moved = [c * t @ Q.T + b for t in trajs]
    kw = dict(n_centers=8, center_method=center_method, random_state=3)
    d0 = RBF(**kw).fit(np.vstack(trajs))
    d1 = RBF(**kw).fit(np.vstack(moved))
    # centres and width move with the data, so every dictionary function is unchanged
    np.testing.assert_allclose(d1.width_, c * d0.width_, rtol=1e-10)
    np.testing.assert_allclose(d1.centers_, c * d0.centers_ @ Q.T + b,
                               atol=1e-8 * c * d0.width_)
    X = np.vstack(trajs)
    np.testing.assert_allclose(d1.transform(c * X @ Q.T + b), d0.transform(X), atol=1e-8)
    a = _fit(EDMD(RBF(**kw)), trajs)
    m = _fit(EDMD(RBF(**kw)), moved)
    assert match_error(a.eigenvalues_, m.eigenvalues_) < 1e-5


@settings(RELIABLE, max_examples=15)
@given(similarity_maps(), st.integers(0, 10_000), st.sampled_from(["gaussian", "laplacian"]))
def test_kernel_edmd_with_data_width_is_similarity_invariant(tf, seed, kernel):
    c, Q, b = tf
    trajs = _slow_manifold_set(seed, n_traj=10)
    moved = [c * t @ Q.T + b for t in trajs]
    # cutoff 1e-8: the rounding of the moved distances (1e-16) is amplified at most 1e8
    kw = dict(kernel=kernel, n_components=10, cutoff=1e-8, random_state=0)
    a = _fit(KernelEDMD(**kw), trajs)
    m = _fit(KernelEDMD(**kw), moved)
    assert len(a.eigenvalues_) == len(m.eigenvalues_)
    # measured: up to ~2e-6 over 300 random cases (kernel Gram, Nystrom projection and
    # the non-normal reduced matrix each amplify the O(eps) change of the distances)
    assert match_error(a.eigenvalues_, m.eigenvalues_) < 1e-5
    ia, im = linear_sum_assignment(np.abs(a.eigenvalues_[:, None] - m.eigenvalues_[None]))
    np.testing.assert_allclose(a.residuals_[ia], m.residuals_[im], rtol=1e-4, atol=1e-8)


@RELIABLE
@given(st.floats(0.05, 20.0), st.lists(st.floats(-5.0, 5.0), min_size=2, max_size=2),
       st.integers(0, 10_000))
def test_random_fourier_with_data_bandwidth_is_scale_and_shift_invariant(c, b, seed):
    trajs = _slow_manifold_set(seed)
    moved = [c * t + np.asarray(b) for t in trajs]
    kw = dict(n_features=6, random_state=4)
    d0 = RandomFourier(**kw).fit(np.vstack(trajs))
    d1 = RandomFourier(**kw).fit(np.vstack(moved))
    np.testing.assert_allclose(d1.bandwidth_, c * d0.bandwidth_, rtol=1e-10)
    np.testing.assert_allclose(d1.frequencies_, d0.frequencies_ / c, rtol=1e-10)
    # a shift rotates each (cos, sin) pair: the span, hence the spectrum, is unchanged
    a = _fit(EDMD(RandomFourier(**kw)), trajs)
    m = _fit(EDMD(RandomFourier(**kw)), moved)
    assert match_error(a.eigenvalues_, m.eigenvalues_) < 1e-6


@RELIABLE
@given(
    scale=st.lists(st.floats(0.2, 5.0), min_size=2, max_size=2),
    shear=st.floats(-1.0, 1.0),
    shift=st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=2),
    signs=st.lists(st.sampled_from([1.0, -1.0]), min_size=2, max_size=2),
    seed=st.integers(0, 10_000),
)
def test_polynomial_spectrum_invariant_under_affine_maps(scale, shear, shift, signs, seed):
    T = np.diag(np.asarray(scale) * np.asarray(signs)) @ np.array([[1.0, shear], [0.0, 1.0]])
    trajs = _slow_manifold_set(seed)
    moved = [t @ T.T + np.asarray(shift) for t in trajs]
    a = _fit(EDMD(Polynomial(degree=2)), trajs)
    m = _fit(EDMD(Polynomial(degree=2)), moved)
    # span{1, x, x^2, y} is invariant: its eigenvalues are exact in any affine coordinates
    truth = [1.0, MU, MU**2, LAM]
    assert nearest_error(a.eigenvalues_, truth) < 1e-9
    assert nearest_error(m.eigenvalues_, truth) < 1e-8
    assert match_error(a.eigenvalues_, m.eigenvalues_) < 1e-7


@RELIABLE
@given(stable_diagonalisable_maps(), st.floats(1e-3, 1e3))
def test_identity_spectrum_invariant_under_scaling(case, c):
    A, _, seed = case
    d = A.shape[0]
    rng = np.random.default_rng(seed)
    trajs = [systems.linear(A, 6, x0=rng.normal(size=d)) for _ in range(d + 1)]
    a = EDMD().fit(trajs)
    m = EDMD().fit([c * t for t in trajs])
    assert match_error(a.eigenvalues_, m.eigenvalues_) < 1e-8


# -- 4. residuals are non-negative --------------------------------------------------------
def _residual_form(gm, lam):
    """L - conj(lam) A - lam A^* + |lam|^2 G (Hermitian)."""
    return gm.L - np.conj(lam) * gm.A - lam * gm.A.conj().T + abs(lam) ** 2 * gm.G


@RELIABLE
@given(
    trajs=trajectory_sets(min_len=2),
    name=st.sampled_from(sorted(_DICTIONARIES)),
    lam_r=st.floats(0.0, 2.0),
    lam_t=st.floats(-np.pi, np.pi),
    weighted=st.booleans(),
)
def test_residual_quadratic_form_is_positive_semidefinite(trajs, name, lam_r, lam_t,
                                                          weighted):
    dic = _DICTIONARIES[name]().fit(np.vstack(trajs))
    n = sum(max(t.shape[0] - 1 - dic.n_lags, 0) for t in trajs)
    if n == 0:
        return
    w = np.random.default_rng(1).uniform(0.0, 1.0, size=n) if weighted else None
    if w is not None and w.sum() == 0:
        return
    gm = build_gram(dic, trajs, weights=w)
    lam = lam_r * np.exp(1j * lam_t)
    R = _residual_form(gm, lam)
    ev = np.linalg.eigvalsh(0.5 * (R + R.conj().T))
    scale = (1 + abs(lam)) ** 2 * max(np.abs(gm.G).max(), np.abs(gm.L).max())
    assert ev.min() >= -1e-12 * gm.n_features * scale


# -- 5. eigenfunctions satisfy their eigen-relation to the residual -----------------------
@RELIABLE
@given(
    seed=st.integers(0, 10_000),
    name=st.sampled_from(["polynomial", "rbf", "fourier"]),
)
def test_eigenfunctions_satisfy_eigen_relation_to_the_residual(seed, name):
    trajs = _slow_manifold_set(seed)
    model = _fit(EDMD(_DICTIONARIES[name]()), trajs)
    X = np.vstack([t[:-1] for t in trajs])
    Y = np.vstack([t[1:] for t in trajs])
    phi_x = model.eigenfunctions(X)
    phi_y = model.eigenfunctions(Y)
    gm = model.gram_
    H = model.dictionary_.transform(X) @ model.basis_  # orthonormal retained functions
    for j, lam in enumerate(model.eigenvalues_):
        g = model.eigenvectors_[:, j]
        defect = phi_y[:, j] - lam * phi_x[:, j]
        norm2 = np.mean(np.abs(phi_x[:, j]) ** 2)
        data_res2 = np.mean(np.abs(defect) ** 2) / norm2
        gram_res2 = np.real(np.vdot(g, _residual_form(gm, lam) @ g)) / np.real(
            np.vdot(g, gm.G @ g))
        # the data residual is what the Gram matrices predict (to rounding)
        assert abs(data_res2 - gram_res2) <= 1e-9 * (1 + abs(lam)) ** 2, (j, lam)
        # the Gram quadratic form is a squared norm: negative only by rounding
        assert gram_res2 >= -1e-12 * (1 + abs(lam)) ** 2, (j, lam, gram_res2)
        # Galerkin: the defect is orthogonal to the retained dictionary span
        proj = H.conj().T @ defect / len(defect)
        assert np.abs(proj).max() <= 1e-8 * (1 + abs(lam)) * np.sqrt(norm2), (j, lam)
    # koop.validation's residuals: finite, and equal to the data residual (from the Gram
    # form to its rounding, ~1e-8 in the residual; from a QR factor of the data to ~1e-12)
    from koop.validation import residuals

    data_res = np.sqrt([np.mean(np.abs(phi_y[:, j] - lam * phi_x[:, j]) ** 2)
                        / np.mean(np.abs(phi_x[:, j]) ** 2)
                        for j, lam in enumerate(model.eigenvalues_)])
    scale = 1 + np.abs(model.eigenvalues_)
    from_gram = residuals(model)
    from_data = residuals(model, trajs)
    assert np.isfinite(from_gram).all() and np.isfinite(from_data).all()
    assert np.all(np.abs(from_gram**2 - data_res**2) <= 1e-9 * scale**2)
    assert np.all(np.abs(from_data - data_res) <= 1e-9 * scale * (data_res + 1e-6))


@RELIABLE
@given(
    seed=st.integers(0, 10_000),
    name=st.sampled_from(["polynomial", "rbf", "fourier"]),
    sort_by=st.sampled_from(["modulus", "residual"]),
)
def test_resdmd_residuals_are_the_eigen_relation_defects(seed, name, sort_by):
    trajs = _slow_manifold_set(seed)
    model = _fit(ResDMD(_DICTIONARIES[name](), sort_by=sort_by), trajs)
    X = np.vstack([t[:-1] for t in trajs])
    Y = np.vstack([t[1:] for t in trajs])
    phi_x, phi_y = model.eigenfunctions(X), model.eigenfunctions(Y)
    lam = model.eigenvalues_
    defect = np.sqrt(np.mean(np.abs(phi_y - lam * phi_x) ** 2, axis=0)
                     / np.mean(np.abs(phi_x) ** 2, axis=0))
    assert (model.residuals_ >= 0).all()
    np.testing.assert_allclose(model.residuals_, defect, rtol=1e-8, atol=1e-12)
    if sort_by == "residual":
        assert np.all(np.diff(model.residuals_) >= 0)
    # the verified eigenvalues include the exact ones of the invariant polynomial span
    if name == "polynomial":
        good = model.verified(1e-10).eigenvalues
        assert nearest_error(good, [1.0, MU, MU**2, LAM]) < 1e-10
