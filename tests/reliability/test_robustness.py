"""Numerical robustness: singular and ill-conditioned G, extreme magnitudes, float32.

The contract checked here: a fit either returns the right answer, or warns
(:class:`~koop.exceptions.RankDeficiencyWarning`, saying how many directions were dropped
and why), or raises a ``ValueError`` that says what to do. It never returns inf or NaN,
and never a silently wrong spectrum.

Truths: exact linear dependencies with known counts (duplicate features; the monomials of
degree <= p on the unit circle span 2p + 1 functions; cos^2 + sin^2 = 1), linear maps with
a known spectrum, and the slow-manifold map whose eigenvalues 1, mu, mu^2, lambda are in
the span of monomials of degree <= 2. Sweeps: condition number of G up to 1e32 (EDMD,
ResDMD, DMD), data magnitudes 1e-300..1e300, RBF / Fourier widths 1e-8..1e8.
"""

import re
import warnings

import numpy as np
import pytest

from koop import systems
from koop.dictionaries import RBF, Concat, Custom, Identity, Polynomial, RandomFourier
from koop.estimators import DMD, EDMD, ResDMD
from koop.exceptions import RankDeficiencyWarning

from ._support import nearest_error

MU, LAM = 0.9, 0.5
SLOW_TRUTH = [1.0, MU, MU**2, LAM]


def _fit_recording(est, *args, **kw):
    """Fit and return (model, list of RankDeficiencyWarning messages)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(*args, **kw)
    msgs = [str(w.message) for w in caught if issubclass(w.category, RankDeficiencyWarning)]
    return est, msgs


def assert_outputs_finite(model, X):
    """Every array a fitted model exposes (and every prediction on X) is finite."""
    for name in ("eigenvalues_", "eigenvectors_", "modes_", "koopman_matrix_",
                 "reduced_matrix_", "basis_", "state_map_"):
        value = np.asarray(getattr(model, name))
        assert np.isfinite(value).all(), name
    for key in ("G", "A", "L", "C"):
        assert np.isfinite(getattr(model.gram_, key)).all(), key
    assert np.isfinite(model.predict(X)).all()
    assert np.isfinite(model.eigenfunctions(X)).all()
    assert np.isfinite(model.simulate(X[0], 20)).all()
    if getattr(model, "continuous_eigenvalues_", None) is not None:
        assert not np.isnan(model.continuous_eigenvalues_).any()


def _dropped_count(msgs):
    counts = [int(re.search(r"dropped (\d+) of (\d+)", m).group(1)) for m in msgs]
    assert len(counts) <= 1, msgs
    return counts[0] if counts else 0


def _slow_manifold_set(seed=0, n_traj=30, n_steps=10):
    rng = np.random.default_rng(seed)
    return [systems.slow_manifold(n_steps, mu=MU, lam=LAM, x0=x0)
            for x0 in rng.uniform(-1, 1, size=(n_traj, 2))]


# -- exact dependencies: the warning counts them ------------------------------------------
@pytest.mark.parametrize("copies", [2, 3, 5])
def test_duplicate_features_dropped_with_exact_count(copies):
    X = np.random.default_rng(0).normal(size=(300, 2))
    A = np.array([[0.8, 0.3], [-0.1, 0.6]])
    Y = X @ A.T
    model, msgs = _fit_recording(EDMD(Concat([Identity()] * copies)), X, Y)
    M = 2 * copies
    assert _dropped_count(msgs) == M - 2 == model.n_dropped_directions_
    assert f"of {M} dictionary" in msgs[0] and "duplicate features" in msgs[0]
    ref = EDMD(Identity()).fit(X, Y)
    np.testing.assert_allclose(np.sort_complex(model.eigenvalues_),
                               np.sort_complex(ref.eigenvalues_), atol=1e-12)
    np.testing.assert_allclose(model.predict(X), Y, atol=1e-12)
    assert_outputs_finite(model, X)


@pytest.mark.parametrize("degree", [2, 3, 4])
def test_monomials_on_the_circle_lose_exactly_their_dependent_directions(degree):
    # polynomials of degree <= p restricted to the unit circle are the trigonometric
    # polynomials of degree <= p: 2p + 1 of the C(p + 2, 2) monomials are independent
    theta = 0.3 + 0.7 * np.arange(400)
    X = np.column_stack([np.cos(theta), np.sin(theta)])
    model, msgs = _fit_recording(EDMD(Polynomial(degree)), X)
    M = (degree + 1) * (degree + 2) // 2
    assert _dropped_count(msgs) == M - (2 * degree + 1)
    truth = np.exp(1j * 0.7 * np.arange(-degree, degree + 1))
    assert nearest_error(model.eigenvalues_, truth) < 1e-9
    assert len(model.eigenvalues_) == 2 * degree + 1
    assert_outputs_finite(model, X)


def test_cos2_plus_sin2_equals_one_is_one_dropped_direction():
    X = systems.pendulum(300)[:, :1]
    trig = Custom(lambda Z: np.hstack([np.ones_like(Z), np.cos(Z) ** 2, np.sin(Z) ** 2, Z]))
    model, msgs = _fit_recording(EDMD(trig), X)
    assert _dropped_count(msgs) == 1 == model.n_dropped_directions_
    assert "cos^2 + sin^2 = 1" in msgs[0]
    assert nearest_error(model.eigenvalues_, [1.0]) < 1e-10  # the constant function
    assert_outputs_finite(model, X)


def test_resdmd_warns_when_it_drops_directions():
    X = np.random.default_rng(0).normal(size=(300, 2))
    model, msgs = _fit_recording(ResDMD(Identity() + Identity()), X[:-1], X[1:])
    assert model.n_dropped_directions_ == 2
    assert _dropped_count(msgs) == 2


def test_regularization_removes_the_dependency_without_warning():
    X = np.random.default_rng(1).normal(size=(200, 2))
    model, msgs = _fit_recording(EDMD(Identity() + Identity(), regularization=1e-8), X)
    assert msgs == [] and model.n_dropped_directions_ == 0
    assert_outputs_finite(model, X)


def test_constant_and_zero_data():
    C = np.ones((10, 2))
    model, msgs = _fit_recording(EDMD(), C)
    assert _dropped_count(msgs) == 1
    np.testing.assert_allclose(model.eigenvalues_, [1.0], atol=1e-12)
    np.testing.assert_allclose(model.predict(C), C, atol=1e-12)
    with pytest.raises(ValueError, match="vanishes on the data"):
        EDMD().fit(np.zeros((10, 2)))
    # with a constant function the fit is the constant model, with a warning
    model, msgs = _fit_recording(EDMD(Polynomial(2)), np.zeros((10, 2)))
    assert _dropped_count(msgs) == 5
    np.testing.assert_allclose(model.eigenvalues_, [1.0], atol=1e-12)
    dmd = DMD().fit(np.zeros((10, 2)))
    assert np.isfinite(dmd.predict(np.zeros((3, 2)))).all()
    assert np.isfinite(DMD().fit(C).eigenvalues_).all()


# -- a sweep of condition numbers ---------------------------------------------------------
@pytest.mark.parametrize("k", range(0, 17, 2))
@pytest.mark.parametrize("n", [50, 5000])
@pytest.mark.parametrize("make", [EDMD, ResDMD, DMD], ids=["EDMD", "ResDMD", "DMD"])
def test_condition_number_sweep_identity(make, k, n):
    """Data with a weak eigen-direction of relative size 1e-k: cond(G) ~ 1e(2k)."""
    rng = np.random.default_rng(k + n)
    lam = np.array([0.9, 0.7, 0.5])
    T = rng.normal(size=(3, 3)) + np.eye(3)
    Z = rng.normal(size=(n, 3)) * np.array([1.0, 1.0, 10.0**-k])
    X, Y = Z @ T.T, (Z * lam) @ T.T
    model, msgs = _fit_recording(make(), X, Y)
    if make is EDMD:  # DMD truncates by singular values, silently by design
        assert _dropped_count(msgs) == model.n_dropped_directions_ <= 1
    if make is ResDMD:  # its missing warning: test_resdmd_warns_when_it_drops_directions
        assert model.n_dropped_directions_ <= 1
    assert_outputs_finite(model, X)
    if make is ResDMD:
        assert np.isfinite(model.residuals_).all() and (model.residuals_ >= 0).all()
    # the strong directions are always right, and training predictions stay accurate
    assert nearest_error(model.eigenvalues_, lam[:2]) < 1e-8
    err = np.abs(model.predict(X) - Y).max() / np.abs(Y).max()
    assert err < 1e-6
    if k <= 3:  # cond(G) <= 1e7: the weak direction is kept and its eigenvalue is right
        assert len(model.eigenvalues_) == 3
        assert nearest_error(model.eigenvalues_, lam) < 1e-7
    # beyond k ~ 8 the weak direction is at the rounding level of G: whether it is kept
    # or dropped, the assertions above hold (a kept noise direction carries no data)


@pytest.mark.parametrize("k", [0, 2, 4, 6, 8, 10, 12, 14, 16, np.inf])
def test_condition_number_sweep_near_duplicate_feature(k):
    """psi = (x, x + delta x^3): the second function approaches a duplicate."""
    delta = 0.0 if k == np.inf else 10.0**-k
    A = np.array([[0.9, 0.2], [0.0, 0.6]])
    trajs = [systems.linear(A, 20, x0=x0)
             for x0 in np.random.default_rng(3).uniform(-1, 1, (10, 2))]
    dic = Custom(lambda Z: np.hstack([Z, Z + delta * Z**3]))
    model, msgs = _fit_recording(EDMD(dic), trajs)
    X = np.vstack([t[:-1] for t in trajs])
    Y = np.vstack([t[1:] for t in trajs])
    assert _dropped_count(msgs) == model.n_dropped_directions_
    if delta == 0.0:
        assert model.n_dropped_directions_ == 2
    assert_outputs_finite(model, X)
    # x is in the span and its image A x too: the state's one-step prediction is exact
    assert np.abs(model.predict(X) - Y).max() < 1e-6
    assert nearest_error(model.eigenvalues_, [0.9, 0.6]) < 1e-6


@pytest.mark.parametrize("width", [1e-8, 1e-4, 1e-2, 1.0, 1e2, 1e8])
@pytest.mark.parametrize(
    "make",
    [lambda w: RBF(15, width=w, random_state=0),
     lambda w: RBF(15, kernel="thinplate", width=w, random_state=0),
     lambda w: RandomFourier(10, bandwidth=w, random_state=0)],
    ids=["gaussian", "thinplate", "fourier"],
)
@pytest.mark.parametrize("est", [EDMD, ResDMD], ids=["EDMD", "ResDMD"])
def test_width_sweep_is_finite_or_refused(est, make, width):
    """Widths from far too narrow (functions vanish) to far too wide (all alike)."""
    slow = _slow_manifold_set(n_traj=20)
    try:
        model, msgs = _fit_recording(est(make(width)), slow)
    except ValueError as exc:
        assert "vanishes on the data" in str(exc)
        return
    assert_outputs_finite(model, np.vstack(slow))
    if est is EDMD:
        assert _dropped_count(msgs) == model.n_dropped_directions_
    else:
        assert np.isfinite(model.residuals_).all() and (model.residuals_ >= 0).all()


# -- extreme magnitudes -------------------------------------------------------------------
SCALES = [10.0**e for e in range(-300, 301, 50)]
_LINEAR = np.array([[0.9, 0.2], [0.0, 0.5]])


def _magnitude_cases():
    """(name, estimator factory, data at scale 1, tolerance); truth: the fit at scale 1."""
    rng = np.random.default_rng(0)
    lin = [systems.linear(_LINEAR, 10, x0=x0) for x0 in rng.uniform(-1, 1, (4, 2))]
    slow = _slow_manifold_set()
    return [
        ("identity", lambda: EDMD(Identity()), lin, 1e-9),
        ("polynomial", lambda: EDMD(Polynomial(2)), slow, 1e-8),
        ("rbf", lambda: EDMD(RBF(10, random_state=0)), slow, 1e-6),
        ("fourier", lambda: EDMD(RandomFourier(10, random_state=0)), slow, 1e-6),
    ]


def _outcome(est, data, reference, tol):
    """'ok' (silent and equal to the reference spectrum), 'warned' or 'raised'."""
    try:
        model, msgs = _fit_recording(est, data)
    except ValueError as exc:
        assert re.search(r"rescale|Rescale", str(exc)), str(exc)
        return "raised"
    assert_outputs_finite(model, np.vstack(data))
    if msgs:
        return "warned"
    # silent means right
    assert len(model.eigenvalues_) == len(reference)
    assert nearest_error(model.eigenvalues_, reference) < tol
    assert nearest_error(reference, model.eigenvalues_) < tol
    return "ok"


@pytest.mark.parametrize("scale", SCALES, ids=[f"1e{e}" for e in range(-300, 301, 50)])
def test_extreme_magnitudes_never_silently_wrong(scale):
    outcomes = {}
    for name, make, data, tol in _magnitude_cases():
        reference, _ = _fit_recording(make(), data)
        if name in ("identity", "polynomial"):  # the known truth, at scale 1
            truth = [0.9, 0.5] if name == "identity" else SLOW_TRUTH
            assert nearest_error(reference.eigenvalues_, truth) < tol
        outcomes[name] = _outcome(make(), [t * scale for t in data],
                                  reference.eigenvalues_, tol)
    if 1e-100 <= scale <= 1e100:
        # linear observables and the data-scaled dictionaries are right at any sane scale
        assert outcomes["identity"] == outcomes["rbf"] == outcomes["fourier"] == "ok"
    if 1e-50 <= scale <= 1e50:
        # monomials of degree <= 2 need scale**4 in range; unit-diagonal scaling of G
        # makes their rank decision independent of the scale
        assert outcomes["polynomial"] == "ok"


@pytest.mark.parametrize("scale", [1e-60, 1e-6, 1e6, 1e60])
def test_rbf_and_fourier_spectra_independent_of_scale(scale):
    slow = _slow_manifold_set(n_traj=20)
    for make in (lambda: RBF(12, random_state=0), lambda: RandomFourier(8, random_state=0)):
        ref, _ = _fit_recording(EDMD(make()), slow)
        moved, _ = _fit_recording(EDMD(make()), [t * scale for t in slow])
        assert len(ref.eigenvalues_) == len(moved.eigenvalues_)
        np.testing.assert_allclose(np.sort_complex(moved.eigenvalues_),
                                   np.sort_complex(ref.eigenvalues_), atol=1e-6)


@pytest.mark.parametrize("c", [1e-100, 1e-10, 1.0, 1e10, 1e100])
def test_weights_scale_does_not_change_the_spectrum(c):
    slow = _slow_manifold_set(n_traj=10)
    n = sum(len(t) - 1 for t in slow)
    w = np.random.default_rng(0).uniform(0.5, 1.5, n)
    ref = EDMD(Polynomial(2)).fit(slow, weights=w)
    scaled = EDMD(Polynomial(2)).fit(slow, weights=c * w)
    np.testing.assert_allclose(np.sort_complex(scaled.eigenvalues_),
                               np.sort_complex(ref.eigenvalues_), atol=1e-10)


# -- float32 -------------------------------------------------------------------------------
def test_float32_input():
    slow32 = [t.astype(np.float32) for t in _slow_manifold_set()]
    model = EDMD(Polynomial(2)).fit(slow32)
    assert model.eigenvalues_.dtype == np.complex128
    # the data carry float32 rounding (6e-8 relative); the spectrum follows it
    assert nearest_error(model.eigenvalues_, SLOW_TRUTH) < 1e-5
    assert_outputs_finite(model, np.vstack(slow32))
    lin = systems.linear(np.array([[0.9, 0.2], [0.0, 0.5]]), 60, x0=[1.0, 1.0])
    lin32 = lin.astype(np.float32)
    for est in (EDMD(), DMD(), EDMD(RBF(10, random_state=0)),
                EDMD(RandomFourier(10, random_state=0))):
        model, _ = _fit_recording(est, lin32)
        assert_outputs_finite(model, lin32)
    assert nearest_error(DMD().fit(lin32).eigenvalues_, [0.9, 0.5]) < 1e-5
    assert nearest_error(EDMD().fit(lin32).eigenvalues_, [0.9, 0.5]) < 1e-5
